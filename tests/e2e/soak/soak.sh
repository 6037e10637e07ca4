#!/usr/bin/env bash
# lifecycle_soak (#11 item 7): a few minutes of a fleet's life against the
# real servers: mosquitto with TLS and client certificates, PostgreSQL, two
# odo-collector processes on one shared subscription, three odo-agent
# gateways replaying the project's recordings moved onto simulated days,
# odo-fleet-sim vehicles and one hostile device; restarts, SIGKILLs, a
# replaced gateway, broker and database restarts and a database restore from
# a backup taken mid-run. soak.py runs the scenario, prints the counts and
# checks every record against what each device produced.
#   soak.sh ODO_AGENT ODO_COLLECTOR ODO_FLEET_SIM DEVSIM
set -euo pipefail
: "${ODO_SOURCE_DIR:?}"
AGENT=${1:?usage: soak.sh ODO_AGENT ODO_COLLECTOR ODO_FLEET_SIM DEVSIM}
COLLECTOR=${2:?}
FLEETSIM=${3:?}
DEVSIM=${4:?}
for b in "$AGENT" "$COLLECTOR" "$FLEETSIM" "$DEVSIM"; do
	[ -x "$b" ] || { echo "FAIL: $b is not built" >&2; exit 1; }
done
source "$ODO_SOURCE_DIR/tests/lib/servers.sh"
[ -x "$ODO_PG_BIN/pg_basebackup" ] || odo_die "pg_basebackup not found in $ODO_PG_BIN: run tools/bootstrap"
odo_tmpdir
DEVICES=(car-1 car-2 car-3 hostile-1 sim-1 sim-2 sim-3 sim-4)
odo_pki_init "$ODO_TMP/pki" "${DEVICES[@]}" >/dev/null
# One certificate identity per collector: the broker binds the client id to it.
"$ODO_SOURCE_DIR/tools/pki" collector "$ODO_TMP/pki" odo-collector-c1 odo-collector-c2 >/dev/null
odo_start_mosquitto "$ODO_TMP/pki"
odo_start_postgres
export AGENT COLLECTOR FLEETSIM DEVSIM ODO_PG_BIN ODO_MQTT_CONF ODO_MQTT_LOG
export ODO_PG_DATA=$_odo_pg_data
python3 "$ODO_SOURCE_DIR/tests/e2e/soak/soak.py"
