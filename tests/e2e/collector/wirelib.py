"""A small, independent CBOR writer for the collector's end-to-end tests.

It builds odo wire batches (docs/wire-format.md) from Python dicts, so a
test can send exactly what a hostile or broken device would: values the
decoder accepts but the database refuses, contradicting trip records,
batches spanning years. It follows the encoder's deterministic rules
(shortest integer head, float32 when exact else float64, keys in the given
order), so a record's bytes equal what odo-agent would send.

    python3 wirelib.py SPEC.json OUT.cbor     # SPEC: {"dev", "seq", "recs": [...], ["v", "ep", "af"]}
"""
import json
import os
import struct
import sys

# Reading CBOR (the collector's acks): the one decoder of the tests, emitlib's.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "agent"))
import emitlib  # noqa: E402

dec = emitlib.cbor_loads  # one CBOR item spanning all of its bytes


def _head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for ai, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | ai]) + struct.pack(fmt, n)
    raise ValueError("integer too large for CBOR: %d" % n)


def enc(x):
    if x is None:
        return b"\xf6"
    if x is True:
        return b"\xf5"
    if x is False:
        return b"\xf4"
    if isinstance(x, int):
        return _head(0, x) if x >= 0 else _head(1, -1 - x)
    if isinstance(x, float):
        f32 = struct.unpack(">f", struct.pack(">f", x))[0] if abs(x) <= 3.4028234663852886e38 else None
        if f32 == x:
            return b"\xfa" + struct.pack(">f", x)
        return b"\xfb" + struct.pack(">d", x)
    if isinstance(x, str):
        b = x.encode()
        return _head(3, len(b)) + b
    if isinstance(x, (bytes, bytearray)):
        return _head(2, len(x)) + bytes(x)
    if isinstance(x, (list, tuple)):
        return _head(4, len(x)) + b"".join(enc(i) for i in x)
    if isinstance(x, dict):
        return _head(5, len(x)) + b"".join(enc(k) + enc(v) for k, v in x.items())
    raise TypeError(type(x))


class Raw(bytes):
    """Bytes inserted as they are (an already encoded item)."""


def enc_item(x):
    return bytes(x) if isinstance(x, Raw) else enc(x)


def record(kind, s, t, **fields):
    """A record map in the encoder's key order: s, t, ts, k, then the fields as given."""
    r = {"s": s, "t": t, "ts": fields.pop("ts", 0), "k": kind}
    r.update(fields)
    return r


def sample(s, t, trip=1, lat=52.5, lon=13.4, v=10.0, **kw):
    return record(4, s, t, trip=trip, fix=3, lat=lat, lon=lon, v=v, **kw)


def event(s, t, trip=1, pk=-0.45, **kw):
    return record(3, s, t, trip=trip, ek=1, src=0, dur=800, pk=pk, mg=-0.3, **kw)


def trip_start(s, t, trip, **kw):
    return record(1, s, t, trip=trip, **kw)


def trip_end(s, t, trip, t0, dist=1000.0, hb=0, **kw):
    return record(2, s, t, trip=trip, t0=t0, t1=t, dist=dist, dur=(t - t0) / 1000.0, mov=(t - t0) / 1000.0,
                  idle=0.0, vavg=10.0, vmax=20.0, night=0.0, lnw=0.0, rush=0.0, heavy=0.0, scr=0.0, call=0.0,
                  phc=0, hb=hb, ra=0, hc=0, sw=0, cr=0, jerk=0.5, dtc=False, air=False, **kw)


def track(s, t, trip, points, **kw):
    """points: (dt_ds, lat_e6, lon_e6, v_dms or None, eph_m or None); lat/lon delta-coded on the wire."""
    la = [points[0][1]] + [points[i][1] - points[i - 1][1] for i in range(1, len(points))]
    lo = [points[0][2]] + [points[i][2] - points[i - 1][2] for i in range(1, len(points))]
    return record(9, s, t, trip=trip, dt=[p[0] for p in points], la=la, lo=lo, v=[p[3] for p in points],
                  e=[p[4] for p in points], **kw)


def crash_trace(s, t, trip, ct, ax, ay, az, i=0, n=1, hz=100, fr=0, **kw):
    return record(10, s, t, trip=trip, ct=ct, i=i, n=n, hz=hz, fr=fr, ax=ax, ay=ay, az=az, **kw)


def batch(dev, seq, recs, v=1, ep=None, af=None):
    """The batch map; v2 batches carry "ep" and "af" (header order v dev ep af seq recs)."""
    head = {"v": v, "dev": dev}
    if v >= 2:
        head["ep"] = ep
        head["af"] = af
    head["seq"] = seq
    body = b"".join(enc_item(r) for r in recs)
    return _head(5, len(head) + 1) + b"".join(enc(k) + enc(x) for k, x in head.items()) + enc("recs") + \
        _head(4, len(recs)) + body


def main():
    spec = json.load(open(sys.argv[1]))
    data = batch(spec["dev"], spec["seq"], spec["recs"], spec.get("v", 1), spec.get("ep"), spec.get("af"))
    open(sys.argv[2], "wb").write(data)


if __name__ == "__main__":
    main()
