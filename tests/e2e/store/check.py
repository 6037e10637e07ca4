#!/usr/bin/env python3
"""Compare what store-driver produced with what ack-sink received.

  check.py PRODUCED_LOG SINK_OUT DEVICE [--kills K] [--samples-may-be-evicted]

PRODUCED_LOG lines: "<i> <seq>" (record i stored with sequence number seq).
SINK_OUT lines:     "<device> <seq> <kind> <tag> <t_ms>" (tag = i).

Fails (exit 1) when
  - a seq arrived with two different contents (a sequence number reused);
  - a produced record i never arrived (samples excepted with
    --samples-may-be-evicted: i % 10 != 0), or a produced (i, seq) arrived
    under that seq with another tag;
  - a record arrived that was never produced;
  - more records exist twice under two seqs than there were kills (a kill
    between the commit and the log line re-produces one record).
Prints the counts either way.
"""
import sys


def main():
    args = sys.argv[1:]
    kills = 0
    evictable = False
    if "--kills" in args:
        k = args.index("--kills")
        kills = int(args[k + 1])
        del args[k:k + 2]
    if "--samples-may-be-evicted" in args:
        evictable = True
        args.remove("--samples-may-be-evicted")
    if len(args) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    plog, sink, dev = args
    produced = {}  # seq -> i
    produced_i = set()
    with open(plog) as f:
        for line in f:
            if not line.endswith("\n"):
                continue  # torn by a kill
            i, seq = (int(x) for x in line.split())
            produced[seq] = i
            produced_i.add(i)
    by_seq = {}
    deliveries = 0
    reused = []
    with open(sink) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 5 or parts[0] != dev:
                continue
            deliveries += 1
            seq = int(parts[1])
            content = (int(parts[2]), int(parts[3]), int(parts[4]))
            if seq in by_seq and by_seq[seq] != content:
                reused.append(seq)
            by_seq.setdefault(seq, content)
    tags = {}
    for seq, (kind, tag, _t) in by_seq.items():
        tags.setdefault(tag, []).append(seq)
    received_i = set(tags)
    missing = sorted(i for i in produced_i - received_i if not (evictable and i % 10 != 0))
    evicted = sorted(i for i in produced_i - received_i if evictable and i % 10 != 0)
    unknown = sorted(received_i - produced_i)
    mismatch = sorted(seq for seq, i in produced.items() if seq in by_seq and by_seq[seq][1] != i)
    twice = sorted(i for i, s in tags.items() if len(s) > 1)
    crash_n = sum(1 for i in produced_i if i % 100 == 0)
    crash_rx = sum(1 for i in received_i if i % 100 == 0)
    print(f"produced {len(produced_i)} records (i {min(produced_i, default=0)}..{max(produced_i, default=0)}), "
          f"{crash_n} crash; received {len(by_seq)} distinct seqs in {deliveries} deliveries "
          f"({deliveries - len(by_seq)} resends deduplicated), {crash_rx} crash; "
          f"missing {len(missing)}; evicted samples {len(evicted)}; unknown {len(unknown)}; "
          f"seq reused {len(reused)}; seq/content mismatch {len(mismatch)}; "
          f"produced twice (kill between commit and log) {len(twice)} of at most {kills}")
    ok = True
    if missing:
        print(f"FAIL: missing records i = {missing[:20]}")
        ok = False
    if unknown:
        print(f"FAIL: records never produced arrived: i = {unknown[:20]}")
        ok = False
    if reused:
        print(f"FAIL: sequence numbers reused with different content: {reused[:20]}")
        ok = False
    if mismatch:
        print(f"FAIL: seq carried another record than produced: {mismatch[:20]}")
        ok = False
    if len(twice) > kills:
        print(f"FAIL: {len(twice)} records exist twice, more than {kills} kills explain: {twice[:20]}")
        ok = False
    if not produced_i:
        print("FAIL: nothing was produced")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
