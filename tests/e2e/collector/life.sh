#!/usr/bin/env bash
# Field-lifecycle regression tests of the collector (issue #11) against the
# real servers: mosquitto with TLS and client certificates, PostgreSQL.
#   life.sh COLLECTOR DEVSIM MODE     (MODE: see life_tests.py)
# Starts the servers, applies the migrations (MODE upgrade: 001 first, then
# the rest over existing rows), then runs life_tests.py MODE, which drives
# odo-collector processes, publishes hand-built batches and asserts what is
# stored, dead-lettered, quarantined, recorded as lost and acknowledged.
set -euo pipefail
COLLECTOR=$1
DEVSIM=$2
MODE=$3
source "$ODO_SOURCE_DIR/tests/e2e/collector/common.sh"
odo_tmpdir
odo_pki_init "$ODO_TMP/pki" dev-a dev-b dev-c dev-d dev-e dev-f >/dev/null
odo_start_mosquitto "$ODO_TMP/pki"
odo_start_postgres
export COLLECTOR DEVSIM ODO_PG_BIN _odo_pg_data
python3 "$ODO_SOURCE_DIR/tests/e2e/collector/life_tests.py" "$MODE"
