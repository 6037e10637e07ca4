#!/usr/bin/env bash
# collector_bounds: a database migrated with collector/sql, then every wire
# field's range against the type of each column it is written to.
#   bounds.sh COLLECTOR BOUNDS_BINARY
set -euo pipefail
COLLECTOR=$1
BOUNDS=$2
source "$ODO_SOURCE_DIR/tests/e2e/collector/common.sh"
odo_tmpdir
odo_start_postgres
cat >"$ODO_TMP/c.ini" <<INI
[db]
conninfo = "$ODO_PG_CONNINFO"
INI
"$COLLECTOR" --config "$ODO_TMP/c.ini" migrate 2>"$ODO_TMP/m.log" || { cat "$ODO_TMP/m.log"; fail "migrate"; }
"$BOUNDS" "$ODO_PG_CONNINFO"
echo PASS
