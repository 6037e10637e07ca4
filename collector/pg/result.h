/*
 * odo-collector — the outcome of a libpq statement, as every blocking
 * command (migrate, maintain, roles, roads, admin) reads it.
 */
#ifndef ODO_COLLECTOR_PG_RESULT_H
#define ODO_COLLECTOR_PG_RESULT_H

#include <stddef.h>

#include <libpq-fe.h>

/* 1 when the statement worked (a command, or rows). */
int odo_pg_ok(const PGresult *r);

/* A failed statement: why = "<what>: <the server's message, or the
 * connection's when r is NULL>" on one line; r is cleared; with `rollback`
 * the open transaction is rolled back. Returns ODO_ERR_DB. */
int odo_pg_fail(PGconn *c, PGresult *r, char *why, size_t whylen, const char *what, int rollback);

#endif
