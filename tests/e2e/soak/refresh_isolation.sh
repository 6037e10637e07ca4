#!/usr/bin/env bash
# collector_refresh_isolation: see refresh_isolation.py.
#   refresh_isolation.sh ODO_COLLECTOR DEVSIM
set -euo pipefail
: "${ODO_SOURCE_DIR:?}"
COLLECTOR=${1:?usage: refresh_isolation.sh ODO_COLLECTOR DEVSIM}
DEVSIM=${2:?}
source "$ODO_SOURCE_DIR/tests/lib/servers.sh"
odo_tmpdir
odo_pki_init "$ODO_TMP/pki" dev-a dev-b >/dev/null
"$ODO_SOURCE_DIR/tools/pki" collector "$ODO_TMP/pki" odo-collector-c1 >/dev/null
odo_start_mosquitto "$ODO_TMP/pki"
odo_start_postgres
export COLLECTOR DEVSIM
python3 "$ODO_SOURCE_DIR/tests/e2e/soak/refresh_isolation.py"
