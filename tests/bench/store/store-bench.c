/*
 * store-bench — measurements for tests/bench/store/bench.sh.
 *
 *   store-bench put DB N [KEY] N samples through odo_store_put (one commit each);
 *                              with KEY, a sealed outbox ([store] key_file = KEY)
 *   store-bench read DB [KEY]  every record of DB out through odo_store_next_batch
 *                              (100 per batch; sealed: opened) and odo_store_ack
 *   store-bench sqlite DIR N   baseline: the same rows (same schema, WAL,
 *                              synchronous=NORMAL, one commit each) inserted
 *                              with one prepared statement, payload pre-encoded
 *   store-bench fill DB N      fill an outbox with N samples (for the drain run)
 *   store-bench rawpub PORT CA CERT KEY DEVICE MSGS BYTES
 *                              baseline: MSGS QoS 1 messages of BYTES bytes
 *                              published with libmosquitto over TLS, until
 *                              every PUBACK is in
 * Each prints "<label> <count> <seconds>" on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <sqlite3.h>

#include "store/store.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct odo_record sample(uint64_t i)
{
	struct odo_record r;
	odo_record_init(&r, ODO_REC_SAMPLE);
	r.u.sample.trip_id = 1;
	r.u.sample.fix = ODO_FIX_3D;
	r.u.sample.lat = 48.0 + (double)i * 1e-6;
	r.u.sample.lon = 11.0 + (double)i * 1e-6;
	r.u.sample.speed_mps = 13.5;
	r.u.sample.heading_deg = 90.0;
	r.u.sample.rpm = 2100;
	return r;
}

static struct odo_store *open_store(const char *path, const char *key, struct odo_clock *clock)
{
	odo_clock_init_system(clock);
	struct odo_store_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.path, sizeof(cfg.path), "%s", path);
	if (key)
		snprintf(cfg.key_file, sizeof(cfg.key_file), "%s", key);
	struct odo_store *st = NULL;
	char why[512];
	if (odo_store_open_why(&cfg, clock, &st, why, sizeof why) != ODO_OK) {
		fprintf(stderr, "store-bench: %s\n", why);
		return NULL;
	}
	return st;
}

static int cmd_read(const char *path, const char *key)
{
	struct odo_clock clock;
	struct odo_store *st = open_store(path, key, &clock);
	if (!st)
		return 1;
	double t0 = now_s();
	long n = 0;
	struct odo_store_batch b;
	int rc;
	while ((rc = odo_store_next_batch(st, 100, 0, ODO_STORE_STRICT, &b)) == ODO_OK) {
		n += (long)b.n;
		if (odo_store_ack(st, b.last) != ODO_OK)
			return 1;
	}
	double dt = now_s() - t0;
	odo_store_close(st);
	if (rc != ODO_ERR_NOTFOUND)
		return 1;
	printf("outbox_read %ld %.6f\n", n, dt);
	return 0;
}

static int cmd_put(const char *path, long n, int fill, const char *key)
{
	struct odo_clock clock;
	struct odo_store *st = open_store(path, key, &clock);
	if (!st)
		return 1;
	double t0 = now_s();
	for (long i = 0; i < n; i++) {
		struct odo_record r = sample((uint64_t)i);
		if (odo_store_put(st, &r) != ODO_OK)
			return 1;
	}
	double dt = now_s() - t0;
	struct odo_store_stats ss;
	if (odo_store_stats(st, &ss) != ODO_OK)
		return 1;
	odo_store_close(st);
	printf("%s %ld %.6f %llu\n", fill ? "fill" : "outbox_put", n, dt,
	       (unsigned long long)(ss.depth ? ss.bytes / ss.depth : 0));
	return 0;
}

static int cmd_sqlite(const char *path, long n)
{
	/* Same schema and pragmas as agent/store/store.c. */
	static const char schema[] =
		"PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
		"CREATE TABLE outbox(seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL, prio INTEGER NOT NULL,"
		" t_ms INTEGER NOT NULL, tsrc INTEGER NOT NULL, sent INTEGER NOT NULL DEFAULT 0, body BLOB NOT NULL);"
		"CREATE INDEX outbox_prio ON outbox(prio, seq);"
		"CREATE INDEX outbox_sent ON outbox(sent, seq);";
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK || sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK)
		return 1;
	sqlite3_stmt *ins = NULL;
	if (sqlite3_prepare_v2(db, "INSERT INTO outbox(seq, kind, prio, t_ms, tsrc, sent, body) VALUES(?1, 4, 0, ?2, 1, 0, ?3)",
			       -1, &ins, NULL) != SQLITE_OK)
		return 1;
	uint8_t buf[ODO_WIRE_MAX_RECORD_BYTES];
	size_t len = 0;
	struct odo_record r = sample(0);
	r.seq = 1;
	r.t_ms = 1700000000000LL;
	if (odo_wire_encode_record(&r, buf, sizeof(buf), &len) != ODO_OK)
		return 1;
	double t0 = now_s();
	for (long i = 0; i < n; i++) {
		sqlite3_bind_int64(ins, 1, i + 1);
		sqlite3_bind_int64(ins, 2, 1700000000000LL + i);
		sqlite3_bind_blob(ins, 3, buf, (int)len, SQLITE_STATIC);
		if (sqlite3_step(ins) != SQLITE_DONE)
			return 1;
		sqlite3_reset(ins);
	}
	double dt = now_s() - t0;
	sqlite3_finalize(ins);
	sqlite3_close(db);
	printf("sqlite_insert %ld %.6f\n", n, dt);
	return 0;
}

static long g_pubacks;

static void on_publish(struct mosquitto *m, void *obj, int mid)
{
	(void)m;
	(void)obj;
	(void)mid;
	g_pubacks++;
}

static int cmd_rawpub(int port, const char *ca, const char *cert, const char *key, const char *dev, long msgs,
		      long bytes)
{
	mosquitto_lib_init();
	struct mosquitto *m = mosquitto_new(dev, true, NULL);
	if (!m)
		return 1;
	mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	if (mosquitto_tls_set(m, ca, NULL, cert, key, NULL) != MOSQ_ERR_SUCCESS)
		return 1;
	mosquitto_publish_callback_set(m, on_publish);
	if (mosquitto_connect(m, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS)
		return 1;
	char topic[128];
	snprintf(topic, sizeof(topic), "odo/v1/%s/up", dev);
	uint8_t *payload = calloc(1, (size_t)bytes);
	if (!payload)
		return 1;
	double t0 = now_s();
	long sent = 0;
	while (g_pubacks < msgs) {
		/* Keep a window like the uplink's (8 in flight). */
		while (sent < msgs && sent - g_pubacks < 8) {
			if (mosquitto_publish(m, NULL, topic, (int)bytes, payload, 1, false) != MOSQ_ERR_SUCCESS)
				return 1;
			sent++;
		}
		if (mosquitto_loop(m, 100, 1) != MOSQ_ERR_SUCCESS)
			return 1;
	}
	double dt = now_s() - t0;
	mosquitto_disconnect(m);
	mosquitto_destroy(m);
	free(payload);
	printf("raw_publish %ld %.6f\n", msgs, dt);
	return 0;
}

int main(int argc, char **argv)
{
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "put") == 0)
		return cmd_put(argv[2], atol(argv[3]), 0, argc == 5 ? argv[4] : NULL);
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "read") == 0)
		return cmd_read(argv[2], argc == 4 ? argv[3] : NULL);
	if (argc == 4 && strcmp(argv[1], "fill") == 0)
		return cmd_put(argv[2], atol(argv[3]), 1, NULL);
	if (argc == 4 && strcmp(argv[1], "sqlite") == 0)
		return cmd_sqlite(argv[2], atol(argv[3]));
	if (argc == 9 && strcmp(argv[1], "rawpub") == 0)
		return cmd_rawpub(atoi(argv[2]), argv[3], argv[4], argv[5], argv[6], atol(argv[7]), atol(argv[8]));
	fprintf(stderr, "usage: see the top of store-bench.c\n");
	return 2;
}
