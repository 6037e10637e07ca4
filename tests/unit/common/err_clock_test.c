/* Unit tests for common/src/err.c and common/src/clock.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "odo/clock.h"
#include "odo/err.h"

static void test_strerror_distinct(void **state)
{
	const char *unknown = odo_strerror(-1);

	(void)state;
	assert_non_null(unknown);
	assert_string_equal(odo_strerror(ODO_ERR__COUNT), unknown);
	assert_string_equal(odo_strerror(1 << 20), unknown);
	for (int i = 0; i < ODO_ERR__COUNT; i++) {
		const char *s = odo_strerror(i);

		assert_non_null(s);
		assert_true(strlen(s) > 0);
		if (strcmp(s, unknown) == 0)
			fail_msg("code %d has no message", i);
		for (int j = 0; j < i; j++)
			if (strcmp(s, odo_strerror(j)) == 0)
				fail_msg("codes %d and %d share '%s'", j, i, s);
	}
	assert_string_equal(odo_strerror(ODO_OK), "success");
}

static void test_virtual_advance(void **state)
{
	struct odo_clock c;

	(void)state;
	odo_clock_init_virtual(&c, 1000 * ODO_NS_PER_S, 5 * ODO_NS_PER_S);
	assert_int_equal(odo_clock_real_ns(&c), 1000 * ODO_NS_PER_S);
	assert_int_equal(odo_clock_mono_ns(&c), 5 * ODO_NS_PER_S);
	odo_clock_advance(&c, 250 * ODO_NS_PER_MS);
	assert_int_equal(odo_clock_real_ns(&c), 1000 * ODO_NS_PER_S + 250 * ODO_NS_PER_MS);
	assert_int_equal(odo_clock_mono_ns(&c), 5 * ODO_NS_PER_S + 250 * ODO_NS_PER_MS);
	/* negative and zero deltas are ignored */
	odo_clock_advance(&c, -ODO_NS_PER_S);
	odo_clock_advance(&c, 0);
	assert_int_equal(odo_clock_real_ns(&c), 1000 * ODO_NS_PER_S + 250 * ODO_NS_PER_MS);
	assert_int_equal(odo_clock_mono_ns(&c), 5 * ODO_NS_PER_S + 250 * ODO_NS_PER_MS);
}

static void test_virtual_set_real(void **state)
{
	struct odo_clock c;

	(void)state;
	odo_clock_init_virtual(&c, 100, 7);
	/* forward: both lines move by the same amount */
	odo_clock_set_real(&c, 160);
	assert_int_equal(odo_clock_real_ns(&c), 160);
	assert_int_equal(odo_clock_mono_ns(&c), 67);
	/* backward (a wall-clock step): REAL follows, MONO stays */
	odo_clock_set_real(&c, 40);
	assert_int_equal(odo_clock_real_ns(&c), 40);
	assert_int_equal(odo_clock_mono_ns(&c), 67);
	/* forward again from the new REAL */
	odo_clock_set_real(&c, 50);
	assert_int_equal(odo_clock_real_ns(&c), 50);
	assert_int_equal(odo_clock_mono_ns(&c), 77);
}

static void test_virtual_mono_never_back(void **state)
{
	static const int64_t reals[] = {500, 300, 900, 900, 100, 2000, 1999, 5000};
	struct odo_clock c;
	int64_t prev;

	(void)state;
	odo_clock_init_virtual(&c, 1000, 0);
	prev = odo_clock_mono_ns(&c);
	for (size_t i = 0; i < ODO_ARRAY_LEN(reals); i++) {
		odo_clock_set_real(&c, reals[i]);
		odo_clock_advance(&c, (int64_t)i * 3 - 10);
		assert_true(odo_clock_mono_ns(&c) >= prev);
		prev = odo_clock_mono_ns(&c);
	}
}

static void test_system(void **state)
{
	struct odo_clock c;
	int64_t prev, real;

	(void)state;
	odo_clock_init_system(&c);
	real = odo_clock_real_ns(&c);
	/* after 2020-01-01 and before 2200: a real wall clock, in ns */
	assert_true(real > 1577836800LL * ODO_NS_PER_S);
	assert_true(real < 7258118400LL * ODO_NS_PER_S);
	prev = odo_clock_mono_ns(&c);
	for (int i = 0; i < 10000; i++) {
		int64_t now = odo_clock_mono_ns(&c);

		assert_true(now >= prev);
		prev = now;
	}
	/* advance/set_real leave a system clock alone */
	odo_clock_advance(&c, 1000 * ODO_NS_PER_S);
	odo_clock_set_real(&c, 0);
	assert_int_equal(c.kind, ODO_CLOCK_SYSTEM);
	assert_true(odo_clock_real_ns(&c) > 1577836800LL * ODO_NS_PER_S);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strerror_distinct),
	    cmocka_unit_test(test_virtual_advance),
	    cmocka_unit_test(test_virtual_set_real),
	    cmocka_unit_test(test_virtual_mono_never_back),
	    cmocka_unit_test(test_system),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
