#!/usr/bin/env python3
"""Issue 13 items 3-5 against real mosquitto (TLS) and PostgreSQL, run by
privacy.sh. Every collector command logs in as the role it needs, through
login roles that are members of the group roles migrate grants:

  roles    #3  a non-superuser owner migrates (refused with a clear error
               until an administrator created the four roles); login roles
               with scram passwords from 0600 files; the whole ingest path
               runs as odo_ingest, the feature refresh as odo_aggregate,
               forget as odo_privacy, maintain as the owner; ingest issues no
               DDL (server log by user); every role but the owner gets 42501
               for DROP, TRUNCATE, ALTER, CREATE (a partition), UPDATE/DELETE
               on data_audit; reader sees features and trips but no raw
               position (samples, tracks, events, trips.start_lat, a
               partition); the privileges in the database equal the matrix
               `odo-collector roles` prints, and every table has a row
  erasure  #4  a driver's records in every table (samples, events, tracks,
               crash trace, phone, DTC, VIN, status, trip, matched points,
               features, dead letters incl. 1970-stamped records the decoder
               refused, a decode-level dead letter, quarantine) are erased by
               forget (as odo_privacy); resending the original batches
               brings nothing back (dropped on arrival, counted, in
               arrival_drops); a late upload from inside the window is
               dropped too; records after the erasure and another driver's
               are kept
  consent  #5  [privacy] require_consent: personal records of a driver
               without consent (never asked, withdrawn, unassigned device)
               are not kept, device health, DTC and VIN are; consent is
               judged at the record's time; features only for consenting
               drivers; every change audited once; dead letters of a driver
               without consent keep no payload; `consent set` refuses an
               unknown driver
"""
import atexit
import json
import os
import re
import signal
import subprocess
import sys
import time

SRC = os.environ["ODO_SOURCE_DIR"]
sys.path.insert(0, os.path.join(SRC, "tests/e2e/collector"))
import harness as H  # noqa: E402
from harness import W, expect, fail, ok, psql, q1, qi, wait_for  # noqa: E402

MODE = sys.argv[1]
TMP = H.TMP
PGDATA = os.environ["_odo_pg_data"]
PGBIN = os.environ["ODO_PG_BIN"]
NOW_MS = int(time.time() * 1000)
HOUR = 3600000
DAY = 24 * HOUR
CONN_SOCK = H.CONN  # host=<socket dir> port=... dbname=odo user=postgres
PORT = re.search(r"port=(\d+)", CONN_SOCK).group(1)
LOGINS = {"owner": "odo_owner", "ingest": "ingest_login", "aggregate": "agg_login", "privacy": "privacy_login",
          "reader": "reader_login"}
GROUPS = {"ingest": "odo_ingest", "aggregate": "odo_aggregate", "privacy": "odo_privacy", "reader": "odo_reader"}
VIN = "1HGCM82633A004352"
# ODO_PRIVACY_SINGLE_ROLE=1: every command as the database superuser, as a
# collector without roles ran (to show erasure/consent failing on old main).
SINGLE = os.environ.get("ODO_PRIVACY_SINGLE_ROLE") == "1"


def conn_as(role, tcp=False):
    if tcp:
        return "host=127.0.0.1 port=%s dbname=odo user=%s password=pw-%s" % (PORT, LOGINS[role], role)
    return CONN_SOCK.replace("user=postgres", "user=" + LOGINS[role])


def psql_as(role, sql):
    """(returncode, stderr) of one statement as a role; VERBOSITY verbose puts the SQLSTATE in the message."""
    r = subprocess.run(["psql", conn_as(role), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-v",
                        "VERBOSITY=verbose", "-c", sql], capture_output=True, text=True)
    return r.returncode, r.stderr + r.stdout


def denied(role, sql, what):
    rc, out = psql_as(role, sql)
    if rc == 0 or "42501" not in out:
        fail("%s as %s: want permission denied (42501), got rc %d: %s" % (what, role, rc, out.strip()[:300]))
    ok("%s as %s: denied" % (what, role), out.strip().splitlines()[0][:90])


def allowed(role, sql, what):
    rc, out = psql_as(role, sql)
    if rc != 0:
        fail("%s as %s: want allowed, got %s" % (what, role, out.strip()[:300]))
    ok("%s as %s: allowed" % (what, role))
    return out


LIVE = []  # processes to stop when a check fails (they would hold ctest's pipe)


def _stop_all():
    for p in LIVE:
        if p.poll() is None:
            p.kill()


H.on_fail(_stop_all)
atexit.register(_stop_all)


def device(dev):
    d = H.Device(dev)
    LIVE.append(d.proc)
    return d


class Collector(H.Collector):
    """odo-collector with [db] naming the login role of each command."""

    def start(self):
        super().start()
        LIVE.append(self.proc)

    def __init__(self, name, tcp=False, extra_db="", refresh_s=1, **sections):
        super().__init__(name, **sections)
        if SINGLE:
            return
        db = "conninfo = \"%s\"\n" % (("host=127.0.0.1 port=%s dbname=odo" % PORT) if tcp else
                                       CONN_SOCK.replace(" user=postgres", ""))
        for role in ("owner", "ingest", "aggregate", "privacy"):
            db += "%s_user = %s\n" % (role, LOGINS[role])
            if tcp:
                db += "%s_password_file = %s\n" % (role, pwfile(role))
        db += extra_db
        text = open(self.ini).read()
        text = re.sub(r"\[db\]\n[^\[]*", "[db]\n" + db.replace("\\", "\\\\"), text)
        text = text.replace("refresh_s = 1\n", "refresh_s = %d\n" % refresh_s)
        open(self.ini, "w").write(text)

    def stats(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(15)
        self.proc = None
        line = [ln for ln in self.text().splitlines() if " stats: " in ln][-1]
        return dict(kv.split("=", 1) for kv in line.split(" stats: ", 1)[1].split())

    def must(self, *args):
        r = self.run(*args)
        if r.returncode != 0:
            fail("odo-collector %s: %s" % (" ".join(args), r.stderr.strip()))
        return r.stderr


def webhook(fail_first=0):
    """The alert tests' webhook receiver (verifies every signature); returns the [alerts] section and its log."""
    secret = os.path.join(TMP, "webhook.key")
    with open(secret, "w") as f:
        f.write("odo-security-test-webhook-secret\n")
    os.chmod(secret, 0o600)
    ctl, log, portf = (os.path.join(TMP, "webhook." + x) for x in ("ctl", "jsonl", "port"))
    with open(ctl, "w") as f:
        f.write("fail %d\n" % fail_first)
    p = subprocess.Popen([sys.executable, os.path.join(SRC, "tests/e2e/collector/webhook_receiver.py"),
                          "--secret-file", secret, "--log", log, "--control", ctl, "--port-file", portf])
    LIVE.append(p)
    wait_for("webhook receiver listening", lambda: os.path.exists(portf), 10)
    port = int(open(portf).read())
    ini = ("webhook_url = http://127.0.0.1:%d/odo/alerts\nwebhook_secret_file = %s\nbackoff_min_s = 0.2\n"
           "backoff_max_s = 1\npoll_s = 0.2\ntimeout_s = 2\n" % (port, secret))
    return ini, log


def webhook_requests(log):
    try:
        return [json.loads(line) for line in open(log)]
    except FileNotFoundError:
        return []


def crash(s, t, trip):
    """A crash event from the accelerometer: raises the shipped 'crash' alert (migration 007)."""
    return W.record(3, s, t, trip=trip, ek=6, src=0, dur=90, pk=-9.5, mg=-4.0)


def pwfile(role):
    return os.path.join(TMP, "db-%s.password" % role)


def create_roles(groups=True):
    """What an administrator does once (docs/deploy.md "Database roles"): a
    non-superuser owner of the database, the group roles, a login per role."""
    if SINGLE:
        return
    if groups:
        psql("CREATE ROLE odo_ingest NOLOGIN; CREATE ROLE odo_aggregate NOLOGIN; CREATE ROLE odo_privacy NOLOGIN;"
             " CREATE ROLE odo_reader NOLOGIN")
    for role, login in LOGINS.items():
        if role == "owner":
            continue
        psql("CREATE ROLE %s LOGIN PASSWORD 'pw-%s' IN ROLE %s" % (login, role, GROUPS[role]))


def setup_owner():
    psql("CREATE ROLE odo_owner LOGIN PASSWORD 'pw-owner'; ALTER DATABASE odo OWNER TO odo_owner")
    for role in LOGINS:
        with open(pwfile(role), "w") as f:
            f.write("pw-%s\n" % role)
        os.chmod(pwfile(role), 0o600)
    # DDL statements logged with the user that ran them
    psql("ALTER SYSTEM SET log_statement = 'ddl'")
    psql("ALTER SYSTEM SET log_line_prefix = '%m [%p] user=%u '")
    psql("SELECT pg_reload_conf()")


def migrate(c):
    out = c.must("migrate")
    if SINGLE:
        return
    if "privileges of odo_ingest" not in out:
        fail("migrate did not apply the privilege matrix: %s" % out)
    ok("migrated as the owner", [ln.split(": ", 1)[-1] for ln in out.splitlines() if "migrate" in ln])


def seed_drivers(pairs, since_ms):
    for drv, dev in pairs:
        psql("INSERT INTO drivers (driver_id, data_source) VALUES ('%s', 'test') ON CONFLICT DO NOTHING" % drv
             if drv else "SELECT 1")
        psql("INSERT INTO devices (device_id) VALUES ('%s') ON CONFLICT DO NOTHING" % dev)
        if drv:
            psql("INSERT INTO device_assignments (device_id, driver_id, valid_from) VALUES ('%s', '%s',"
                 " to_timestamp(%d / 1000.0))" % (dev, drv, since_ms))


def drive(s0, t0, trip, n_samples=5):
    """A short trip: start, samples, an event, a track, a crash trace, phone, DTC, VIN, status, end."""
    recs = [W.trip_start(s0, t0, trip, lat=52.52, lon=13.405)]
    for i in range(n_samples):
        recs.append(W.sample(s0 + 1 + i, t0 + 1000 * (i + 1), trip=trip, lat=52.52 + i * 1e-4, lon=13.405))
    s = s0 + 1 + n_samples
    pts = [(0, 52520000, 13405000, 139, 4), (10, 52520090, 13405120, 140, 5)]
    recs += [
        W.event(s, t0 + 7000, trip=trip, lat=52.5203, lon=13.4051),
        W.track(s + 1, t0 + 8000, trip, pts),
        W.crash_trace(s + 2, t0 + 9000, trip, t0 + 9100, [100, 200], [1, 2], [-1000, -999], lat=52.5204, lon=13.4052),
        W.record(7, s + 3, t0 + 10000, scr=True, call=1, hand=True),
        W.record(5, s + 4, t0 + 11000, ecu=2016, mil=True, st=["P0301"], air=False),
        W.record(6, s + 5, t0 + 12000, vin=VIN, ecu=2016),
        W.record(8, s + 6, t0 + 13000, up=60, obd=3, oage=5, evict=0, rc=1, canerr=0, gpserr=0, accerr=0, fix=3, clk=0),
        W.trip_end(s + 7, t0 + 60000, trip, t0=t0, dist=812.0, hb=1),
    ]
    return recs, s + 7


TABLES = ["samples", "events", "tracks", "crash_traces", "phone_states", "dtc_reports", "vehicle_reports",
          "device_status", "quarantine", "alerts", "arrival_drops"]


def counts(dev):
    """Rows of a device in every table that can hold its data."""
    n = {t: qi("SELECT count(*) FROM %s WHERE device_id = '%s'" % (t, dev)) if q1("SELECT to_regclass('%s')" % t)
         else 0 for t in TABLES}
    n["trips"] = qi("SELECT count(*) FROM trips WHERE device_id = '%s'" % dev)
    n["dead_letters"] = qi("SELECT count(*) FROM dead_letters WHERE topic_device = '%s'" % dev)
    n["trip_match_points"] = qi("SELECT count(*) FROM trip_match_points WHERE device_id = '%s'" % dev)
    n["alert_deliveries"] = qi("SELECT count(*) FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id"
                               " WHERE a.device_id = '%s'" % dev)
    return n


# ---- roles ---------------------------------------------------------------------

def matrix():
    """`odo-collector roles`: {table: {group role: text}}."""
    out = subprocess.run([H.COLLECTOR, "roles"], capture_output=True, text=True, check=True).stdout
    rows = [ln for ln in out.splitlines() if ln.startswith("| `")]
    head = [h.strip() for h in out.splitlines()[0].strip("|").split("|")]
    m = {}
    for ln in rows:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        m[cells[0].strip("`")] = dict(zip(head[1:], cells[1:]))
    return m


PRIVS = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


def arr(xs):
    return "array[%s]" % ", ".join("'%s'" % x for x in xs)


def check_matrix():
    m = matrix()
    rels = [r[0] for r in psql("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                               " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')"
                               " AND NOT c.relispartition ORDER BY 1")]
    missing = [r for r in rels if r not in m]
    if missing:
        fail("tables without a row in the privilege matrix (collector/pg/roles.c): %s" % missing)
    ok("every table and view of schema public has a row in the matrix", len(rels))
    out = subprocess.run([H.COLLECTOR, "roles"], capture_output=True, text=True, check=True).stdout
    if out not in open(os.path.join(SRC, "docs/security.md")).read():
        fail("docs/security.md does not hold the matrix `odo-collector roles` prints (paste it in)")
    ok("docs/security.md shows the same matrix")
    extra = [t for t in m if t not in rels]
    if extra:
        fail("the matrix names tables the schema does not have: %s" % extra)
    # everything the database says, in two queries
    groups = list(GROUPS.values())
    tab = {(r[0], r[1], r[2]): r[3] == "t" for r in psql(
        "SELECT c.relname, g, p, has_table_privilege(g, c.oid, p) FROM pg_class c"
        " CROSS JOIN unnest(%s::text[]) g CROSS JOIN unnest(%s::text[]) p"
        " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition"
        % (arr(groups), arr(PRIVS)))}
    col = {(r[0], r[1], r[2], r[3]): r[4] == "t" for r in psql(
        "SELECT c.relname, a.attname, g, p, has_column_privilege(g, c.oid, a.attnum, p) FROM pg_class c"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
        " CROSS JOIN unnest(%s::text[]) g CROSS JOIN unnest(array['SELECT', 'INSERT', 'UPDATE']) p"
        " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition"
        % arr(groups))}
    checked = 0
    for rel in rels:
        for group, cell in m[rel].items():
            want = set()
            colwise = {}
            for part in [] if cell == "-" else cell.split(";"):
                part = part.strip()
                mm = re.match(r"([A-Z, ]+?)(?: \((.*)\))?$", part)
                privs = [p.strip() for p in mm.group(1).split(",")]
                if mm.group(2):
                    for p in privs:
                        colwise[p] = mm.group(2)
                else:
                    want |= set(privs)
            for p in PRIVS:
                got = tab[(rel, group, p)]
                if got != (p in want):
                    fail("%s on %s for %s: the database says %s, the matrix says %r" % (p, rel, group, got, cell))
                checked += 1
            allc = sorted({k[1] for k in col if k[0] == rel})
            for p, cols in colwise.items():
                if cols.startswith("all but "):
                    ex = cols[len("all but "):].split(",")
                    yes, no = [c for c in allc if c not in ex], ex
                else:
                    yes = cols.split(",")
                    no = [c for c in allc if c not in yes]
                for c in yes + no:
                    got = col[(rel, c, group, p)]
                    if got != (c in yes or p in want):
                        fail("%s on %s.%s for %s: the database says %s, the matrix says %r" % (p, rel, c, group, got,
                                                                                            cell))
                    checked += 1
    ok("privileges in the database equal the matrix (table and column privileges checked)", checked)


def test_roles():
    setup_owner()
    # TCP logins need a password: scram for every role but postgres
    with open(os.path.join(PGDATA, "pg_hba.conf"), "w") as f:
        f.write("local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n")
    psql("SELECT pg_reload_conf()")
    alerts_ini, wlog = webhook(fail_first=1)
    c = Collector("c1", tcp=True, alerts=alerts_ini)
    # the owner may not create roles: a clear error until an administrator made them
    r = c.run("migrate")
    if r.returncode == 0 or "odo_ingest" not in r.stderr or "may not create roles" not in r.stderr:
        fail("migrate without the roles: want a clear refusal, got %d %s" % (r.returncode, r.stderr))
    ok("migrate without the roles refused", r.stderr.strip().splitlines()[-1].split(": ", 2)[-1][:110])
    create_roles()
    # a wrong password file: refused naming the role
    with open(pwfile("owner") + ".bad", "w") as f:
        f.write("nope\n")
    os.chmod(pwfile("owner") + ".bad", 0o600)
    r = c.run("--set", "db.owner_password_file=" + pwfile("owner") + ".bad", "migrate")
    if r.returncode == 0 or "as the owner role odo_owner" not in r.stderr or "password authentication failed" not in r.stderr:
        fail("a wrong owner password: want a clear error, got %s" % r.stderr)
    ok("wrong password refused", "password authentication failed for the owner role")
    migrate(c)
    expect("tables owned by the owner", q1("SELECT string_agg(DISTINCT pg_get_userbyid(relowner), ',') FROM pg_class"
                                           " WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')"),
           "odo_owner")
    expect("no CREATE on schema public for the roles",
           q1("SELECT bool_or(has_schema_privilege(r, 'public', 'CREATE')) FROM unnest(array['odo_ingest',"
              " 'odo_aggregate', 'odo_privacy', 'odo_reader']) r"), "f")
    check_matrix()
    t0 = NOW_MS - 2 * HOUR
    seed_drivers([("drv-e", "dev-e")], NOW_MS - 2 * DAY)
    c.start()
    if "does not own the schema" not in c.text():
        fail("run did not notice it ingests as a role without DDL rights")
    d = device("dev-e")
    recs, last = drive(1, t0, 1)
    recs.append(W.sample(last + 1, NOW_MS - 400 * DAY))  # no partition: quarantine
    recs.append(crash(last + 2, t0 + 30000, 1))  # an alert, delivered by the collector as odo_ingest
    d.pub(W.batch("dev-e", 1, recs, v=2, ep=7, af=0))
    d.wait(last + 2, ep=7)
    n = counts("dev-e")
    for t in ("samples", "events", "tracks", "crash_traces", "phone_states", "dtc_reports", "vehicle_reports",
              "device_status", "quarantine", "trips", "alerts", "alert_deliveries"):
        if n[t] < 1:
            fail("ingest as odo_ingest stored nothing in %s: %r" % (t, n))
    ok("the whole ingest path as odo_ingest (every table, quarantine, an alert, ack)", n)
    # alert delivery: claimed, failed once (503), retried and settled on its own connection as odo_ingest
    wait_for("the crash alert delivered", lambda: q1("SELECT state || ' ' || attempts FROM alert_deliveries")
             == "delivered 2", 20)
    reqs = webhook_requests(wlog)
    expect("webhook requests (503, then 200), signatures valid", [(x["status"], x["sig_ok"]) for x in reqs],
           [(503, True), (200, True)])
    expect("the delivery connection's login", psql("SELECT DISTINCT usename FROM pg_stat_activity"
                                                   " WHERE application_name = 'odo-collector-alerts'"),
           [[LOGINS["ingest"]]])
    wait_for("monthly_features refreshed as odo_aggregate",
             lambda: qi("SELECT count(*) FROM monthly_features WHERE driver_id = 'drv-e'") == 1, 20)
    ok("feature refresh as odo_aggregate")
    if "ERROR" in c.text():
        fail("errors in the collector log: %s" % [ln for ln in c.text().splitlines() if "ERROR" in ln][:3])
    c.stop()
    c.must("maintain")
    ok("maintain as the owner")
    c.must("aggregate", "--month", time.strftime("%Y-%m", time.gmtime(t0 / 1000)))
    ok("aggregate as odo_aggregate")
    # what each role may not do
    part = q1("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
              " WHERE i.inhparent = 'samples'::regclass ORDER BY 1 DESC LIMIT 1")
    for role in ("ingest", "aggregate", "privacy", "reader"):
        denied(role, "DROP TABLE samples", "DROP TABLE")
        denied(role, "DROP TABLE data_audit", "DROP TABLE data_audit")
        denied(role, "TRUNCATE samples", "TRUNCATE")
        denied(role, "TRUNCATE data_audit", "TRUNCATE data_audit")
        denied(role, "UPDATE data_audit SET detail = 'rewritten'", "UPDATE data_audit")
        denied(role, "DELETE FROM data_audit", "DELETE data_audit")
        denied(role, "ALTER TABLE trips ADD COLUMN x integer", "ALTER TABLE")
        denied(role, "CREATE TABLE samples_2099_01 PARTITION OF samples FOR VALUES FROM ('2099-01-01')"
                     " TO ('2099-02-01')", "CREATE a partition")
        denied(role, "CREATE TABLE x (i integer)", "CREATE TABLE")
        denied(role, "DELETE FROM schema_migrations", "DELETE schema_migrations")
    denied("ingest", "DELETE FROM samples", "DELETE raw records")
    denied("ingest", "SELECT lat, lon FROM samples", "read raw positions back")
    denied("ingest", "UPDATE monthly_features SET total_trips = 0", "UPDATE features")
    denied("aggregate", "INSERT INTO samples (device_id, seq, t, tsrc, device_trip_id, fix) VALUES"
                        " ('x', 1, now(), 0, 1, 0)", "INSERT raw records")
    denied("aggregate", "DELETE FROM trips", "DELETE trips")
    denied("aggregate", "UPDATE trips SET driver_id = 'x'", "UPDATE a trip's driver")
    denied("privacy", "INSERT INTO samples (device_id, seq, t, tsrc, device_trip_id, fix) VALUES"
                      " ('x', 1, now(), 0, 1, 0)", "INSERT raw records")
    denied("privacy", "UPDATE monthly_features SET total_trips = 0", "UPDATE features")
    # the reader: features and trips, no raw position
    for sql, what in (("SELECT * FROM samples", "read samples"), ("SELECT lat, lon FROM tracks", "read tracks"),
                      ("SELECT lat, lon FROM events", "read events"), ("SELECT * FROM %s" % part, "read a partition"),
                      ("SELECT start_lat, start_lon FROM trips", "read a trip's start position"),
                      ("SELECT * FROM trips", "SELECT * FROM trips (holds the start position)"),
                      ("SELECT lat FROM crash_traces", "read crash traces"), ("SELECT * FROM dead_letters", "read dead letters"),
                      ("SELECT * FROM quarantine", "read the quarantine"), ("SELECT lat FROM trip_match_points",
                                                                           "read matched points"),
                      ("SELECT vin FROM vehicle_reports", "read VINs"), ("SELECT * FROM data_audit", "read the audit")):
        denied("reader", sql, what)
    out = allowed("reader", "SELECT count(*) FROM monthly_features", "read monthly_features")
    allowed("reader", "SELECT count(*) FROM monthly_behaviour", "read monthly_behaviour")
    out = allowed("reader", "SELECT trip_id, driver_id, distance_m, score FROM trips", "read trips (no position)")
    if "dev-e" not in out:
        fail("the reader did not see the trip: %s" % out)
    # privacy appends to the audit, nothing more
    allowed("privacy", "INSERT INTO data_audit (action, rows_deleted, detail, performed_by) VALUES"
                       " ('retention', 0, 'test', 'test')", "append to data_audit")
    c.must("forget", "--driver", "drv-e")
    ok("forget as odo_privacy")
    c.must("retention", "--days", "365")
    ok("retention as odo_privacy")
    # no DDL from any role but the owner (the server logs DDL with its user)
    ddl = [ln for ln in open(os.path.join(TMP, "pg", "log"), errors="replace")
           if "statement:" in ln and re.search(r"user=(ingest_login|agg_login|privacy_login|reader_login) ", ln)
           and "ERROR" not in ln]
    tried = [ln for ln in ddl if "samples_2099_01" in ln or "DROP TABLE" in ln or "TRUNCATE" in ln or "ALTER" in ln
             or "CREATE TABLE x" in ln]
    ran = [ln for ln in ddl if ln not in tried]
    if ran:
        fail("DDL by a role other than the owner: %s" % ran[:3])
    logged = sum(1 for ln in open(os.path.join(TMP, "pg", "log"), errors="replace")
                 if "user=odo_owner" in ln and "PARTITION OF" in ln)
    if logged < 10:
        fail("the server log shows no partition DDL by the owner (%d): this check could not see anyone's" % logged)
    ok("DDL in the server log: the owner's partitions only (the other roles' lines are this test's refused tries)",
       logged)


# ---- erasure -------------------------------------------------------------------

def test_erasure():
    setup_owner()
    create_roles()
    alerts_ini, _ = webhook()
    c = Collector("c1", alerts=alerts_ini)
    migrate(c)
    since = NOW_MS - 2 * DAY
    seed_drivers([("drv-e", "dev-e"), ("drv-k", "dev-k")], since)
    c.start()
    de, dk = device("dev-e"), device("dev-k")
    t0 = NOW_MS - 3 * HOUR
    recs, last = drive(1, t0, 1)
    # an unset clock: 1970 (the decoder's time window refuses them: dead letters with their CBOR)
    recs += [W.sample(last + 1, 1000, lat=48.1371, lon=11.5754), W.sample(last + 2, 2000, lat=48.1372, lon=11.5755)]
    recs.append(W.sample(last + 3, NOW_MS - 400 * DAY))  # before the partitions: quarantine
    recs.append(crash(last + 4, t0 + 30000, 1))  # an alert (its details hold the position) and its delivery
    last += 1
    b1 = W.batch("dev-e", 1, recs, v=2, ep=7, af=0)
    recs2, last2 = drive(last + 4, t0 + HOUR, 2)
    b2 = W.batch("dev-e", last + 4, recs2, v=2, ep=7, af=last + 3)
    garbage = b"\xa1\x61v\x02not a batch"
    for b in (b1, b2, garbage):
        de.pub(b)
    de.wait(last2, ep=7)
    kr, klast = drive(1, t0, 1)
    dk.pub(W.batch("dev-k", 1, kr, v=2, ep=3, af=0))
    dk.wait(klast, ep=3)
    wait_for("features of both drivers", lambda: qi("SELECT count(*) FROM monthly_features") == 2, 20)
    trip = q1("SELECT trip_id FROM trips WHERE device_id = 'dev-e' ORDER BY trip_id LIMIT 1")
    psql("INSERT INTO trip_match_points (trip_id, i, device_id, t, lat, lon, status, seg_status, seg_m)"
         " VALUES ('%s', 0, 'dev-e', to_timestamp(%d / 1000.0), 52.52, 13.405, 0, 0, 0)" % (trip, t0))
    before = counts("dev-e")
    print("dev-e before forget: %r" % before)
    for t, n in before.items():
        if t != "arrival_drops" and n < 1:
            fail("dev-e has nothing in %s before forget: the test would prove nothing" % t)
    expect("1970-stamped records dead-lettered by the decoder (with their CBOR)",
           qi("SELECT count(*) FROM dead_letters WHERE topic_device = 'dev-e' AND reason = 'record'"
              " AND field LIKE 'recs[%].t' AND length(payload) > 0"), 2)
    keep = counts("dev-k")
    c.must("forget", "--driver", "drv-e")
    after = counts("dev-e")
    if any(after.values()):
        fail("forget left dev-e's data: %r" % after)
    ok("forget erased every table of drv-e's device (1970 dead letters, decode dead letter, quarantine incl.)")
    expect("the other driver untouched", counts("dev-k"), keep)
    expect("drv-e's features and driver row gone", qi("SELECT (SELECT count(*) FROM monthly_features WHERE driver_id ="
                                                      " 'drv-e') + (SELECT count(*) FROM drivers WHERE driver_id = 'drv-e')"
                                                      " + (SELECT count(*) FROM monthly_behaviour WHERE driver_id = 'drv-e')"),
           0)
    # the original batches again, as a device that never heard its acks resends them
    for b in (b1, b2):
        de.pub(b)
    time.sleep(1.5)
    de.wait(last2, ep=7)
    # a late upload: new records from inside the erased window (a gateway that was offline)
    late, llast = drive(last2 + 1, t0 + 2 * HOUR, 3)
    late.append(crash(llast + 1, t0 + 2 * HOUR + 30000, 3))
    llast += 1
    de.pub(W.batch("dev-e", last2 + 1, late, v=2, ep=7, af=last2))
    de.wait(llast, ep=7)
    time.sleep(1.5)
    got = counts("dev-e")
    drops = got.pop("arrival_drops")
    if any(got.values()):
        fail("resent / late records of the erased driver came back: %r" % got)
    ok("nothing returned after resending the original batches (1970 records incl.) and a late upload")
    expect("each dropped record noted once in arrival_drops (no content)", drops, len(recs) + len(recs2) + len(late))
    expect("arrival_drops reasons", psql("SELECT reason, count(*) FROM arrival_drops GROUP BY 1"),
           [["erased", str(drops)]])
    tomb = psql("SELECT e.device_id, r.epoch, r.seq_lo, r.seq_hi FROM erasures e JOIN erasure_ranges r"
                " ON r.erasure_id = e.id ORDER BY r.seq_lo")
    expect("a tombstone with the committed ranges (no driver id)", tomb, [["dev-e", "7", "1", str(last2)]])
    a = psql("SELECT driver_id, rows_deleted::int > 0, detail FROM data_audit WHERE action = 'forget'")
    if len(a) != 1 or a[0][0] != "drv-e" or a[0][1] != "t" or "tombstone" not in a[0][2]:
        fail("forget audit row: %r" % a)
    ok("forget audited", a[0][2])

    # after the erasure the device goes on (driver unknown): kept
    now_ms = int(time.time() * 1000)
    now_recs = [W.sample(llast + 1, now_ms + 1000), W.sample(llast + 2, now_ms + 1500)]
    de.pub(W.batch("dev-e", llast + 1, now_recs, v=2, ep=7, af=llast))
    de.wait(llast + 2, ep=7)
    expect("records after the erasure are stored", qi("SELECT count(*) FROM samples WHERE device_id = 'dev-e'"), 2)
    st = c.stats()
    if int(st["erased_drops"]) < drops:
        fail("the collector counted %s erased drops, want >= %d" % (st["erased_drops"], drops))
    ok("counted by the collector", "erased_drops=%s" % st["erased_drops"])
    if "dropped on arrival" not in c.text():
        fail("drops not logged")
    # forgetting the same driver again: unknown now
    r = c.run("forget", "--driver", "drv-e")
    if r.returncode == 0 or "no driver" not in r.stderr:
        fail("a second forget: %r" % r.stderr)
    ok("forget of an erased driver: no driver")


# ---- consent -------------------------------------------------------------------

def test_consent():
    setup_owner()
    create_roles()
    # refresh off: features are computed by `aggregate` at the points the test chooses
    c = Collector("c1", refresh_s=0, privacy="require_consent = true\n")
    migrate(c)
    since = NOW_MS - 2 * DAY
    seed_drivers([("drv-a", "dev-a"), ("drv-b", "dev-b"), ("drv-c", "dev-c")], since)
    psql("INSERT INTO devices (device_id) VALUES ('dev-u')")  # assigned to nobody
    r = c.run("consent", "set", "--driver", "nobody", "--granted")
    if r.returncode == 0 or "no driver" not in r.stderr:
        fail("consent for an unknown driver: %r" % r.stderr)
    ok("consent set refuses an unknown driver")
    c.must("consent", "set", "--driver", "drv-a", "--granted")
    c.must("consent", "set", "--driver", "drv-a", "--granted")  # the same again: no change, no audit
    c.must("consent", "set", "--driver", "drv-c", "--granted")
    c.start()
    # consent is judged at each record's time: these drives start after the grants
    t0 = int(time.time() * 1000) + 1000
    devs = {d: device(d) for d in ("dev-a", "dev-b", "dev-c", "dev-u")}
    lasts = {}
    for d, dev in devs.items():
        recs, last = drive(1, t0, 1)
        recs.append(W.sample(last + 1, 1000))  # 1970: a dead letter
        dev.pub(W.batch(d, 1, recs, v=2, ep=5, af=0))
        lasts[d] = last + 1
    for d, dev in devs.items():
        dev.wait(lasts[d], ep=5)
    n = {d: counts(d) for d in devs}
    personal = ("samples", "events", "tracks", "crash_traces", "phone_states", "trips")
    health = ("device_status", "dtc_reports", "vehicle_reports")
    for d in ("dev-a", "dev-c"):
        if any(n[d][t] < 1 for t in personal + health):
            fail("%s (consent granted) lost records: %r" % (d, n[d]))
    ok("drivers with consent: everything stored")
    for d in ("dev-b", "dev-u"):
        if any(n[d][t] for t in personal):
            fail("%s (no consent) has personal records: %r" % (d, n[d]))
        if any(n[d][t] < 1 for t in health):
            fail("%s: device health, DTC and VIN must still be kept: %r" % (d, n[d]))
    ok("no consent (never asked; unassigned device): no position, event, trip, track, phone or crash trace;"
       " status, DTC and VIN kept")
    expect("dropped personal records noted", psql("SELECT device_id, reason, count(*) FROM arrival_drops GROUP BY 1, 2"
                                                  " ORDER BY 1"),
           [["dev-b", "no consent", "11"], ["dev-u", "no consent", "11"]])
    expect("dead letters of a driver without consent keep no payload",
           psql("SELECT topic_device, length(payload) > 0 FROM dead_letters ORDER BY 1"),
           [["dev-a", "t"], ["dev-b", "f"], ["dev-c", "t"], ["dev-u", "f"]])
    # withdrawal: judged at each record's time
    c.must("consent", "set", "--driver", "drv-c", "--withdrawn")
    nt = int(time.time() * 1000) + 2000
    before_w = [W.sample(lasts["dev-c"] + 1, t0 + 500)]  # recorded while consent held, sent after the withdrawal
    after_w = [W.sample(lasts["dev-c"] + 2, nt), W.event(lasts["dev-c"] + 3, nt + 1)]
    devs["dev-c"].pub(W.batch("dev-c", lasts["dev-c"] + 1, before_w + after_w, v=2, ep=5, af=lasts["dev-c"]))
    devs["dev-c"].wait(lasts["dev-c"] + 3, ep=5)
    expect("after withdrawal: a record from before it kept, the later ones dropped",
           (qi("SELECT count(*) FROM samples WHERE device_id = 'dev-c' AND seq = %d" % (lasts["dev-c"] + 1)),
            qi("SELECT count(*) FROM samples WHERE device_id = 'dev-c' AND seq = %d" % (lasts["dev-c"] + 2)),
            qi("SELECT count(*) FROM events WHERE device_id = 'dev-c' AND seq = %d" % (lasts["dev-c"] + 3))), (1, 0, 0))
    st = c.stats()
    if int(st["consent_drops"]) < 22:
        fail("consent drops counted: %s" % st["consent_drops"])
    ok("counted by the collector", "consent_drops=%s" % st["consent_drops"])
    # features only for consenting drivers (drv-c has trips but withdrew)
    month = time.strftime("%Y-%m", time.gmtime(t0 / 1000))
    c.must("aggregate", "--month", month)
    expect("features with consent required", [r[0] for r in psql("SELECT driver_id FROM monthly_features ORDER BY 1")],
           ["drv-a"])
    c.must("--set", "privacy.require_consent=false", "aggregate", "--month", month)
    expect("the same without the requirement (the filter is what left drv-c out)",
           [r[0] for r in psql("SELECT driver_id FROM monthly_features ORDER BY 1")], ["drv-a", "drv-c"])
    # every change audited, once
    expect("consent audit", psql("SELECT driver_id, detail, performed_by FROM data_audit WHERE action = 'consent'"
                                 " ORDER BY id"),
           [["drv-a", "consent granted", "c1"], ["drv-c", "consent granted", "c1"], ["drv-c", "consent withdrawn", "c1"]])
    expect("consent state with timestamps", psql("SELECT driver_id, consent, consent_at IS NOT NULL FROM drivers"
                                                 " ORDER BY 1"),
           [["drv-a", "granted", "t"], ["drv-b", "", "f"], ["drv-c", "withdrawn", "t"]])
    expect("consent intervals", psql("SELECT driver_id, withdrawn_at IS NULL FROM driver_consent ORDER BY 1"),
           [["drv-a", "t"], ["drv-c", "f"]])
    # forget removes the consent history with the driver (the audit keeps it)
    c.must("forget", "--driver", "drv-c")
    expect("consent history erased with the driver", qi("SELECT count(*) FROM driver_consent WHERE driver_id = 'drv-c'"), 0)


TESTS = {"roles": test_roles, "erasure": test_erasure, "consent": test_consent}
if MODE not in TESTS:
    fail("unknown mode %s" % MODE)
TESTS[MODE]()
print("PASS %s" % MODE)
