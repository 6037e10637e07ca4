/* odo-collector operator commands: arguments, help and dispatch (admin.h).
 * Every argument is checked here before a connection is opened. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_int.h"
#include "odo/clock.h"
#include "odo/log.h"

/* The rules of device assignments: `odo-collector device --help` prints
 * them, docs/collector.md "Operator commands" carries the same text
 * (collector_admin checks that the two agree). */
static const char device_help[] =
	"usage: odo-collector [--config FILE] device COMMAND\n"
	"  add ID                       register a gateway (ID: its certificate's CN)\n"
	"  assign ID [--driver D] [--vehicle V] [--from TIME]\n"
	"                               from TIME on (default: now) the device's records belong to\n"
	"                               driver D and vehicle V (at least one of the two)\n"
	"  unassign ID [--at TIME]      end the device's open window at TIME (default: now)\n"
	"  list [ID]... [--tsv]         per device and outbox epoch: last seen, the acked seq, the\n"
	"                               backlog its latest status record reported (records and age\n"
	"                               of the oldest, s), the current driver and vehicle\n"
	"\n"
	"Assignment rules:\n"
	"  * A device's assignments are windows [from, to) that never overlap. A window\n"
	"    without an end is open; a device has at most one.\n"
	"  * A trip belongs to the window its start falls in: the driver the device was\n"
	"    assigned to when the trip started. A window that begins after a trip's start\n"
	"    does not take that trip, even if the trip goes on inside it.\n"
	"  * assign while a window is open hands the device over: the open window ends at\n"
	"    --from (which must be after its start) and the new one begins there.\n"
	"    Assigning the same driver and vehicle again changes nothing. A --from inside\n"
	"    or before another window of the device is refused: closed windows never change.\n"
	"  * unassign ends the open window at --at (after its start). From then on the\n"
	"    device's records belong to no driver (their trips have none) until the next\n"
	"    assign.\n"
	"  * Stored trips follow the windows. With a --from or --at in the past, the trips\n"
	"    of the device that start from then on move: those without a driver (a device\n"
	"    registered after its first drives) and, on a handover, the old driver's go to\n"
	"    the new driver; on unassign the old driver's have none. The months of both\n"
	"    drivers are marked for the feature refresh, and a month left without trips\n"
	"    loses its feature rows.\n"
	"TIME: now, YYYY-MM-DD (midnight UTC), or YYYY-MM-DDTHH:MM[:SS] with Z or an\n"
	"offset (+02:00); a time without a zone is refused.\n";

static const char consent_help[] =
	"usage: odo-collector [--config FILE] consent set --driver ID --granted|--withdrawn\n"
	"  record that driver ID granted or withdrew consent, now (audited in data_audit;\n"
	"  the history is in driver_consent). With [privacy] require_consent the collector\n"
	"  keeps no personal record of a driver without consent at the record's time.\n";

static void table_help(FILE *f, const struct admin_table *t)
{
	fprintf(f,
		"usage: odo-collector [--config FILE] %s add ID [--FIELD VALUE]...\n"
		"       odo-collector [--config FILE] %s set ID --FIELD VALUE [--FIELD VALUE]...\n"
		"  add registers a new %s (an existing one is refused); set changes the given\n"
		"  fields of an existing one, and --FIELD '' clears one (not known: NULL).\n"
		"  ID: 1 to %d characters of A-Z a-z 0-9 . _ : @ -\n"
		"fields (column):\n",
		t->what, t->what, t->what, ADMIN_ID_MAX);
	static const char *const metavar[] = { [ADMIN_F_TEXT] = "TEXT", [ADMIN_F_INT] = "N", [ADMIN_F_DATE] = "DATE",
					       [ADMIN_F_YEAR] = "YEAR", [ADMIN_F_VIN] = "VIN" };
	for (size_t i = 0; i < t->nfields; i++) {
		char opt[64];
		snprintf(opt, sizeof opt, "%s %s", t->fields[i].opt, metavar[t->fields[i].type]);
		fprintf(f, "  --%-29s %s (%s)\n", opt, t->fields[i].help, t->fields[i].col);
	}
}

void odo_admin_usage(FILE *f)
{
	fprintf(f, "  driver add|set ID [--FIELD VALUE]...   register or change a driver (driver --help)\n"
		   "  vehicle add|set ID [--FIELD VALUE]...  register or change a vehicle (vehicle --help)\n"
		   "  device add|assign|unassign|list ...    gateways and their assignments (device --help)\n"
		   "  consent set --driver ID --granted|--withdrawn   a driver's consent (audited)\n");
}

int odo_admin_is_command(const char *cmd)
{
	return !strcmp(cmd, "driver") || !strcmp(cmd, "vehicle") || !strcmp(cmd, "device") || !strcmp(cmd, "consent");
}

/* "--name VALUE" or "--name=VALUE" at argv[*i]: the value, or NULL when
 * argv[*i] is not that option. Moves *i past what it used. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *missing)
{
	const char *a = argv[*i];
	size_t n = strlen(name);
	if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, n) != 0)
		return NULL;
	if (a[2 + n] == '=')
		return a + 3 + n;
	if (a[2 + n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = 1;
		return NULL;
	}
	return argv[++*i];
}

static int usage_error(const char *cmd, const char *fmt, ...) ODO_PRINTF(2, 3);
static int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "odo-collector %s: ", cmd);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (odo-collector %s --help)\n", cmd);
	va_end(ap);
	return 2;
}

static int64_t now_us(void)
{
	struct odo_clock clk;
	odo_clock_init_system(&clk);
	return odo_clock_real_ns(&clk) / 1000;
}

static int is_help(const char *a)
{
	return !strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "help");
}

/* Connect, run, report. */
static int finish(const struct odo_admin_env *env, const char *area, int rc, const char *why)
{
	(void)env;
	if (rc == ODO_OK)
		return 0;
	ODO_LOG(ERROR, area, "%s", why[0] ? why : odo_strerror(rc));
	return rc == ODO_ERR_INVAL ? 2 : 1;
}

static PGconn *open_db(const struct odo_admin_env *env, enum odo_admin_login login)
{
	PGconn *c = env->connect(env->ctx, login);
	if (!c)
		return NULL;
	PQclear(PQexec(c, "SET TIME ZONE 'UTC'"));
	return c;
}

static int cmd_table(const struct odo_admin_env *env, const struct admin_table *t, int argc, char **argv)
{
	const char *cmd = t->what;
	if (argc < 2 || is_help(argv[1])) {
		table_help(argc < 2 ? stderr : env->out, t);
		return argc < 2 ? 2 : 0;
	}
	int create = !strcmp(argv[1], "add");
	if (!create && strcmp(argv[1], "set") != 0)
		return usage_error(cmd, "unknown command '%s'", argv[1]);
	if (argc < 3 || argv[2][0] == '-')
		return usage_error(cmd, "%s needs the id first", argv[1]);
	const char *id = argv[2];
	char why[ADMIN_WHY_MAX] = "";
	if (create && admin__check_id(t->what, id, why, sizeof why))
		return finish(env, cmd, ODO_ERR_INVAL, why);
	struct admin_value v[ADMIN_MAX_FIELDS];
	size_t n = 0;
	int64_t now_s = now_us() / 1000000;
	for (int i = 3; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0)
			return usage_error(cmd, "unexpected argument '%s'", a);
		char name[64];
		snprintf(name, sizeof name, "%.*s", (int)strcspn(a + 2, "="), a + 2);
		const struct admin_field *f = admin__field(t, name);
		if (!f)
			return usage_error(cmd, "unknown field --%s", name);
		int missing = 0;
		const char *value = opt_value(argc, argv, &i, name, &missing);
		if (missing)
			return usage_error(cmd, "--%s needs a value", name);
		for (size_t k = 0; k < n; k++)
			if (v[k].f == f)
				return usage_error(cmd, "--%s given twice", name);
		if (value[0] == '\0') {
			if (create)
				return usage_error(cmd, "--%s '': leave the field out instead (add)", name);
			value = NULL; /* clear it */
		} else if (admin__check_value(f, value, now_s, why, sizeof why)) {
			return finish(env, cmd, ODO_ERR_INVAL, why);
		}
		v[n].f = f, v[n].value = value, n++;
	}
	if (!create && n == 0)
		return usage_error(cmd, "set %s: name at least one field to change", id);
	PGconn *c = open_db(env, ODO_ADMIN_LOGIN_REGISTRY);
	if (!c)
		return 1;
	int rc = admin__row_put(c, t, id, create, v, n, env->out, why);
	PQfinish(c);
	return finish(env, cmd, rc, why);
}

static int cmd_device(const struct odo_admin_env *env, int argc, char **argv)
{
	if (argc < 2 || is_help(argv[1])) {
		fputs(device_help, argc < 2 ? stderr : env->out);
		return argc < 2 ? 2 : 0;
	}
	const char *sub = argv[1];
	char why[ADMIN_WHY_MAX] = "";
	if (!strcmp(sub, "list")) {
		const char *ids[64];
		size_t n = 0;
		int tsv = 0;
		for (int i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--tsv")) {
				tsv = 1;
				continue;
			}
			if (argv[i][0] == '-')
				return usage_error("device", "unexpected option '%s'", argv[i]);
			if (n == ODO_ARRAY_LEN(ids))
				return usage_error("device", "list: at most %zu ids (none: all)", ODO_ARRAY_LEN(ids));
			if (admin__check_device_id(argv[i], why, sizeof why))
				return finish(env, "device", ODO_ERR_INVAL, why);
			ids[n++] = argv[i];
		}
		PGconn *c = open_db(env, ODO_ADMIN_LOGIN_READER);
		if (!c)
			return 1;
		int rc = admin__device_list(c, ids, n, tsv, env->out, why);
		PQfinish(c);
		return finish(env, "device", rc, why);
	}
	int add = !strcmp(sub, "add"), assign = !strcmp(sub, "assign"), unassign = !strcmp(sub, "unassign");
	if (!add && !assign && !unassign)
		return usage_error("device", "unknown command '%s'", sub);
	if (argc < 3 || argv[2][0] == '-')
		return usage_error("device", "%s needs the device id first", sub);
	const char *id = argv[2], *driver = NULL, *vehicle = NULL, *when = "now";
	if (admin__check_device_id(id, why, sizeof why))
		return finish(env, "device", ODO_ERR_INVAL, why);
	for (int i = 3; i < argc; i++) {
		int missing = 0;
		const char *x;
		if (assign && (x = opt_value(argc, argv, &i, "driver", &missing)))
			driver = x;
		else if (assign && !missing && (x = opt_value(argc, argv, &i, "vehicle", &missing)))
			vehicle = x;
		else if (assign && !missing && (x = opt_value(argc, argv, &i, "from", &missing)))
			when = x;
		else if (unassign && !missing && (x = opt_value(argc, argv, &i, "at", &missing)))
			when = x;
		else if (missing)
			return usage_error("device", "%s needs a value", argv[i]);
		else
			return usage_error("device", "unexpected argument '%s'", argv[i]);
	}
	if ((driver && admin__check_id("driver", driver, why, sizeof why)) ||
	    (vehicle && admin__check_id("vehicle", vehicle, why, sizeof why)))
		return finish(env, "device", ODO_ERR_INVAL, why);
	if (assign && !driver && !vehicle)
		return usage_error("device", "assign %s: give --driver, --vehicle or both", id);
	char t[ADMIN_TIME_MAX];
	if ((assign || unassign) && admin__parse_time(assign ? "--from" : "--at", when, now_us(), t, why, sizeof why))
		return finish(env, "device", ODO_ERR_INVAL, why);
	PGconn *c = open_db(env, ODO_ADMIN_LOGIN_REGISTRY);
	if (!c)
		return 1;
	int rc = add	? admin__device_add(c, id, env->out, why)
		 : assign ? admin__device_assign(c, id, driver, vehicle, t, env->out, why)
			  : admin__device_unassign(c, id, t, env->out, why);
	PQfinish(c);
	return finish(env, "device", rc, why);
}

static int cmd_consent(const struct odo_admin_env *env, int argc, char **argv)
{
	if (argc < 2 || is_help(argv[1])) {
		fputs(consent_help, argc < 2 ? stderr : env->out);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "set") != 0)
		return usage_error("consent", "unknown command '%s'", argv[1]);
	const char *driver = NULL;
	int state = -1;
	for (int i = 2; i < argc; i++) {
		int missing = 0;
		const char *x = opt_value(argc, argv, &i, "driver", &missing);
		if (x)
			driver = x;
		else if (missing)
			return usage_error("consent", "%s needs a value", argv[i]);
		else if (!strcmp(argv[i], "--granted") || !strcmp(argv[i], "--withdrawn")) {
			int s = !strcmp(argv[i], "--granted");
			if (state >= 0 && state != s)
				return usage_error("consent", "%s: --granted and --withdrawn exclude each other", argv[i]);
			state = s;
		} else
			return usage_error("consent", "unexpected argument '%s'", argv[i]);
	}
	if (!driver || state < 0)
		return usage_error("consent", "set needs --driver ID and --granted or --withdrawn");
	char why[ADMIN_WHY_MAX] = "";
	if (admin__check_id("driver", driver, why, sizeof why))
		return finish(env, "consent", ODO_ERR_INVAL, why);
	PGconn *c = open_db(env, ODO_ADMIN_LOGIN_REGISTRY);
	if (!c)
		return 1;
	int rc = admin__consent_set(c, driver, state, env->by, env->out, why);
	PQfinish(c);
	return finish(env, "consent", rc, why);
}

int odo_admin_cli(const struct odo_admin_env *env, int argc, char **argv)
{
	const char *cmd = argv[0];
	if (!strcmp(cmd, "driver"))
		return cmd_table(env, &admin__drivers, argc, argv);
	if (!strcmp(cmd, "vehicle"))
		return cmd_table(env, &admin__vehicles, argc, argv);
	if (!strcmp(cmd, "device"))
		return cmd_device(env, argc, argv);
	if (!strcmp(cmd, "consent"))
		return cmd_consent(env, argc, argv);
	fprintf(stderr, "odo-collector: unknown command '%s'\n", cmd);
	return 2;
}
