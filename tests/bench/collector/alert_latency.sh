#!/usr/bin/env bash
# alert_latency (#16 item 2): record arrival -> webhook, against the ack of the
# same records in the same run (alert_latency.py says how). Real TLS mosquitto,
# PostgreSQL, odo-collector, a local HTTP receiver.
#   alert_latency.sh COLLECTOR DEVSIM        (ALERT_N, ALERT_GAP_S: records, spacing)
set -euo pipefail
COLLECTOR=$1
DEVSIM=$2
source "$ODO_SOURCE_DIR/tests/e2e/collector/common.sh"
odo_tmpdir
odo_pki_init "$ODO_TMP/pki" bench-car >/dev/null
odo_start_mosquitto "$ODO_TMP/pki"
odo_start_postgres
export COLLECTOR DEVSIM ODO_PG_BIN _odo_pg_data
python3 "$ODO_SOURCE_DIR/tests/bench/collector/alert_latency.py"
