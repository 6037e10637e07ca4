#!/usr/bin/env python3
"""The collector's metrics and health, scraped by a real Prometheus (issue #16
item 3); run by metrics.sh, which started mosquitto, PostgreSQL and Prometheus
(scraping 127.0.0.1:METRICS_PORT every second, with tools/prometheus/odo-rules.yml).

Traffic from three devices (one beyond [metrics] max_devices = 2), then one of
each refusal (a malformed message, a record the decoder refuses, a record the
database refuses, a range lost at the server, a record outside the partitions),
then a database outage. Every number is read back through Prometheus' query
API and compared with what the test sent and what PostgreSQL holds."""
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import harness as H
import wirelib as W

PROM = os.environ["ODO_PROM_URL"]
MPORT = int(os.environ["METRICS_PORT"])
MURL = "http://127.0.0.1:%d" % MPORT
PG_BIN = os.environ["ODO_PG_BIN"]
PG_DATA = os.environ["_odo_pg_data"]
NOW = time.time()


def query(expr):
    """Instant query: [(labels, value)]."""
    url = "%s/api/v1/query?%s" % (PROM, urllib.parse.urlencode({"query": expr}))
    with urllib.request.urlopen(url, timeout=5) as r:
        body = json.load(r)
    if body.get("status") != "success":
        H.fail("query %s: %s" % (expr, body))
    return [(x["metric"], float(x["value"][1])) for x in body["data"]["result"]]


def value(expr):
    """The single value of expr, or None when it has no series."""
    res = query(expr)
    if len(res) > 1:
        H.fail("%s: %d series, want one: %s" % (expr, len(res), res))
    return res[0][1] if res else None


def prom_wait(what, expr, want, timeout=60):
    """Wait until Prometheus has scraped expr == want (a number, None = no series)."""
    got = []

    def check():
        got[:] = [value(expr)]
        return got[0] == want

    t0 = time.time()
    while time.time() - t0 < timeout:
        if check():
            H.ok(what, want)
            return
        time.sleep(0.25)
    H.fail("%s: Prometheus says %s = %r, want %r" % (what, expr, got[0] if got else None, want))


def prom_until(what, expr, pred, timeout=60):
    t0, v = time.time(), None
    while time.time() - t0 < timeout:
        v = value(expr)
        if v is not None and pred(v):
            H.ok(what, v)
            return v
        time.sleep(0.25)
    H.fail("%s: Prometheus says %s = %r" % (what, expr, v))


def http(path):
    try:
        with urllib.request.urlopen(MURL + path, timeout=15) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def openssl_date(args):
    out = subprocess.run(["openssl"] + args, capture_output=True, text=True, check=True).stdout.strip()
    when = out.split("=", 1)[1]
    return int(subprocess.run(["date", "-u", "-d", when, "+%s"], capture_output=True, text=True,
                              check=True).stdout)


def stored_rows():
    return H.qi("SELECT (SELECT count(*) FROM samples) + (SELECT count(*) FROM events)"
                " + (SELECT count(*) FROM device_status)")


def pg_ctl(*args):
    subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(PG_BIN, "pg_ctl"), "-D", PG_DATA] + list(args),
                   check=True, capture_output=True)


def main():
    H.migrate()
    c = H.Collector("c1", metrics="max_devices = 2\n", mqtt="crlfile = %s/crl.pem\n" % H.PKI)
    # the listen address Prometheus scrapes
    with open(c.ini) as f:
        ini = f.read().replace("listen = 127.0.0.1:0", "listen = 127.0.0.1:%d" % MPORT)
    with open(c.ini, "w") as f:
        f.write(ini)
    c.start()
    H.on_fail(lambda: print(open(os.path.join(H.TMP, "prometheus", "log")).read()[-3000:]))

    # ---- health ------------------------------------------------------------
    prom_wait("Prometheus scrapes the collector", 'up{job="odo-collector"}', 1)
    prom_wait("ready (broker subscribed, database connected)", "odo_collector_ready", 1)
    st, body = http("/livez")
    H.expect("/livez", st, 200)
    st, body = http("/readyz")
    H.expect("/readyz", (st, body.splitlines()[0]), (200, "ready"))
    st, _ = http("/nothing")
    H.expect("unknown path", st, 404)
    try:
        urllib.request.urlopen(urllib.request.Request(MURL + "/metrics", data=b"x", method="POST"), timeout=15)
        H.fail("POST /metrics answered")
    except urllib.error.HTTPError as e:
        H.expect("POST refused", e.code, 405)
    scrape = urllib.request.urlopen(MURL + "/metrics", timeout=5).read()
    lint = subprocess.run(["promtool", "check", "metrics"], input=scrape, capture_output=True)
    if lint.returncode != 0:
        H.fail("promtool check metrics: %s" % (lint.stdout + lint.stderr).decode())
    H.ok("promtool check metrics accepts the exposition (%d bytes)" % len(scrape))
    prom_wait("build_info", 'odo_collector_build_info{name="c1"}', 1)

    # ---- TLS expiry: the very dates in the files -----------------------------
    not_after = openssl_date(["x509", "-in", os.path.join(H.PKI, "collector.crt"), "-noout", "-enddate"])
    next_update = openssl_date(["crl", "-in", os.path.join(H.PKI, "crl.pem"), "-noout", "-nextupdate"])
    prom_wait("certificate notAfter", 'odo_collector_tls_expiry_timestamp_seconds{file="certificate"}', not_after)
    prom_wait("CRL nextUpdate", 'odo_collector_tls_expiry_timestamp_seconds{file="crl"}', next_update)
    prom_wait("both readable", 'sum(odo_collector_tls_file_readable)', 2)

    # ---- traffic (record times relative to now, whatever the set-up took) ----
    global NOW
    NOW = time.time()
    EP = 7
    devs = {d: H.Device(d) for d in ("dev-a", "dev-b", "dev-c")}
    t_a = int(NOW * 1000) - 120000
    recs_a = [W.sample(i + 1, t_a + i * 1000) for i in range(50)]
    recs_a.append(W.record(8, 51, int(NOW * 1000) - 10000, up=3600, obd=1234, oage=567, evict=0, rc=2,
                           canerr=0, gpserr=0, accerr=0, fix=3, clk=0))
    seen0 = time.time()
    devs["dev-a"].pub(W.batch("dev-a", 1, recs_a, v=2, ep=EP, af=0))
    devs["dev-a"].wait(51, EP)
    seen1 = time.time()
    devs["dev-b"].pub(W.batch("dev-b", 1, [W.sample(i + 1, t_a + i * 1000) for i in range(20)], v=2, ep=EP, af=0))
    devs["dev-b"].wait(20, EP)
    devs["dev-c"].pub(W.batch("dev-c", 1, [W.sample(i + 1, t_a + i * 1000) for i in range(5)], v=2, ep=EP, af=0))
    devs["dev-c"].wait(5, EP)
    t_done = time.time()
    H.expect("rows in PostgreSQL", stored_rows(), 76)
    prom_wait("messages accepted", 'odo_collector_messages_total{result="accepted"}', 3)
    prom_wait("records received (samples)", 'odo_collector_records_received_total{kind="sample"}', 75)
    prom_wait("records received (status)", 'odo_collector_records_received_total{kind="status"}', 1)
    prom_wait("records committed = rows stored", "odo_collector_records_committed_total", 76)
    prom_wait("batches committed", "odo_collector_batches_committed_total", 3)
    prom_wait("acks sent", "odo_collector_acks_sent_total", 3)
    # the lag histogram holds one observation per record written, each
    # between (first ack - record time) and (last ack - record time)
    prom_wait("lag observations", "odo_collector_commit_lag_seconds_count", 76)
    lo = seen0 - NOW + 10 - 1      # the status record, the newest: >= ~10 s
    hi = t_done - NOW + 120 + 1    # the oldest sample
    for le, want in (("5", 0), ("300", 76)):
        if not lo > 5 or not hi < 300:
            H.fail("test timing: lag bounds [%.0f, %.0f] s do not fit the buckets" % (lo, hi))
        prom_wait("records with lag <= %s s" % le, 'odo_collector_commit_lag_seconds_bucket{le="%s"}' % le, want)
    s = prom_until("lag sum within bounds", "odo_collector_commit_lag_seconds_sum", lambda v: True)
    mean_lo = (sum((seen0 * 1000 - r["t"]) for r in recs_a) + sum(seen0 * 1000 - t_a - i * 1000 for i in range(20))
               + sum(seen0 * 1000 - t_a - i * 1000 for i in range(5))) / 1000.0
    mean_hi = mean_lo + 76 * (t_done - seen0 + 1)
    if not mean_lo - 1 <= s <= mean_hi:
        H.fail("lag sum %.1f s outside [%.1f, %.1f]" % (s, mean_lo, mean_hi))
    H.ok("lag sum within [%.0f, %.0f] s" % (mean_lo, mean_hi), round(s, 1))
    prom_wait("group sizes add up to the records", "odo_collector_group_commit_records_sum", 76)
    prom_wait("one group per commit", "odo_collector_group_commit_records_count - odo_collector_commits_total", 0)
    prom_wait("queue empty", "odo_collector_queue_bytes", 0)
    prom_wait("queue bound published", "odo_collector_queue_max_bytes", 268435456)

    # ---- devices: bounded, last seen, outbox from the status record ----------
    last_a = prom_until("dev-a last seen", 'odo_collector_device_last_seen_timestamp_seconds{device="dev-a"}',
                        lambda v: seen0 - 1 <= v <= seen1 + 1)
    H.ok("dev-a last seen between its publish and its ack", round(last_a - seen0, 2))
    prom_wait("dev-a outbox records (its status record)", 'odo_collector_device_outbox_records{device="dev-a"}', 1234)
    prom_wait("dev-a oldest outbox age", 'odo_collector_device_outbox_oldest_age_seconds{device="dev-a"}', 567)
    prom_wait("dev-a status time", 'odo_collector_device_status_timestamp_seconds{device="dev-a"}',
              recs_a[-1]["t"] / 1000.0)
    prom_wait("dev-b has no status record: no outbox series", 'odo_collector_device_outbox_records{device="dev-b"}',
              None)
    prom_wait("devices tracked (max_devices = 2)", "odo_collector_devices_tracked", 2)
    prom_wait("dev-c beyond the bound: no series", 'odo_collector_device_last_seen_timestamp_seconds{device="dev-c"}',
              None)
    prom_wait("dev-c's message counted as untracked", "odo_collector_devices_untracked_messages_total", 1)

    # ---- refusals --------------------------------------------------------------
    before_db_errors = value("sum(odo_collector_db_errors_total)") or 0
    devs["dev-a"].pub(b"\xa1\x61\x76\xff garbage")                      # not CBOR: refused whole
    prom_wait("message rejected", 'odo_collector_messages_total{result="rejected"}', 1)
    prom_wait("dead letter: message", 'odo_collector_dead_letters_total{reason="message"}', 1)
    bad = W.sample(52, int(NOW * 1000) - 5000, lat=1000.0)             # the decoder refuses this record alone
    devs["dev-a"].pub(W.batch("dev-a", 52, [bad, W.sample(53, int(NOW * 1000) - 4000)], v=2, ep=EP, af=51))
    devs["dev-a"].wait(53, EP)
    prom_wait("dead letter: record", 'odo_collector_dead_letters_total{reason="record"}', 1)
    # dev-b says [21, 100] were acknowledged: the database had 20
    devs["dev-b"].pub(W.batch("dev-b", 101, [W.sample(101, int(NOW * 1000) - 3000)], v=2, ep=EP, af=100))
    devs["dev-b"].wait(101, EP)
    prom_wait("lost-at-server ranges", "odo_collector_lost_at_server_ranges_total", 1)
    prom_wait("lost-at-server sequence numbers", "odo_collector_lost_at_server_records_total", 80)
    H.expect("lost_at_server row", H.psql("SELECT seq_lo, seq_hi FROM lost_at_server"), [["21", "100"]])
    # a valid record from 2010: no partition for it
    devs["dev-b"].pub(W.batch("dev-b", 102, [W.sample(102, 1262304000000)], v=2, ep=EP, af=101))
    devs["dev-b"].wait(102, EP)
    prom_wait("quarantined", "odo_collector_quarantined_records_total", 1)
    # a record the database refuses (a CHECK standing for any value the schema cannot hold)
    H.psql("ALTER TABLE events ADD CONSTRAINT test_poison CHECK (peak_g IS DISTINCT FROM -4.25)")
    devs["dev-b"].pub(W.batch("dev-b", 103, [W.event(103, int(NOW * 1000) - 2000, pk=-4.25),
                                             W.sample(104, int(NOW * 1000) - 1000)], v=2, ep=EP, af=102))
    devs["dev-b"].wait(104, EP)
    prom_wait("dead letter: database", 'odo_collector_dead_letters_total{reason="database"}', 1)
    prom_until("database errors of class 23 (integrity constraint violation)",
               'odo_collector_db_errors_total{class="23"}', lambda v: v >= 1)
    H.expect("dead_letters rows", H.psql("SELECT reason, count(*) FROM dead_letters GROUP BY 1 ORDER BY 1"),
             [["database", "1"], ["decode", "1"], ["record", "1"]])
    prom_wait("records committed = rows stored", "odo_collector_records_committed_total", stored_rows())

    # ---- the shipped rules, evaluated on these series by the real Prometheus ----
    def alerts():
        with urllib.request.urlopen(PROM + "/api/v1/alerts", timeout=5) as r:
            return json.load(r)["data"]["alerts"]

    def firing(name, **labels):
        return [a for a in alerts() if a["labels"]["alertname"] == name and a["state"] == "firing" and
                all(a["labels"].get(k) == v for k, v in labels.items())]
    H.wait_for("OdoCollectorLostAtServer firing", lambda: firing("OdoCollectorLostAtServer"), 20)
    H.wait_for("OdoCollectorQuarantine firing", lambda: firing("OdoCollectorQuarantine"), 20)
    for reason in ("message", "record", "database"):
        H.wait_for("OdoCollectorDeadLetters firing (%s)" % reason,
                   lambda: firing("OdoCollectorDeadLetters", reason=reason), 20)
    H.ok("alerts firing: lost at server, quarantine, dead letters (message, record, database)")
    if firing("OdoCollectorDatabaseDown") or firing("OdoBrokerCRLExpiresSoon") or firing("OdoCollectorShedding"):
        H.fail("alerts firing that should not: %s" % [a["labels"]["alertname"] for a in alerts()])
    with urllib.request.urlopen(PROM + "/api/v1/rules", timeout=5) as r:
        groups = json.load(r)["data"]["groups"]
    rules = [ru for g in groups for ru in g["rules"]]
    bad_rules = [(ru["name"], ru.get("lastError")) for ru in rules if ru.get("health") != "ok"]
    if len(rules) < 19 or bad_rules:
        H.fail("rules: %d loaded, unhealthy: %s" % (len(rules), bad_rules))
    H.ok("every shipped rule evaluates without error", len(rules))

    # ---- database outage: not ready, errors counted, messages held, then back ----
    pg_ctl("-m", "fast", "-w", "stop")
    prom_wait("not ready while the database is down", "odo_collector_ready", 0)
    prom_wait("database disconnected", 'odo_collector_connected{component="database"}', 0)
    st, body = http("/readyz")
    H.expect("/readyz while the database is down", (st, "database: down" in body), (503, True))
    prom_until("database errors counted", "sum(odo_collector_db_errors_total)", lambda v: v > before_db_errors)
    devs["dev-a"].pub(W.batch("dev-a", 54, [W.sample(54, int(NOW * 1000))], v=2, ep=EP, af=53))
    prom_wait("one message held", "odo_collector_queue_messages", 1)
    prom_until("its bytes held", "odo_collector_queue_bytes", lambda v: v > 0)
    pg_ctl("-w", "-t", "30", "-l", os.path.join(H.TMP, "pg", "log"), "-o",
           "-p %s -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
           % (os.environ["ODO_PG_PORT"], os.environ["ODO_PG_SOCKDIR"]), "start")
    devs["dev-a"].wait(54, EP, timeout=60)
    prom_wait("ready again", "odo_collector_ready", 1)
    prom_wait("queue drained", "odo_collector_queue_bytes", 0)

    for d in devs.values():
        d.close()
    c.stop()
    print("PASS")


if __name__ == "__main__":
    main()
