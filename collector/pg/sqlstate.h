/*
 * odo-collector — what a PostgreSQL error means for the writer.
 *
 * A pure function of the SQLSTATE (PostgreSQL documentation, Appendix A
 * "PostgreSQL Error Codes"): either the data is at fault (a record the
 * database will refuse however often it is sent) or the environment is
 * (privileges, a read-only standby, a full disk, a lost connection, a
 * serialization failure, a shutdown, a missing table, ...). The writer
 * isolates and dead-letters the record for the first; for the second it
 * keeps every message, backs off and says so loudly.
 */
#ifndef ODO_COLLECTOR_SQLSTATE_H
#define ODO_COLLECTOR_SQLSTATE_H

enum odo_pg_fault {
	ODO_PG_FAULT_ENV = 0,  /* retry later, never dead-letter */
	ODO_PG_FAULT_DATA = 1, /* this record is refused: isolate it */
};

/* Classify a 5-character SQLSTATE; NULL or "" (no server error: a
 * client-side failure) is the environment's. */
enum odo_pg_fault odo_pg_fault_of(const char *sqlstate);

/* A short name for the log ("insufficient_privilege", "read_only_sql_transaction",
 * ..., or the class name such as "data_exception"); never NULL. */
const char *odo_pg_sqlstate_name(const char *sqlstate);

#endif
