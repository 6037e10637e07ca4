/* odo-collector — alert delivery (see dispatch.h). */
#include "alert/dispatch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <libpq-fe.h>

#include "alert/webhook.h"
#include "odo/files.h"
#include "odo/log.h"
#include "pg/login.h"
#include "pg/pgarray.h"

#define S struct odo_alerts_cfg
const struct odo_cfg_key odo_alerts_cfg_keys[ODO_ALERTS_NKEYS] = {
	ODO_CFG_S("webhook_url", S, webhook_url, "",
		  "POST every alert here (http:// or https://); empty = alerts are only recorded in the alerts table"),
	ODO_CFG_S("webhook_secret_file", S, webhook_secret_file, "",
		  "file (mode 0600) holding the HMAC-SHA256 key that signs each request (X-Odo-Signature); "
		  "required with webhook_url"),
	ODO_CFG_S("webhook_cafile", S, webhook_cafile, "",
		  "CA certificates to verify an https webhook with; empty = the system's store"),
	ODO_CFG_D("timeout_s", S, timeout_s, "10", 1, 120, "one webhook attempt may take this long (s)"),
	ODO_CFG_D("backoff_min_s", S, backoff_min_s, "1", 0.05, 3600,
		  "delay before the second attempt; doubled after each failure, +-25 % jitter (s)"),
	ODO_CFG_D("backoff_max_s", S, backoff_max_s, "300", 0.1, 86400, "longest delay between attempts (s)"),
	ODO_CFG_D("give_up_s", S, give_up_s, "259200", 1, 2592000,
		  "an alert still undelivered this long after it was raised is marked failed (s; 3 days, as Stripe's "
		  "webhooks)"),
	ODO_CFG_D("poll_s", S, poll_s, "1", 0.05, 60,
		  "look for due deliveries this often (retries, other collectors' alerts); this collector's own "
		  "alerts go at once (s)"),
	ODO_CFG_D("lease_s", S, lease_s, "60", 2, 3600,
		  "a claimed delivery is this collector's for this long; must exceed timeout_s (s)"),
	ODO_CFG_I("max_parallel", S, max_parallel, "8", 1, ODO_ALERTS_MAX_PARALLEL, "webhook requests at once"),
};
#undef S

#define SECRET_MAX 512
#define COUNT_EVERY_MS 10000
#define RETRY_CONNECT_MS 1000
#define ERR_MAX 200
#define TS_UTC(c) "to_char(" c " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* Claim due webhook deliveries: lease them, count the attempt, return
 * what the request needs. $1 limit, $2 this collector, $3 lease seconds. */
static const char SQL_CLAIM[] =
	"WITH c AS (SELECT alert_id FROM alert_deliveries WHERE state = 'pending' AND target = 'webhook'"
	"   AND next_at <= now() AND (lease_until IS NULL OR lease_until < now())"
	"   ORDER BY next_at, alert_id LIMIT $1::int FOR UPDATE SKIP LOCKED),"
	" u AS (UPDATE alert_deliveries d SET lease_by = $2, lease_until = now() + make_interval(secs => $3::float8),"
	"   attempts = d.attempts + 1 FROM c WHERE d.alert_id = c.alert_id AND d.target = 'webhook'"
	"   RETURNING d.alert_id, d.attempts)"
	" SELECT u.alert_id, u.attempts, a.device_id, a.epoch, a.seq, a.rule, a.metric, a.severity, " TS_UTC("a.t") ","
	" coalesce(a.device_trip_id, -1), a.value::text, a.op, a.threshold::text, a.details::text,"
	" " TS_UTC("a.received_at") ", " TS_UTC("a.raised_at") ", (extract(epoch FROM a.received_at) * 1000)::bigint"
	" FROM u JOIN alerts a ON a.id = u.alert_id ORDER BY u.alert_id";
enum { K_ID, K_ATT, K_DEV, K_EPOCH, K_SEQ, K_RULE, K_METRIC, K_SEV, K_T, K_TRIP, K_VALUE, K_OP, K_THR, K_DETAILS,
       K_RECV, K_RAISED, K_RECV_MS, K__N };

/* The outcomes of finished attempts, as long as the lease is still ours.
 * $1 ids, $2 delivered, $3 delay before the next attempt (s), $4 HTTP status
 * (NULL: no answer), $5 error text, $6 give_up_s, $7 this collector. */
static const char SQL_DONE[] =
	"UPDATE alert_deliveries d SET"
	" state = CASE WHEN x.ok THEN 'delivered' WHEN d.created_at <= now() - make_interval(secs => $6::float8)"
	"   THEN 'failed' ELSE 'pending' END,"
	" delivered_at = CASE WHEN x.ok THEN now() END,"
	" next_at = CASE WHEN x.ok THEN d.next_at ELSE now() + make_interval(secs => x.dl) END,"
	" lease_by = NULL, lease_until = NULL, last_status = x.st, last_error = x.er"
	" FROM unnest($1::bigint[], $2::boolean[], $3::float8[], $4::bigint[], $5::text[]) AS x(id, ok, dl, st, er)"
	" WHERE d.alert_id = x.id AND d.target = 'webhook' AND d.lease_by = $7 AND d.state = 'pending'"
	" RETURNING d.alert_id, d.state, d.attempts";
enum { R_ID, R_OK, R_DELAY, R_STATUS, R_ERR, R__N };

/* Leases this collector's name holds (a previous run of it, or ours at stop). */
static const char SQL_RELEASE[] =
	"UPDATE alert_deliveries SET lease_by = NULL, lease_until = NULL WHERE lease_by = $1 AND state = 'pending'";

static const char SQL_COUNT[] = "SELECT count(*) FROM alert_deliveries WHERE state = 'pending'";

/* Metrics (docs/metrics.md). */
enum { F_RAISED, F_DELIVERIES, F_LATENCY, F_PENDING, F__N };
static const struct odo_metric_desc DESC[F__N] = {
	[F_RAISED] = { .name = "odo_collector_alerts_raised_total", .help = "Alerts this collector raised (committed with their record), by rule",
		       .type = ODO_METRIC_COUNTER, .nlabels = 1, .labels = { "rule" }, .max_series = 64 },
	[F_DELIVERIES] = { .name = "odo_collector_alert_deliveries_total",
			   .help = "Webhook attempts by result: delivered (2xx), retry (failed, tried again later), failed (given up)",
			   .type = ODO_METRIC_COUNTER, .nlabels = 1, .labels = { "result" } },
	[F_LATENCY] = { .name = "odo_collector_alert_delivery_seconds",
			.help = "From the arrival of the record that raised an alert to the webhook's 2xx answer",
			.type = ODO_METRIC_HISTOGRAM, .nlabels = 0, .labels = { 0 }, .nbuckets = 14,
			.buckets = { 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600 } },
	[F_PENDING] = { .name = "odo_collector_alert_deliveries_pending",
			.help = "Deliveries waiting in the database (every collector's; counted every 10 s)", .type = ODO_METRIC_GAUGE },
};

struct xfer {
	int used;
	CURL *e;
	struct curl_slist *hdr;
	long long alert_id;
	int attempts;
	int64_t received_ms;
	char id[256];
	struct odo_pgbuf body;
	char err[CURL_ERROR_SIZE];
};

struct outcome {
	long long alert_id;
	int ok;
	double delay_s;
	long status; /* 0: no answer */
	char err[ERR_MAX];
};

enum db_state { D_DOWN, D_CONNECTING, D_IDLE, D_BUSY };
enum query { Q_NONE, Q_RELEASE, Q_CLAIM, Q_DONE, Q_COUNT };

struct csock {
	curl_socket_t fd;
	int what;
};

struct odo_alerts {
	struct odo_alerts_cfg c;
	char *conninfo, *password, *name, *user;
	char ua[96];
	char secret[SECRET_MAX];
	size_t secret_len;
	int webhook;
	/* database */
	PGconn *conn;
	enum db_state db;
	int want_write;
	int64_t next_connect_ms;
	enum query q;
	int q_failed;      /* the query under way failed */
	int released;      /* our leases released since this connection */
	int kick;          /* claim at the next chance */
	int64_t next_claim_ms, next_count_ms;
	size_t sent;       /* outcomes in the Q_DONE under way */
	/* HTTP */
	CURLM *multi;
	struct csock socks[ODO_ALERTS_MAX_FDS];
	int nsocks;
	int64_t timer_at;  /* -1: none */
	struct xfer x[ODO_ALERTS_MAX_PARALLEL];
	int inflight;
	struct outcome *out;
	size_t nout, out_cap;
	int stopping;
	uint64_t rng;
	struct odo_alerts_stats s;
	struct odo_metric_family *f[F__N];
	struct odo_pgcols cols;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- libcurl's callbacks ---------------------------------------------- */

static int sock_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	(void)e;
	(void)socketp;
	struct odo_alerts *a = userp;
	int i = 0;
	while (i < a->nsocks && a->socks[i].fd != fd)
		i++;
	if (what == CURL_POLL_REMOVE) {
		if (i < a->nsocks)
			a->socks[i] = a->socks[--a->nsocks];
		return 0;
	}
	if (i == a->nsocks) {
		if (a->nsocks == ODO_ALERTS_MAX_FDS - 1)
			return -1; /* cannot happen: one socket per transfer */
		a->nsocks++;
	}
	a->socks[i] = (struct csock){ .fd = fd, .what = what };
	return 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	(void)m;
	struct odo_alerts *a = userp;
	a->timer_at = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
	return 0;
}

static size_t discard(char *p, size_t size, size_t n, void *u)
{
	(void)p;
	(void)u;
	return size * n;
}

/* ---- open / close ------------------------------------------------------- */

int odo_alerts_open(const struct odo_alerts_cfg *c, const struct odo_alerts_opts *o, struct odo_alerts **out,
		    char *why, size_t whylen)
{
	*out = NULL;
	if (why && whylen)
		why[0] = '\0';
	if (!c || !o || !o->conninfo || !o->name)
		return ODO_ERR_INVAL;
	int webhook = c->webhook_url[0] != '\0';
	if (webhook && strncmp(c->webhook_url, "http://", 7) && strncmp(c->webhook_url, "https://", 8)) {
		snprintf(why, whylen, "[alerts] webhook_url '%s' is not an http:// or https:// URL", c->webhook_url);
		return ODO_ERR_CONFIG;
	}
	if (c->lease_s <= c->timeout_s) {
		snprintf(why, whylen, "[alerts] lease_s (%g) must exceed timeout_s (%g)", c->lease_s, c->timeout_s);
		return ODO_ERR_CONFIG;
	}
	if (c->backoff_max_s < c->backoff_min_s) {
		snprintf(why, whylen, "[alerts] backoff_max_s (%g) is below backoff_min_s (%g)", c->backoff_max_s,
			 c->backoff_min_s);
		return ODO_ERR_CONFIG;
	}
	struct odo_alerts *a = calloc(1, sizeof *a);
	if (!a)
		return ODO_ERR_NOMEM;
	a->c = *c;
	a->webhook = webhook;
	a->timer_at = -1;
	a->rng = (uint64_t)wall_ms() * 6364136223846793005ULL + 1442695040888963407ULL;
	snprintf(a->ua, sizeof a->ua, "odo-collector/%s", o->version ? o->version : "0");
	if (webhook) {
		char w[160];
		int rc = c->webhook_secret_file[0] ? odo_secret_file_read(c->webhook_secret_file, a->secret,
									 sizeof a->secret, w, sizeof w)
						   : ODO_ERR_NOTFOUND;
		if (rc) {
			snprintf(why, whylen, "[alerts] webhook_secret_file '%s': %s", c->webhook_secret_file,
				 c->webhook_secret_file[0] ? w : "required with webhook_url (the requests are signed)");
			free(a);
			return ODO_ERR_CONFIG;
		}
		a->secret_len = strlen(a->secret);
	}
	a->conninfo = strdup(o->conninfo);
	a->name = strdup(o->name);
	a->password = o->password && o->password[0] ? strdup(o->password) : NULL;
	a->user = o->user && o->user[0] ? strdup(o->user) : NULL;
	if (!a->conninfo || !a->name || (o->password && o->password[0] && !a->password) ||
	    (o->user && o->user[0] && !a->user)) {
		odo_alerts_close(a);
		return ODO_ERR_NOMEM;
	}
	if (webhook) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(a->multi = curl_multi_init())) {
			snprintf(why, whylen, "libcurl would not start");
			odo_alerts_close(a);
			return ODO_ERR_IO;
		}
		curl_multi_setopt(a->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
		curl_multi_setopt(a->multi, CURLMOPT_SOCKETDATA, a);
		curl_multi_setopt(a->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
		curl_multi_setopt(a->multi, CURLMOPT_TIMERDATA, a);
	}
	for (int i = 0; i < F__N && o->metrics; i++)
		if (odo_metrics_family(o->metrics, &DESC[i], &a->f[i]) != ODO_OK)
			a->f[i] = NULL;
	a->s.pending = -1;
	a->db = D_DOWN;
	*out = a;
	return ODO_OK;
}

static void xfer_end(struct odo_alerts *a, struct xfer *x)
{
	if (!x->used)
		return;
	if (x->e) {
		curl_multi_remove_handle(a->multi, x->e);
		curl_easy_cleanup(x->e);
	}
	curl_slist_free_all(x->hdr);
	odo_pgbuf_free(&x->body);
	memset(x, 0, sizeof *x);
	a->inflight--;
}

void odo_alerts_close(struct odo_alerts *a)
{
	if (!a)
		return;
	for (int i = 0; i < ODO_ALERTS_MAX_PARALLEL; i++)
		xfer_end(a, &a->x[i]);
	if (a->multi) {
		curl_multi_cleanup(a->multi);
		curl_global_cleanup();
	}
	if (a->conn)
		PQfinish(a->conn);
	if (a->password) {
		memset(a->password, 0, strlen(a->password));
		free(a->password);
	}
	memset(a->secret, 0, sizeof a->secret);
	odo_pgcols_free(&a->cols);
	free(a->out);
	free(a->user);
	free(a->conninfo);
	free(a->name);
	free(a);
}

const char *odo_alerts_targets(const struct odo_alerts *a)
{
	return a && a->webhook ? "{webhook}" : "{}";
}

void odo_alerts_raised(void *ctx, const char *rule)
{
	struct odo_alerts *a = ctx;
	if (!a)
		return;
	a->s.raised++;
	a->kick = 1;
	if (a->f[F_RAISED])
		odo_metric_add(odo_metric_series1(a->f[F_RAISED], rule), 1);
}

/* ---- the database connection -------------------------------------------- */

static void db_down(struct odo_alerts *a, int64_t now, const char *why)
{
	if (a->db != D_DOWN && a->db != D_CONNECTING) {
		char msg[256];
		snprintf(msg, sizeof msg, "%s", why ? why : "");
		msg[strcspn(msg, "\n")] = '\0';
		ODO_LOG(WARN, "alerts", "database connection lost (%s): %zu outcome(s) kept, retrying", msg, a->nout);
	}
	a->s.db_errors++;
	if (a->conn)
		PQfinish(a->conn);
	a->conn = NULL;
	a->db = D_DOWN;
	a->q = Q_NONE;
	a->sent = 0;
	a->released = 0;
	a->next_connect_ms = now + RETRY_CONNECT_MS;
}

static void db_connect(struct odo_alerts *a, int64_t now)
{
	const struct odo_pg_login l = { .conninfo = a->conninfo, .user = a->user, .password = a->password,
					.app = "odo-collector-alerts" };
	const char *kw[ODO_PG_LOGIN_KEYS], *val[ODO_PG_LOGIN_KEYS];
	odo_pg_login_params(&l, kw, val);
	a->conn = PQconnectStartParams(kw, val, 1);
	if (!a->conn || PQstatus(a->conn) == CONNECTION_BAD) {
		if (a->conn)
			PQfinish(a->conn);
		a->conn = NULL;
		a->next_connect_ms = now + RETRY_CONNECT_MS;
		return;
	}
	a->db = D_CONNECTING;
	a->want_write = 1;
}

static void connect_step(struct odo_alerts *a, int64_t now)
{
	switch (PQconnectPoll(a->conn)) {
	case PGRES_POLLING_READING: a->want_write = 0; return;
	case PGRES_POLLING_WRITING: a->want_write = 1; return;
	case PGRES_POLLING_OK: break;
	default:
		PQfinish(a->conn);
		a->conn = NULL;
		a->db = D_DOWN;
		a->s.db_errors++;
		a->next_connect_ms = now + RETRY_CONNECT_MS;
		return;
	}
	if (PQsetnonblocking(a->conn, 1) != 0) {
		db_down(a, now, "cannot go non-blocking");
		return;
	}
	a->db = D_IDLE;
	a->kick = 1;
}

static int send_q(struct odo_alerts *a, enum query q, const char *sql, int n, const Oid *types,
		  const char *const *vals, const int *lens, const int *fmts, int64_t now)
{
	if (!PQsendQueryParams(a->conn, sql, n, types, vals, lens, fmts, 0)) {
		db_down(a, now, PQerrorMessage(a->conn));
		return -1;
	}
	PQflush(a->conn);
	a->q = q;
	a->q_failed = 0;
	a->db = D_BUSY;
	return 0;
}

/* ---- HTTP ------------------------------------------------------------------- */

/* The next attempt's delay after `attempts` failed ones: backoff_min_s *
 * 2^(attempts-1), at most backoff_max_s, +-25 % jitter. */
static double backoff_s(struct odo_alerts *a, int attempts)
{
	double d = a->c.backoff_min_s * pow(2, attempts > 1 ? attempts - 1 : 0);
	if (d > a->c.backoff_max_s)
		d = a->c.backoff_max_s;
	a->rng = a->rng * 6364136223846793005ULL + 1442695040888963407ULL;
	double u = (double)(a->rng >> 11) / 9007199254740992.0; /* [0, 1) */
	return d * (0.75 + 0.5 * u);
}

static void outcome(struct odo_alerts *a, long long id, int ok, double delay, long status, const char *err)
{
	if (a->nout == a->out_cap) {
		size_t cap = a->out_cap ? 2 * a->out_cap : 16;
		struct outcome *n = realloc(a->out, cap * sizeof *n);
		if (!n) {
			/* the lease lapses and the alert is tried again: nothing lost */
			ODO_LOG(ERROR, "alerts", "out of memory keeping the outcome of alert %lld", id);
			return;
		}
		a->out = n;
		a->out_cap = cap;
	}
	struct outcome *o = &a->out[a->nout++];
	*o = (struct outcome){ .alert_id = id, .ok = ok, .delay_s = delay, .status = status };
	snprintf(o->err, sizeof o->err, "%s", err ? err : "");
}

/* Start the request of one claimed row. */
static void start(struct odo_alerts *a, const PGresult *r, int row)
{
	struct xfer *x = NULL;
	for (int i = 0; i < ODO_ALERTS_MAX_PARALLEL && !x; i++)
		if (!a->x[i].used)
			x = &a->x[i];
	long long id = strtoll(PQgetvalue(r, row, K_ID), NULL, 10);
	if (!x) {
		outcome(a, id, 0, 0, 0, "no transfer slot");
		return;
	}
	memset(x, 0, sizeof *x);
	x->used = 1;
	a->inflight++;
	x->alert_id = id;
	x->attempts = atoi(PQgetvalue(r, row, K_ATT));
	x->received_ms = strtoll(PQgetvalue(r, row, K_RECV_MS), NULL, 10);
#define V(k) (PQgetisnull(r, row, (k)) ? NULL : PQgetvalue(r, row, (k)))
	struct odo_alert_msg m = {
		.alert_id = id, .device = V(K_DEV), .epoch = strtoull(PQgetvalue(r, row, K_EPOCH), NULL, 10),
		.seq = strtoll(PQgetvalue(r, row, K_SEQ), NULL, 10), .rule = V(K_RULE), .metric = V(K_METRIC),
		.severity = V(K_SEV), .record_time = V(K_T), .received_at = V(K_RECV), .raised_at = V(K_RAISED),
		.trip = strtoll(PQgetvalue(r, row, K_TRIP), NULL, 10), .value = V(K_VALUE), .op = V(K_OP),
		.threshold = V(K_THR), .details = V(K_DETAILS),
	};
#undef V
	odo_alert_id(&m, x->id, sizeof x->id);
	char sig[ODO_ALERT_SIG_MAX], h[384];
	if (odo_alert_body(&m, &x->body) != ODO_OK ||
	    odo_alert_sign(a->secret, a->secret_len, wall_ms() / 1000, x->body.p, x->body.n, sig) != ODO_OK ||
	    !(x->e = curl_easy_init())) {
		outcome(a, id, 0, backoff_s(a, x->attempts), 0, "out of memory building the request");
		xfer_end(a, x);
		return;
	}
	struct curl_slist *hl = NULL, *t;
	const char *hs[5];
	char hid[320], hatt[64], hsig[ODO_ALERT_SIG_MAX + 32];
	snprintf(hid, sizeof hid, "X-Odo-Alert-Id: %s", x->id);
	snprintf(hatt, sizeof hatt, "X-Odo-Attempt: %d", x->attempts);
	snprintf(hsig, sizeof hsig, ODO_ALERT_SIG_HEADER ": %s", sig);
	hs[0] = "Content-Type: application/json";
	hs[1] = hid;
	hs[2] = hatt;
	hs[3] = hsig;
	hs[4] = "Expect:"; /* no 100-continue round trip */
	for (int i = 0; i < 5; i++) {
		if (!(t = curl_slist_append(hl, hs[i]))) {
			curl_slist_free_all(hl);
			hl = NULL;
			break;
		}
		hl = t;
	}
	x->hdr = hl;
	snprintf(h, sizeof h, "%s", a->ua);
	CURL *e = x->e;
	curl_easy_setopt(e, CURLOPT_URL, a->c.webhook_url);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)x->body.n);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body.p); /* x->body lives until the transfer ends */
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdr);
	curl_easy_setopt(e, CURLOPT_USERAGENT, h);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(a->c.timeout_s * 1000));
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->err);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	if (a->c.webhook_cafile[0])
		curl_easy_setopt(e, CURLOPT_CAINFO, a->c.webhook_cafile);
	if (!x->hdr || curl_multi_add_handle(a->multi, e) != CURLM_OK) {
		outcome(a, id, 0, backoff_s(a, x->attempts), 0, "libcurl refused the request");
		xfer_end(a, x);
		return;
	}
	a->s.attempts++;
}

static void finished(struct odo_alerts *a)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(a->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct xfer *x = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (!x)
			continue;
		long code = 0;
		curl_easy_getinfo(x->e, CURLINFO_RESPONSE_CODE, &code);
		CURLcode rc = msg->data.result;
		int ok = rc == CURLE_OK && code >= 200 && code < 300;
		if (ok) {
			double lat = (double)(wall_ms() - x->received_ms) / 1000.0;
			a->s.delivered++;
			if (a->f[F_LATENCY])
				odo_metric_observe(odo_metric_series(a->f[F_LATENCY], NULL), lat < 0 ? 0 : lat);
			ODO_LOG(INFO, "alerts", "alert %s delivered to the webhook (HTTP %ld, attempt %d, %.0f ms after its "
				"record arrived)", x->id, code, x->attempts, lat * 1000);
			outcome(a, x->alert_id, 1, 0, code, NULL);
		} else {
			char err[ERR_MAX];
			if (rc != CURLE_OK)
				snprintf(err, sizeof err, "%.*s", (int)sizeof err - 1, x->err[0] ? x->err : curl_easy_strerror(rc));
			else
				snprintf(err, sizeof err, "HTTP %ld", code);
			double d = backoff_s(a, x->attempts);
			ODO_LOG(WARN, "alerts", "alert %s: webhook attempt %d failed (%s); next in %.1f s unless given up", x->id,
				x->attempts, err, d);
			outcome(a, x->alert_id, 0, d, rc == CURLE_OK ? code : 0, err);
		}
		xfer_end(a, x);
	}
}

/* ---- results ---------------------------------------------------------------- */

static void take_claim(struct odo_alerts *a, const PGresult *r)
{
	if (PQnfields(r) < K__N)
		return;
	for (int i = 0; i < PQntuples(r); i++)
		start(a, r, i);
}

static void take_done(struct odo_alerts *a, const PGresult *r)
{
	for (int i = 0; i < PQntuples(r); i++) {
		const char *st = PQgetvalue(r, i, 1);
		if (strcmp(st, "pending") == 0) {
			a->s.retries++;
			if (a->f[F_DELIVERIES])
				odo_metric_add(odo_metric_series1(a->f[F_DELIVERIES], "retry"), 1);
		} else if (strcmp(st, "delivered") == 0) {
			if (a->f[F_DELIVERIES])
				odo_metric_add(odo_metric_series1(a->f[F_DELIVERIES], "delivered"), 1);
		} else {
			a->s.failed++;
			if (a->f[F_DELIVERIES])
				odo_metric_add(odo_metric_series1(a->f[F_DELIVERIES], "failed"), 1);
			ODO_LOG(ERROR, "alerts", "alert %s: given up after %s attempt(s) over %.0f s (state failed)",
				PQgetvalue(r, i, 0), PQgetvalue(r, i, 2), a->c.give_up_s);
		}
	}
}

static void read_results(struct odo_alerts *a, int64_t now)
{
	if (!PQconsumeInput(a->conn)) {
		db_down(a, now, PQerrorMessage(a->conn));
		return;
	}
	while (a->db == D_BUSY && !PQisBusy(a->conn)) {
		PGresult *r = PQgetResult(a->conn);
		if (!r) {
			/* the query is complete: the outcomes it carried are written (or
			 * no longer ours: another collector took the lease meanwhile) */
			if (a->q == Q_DONE && !a->q_failed) {
				memmove(a->out, a->out + a->sent, (a->nout - a->sent) * sizeof *a->out);
				a->nout -= a->sent;
			}
			a->sent = 0;
			a->q = Q_NONE;
			a->db = D_IDLE;
			break;
		}
		ExecStatusType s = PQresultStatus(r);
		if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK) {
			switch (a->q) {
			case Q_CLAIM: take_claim(a, r); break;
			case Q_DONE: take_done(a, r); break;
			case Q_RELEASE:
				if (atoll(PQcmdTuples(r)) > 0)
					ODO_LOG(INFO, "alerts", "released %s delivery lease(s) held by '%s'", PQcmdTuples(r),
						a->name);
				a->released = 1;
				break;
			case Q_COUNT:
				a->s.pending = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
				if (a->f[F_PENDING])
					odo_metric_set(odo_metric_series(a->f[F_PENDING], NULL), (double)a->s.pending);
				break;
			default: break;
			}
		} else {
			char msg[256];
			snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
			msg[strcspn(msg, "\n")] = '\0';
			const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
			ODO_LOG(ERROR, "alerts", "query failed: SQLSTATE %s: %s", state ? state : "-", msg);
			a->s.db_errors++;
			a->q_failed = 1; /* outcomes kept: written again next time */
			if (a->q == Q_RELEASE)
				a->released = 1; /* do not loop on it; leases lapse anyway */
			a->next_claim_ms = now + (int64_t)(a->c.poll_s * 1000);
		}
		PQclear(r);
	}
	if (a->db == D_BUSY && PQstatus(a->conn) == CONNECTION_BAD)
		db_down(a, now, PQerrorMessage(a->conn));
}

static Oid array_oid(uint32_t elem)
{
	switch (elem) {
	case ODO_PG_OID_BOOL: return 1000;
	case ODO_PG_OID_INT8: return 1016;
	case ODO_PG_OID_TEXT: return 1009;
	case ODO_PG_OID_FLOAT8: return 1022;
	default: return 0;
	}
}

static void send_done(struct odo_alerts *a, int64_t now)
{
	struct odo_pgcols *c = &a->cols;
	odo_pgcols_reset(c, R__N);
	for (size_t i = 0; i < a->nout; i++) {
		const struct outcome *o = &a->out[i];
		odo_pgcols_i64(c, R_ID, o->alert_id);
		odo_pgcols_bool(c, R_OK, o->ok);
		odo_pgcols_dbl(c, R_DELAY, o->delay_s);
		if (o->status)
			odo_pgcols_i64(c, R_STATUS, o->status);
		else
			odo_pgcols_null(c, R_STATUS, ODO_PG_OID_INT8);
		if (o->err[0])
			odo_pgcols_text(c, R_ERR, o->err);
		else
			odo_pgcols_null(c, R_ERR, ODO_PG_OID_TEXT);
		c->rows++;
	}
	if (odo_pgcols_finish(c) != ODO_OK) {
		ODO_LOG(ERROR, "alerts", "out of memory writing %zu outcome(s); trying again", a->nout);
		return;
	}
	const char *vals[R__N + 2];
	int lens[R__N + 2], fmts[R__N + 2];
	Oid types[R__N + 2];
	for (int i = 0; i < R__N; i++) {
		vals[i] = c->col[i].b.p;
		lens[i] = (int)c->col[i].b.n;
		fmts[i] = 1;
		types[i] = array_oid(c->col[i].oid);
	}
	char give[32];
	snprintf(give, sizeof give, "%.3f", a->c.give_up_s);
	vals[R__N] = give;
	vals[R__N + 1] = a->name;
	for (int i = R__N; i < R__N + 2; i++) {
		lens[i] = 0;
		fmts[i] = 0;
		types[i] = ODO_PG_OID_TEXT;
	}
	a->sent = a->nout;
	send_q(a, Q_DONE, SQL_DONE, R__N + 2, types, vals, lens, fmts, now);
}

static void send_claim(struct odo_alerts *a, int64_t now)
{
	char lim[16], lease[32];
	snprintf(lim, sizeof lim, "%d", (int)a->c.max_parallel - a->inflight);
	snprintf(lease, sizeof lease, "%.3f", a->c.lease_s);
	const char *v[3] = { lim, a->name, lease };
	a->kick = 0;
	a->next_claim_ms = now + (int64_t)(a->c.poll_s * 1000);
	send_q(a, Q_CLAIM, SQL_CLAIM, 3, NULL, v, NULL, NULL, now);
}

/* ---- the poll loop ---------------------------------------------------------- */

int odo_alerts_pollfds(struct odo_alerts *a, struct pollfd *p, int max)
{
	int n = 0;
	if (!a || max <= 0)
		return 0;
	if (a->conn && (a->db == D_CONNECTING || a->db == D_IDLE || a->db == D_BUSY)) {
		int fd = PQsocket(a->conn);
		if (fd >= 0) {
			short ev = POLLIN;
			if (a->db == D_CONNECTING)
				ev = a->want_write ? POLLOUT : POLLIN;
			else if (a->db == D_BUSY && PQflush(a->conn) == 1)
				ev |= POLLOUT;
			p[n++] = (struct pollfd){ .fd = fd, .events = ev };
		}
	}
	for (int i = 0; i < a->nsocks && n < max; i++) {
		short ev = 0;
		if (a->socks[i].what & CURL_POLL_IN)
			ev |= POLLIN;
		if (a->socks[i].what & CURL_POLL_OUT)
			ev |= POLLOUT;
		p[n++] = (struct pollfd){ .fd = a->socks[i].fd, .events = ev };
	}
	return n;
}

int odo_alerts_timeout_ms(struct odo_alerts *a, int64_t now_ms)
{
	(void)now_ms;
	if (!a)
		return 1000;
	int64_t now = mono_ms(), t = 1000;
	if (a->timer_at >= 0 && a->timer_at - now < t)
		t = a->timer_at - now;
	if (a->db == D_IDLE && (a->kick || a->nout))
		t = 0;
	if (a->db == D_IDLE && a->webhook && !a->stopping && a->next_claim_ms - now < t)
		t = a->next_claim_ms - now;
	if (a->db == D_DOWN && a->next_connect_ms - now < t)
		t = a->next_connect_ms - now;
	return t < 0 ? 0 : (int)t;
}

void odo_alerts_service(struct odo_alerts *a, int64_t now_ms, const struct pollfd *p, int n)
{
	(void)now_ms;
	if (!a)
		return;
	int64_t now = mono_ms();
	int pgfd = a->conn ? PQsocket(a->conn) : -1;
	short pgrev = 0;
	/* the transfers: every curl socket that is ready, then the timer */
	for (int i = 0; i < n; i++) {
		if (p[i].fd == pgfd && pgfd >= 0) {
			pgrev = p[i].revents;
			continue;
		}
		if (!p[i].revents || !a->multi)
			continue;
		int mask = 0, running;
		if (p[i].revents & POLLIN)
			mask |= CURL_CSELECT_IN;
		if (p[i].revents & POLLOUT)
			mask |= CURL_CSELECT_OUT;
		if (p[i].revents & (POLLERR | POLLHUP | POLLNVAL))
			mask |= CURL_CSELECT_ERR;
		curl_multi_socket_action(a->multi, p[i].fd, mask, &running);
	}
	if (a->multi && a->timer_at >= 0 && now >= a->timer_at) {
		int running;
		a->timer_at = -1;
		curl_multi_socket_action(a->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	if (a->multi)
		finished(a);
	/* the database */
	if (a->db == D_DOWN) {
		if (now >= a->next_connect_ms)
			db_connect(a, now);
		return;
	}
	if (a->db == D_CONNECTING) {
		if (pgrev)
			connect_step(a, now);
		if (a->db != D_IDLE)
			return;
	}
	if (a->db == D_BUSY) {
		if (pgrev & POLLOUT)
			PQflush(a->conn);
		if (pgrev & (POLLIN | POLLERR | POLLHUP))
			read_results(a, now);
		if (a->db != D_IDLE)
			return;
	} else if (pgrev & (POLLIN | POLLERR | POLLHUP)) {
		if (!PQconsumeInput(a->conn) || PQstatus(a->conn) == CONNECTION_BAD) {
			db_down(a, now, PQerrorMessage(a->conn));
			return;
		}
	}
	/* idle: the next query */
	if (!a->released) {
		const char *v[1] = { a->name };
		send_q(a, Q_RELEASE, SQL_RELEASE, 1, NULL, v, NULL, NULL, now);
	} else if (a->nout) {
		send_done(a, now);
	} else if (a->stopping) {
		/* nothing new; transfers under way finish (the leases of any that
		 * never do are released at our next start, or lapse) */
	} else if (a->webhook && (a->kick || now >= a->next_claim_ms) && a->inflight < a->c.max_parallel) {
		send_claim(a, now);
	} else if (now >= a->next_count_ms) {
		a->next_count_ms = now + COUNT_EVERY_MS;
		send_q(a, Q_COUNT, SQL_COUNT, 0, NULL, NULL, NULL, NULL, now);
	}
}

void odo_alerts_stop(struct odo_alerts *a)
{
	if (a)
		a->stopping = 1;
}

int odo_alerts_idle(const struct odo_alerts *a)
{
	if (!a || !a->stopping)
		return 0;
	return !a->inflight && (!a->nout || a->db == D_DOWN) && a->q == Q_NONE;
}

void odo_alerts_get_stats(const struct odo_alerts *a, struct odo_alerts_stats *st)
{
	if (a && st)
		*st = a->s;
}
