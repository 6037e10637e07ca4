/* odo-collector — the collector's metrics and health endpoints (see cmetrics.h). */
#include "metrics/cmetrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics/devices.h"
#include "metrics/http.h"
#include "odo/log.h"

#define CM_EXPIRE_EVERY_S 60.0

/* Families (docs/metrics.md lists each with its meaning). */
enum {
	F_BUILD, F_START, F_READY, F_CONNECTED,
	F_MESSAGES, F_RECORDS_RECEIVED, F_RECORDS_COMMITTED, F_BATCHES, F_COMMITS, F_COMMIT_FAILURES, F_ACKS,
	F_LAG, F_GROUP, F_DB_ERRORS, F_QUEUE_BYTES, F_QUEUE_MESSAGES, F_QUEUE_MAX_BYTES, F_QUEUE_MAX_MESSAGES,
	F_DEAD, F_LOST_RANGES, F_LOST_RECORDS, F_QUARANTINED,
	F_DEV_LAST_SEEN, F_DEV_OUTBOX, F_DEV_OUTBOX_AGE, F_DEV_STATUS_T, F_DEVICES, F_DEVICES_UNTRACKED,
	F_TLS_EXPIRY, F_TLS_READABLE,
	F__N
};

static const struct odo_metric_desc DESC[F__N] = {
	[F_BUILD] = { .name = "odo_collector_build_info", .help = "Always 1; the labels name the version and this collector",
		      .type = ODO_METRIC_GAUGE, .nlabels = 2, .labels = { "version", "name" } },
	[F_START] = { .name = "odo_collector_start_time_seconds", .help = "When this process started, Unix seconds",
		      .type = ODO_METRIC_GAUGE },
	[F_READY] = { .name = "odo_collector_ready", .help = "1 when /readyz answers 200 (broker subscribed, every database connection up, not stopping)",
		      .type = ODO_METRIC_GAUGE },
	[F_CONNECTED] = { .name = "odo_collector_connected", .help = "1 when connected: broker (connected and subscribed), database (every connection)",
			  .type = ODO_METRIC_GAUGE, .nlabels = 1, .labels = { "component" } },
	[F_MESSAGES] = { .name = "odo_collector_messages_total",
			 .help = "MQTT messages received, by result: accepted (queued for the database), rejected (dead letter), shed (queue full, not acked)",
			 .type = ODO_METRIC_COUNTER, .nlabels = 1, .labels = { "result" } },
	[F_RECORDS_RECEIVED] = { .name = "odo_collector_records_received_total",
				 .help = "Records the decoder accepted, by record kind (a message later shed and resent counts again)",
				 .type = ODO_METRIC_COUNTER, .nlabels = 1, .labels = { "kind" }, .max_series = 16 },
	[F_RECORDS_COMMITTED] = { .name = "odo_collector_records_committed_total",
				  .help = "Records written in committed transactions (a redelivered record again)",
				  .type = ODO_METRIC_COUNTER },
	[F_BATCHES] = { .name = "odo_collector_batches_committed_total", .help = "Batches whose range was settled in a committed transaction",
			.type = ODO_METRIC_COUNTER },
	[F_COMMITS] = { .name = "odo_collector_commits_total", .help = "Transactions committed by the writers", .type = ODO_METRIC_COUNTER },
	[F_COMMIT_FAILURES] = { .name = "odo_collector_commit_failures_total", .help = "Transactions that failed (retried or split)",
				.type = ODO_METRIC_COUNTER },
	[F_ACKS] = { .name = "odo_collector_acks_sent_total", .help = "Acknowledgements published to devices", .type = ODO_METRIC_COUNTER },
	[F_LAG] = { .name = "odo_collector_commit_lag_seconds",
		    .help = "Record time (the device's t) to the commit that stored it, per record; negative clock skew counts as 0",
		    .type = ODO_METRIC_HISTOGRAM, .nlabels = 0, .labels = { 0 }, .nbuckets = 16,
		    .buckets = { 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400, 604800 } },
	[F_GROUP] = { .name = "odo_collector_group_commit_records", .help = "Records per committed group transaction",
		      .type = ODO_METRIC_HISTOGRAM, .nlabels = 0, .labels = { 0 }, .nbuckets = 14,
		      .buckets = { 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 50000 } },
	[F_DB_ERRORS] = { .name = "odo_collector_db_errors_total",
			  .help = "Failed database operations by SQLSTATE class (first two characters; 'client' = no server error: connection lost or refused)",
			  .type = ODO_METRIC_COUNTER, .nlabels = 1, .labels = { "class" }, .max_series = 64 },
	[F_QUEUE_BYTES] = { .name = "odo_collector_queue_bytes", .help = "Bytes of messages held in memory for the database (queued and in flight)",
			    .type = ODO_METRIC_GAUGE },
	[F_QUEUE_MESSAGES] = { .name = "odo_collector_queue_messages", .help = "Messages held in memory for the database (queued and in flight)",
			       .type = ODO_METRIC_GAUGE },
	[F_QUEUE_MAX_BYTES] = { .name = "odo_collector_queue_max_bytes",
				.help = "The bound on odo_collector_queue_bytes ([collector] max_queue_bytes): beyond it messages are shed",
				.type = ODO_METRIC_GAUGE },
	[F_QUEUE_MAX_MESSAGES] = { .name = "odo_collector_queue_max_messages",
				   .help = "The bound on odo_collector_queue_messages ([collector] max_queue)", .type = ODO_METRIC_GAUGE },
	[F_DEAD] = { .name = "odo_collector_dead_letters_total",
		     .help = "Dead letters written, by reason: message (refused whole), record (one record refused), database (PostgreSQL refused a record), trip_conflict",
		     .type = ODO_METRIC_COUNTER, .nlabels = 1, .labels = { "reason" } },
	[F_LOST_RANGES] = { .name = "odo_collector_lost_at_server_ranges_total",
			    .help = "Sequence ranges a device had been acknowledged for that the database did not hold (restore, failover)",
			    .type = ODO_METRIC_COUNTER },
	[F_LOST_RECORDS] = { .name = "odo_collector_lost_at_server_records_total", .help = "Sequence numbers in those ranges",
			     .type = ODO_METRIC_COUNTER },
	[F_QUARANTINED] = { .name = "odo_collector_quarantined_records_total",
			    .help = "Valid records kept in quarantine (outside the stored time window)", .type = ODO_METRIC_COUNTER },
	[F_DEV_LAST_SEEN] = { .name = "odo_collector_device_last_seen_timestamp_seconds",
			      .help = "When this collector last received a message from the device, Unix seconds",
			      .type = ODO_METRIC_GAUGE, .nlabels = 1, .labels = { "device" }, .max_series = 1u << 24 },
	[F_DEV_OUTBOX] = { .name = "odo_collector_device_outbox_records",
			   .help = "Records waiting in the device's outbox, from its newest status record",
			   .type = ODO_METRIC_GAUGE, .nlabels = 1, .labels = { "device" }, .max_series = 1u << 24 },
	[F_DEV_OUTBOX_AGE] = { .name = "odo_collector_device_outbox_oldest_age_seconds",
			       .help = "Age of the oldest record waiting in the device's outbox, from its newest status record",
			       .type = ODO_METRIC_GAUGE, .nlabels = 1, .labels = { "device" }, .max_series = 1u << 24 },
	[F_DEV_STATUS_T] = { .name = "odo_collector_device_status_timestamp_seconds",
			     .help = "The device's own time of that status record, Unix seconds",
			     .type = ODO_METRIC_GAUGE, .nlabels = 1, .labels = { "device" }, .max_series = 1u << 24 },
	[F_DEVICES] = { .name = "odo_collector_devices_tracked", .help = "Devices with per-device series (at most [metrics] max_devices)",
			.type = ODO_METRIC_GAUGE },
	[F_DEVICES_UNTRACKED] = { .name = "odo_collector_devices_untracked_messages_total",
				  .help = "Messages from devices without series because [metrics] max_devices was reached",
				  .type = ODO_METRIC_COUNTER },
	[F_TLS_EXPIRY] = { .name = "odo_collector_tls_expiry_timestamp_seconds",
			   .help = "When the file stops being valid (certificate notAfter, CRL nextUpdate), Unix seconds; absent when unknown",
			   .type = ODO_METRIC_GAUGE, .nlabels = 1, .labels = { "file" } },
	[F_TLS_READABLE] = { .name = "odo_collector_tls_file_readable",
			     .help = "1 when the file could be read and its date parsed, 0 when not (see the log); absent when not configured",
			     .type = ODO_METRIC_GAUGE, .nlabels = 1, .labels = { "file" } },
};

struct odo_cm {
	struct odo_metrics *reg;
	struct odo_metric_family *f[F__N];
	struct odo_metric_series *msg[3], *kind[ODO_REC__MAX + 1], *lag, *group;
	struct odo_devtab *dev;
	struct odo_http *http;
	struct odo_cm_sources src;
	struct odo_pgw_hooks hooks;
	double expire_s, next_expire_s;
};

static double wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- writer hooks ------------------------------------------------------- */

static void on_committed(void *ctx, const int64_t *t_ms, size_t n, int64_t commit_wall_ms)
{
	struct odo_cm *cm = ctx;
	odo_metric_observe(cm->group, (double)n);
	for (size_t i = 0; i < n; i++) {
		double lag = (double)(commit_wall_ms - t_ms[i]) / 1000.0;
		odo_metric_observe(cm->lag, lag > 0 ? lag : 0);
	}
}

static void on_db_error(void *ctx, const char *sqlstate)
{
	struct odo_cm *cm = ctx;
	char cls[3] = "";
	if (sqlstate && strlen(sqlstate) == 5)
		snprintf(cls, sizeof cls, "%.2s", sqlstate);
	odo_metric_add(odo_metric_series1(cm->f[F_DB_ERRORS], cls[0] ? cls : "client"), 1);
}

const struct odo_pgw_hooks *odo_cm_writer_hooks(struct odo_cm *cm)
{
	return &cm->hooks;
}

/* ---- readiness ---------------------------------------------------------- */

static int mqtt_up(const struct odo_cm *cm)
{
	return cm->src.mq && odo_mqin_connected(cm->src.mq) && odo_mqin_subscribed(cm->src.mq);
}

static int db_up(const struct odo_cm *cm, int *up)
{
	*up = 0;
	for (int i = 0; i < cm->src.nwriters; i++)
		*up += odo_pgw_connected(cm->src.writers[i]) ? 1 : 0;
	return cm->src.nwriters > 0 && *up == cm->src.nwriters;
}

int odo_cm_ready(struct odo_cm *cm, char *why, size_t whylen)
{
	int up, db = db_up(cm, &up), mq = mqtt_up(cm);
	int stopping = cm->src.stopping && *cm->src.stopping;
	snprintf(why, whylen,
		 "broker: %s\n"
		 "database: %s (%d of %d connections)\n"
		 "stopping: %s\n",
		 mq ? "ok (connected, subscribed)" : "not subscribed", db ? "ok" : "down", up, cm->src.nwriters,
		 stopping ? "yes (draining)" : "no");
	return mq && db && !stopping;
}

/* ---- scrape ------------------------------------------------------------- */

static void set0(struct odo_cm *cm, int f, double v)
{
	odo_metric_set(odo_metric_series(cm->f[f], NULL), v);
}

static void set1(struct odo_cm *cm, int f, const char *label, double v)
{
	odo_metric_set(odo_metric_series1(cm->f[f], label), v);
}

static void collect_tls(struct odo_cm *cm)
{
	odo_metric_family_clear(cm->f[F_TLS_EXPIRY]);
	odo_metric_family_clear(cm->f[F_TLS_READABLE]);
	const struct odo_tlswatch *t = cm->src.tls;
	if (!t || !t->checked)
		return;
	const struct odo_tlswatch_file *file[2] = { &t->cert, &t->crl };
	static const char *const name[2] = { "certificate", "crl" };
	for (int i = 0; i < 2; i++) {
		if (file[i]->state == ODO_TLSWATCH_OFF)
			continue;
		int known = file[i]->state != ODO_TLSWATCH_UNKNOWN;
		set1(cm, F_TLS_READABLE, name[i], known);
		if (known)
			set1(cm, F_TLS_EXPIRY, name[i], (double)file[i]->not_after_s);
	}
}

static void collect_devices(struct odo_cm *cm)
{
	static const int fams[] = { F_DEV_LAST_SEEN, F_DEV_OUTBOX, F_DEV_OUTBOX_AGE, F_DEV_STATUS_T };
	for (size_t i = 0; i < ODO_ARRAY_LEN(fams); i++)
		odo_metric_family_clear(cm->f[fams[i]]);
	size_t n = odo_devtab_count(cm->dev);
	for (size_t i = 0; i < n; i++) {
		const struct odo_devtab_entry *e = odo_devtab_at(cm->dev, i);
		set1(cm, F_DEV_LAST_SEEN, e->id, e->last_seen_s);
		if (!e->has_status)
			continue; /* not reported yet: absent, not 0 */
		set1(cm, F_DEV_OUTBOX, e->id, (double)e->outbox_depth);
		set1(cm, F_DEV_OUTBOX_AGE, e->id, (double)e->outbox_oldest_age_s);
		set1(cm, F_DEV_STATUS_T, e->id, (double)e->status_t_ms / 1000.0);
	}
	set0(cm, F_DEVICES, (double)n);
	set0(cm, F_DEVICES_UNTRACKED, (double)odo_devtab_refused(cm->dev));
}

static void collect(struct odo_cm *cm)
{
	struct odo_pgw_stats st = { 0 }, one;
	for (int i = 0; i < cm->src.nwriters; i++) {
		odo_pgw_get_stats(cm->src.writers[i], &one);
		st.batches += one.batches, st.records += one.records, st.dead += one.dead;
		st.dead_records += one.dead_records, st.poison += one.poison, st.conflicts += one.conflicts;
		st.quarantined += one.quarantined, st.lost_ranges += one.lost_ranges, st.lost_seqs += one.lost_seqs;
		st.commits += one.commits, st.failures += one.failures;
		st.queue_msgs += one.queue_msgs, st.queue_bytes += one.queue_bytes;
	}
	set0(cm, F_RECORDS_COMMITTED, (double)st.records);
	set0(cm, F_BATCHES, (double)st.batches);
	set0(cm, F_COMMITS, (double)st.commits);
	set0(cm, F_COMMIT_FAILURES, (double)st.failures);
	set0(cm, F_QUEUE_BYTES, (double)st.queue_bytes);
	set0(cm, F_QUEUE_MESSAGES, (double)st.queue_msgs);
	/* dead_records counts every record dead-lettered alone, the database's
	 * refusals and the trip conflicts included */
	set1(cm, F_DEAD, "message", (double)st.dead);
	uint64_t refused = st.poison + st.conflicts;
	set1(cm, F_DEAD, "record", (double)(st.dead_records > refused ? st.dead_records - refused : 0));
	set1(cm, F_DEAD, "database", (double)st.poison);
	set1(cm, F_DEAD, "trip_conflict", (double)st.conflicts);
	set0(cm, F_LOST_RANGES, (double)st.lost_ranges);
	set0(cm, F_LOST_RECORDS, (double)st.lost_seqs);
	set0(cm, F_QUARANTINED, (double)st.quarantined);
	if (cm->src.acks_sent)
		set0(cm, F_ACKS, (double)*cm->src.acks_sent);
	char why[256];
	set0(cm, F_READY, odo_cm_ready(cm, why, sizeof why));
	int up;
	set1(cm, F_CONNECTED, "broker", mqtt_up(cm));
	set1(cm, F_CONNECTED, "database", db_up(cm, &up));
	collect_tls(cm);
	collect_devices(cm);
}

static int on_http(void *ctx, const char *path, FILE *body, unsigned *status, const char **type)
{
	struct odo_cm *cm = ctx;
	if (strcmp(path, "/metrics") == 0) {
		collect(cm);
		*type = "text/plain; version=0.0.4; charset=utf-8";
		if (odo_metrics_render(cm->reg, body) != ODO_OK)
			*status = 500;
		return 0;
	}
	if (strcmp(path, "/livez") == 0 || strcmp(path, "/healthz") == 0) {
		fputs("ok: the poll loop is running\n", body);
		return 0;
	}
	if (strcmp(path, "/readyz") == 0) {
		char why[512];
		int ready = odo_cm_ready(cm, why, sizeof why);
		*status = ready ? 200 : 503;
		fprintf(body, "%s\n%s", ready ? "ready" : "not ready", why);
		return 0;
	}
	return 1;
}

/* ---- lifecycle ---------------------------------------------------------- */

int odo_cm_open(const struct odo_cm_opts *o, struct odo_cm **out, char *why, size_t whylen)
{
	*out = NULL;
	why[0] = '\0';
	if (!o || o->max_devices == 0)
		return ODO_ERR_INVAL;
	struct odo_cm *cm = calloc(1, sizeof *cm);
	if (!cm)
		return ODO_ERR_NOMEM;
	int rc = odo_metrics_open(&cm->reg);
	for (int i = 0; i < F__N && rc == ODO_OK; i++)
		rc = odo_metrics_family(cm->reg, &DESC[i], &cm->f[i]);
	if (rc == ODO_OK)
		rc = odo_devtab_open(o->max_devices, &cm->dev);
	if (rc == ODO_OK && o->listen && o->listen[0])
		rc = odo_http_open(o->listen, on_http, cm, &cm->http, why, whylen);
	if (rc) {
		odo_cm_close(cm);
		return rc;
	}
	const char *bi[2] = { o->version ? o->version : "", o->name ? o->name : "" };
	odo_metric_set(odo_metric_series(cm->f[F_BUILD], bi), 1);
	set0(cm, F_START, wall_s());
	set0(cm, F_QUEUE_MAX_BYTES, o->max_queue_bytes);
	set0(cm, F_QUEUE_MAX_MESSAGES, o->max_queue_msgs);
	static const char *const results[3] = { "accepted", "rejected", "shed" };
	for (int i = 0; i < 3; i++)
		cm->msg[i] = odo_metric_series1(cm->f[F_MESSAGES], results[i]);
	for (int k = 1; k <= ODO_REC__MAX; k++)
		cm->kind[k] = odo_metric_series1(cm->f[F_RECORDS_RECEIVED], odo_record_kind_name(k));
	cm->lag = odo_metric_series(cm->f[F_LAG], NULL);
	cm->group = odo_metric_series(cm->f[F_GROUP], NULL);
	cm->expire_s = o->device_expire_s > 0 ? o->device_expire_s : 30 * 86400.0;
	cm->hooks = (struct odo_pgw_hooks){ .ctx = cm, .committed = on_committed, .db_error = on_db_error };
	*out = cm;
	return ODO_OK;
}

void odo_cm_close(struct odo_cm *cm)
{
	if (!cm)
		return;
	odo_http_close(cm->http);
	odo_devtab_close(cm->dev);
	odo_metrics_close(cm->reg);
	free(cm);
}

void odo_cm_attach(struct odo_cm *cm, const struct odo_cm_sources *src)
{
	cm->src = *src;
}

struct odo_metrics *odo_cm_registry(struct odo_cm *cm)
{
	return cm->reg;
}

unsigned odo_cm_port(const struct odo_cm *cm)
{
	return cm->http ? odo_http_port(cm->http) : 0;
}

void odo_cm_message(struct odo_cm *cm, enum odo_cm_msg result)
{
	odo_metric_add(cm->msg[result], 1);
}

void odo_cm_batch(struct odo_cm *cm, const struct odo_batch *b, double now_s)
{
	int tracked = odo_devtab_seen(cm->dev, b->device, now_s) == ODO_OK;
	for (size_t i = 0; i < b->n; i++) {
		const struct odo_record *r = &b->recs[i];
		if (r->kind >= 1 && r->kind <= ODO_REC__MAX)
			odo_metric_add(cm->kind[r->kind], 1);
		if (tracked && r->kind == ODO_REC_STATUS)
			odo_devtab_status(cm->dev, b->device, r->t_ms, r->u.status.outbox_depth,
					  r->u.status.outbox_oldest_age_s);
	}
}

int odo_cm_socket(const struct odo_cm *cm)
{
	return cm->http ? odo_http_socket(cm->http) : -1;
}

int odo_cm_timeout_ms(struct odo_cm *cm)
{
	return cm->http ? odo_http_timeout_ms(cm->http) : -1;
}

void odo_cm_service(struct odo_cm *cm, double now_s)
{
	if (now_s >= cm->next_expire_s) {
		size_t gone = odo_devtab_expire(cm->dev, now_s, cm->expire_s);
		if (gone)
			ODO_LOG(INFO, "metrics", "%zu device(s) not heard from for %.0f days dropped from the metrics", gone,
				cm->expire_s / 86400);
		cm->next_expire_s = now_s + CM_EXPIRE_EVERY_S;
	}
	if (cm->http)
		odo_http_service(cm->http);
}
