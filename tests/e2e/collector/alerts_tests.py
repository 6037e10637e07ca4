#!/usr/bin/env python3
"""collector_alerts (#16 item 2): real-time alerts end to end, against the
servers alerts.sh started (TLS mosquitto, PostgreSQL).

1. The real odo-agent replays a synthetic crash drive (tools/make-drive
   --scenario crash: 137 km/h for 30 s with the coolant at 125 degC, a
   pothole, a collision of 18 km/h, an airbag deployment 35 s later) into the
   real odo-collector. A local HTTP receiver (webhook_receiver.py) verifies
   every request's HMAC-SHA256 signature and answers 503 to the first two
   attempts of each alert. Expected: exactly four alerts - crash, airbag,
   overspeed (once: its 600 s cooldown), coolant_hot (once) - each delivered
   once, on its third attempt, every signature valid; the payloads carry
   the records' values; the pothole raised nothing; both crashes have their
   complete crash trace (24 parts at 100 Hz).
2. Deduplication per (device, epoch, seq): the same crash record published
   twice (and once more after the first commit) raises one alert.
3. A collector restart with an undelivered alert: the receiver is down, the
   collector fails its attempts, and is killed (SIGKILL) while an attempt is
   under way (its lease held: lease_s 60); the receiver comes back, a new
   collector under the same name starts, releases that lease at once and
   delivers the alert exactly once (well before the lease would lapse).
4. A crash near a restart (#16 item 1): the agent stops 5 s after a
   collision (the recording ends there: what SIGTERM at ignition-off does)
   while the collector is down; the trace's parts wait in its outbox. The
   collector comes back, the agent restarts (live, no sources) and delivers
   them: the crash, its alert and its trace as documented for a stop inside
   the window - 15 s before and the 5 s after, 16 of its 24 announced parts,
   the last one short.
5. Latency: from the record's arrival at the collector to the receiver
   (printed; measured properly by tests/bench/collector/alert_latency.sh).
"""
import atexit
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402
import wirelib as W  # noqa: E402

AGENT = os.environ["AGENT"]
TMP, SRC, PKI = H.TMP, H.SRC, H.PKI
_procs = []  # what this script started: stopped however it ends (servers.sh stops only its own)


def _reap():
    for p in _procs:
        obj = getattr(p, "proc", p)
        if obj is not None and obj.poll() is None:
            obj.kill()
            obj.wait()


atexit.register(_reap)


def track(p):
    _procs.append(p)
    return p


def receiver():
    secret = os.path.join(TMP, "webhook.key")
    with open(secret, "w") as f:
        f.write("a0d1c5e2-odo-alert-test-secret\n")
    os.chmod(secret, 0o600)
    ctl = os.path.join(TMP, "webhook.ctl")
    with open(ctl, "w") as f:
        f.write("fail 2\n")
    log = os.path.join(TMP, "webhook.jsonl")
    portf = os.path.join(TMP, "webhook.port")
    p = track(subprocess.Popen([sys.executable, os.path.join(SRC, "tests/e2e/collector/webhook_receiver.py"),
                                "--secret-file", secret, "--log", log, "--control", ctl, "--port-file", portf]))
    H.wait_for("webhook receiver listening", lambda: os.path.exists(portf), 10)
    port = int(open(portf).read())
    return p, secret, ctl, log, port


def agent_conf(dev, live=False):
    """The agent's configuration for device dev (outbox, state and log of its own). live: no sources
    (a restart that only has its outbox to send)."""
    path = os.path.join(TMP, dev + ".conf")
    with open(path, "w") as f:
        f.write("[agent]\ndevice_id = %s\nstate_dir = %s/%s-state\nlog_file = %s/%s.log\n" % (dev, TMP, dev, TMP, dev))
        if live:
            f.write("gps = false\naccel = false\nphone = false\n[can]\nenabled = false\n")
        else:
            f.write("[can]\ndbc = %s/agent/can/examples/example.dbc\nairbag_deployed = SRS_STATUS.AIRBAG_DEPLOYED\n"
                    % SRC)
        f.write("[store]\npath = %s/%s.db\n[uplink]\nport = %s\ncafile = %s/ca.crt\ncertfile = %s/devices/%s.crt\n"
                "keyfile = %s/devices/%s.key\nbackoff_min = 0.05\nbackoff_max = 0.5\n"
                # a batch published while a (re)started collector is not yet subscribed is
                # refused by the broker ("no matching subscribers"): resend it soon
                "ack_timeout = 2\n"
                % (TMP, dev, H.PORT, PKI, PKI, dev, PKI, dev))
    return path


def requests(log):
    try:
        return [json.loads(line) for line in open(log)]
    except FileNotFoundError:
        return []


def delivered(log):
    return [r for r in requests(log) if r["status"] == 200]


def set_mode(ctl, mode):
    with open(ctl + ".tmp", "w") as f:
        f.write(mode + "\n")
    os.rename(ctl + ".tmp", ctl)


def main():
    H.migrate()
    rp, secret, ctl, log, port = receiver()
    alerts_ini = ("webhook_url = http://127.0.0.1:%d/odo/alerts\nwebhook_secret_file = %s\nbackoff_min_s = 0.2\n"
                  "backoff_max_s = 1\npoll_s = 0.2\ntimeout_s = 2\nlease_s = 60\n" % (port, secret))
    c1 = track(H.Collector("c1", alerts=alerts_ini))
    c1.start()
    H.on_fail(lambda: print("---- receiver\n" + "\n".join(json.dumps({k: r[k] for k in r if k != "body"})
                                                          for r in requests(log)[-20:])))

    # ---- 1. the real agent, a synthetic crash drive
    drive = os.path.join(TMP, "drive")
    start = int(time.time()) - 300
    subprocess.run([os.path.join(SRC, "tools/make-drive"), drive, "--scenario", "crash", "--start", str(start)],
                   check=True)
    truth = json.load(open(os.path.join(drive, "truth.json")))
    conf = agent_conf("crash-car")
    r = subprocess.run([AGENT, "-c", conf, "--replay", drive, "--drain-timeout", "60"], capture_output=True,
                       text=True)
    if r.returncode:
        print(r.stderr[-3000:])
        H.fail("the crash drive's replay was not acknowledged (exit %d)" % r.returncode)
    H.ok("the agent replayed the crash drive, every record acknowledged")
    H.wait_for("four alerts delivered", lambda: len(delivered(log)) >= 4, 60)
    time.sleep(1.5)  # nothing more may come

    rows = H.psql("SELECT rule, severity, metric, device_id, kind, value, op, threshold FROM alerts"
                  " WHERE device_id = 'crash-car' ORDER BY rule")
    H.expect("alerts raised by the drive", [x[0] for x in rows], ["airbag", "coolant_hot", "crash", "overspeed"])
    by = {x[0]: x for x in rows}
    H.expect("crash severity", by["crash"][1], "critical")
    H.expect("overspeed threshold", (by["overspeed"][6], float(by["overspeed"][7])), (">", 36.11))
    if not 36.11 < float(by["overspeed"][5]) < 39.5:
        H.fail("overspeed value %s is not the drive's 38 m/s" % by["overspeed"][5])
    H.expect("coolant value (degC)", float(by["coolant_hot"][5]), 125.0)
    H.expect("airbag-only crash has no accelerometer value", by["airbag"][5], "")
    # the events behind them: the collision and the airbag, not the pothole
    ev = H.psql("SELECT source, round(peak_g::numeric, 1), extract(epoch FROM t) FROM events"
                " WHERE device_id = 'crash-car' AND kind = 'crash' ORDER BY t")
    H.expect("crash events (sources: accelerometer, airbag)", [int(x[0]) for x in ev], [0, 2])
    seg = {s["kind"]: s for s in truth["segments"]}
    coll_t = start + seg["collision"]["start_s"]
    if abs(float(ev[0][2]) - coll_t) > 0.1:
        H.fail("crash event at %s, the collision began at %.3f" % (ev[0][2], coll_t))
    if abs(float(ev[1][2]) - (start + truth["airbag_deployed_at_s"])) > 1.5:
        H.fail("airbag crash at %s, deployed at %.3f" % (ev[1][2], start + truth["airbag_deployed_at_s"]))
    H.ok("crash events where the drive put them (the pothole at %.1f s is none)" % seg["pothole"]["start_s"])
    # their traces: 15 s before and after at 100 Hz, 24 parts each, complete
    tr = H.psql("SELECT extract(epoch FROM crash_t), count(*), min(parts), max(parts), sum(array_length(ax, 1)),"
                " min(hz), max(hz), count(DISTINCT part) FROM crash_traces WHERE device_id = 'crash-car'"
                " GROUP BY crash_t ORDER BY crash_t")
    H.expect("crash traces", len(tr), 2)
    for x in tr:
        H.expect("trace parts / samples / rate", (int(x[1]), int(x[2]), int(x[3]), int(x[4]), int(x[5]), int(x[7])),
                 (24, 24, 24, 3000, 100, 24))
    # deliveries: each once, on its third attempt, signatures valid
    reqs = requests(log)
    if not all(x["sig_ok"] for x in reqs):
        H.fail("a request's signature did not verify: %r" % [x for x in reqs if not x["sig_ok"]][:1])
    H.ok("every request's HMAC-SHA256 signature verified (%d requests)" % len(reqs))
    ids = sorted({x["id"] for x in reqs})
    H.expect("alert ids delivered", len(ids), 4)
    for i in ids:
        mine = [x for x in reqs if x["id"] == i]
        H.expect("attempts of %s (503, 503, 200)" % i.split(":")[-1], [x["status"] for x in mine], [503, 503, 200])
        H.expect("attempt headers", [x["attempt"] for x in mine], ["1", "2", "3"])
    st = H.psql("SELECT state, attempts, last_status FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id"
                " WHERE a.device_id = 'crash-car' ORDER BY a.rule")
    H.expect("delivery rows", st, [["delivered", "3", "200"]] * 4)
    # the payload
    body = {x["body"]["rule"]: x["body"] for x in delivered(log)}
    cb = body["crash"]
    epoch = H.q1("SELECT lpad(to_hex(epoch), 16, '0') FROM alerts WHERE rule = 'crash' AND device_id = 'crash-car'")
    seq = H.qi("SELECT seq FROM alerts WHERE rule = 'crash' AND device_id = 'crash-car'")
    H.expect("crash payload id", cb["id"], "crash-car:%s:%d:crash" % (epoch, seq))
    H.expect("crash payload device/severity/metric", (cb["device"], cb["severity"], cb["metric"], cb["epoch"]),
             ("crash-car", "critical", "crash", epoch))
    H.expect("crash payload details", (cb["details"]["event"], cb["details"]["source"]), ("crash", "accelerometer"))
    if not (7.5 < cb["value"] < 8.5 and cb["details"]["peak_g"] == cb["value"]):
        H.fail("crash payload peak %r is not the pulse's 8 g" % cb["value"])
    if not (cb["trip_id"] or "").startswith("crash-car:%s:" % epoch):
        H.fail("crash payload trip_id %r" % cb["trip_id"])
    if abs(cb["details"]["speed_before_mps"] - 20) > 1:
        H.fail("crash payload speed before %r, the drive's 20 m/s" % cb["details"]["speed_before_mps"])
    rt = H.q1("SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM events"
              " WHERE device_id = 'crash-car' AND seq = %d" % seq)
    H.expect("crash payload record_time", cb["record_time"], rt)
    ab = body["airbag"]
    H.expect("airbag payload", (ab["severity"], ab["value"], ab["details"]["source"], ab["details"]["peak_g"]),
             ("critical", None, "airbag", None))
    H.expect("overspeed payload op/threshold", (body["overspeed"]["op"], body["overspeed"]["threshold"]),
             (">", 36.11))
    H.expect("coolant payload details", body["coolant_hot"]["details"]["coolant_c"], 125)
    lat = []
    for x in delivered(log):
        recv = H.q1("SELECT extract(epoch FROM received_at) FROM alerts WHERE id = %d" % x["body"]["alert_id"])
        first = min(y["arrival"] for y in reqs if y["id"] == x["id"])
        lat.append((x["body"]["rule"], first - float(recv)))
    print("record arrival -> first webhook attempt: %s" % ", ".join("%s %.0f ms" % (k, v * 1000) for k, v in lat))

    # ---- 2. deduplication per (device, epoch, seq)
    set_mode(ctl, "ok")
    dev = track(H.Device("dev-x"))
    now = int(time.time() * 1000)
    crash = W.record(3, 3, now - 2000, trip=4, ek=6, src=0, dur=90, pk=-9.5, mg=-4.0)
    msg = W.batch("dev-x", 1, [W.sample(1, now - 4000, trip=4, v=12.0), W.sample(2, now - 3000, trip=4, v=12.0),
                               crash], v=2, ep=77, af=0)
    dev.pub(msg)
    dev.pub(msg)
    dev.wait(3, 77)
    dev.pub(msg)  # once more after the commit
    time.sleep(1.0)
    dev.wait(3, 77)
    H.wait_for("dev-x's alert delivered", lambda: any(x["body"]["device"] == "dev-x" for x in delivered(log)), 20)
    time.sleep(1.0)
    H.expect("alerts of dev-x (one record, sent three times)",
             H.qi("SELECT count(*) FROM alerts WHERE device_id = 'dev-x'"), 1)
    H.expect("webhook requests for dev-x", len([x for x in requests(log) if x["body"]["device"] == "dev-x"]), 1)
    dev.close()

    # ---- 3. a collector restart with an undelivered alert
    set_mode(ctl, "down")
    dev = track(H.Device("dev-y"))
    now = int(time.time() * 1000)
    dev.pub(W.batch("dev-y", 1, [W.record(3, 1, now - 1000, trip=2, ek=6, src=2, dur=0, pk=0.0, mg=0.0)],
                    v=2, ep=78, af=0))
    dev.wait(1, 78)
    H.wait_for("dev-y's alert failing", lambda: len([x for x in requests(log) if x["body"]["device"] == "dev-y"])
               >= 2, 20)
    failed = len([x for x in requests(log) if x["body"]["device"] == "dev-y"])
    set_mode(ctl, "slow 30")
    H.wait_for("an attempt under way (lease held)", lambda: H.q1(
        "SELECT d.lease_by FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id"
        " WHERE a.device_id = 'dev-y' AND d.attempts > %d" % failed) == "c1", 20, 0.05)
    c1.proc.send_signal(signal.SIGKILL)
    c1.proc.wait()
    c1.proc = None
    H.expect("dev-y's alert still pending after the kill, leased",
             H.psql("SELECT d.state, d.lease_by, d.lease_until > now() + interval '30 s' FROM alert_deliveries d"
                    " JOIN alerts a ON a.id = d.alert_id WHERE a.device_id = 'dev-y'"), [["pending", "c1", "t"]])
    set_mode(ctl, "ok")
    c2 = track(H.Collector("c1", alerts=alerts_ini))  # the same name: it releases the lease the killed one held
    c2.start()
    H.wait_for("dev-y's alert delivered after the restart (the 60 s lease released, not lapsed)",
               lambda: any(x["body"]["device"] == "dev-y" for x in delivered(log)), 20)
    time.sleep(1.5)
    ys = [x for x in requests(log) if x["body"]["device"] == "dev-y"]
    H.expect("dev-y: deliveries (2xx)", len([x for x in ys if x["status"] == 200]), 1)
    H.expect("dev-y: attempts before the restart failed", all(x["status"] == 503 for x in ys[:failed]), True)
    H.expect("dev-y: delivery row", H.psql("SELECT d.state, d.attempts::int > %d FROM alert_deliveries d"
                                           " JOIN alerts a ON a.id = d.alert_id WHERE a.device_id = 'dev-y'"
                                           % (failed + 1)), [["delivered", "t"]])
    H.expect("dev-y: alert type", ys[-1]["body"]["rule"], "airbag")
    dev.close()
    # every alert delivered once, nothing left
    H.expect("deliveries not delivered", H.qi("SELECT count(*) FROM alert_deliveries WHERE state <> 'delivered'"), 0)
    H.expect("2xx answers per alert", max(
        len([y for y in delivered(log) if y["id"] == i]) for i in {x["id"] for x in requests(log)}), 1)
    # ---- 4. a crash near a restart: stop 5 s after the collision, the collector away
    c2.stop()
    cut = os.path.join(TMP, "drive-cut")
    start = int(time.time()) - 300
    subprocess.run([os.path.join(SRC, "tools/make-drive"), cut, "--scenario", "crash", "--start", str(start)], check=True)
    tcut = start + {s["kind"]: s for s in json.load(open(os.path.join(cut, "truth.json")))["segments"]}["collision"][
        "start_s"] + 5.0
    for name in ("accel.csv", "gps.log", "can.log"):
        path = os.path.join(cut, name)
        keep = []
        for line in open(path):
            w = line.split(",")[0] if name == "accel.csv" else line.split()[0].strip("()")
            try:
                if float(w) > tcut:
                    continue
            except ValueError:
                pass  # the CSV header
            keep.append(line)
        with open(path, "w") as f:
            f.writelines(keep)
    r = subprocess.run([AGENT, "-c", agent_conf("cut-car"), "--replay", cut, "--drain-timeout", "2"],
                       capture_output=True, text=True)
    H.expect("replay with the collector away: not acknowledged (exit 3)", r.returncode, 3)
    H.expect("nothing of cut-car stored yet", H.qi("SELECT count(*) FROM crash_traces WHERE device_id = 'cut-car'"), 0)
    c3 = track(H.Collector("c1", alerts=alerts_ini))
    c3.start()
    # the restart: live, no sources, its outbox to send
    ag = track(subprocess.Popen([AGENT, "-c", agent_conf("cut-car", live=True)],
                                stderr=open(os.path.join(TMP, "cut-live.err"), "w")))
    try:
        H.wait_for("cut-car's trace parts stored after the restart",
                   lambda: H.qi("SELECT count(*) FROM crash_traces WHERE device_id = 'cut-car'") == 16, 60)
        H.wait_for("cut-car's crash alert delivered",
                   lambda: any(x["body"]["device"] == "cut-car" for x in delivered(log)), 20)
    finally:
        ag.send_signal(signal.SIGTERM)
        ag.wait(30)
    row = H.psql("SELECT count(*), min(parts), max(parts), min(part), max(part), sum(array_length(ax, 1)),"
                 " (array_agg(array_length(ax, 1) ORDER BY part DESC))[1],"
                 " round(extract(epoch FROM max(t)) - extract(epoch FROM min(crash_t)), 1),"
                 " round(extract(epoch FROM min(crash_t)) - extract(epoch FROM min(t)), 1)"
                 " FROM crash_traces WHERE device_id = 'cut-car'")[0]
    n, pmin, pmax, i0, i1, total, last, after, before = row
    H.expect("parts delivered / announced / numbered", (int(n), int(pmin), int(pmax), int(i0), int(i1)),
             (16, 24, 24, 0, 15))
    if not (1999 <= int(total) <= 2001 and int(last) < 128):
        H.fail("trace samples %s (last part %s): want the 15 s before and the 5 s after at 100 Hz" % (total, last))
    H.expect("the trace starts 15 s before the crash", float(before), 15.0)
    H.ok("a crash 5 s before the agent stopped: 16 of 24 parts, %s samples, delivered after its restart" % total)
    c3.stop()
    rp.terminate()
    rp.wait()
    print("PASS: alerts raised with their records, signed, retried, deduplicated, delivered once across a restart;"
          " a trace cut by the agent's stop delivered after its restart")


if __name__ == "__main__":
    main()
