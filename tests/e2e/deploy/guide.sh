#!/usr/bin/env bash
# deploy_guide (#17 item 5): docs/deploy.md, executed. Its shell blocks (marked
# <!-- odo:block NAME -->, tests/lib/docblock.py) are what this script runs,
# verbatim and in the guide's order, as root in a throwaway Debian 12 root:
#
#   * the host's /etc, /usr and /var under a copy-on-write overlay (the host is
#     never written), a private mount, network and host-name namespace with
#     only loopback; mqtt.fleet.example resolves to 127.0.0.1 there (/etc/hosts:
#     what DNS does for an operator);
#   * the .deb packages the packaging test built (CTest fixture odo_debs_amd64)
#     in build/ of a copy-on-write view of the source tree, the directory the
#     guide's commands run in;
#   * no systemd as PID 1: tests/e2e/deploy/systemctl stands in for systemctl
#     and runs each unit's ExecStartPre/ExecStart as the unit's User=/Group=
#     (setpriv), journalctl prints what they wrote;
#   * PostgreSQL as the postgresql package leaves it: its cluster 15/main,
#     started by pg_ctlcluster (what postgresql@15-main.service runs).
#
# Between the blocks the script checks what the guide promises, and plays the
# world around it: the gateway has no CAN adapter and no gpsd when it starts
# (it must come up and wait for them), then "drives" (gpsfake feeds gpsd,
# which appears late); the bench replay of section 5 must reach the monthly
# features, and its cleanup must remove them; after the revocation the
# gateway's certificate is refused while the collector reconnects.
#
# Every shell block of docs/deploy.md is either run here or named below with
# the test that covers it; a new unmarked block fails this test.
#
#   guide.sh DEB_DIR VERSION
set -euo pipefail
if [ -z "${ODO_IN_NS:-}" ]; then
	exec unshare --mount --net --uts --propagation private env ODO_IN_NS=1 bash "$0" "$@"
fi
DEBS=${1:?usage: guide.sh DEB_DIR VERSION}
VERSION=${2:?usage: guide.sh DEB_DIR VERSION}
SRC=${ODO_SOURCE_DIR:?}
DOC=$SRC/docs/deploy.md
DOCBLOCK=(python3 "$SRC/tests/lib/docblock.py")
source "$SRC/tests/lib/servers.sh"
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
ok() { printf 'ok: %s\n' "$*"; }
t0=$SECONDS

# ---- which blocks -------------------------------------------------------------
RUN=(pki broker collector register gateway check check-cleanup check-sql revoke)
declare -A COVERED=(
	[gateway-cross-build]="packaging_arm64, packaging_armhf (the same cross build and cpack)"
	[roads]="roads_match, roads_e2e (import, match, update of the road layer)"
	[crl-recovery]="security_crl (an expired CRL and its renewal under a live agent and collector)"
	[archive]="collector_archive_roundtrip, collector_archive_forget, collector_archive_corrupt"
	[monitoring]="collector_metrics, prometheus_rules (a real Prometheus scrapes a real collector)"
)
mapfile -t blocks < <("${DOCBLOCK[@]}" --list "$DOC")
for b in "${blocks[@]}"; do
	[[ " ${RUN[*]} " == *" $b "* ]] || [ -n "${COVERED[$b]:-}" ] ||
		fail "docs/deploy.md block '$b' is neither run by this test nor covered by another (add it to RUN or COVERED)"
done
for b in "${RUN[@]}" "${!COVERED[@]}"; do
	[[ " ${blocks[*]} " == *" $b "* ]] || fail "docs/deploy.md has no block '$b' any more"
done
nsh=$(grep -c '^```sh' "$DOC")
nmarked=$(grep -B1 '^```sh' "$DOC" | grep -c 'odo:block')
[ "$nsh" = "$nmarked" ] || fail "docs/deploy.md has $((nsh - nmarked)) shell block(s) without <!-- odo:block NAME -->"
ok "docs/deploy.md: ${#blocks[@]} blocks, ${#RUN[@]} run here, the others covered by: ${COVERED[*]}"

for v in odo-broker_${VERSION}_all odo-collector_${VERSION}_amd64 odo-agent_${VERSION}_amd64; do
	[ -f "$DEBS/$v.deb" ] || fail "$DEBS/$v.deb missing (built by the packaging_amd64 test)"
done

# ---- the throwaway root -------------------------------------------------------
odo_tmpdir
L=$ODO_TMP/layers R=$ODO_TMP/root
mkdir -p "$L" "$R"
mount -t tmpfs -o mode=0755 tmpfs "$L"
mount -t tmpfs -o mode=0755 tmpfs "$R"
guide_cleanup() {
	local rc=$? p
	if [ $rc -ne 0 ] && [ -S "$R/var/run/postgresql/.s.PGSQL.5432" ]; then # what the collector refused, and why
		mkdir -p "$ODO_TMP/logs"
		chroot "$R" runuser -u postgres -- psql -d odo -X -c \
			"SELECT error_name, field, left(message, 200) AS message, count(*) FROM dead_letters GROUP BY 1, 2, 3" \
			>"$ODO_TMP/logs/dead_letters.txt" 2>&1 || true
		cat "$ODO_TMP/logs/dead_letters.txt" >&2
	fi
	# every process of the throwaway root is this test's
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$R" ] && kill -9 "${p#/proc/}" 2>/dev/null
	done
	sleep 0.2
	if [ $rc -ne 0 ] && [ -d "$R/var/log" ]; then # what the services said, for the inspection
		mkdir -p "$ODO_TMP/logs"
		cp -r "$R/var/log/journal-standin" "$R/var/log/mosquitto" "$ODO_TMP/logs/" 2>/dev/null || true
		cp "$R"/tmp/*.log "$ODO_TMP/logs/" 2>/dev/null || true
		echo "guide.sh: the services' logs are in $ODO_TMP/logs" >&2
	fi
	umount -R -l "$R" 2>/dev/null || true
	umount -l "$L" 2>/dev/null || true
	if findmnt -rn -o TARGET | grep -q "^$ODO_TMP/"; then
		echo "guide.sh: mounts left under $ODO_TMP; not removing it" >&2
		ODO_KEEP_TMP=1
	fi
	(exit $rc)
	odo_cleanup
}
trap guide_cleanup EXIT
for d in etc usr var; do
	mkdir -p "$L/up/$d" "$L/work/$d" "$R/$d"
	mount -t overlay overlay -o "lowerdir=/$d,upperdir=$L/up/$d,workdir=$L/work/$d" "$R/$d"
done
for d in bin sbin lib lib32 lib64; do
	[ -L "/$d" ] && ln -s "$(readlink "/$d")" "$R/$d"
done
mkdir -p "$R"/{proc,sys,dev,run,tmp,srv,root,home,src} "$L/up/src" "$L/work/src"
mount -t overlay overlay -o "lowerdir=$SRC,upperdir=$L/up/src,workdir=$L/work/src" "$R/src"
mount -t proc proc "$R/proc"
mount --rbind -o ro /sys "$R/sys" 2>/dev/null || mount --bind /sys "$R/sys"
mount -t tmpfs -o mode=0755 tmpfs "$R/dev"
for n in null zero full random urandom tty; do
	touch "$R/dev/$n"
	mount --bind "/dev/$n" "$R/dev/$n"
done
mkdir -p "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs -o mode=1777 tmpfs "$R/dev/shm"
ln -s /proc/self/fd "$R/dev/fd"
mount -t tmpfs -o mode=0755 tmpfs "$R/run"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
chmod 0700 "$R/root"
ln -s /run "$R/var/run" 2>/dev/null || true

# the network: loopback only; the broker's name as DNS would give it
ip link set lo up
hostname odo-deploy-test
printf '127.0.0.1 localhost mqtt.fleet.example odo-deploy-test\n::1 localhost\n' >"$R/etc/hosts"
# apt without a network: nothing is downloaded, nothing upgraded; every package the
# guide names is installed by tools/bootstrap, the odo packages are local files
cat >"$R/etc/apt/apt.conf.d/99odo-deploy-test" <<'APT'
APT::Get::Assume-Yes "true";
APT::Get::Upgrade "false";
Acquire::Retries "0";
APT
install -m 0755 "$SRC/tests/e2e/deploy/systemctl" "$R/usr/local/sbin/systemctl"
install -m 0755 "$SRC/tests/e2e/deploy/journalctl" "$R/usr/local/bin/journalctl"
rm -f "$R"/src/build/odo-*.deb 2>/dev/null || true
mkdir -p "$R/src/build"
cp "$DEBS"/odo-broker_"${VERSION}"_all.deb "$DEBS"/odo-collector_"${VERSION}"_amd64.deb \
	"$DEBS"/odo-agent_"${VERSION}"_amd64.deb "$R/src/build/"
[ ! -e "$R/etc/odo" ] || fail "the host has /etc/odo: this test wants a host without the odo packages"
ok "throwaway root $R: overlays on /etc /usr /var, private network, systemctl and journalctl stand-ins"

PATH_IN=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# in_root CMD...: a command in the throwaway root, as root, in the source tree
in_root() {
	chroot "$R" /usr/bin/env -i PATH=$PATH_IN HOME=/root LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive \
		/bin/bash -c 'cd /src && "$@"' _ "$@"
}
# run_block NAME: the guide's block NAME, verbatim (bash -e: the first failing line fails it)
run_block() {
	local name=$1 log=$ODO_TMP/block-$1.log text
	text=$("${DOCBLOCK[@]}" "$DOC" "$name")
	printf '\n### docs/deploy.md block "%s" (+%ds)\n' "$name" $((SECONDS - t0))
	if ! in_root /bin/bash -c "set -euxo pipefail
$text" >"$log" 2>&1; then
		cat "$log" >&2
		fail "block '$name' of docs/deploy.md failed"
	fi
	sed 's/^/    /' "$log" | tail -n 40
}
# the test's own look into the database, as the administrator
q() { in_root runuser -u postgres -- psql -d odo -XAt -v ON_ERROR_STOP=1 -c "$1"; }
wait_for() { # WHAT SECONDS CMD...: until CMD succeeds
	local what=$1 n=$2 i
	shift 2
	for ((i = 0; i < n * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "$what: not within $n s"
}
journal() { cat "$R/var/log/journal-standin/$1.service.log" 2>/dev/null; }
unit_pid() { cat "$R/run/systemctl-standin/$1.service.pid"; }
# the user a unit's main process runs as, by name inside the throwaway root
unit_user() { in_root id -nu "$(stat -c %u "/proc/$(unit_pid "$1")")"; }

# ---- 1. certificates, 2. broker -------------------------------------------------
run_block pki
[ -f "$R/srv/odo-pki/devices/truck-0042.crt" ] && [ -f "$R/src/truck-0042.tar" ] || fail "pki: no certificate or tar for truck-0042"
run_block broker
[ "$(unit_user mosquitto)" = mosquitto ] || fail "mosquitto runs as $(unit_user mosquitto)"
wait_for "mosquitto listening on 8883" 20 odo_wait_port 8883 1
ok "mosquitto (Debian's mosquitto.conf + odo's drop-in) runs as user mosquitto, TLS on 8883"

# ---- 3. database and collector ----------------------------------------------------
# What `apt install postgresql` leaves behind on Debian 12: the cluster 15/main,
# running (created afresh here so the host's cluster files play no part).
# The test's one addition: the server logs every login (user=ROLE), so that
# the test sees which role each command and service used.
in_root sh -c 'pg_lsclusters -h | while read -r v c rest; do pg_dropcluster --stop "$v" "$c"; done
	pg_createcluster 15 main && echo "log_connections = on" >/etc/postgresql/15/main/conf.d/odo-deploy-test.conf &&
	pg_ctlcluster 15 main start' \
	>"$ODO_TMP/pg.log" 2>&1 || { cat "$ODO_TMP/pg.log" >&2; fail "the postgresql package's cluster did not start"; }
PGLOG=$R/var/log/postgresql/postgresql-15-main.log
# logins ROLE: how many times ROLE logged in to the database odo so far
logins() { grep -c "connection authorized: user=$1 database=odo" "$PGLOG" || true; }
# the roles that logged in to odo since line $1 of the server's log, sorted
# (but postgres: the guide's and this test's own psql as the administrator)
roles_since() {
	tail -n +"$1" "$PGLOG" | sed -n 's/.*connection authorized: user=\([^ ]*\) database=odo.*/\1/p' |
		grep -vx postgres | sort -u | paste -sd' ' -
}
run_block collector
[ "$(unit_user odo-collector)" = odo ] || fail "the collector runs as $(unit_user odo-collector)"
wait_for "collector subscribed" 30 grep -q "subscribing" "$R/var/log/journal-standin/odo-collector.service.log"
grep -q "migration(s) applied" <(journal odo-collector-migrate) || fail "odo-collector-migrate (Requires=) did not migrate"
grep -q "odo-collector-migrate.service (as odo-dbowner): " <(journal odo-collector-migrate) ||
	fail "odo-collector-migrate did not run as odo-dbowner"
[ "$(roles_since 1)" = "odo_aggregate odo_ingest odo_owner" ] ||
	fail "migrate and the collector logged in as: $(roles_since 1) (want odo_owner, then odo_ingest and odo_aggregate)"
in_root runuser -u odo -- cat /etc/odo/db/owner.password >/dev/null 2>&1 && fail "the odo user can read the owner's password"
ok "migrate ran as odo-dbowner (role odo_owner); odo-collector runs as odo (roles odo_ingest, odo_aggregate), subscribed through mqtt.fleet.example"
mark=$(($(wc -l <"$PGLOG") + 1))
run_block register
[ "$(q "SELECT driver_id || ' ' || vehicle_id || ' ' || to_char(valid_from AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM device_assignments WHERE device_id = 'truck-0042' AND valid_to IS NULL")" = "driver-17 van-3 2026-11-01" ] ||
	fail "truck-0042 is not assigned as registered"
[ "$(logins odo_privacy)" -ge 4 ] && [[ " $(roles_since "$mark") " != *" odo_owner "* ]] ||
	fail "registration logged in as: $(roles_since "$mark") (want odo_privacy, 4 commands)"
ok "registered with the operator commands, as odo_privacy"
# without sudo (the guide's promise): the command names the password file it cannot read, writes nothing
if out=$(in_root runuser -u odo -- odo-collector --config /etc/odo/collector.conf driver add not-registered --age 30 2>&1); then
	fail "driver add as odo (no access to the privacy role's password) succeeded: $out"
fi
[[ $out == *"/etc/odo/db/privacy.password): Permission denied"* ]] || fail "driver add as odo: unclear error: $out"
[ "$(q "SELECT count(*) FROM drivers WHERE driver_id = 'not-registered'")" = 0 ] || fail "driver add as odo wrote a driver"
ok "without sudo: '$out'"

# ---- 4. the gateway: no CAN adapter, no gpsd yet ------------------------------------
run_block gateway
[ "$(unit_user odo-agent)" = odo ] || fail "the agent runs as $(unit_user odo-agent)"
ok "odo-agent runs as odo (groups: $(ps -o supgrp= -p "$(unit_pid odo-agent)"))"
wait_for "the agent connected to the broker" 30 grep -q "connected" "$R/var/log/journal-standin/odo-agent.service.log"
sleep 3
kill -0 "$(unit_pid odo-agent)" || { journal odo-agent >&2; fail "the agent exited without a CAN adapter or gpsd"; }
journal odo-agent | grep -E "can0|gpsd" >"$ODO_TMP/missing.txt" || true
cat "$ODO_TMP/missing.txt"
grep -q "can0" "$ODO_TMP/missing.txt" || fail "the agent does not say that can0 is missing"
grep -q "gpsd" "$ODO_TMP/missing.txt" || fail "the agent does not say that gpsd is missing"
ok "the gateway runs without its CAN adapter and without gpsd, and says so"

# The vehicle drives: gpsd appears (gpsfake plays a real receiver's log on the
# port the board's agent.conf names); the agent picks it up by itself.
in_root /bin/sh -c 'gpsfake -q -P 2947 -c 0.2 tests/data/gpsd/bt451.log >/tmp/gpsfake.log 2>&1 &'
wait_for "the agent connected to gpsd when it appeared" 60 grep -q "connected to gpsd 127.0.0.1:2947" \
	"$R/var/log/journal-standin/odo-agent.service.log"
ok "gpsd came late; the agent took it up by itself"
# the first status record comes one status_period_s (60 s) after the start
wait_for "truck-0042's status record" 90 \
	sh -c "[ \"\$(chroot '$R' runuser -u postgres -- psql -d odo -XAt -c \"SELECT count(*) > 0 FROM device_status WHERE device_id = 'truck-0042'\")\" = t ]"
mark=$(($(wc -l <"$PGLOG") + 1))
in_root odo-collector --config /etc/odo/collector.conf device list --tsv >"$ODO_TMP/list.tsv"
cat "$ODO_TMP/list.tsv"
[ "$(roles_since "$mark")" = odo_reader ] || fail "device list logged in as: $(roles_since "$mark") (want odo_reader)"
awk -F'\t' '$1 == "truck-0042" && $3 ~ /^[0-9]+$/ && $3 > 0 && $5 ~ /^[0-9]+$/ && $8 == "driver-17" && $9 == "van-3" { f = 1 } END { exit !f }' \
	"$ODO_TMP/list.tsv" || fail "device list does not show truck-0042 with acks, a status backlog, driver-17 and van-3"
ok "device list: truck-0042 acked, last seen, backlog from its status record, driver-17 in van-3"

# ---- 5. the chain end to end with the bench identity --------------------------------
mark=$(($(wc -l <"$PGLOG") + 1))
run_block check
r=" $(roles_since "$mark") "
[[ $r == *" odo_privacy "* && $r == *" odo_aggregate "* && $r == *" odo_reader "* && $r != *" odo_owner "* ]] ||
	fail "the check's commands logged in as:$r(want odo_privacy, odo_aggregate, odo_reader; never the owner)"
[ "$(q "SELECT total_trips FROM monthly_features WHERE driver_id = 'bench-driver' AND month = '2024-05'")" = 1 ] ||
	fail "no monthly_features row for bench-driver in 2024-05"
[ "$(q "SELECT hard_brakes > 0 AND distance_m > 0 FROM trips WHERE device_id = 'bench-0001'")" = t ] ||
	fail "the bench trip has no hard brake or no distance"
ok "bench replay: 1 trip with its hard brake, bench-driver's May 2024 features"
run_block check-cleanup
[ "$(q "SELECT (SELECT count(*) FROM trips WHERE device_id = 'bench-0001') + (SELECT count(*) FROM monthly_features WHERE driver_id = 'bench-driver') + (SELECT count(*) FROM quarantine WHERE device_id = 'bench-0001')")" = 0 ] ||
	fail "the bench data is not gone after the cleanup"
[ "$(q "SELECT count(*) FROM data_audit WHERE action = 'forget' AND driver_id = 'bench-driver'")" = 1 ] || fail "forget left no audit row"
ok "bench data erased (audited), its certificate revoked"
sql=$("${DOCBLOCK[@]}" "$DOC" check-sql)
printf '%s\n' "$sql" | in_root runuser -u postgres -- psql -d odo -X -v ON_ERROR_STOP=1 >"$ODO_TMP/check-sql.log" 2>&1 ||
	{ cat "$ODO_TMP/check-sql.log" >&2; fail "block check-sql failed"; }
grep -q truck-0042 "$ODO_TMP/check-sql.log" || fail "check-sql shows no truck-0042"
ok "block check-sql runs (sudo -u postgres psql -d odo, as the guide says)"

# ---- revoking the gateway -----------------------------------------------------------
log=$R/var/log/mosquitto/mosquitto.log
before=$(wc -l <"$log")
run_block revoke
wait_for "the collector back after the broker restart" 30 \
	sh -c "[ \$(grep -c 'subscribing' '$R/var/log/journal-standin/odo-collector.service.log') -ge 2 ]"
# the agent retries within [uplink] backoff_max (300 s) at most, 1 s at first: wait for its refused handshake
wait_for "truck-0042's handshake refused by the restarted broker" 60 \
	sh -c "tail -n +$((before + 1)) '$log' | grep -q 'certificate verify failed'"
# grep -c reads to the end (an early exit would SIGPIPE the tail and hide a match under pipefail)
[ "$(tail -n +$((before + 1)) "$log" | grep -c "as truck-0042" || true)" = 0 ] || fail "truck-0042 connected after its revocation"
kill -0 "$(unit_pid odo-agent)" || fail "the revoked gateway's agent exited (it keeps its records and retries)"
[ "$(q "SELECT count(*) FROM device_assignments WHERE device_id = 'truck-0042' AND valid_to IS NULL")" = 0 ] ||
	fail "truck-0042 is still assigned after the unassign"
ok "after the revocation: truck-0042's handshakes refused by the restarted broker, the collector reconnected, the window closed"
printf '\ndeploy guide executed in %d s\n' $((SECONDS - t0))
