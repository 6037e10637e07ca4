#!/usr/bin/env python3
"""Collector database tests against a real PostgreSQL (started by pg_run.sh).

aggregate: inserts drivers, assignments, trips (with road features in
  trip_roads and wiper distances; wire v2 trips with graded counts and
  smoothness, version 1 trips without, phone-distraction events and phone
  states), DTC reports, runs `odo-collector aggregate --month`, and compares
  every monthly_features and monthly_behaviour column, and every trip's score,
  with values computed here, independently, from the inserted rows; the SQL
  score function against tests/data/score/cases.csv; a late phone event
  counts when its month is aggregated again; NULL (never 0) where nothing was
  measured.
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
    """Drivers, devices and their windows, registered with the operator commands."""
    for k, v in DRIVERS.items():
        collector("driver", "add", k, "--persona", v["persona_type"], "--age", str(v["driver_age"]),
                  "--years-licensed", str(v["years_licensed"]), "--vehicle-age", str(v["vehicle_age"]),
                  "--prior-at-fault-accidents", str(v["prior_at_fault_accidents"]), "--data-source", "test")
    for dev in ("dev-a", "dev-b"):
        collector("device", "add", dev)
    for dev, drv, a, b in ASSIGN:  # in time order: dev-a's second window hands it over
        collector("device", "assign", dev, "--driver", drv, "--from", a.strftime("%Y-%m-%dT%H:%M:%SZ"))
    got = psql("SELECT device_id, driver_id, to_char(valid_from AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'),"
               " coalesce(to_char(valid_to AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), '-') FROM device_assignments"
               " ORDER BY device_id, valid_from")
    want = [[d, r, a.strftime("%Y-%m-%d %H:%M"), b.strftime("%Y-%m-%d %H:%M") if b else "-"] for d, r, a, b in
            sorted(ASSIGN, key=lambda x: (x[0], x[2]))]
    if got != want:
        raise SystemExit("assignment windows %s, want %s" % (got, want))


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
    add_behaviour(trips, random.Random(77))
    # an unfinished trip (no summary) and one with no driver: both ignored
    trips.append(dict(trip_id="dev-a:999", device_id="dev-a", device_trip_id=999,
                      start=dt.datetime(2026, 1, 10, tzinfo=UTC), end=None, driver="drv-1"))
    trips.append(dict(trips[0], trip_id="dev-z:1", device_id="dev-z", device_trip_id=1, driver=None, events=[],
                      phone_state_near=False))
    return trips


GRADED = ["%s_g%d" % (k, g) for k in ("hard_brakes", "rapid_accels", "harsh_corners", "swerves") for g in (1, 2, 3)]
BCOLS = GRADED + ["lon_source", "lon_share_g1", "lon_share_g2", "lon_share_g3", "lat_share_g1", "lat_share_g2",
                  "lat_share_g3", "lon_p95_g", "lat_p95_g", "speed_sd_mps", "phone_measured", "lon_moving_s",
                  "lat_moving_s"]


def add_behaviour(trips, rng):
    """Wire v2 trips (80 %): graded counts (harsh and above = grades 2 + 3),
    smoothness (some parts not measured), "ph"; version 1 trips: none of that,
    and "jerk" 0 when they measured nothing. Phone-distraction events and phone
    states (version 1's phone rule) for some trips."""
    for t in trips:
        v2 = rng.random() < 0.8
        t["v2"] = v2
        for c in BCOLS:
            t[c] = None
        t["events"] = []
        t["phone_state_near"] = False
        if v2:
            for k, h in (("hard_brakes", "hard_brakes"), ("rapid_accels", "rapid_accels"),
                         ("harsh_corners", "harsh_corners"), ("swerves", "swerves")):
                g = [rng.randint(0, 6), rng.randint(0, 3), rng.randint(0, 1)]
                for i in range(3):
                    t["%s_g%d" % (k, i + 1)] = g[i]
                t[h] = g[1] + g[2]
            src = rng.choice([0, 1, 2, None])
            t["lon_source"] = src
            if src is not None:
                t["lon_moving_s"] = None if rng.random() < 0.2 else t["moving_s"] * rng.uniform(0.7, 1.0)
                a, b = sorted(rng.uniform(0, 0.2) for _ in range(2))
                t["lon_share_g1"], t["lon_share_g2"], t["lon_share_g3"] = b, a, a * rng.uniform(0, 1)
                t["lon_p95_g"] = rng.uniform(0.1, 0.35)
            if src in (0, 2):
                t["lat_moving_s"] = None if rng.random() < 0.2 else t["moving_s"] * rng.uniform(0.5, 1.0)
                a, b = sorted(rng.uniform(0, 0.2) for _ in range(2))
                t["lat_share_g1"], t["lat_share_g2"], t["lat_share_g3"] = b, a, 0.0
                t["lat_p95_g"] = rng.uniform(0.1, 0.35)
            else:
                t["mean_abs_jerk"] = None  # only the accelerometer measures jerk
            t["speed_sd_mps"] = None if rng.random() < 0.1 else rng.uniform(1, 8)
            t["phone_measured"] = rng.random() < 0.6
        else:
            if rng.random() < 0.5:
                t["mean_abs_jerk"] = 0.0  # a v1 agent's "not measured"
            t["phone_state_near"] = rng.random() < 0.3
        if rng.random() < 0.4:
            for _ in range(rng.randint(1, 3)):
                t["events"].append(rng.randint(2000, 60000))


def phone_measured(t):
    return t["phone_measured"] if t["phone_measured"] is not None else t["phone_state_near"]


def insert_behaviour(trips):
    seq = 50000
    for t in trips:
        if t["end"] is None or t["driver"] is None:
            continue
        for i, ms in enumerate(t["events"]):
            seq += 1
            at = t["start"] + dt.timedelta(seconds=60 + 120 * i)
            psql("INSERT INTO events (device_id, seq, t, tsrc, device_trip_id, kind, source, duration_ms) VALUES"
                 " (%s, %d, %s, 0, %d, 'phone_distraction', 4, %d)" % (lit(t["device_id"]), seq, ts(at),
                                                                     t["device_trip_id"], ms))
        # another kind of event in the same trip does not count as distraction
        seq += 1
        psql("INSERT INTO events (device_id, seq, t, tsrc, device_trip_id, kind, source, duration_ms, peak_g, mean_g,"
             " grade) VALUES (%s, %d, %s, 0, %d, 'hard_brake', 0, 900, -0.4, -0.35, 2)"
             % (lit(t["device_id"]), seq, ts(t["start"]), t["device_trip_id"]))


def insert_phone_states(trips):
    """Version 1 trips' phone rule: a phone state within 5 minutes before the
    start (the agent reports one when the phone connects, before the trip's
    summary is stored)."""
    for i, t in enumerate(trips):
        if t["end"] is not None and t["phone_state_near"]:
            psql("INSERT INTO phone_states (device_id, seq, t, screen_on, call, handled) VALUES (%s, %d, %s, false, 0,"
                 " false)" % (lit(t["device_id"]), 70000 + i, ts(t["start"] - dt.timedelta(seconds=120))))


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
        cols = COLS + [c for c in BCOLS if c in t]
        psql("INSERT INTO trips (trip_id, driver_id, start_time, end_time, device_id, device_trip_id, %s) VALUES"
             " (%s, %s, %s, %s, %s, %d, %s)" % (", ".join(cols), lit(t["trip_id"]), lit(t["driver"]), ts(t["start"]),
                                               ts(t["end"]), lit(t["device_id"]), t["device_trip_id"],
                                               ", ".join(lit(t[c]) for c in cols)))


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
            lim = m * rng.uniform(0.5, 1.0)
            t["road"] = dict(covered=True, reason=None, matched_m=m, highway_m=m * rng.uniform(0, 0.7),
                             urban_m=m * rng.uniform(0, 1), episodes=rng.randint(0, 3),
                             max_over=None if rng.random() < 0.1 else rng.uniform(0, 25),
                             limit_m=lim, speeding_m=lim * rng.uniform(0, 0.1))
        elif u < 0.8:
            t["road"] = dict(covered=False, reason="unmatched share above the bound (0.35 > 0.20)",
                             matched_m=t["distance_m"] * 0.65, highway_m=None, urban_m=None, episodes=None,
                             max_over=None, limit_m=None, speeding_m=None)
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
             " null_reason, highway_m, urban_m, speeding_episodes, max_over_limit_mph, limit_m, speeding_m) VALUES"
             " (%s, 100, 90, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
             % (lit(t["trip_id"]), lit(t["distance_m"]), lit(r["matched_m"]), lit(t["distance_m"] - r["matched_m"]),
                lit(r["covered"]), lit(r["reason"]), lit(r["highway_m"]), lit(r["urban_m"]), lit(r["episodes"]),
                lit(r["max_over"]), lit(r["limit_m"]), lit(r["speeding_m"])))


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
            # a version 1 "jerk" 0 is stored as not measured
            w = [(t[k], t["duration_s"]) for t in ts_ if t[k] is not None and not (k == "mean_abs_jerk" and t[k] == 0)]
            return sum(a * b for a, b in w) / sum(b for _, b in w) if w else None

        ph = [t for t in ts_ if phone_measured(t)]  # the phone columns: phone-measured trips only
        pdur = sum(t["duration_s"] for t in ph)

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
            pct_trip_time_screen_on=100 * sum(t["screen_on_s"] for t in ph) / pdur if ph else None,
            handheld_events_rate_per_hour=sum(t["phone_handled_count"] for t in ph) / (pdur / 3600) if ph else None,
            pct_trip_time_on_call_handheld=100 * sum(t["handheld_call_s"] for t in ph) / pdur if ph else None,
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


# ---- driving behaviour (issue #14; docs/features.md) -------------------------

def score_v1(graded, n, graded_m, dist, lo1, la1, phone_s, phone_mov, night, lnw, speeding_m, limit_m):
    """The driving score v1, written out here from docs/features.md (not from the code)."""
    out = dict(events_pts=None, smooth_pts=None, phone_pts=None, time_pts=None, speeding_pts=None, inputs=None,
               score=None)
    if not graded or graded_m is None or graded_m / 1609.344 < 0.5:
        return out
    miles = graded_m / 1609.344
    total = out["events_pts"] = 100 / (miles + 5) * (0.1 * n[0] + 0.5 * n[1] + 2.0 * n[2])
    bits = 1
    if lo1 is not None or la1 is not None:
        out["smooth_pts"] = 100 * (lo1 or 0) + 100 * (la1 or 0)
        total += out["smooth_pts"]
        bits |= 2
    if phone_s is not None and phone_mov and phone_mov > 0:
        out["phone_pts"] = 200 * phone_s / phone_mov
        total += out["phone_pts"]
        bits |= 4
    if dist and dist > 0 and night is not None and lnw is not None:
        out["time_pts"] = 10 * night / dist + 10 * lnw / dist
        total += out["time_pts"]
        bits |= 8
    if limit_m and limit_m > 0 and speeding_m is not None:
        out["speeding_pts"] = 100 * speeding_m / limit_m
        total += out["speeding_pts"]
        bits |= 16
    out["inputs"] = bits
    out["score"] = min(100.0, max(0.0, 100 - total))
    return out


def grades(t):
    return [sum(t["%s_g%d" % (k, g)] for k in ("hard_brakes", "rapid_accels", "harsh_corners", "swerves"))
            for g in (1, 2, 3)]


def trip_score(t):
    road = t.get("road") or {}
    cov = road.get("covered")
    pd = sum(t["events"]) / 1000.0 if phone_measured(t) else None
    return score_v1(t["v2"], grades(t) if t["v2"] else None, t["distance_m"], t["distance_m"], t["lon_share_g1"],
                    t["lat_share_g1"], pd, t["moving_s"], t["night_m"], t["late_night_weekend_m"],
                    road.get("speeding_m") if cov else None, road.get("limit_m") if cov else None)


def expected_behaviour(trips, month):
    y, m = map(int, month.split("-"))
    lo = dt.datetime(y, m, 1, tzinfo=UTC)
    hi = dt.datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=UTC)
    out = {}
    for drv in DRIVERS:
        ts_ = [t for t in trips if t["driver"] == drv and t["end"] is not None and lo <= t["start"] < hi]
        if not ts_:
            continue
        G = [t for t in ts_ if t["v2"]]
        gm = sum(t["distance_m"] for t in G) if G else None
        gmi = gm / 1609.344 if gm is not None else None

        def rate(k, g):
            return 100 * sum(t["%s_g%d" % (k, g)] for t in G) / gmi if gmi else None

        def mw(k, wk=None):
            # weighted by the moving seconds with that signal (lmt/amt), else the trip's moving time
            w = [(t[k], t[wk] if wk and t[wk] is not None else t["moving_s"]) for t in ts_
                 if t[k] is not None and not (k == "mean_abs_jerk" and t[k] == 0)]
            return sum(a * b for a, b in w) / sum(b for _, b in w) if w and sum(b for _, b in w) else None

        ph = [t for t in ts_ if phone_measured(t)]
        pds = sum(sum(t["events"]) / 1000.0 for t in ph)
        pmov = sum(t["moving_s"] for t in ph)
        cov = [t["road"] for t in ts_ if t.get("road") and t["road"]["covered"]]
        lo1, la1 = mw("lon_share_g1", "lon_moving_s"), mw("lat_share_g1", "lat_moving_s")
        n = [sum(grades(t)[g] for t in G) for g in range(3)]
        sc = score_v1(len(G) > 0, n, gm, sum(t["distance_m"] for t in ts_), lo1, la1, pds if ph else None, pmov,
                      sum(t["night_m"] for t in ts_), sum(t["late_night_weekend_m"] for t in ts_),
                      sum(r["speeding_m"] for r in cov) if cov else None,
                      sum(r["limit_m"] for r in cov) if cov else None)
        e = dict(score_version=1, total_trips=len(ts_), graded_trips=len(G), graded_miles=gmi)
        for k, name in (("hard_brakes", "hard_brake"), ("rapid_accels", "rapid_accel"),
                        ("harsh_corners", "harsh_corner"), ("swerves", "swerve")):
            for g in (1, 2, 3):
                e["%s_g%d_per_100_miles" % (name, g)] = rate(k, g)
        sm = [t for t in ts_ if t["lon_share_g1"] is not None or t["lat_share_g1"] is not None]
        e.update(smooth_moving_hours=sum(t["moving_s"] for t in sm) / 3600 if sm else None,
                 mean_abs_jerk_mps3=mw("mean_abs_jerk"),
                 lon_share_g1=lo1, lon_share_g2=mw("lon_share_g2", "lon_moving_s"),
                 lon_share_g3=mw("lon_share_g3", "lon_moving_s"),
                 lat_share_g1=la1, lat_share_g2=mw("lat_share_g2", "lat_moving_s"),
                 lat_share_g3=mw("lat_share_g3", "lat_moving_s"),
                 avg_trip_lon_p95_g=mw("lon_p95_g", "lon_moving_s"), avg_trip_lat_p95_g=mw("lat_p95_g", "lat_moving_s"),
                 avg_trip_speed_sd_mps=mw("speed_sd_mps"),
                 trips_lon_accel=sum(1 for t in ts_ if t["lon_source"] == 0),
                 trips_lon_speed=sum(1 for t in ts_ if t["lon_source"] == 1),
                 trips_lon_mixed=sum(1 for t in ts_ if t["lon_source"] == 2),
                 phone_measured_trips=len(ph),
                 pct_moving_time_phone_distraction=100 * pds / pmov if ph and pmov else None,
                 score_events_pts=sc["events_pts"], score_smooth_pts=sc["smooth_pts"], score_phone_pts=sc["phone_pts"],
                 score_time_pts=sc["time_pts"], score_speeding_pts=sc["speeding_pts"], score_inputs=sc["inputs"],
                 score=sc["score"])
        out[drv] = e
    return out


BEHAVIOUR_COLS = None


def compare_rows(table, month, exp, ncols):
    cols = [r[0] for r in psql("SELECT column_name FROM information_schema.columns WHERE table_name = %s"
                               " ORDER BY ordinal_position" % lit(table))]
    ref = ["driver_id", "month"] + list(next(iter(exp.values())).keys()) + ["created_at"]
    check(sorted(cols) == sorted(ref), "%s columns are exactly the documented set: %s" % (table, cols))
    check(len(cols) == ncols, "%s: %d columns, got %d" % (table, ncols, len(cols)))
    rows = psql("SELECT %s FROM %s WHERE month = %s" % (", ".join(cols), table, lit(month)))
    got = {r[0]: dict(zip(cols, r)) for r in rows}
    check(sorted(got) == sorted(exp), "%s %s: drivers %s, expected %s" % (table, month, sorted(got), sorted(exp)))
    for drv, e in exp.items():
        g = got.get(drv)
        if not g:
            continue
        for k, v in e.items():
            same(g[k], v, "%s %s %s %s" % (table, month, drv, k))
    return got


def same(s, v, what):
    if v is None:
        check(s == "", "%s: expected NULL, got %r" % (what, s))
    elif isinstance(v, bool):
        check(s == ("t" if v else "f"), "%s: expected %s, got %r" % (what, v, s))
    elif isinstance(v, str):
        check(s == v, "%s: expected %r, got %r" % (what, v, s))
    else:
        ok = s != "" and math.isclose(float(s), v, rel_tol=1e-9, abs_tol=1e-9)
        check(ok, "%s: expected %r, got %r" % (what, v, s))


SCORE_COLS = ["score_events_pts", "score_smooth_pts", "score_phone_pts", "score_time_pts", "score_speeding_pts",
              "score_inputs", "score"]


def compare_trip_scores(trips):
    """Every aggregated trip's stored score (finished, with a driver) against
    the formula recomputed here, and against odo_score_v1() applied to its
    stored row: reproducible. A trip without a driver is not scored."""
    n = 0
    for t in trips:
        if t["end"] is None:
            continue
        if t["driver"] is None:
            r = psql("SELECT score, score_inputs FROM trips WHERE trip_id = %s" % lit(t["trip_id"]))[0]
            check(r == ["", ""], "a trip without a driver is not scored: %r" % r)
            continue
        r = psql("SELECT %s, phone_distraction_s, score_version, mean_abs_jerk FROM trips WHERE trip_id = %s"
                 % (", ".join(SCORE_COLS), lit(t["trip_id"])))[0]
        exp = trip_score(t)
        for i, c in enumerate(SCORE_COLS):
            same(r[i], exp[c.replace("score_", "")] if c != "score" else exp["score"], "trip %s %s" % (t["trip_id"], c))
        same(r[7], sum(t["events"]) / 1000.0 if phone_measured(t) else None, "trip %s phone_distraction_s" % t["trip_id"])
        same(r[8], 1 if exp["score"] is not None else None, "trip %s score_version" % t["trip_id"])
        if t["mean_abs_jerk"] == 0:
            check(r[9] == "", "trip %s: a version 1 jerk 0 is stored as NULL, got %r" % (t["trip_id"], r[9]))
        n += 1
    # reproducible from the stored rows alone
    bad = psql("SELECT trip_id FROM trips t LEFT JOIN trip_roads r USING (trip_id),"
               " odo_score_v1(t.hard_brakes_g1 IS NOT NULL,"
               "  t.hard_brakes_g1 + t.rapid_accels_g1 + t.harsh_corners_g1 + t.swerves_g1,"
               "  t.hard_brakes_g2 + t.rapid_accels_g2 + t.harsh_corners_g2 + t.swerves_g2,"
               "  t.hard_brakes_g3 + t.rapid_accels_g3 + t.harsh_corners_g3 + t.swerves_g3,"
               "  t.distance_m, t.distance_m, t.lon_share_g1, t.lat_share_g1, t.phone_distraction_s, t.moving_s,"
               "  t.night_m, t.late_night_weekend_m, CASE WHEN r.covered THEN r.speeding_m END,"
               "  CASE WHEN r.covered THEN r.limit_m END) s"
               " WHERE t.end_time IS NOT NULL AND t.driver_id IS NOT NULL AND t.score IS DISTINCT FROM s.score")
    check(not bad, "trips.score = odo_score_v1(stored row) for every trip: %r" % bad[:5])
    return n


def score_cases():
    """The SQL odo_score_v1 against the hand-computed cases the C function is tested with."""
    import csv
    path = os.path.join(os.environ.get("ODO_SOURCE_DIR", "."), "tests", "data", "score", "cases.csv")
    rows = list(csv.reader(l for l in open(path) if not l.startswith("#")))
    head, rows = rows[0], rows[1:]
    num = lambda x: "NULL" if x == "" else x
    for r in rows:
        c = dict(zip(head, r))
        n = ["NULL" if c["graded"] == "0" else "%s + %s + %s + %s" % tuple(c[k + g] for k in ("hb", "ra", "hc", "sw"))
             for g in "123"]
        got = psql("SELECT (s).events_pts, (s).smooth_pts, (s).phone_pts, (s).time_pts, (s).speeding_pts,"
                   " (s).inputs, (s).score FROM (SELECT odo_score_v1(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
                   " %s, %s) AS s) x" % ("true" if c["graded"] == "1" else "false", n[0], n[1], n[2],
                                          num(c["graded_m"]), num(c["distance_m"]), num(c["lo1"]), num(c["la1"]),
                                          num(c["phone_s"]), num(c["phone_moving_s"]), num(c["night_m"]),
                                          num(c["lnw_m"]), num(c["speeding_m"]), num(c["limit_m"])))[0]
        for i, k in enumerate(("events_pts", "smooth_pts", "phone_pts", "time_pts", "speeding_pts", "inputs", "score")):
            want = c[k]
            if k == "inputs":
                same(got[i], float(want), "SQL score case %r inputs" % c["name"])
            else:
                same(got[i], None if want == "" else float(want), "SQL score case %r %s" % (c["name"], k))
    print("SQL odo_score_v1: %d hand-computed cases reproduced" % len(rows))


def test_aggregate():
    rng = random.Random(5)
    setup()
    trips = make_trips(rng)
    insert_phone_states(trips)
    insert_trips(trips)
    add_roads(trips)
    insert_roads(trips)
    insert_behaviour(trips)
    insert_dtcs()
    score_cases()
    for month in ("2026-01", "2026-02", "2026-03"):
        collector("aggregate", "--month", month)
        bexp = expected_behaviour(trips, month)
        got = compare_rows("monthly_behaviour", month, bexp, 42)
        check(sorted(got) == sorted(r[0] for r in psql("SELECT driver_id FROM monthly_features WHERE month = %s"
                                                         % lit(month))),
              "%s: monthly_behaviour has exactly monthly_features' rows" % month)
        check(any(e["score"] is not None for e in bexp.values()), "%s: some month is scored" % month)
        print("behaviour %s: %d drivers compared column by column" % (month, len(bexp)))
        exp = expected(trips, month)
        check(len(exp) >= 2, "%s has data for at least two drivers" % month)
        check(any(e["pct_miles_highway"] is not None for e in exp.values()) and
              any(e["pct_miles_in_rain_or_snow"] is None for e in exp.values()) and
              any(e["pct_miles_in_rain_or_snow"] is not None for e in exp.values()),
              "%s: road and wiper columns both filled and NULL somewhere" % month)
        compare(month, exp)
        print("aggregate %s: %d drivers compared column by column" % (month, len(exp)))
    # idempotent re-run, and a bad month is refused
    before = psql("SELECT * FROM monthly_behaviour WHERE month = '2026-01' ORDER BY driver_id")
    before_f = psql("SELECT * FROM monthly_features WHERE month = '2026-01' ORDER BY driver_id")
    # move the physically first trips to the end: the next scan returns the
    # rows in another order, and the sums must not depend on it
    # and another plan (as after an autoanalyze) reads them in another order too
    psql("UPDATE trips SET data_source = data_source WHERE ctid IN (SELECT ctid FROM trips ORDER BY ctid LIMIT 40)")
    db = psql("SELECT current_database()")[0][0]
    plan = ("enable_indexscan", "enable_bitmapscan", "enable_hashagg", "enable_hashjoin")
    for g in plan:
        psql('ALTER DATABASE "%s" SET %s = off' % (db, g))
    collector("aggregate", "--month", "2026-01")
    for g in plan:
        psql('ALTER DATABASE "%s" RESET %s' % (db, g))
    compare("2026-01", expected(trips, "2026-01"))
    after = psql("SELECT * FROM monthly_behaviour WHERE month = '2026-01' ORDER BY driver_id")
    strip = lambda rows: [r[:-1] for r in rows]  # created_at changes
    check(strip(before) == strip(after), "re-aggregating changes no monthly_behaviour value")
    after_f = psql("SELECT * FROM monthly_features WHERE month = '2026-01' ORDER BY driver_id")
    check(strip(before_f) == strip(after_f), "re-aggregating changes no monthly_features value")
    check(compare_trip_scores(trips) > 70, "trip scores compared")
    test_behaviour_edges(trips)
    r = subprocess.run([COLLECTOR, "--config", INI, "aggregate", "--month", "2026-13"], capture_output=True, text=True)
    check(r.returncode == 2 and "YYYY-MM" in r.stderr, "a bad month is refused with exit 2: %r" % r.stderr)


def count(sql):
    return int(psql(sql)[0][0])


def test_behaviour_edges(trips):
    """A phone event stored after the trip's summary counts when the month is
    aggregated again; a driver-month of version 1 trips only: no score, no
    rates, NULL not 0."""
    t = next(x for x in trips if x["end"] is not None and x["driver"] and x["v2"] and phone_measured(x)
             and trip_score(x)["score"] is not None)
    before = psql("SELECT score FROM trips WHERE trip_id = %s" % lit(t["trip_id"]))[0][0]
    psql("INSERT INTO events (device_id, seq, t, tsrc, device_trip_id, kind, source, duration_ms) VALUES"
         " (%s, 99999, %s, 0, %d, 'phone_distraction', 4, 30000)" % (lit(t["device_id"]), ts(t["start"]),
                                                                     t["device_trip_id"]))
    t["events"].append(30000)
    collector("aggregate", "--month", t["start"].strftime("%Y-%m"))
    after = psql("SELECT score, phone_distraction_s FROM trips WHERE trip_id = %s" % lit(t["trip_id"]))[0]
    same(after[0], trip_score(t)["score"], "late phone event: trip rescored")
    check(float(after[0]) < float(before), "late phone event lowers the score (%s -> %s)" % (before, after[0]))
    same(after[1], sum(t["events"]) / 1000.0, "late phone event: distraction seconds")
    # the trip's events archived (docs/archive.md: deleted from events): its
    # measured phone seconds and score are kept, not recomputed as 0
    saved = psql("SELECT seq FROM events WHERE device_id = %s AND device_trip_id = %d AND kind = 'phone_distraction'"
                 % (lit(t["device_id"]), t["device_trip_id"]))
    check(len(saved) >= 1, "the trip has phone events to archive")
    psql("CREATE TABLE archived_events AS SELECT * FROM events WHERE device_id = %s AND device_trip_id = %d"
         " AND kind = 'phone_distraction'" % (lit(t["device_id"]), t["device_trip_id"]))
    psql("DELETE FROM events WHERE device_id = %s AND device_trip_id = %d AND kind = 'phone_distraction'"
         % (lit(t["device_id"]), t["device_trip_id"]))
    collector("aggregate", "--month", t["start"].strftime("%Y-%m"))
    kept = psql("SELECT score, phone_distraction_s FROM trips WHERE trip_id = %s" % lit(t["trip_id"]))[0]
    check(kept == after, "events archived: the trip keeps its phone seconds and score (%r, was %r)" % (kept, after))
    psql("INSERT INTO events SELECT * FROM archived_events")
    psql("DROP TABLE archived_events")
    # a driver whose month has only version 1 trips, one of them with "jerk" 0
    collector("driver", "add", "drv-v1", "--data-source", "test")
    collector("device", "add", "dev-v1")
    collector("device", "assign", "dev-v1", "--driver", "drv-v1", "--from", "2026-01-01")
    for i, jerk in enumerate((0.0, 0.0)):
        psql("INSERT INTO trips (trip_id, driver_id, start_time, end_time, device_id, device_trip_id, distance_m,"
             " duration_s, moving_s, idle_s, avg_speed_mps, max_speed_mps, night_m, late_night_weekend_m,"
             " rush_hour_m, heavy_traffic_m, screen_on_s, handheld_call_s, phone_handled_count, hard_brakes,"
             " rapid_accels, harsh_corners, swerves, crashes, mean_abs_jerk, has_dtc, airbag_deployed) VALUES"
             " ('dev-v1:%d', 'drv-v1', '2026-04-0%d 10:00+00', '2026-04-0%d 10:30+00', 'dev-v1', %d, 20000, 1800,"
             " 1500, 300, 13.3, 25, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, %r, false, false)"
             % (i + 1, i + 1, i + 1, i + 1, jerk))
    collector("aggregate", "--month", "2026-04")
    f = psql("SELECT avg_jerk_rate, pct_trip_time_screen_on, hard_brake_rate_per_100_miles FROM monthly_features"
             " WHERE driver_id = 'drv-v1'")[0]
    check(f[0] == "", "monthly_features.avg_jerk_rate is NULL when no trip measured jerk (got %r)" % f[0])
    check(f[1] == "", "screen-on share is NULL when no trip measured the phone (got %r)" % f[1])
    check(f[2] != "" and float(f[2]) > 0, "the seed's harsh rate still counts version 1 trips")
    b = psql("SELECT graded_trips, graded_miles, hard_brake_g2_per_100_miles, mean_abs_jerk_mps3, lon_share_g1,"
             " phone_measured_trips, pct_moving_time_phone_distraction, score_events_pts, score_inputs, score"
             " FROM monthly_behaviour WHERE driver_id = 'drv-v1'")[0]
    check(b[0] == "0" and b[5] == "0", "counts of a version 1 month are 0: %r" % b)
    check(all(x == "" for x in b[1:5] + b[6:]), "a version 1 month: rates, smoothness and score NULL, not 0: %r" % b)
    t1 = psql("SELECT mean_abs_jerk, score, score_inputs, phone_distraction_s FROM trips WHERE trip_id = 'dev-v1:1'")[0]
    check(all(x == "" for x in t1), "a version 1 trip: jerk, score, inputs, distraction NULL: %r" % t1)


def test_privacy():
    setup()
    rng = random.Random(7)
    trips = make_trips(rng)
    insert_trips(trips)
    insert_dtcs()
    collector("aggregate", "--month", "2026-01")
    collector("aggregate", "--month", "2026-02")
    now = dt.datetime.now(UTC)
    psql("CREATE TABLE IF NOT EXISTS samples_2026_01 PARTITION OF samples FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-02-01 00:00:00+00')")
    psql("CREATE TABLE IF NOT EXISTS samples_2026_02 PARTITION OF samples FOR VALUES FROM ('2026-02-01 00:00:00+00') TO ('2026-03-01 00:00:00+00')")
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
    psql("CREATE TABLE IF NOT EXISTS tracks_2026_01 PARTITION OF tracks FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-02-01 00:00:00+00')")
    psql("CREATE TABLE IF NOT EXISTS tracks_%s PARTITION OF tracks FOR VALUES FROM ('%s-01 00:00:00+00') TO ('%s 00:00:00+00')"
         % (ym, now.strftime("%Y-%m"), nxt.strftime("%Y-%m-%d")))
    for dev, t, s in [("dev-a", dt.datetime(2026, 1, 10, tzinfo=UTC), 900), ("dev-b", dt.datetime(2026, 1, 12, tzinfo=UTC), 901),
                      ("dev-a", now - dt.timedelta(hours=1), 902)]:
        psql("INSERT INTO tracks (device_id, epoch, seq, t, tsrc, device_trip_id, n, t_ms, lat, lon, speed_mps, eph_m)"
             " VALUES (%s, 5, %d, %s, 0, 1, 1, '{1}', '{52.5}', '{13.4}', '{NULL}', '{3}')" % (lit(dev), s, ts(t)))
        psql("INSERT INTO crash_traces (device_id, epoch, seq, t, tsrc, device_trip_id, crash_t, part, parts, hz, frame,"
             " ax, ay, az) VALUES (%s, 5, %d, %s, 0, 1, %s, 0, 1, 100, 0, '{1}', '{2}', '{3}')" % (lit(dev), s + 10, ts(t), ts(t)))
        # an alert (migration 007) with its record's personal data (position), and its delivery row
        psql("INSERT INTO alerts (device_id, epoch, seq, t, kind, rule, metric, severity, details, received_at,"
             " processed_by) VALUES (%s, 5, %d, %s, 3, 'crash', 'crash', 'critical', '{\"lat\": 52.5}', %s, 'test')"
             % (lit(dev), s + 10, ts(t), ts(t)))
        psql("INSERT INTO alert_deliveries (alert_id, target) SELECT id, 'webhook' FROM alerts"
             " WHERE device_id = %s AND seq = %d" % (lit(dev), s + 10))
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
    for tbl in ("tracks", "crash_traces", "alerts"):
        check(count("SELECT count(*) FROM %s WHERE device_id = 'dev-a' AND t < '2026-02-15'" % tbl) == 0, "drv-1 %s erased" % tbl)
        check(count("SELECT count(*) FROM %s WHERE device_id = 'dev-a' AND t > '2026-02-15'" % tbl) == 1, "drv-2 %s kept" % tbl)
        check(count("SELECT count(*) FROM %s WHERE device_id = 'dev-b'" % tbl) == 1, "drv-3 %s kept" % tbl)
    check(count("SELECT count(*) FROM alert_deliveries") == 2, "drv-1's alert deliveries erased with its alerts")
    check(count("SELECT count(*) FROM quarantine WHERE device_id = 'dev-a' AND received_at < '2026-02-15'") == 0,
          "drv-1 quarantined records erased (by arrival)")
    check(count("SELECT count(*) FROM quarantine") == 2, "others' quarantined records kept")
    check(count("SELECT count(*) FROM trips WHERE driver_id = 'drv-1'") == 0, "drv-1 trips erased")
    check(count("SELECT count(*) FROM trips WHERE device_id = 'dev-a' AND start_time < '2026-02-15'") == 0,
          "no trip of dev-a from drv-1's time left")
    check(count("SELECT count(*) FROM trips WHERE driver_id = 'drv-2'") > 0, "drv-2 trips kept")
    check(count("SELECT count(*) FROM monthly_features WHERE driver_id = 'drv-1'") == 0, "drv-1 features erased")
    check(count("SELECT count(*) FROM monthly_features WHERE driver_id = 'drv-3'") == 2, "drv-3 features kept")
    check(count("SELECT count(*) FROM monthly_behaviour WHERE driver_id = 'drv-1'") == 0, "drv-1 behaviour erased")
    check(count("SELECT count(*) FROM monthly_behaviour WHERE driver_id = 'drv-3'") == 2, "drv-3 behaviour kept")
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
    # retention (odo_privacy) deletes rows; the empty month partitions before
    # maintain's window are dropped by maintain (the owner: DDL)
    check(count("SELECT count(*) FROM pg_class WHERE relname IN ('samples_2026_01', 'samples_2026_02')") == 2,
          "retention issues no DDL: the emptied partitions are still there")
    collector("--set", "collector.partition_months_back=1", "maintain")
    check(count("SELECT count(*) FROM pg_class WHERE relname IN ('samples_2026_01', 'samples_2026_02')") == 0,
          "old sample partitions dropped by maintain")
    check(count("SELECT count(*) FROM pg_class WHERE relname = 'tracks_2026_01'") == 0, "old track partition dropped")
    check(count("SELECT count(*) FROM pg_class WHERE relname = 'samples_%s'" % ym) == 1, "the current one kept")
    check(count("SELECT count(*) FROM tracks") == 1, "recent track kept")
    check(count("SELECT count(*) FROM crash_traces") == 1, "only the recent crash trace kept")
    check(count("SELECT count(*) FROM alerts") == 1, "only the recent alert kept")
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
