/* GPS replay parsing: gpsd JSON through libgps's own parser, and garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "gps/gps.h"

static struct odo_gps_fix fx[8];
static int n;

static void on_gps(void *ctx, const struct odo_gps_fix *f)
{
	(void)ctx;
	if (n < 8)
		fx[n++] = *f;
}

static int feed(struct odo_gps *g, const char *s)
{
	return odo_gps_feed_json(g, s, strlen(s));
}

static void test_tpv(void **st)
{
	(void)st;
	struct odo_clock c;
	odo_clock_init_virtual(&c, 0, 42);
	struct odo_sink sink = { .gps = on_gps };
	struct odo_gps *g;
	assert_int_equal(odo_gps_open(NULL, &c, &sink, &g), ODO_OK);
	n = 0;
	/* from tr737A+.log.chk (gpsd 3.22) */
	assert_int_equal(feed(g, "{\"class\":\"TPV\",\"mode\":3,\"time\":\"2031-06-27T07:17:37.000Z\",\"ept\":0.005,"
				 "\"lat\":44.068763333,\"lon\":-121.314228333,\"altHAE\":1111.4000,\"altMSL\":1131.0000,"
				 "\"alt\":1131.0000,\"epx\":59.364,\"epy\":68.891,\"epv\":22.540,\"magvar\":14.4,"
				 "\"speed\":16.318,\"climb\":-3.400,\"eps\":137.78,\"epc\":45.08,\"eph\":98.800}\n"),
			 ODO_OK);
	assert_int_equal(n, 1);
	assert_int_equal(fx[0].mono_ns, 42);
	assert_int_equal(fx[0].mode, ODO_FIX_3D);
	assert_int_equal(fx[0].t_ms, 1940311057000LL);
	assert_true(fabs(fx[0].lat - 44.068763333) < 1e-12);
	assert_true(fabs(fx[0].lon + 121.314228333) < 1e-12);
	assert_true(fabs(fx[0].alt_m - 1131.0) < 1e-9);
	assert_true(fabs(fx[0].speed_mps - 16.318) < 1e-9);
	assert_true(isnan(fx[0].track_deg));
	assert_true(fabs(fx[0].ept - 0.005) < 1e-12);
	assert_true(fabs(fx[0].eps - 137.78) < 1e-9);
	/* 2D: no altitude even if gpsd sent one */
	assert_int_equal(feed(g, "{\"class\":\"TPV\",\"mode\":2,\"lat\":1.5,\"lon\":2.5,\"altMSL\":100.0,\"track\":90.0}"),
			 ODO_OK);
	assert_int_equal(fx[1].mode, ODO_FIX_2D);
	assert_true(isnan(fx[1].alt_m));
	assert_true(fabs(fx[1].track_deg - 90.0) < 1e-12);
	/* no fix: coordinates are not a position */
	assert_int_equal(feed(g, "{\"class\":\"TPV\",\"mode\":1,\"lat\":1.5,\"lon\":2.5}"), ODO_OK);
	assert_int_equal(fx[2].mode, ODO_FIX_NONE);
	assert_true(isnan(fx[2].lat) && isnan(fx[2].lon));
	assert_int_equal(fx[2].t_ms, 0);
	/* other classes parse but are not TPVs */
	assert_int_equal(feed(g, "{\"class\":\"VERSION\",\"release\":\"3.22\",\"rev\":\"3.22\",\"proto_major\":3,\"proto_minor\":14}"),
			 ODO_OK);
	assert_int_equal(n, 3);
	struct odo_gps_stats s;
	odo_gps_stats(g, &s);
	assert_int_equal(s.src.received, 3);
	assert_int_equal(s.src.errors, 0);
	assert_int_equal(s.connected, 0);
	odo_gps_close(g);
}

static void test_garbage(void **st)
{
	(void)st;
	struct odo_clock c;
	odo_clock_init_virtual(&c, 0, 0);
	struct odo_sink sink = { .gps = on_gps };
	struct odo_gps *g;
	assert_int_equal(odo_gps_open(NULL, &c, &sink, &g), ODO_OK);
	n = 0;
	/* libgps's parser is lenient with some malformed values ("mode":"x",
	 * "lon":} are accepted as absent), so only what it rejects is listed. */
	const char *bad[] = {
		"", "garbage", "$GPRMC,071732.929,V,8960.0000,N,00000.0000,E,0.00,0.00,111111,,,N*73",
		"{\"class\":\"TPV\",\"mode\":3,\"lat\":", 
		"{{{{", "{\"class\":\"TPV\"",
	};
	for (size_t i = 0; i < ODO_ARRAY_LEN(bad); i++) {
		int rc = feed(g, bad[i]);
		if (rc == ODO_OK)
			fail_msg("accepted garbage: %s", bad[i]);
	}
	char big[ODO_GPS_JSON_MAX + 10];
	memset(big, ' ', sizeof big);
	big[0] = '{';
	big[sizeof big - 1] = '}';
	assert_int_equal(odo_gps_feed_json(g, big, sizeof big), ODO_ERR_TOOBIG);
	assert_int_equal(n, 0);
	struct odo_gps_stats s;
	odo_gps_stats(g, &s);
	assert_int_equal(s.src.errors, ODO_ARRAY_LEN(bad) + 1);
	/* still works afterwards */
	assert_int_equal(feed(g, "{\"class\":\"TPV\",\"mode\":2,\"lat\":1.0,\"lon\":2.0}"), ODO_OK);
	assert_int_equal(n, 1);
	odo_gps_close(g);
	odo_gps_close(NULL);
}

/* A gpsd that is not there: no error, backoff doubling up to the max. */
static void test_backoff(void **st)
{
	(void)st;
	struct odo_clock c;
	odo_clock_init_virtual(&c, 0, 0);
	struct odo_gps_cfg cfg = { .host = "127.0.0.1", .port = "1", .reconnect_min_ms = 100,
				   .reconnect_max_ms = 400 };
	struct odo_gps *g;
	assert_int_equal(odo_gps_open(&cfg, &c, NULL, &g), ODO_OK);
	struct odo_source s = odo_gps_source(g);
	int64_t want[] = { 100, 200, 400, 400 };
	for (int i = 0; i < 4; i++) {
		int64_t dl = s.ops->deadline(s.self);
		assert_int_equal(dl - odo_clock_mono_ns(&c), want[i] * ODO_NS_PER_MS);
		odo_clock_advance(&c, dl - odo_clock_mono_ns(&c));
		s.ops->tick(s.self);
	}
	struct odo_gps_stats gs;
	odo_gps_stats(g, &gs);
	assert_int_equal(gs.connect_failures, 5);
	odo_gps_close(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tpv),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_backoff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
