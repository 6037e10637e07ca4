/* odo-collector — the SQL migrations compiled into the binary. */
#ifndef ODO_COLLECTOR_MIGRATIONS_H
#define ODO_COLLECTOR_MIGRATIONS_H

#include <stddef.h>

struct odo_migration {
	int version;      /* NNN of collector/sql/NNN_name.sql */
	const char *name; /* file name without .sql */
	const char *sql;
};

/* In ascending version order. */
extern const struct odo_migration odo_migrations[];
extern const size_t odo_n_migrations;

#endif
