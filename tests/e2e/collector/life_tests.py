#!/usr/bin/env python3
"""Field-lifecycle regression tests of odo-collector (issue #11), run by life.sh
against real mosquitto (TLS) and PostgreSQL. One mode per finding:

  poison    #4  a record PostgreSQL refuses (an injected CHECK constraint: no
                value the decoder accepts is refused by the schema, see
                collector_bounds) is dead-lettered alone with its SQLSTATE and
                CBOR, its seq settled, the rest of the batch stored, the ack past
                it; the values the v1 decoder let through (t near 2^63, a
                counter of 3e9) are refused alone too; other devices are never
                held up
  env       #4  environment errors are never poison: a revoked privilege
                (42501) and a read-only database (25006) keep every message,
                back off, log the SQLSTATE; nothing is dead-lettered; acks
                resume when the environment is fixed
  wedge     #3  a 1,024-record batch over 30 months with maximal strings and a
                burst of batches after a restart are stored or quarantined
                within bounded time; ingest issues no DDL
  conflict  #1  a contradicting trip start/end is dead-lettered ("trip
                conflict"), never merged; a redelivery is a no-op
  epochs    #2  a replaced gateway (new outbox = new epoch, same certificate)
                starts at seq 1 again: both epochs stored whole, acked apart,
                its trip ids do not meet the old ones; a late batch of the old
                epoch and a v1 batch (epoch 0) still land where they belong
  restore   #5  the database restored from a dump taken earlier: the next
                batches state an acked floor above the restored ack; exactly
                the restored-away ranges are recorded in lost_at_server
                (an island the dump kept is not), logged, counted, and acks
                resume
  content       wire v2 content stored value for value: dense track, crash
                trace, event grade, calibration state, trip-end v2 summary
  upgrade       migration 002 over a v1 database: devices.acked becomes
                (device, epoch 0), trip ids get the epoch

Each prints its counts and exits non-zero on the first failed check.
"""
import datetime as dt
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402
from harness import (COLLECTOR, CONN, PKI, PORT, SRC, TMP, W, expect, fail, ok, psql, q1, qi,  # noqa: E402
                     wait_for)

MODE = sys.argv[1]
os.environ["DEVSIM"]  # required (harness.Device runs it): a KeyError at once, not later
NOW_MS = int(time.time() * 1000)
DAY = 86400000


class Collector(H.Collector):
    """harness.Collector with its INI as life.sh's tests write it (extra lines
    in [collector] and [db], conninfo), a marker per start in its log."""
    all = []

    def __init__(self, name, conninfo=CONN, extra="", db=""):
        self.name, self.conninfo, self.extra = name, conninfo, extra
        self.ini = os.path.join(TMP, name + ".ini")
        self.log = os.path.join(TMP, name + ".log")
        self.proc = None
        self.runs = 0
        with open(self.ini, "w") as f:
            f.write("[collector]\nname = %s\nlog_level = info\ncommit_ms = 20\nrefresh_s = 1\n%s\n"
                    "[mqtt]\nhost = 127.0.0.1\nport = %s\nclient_id = %s\ngroup = odo-test\n"
                    "cafile = %s/ca.crt\ncertfile = %s/collector.crt\nkeyfile = %s/collector.key\n"
                    "[db]\nconninfo = \"%s\"\n%s\n[metrics]\nlisten = 127.0.0.1:0\n"
                    % (name, extra, PORT, name, PKI, PKI, PKI, conninfo, db))
        Collector.all.append(self)
        H.on_fail(self.dump)

    def start(self):
        self.runs += 1
        logf = open(self.log, "a")
        logf.write("---- start %d\n" % self.runs)
        logf.flush()
        self.proc = subprocess.Popen([COLLECTOR, "--config", self.ini, "run"], stderr=logf)
        start = self.text().rfind("---- start %d" % self.runs)
        wait_for("collector %s subscribed" % self.name,
                 lambda: self.proc.poll() is None and "subscribing" in self.text()[start:] or
                 (self.proc.poll() is not None and fail("collector %s exited" % self.name)), 10)

    def stats(self):
        """The last stats line's counters."""
        self.proc.send_signal(signal.SIGTERM)  # the final stats line
        self.proc.wait(15)
        self.proc = None
        line = [ln for ln in self.text().splitlines() if " stats: " in ln][-1]
        return dict(kv.split("=", 1) for kv in line.split(" stats: ", 1)[1].split())


class Device(H.Device):
    """One device's MQTT connection (tests/e2e/collector/devsim.c): it publishes
    what it is given and hears every ack, as the device would. One
    connection per device: the broker makes the certificate's CN the client
    id, so a second one would take the first over."""
    CONNECT_S = 10
    PUB_S = 10
    WAIT_S = 30
    live = {}

    def __init__(self, dev):
        super().__init__(dev)
        Device.live[dev] = self

    def _ack(self, m):
        if m.get("dev") != self.dev:
            fail("ack for %r on %s's topic" % (m.get("dev"), self.dev))
        self.acks.append((m.get("ep", 0), m["ack"], m["v"]))

    def all(self):
        return list(self.acks)

    def close(self):
        super().close()
        Device.live.pop(self.dev, None)


def device(dev):
    return Device.live.get(dev) or Device(dev)


def pub(dev, data):
    device(dev).pub(data)


Acks = device  # the same connection hears the acks


def stored(dev, epoch=None):
    e = "" if epoch is None else " AND epoch = %d" % epoch
    return qi("SELECT (SELECT count(*) FROM samples WHERE device_id = '%s'%s)"
              " + (SELECT count(*) FROM events WHERE device_id = '%s'%s)"
              " + (SELECT count(*) FROM dtc_reports WHERE device_id = '%s'%s)"
              " + (SELECT count(*) FROM vehicle_reports WHERE device_id = '%s'%s)"
              " + (SELECT count(*) FROM device_status WHERE device_id = '%s'%s)"
              " + (SELECT count(start_seq) + count(end_seq) FROM trips WHERE device_id = '%s'%s)"
              % ((dev, e) * 6))


def migrate(c=None):
    c = c or Collector("migrator")
    r = c.run("migrate")
    if r.returncode:
        fail("migrate: " + r.stderr)
    r = c.run("maintain")
    if r.returncode:
        fail("maintain: " + r.stderr)
    return c


def samples(dev_seq0, n, t0, step=1000, trip=1):
    return [W.sample(dev_seq0 + i, t0 + i * step, trip=trip) for i in range(n)]


# ---- poison ------------------------------------------------------------------

def test_poison():
    migrate()
    c = Collector("c1")
    c.start()
    acks_a, acks_b = Acks("dev-a"), Acks("dev-b")
    t0 = NOW_MS - 3600000

    # (1) a record PostgreSQL refuses although the decoder accepts it: an
    # injected CHECK constraint stands for any value the schema refuses.
    psql("ALTER TABLE events ADD CONSTRAINT test_poison CHECK (peak_g IS DISTINCT FROM -4.25)")
    recs = samples(1, 9, t0) + [W.event(10, t0 + 9000, pk=-4.25)] + samples(11, 10, t0 + 10000)
    poison_cbor = W.enc(recs[9])
    pub("dev-a", W.batch("dev-a", 1, recs))
    pub("dev-b", W.batch("dev-b", 1, samples(1, 20, t0)))  # another device, same moment
    acks_a.wait(20)
    acks_b.wait(20)
    expect("dev-a samples stored around the poison record", qi("SELECT count(*) FROM samples WHERE device_id = 'dev-a'"), 19)
    expect("dev-a poison event not stored", qi("SELECT count(*) FROM events WHERE device_id = 'dev-a'"), 0)
    row = psql("SELECT reason, sqlstate, seq, epoch, kind, error_name, encode(payload, 'hex'), topic, message"
               " FROM dead_letters WHERE topic_device = 'dev-a'")
    expect("one dead letter for dev-a", len(row), 1)
    r = row[0]
    expect("dead letter reason, SQLSTATE, seq, epoch, kind", r[:6],
           ["database", "23514", "10", "0", "3", "ODO_ERR_DB"])
    expect("dead letter holds exactly the record's CBOR", r[6], poison_cbor.hex())
    if "test_poison" not in r[8]:
        fail("dead letter message does not name the constraint: %r" % r[8])
    ok("dead letter message", r[8])
    expect("dev-a acked in the database", qi("SELECT acked FROM device_epochs WHERE device_id = 'dev-a'"), 20)
    expect("dev-b untouched", qi("SELECT count(*) FROM samples WHERE device_id = 'dev-b'"), 20)

    # (2) the same batch again (the device did not hear the ack): nothing new
    n_ack = len(acks_a.all())
    pub("dev-a", W.batch("dev-a", 1, recs))
    wait_for("ack repeated", lambda: len(acks_a.all()) > n_ack)
    expect("still one dead letter after a resend", qi("SELECT count(*) FROM dead_letters WHERE topic_device = 'dev-a'"), 1)
    expect("ack after the resend", acks_a.last(), 20)

    # (3) later batches of that device flow normally
    pub("dev-a", W.batch("dev-a", 21, samples(21, 10, t0 + 30000)))
    acks_a.wait(30)

    # (4) values the v1 decoder let through although no column can hold them:
    # a time near 2^63 ms and a counter of 3e9 in an integer column. Each is
    # refused alone (by the decoder where it knows the bounds, else by
    # PostgreSQL), the rest stored, the range settled.
    psql("ALTER TABLE events DROP CONSTRAINT test_poison")
    recs = samples(31, 5, t0 + 40000) + [W.sample(36, 2 ** 63 - 1)] + \
        [W.trip_start(37, t0 + 50000, trip=5), W.trip_end(38, t0 + 60000, trip=5, t0=t0 + 50000, hb=3000000000)] + \
        samples(39, 2, t0 + 61000)
    pub("dev-a", W.batch("dev-a", 31, recs))
    acks_a.wait(40)
    rows = psql("SELECT seq, reason, coalesce(sqlstate, ''), field FROM dead_letters WHERE topic_device = 'dev-a'"
                " AND seq > 30 ORDER BY seq")
    expect("dead-lettered alone: the 2^63 sample and the 3e9 trip end", [x[0] for x in rows], ["36", "38"])
    for x in rows:
        if x[1] == "record":
            ok("seq %s refused by the decoder (%s)" % (x[0], x[3]))
        elif x[1] == "database" and x[2] in ("22008", "22003"):
            ok("seq %s refused by PostgreSQL (SQLSTATE %s)" % (x[0], x[2]))
        else:
            fail("unexpected dead letter %r" % x)
    expect("the rest of that batch stored", qi("SELECT count(*) FROM samples WHERE device_id = 'dev-a' AND seq > 30"), 7)
    expect("its trip start stored", qi("SELECT start_seq FROM trips WHERE device_id = 'dev-a' AND device_trip_id = 5"), 37)
    # (5) the receiver's time window: a record two days ahead of the collector's clock is refused
    # alone; a batch of nothing but such records still settles its range
    pub("dev-a", W.batch("dev-a", 41, samples(41, 3, t0 + 70000) + [W.sample(44, NOW_MS + 2 * DAY)] +
                         samples(45, 2, t0 + 71000), v=2, ep=0, af=40))
    acks_a.wait(46)
    pub("dev-a", W.batch("dev-a", 47, [W.sample(47, NOW_MS + 2 * DAY), W.sample(48, NOW_MS + 3 * DAY)],
                         v=2, ep=0, af=46))
    acks_a.wait(48)
    expect("refused for the time window, alone", psql("SELECT seq, reason, field FROM dead_letters"
                                                     " WHERE topic_device = 'dev-a' AND seq > 40 ORDER BY seq"),
           [["44", "record", "recs[3].t"], ["47", "record", "recs[0].t"], ["48", "record", "recs[1].t"]])
    expect("the others stored", qi("SELECT count(*) FROM samples WHERE device_id = 'dev-a' AND seq > 40"), 5)
    st = c.stats()
    print("counts: " + " ".join("%s=%s" % (k, st[k]) for k in
                                ("batches", "records", "dead_records", "poison", "isolations", "failures",
                                 "env_failures", "last_sqlstate")))
    if int(st["env_failures"]) != 0:
        fail("data errors were taken for environment errors")
    if c.text().count("SELECT 1 / 0"):
        fail("a group was failed on purpose")
    acks_a.close()
    acks_b.close()


# ---- env ---------------------------------------------------------------------

def ingest_role():
    """The least-privilege role an ingesting collector runs as (migrate made
    it and granted it the matrix of collector/pg/roles.c): a login here."""
    psql("ALTER ROLE odo_ingest LOGIN; ALTER ROLE odo_aggregate LOGIN")
    return CONN.replace("user=postgres", "user=odo_ingest")


def test_env():
    migrate()
    c = Collector("c1", conninfo=ingest_role(), db="aggregate_user = odo_aggregate")
    c.start()
    acks = Acks("dev-c")
    t0 = NOW_MS - 3600000

    # a privilege revoked (a wrong GRANT after a deploy): 42501
    psql("REVOKE INSERT ON samples FROM odo_ingest")
    pub("dev-c", W.batch("dev-c", 1, samples(1, 10, t0)))
    wait_for("42501 logged", lambda: "SQLSTATE 42501" in c.text(), 15)
    time.sleep(2)
    expect("no ack while the privilege is missing", acks.last(), None)
    expect("nothing dead-lettered for 42501", qi("SELECT count(*) FROM dead_letters"), 0)
    line = [ln for ln in c.text().splitlines() if "SQLSTATE 42501" in ln][0]
    if " ERROR " not in line or "held" not in line or "retrying in" not in line:
        fail("the 42501 log line is not loud and clear: %s" % line)
    ok("logged", line.split(": ", 1)[1][:160])
    psql("GRANT INSERT ON samples TO odo_ingest")
    acks.wait(10, timeout=45)
    expect("stored once the privilege is back", qi("SELECT count(*) FROM samples WHERE device_id = 'dev-c'"), 10)

    # a failover left us on a read-only server: 25006
    psql("ALTER SYSTEM SET default_transaction_read_only = on")
    psql("SELECT pg_reload_conf()")
    time.sleep(0.5)
    pub("dev-c", W.batch("dev-c", 11, samples(11, 10, t0 + 10000)))
    wait_for("25006 logged", lambda: "SQLSTATE 25006" in c.text(), 15)
    time.sleep(2)
    expect("no new ack while read-only", acks.last(), 10)
    expect("nothing dead-lettered for 25006", qi("SELECT count(*) FROM dead_letters"), 0)
    psql("ALTER SYSTEM RESET default_transaction_read_only")
    psql("SELECT pg_reload_conf()")
    acks.wait(20, timeout=45)
    expect("stored once writable", qi("SELECT count(*) FROM samples WHERE device_id = 'dev-c'"), 20)
    st = c.stats()
    print("counts: " + " ".join("%s=%s" % (k, st[k]) for k in ("env_failures", "failures", "dead", "dead_records",
                                                             "records", "last_sqlstate")))
    if int(st["env_failures"]) < 2 or int(st["dead_records"]) or int(st["dead"]):
        fail("environment errors counted wrongly: %r" % st)
    acks.close()


# ---- wedge -------------------------------------------------------------------

def month_add(d, k):
    m = d.year * 12 + d.month - 1 + k
    return dt.datetime(m // 12, m % 12 + 1, 1, tzinfo=dt.timezone.utc)


def test_wedge():
    psql("ALTER SYSTEM SET log_statement = 'ddl'")
    psql("SELECT pg_reload_conf()")
    migrate()
    pglog = os.path.join(TMP, "pg", "log")
    logged = sum(1 for ln in open(pglog, errors="replace") if "statement:" in ln and "PARTITION OF" in ln)
    if logged < 32:
        fail("the server log does not show maintain's DDL (%d statements): this test could not see ingest's" % logged)
    ok("maintain's partitions in the server log (DDL logging works)", logged)
    c = Collector("c1")
    c.start()
    mark = os.path.getsize(pglog)
    parts = set(x[0] for x in psql("SELECT substr(c.relname, 9) FROM pg_inherits i JOIN pg_class c"
                                   " ON c.oid = i.inhrelid WHERE i.inhparent = 'samples'::regclass"))
    ok("sample partitions maintain keeps", len(parts))
    acks = {d: Acks(d) for d in ("dev-a", "dev-b", "dev-c", "dev-d")}

    # 1,024 records over 30 months, with maximal strings (VIN, 3 x 32 DTCs)
    now = dt.datetime.now(dt.timezone.utc)
    first = month_add(now, -29)
    recs, in_window = [], 0
    for i in range(1024):
        s = i + 1
        mon = month_add(first, i * 30 // 1024)
        t = int(mon.timestamp() * 1000) + 3600000 + (i % 40) * 1000
        if t > NOW_MS:
            t = NOW_MS - 60000
        if i % 100 == 7:
            recs.append(W.record(6, s, t, vin="WVWZZZ1JZXW000001", ecu=0x7E8))
        elif i % 100 == 8:
            codes = ["P%04d" % k for k in range(32)]
            recs.append(W.record(5, s, t, ecu=0x7E8, mil=True, st=codes, pd=codes, pm=codes, air=False))
        else:
            recs.append(W.sample(s, t, trip=1))
            if "%04d_%02d" % (dt.datetime.fromtimestamp(t / 1000, dt.timezone.utc).year,
                              dt.datetime.fromtimestamp(t / 1000, dt.timezone.utc).month) in parts:
                in_window += 1
    big = W.batch("dev-a", 1, recs)
    ok("30-month batch", "%d records, %d bytes, %d samples inside the partition window" % (len(recs), len(big), in_window))
    t_start = time.time()
    pub("dev-a", big)
    acks["dev-a"].wait(1024, timeout=60)
    ok("stored or quarantined in", "%.1f s" % (time.time() - t_start))
    nsamples = sum(1 for r in recs if r["k"] == 4)
    expect("samples stored (inside the window)", qi("SELECT count(*) FROM samples WHERE device_id = 'dev-a'"), in_window)
    expect("samples quarantined (outside)", qi("SELECT count(*) FROM quarantine WHERE device_id = 'dev-a' AND kind = 4"),
           nsamples - in_window)
    expect("every other record stored", qi("SELECT (SELECT count(*) FROM vehicle_reports) + (SELECT count(*) FROM dtc_reports)"),
           len(recs) - nsamples)
    reason = q1("SELECT reason FROM quarantine ORDER BY seq LIMIT 1")
    if "no partition" not in reason:
        fail("quarantine reason: %r" % reason)
    ok("quarantine reason", reason)
    qraw = q1("SELECT encode(record, 'hex') FROM quarantine ORDER BY seq LIMIT 1")
    qseq = qi("SELECT seq FROM quarantine ORDER BY seq LIMIT 1")
    expect("quarantine keeps the record's CBOR", qraw, W.enc(recs[qseq - 1]).hex())

    # a restart (the old writer cached months) and a burst of ordinary batches
    # of many months from several devices in the first groups
    c.stop()
    c.start()
    t_start = time.time()
    want = {}
    for k, d in enumerate(("dev-b", "dev-c", "dev-d")):
        seq = 1
        for b in range(8):
            mon = month_add(now, -((b * 5 + k) % 30))
            t = min(int(mon.timestamp() * 1000) + 7200000, NOW_MS - 60000)
            pub(d, W.batch(d, seq, samples(seq, 100, t, step=60000)))
            seq += 100
        want[d] = seq - 1
    for d, n in want.items():
        acks[d].wait(n, timeout=60)
        expect("%s: every record stored or quarantined" % d,
               qi("SELECT (SELECT count(*) FROM samples WHERE device_id = '%s')"
                  " + (SELECT count(*) FROM quarantine WHERE device_id = '%s')" % (d, d)), n)
    ok("burst after the restart settled in", "%.1f s" % (time.time() - t_start))
    with open(pglog, errors="replace") as f:
        f.seek(mark)
        ddl = [ln for ln in f.read().splitlines() if "statement:" in ln and
               any(k in ln.upper() for k in ("CREATE ", "ALTER ", "DROP "))]
    # maintain ran before (migrate, then the first start): nothing left to create, and ingest creates nothing
    expect("DDL statements while ingesting (30 months, a restart, a burst)", ddl, [])
    st = c.stats()
    print("counts: " + " ".join("%s=%s" % (k, st[k]) for k in ("batches", "records", "quarantined", "failures",
                                                             "commits", "env_failures")))
    if int(st["failures"]):
        fail("a group failed: %r" % st)
    for a in acks.values():
        a.close()


# ---- conflict ----------------------------------------------------------------

def test_conflict():
    migrate()
    c = Collector("c1")
    c.start()
    acks = Acks("dev-e")
    t0 = NOW_MS - 7200000
    b1 = W.batch("dev-e", 1, [W.trip_start(1, t0, trip=7, lat=52.5, lon=13.4), W.sample(2, t0 + 1000, trip=7),
                              W.trip_end(3, t0 + 600000, trip=7, t0=t0, dist=4321.0, hb=2)])
    pub("dev-e", b1)
    acks.wait(3)
    tid = "dev-e:%016x:7" % 0
    expect("trip row", psql("SELECT trip_id, start_seq, end_seq, distance_m, hard_brakes FROM trips"),
           [[tid, "1", "3", "4321", "2"]])
    # the same trip id again with other records: a restarted v1 agent
    c2 = W.trip_start(4, t0 + 3600000, trip=7, lat=48.1, lon=11.6)
    e2 = W.trip_end(6, t0 + 4200000, trip=7, t0=t0 + 3600000, dist=999.0, hb=9)
    pub("dev-e", W.batch("dev-e", 4, [c2, W.sample(5, t0 + 3601000, trip=7), e2]))
    acks.wait(6)
    expect("the stored trip is unchanged", psql("SELECT trip_id, start_seq, end_seq, distance_m, hard_brakes, start_lat FROM trips"),
           [[tid, "1", "3", "4321", "2", "52.5"]])
    rows = psql("SELECT seq, reason, kind, field, encode(payload, 'hex') FROM dead_letters ORDER BY seq")
    expect("conflicting start and end dead-lettered", [r[:4] for r in rows],
           [["4", "trip conflict", "1", "trip"], ["6", "trip conflict", "2", "trip"]])
    expect("with their CBOR", [r[4] for r in rows], [W.enc(c2).hex(), W.enc(e2).hex()])
    if "trip conflict" not in c.text():
        fail("conflict not logged")
    ok("conflict logged")
    # redeliveries: no-ops
    pub("dev-e", b1)
    pub("dev-e", W.batch("dev-e", 4, [c2, W.sample(5, t0 + 3601000, trip=7), e2]))
    time.sleep(1.5)
    expect("redelivery adds no dead letter", qi("SELECT count(*) FROM dead_letters"), 2)
    expect("redelivery leaves the trip", psql("SELECT start_seq, end_seq, distance_m FROM trips"), [["1", "3", "4321"]])
    # the end before the start (out of order): one complete row
    pub("dev-e", W.batch("dev-e", 9, [W.trip_end(9, t0 + 8000000, trip=8, t0=t0 + 7000000, dist=50.0)]))
    pub("dev-e", W.batch("dev-e", 7, [W.trip_start(7, t0 + 7000000, trip=8), W.sample(8, t0 + 7001000, trip=8)]))
    acks.wait(9)
    expect("out-of-order trip", psql("SELECT start_seq, end_seq, distance_m FROM trips WHERE device_trip_id = 8"),
           [["7", "9", "50"]])
    st = c.stats()
    print("counts: conflicts=%s dead_records=%s" % (st["conflicts"], st["dead_records"]))
    expect("conflicts counted", st["conflicts"], "2")
    acks.close()


# ---- epochs ------------------------------------------------------------------

EP_A = 0x1D2C3B4A59687766
EP_B = 0x0123456789ABCDEF


def trip_batch(dev, ep, af, seq, trip, t0, n=8):
    """[seq, seq+n+1]: a trip start, n samples, its end."""
    recs = [W.trip_start(seq, t0, trip, lat=52.5, lon=13.4)] + samples(seq + 1, n, t0 + 1000, trip=trip) + \
        [W.trip_end(seq + n + 1, t0 + (n + 1) * 1000, trip, t0=t0, dist=100.0 * ep % 1000 + n)]
    return W.batch(dev, seq, recs, v=2, ep=ep, af=af)


def test_epochs():
    migrate()
    c = Collector("c1")
    c.start()
    d = device("dev-f")
    t0 = NOW_MS - 7200000
    # the original gateway: outbox epoch A, trips 1 and 2
    d.pub(trip_batch("dev-f", EP_A, 0, 1, 1, t0))
    d.pub(trip_batch("dev-f", EP_A, 10, 11, 2, t0 + 60000))
    d.wait(20, ep=EP_A)
    # replaced: same certificate, new outbox, epoch B, seq and trip ids from 1 again
    d.pub(trip_batch("dev-f", EP_B, 0, 1, 1, t0 + 3600000))
    d.pub(W.batch("dev-f", 11, samples(11, 5, t0 + 3700000, trip=1), v=2, ep=EP_B, af=10))
    d.wait(15, ep=EP_B)
    expect("epoch A still acked to 20", d.last(EP_A), 20)
    expect("every ack names its epoch and version 2", sorted(set((e, v) for e, _, v in d.all())),
           sorted({(EP_A, 2), (EP_B, 2)}))
    expect("records per epoch", psql("SELECT epoch, count(*) FROM samples WHERE device_id = 'dev-f' GROUP BY 1 ORDER BY 1"),
           [[str(EP_B), "13"], [str(EP_A), "16"]])
    expect("trips: one per (epoch, trip), none overwritten",
           psql("SELECT trip_id, start_seq, end_seq FROM trips WHERE device_id = 'dev-f' ORDER BY epoch, device_trip_id"),
           [["dev-f:%016x:1" % EP_B, "1", "10"], ["dev-f:%016x:1" % EP_A, "1", "10"],
            ["dev-f:%016x:2" % EP_A, "11", "20"]])
    expect("no dead letter, no conflict", qi("SELECT count(*) FROM dead_letters"), 0)
    expect("per (device, epoch) state", psql("SELECT epoch, acked FROM device_epochs WHERE device_id = 'dev-f' ORDER BY 1"),
           [[str(EP_B), "15"], [str(EP_A), "20"]])
    # the old gateway's last batch, delayed in the broker, arrives after the new one started
    d.pub(W.batch("dev-f", 21, samples(21, 5, t0 + 120000, trip=2), v=2, ep=EP_A, af=20))
    d.wait(25, ep=EP_A)
    expect("epoch B untouched by the late epoch A batch", d.last(EP_B), 15)
    # a version 1 batch of the same device (epoch 0): its own state too
    d.pub(W.batch("dev-f", 1, samples(1, 4, t0)))
    wait_for("v1 ack", lambda: any(e == 0 and a == 4 and v == 1 for e, a, v in d.all()))
    ok("v1 batch acked in version 1, epoch 0")
    expect("every record of every epoch stored",
           psql("SELECT epoch, count(*) FROM samples WHERE device_id = 'dev-f' GROUP BY 1 ORDER BY 1"),
           [["0", "4"], [str(EP_B), "13"], [str(EP_A), "21"]])
    c.stop()


# ---- restore -------------------------------------------------------------------

def test_restore():
    migrate()
    c = Collector("c1")
    c.start()
    a, b = device("dev-a"), device("dev-b")
    t0 = NOW_MS - 3600000
    ea, eb = 0x11, 0x22

    def send(d, ep, lo, hi, af):
        d.pub(W.batch(d.dev, lo, samples(lo, hi - lo + 1, t0 + lo * 1000), v=2, ep=ep, af=af))

    send(a, ea, 1, 10, 0)
    a.wait(10, ep=ea)
    send(b, eb, 1, 10, 0)
    send(b, eb, 21, 30, 10)  # out of order: committed, not yet acked (an island)
    b.wait(10, ep=eb)
    wait_for("dev-b island committed", lambda: qi("SELECT count(*) FROM batches WHERE device_id = 'dev-b'") == 2)
    dump = os.path.join(TMP, "backup.dump")
    r = subprocess.run(["pg_dump", "-Fc", "-f", dump, "-d", CONN], capture_output=True, text=True)
    if r.returncode:
        fail("pg_dump: " + r.stderr)
    ok("backup taken: dev-a acked 10, dev-b acked 10 with [21, 30] committed")
    send(a, ea, 11, 20, 10)
    send(a, ea, 21, 30, 20)
    a.wait(30, ep=ea)
    send(b, eb, 11, 20, 10)
    b.wait(30, ep=eb)
    # the devices were acknowledged and deleted those records; now the database is restored
    conn_pg = CONN.replace("dbname=odo", "dbname=postgres")
    psql("DROP DATABASE odo WITH (FORCE)", conn=conn_pg)
    psql("CREATE DATABASE odo", conn=conn_pg)
    r = subprocess.run(["pg_restore", "--single-transaction", "-d", CONN, dump], capture_output=True, text=True)
    if r.returncode:
        fail("pg_restore: " + r.stderr)
    expect("restored: the old acks", psql("SELECT device_id, acked FROM device_epochs ORDER BY 1"),
           [["dev-a", "10"], ["dev-b", "10"]])
    # the devices carry on: their next ranges start above what the database has
    send(a, ea, 31, 40, 30)
    send(b, eb, 31, 35, 30)
    a.wait(40, ep=ea, timeout=60)
    b.wait(35, ep=eb, timeout=60)
    expect("lost at the server: exactly the restored-away ranges",
           psql("SELECT device_id, epoch, seq_lo, seq_hi, processed_by FROM lost_at_server ORDER BY 1, 3"),
           [["dev-a", str(ea), "11", "30", "c1"], ["dev-b", str(eb), "11", "20", "c1"]])
    lines = [ln for ln in c.text().splitlines() if "LOST AT SERVER" in ln]
    if len(lines) != 2 or not all(" ERROR " in ln for ln in lines):
        fail("loud log lines: %r" % lines)
    ok("logged", lines[0].split(": ", 1)[1][:150])
    expect("the island the backup kept is not lost", qi("SELECT count(*) FROM samples WHERE device_id = 'dev-b' AND seq BETWEEN 21 AND 30"), 10)
    send(a, ea, 41, 50, 40)
    a.wait(50, ep=ea)
    expect("no new lost range once acked again", qi("SELECT count(*) FROM lost_at_server"), 2)
    st = c.stats()
    print("counts: lost_ranges=%s lost_seqs=%s env_failures=%s" % (st["lost_ranges"], st["lost_seqs"], st["env_failures"]))
    expect("lost ranges counted", (st["lost_ranges"], st["lost_seqs"]), ("2", "30"))


# ---- content -------------------------------------------------------------------

def test_content():
    migrate()
    c = Collector("c1")
    c.start()
    d = device("dev-d")
    t0 = NOW_MS - 600000
    pts = [(0, 52520000, 13405000, 139, 4), (10, 52520090, 13405120, None, 5), (12, 52520190, 13405230, 141, None)]
    recs = [
        W.trip_start(1, t0, 3, lat=52.52, lon=13.405),
        W.event(2, t0 + 5000, trip=3, pk=-0.5, gr=2),
        W.record(8, 3, t0 + 6000, up=60, obd=3, oage=5, evict=0, rc=1, canerr=0, gpserr=0, accerr=0, fix=3, clk=0,
                 cal=1, calq=0.875, roll=1.5, pitch=-2.25, yaw=179.5, calt=310.0, glag=0.25, gyro=2),
        W.track(4, t0 + 7000, 3, pts),
        W.crash_trace(5, t0 + 8000, 3, t0 + 8100, [100, -32768, 32767, 0], [1, 2, 3, 4], [-1000, -1000, -999, -998],
                      hz=200, v=12.5, air=True, lat=52.5202, lon=13.4053),
        W.trip_end(6, t0 + 90000, 3, t0=t0, dist=812.0, hb=3, end=1, lsrc=2, hb1=4, hb2=2, hb3=1, ra1=0, ra2=0,
                   ra3=0, lo1=0.25, lo2=0.125, lo3=0.0625, lop=0.375, lap=0.25, vsd=2.5, ph=True, lmt=72.5,
                   amt=80.0),
    ]
    del recs[-1]["jerk"]  # no longitudinal signal: absent, stored as NULL
    d.pub(W.batch("dev-d", 1, recs, v=2, ep=9, af=0))
    d.wait(6, ep=9)
    expect("no dead letter", psql("SELECT reason, field, message FROM dead_letters"), [])
    expect("event grade", q1("SELECT grade FROM events"), "2")
    expect("calibration", psql("SELECT calib_state, calib_confidence, calib_roll_deg, calib_pitch_deg, calib_yaw_deg,"
                               " calib_ready_s, calib_gps_lag_s, calib_gyro_state FROM device_status"),
           [["1", "0.875", "1.5", "-2.25", "179.5", "310", "0.25", "2"]])
    expect("track row", psql("SELECT epoch, seq, device_trip_id, n, (extract(epoch FROM t) * 1000)::bigint, t_ms, lat, lon,"
                             " speed_mps, eph_m FROM tracks"),
           [["9", "4", "3", "3", str(t0 + 7000), "{%d,%d,%d}" % (t0 + 7000, t0 + 8000, t0 + 9200),
             "{52.52,52.52009,52.52019}", "{13.405,13.40512,13.40523}", "{13.9,NULL,14.1}", "{4,5,NULL}"]])
    expect("crash trace row", psql("SELECT part, parts, hz, frame, ax, ay, az, speed_mps, obd_speed_mps, airbag,"
                                   " (extract(epoch FROM crash_t) * 1000)::bigint FROM crash_traces"),
           [["0", "1", "200", "0", "{100,-32768,32767,0}", "{1,2,3,4}", "{-1000,-1000,-999,-998}", "12.5", "", "t",
             str(t0 + 8100)]])
    expect("trip end v2 summary", psql(
        "SELECT end_reason, lon_source, hard_brakes, hard_brakes_g1, hard_brakes_g2, hard_brakes_g3, rapid_accels_g3,"
        " harsh_corners_g1, lon_share_g1, lon_share_g2, lon_share_g3, lat_share_g1, lon_p95_g, lat_p95_g, speed_sd_mps,"
        " mean_abs_jerk IS NULL, phone_measured, lon_moving_s, lat_moving_s, trip_id FROM trips"),
        [["1", "2", "3", "4", "2", "1", "0", "", "0.25", "0.125", "0.0625", "", "0.375", "0.25", "2.5", "t", "t",
          "72.5", "80", "dev-d:0000000000000009:3"]])
    c.stop()


# ---- upgrade -----------------------------------------------------------------

def test_upgrade():
    psql(open(os.path.join(SRC, "collector/sql/001_schema.sql")).read())
    psql("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
         " applied_at timestamptz NOT NULL DEFAULT now()); INSERT INTO schema_migrations VALUES (1, '001_schema')")
    psql("INSERT INTO devices (device_id, acked) VALUES ('dev-a', 42), ('dev-b', 7);"
         " INSERT INTO batches (device_id, seq_lo, seq_hi, n_records, processed_by) VALUES ('dev-a', 1, 42, 42, 'old');"
         " INSERT INTO trips (trip_id, device_id, device_trip_id, start_seq) VALUES ('dev-a:3', 'dev-a', 3, 5);"
         " INSERT INTO events (device_id, seq, t, tsrc, device_trip_id, kind, source, duration_ms)"
         "   VALUES ('dev-a', 9, now(), 0, 3, 'hard_brake', 0, 500)")
    migrate()
    expect("device_epochs from devices.acked", psql("SELECT device_id, epoch, acked FROM device_epochs ORDER BY 1"),
           [["dev-a", "0", "42"], ["dev-b", "0", "7"]])
    expect("devices.acked gone", qi("SELECT count(*) FROM information_schema.columns WHERE table_name = 'devices'"
                                    " AND column_name = 'acked'"), 0)
    expect("trip id with the epoch", q1("SELECT trip_id FROM trips"), "dev-a:0000000000000000:3")
    expect("old rows are epoch 0", q1("SELECT epoch FROM events"), "0")
    # a record of another epoch may reuse a seq
    psql("INSERT INTO events (device_id, epoch, seq, t, tsrc, device_trip_id, kind, source, duration_ms)"
         " VALUES ('dev-a', 77, 9, now(), 0, 1, 'hard_brake', 0, 500)")
    expect("(device, epoch, seq) is the key", qi("SELECT count(*) FROM events WHERE seq = 9"), 2)
    expect("monthly_features untouched", qi("SELECT count(*) FROM information_schema.columns"
                                            " WHERE table_name = 'monthly_features'"), 36)
    # the collector acknowledges a device of the old database from where it was
    c = Collector("c1")
    c.start()
    acks = Acks("dev-a")
    pub("dev-a", W.batch("dev-a", 43, samples(43, 5, NOW_MS - 60000)))
    acks.wait(47)
    c.stop()
    acks.close()


TESTS = {"poison": test_poison, "env": test_env, "wedge": test_wedge, "conflict": test_conflict,
         "epochs": test_epochs, "restore": test_restore, "content": test_content, "upgrade": test_upgrade}
try:
    TESTS[MODE]()
finally:
    for col in Collector.all:
        col.stop()
    for d in list(Device.live.values()):
        d.close()
print("PASS")
