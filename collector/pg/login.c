/* odo-collector — the keyword/value pairs of a database login (login.h). */
#include "pg/login.h"

#include <stddef.h>

void odo_pg_login_params(const struct odo_pg_login *l, const char *kw[ODO_PG_LOGIN_KEYS],
			 const char *val[ODO_PG_LOGIN_KEYS])
{
	int n = 0;
	kw[n] = "dbname", val[n++] = l->conninfo;
	if (l->user && l->user[0])
		kw[n] = "user", val[n++] = l->user;
	if (l->password && l->password[0])
		kw[n] = "password", val[n++] = l->password;
	if (l->options && l->options[0])
		kw[n] = "options", val[n++] = l->options;
	kw[n] = "application_name", val[n++] = l->app && l->app[0] ? l->app : "odo-collector";
	kw[n] = "connect_timeout", val[n++] = "10";
	kw[n] = NULL, val[n] = NULL;
}
