/*
 * odo-collector — MQTT/TLS ingest into PostgreSQL, acknowledged end to end;
 * monthly driver features; erasure and retention.
 *
 *   odo-collector [--config FILE] run|migrate|aggregate --month YYYY-MM|
 *                 forget --driver ID|retention --days N
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
#include "pg/maintain.h"
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
};

static struct collector_cfg ccfg;
static struct mqtt_cfg mcfg;
static struct db_cfg dcfg;
static struct metrics_cfg xcfg;
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
		"  maintain                create the month partitions of the stored time window (also at run)\n"
		"  aggregate --month YYYY-MM   recompute monthly_features for that month\n"
		"  forget --driver ID      erase a driver's personal data and raw records (audited)\n"
		"  retention --days N      prune raw records older than N days (aggregates kept)\n"
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
		"The database password is read from [db] password_file or the variable named by\n"
		"[db] password_env (default ODO_DB_PASSWORD), never from the command line.\n\n"
		"configuration keys:\n");
	for (size_t s = 0; s < ODO_ARRAY_LEN(sections); s++)
		for (size_t k = 0; k < sections[s].nkeys; k++)
			fprintf(f, "  [%s] %-16s %s (default: %s)\n", sections[s].name, sections[s].keys[k].key,
				sections[s].keys[k].help, sections[s].keys[k].def ? sections[s].keys[k].def : "-");
}

static char password[SECRET_MAX];

static int load_password(void)
{
	int rc = odo_config_read_secret(dcfg.password_file, dcfg.password_env, password, sizeof password);
	if (rc == ODO_ERR_NOTFOUND) {
		password[0] = '\0'; /* libpq's own means: .pgpass, peer/cert auth */
		return ODO_OK;
	}
	if (rc)
		ODO_LOG(ERROR, "db", "cannot read the database password (%s): %s",
			dcfg.password_file[0] ? dcfg.password_file : dcfg.password_env, odo_strerror(rc));
	return rc;
}

static PGconn *db_connect(void)
{
	/* a bounded connect: `run` calls this at start (maintain) before its loop */
	const char *kw[] = { "dbname", "password", "application_name", "connect_timeout", NULL };
	const char *val[] = { dcfg.conninfo, password[0] ? password : NULL, "odo-collector", "10", NULL };
	if (!password[0]) {
		kw[1] = "application_name";
		val[1] = "odo-collector";
		kw[2] = "connect_timeout";
		val[2] = "10";
		kw[3] = NULL;
	}
	PGconn *c = PQconnectdbParams(kw, val, 1);
	if (PQstatus(c) != CONNECTION_OK) {
		char why[256];
		snprintf(why, sizeof why, "%s", PQerrorMessage(c));
		why[strcspn(why, "\n")] = '\0';
		ODO_LOG(ERROR, "db", "cannot connect: %s", why);
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* ---- maintain ------------------------------------------------------------ */

static int maintain(PGconn *c, char *why)
{
	int created = 0;
	int rc = odo_maintain(c, (int)ccfg.partition_months_back, (int)ccfg.partition_months_ahead, &created, why);
	if (!rc)
		ODO_LOG(INFO, "maintain", "partitions for %lld month(s) back and %lld ahead: %d created",
			ccfg.partition_months_back, ccfg.partition_months_ahead, created);
	return rc;
}

/* At start the collector runs maintain itself, so a fresh install has its
 * window; where its role may not create tables (the hardening planned for
 * the schema owner's timer), it says so and ingests anyway. */
static void run_maintain_at_start(void)
{
	PGconn *c = db_connect();
	if (!c)
		return; /* the writer keeps trying to connect and says why */
	char why[256] = "";
	if (maintain(c, why))
		ODO_LOG(WARN, "maintain", "cannot create partitions at start (%s); records of months without one go"
			" to quarantine until `odo-collector maintain` runs", why);
	PQfinish(c);
}

/* ---- run ---------------------------------------------------------------- */

struct ingest {
	struct odo_mqin *mq;
	struct odo_pgw *ws[MAX_WRITERS];
	int nw;
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
		if (one.last_sqlstate[0])
			memcpy(st.last_sqlstate, one.last_sqlstate, sizeof st.last_sqlstate);
	}
	ODO_LOG(INFO, "stats",
		"collector=%s batches=%llu records=%llu dead=%llu dead_records=%llu poison=%llu conflicts=%llu"
		" quarantined=%llu lost_ranges=%llu lost_seqs=%llu shed=%llu shed_bytes=%llu commits=%llu failures=%llu"
		" env_failures=%llu isolations=%llu dropped=%llu queue_msgs=%zu queue_bytes=%zu last_sqlstate=%s"
		" acks=%llu",
		ccfg.name, (unsigned long long)st.batches, (unsigned long long)st.records, (unsigned long long)st.dead,
		(unsigned long long)st.dead_records, (unsigned long long)st.poison, (unsigned long long)st.conflicts,
		(unsigned long long)st.quarantined, (unsigned long long)st.lost_ranges, (unsigned long long)st.lost_seqs,
		(unsigned long long)st.shed, (unsigned long long)st.shed_bytes, (unsigned long long)st.commits,
		(unsigned long long)st.failures, (unsigned long long)st.env_failures, (unsigned long long)st.isolations,
		(unsigned long long)st.dropped, st.queue_msgs, st.queue_bytes,
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
		.password = password,
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
	struct odo_alerts_opts ao = { .conninfo = dcfg.conninfo, .password = password, .name = ccfg.name,
				      .version = ODO_VERSION, .metrics = odo_cm_registry(in.cm) };
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
	for (int i = 0; i < in.nw && rc == ODO_OK; i++) {
		if (i > 0)
			wo.refresh_s = 0; /* one connection refreshes features */
		rc = odo_pgw_open(&wo, on_ack, &in, &in.ws[i]);
	}
	if (rc == ODO_OK)
		rc = odo_mqin_open(&mo, on_msg, &in, &in.mq);
	memset(password, 0, sizeof password);
	if (rc) {
		ODO_LOG(ERROR, "main", "start-up failed: %s", odo_strerror(rc));
		for (int i = 0; i < in.nw; i++)
			odo_pgw_close(in.ws[i]);
		odo_alerts_close(in.alerts);
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
		struct pollfd p[2 + MAX_WRITERS + ODO_ALERTS_MAX_FDS];
		int n = 0, im = -1, iw[MAX_WRITERS];
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
		if (poll(p, (nfds_t)n, timeout) < 0 && errno != EINTR) {
			ODO_LOG(ERROR, "main", "poll: %s", strerror(errno));
			break;
		}
		now = mono_ms();
		odo_mqin_service(in.mq, now, im >= 0 ? p[im].revents : 0);
		for (int i = 0; i < in.nw; i++)
			odo_pgw_service(in.ws[i], now, iw[i] >= 0 ? p[iw[i]].revents : 0);
		odo_alerts_service(in.alerts, now, p + ia, na);
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
	odo_cm_close(in.cm);
	odo_decode_batch_free(in.scratch);
	return 0;
}

/* ---- the one-shot commands ---------------------------------------------- */

/* The operator commands' connections (collector/admin). */
static PGconn *admin_connect(void *ctx, enum odo_admin_login login)
{
	(void)ctx, (void)login;
	PGconn *c = db_connect();
	memset(password, 0, sizeof password);
	return c;
}

static int cmd_db(const char *cmd, const char *arg)
{
	PGconn *c = db_connect();
	memset(password, 0, sizeof password);
	if (!c)
		return 1;
	char why[256] = "";
	long long rows = 0;
	int rc;
	if (strcmp(cmd, "maintain") == 0) {
		rc = maintain(c, why);
	} else if (strcmp(cmd, "migrate") == 0) {
		int applied = 0;
		rc = odo_migrate(c, &applied, why);
		if (!rc)
			ODO_LOG(INFO, "migrate", "%d migration(s) applied", applied);
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
	if (load_password())
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
		PGconn *c = db_connect();
		if (!c)
			return 1;
		int st = odo_roads_cli(c, &rcfg, dcfg.conninfo, password, ccfg.name, roads_argc, roads_argv,
				       (volatile int *)&stop_requested);
		memset(password, 0, sizeof password);
		PQfinish(c);
		return st;
	}
	if (strcmp(cmd, "archive") == 0) {
		PGconn *c = db_connect();
		memset(password, 0, sizeof password);
		if (!c)
			return 1;
		int st = odo_archive_cli(c, &acfg, ccfg.name, roads_argc, roads_argv);
		PQfinish(c);
		return st;
	}
	if (strcmp(cmd, "aggregate") == 0) {
		if (!month) {
			fprintf(stderr, "odo-collector: aggregate needs --month YYYY-MM\n");
			return 2;
		}
		return cmd_db(cmd, month);
	}
	if (strcmp(cmd, "forget") == 0) {
		if (!driver) {
			fprintf(stderr, "odo-collector: forget needs --driver ID\n");
			return 2;
		}
		return cmd_db(cmd, driver);
	}
	if (strcmp(cmd, "retention") == 0) {
		if (!days) {
			fprintf(stderr, "odo-collector: retention needs --days N\n");
			return 2;
		}
		return cmd_db(cmd, days);
	}
	fprintf(stderr, "odo-collector: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
