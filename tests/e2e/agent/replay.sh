#!/bin/bash
# agent_replay_deterministic: replay the synthetic drive twice, compare the
# emitted records byte for byte, check them against the drive's truth.json;
# a replay neither reads nor writes [agent] state_dir unless --with-state.
# Usage: replay.sh /path/to/odo-agent
set -euo pipefail
: "${ODO_SOURCE_DIR:?}"
AGENT=${1:?usage: replay.sh ODO_AGENT}
source "$ODO_SOURCE_DIR/tests/lib/servers.sh"
odo_tmpdir
DRIVE="$ODO_SOURCE_DIR/tests/data/drives/synthetic-1"
HERE="$ODO_SOURCE_DIR/tests/e2e/agent"

# run N [STATE_DIR [OPTION...]]: a replay with its own outbox and the state directory given
run() {
	local d="$ODO_TMP/run$1" state=${2:-$ODO_TMP/run$1/state}
	shift $(($# < 2 ? $# : 2))
	mkdir -p "$d"
	cat >"$d/agent.conf" <<CONF
[agent]
device_id = replay-test
state_dir = $state
[store]
path = $d/outbox.db
CONF
	"$AGENT" -c "$d/agent.conf" --replay "$DRIVE" --no-uplink --emit "$d/emit.txt" "$@" 2>"$d/log" ||
		{ cat "$d/log" >&2; odo_die "replay exited $?"; }
}
run 1
run 2
[ -s "$ODO_TMP/run1/emit.txt" ] || odo_die "replay emitted nothing"
cmp "$ODO_TMP/run1/emit.txt" "$ODO_TMP/run2/emit.txt" || odo_die "two replays of the same drive differ"
echo "two replays identical: $(wc -l <"$ODO_TMP/run1/emit.txt") records"

# A replay with the gateway's configuration leaves the gateway's learnt state
# alone (#17: it used to overwrite [agent] state_dir/calibration), unless
# --with-state says so.
[ ! -e "$ODO_TMP/run1/state" ] || odo_die "a replay created its state_dir $ODO_TMP/run1/state"
run 3 "$ODO_TMP/learnt" --with-state
[ -s "$ODO_TMP/learnt/calibration" ] || odo_die "--with-state saved no calibration in state_dir"
mkdir -p "$ODO_TMP/gateway"
cp -p "$ODO_TMP/learnt/calibration" "$ODO_TMP/gateway/calibration"
# the gateway's own state: as a live agent would have left it (an older file)
touch -d '2026-01-01 00:00:00' "$ODO_TMP/gateway/calibration"
cp -p "$ODO_TMP/gateway/calibration" "$ODO_TMP/gateway.orig"
run 4 "$ODO_TMP/gateway"
cmp "$ODO_TMP/gateway/calibration" "$ODO_TMP/gateway.orig" || odo_die "a replay changed the gateway's calibration"
[ "$(stat -c %Y "$ODO_TMP/gateway/calibration")" = "$(stat -c %Y "$ODO_TMP/gateway.orig")" ] ||
	odo_die "a replay rewrote the gateway's calibration file"
[ "$(ls "$ODO_TMP/gateway")" = calibration ] || odo_die "a replay wrote into the gateway's state_dir: $(ls "$ODO_TMP/gateway")"
cmp "$ODO_TMP/run1/emit.txt" "$ODO_TMP/run4/emit.txt" || odo_die "a replay read the gateway's calibration"
grep -q "nothing saved (\[agent\] state_dir untouched)" "$ODO_TMP/run4/log" || odo_die "the replay does not say it leaves the state alone"
run 5 "$ODO_TMP/gateway" --with-state
[ "$(stat -c %Y "$ODO_TMP/gateway/calibration")" != "$(stat -c %Y "$ODO_TMP/gateway.orig")" ] ||
	odo_die "--with-state did not save the calibration"
echo "the gateway's state_dir is untouched by a replay, used with --with-state"
"$AGENT" --print-config-reference >"$ODO_TMP/ref.md"
python3 "$HERE/check_replay.py" "$ODO_TMP/run1/emit.txt" "$DRIVE/truth.json" "$ODO_TMP/ref.md"
