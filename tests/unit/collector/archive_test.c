/* Unit tests of the archive's pure helpers (collector/archive): months,
 * their bounds in SQL, paths. The archive itself is tested against a real
 * PostgreSQL (collector_archive_* e2e). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "archive/archive_int.h"

static void months(void **st)
{
	(void)st;
	int ym;
	char s[8];
	assert_int_equal(arc__month_parse("2026-01", &ym), ODO_OK);
	assert_int_equal(ym, 2026 * 12);
	arc__month_str(ym, s);
	assert_string_equal(s, "2026-01");
	assert_int_equal(arc__month_parse("2026-12", &ym), ODO_OK);
	arc__month_str(ym + 1, s);
	assert_string_equal(s, "2027-01");
	static const char *const bad[] = { "2026-13", "2026-00", "2026-1", "26-01", "2026-01x", "2026/01", "", "1969-12" };
	for (size_t i = 0; i < ODO_ARRAY_LEN(bad); i++)
		assert_int_equal(arc__month_parse(bad[i], &ym), ODO_ERR_INVAL);
	assert_int_equal(arc__month_parse(NULL, &ym), ODO_ERR_INVAL);
}

static void month_bounds(void **st)
{
	(void)st;
	/* 2024-02-01 00:00:00 UTC = 1706745600; a leap February */
	assert_int_equal(arc__month_start_s(2024 * 12 + 1), 1706745600);
	assert_int_equal(arc__month_start_s(2024 * 12 + 2) - arc__month_start_s(2024 * 12 + 1), 29 * 86400);
	assert_int_equal(arc__month_start_s(1970 * 12), 0);
	assert_int_equal(arc__month_start_s(2000 * 12 + 2), 951868800); /* 2000-03-01 */
	assert_int_equal(arc__month_of(1706745600), 2024 * 12 + 1);
	assert_int_equal(arc__month_of(1706745599), 2024 * 12);
	char w[160];
	arc__month_where(w, sizeof w, "\"t\"", 2026 * 12 + 11);
	assert_string_equal(w, "\"t\" >= '2026-12-01 00:00:00+00' AND \"t\" < '2027-01-01 00:00:00+00'");
}

static void paths(void **st)
{
	(void)st;
	char p[256];
	arc__month_dir(p, sizeof p, "/var/lib/odo/archive", "samples", 2026 * 12 + 2);
	assert_string_equal(p, "/var/lib/odo/archive/samples/2026/03");
	arc__part_name(p, sizeof p, "samples", 2026 * 12 + 2, 2);
	assert_string_equal(p, "samples-2026-03.2.csv.gz");
	assert_non_null(arc__table("crash_traces"));
	assert_null(arc__table("trips"));       /* aggregates stay */
	assert_null(arc__table("dtc_reports")); /* monthly features read it */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(months),
		cmocka_unit_test(month_bounds),
		cmocka_unit_test(paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
