#!/usr/bin/env bash
# Start a private PostgreSQL, apply the collector's migrations (twice: the
# second run must apply nothing), then run db_tests.py MODE against it.
#   pg_run.sh COLLECTOR_BINARY MODE   (MODE: migrate | aggregate | privacy)
set -euo pipefail
COLLECTOR=$1
MODE=$2
source "$ODO_SOURCE_DIR/tests/lib/servers.sh"
odo_tmpdir
odo_start_postgres
cat >"$ODO_TMP/collector.ini" <<INI
[collector]
name = test-collector
[db]
conninfo = "$ODO_PG_CONNINFO"
INI
"$COLLECTOR" --config "$ODO_TMP/collector.ini" migrate 2>"$ODO_TMP/m1.log" || { cat "$ODO_TMP/m1.log"; exit 1; }
n=$(ls "$ODO_SOURCE_DIR"/collector/sql/[0-9][0-9][0-9]_*.sql | wc -l)
grep -q "$n migration(s) applied" "$ODO_TMP/m1.log" || { cat "$ODO_TMP/m1.log"; echo "first migrate did not apply all $n"; exit 1; }
"$COLLECTOR" --config "$ODO_TMP/collector.ini" migrate 2>"$ODO_TMP/m2.log" || { cat "$ODO_TMP/m2.log"; exit 1; }
grep -q "0 migration(s) applied" "$ODO_TMP/m2.log" || { cat "$ODO_TMP/m2.log"; echo "re-run of migrate was not a no-op"; exit 1; }
export ODO_PG_CONNINFO
python3 "$ODO_SOURCE_DIR/tests/e2e/collector/db_tests.py" "$COLLECTOR" "$ODO_TMP/collector.ini" "$MODE"
