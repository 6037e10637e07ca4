#!/usr/bin/env python3
"""Synthetic drives on the imported OpenStreetMap road layer, with a known truth.

    synth.py plan  OUT.json          choose routes on roads.* and simulate them
    synth.py load  OUT.json [K]      insert drivers, trips and tracks (wire kind 9 rows); copy K > 0 as other devices
    synth.py check OUT.json          compare the collector's matching with the truth
    synth.py bench OUT.json N MD     N copies: matching cost per trip-hour beside nearest-road snapping
    synth.py recording OUT.json NAME DIR [T0]   drive NAME as a drive recording for odo-agent --replay
    synth.py check-e2e OUT.json      the same checks on trips that came through agent, broker, collector
    synth.py uplink OUT.md LABEL=EMIT...   record bytes per driven hour by kind, from odo-agent --emit files

Needs ODO_PG_CONNINFO. The drives (all 1 Hz, GPS noise as a first-order
Gauss-Markov process plus white noise, eph reported like a receiver would):
  city      Monaco streets from Fontvieille to Larvotto through a tunnel longer
            than max_gap_s (its fixes are lost, as under ground), a U-turn, a
            speeding episode (40 s at 1.35 x the limit) and a short burst that
            is not one (12 s)
  motorway  the A8 motorway, whose two one-way carriageways run parallel a
            few tens of metres apart, with a speeding episode (45 s at +25 km/h)
  offmap    a drive in Paris, outside the imported extract (NULL, with reason)
"""
import heapq
import json
import math
import os
import random
import subprocess
import sys

CONN = os.environ["ODO_PG_CONNINFO"]
SEP = "\x1f"
R_EARTH = 6371008.8
MPS_PER_MPH = 0.44704
# the documented defaults ([roads]): episodes over max(5 mph, 10 %) for >= 30 s
X_MPH, Y_PCT, Z_S = 5.0, 10.0, 30.0
B2 = (10.0, 25.0)
B3 = (20.0, 40.0)
T0_MS = 1772874000000  # 2026-03-07T09:00:00Z
CITY_WINDOWS = [(150, 195, 1.35), (300, 312, 1.3)]


def psql(sql):
    r = subprocess.run(["psql", CONN, "-X", "-q", "-A", "-t", "-F", SEP, "-v", "ON_ERROR_STOP=1", "-c", sql],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("psql failed: %s\n%s" % (r.stderr, sql[:400]))
    return [line.split(SEP) for line in r.stdout.splitlines() if line != ""]


def hav(a, b):
    la1, lo1, la2, lo2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * R_EARTH * math.asin(min(1, math.sqrt(h)))


# ---------------------------------------------------------------- network

def load_network():
    rows = psql("SELECT e.edge_id, e.way_id, e.source, e.target, e.length_m, w.oneway, w.class, w.urban,"
                " coalesce(w.kph_fwd::text, ''), coalesce(w.kph_bwd::text, ''), w.tunnel, coalesce(w.name, ''),"
                " ST_AsText(ST_Transform(e.geom, 4326)) FROM roads.edges e JOIN roads.ways w USING (way_id)")
    edges = {}
    for r in rows:
        pts = [tuple(map(float, p.split()))[::-1] for p in r[12][len("LINESTRING("):-1].split(",")]
        edges[int(r[0])] = dict(id=int(r[0]), way=int(r[1]), u=int(r[2]), v=int(r[3]), len=float(r[4]),
                                oneway=int(r[5]), cls=r[6], urban=r[7] == "t",
                                kf=float(r[8]) if r[8] else None, kb=float(r[9]) if r[9] else None,
                                tunnel=r[10] == "t", name=r[11], pts=pts)
    adj = {}
    for e in edges.values():
        if e["oneway"] != -1:
            adj.setdefault(e["u"], []).append((e["v"], e["id"], 1))
        if e["oneway"] != 1:
            adj.setdefault(e["v"], []).append((e["u"], e["id"], -1))
    return edges, adj


def node_pos(edges):
    pos = {}
    for e in edges.values():
        pos[e["u"]] = e["pts"][0]
        pos[e["v"]] = e["pts"][-1]
    return pos


def nearest_node(pos, lat, lon, ok=lambda n: True):
    return min((n for n in pos if ok(n)), key=lambda n: hav(pos[n], (lat, lon)))


def route(adj, edges, a, b, allow=lambda e: True):
    """Dijkstra: list of (edge, dir) from node a to node b."""
    dist, back, pq = {a: 0.0}, {}, [(0.0, a)]
    while pq:
        d, x = heapq.heappop(pq)
        if x == b:
            break
        if d > dist.get(x, 1e18):
            continue
        for y, eid, dr in adj.get(x, []):
            if not allow(edges[eid]):
                continue
            nd = d + edges[eid]["len"]
            if nd < dist.get(y, 1e18):
                dist[y], back[y] = nd, (x, eid, dr)
                heapq.heappush(pq, (nd, y))
    if b not in back:
        raise SystemExit("synth: no route between nodes %d and %d" % (a, b))
    out, x = [], b
    while x != a:
        p, eid, dr = back[x]
        out.append((eid, dr))
        x = p
    return out[::-1]


# ---------------------------------------------------------------- simulation

def polyline(edges, legs):
    """legs: (edge, dir, f0, f1), f0 < f1 fractions in the direction of travel
    -> list of (lat, lon, edge, dir) vertices and their cumulative metres."""
    verts = []
    for eid, dr, f0, f1 in legs:
        e = edges[eid]
        pts = e["pts"] if dr == 1 else e["pts"][::-1]
        a, b = f0, f1
        # cut between fractions a < b of its length, counted in the direction of travel
        seg = [0.0]
        for i in range(1, len(pts)):
            seg.append(seg[-1] + hav(pts[i - 1], pts[i]))
        L = seg[-1]
        lo, hi = a * L, b * L

        def at(s):
            for i in range(1, len(pts)):
                if seg[i] >= s or i == len(pts) - 1:
                    k = 0 if seg[i] == seg[i - 1] else (s - seg[i - 1]) / (seg[i] - seg[i - 1])
                    k = min(1, max(0, k))
                    return (pts[i - 1][0] + k * (pts[i][0] - pts[i - 1][0]),
                            pts[i - 1][1] + k * (pts[i][1] - pts[i - 1][1]))
        piece = [at(lo)] + [pts[i] for i in range(len(pts)) if lo < seg[i] < hi] + [at(hi)]
        for p in piece:
            verts.append((p[0], p[1], eid, dr))
    cum = [0.0]
    for i in range(1, len(verts)):
        cum.append(cum[-1] + hav(verts[i - 1][:2], verts[i][:2]))
    return verts, cum


def limit_of(e, dr):
    k = e["kf"] if dr == 1 else e["kb"]
    return k


def simulate(edges, legs, rng, speed_windows, lose_edges=(), noise=(2.5, 1.5), tau=30.0):
    """1 Hz fixes along the legs. speed_windows: [(t0, t1, factor)] multiply the limit."""
    verts, cum = polyline(edges, legs)
    total = cum[-1]
    s, v, t, dt = 0.0, 0.0, 0.0, 0.1
    nx = ny = 0.0
    a = math.exp(-1.0 / tau)
    fixes = []
    j = 0
    next_fix = 0.0
    while s < total:
        while j + 1 < len(cum) - 1 and cum[j + 1] < s:
            j += 1
        e = edges[verts[j + 1][2]]
        dr = verts[j + 1][3]
        lim = limit_of(e, dr) or 50.0
        target = min(lim, 130.0) / 3.6 * 0.9
        for t0, t1, f in speed_windows:
            if t0 <= t < t1:
                target = lim / 3.6 * f
        if e["cls"] in ("service",):
            target = min(target, 20 / 3.6)
        # slow down for the last 40 m and for a U-turn
        if total - s < 40:
            target = min(target, 3.0)
        acc = max(-2.5, min(1.8, (target - v) / 1.0))
        v = max(0.5, v + acc * dt)
        s += v * dt
        t += dt
        if t + 1e-9 >= next_fix:
            next_fix += 1.0
            k = 0 if cum[j + 1] == cum[j] else (min(s, total) - cum[j]) / (cum[j + 1] - cum[j])
            k = min(1, max(0, k))
            lat = verts[j][0] + k * (verts[j + 1][0] - verts[j][0])
            lon = verts[j][1] + k * (verts[j + 1][1] - verts[j][1])
            nx = a * nx + math.sqrt(1 - a * a) * noise[0] * rng.gauss(0, 1)
            ny = a * ny + math.sqrt(1 - a * a) * noise[0] * rng.gauss(0, 1)
            ex, ey = nx + noise[1] * rng.gauss(0, 1), ny + noise[1] * rng.gauss(0, 1)
            glat = lat + math.degrees(ey / R_EARTH)
            glon = lon + math.degrees(ex / (R_EARTH * math.cos(math.radians(lat))))
            eph = math.ceil(2.45 * math.hypot(noise[0], noise[1]) + rng.uniform(0, 2))
            fx = dict(t_ms=T0_MS + int(round(t * 1000)), lat=glat, lon=glon, true_lat=lat, true_lon=lon,
                      speed=max(0.0, v + rng.gauss(0, 0.15)), true_speed=v, eph=eph, edge=e["id"], way=e["way"],
                      cls=e["cls"], urban=e["urban"], limit=limit_of(e, dr), tunnel=e["tunnel"],
                      lost=e["id"] in lose_edges)
            fixes.append(fx)
    return fixes


def truth_episodes(fixes):
    """Speeding episodes by the documented rule, from the true speed and limit."""
    eps, cur = [], None
    pts = [f for f in fixes if not f["lost"]]
    for f in pts:
        over = f["limit"] is not None and f["speed"] - f["limit"] / 3.6 > max(X_MPH * MPS_PER_MPH, Y_PCT / 100 * f["limit"] / 3.6)
        if over:
            if cur and f["t_ms"] - cur[-1]["t_ms"] <= 3000:
                cur.append(f)
            else:
                if cur:
                    eps.append(cur)
                cur = [f]
    if cur:
        eps.append(cur)
    out = []
    for ep in eps:
        dur = (ep[-1]["t_ms"] - ep[0]["t_ms"]) / 1000
        if dur >= Z_S:
            lim = ep[0]["limit"] / 3.6
            peak = max(f["speed"] - f["limit"] / 3.6 for f in ep)
            band = 3 if peak > max(B3[0] * MPS_PER_MPH, B3[1] / 100 * lim) else \
                2 if peak > max(B2[0] * MPS_PER_MPH, B2[1] / 100 * lim) else 1
            out.append(dict(t0=ep[0]["t_ms"], t1=ep[-1]["t_ms"], dur=dur, band=band))
    return out


# ---------------------------------------------------------------- plans

def plan(out_path):
    rng = random.Random(int(os.environ.get("SYNTH_SEED", "15")))
    edges, adj = load_network()
    pos = node_pos(edges)
    drivable = lambda e: e["cls"] not in ("service",)
    drives = []

    # city: Fontvieille -> a long tunnel -> Larvotto, U-turn, back a little
    tunnels = sorted((e for e in edges.values() if e["tunnel"] and e["urban"] and e["len"] > 250
                      and e["cls"] in ("primary", "secondary", "tertiary") and e["oneway"] != -1),
                     key=lambda e: -e["len"])
    if not tunnels:
        raise SystemExit("synth: no urban tunnel longer than 250 m in the road layer")
    main_nodes = set()
    for e in edges.values():
        if e["cls"] in ("primary", "secondary", "tertiary"):
            main_nodes.update((e["u"], e["v"]))
    a = nearest_node(pos, 43.7305, 7.4180, lambda n: n in main_nodes)
    b = nearest_node(pos, 43.7460, 7.4330, lambda n: n in main_nodes)
    legs = None
    for tun in tunnels:
        try:
            legs = [(eid, dr, 0.0, 1.0) for eid, dr in route(adj, edges, a, tun["u"], drivable)]
            legs.append((tun["id"], 1, 0.0, 1.0))
            legs += [(eid, dr, 0.0, 1.0) for eid, dr in route(adj, edges, tun["v"], b, drivable)]
            break
        except SystemExit:
            legs = None
    if legs is None:
        raise SystemExit("synth: no route through any long urban tunnel")
    # U-turn in the middle of a two-way street near the end, then back
    back_leg = None
    for eid, dr, _, _ in reversed(legs):
        e = edges[eid]
        if e["oneway"] == 0 and e["len"] > 120 and not e["tunnel"]:
            back_leg = (eid, dr)
            break
    if back_leg is None:
        raise SystemExit("synth: no two-way street for the U-turn")
    i = max(k for k, l in enumerate(legs) if l[0] == back_leg[0])
    eid, dr = back_leg
    legs = legs[:i] + [(eid, dr, 0.0, 0.6), (eid, -dr, 0.4, 1.0)] + \
        [(x, -d, 0.0, 1.0) for x, d, _, _ in reversed(legs[max(0, i - 3):i]) if edges[x]["oneway"] == 0]
    city = simulate(edges, legs, rng, speed_windows=CITY_WINDOWS, lose_edges={tun["id"]})
    drives.append(dict(name="city", device="syn-city", fixes=city))

    # motorway: along A8, one carriageway, with a speeding episode
    mw = [e for e in edges.values() if e["cls"] == "motorway"]
    west = min(mw, key=lambda e: e["pts"][0][1])
    east = max(mw, key=lambda e: e["pts"][-1][1])
    legs = None
    for s_e in sorted(mw, key=lambda e: e["pts"][0][1])[:6]:
        for t_e in sorted(mw, key=lambda e: -e["pts"][-1][1])[:6]:
            try:
                r = route(adj, edges, s_e["u"], t_e["v"], lambda e: e["cls"] in ("motorway", "motorway_link"))
            except SystemExit:
                continue
            if legs is None or len(r) > len(legs):
                legs = r
    if legs is None:
        raise SystemExit("synth: no motorway route (west %d, east %d)" % (west["id"], east["id"]))
    legs = [(eid, dr, 0.0, 1.0) for eid, dr in legs]
    moto = simulate(edges, legs, rng, speed_windows=[(60, 105, 1.0 + 25 / 110)])
    drives.append(dict(name="motorway", device="syn-moto", fixes=moto))

    # off the map: a loop in Paris
    off = []
    for k in range(300):
        ang = k / 300 * 2 * math.pi
        lat, lon = 48.8566 + 0.01 * math.sin(ang), 2.3522 + 0.014 * math.cos(ang)
        off.append(dict(t_ms=T0_MS + 7200000 + k * 1000, lat=lat, lon=lon, true_lat=lat, true_lon=lon, speed=12.0,
                        true_speed=12.0, eph=6, edge=None, way=None, cls=None, urban=None, limit=None,
                        tunnel=False, lost=False))
    drives.append(dict(name="offmap", device="syn-off", fixes=off))

    for d in drives:
        d["episodes"] = truth_episodes(d["fixes"]) if d["name"] != "offmap" else []
    with open(out_path, "w") as fh:
        json.dump(dict(drives=drives), fh)
    for d in drives:
        fx = d["fixes"]
        print("synth: %-8s %4d s, %5.0f m, %d fixes lost (tunnel), %d truth episode(s) %s" % (
            d["name"], (fx[-1]["t_ms"] - fx[0]["t_ms"]) / 1000, sum(hav((a["true_lat"], a["true_lon"]),
                                                                         (b["true_lat"], b["true_lon"]))
                                                                     for a, b in zip(fx, fx[1:])),
            sum(f["lost"] for f in fx), len(d["episodes"]), [(e["dur"], e["band"]) for e in d["episodes"]]))


# ---------------------------------------------------------------- load

def lit(v):
    if v is None:
        return "NULL"
    return repr(v)


def collector(*args):
    """An operator command (docs/collector.md); its output is not needed."""
    r = subprocess.run([os.environ["ODO_COLLECTOR"], "--config", os.environ["ODO_INI"]] + list(args),
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("odo-collector %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr))


def register_driver(driver):
    if not psql("SELECT 1 FROM drivers WHERE driver_id = '%s'" % driver):
        collector("driver", "add", driver, "--data-source", "synthetic")


def load(path, driver="drv-syn", copy=0):
    """Insert the drives; copy k > 0 inserts them again as other devices, k hours later."""
    doc = json.load(open(path))
    shift = copy * 3600000
    register_driver(driver)
    # the name maintain gives it (migrate may have made it already)
    psql("CREATE TABLE IF NOT EXISTS tracks_2026_03 PARTITION OF tracks"
         " FOR VALUES FROM ('2026-03-01 00:00+00') TO ('2026-04-01 00:00+00')")
    for n, d in enumerate(doc["drives"], 1):
        dev = d["device"] + ("-%d" % copy if copy else "")
        fx = [dict(f, t_ms=f["t_ms"] + shift) for f in d["fixes"] if not f["lost"]]
        collector("device", "add", dev)
        collector("device", "assign", dev, "--driver", driver, "--from", "2026-01-01")
        t0, t1 = d["fixes"][0]["t_ms"] + shift, d["fixes"][-1]["t_ms"] + shift
        dist = sum(hav((a["lat"], a["lon"]), (b["lat"], b["lon"])) for a, b in zip(fx, fx[1:]))
        trip = "%s:%016x:%d" % (dev, 0, 1)
        if copy == 0:
            d["trip_id"] = trip
        wiper = "NULL" if d["name"] != "city" else repr(dist * 0.25)
        psql("INSERT INTO trips (trip_id, driver_id, start_time, end_time, device_id, epoch, device_trip_id,"
             " distance_m, duration_s, moving_s, idle_s, wiper_m) VALUES ('%s', '%s', to_timestamp(%d / 1000.0),"
             " to_timestamp(%d / 1000.0), '%s', 0, 1, %r, %r, %r, 0, %s)"
             % (trip, driver, t0, t1, dev, dist, (t1 - t0) / 1000, (t1 - t0) / 1000, wiper))
        for k in range(0, len(fx), 60):
            ch = fx[k:k + 60]
            arr = lambda key, cast: "ARRAY[%s]::%s[]" % (",".join(lit(f[key]) for f in ch), cast)
            psql("INSERT INTO tracks (device_id, epoch, seq, t, tsrc, device_trip_id, n, t_ms, lat, lon, speed_mps,"
                 " eph_m) VALUES ('%s', 0, %d, to_timestamp(%d / 1000.0), 0, 1, %d, %s, %s, %s, %s, %s)"
                 % (dev, 10 + k, ch[0]["t_ms"], len(ch), arr("t_ms", "bigint"), arr("lat", "float8"),
                    arr("lon", "float8"), arr("speed", "float8"), arr("eph", "float8")))
    if copy == 0:
        with open(path, "w") as fh:
            json.dump(doc, fh)


# ---------------------------------------------------------------- drive recordings

def recording(path, name, outdir, t0_s=None):
    """Write drive NAME as a drive recording (docs/inputs.md) for `odo-agent
    --replay`: gps.log with one gpsd 3.22 TPV per second (mode 1, no fix,
    where the fix is lost in the tunnel), received 80 ms after the fix;
    meta.conf; truth.json (the fixes with their true way, limit, class)."""
    doc = json.load(open(path))
    d = next(x for x in doc["drives"] if x["name"] == name)
    os.makedirs(outdir, exist_ok=True)
    fx = d["fixes"]
    shift = 0 if t0_s is None else int(t0_s * 1000) - fx[0]["t_ms"]
    start = (fx[0]["t_ms"] + shift) / 1000.0 - 1
    with open(os.path.join(outdir, "gps.log"), "w") as fh:
        fh.write('%.6f {"class":"VERSION","release":"3.22","rev":"3.22","proto_major":3,"proto_minor":14}\n' % start)
        for i, f in enumerate(fx):
            t = (f["t_ms"] + shift) / 1000.0
            if f["lost"]:
                fh.write('%.6f {"class":"TPV","device":"/dev/ttyS0","mode":1}\n' % (t + 0.08))
                continue
            nxt = fx[min(i + 1, len(fx) - 1)]
            prv = fx[max(i - 1, 0)]
            dy = nxt["true_lat"] - prv["true_lat"]
            dx = (nxt["true_lon"] - prv["true_lon"]) * math.cos(math.radians(f["true_lat"]))
            course = (math.degrees(math.atan2(dx, dy)) + 360) % 360
            iso = __import__("datetime").datetime.fromtimestamp(t, __import__("datetime").timezone.utc)
            fh.write('%.6f {"class":"TPV","device":"/dev/ttyS0","mode":3,"time":"%s.%03dZ","ept":0.005,'
                     '"lat":%.9f,"lon":%.9f,"altHAE":100.000,"altMSL":52.000,"alt":52.000,"epx":%.3f,"epy":%.3f,'
                     '"epv":8.000,"track":%.4f,"speed":%.3f,"climb":0.000,"eps":0.50,"eph":%.3f}\n' % (
                         t + 0.08, iso.strftime("%Y-%m-%dT%H:%M:%S"), iso.microsecond // 1000, f["lat"], f["lon"],
                         f["eph"] / 1.6, f["eph"] / 1.7, course, f["speed"], f["eph"]))
    with open(os.path.join(outdir, "meta.conf"), "w") as fh:
        fh.write("# odo drive recording (docs/inputs.md), synthesised by tests/e2e/roads/synth.py on\n"
                 "# OpenStreetMap roads (c) OpenStreetMap contributors, ODbL\n"
                 "[recording]\nversion = 1\nstart = %.6f\n\n[device]\nid = \"%s\"\n\n[vehicle]\n"
                 "name = \"synthetic point mass on %s\"\n" % (start, d["device"], name))
    with open(os.path.join(outdir, "truth.json"), "w") as fh:
        json.dump(dict(name=name, shift_ms=shift, episodes=d["episodes"], fixes=fx), fh)


def check_e2e(path):
    """After the recordings went through the real agent, broker and collector:
    each drive's trip (by device), matched against the truth by time."""
    doc = json.load(open(path))
    for d in doc["drives"]:
        rows = psql("SELECT t.trip_id FROM trips t WHERE t.device_id = '%s' AND t.end_time IS NOT NULL" % d["device"])
        check(len(rows) == 1, "%s: one finished trip from the agent (%d)" % (d["name"], len(rows)))
        if not rows:
            continue
        trip = rows[0][0]
        n_tr = psql("SELECT count(*), coalesce(sum(n), 0) FROM tracks WHERE device_id = '%s'" % d["device"])[0]
        check(int(n_tr[0]) > 0, "%s: %s track records (%s points) stored" % (d["name"], n_tr[0], n_tr[1]))
        summ = psql("SELECT covered, coalesce(null_reason, ''), coalesce(highway_m, -1), coalesce(urban_m, -1),"
                    " matched_m FROM trip_roads WHERE trip_id = '%s'" % trip)
        check(len(summ) == 1, "%s: matched (trip_roads row)" % d["name"])
        if not summ:
            continue
        cov, reason, hw, urb, mm = summ[0]
        if d["name"] == "offmap":
            check(cov == "f" and reason.startswith("no road data"),
                  "offmap: NULL with reason 'no road data...' (covered=%s, '%s')" % (cov, reason))
            continue
        check(cov == "t", "%s: covered (reason '%s')" % (d["name"], reason))
        rows = psql("SELECT (extract(epoch FROM t) * 1000)::bigint, coalesce(way_id, -1) FROM trip_match_points"
                    " WHERE trip_id = '%s' ORDER BY i" % trip)
        got = [(int(a), int(b)) for a, b in rows]
        truth = [f for f in d["fixes"] if not f["lost"]]
        # the agent's times are 0.1 s deltas: pair each matched fix with the truth fix nearest in time
        import bisect
        tt = [f["t_ms"] for f in truth]
        right = 0
        for t, w in got:
            k = bisect.bisect_left(tt, t)
            best = min((j for j in (k - 1, k) if 0 <= j < len(tt)), key=lambda j: abs(tt[j] - t))
            right += abs(tt[best] - t) <= 500 and truth[best]["way"] == w
        share = right / max(1, len(got))
        check(share >= 0.95, "%s: %.1f %% of %d seconds on the right way, end to end (>= 95 %%)" % (
            d["name"], 100 * share, len(got)))
        eps = psql("SELECT (extract(epoch FROM start_time) * 1000)::bigint, duration_s, band FROM speeding_episodes"
                   " WHERE trip_id = '%s' ORDER BY n" % trip)
        want = d["episodes"]
        check(len(eps) == len(want) and all(abs(int(e[0]) - w["t0"]) <= 3000 and int(e[2]) == w["band"]
                                            for e, w in zip(eps, want)),
              "%s: speeding episodes %s, truth %s" % (d["name"], [(e[1], e[2]) for e in eps],
                                                      [(w["dur"], w["band"]) for w in want]))
    print("%d check(s) failed" % len(FAILS) if FAILS else "all checks passed")
    return 1 if FAILS else 0


# ---------------------------------------------------------------- benchmark

def bench(path, copies, out_md):
    """Matching cost per trip-hour (HMM, `roads match`) beside the baseline of
    snapping every fix to its nearest road (one PostGIS KNN query per fix, the
    approach whose false positives the issue cites), on the same fixes in the
    same run; and both methods' share of seconds on the right way."""
    import time
    doc = json.load(open(path))
    for k in range(1, copies):
        load(path, copy=k)
    hours = float(psql("SELECT sum(duration_s) / 3600 FROM trips WHERE device_id LIKE 'syn-%' AND device_id NOT LIKE"
                       " 'syn-off%'")[0][0])
    fixes = int(psql("SELECT sum(n) FROM tracks WHERE device_id LIKE 'syn-%' AND device_id NOT LIKE 'syn-off%'")[0][0])
    # baseline: nearest road per fix, for every fix of the on-map trips
    snap_sql = ("SELECT u.t_ms, e.way_id FROM tracks k CROSS JOIN LATERAL unnest(k.t_ms, k.lat, k.lon) AS u(t_ms, lat, lon)"
                " CROSS JOIN LATERAL (SELECT x.way_id FROM roads.edges x ORDER BY x.geom <-> ST_Transform("
                "ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326), 3857) LIMIT 1) e"
                " WHERE k.device_id LIKE 'syn-%%' AND k.device_id NOT LIKE 'syn-off%%' %s")
    t0 = time.monotonic()
    psql("SELECT count(*) FROM (" + (snap_sql % "") + ") z")
    t_snap = time.monotonic() - t0
    t0 = time.monotonic()
    r = subprocess.run([os.environ["ODO_COLLECTOR"], "--config", os.environ["ODO_INI"], "roads", "match"],
                       capture_output=True, text=True)
    t_hmm = time.monotonic() - t0
    if r.returncode != 0:
        raise SystemExit("roads match failed: " + r.stderr)
    # accuracy of both on the first copy, against the truth
    acc = {}
    for d in doc["drives"]:
        if d["name"] == "offmap":
            continue
        truth = {f["t_ms"]: f["way"] for f in d["fixes"] if not f["lost"]}
        snap = {int(a): int(b) for a, b in psql(snap_sql % ("AND k.device_id = '%s'" % d["device"]))}
        hmm = {int(a): int(b) for a, b in psql(
            "SELECT (extract(epoch FROM t) * 1000)::bigint, coalesce(way_id, -1) FROM trip_match_points"
            " WHERE trip_id = '%s'" % d["trip_id"])}
        acc[d["name"]] = (sum(snap.get(t) == w for t, w in truth.items()) / len(truth),
                          sum(hmm.get(t) == w for t, w in truth.items()) / len(truth))
    rows = [
        "| method | fixes | trip-hours | seconds | s per trip-hour | right way: city | right way: motorway |",
        "|---|---:|---:|---:|---:|---:|---:|",
        "| baseline: nearest road per fix (PostGIS KNN, no model) | %d | %.2f | %.2f | %.2f | %.1f %% | %.1f %% |" % (
            fixes, hours, t_snap, t_snap / hours, 100 * acc["city"][0], 100 * acc["motorway"][0]),
        "| **HMM map matching** (`odo-collector roads match`: candidates, graph, Viterbi, features, writes) |"
        " %d | %.2f | %.2f | **%.2f** | %.1f %% | %.1f %% |" % (
            fixes, hours, t_hmm, t_hmm / hours, 100 * acc["city"][1], 100 * acc["motorway"][1]),
        "",
        "Ratio HMM / nearest-road baseline: %.1f x the time, on the same fixes in the same run." % (t_hmm / t_snap),
    ]
    text = "\n".join(rows) + "\n"
    print(text)
    with open(out_md, "w") as fh:
        fh.write(text)
    if not (acc["city"][1] >= 0.95 and acc["motorway"][1] >= 0.95):
        raise SystemExit("bench: HMM accuracy below 95 %")


# ---------------------------------------------------------------- uplink bytes

def uplink(out_md, emits):
    """Bytes of the encoded records the agent emitted (`--emit`: seq kind t_ms
    tsrc cbor-hex), by kind, per driven hour (trip start to trip end)."""
    rows, tot = [], {}
    for label, path in (e.split("=", 1) for e in emits):
        by, t_start, t_end = {}, None, None
        for line in open(path):
            f = line.split()
            if len(f) < 5:
                continue
            by[f[1]] = by.get(f[1], 0) + len(f[4]) // 2
            if f[1] == "trip_start" and t_start is None:
                t_start = int(f[2])
            if f[1] == "trip_end":
                t_end = int(f[2])
        if t_start is None or t_end is None or t_end <= t_start:
            raise SystemExit("uplink: %s has no whole trip" % path)
        h = (t_end - t_start) / 3600000
        tot.setdefault("h", 0.0)
        tot["h"] += h
        for k, v in by.items():
            tot[k] = tot.get(k, 0) + v
        rows.append("| %s | %.0f | %.1f | %.1f | %.1f |" % (label, h * 3600, by.get("track", 0) / h / 1000,
                                                           by.get("sample", 0) / h / 1000,
                                                           sum(by.values()) / h / 1000))
    h = tot.pop("h")
    text = "\n".join(["| drive | driven s | track (1 Hz) KB/h | samples (10 s) KB/h | all records KB/h |",
                      "|---|---:|---:|---:|---:|"] + rows + [
        "| **all** | %.0f | **%.1f** | %.1f | %.1f |" % (h * 3600, tot.get("track", 0) / h / 1000,
                                                       tot.get("sample", 0) / h / 1000, sum(tot.values()) / h / 1000)])
    print(text)
    with open(out_md, "w") as fh:
        fh.write(text + "\n")
    if tot.get("track", 0) / h / 1000 > 50:
        raise SystemExit("uplink: the dense track takes more than 50 KB per driven hour")


# ---------------------------------------------------------------- check

FAILS = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        FAILS.append(what)


def check_all(path):
    doc = json.load(open(path))
    truth_hw = truth_urb = truth_m = 0.0
    for d in doc["drives"]:
        trip = d["trip_id"]
        rows = psql("SELECT i, (extract(epoch FROM t) * 1000)::bigint, status, seg_status, coalesce(way_id, -1),"
                    " coalesce(road_class, ''), seg_m FROM trip_match_points WHERE trip_id = '%s' ORDER BY i" % trip)
        summ = psql("SELECT covered, coalesce(null_reason, ''), coalesce(highway_m, -1), coalesce(urban_m, -1),"
                    " matched_m, unmatched_m, coalesce(speeding_episodes, -1) FROM trip_roads WHERE trip_id = '%s'" % trip)
        check(len(summ) == 1, "%s: one trip_roads row" % d["name"])
        if not summ:
            continue
        cov, reason, hw, urb, mm, um, nep = summ[0]
        fx = [f for f in d["fixes"] if not f["lost"]]
        check(len(rows) == len(fx), "%s: one matched row per fix (%d, want %d)" % (d["name"], len(rows), len(fx)))
        if d["name"] == "offmap":
            check(cov == "f" and reason.startswith("no road data"),
                  "offmap: road features NULL with reason 'no road data...' (got covered=%s, '%s')" % (cov, reason))
            continue
        bym = {int(r[1]): r for r in rows}
        right = sum(1 for f in fx if f["t_ms"] in bym and int(bym[f["t_ms"]][4]) == f["way"])
        share = right / len(fx)
        check(share >= 0.95, "%s: %.1f %% of the seconds matched to the right way (>= 95 %%)" % (d["name"], 100 * share))
        check(cov == "t", "%s: covered by the map (reason '%s')" % (d["name"], reason))
        # truth shares over the same segments (the fixes we kept)
        tm = th = tu = 0.0
        for a, b in zip(fx, fx[1:]):
            m = hav((a["lat"], a["lon"]), (b["lat"], b["lon"]))
            if b["t_ms"] - a["t_ms"] > 10000:
                continue
            tm += m
            th += m if b["cls"] in ("motorway", "motorway_link", "trunk", "trunk_link") else 0
            tu += m if b["urban"] else 0
        truth_m += tm
        truth_hw += th
        truth_urb += tu
        if cov == "t":
            hw_pct, tr_hw = 100 * float(hw) / float(mm), 100 * th / tm
            ur_pct, tr_ur = 100 * float(urb) / float(mm), 100 * tu / tm
            check(abs(hw_pct - tr_hw) <= 3, "%s: highway miles %.1f %% vs truth %.1f %% (+-3)" % (d["name"], hw_pct, tr_hw))
            check(abs(ur_pct - tr_ur) <= 3, "%s: urban miles %.1f %% vs truth %.1f %% (+-3)" % (d["name"], ur_pct, tr_ur))
        eps = psql("SELECT (extract(epoch FROM start_time) * 1000)::bigint, duration_s, band FROM speeding_episodes"
                   " WHERE trip_id = '%s' ORDER BY n" % trip)
        want = d["episodes"]
        check(len(eps) == len(want), "%s: %d speeding episode(s), truth %d" % (d["name"], len(eps), len(want)))
        for e, w in zip(eps, want):
            check(abs(int(e[0]) - w["t0"]) <= 3000 and abs(float(e[1]) - w["dur"]) <= 3 and int(e[2]) == w["band"],
                  "%s: episode at +%.0f s for %.0f s band %s (truth +%.0f s, %.0f s, band %d)" % (
                      d["name"], (int(e[0]) - d["fixes"][0]["t_ms"]) / 1000, float(e[1]), e[2],
                      (w["t0"] - d["fixes"][0]["t_ms"]) / 1000, w["dur"], w["band"]))
        if d["name"] == "city":
            gaps = sum(1 for r in rows if r[3] == "3")
            check(gaps >= 1, "city: the tunnel's lost fixes are an unmatched gap (%d gap segment(s))" % gaps)
    # monthly features for the synthetic driver
    out = subprocess.run([os.environ["ODO_COLLECTOR"], "--config", os.environ["ODO_INI"], "aggregate", "--month",
                          "2026-03"], capture_output=True, text=True)
    check(out.returncode == 0, "aggregate --month 2026-03 (%s)" % out.stderr.strip()[-200:])
    mf = psql("SELECT speeding_rate_per_100_miles, max_speed_over_limit_mph, pct_miles_highway, pct_miles_urban,"
              " pct_miles_in_rain_or_snow FROM monthly_features WHERE driver_id = 'drv-syn' AND month = '2026-03'")
    check(len(mf) == 1, "monthly_features row for the synthetic driver")
    if mf:
        sr, mo, ph, pu, pr = (float(x) if x != "" else None for x in mf[0])
        n_ep = sum(len(d["episodes"]) for d in doc["drives"])
        check(sr is not None and abs(sr - 100 * n_ep / (truth_m / 1609.344)) <= 0.1 * 100 * n_ep / (truth_m / 1609.344),
              "speeding_rate_per_100_miles %.2f vs truth %.2f (+-10 %%)" % (sr or -1, 100 * n_ep / (truth_m / 1609.344)))
        check(ph is not None and abs(ph - 100 * truth_hw / truth_m) <= 3,
              "pct_miles_highway %.1f vs truth %.1f" % (ph or -1, 100 * truth_hw / truth_m))
        check(pu is not None and abs(pu - 100 * truth_urb / truth_m) <= 3,
              "pct_miles_urban %.1f vs truth %.1f" % (pu or -1, 100 * truth_urb / truth_m))
        check(mo is not None and mo > 5, "max_speed_over_limit_mph %.1f (> 5: the episodes)" % (mo or -1))
        # wiper: only the city trip reports one (25 % of its distance)
        cw = psql("SELECT 100 * wiper_m / distance_m FROM trips WHERE trip_id = '%s'" % doc["drives"][0]["trip_id"])
        check(pr is not None and abs(pr - float(cw[0][0])) < 1e-6,
              "pct_miles_in_rain_or_snow %.2f = the wiper trip's share %.2f (trips without a wiper signal left out)"
              % (pr or -1, float(cw[0][0])))
    print("%d check(s) failed" % len(FAILS) if FAILS else "all checks passed")
    return 1 if FAILS else 0


if __name__ == "__main__":
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "plan":
        plan(path)
    elif mode == "load":
        load(path, copy=int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    elif mode == "check":
        sys.exit(check_all(path))
    elif mode == "uplink":
        uplink(path, sys.argv[3:])
    elif mode == "check-e2e":
        sys.exit(check_e2e(path))
    elif mode == "recording":
        recording(path, sys.argv[3], sys.argv[4], float(sys.argv[5]) if len(sys.argv) > 5 else None)
    elif mode == "bench":
        bench(path, int(sys.argv[3]), sys.argv[4])
    else:
        raise SystemExit(__doc__)
