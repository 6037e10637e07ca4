/*
 * odo-collector — the libpq keyword/value pairs of one database login, the
 * same for every connection the collector opens (the writer's, the alert
 * delivery's, a command's).
 */
#ifndef ODO_COLLECTOR_PG_LOGIN_H
#define ODO_COLLECTOR_PG_LOGIN_H

/* What a connection is opened with; NULL or "" leaves a keyword to the
 * connection string (conninfo) or libpq's defaults. */
struct odo_pg_login {
	const char *conninfo; /* a connection string or URI: `[db] conninfo` */
	const char *user;     /* the role ([db] <role>_user) */
	const char *password; /* read from its file, never from the command line */
	const char *options;  /* server options (-c ...) */
	const char *app;      /* application_name (pg_stat_activity) */
};

#define ODO_PG_LOGIN_KEYS 7 /* kw/val entries odo_pg_login_params fills, NULL pair included */

/* Fills kw/val (ODO_PG_LOGIN_KEYS entries each) for PQconnectdbParams or
 * PQconnectStartParams with expand_dbname = 1: the keywords after dbname
 * override what the connection string says; connect_timeout 10 s. */
void odo_pg_login_params(const struct odo_pg_login *l, const char *kw[ODO_PG_LOGIN_KEYS],
			 const char *val[ODO_PG_LOGIN_KEYS]);

#endif
