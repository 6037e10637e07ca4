#!/usr/bin/env python3
"""Check an odo-agent --emit file from replaying a synthetic drive against its
truth.json.  Usage: check_replay.py EMIT TRUTH_JSON CONFIG_REFERENCE_MD

Expected events are derived from the truth's physics and the agent's default
detection levels (read from --print-config-reference, section [detect]; an
event of any grade starts at the grade 1 level, docs/detection.md):
  * a segment whose longitudinal/lateral acceleration exceeds a kind's grade 1
    level by MARGIN_G must yield an event of that kind starting within
    START_TOL_S of the segment start;
  * no hard-brake/rapid-accel/corner event may start outside a segment whose
    acceleration reaches that level - hysteresis (no events while cruising or
    stopped);
  * each such event's grade ("gr") lies between the highest level the segment
    exceeds by MARGIN_G and the highest it comes within MARGIN_G of (segments
    last longer than any minimum duration);
  * exactly one trip_start and one trip_end; trip_end.dist within 2 % of the
    distance integrated from the truth's segment accelerations; the trip's
    per-grade counts agree with the events and hb/ra/hc = grades 2 + 3.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emitlib  # noqa: E402

G = 9.80665
MARGIN_G = 0.02      # "clearly above the threshold"
START_TOL_S = 1.5    # event start vs truth segment start
SPAN_TOL_S = 1.5     # an event must start within [seg start - tol, seg end + tol]
DIST_TOL = 0.02

EK = {1: "hard_brake", 2: "rapid_accel", 3: "corner_left", 4: "corner_right"}


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def detect_defaults(ref_path):
    """{key: float} of the [detect] section defaults in the config reference."""
    out, sec = {}, None
    for line in open(ref_path):
        m = re.match(r"^## \[(\w+)\]", line)
        if m:
            sec = m.group(1)
            continue
        m = re.match(r"^\| `(\w+)` \| number[^|]*\| `([-0-9.]+)` \|", line)
        if m and sec == "detect":
            out[m.group(1)] = float(m.group(2))
    for k in ("brake_g1", "brake_g2", "brake_g3", "brake_hyst_g", "accel_g1", "accel_g2", "accel_g3",
              "accel_hyst_g", "corner_g1", "corner_g2", "corner_g3", "corner_hyst_g"):
        if k not in out:
            fail("config reference has no [detect] %s default" % k)
    return out


def main():
    emit, truth_path, ref = sys.argv[1:4]
    truth = json.load(open(truth_path))
    th = detect_defaults(ref)
    t0_ms = truth["start_unix_s"] * 1000

    # Integrate the truth: speed at each segment start, distance, accelerations.
    v, dist, segs = 0.0, 0.0, []
    for s in truth["segments"]:
        d = s["end_s"] - s["start_s"]
        a = s["long_accel_mps2"]
        v1 = max(0.0, v + a * d)
        dist += (v + v1) / 2 * d
        lat = v * s["yaw_rate_dps"] * 3.141592653589793 / 180.0  # constant speed in turns
        segs.append(dict(s, v0=v, lat=lat))
        v = v1
    # kind -> (acceleration of the segment in g, signed so positive = that kind)
    def mags(s):
        return {1: -s["long_accel_mps2"] / G, 2: s["long_accel_mps2"] / G,
                3: s["lat"] / G, 4: -s["lat"] / G}
    thr = {1: (th["brake_g1"], th["brake_hyst_g"]), 2: (th["accel_g1"], th["accel_hyst_g"]),
           3: (th["corner_g1"], th["corner_hyst_g"]), 4: (th["corner_g1"], th["corner_hyst_g"])}

    recs = list(emitlib.read_emit(emit))
    if not recs:
        fail("empty emit file")
    events = [(r[4]["ek"], (r[2] - t0_ms) / 1000.0) for r in recs if r[1] == "event"]
    grade = {(r[4]["ek"], (r[2] - t0_ms) / 1000.0): r[4].get("gr") for r in recs if r[1] == "event"}
    levels = {1: [th["brake_g%d" % i] for i in (1, 2, 3)], 2: [th["accel_g%d" % i] for i in (1, 2, 3)],
              3: [th["corner_g%d" % i] for i in (1, 2, 3)], 4: [th["corner_g%d" % i] for i in (1, 2, 3)]}
    print("events (kind, start s):", [(EK.get(k, k), round(t, 3)) for k, t in events])

    required = []
    for s in segs:
        for k, m in mags(s).items():
            if m >= thr[k][0] + MARGIN_G:
                required.append((k, s))
    names = sorted({s["kind"] for _, s in required})
    print("truth segments that must give an event:", [(EK[k], s["kind"], s["start_s"]) for k, s in required])
    # The synthetic drive is built with these three; a derivation yielding
    # fewer would make the check vacuous.
    for must in ("hard_brake", "rapid_accel", "right_turn"):
        if must not in names:
            fail("truth derivation lost segment %s (thresholds %s)" % (must, th))
    for k, s in required:
        hits = [t for ek, t in events if ek == k and abs(t - s["start_s"]) <= START_TOL_S]
        if len(hits) != 1:
            fail("%s segment at %.1f s: expected one %s event starting within %.1f s, got %s"
                 % (s["kind"], s["start_s"], EK[k], START_TOL_S, hits))
        m = mags(s)[k]
        lo = max([i + 1 for i, lv in enumerate(levels[k]) if m >= lv + MARGIN_G], default=0)
        hi = max([i + 1 for i, lv in enumerate(levels[k]) if m >= lv - MARGIN_G], default=0)
        gr = grade[(k, hits[0])]
        print("  %s at %.1f s: %.3f g, grade %s (expected %d..%d)" % (EK[k], s["start_s"], m, gr, lo, hi))
        if gr is None or not lo <= gr <= hi:
            fail("%s segment at %.1f s (%.3f g): event grade %s, expected %d..%d"
                 % (s["kind"], s["start_s"], m, gr, lo, hi))
    for k, t in events:
        if k not in EK:
            continue
        ok = [s for s in segs if mags(s)[k] >= thr[k][0] - thr[k][1]
              and s["start_s"] - SPAN_TOL_S <= t <= s["end_s"] + SPAN_TOL_S]
        if not ok:
            fail("%s event at %.3f s matches no truth segment at or near its threshold" % (EK[k], t))

    starts = [r for r in recs if r[1] == "trip_start"]
    ends = [r for r in recs if r[1] == "trip_end"]
    if len(starts) != 1 or len(ends) != 1:
        fail("expected one trip_start and one trip_end, got %d and %d" % (len(starts), len(ends)))
    got = ends[0][4]["dist"]
    print("trip distance: emitted %.1f m, truth %.1f m (%.2f %%)" % (got, dist, 100 * (got - dist) / dist))
    if abs(got - dist) > DIST_TOL * dist:
        fail("trip_end dist %.1f m differs from the truth's %.1f m by more than %.0f %%"
             % (got, dist, DIST_TOL * 100))
    if starts[0][4]["trip"] != ends[0][4]["trip"]:
        fail("trip ids differ between trip_start and trip_end")
    te = ends[0][4]
    for key, kinds in (("hb", (1,)), ("ra", (2,)), ("hc", (3, 4)), ("sw", (5,))):
        per = [sum(1 for r in recs if r[1] == "event" and r[4]["ek"] in kinds and r[4].get("gr") == g)
               for g in (1, 2, 3)]
        got_per = [te.get("%s%d" % (key, g)) for g in (1, 2, 3)]
        if got_per != per or te[key] != per[1] + per[2]:
            fail("trip_end %s %s / %s1..3 %s: events per grade %s" % (key, te[key], key, got_per, per))
    print("OK")


main()
