#!/usr/bin/env python3
"""Compare the agent's TPVs (gps-view output) with gpsd 3.22's own TPVs
(the .chk beside each receiver log), field by field, in order.

usage: compare.py EXPECTED.chk AGENT.jsonl
The agent's rules: lat/lon only with mode >= 2, altitude (altMSL) only with
mode 3; every other field exactly as gpsd reported it (absent <=> NaN).
"""
import calendar
import json
import math
import sys

FIELDS = ["speed", "track", "climb", "eph", "epx", "epy", "epv", "eps", "ept"]


def expected(path):
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            o = json.loads(line)
            if o.get("class") != "TPV":
                continue
            mode = o.get("mode", 0)
            e = {"mode": mode}
            if "time" in o:
                t = o["time"]  # 2031-06-27T07:17:37.000Z
                base, frac = t.rstrip("Z").split(".")
                secs = calendar.timegm(tuple(int(x) for x in base.replace("T", "-").replace(":", "-").split("-")) + (0, 0, 0))
                e["time_ms"] = secs * 1000 + int(frac[:3].ljust(3, "0"))
            if mode >= 2 and "lat" in o and "lon" in o:
                e["lat"], e["lon"] = o["lat"], o["lon"]
            if mode == 3 and "altMSL" in o:
                e["altMSL"] = o["altMSL"]
            for k in FIELDS:
                if k in o:
                    e[k] = o[k]
            out.append(e)
    return out


def main():
    exp = expected(sys.argv[1])
    got = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8") if l.startswith("{")]
    for g in got:
        g.pop("class", None)
    bad = 0
    if len(exp) != len(got):
        print(f"TPV count differs: gpsd .chk has {len(exp)}, agent delivered {len(got)}")
        bad += 1
    for i, (e, g) in enumerate(zip(exp, got)):
        keys = set(e) | set(g)
        for k in sorted(keys):
            if k not in e or k not in g:
                print(f"TPV {i}: field {k}: gpsd {e.get(k, '(absent)')} agent {g.get(k, '(absent)')}")
                bad += 1
            elif not math.isclose(float(e[k]), float(g[k]), rel_tol=1e-12, abs_tol=1e-9):
                print(f"TPV {i}: field {k}: gpsd {e[k]} agent {g[k]}")
                bad += 1
        if bad > 20:
            break
    nfix = sum(1 for e in exp if e["mode"] >= 2)
    print(f"{len(exp)} TPVs expected ({nfix} with a fix), {len(got)} delivered, {bad} mismatches")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
