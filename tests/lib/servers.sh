# tests/lib/servers.sh — start and stop the real servers the end-to-end tests
# use (mosquitto with TLS, PostgreSQL, gpsd fed by gpsfake), on loopback, on
# free ports, in a temporary directory, and clean up on exit.
#
#   source "$ODO_SOURCE_DIR/tests/lib/servers.sh"
#   odo_tmpdir                      # sets ODO_TMP, installs the EXIT trap
#   odo_pki_init "$ODO_TMP/pki" dev-1 dev-2
#   odo_start_mosquitto "$ODO_TMP/pki"   # sets ODO_MQTT_PORT, ODO_MQTT_PID
#   odo_start_postgres              # sets ODO_PG_CONNINFO, ODO_PG_PORT, ODO_PG_SOCKDIR
#   odo_start_gpsfake LOGFILE       # sets ODO_GPSD_PORT (gpsd run by gpsfake)
#   odo_start_prometheus TARGET [RULES...]  # sets ODO_PROM_URL (scrapes TARGET every second)
#   ...
#   (odo_cleanup runs on exit and stops everything started here)
#
# Every function fails loudly (non-zero, message on stderr) when a server
# cannot be found or started; nothing here skips a test.

ODO_SOURCE_DIR=${ODO_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
ODO_PG_BIN=${ODO_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
_odo_pids=()
_odo_pg_data=

odo_die() {
	printf 'servers.sh: %s\n' "$*" >&2
	exit 1
}

odo_tmpdir() {
	ODO_TMP=$(mktemp -d "${TMPDIR:-/tmp}/odo-test.XXXXXX")
	chmod 755 "$ODO_TMP"
	export ODO_TMP
	trap odo_cleanup EXIT
	trap 'exit 130' INT TERM
}

odo_cleanup() {
	local rc=$?
	local p
	if [ -n "$_odo_pg_data" ] && [ -d "$_odo_pg_data" ]; then
		runuser -u postgres -- "$ODO_PG_BIN/pg_ctl" -D "$_odo_pg_data" -m immediate stop >/dev/null 2>&1 || true
	fi
	for p in "${_odo_pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${_odo_pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	if [ -n "${ODO_TMP:-}" ] && [ -d "$ODO_TMP" ]; then
		if [ $rc -ne 0 ] || [ -n "${ODO_KEEP_TMP:-}" ]; then
			printf 'servers.sh: kept %s for inspection\n' "$ODO_TMP" >&2
		else
			rm -rf "$ODO_TMP"
		fi
	fi
	return $rc
}

# Remember a background process so odo_cleanup stops it.
odo_track_pid() { _odo_pids+=("$1"); }

# A TCP port on 127.0.0.1 that nothing listens on right now.
odo_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Wait until something accepts TCP connections on 127.0.0.1:$1 (max $2 s).
odo_wait_port() {
	local port=$1 limit=${2:-20} i
	for ((i = 0; i < limit * 10; i++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# odo_pki_init DIR [DEVICE_ID...]: CA, broker, collector and device certificates.
odo_pki_init() {
	local dir=$1
	shift
	"$ODO_SOURCE_DIR/tools/pki" init "$dir" || odo_die "tools/pki init failed"
	if [ $# -gt 0 ]; then
		"$ODO_SOURCE_DIR/tools/pki" device "$dir" "$@" || odo_die "tools/pki device failed"
	fi
}

# odo_start_mosquitto PKI_DIR [NAME]: a TLS-only broker with the repo's policy.
odo_start_mosquitto() {
	local pki=$1 name=${2:-mosquitto}
	command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || odo_die "mosquitto is not installed: run tools/bootstrap"
	local bin
	bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)
	local dir="$ODO_TMP/$name"
	mkdir -p "$dir"
	ODO_MQTT_PORT=${ODO_MQTT_PORT_WANTED:-$(odo_free_port)}
	# Every collector identity the PKI holds (tools/pki init and collector).
	local c collectors=(--collector odo-collector)
	for c in "$pki"/collectors/*.crt; do
		[ -e "$c" ] || continue
		c=${c##*/}
		collectors+=(--collector "${c%.crt}")
	done
	# Tests run as root; keep the broker as the same user so it can read the
	# keys in the test's private directory.
	"$ODO_SOURCE_DIR/tools/broker/render" --standalone "$dir/state" --user "$(id -un)" \
		--pki-dir "$pki" --conf "$dir/mosquitto.conf" --acl-file "$dir/odo.acl" \
		--port "$ODO_MQTT_PORT" --bind 127.0.0.1 "${collectors[@]}" 2>"$dir/render.log" ||
		{ cat "$dir/render.log" >&2; odo_die "tools/broker/render failed"; }
	"$bin" -c "$dir/mosquitto.conf" >"$dir/log" 2>&1 &
	ODO_MQTT_PID=$!
	odo_track_pid "$ODO_MQTT_PID"
	if ! odo_wait_port "$ODO_MQTT_PORT" 20; then
		cat "$dir/log" >&2
		odo_die "mosquitto did not start on port $ODO_MQTT_PORT"
	fi
	export ODO_MQTT_PORT ODO_MQTT_PID
	ODO_MQTT_CONF="$dir/mosquitto.conf"
	ODO_MQTT_LOG="$dir/log"
	export ODO_MQTT_CONF ODO_MQTT_LOG
}

# Stop the broker started last (to simulate a dead link); restart with
# odo_restart_mosquitto, on the same port and with the same persistence.
odo_stop_mosquitto() {
	kill "$ODO_MQTT_PID" 2>/dev/null || true
	wait "$ODO_MQTT_PID" 2>/dev/null || true
}

odo_restart_mosquitto() {
	local bin
	bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)
	"$bin" -c "$ODO_MQTT_CONF" >>"$ODO_MQTT_LOG" 2>&1 &
	ODO_MQTT_PID=$!
	odo_track_pid "$ODO_MQTT_PID"
	odo_wait_port "$ODO_MQTT_PORT" 20 || odo_die "mosquitto did not restart on port $ODO_MQTT_PORT"
	export ODO_MQTT_PID
}

# odo_start_postgres: a private cluster run by the postgres user, database odo.
odo_start_postgres() {
	[ -x "$ODO_PG_BIN/initdb" ] || odo_die "PostgreSQL server binaries not found (ODO_PG_BIN=$ODO_PG_BIN): run tools/bootstrap"
	id postgres >/dev/null 2>&1 || odo_die "no 'postgres' user: run tools/bootstrap"
	local dir="$ODO_TMP/pg"
	mkdir -p "$dir/sock"
	chown -R postgres "$dir"
	_odo_pg_data="$dir/data"
	runuser -u postgres -- "$ODO_PG_BIN/initdb" -D "$_odo_pg_data" -A trust -U postgres -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; odo_die "initdb failed"; }
	ODO_PG_PORT=$(odo_free_port)
	ODO_PG_SOCKDIR="$dir/sock"
	odo_pg_start || odo_die "PostgreSQL did not start"
	runuser -u postgres -- "$ODO_PG_BIN/createdb" -h "$ODO_PG_SOCKDIR" -p "$ODO_PG_PORT" odo ||
		odo_die "createdb failed"
	ODO_PG_CONNINFO="host=$ODO_PG_SOCKDIR port=$ODO_PG_PORT dbname=odo user=postgres"
	export ODO_PG_PORT ODO_PG_SOCKDIR ODO_PG_CONNINFO
}

# Stop / start the cluster again (a database outage).
odo_pg_stop() {
	runuser -u postgres -- "$ODO_PG_BIN/pg_ctl" -D "$_odo_pg_data" -m fast -w stop >/dev/null
}

odo_pg_start() {
	runuser -u postgres -- "$ODO_PG_BIN/pg_ctl" -D "$_odo_pg_data" -w -t 30 -l "$ODO_TMP/pg/log" \
		-o "-p $ODO_PG_PORT -k $ODO_PG_SOCKDIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50" \
		start >/dev/null || { cat "$ODO_TMP/pg/log" >&2; return 1; }
}

# psql against the test database.
odo_psql() {
	psql "$ODO_PG_CONNINFO" -X -q -v ON_ERROR_STOP=1 "$@"
}

# odo_agent_conf DIR DEVICE OUTBOX [AGENT_LINES [SECTIONS [UPLINK_LINES]]]:
# writes DIR/agent.conf for an odo-agent without GPS, accelerometer, phone or
# CAN that uplinks to the broker odo_start_mosquitto started, with the device
# certificate from odo_pki_init DIR/pki and its state in DIR/state. The
# optional arguments are INI lines (each ending in a newline) added to [agent],
# whole sections put before [store], and lines added to [uplink].
odo_agent_conf() {
	local d=$1 dev=$2 outbox=$3
	{
		printf '[agent]\ndevice_id = %s\nstate_dir = %s/state\nlog_file = %s/agent.log\n' "$dev" "$d" "$d"
		printf '%s' "${4-}"
		printf 'gps = false\naccel = false\nphone = false\n[can]\nenabled = false\n'
		printf '%s' "${5-}"
		printf '[store]\npath = %s\n[uplink]\nport = %s\n' "$outbox" "$ODO_MQTT_PORT"
		printf 'cafile = %s/pki/ca.crt\ncertfile = %s/pki/devices/%s.crt\nkeyfile = %s/pki/devices/%s.key\n' \
			"$d" "$d" "$dev" "$d" "$dev"
		printf '%s' "${6-}"
		printf 'backoff_min = 0.05\nbackoff_max = 0.5\n'
	} >"$d/agent.conf"
}

# odo_start_gpsfake LOGFILE [EXTRA_GPSFAKE_ARGS...]: gpsd fed by gpsfake,
# playing LOGFILE once; sets ODO_GPSD_PORT. gpsfake exits when done.
odo_start_gpsfake() {
	local log=$1
	shift
	command -v gpsfake >/dev/null || odo_die "gpsfake is not installed (gpsd-clients): run tools/bootstrap"
	ODO_GPSD_PORT=$(odo_free_port)
	gpsfake -1 -q -P "$ODO_GPSD_PORT" "$@" "$log" >"$ODO_TMP/gpsfake.log" 2>&1 &
	ODO_GPSFAKE_PID=$!
	odo_track_pid "$ODO_GPSFAKE_PID"
	odo_wait_port "$ODO_GPSD_PORT" 20 || { cat "$ODO_TMP/gpsfake.log" >&2; odo_die "gpsd (gpsfake) did not start"; }
	export ODO_GPSD_PORT ODO_GPSFAKE_PID
}

# odo_start_prometheus TARGET [RULE_FILE...]: a Prometheus server (Debian's
# prometheus) on loopback with its own storage in $ODO_TMP/prometheus,
# scraping TARGET (HOST:PORT, job "odo-collector") every second and
# evaluating the rule files every second; sets ODO_PROM_URL once it is ready.
odo_start_prometheus() {
	local target=$1
	shift
	command -v prometheus >/dev/null || odo_die "prometheus is not installed: run tools/bootstrap"
	local dir="$ODO_TMP/prometheus" r rules=""
	mkdir -p "$dir/data"
	for r in "$@"; do
		rules+="  - $r"$'\n'
	done
	cat >"$dir/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
${rules:-  []}
scrape_configs:
  - job_name: odo-collector
    static_configs:
      - targets: ['$target']
YML
	local port
	port=$(odo_free_port)
	prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
		--web.listen-address="127.0.0.1:$port" --log.level=warn >"$dir/log" 2>&1 &
	odo_track_pid $!
	ODO_PROM_URL="http://127.0.0.1:$port"
	local i
	for ((i = 0; i < 300; i++)); do
		if curl -fs "$ODO_PROM_URL/-/ready" >/dev/null 2>&1; then
			export ODO_PROM_URL
			return 0
		fi
		sleep 0.1
	done
	cat "$dir/log" >&2
	odo_die "prometheus did not become ready on port $port"
}

