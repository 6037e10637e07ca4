/* odo-collector — SQLSTATE classification (see sqlstate.h). */
#include "pg/sqlstate.h"

#include <string.h>

#include "odo/err.h"

/* Classes whose errors are caused by the values sent (Appendix A):
 * 21 cardinality violation (one statement touching a row twice),
 * 22 data exception (out of range, invalid time, bad text),
 * 23 integrity constraint violation (CHECK, NOT NULL, FK, no partition),
 * 54 program limit exceeded (a value too large to index). */
static const char *const data_classes[] = { "21", "22", "23", "54" };

static const struct {
	const char *state, *name;
} names[] = {
	{ "08000", "connection_exception" },
	{ "08003", "connection_does_not_exist" },
	{ "08006", "connection_failure" },
	{ "22003", "numeric_value_out_of_range" },
	{ "22008", "datetime_field_overflow" },
	{ "23502", "not_null_violation" },
	{ "23503", "foreign_key_violation" },
	{ "23505", "unique_violation" },
	{ "23514", "check_violation" },
	{ "25006", "read_only_sql_transaction" },
	{ "40001", "serialization_failure" },
	{ "40P01", "deadlock_detected" },
	{ "42501", "insufficient_privilege" },
	{ "42P01", "undefined_table" },
	{ "42703", "undefined_column" },
	{ "53100", "disk_full" },
	{ "53200", "out_of_memory" },
	{ "53300", "too_many_connections" },
	{ "55P03", "lock_not_available" },
	{ "57014", "query_canceled" },
	{ "57P01", "admin_shutdown" },
	{ "57P02", "crash_shutdown" },
	{ "57P03", "cannot_connect_now" },
};

static const struct {
	const char *cls, *name;
} class_names[] = {
	{ "08", "connection_exception" },
	{ "21", "cardinality_violation" },
	{ "22", "data_exception" },
	{ "23", "integrity_constraint_violation" },
	{ "25", "invalid_transaction_state" },
	{ "28", "invalid_authorization_specification" },
	{ "3D", "invalid_catalog_name" },
	{ "40", "transaction_rollback" },
	{ "42", "syntax_error_or_access_rule_violation" },
	{ "53", "insufficient_resources" },
	{ "54", "program_limit_exceeded" },
	{ "55", "object_not_in_prerequisite_state" },
	{ "57", "operator_intervention" },
	{ "58", "system_error" },
	{ "XX", "internal_error" },
};

enum odo_pg_fault odo_pg_fault_of(const char *s)
{
	if (!s || strlen(s) != 5)
		return ODO_PG_FAULT_ENV;
	for (size_t i = 0; i < ODO_ARRAY_LEN(data_classes); i++)
		if (strncmp(s, data_classes[i], 2) == 0)
			return ODO_PG_FAULT_DATA;
	return ODO_PG_FAULT_ENV;
}

const char *odo_pg_sqlstate_name(const char *s)
{
	if (!s || !s[0])
		return "no SQLSTATE (client-side failure)";
	for (size_t i = 0; i < ODO_ARRAY_LEN(names); i++)
		if (strcmp(s, names[i].state) == 0)
			return names[i].name;
	for (size_t i = 0; i < ODO_ARRAY_LEN(class_names); i++)
		if (strncmp(s, class_names[i].cls, 2) == 0)
			return class_names[i].name;
	return "unclassified";
}
