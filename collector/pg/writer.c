/* odo-collector — group-committing PostgreSQL writer (see writer.h). */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "aggregate/aggregate.h"
#include "decode/decode.h"
#include "odo/log.h"
#include "pg/writer_int.h"

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
	w->password = o->password && o->password[0] ? strdup(o->password) : NULL;
	if (!w->conninfo || !w->name || (o->password && o->password[0] && !w->password)) {
		odo_pgw_close(w);
		return ODO_ERR_NOMEM;
	}
	if (!w->o.max_group_rows)
		w->o.max_group_rows = 5000;
	if (!w->o.max_queue_msgs)
		w->o.max_queue_msgs = 20000;
	w->ack = ack;
	w->ctx = ctx;
	w->state = W_DOWN;
	*out = w;
	return ODO_OK;
}

static void item_free(struct item *it)
{
	if (!it)
		return;
	odo_decode_free(it->b);
	free(it->topic);
	free(it->raw);
	free(it);
}

static void list_free(struct item *it)
{
	while (it) {
		struct item *n = it->next;
		item_free(it);
		it = n;
	}
}

void odo_pgw_close(struct odo_pgw *w)
{
	if (!w)
		return;
	if (w->conn)
		PQfinish(w->conn);
	list_free(w->head);
	list_free(w->fl);
	PQclear(w->ackres);
	for (size_t i = 0; i < ODO_ARRAY_LEN(w->cs); i++)
		odo_pgcols_free(&w->cs[i]);
	for (size_t i = 0; i < ODO_ARRAY_LEN(w->extra); i++)
		odo_pgbuf_free(&w->extra[i]);
	if (w->password) {
		memset(w->password, 0, strlen(w->password));
		free(w->password);
	}
	free(w->conninfo);
	free(w->name);
	free(w);
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
	w->qrows += it->b ? it->b->n : 1;
}

static struct timespec now_ts(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

static int64_t mono_ms(void)
{
	struct timespec ts = now_ts();
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int odo_pgw_add_batch(struct odo_pgw *w, struct odo_batch *b, const char *topic, const uint8_t *raw, size_t len)
{
	if (w->nq >= w->o.max_queue_msgs) {
		w->st.shed++;
		odo_decode_free(b);
		return ODO_ERR_FULL;
	}
	struct item *it = calloc(1, sizeof *it);
	if (!it) {
		odo_decode_free(b);
		return ODO_ERR_NOMEM;
	}
	it->b = b;
	it->topic = strdup(topic);
	it->raw = malloc(len ? len : 1);
	if (!it->topic || !it->raw) {
		item_free(it);
		return ODO_ERR_NOMEM;
	}
	memcpy(it->raw, raw, len);
	it->len = len;
	snprintf(it->tdev, sizeof it->tdev, "%s", b->device);
	it->queued_ms = mono_ms();
	enqueue(w, it);
	return ODO_OK;
}

int odo_pgw_add_dead(struct odo_pgw *w, const char *topic, const char *topic_device, const uint8_t *raw,
		     size_t len, const struct odo_wire_error *err)
{
	struct item *it = calloc(1, sizeof *it);
	if (!it)
		return ODO_ERR_NOMEM;
	it->topic = strdup(topic);
	it->raw = malloc(len ? len : 1);
	if (!it->topic || !it->raw) {
		item_free(it);
		return ODO_ERR_NOMEM;
	}
	if (len)
		memcpy(it->raw, raw, len);
	it->len = len;
	it->err = *err;
	snprintf(it->tdev, sizeof it->tdev, "%s", topic_device ? topic_device : "");
	it->queued_ms = mono_ms();
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

static int group_due(const struct odo_pgw *w, int64_t now_ms)
{
	if (!w->head || now_ms < w->hold_until_ms)
		return 0;
	if (w->qrows >= w->o.max_group_rows)
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
}

/* ---- connection --------------------------------------------------------- */

static void go_down(struct odo_pgw *w, int64_t now_ms, const char *why)
{
	if (w->state != W_DOWN)
		ODO_LOG(WARN, "db", "database connection lost (%s); acknowledgements paused, retrying", why);
	if (w->conn)
		PQfinish(w->conn);
	w->conn = NULL;
	w->state = W_DOWN;
	w->next_connect_ms = now_ms + PGW_RETRY_MS;
	/* Whatever was in flight is not known to be committed: queue it again
	 * in front (idempotent), and ack nothing for it. */
	if (w->fl) {
		struct item *last = w->fl;
		size_t n = 1, rows = last->b ? last->b->n : 1;
		while (last->next) {
			last = last->next;
			n++;
			rows += last->b ? last->b->n : 1;
		}
		last->next = w->head;
		if (!w->head)
			w->tail = last;
		w->head = w->fl;
		w->nq += n;
		w->qrows += rows;
		w->fl = NULL;
		w->fl_n = 0;
	}
	PQclear(w->ackres);
	w->ackres = NULL;
	w->is_refresh = 0;
}

static void start_connect(struct odo_pgw *w, int64_t now_ms)
{
	const char *kw[] = { "dbname", "password", "application_name", "connect_timeout", NULL };
	const char *val[] = { w->conninfo, w->password, "odo-collector", "10", NULL };
	if (!w->password) {
		kw[1] = "application_name";
		val[1] = "odo-collector";
		kw[2] = "connect_timeout";
		val[2] = "10";
		kw[3] = NULL;
		val[3] = NULL;
	}
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

static void finish_group(struct odo_pgw *w, int64_t now_ms)
{
	struct item *fl = w->fl;
	w->fl = NULL;
	size_t n = w->fl_n;
	w->fl_n = 0;
	w->state = W_IDLE;
	if (w->is_refresh) {
		w->is_refresh = 0;
		if (w->failed)
			ODO_LOG(WARN, "aggregate", "incremental refresh failed: %s", w->errmsg);
		return;
	}
	if (!w->failed) {
		w->st.commits++;
		for (struct item *it = fl; it; it = it->next) {
			if (it->b) {
				w->st.batches++;
				w->st.records += it->b->n;
				w->st.dead += it->b->nbad;
			} else {
				w->st.dead++;
			}
		}
		for (int i = 0; i < w->npending_months && w->nmonths < PGW_MONTH_CACHE; i++)
			w->months[w->nmonths++] = w->pending_months[i];
		w->solo = w->solo > 0 ? w->solo - 1 : 0;
		if (w->ackres) {
			for (int r = 0; r < PQntuples(w->ackres); r++) {
				const char *dev = PQgetvalue(w->ackres, r, 0);
				const struct odo_batch *last = NULL;
				for (struct item *it = fl; it; it = it->next)
					if (it->b && strcmp(it->b->device, dev) == 0)
						last = it->b;
				if (last)
					w->ack(w->ctx, dev, last->v, last->epoch,
					       strtoull(PQgetvalue(w->ackres, r, 1), NULL, 10));
			}
		}
		list_free(fl);
		PQclear(w->ackres);
		w->ackres = NULL;
		return;
	}
	PQclear(w->ackres);
	w->ackres = NULL;
	w->st.failures++;
	int transient = w->errstate[0] == '\0' || strncmp(w->errstate, "40", 2) == 0 ||
			(strncmp(w->errstate, "08", 2) == 0 && strcmp(w->errstate, "08P01") != 0) || strncmp(w->errstate, "53", 2) == 0 ||
			strncmp(w->errstate, "57", 2) == 0 || strcmp(w->errstate, "42P07") == 0 ||
			strcmp(w->errstate, "23505") == 0;
	ODO_LOG(WARN, "db", "group of %zu messages not committed (SQLSTATE %s): %s", n,
		w->errstate[0] ? w->errstate : "-", w->errmsg);
	if (n == 1 && !transient && fl->b) {
		/* The database refuses this batch on its own: dead-letter it with
		 * the server's reason rather than retrying forever. */
		struct odo_wire_error e = { .code = ODO_ERR_DB };
		snprintf(e.field, sizeof e.field, "sqlstate %s", w->errstate);
		snprintf(e.msg, sizeof e.msg, "%.*s", (int)sizeof e.msg - 1, w->errmsg);
		if (odo_pgw_add_dead(w, fl->topic, fl->tdev, fl->raw, fl->len, &e) != ODO_OK)
			ODO_LOG(ERROR, "db", "out of memory dead-lettering a refused batch");
		item_free(fl);
		return;
	}
	/* Put the group back in front and retry; after a data error, one by one. */
	if (!transient)
		w->solo = (int)n;
	w->fl = fl;
	w->fl_n = n;
	struct item *last = w->fl;
	size_t rows = 0, cnt = 0;
	for (struct item *p = w->fl; p; p = p->next) {
		last = p;
		rows += p->b ? p->b->n : 1;
		cnt++;
	}
	last->next = w->head;
	if (!w->head)
		w->tail = last;
	w->head = w->fl;
	w->nq += cnt;
	w->qrows += rows;
	w->fl = NULL;
	w->fl_n = 0;
	w->hold_until_ms = now_ms + (transient ? PGW_RETRY_HOLD_MS : 0);
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
			finish_group(w, now_ms);
			return;
		}
		if (s == PGRES_FATAL_ERROR || s == PGRES_PIPELINE_ABORTED || s == PGRES_NONFATAL_ERROR) {
			if (!w->failed && s != PGRES_PIPELINE_ABORTED) {
				const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
				snprintf(w->errstate, sizeof w->errstate, "%s", st ? st : "");
				snprintf(w->errmsg, sizeof w->errmsg, "%s", PQresultErrorMessage(r));
				w->errmsg[strcspn(w->errmsg, "\n")] = '\0';
			}
			w->failed = 1;
		} else if (w->nres == w->ack_idx && s == PGRES_TUPLES_OK) {
			PQclear(w->ackres);
			w->ackres = r;
			r = NULL;
		}
		w->nres++;
		PQclear(r);
	}
	if (w->state == W_BUSY && PQstatus(w->conn) == CONNECTION_BAD)
		go_down(w, now_ms, PQerrorMessage(w->conn));
}

static void send_refresh(struct odo_pgw *w)
{
	w->nsent = w->nres = w->failed = 0;
	w->ack_idx = -1;
	w->is_refresh = 1;
	w->npending_months = 0;
	if (pgw__send_q(w, odo_agg_refresh_dirty_sql(), 0, NULL, NULL, NULL) != ODO_OK || PQpipelineSync(w->conn) != 1) {
		w->failed = 1;
		snprintf(w->errmsg, sizeof w->errmsg, "%s", PQerrorMessage(w->conn));
	}
	PQflush(w->conn);
	w->state = W_BUSY;
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
	if (w->state == W_IDLE && group_due(w, now_ms)) {
		if (pgw__send_group(w) != ODO_OK)
			go_down(w, now_ms, PQerrorMessage(w->conn));
	} else if (w->state == W_IDLE && w->o.refresh_s > 0 && now_ms >= w->next_refresh_ms) {
		w->next_refresh_ms = now_ms + (int64_t)w->o.refresh_s * 1000;
		send_refresh(w);
	}
}
