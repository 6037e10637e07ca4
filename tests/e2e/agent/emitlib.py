"""Reading odo-agent --emit files: 'seq kind t_ms tsrc cborhex' per line.

A minimal CBOR (RFC 8949) decoder of our own, standard library only: enough
for odo's wire records (maps, text/byte strings, integers, floats, simple
values, arrays). It is deliberately independent of the agent's encoder.
"""
import struct


class CborError(ValueError):
    pass


def _decode(buf, i):
    if i >= len(buf):
        raise CborError("truncated at %d" % i)
    ib = buf[i]
    major, info = ib >> 5, ib & 0x1F
    i += 1
    if major == 7:
        if info == 20:
            return False, i
        if info == 21:
            return True, i
        if info == 22:
            return None, i
        if info == 25:
            h = struct.unpack(">e", buf[i:i + 2])[0]
            return h, i + 2
        if info == 26:
            return struct.unpack(">f", buf[i:i + 4])[0], i + 4
        if info == 27:
            return struct.unpack(">d", buf[i:i + 8])[0], i + 8
        raise CborError("unsupported simple/float %d" % info)
    if info < 24:
        arg = info
    elif info in (24, 25, 26, 27):
        n = 1 << (info - 24)
        if i + n > len(buf):
            raise CborError("truncated argument")
        arg = int.from_bytes(buf[i:i + n], "big")
        i += n
    else:
        raise CborError("indefinite lengths not used by odo (info %d)" % info)
    if major == 0:
        return arg, i
    if major == 1:
        return -1 - arg, i
    if major in (2, 3):
        s = buf[i:i + arg]
        if len(s) != arg:
            raise CborError("truncated string")
        return (bytes(s) if major == 2 else s.decode("utf-8")), i + arg
    if major == 4:
        out = []
        for _ in range(arg):
            v, i = _decode(buf, i)
            out.append(v)
        return out, i
    if major == 5:
        out = {}
        for _ in range(arg):
            k, i = _decode(buf, i)
            v, i = _decode(buf, i)
            out[k] = v
        return out, i
    if major == 6:  # tag: skip it, keep the item
        return _decode(buf, i)
    raise CborError("major type %d" % major)


def cbor_loads(data):
    """Decode exactly one CBOR item spanning all of `data`."""
    v, end = _decode(data, 0)
    if end != len(data):
        raise CborError("%d trailing bytes" % (len(data) - end))
    return v


def read_emit(path):
    """Yield (seq, kind_name, t_ms, tsrc, record_map) for each emit line."""
    with open(path) as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if len(parts) != 5:
                raise ValueError("%s:%d: expected 5 fields, got %r" % (path, n, line))
            rec = cbor_loads(bytes.fromhex(parts[4]))
            if rec.get("s") != int(parts[0]) or rec.get("t") != int(parts[2]):
                raise ValueError("%s:%d: CBOR s/t disagree with the line" % (path, n))
            yield int(parts[0]), parts[1], int(parts[2]), int(parts[3]), rec
