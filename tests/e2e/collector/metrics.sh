#!/usr/bin/env bash
# Metrics and health of the collector (issue #16 item 3), scraped by a real
# Prometheus: real mosquitto (TLS, client certificates), real PostgreSQL, a
# real Prometheus (Debian's) on loopback with the repo's alerting rules.
#   metrics.sh COLLECTOR DEVSIM
# metrics_tests.py drives the traffic, the refusals and a database outage
# and asserts on Prometheus' query API (and on /livez, /readyz).
set -euo pipefail
COLLECTOR=$1
DEVSIM=$2
source "$ODO_SOURCE_DIR/tests/e2e/collector/common.sh"
command -v promtool >/dev/null || odo_die "promtool is not installed (Debian prometheus): run tools/bootstrap"
odo_tmpdir
odo_pki_init "$ODO_TMP/pki" dev-a dev-b dev-c >/dev/null
odo_start_mosquitto "$ODO_TMP/pki"
odo_start_postgres
METRICS_PORT=$(odo_free_port)
odo_start_prometheus "127.0.0.1:$METRICS_PORT" "$ODO_SOURCE_DIR/tools/prometheus/odo-rules.yml"
export COLLECTOR DEVSIM METRICS_PORT ODO_PG_BIN _odo_pg_data
python3 "$ODO_SOURCE_DIR/tests/e2e/collector/metrics_tests.py"
