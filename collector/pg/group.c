/* odo-collector — building and sending one group's pipeline (see writer_int.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode/decode.h"
#include "odo/log.h"
#include "pg/sql.h"
#include "pg/writer_int.h"


static int month_known(const int *m, int n, int ym)
{
	for (int i = 0; i < n; i++)
		if (m[i] == ym)
			return 1;
	return 0;
}

static int ym_of_ms(int64_t t_ms)
{
	time_t s = (time_t)(t_ms / 1000 - (t_ms % 1000 < 0 ? 1 : 0));
	struct tm tm;
	gmtime_r(&s, &tm);
	return (tm.tm_year + 1900) * 100 + tm.tm_mon + 1;
}

int pgw__send_q(struct odo_pgw *w, const char *sql, int n, const char *const *vals, const int *lens,
		  const int *fmts)
{
	if (w->nsent >= PGW_MAX_QUERIES)
		return ODO_ERR_FULL;
	if (!PQsendQueryParams(w->conn, sql, n, NULL, vals, lens, fmts, 0))
		return ODO_ERR_DB;
	w->nsent++;
	return ODO_OK;
}

static int send_cs(struct odo_pgw *w, const char *sql, struct odo_pgcols *c, const char *extra)
{
	const char *vals[ODO_PG_MAX_COLS + 1];
	int lens[ODO_PG_MAX_COLS + 1], fmts[ODO_PG_MAX_COLS + 1];
	int rc = odo_pgcols_finish(c);
	if (rc)
		return rc;
	for (int i = 0; i < c->ncols; i++) {
		vals[i] = c->col[i].b.p;
		lens[i] = (int)c->col[i].b.n;
		fmts[i] = 1;
	}
	int n = c->ncols;
	if (extra) {
		vals[n] = extra;
		lens[n] = 0;
		fmts[n++] = 0;
	}
	return pgw__send_q(w, sql, n, vals, lens, fmts);
}

static void dtc_join(struct odo_pgbuf *s, const struct odo_rec_dtc *d, int list)
{
	odo_pgbuf_reset(s);
	for (int i = 0; i < d->n[list] && i < ODO_WIRE_MAX_DTCS; i++) {
		if (i)
			odo_pgbuf_put(s, ",", 1);
		odo_pgbuf_put(s, d->codes[list][i], strlen(d->codes[list][i]));
	}
	if (!s->p)
		odo_pgbuf_put(s, "", 0);
}

/* Shorthands for filling the current column set `c` of add_record(). */
#define T(i, v) odo_pgcols_text(c, (i), (v))
#define I(i, v) odo_pgcols_i64(c, (i), (int64_t)(v))
#define D(i, v) odo_pgcols_dbl(c, (i), (v))
#define B(i, v) odo_pgcols_bool(c, (i), (v))

static void add_record(struct odo_pgw *w, const char *dev, const struct odo_record *r)
{
	struct odo_pgcols *c;
	switch (r->kind) {
	case ODO_REC_SAMPLE: {
		const struct odo_rec_sample *s = &r->u.sample;
		c = &w->cs[C_SAMPLES];
		T(S_DEV, dev); I(S_SEQ, r->seq); I(S_T, r->t_ms); I(S_TSRC, r->tsrc);
		I(S_TRIP, s->trip_id); I(S_FIX, s->fix); D(S_LAT, s->lat); D(S_LON, s->lon);
		D(S_SPEED, s->speed_mps); D(S_HEAD, s->heading_deg); D(S_EPH, s->eph_m);
		D(S_ALT, s->alt_m); D(S_RPM, s->rpm); D(S_OBD, s->obd_speed_mps);
		D(S_THR, s->throttle_pct); D(S_COOL, s->coolant_c); D(S_FUEL, s->fuel_pct);
		D(S_AX, s->ax_g); D(S_AY, s->ay_g);
		int ym = ym_of_ms(r->t_ms);
		if (!month_known(w->months, w->nmonths, ym) &&
		    !month_known(w->pending_months, w->npending_months, ym) && w->npending_months < PGW_MONTH_CACHE)
			w->pending_months[w->npending_months++] = ym;
		break;
	}
	case ODO_REC_EVENT: {
		const struct odo_rec_event *e = &r->u.event;
		c = &w->cs[C_EVENTS];
		T(E_DEV, dev); I(E_SEQ, r->seq); I(E_T, r->t_ms); I(E_TSRC, r->tsrc);
		I(E_TRIP, e->trip_id); T(E_KIND, odo_event_kind_name(e->kind));
		I(E_SRC, e->source); I(E_DUR, e->duration_ms); D(E_PEAK, e->peak_g);
		D(E_MEAN, e->mean_g); D(E_SB, e->speed_before_mps); D(E_SA, e->speed_after_mps);
		D(E_LAT, e->lat); D(E_LON, e->lon); D(E_HEAD, e->heading_deg);
		break;
	}
	case ODO_REC_DTC: {
		const struct odo_rec_dtc *d = &r->u.dtc;
		c = &w->cs[C_DTC];
		T(D_DEV, dev); I(D_SEQ, r->seq); I(D_T, r->t_ms); I(D_ECU, d->ecu);
		I(D_MIL, d->mil);
		for (int l = 0; l < ODO_DTC__LISTS; l++) {
			dtc_join(&w->extra[X_DTC], d, l);
			T(D_ST + l, w->extra[X_DTC].p ? w->extra[X_DTC].p : "");
		}
		B(D_AIR, d->airbag_deployed);
		break;
	}
	case ODO_REC_VEHICLE:
		c = &w->cs[C_VEH];
		T(V_DEV, dev); I(V_SEQ, r->seq); I(V_T, r->t_ms);
		T(V_VIN, r->u.vehicle.vin); I(V_ECU, r->u.vehicle.ecu);
		break;
	case ODO_REC_PHONE:
		c = &w->cs[C_PHONE];
		T(P_DEV, dev); I(P_SEQ, r->seq); I(P_T, r->t_ms);
		B(P_SCR, r->u.phone.screen_on); I(P_CALL, r->u.phone.call);
		B(P_HND, r->u.phone.handled);
		break;
	case ODO_REC_STATUS: {
		const struct odo_rec_status *s = &r->u.status;
		c = &w->cs[C_STATUS];
		T(T_DEV, dev); I(T_SEQ, r->seq); I(T_T, r->t_ms); I(T_UP, s->uptime_s);
		I(T_OD, s->outbox_depth); I(T_OA, s->outbox_oldest_age_s); I(T_EV, s->evicted);
		I(T_RC, s->reconnects); I(T_CE, s->can_errors); I(T_GE, s->gps_errors);
		I(T_AE, s->accel_errors); I(T_FIX, s->fix); I(T_CS, s->clock_source);
		break;
	}
	case ODO_REC_TRIP_START: {
		/* One upsert cannot touch a row twice: skip a trip already in this group. */
		char key[ODO_DEVICE_ID_MAX + 32];
		snprintf(key, sizeof key, "\"%s:%llu\"", dev, (unsigned long long)r->u.trip_start.trip_id);
		if (w->extra[X_TSTART_KEYS].p && strstr(w->extra[X_TSTART_KEYS].p, key))
			return;
		odo_pgbuf_put(&w->extra[X_TSTART_KEYS], key, strlen(key));
		c = &w->cs[C_TSTART];
		T(TS_DEV, dev); I(TS_TRIP, r->u.trip_start.trip_id); I(TS_SEQ, r->seq);
		I(TS_T, r->t_ms); D(TS_LAT, r->u.trip_start.lat); D(TS_LON, r->u.trip_start.lon);
		break;
	}
	case ODO_REC_TRIP_END: {
		const struct odo_rec_trip_end *e = &r->u.trip_end;
		c = &w->cs[C_TEND];
		/* One upsert cannot touch a row twice: skip a trip already in this group. */
		char key[ODO_DEVICE_ID_MAX + 32];
		snprintf(key, sizeof key, "\"%s:%llu\"", dev, (unsigned long long)e->trip_id);
		if (w->extra[X_TEND_KEYS].p && strstr(w->extra[X_TEND_KEYS].p, key))
			return;
		odo_pgbuf_put(&w->extra[X_TEND_KEYS], key, strlen(key));
		c->rows++;
		T(TE_DEV, dev); I(TE_TRIP, e->trip_id); I(TE_SEQ, r->seq);
		I(TE_START, e->start_ms); I(TE_END, e->end_ms); D(TE_DIST, e->distance_m);
		D(TE_OBD, e->obd_distance_m); D(TE_DUR, e->duration_s); D(TE_MOV, e->moving_s);
		D(TE_IDLE, e->idle_s); D(TE_AVG, e->avg_speed_mps); D(TE_MAX, e->max_speed_mps);
		D(TE_RPM, e->avg_rpm); D(TE_NIGHT, e->night_m); D(TE_LNW, e->late_night_weekend_m);
		D(TE_RUSH, e->rush_hour_m); D(TE_HEAVY, e->heavy_traffic_m); D(TE_WIPER, e->wiper_m);
		D(TE_SCREEN, e->screen_on_s); D(TE_CALL, e->handheld_call_s);
		I(TE_HANDLED, e->phone_handled_count); I(TE_HB, e->hard_brakes);
		I(TE_RA, e->rapid_accels); I(TE_HC, e->harsh_corners); I(TE_SW, e->swerves);
		I(TE_CR, e->crashes); D(TE_JERK, e->mean_abs_jerk); D(TE_GPS, e->gps_accuracy_m);
		B(TE_DTC, e->has_dtc); B(TE_AIR, e->airbag_deployed);
		/* the trip ids for the dirty marks: X_DIRTY_IDS is a text[] literal */
		odo_pgbuf_put(&w->extra[X_DIRTY_IDS], w->extra[X_DIRTY_IDS].n ? "," : "{", 1);
		odo_pgbuf_put(&w->extra[X_DIRTY_IDS], key, strlen(key));
		return;
	}
	default:
		return;
	}
	c->rows++;
}

#undef T
#undef I
#undef D
#undef B

static const int ncols_of[] = { S__N, E__N, D__N, V__N, P__N, T__N, TS__N, TE__N, B__N, L__N };
static const char *const sql_of[] = { SQL_SAMPLES, SQL_EVENTS, SQL_DTC, SQL_VEHICLE, SQL_PHONE, SQL_STATUS };

/* One dead letter of the group: a whole message (it->b == NULL) or one
 * record of a batch (its own bytes inside the message). */
static void dead_row(struct odo_pgw *w, const struct item *it, const uint8_t *raw, size_t len,
		     const struct odo_wire_error *err)
{
	struct odo_pgcols *c = &w->cs[C_DEAD];
	odo_pgcols_text(c, L_TOPIC, it->topic), odo_pgcols_text(c, L_TDEV, it->tdev);
	odo_pgcols_bytes(c, L_PAY, ODO_PG_OID_BYTEA, raw, len);
	odo_pgcols_i64(c, L_CODE, err->code), odo_pgcols_text(c, L_NAME, odo_decode_code_name(err->code));
	odo_pgcols_text(c, L_FIELD, err->field), odo_pgcols_i64(c, L_OFF, (long long)err->offset);
	odo_pgcols_text(c, L_MSG, err->msg);
	c->rows++;
}

/*
 * TODO(collector-life, #11): per-record dead letters with (device, epoch,
 * seq) and storage of the version 2 kinds (track, crash trace) and keys.
 * Until then a batch's refused records (wire v2 out->bad) and the records
 * of kinds this writer has no table for are dead-lettered here, in the same
 * transaction that settles the batch's range: nothing is dropped silently.
 */
static void dead_records(struct odo_pgw *w, const struct item *it)
{
	const struct odo_batch *b = it->b;
	for (size_t k = 0; k < b->nbad; k++)
		if (b->bad[k].off + b->bad[k].len <= it->len)
			dead_row(w, it, it->raw + b->bad[k].off, b->bad[k].len, &b->bad[k].err);
	for (size_t k = 0; k < b->n; k++) {
		const struct odo_record *r = &b->recs[k];
		if (r->kind != ODO_REC_TRACK && r->kind != ODO_REC_CRASH_TRACE)
			continue;
		struct odo_wire_error e = { .code = ODO_ERR_UNSUPPORTED, .offset = r->off };
		snprintf(e.field, sizeof e.field, "k");
		snprintf(e.msg, sizeof e.msg, "This collector does not store %s records yet (seq %llu).",
			 odo_record_kind_name(r->kind), (unsigned long long)r->seq);
		if (r->off + r->len <= it->len)
			dead_row(w, it, it->raw + r->off, r->len, &e);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Take a group off the queue and send it as one pipeline ending in Sync. */
int pgw__send_group(struct odo_pgw *w)
{
	size_t rows = 0, n = 0;
	struct item *it;
	w->fl = NULL;
	struct item **tailp = &w->fl;
	while (w->head && (n == 0 || (!w->solo && rows < w->o.max_group_rows))) {
		it = w->head;
		w->head = it->next;
		if (!w->head)
			w->tail = NULL;
		it->next = NULL;
		*tailp = it;
		tailp = &it->next;
		size_t r = it->b ? it->b->n : 1;
		rows += r;
		n++;
		w->nq--;
		w->qrows -= r;
	}
	w->fl_n = n;
	for (size_t i = 0; i < ODO_ARRAY_LEN(w->cs); i++)
		odo_pgcols_reset(&w->cs[i], ncols_of[i]);
	for (size_t i = 0; i < ODO_ARRAY_LEN(w->extra); i++)
		odo_pgbuf_reset(&w->extra[i]);
	w->npending_months = 0;

	/* devices of the group, sorted and unique, for the ordered row locks */
	const char **devs = malloc(n * sizeof *devs);
	if (!devs)
		return ODO_ERR_NOMEM;
	size_t nd = 0;
	for (it = w->fl; it; it = it->next) {
		if (!it->b)
			continue;
		devs[nd++] = it->b->device;
		struct odo_pgcols *bc = &w->cs[C_BATCH];
		uint64_t hi = it->b->last_seq; /* the range end, refused records included */
		odo_pgcols_text(bc, B_DEV, it->b->device);
		odo_pgcols_i64(bc, B_LO, (int64_t)it->b->seq);
		odo_pgcols_i64(bc, B_HI, (int64_t)hi);
		odo_pgcols_i64(bc, B_N, (int64_t)it->b->n);
		bc->rows++;
		/* a batch seen twice in one group adds its rows once */
		int dup = 0;
		for (struct item *p = w->fl; p != it; p = p->next)
			if (p->b && p->b->seq == it->b->seq && p->b->n == it->b->n &&
			    strcmp(p->b->device, it->b->device) == 0 && p->b->last_seq == hi && p->b->epoch == it->b->epoch)
				dup = 1;
		if (dup)
			continue;
		for (size_t k = 0; k < it->b->n; k++)
			add_record(w, it->b->device, &it->b->recs[k]);
		dead_records(w, it);
	}
	qsort(devs, nd, sizeof *devs, cmp_str);
	struct odo_pgbuf *dl = &w->extra[X_DEVICES];
	size_t u = 0;
	odo_pgbuf_put(dl, "{", 1);
	for (size_t i = 0; i < nd; i++) {
		if (i && strcmp(devs[i], devs[i - 1]) == 0)
			continue;
		odo_pgbuf_printf(dl, "%s\"%s\"", u++ ? "," : "", devs[i]); /* ids are [A-Za-z0-9._-] */
	}
	odo_pgbuf_put(dl, "}", 1);
	free(devs);
	for (it = w->fl; it; it = it->next) {
		if (it->b)
			continue;
		dead_row(w, it, it->raw, it->len, &it->err);
	}

	w->nsent = w->nres = w->failed = 0;
	w->ack_idx = -1;
	w->errstate[0] = w->errmsg[0] = '\0';
	int rc = ODO_OK;
	const char *dv[1] = { dl->p };
	if (u) {
		rc = rc ? rc : pgw__send_q(w, SQL_DEVICES, 1, dv, NULL, NULL);
		rc = rc ? rc : pgw__send_q(w, SQL_LOCK, 1, dv, NULL, NULL);
	}
	for (int i = 0; i < w->npending_months && !rc; i++) {
		int y = w->pending_months[i] / 100, m = w->pending_months[i] % 100;
		int ny = m == 12 ? y + 1 : y, nm = m == 12 ? 1 : m + 1;
		char ddl[256];
		/* Identifiers and bounds from validated integers only. */
		snprintf(ddl, sizeof ddl,
			 "CREATE TABLE IF NOT EXISTS samples_%04d_%02d PARTITION OF samples FOR VALUES FROM "
			 "('%04d-%02d-01 00:00:00+00') TO ('%04d-%02d-01 00:00:00+00')",
			 y, m, y, m, ny, nm);
		rc = pgw__send_q(w, ddl, 0, NULL, NULL, NULL);
	}
	for (int i = C_SAMPLES; i <= C_STATUS && !rc; i++)
		if (w->cs[i].rows)
			rc = send_cs(w, sql_of[i], &w->cs[i], NULL);
	if (!rc && w->cs[C_TSTART].rows)
		rc = send_cs(w, SQL_TRIP_START, &w->cs[C_TSTART], NULL);
	if (!rc && w->cs[C_TEND].rows) {
		rc = send_cs(w, SQL_TRIP_END, &w->cs[C_TEND], NULL);
		odo_pgbuf_put(&w->extra[X_DIRTY_IDS], "}", 1);
		const char *tv[1] = { w->extra[X_DIRTY_IDS].p };
		rc = rc ? rc : pgw__send_q(w, SQL_DIRTY, 1, tv, NULL, NULL);
	}
	if (!rc && u) {
		rc = send_cs(w, SQL_BATCHES, &w->cs[C_BATCH], w->name);
		w->ack_idx = w->nsent;
		rc = rc ? rc : pgw__send_q(w, SQL_ACK, 1, dv, NULL, NULL);
	}
	if (!rc && w->cs[C_DEAD].rows)
		rc = send_cs(w, SQL_DEAD, &w->cs[C_DEAD], w->name);
	if (rc) {
		/* Could not send the whole group: make the transaction fail so
		 * nothing of it commits; it is retried when the Sync comes back. */
		ODO_LOG(WARN, "db", "could not send a group (%s); rolling it back", odo_strerror(rc));
		w->failed = 1;
		if (!PQsendQueryParams(w->conn, "SELECT 1 / 0", 0, NULL, NULL, NULL, NULL, 0))
			return ODO_ERR_DB;
	}
	if (PQpipelineSync(w->conn) != 1)
		return ODO_ERR_DB;
	PQflush(w->conn);
	w->state = W_BUSY;
	return ODO_OK;
}

