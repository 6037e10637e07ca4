#!/usr/bin/env python3
"""A webhook receiver for the alert tests (docs/alerts.md "Verifying a request").

    webhook_receiver.py --secret-file F --log L --control C --port-file P

Listens on 127.0.0.1 (a free port, written to P), answers POST requests and
appends one JSON line per request to L: arrival time (Unix s), the alert id
(header and body), the attempt header, whether the signature verified, the
status it answered and the body. It verifies X-Odo-Signature the way a
receiver should: t=<unix s>,v1=<hex> with v1 = HMAC-SHA256(secret, "<t>." +
raw body), compared in constant time, t within 300 s of its clock; a request
that fails is answered 401. C holds the behaviour, re-read on every request:
"ok", "down" (503 to everything), "fail N" (503 to the first N attempts of
each alert id, then 200), or "slow S" (answer 503 only after S seconds: a
request the collector is still waiting for).
"""
import argparse
import hashlib
import hmac
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_S = 300


def verify(secret, header, body, now):
    """True when header is a valid signature of body at most TOLERANCE_S old."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
        got = parts["v1"]
    except (KeyError, ValueError, AttributeError):
        return False
    if abs(now - t) > TOLERANCE_S:
        return False
    want = hmac.new(secret, str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, got)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secret-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--control", required=True)
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    secret = open(args.secret_file, "rb").read().rstrip(b"\n")
    lock = threading.Lock()
    attempts = {}

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            now = time.time()
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            ok = verify(secret, self.headers.get("X-Odo-Signature", ""), body, now)
            try:
                doc = json.loads(body)
            except ValueError:
                doc, ok = None, False
            hid = self.headers.get("X-Odo-Alert-Id", "")
            if doc is None or doc.get("id") != hid:
                ok = False
            try:
                mode = open(args.control).read().split()
            except OSError:
                mode = ["ok"]
            if mode[0] == "slow":
                time.sleep(float(mode[1]))
            with lock:
                n = attempts[hid] = attempts.get(hid, 0) + 1
                if not ok:
                    status = 401
                elif mode[0] in ("down", "slow") or (mode[0] == "fail" and n <= int(mode[1])):
                    status = 503
                else:
                    status = 200
                with open(args.log, "a") as f:
                    f.write(json.dumps({"arrival": now, "id": hid, "attempt": self.headers.get("X-Odo-Attempt"),
                                        "sig_ok": ok, "status": status, "body": doc}) + "\n")
            try:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass  # the client is gone (a collector killed while it waited)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
