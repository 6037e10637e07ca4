# Shared setup for the collector's broker+database tests.
source "$ODO_SOURCE_DIR/tests/lib/servers.sh"

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
q() { odo_psql -A -t -c "$1"; }
expect_eq() { # WHAT GOT WANT
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
	printf 'ok: %s = %s\n' "$1" "$2"
}

# Months from fleet-sim's default start (2026-11) to now, plus a margin: the
# partition window must hold the simulated records however late this runs.
sim_months_back() {
	local y m
	read -r y m < <(date -u '+%Y %m')
	local back=$(( (10#$y * 12 + 10#$m) - (2026 * 12 + 11) + 2 ))
	echo $(( back < 12 ? 12 : back ))
}

# write_ini FILE NAME CLIENT_ID [DB_CONNECTIONS]: the certificate is
# pki/collectors/CLIENT_ID.crt when tools/pki made one for that identity
# (the broker makes the certificate's CN the client id), else pki/collector.crt.
write_ini() {
	local cert=$ODO_TMP/pki/collector
	[ ! -f "$ODO_TMP/pki/collectors/$3.crt" ] || cert=$ODO_TMP/pki/collectors/$3
	cat >"$1" <<INI
[collector]
name = $2
db_connections = ${4:-1}
log_level = info
commit_ms = 20
refresh_s = 1
partition_months_back = $(sim_months_back)
[mqtt]
host = 127.0.0.1
port = $ODO_MQTT_PORT
client_id = $3
group = odo-test
cafile = $ODO_TMP/pki/ca.crt
certfile = $cert.crt
keyfile = $cert.key
crlfile = $ODO_TMP/pki/crl.pem
[db]
conninfo = "$ODO_PG_CONNINFO"
[metrics]
# a free port each: tests run side by side (odo_metrics_port reads it back)
listen = 127.0.0.1:0
INI
}

# odo_metrics_port LOGFILE: the port a collector's metrics endpoint bound
# (from its start-up log line).
odo_metrics_port() {
	sed -n 's/.*serving \/metrics.* (port \([0-9]*\)).*/\1/p' "$1" | tail -n 1
}

# start_collector NAME CLIENT_ID [DB_CONNECTIONS]: runs in the background, log in $ODO_TMP/NAME.log
start_collector() {
	write_ini "$ODO_TMP/$1.ini" "$1" "$2" "${3:-1}"
	"$COLLECTOR" --config "$ODO_TMP/$1.ini" run 2>"$ODO_TMP/$1.log" &
	local pid=$!
	odo_track_pid "$pid"
	eval "PID_$1=$pid"
	local i
	for i in $(seq 1 100); do
		grep -q "subscribing" "$ODO_TMP/$1.log" && return 0
		kill -0 "$pid" 2>/dev/null || { cat "$ODO_TMP/$1.log" >&2; fail "collector $1 exited"; }
		sleep 0.1
	done
	cat "$ODO_TMP/$1.log" >&2
	fail "collector $1 did not subscribe"
}

# Records stored for device pattern $1 (every table; a trip row counts its start and its end).
stored_records() {
	q "SELECT (SELECT count(*) FROM samples WHERE device_id LIKE '$1')
	 + (SELECT count(*) FROM events WHERE device_id LIKE '$1')
	 + (SELECT count(*) FROM device_status WHERE device_id LIKE '$1')
	 + (SELECT count(*) FROM dtc_reports WHERE device_id LIKE '$1')
	 + (SELECT count(*) FROM phone_states WHERE device_id LIKE '$1')
	 + (SELECT count(*) FROM vehicle_reports WHERE device_id LIKE '$1')
	 + (SELECT count(start_seq) + count(end_seq) FROM trips WHERE device_id LIKE '$1')"
}

sim() { "$FLEETSIM" --port "$ODO_MQTT_PORT" --pki "$ODO_TMP/pki" "$@"; }

pub_as() { # DEVICE TOPIC FILE
	mosquitto_pub -h 127.0.0.1 -p "$ODO_MQTT_PORT" -V mqttv5 -q 1 --cafile "$ODO_TMP/pki/ca.crt" \
		--cert "$ODO_TMP/pki/devices/$1.crt" --key "$ODO_TMP/pki/devices/$1.key" -t "$2" -f "$3"
}
