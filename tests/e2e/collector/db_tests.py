#!/usr/bin/env python3
"""Collector database tests against a real PostgreSQL (started by pg_run.sh).

aggregate: inserts drivers, assignments, trips (with road features in
  trip_roads and wiper distances), DTC reports, runs
  `odo-collector aggregate --month`, and compares every monthly_features
  column with values computed here, independently, from the inserted rows.
privacy:   `forget --driver` and `retention --days`, asserted row by row.
"""
import datetime as dt
import math
import os
import random
import subprocess
import sys

COLLECTOR, INI, MODE = sys.argv[1], sys.argv[2], sys.argv[3]
CONN = os.environ["ODO_PG_CONNINFO"]
SEP = "\x1f"
MPH = 3600 / 1609.344
FAILS = []


def psql(sql):
    r = subprocess.run(["psql", CONN, "-X", "-q", "-A", "-t", "-F", SEP, "-v", "ON_ERROR_STOP=1", "-c", sql],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("psql failed: %s\n%s" % (r.stderr, sql[:500]))
    return [line.split(SEP) for line in r.stdout.splitlines() if line != ""]


def collector(*args):
    r = subprocess.run([COLLECTOR, "--config", INI] + list(args), capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("odo-collector %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr))
    return r.stderr


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what)


def lit(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return "'" + str(v).replace("'", "''") + "'"


def ts(d):
    return "'" + d.strftime("%Y-%m-%d %H:%M:%S.%f") + "+00'"


UTC = dt.timezone.utc
DRIVERS = {
    "drv-1": dict(persona_type="commuter", driver_age=34, years_licensed=16, vehicle_age=5, prior_at_fault_accidents=1),
    "drv-2": dict(persona_type="night-owl", driver_age=22, years_licensed=4, vehicle_age=11, prior_at_fault_accidents=0),
    "drv-3": dict(persona_type="retired", driver_age=71, years_licensed=50, vehicle_age=2, prior_at_fault_accidents=2),
}
# dev-a: drv-1 until Feb 15th, then drv-2. dev-b: drv-3 throughout.
ASSIGN = [("dev-a", "drv-1", dt.datetime(2025, 12, 1, tzinfo=UTC), dt.datetime(2026, 2, 15, tzinfo=UTC)),
          ("dev-a", "drv-2", dt.datetime(2026, 2, 15, tzinfo=UTC), None),
          ("dev-b", "drv-3", dt.datetime(2025, 12, 1, tzinfo=UTC), None)]


def driver_at(dev, t):
    for d, drv, a, b in ASSIGN:
        if d == dev and a <= t and (b is None or t < b):
            return drv
    return None


def setup():
    for k, v in DRIVERS.items():
        psql("INSERT INTO drivers (driver_id, persona_type, driver_age, years_licensed, vehicle_age,"
             " prior_at_fault_accidents, data_source) VALUES (%s, %s, %d, %d, %d, %d, 'test')"
             % (lit(k), lit(v["persona_type"]), v["driver_age"], v["years_licensed"], v["vehicle_age"],
                v["prior_at_fault_accidents"]))
    psql("INSERT INTO devices (device_id) VALUES ('dev-a'), ('dev-b')")
    for dev, drv, a, b in ASSIGN:
        psql("INSERT INTO device_assignments (device_id, driver_id, valid_from, valid_to) VALUES (%s, %s, %s, %s)"
             % (lit(dev), lit(drv), ts(a), ts(b) if b else "NULL"))


def make_trips(rng):
    trips = []
    n = 0
    for dev in ("dev-a", "dev-b"):
        for _ in range(40):
            n += 1
            start = dt.datetime(2026, 1, 1, tzinfo=UTC) + dt.timedelta(seconds=rng.uniform(0, 75 * 86400))
            dur = rng.uniform(300, 5400)
            moving = dur * rng.uniform(0.6, 0.95)
            dist = moving * rng.uniform(5, 30)
            t = dict(trip_id="%s:%d" % (dev, n), device_id=dev, device_trip_id=n, start=start,
                     end=start + dt.timedelta(seconds=dur), driver=driver_at(dev, start),
                     distance_m=dist, duration_s=dur, moving_s=moving, idle_s=dur - moving,
                     avg_speed_mps=dist / moving, max_speed_mps=dist / moving * rng.uniform(1.1, 1.8),
                     avg_rpm=None if rng.random() < 0.2 else rng.uniform(900, 3000),
                     night_m=dist * rng.uniform(0, 0.5), late_night_weekend_m=dist * rng.uniform(0, 0.2),
                     rush_hour_m=dist * rng.uniform(0, 0.6), heavy_traffic_m=dist * rng.uniform(0, 0.3),
                     screen_on_s=dur * rng.uniform(0, 0.2), handheld_call_s=dur * rng.uniform(0, 0.1),
                     phone_handled_count=rng.randint(0, 5), hard_brakes=rng.randint(0, 4),
                     rapid_accels=rng.randint(0, 3), harsh_corners=rng.randint(0, 3), swerves=rng.randint(0, 2),
                     crashes=0, mean_abs_jerk=None if rng.random() < 0.1 else rng.uniform(0.2, 3),
                     gps_accuracy_m=None if rng.random() < 0.1 else rng.uniform(2, 15),
                     has_dtc=rng.random() < 0.05, airbag_deployed=False)
            trips.append(t)
    # an unfinished trip (no summary) and one with no driver: both ignored
    trips.append(dict(trip_id="dev-a:999", device_id="dev-a", device_trip_id=999,
                      start=dt.datetime(2026, 1, 10, tzinfo=UTC), end=None, driver="drv-1"))
    trips.append(dict(trips[0], trip_id="dev-z:1", device_id="dev-z", device_trip_id=1, driver=None))
    return trips


COLS = ["distance_m", "duration_s", "moving_s", "idle_s", "avg_speed_mps", "max_speed_mps", "avg_rpm", "night_m",
        "late_night_weekend_m", "rush_hour_m", "heavy_traffic_m", "screen_on_s", "handheld_call_s",
        "phone_handled_count", "hard_brakes", "rapid_accels", "harsh_corners", "swerves", "crashes",
        "mean_abs_jerk", "gps_accuracy_m", "has_dtc", "airbag_deployed"]


def insert_trips(trips):
    for t in trips:
        if t["end"] is None:
            psql("INSERT INTO trips (trip_id, driver_id, start_time, device_id, device_trip_id) VALUES (%s, %s, %s, %s, %d)"
                 % (lit(t["trip_id"]), lit(t["driver"]), ts(t["start"]), lit(t["device_id"]), t["device_trip_id"]))
            continue
        psql("INSERT INTO trips (trip_id, driver_id, start_time, end_time, device_id, device_trip_id, %s) VALUES"
             " (%s, %s, %s, %s, %s, %d, %s)" % (", ".join(COLS), lit(t["trip_id"]), lit(t["driver"]), ts(t["start"]),
                                               ts(t["end"]), lit(t["device_id"]), t["device_trip_id"],
                                               ", ".join(lit(t[c]) for c in COLS)))


def add_roads(trips):
    """Road features per trip (what `odo-collector roads match` writes into
    trip_roads) and the wiper signal of some vehicles: covered, uncovered (with
    a reason) and not matched trips; wiper only on dev-b, on most of its trips."""
    rng = random.Random(51)
    for t in trips:
        if t["end"] is None:
            continue
        t["wiper_m"] = t["distance_m"] * rng.uniform(0, 0.5) if t["device_id"] == "dev-b" and rng.random() < 0.7 else None
        u = rng.random()
        if u < 0.6:
            m = t["distance_m"] * rng.uniform(0.8, 1.0)
            t["road"] = dict(covered=True, reason=None, matched_m=m, highway_m=m * rng.uniform(0, 0.7),
                             urban_m=m * rng.uniform(0, 1), episodes=rng.randint(0, 3),
                             max_over=None if rng.random() < 0.1 else rng.uniform(0, 25))
        elif u < 0.8:
            t["road"] = dict(covered=False, reason="unmatched share above the bound (0.35 > 0.20)",
                             matched_m=t["distance_m"] * 0.65, highway_m=None, urban_m=None, episodes=None,
                             max_over=None)
        else:
            t["road"] = None


def insert_roads(trips):
    for t in trips:
        if t["end"] is None:
            continue
        psql("UPDATE trips SET wiper_m = %s WHERE trip_id = %s" % (lit(t["wiper_m"]), lit(t["trip_id"])))
        r = t["road"]
        if r is None:
            continue
        psql("INSERT INTO trip_roads (trip_id, points, matched_points, distance_m, matched_m, unmatched_m, covered,"
             " null_reason, highway_m, urban_m, speeding_episodes, max_over_limit_mph) VALUES (%s, 100, 90, %s, %s,"
             " %s, %s, %s, %s, %s, %s, %s)" % (lit(t["trip_id"]), lit(t["distance_m"]), lit(r["matched_m"]),
                                              lit(t["distance_m"] - r["matched_m"]), lit(r["covered"]),
                                              lit(r["reason"]), lit(r["highway_m"]), lit(r["urban_m"]),
                                              lit(r["episodes"]), lit(r["max_over"])))


DTCS = [("dev-b", dt.datetime(2026, 1, 20, tzinfo=UTC), ["P0301"], False),   # drv-3, January
        ("dev-a", dt.datetime(2026, 2, 20, tzinfo=UTC), ["B0001"], True),    # drv-2, February, airbag
        ("dev-a", dt.datetime(2026, 1, 5, tzinfo=UTC), [], False)]           # drv-1, no codes


def insert_dtcs():
    for i, (dev, t, codes, air) in enumerate(DTCS):
        arr = "ARRAY[%s]::text[]" % ", ".join(lit(c) for c in codes) if codes else "'{}'::text[]"
        psql("INSERT INTO dtc_reports (device_id, seq, t, ecu, mil, stored, pending, permanent, airbag_deployed)"
             " VALUES (%s, %d, %s, 2024, true, %s, '{}', '{}', %s)" % (lit(dev), 1000 + i, ts(t), arr, lit(air)))


def expected(trips, month):
    y, m = map(int, month.split("-"))
    lo = dt.datetime(y, m, 1, tzinfo=UTC)
    hi = dt.datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=UTC)
    out = {}
    for drv in DRIVERS:
        ts_ = [t for t in trips if t["driver"] == drv and t["end"] is not None and lo <= t["start"] < hi]
        if not ts_:
            continue
        S = lambda k: sum(t[k] for t in ts_)
        dist, dur, mov = S("distance_m"), S("duration_s"), S("moving_s")
        miles, hours = dist / 1609.344, dur / 3600

        def wavg(k):
            w = [(t[k], t["duration_s"]) for t in ts_ if t[k] is not None]
            return sum(a * b for a, b in w) / sum(b for _, b in w) if w else None

        devs = [(d, a, b) for d, dr, a, b in ASSIGN if dr == drv]
        rep = [x for x in DTCS if lo <= x[1] < hi and any(x[0] == d and a <= x[1] and (b is None or x[1] < b)
                                                          for d, a, b in devs)]
        D = DRIVERS[drv]
        cov = [t["road"] for t in ts_ if t.get("road") and t["road"]["covered"]]
        rd_m = sum(r["matched_m"] for r in cov)
        overs = [r["max_over"] for r in cov if r["max_over"] is not None]
        wip = [t for t in ts_ if t.get("wiper_m") is not None]
        out[drv] = dict(
            total_trips=len(ts_), total_drive_time_hours=hours, total_miles_driven=miles,
            avg_speed_mph=dist / mov * MPH, max_speed_mph=max(t["max_speed_mps"] for t in ts_) * MPH,
            avg_jerk_rate=wavg("mean_abs_jerk"),
            hard_brake_rate_per_100_miles=100 * S("hard_brakes") / miles,
            rapid_accel_rate_per_100_miles=100 * S("rapid_accels") / miles,
            harsh_cornering_rate_per_100_miles=100 * S("harsh_corners") / miles,
            swerving_events_per_100_miles=100 * S("swerves") / miles,
            pct_miles_night=100 * S("night_m") / dist, pct_miles_late_night_weekend=100 * S("late_night_weekend_m") / dist,
            pct_miles_weekday_rush_hour=100 * S("rush_hour_m") / dist,
            pct_trip_time_screen_on=100 * S("screen_on_s") / dur,
            handheld_events_rate_per_hour=S("phone_handled_count") / hours,
            pct_trip_time_on_call_handheld=100 * S("handheld_call_s") / dur,
            avg_engine_rpm=wavg("avg_rpm"),
            has_dtc_codes=any(t["has_dtc"] for t in ts_) or any(len(x[2]) > 0 for x in rep),
            airbag_deployment_flag=any(t["airbag_deployed"] for t in ts_) or any(x[3] for x in rep),
            driver_age=D["driver_age"], vehicle_age=D["vehicle_age"],
            prior_at_fault_accidents=D["prior_at_fault_accidents"], years_licensed=D["years_licensed"],
            data_source="odo", gps_accuracy_avg_meters=wavg("gps_accuracy_m"),
            driver_passenger_confidence_score=None,
            speeding_rate_per_100_miles=100 * sum(r["episodes"] for r in cov) / (rd_m / 1609.344) if cov else None,
            max_speed_over_limit_mph=max(overs) if overs else None,
            pct_miles_highway=100 * sum(r["highway_m"] for r in cov) / rd_m if cov else None,
            pct_miles_urban=100 * sum(r["urban_m"] for r in cov) / rd_m if cov else None,
            pct_miles_in_rain_or_snow=100 * sum(t["wiper_m"] for t in wip) / sum(t["distance_m"] for t in wip)
            if wip else None,
            pct_miles_in_heavy_traffic=100 * S("heavy_traffic_m") / dist,
            had_claim_in_period=None)
    return out


FEATURE_COLS = None


def compare(month, exp):
    global FEATURE_COLS
    cols = [r[0] for r in psql("SELECT column_name FROM information_schema.columns WHERE table_name ="
                               " 'monthly_features' ORDER BY ordinal_position")]
    ref = ["driver_id", "month"] + list(next(iter(exp.values())).keys()) + ["created_at"]
    check(sorted(cols) == sorted(ref), "monthly_features columns are exactly the reference set: %s" % cols)
    check(len(cols) == 36, "36 columns, got %d" % len(cols))
    rows = psql("SELECT %s FROM monthly_features WHERE month = %s" % (", ".join(cols), lit(month)))
    got = {r[0]: dict(zip(cols, r)) for r in rows}
    check(sorted(got) == sorted(exp), "%s: drivers %s, expected %s" % (month, sorted(got), sorted(exp)))
    for drv, e in exp.items():
        g = got.get(drv)
        if not g:
            continue
        for k, v in e.items():
            s = g[k]
            if v is None:
                check(s == "", "%s %s %s: expected NULL, got %r" % (month, drv, k, s))
            elif isinstance(v, bool):
                check(s == ("t" if v else "f"), "%s %s %s: expected %s, got %r" % (month, drv, k, v, s))
            elif isinstance(v, str):
                check(s == v, "%s %s %s: expected %r, got %r" % (month, drv, k, v, s))
            else:
                ok = s != "" and math.isclose(float(s), v, rel_tol=1e-9, abs_tol=1e-9)
                check(ok, "%s %s %s: expected %r, got %r" % (month, drv, k, v, s))
        check(g["created_at"] != "", "created_at set")


def test_aggregate():
    rng = random.Random(5)
    setup()
    trips = make_trips(rng)
    insert_trips(trips)
    add_roads(trips)
    insert_roads(trips)
    insert_dtcs()
    for month in ("2026-01", "2026-02", "2026-03"):
        collector("aggregate", "--month", month)
        exp = expected(trips, month)
        check(len(exp) >= 2, "%s has data for at least two drivers" % month)
        check(any(e["pct_miles_highway"] is not None for e in exp.values()) and
              any(e["pct_miles_in_rain_or_snow"] is None for e in exp.values()) and
              any(e["pct_miles_in_rain_or_snow"] is not None for e in exp.values()),
              "%s: road and wiper columns both filled and NULL somewhere" % month)
        compare(month, exp)
        print("aggregate %s: %d drivers compared column by column" % (month, len(exp)))
    # idempotent re-run, and a bad month is refused
    collector("aggregate", "--month", "2026-01")
    compare("2026-01", expected(trips, "2026-01"))
    r = subprocess.run([COLLECTOR, "--config", INI, "aggregate", "--month", "2026-13"], capture_output=True, text=True)
    check(r.returncode == 2 and "YYYY-MM" in r.stderr, "a bad month is refused with exit 2: %r" % r.stderr)


def count(sql):
    return int(psql(sql)[0][0])


def test_privacy():
    setup()
    rng = random.Random(7)
    trips = make_trips(rng)
    insert_trips(trips)
    insert_dtcs()
    collector("aggregate", "--month", "2026-01")
    collector("aggregate", "--month", "2026-02")
    now = dt.datetime.now(UTC)
    psql("CREATE TABLE samples_2026_01 PARTITION OF samples FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-02-01 00:00:00+00')")
    psql("CREATE TABLE samples_2026_02 PARTITION OF samples FOR VALUES FROM ('2026-02-01 00:00:00+00') TO ('2026-03-01 00:00:00+00')")
    ym = now.strftime("%Y_%m")
    nxt = (now.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    psql("CREATE TABLE IF NOT EXISTS samples_%s PARTITION OF samples FOR VALUES FROM ('%s-01 00:00:00+00') TO ('%s 00:00:00+00')"
         % (ym, now.strftime("%Y-%m"), nxt.strftime("%Y-%m-%d")))
    seq = 0
    for dev, t in [("dev-a", dt.datetime(2026, 1, 10, tzinfo=UTC)), ("dev-a", dt.datetime(2026, 2, 20, tzinfo=UTC)),
                   ("dev-b", dt.datetime(2026, 1, 12, tzinfo=UTC)), ("dev-a", now - dt.timedelta(hours=1)),
                   ("dev-b", now - dt.timedelta(hours=2))]:
        for i in range(10):
            seq += 1
            tt = t + dt.timedelta(seconds=i)
            psql("INSERT INTO samples (device_id, seq, t, tsrc, device_trip_id, fix, lat, lon) VALUES (%s, %d, %s, 0, 1, 3, 52.5, 13.4)"
                 % (lit(dev), seq, ts(tt)))
            seq += 1
            psql("INSERT INTO events (device_id, seq, t, tsrc, device_trip_id, kind, source, duration_ms) VALUES (%s, %d, %s, 0, 1, 'hard_brake', 0, 500)"
                 % (lit(dev), seq, ts(tt)))
    # the wire v2 tables (migration 002): tracks partitioned like samples, crash traces, quarantine
    psql("CREATE TABLE tracks_2026_01 PARTITION OF tracks FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-02-01 00:00:00+00')")
    psql("CREATE TABLE IF NOT EXISTS tracks_%s PARTITION OF tracks FOR VALUES FROM ('%s-01 00:00:00+00') TO ('%s 00:00:00+00')"
         % (ym, now.strftime("%Y-%m"), nxt.strftime("%Y-%m-%d")))
    for dev, t, s in [("dev-a", dt.datetime(2026, 1, 10, tzinfo=UTC), 900), ("dev-b", dt.datetime(2026, 1, 12, tzinfo=UTC), 901),
                      ("dev-a", now - dt.timedelta(hours=1), 902)]:
        psql("INSERT INTO tracks (device_id, epoch, seq, t, tsrc, device_trip_id, n, t_ms, lat, lon, speed_mps, eph_m)"
             " VALUES (%s, 5, %d, %s, 0, 1, 1, '{1}', '{52.5}', '{13.4}', '{NULL}', '{3}')" % (lit(dev), s, ts(t)))
        psql("INSERT INTO crash_traces (device_id, epoch, seq, t, tsrc, device_trip_id, crash_t, part, parts, hz, frame,"
             " ax, ay, az) VALUES (%s, 5, %d, %s, 0, 1, %s, 0, 1, 100, 0, '{1}', '{2}', '{3}')" % (lit(dev), s + 10, ts(t), ts(t)))
        # quarantined: the device's clock said 2001; it arrived at t
        psql("INSERT INTO quarantine (device_id, epoch, seq, t, kind, reason, record, topic, processed_by, received_at)"
             " VALUES (%s, 5, %d, '2001-01-01', 4, 'test', '\\xa0', 'odo/v1/x/up', 'test', %s)" % (lit(dev), s + 20, ts(t)))
    # forget drv-1: dev-a's records before Feb 15th go, dev-a's later ones (drv-2) and dev-b's stay
    before = count("SELECT count(*) FROM samples WHERE device_id = 'dev-a' AND t < '2026-02-15'")
    check(before == 10, "10 drv-1 samples before forget, got %d" % before)
    collector("forget", "--driver", "drv-1")
    check(count("SELECT count(*) FROM samples WHERE device_id = 'dev-a' AND t < '2026-02-15'") == 0, "drv-1 samples erased")
    check(count("SELECT count(*) FROM events WHERE device_id = 'dev-a' AND t < '2026-02-15'") == 0, "drv-1 events erased")
    check(count("SELECT count(*) FROM dtc_reports WHERE device_id = 'dev-a' AND t < '2026-02-15'") == 0, "drv-1 DTC reports erased")
    check(count("SELECT count(*) FROM samples WHERE device_id = 'dev-a' AND t >= '2026-02-15'") == 20, "drv-2 samples kept")
    check(count("SELECT count(*) FROM samples WHERE device_id = 'dev-b'") == 20, "drv-3 samples kept")
    for tbl in ("tracks", "crash_traces"):
        check(count("SELECT count(*) FROM %s WHERE device_id = 'dev-a' AND t < '2026-02-15'" % tbl) == 0, "drv-1 %s erased" % tbl)
        check(count("SELECT count(*) FROM %s WHERE device_id = 'dev-a' AND t > '2026-02-15'" % tbl) == 1, "drv-2 %s kept" % tbl)
        check(count("SELECT count(*) FROM %s WHERE device_id = 'dev-b'" % tbl) == 1, "drv-3 %s kept" % tbl)
    check(count("SELECT count(*) FROM quarantine WHERE device_id = 'dev-a' AND received_at < '2026-02-15'") == 0,
          "drv-1 quarantined records erased (by arrival)")
    check(count("SELECT count(*) FROM quarantine") == 2, "others' quarantined records kept")
    check(count("SELECT count(*) FROM trips WHERE driver_id = 'drv-1'") == 0, "drv-1 trips erased")
    check(count("SELECT count(*) FROM trips WHERE device_id = 'dev-a' AND start_time < '2026-02-15'") == 0,
          "no trip of dev-a from drv-1's time left")
    check(count("SELECT count(*) FROM trips WHERE driver_id = 'drv-2'") > 0, "drv-2 trips kept")
    check(count("SELECT count(*) FROM monthly_features WHERE driver_id = 'drv-1'") == 0, "drv-1 features erased")
    check(count("SELECT count(*) FROM monthly_features WHERE driver_id = 'drv-3'") == 2, "drv-3 features kept")
    check(count("SELECT count(*) FROM drivers WHERE driver_id = 'drv-1'") == 0, "drv-1 personal data erased")
    check(count("SELECT count(*) FROM device_assignments WHERE driver_id = 'drv-1'") == 0, "assignment de-personalised")
    a = psql("SELECT action, driver_id, rows_deleted, performed_by FROM data_audit WHERE action = 'forget'")
    check(len(a) == 1 and a[0][1] == "drv-1" and int(a[0][2]) > 0 and a[0][3] == "test-collector",
          "one forget audit row: %r" % a)
    r = subprocess.run([COLLECTOR, "--config", INI, "forget", "--driver", "nobody"], capture_output=True, text=True)
    check(r.returncode != 0 and "no driver" in r.stderr, "forgetting an unknown driver fails: %r" % r.stderr)

    # retention: 30 days keeps the last hours, drops January and February
    feats = count("SELECT count(*) FROM monthly_features")
    ntrips = count("SELECT count(*) FROM trips")
    collector("retention", "--days", "30")
    check(count("SELECT count(*) FROM samples") == 20, "only the recent samples remain")
    check(count("SELECT count(*) FROM samples WHERE t < now() - interval '30 days'") == 0, "no old sample remains")
    check(count("SELECT count(*) FROM events WHERE t < now() - interval '30 days'") == 0, "no old event remains")
    check(count("SELECT count(*) FROM events") == 20, "recent events kept")
    check(count("SELECT count(*) FROM pg_class WHERE relname IN ('samples_2026_01', 'samples_2026_02')") == 0,
          "old sample partitions dropped")
    check(count("SELECT count(*) FROM pg_class WHERE relname = 'tracks_2026_01'") == 0, "old track partition dropped")
    check(count("SELECT count(*) FROM tracks") == 1, "recent track kept")
    check(count("SELECT count(*) FROM crash_traces") == 1, "only the recent crash trace kept")
    check(count("SELECT count(*) FROM quarantine") == 1, "quarantine pruned by arrival, the recent one kept")
    check(count("SELECT count(*) FROM monthly_features") == feats, "monthly features kept")
    check(count("SELECT count(*) FROM trips") == ntrips, "trips kept")
    a = psql("SELECT retain_days, rows_deleted FROM data_audit WHERE action = 'retention'")
    check(len(a) == 1 and a[0][0] == "30" and int(a[0][1]) >= 40, "one retention audit row: %r" % a)


if MODE == "aggregate":
    test_aggregate()
elif MODE == "privacy":
    test_privacy()
else:
    raise SystemExit("unknown mode " + MODE)
if FAILS:
    raise SystemExit("%d check(s) failed" % len(FAILS))
print("ok")
