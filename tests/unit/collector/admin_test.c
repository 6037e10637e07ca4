/* Unit tests of collector/admin/fields.c: the checks every operator command
 * makes before it writes anything (times, ids, field values). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "admin/admin_int.h"

/* 2026-11-03T08:12:01.5Z */
#define NOW_US (INT64_C(1793693521) * 1000000 + 500000)

static void times_become_utc(void **st)
{
	(void)st;
	static const struct {
		const char *in, *out;
	} ok[] = {
		{ "2026-11-01", "2026-11-01 00:00:00.000000+00" },
		{ "2026-11-01T08:00Z", "2026-11-01 08:00:00.000000+00" },
		{ "2026-11-01T08:00:30Z", "2026-11-01 08:00:30.000000+00" },
		{ "2026-11-01 08:00:30.25Z", "2026-11-01 08:00:30.250000+00" },
		{ "2026-11-01T08:00:30.123456Z", "2026-11-01 08:00:30.123456+00" },
		{ "2026-11-01T08:00:00+02:00", "2026-11-01 06:00:00.000000+00" },
		{ "2026-11-01T01:30:00+0230", "2026-10-31 23:00:00.000000+00" },
		{ "2026-11-01T22:00:00-05", "2026-11-02 03:00:00.000000+00" },
		{ "2024-02-29", "2024-02-29 00:00:00.000000+00" },
		{ "2000-02-29T23:59:59Z", "2000-02-29 23:59:59.000000+00" },
		{ "1970-01-01", "1970-01-01 00:00:00.000000+00" },
		{ "now", "2026-11-03 08:12:01.500000+00" },
	};
	char out[ADMIN_TIME_MAX], why[ADMIN_WHY_MAX];
	for (size_t i = 0; i < ODO_ARRAY_LEN(ok); i++) {
		why[0] = '\0';
		int rc = admin__parse_time("--from", ok[i].in, NOW_US, out, why, sizeof why);
		if (rc)
			print_error("%s: %s\n", ok[i].in, why);
		assert_int_equal(rc, ODO_OK);
		assert_string_equal(out, ok[i].out);
	}
}

static void bad_times_are_refused_by_name(void **st)
{
	(void)st;
	static const char *const bad[] = {
		"",
		"yesterday",
		"2026-13-01",
		"2026-02-29",          /* not a leap year */
		"2026-11-31",
		"2026-11-01T24:00Z",
		"2026-11-01T08:60Z",
		"2026-11-01T08:00:61Z",
		"2026-11-01T08Z",
		"2026-11-01T08:00:00.Z",
		"2026-11-01T08:00:00.1234567Z", /* more than microseconds */
		"2026-11-01T08:00:00+15:00",
		"2026-11-01T08:00:00+02:00x",
		"2026-11-01x",
		"1969-12-31",
		"2201-01-01",
		"26-11-01",
	};
	char out[ADMIN_TIME_MAX], why[ADMIN_WHY_MAX];
	for (size_t i = 0; i < ODO_ARRAY_LEN(bad); i++) {
		why[0] = '\0';
		if (admin__parse_time("--at", bad[i], NOW_US, out, why, sizeof why) != ODO_ERR_INVAL)
			fail_msg("accepted '%s'", bad[i]);
		assert_non_null(strstr(why, "--at"));
	}
	/* a local time without a zone: refused with the reason */
	assert_int_equal(admin__parse_time("--from", "2026-11-01T08:00", NOW_US, out, why, sizeof why), ODO_ERR_INVAL);
	assert_non_null(strstr(why, "time zone"));
}

static const struct admin_field *field(const struct admin_table *t, const char *opt)
{
	const struct admin_field *f = admin__field(t, opt);
	assert_non_null(f);
	return f;
}

static int check(const struct admin_table *t, const char *opt, const char *v)
{
	char why[ADMIN_WHY_MAX] = "";
	int rc = admin__check_value(field(t, opt), v, NOW_US / 1000000, why, sizeof why);
	if (rc) {
		char want[64];
		snprintf(want, sizeof want, "--%s", opt);
		assert_non_null(strstr(why, want)); /* the error names the option */
	}
	return rc;
}

static void field_values(void **st)
{
	(void)st;
	const struct admin_table *d = &admin__drivers, *v = &admin__vehicles;
	assert_int_equal(check(d, "age", "14"), ODO_OK);
	assert_int_equal(check(d, "age", "120"), ODO_OK);
	assert_int_equal(check(d, "age", "13"), ODO_ERR_INVAL);
	assert_int_equal(check(d, "age", "121"), ODO_ERR_INVAL);
	assert_int_equal(check(d, "age", "4O"), ODO_ERR_INVAL);
	assert_int_equal(check(d, "age", " 40"), ODO_ERR_INVAL);
	assert_int_equal(check(d, "age", "40.5"), ODO_ERR_INVAL);
	assert_int_equal(check(d, "prior-claims", "-1"), ODO_ERR_INVAL);
	assert_int_equal(check(d, "prior-claims", "99999999999999999999"), ODO_ERR_INVAL);
	assert_int_equal(check(d, "persona", "commuter"), ODO_OK);
	assert_int_equal(check(d, "persona", "Fahrer \xc3\xbc"), ODO_OK);  /* UTF-8 */
	assert_int_equal(check(d, "persona", "bad\xc3"), ODO_ERR_INVAL);    /* truncated UTF-8 */
	assert_int_equal(check(d, "persona", "\xc0\xaf"), ODO_ERR_INVAL);   /* overlong */
	assert_int_equal(check(d, "persona", "a\tb"), ODO_ERR_INVAL);       /* control */
	char longtext[ADMIN_TEXT_MAX + 2];
	memset(longtext, 'x', sizeof longtext - 1);
	longtext[sizeof longtext - 1] = '\0';
	assert_int_equal(check(d, "persona", longtext), ODO_ERR_INVAL);
	assert_int_equal(check(d, "policy-start", "2025-01-31"), ODO_OK);
	assert_int_equal(check(d, "policy-start", "2025-02-29"), ODO_ERR_INVAL);
	assert_int_equal(check(d, "policy-start", "2025-1-31"), ODO_ERR_INVAL);
	assert_int_equal(check(v, "vin", "1HGCM82633A004352"), ODO_OK);
	assert_int_equal(check(v, "vin", "1HGCM82633A00435I"), ODO_ERR_INVAL); /* I, O, Q never appear */
	assert_int_equal(check(v, "vin", "1HGCM82633A00435"), ODO_ERR_INVAL);
	assert_int_equal(check(v, "vin", "1hgcm82633a004352"), ODO_ERR_INVAL);
	/* model years follow the clock: at most next year + 1 */
	assert_int_equal(check(v, "year", "2027"), ODO_OK);
	assert_int_equal(check(v, "year", "2028"), ODO_ERR_INVAL);
	assert_int_equal(check(v, "year", "1885"), ODO_ERR_INVAL);
	assert_null(admin__field(d, "vin"));
	assert_null(admin__field(v, "age"));
}

static void ids(void **st)
{
	(void)st;
	char why[ADMIN_WHY_MAX];
	assert_int_equal(admin__check_device_id("truck-0042", why, sizeof why), ODO_OK);
	assert_int_equal(admin__check_device_id("truck/0042", why, sizeof why), ODO_ERR_INVAL);
	assert_int_equal(admin__check_device_id("truck+", why, sizeof why), ODO_ERR_INVAL);
	assert_int_equal(admin__check_device_id("", why, sizeof why), ODO_ERR_INVAL);
	assert_int_equal(admin__check_device_id("odo-collector-2", why, sizeof why), ODO_ERR_INVAL);
	assert_non_null(strstr(why, "reserved"));
	char longid[66];
	memset(longid, 'a', 65);
	longid[65] = '\0';
	assert_int_equal(admin__check_device_id(longid, why, sizeof why), ODO_ERR_INVAL);
	longid[64] = '\0';
	assert_int_equal(admin__check_device_id(longid, why, sizeof why), ODO_OK);
	assert_int_equal(admin__check_id("driver", "driver-17@fleet:eu", why, sizeof why), ODO_OK);
	assert_int_equal(admin__check_id("driver", "driver 17", why, sizeof why), ODO_ERR_INVAL);
	assert_non_null(strstr(why, "driver id"));
	assert_int_equal(admin__check_id("vehicle", "v,1", why, sizeof why), ODO_ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(times_become_utc),
		cmocka_unit_test(bad_times_are_refused_by_name),
		cmocka_unit_test(field_values),
		cmocka_unit_test(ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
