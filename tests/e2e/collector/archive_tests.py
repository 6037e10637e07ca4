#!/usr/bin/env python3
"""Tiered retention and archive (issue #16 item 4) against a real PostgreSQL,
run by archive.sh. Records of three old months and the current one are
ingested by a real collector (mosquitto with TLS), then:

  roundtrip  archive run: every old month of every archived table leaves
             PostgreSQL into <table>/<YYYY>/<MM>/ files; the files are read
             independently (gzip, SHA-256, CSV rows, psql \\copy into a
             scratch table) and hold exactly the rows that left; trips,
             monthly_features and dtc_reports stay; the current month stays;
             restore brings a month back identical; a restored month is held,
             then archived again (the old part superseded); expiry deletes
             old files
  forget     forget --driver erases the driver's windows from the archive
             files (rewritten and verified), keeps everyone else's, audits
  corrupt    an archive damaged between export and removal (a flipped byte;
             a re-gzipped altered value; altered with matching file
             checksums recorded) is refused and nothing is removed; rows
             that changed after the export are exported again, not lost

Fingerprints of rows are computed here from md5(row::text) with SQL of this
test's own, independent of the collector's checksum code."""
import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import time

import harness as H
import wirelib as W

MODE = sys.argv[1]
ARCH = os.path.join(H.TMP, "archive")
NOW = dt.datetime.now(dt.timezone.utc)
NOW_MS = int(NOW.timestamp() * 1000)
TABLES = {  # archived table -> its time column (docs/archive.md)
    "samples": "t", "tracks": "t", "events": "t", "vehicle_reports": "t", "phone_states": "t",
    "device_status": "t", "crash_traces": "t", "dead_letters": "received_at", "quarantine": "received_at"}
DEVCOL = {"dead_letters": "topic_device"}


def ym_of(d):
    return d.year * 12 + d.month - 1


def start(ym):
    return dt.datetime(ym // 12, ym % 12 + 1, 1, tzinfo=dt.timezone.utc)


def mstr(ym):
    return "%04d-%02d" % (ym // 12, ym % 12 + 1)


# months: the hot window's cutoff H (hot_days 90), three archivable months before it
H_M = ym_of(NOW - dt.timedelta(days=90))
A, B, C, CUR = H_M - 3, H_M - 2, H_M - 1, ym_of(NOW)
MID_B = start(B) + dt.timedelta(days=14)
COL = H.Collector("admin")  # the one-shot commands (archive, aggregate, forget)


def sets(**kv):
    out = ["--set", "archive.dir=%s" % ARCH]
    for k, v in kv.items():
        out += ["--set", "archive.%s=%s" % (k, v)]
    return out


def collector(*args, ok=True, **kv):
    r = COL.run(*(sets(**kv) + list(args)))
    if ok and r.returncode != 0:
        H.fail("odo-collector %s: exit %d\n%s" % (" ".join(args), r.returncode, r.stderr))
    return r


def where(table, ym):
    col = TABLES[table]
    return "%s >= '%s' AND %s < '%s'" % (col, start(ym).isoformat(), col, start(ym + 1).isoformat())


def fingerprint(table, ym, extra=""):
    """(rows, md5 over the sorted md5s of the whole rows' text)."""
    r = H.psql("SELECT count(*), md5(coalesce(string_agg(h, '' ORDER BY h), '')) FROM"
               " (SELECT md5(x::text) h FROM %s x WHERE %s%s) s" % (table, where(table, ym), extra))
    return int(r[0][0]), r[0][1]


def snapshot(months):
    return {(t, m): fingerprint(t, m) for t in TABLES for m in months}


def kept_fingerprints():
    """What must never change: the aggregates and the tables that stay."""
    out = {}
    for t, key in (("trips", "trip_id"), ("monthly_features", "driver_id, month"), ("dtc_reports", "device_id, seq")):
        out[t] = H.psql("SELECT count(*), md5(coalesce(string_agg(md5(x::text), '' ORDER BY %s), ''))"
                        " FROM %s x" % (key, t))[0]
    return out


def month_records(dev, ym, seq0, trip):
    """One trip's worth of every archived kind in month ym (plus a DTC report);
    in the current month, three hours ago."""
    t0 = int(start(ym).timestamp() * 1000) + 5 * 86400000 + (3600000 if dev == "dev-b" else 0)
    if ym == CUR:
        t0 = NOW_MS - 3 * 3600000 + (60000 if dev == "dev-b" else 0)
    if (dev, ym) == ("dev-a", B):  # the trip straddles dev-a's change of driver
        t0 = int(MID_B.timestamp() * 1000) - 15500
    recs = [W.trip_start(seq0, t0, trip, lat=52.5, lon=13.4)]
    recs += [W.sample(seq0 + 1 + i, t0 + 1000 * (i + 1), trip=trip, lat=52.5 + i * 1e-4, lon=13.4) for i in range(30)]
    s = seq0 + 31
    recs.append(W.event(s, t0 + 15000, trip=trip))
    recs.append(W.record(6, s + 1, t0 + 2000, vin="WVWZZZ1JZXW000001", ecu=0x7E8))
    recs.append(W.record(7, s + 2, t0 + 3000, scr=True, call=1, hand=True))
    recs.append(W.record(8, s + 3, t0 + 4000, up=60, obd=12, oage=3, evict=0, rc=0, canerr=0, gpserr=0, accerr=0,
                         fix=3, clk=0))
    recs.append(W.record(9, s + 4, t0 + 5000, trip=trip, dt=[0, 10, 10], la=[52500000, 12, 15],
                         lo=[13400000, -3, 4], v=[100, 105, None], e=[3, None, 4]))
    recs.append(W.record(10, s + 5, t0 + 6000, trip=trip, ct=t0 + 6500, i=0, n=1, hz=100, fr=0,
                         ax=[10, -2000, 30000], ay=[0, 5, -32768], az=[1000, 990, 1010], v=13.5, air=False))
    recs.append(W.record(5, s + 6, t0 + 7000, ecu=0x7E8, mil=True, st=["P0301"], air=False))
    recs.append(W.trip_end(s + 7, t0 + 40000, trip, t0, dist=400.0))
    return recs, s + 8


def ingest():
    """A real collector stores four months from two devices; drivers and
    assignments; features; a few dead letters and quarantined records back-dated."""
    H.migrate()
    c = H.Collector("c1")
    c.start()
    seqs = {}
    for dev in ("dev-a", "dev-b"):
        d = H.Device(dev)
        seq, trip = 1, 1
        for ym in (A, B, C, CUR):
            recs, nxt = month_records(dev, ym, seq, trip)
            d.pub(W.batch(dev, seq, recs, v=2, ep=5, af=seq - 1))
            d.wait(nxt - 1, 5)
            seq, trip = nxt, trip + 1
        d.pub(b"\x00not cbor")                                     # a dead letter
        d.pub(W.batch(dev, seq, [W.sample(seq, 946684800000 + 86400000)], v=2, ep=5, af=seq - 1))  # quarantined
        d.wait(seq, 5)
        seqs[dev] = seq
        d.close()
    H.wait_for("dead letters stored", lambda: H.qi("SELECT count(*) FROM dead_letters") == 2, 90)
    c.stop()
    # back-date the dead letters into month B and the quarantine into A (arrival times)
    H.psql("UPDATE dead_letters SET received_at = '%s'" % (start(B) + dt.timedelta(days=3)).isoformat())
    H.psql("UPDATE quarantine SET received_at = '%s'" % (start(A) + dt.timedelta(days=3)).isoformat())
    # registered after the drives (operator commands): the stored trips follow the windows
    iso = lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    for drv in ("D1", "D2", "D3"):
        collector("driver", "add", drv)
    collector("device", "assign", "dev-a", "--driver", "D1", "--from", iso(start(A)))
    collector("device", "assign", "dev-a", "--driver", "D2", "--from", iso(MID_B))  # hands dev-a over
    collector("device", "assign", "dev-b", "--driver", "D3", "--from", iso(start(A)))
    for ym in (A, B, C):
        collector("aggregate", "--month", mstr(ym))
    for t in TABLES:
        for ym in (A, B, C):
            want = {"dead_letters": ym == B, "quarantine": ym == A}.get(t, True)
            if (fingerprint(t, ym)[0] > 0) != want:
                H.fail("setup: %s rows in %s: %d" % (t, mstr(ym), fingerprint(t, ym)[0]))
    H.ok("ingested four months of every archived kind from two devices; features for three")


def month_dir(table, ym):
    return os.path.join(ARCH, table, "%04d" % (ym // 12), "%02d" % (ym % 12 + 1))


def manifest(table, ym):
    with open(os.path.join(month_dir(table, ym), "MANIFEST.json")) as f:
        return json.load(f)


def read_part(table, ym, part):
    """The file read with Python's own gzip and csv: (header, rows, gz sha, csv sha)."""
    path = os.path.join(month_dir(table, ym), "%s-%s.%d.csv.gz" % (table, mstr(ym), part))
    raw = open(path, "rb").read()
    text = gzip.decompress(raw)
    rows = list(csv.reader(io.StringIO(text.decode("utf-8"), newline="")))
    return rows[0], rows[1:], hashlib.sha256(raw).hexdigest(), hashlib.sha256(text).hexdigest(), path


def check_files(months, before):
    """Every archived table and month: the manifest describes the files, the
    files hold exactly the rows that left (loaded by psql \\copy, not by the
    collector)."""
    for t in TABLES:
        cols = [r[0] for r in H.psql("SELECT column_name FROM information_schema.columns WHERE table_name = '%s'"
                                     " ORDER BY ordinal_position" % t)]
        for ym in months:
            n, fp = before[(t, ym)]
            if n == 0:
                if os.path.exists(month_dir(t, ym)):
                    H.fail("%s %s: no rows, but a directory" % (t, mstr(ym)))
                continue
            m = manifest(t, ym)
            live = [p for p in m["parts"] if p["state"] == "dropped"]
            if m["format"] != "odo-archive/1" or m["table"] != t or m["month"] != mstr(ym) or len(live) != 1:
                H.fail("%s %s: manifest %s" % (t, mstr(ym), json.dumps(m)[:400]))
            p = live[0]
            header, rows, gz_sha, csv_sha, path = read_part(t, ym, p["part"])
            H.expect("%s %s: header = the table's columns" % (t, mstr(ym)), header, cols)
            if (len(rows), gz_sha, csv_sha, os.path.getsize(path)) != (p["rows"], p["gz_sha256"], p["csv_sha256"],
                                                                      p["gz_bytes"]) or len(rows) != n:
                H.fail("%s %s: file has %d rows (manifest %d, left %d), sums %s/%s vs %s/%s" % (
                    t, mstr(ym), len(rows), p["rows"], n, gz_sha, csv_sha, p["gz_sha256"], p["csv_sha256"]))
            if [c["name"] for c in p["columns"]] != cols:
                H.fail("%s %s: manifest columns %s" % (t, mstr(ym), p["columns"]))
            # an operator's restore with nothing but psql: the same rows
            H.psql("DROP TABLE IF EXISTS scratch; CREATE TABLE scratch (LIKE %s)" % t)
            r = subprocess.run("gzip -dc %s | psql '%s' -X -q -v ON_ERROR_STOP=1 -c"
                               " \"\\copy scratch FROM STDIN WITH (FORMAT csv, HEADER true)\"" % (path, H.CONN),
                               shell=True, capture_output=True, text=True)
            if r.returncode:
                H.fail("psql \\copy of %s: %s" % (path, r.stderr))
            got = H.psql("SELECT count(*), md5(coalesce(string_agg(h, '' ORDER BY h), '')) FROM"
                         " (SELECT md5(x::text) h FROM scratch x) s")[0]
            H.expect("%s %s: rows in the file (psql \\copy) = rows that left" % (t, mstr(ym)), (int(got[0]), got[1]),
                     (n, fp))
    H.psql("DROP TABLE IF EXISTS scratch")


def roundtrip():
    ingest()
    kept = kept_fingerprints()
    before = snapshot((A, B, C, CUR))
    r = collector("archive", "run")
    H.ok("archive run", r.stderr.strip().splitlines()[-1])
    for t in TABLES:
        for ym in (A, B, C):
            H.expect("%s %s rows in PostgreSQL after archive" % (t, mstr(ym)), fingerprint(t, ym)[0], 0)
        H.expect("%s current month untouched" % t, fingerprint(t, CUR), before[(t, CUR)])
    H.expect("trips, monthly_features, dtc_reports untouched", kept_fingerprints(), kept)
    check_files((A, B, C), before)
    modes = set()
    for root, dirs, files in os.walk(ARCH):
        modes |= {("dir", oct(os.stat(os.path.join(root, d)).st_mode & 0o777)) for d in dirs}
        modes |= {("file", oct(os.stat(os.path.join(root, f)).st_mode & 0o777)) for f in files}
    H.expect("archive modes (files 0640, directories 0750)", modes, {("dir", "0o750"), ("file", "0o640")})
    expect_parts = sum(1 for t in TABLES for ym in (A, B, C) if before[(t, ym)][0])
    H.expect("archive_parts dropped", H.qi("SELECT count(*) FROM archive_parts WHERE state = 'dropped'"), expect_parts)
    H.expect("audit rows", H.qi("SELECT count(*) FROM data_audit WHERE action = 'archive'"), expect_parts)
    H.expect("audited rows = rows archived", H.qi("SELECT sum(rows_deleted) FROM data_audit WHERE action = 'archive'"),
             sum(before[(t, ym)][0] for t in TABLES for ym in (A, B, C)))
    collector("archive", "verify")
    r = collector("archive", "run")
    H.expect("a second run archives nothing", H.qi("SELECT count(*) FROM archive_parts"), expect_parts)

    # restore: month A back, identical; aggregates still untouched
    collector("archive", "restore", "--month", mstr(A))
    for t in TABLES:
        H.expect("%s %s restored" % (t, mstr(A)), fingerprint(t, A), before[(t, A)])
        H.expect("%s %s still archived" % (t, mstr(B)), fingerprint(t, B)[0], 0)
    H.expect("kept tables after restore", kept_fingerprints(), kept)
    # a restored month is held; after the hold it is archived again as a new part
    collector("archive", "run")
    H.expect("held: samples of %s stay" % mstr(A), fingerprint("samples", A), before[("samples", A)])
    H.psql("UPDATE archive_parts SET restored_at = now() - interval '31 days' WHERE state = 'restored'")
    collector("archive", "run")
    H.expect("re-archived: samples of %s gone" % mstr(A), fingerprint("samples", A)[0], 0)
    parts = H.psql("SELECT part, state FROM archive_parts WHERE tbl = 'samples' AND month = '%s' ORDER BY part"
                   % mstr(A))
    H.expect("samples %s parts" % mstr(A), parts, [["1", "superseded"], ["2", "dropped"]])
    if os.path.exists(os.path.join(month_dir("samples", A), "samples-%s.1.csv.gz" % mstr(A))):
        H.fail("the superseded file is still there")
    collector("archive", "restore", "--month", mstr(A), "--table", "samples")
    H.expect("samples %s restored from part 2" % mstr(A), fingerprint("samples", A), before[("samples", A)])
    H.expect("events %s not restored (--table samples)" % mstr(A), fingerprint("events", A)[0], 0)

    # expiry: files of months ending more than expire_days ago go
    days = (NOW - (start(C) + dt.timedelta(days=1))).days
    collector("archive", "run", expire_days=days)
    H.expect("expired: events %s and %s" % (mstr(A), mstr(B)),
             [os.path.exists(month_dir("events", ym)) for ym in (A, B, C)], [False, False, True])
    H.expect("expired parts", H.qi("SELECT count(*) FROM archive_parts WHERE state = 'expired' AND month IN ('%s', '%s')"
                                   % (mstr(A), mstr(B))) > 0, True)
    H.expect("expiry audited", H.qi("SELECT count(*) FROM data_audit WHERE action = 'archive expire'") > 0, True)
    H.expect("samples %s restored earlier: not expired while in the database" % mstr(A), fingerprint("samples", A),
             before[("samples", A)])


def forget():
    ingest()
    before = snapshot((A, B, C))
    collector("archive", "run")
    # what D1 owns: dev-a from the start of A until the middle of B; read
    # from the files themselves
    d1, d2_b, erased_want = {}, 0, 0
    for t in TABLES:
        dc, tc = DEVCOL.get(t, "device_id"), TABLES[t]
        for ym in (A, B, C):
            if not before[(t, ym)][0]:
                continue
            header, rows, _, _, _ = read_part(t, ym, 1)
            i_dev, i_t = header.index(dc), header.index(tc)
            when = [(r[i_dev], dt.datetime.fromisoformat(r[i_t].replace(" ", "T"))) for r in rows]
            d1[(t, ym)] = sum(1 for d, w in when if d == "dev-a" and w < MID_B)
            erased_want += d1[(t, ym)]
            if (t, ym) == ("samples", B):
                d2_b = sum(1 for d, w in when if d == "dev-a" and w >= MID_B)
    if not d1[("samples", A)] or not d1[("samples", B)] or d1[("samples", C)]:
        H.fail("setup: D1 rows per month %s" % d1)
    r = collector("forget", "--driver", "D1")
    H.ok("forget --driver D1", r.stderr.strip().splitlines()[-1])
    for t in TABLES:
        dc, tc = DEVCOL.get(t, "device_id"), TABLES[t]
        for ym in (A, B, C):
            if not before[(t, ym)][0]:
                continue
            header, rows, gz_sha, csv_sha, path = read_part(t, ym, 1)
            i_dev, i_t = header.index(dc), header.index(tc)
            left = sum(1 for r in rows if r[i_dev] == "dev-a" and
                       dt.datetime.fromisoformat(r[i_t].replace(" ", "T")) < MID_B)
            H.expect("%s %s: D1's rows left in the file" % (t, mstr(ym)), left, 0)
            H.expect("%s %s: everyone else's rows kept" % (t, mstr(ym)), len(rows), before[(t, ym)][0] - d1[(t, ym)])
            p = [x for x in manifest(t, ym)["parts"] if x["part"] == 1][0]
            H.expect("%s %s: manifest follows the rewrite" % (t, mstr(ym)),
                     (p["rows"], p["gz_sha256"], p["csv_sha256"], p["rows_forgotten"]),
                     (len(rows), gz_sha, csv_sha, d1[(t, ym)]))
            if os.path.exists(path + ".new"):
                H.fail("a .new file was left behind")
    audit = H.psql("SELECT driver_id, rows_deleted, detail FROM data_audit WHERE action = 'forget archive'")
    if len(audit) != 1 or audit[0][0] != "D1" or int(audit[0][1]) != erased_want or "samples/" not in audit[0][2]:
        H.fail("forget archive audit: %s (want D1, %d rows)" % (audit, erased_want))
    H.ok("audited: D1, rows erased from the archive", erased_want)
    H.expect("the database forget ran too", H.qi("SELECT count(*) FROM drivers WHERE driver_id = 'D1'"), 0)
    collector("archive", "verify")
    # restored, the months hold D2's and D3's rows only
    collector("archive", "restore", "--month", mstr(B))
    H.expect("D1's samples in %s after restore" % mstr(B),
             fingerprint("samples", B, " AND device_id = 'dev-a' AND t < '%s'" % MID_B.isoformat())[0], 0)
    H.expect("D2's samples in %s after restore" % mstr(B),
             fingerprint("samples", B, " AND device_id = 'dev-a' AND t >= '%s'" % MID_B.isoformat())[0], d2_b)
    H.expect("dev-b (D3) samples in %s after restore" % mstr(B),
             fingerprint("samples", B, " AND device_id = 'dev-b'")[0], 30)
    # forgetting again finds nothing more in the archive
    H.psql("INSERT INTO drivers (driver_id) VALUES ('D1')")
    H.psql("UPDATE device_assignments SET driver_id = 'D1' WHERE device_id = 'dev-a' AND valid_to IS NOT NULL")
    collector("forget", "--driver", "D1")
    H.expect("second forget: archive rows", H.qi("SELECT count(*) FROM data_audit WHERE action = 'forget archive'"), 1)


def flip_byte(path):
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0x40
    open(path, "wb").write(bytes(data))


def rezip_altered(path, old, new):
    text = gzip.decompress(open(path, "rb").read()).decode()
    if old not in text:
        H.fail("cannot alter %s: %r not in it" % (path, old))
    open(path, "wb").write(gzip.compress(text.replace(old, new, 1).encode()))


def refused(what, kind, reason):
    """archive run must fail naming the file and the reason, and remove none
    of its rows (the other tables' months, verified, are archived meanwhile)."""
    fp = fingerprint("samples", C)
    r = collector("archive", "run", ok=False)
    if r.returncode == 0 or "REFUSED" not in r.stderr or "samples-%s" % mstr(C) not in r.stderr or \
            reason not in r.stderr:
        H.fail("%s: archive run did not refuse it for '%s' (exit %d)\n%s" % (what, reason, r.returncode, r.stderr))
    H.expect("%s: none of its rows removed from PostgreSQL" % what, fingerprint("samples", C), fp)
    H.expect("%s: the refused part is retired" % what,
             H.q1("SELECT state FROM archive_parts WHERE tbl = 'samples' AND month = '%s' ORDER BY part DESC LIMIT 1"
                  % mstr(C)), "superseded")
    bad = [f for f in os.listdir(month_dir("samples", C)) if f.endswith(".bad")]
    H.ok("%s refused (%s); kept for inspection: %s" % (what, kind, bad[-1] if bad else "-"))


def corrupt():
    ingest()
    before = snapshot((C,))
    last = lambda: H.qi("SELECT max(part) FROM archive_parts WHERE tbl = 'samples' AND month = '%s'" % mstr(C))
    path = lambda: os.path.join(month_dir("samples", C), "samples-%s.%d.csv.gz" % (mstr(C), last()))

    collector("archive", "run", "--keep-rows")
    H.expect("--keep-rows: exported, rows kept", (H.q1("SELECT state FROM archive_parts WHERE tbl = 'samples'"
                                                       " AND month = '%s'" % mstr(C)), snapshot((C,))),
             ("exported", before))
    # 1. a flipped byte: the gzip stream (CRC) or the file's SHA-256
    flip_byte(path())
    refused("a flipped byte", "gzip CRC", "not a valid gzip stream")
    # 2. a valid gzip with one value changed
    collector("archive", "run", "--keep-rows")
    rezip_altered(path(), "52.5001", "52.5002")
    refused("an altered value, re-gzipped", "file checksum", "the file changed")
    # 3. the same, with the file's checksums recorded as if it were right:
    #    only loading it and comparing the rows' checksum can tell
    collector("archive", "run", "--keep-rows")
    rezip_altered(path(), "52.5001", "52.5002")
    raw = open(path(), "rb").read()
    H.psql("UPDATE archive_parts SET gz_sha256 = '%s', csv_sha256 = '%s', gz_bytes = %d WHERE tbl = 'samples'"
           " AND month = '%s' AND part = %d" % (hashlib.sha256(raw).hexdigest(),
                                               hashlib.sha256(gzip.decompress(raw)).hexdigest(), len(raw),
                                               mstr(C), last()))
    refused("an altered value with matching file checksums", "row checksum",
            "do not have the recorded row checksum")
    # 4. a record arriving after the export: exported again, nothing lost
    collector("archive", "run", "--keep-rows")
    H.psql("INSERT INTO samples (device_id, epoch, seq, t, tsrc, device_trip_id, fix)"
           " VALUES ('dev-a', 5, 999, '%s', 0, 3, 3)" % (start(C) + dt.timedelta(days=20)).isoformat())
    r = collector("archive", "run")
    if "rows changed since the export" not in r.stderr:
        H.fail("the late row was not noticed:\n%s" % r.stderr)
    H.expect("samples %s in PostgreSQL" % mstr(C), fingerprint("samples", C)[0], 0)
    header, rows, _, _, _ = read_part("samples", C, last())
    H.expect("the late row is in the new part", len(rows), before[("samples", C)][0] + 1)
    collector("archive", "verify")


{"roundtrip": roundtrip, "forget": forget, "corrupt": corrupt}[MODE]()
print("PASS")
