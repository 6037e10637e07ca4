/* GPS replay parsing: gpsd JSON checked, TPVs through libgps's own parser, and garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>
#include <unistd.h>

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

/* The fixture: a replay-only GPS source on a virtual clock (real time
 * real_ns) delivering to on_gps(), with the fix counter reset. */
static const struct odo_sink view_sink = {.gps = on_gps};

static struct odo_gps *open_view(struct odo_clock *c, int64_t real_ns)
{
	struct odo_gps *g = NULL;
	odo_clock_init_virtual(c, 0, real_ns);
	assert_int_equal(odo_gps_open(NULL, c, &view_sink, &g), ODO_OK);
	n = 0;
	return g;
}

static void test_tpv(void **st)
{
	(void)st;
	struct odo_clock c;
	struct odo_gps *g = open_view(&c, 42);
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

struct refusal {
	const char *line;
	const char *why; /* odo_gps_error() afterwards */
};

static void expect_refused(struct odo_gps *g, const struct refusal *r, size_t nr)
{
	struct odo_gps_stats s0, s1;
	for (size_t i = 0; i < nr; i++) {
		odo_gps_stats(g, &s0);
		int before = n;
		int rc = feed(g, r[i].line);
		if (rc != ODO_ERR_PROTOCOL)
			fail_msg("'%s': returned %d, not ODO_ERR_PROTOCOL", r[i].line, rc);
		if (strcmp(odo_gps_error(g), r[i].why) != 0)
			fail_msg("'%s': reason '%s', expected '%s'", r[i].line, odo_gps_error(g), r[i].why);
		odo_gps_stats(g, &s1);
		assert_int_equal(s1.src.errors, s0.src.errors + 1);
		assert_int_equal(s1.reports, s0.reports);
		assert_int_equal(n, before);
	}
}

static void test_garbage(void **st)
{
	(void)st;
	struct odo_clock c;
	struct odo_gps *g = open_view(&c, 0);
	/* Not JSON, not one object, no class, and TPVs whose members deliver_tpv()
	 * reads have the wrong type (libgps alone reads "mode":"x" and "lon":} as
	 * absent). Byte offsets count from the report's first character. */
	static const struct refusal bad[] = {
	    {"", "not a JSON object at byte 0"},
	    {"garbage", "not a JSON object at byte 0"},
	    {"$GPRMC,071732.929,V,8960.0000,N,00000.0000,E,0.00,0.00,111111,,,N*73",
	     "not a JSON object at byte 0"},
	    {"{\"class\":\"TPV\",\"mode\":3,\"lat\":", "expected a value at byte 30"},
	    {"{{{{", "expected a key at byte 1"},
	    {"{\"class\":\"TPV\"", "unterminated object at byte 14"},
	    {"{\"class\":\"TPV\",\"lon\":}", "expected a value at byte 21"},
	    {"{\"class\":\"TPV\",\"mode\":\"x\"}", "TPV \"mode\": not a fix mode (0..3) at byte 22"},
	    {"{\"class\":\"TPV\",\"mode\":4}", "TPV \"mode\": not a fix mode (0..3) at byte 22"},
	    {"{\"class\":\"TPV\",\"speed\":\"fast\"}", "TPV \"speed\": not a number at byte 23"},
	    {"{\"class\":\"TPV\",\"lat\":1e999}", "TPV \"lat\": number out of range at byte 21"},
	    {"{\"class\":\"TPV\",\"lat\":1.5,\"lat\":2}", "TPV \"lat\" given twice at byte 31"},
	    {"{\"class\":\"TPV\",\"time\":\"2024-05-14 08:00:05Z\"}",
	     "TPV \"time\": not an ISO 8601 UTC time at byte 22"},
	    {"{\"class\":\"TPV\",\"status\":2.5}", "TPV \"status\": not an integer at byte 24"},
	    {"{\"mode\":3}", "no \"class\" key"},
	    {"{\"class\":5}", "\"class\" is not a string at byte 9"},
	    {"{\"class\":\"tpv\"}", "\"class\" is not a gpsd class name at byte 9"},
	    {"{\"class\":\"TPV\",\"x\":\"a\001\"}", "control character in a string at byte 21"},
	    {"{\"class\":\"SKY\",\"satellites\":{\"PRN\":1}}", "SKY \"satellites\": not an array at byte 28"},
	};
	expect_refused(g, bad, ODO_ARRAY_LEN(bad));
	char nul[] = "{\"class\":\"TPV\",\"mode\":3}";
	nul[3] = '\0';
	assert_int_equal(odo_gps_feed_json(g, nul, sizeof nul - 1), ODO_ERR_PROTOCOL);
	assert_string_equal(odo_gps_error(g), "NUL byte at byte 3");
	char big[ODO_GPS_JSON_MAX + 10];
	memset(big, ' ', sizeof big);
	big[0] = '{';
	big[sizeof big - 1] = '}';
	assert_int_equal(odo_gps_feed_json(g, big, sizeof big), ODO_ERR_TOOBIG);
	assert_string_equal(odo_gps_error(g), "longer than 4096 bytes");
	assert_int_equal(n, 0);
	struct odo_gps_stats s;
	odo_gps_stats(g, &s);
	assert_int_equal(s.src.errors, ODO_ARRAY_LEN(bad) + 2);
	/* still works afterwards, and an accepted line clears the reason */
	assert_int_equal(feed(g, "{\"class\":\"TPV\",\"mode\":2,\"lat\":1.0,\"lon\":2.0}"), ODO_OK);
	assert_string_equal(odo_gps_error(g), "");
	assert_int_equal(n, 1);
	odo_gps_close(g);
	odo_gps_close(NULL);
	assert_string_equal(odo_gps_error(NULL), "");
}

/*
 * Issue #3: each of these lines sent libgps 3.22's gps_unpack() round for
 * ever (checked against Debian 12's libgps.so.28; the first four passed the
 * checks before the fix, the fuzzer found the second and third). Each is now
 * refused with its reason, promptly (SIGALRM fails the test if not), and a
 * valid TPV after it still decodes.
 */
static void test_libgps_hangs_refused(void **st)
{
	(void)st;
	struct odo_clock c;
	struct odo_gps *g = open_view(&c, 0);
	static const struct refusal hang[] = {
	    {"{\"class\":\"SKY\",\"satellites\":[{\"PRN\":1,\"class\":\"SKY\",\"used\":\"x\"}]}",
	     "SKY satellite \"used\": not true or false at byte 59"},
	    {"{\"class\":\"TPV\",\"device\":{\"class\":\"SKY\",\"xdop\":1.2}}",
	     "TPV \"device\": not a string at byte 24"},
	    {"{\"es\":[{\"PRn\":26,\"class\":\"TPV\"}]}\r\n", "no \"class\" key"},
	    {"{\"class\":\"TPV\",\"mode\":\"x\",\"y\":{\"class\":\"TPV\"}}",
	     "TPV \"mode\": not a fix mode (0..3) at byte 22"},
	    {"{\"class\":\"TPV\",\"time\":5,\"q\":[{\"class\":\"TPV\"}]}",
	     "TPV \"time\": not an ISO 8601 UTC time at byte 22"},
	    {"{\"class\":\"TPV\",\"lat\":[1],\"x\":[{\"class\":\"TPV\"}]}",
	     "TPV \"lat\": not a number at byte 21"},
	    {"{\"class\":\"SKY\",\"satellites\":[{\"PRN\":\"x\"}],\"devices\":[{\"class\":\"DEVICE\"}]}",
	     "SKY satellite \"PRN\": not an integer at byte 36"},
	    {"{\"class\":\"TPV\",\"mode\":3} x \"class\":\"TPV\"", "text after the object at byte 25"},
	    {"{\"class\":\"TPV\",\"devico_cajor\":4,\"class\":\"VERSION\",\"release\":\"3.22\"}",
	     "two \"class\" keys at byte 32"},
	    {"{\"class\":\"TPV\",\"mxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx{\"class\":\"VERSION\"}",
	     "expected ':' at byte 60"},
	};
	alarm(30);
	for (size_t i = 0; i < ODO_ARRAY_LEN(hang); i++) {
		n = 0;
		expect_refused(g, &hang[i], 1);
		assert_int_equal(
		    feed(g, "{\"class\":\"TPV\",\"mode\":3,\"lat\":1.25,\"lon\":-2.5,\"altMSL\":7.5}"),
		    ODO_OK);
		assert_int_equal(n, 1);
		assert_int_equal(fx[0].mode, ODO_FIX_3D);
		assert_true(fx[0].lat == 1.25 && fx[0].lon == -2.5 && fx[0].alt_m == 7.5);
	}
	alarm(0);
	odo_gps_close(g);
}

/* What is accepted: members the fix does not use pass unchecked and never
 * reach libgps (even with nested "class" keys); other classes are counted. */
static void test_accepted(void **st)
{
	(void)st;
	struct odo_clock c;
	struct odo_gps *g = open_view(&c, 0);
	alarm(30);
	assert_int_equal(
	    feed(g, " {\"x\":{\"class\":\"SKY\",\"y\":[{\"class\":\"TPV\"}]},\"mode\":2,\"class\":\"TPV\","
	            "\"lat\":-0.5,\"lon\":1,\"time\":\"2024-05-14T08:00:05.25Z\",\"z\":null} \r\n"),
	    ODO_OK);
	assert_int_equal(n, 1);
	assert_int_equal(fx[0].mode, ODO_FIX_2D);
	assert_true(fx[0].lat == -0.5 && fx[0].lon == 1.0);
	assert_int_equal(fx[0].t_ms, 1715673605250LL);
	/* a SKY as gpsd 3.22 writes it, other classes, and an unknown class */
	static const char sky[] =
	    "{\"class\":\"SKY\",\"device\":\"/dev/pts/"
	    "1\",\"xdop\":1.26,\"nSat\":2,\"uSat\":1,\"satellites\":["
	    "{\"PRN\":26,\"el\":34.0,\"az\":52.0,\"ss\":33.0,\"used\":true,\"gnssid\":0,\"svid\":26},"
	    "{\"PRN\":19,\"el\":0.0,\"az\":0.0,\"ss\":36.0,\"used\":false,\"gnssid\":0,\"svid\":19}]}";
	static const char devices[] =
	    "{\"class\":\"DEVICES\",\"devices\":[{\"class\":\"DEVICE\",\"path\":\"/dev/pts/1\",\"activated\":"
	    "\"2024-05-14T08:00:00.000Z\",\"native\":0,\"bps\":4800}]}";
	const char *other[] = {
	    sky,
	    devices,
	    "{\"class\":\"WATCH\",\"enable\":true,\"json\":true,\"nmea\":false,\"raw\":0}",
	    "{\"class\":\"GST\",\"lat\":1.0,\"lat\":2.0}",
	    "{\"class\":\"FUTURE2\",\"anything\":[1,\"x\",{\"class\":\"TPV\"}]}",
	};
	for (size_t i = 0; i < ODO_ARRAY_LEN(other); i++)
		if (feed(g, other[i]) != ODO_OK)
			fail_msg("refused '%s': %s", other[i], odo_gps_error(g));
	alarm(0);
	assert_int_equal(n, 1);
	struct odo_gps_stats s;
	odo_gps_stats(g, &s);
	assert_int_equal(s.reports, 1 + ODO_ARRAY_LEN(other));
	assert_int_equal(s.src.received, 1);
	assert_int_equal(s.src.errors, 0);
	odo_gps_close(g);
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
	    cmocka_unit_test(test_libgps_hangs_refused),
	    cmocka_unit_test(test_accepted),
	    cmocka_unit_test(test_backoff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
