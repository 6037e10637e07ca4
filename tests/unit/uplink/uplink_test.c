/*
 * Unit tests of the uplink without a broker: argument and file checks, and
 * the reconnect schedule (exponential backoff with seeded jitter) against a
 * loopback port nothing listens on, on a virtual clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "uplink/uplink.h"
#include "uplink/uplink_int.h"

#define ATTEMPTS 10

struct fx {
	char dir[64];
	struct odo_clock clock;
	struct odo_store *st;
	struct odo_uplink_cfg cfg;
};

static int closed_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t l = sizeof(a);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &l), 0);
	close(s); /* bound, never listened: connects are refused */
	return ntohs(a.sin_port);
}

static void touch(const char *path)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("not a certificate\n", f);
	fclose(f);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/odo-uplink-test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	odo_clock_init_virtual(&f->clock, 1700000000LL * ODO_NS_PER_S, 5 * ODO_NS_PER_S);
	struct odo_store_cfg sc;
	memset(&sc, 0, sizeof(sc));
	snprintf(sc.path, sizeof(sc.path), "%s/outbox.db", f->dir);
	assert_int_equal(odo_store_open(&sc, &f->clock, &f->st), ODO_OK);
	struct odo_uplink_cfg *c = &f->cfg;
	snprintf(c->host, sizeof(c->host), "127.0.0.1");
	c->port = closed_port();
	snprintf(c->device_id, sizeof(c->device_id), "dev-unit");
	snprintf(c->cafile, sizeof(c->cafile), "%s/ca.crt", f->dir);
	snprintf(c->certfile, sizeof(c->certfile), "%s/dev.crt", f->dir);
	snprintf(c->keyfile, sizeof(c->keyfile), "%s/dev.key", f->dir);
	touch(c->cafile);
	touch(c->certfile);
	touch(c->keyfile);
	c->keepalive = 30;
	c->ack_timeout = 10;
	c->connect_timeout = 5;
	c->max_inflight = 4;
	c->max_batch_records = 100;
	c->max_batch_bytes = 65536;
	c->backoff_min = 0.5;
	c->backoff_max = 20;
	c->fresh_every = 4;
	c->jitter_seed = 42;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	odo_store_close(f->st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void test_bad_arguments(void **state)
{
	struct fx *f = *state;
	struct odo_uplink *u = NULL;
	struct odo_uplink_cfg c = f->cfg;
	snprintf(c.device_id, sizeof(c.device_id), "bad/id");
	assert_int_equal(odo_uplink_open(&c, &f->clock, f->st, &u), ODO_ERR_INVAL);
	assert_null(u);
	c = f->cfg;
	c.max_inflight = ODO_UPLINK_MAX_INFLIGHT + 1;
	assert_int_equal(odo_uplink_open(&c, &f->clock, f->st, &u), ODO_ERR_INVAL);
	c = f->cfg;
	c.backoff_max = c.backoff_min / 2;
	assert_int_equal(odo_uplink_open(&c, &f->clock, f->st, &u), ODO_ERR_INVAL);
	c = f->cfg;
	snprintf(c.keyfile, sizeof(c.keyfile), "%s/missing.key", f->dir);
	assert_int_equal(odo_uplink_open(&c, &f->clock, f->st, &u), ODO_ERR_CONFIG);
	c = f->cfg;
	snprintf(c.keypass_file, sizeof(c.keypass_file), "%s/missing.pass", f->dir);
	assert_int_equal(odo_uplink_open(&c, &f->clock, f->st, &u), ODO_ERR_CONFIG);
	odo_uplink_close(NULL);
}

/* Drive one connect attempt to its failure; return the delay scheduled (ns). */
static int64_t one_attempt(struct fx *f, struct odo_uplink *u, struct odo_source src)
{
	struct odo_uplink_stats s;
	assert_int_equal(odo_uplink_stats(u, &s), ODO_OK);
	assert_int_equal(s.state, ODO_UPLINK_DOWN);
	uint64_t failures = s.connect_failures;
	/* Move the virtual clock to the scheduled attempt: the deadline says when. */
	int64_t dl = src.ops->deadline(src.self);
	int64_t now = odo_clock_mono_ns(&f->clock);
	if (dl > now)
		odo_clock_advance(&f->clock, dl - now);
	src.ops->tick(src.self);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(odo_uplink_stats(u, &s), ODO_OK);
		if (s.connect_failures > failures)
			break;
		struct pollfd pfd[ODO_SOURCE_MAX_FDS];
		int n = src.ops->pollfds(src.self, pfd, ODO_SOURCE_MAX_FDS);
		if (n > 0 && poll(pfd, (nfds_t)n, 100) >= 0)
			src.ops->handle(src.self, pfd, n);
	}
	assert_int_equal(s.connect_failures, failures + 1);
	assert_int_equal(s.state, ODO_UPLINK_DOWN);
	return s.next_attempt_ns - odo_clock_mono_ns(&f->clock);
}

static void schedule(struct fx *f, long long seed, int64_t *delays)
{
	struct odo_uplink_cfg c = f->cfg;
	c.jitter_seed = seed;
	struct odo_uplink *u = NULL;
	assert_int_equal(odo_uplink_open(&c, &f->clock, f->st, &u), ODO_OK);
	struct odo_source src = odo_uplink_source(u);
	/* The first attempt is due at once. */
	assert_true(src.ops->deadline(src.self) <= odo_clock_mono_ns(&f->clock));
	for (int k = 0; k < ATTEMPTS; k++)
		delays[k] = one_attempt(f, u, src);
	struct odo_uplink_stats s;
	assert_int_equal(odo_uplink_stats(u, &s), ODO_OK);
	assert_int_equal(s.connects, 0);
	assert_int_equal(s.connect_failures, ATTEMPTS);
	odo_uplink_close(u);
}

static void test_backoff_with_jitter(void **state)
{
	struct fx *f = *state;
	int64_t d1[ATTEMPTS], d2[ATTEMPTS], d3[ATTEMPTS];
	schedule(f, 42, d1);
	double base = f->cfg.backoff_min;
	for (int k = 0; k < ATTEMPTS; k++) {
		double b = base > f->cfg.backoff_max ? f->cfg.backoff_max : base;
		/* Equal jitter: within [base/2, base]. */
		assert_true(d1[k] >= (int64_t)(b / 2 * ODO_NS_PER_S) - 1);
		assert_true(d1[k] <= (int64_t)(b * ODO_NS_PER_S) + 1);
		base *= 2;
	}
	/* Capped: the last attempts wait at most backoff_max. */
	assert_true(d1[ATTEMPTS - 1] <= (int64_t)(f->cfg.backoff_max * ODO_NS_PER_S) + 1);
	assert_true(d1[ATTEMPTS - 1] >= (int64_t)(f->cfg.backoff_max / 2 * ODO_NS_PER_S) - 1);
	/* Same seed, same schedule; another seed, another. */
	schedule(f, 42, d2);
	schedule(f, 43, d3);
	int differ = 0;
	for (int k = 0; k < ATTEMPTS; k++) {
		assert_int_equal(d1[k], d2[k]);
		differ |= d1[k] != d3[k];
	}
	assert_true(differ);
}

static void test_flush_offline(void **state)
{
	struct fx *f = *state;
	struct odo_uplink *u = NULL;
	assert_int_equal(odo_uplink_open(&f->cfg, &f->clock, f->st, &u), ODO_OK);
	int64_t now = odo_clock_mono_ns(&f->clock);
	/* Empty outbox: nothing to flush. */
	assert_int_equal(odo_uplink_flush(u, now + ODO_NS_PER_S), ODO_OK);
	struct odo_record r;
	odo_record_init(&r, ODO_REC_TRIP_START);
	r.u.trip_start.trip_id = 1;
	assert_int_equal(odo_store_put(f->st, &r), ODO_OK);
	/* No link: work remains until the deadline, then it gives up; the record stays. */
	assert_int_equal(odo_uplink_flush(u, now + ODO_NS_PER_S), ODO_ERR_AGAIN);
	odo_clock_advance(&f->clock, 2 * ODO_NS_PER_S);
	assert_int_equal(odo_uplink_flush(u, now + ODO_NS_PER_S), ODO_ERR_TIMEOUT);
	struct odo_store_stats s;
	assert_int_equal(odo_store_stats(f->st, &s), ODO_OK);
	assert_int_equal(s.depth, 1);
	odo_uplink_close(u);
}

static void test_config_tables_and_reload(void **state)
{
	struct fx *f = *state;
	struct odo_store_cfg sc;
	struct odo_uplink_cfg uc;
	const struct odo_cfg_section secs[] = {
		{ "store", odo_store_cfg_keys, odo_store_cfg_nkeys, &sc },
		{ "uplink", odo_uplink_cfg_keys, odo_uplink_cfg_nkeys, &uc },
	};
	struct odo_cfg_error err;
	/* Every default in the tables is valid. */
	assert_int_equal(odo_config_defaults(secs, 2, &err), ODO_OK);
	assert_int_equal(uc.port, 8883);
	assert_int_equal(uc.max_inflight, 8);
	static const char text[] = "[store]\npath = /tmp/x.db\nmax_records = 500\n"
				   "[uplink]\nhost = 10.0.0.1\ndevice_id = dev-7\nack_timeout = 2.5\n"
				   "max_batch_records = 50\n";
	assert_int_equal(odo_config_parse_buf("t.conf", text, sizeof(text) - 1, secs, 2, &err), ODO_OK);
	assert_string_equal(sc.path, "/tmp/x.db");
	assert_int_equal(sc.max_records, 500);
	assert_string_equal(uc.device_id, "dev-7");
	assert_true(uc.ack_timeout == 2.5);
	static const char bad[] = "[uplink]\nmax_inflight = 1000\n";
	assert_int_equal(odo_config_parse_buf("t.conf", bad, sizeof(bad) - 1, secs, 2, &err), ODO_ERR_CONFIG);

	struct odo_uplink *u = NULL;
	assert_int_equal(odo_uplink_open(&f->cfg, &f->clock, f->st, &u), ODO_OK);
	struct odo_uplink_cfg c = f->cfg;
	c.backoff_max = 0.1; /* below backoff_min */
	assert_int_equal(odo_uplink_reload(u, &c), ODO_ERR_INVAL);
	c = f->cfg;
	c.backoff_min = 3;
	c.backoff_max = 3;
	assert_int_equal(odo_uplink_reload(u, &c), ODO_OK);
	/* The new backoff is used by the next failure: 3 s with jitter in [1.5, 3]. */
	struct odo_source src = odo_uplink_source(u);
	int64_t d = one_attempt(f, u, src);
	assert_true(d >= (int64_t)(1.5 * ODO_NS_PER_S) - 1 && d <= 3 * ODO_NS_PER_S + 1);
	odo_uplink_close(u);
}

/* Deliver an ack message to the uplink as the broker would. */
static int ack_msg(struct odo_uplink *u, unsigned v, const char *dev, uint64_t epoch, uint64_t n)
{
	struct odo_ack a = { .v = v, .epoch = epoch, .ack = n };
	snprintf(a.device, sizeof(a.device), "%s", dev);
	uint8_t buf[128];
	size_t len = 0;
	assert_int_equal(odo_wire_encode_ack(&a, buf, sizeof(buf), &len), ODO_OK);
	return uplink__handle_ack(u, buf, len);
}

static uint64_t depth(struct fx *f)
{
	struct odo_store_stats s;
	assert_int_equal(odo_store_stats(f->st, &s), ODO_OK);
	return s.depth;
}

/* Acks that are not about this outbox are protocol errors that delete
 * nothing (finding 2 of #11: an ack beyond the last record was clamped and
 * the whole outbox deleted); each case logged and counted. */
static void test_ack_errors_delete_nothing(void **state)
{
	struct fx *f = *state;
	struct odo_uplink *u = NULL;
	assert_int_equal(odo_uplink_open(&f->cfg, &f->clock, f->st, &u), ODO_OK);
	for (int i = 0; i < 10; i++) {
		struct odo_record r;
		odo_record_init(&r, ODO_REC_PHONE);
		assert_int_equal(odo_store_put(f->st, &r), ODO_OK);
	}
	uint64_t ep = odo_store_epoch(f->st);
	assert_true(ep != 0);
	struct odo_uplink_stats s;
	/* the collector's high-water mark of another outbox (179 > 10) */
	assert_int_equal(ack_msg(u, 2, "dev-unit", ep, 179), ODO_ERR_PROTOCOL);
	assert_int_equal(depth(f), 10);
	/* just beyond the last record */
	assert_int_equal(ack_msg(u, 2, "dev-unit", ep, 11), ODO_ERR_PROTOCOL);
	assert_int_equal(depth(f), 10);
	/* another epoch, even for a number this outbox has */
	assert_int_equal(ack_msg(u, 2, "dev-unit", ep ^ 1, 5), ODO_ERR_PROTOCOL);
	assert_int_equal(depth(f), 10);
	/* a version 1 ack has no epoch: not for a version 2 outbox */
	assert_int_equal(ack_msg(u, 1, "dev-unit", 0, 5), ODO_ERR_PROTOCOL);
	assert_int_equal(depth(f), 10);
	assert_int_equal(odo_uplink_stats(u, &s), ODO_OK);
	assert_int_equal(s.ack_errors, 4);
	assert_int_equal(s.acks, 0);
	assert_int_equal(s.bad_acks, 0);
	/* another device's ack, garbage: bad, nothing deleted */
	assert_int_equal(ack_msg(u, 2, "dev-other", ep, 5), ODO_ERR_INVAL);
	static const uint8_t junk[] = { 0xa1, 0x61, 0x76 };
	assert_int_equal(uplink__handle_ack(u, junk, sizeof(junk)), ODO_ERR_WIRE_MALFORMED);
	assert_int_equal(depth(f), 10);
	assert_int_equal(odo_uplink_stats(u, &s), ODO_OK);
	assert_int_equal(s.bad_acks, 2);
	/* the true ack deletes; an older one is harmless */
	assert_int_equal(ack_msg(u, 2, "dev-unit", ep, 6), ODO_OK);
	assert_int_equal(depth(f), 4);
	assert_int_equal(ack_msg(u, 2, "dev-unit", ep, 3), ODO_OK);
	assert_int_equal(depth(f), 4);
	assert_int_equal(ack_msg(u, 2, "dev-unit", ep, 10), ODO_OK);
	assert_int_equal(depth(f), 0);
	assert_int_equal(odo_uplink_stats(u, &s), ODO_OK);
	assert_int_equal(s.ack_errors, 4);
	assert_int_equal(s.last_ack, 10);
	odo_uplink_close(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_errors_delete_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backoff_with_jitter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_offline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_tables_and_reload, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
