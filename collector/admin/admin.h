/*
 * odo-collector — operator commands: registering drivers, vehicles and
 * devices, assigning devices to vehicles and drivers over time, listing the
 * devices' state, and recording a driver's consent. They replace hand-written
 * SQL (docs/collector.md "Operator commands", docs/deploy.md).
 *
 *   driver add|set ID [--FIELD VALUE]...     vehicle add|set ID [--FIELD VALUE]...
 *   device add ID   device assign ID --driver D [--vehicle V] [--from T]
 *   device unassign ID [--at T]              device list [ID]... [--tsv]
 *   consent set --driver ID --granted|--withdrawn
 *
 * Every value is checked before anything is written; each command is one
 * transaction; errors name the argument and exit 2 (usage) or 1 (refused
 * by a rule or by the database). All SQL is parameterised; column names
 * come from the constant field tables.
 */
#ifndef ODO_COLLECTOR_ADMIN_H
#define ODO_COLLECTOR_ADMIN_H

#include <stdio.h>

#include <libpq-fe.h>

/* Which login a command needs (docs/security.md "Database roles"). */
enum odo_admin_login {
	ODO_ADMIN_LOGIN_REGISTRY, /* driver/vehicle/device changes, consent: the privacy role */
	ODO_ADMIN_LOGIN_READER,   /* device list: the read-only reader role */
};

struct odo_admin_env {
	/* Open a connection for `login`; NULL after logging why. The caller
	 * (main.c) owns the mapping from login to database role. */
	PGconn *(*connect)(void *ctx, enum odo_admin_login login);
	void *ctx;
	const char *by; /* this collector's name, for audit rows */
	FILE *out;      /* results (stdout); errors go to the log (stderr) */
};

/* 1 when `cmd` is one of the operator commands (driver, vehicle, device,
 * consent). */
int odo_admin_is_command(const char *cmd);

/* Run argv[0] (an operator command) with its arguments. Returns the exit
 * status: 0 done, 1 refused (rule, missing row, database), 2 usage. */
int odo_admin_cli(const struct odo_admin_env *env, int argc, char **argv);

/* The operator commands' part of `odo-collector --help`. */
void odo_admin_usage(FILE *f);

#endif
