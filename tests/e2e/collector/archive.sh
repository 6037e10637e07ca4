#!/usr/bin/env bash
# Tiered retention and archive (issue #16 item 4) against real servers:
# PostgreSQL, and mosquitto with TLS for the collector that ingests the data.
#   archive.sh COLLECTOR DEVSIM MODE     (MODE: roundtrip, forget, corrupt; see archive_tests.py)
set -euo pipefail
COLLECTOR=$1
DEVSIM=$2
MODE=$3
source "$ODO_SOURCE_DIR/tests/e2e/collector/common.sh"
odo_tmpdir
odo_pki_init "$ODO_TMP/pki" dev-a dev-b >/dev/null
odo_start_mosquitto "$ODO_TMP/pki"
odo_start_postgres
export COLLECTOR DEVSIM
python3 "$ODO_SOURCE_DIR/tests/e2e/collector/archive_tests.py" "$MODE"
