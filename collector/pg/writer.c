/* odo-collector — group-committing PostgreSQL writer: queue, connection,
 * outcome of each pipeline (see writer.h; group.c builds the pipelines). */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "aggregate/aggregate.h"
#include "decode/decode.h"
#include "odo/log.h"
#include "pg/login.h"
#include "pg/sqlstate.h"
#include "pg/writer_int.h"

/* Log at most this many rows of one kind per transaction (the counters count them all). */
#define PGW_LOG_ROWS 10

int odo_pgw_open(const struct odo_pgw_opts *o, odo_pgw_ack_fn ack, void *ctx, struct odo_pgw **out)
{
	*out = NULL;
	if (!o || !o->conninfo || !o->name || !ack)
		return ODO_ERR_INVAL;
	struct odo_pgw *w = calloc(1, sizeof *w);
	if (!w)
		return ODO_ERR_NOMEM;
	w->o = *o;
	w->conninfo = strdup(o->conninfo);
	w->name = strdup(o->name);
	w->user = o->user && o->user[0] ? strdup(o->user) : NULL;
	w->options = o->options && o->options[0] ? strdup(o->options) : NULL;
	w->password = o->password && o->password[0] ? strdup(o->password) : NULL;
	if (!w->conninfo || !w->name || (o->password && o->password[0] && !w->password) ||
	    (o->user && o->user[0] && !w->user) || (o->options && o->options[0] && !w->options) ||
	    odo_decode_batch_alloc(&w->scratch) != ODO_OK) {
		odo_pgw_close(w);
		return ODO_ERR_NOMEM;
	}
	if (!w->o.max_group_rows)
		w->o.max_group_rows = 5000;
	if (!w->o.max_queue_msgs)
		w->o.max_queue_msgs = 20000;
	if (!w->o.max_queue_bytes)
		w->o.max_queue_bytes = (size_t)256 << 20;
	w->ack = ack;
	w->ctx = ctx;
	w->state = W_DOWN;
	*out = w;
	return ODO_OK;
}

void pgw__item_free(struct item *it)
{
	if (!it)
		return;
	free(it->topic);
	free(it->raw);
	free(it->bad);
	free(it->fail);
	free(it);
}

static void list_free(struct item *it)
{
	while (it) {
		struct item *n = it->next;
		pgw__item_free(it);
		it = n;
	}
}

static void free_pairs(struct odo_pgw *w);

static void clear_kept(struct odo_pgw *w)
{
	for (size_t i = 0; i < w->nkept; i++)
		PQclear(w->kept[i].r);
	w->nkept = 0;
}

void odo_pgw_close(struct odo_pgw *w)
{
	if (!w)
		return;
	if (w->conn)
		PQfinish(w->conn);
	list_free(w->head);
	list_free(w->fl);
	clear_kept(w);
	free(w->kept);
	free_pairs(w);
	free(w->tags);
	free(w->units);
	for (size_t i = 0; i < ODO_ARRAY_LEN(w->cs); i++)
		odo_pgcols_free(&w->cs[i]);
	for (size_t i = 0; i < ODO_ARRAY_LEN(w->extra); i++)
		odo_pgbuf_free(&w->extra[i]);
	for (size_t i = 0; i < PART__N; i++)
		free(w->parts[i].m);
	odo_decode_batch_free(w->scratch);
	if (w->password) {
		memset(w->password, 0, strlen(w->password));
		free(w->password);
	}
	free(w->lag_t);
	free(w->cand);
	odo_pgbuf_free(&w->details);
	free(w->user);
	free(w->options);
	free(w->conninfo);
	free(w->name);
	free(w);
}

/* ---- the queue: bounded in messages and in bytes ---------------------------- */

size_t pgw__item_bytes(const struct item *it)
{
	return sizeof *it + it->len + (it->topic ? strlen(it->topic) + 1 : 0) + it->nbad * sizeof *it->bad +
	       it->nfail * sizeof *it->fail;
}

static size_t item_rows(const struct item *it)
{
	return it->kind == IT_BATCH ? it->n + it->nbad : 1;
}

static void enqueue(struct odo_pgw *w, struct item *it)
{
	it->next = NULL;
	if (w->tail)
		w->tail->next = it;
	else
		w->head = it;
	w->tail = it;
	w->nq++;
	w->qrows += item_rows(it);
}

void pgw__requeue(struct odo_pgw *w, struct item *list)
{
	if (!list)
		return;
	struct item *last = list;
	size_t n = 0, rows = 0;
	for (struct item *p = list; p; p = p->next) {
		last = p;
		n++;
		rows += item_rows(p);
	}
	last->next = w->head;
	if (!w->head)
		w->tail = last;
	w->head = list;
	w->nq += n;
	w->qrows += rows;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Room for `bytes` more? Counts every held message, in flight included. */
static int room(struct odo_pgw *w, size_t bytes)
{
	if (w->nq + w->fl_n < w->o.max_queue_msgs && w->qbytes + bytes <= w->o.max_queue_bytes)
		return 1;
	w->st.shed++;
	w->st.shed_bytes += bytes;
	return 0;
}

static struct item *new_item(const char *topic, const uint8_t *raw, size_t len)
{
	struct item *it = calloc(1, sizeof *it);
	if (!it)
		return NULL;
	it->topic = strdup(topic);
	it->raw = malloc(len ? len : 1);
	if (!it->topic || !it->raw) {
		pgw__item_free(it);
		return NULL;
	}
	if (len)
		memcpy(it->raw, raw, len);
	it->len = len;
	it->queued_ms = mono_ms();
	return it;
}

int odo_pgw_add_batch(struct odo_pgw *w, const struct odo_batch *b, int64_t now_ms, const char *topic,
		      const uint8_t *raw, size_t len)
{
	if (!b->n && !b->nbad)
		return ODO_ERR_INVAL;
	size_t need = sizeof(struct item) + len + strlen(topic) + 1 + b->nbad * sizeof *b->bad;
	if (!room(w, need))
		return ODO_ERR_FULL;
	struct item *it = new_item(topic, raw, len);
	if (!it)
		return ODO_ERR_NOMEM;
	if (b->nbad) {
		it->bad = malloc(b->nbad * sizeof *it->bad);
		if (!it->bad) {
			pgw__item_free(it);
			return ODO_ERR_NOMEM;
		}
		memcpy(it->bad, b->bad, b->nbad * sizeof *it->bad);
		it->nbad = b->nbad;
	}
	it->kind = IT_BATCH;
	snprintf(it->tdev, sizeof it->tdev, "%s", b->device);
	it->v = b->v;
	it->epoch = b->epoch; /* version 1: epoch 0, acked floor 0 */
	it->floor = b->floor;
	it->seq = b->seq;
	it->last_seq = b->last_seq;
	it->n = b->n;
	it->now_ms = now_ms;
	it->bytes = pgw__item_bytes(it);
	w->qbytes += it->bytes;
	enqueue(w, it);
	return ODO_OK;
}

int odo_pgw_add_dead(struct odo_pgw *w, const char *topic, const char *topic_device, const uint8_t *raw,
		     size_t len, const struct odo_wire_error *err)
{
	if (!room(w, sizeof(struct item) + len + strlen(topic) + 1))
		return ODO_ERR_FULL;
	struct item *it = new_item(topic, raw, len);
	if (!it)
		return ODO_ERR_NOMEM;
	it->kind = IT_DEAD;
	it->err = *err;
	it->reason = "decode";
	snprintf(it->tdev, sizeof it->tdev, "%s", topic_device ? topic_device : "");
	it->bytes = pgw__item_bytes(it);
	w->qbytes += it->bytes;
	enqueue(w, it);
	return ODO_OK;
}

int odo_pgw_socket(const struct odo_pgw *w, short *events)
{
	*events = 0;
	if (!w->conn || w->state == W_DOWN)
		return -1;
	int fd = PQsocket(w->conn);
	if (fd < 0)
		return -1;
	if (w->state == W_CONNECTING) {
		*events = w->connect_wants_write ? POLLOUT : POLLIN;
		return fd;
	}
	*events = POLLIN;
	if (PQflush(w->conn) == 1)
		*events |= POLLOUT;
	return fd;
}

static int catalog_due(const struct odo_pgw *w, int64_t now_ms)
{
	return now_ms >= w->hold_until_ms && (!w->parts_loaded || now_ms >= w->next_catalog_ms);
}

static int group_due(const struct odo_pgw *w, int64_t now_ms)
{
	if (!w->head || now_ms < w->hold_until_ms || !w->parts_loaded)
		return 0;
	if (w->qrows >= w->o.max_group_rows || w->head->stage != ST_GROUP)
		return 1;
	return now_ms - w->head->queued_ms >= w->o.commit_ms;
}

int odo_pgw_timeout_ms(const struct odo_pgw *w, int64_t now_ms)
{
	int64_t t = 1000;
	if (w->state == W_DOWN)
		t = w->next_connect_ms - now_ms;
	else if (w->state == W_IDLE && w->head)
		t = w->head->queued_ms + w->o.commit_ms - now_ms;
	if (w->state == W_IDLE && w->hold_until_ms > now_ms && w->hold_until_ms - now_ms > t)
		t = w->hold_until_ms - now_ms;
	if (w->state == W_IDLE && w->o.refresh_s > 0 && w->next_refresh_ms - now_ms < t)
		t = w->next_refresh_ms - now_ms;
	if (t < 0)
		t = 0;
	if (t > 1000)
		t = 1000;
	return (int)t;
}

int odo_pgw_idle(const struct odo_pgw *w)
{
	return !w->head && !w->fl;
}

int odo_pgw_connected(const struct odo_pgw *w)
{
	return w->state == W_IDLE || w->state == W_BUSY;
}

void odo_pgw_get_stats(const struct odo_pgw *w, struct odo_pgw_stats *st)
{
	*st = w->st;
	st->queue_msgs = w->nq + w->fl_n;
	st->queue_bytes = w->qbytes;
}

/* ---- connection --------------------------------------------------------- */

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Observers (writer.h odo_pgw_hooks). */
static void hook_error(struct odo_pgw *w, const char *sqlstate)
{
	if (w->o.hooks && w->o.hooks->db_error)
		w->o.hooks->db_error(w->o.hooks->ctx, sqlstate ? sqlstate : "");
}

static void hook_committed(struct odo_pgw *w)
{
	if (w->o.hooks && w->o.hooks->committed && w->lag_n != (size_t)-1)
		w->o.hooks->committed(w->o.hooks->ctx, w->lag_t, w->lag_n, wall_ms());
}

static void end_pipeline(struct odo_pgw *w)
{
	clear_kept(w);
	w->pk = PK_NONE;
	w->ntags = w->nres = w->nunits = w->unit_done = 0;
}

static void go_down(struct odo_pgw *w, int64_t now_ms, const char *why)
{
	char msg[PGW_ERRMSG];
	snprintf(msg, sizeof msg, "%s", why);
	msg[strcspn(msg, "\n")] = '\0';
	if (w->state != W_DOWN) {
		ODO_LOG(WARN, "db", "database connection lost (%s); acknowledgements paused, %zu message(s) held, retrying",
			msg, w->nq + w->fl_n);
		hook_error(w, NULL);
	}
	if (w->conn)
		PQfinish(w->conn);
	w->conn = NULL;
	w->state = W_DOWN;
	w->next_connect_ms = now_ms + PGW_RETRY_MS;
	/* Whatever was in flight is not known to be committed: queue it again
	 * in front (idempotent), and ack nothing for it. */
	struct item *fl = w->fl;
	w->fl = NULL;
	w->fl_n = 0;
	pgw__requeue(w, fl);
	end_pipeline(w);
	w->parts_loaded = 0; /* read them again on the new connection */
}

static void start_connect(struct odo_pgw *w, int64_t now_ms)
{
	const struct odo_pg_login l = { .conninfo = w->conninfo, .user = w->user, .password = w->password,
					.options = w->options, .app = "odo-collector" };
	const char *kw[ODO_PG_LOGIN_KEYS], *val[ODO_PG_LOGIN_KEYS];
	odo_pg_login_params(&l, kw, val);
	w->conn = PQconnectStartParams(kw, val, 1);
	if (!w->conn || PQstatus(w->conn) == CONNECTION_BAD) {
		go_down(w, now_ms, w->conn ? PQerrorMessage(w->conn) : "out of memory");
		return;
	}
	w->state = W_CONNECTING;
	w->connect_wants_write = 1;
}

static void connect_step(struct odo_pgw *w, int64_t now_ms)
{
	switch (PQconnectPoll(w->conn)) {
	case PGRES_POLLING_READING:
		w->connect_wants_write = 0;
		return;
	case PGRES_POLLING_WRITING:
		w->connect_wants_write = 1;
		return;
	case PGRES_POLLING_OK:
		break;
	default: {
		char why[256];
		snprintf(why, sizeof why, "%s", PQerrorMessage(w->conn));
		why[strcspn(why, "\n")] = '\0';
		if (w->st.commits == 0 && w->st.failures == 0)
			ODO_LOG(WARN, "db", "cannot connect: %s", why);
		hook_error(w, NULL);
		w->state = W_DOWN;
		PQfinish(w->conn);
		w->conn = NULL;
		w->next_connect_ms = now_ms + PGW_RETRY_MS;
		return;
	}
	}
	if (PQsetnonblocking(w->conn, 1) != 0 || PQenterPipelineMode(w->conn) != 1) {
		go_down(w, now_ms, "cannot enter pipeline mode");
		return;
	}
	w->state = W_IDLE;
	ODO_LOG(INFO, "db", "connected to the database (server %d)", PQserverVersion(w->conn));
}

/* ---- outcomes ------------------------------------------------------------ */

static void backoff(struct odo_pgw *w, int64_t now_ms)
{
	int shift = w->env_streak < 8 ? w->env_streak : 8;
	int64_t d = (int64_t)PGW_BACKOFF_MIN_MS << shift;
	if (d > PGW_BACKOFF_MAX_MS)
		d = PGW_BACKOFF_MAX_MS;
	w->env_streak++;
	w->hold_until_ms = now_ms + d;
}

/* An environment failure: keep everything, back off, say so loudly. */
static void env_failure(struct odo_pgw *w, int64_t now_ms, const struct pgw_unit *u, const char *what)
{
	w->st.env_failures++;
	backoff(w, now_ms);
	ODO_LOG(ERROR, "db",
		"%s failed for a reason outside the data: SQLSTATE %s (%s): %s; %zu message(s), %zu bytes held and not"
		" acknowledged (devices keep them); retrying in %.1f s",
		what, u->state[0] ? u->state : "-", odo_pg_sqlstate_name(u->state), u->msg, w->nq + w->fl_n, w->qbytes,
		(double)(w->hold_until_ms - now_ms) / 1000);
}

static void drop_inflight(struct odo_pgw *w)
{
	for (struct item *it = w->fl; it; it = it->next)
		w->qbytes -= it->bytes;
	list_free(w->fl);
	w->fl = NULL;
	w->fl_n = 0;
}

static void requeue_inflight(struct odo_pgw *w)
{
	struct item *fl = w->fl;
	w->fl = NULL;
	w->fl_n = 0;
	pgw__requeue(w, fl);
}

static unsigned long long ull(const PGresult *r, int row, int col)
{
	return strtoull(PQgetvalue(r, row, col), NULL, 10);
}

/* Results kept for committed transactions: trip conflicts, lost ranges, acks. */
static void take_kept(struct odo_pgw *w)
{
	size_t logged_conflicts = 0, logged_drops = 0;
	for (size_t i = 0; i < w->nkept; i++) {
		const struct pgw_kept *k = &w->kept[i];
		if (w->units[k->unit].failed)
			continue;
		const PGresult *r = k->r;
		int rows = PQntuples(r);
		if (k->tag == R_DEAD) {
			for (int j = 0; j < rows; j++) {
				const char *why = PQgetvalue(r, j, 0);
				if (strcmp(why, "decode") == 0 || strcmp(why, "range") == 0) {
					w->st.dead++;
				} else {
					w->st.dead_records++;
					w->st.poison += strcmp(why, "database") == 0;
				}
			}
		} else if (k->tag == R_QUAR) {
			w->st.quarantined += (uint64_t)rows;
		} else if (k->tag == R_ALERTS) {
			w->st.alerts += (uint64_t)rows;
			for (int j = 0; j < rows; j++) {
				ODO_LOG(INFO, "alerts", "alert %s raised: %s seq %s (rule %s)", PQgetvalue(r, j, 3),
					PQgetvalue(r, j, 1), PQgetvalue(r, j, 2), PQgetvalue(r, j, 0));
				if (w->o.alert_raised)
					w->o.alert_raised(w->o.alert_ctx, PQgetvalue(r, j, 0));
			}
		} else if (k->tag == R_DROPS) {
			for (int j = 0; j < rows; j++) {
				int erased = strcmp(PQgetvalue(r, j, 0), "erased") == 0;
				unsigned long long n = ull(r, j, 1);
				if (erased)
					w->st.erased_drops += n;
				else
					w->st.consent_drops += n;
				if (logged_drops++ < PGW_LOG_ROWS)
					ODO_LOG(INFO, "db", "%llu record(s) dropped on arrival: %s (recorded in arrival_drops)",
						n, erased ? "of an erased driver's device and window" :
							    "personal data of a driver without consent");
			}
		} else if (k->tag == R_CONFLICT) {
			for (int j = 0; j < rows; j++, logged_conflicts++) {
				w->st.conflicts++;
				w->st.dead_records++;
				if (logged_conflicts < PGW_LOG_ROWS)
					ODO_LOG(WARN, "db",
						"trip conflict: %s epoch %s trip %s: seq %s contradicts the stored seq %s;"
						" dead-lettered, the stored trip kept",
						PQgetvalue(r, j, 0), PQgetvalue(r, j, 1), PQgetvalue(r, j, 2),
						PQgetvalue(r, j, 3), PQgetvalue(r, j, 4));
			}
		} else if (k->tag == R_LOST) {
			for (int j = 0; j < rows; j++) {
				unsigned long long lo = ull(r, j, 2), hi = ull(r, j, 3);
				w->st.lost_ranges++;
				w->st.lost_seqs += hi - lo + 1;
				ODO_LOG(ERROR, "db",
					"LOST AT SERVER: %s epoch %s seq [%llu, %llu] (%llu record number(s)) was acknowledged"
					" to the device but is not in this database (restore or failover?); recorded in"
					" lost_at_server, acknowledging the device again",
					PQgetvalue(r, j, 0), PQgetvalue(r, j, 1), lo, hi, hi - lo + 1);
			}
		} else if (k->tag == R_ACK) {
			/* one ack per (device, epoch, version) of the committed batches */
			for (struct item *it = w->fl; it; it = it->next) {
				if (it->kind != IT_BATCH)
					continue;
				int seen = 0;
				for (struct item *p = w->fl; p != it && !seen; p = p->next)
					seen = p->kind == IT_BATCH && p->epoch == it->epoch && p->v == it->v &&
					       strcmp(p->tdev, it->tdev) == 0;
				for (int j = 0; j < rows && !seen; j++)
					if (strcmp(PQgetvalue(r, j, 0), it->tdev) == 0 && ull(r, j, 1) == it->epoch) {
						w->ack(w->ctx, it->tdev, it->epoch, it->v, ull(r, j, 2));
						break;
					}
			}
		}
	}
}

static void finish_group(struct odo_pgw *w, int64_t now_ms)
{
	const struct pgw_unit *u = &w->units[0];
	if (!u->failed) {
		w->st.commits++;
		w->env_streak = 0;
		for (struct item *it = w->fl; it; it = it->next)
			w->st.batches += it->kind == IT_BATCH;
		w->st.records += w->g_records;
		hook_committed(w);
		take_kept(w);
		drop_inflight(w);
		return;
	}
	w->st.failures++;
	snprintf(w->st.last_sqlstate, sizeof w->st.last_sqlstate, "%s", u->state);
	if (odo_pg_fault_of(u->state) == ODO_PG_FAULT_ENV) {
		requeue_inflight(w);
		env_failure(w, now_ms, u, "a group commit");
		return;
	}
	if (strcmp(u->state, "23514") == 0)
		w->parts_loaded = 0; /* perhaps a partition was dropped meanwhile: read them again first */
	ODO_LOG(WARN, "db", "group of %zu message(s) refused: SQLSTATE %s (%s): %s; narrowing it down", w->fl_n,
		u->state, odo_pg_sqlstate_name(u->state), u->msg);
	if (w->fl_n > 1) {
		for (struct item *it = w->fl; it; it = it->next)
			if (it->stage == ST_GROUP)
				it->stage = ST_SOLO;
		requeue_inflight(w);
		return;
	}
	struct item *it = w->fl;
	if (it->kind == IT_DEAD) {
		/* even the dead letter table refuses it: nothing left to try */
		w->st.dropped++;
		ODO_LOG(ERROR, "db", "dead letter for %s (%zu bytes) refused by the database (SQLSTATE %s: %s); dropped",
			it->topic, it->len, u->state, u->msg);
		drop_inflight(w);
		return;
	}
	if (it->stage == ST_SETTLE) {
		/* its records are done; the range itself is refused: dead-letter the message */
		ODO_LOG(ERROR, "db",
			"the range [%llu, %llu] of %s epoch %llu is refused (SQLSTATE %s: %s); the message is"
			" dead-lettered, its range not settled",
			(unsigned long long)it->seq, (unsigned long long)it->last_seq, it->tdev,
			(unsigned long long)it->epoch, u->state, u->msg);
		w->qbytes -= it->bytes;
		it->kind = IT_DEAD;
		it->reason = "range";
		snprintf(it->sqlstate, sizeof it->sqlstate, "%s", u->state);
		memset(&it->err, 0, sizeof it->err);
		it->err.code = ODO_ERR_DB;
		snprintf(it->err.field, sizeof it->err.field, "seq");
		snprintf(it->err.msg, sizeof it->err.msg, "%.*s", (int)sizeof it->err.msg - 1, u->msg);
		it->bytes = pgw__item_bytes(it);
		w->qbytes += it->bytes;
		requeue_inflight(w);
		return;
	}
	it->stage = ST_ISOLATE;
	requeue_inflight(w);
}

static void finish_isolate(struct odo_pgw *w, int64_t now_ms)
{
	struct item *it = w->fl;
	const struct pgw_unit *env = NULL;
	size_t nfail = 0, ok = 0;
	for (size_t k = 0; k < w->nunits; k++) {
		if (!w->units[k].failed) {
			ok++;
			w->st.records += !w->units[k].quar;
		}
		else if (odo_pg_fault_of(w->units[k].state) == ODO_PG_FAULT_ENV)
			env = env ? env : &w->units[k];
		else
			nfail++;
	}
	w->st.commits += ok;
	w->st.isolations++;
	take_kept(w);
	if (env) {
		w->st.failures++;
		snprintf(w->st.last_sqlstate, sizeof w->st.last_sqlstate, "%s", env->state);
		requeue_inflight(w);
		env_failure(w, now_ms, env, "writing a batch record by record");
		return;
	}
	w->env_streak = 0;
	free(it->fail);
	it->fail = nfail ? calloc(nfail, sizeof *it->fail) : NULL;
	it->nfail = 0;
	for (size_t k = 0; k < w->nunits && it->fail; k++) {
		const struct pgw_unit *u = &w->units[k];
		if (!u->failed)
			continue;
		struct pgw_fail *f = &it->fail[it->nfail++];
		f->index = u->rec;
		snprintf(f->state, sizeof f->state, "%s", u->state);
		snprintf(f->msg, sizeof f->msg, "%s", u->msg);
		snprintf(w->st.last_sqlstate, sizeof w->st.last_sqlstate, "%s", u->state);
		if (it->nfail <= PGW_LOG_ROWS)
			ODO_LOG(WARN, "db", "record refused by the database: %s epoch %llu record %zu: SQLSTATE %s (%s): %s;"
				" dead-lettered alone",
				it->tdev, (unsigned long long)it->epoch, u->rec, u->state, odo_pg_sqlstate_name(u->state),
				u->msg);
	}
	if (nfail && !it->fail) {
		/* cannot remember which records failed: try again later */
		ODO_LOG(ERROR, "db", "out of memory isolating a batch of %s", it->tdev);
		requeue_inflight(w);
		backoff(w, now_ms);
		return;
	}
	w->qbytes -= it->bytes;
	it->bytes = pgw__item_bytes(it);
	w->qbytes += it->bytes;
	it->stage = ST_SETTLE;
	requeue_inflight(w);
}

static void free_pairs(struct odo_pgw *w)
{
	for (size_t i = 0; i < 2 * w->nrpairs; i++)
		free(w->rpairs[i]);
	free(w->rpairs);
	w->rpairs = NULL;
	w->nrpairs = 0;
}

/* The marked (driver, month) pairs, to refresh one per transaction. */
static void take_pairs(struct odo_pgw *w, const PGresult *r)
{
	size_t n = (size_t)PQntuples(r);
	free_pairs(w);
	if (n == 0 || !(w->rpairs = calloc(2 * n, sizeof *w->rpairs)))
		return;
	for (size_t i = 0; i < n; i++) {
		char *d = strdup(PQgetvalue(r, (int)i, 0)), *m = strdup(PQgetvalue(r, (int)i, 1));
		if (!d || !m) { /* out of memory: the rest waits for the next round */
			free(d);
			free(m);
			break;
		}
		w->rpairs[2 * i] = d;
		w->rpairs[2 * i + 1] = m;
		w->nrpairs = i + 1;
	}
}

static void finish_pipeline(struct odo_pgw *w, int64_t now_ms)
{
	enum pipe_kind pk = w->pk;
	w->state = W_IDLE;
	switch (pk) {
	case PK_GROUP:
		finish_group(w, now_ms);
		break;
	case PK_ISOLATE:
		finish_isolate(w, now_ms);
		break;
	case PK_CATALOG:
		if (w->units[0].failed) {
			env_failure(w, now_ms, &w->units[0], "reading which partitions exist");
		} else {
			for (size_t i = 0; i < w->nkept; i++) {
				if (w->kept[i].tag == R_PARTS)
					pgw__take_catalog(w, w->kept[i].r);
				else if (w->kept[i].tag == R_RULES)
					pgw__take_rules(w, w->kept[i].r);
			}
			w->parts_loaded = 1;
			w->next_catalog_ms = now_ms + PGW_CATALOG_MS;
		}
		break;
	case PK_REFRESH:
		if (w->units[0].failed) {
			ODO_LOG(WARN, "aggregate", "incremental refresh failed: SQLSTATE %s: %s", w->units[0].state,
				w->units[0].msg);
			if (odo_pg_fault_of(w->units[0].state) == ODO_PG_FAULT_DATA) {
				/* one driver's trips must not hold up everyone's features */
				w->refresh_isolate = 1;
				w->next_refresh_ms = now_ms;
			}
		}
		break;
	case PK_REFRESH_PAIRS:
		if (w->units[0].failed) {
			ODO_LOG(WARN, "aggregate", "reading the marked months failed: SQLSTATE %s: %s", w->units[0].state,
				w->units[0].msg);
			break;
		}
		for (size_t i = 0; i < w->nkept; i++)
			if (w->kept[i].tag == R_PAIRS)
				take_pairs(w, w->kept[i].r);
		w->refresh_isolate = 0;
		w->next_refresh_ms = now_ms;
		break;
	case PK_REFRESH_ONE:
		for (size_t i = 0; i < w->nunits; i++)
			if (w->units[i].failed)
				ODO_LOG(ERROR, "aggregate",
					"monthly features of driver %s for %s not computed: SQLSTATE %s (%s): %s; its mark is "
					"kept and retried, the other drivers are refreshed",
					w->rpairs[2 * i], w->rpairs[2 * i + 1], w->units[i].state,
					odo_pg_sqlstate_name(w->units[i].state), w->units[i].msg);
		free_pairs(w);
		break;
	case PK_NONE:
		break;
	}
	end_pipeline(w);
}

static int keep(struct odo_pgw *w, int tag, PGresult *r)
{
	if (w->nkept == w->kept_cap) {
		size_t cap = w->kept_cap ? 2 * w->kept_cap : 16;
		struct pgw_kept *k = realloc(w->kept, cap * sizeof *k);
		if (!k)
			return ODO_ERR_NOMEM;
		w->kept = k;
		w->kept_cap = cap;
	}
	w->kept[w->nkept++] = (struct pgw_kept){ .unit = w->unit_done, .tag = tag, .r = r };
	return ODO_OK;
}

static void read_results(struct odo_pgw *w, int64_t now_ms)
{
	if (!PQconsumeInput(w->conn)) {
		go_down(w, now_ms, PQerrorMessage(w->conn));
		return;
	}
	while (w->state == W_BUSY && !PQisBusy(w->conn)) {
		PGresult *r = PQgetResult(w->conn);
		if (!r) {
			if (PQstatus(w->conn) == CONNECTION_BAD) {
				go_down(w, now_ms, PQerrorMessage(w->conn));
				return;
			}
			continue;
		}
		ExecStatusType s = PQresultStatus(r);
		if (s == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			if (++w->unit_done == w->nunits) {
				finish_pipeline(w, now_ms);
				return;
			}
			continue;
		}
		struct pgw_unit *u = &w->units[w->unit_done < w->nunits ? w->unit_done : w->nunits - 1];
		int tag = w->nres < w->ntags ? w->tags[w->nres] : R_NONE;
		if (s == PGRES_FATAL_ERROR || s == PGRES_PIPELINE_ABORTED || s == PGRES_NONFATAL_ERROR) {
			if (!u->failed && s != PGRES_PIPELINE_ABORTED) {
				/* Every failure's SQLSTATE is kept; a result without one is a
				 * client-side failure (classified as the environment's). */
				const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
				snprintf(u->state, sizeof u->state, "%s", st ? st : "");
				snprintf(u->msg, sizeof u->msg, "%s", PQresultErrorMessage(r));
				u->msg[strcspn(u->msg, "\n")] = '\0';
				hook_error(w, u->state);
			}
			u->failed = 1;
		} else if (tag != R_NONE && s == PGRES_TUPLES_OK && keep(w, tag, r) == ODO_OK) {
			r = NULL;
		} else if (tag != R_NONE && s == PGRES_TUPLES_OK) {
			u->failed = 1; /* out of memory keeping its result: retry the transaction's outcome */
			snprintf(u->msg, sizeof u->msg, "out of memory");
		}
		w->nres++;
		PQclear(r);
	}
	if (w->state == W_BUSY && PQstatus(w->conn) == CONNECTION_BAD)
		go_down(w, now_ms, PQerrorMessage(w->conn));
}

static int send_refresh(struct odo_pgw *w)
{
	if (w->nrpairs) {
		/* pair by pair, one transaction each: a failing pair fails alone */
		w->pk = PK_REFRESH_ONE;
		for (size_t i = 0; i < w->nrpairs; i++) {
			const char *v[2] = { w->rpairs[2 * i], w->rpairs[2 * i + 1] };
			if (pgw__send_q(w, R_NONE, odo_agg_marks_lock_sql(1), 0, NULL, NULL, NULL) != ODO_OK ||
			    pgw__send_q(w, R_NONE, odo_agg_refresh_pair_sql(), 2, v, NULL, NULL) != ODO_OK ||
			    pgw__sync(w, i) != ODO_OK)
				return ODO_ERR_DB;
		}
		return ODO_OK;
	}
	w->pk = w->refresh_isolate ? PK_REFRESH_PAIRS : PK_REFRESH;
	if ((!w->refresh_isolate &&
	     pgw__send_q(w, R_NONE, odo_agg_marks_lock_sql(1), 0, NULL, NULL, NULL) != ODO_OK) ||
	    pgw__send_q(w, w->refresh_isolate ? R_PAIRS : R_NONE,
			w->refresh_isolate ? odo_agg_dirty_pairs_sql() : odo_agg_refresh_dirty_sql(), 0, NULL, NULL,
			NULL) != ODO_OK ||
	    pgw__sync(w, 0) != ODO_OK)
		return ODO_ERR_DB;
	return ODO_OK;
}

void odo_pgw_service(struct odo_pgw *w, int64_t now_ms, short revents)
{
	if (w->state == W_DOWN) {
		if (now_ms >= w->next_connect_ms)
			start_connect(w, now_ms);
		return;
	}
	if (w->state == W_CONNECTING) {
		if (revents)
			connect_step(w, now_ms);
		if (w->state != W_IDLE)
			return;
	}
	if (w->state == W_BUSY) {
		if (revents & POLLOUT)
			PQflush(w->conn);
		if (revents & (POLLIN | POLLERR | POLLHUP))
			read_results(w, now_ms);
		if (w->state != W_IDLE)
			return;
	} else if (w->state == W_IDLE && (revents & (POLLIN | POLLERR | POLLHUP))) {
		/* Idle: notices, or the server going away. */
		if (!PQconsumeInput(w->conn) || PQstatus(w->conn) == CONNECTION_BAD) {
			go_down(w, now_ms, PQerrorMessage(w->conn));
			return;
		}
	}
	if (w->state != W_IDLE)
		return;
	int rc = ODO_OK, sent = 1;
	if (catalog_due(w, now_ms))
		rc = pgw__send_catalog(w);
	else if (group_due(w, now_ms))
		rc = pgw__send_group(w);
	else if (w->o.refresh_s > 0 && now_ms >= w->next_refresh_ms && now_ms >= w->hold_until_ms) {
		w->next_refresh_ms = now_ms + (int64_t)w->o.refresh_s * 1000;
		rc = send_refresh(w);
	} else {
		sent = 0;
	}
	if (rc != ODO_OK) {
		/* part of a pipeline may be out: abandon the connection, keep the messages */
		if (rc != ODO_ERR_DB)
			ODO_LOG(ERROR, "db", "could not build a pipeline (%s); reconnecting, the messages are kept",
				odo_strerror(rc));
		go_down(w, now_ms, rc == ODO_ERR_DB ? PQerrorMessage(w->conn) : odo_strerror(rc));
		return;
	}
	if (sent && w->pk != PK_NONE) {
		PQflush(w->conn);
		w->state = W_BUSY;
	}
}
