"""Shared pieces of the collector's Python end-to-end tests: checks that fail
loudly, psql, odo-collector processes and device connections (devsim), all
against the servers tests/lib/servers.sh started (environment: ODO_TMP,
ODO_MQTT_PORT, ODO_PG_CONNINFO, ODO_SOURCE_DIR, COLLECTOR, DEVSIM)."""
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wirelib as W  # noqa: E402

COLLECTOR = os.environ["COLLECTOR"]
DEVSIM = os.environ.get("DEVSIM", "")
TMP = os.environ["ODO_TMP"]
PKI = os.path.join(TMP, "pki")
PORT = os.environ["ODO_MQTT_PORT"]
CONN = os.environ["ODO_PG_CONNINFO"]
SRC = os.environ["ODO_SOURCE_DIR"]
SEP = "\x1f"
_on_fail = []


def fail(what):
    print("FAIL:", what, flush=True)
    for f in _on_fail:
        f()
    sys.exit(1)


def on_fail(fn):
    """Run fn (e.g. dump a log) when a check fails."""
    _on_fail.append(fn)


def ok(what, got=None):
    print("ok: %s%s" % (what, "" if got is None else " = %s" % (got,)), flush=True)


def expect(what, got, want):
    if got != want:
        fail("%s: got %r, want %r" % (what, got, want))
    ok(what, got)


def psql(sql, conn=CONN, check=True, fail_with=None, cut=400):
    """Rows of fields; with check, an error fails (fail_with, default fail)
    naming the first `cut` characters of the SQL."""
    r = subprocess.run(["psql", conn, "-X", "-q", "-A", "-t", "-F", SEP, "-v", "ON_ERROR_STOP=1", "-c", sql],
                       capture_output=True, text=True)
    if check and r.returncode != 0:
        (fail_with or fail)("psql: %s\n%s" % (r.stderr.strip(), sql[:cut]))
    return [line.split(SEP) for line in r.stdout.splitlines() if line != ""]


def q1(sql):
    rows = psql(sql)
    return rows[0][0] if rows else None


def qi(sql):
    v = q1(sql)
    return int(v) if v not in (None, "") else None


def wait_for(what, pred, timeout=30.0, step=0.1):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = pred()
        if v:
            return v
        time.sleep(step)
    fail("%s: not within %.0f s" % (what, timeout))


class Collector:
    """One odo-collector with its own INI; `sections` adds INI text per section."""

    def __init__(self, name, **sections):
        self.name = name
        self.ini = os.path.join(TMP, name + ".ini")
        self.log = os.path.join(TMP, name + ".log")
        self.proc = None
        text = {"collector": "name = %s\nlog_level = info\ncommit_ms = 20\nrefresh_s = 1\n" % name,
                "mqtt": "host = 127.0.0.1\nport = %s\nclient_id = %s\ngroup = odo-test\ncafile = %s/ca.crt\n"
                        "certfile = %s/collector.crt\nkeyfile = %s/collector.key\n" % (PORT, name, PKI, PKI, PKI),
                "db": "conninfo = \"%s\"\n" % CONN,
                "metrics": "listen = 127.0.0.1:0\n"}
        for k, v in sections.items():
            text[k] = text.get(k, "") + v
        with open(self.ini, "w") as f:
            for k, v in text.items():
                f.write("[%s]\n%s" % (k, v))
        on_fail(self.dump)

    def run(self, *args):
        return subprocess.run([COLLECTOR, "--config", self.ini] + list(args), capture_output=True, text=True)

    def start(self):
        with open(self.log, "a") as logf:
            self.proc = subprocess.Popen([COLLECTOR, "--config", self.ini, "run"], stderr=logf)
        wait_for("collector %s subscribed" % self.name,
                 lambda: (self.proc.poll() is None and "subscribing" in self.text()) or
                 (self.proc.poll() is not None and fail("collector %s exited" % self.name)), 60)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def text(self):
        try:
            return open(self.log, errors="replace").read()
        except FileNotFoundError:
            return ""

    def dump(self):
        print("---- %s log (tail)" % self.name)
        print("\n".join(self.text().splitlines()[-40:]))


def migrate():
    c = Collector("migrator")
    for cmd in ("migrate", "maintain"):
        r = c.run(cmd)
        if r.returncode:
            fail("%s: %s" % (cmd, r.stderr))


class Device:
    """One device's MQTT connection (devsim): publishes what it is given and
    hears its acks, over one connection as the device would. The harnesses
    that import it set the timeouts and how to start, fail and wait."""
    CONNECT_S = 60  # generous: tests share two cores
    PUB_S = 60
    WAIT_S = 90
    _popen = staticmethod(subprocess.Popen)
    _fail = staticmethod(fail)
    _wait_for = staticmethod(wait_for)

    def __init__(self, dev):
        self.dev, self.acks, self.pubacks, self.sent = dev, [], 0, 0
        self.proc = self._popen([DEVSIM, "--port", str(PORT), "--pki", PKI, "--device", dev], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(self.CONNECT_S):
            self._fail("device %s did not connect" % dev)

    def _read(self):
        for line in self.proc.stdout:
            w = line.split()
            if w[0] == "ready":
                self.ready.set()
            elif w[0] == "puback":
                self.pubacks += 1
            elif w[0] == "ack":
                self._ack(W.dec(bytes.fromhex(w[1])))

    def _ack(self, m):
        self.acks.append((m.get("ep", 0), m["ack"]))

    def pub(self, data):
        path = os.path.join(TMP, "msg-%s-%d.cbor" % (self.dev, self.sent))
        with open(path, "wb") as f:
            f.write(data)
        self.sent += 1
        self.proc.stdin.write("pub %s\n" % path)
        self.proc.stdin.flush()
        self._wait_for("broker took %s's message" % self.dev, lambda: self.pubacks >= self.sent, self.PUB_S, 0.02)
        os.unlink(path)

    def last(self, ep=0):
        a = [x[1] for x in self.acks if x[0] == ep]
        return a[-1] if a else None

    def wait(self, want, ep=0, timeout=None):
        timeout = self.WAIT_S if timeout is None else timeout
        self._wait_for("%s acked %d (epoch %d)" % (self.dev, want, ep), lambda: self.last(ep) == want, timeout)
        ok("%s acked (epoch %d)" % (self.dev, ep), want)

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(10)
