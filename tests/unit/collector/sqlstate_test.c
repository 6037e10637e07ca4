/* Unit tests of collector/pg/sqlstate: which PostgreSQL errors are the
 * data's (isolate, dead-letter the record) and which the environment's
 * (keep everything, back off). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pg/sqlstate.h"

static void environment_is_never_poison(void **st)
{
	(void)st;
	/* the errors issue #11 names, and their neighbours */
	static const char *const env[] = {
		"42501", /* insufficient privilege */
		"25006", /* read-only transaction (a standby after failover) */
		"53100", /* disk full */
		"53200", /* out of memory */
		"08006", "08003", "08000", "08P01", /* connection */
		"40001", "40P01",                   /* serialization failure, deadlock */
		"57P01", "57P02", "57P03", "57014", /* shutdown, cancel, statement timeout */
		"42P01", "42703",                   /* schema not migrated */
		"55P03", "58030", "XX000", "28000", "3D000",
	};
	for (size_t i = 0; i < sizeof env / sizeof env[0]; i++)
		assert_int_equal(odo_pg_fault_of(env[i]), ODO_PG_FAULT_ENV);
	/* no SQLSTATE at all: a client-side failure, never the data's */
	assert_int_equal(odo_pg_fault_of(""), ODO_PG_FAULT_ENV);
	assert_int_equal(odo_pg_fault_of(NULL), ODO_PG_FAULT_ENV);
	assert_int_equal(odo_pg_fault_of("22"), ODO_PG_FAULT_ENV); /* malformed */
}

static void data_errors_are_isolated(void **st)
{
	(void)st;
	static const char *const data[] = {
		"22008", /* datetime field overflow (t near 2^63) */
		"22003", /* numeric value out of range (3e9 in integer) */
		"22P02", "22001", "22021",
		"23514", /* check violation (also: no partition for the row) */
		"23502", "23505", "23503",
		"21000", /* one statement touching a row twice */
		"54000", /* program limit exceeded */
	};
	for (size_t i = 0; i < sizeof data / sizeof data[0]; i++)
		assert_int_equal(odo_pg_fault_of(data[i]), ODO_PG_FAULT_DATA);
}

static void names_for_the_log(void **st)
{
	(void)st;
	assert_string_equal(odo_pg_sqlstate_name("42501"), "insufficient_privilege");
	assert_string_equal(odo_pg_sqlstate_name("25006"), "read_only_sql_transaction");
	assert_string_equal(odo_pg_sqlstate_name("22P02"), "data_exception");
	assert_string_equal(odo_pg_sqlstate_name("ZZ999"), "unclassified");
	assert_non_null(odo_pg_sqlstate_name(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(environment_is_never_poison),
		cmocka_unit_test(data_errors_are_isolated),
		cmocka_unit_test(names_for_the_log),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
