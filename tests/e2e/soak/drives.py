"""Drive recordings moved in time, for the lifecycle soak.

A simulated day is built from the project's own recordings
(tests/data/drives: the synthetic drive and the real RAV4 minute), each
copy shifted so that it starts at a chosen UTC time: every stream's receipt
time and the GPS fixes' own "time" move by the same whole number of seconds,
so the agent sees the same drive on another day. A day can be cut at a
moment (part A: everything before it, part B: the rest) to restart the agent
in the middle of a trip.

    build_day(out_dir, [(src_dir, start_unix_s), ...], cut=None, part=None)
"""
import datetime
import os
import re

_ISO = re.compile(r'"time":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z"')
_cache = {}


def _us(text):
    """'1533226488.299000' -> integer microseconds (no float rounding)."""
    whole, _, frac = text.partition(".")
    return int(whole) * 1000000 + int((frac + "000000")[:6])


def _fmt(us):
    return "%d.%06d" % divmod(us, 1000000)


def _load(src):
    """The recording's items: [(stream, t_us, text after the time)], its start (s)."""
    if src in _cache:
        return _cache[src]
    items = []
    path = os.path.join(src, "gps.log")
    if os.path.exists(path):
        for line in open(path):
            ts, rest = line.rstrip("\n").split(" ", 1)
            items.append(("gps", _us(ts), rest))
    path = os.path.join(src, "can.log")
    if os.path.exists(path):
        for line in open(path):
            line = line.rstrip("\n")
            if not line.startswith("("):
                continue
            ts, rest = line[1:].split(")", 1)
            items.append(("can", _us(ts), rest))
    heads = {}
    for name in ("accel", "phone"):
        path = os.path.join(src, name + ".csv")
        if not os.path.exists(path):
            continue
        lines = open(path).read().splitlines()
        heads[name] = lines[0]
        for line in lines[1:]:
            if not line or line.startswith("#"):
                continue
            ts, rest = line.split(",", 1)
            items.append((name, _us(ts), rest))
    start = min(t for _, t, _ in items) // 1000000
    _cache[src] = (items, start, heads)
    return _cache[src]


def _shift_iso(text, d):
    def sub(m):
        t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S") + datetime.timedelta(seconds=d)
        return '"time":"%s%sZ"' % (t.strftime("%Y-%m-%dT%H:%M:%S"), m.group(2) or "")
    return _ISO.sub(sub, text)


def build_day(out, segments, cut=None, part=None):
    """Write a recording to OUT: each (src, start_s) copy of a recording
    moved to begin at start_s (UTC seconds). With cut (UTC s) and part "A" or
    "B", only the items before / from that moment. Returns (first_us, last_us)."""
    os.makedirs(out)
    streams = {"gps": [], "can": [], "accel": [], "phone": []}
    heads = {}
    version_done = False
    for src, start_s in segments:
        items, src_start, h = _load(src)
        heads.update(h)
        d = int(start_s) - src_start
        for name, t, rest in items:
            t2 = t + d * 1000000
            if cut is not None and (t2 < cut * 1000000) != (part == "A"):
                continue
            if name == "gps":
                if '"class":"VERSION"' in rest:
                    if version_done:
                        continue
                    version_done = True
                rest = _shift_iso(rest, d)
            streams[name].append((t2, rest))
    span = [None, None]
    for name, rows in streams.items():
        rows.sort(key=lambda r: r[0])
        if not rows and name not in ("gps",):
            continue
        if rows:
            span[0] = rows[0][0] if span[0] is None else min(span[0], rows[0][0])
            span[1] = rows[-1][0] if span[1] is None else max(span[1], rows[-1][0])
        if name == "gps":
            with open(os.path.join(out, "gps.log"), "w") as f:
                f.writelines("%s %s\n" % (_fmt(t), r) for t, r in rows)
        elif name == "can":
            with open(os.path.join(out, "can.log"), "w") as f:
                f.writelines("(%s)%s\n" % (_fmt(t), r) for t, r in rows)
        else:
            with open(os.path.join(out, name + ".csv"), "w") as f:
                f.write(heads[name] + "\n")
                f.writelines("%s,%s\n" % (_fmt(t), r) for t, r in rows)
    return span
