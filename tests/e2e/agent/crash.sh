#!/bin/bash
# agent_crash_safety: the real odo-agent replays a recorded drive into its
# SQLite outbox and sends to a real TLS mosquitto (tests/e2e/store's ack-sink
# acknowledging), and is SIGKILLed at random moments KILLS times in a row
# (default 50; each run replays the drive from the start and makes new
# records in the same outbox; the drive is tests/data/drives/synthetic-1
# chained 8 times so that most kills land mid-replay). A last run completes
# and drains. Then: every record the agent reported
# stored (--emit, written after the commit) reached the sink, none missing;
# no seq carries two different contents and the sink's kind/t_ms match the
# emitted ones; seqs strictly increase across runs; seqs the sink has but no
# emit line reports are at most one per kill, between that run's last
# emitted seq and the next run's first; the outbox ends empty. Trips (#11):
# trip ids are never reused across the restarts (each run used to start at
# 1), and every trip start has exactly one trip end: a trip a kill left open
# is ended by the next start from its checkpoint ("end": 2), a SIGTERM
# (TERMS runs, default 3, between the kills) ends it with "end": 1.
# Prints the counts.
# Usage: crash.sh /path/to/odo-agent /path/to/ack-sink
# Environment: ODO_AGENT_KILLS (default 50), ODO_AGENT_SEED (default 7).
set -euo pipefail
: "${ODO_SOURCE_DIR:?}"
AGENT=${1:?usage: crash.sh ODO_AGENT ACK_SINK}
SINK=${2:?usage: crash.sh ODO_AGENT ACK_SINK}
for b in "$AGENT" "$SINK"; do [ -x "$b" ] || { echo "FAIL: $b is not built" >&2; exit 1; }; done
source "$ODO_SOURCE_DIR/tests/lib/servers.sh"
DRIVE="$ODO_SOURCE_DIR/tests/data/drives/synthetic-1"
KILLS=${ODO_AGENT_KILLS:-50}
RANDOM=${ODO_AGENT_SEED:-7}
DEV=crash-1

odo_tmpdir
T=$ODO_TMP

# The recorded drive (166 s) replays in ~0.1 s: too short to be killed in
# the middle at random. Chain COPIES copies of it, each shifted by SHIFT s
# (receipt times and GPS times), into one longer recording.
COPIES=${ODO_AGENT_COPIES:-8}
python3 - "$DRIVE" "$T/drive" "$COPIES" <<'PY'
import datetime, os, re, shutil, sys
src, dst, copies = sys.argv[1], sys.argv[2], int(sys.argv[3])
SHIFT = 200
os.makedirs(dst)
shutil.copy(os.path.join(src, "meta.conf"), dst)
iso = re.compile(r'"time":"([^"]+)Z"')
def shift_iso(m, d):
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f") + datetime.timedelta(seconds=d)
    return '"time":"%s.%03dZ"' % (t.strftime("%Y-%m-%dT%H:%M:%S"), t.microsecond // 1000)
with open(os.path.join(dst, "gps.log"), "w") as out:
    for c in range(copies):
        d = c * SHIFT
        for line in open(os.path.join(src, "gps.log")):
            ts, rest = line.split(" ", 1)
            if c and '"class":"VERSION"' in rest:
                continue
            out.write("%.6f %s" % (float(ts) + d, iso.sub(lambda m: shift_iso(m, d), rest)))
for name in ("accel.csv", "phone.csv"):
    lines = open(os.path.join(src, name)).read().splitlines()
    with open(os.path.join(dst, name), "w") as out:
        out.write(lines[0] + "\n")
        for c in range(copies):
            for line in lines[1:]:
                ts, rest = line.split(",", 1)
                out.write("%.6f,%s\n" % (float(ts) + c * SHIFT, rest))
PY
DRIVE=$T/drive
odo_pki_init "$T/pki" "$DEV"
odo_start_mosquitto "$T/pki"
: >"$T/sink.out"
"$SINK" --port "$ODO_MQTT_PORT" --cafile "$T/pki/ca.crt" --cert "$T/pki/collector.crt" \
	--key "$T/pki/collector.key" --out "$T/sink.out" --trips "$T/trips.out" 2>"$T/sink.log" &
SINK_PID=$!
odo_track_pid $SINK_PID

# The same outbox and state directory in every run: what a gateway keeps
# across power cuts. A SAMPLE every 0.1 s of drive time: many records per run.
odo_agent_conf "$T" "$DEV" "$T/outbox.db" "" $'[engine]\nsample_period_s = 0.1\n' $'ack_timeout = 1\n'

fail() {
	echo "FAIL: $*" >&2
	for f in agent.log agent.stderr sink.log; do
		[ -f "$T/$f" ] && { echo "--- $f" >&2; tail -20 "$T/$f" >&2; }
	done
	exit 1
}

# run_agent NAME DRAIN_S &: replay the drive into the outbox (emit file
# emit.NAME) and keep sending until acknowledged (at most DRAIN_S s). A kill
# lands mid-replay (producing) or, later, mid-drain (sending, acknowledging).
# exec: $! is the agent itself, so SIGKILL hits it and not a subshell.
run_agent() {
	exec "$AGENT" -c "$T/agent.conf" --replay "$DRIVE" --emit "$T/emit.$1" --drain-timeout "$2" \
		2>>"$T/agent.stderr"
}

TERMS=${ODO_AGENT_TERMS:-3}
killed_alive=0
for ((k = 1; k <= KILLS; k++)); do
	run_agent "$k" 60 &
	pid=$!
	# 20..500 ms: start-up, TLS handshake, mid-replay, mid-commit, mid-batch.
	sleep "$(printf '0.%03d' $((20 + RANDOM % 481)))"
	if kill -KILL "$pid" 2>/dev/null; then
		killed_alive=$((killed_alive + 1))
	fi
	wait "$pid" 2>/dev/null || true
	# Now and then an orderly stop instead (ignition off): the open trip
	# ends with "end": 1 and the run exits 0 after draining.
	if ((TERMS > 0 && k % (KILLS / TERMS > 0 ? KILLS / TERMS : 1) == 0)); then
		run_agent "term$k" 60 &
		pid=$!
		sleep 0.3
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" || fail "a SIGTERMed run exited $? (expected 0)"
	fi
done
echo "$KILLS SIGKILLs sent, $killed_alive of them to a running agent" >&2
# The kills must mostly land while the agent works, or the test proves little.
[ "$killed_alive" -ge $((KILLS * 9 / 10)) ] ||
	fail "only $killed_alive of $KILLS kills hit a running agent (replay too short?)"

# Last run: replay to the end and drain everything, including the backlog.
rc=0
run_agent final 60 &
FPID=$!
wait $FPID || rc=$?
[ "$rc" = 0 ] || fail "final run exited $rc (3 = not drained within 60 s, 4 = records lost)"
# A killed run's own crash would look like a kill: its stderr tells
# (sanitizer builds abort on the first error).
! grep -E "Sanitizer|runtime error|odo-agent: " "$T/agent.stderr" >&2 ||
	fail "odo-agent reported errors on stderr (above)"
sleep 0.3
kill -TERM $SINK_PID
wait $SINK_PID || fail "ack-sink exited $?"

left=$(python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("SELECT count(*) FROM outbox").fetchone()[0])' "$T/outbox.db")
[ "$left" = 0 ] || fail "$left record(s) left in the outbox after the final drain"

python3 - "$T" "$DEV" "$KILLS" <<'PY' || fail "record accounting (above)"
import bisect, glob, os, sys

t, dev, kills = sys.argv[1], sys.argv[2], int(sys.argv[3])
kinds = {}  # wire kind number -> name, learned from the data (see below)

def runs():
    # killed runs k and SIGTERMed runs termk (after run k), in the order they ran
    ks = []
    for p in glob.glob(t + "/emit.*"):
        name = p.rsplit(".", 1)[1]
        if name == "final":
            continue
        ks.append((int(name[4:]), 1, name) if name.startswith("term") else (int(name), 0, name))
    return [t + "/emit." + n for _, _, n in sorted(ks)] + [t + "/emit.final"]

# The final run replays to the end: the t_ms of its last record marks a
# complete replay (a killed run that reached it was killed while draining).
end_t = 0
with open(t + "/emit.final") as f:
    for line in f:
        end_t = max(end_t, int(line.split()[2]))
produced = {}        # seq -> (kind name, t_ms)
run_of = {}          # seq -> index of the run that emitted it
order_bad = []
last = 0
torn = 0
unstored = 0
per_run = []
for path in runs():
    n = 0
    complete = False
    with open(path) as f:
        for line in f:
            if not line.endswith("\n"):
                torn += 1          # the kill cut this line
                continue
            seq, kind, t_ms, _tsrc, _cbor = line.split()
            seq, t_ms = int(seq), int(t_ms)
            if seq == 0:
                unstored += 1      # store refused it (the agent logs it)
                continue
            if seq <= last:
                order_bad.append((os.path.basename(path), seq, last))
            last = max(last, seq)
            produced[seq] = (kind, t_ms)
            run_of[seq] = len(per_run)
            complete = complete or t_ms >= end_t
            n += 1
    per_run.append((n, complete))

received = {}   # seq -> (kind number, t_ms)
deliveries = 0
reused = []
for line in open(t + "/sink.out"):
    p = line.split()
    if len(p) != 5 or p[0] != dev:
        continue
    deliveries += 1
    seq, content = int(p[1]), (int(p[2]), int(p[4]))
    if seq in received and received[seq] != content:
        reused.append(seq)
    received.setdefault(seq, content)

# The sink prints kind numbers, --emit names: learn the mapping from the
# seqs both sides know and require it to be one-to-one, and t_ms to agree.
mismatch = []
for seq, (name, t_ms) in produced.items():
    if seq not in received:
        continue
    knum, rt = received[seq]
    if kinds.setdefault(knum, name) != name or rt != t_ms:
        mismatch.append((seq, name, t_ms, knum, rt))
if len(set(kinds.values())) != len(kinds):
    mismatch.append(("kind map not one-to-one", kinds))

missing = sorted(set(produced) - set(received))
unlogged = sorted(set(received) - set(produced))
# A seq the sink has but no emit line reports must be a record stored by a
# killed run just before its kill: after that run's last emitted seq and
# before the next run's first, at most one per killed run in that gap.
emitted = sorted(produced)
gaps = {}
inside = []
for s in unlogged:
    i = bisect.bisect_left(emitted, s)
    lo = run_of[emitted[i - 1]] if i > 0 else -1
    hi = run_of[emitted[i]] if i < len(emitted) else len(per_run)
    if lo == hi:
        inside.append(s)
    else:
        gaps.setdefault((lo, hi), []).append(s)
crowded = {g: v for g, v in gaps.items() if len(v) > g[1] - g[0]}
killed = [n for n, _ in per_run[:-1]]
print("runs %d (%d killed, %d of them mid-replay); records stored per run: min %d, max %d, final %d"
      % (len(per_run), kills, sum(1 for _, c in per_run[:-1] if not c), min(killed or [0]),
         max(killed or [0]), per_run[-1][0]))
print("produced %d records (seq %d..%d, kinds %s); received %d distinct seqs in %d deliveries "
      "(%d duplicates deduplicated); missing %d; received but emit line lost to a kill %d (at most %d); "
      "torn emit lines %d; not stored %d; seq reused %d; seq/content mismatch %d; seq order violations %d"
      % (len(produced), min(produced, default=0), max(produced, default=0),
         ",".join(sorted(set(k for k, _ in produced.values()))), len(received), deliveries,
         deliveries - len(received), len(missing), len(unlogged), kills, torn, unstored, len(reused),
         len(mismatch), len(order_bad)))
ok = True
def bad(msg):
    global ok
    print("FAIL: " + msg)
    ok = False
if not produced:
    bad("nothing was produced")
if per_run[-1][0] == 0 or not per_run[-1][1]:
    bad("the final run did not replay the drive to the end")
if missing:
    bad("stored records never reached the sink: seq %s" % missing[:20])
if reused:
    bad("seq delivered with two different contents: %s" % reused[:20])
if mismatch:
    bad("sink content differs from what the agent stored: %s" % mismatch[:10])
if order_bad:
    bad("seq not strictly increasing across runs: %s" % order_bad[:10])
# Most kills must interrupt the replay itself (records being produced), not
# only the sending afterwards; a quarter leaves room for faster machines.
if sum(1 for _, c in per_run[:-1] if not c) < kills // 4:
    bad("fewer than %d kills landed while the drive was replaying" % (kills // 4))
if inside:
    bad("seqs arrived that lie inside one run's emitted seqs but were never emitted: %s" % inside[:20])
if crowded:
    bad("more unreported seqs between runs than kills explain: %s" % list(crowded.items())[:5])
if len(unlogged) > kills:
    bad("%d seqs arrived that no emit line reports, more than %d kills explain: %s"
        % (len(unlogged), kills, unlogged[:20]))
if unstored:
    bad("%d records not stored (seq 0)" % unstored)

# Trips (#11): ids never reused; every start exactly one end, every end one start.
starts, ends = {}, {}
for line in open(t + "/trips.out"):
    p = line.split()
    if len(p) != 6 or p[0] != dev:
        continue
    kind, trip, seq, end = int(p[2]), int(p[3]), int(p[4]), int(p[5])
    (starts if kind == 1 else ends).setdefault(trip, set()).add((seq, end))
reused_ids = sorted(i for i, v in starts.items() if len(v) > 1)
two_ends = sorted(i for i, v in ends.items() if len(v) > 1)
no_end = sorted(set(starts) - set(ends))
no_start = sorted(set(ends) - set(starts))
reasons = {}
for v in ends.values():
    for _, end in v:
        reasons[end] = reasons.get(end, 0) + 1
print("trips: %d started (ids %d..%d), %d ended: %d stopped, %d shutdown, %d recovered after a kill; "
      "ids reused %d, starts without an end %d, ends without a start %d, trips ended twice %d"
      % (len(starts), min(starts, default=0), max(starts, default=0), len(ends), reasons.get(0, 0),
         reasons.get(1, 0), reasons.get(2, 0), len(reused_ids), len(no_end), len(no_start), len(two_ends)))
if not starts:
    bad("no trip started")
if reused_ids:
    bad("trip ids started more than once (reused after a restart): %s" % reused_ids[:20])
if no_end:
    bad("trips started and never ended: %s" % no_end[:20])
if no_start:
    bad("trip ends without a start: %s" % no_start[:20])
if two_ends:
    bad("trips ended more than once: %s" % two_ends[:20])
if reasons.get(2, 0) == 0:
    bad("no trip was recovered after a kill (\"end\": 2)")
if reasons.get(1, 0) < 1:
    bad("no trip ended by a shutdown (\"end\": 1)")
sys.exit(0 if ok else 1)
PY
echo "OK: $KILLS kills, every stored record delivered once after dedup"
