#!/usr/bin/env python3
"""collector_refresh_isolation: one driver's trips must not stop every
driver's monthly features (found by the lifecycle soak).

A stored trip can hold a value no feature can be computed from. The soak
found it with a max speed of 1.5e308 m/s, which the wire decoder then
accepted; the decoder now refuses it (physical bounds), so this test plants
the value in the database the way a restored or hand-edited row would: the
month's max_speed_mph (max * 2.2369) overflows double precision (SQLSTATE
22003). The ingest loop refreshed every marked (driver,
month) in one statement, so that statement failed every refresh_s, for
ever, and no driver's features were refreshed again. Now the marked pairs are
refreshed one by one after such a failure: dev-b's driver gets its features,
the poisoned pair keeps its mark and is reported (ERROR, naming the driver,
month and SQLSTATE), and once its data is corrected it is refreshed too.
Run by refresh_isolation.sh against real mosquitto (TLS) and PostgreSQL.
"""
import datetime as dt
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soak as S  # noqa: E402


def expect(what, got, want):
    if got != want:
        S.fail("%s: got %r, want %r" % (what, got, want))
    print("ok: %s = %r" % (what, got), flush=True)


def main():
    c = S.Collector("c1", 1, refresh_s=1)
    r = S.subprocess.run([S.COLLECTOR, "--config", c.ini, "migrate"], capture_output=True, text=True)
    if r.returncode:
        S.fail("migrate: " + r.stderr)
    S.register(c.ini, [("dev-a", "drv-a", None), ("dev-b", "drv-b", None)])
    c.start()
    t = S.NOW_MS - 3600 * 1000
    month = dt.datetime.fromtimestamp(t / 1000, dt.timezone.utc).strftime("%Y-%m")
    for dev in ("dev-a", "dev-b"):
        d = S.Devsim(dev)
        recs = [{"s": 1, **S.rec(1, t, trip=1)},
                {"s": 2, **S.rec(2, t + 600000, trip=1, **S.trip_end_fields(t, t + 600000, vmax=31.0))}]
        d.pub(S.W.batch(dev, 1, recs, v=2, ep=7, af=0))
        S.wait_for("%s acknowledged" % dev, lambda: (7, 2) in d.acks, 30)
    S.wait_for("both drivers' features", lambda: S.q1("SELECT count(*) FROM monthly_features WHERE month = '%s'"
                                                       % month) == "2", 20)
    # the poison, and both pairs marked in one statement: the next refresh meets them together
    S.psql("UPDATE trips SET max_speed_mps = 1.5e308 WHERE device_id = 'dev-a';"
           "UPDATE trips SET max_speed_mps = 31.0 + 0.0 WHERE device_id = 'dev-b';"
           "DELETE FROM monthly_features;"
           "INSERT INTO monthly_features_dirty (driver_id, month) VALUES ('drv-a', '%s'), ('drv-b', '%s')"
           % (month, month))
    S.wait_for("drv-b's features", lambda: S.q1("SELECT total_trips FROM monthly_features WHERE driver_id = 'drv-b'"
                                                 " AND month = '%s'" % month) == "1", 20)
    expect("drv-b's max speed, mph", S.q1("SELECT round(max_speed_mph::numeric, 2) FROM monthly_features"
                                          " WHERE driver_id = 'drv-b'"), "69.35")
    expect("the marks left", S.psql("SELECT driver_id, month FROM monthly_features_dirty"), [["drv-a", month]])
    expect("drv-a's features", S.q1("SELECT count(*) FROM monthly_features WHERE driver_id = 'drv-a'"), "0")
    said = "monthly features of driver drv-a for %s not computed: SQLSTATE 22003" % month
    S.wait_for("the poisoned pair reported", lambda: said in c.text(), 10)
    print("ok: logged:", [ln for ln in c.text().splitlines() if said in ln][0].split(" ERROR ", 1)[-1][:160])
    # an operator corrects the impossible value: the next refresh computes it
    S.psql("UPDATE trips SET max_speed_mps = 40 WHERE device_id = 'dev-a'")
    S.wait_for("drv-a refreshed once corrected", lambda: S.q1(
        "SELECT total_trips FROM monthly_features WHERE driver_id = 'drv-a'") == "1", 20)
    expect("no marks left", S.psql("SELECT count(*) FROM monthly_features_dirty"), [["0"]])
    c.stop()
    print("OK: one driver's poisoned month holds up no other driver's features")


if __name__ == "__main__":
    try:
        main()
    except S.SoakFail as e:
        print("FAIL:", e)
        for c in S.Collector.all:
            print("\n".join(c.text().splitlines()[-30:]))
        sys.exit(1)
    finally:
        for p in S.PROCS:
            if p.poll() is None:
                p.kill()
                p.wait()
