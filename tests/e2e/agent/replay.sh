#!/bin/bash
# agent_replay_deterministic: replay the synthetic drive twice, compare the
# emitted records byte for byte, check them against the drive's truth.json.
# Usage: replay.sh /path/to/odo-agent
set -euo pipefail
: "${ODO_SOURCE_DIR:?}"
AGENT=${1:?usage: replay.sh ODO_AGENT}
source "$ODO_SOURCE_DIR/tests/lib/servers.sh"
odo_tmpdir
DRIVE="$ODO_SOURCE_DIR/tests/data/drives/synthetic-1"
HERE="$ODO_SOURCE_DIR/tests/e2e/agent"

run() {
	local d="$ODO_TMP/run$1"
	mkdir -p "$d"
	cat >"$d/agent.conf" <<CONF
[agent]
device_id = replay-test
state_dir = $d/state
[store]
path = $d/outbox.db
CONF
	"$AGENT" -c "$d/agent.conf" --replay "$DRIVE" --no-uplink --emit "$d/emit.txt" 2>"$d/log" ||
		{ cat "$d/log" >&2; odo_die "replay $1 exited $?"; }
}
run 1
run 2
[ -s "$ODO_TMP/run1/emit.txt" ] || odo_die "replay emitted nothing"
cmp "$ODO_TMP/run1/emit.txt" "$ODO_TMP/run2/emit.txt" || odo_die "two replays of the same drive differ"
echo "two replays identical: $(wc -l <"$ODO_TMP/run1/emit.txt") records"
"$AGENT" --print-config-reference >"$ODO_TMP/ref.md"
python3 "$HERE/check_replay.py" "$ODO_TMP/run1/emit.txt" "$DRIVE/truth.json" "$ODO_TMP/ref.md"
