#!/bin/bash
# agent_trip_identity_db (#11, finding 1): the real odo-agent replays two
# different drives, one after the other, with the same outbox and device id
# (what a restart between two drives does), into a real TLS mosquitto, the
# real odo-collector and PostgreSQL. The database must hold two trips, one
# per drive, with different ids. The version 1 agent restarted trip ids at 1
# on every start, and the second drive's trip overwrote the first one's row.
# Usage: trips_db.sh /path/to/odo-agent /path/to/odo-collector
set -euo pipefail
: "${ODO_SOURCE_DIR:?}"
AGENT=${1:?usage: trips_db.sh ODO_AGENT ODO_COLLECTOR}
COLLECTOR=${2:?usage: trips_db.sh ODO_AGENT ODO_COLLECTOR}
for b in "$AGENT" "$COLLECTOR"; do [ -x "$b" ] || { echo "FAIL: $b is not built" >&2; exit 1; }; done
source "$ODO_SOURCE_DIR/tests/e2e/collector/common.sh"
DEV=car-1

odo_tmpdir
T=$ODO_TMP
odo_pki_init "$T/pki" "$DEV" >/dev/null
odo_start_mosquitto "$T/pki"
odo_start_postgres
write_ini "$T/c1.ini" c1 c1
"$COLLECTOR" --config "$T/c1.ini" migrate 2>/dev/null
start_collector c1 collector-c1

odo_agent_conf "$T" "$DEV" "$T/outbox.db"

for drive in rav4-i280 synthetic-1; do
	echo "== replaying $drive with the same outbox"
	"$AGENT" -c "$T/agent.conf" --replay "$ODO_SOURCE_DIR/tests/data/drives/$drive" --drain-timeout 60 \
		2>>"$T/agent.stderr" || { tail -20 "$T/agent.log" >&2; fail "the $drive replay was not acknowledged"; }
done
q "SELECT trip_id, device_trip_id, start_time, end_time IS NOT NULL AS ended, round(distance_m) AS m FROM trips ORDER BY start_time"
expect_eq "trips of $DEV" "$(q "SELECT count(*) FROM trips WHERE device_id = '$DEV'")" 2
expect_eq "different trip ids" "$(q "SELECT count(DISTINCT device_trip_id) FROM trips WHERE device_id = '$DEV'")" 2
expect_eq "both ended" "$(q "SELECT count(*) FROM trips WHERE device_id = '$DEV' AND end_time IS NOT NULL AND distance_m > 0")" 2
# one trip per drive: the RAV4's on 2018-08-02, the synthetic one on 2024-05-14
expect_eq "trip days" "$(q "SELECT string_agg(to_char(start_time AT TIME ZONE 'UTC', 'YYYY-MM-DD'), ',' ORDER BY start_time) FROM trips WHERE device_id = '$DEV'")" \
	"2018-08-02,2024-05-14"
echo "OK: two drives with one outbox are two trips"
