#!/usr/bin/env bash
# Least privilege, lasting erasure and consent in PostgreSQL (issue #13 items
# 3, 4, 5) against the real servers: mosquitto with TLS and client
# certificates, PostgreSQL with the five roles.
#   privacy.sh COLLECTOR DEVSIM MODE     (MODE: roles | erasure | consent)
# Starts the servers, logs DDL statements with their user, then runs
# privacy_tests.py MODE (see its docstring for what each mode asserts).
set -euo pipefail
COLLECTOR=$1
DEVSIM=$2
MODE=$3
source "$ODO_SOURCE_DIR/tests/e2e/collector/common.sh"
odo_tmpdir
odo_pki_init "$ODO_TMP/pki" dev-e dev-k dev-a dev-b dev-c dev-u >/dev/null
odo_start_mosquitto "$ODO_TMP/pki"
odo_start_postgres
export COLLECTOR DEVSIM ODO_PG_BIN _odo_pg_data
python3 "$ODO_SOURCE_DIR/tests/e2e/security/privacy_tests.py" "$MODE"
