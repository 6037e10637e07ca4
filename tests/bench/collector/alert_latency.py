#!/usr/bin/env python3
"""alert_latency (#16 item 2): how long from a crash record's arrival to the
webhook, against the acknowledgement of the same record in the same run.

One device (devsim, TLS, QoS 1) publishes N batches of one crash event each,
ALERT_GAP_S apart; the collector stores each, acknowledges it and POSTs its
alert to a local receiver (webhook_receiver.py, answering 200). For each
record, from the same clock (this script's; the receiver runs on the same
machine):
  baseline  publish -> the device hears the ack (MQTT in, group commit, MQTT out)
  alert     publish -> the receiver has the request (MQTT in, group commit,
            claim, signed HTTP POST)
and, from the collector's own columns, alerts.received_at (the message's
arrival) to the receiver's arrival: the quantity the issue bounds at 2 s.
Prints a Markdown table for docs/benchmarks.md; fails only when an alert
is missing (timings are reported, not asserted).
"""
import atexit
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ["ODO_SOURCE_DIR"], "tests/e2e/collector"))
import harness as H  # noqa: E402
import wirelib as W  # noqa: E402

N = int(os.environ.get("ALERT_N", "40"))
GAP = float(os.environ.get("ALERT_GAP_S", "0.3"))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    H.migrate()
    TMP, SRC = H.TMP, H.SRC
    secret = os.path.join(TMP, "k")
    with open(secret, "w") as f:
        f.write("bench-secret\n")
    os.chmod(secret, 0o600)
    ctl, log, portf = os.path.join(TMP, "ctl"), os.path.join(TMP, "hook.jsonl"), os.path.join(TMP, "port")
    with open(ctl, "w") as f:
        f.write("ok\n")
    rp = subprocess.Popen([sys.executable, os.path.join(SRC, "tests/e2e/collector/webhook_receiver.py"),
                           "--secret-file", secret, "--log", log, "--control", ctl, "--port-file", portf])
    atexit.register(lambda: rp.poll() is None and (rp.kill(), rp.wait()))
    H.wait_for("receiver", lambda: os.path.exists(portf), 10)
    port = int(open(portf).read())
    c = H.Collector("bench", alerts="webhook_url = http://127.0.0.1:%d/a\nwebhook_secret_file = %s\n" % (port, secret))
    atexit.register(lambda: c.proc is not None and c.proc.poll() is None and (c.proc.kill(), c.proc.wait()))
    c.start()
    dev = H.Device("bench-car")
    atexit.register(lambda: dev.proc.poll() is None and (dev.proc.kill(), dev.proc.wait()))
    pub_t, ack_t = {}, {}
    for i in range(1, N + 1):
        now = int(time.time() * 1000)
        msg = W.batch("bench-car", i, [W.record(3, i, now - 1500, trip=1, ek=6, src=0, dur=80, pk=-9.0, mg=-4.0)],
                      v=2, ep=9, af=i - 1)
        t0 = time.time()
        dev.pub(msg)
        while dev.last(9) != i and time.time() - t0 < 10:
            time.sleep(0.0005)
        if dev.last(9) != i:
            H.fail("record %d not acknowledged" % i)
        ack_t[i] = time.time()
        pub_t[i] = t0
        time.sleep(GAP)
    H.wait_for("%d alerts delivered" % N, lambda: sum(1 for _ in open(log)) >= N if os.path.exists(log) else False, 30)
    reqs = [json.loads(x) for x in open(log)]
    by_seq = {r["body"]["seq"]: r for r in reqs if r["status"] == 200}
    if len(by_seq) != N:
        H.fail("%d alerts delivered, %d expected" % (len(by_seq), N))
    recv = {int(r[0]): float(r[1]) for r in H.psql("SELECT seq, extract(epoch FROM received_at) FROM alerts"
                                                    " WHERE device_id = 'bench-car'")}
    base = [ack_t[i] - pub_t[i] for i in range(1, N + 1)]
    alert = [by_seq[i]["arrival"] - pub_t[i] for i in range(1, N + 1)]
    arrival = [by_seq[i]["arrival"] - recv[i] for i in range(1, N + 1)]
    dev.close()
    c.stop()
    rp.terminate()
    rp.wait()
    rows = [("baseline: publish -> ack heard by the device", base),
            ("**alert: publish -> webhook request received**", alert),
            ("alert: record's arrival at the collector -> webhook (the issue's 2 s bound)", arrival)]
    print("| path | n | median ms | p95 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for name, xs in rows:
        print("| %s | %d | %.1f | %.1f | %.1f |" % (name, len(xs), 1000 * statistics.median(xs), 1000 * pct(xs, 95),
                                                   1000 * max(xs)))
    print("\nratio alert / baseline (medians): %.2f" % (statistics.median(alert) / statistics.median(base)))
    print("PASS: %d alerts, worst arrival -> webhook %.0f ms" % (N, 1000 * max(arrival)))


if __name__ == "__main__":
    main()
