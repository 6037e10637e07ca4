#!/usr/bin/env python3
"""The lifecycle soak (issue #11, item 7), run by soak.sh against real servers.

A few minutes of a small fleet's life, on simulated days:

  devices   car-1, car-2, car-3: real odo-agent gateways replaying the
            project's recordings (tests/data/drives) moved onto days spread
            over the last ten months (two trips a day); car-3 also drives one
            day years ago (outside the stored window: quarantine);
            sim-1..4: odo-fleet-sim vehicles, three runs, each a new epoch;
            hostile-1: a device sending hand-built batches: records the
            decoder refuses one by one (unknown key, before 2000, in the
            future, a counter beyond its column), a record PostgreSQL refuses,
            a trip summary that poisons the monthly aggregation, contradicting
            trip records, malformed and forged messages, a batch spanning 30
            months (stored or quarantined), redeliveries.
  events    agent restarts between trips and mid-trip (a day cut in two),
            SIGKILLs while a trip is open and while draining, SIGTERMs
            mid-trip, a day without link, a gateway replaced (new outbox, same
            certificate; the old outbox drained later), two collectors on one
            shared subscription restarted (SIGTERM) and killed (SIGKILL), the
            broker restarted, the database restarted and crashed, and the
            database restored from a pg_basebackup taken mid-run.

Ground truth is what each device produced, never the database: odo-agent
--emit (one line per stored record; the epoch from its outbox file),
odo-fleet-sim --emit, and the hostile device's own list. At the end it
prints the counts and asserts:
  * every produced record is in the database exactly once (in the table of
    its kind, with its time), or quarantined / dead-lettered with the
    expected reason, or inside a range recorded as lost at the server;
    nothing is in the database that no device produced (a SIGKILL between
    the outbox commit and the emit line may hide at most one record per kill);
  * trip rows are exactly the trips produced: each row's start and end are
    the records of its own trip (start_seq, end_seq, times, end reason), no
    trip id started or ended twice, every trip-end's t0 is its start's t;
  * the ack of every (device, epoch) reached its last record;
  * lost_at_server is exactly what the restore removed: inside (restored ack,
    the device's acked floor at the restore], removed by the restore, never a
    range the restored database had, and with the database's ranges it covers
    everything the devices had deleted;
  * monthly features were refreshed: no dirty (driver, month) left and each
    driver's month counts its finished trips.
"""
import datetime as dt
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ["ODO_SOURCE_DIR"]
sys.path.insert(0, os.path.join(SRC, "tests/e2e/collector"))
sys.path.insert(0, os.path.join(SRC, "tests/e2e/agent"))
sys.path.insert(0, HERE)
import wirelib as W  # noqa: E402
import emitlib as E  # noqa: E402
import drives as D  # noqa: E402
import harness as H  # noqa: E402

# (also imported by refresh_isolation.py, which sets only what it uses)
AGENT = os.environ.get("AGENT")
COLLECTOR = os.environ["COLLECTOR"]
FLEETSIM = os.environ.get("FLEETSIM")
DEVSIM = os.environ["DEVSIM"]
TMP = os.environ["ODO_TMP"]
PKI = os.path.join(TMP, "pki")
PORT = int(os.environ["ODO_MQTT_PORT"])
CONN = os.environ["ODO_PG_CONNINFO"]
PGBIN = os.environ.get("ODO_PG_BIN")
PGDATA = os.environ.get("ODO_PG_DATA")
PGPORT = os.environ.get("ODO_PG_PORT")
PGSOCK = os.environ.get("ODO_PG_SOCKDIR")
PGLOG = os.path.join(TMP, "pg", "log")
MQTT_CONF = os.environ.get("ODO_MQTT_CONF")
MQTT_LOG = os.environ.get("ODO_MQTT_LOG")
DRIVES = os.path.join(SRC, "tests/data/drives")
SYN, RAV = os.path.join(DRIVES, "synthetic-1"), os.path.join(DRIVES, "rav4-i280")
# ODO_SOAK_SCALE stretches the timeline (slower machines); ODO_SOAK_SEED the choices.
SCALE = float(os.environ.get("ODO_SOAK_SCALE", "1"))
RNG = random.Random(int(os.environ.get("ODO_SOAK_SEED", "11")))
DAY = 86400
T0 = time.time()
NOW_MS = int(T0 * 1000)
KINDS = {1: "trip_start", 2: "trip_end", 3: "event", 4: "sample", 5: "dtc", 6: "vehicle", 7: "phone",
         8: "status", 9: "track", 10: "crash_trace"}
TABLE_KIND = {"samples": "sample", "tracks": "track", "events": "event", "dtc_reports": "dtc",
              "vehicle_reports": "vehicle", "phone_states": "phone", "device_status": "status",
              "crash_traces": "crash_trace"}

_print_lock = threading.Lock()
ERRORS = []
EVENTS = []
PROCS = []


class SoakFail(Exception):
    pass


def log(msg):
    with _print_lock:
        print("[%6.1f] %s" % (time.time() - T0, msg), flush=True)


def event(name):
    EVENTS.append((time.time() - T0, name))
    log("== " + name)


def fail(msg):
    raise SoakFail(msg)


def spawn(args, **kw):
    p = subprocess.Popen(args, **kw)
    PROCS.append(p)
    return p


def psql(sql, conn=CONN, check=True):
    return H.psql(sql, conn, check, fail_with=fail, cut=300)


def q1(sql, conn=CONN):
    rows = psql(sql, conn)
    return rows[0][0] if rows else None


def wait_for(what, pred, timeout, step=0.1):
    end = time.time() + timeout * SCALE
    while time.time() < end:
        v = pred()
        if v:
            return v
        check_errors()
        time.sleep(step)
    fail("%s: not within %.0f s" % (what, timeout * SCALE))


def check_errors():
    if ERRORS:
        raise ERRORS[0]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def port_open(port):
    s = socket.socket()
    s.settimeout(0.5)
    try:
        s.connect(("127.0.0.1", int(port)))
        return True
    except OSError:
        return False
    finally:
        s.close()


# ---- servers ---------------------------------------------------------------------------------------------------

def pg_ctl(*args):
    r = subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(PGBIN, "pg_ctl")] + list(args),
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail("pg_ctl %s: %s %s" % (" ".join(args), r.stdout.strip(), r.stderr.strip()))


def pg_start(data=PGDATA, port=PGPORT):
    pg_ctl("-D", data, "-w", "-t", "60", "-l", PGLOG, "-o",
           "-p %s -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50" % (port, PGSOCK), "start")


def pg_stop(mode="fast", data=PGDATA):
    pg_ctl("-D", data, "-m", mode, "-w", "-t", "60", "stop")


class Broker:
    def __init__(self):
        self.pid = int(os.environ["ODO_MQTT_PID"])
        self.proc = None

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(20)
        else:
            os.kill(self.pid, signal.SIGTERM)  # started by soak.sh (its cleanup reaps it)
        wait_for("broker stopped", lambda: not port_open(PORT), 20)

    def start(self):
        out = open(MQTT_LOG, "a")
        self.proc = spawn(["mosquitto", "-c", MQTT_CONF], stdout=out, stderr=subprocess.STDOUT)
        wait_for("broker listening", lambda: port_open(PORT), 20)


class Collector:
    all = []

    def __init__(self, name, connections, refresh_s=2):
        self.name = name
        self.ini = os.path.join(TMP, name + ".ini")
        self.log = os.path.join(TMP, name + ".log")
        self.proc = None
        self.runs = 0
        cert = os.path.join(PKI, "collectors", "odo-collector-" + name)
        with open(self.ini, "w") as f:
            f.write("[collector]\nname = %s\nlog_level = info\ncommit_ms = 20\nrefresh_s = %d\ndb_connections = %d\n"
                    "[mqtt]\nhost = 127.0.0.1\nport = %d\nclient_id = odo-collector-%s\ngroup = odo-soak\n"
                    "cafile = %s/ca.crt\ncertfile = %s.crt\nkeyfile = %s.key\ncrlfile = %s/crl.pem\n"
                    "[db]\nconninfo = \"%s\"\n[metrics]\nlisten = 127.0.0.1:0\n" % (name, refresh_s, connections, PORT, name, PKI, cert, cert, PKI,
                                                    CONN))
        Collector.all.append(self)

    def text(self):
        try:
            return open(self.log, errors="replace").read()
        except FileNotFoundError:
            return ""

    def start(self):
        self.runs += 1
        with open(self.log, "a") as f:
            f.write("---- soak: start %d\n" % self.runs)
        mark = "---- soak: start %d" % self.runs
        self.proc = spawn([COLLECTOR, "--config", self.ini, "run"], stderr=open(self.log, "a"))

        def up():
            if self.proc.poll() is not None:
                fail("collector %s exited %s at start" % (self.name, self.proc.returncode))
            t = self.text()
            return "subscribing" in t[t.rfind(mark):]
        wait_for("collector %s subscribed" % self.name, up, 30)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(30 * SCALE)
        except subprocess.TimeoutExpired:
            fail("collector %s did not stop within 30 s of SIGTERM" % self.name)
        if rc != 0:
            fail("collector %s exited %d after SIGTERM" % (self.name, rc))
        self.proc = None

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def check_alive(self):
        if self.proc is not None and self.proc.poll() is not None:
            fail("collector %s exited %s unexpectedly" % (self.name, self.proc.returncode))

    def stats(self):
        """The counters summed over every run of this collector (each run's last stats line)."""
        total = {}
        for part in self.text().split("---- soak: start ")[1:]:
            lines = [ln for ln in part.splitlines() if " stats: " in ln]
            if not lines:
                continue
            for kv in lines[-1].split(" stats: ", 1)[1].split():
                k, v = kv.split("=", 1)
                if v.isdigit():
                    total[k] = total.get(k, 0) + int(v)
        return total


# ---- agents ----------------------------------------------------------------------------------------------------

def outbox_meta(path):
    db = sqlite3.connect(path, timeout=10)
    try:
        return dict(db.execute("SELECT key, value FROM meta").fetchall())
    finally:
        db.close()


def outbox_depth(path):
    db = sqlite3.connect(path, timeout=10)
    try:
        return db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    finally:
        db.close()


def day_start(n_days_ago):
    """UTC midnight n days before today (s)."""
    today = int(T0 // DAY * DAY)
    return today - n_days_ago * DAY


class Gateway:
    """One vehicle's odo-agent: a device certificate, outboxes over time (a
    replaced gateway gets a new one), runs over simulated days."""

    def __init__(self, dev, drives, steps, first_day, day_step, special=None):
        self.dev = dev
        self.special = special or {}   # day -> segments instead of the usual drives
        self.dir = os.path.join(TMP, dev)
        os.makedirs(self.dir)
        self.drives = drives
        self.steps = steps
        self.first_day, self.day_step = first_day, day_step
        self.outboxes = []      # [(path, state_dir)]
        self.cur = self.new_outbox()
        self.runs = []          # dicts: name, emit, outbox, mode, rc, signal, hit
        self.log_path = os.path.join(self.dir, "agent.log")
        self.err_path = os.path.join(self.dir, "agent.stderr")
        self.counts = {"kill_trip": 0, "kill_trip_hit": 0, "term_trip": 0, "term_trip_hit": 0, "kill_drain": 0,
                       "split": 0, "offline": 0, "replaced": 0, "old_drain": 0}
        self.done = False

    def new_outbox(self):
        n = len(self.outboxes)
        path = os.path.join(self.dir, "outbox-%d.db" % n)
        state = os.path.join(self.dir, "state-%d" % n)
        conf = os.path.join(self.dir, "agent-%d.conf" % n)
        with open(conf, "w") as f:
            f.write("[agent]\ndevice_id = %s\nstate_dir = %s\nlog_file = %s\ngps = false\naccel = false\n"
                    "phone = false\n[can]\nenabled = false\n[engine]\nsample_period_s = 1\n[store]\npath = %s\n"
                    "[uplink]\nport = %d\ncafile = %s/ca.crt\ncertfile = %s/devices/%s.crt\n"
                    "keyfile = %s/devices/%s.key\nack_timeout = 2\nbackoff_min = 0.05\nbackoff_max = 1\n"
                    % (self.dev, state, os.path.join(self.dir, "agent.log"), path, PORT, PKI, PKI, self.dev, PKI,
                       self.dev))
        self.outboxes.append((path, conf))
        return n

    def day(self, j):
        """The recording of simulated day j: the gateway's drives at their times of day."""
        base = day_start(self.first_day - j * self.day_step)
        out = os.path.join(self.dir, "day-%d" % j)
        if j in self.special:
            return out, self.special[j]
        return out, [(src, base + hh * 3600 + mm * 60) for src, hh, mm in self.drives]

    def replay(self, name, day_dir, mode, outbox, drain, no_uplink=False):
        path, conf = self.outboxes[outbox]
        emit = os.path.join(self.dir, "emit.%s" % name)
        args = [AGENT, "-c", conf, "--replay", day_dir, "--emit", emit, "--drain-timeout", str(drain)]
        if no_uplink:
            args.append("--no-uplink")
        replayed_before = self.log_text().count("replay: replayed")
        with open(self.err_path, "a") as err:
            p = spawn(args, stderr=err)
        run = {"name": name, "emit": emit, "outbox": outbox, "mode": mode, "sig": None, "hit": False}
        if mode in ("kill_trip", "term_trip"):
            # a trip is open (its start emitted, no end yet) and under way: signal now
            def open_trip():
                try:
                    lines = open(emit).read().split("\n")[:-1]
                except FileNotFoundError:
                    return False
                kinds = [ln.split(" ", 2)[1] for ln in lines if ln.count(" ") >= 2]
                if "trip_start" not in kinds:
                    return False
                i = len(kinds) - 1 - kinds[::-1].index("trip_start")
                return "trip_end" not in kinds[i:] and len(kinds) - i >= 20
            while p.poll() is None and not open_trip():
                time.sleep(0.003)
            if p.poll() is None:
                sig = signal.SIGKILL if mode == "kill_trip" else signal.SIGTERM
                p.send_signal(sig)
                run["sig"] = sig
                run["hit"] = True
        elif mode == "kill_drain":
            # the replay is over, the uplink is draining the day: kill it then
            while p.poll() is None and self.log_text().count("replay: replayed") == replayed_before:
                time.sleep(0.002)
            if p.poll() is None:
                p.kill()
                run["sig"] = signal.SIGKILL
                run["hit"] = True
        rc = p.wait()
        run["rc"] = rc
        self.runs.append(run)
        if rc < 0 and run["sig"] is None:
            fail("%s run %s died of signal %d" % (self.dev, name, -rc))
        if rc in (1, 2, 4):
            fail("%s run %s exited %d (1 start-up error, 2 usage, 4 records not stored); log:\n%s"
                 % (self.dev, name, rc, "\n".join(self.log_text().splitlines()[-15:])))
        return run

    def log_text(self):
        try:
            return open(self.log_path, errors="replace").read()
        except FileNotFoundError:
            return ""

    def step(self, k, mode):
        out, segs = self.day(k)
        name = "%02d-%s" % (k, mode)
        if mode == "replace":
            self.cur = self.new_outbox()
            self.counts["replaced"] += 1
            log("%s: gateway replaced: new outbox %s, same certificate" % (self.dev, self.outboxes[self.cur][0]))
            return
        if mode == "split":
            # restarted in the middle of the first trip: the day in two runs
            cut = segs[0][1] + 80
            D.build_day(out + "A", segs, cut=cut, part="A")
            D.build_day(out + "B", segs, cut=cut, part="B")
            self.replay(name + "A", out + "A", "normal", self.cur, 8)
            self.replay(name + "B", out + "B", "normal", self.cur, 8)
            shutil.rmtree(out + "A")
            shutil.rmtree(out + "B")
            self.counts["split"] += 1
            return
        D.build_day(out, segs)
        if mode == "offline":       # a day without link: everything stays in the outbox
            self.replay(name, out, "normal", self.cur, 0, no_uplink=True)
            self.counts["offline"] += 1
        elif mode == "old_drain":   # the replaced gateway's outbox put in a spare gateway for a day
            run = self.replay(name, out, "normal", 0, 150)
            if run["rc"] != 0:
                fail("%s: the old outbox was not drained (exit %d)" % (self.dev, run["rc"]))
            if outbox_depth(self.outboxes[0][0]):
                fail("%s: the old outbox still holds records after its drain" % self.dev)
            self.counts["old_drain"] += 1
        elif mode == "final":
            run = self.replay(name, out, "normal", self.cur, 150)
            if run["rc"] != 0:
                fail("%s: the final run was not acknowledged (exit %d); log:\n%s"
                     % (self.dev, run["rc"], "\n".join(self.log_text().splitlines()[-15:])))
            if outbox_depth(self.outboxes[self.cur][0]):
                fail("%s: the outbox still holds records after the final run" % self.dev)
        else:
            run = self.replay(name, out, mode, self.cur, 8)
            if mode in self.counts:
                self.counts[mode] += 1
                self.counts[mode + "_hit"] = self.counts.get(mode + "_hit", 0) + run["hit"]
        shutil.rmtree(out)

    def main(self, start, gap):
        try:
            for k, mode in enumerate(self.steps):
                delay = start + k * gap * SCALE - (time.time() - T0)
                if delay > 0:
                    time.sleep(delay)
                if ERRORS:
                    return
                self.step(k, mode)
            self.done = True
            log("%s: %d runs done" % (self.dev, len(self.runs)))
        except BaseException as e:  # noqa: B902 (reported by the main thread)
            traceback.print_exc()
            ERRORS.append(e if isinstance(e, SoakFail) else SoakFail("%s: %r" % (self.dev, e)))

    def produced(self):
        """Every record its runs stored: (dev, epoch, seq) -> record facts."""
        out = {}
        self.unlogged_room = []   # (outbox, after_seq, before_seq) gaps where a kill may hide one record
        self.torn = self.unstored = 0
        per_outbox = {}
        for run in self.runs:
            per_outbox.setdefault(run["outbox"], []).append(run)
        self.epochs = {}
        for ob, runs in per_outbox.items():
            ep = outbox_meta(self.outboxes[ob][0])["epoch"]
            self.epochs[ob] = ep
            last = 0
            for run in runs:
                first = None
                if not os.path.exists(run["emit"]):
                    recs = []
                else:
                    text = open(run["emit"]).read()
                    if text and not text.endswith("\n"):
                        self.torn += 1
                        text = text[:text.rfind("\n") + 1]
                    recs = [ln.split() for ln in text.splitlines()]
                for p in recs:
                    seq, kind, t_ms = int(p[0]), p[1], int(p[2])
                    if seq == 0:
                        self.unstored += 1
                        continue
                    rec = E.cbor_loads(bytes.fromhex(p[4]))
                    if seq <= last:
                        fail("%s: seq %d emitted after %d in the same outbox" % (self.dev, seq, last))
                    first = seq if first is None else first
                    last = seq
                    out[(self.dev, ep, seq)] = facts(kind, t_ms, rec, "agent")
                if run["sig"] == signal.SIGKILL:
                    self.unlogged_room.append((ep, last))
        return out


# ---- the hostile device -----------------------------------------------------------------------------------------

class Devsim(H.Device):
    """One device's MQTT connection (tests/e2e/collector/devsim.c): harness.Device
    with the soak's timeouts (scaled by wait_for), its process list and SoakFail."""
    CONNECT_S = 20
    PUB_S = 30
    _popen = staticmethod(spawn)
    _fail = staticmethod(fail)
    _wait_for = staticmethod(wait_for)


class Hostile:
    """hostile-1: hand-built wire v2 batches in one epoch, each record with the
    outcome it must have. Honest about its acked floor (it is hostile in what
    it sends, not in what it claims to have been acknowledged)."""

    def __init__(self):
        self.dev = "hostile-1"
        self.ep = RNG.getrandbits(62) | 1
        self.seq = 0
        self.truth = {}      # (dev, ep, seq) -> facts with "expect"
        self.messages = []   # message-level refusals: (label, error name)
        self.d = Devsim(self.dev)

    def ack(self):
        a = [x[1] for x in self.d.acks if x[0] == self.ep]
        return max(a) if a else 0

    def batch(self, items):
        """items: [(record map without "s", expect)]; returns (bytes, last seq)."""
        recs = []
        first = self.seq + 1
        for i, (rec, expect) in enumerate(items):
            self.seq += 1
            r = {"s": self.seq}
            r.update(rec)
            recs.append(r)
            if expect[0] == "record":   # the decoder names the field: recs[<index>].<key>
                expect = ("record", "recs[%d].%s" % (i, expect[1]))
            self.truth[(self.dev, self.ep, self.seq)] = facts(KINDS.get(rec.get("k"), "?"), rec.get("t"), r,
                                                             "hostile", expect)
        return W.batch(self.dev, first, recs, v=2, ep=self.ep, af=self.ack()), self.seq

    def send(self, data, last, what):
        """Publish until acknowledged (a device resends what is not acked)."""
        t_end = time.time() + 120 * SCALE
        while time.time() < t_end:
            self.d.pub(data)
            t_next = time.time() + 5 * SCALE
            while time.time() < t_next:
                if self.ack() >= last:
                    log("hostile-1: %s acknowledged (%d)" % (what, last))
                    return
                check_errors()
                time.sleep(0.05)
        fail("hostile-1: %s never acknowledged (ack %d, want %d)" % (what, self.ack(), last))

    def send_refused(self, data, label, error):
        self.messages.append((label, error))
        self.d.pub(data)


def facts(kind, t, rec, src, expect=None):
    """What the accounting knows of one produced record."""
    f = {"kind": kind, "t": t, "trip": rec.get("trip"), "t0": rec.get("t0"), "t1": rec.get("t1"),
         "end": rec.get("end"), "src": src}
    if expect:
        f["expect"] = expect
    return f


def rec(kind, t, **fields):
    r = {"t": int(t), "ts": 0, "k": kind}
    r.update(fields)
    return r


def trip_end_fields(t0, t1, **kw):
    f = {"t0": int(t0), "t1": int(t1), "dist": 5000.0, "dur": (t1 - t0) / 1000.0, "mov": (t1 - t0) / 1000.0,
         "idle": 0.0, "vavg": 12.0, "vmax": 25.0, "night": 0.0, "lnw": 0.0, "rush": 0.0, "heavy": 0.0,
         "scr": 0.0, "call": 0.0, "phc": 0, "hb": 0, "ra": 0, "hc": 0, "sw": 0, "cr": 0, "dtc": False,
         "air": False, "end": 0}
    f.update(kw)
    return f


def sample_fields(trip, lat=48.1, lon=11.5, v=12.0):
    return {"trip": trip, "fix": 3, "lat": lat, "lon": lon, "v": v}


def hostile_h1(h):
    """Ordinary trips with record-level refusals inside, then the same batch again."""
    t = NOW_MS - 2 * DAY * 1000
    items = [(rec(1, t, trip=1, lat=48.1, lon=11.5), ("stored",))]
    items += [(rec(4, t + i * 1000, **sample_fields(1)), ("stored",)) for i in range(1, 9)]
    items += [
        (rec(3, t + 9000, trip=1, ek=1, src=0, dur=800, pk=-0.5, mg=-0.35, gr=2), ("stored",)),
        (rec(4, t + 9500, zz=1, **sample_fields(1)), ("record", "zz")),
        (rec(4, 946684799000, **sample_fields(1)), ("record", "t")),
        (rec(4, NOW_MS + 3 * DAY * 1000, **sample_fields(1)), ("record", "t")),
        (rec(3, t + 9900, trip=1, ek=1, src=0, dur=86400001, pk=-0.5, mg=-0.35), ("record", "dur")),
        (rec(2, t + 10000, trip=1, **trip_end_fields(t, t + 10000, hb=1, hb1=0, hb2=1, hb3=0)), ("stored",)),
        (rec(1, t + 60000, trip=2), ("stored",)),
        (rec(2, t + 70000, trip=2, **trip_end_fields(t + 60000, t + 70000, hb=3000000000)), ("record", "hb")),
    ]
    data, last = h.batch(items)
    h.send(data, last, "H1: trips with 5 records refused by the decoder")
    h.d.pub(data)   # a redelivery: changes nothing
    h.send(data, last, "H1 redelivered")


def hostile_h2(h):
    """Messages refused whole: not CBOR, a forged device id, an unknown version."""
    h.send_refused(b"\xff\x00 not a batch", "garbage", "ODO_ERR_WIRE_MALFORMED")
    t = NOW_MS - DAY * 1000
    forged = W.batch("car-1", 1, [{"s": 1, "t": t, "ts": 0, "k": 4, **sample_fields(9)}], v=2, ep=h.ep, af=0)
    h.send_refused(forged, "forged device", "ODO_ERR_PROTOCOL")
    v3 = W.batch(h.dev, h.seq + 1, [{"s": h.seq + 1, "t": t, "ts": 0, "k": 4, **sample_fields(9)}], v=3, ep=h.ep,
                 af=h.ack())
    h.send_refused(v3, "version 3", "ODO_ERR_WIRE_VERSION")


def hostile_h3(h):
    """Floats beyond the wire format's physical bounds (wire v2 "Bounds"): before them, vavg 1e306 was
    accepted and overflowed avg_speed_mph in PostgreSQL (22003), and vmax 1.5e308 was stored and overflowed
    the month's max_speed_mph; now each is refused at decode, alone, naming the field. Then contradicting
    trip records."""
    t = NOW_MS - DAY * 1000
    items = [
        (rec(1, t, trip=3), ("stored",)),
        (rec(4, t + 1000, **sample_fields(3)), ("stored",)),
        (rec(2, t + 2000, trip=3, **trip_end_fields(t, t + 2000, vavg=1e306)), ("record", "vavg")),
        (rec(1, t + 10000, trip=4), ("stored",)),
        (rec(2, t + 20000, trip=4, **trip_end_fields(t + 10000, t + 20000, vmax=1.5e308)), ("record", "vmax")),
        (rec(4, t + 21000, **sample_fields(0)), ("stored",)),
    ]
    data, last = h.batch(items)
    h.send(data, last, "H3: floats beyond the physical bounds")
    t1 = NOW_MS - 2 * DAY * 1000
    items = [
        (rec(1, t1 + 500, trip=1), ("conflict",)),     # trip 1 already started at another seq
        (rec(2, t1 + 30000, trip=1, **trip_end_fields(t1 + 500, t1 + 30000)), ("conflict",)),
        (rec(4, t1 + 31000, **sample_fields(0)), ("stored",)),
    ]
    data, last = h.batch(items)
    h.send(data, last, "H4: contradicting trip records")


def hostile_h5(h, partitions):
    """1,024 samples over the last 30 months: stored where a partition exists, quarantined elsewhere."""
    n = 1024
    span = 30 * 30.44 * DAY * 1000
    items = []
    for i in range(n):
        t = int(NOW_MS - 3600 * 1000 - span * (n - 1 - i) / (n - 1))
        month = dt.datetime.fromtimestamp(t / 1000, dt.timezone.utc).strftime("%Y_%m")
        items.append((rec(4, t, **sample_fields(5)), ("stored",) if month in partitions else ("quarantine",)))
    data, last = h.batch(items)
    if len(data) > 256 * 1024:
        fail("the 30-month batch is %d bytes, over the message limit" % len(data))
    h.send(data, last, "H5: 1,024 samples over 30 months")
    return sum(1 for _, e in items if e[0] == "quarantine")


# ---- the simulated fleet ----------------------------------------------------------------------------------------

class FleetRun:
    def __init__(self, epoch, batches, records, rate, t0_days):
        self.epoch = epoch
        self.out = os.path.join(TMP, "sim-%d.out" % epoch)
        self.ack_log = os.path.join(TMP, "sim-%d.acks" % epoch)
        self.emit = os.path.join(TMP, "sim-%d.emit" % epoch)
        args = [FLEETSIM, "--port", str(PORT), "--pki", PKI, "--prefix", "sim-", "--devices", "4",
                "--batches", str(batches), "--records", str(records), "--rate", str(rate), "--window", "4",
                "--wait-acks", str(int(240 * SCALE)), "--epoch", str(epoch), "--emit", self.emit,
                "--ack-log", self.ack_log, "--t0-ms", str(NOW_MS - t0_days * DAY * 1000)]
        self.proc = spawn(args, stdout=open(self.out, "w"), stderr=subprocess.STDOUT)
        event("fleet-sim run: epoch %d, 4 vehicles x %d batches x %d records at %d msg/s"
              % (epoch, batches, records, rate))

    def done(self):
        return self.proc.poll() is not None

    def finish(self, timeout):
        try:
            rc = self.proc.wait(timeout * SCALE)
        except subprocess.TimeoutExpired:
            fail("fleet-sim epoch %d still running after %.0f s" % (self.epoch, timeout * SCALE))
        text = open(self.out).read()
        if rc != 0:
            fail("fleet-sim epoch %d exited %d (not every vehicle acked to its last seq):\n%s"
                 % (self.epoch, rc, text[-2000:]))
        self.last = {m.group(1): int(m.group(3)) for m in re.finditer(r"^ack (\S+) (\d+) last (\d+)$", text, re.M)}
        log("fleet-sim epoch %d done: %s" % (self.epoch, text.strip().splitlines()[-1]))

    def acks_now(self):
        acks = {}
        try:
            for line in open(self.ack_log):
                d, a = line.split()
                acks[d] = max(acks.get(d, 0), int(a))
        except FileNotFoundError:
            pass
        return acks

    def produced(self):
        out = {}
        for line in open(self.emit):
            d, ep, seq, kind, t, trip, t1 = line.split()
            rec = {"trip": int(trip), "t1": int(t1) if kind == "trip_end" else None}
            out[(d, int(ep), int(seq))] = facts(kind, int(t), rec, "sim")
        return out


# ---- the scenario -----------------------------------------------------------------------------------------------

def setup_db(c):
    r = subprocess.run([COLLECTOR, "--config", c.ini, "migrate"], capture_output=True, text=True)
    if r.returncode:
        fail("migrate: " + r.stderr)
    register(c.ini, [("car-1", "drv-1", 34), ("car-2", "drv-2", 51), ("car-3", "drv-3", 27), ("hostile-1", "drv-h", 40)])


def register(ini, fleet):
    """Drivers, devices and assignments since 2020 with the operator commands (docs/collector.md)."""
    for dev, drv, age in fleet:
        for args in (["driver", "add", drv] + (["--age", str(age)] if age else []), ["device", "add", dev],
                     ["device", "assign", dev, "--driver", drv, "--from", "2020-01-01"]):
            r = subprocess.run([COLLECTOR, "--config", ini] + args, capture_output=True, text=True)
            if r.returncode:
                fail("odo-collector %s: %s" % (" ".join(args), r.stderr))


class Restore:
    pass


RESTORE = Restore()


def take_backup():
    event("backup: pg_basebackup while the fleet is sending")
    RESTORE.backup = os.path.join(TMP, "pg", "backup")
    r = subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(PGBIN, "pg_basebackup"), "-h", PGSOCK,
                        "-p", PGPORT, "-U", "postgres", "-D", RESTORE.backup, "-X", "stream", "-c", "fast"],
                       capture_output=True, text=True)
    if r.returncode:
        fail("pg_basebackup: " + r.stderr)
    RESTORE.backup_done = time.time()
    log("backup taken (%s)" % subprocess.run(["du", "-sh", RESTORE.backup], capture_output=True,
                                             text=True).stdout.split()[0])


def acked_floors(gateways, fleets, hostile):
    f = {}
    for g in gateways:
        for path, _ in g.outboxes:
            if os.path.exists(path):
                m = outbox_meta(path)
                f[(g.dev, m["epoch"])] = m["acked"]
    for run in fleets:
        for d, a in run.acks_now().items():
            f[(d, run.epoch)] = a
    f[(hostile.dev, hostile.ep)] = hostile.ack()
    return f


def restore(gateways, fleets, hostile):
    """The database is lost and restored from the backup while everything runs."""
    event("restore: database stopped, data directory replaced by the backup, started")
    pg_stop("fast")
    # No commit can happen now, so no new ack: wait until the acks already on
    # their way have arrived and every device's acked floor stands still.
    prev, stable = None, 0
    while stable < 3:
        time.sleep(0.5)
        cur = acked_floors(gateways, fleets, hostile)
        stable = stable + 1 if cur == prev else 0
        prev = cur
    RESTORE.floors = prev
    RESTORE.pre = PGDATA + ".pre"
    os.rename(PGDATA, RESTORE.pre)
    subprocess.run(["cp", "-a", RESTORE.backup, PGDATA], check=True)
    # What the restored database holds, read on a port the collectors do not know (they reconnect
    # within a second of the real start and start committing at once).
    port = free_port()
    pg_start(PGDATA, port)
    conn = CONN.replace("port=%s" % PGPORT, "port=%s" % port)
    RESTORE.acked = {(d, int(e)): int(a) for d, e, a in psql("SELECT device_id, epoch, acked FROM device_epochs",
                                                             conn)}
    RESTORE.ranges = {}
    for d, e, lo, hi in psql("SELECT device_id, epoch, seq_lo, seq_hi FROM batches", conn):
        RESTORE.ranges.setdefault((d, int(e)), []).append((int(lo), int(hi)))
    pg_stop("fast")
    pg_start()
    log("restored: acks in the database went back to %s" % sorted(RESTORE.acked.items()))
    log("acked floors of the devices at the restore: %s" % sorted(RESTORE.floors.items()))


def main():
    broker = Broker()
    c1, c2 = Collector("c1", 1), Collector("c2", 2)
    setup_db(c1)
    c1.start()
    c2.start()
    hostile = Hostile()
    gap = 11
    # steps: one simulated day each (two trips), every `gap` s
    g1 = Gateway("car-1", [(SYN, 7, 30), (SYN, 17, 10)],
                 ["normal", "normal", "kill_trip", "normal", "split", "term_trip", "kill_drain", "normal",
                  "kill_trip", "split", "normal", "kill_trip", "normal", "final"], 300, 22)
    g2 = Gateway("car-2", [(RAV, 7, 45), (RAV, 18, 0)],
                 ["normal", "kill_trip", "normal", "offline", "replace", "normal", "kill_trip", "split",
                  "kill_drain", "normal", "term_trip", "old_drain", "normal", "final"], 296, 21)
    # car-3's second day is the RAV4 minute on its real day in 2018: outside the stored window
    g3 = Gateway("car-3", [(SYN, 8, 0), (RAV, 16, 20)],
                 ["normal", "normal", "kill_trip", "normal", "term_trip", "split", "kill_drain", "normal",
                  "kill_trip", "normal", "split", "normal", "final"], 290, 23, special={1: [(RAV, 1533226488)]})
    gateways = [g1, g2, g3]
    threads = [threading.Thread(target=g.main, args=(3 + i, gap), daemon=True) for i, g in enumerate(gateways)]
    for t in threads:
        t.start()
    fleets = []

    def at(t):
        while time.time() - T0 < t * SCALE:
            check_errors()
            for c in Collector.all:
                c.check_alive()
            time.sleep(0.1)

    at(4)
    fleets.append(FleetRun(11, 25, 40, 4, 40))
    at(12)
    event("collector c1 restarted (SIGTERM) while c2 takes the load")
    c1.stop()
    time.sleep(1)
    c1.start()
    at(20)
    event("database restarted")
    pg_stop("fast")
    time.sleep(3)
    pg_start()
    at(28)
    event("hostile-1: refused records, a redelivery, malformed messages")
    hostile_h1(hostile)
    hostile_h2(hostile)
    fleets[0].finish(60)
    at(36)
    fleets.append(FleetRun(12, 60, 40, 4, 30))
    at(46)
    take_backup()
    at(62)
    restore(gateways, fleets, hostile)
    at(75)
    event("hostile-1: a record the database refuses, an aggregation poison, trip conflicts")
    hostile_h3(hostile)
    fleets[1].finish(120)
    at(100)
    event("broker restarted")
    broker.stop()
    time.sleep(3)
    broker.start()
    at(112)
    event("collector c2 killed (SIGKILL) and restarted")
    c2.kill()
    time.sleep(2)
    c2.start()
    at(120)
    event("hostile-1: 1,024 samples over 30 months")
    parts = {r[0][len("samples_"):] for r in psql("SELECT relname FROM pg_class WHERE relkind = 'r' AND"
                                                   " relname ~ '^samples_[0-9]{4}_[0-9]{2}$'")}
    hostile.quarantined = hostile_h5(hostile, parts)
    at(130)
    event("database crashed (immediate stop) and started")
    pg_stop("immediate")
    time.sleep(2)
    pg_start()
    at(138)
    fleets.append(FleetRun(13, 20, 40, 8, 20))
    at(148)
    event("collector c1 restarted (SIGTERM)")
    c1.stop()
    time.sleep(1)
    c1.start()
    fleets[2].finish(120)
    for t in threads:
        while t.is_alive():
            t.join(0.2)
            check_errors()
    check_errors()
    event("every gateway finished; waiting for the collectors to settle")
    return gateways, fleets, hostile, (c1, c2)


# ---- the accounting ---------------------------------------------------------------------------------------------

def ranges_union(rows):
    """[(lo, hi)] -> sorted disjoint list."""
    out = []
    for lo, hi in sorted(rows):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return out


def covered(ranges, s):
    import bisect
    i = bisect.bisect_right([r[0] for r in ranges], s) - 1
    return i >= 0 and ranges[i][0] <= s <= ranges[i][1]


def seqset(ranges):
    out = set()
    for lo, hi in ranges:
        out.update(range(lo, hi + 1))
    return out


def pre_restore_state():
    """The cluster as it was just before the restore, started on another port."""
    port = str(PGPORT_PRE)
    pg_start(RESTORE.pre, port)
    try:
        conn = CONN.replace("port=%s" % PGPORT, "port=%s" % port)
        ranges, acked = {}, {}
        for d, e, lo, hi in psql("SELECT device_id, epoch, seq_lo, seq_hi FROM batches", conn):
            ranges.setdefault((d, int(e)), []).append((int(lo), int(hi)))
        for d, e, a in psql("SELECT device_id, epoch, acked FROM device_epochs", conn):
            acked[(d, int(e))] = int(a)
        nlost = int(q1("SELECT count(*) FROM lost_at_server", conn))
    finally:
        pg_stop("fast", RESTORE.pre)
    return ranges, acked, nlost


PGPORT_PRE = None


def account(gateways, fleets, hostile, collectors):
    global PGPORT_PRE
    ok = True

    def bad(msg):
        nonlocal ok
        print("FAIL: " + msg, flush=True)
        ok = False

    # ground truth
    produced = {}
    for g in gateways:
        produced.update(g.produced())
    for run in fleets:
        produced.update(run.produced())
    produced.update(hostile.truth)
    last_of = {}
    for (d, e, s) in produced:
        last_of[(d, e)] = max(last_of.get((d, e), 0), s)
    for run in fleets:
        for d, last in run.last.items():
            if last_of.get((d, run.epoch)) != last:
                bad("fleet-sim %s epoch %d: emitted up to %s, reported last %d" % (d, run.epoch,
                                                                                  last_of.get((d, run.epoch)), last))

    # the database
    rows = {}
    tables = []
    for table, kind in TABLE_KIND.items():
        tables.append("SELECT '%s', device_id, epoch, seq, round(extract(epoch FROM t) * 1000)::bigint, NULL, NULL"
                      " FROM %s" % (kind, table))
    tables[0] = tables[0].replace("NULL, NULL FROM", "NULL::text, NULL::text FROM")
    tables.append("SELECT 'trip_start', device_id, epoch, start_seq, round(extract(epoch FROM start_time) * 1000)::bigint,"
                  " device_trip_id::text, NULL FROM trips WHERE start_seq IS NOT NULL")
    tables.append("SELECT 'trip_end', device_id, epoch, end_seq, round(extract(epoch FROM end_time) * 1000)::bigint,"
                  " device_trip_id::text, end_reason::text FROM trips WHERE end_seq IS NOT NULL")
    tables.append("SELECT 'quarantine', device_id, epoch, seq, round(extract(epoch FROM t) * 1000)::bigint, kind::text,"
                  " reason FROM quarantine")
    tables.append("SELECT 'dead', topic_device, epoch, seq, NULL, kind::text, reason || '|' || coalesce(sqlstate, '') ||"
                  " '|' || field FROM dead_letters WHERE seq IS NOT NULL")
    for where, d, e, s, t, x, y in psql(" UNION ALL ".join(tables)):
        rows.setdefault((d, int(e), int(s)), []).append((where, int(t) if t else None, x, y))
    msg_dead = psql("SELECT topic_device, error_name, field, reason FROM dead_letters WHERE seq IS NULL")
    lost = {}
    lost_rows = psql("SELECT device_id, epoch, seq_lo, seq_hi, extract(epoch FROM detected_at) FROM lost_at_server")
    for d, e, lo, hi, _ in lost_rows:
        lost.setdefault((d, int(e)), []).append((int(lo), int(hi)))
    lost = {k: ranges_union(v) for k, v in lost.items()}
    ranges = {}
    for d, e, lo, hi in psql("SELECT device_id, epoch, seq_lo, seq_hi FROM batches"):
        ranges.setdefault((d, int(e)), []).append((int(lo), int(hi)))
    acked = {(d, int(e)): int(a) for d, e, a in psql("SELECT device_id, epoch, acked FROM device_epochs")}
    PGPORT_PRE = free_port()
    pre_ranges, pre_acked, pre_lost = pre_restore_state()

    # 1. every produced record: in the database exactly once, or refused with its reason, or lost at the server
    # (a device's valid sample or track record is quarantined exactly when its month has no partition)
    parts = {}
    for (name,) in psql("SELECT relname FROM pg_class WHERE relkind = 'r' AND relname ~ '^(samples|tracks)_[0-9]{4}_[0-9]{2}$'"):
        table, ym = name.rsplit("_", 2)[0], "_".join(name.rsplit("_", 2)[1:])
        parts.setdefault(TABLE_KIND[table], set()).add(ym)
    for p in produced.values():
        if "expect" not in p:
            ym = dt.datetime.fromtimestamp(p["t"] / 1000, dt.timezone.utc).strftime("%Y_%m")
            p["expect"] = ("quarantine",) if p["kind"] in parts and ym not in parts[p["kind"]] else ("stored",)
    counts = {}
    problems = []
    for key, p in sorted(produced.items()):
        d, e, s = key
        found = rows.get(key, [])
        in_lost = covered(lost.get((d, e), []), s)
        c = counts.setdefault(d, {})
        expect = p.get("expect", ("stored",))
        if len(found) > 1:
            problems.append("%s: in the database %d times: %s" % (key, len(found), found))
            continue
        if not found:
            if in_lost:
                c["lost"] = c.get("lost", 0) + 1
            else:
                problems.append("%s (%s, t %s, trip %s): missing from the database and not lost at the server"
                                % (key, p["kind"], p["t"], p["trip"]))
            continue
        where, t, x, y = found[0]
        if in_lost:
            c["stored_and_lost"] = c.get("stored_and_lost", 0) + 1
        if where == "quarantine":
            c["quarantined"] = c.get("quarantined", 0) + 1
            if KINDS.get(int(x)) != p["kind"] or t != p["t"] or "no partition" not in y:
                problems.append("%s: quarantined as kind %s t %s (%s), produced %s t %s" % (key, x, t, y, p["kind"],
                                                                                        p["t"]))
            if expect[0] != "quarantine":
                problems.append("%s: quarantined, expected %s" % (key, expect))
            continue
        if where == "dead":
            reason, state, field = y.split("|", 2)
            c["dead:" + reason] = c.get("dead:" + reason, 0) + 1
            want = {"record": ("record", expect[1] if len(expect) > 1 else None),
                    "database": ("database", expect[1] if len(expect) > 1 else None),
                    "trip conflict": ("conflict", None)}.get(reason)
            if not want or want[0] != expect[0] or (want[0] == "record" and field != expect[1]) or \
                    (want[0] == "database" and state != expect[1]):
                problems.append("%s (%s): dead-lettered (%s, sqlstate %s, field %s), expected %s"
                                % (key, p["kind"], reason, state, field, expect))
            continue
        c["stored"] = c.get("stored", 0) + 1
        if expect[0] != "stored":
            problems.append("%s (%s): stored, expected %s" % (key, p["kind"], expect))
        if where != p["kind"]:
            problems.append("%s: stored as %s, produced as %s" % (key, where, p["kind"]))
        elif where == "trip_end":
            if t != p["t1"] or int(x) != p["trip"] or (p["end"] is not None and int(y) != p["end"]):
                problems.append("%s: trip end stored with t1 %s trip %s end %s, produced t1 %s trip %s end %s"
                                % (key, t, x, y, p["t1"], p["trip"], p["end"]))
        elif where == "trip_start":
            if int(x) != p["trip"]:
                problems.append("%s: trip start stored as trip %s, produced trip %s" % (key, x, p["trip"]))
        elif t != p["t"]:
            problems.append("%s: %s stored with t %s, produced t %s" % (key, where, t, p["t"]))

    # 2. nothing in the database that no device produced (a kill may hide one record per kill)
    unlogged = {}
    for key, found in rows.items():
        if key in produced:
            continue
        d, e, s = key
        room = [r for g in gateways if g.dev == d for r in g.unlogged_room]
        if d.startswith("car-") and any(ep == e and after < s for ep, after in room):
            unlogged.setdefault((d, e), []).append(s)
            continue
        problems.append("%s: in the database (%s) but no device produced it" % (key, found))
    for g in gateways:
        for (d, e), seqs in unlogged.items():
            if d != g.dev:
                continue
            kills = sum(1 for ep, _ in g.unlogged_room if ep == e)
            if len(seqs) > kills:
                problems.append("%s epoch %d: %d records without an emit line, more than its %d kills explain"
                                % (d, e, len(seqs), kills))
    if problems:
        for p in problems[:40]:
            bad(p)
        if len(problems) > 40:
            bad("... %d problems in all" % len(problems))

    # 3. trips: rows are exactly the produced trips, each start and end its own
    trips_db = {}
    for d, e, tr, ss, es, st, et, er in psql(
            "SELECT device_id, epoch, device_trip_id, start_seq, end_seq, round(extract(epoch FROM start_time) * 1000),"
            " round(extract(epoch FROM end_time) * 1000), end_reason FROM trips"):
        trips_db[(d, int(e), int(tr))] = (int(ss) if ss else None, int(es) if es else None,
                                          int(float(st)) if st else None, int(float(et)) if et else None,
                                          int(er) if er else None)
    starts, ends = {}, {}
    for key, p in produced.items():
        if p["kind"] not in ("trip_start", "trip_end") or p["src"] == "hostile":
            continue
        k = (key[0], key[1], p["trip"])
        (starts if p["kind"] == "trip_start" else ends).setdefault(k, []).append((key[2], p))
    trip_problems = []
    twice = [k for k, v in list(starts.items()) + list(ends.items()) if len(v) > 1]
    if twice:
        trip_problems.append("trip ids started or ended more than once by a device: %s" % twice[:10])
    n_trips = {"rows": 0, "end0": 0, "end1": 0, "end2": 0, "start_lost": 0, "end_lost": 0}
    for k in set(starts) | set(ends):
        s = starts.get(k, [(None, None)])[0]
        e = ends.get(k, [(None, None)])[0]
        s_lost = s[0] is not None and covered(lost.get(k[:2], []), s[0]) and (k[0], k[1], s[0]) not in rows
        e_lost = e[0] is not None and covered(lost.get(k[:2], []), e[0]) and (k[0], k[1], e[0]) not in rows
        n_trips["start_lost"] += s_lost
        n_trips["end_lost"] += e_lost
        agent = k[0].startswith("car-")
        if s[0] is None:
            trip_problems.append("%s: ended, never started" % (k,))
        if e[0] is None and agent:   # (a fleet-sim run may stop in the middle of a trip)
            trip_problems.append("%s: started, never ended" % (k,))
        if s[1] and e[1] and agent and e[1]["t0"] != s[1]["t"]:
            trip_problems.append("%s: its end says it started at %s, its start record is at %s"
                                 % (k, e[1]["t0"], s[1]["t"]))
        if e[1] and agent:
            n_trips["end%d" % e[1]["end"]] += 1
        row = trips_db.get(k)
        if s_lost and e_lost:
            if row:
                trip_problems.append("%s: both records lost at the server, yet a row %s" % (k, row))
            continue
        if not row:
            trip_problems.append("%s: no trip row" % (k,))
            continue
        n_trips["rows"] += 1
        want_ss = None if s_lost else s[0]
        want_es = None if e_lost else e[0]
        if row[0] != want_ss or row[1] != want_es:
            trip_problems.append("%s: row has start_seq %s end_seq %s, the device's trip %s / %s"
                                 % (k, row[0], row[1], want_ss, want_es))
        if want_ss is not None and row[2] != s[1]["t"]:
            trip_problems.append("%s: start_time %s, its start record %s" % (k, row[2], s[1]["t"]))
        if want_es is not None and (row[3] != e[1]["t1"] or (agent and row[4] != e[1]["end"])):
            trip_problems.append("%s: end_time %s reason %s, its end record %s / %s"
                                 % (k, row[3], row[4], e[1]["t1"], e[1]["end"]))
    devs = {k[0] for k in set(starts) | set(ends)}
    extra = [k for k in trips_db if k[0] in devs and k not in starts and k not in ends]
    if extra:
        trip_problems.append("trip rows no device produced: %s" % extra[:10])
    for p in trip_problems[:30]:
        bad(p)

    # hostile-1's trips: the first start and end of each id stored, conflicts never merged
    ht = {k[2]: v for k, v in trips_db.items() if k[0] == hostile.dev}
    hs = {}
    for (d, e, s), p in sorted(hostile.truth.items()):
        if p["kind"] in ("trip_start", "trip_end") and p["expect"][0] == "stored":
            hs.setdefault(p["trip"], [None, None])[0 if p["kind"] == "trip_start" else 1] = s
    want_ht = {tr: tuple(v) for tr, v in hs.items()}
    got_ht = {tr: v[:2] for tr, v in ht.items()}
    if got_ht != want_ht:
        bad("hostile-1's trips %s, expected %s" % (got_ht, want_ht))
    want_msgs = sorted((hostile.dev, err) for _, err in hostile.messages)
    got_msgs = sorted((d, n) for d, n, f, r in msg_dead if r == "decode")
    if got_msgs != want_msgs:
        bad("messages refused whole: %s, expected %s" % (got_msgs, want_msgs))

    # 4. the ack of every (device, epoch) reached its last record
    epochs_seen = set(last_of)
    for k, last in sorted(last_of.items()):
        if acked.get(k) != last:
            bad("%s epoch %d: acked %s, its last record is %d" % (k[0], k[1], acked.get(k), last))
    strays = sorted(k for k in acked if k not in epochs_seen)
    if strays:
        bad("device_epochs rows no device produced: %s" % strays)

    # 5. lost at the server: exactly what the restore removed
    lost_report = []
    for k in sorted(set(lost) | set(RESTORE.floors)):
        a_b = RESTORE.acked.get(k, 0)
        f = RESTORE.floors.get(k, 0)
        got = seqset(lost.get(k, []))
        restored_cov = ranges_union(RESTORE.ranges.get(k, []))
        final_cov = ranges_union(ranges.get(k, []))
        pre_cov = ranges_union(pre_ranges.get(k, []))
        beyond = sorted(s for s in got if not a_b < s <= f)
        had = sorted(s for s in got if covered(restored_cov, s))
        not_removed = sorted(s for s in got if not covered(pre_cov, s))
        missing = sorted(s for s in range(a_b + 1, f + 1) if s not in got and not covered(final_cov, s))
        if got or f > a_b:
            lost_report.append("%s epoch %d: restored ack %d, device floor %d, pre-restore ack %s: lost %s"
                               % (k[0], k[1], a_b, f, pre_acked.get(k), lost.get(k, [])))
        if beyond:
            bad("%s: lost seqs outside (restored ack %d, device floor %d]: %s" % (k, a_b, f, beyond[:10]))
        if had:
            bad("%s: lost seqs the restored database had: %s" % (k, had[:10]))
        if not_removed:
            bad("%s: lost seqs the database never had before the restore: %s" % (k, not_removed[:10]))
        if missing:
            bad("%s: seqs the device deleted after its ack, neither stored nor lost: %s" % (k, missing[:10]))
    if pre_lost:
        bad("%d lost_at_server rows before the restore" % pre_lost)
    if not lost:
        bad("the restore lost nothing: the soak did not exercise the acked floor")

    # 6. monthly features refreshed for every driver: no (driver, month) mark is left
    #    (collector_refresh_isolation shows a poisoned pair would hold up no other driver)
    poisoned = set()

    def marks():
        return {tuple(r) for r in psql("SELECT driver_id, month FROM monthly_features_dirty")}
    if marks() != poisoned:   # (settle() gave the collectors' refresh its time before stopping them)
        bad("(driver, month) marks left: %s" % sorted(marks()))
    feat = psql("SELECT t.driver_id, t.m, t.n, f.total_trips FROM (SELECT driver_id,"
                " to_char(start_time AT TIME ZONE 'UTC', 'YYYY-MM') AS m, count(*) AS n FROM trips"
                " WHERE driver_id IS NOT NULL AND end_time IS NOT NULL GROUP BY 1, 2) t"
                " LEFT JOIN monthly_features f ON f.driver_id = t.driver_id AND f.month = t.m ORDER BY 1, 2")
    stale = [r for r in feat if r[2] != r[3] and (r[0], r[1]) not in poisoned]
    if stale:
        bad("monthly_features.total_trips differs from the finished trips (driver, month, trips, features): %s"
            % stale[:10])

    # counts
    print("\n==== soak counts", flush=True)
    for name_t, name in EVENTS:
        print("  %6.1f s  %s" % (name_t, name))
    for g in gateways:
        ends_by = {}
        for (d, e, s), p in produced.items():
            if d == g.dev and p["kind"] == "trip_end":
                ends_by[p["end"]] = ends_by.get(p["end"], 0) + 1
        print("  %s: %d runs, outboxes/epochs %s; %s; trips ended: stopped %d, shutdown %d, recovered %d; "
              "torn emit lines %d, records without an emit line %d"
              % (g.dev, len(g.runs), [hex(x) for x in g.epochs.values()], g.counts, ends_by.get(0, 0),
                 ends_by.get(1, 0), ends_by.get(2, 0), g.torn,
                 sum(len(v) for (d, e), v in unlogged.items() if d == g.dev)))
    for d in sorted(counts):
        n = sum(1 for k in produced if k[0] == d)
        print("  %-10s produced %6d: %s" % (d, n, counts[d]))
    print("  trips: %s" % n_trips)
    print("  messages refused whole: %d %s" % (len(msg_dead), sorted({(r[0], r[1]) for r in msg_dead})))
    for line in lost_report:
        print("  " + line)
    print("  acks: %d (device, epoch) pairs, each at its last record" % len(last_of))
    for c in collectors:
        st = c.stats()
        print("  collector %s (%d runs, counters summed): %s" % (c.name, c.runs, " ".join(
            "%s=%s" % (k, st.get(k)) for k in ("batches", "records", "dead", "dead_records", "poison", "conflicts",
                                              "quarantined", "lost_ranges", "lost_seqs", "shed", "failures",
                                              "env_failures", "isolations"))))
    for n_end in (1, 2):
        if n_trips["end%d" % n_end] == 0:
            bad("no trip ended with \"end\": %d: the restarts did not exercise it" % n_end)
    if not any(g.counts.get("kill_drain_hit") for g in gateways):
        bad("no SIGKILL landed while a gateway was draining")
    for g in gateways:
        for mode in ("kill_trip", "term_trip"):
            if g.counts.get(mode) and not g.counts.get(mode + "_hit"):
                bad("%s: no %s landed while a trip was open" % (g.dev, mode))
        if g.unstored:
            bad("%s: %d records not stored by the agent (seq 0)" % (g.dev, g.unstored))
    if sum(counts.get("car-3", {}).get(x, 0) for x in ("quarantined",)) == 0:
        bad("car-3's day in 2018 quarantined nothing")
    return ok


def settle(gateways, fleets, hostile, collectors):
    """Wait until every (device, epoch) is acked to its last record (the agents
    are done and drained; the collectors may still be committing)."""
    want = {}
    for run in fleets:
        for d, last in run.last.items():
            want[(d, run.epoch)] = last
    want[(hostile.dev, hostile.ep)] = hostile.seq

    def done():
        acked = {(d, int(e)): int(a) for d, e, a in psql("SELECT device_id, epoch, acked FROM device_epochs")}
        return all(acked.get(k, 0) >= v for k, v in want.items())
    try:
        wait_for("every simulated and hostile epoch acked", done, 30)
    except SoakFail as e:
        print("FAIL: " + str(e))
    # the running collectors' incremental refresh (refresh_s) takes up the
    # months the last trips marked; the check itself is step 6 of account()
    t_end = time.time() + 20 * SCALE
    while time.time() < t_end and psql("SELECT 1 FROM monthly_features_dirty LIMIT 1"):
        time.sleep(0.5)
    for c in collectors:
        c.stop()


def run():
    rc = 1
    try:
        gateways, fleets, hostile, collectors = main()
        settle(gateways, fleets, hostile, collectors)
        ok = account(gateways, fleets, hostile, collectors)
        print("\ngrep-able stderr checks:", flush=True)
        for g in gateways:
            text = open(g.err_path).read() if os.path.exists(g.err_path) else ""
            if re.search(r"Sanitizer|runtime error", text):
                print("FAIL: %s's stderr reports a sanitizer error:\n%s" % (g.dev, text[-2000:]))
                ok = False
        for c in Collector.all:
            if re.search(r"Sanitizer|runtime error", c.text()):
                print("FAIL: collector %s's log reports a sanitizer error" % c.name)
                ok = False
        print("OK: lifecycle soak" if ok else "FAIL: lifecycle soak (above)", flush=True)
        rc = 0 if ok else 1
    except SoakFail as e:
        print("FAIL: %s" % e, flush=True)
        for c in Collector.all:
            print("---- %s log (tail)" % c.name)
            print("\n".join(c.text().splitlines()[-30:]))
    except Exception:
        traceback.print_exc()
    finally:
        for p in PROCS:
            if p.poll() is None:
                p.kill()
                p.wait()
        if PGPORT_PRE and os.path.exists(os.path.join(RESTORE.pre, "postmaster.pid")):
            subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(PGBIN, "pg_ctl"), "-D", RESTORE.pre,
                            "-m", "immediate", "stop"], capture_output=True)
    return rc


if __name__ == "__main__":
    sys.exit(run())
