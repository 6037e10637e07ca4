/*
 * odo-collector — MQTT/TLS ingest into PostgreSQL, acknowledged end to end;
 * monthly driver features; erasure and retention.
 *
 *   odo-collector [--config FILE] run|migrate|maintain|aggregate --month YYYY-MM|
 *                 forget --driver ID|retention --days N|consent set ...|roles|roads ...
 *
 * Each command connects as the database role it needs (docs/security.md
 * "Database roles"): migrate, maintain and roads import as the owner; run
 * as odo_ingest (and odo_aggregate for the feature refresh); aggregate and
 * roads match/follow/status as odo_aggregate; forget, retention and consent
 * as odo_privacy. [db] <role>_user and <role>_password_file name each.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "admin/admin.h"
#include "aggregate/aggregate.h"
#include "archive/archive.h"
#include "alert/dispatch.h"
#include "decode/decode.h"
#include "ingest/mqtt.h"
#include "ingest/tlswatch.h"
#include "metrics/cmetrics.h"
#include "odo/config.h"
#include "odo/clock.h"
#include "odo/log.h"
#include "pg/login.h"
#include "pg/maintain.h"
#include "pg/roles.h"
#include "pg/writer.h"
#include "roads/roads.h"

#ifndef ODO_VERSION
#define ODO_VERSION "0.0.0"
#endif

#define NAME_MAX_LEN 64
#define PATH_MAX_LEN 512
#define SECRET_MAX 256
#define STATS_EVERY_MS 10000
#define TLS_CHECK_MS (3600 * 1000)
#define DRAIN_MS 5000
#define MAX_WRITERS 8

struct collector_cfg {
	char name[NAME_MAX_LEN];
	char log_level[16];
	long long max_group_rows, commit_ms, max_queue, max_queue_bytes, refresh_s, db_connections;
	long long partition_months_back, partition_months_ahead;
};

struct mqtt_cfg {
	char host[256];
	long long port;
	char client_id[NAME_MAX_LEN];
	char group[NAME_MAX_LEN];
	char cafile[PATH_MAX_LEN], certfile[PATH_MAX_LEN], keyfile[PATH_MAX_LEN], crlfile[PATH_MAX_LEN];
	long long keepalive, session_expiry, expiry_warn_days;
};

struct metrics_cfg {
	char listen[128];
	long long max_devices, device_expire_days;
};

struct db_cfg {
	char conninfo[PATH_MAX_LEN];
	char password_file[PATH_MAX_LEN];
	char password_env[NAME_MAX_LEN];
	/* per role (enum db_role): the login role and its password file */
	char user[5][NAME_MAX_LEN];
	char role_password_file[5][PATH_MAX_LEN];
};

struct privacy_cfg {
	int require_consent;
};

/* The roles the commands log in as. */
enum db_role { ROLE_OWNER, ROLE_INGEST, ROLE_AGGREGATE, ROLE_PRIVACY, ROLE_READER, ROLE__N };
static const char *const role_names[ROLE__N] = { "owner", "ingest", "aggregate", "privacy", "reader" };

static struct collector_cfg ccfg;
static struct mqtt_cfg mcfg;
static struct db_cfg dcfg;
static struct metrics_cfg xcfg;
static struct privacy_cfg pcfg;
static struct odo_roads_cfg rcfg;
static struct odo_archive_cfg acfg;
static struct odo_alerts_cfg alcfg;

static const struct odo_cfg_key collector_keys[] = {
	ODO_CFG_S("name", struct collector_cfg, name, "odo-collector",
		  "this collector's name, stored in processed_by and dead_letters"),
	ODO_CFG_S("log_level", struct collector_cfg, log_level, "info", "error, warn, info or debug"),
	ODO_CFG_I("max_group_rows", struct collector_cfg, max_group_rows, "5000", 1, 1000000,
		  "records per group commit (flush when reached)"),
	ODO_CFG_I("commit_ms", struct collector_cfg, commit_ms, "20", 0, 60000,
		  "flush a group at the latest this long after its first message"),
	ODO_CFG_I("max_queue", struct collector_cfg, max_queue, "20000", 1, 10000000,
		  "messages held in memory while the database is away; beyond, unacked (devices resend)"),
	ODO_CFG_I("max_queue_bytes", struct collector_cfg, max_queue_bytes, "268435456", 1048576, 1099511627776.0,
		  "bytes of messages held in memory (every message, dead letters included); beyond, unacked"),
	ODO_CFG_I("refresh_s", struct collector_cfg, refresh_s, "60", 0, 86400,
		  "seconds between incremental monthly-feature refreshes (0 = off)"),
	ODO_CFG_I("db_connections", struct collector_cfg, db_connections, "1", 1, MAX_WRITERS,
		  "database connections, each with its own group commit; a device always uses the same one"),
	ODO_CFG_I("partition_months_back", struct collector_cfg, partition_months_back, "12", 0, 1200,
		  "maintain: month partitions kept before the current month (keep it within your retention)"),
	ODO_CFG_I("partition_months_ahead", struct collector_cfg, partition_months_ahead, "3", 1, 120,
		  "maintain: month partitions created ahead of the current month"),
};

static const struct odo_cfg_key mqtt_keys[] = {
	ODO_CFG_S("host", struct mqtt_cfg, host, "localhost", "broker host"),
	ODO_CFG_I("port", struct mqtt_cfg, port, "8883", 1, 65535, "broker TLS port"),
	ODO_CFG_S("client_id", struct mqtt_cfg, client_id, "odo-collector",
		  "MQTT client id, naming the persistent session: the broker replaces it with the certificate's CN "
		  "(use_username_as_clientid), so set it to that CN"),
	ODO_CFG_S("group", struct mqtt_cfg, group, "odo-collectors", "shared-subscription group"),
	ODO_CFG_S("cafile", struct mqtt_cfg, cafile, "/etc/odo/pki/ca.crt", "CA certificate"),
	ODO_CFG_S("certfile", struct mqtt_cfg, certfile, "/etc/odo/pki/collector.crt",
		  "client certificate; its CN (odo-collector, odo-collector-NAME) is this collector's identity, "
		  "one per collector process; its expiry is watched"),
	ODO_CFG_S("keyfile", struct mqtt_cfg, keyfile, "/etc/odo/pki/collector.key", "client key"),
	ODO_CFG_S("crlfile", struct mqtt_cfg, crlfile, "/etc/mosquitto/odo-pki/crl.pem",
		  "the broker's CRL, read only to warn before it expires (empty: not watched)"),
	ODO_CFG_I("expiry_warn_days", struct mqtt_cfg, expiry_warn_days, "15", 1, 365,
		  "warn when certfile or crlfile has fewer days left (15: half the validity of the CRL that "
		  "tools/pki renews daily)"),
	ODO_CFG_I("keepalive", struct mqtt_cfg, keepalive, "30", 5, 3600, "MQTT keepalive, s"),
	ODO_CFG_I("session_expiry", struct mqtt_cfg, session_expiry, "604800", 0, 4294967295.0,
		  "seconds the broker keeps the session (and queues messages) while we are away"),
};

static const struct odo_cfg_key db_keys[] = {
	{ .key = "conninfo", .type = ODO_CFG_STR, .offset = offsetof(struct db_cfg, conninfo),
	  .size = sizeof(((struct db_cfg *)0)->conninfo), .def = "dbname=odo", .min = 1, .max = 0, .secret = 1,
	  .help = "libpq connection string, without the password" },
	ODO_CFG_S("password_file", struct db_cfg, password_file, "",
		  "file holding the database password (else password_env, else libpq's own means)"),
	ODO_CFG_S("password_env", struct db_cfg, password_env, "ODO_DB_PASSWORD",
		  "environment variable holding the database password"),
#define ROLE_KEYS(i, name, what, grp)                                                                       \
	ODO_CFG_S(name "_user", struct db_cfg, user[i], "",                                                 \
		  "login role for " what " (a member of " grp "; empty: the conninfo's user)"),             \
		ODO_CFG_S(name "_password_file", struct db_cfg, role_password_file[i], "",                  \
			  "file holding that role's password (empty: password_file / password_env)")
	ROLE_KEYS(ROLE_OWNER, "owner", "migrate, maintain and roads import", "the schema owner"),
	ROLE_KEYS(ROLE_INGEST, "ingest", "run", ODO_ROLE_INGEST),
	ROLE_KEYS(ROLE_AGGREGATE, "aggregate", "the feature refresh in run, aggregate and roads match/follow",
		  ODO_ROLE_AGGREGATE),
	ROLE_KEYS(ROLE_PRIVACY, "privacy",
		  "forget, retention, consent and registration (driver, vehicle, device add|set|assign|unassign)",
		  ODO_ROLE_PRIVACY),
	ROLE_KEYS(ROLE_READER, "reader", "device list", ODO_ROLE_READER),
#undef ROLE_KEYS
};

static const struct odo_cfg_key privacy_keys[] = {
	ODO_CFG_B("require_consent", struct privacy_cfg, require_consent, "false",
		  "keep no personal record (positions, events, trips, tracks, phone) of a driver without consent,"
		  " and compute features only for consenting drivers (docs/collector.md)"),
};

static const struct odo_cfg_key metrics_keys[] = {
	ODO_CFG_S("listen", struct metrics_cfg, listen, "127.0.0.1:9638",
		  "HOST:PORT (or [IPv6]:PORT) of /metrics, /livez and /readyz (docs/metrics.md); loopback by "
		  "default, empty = no HTTP server"),
	ODO_CFG_I("max_devices", struct metrics_cfg, max_devices, "1000", 1, 1000000,
		  "devices with per-device series (last seen, outbox backlog); beyond, a device has none "
		  "(counted in odo_collector_devices_untracked_messages_total)"),
	ODO_CFG_I("device_expire_days", struct metrics_cfg, device_expire_days, "30", 1, 3650,
		  "a device not heard from for this many days loses its series (and its place)"),
};

static const struct odo_cfg_section sections[] = {
	{ "collector", collector_keys, ODO_ARRAY_LEN(collector_keys), &ccfg },
	{ "mqtt", mqtt_keys, ODO_ARRAY_LEN(mqtt_keys), &mcfg },
	{ "db", db_keys, ODO_ARRAY_LEN(db_keys), &dcfg },
	{ "metrics", metrics_keys, ODO_ARRAY_LEN(metrics_keys), &xcfg },
	{ "privacy", privacy_keys, ODO_ARRAY_LEN(privacy_keys), &pcfg },
	{ "roads", odo_roads_cfg_keys, ODO_ROADS_NKEYS, &rcfg }, /* map matching (optional) */
	{ "archive", odo_archive_cfg_keys, ODO_ARCHIVE_NKEYS, &acfg }, /* tiered retention */
	{ "alerts", odo_alerts_cfg_keys, ODO_ALERTS_NKEYS, &alcfg }, /* docs/alerts.md */
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: odo-collector [--config FILE] [--set SECTION.KEY=VALUE]... COMMAND [ARGS]\n"
		"\n"
		"commands:\n"
		"  run                     ingest from MQTT into PostgreSQL, acknowledge (default)\n"
		"  migrate                 apply the schema migrations not yet applied\n"
		"  maintain                create the month partitions ahead, drop emptied old ones (as the owner)\n"
		"  aggregate --month YYYY-MM   recompute monthly_features for that month\n"
		"  forget --driver ID      erase a driver's personal data and raw records, for good (audited)\n"
		"  retention --days N      prune raw records older than N days (aggregates kept)\n"
		"  roles                   print the database privilege matrix (docs/security.md)\n"
		"  roads import FILE.osm.pbf [--country CC] | match [--trip ID|--stale] | follow | status\n"
		"  archive run [--keep-rows] | restore --month YYYY-MM [--table T] | verify [--month M] | list\n"
		"                          road layer (PostGIS), map matching, speeding (docs/deploy.md)\n"
		"operator commands (docs/collector.md \"Operator commands\"):\n");
	odo_admin_usage(f);
	fprintf(f,
		"\n"
		"options:\n"
		"  -c, --config FILE       INI file with [collector], [mqtt], [db]\n"
		"  -s, --set S.K=V         override one configuration key (not one marked secret)\n"
		"      --print-config-reference  every configuration key in Markdown (docs/collector-config.md)\n"
		"  -h, --help              this text and the configuration keys\n"
		"  -V, --version           print the version\n"
		"\n"
		"Each command logs in as the role it needs ([db] owner_user, ingest_user, aggregate_user,\n"
		"privacy_user, reader_user). Passwords are read from [db] <role>_password_file, else password_file or\n"
		"the variable named by [db] password_env (default ODO_DB_PASSWORD), never from the command line.\n\n"
		"configuration keys:\n");
	for (size_t s = 0; s < ODO_ARRAY_LEN(sections); s++)
		for (size_t k = 0; k < sections[s].nkeys; k++)
			fprintf(f, "  [%s] %-16s %s (default: %s)\n", sections[s].name, sections[s].keys[k].key,
				sections[s].keys[k].help, sections[s].keys[k].def ? sections[s].keys[k].def : "-");
}

/* Passwords of the roles a command uses, read at start, wiped once connected. */
static char passwords[ROLE__N][SECRET_MAX];

static void wipe_passwords(void)
{
	volatile char *p = &passwords[0][0];
	for (size_t i = 0; i < sizeof passwords; i++)
		p[i] = 0;
}

static int load_password(enum db_role role)
{
	const char *file = dcfg.role_password_file[role][0] ? dcfg.role_password_file[role] : dcfg.password_file;
	const char *env = dcfg.role_password_file[role][0] ? NULL : dcfg.password_env;
	int rc = odo_config_read_secret(file, env, passwords[role], sizeof passwords[role]);
	int err = errno; /* open(2)'s or read(2)'s, for ODO_ERR_IO */
	if (rc == ODO_ERR_NOTFOUND && !file[0]) {
		passwords[role][0] = '\0'; /* libpq's own means: .pgpass, peer/cert auth */
		return ODO_OK;
	}
	if (rc)
		ODO_LOG(ERROR, "db", "cannot read the %s role's database password (%s): %s", role_names[role],
			file[0] ? file : env,
			rc == ODO_ERR_NOTFOUND ? "No such file or directory" : rc == ODO_ERR_IO && err ? strerror(err) : odo_strerror(rc));
	return rc;
}

/* libpq "options" for every connection: the consent requirement the SQL reads. */
static const char *conn_options(void)
{
	return pcfg.require_consent ? "-c odo.require_consent=on" : "-c odo.require_consent=off";
}

static PGconn *db_connect(enum db_role role)
{
	char app[48];
	snprintf(app, sizeof app, "odo-collector (%s)", role_names[role]);
	const struct odo_pg_login l = { .conninfo = dcfg.conninfo, .user = dcfg.user[role],
					.password = passwords[role], .options = conn_options(), .app = app };
	const char *kw[ODO_PG_LOGIN_KEYS], *val[ODO_PG_LOGIN_KEYS];
	odo_pg_login_params(&l, kw, val);
	PGconn *c = PQconnectdbParams(kw, val, 1);
	if (PQstatus(c) != CONNECTION_OK) {
		char why[256];
		snprintf(why, sizeof why, "%s", PQerrorMessage(c));
		why[strcspn(why, "\n")] = '\0';
		ODO_LOG(ERROR, "db", "cannot connect as the %s role%s%s: %s", role_names[role],
			dcfg.user[role][0] ? " " : "", dcfg.user[role], why);
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* ---- maintain ------------------------------------------------------------ */

static int maintain(PGconn *c, char *why)
{
	int created = 0, dropped = 0;
	int rc = odo_maintain(c, (int)ccfg.partition_months_back, (int)ccfg.partition_months_ahead, &created,
			      &dropped, why);
	if (!rc)
		ODO_LOG(INFO, "maintain", "partitions for %lld month(s) back and %lld ahead: %d created, %d empty"
			" one(s) before the window dropped", ccfg.partition_months_back, ccfg.partition_months_ahead,
			created, dropped);
	return rc;
}

/* Partitions are the owner's job (`maintain`: its timer, and `migrate`).
 * Only a single-role installation, where the ingesting role owns the
 * tables, still gets them at start, as before the roles were split. */
static void run_maintain_at_start(void)
{
	PGconn *c = db_connect(ROLE_INGEST);
	if (!c)
		return; /* the writer keeps trying to connect and says why */
	PGresult *r = PQexec(c, "SELECT pg_has_role(current_user, relowner, 'USAGE') FROM pg_class"
				" WHERE oid = to_regclass('samples')");
	int owner = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (owner) {
		char why[256] = "";
		if (maintain(c, why))
			ODO_LOG(WARN, "maintain", "cannot create partitions at start (%s); records of months without one"
				" go to quarantine until `odo-collector maintain` runs", why);
	} else {
		ODO_LOG(INFO, "maintain", "ingesting as a role that does not own the schema: partitions are"
			" `odo-collector maintain`'s (as the owner, from its timer)");
	}
	PQfinish(c);
}

/* ---- run ---------------------------------------------------------------- */

struct ingest {
	struct odo_mqin *mq;
	struct odo_pgw *ws[MAX_WRITERS];
	int nw;
	struct odo_pgw *refresh; /* the feature refresh's connection (aggregate role); NULL: none */
	struct odo_batch *scratch;
	uint64_t acks_sent, rejected;
	struct odo_cm *cm;
	struct odo_alerts *alerts;
};

/* The receiver's UTC clock, for the decoder's time window. */
static int64_t utc_ms(void)
{
	struct odo_clock real;
	odo_clock_init_system(&real);
	return odo_clock_real_ns(&real) / 1000000;
}

/* The writer of a device: a stable hash, so one device's batches share a
 * connection (no lock contention between our own connections). */
static struct odo_pgw *writer_for(struct ingest *in, const char *device)
{
	uint32_t h = 2166136261u;
	for (const char *p = device; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return in->ws[h % (uint32_t)in->nw];
}

static int writers_idle(const struct ingest *in)
{
	for (int i = 0; i < in->nw; i++)
		if (!odo_pgw_idle(in->ws[i]))
			return 0;
	return 1;
}

static void on_ack(void *ctx, const char *device, uint64_t epoch, uint32_t version, uint64_t ack)
{
	struct ingest *in = ctx;
	if (odo_mqin_publish_ack(in->mq, device, epoch, version, ack) == ODO_OK)
		in->acks_sent++;
	else
		ODO_LOG(DEBUG, "mqtt", "ack %llu for %s not sent (broker away); the next commit repeats it",
			(unsigned long long)ack, device);
}

static void on_msg(void *ctx, const char *topic, const uint8_t *payload, size_t len)
{
	struct ingest *in = ctx;
	struct odo_wire_error err;
	/* The receiver's time window follows the real clock (wire v2). */
	int64_t now = utc_ms();
	int rc = odo_decode_message(topic, payload, len, now, in->scratch, &err);
	if (rc == ODO_OK) {
		/* counted as taken by the decoder: records by kind, the device, its status */
		odo_cm_batch(in->cm, in->scratch, (double)now / 1000.0);
		rc = odo_pgw_add_batch(writer_for(in, in->scratch->device), in->scratch, now, topic, payload, len);
		odo_cm_message(in->cm, rc == ODO_OK ? ODO_CM_ACCEPTED : ODO_CM_SHED);
		if (rc == ODO_ERR_FULL)
			ODO_LOG(WARN, "ingest", "queue full: batch from %s not taken (unacked, the device resends)",
				topic);
		else if (rc)
			ODO_LOG(ERROR, "ingest", "batch from %s not taken: %s (unacked, the device resends)", topic,
				odo_strerror(rc));
		return;
	}
	if (rc == ODO_ERR_NOMEM) {
		ODO_LOG(ERROR, "ingest", "out of memory decoding a message on %s (unacked)", topic);
		return;
	}
	char tdev[ODO_DEVICE_ID_MAX + 1];
	struct odo_wire_error terr;
	if (odo_decode_topic(topic, tdev, &terr) != ODO_OK)
		tdev[0] = '\0';
	in->rejected++;
	odo_cm_message(in->cm, ODO_CM_REJECTED);
	ODO_LOG(WARN, "ingest", "rejected message on %s (%zu bytes): %s at %s: %s", topic, len,
		odo_decode_code_name(err.code), err.field, err.msg);
	rc = odo_pgw_add_dead(in->ws[0], topic, tdev, payload, len, &err);
	if (rc)
		ODO_LOG(WARN, "ingest", "dead letter for %s not kept: %s", topic,
			rc == ODO_ERR_FULL ? "the queue is full" : odo_strerror(rc));
}

static void log_stats(const struct ingest *in)
{
	struct odo_pgw_stats st = { 0 }, one;
	for (int i = 0; i < in->nw; i++) {
		odo_pgw_get_stats(in->ws[i], &one);
		st.batches += one.batches, st.records += one.records, st.dead += one.dead;
		st.dead_records += one.dead_records, st.poison += one.poison, st.conflicts += one.conflicts;
		st.quarantined += one.quarantined, st.lost_ranges += one.lost_ranges, st.lost_seqs += one.lost_seqs;
		st.shed += one.shed, st.shed_bytes += one.shed_bytes, st.commits += one.commits;
		st.failures += one.failures, st.env_failures += one.env_failures, st.isolations += one.isolations;
		st.dropped += one.dropped, st.queue_msgs += one.queue_msgs, st.queue_bytes += one.queue_bytes;
		st.erased_drops += one.erased_drops, st.consent_drops += one.consent_drops;
		if (one.last_sqlstate[0])
			memcpy(st.last_sqlstate, one.last_sqlstate, sizeof st.last_sqlstate);
	}
	ODO_LOG(INFO, "stats",
		"collector=%s batches=%llu records=%llu dead=%llu dead_records=%llu poison=%llu conflicts=%llu"
		" quarantined=%llu lost_ranges=%llu lost_seqs=%llu shed=%llu shed_bytes=%llu commits=%llu failures=%llu"
		" env_failures=%llu isolations=%llu dropped=%llu erased_drops=%llu consent_drops=%llu queue_msgs=%zu"
		" queue_bytes=%zu last_sqlstate=%s acks=%llu",
		ccfg.name, (unsigned long long)st.batches, (unsigned long long)st.records, (unsigned long long)st.dead,
		(unsigned long long)st.dead_records, (unsigned long long)st.poison, (unsigned long long)st.conflicts,
		(unsigned long long)st.quarantined, (unsigned long long)st.lost_ranges, (unsigned long long)st.lost_seqs,
		(unsigned long long)st.shed, (unsigned long long)st.shed_bytes, (unsigned long long)st.commits,
		(unsigned long long)st.failures, (unsigned long long)st.env_failures, (unsigned long long)st.isolations,
		(unsigned long long)st.dropped, (unsigned long long)st.erased_drops,
		(unsigned long long)st.consent_drops, st.queue_msgs, st.queue_bytes,
		st.last_sqlstate[0] ? st.last_sqlstate : "-", (unsigned long long)in->acks_sent);
}

static int cmd_run(void)
{
	struct ingest in;
	memset(&in, 0, sizeof in);
	if (odo_decode_batch_alloc(&in.scratch) != ODO_OK)
		return 1;
	run_maintain_at_start();
	struct odo_pgw_opts wo = {
		.conninfo = dcfg.conninfo,
		.password = passwords[ROLE_INGEST],
		.user = dcfg.user[ROLE_INGEST],
		.options = conn_options(),
		.name = ccfg.name,
		.max_group_rows = (size_t)ccfg.max_group_rows,
		.commit_ms = (int)ccfg.commit_ms,
		.max_queue_msgs = (size_t)ccfg.max_queue,
		/* one bound for the process: shared among the connections' queues */
		.max_queue_bytes = (size_t)ccfg.max_queue_bytes / (size_t)ccfg.db_connections,
		.refresh_s = (int)ccfg.refresh_s,
	};
	struct odo_mqin_opts mo = {
		.host = mcfg.host,
		.port = (int)mcfg.port,
		.client_id = mcfg.client_id,
		.group = mcfg.group,
		.cafile = mcfg.cafile,
		.certfile = mcfg.certfile,
		.keyfile = mcfg.keyfile,
		.keepalive_s = (int)mcfg.keepalive,
		.session_expiry_s = (long)mcfg.session_expiry,
	};
	struct odo_cm_opts xo = {
		.listen = xcfg.listen,
		.max_devices = (size_t)xcfg.max_devices,
		.device_expire_s = (double)xcfg.device_expire_days * 86400.0,
		.version = ODO_VERSION,
		.name = ccfg.name,
		.max_queue_bytes = (double)ccfg.max_queue_bytes,
		.max_queue_msgs = (double)ccfg.max_queue * (double)ccfg.db_connections, /* per connection */
	};
	char why[256];
	int rc = odo_cm_open(&xo, &in.cm, why, sizeof why);
	if (rc) {
		ODO_LOG(ERROR, "metrics", "[metrics] listen %s: %s", xcfg.listen, why[0] ? why : odo_strerror(rc));
		odo_decode_batch_free(in.scratch);
		return 1;
	}
	if (xcfg.listen[0])
		ODO_LOG(INFO, "metrics", "serving /metrics, /livez and /readyz on %s (port %u)", xcfg.listen,
			odo_cm_port(in.cm));
	wo.hooks = odo_cm_writer_hooks(in.cm);
	/* alert delivery claims and settles its rows as the ingesting role */
	struct odo_alerts_opts ao = { .conninfo = dcfg.conninfo, .password = passwords[ROLE_INGEST],
				      .user = dcfg.user[ROLE_INGEST], .name = ccfg.name, .version = ODO_VERSION,
				      .metrics = odo_cm_registry(in.cm) };
	rc = odo_alerts_open(&alcfg, &ao, &in.alerts, why, sizeof why);
	if (rc) {
		ODO_LOG(ERROR, "alerts", "%s", why[0] ? why : odo_strerror(rc));
		odo_cm_close(in.cm);
		odo_decode_batch_free(in.scratch);
		return 1;
	}
	if (alcfg.webhook_url[0])
		ODO_LOG(INFO, "alerts", "alerts go to the webhook %s (signed, retried for %.0f s)", alcfg.webhook_url,
			alcfg.give_up_s);
	else
		ODO_LOG(INFO, "alerts", "no [alerts] webhook_url: alerts are recorded in the alerts table only");
	wo.alert_targets = odo_alerts_targets(in.alerts);
	wo.alert_raised = odo_alerts_raised;
	wo.alert_ctx = in.alerts;
	in.nw = (int)ccfg.db_connections;
	wo.refresh_s = 0;
	for (int i = 0; i < in.nw && rc == ODO_OK; i++)
		rc = odo_pgw_open(&wo, on_ack, &in, &in.ws[i]);
	/* The feature refresh writes feature tables: its own connection, as the
	 * aggregate role; it never takes a batch. */
	if (rc == ODO_OK && ccfg.refresh_s > 0) {
		struct odo_pgw_opts ro = wo;
		ro.password = passwords[ROLE_AGGREGATE];
		ro.user = dcfg.user[ROLE_AGGREGATE];
		ro.refresh_s = (int)ccfg.refresh_s;
		ro.hooks = NULL;
		ro.alert_targets = NULL;
		ro.alert_raised = NULL;
		ro.no_alerts = 1;
		rc = odo_pgw_open(&ro, on_ack, &in, &in.refresh);
	}
	if (rc == ODO_OK)
		rc = odo_mqin_open(&mo, on_msg, &in, &in.mq);
	wipe_passwords();
	if (rc) {
		ODO_LOG(ERROR, "main", "start-up failed: %s", odo_strerror(rc));
		for (int i = 0; i < in.nw; i++)
			odo_pgw_close(in.ws[i]);
		odo_alerts_close(in.alerts);
		odo_pgw_close(in.refresh);
		odo_cm_close(in.cm);
		odo_decode_batch_free(in.scratch);
		return 1;
	}
	ODO_LOG(INFO, "main", "odo-collector %s '%s' starting (group %s, client %s)", ODO_VERSION, ccfg.name,
		mcfg.group, mcfg.client_id);
	/* Certificate and CRL expiry: checked now and every hour; tls.cert and
	 * tls.crl hold the seconds left (for the metrics endpoint). */
	struct odo_tlswatch tls;
	odo_tlswatch_init(&tls, mcfg.certfile, mcfg.crlfile, (int64_t)mcfg.expiry_warn_days * 86400);
	odo_tlswatch_check(&tls, (int64_t)time(NULL));
	volatile int stopping = 0;
	struct odo_cm_sources srcs = {
		.writers = in.ws, .nwriters = in.nw, .mq = in.mq, .tls = &tls, .acks_sent = &in.acks_sent,
		.stopping = &stopping,
	};
	odo_cm_attach(in.cm, &srcs);
	int64_t next_tls = mono_ms() + TLS_CHECK_MS;
	int64_t next_stats = mono_ms() + STATS_EVERY_MS, drain_until = 0;
	for (;;) {
		int64_t now = mono_ms();
		if (stop_requested && !drain_until) {
			/* Leave the shared subscription, commit and ack what we have
			 * taken; the other collectors take our share meanwhile. */
			ODO_LOG(INFO, "main", "stopping: leaving the shared subscription, committing what is queued");
			odo_mqin_stop_intake(in.mq);
			odo_alerts_stop(in.alerts);
			drain_until = now + DRAIN_MS;
			stopping = 1;
		}
		if (drain_until && ((writers_idle(&in) && odo_mqin_drained(in.mq) && odo_alerts_idle(in.alerts)) ||
				    now >= drain_until)) {
			if (!writers_idle(&in))
				ODO_LOG(WARN, "main", "stopping with uncommitted messages (not acked: the devices resend)");
			break;
		}
		struct pollfd p[3 + MAX_WRITERS + ODO_ALERTS_MAX_FDS];
		int n = 0, im = -1, ir = -1, iw[MAX_WRITERS];
		short ev;
		int fd;
		if ((fd = odo_mqin_socket(in.mq, &ev)) >= 0) {
			p[n] = (struct pollfd){ .fd = fd, .events = ev };
			im = n++;
		}
		int timeout = 100; /* MQTT keepalive and reconnects */
		if ((fd = odo_cm_socket(in.cm)) >= 0) {
			p[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
			int t = odo_cm_timeout_ms(in.cm);
			if (t >= 0 && t < timeout)
				timeout = t;
		}
		for (int i = 0; i < in.nw; i++) {
			iw[i] = -1;
			if ((fd = odo_pgw_socket(in.ws[i], &ev)) >= 0) {
				p[n] = (struct pollfd){ .fd = fd, .events = ev };
				iw[i] = n++;
			}
			int t = odo_pgw_timeout_ms(in.ws[i], now);
			if (t < timeout)
				timeout = t;
		}
		/* alert delivery: its database connection and webhook transfers */
		int ia = n, na = odo_alerts_pollfds(in.alerts, p + n, ODO_ALERTS_MAX_FDS);
		n += na;
		int ta = odo_alerts_timeout_ms(in.alerts, now);
		if (ta < timeout)
			timeout = ta;
		if (in.refresh) {
			if ((fd = odo_pgw_socket(in.refresh, &ev)) >= 0) {
				p[n] = (struct pollfd){ .fd = fd, .events = ev };
				ir = n++;
			}
			int t = odo_pgw_timeout_ms(in.refresh, now);
			if (t < timeout)
				timeout = t;
		}
		if (poll(p, (nfds_t)n, timeout) < 0 && errno != EINTR) {
			ODO_LOG(ERROR, "main", "poll: %s", strerror(errno));
			break;
		}
		now = mono_ms();
		odo_mqin_service(in.mq, now, im >= 0 ? p[im].revents : 0);
		for (int i = 0; i < in.nw; i++)
			odo_pgw_service(in.ws[i], now, iw[i] >= 0 ? p[iw[i]].revents : 0);
		odo_alerts_service(in.alerts, now, p + ia, na);
		if (in.refresh)
			odo_pgw_service(in.refresh, now, ir >= 0 ? p[ir].revents : 0);
		/* libmicrohttpd runs after every poll, ready or not (MHD_get_timeout's contract) */
		odo_cm_service(in.cm, (double)utc_ms() / 1000.0);
		if (now >= next_tls) {
			odo_tlswatch_check(&tls, (int64_t)time(NULL));
			next_tls = now + TLS_CHECK_MS;
		}
		if (now >= next_stats) {
			log_stats(&in);
			next_stats = now + STATS_EVERY_MS;
		}
	}
	log_stats(&in);
	odo_mqin_disconnect(in.mq);
	odo_mqin_close(in.mq);
	for (int i = 0; i < in.nw; i++)
		odo_pgw_close(in.ws[i]);
	odo_alerts_close(in.alerts);
	odo_pgw_close(in.refresh);
	odo_cm_close(in.cm);
	odo_decode_batch_free(in.scratch);
	return 0;
}

/* ---- the one-shot commands ---------------------------------------------- */

/* The role each one-shot command logs in as. */
static enum db_role role_of(const char *cmd)
{
	if (!strcmp(cmd, "migrate") || !strcmp(cmd, "maintain") || !strcmp(cmd, "archive"))
		return ROLE_OWNER;
	if (!strcmp(cmd, "aggregate"))
		return ROLE_AGGREGATE;
	return ROLE_PRIVACY; /* forget, retention */
}

/* The operator commands' connections (collector/admin): registration and
 * consent as the privacy role, `device list` as the reader; the password
 * of that role only, read when the command asks for its connection. */
static PGconn *admin_connect(void *ctx, enum odo_admin_login login)
{
	(void)ctx;
	enum db_role role = login == ODO_ADMIN_LOGIN_READER ? ROLE_READER : ROLE_PRIVACY;
	PGconn *c = load_password(role) ? NULL : db_connect(role);
	wipe_passwords();
	return c;
}

static int cmd_db(const char *cmd, const char *arg)
{
	PGconn *c = db_connect(role_of(cmd));
	wipe_passwords();
	if (!c)
		return 1;
	char why[256] = "";
	long long rows = 0;
	int rc;
	if (strcmp(cmd, "maintain") == 0) {
		rc = maintain(c, why);
	} else if (strcmp(cmd, "migrate") == 0) {
		/* the owner: the roles first (it may create them), the
		 * migrations, the privilege matrix, then the partition window */
		int applied = 0, granted = 0;
		rc = odo_roles_ensure(c, why);
		rc = rc ? rc : odo_migrate(c, &applied, why);
		if (!rc)
			ODO_LOG(INFO, "migrate", "%d migration(s) applied", applied);
		rc = rc ? rc : odo_roles_apply(c, &granted, why);
		if (!rc)
			ODO_LOG(INFO, "migrate", "privileges of %s, %s, %s and %s applied (%d grants)", odo_roles[0],
				odo_roles[1], odo_roles[2], odo_roles[3], granted);
		rc = rc ? rc : maintain(c, why);
	} else if (strcmp(cmd, "aggregate") == 0) {
		rc = odo_agg_month(c, arg, &rows, why);
		if (!rc)
			ODO_LOG(INFO, "aggregate", "month %s: %lld driver row(s) written", arg, rows);
	} else if (strcmp(cmd, "forget") == 0) {
		/* the archive first: the driver's assignment windows are needed to
		 * find the rows, and the database forget clears them */
		struct odo_archive_result ar;
		rc = odo_archive_forget(c, &acfg, ccfg.name, arg, &ar, why);
		if (!rc && ar.files)
			ODO_LOG(INFO, "forget", "%lld row(s) erased from %lld archive file(s) (rewritten, verified)", ar.rows,
				ar.files);
		if (!rc)
			rc = odo_forget_driver(c, arg, ccfg.name, &rows, why);
		if (!rc)
			ODO_LOG(INFO, "forget", "driver erased: %lld row(s) deleted, audit row written", rows);
	} else {
		char *end;
		long d = strtol(arg, &end, 10);
		if (*end || d < 1 || d > 100000) {
			ODO_LOG(ERROR, "retention", "--days wants a whole number of days >= 1");
			PQfinish(c);
			return 2;
		}
		rc = odo_retention(c, (int)d, ccfg.name, &rows, why);
		if (!rc)
			ODO_LOG(INFO, "retention", "%lld raw row(s) older than %ld days deleted", rows, d);
	}
	PQfinish(c);
	if (rc) {
		ODO_LOG(ERROR, cmd, "%s: %s", odo_strerror(rc), why);
		return rc == ODO_ERR_INVAL ? 2 : 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	odo_log_set_program("odo-collector");
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' }, { "set", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },         { "version", no_argument, NULL, 'V' },
		{ "month", required_argument, NULL, 'm' },  { "driver", required_argument, NULL, 'd' },
		{ "days", required_argument, NULL, 'n' },   { "print-config-reference", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *month = NULL, *driver = NULL, *days = NULL;
	const char *sets[32];
	int nsets = 0, o;
	struct odo_cfg_error cerr;
	while ((o = getopt_long(argc, argv, "+c:s:hV", lo, NULL)) != -1) {
		switch (o) {
		case 'c': config = optarg; break;
		case 's':
			if (nsets == (int)ODO_ARRAY_LEN(sets)) {
				fprintf(stderr, "odo-collector: too many --set\n");
				return 2;
			}
			sets[nsets++] = optarg;
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("odo-collector %s\n", ODO_VERSION); return 0;
		case 'R': return odo_config_print_reference(stdout, "odo-collector", sections, ODO_ARRAY_LEN(sections)) ? 1 : 0;
		case 'm': month = optarg; break;
		case 'd': driver = optarg; break;
		case 'n': days = optarg; break;
		default: usage(stderr); return 2;
		}
	}
	const char *cmd = optind < argc ? argv[optind++] : "run";
	int roads_argc = 0;
	char **roads_argv = NULL;
	if (strcmp(cmd, "roads") == 0 || strcmp(cmd, "archive") == 0) { /* own arguments (roads/, archive/cli.c) */
		roads_argc = argc - optind + 1;
		roads_argv = argv + optind - 1;
		optind = argc;
	}
	int admin_argc = 0;
	char **admin_argv = NULL;
	if (odo_admin_is_command(cmd)) { /* their own arguments (admin/cli.c) */
		admin_argc = argc - optind + 1;
		admin_argv = argv + optind - 1;
		optind = argc;
	}
	/* subcommand options may follow the command */
	while ((o = getopt_long(argc, argv, "m:d:n:", lo, NULL)) != -1) {
		switch (o) {
		case 'm': month = optarg; break;
		case 'd': driver = optarg; break;
		case 'n': days = optarg; break;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "odo-collector: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	int rc = config ? odo_config_parse_file(config, sections, ODO_ARRAY_LEN(sections), &cerr)
			: odo_config_defaults(sections, ODO_ARRAY_LEN(sections), &cerr);
	if (rc) {
		fprintf(stderr, "odo-collector: %s\n", cerr.msg);
		return 2;
	}
	for (int i = 0; i < nsets; i++) {
		if (odo_config_set_arg(sections, ODO_ARRAY_LEN(sections), sets[i], &cerr)) {
			fprintf(stderr, "odo-collector: %s\n", cerr.msg);
			return 2;
		}
	}
	int lvl = odo_log_level_parse(ccfg.log_level);
	if (lvl < 0) {
		fprintf(stderr, "odo-collector: unknown log_level '%s'\n", ccfg.log_level);
		return 2;
	}
	odo_log_threshold = lvl;
	if (strcmp(cmd, "roles") == 0) {
		odo_roles_print(stdout);
		return 0;
	}
	/* usage errors before any secret is read */
	static const char *const known[] = { "run", "ingest", "migrate", "maintain", "roads", "archive", "aggregate",
					     "forget", "retention" };
	int is_known = admin_argv != NULL;
	for (size_t i = 0; i < ODO_ARRAY_LEN(known); i++)
		is_known |= strcmp(cmd, known[i]) == 0;
	if (!is_known) {
		fprintf(stderr, "odo-collector: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	const char *need = !strcmp(cmd, "aggregate") && !month	   ? "aggregate needs --month YYYY-MM"
			   : !strcmp(cmd, "forget") && !driver	   ? "forget needs --driver ID"
			   : !strcmp(cmd, "retention") && !days	   ? "retention needs --days N"
									   : NULL;
	if (need) {
		fprintf(stderr, "odo-collector: %s\n", need);
		return 2;
	}
	/* the passwords of the roles this command logs in as */
	int roads_owner = roads_argc > 1 && strcmp(roads_argv[1], "import") == 0;
	if (strcmp(cmd, "run") == 0 || strcmp(cmd, "ingest") == 0)
		rc = load_password(ROLE_INGEST) || (ccfg.refresh_s > 0 && load_password(ROLE_AGGREGATE));
	else if (strcmp(cmd, "roads") == 0)
		rc = load_password(roads_owner ? ROLE_OWNER : ROLE_AGGREGATE);
	else if (!admin_argv) /* the operator commands read theirs when they connect */
		rc = load_password(role_of(cmd));
	if (rc)
		return 1;

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (admin_argv) {
		struct odo_admin_env env = { .connect = admin_connect, .by = ccfg.name, .out = stdout };
		return odo_admin_cli(&env, admin_argc, admin_argv);
	}
	if (strcmp(cmd, "run") == 0 || strcmp(cmd, "ingest") == 0)
		return cmd_run();
	if (strcmp(cmd, "migrate") == 0 || strcmp(cmd, "maintain") == 0)
		return cmd_db(cmd, NULL);
	if (strcmp(cmd, "roads") == 0) {
		/* import builds the road layer (DDL, PostGIS): the owner; the rest map-match as odo_aggregate */
		enum db_role role = roads_owner ? ROLE_OWNER : ROLE_AGGREGATE;
		PGconn *c = db_connect(role);
		if (!c)
			return 1;
		int st = odo_roads_cli(c, &rcfg, dcfg.conninfo, dcfg.user[role], passwords[role], ccfg.name, roads_argc,
				       roads_argv, (volatile int *)&stop_requested);
		wipe_passwords();
		if (st == 0 && roads_owner) {
			/* the new layer's tables: readable by map matching */
			char why[256] = "";
			int granted = 0;
			if (odo_roles_apply(c, &granted, why)) {
				ODO_LOG(ERROR, "roads", "privileges on the road layer: %s", why);
				st = 1;
			}
		}
		PQfinish(c);
		return st;
	}
	if (strcmp(cmd, "archive") == 0) {
		/* archive moves raw records out and back (TRUNCATE, DELETE, INSERT): the owner */
		PGconn *c = db_connect(ROLE_OWNER);
		wipe_passwords();
		if (!c)
			return 1;
		int st = odo_archive_cli(c, &acfg, ccfg.name, roads_argc, roads_argv);
		PQfinish(c);
		return st;
	}
	if (strcmp(cmd, "aggregate") == 0)
		return cmd_db(cmd, month);
	if (strcmp(cmd, "forget") == 0)
		return cmd_db(cmd, driver);
	if (strcmp(cmd, "retention") == 0)
		return cmd_db(cmd, days);
	return 2; /* not reached: checked above */
}
