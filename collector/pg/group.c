/* odo-collector — building and sending the writer's pipelines (see writer_int.h):
 *
 *   group     messages together, one transaction: records, quarantine, dead
 *             letters, ranges, lost ranges, acks;
 *   isolate   one message record by record, one transaction per record, all
 *             in one pipeline (an error aborts only its own transaction);
 *   settle    one isolated message: its range, the dead letters of the
 *             records PostgreSQL refused, its ack (a group without records);
 *   catalog   which month partitions exist.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aggregate/aggregate.h"
#include "decode/decode.h"
#include "odo/log.h"
#include "pg/sql.h"
#include "pg/writer_int.h"

#define PARAM_MAX (ODO_PG_MAX_COLS * 2 + 1)

/* PostgreSQL array type OIDs of the element types pgarray.h uses. */
static unsigned array_oid(uint32_t elem)
{
	switch (elem) {
	case ODO_PG_OID_BOOL: return 1000;
	case ODO_PG_OID_BYTEA: return 1001;
	case ODO_PG_OID_INT8: return 1016;
	case ODO_PG_OID_TEXT: return 1009;
	case ODO_PG_OID_FLOAT8: return 1022;
	default: return 0;
	}
}

static int send_typed(struct odo_pgw *w, int tag, const char *sql, int n, const Oid *types,
		      const char *const *vals, const int *lens, const int *fmts)
{
	if (w->ntags == w->tags_cap) {
		size_t cap = w->tags_cap ? 2 * w->tags_cap : 64;
		int *t = realloc(w->tags, cap * sizeof *t);
		if (!t)
			return ODO_ERR_NOMEM;
		w->tags = t;
		w->tags_cap = cap;
	}
	if (!PQsendQueryParams(w->conn, sql, n, types, vals, lens, fmts, 0))
		return ODO_ERR_DB;
	w->tags[w->ntags++] = tag;
	return ODO_OK;
}

int pgw__send_q(struct odo_pgw *w, int tag, const char *sql, int n, const char *const *vals, const int *lens,
		const int *fmts)
{
	return send_typed(w, tag, sql, n, NULL, vals, lens, fmts);
}

int pgw__sync(struct odo_pgw *w, size_t rec)
{
	if (w->nunits == w->units_cap) {
		size_t cap = w->units_cap ? 2 * w->units_cap : 16;
		struct pgw_unit *u = realloc(w->units, cap * sizeof *u);
		if (!u)
			return ODO_ERR_NOMEM;
		w->units = u;
		w->units_cap = cap;
	}
	if (PQpipelineSync(w->conn) != 1)
		return ODO_ERR_DB;
	w->units[w->nunits++] = (struct pgw_unit){ .rec = rec };
	return ODO_OK;
}

/* Send one statement whose parameters are the columns of c1 (then c2), plus
 * this collector's name when `with_name`, plus `extra` (text) when not NULL. */
static int send_cols_x(struct odo_pgw *w, int tag, const char *sql, struct odo_pgcols *c1, struct odo_pgcols *c2,
		       int with_name, const char *extra)
{
	const char *vals[PARAM_MAX];
	int lens[PARAM_MAX], fmts[PARAM_MAX];
	Oid types[PARAM_MAX];
	int n = 0, rc;
	struct odo_pgcols *cs[2] = { c1, c2 };
	for (int k = 0; k < 2 && cs[k]; k++) {
		if ((rc = odo_pgcols_finish(cs[k])) != ODO_OK)
			return rc;
		for (int i = 0; i < cs[k]->ncols; i++, n++) {
			vals[n] = cs[k]->col[i].b.p;
			lens[n] = (int)cs[k]->col[i].b.n;
			fmts[n] = 1;
			types[n] = array_oid(cs[k]->col[i].oid);
		}
	}
	if (with_name) {
		vals[n] = w->name;
		lens[n] = 0;
		fmts[n] = 0;
		types[n++] = ODO_PG_OID_TEXT;
	}
	if (extra) {
		vals[n] = extra;
		lens[n] = 0;
		fmts[n] = 0;
		types[n++] = ODO_PG_OID_TEXT;
	}
	return send_typed(w, tag, sql, n, types, vals, lens, fmts);
}

static int send_cols(struct odo_pgw *w, int tag, const char *sql, struct odo_pgcols *c1, struct odo_pgcols *c2,
		     int with_name)
{
	return send_cols_x(w, tag, sql, c1, c2, with_name, NULL);
}

int pgw__decode(struct odo_pgw *w, const struct item *it)
{
	struct odo_wire_error err;
	return odo_decode_again(it->raw, it->len, it->now_ms, w->scratch, &err);
}

/* ---- partitions ---------------------------------------------------------- */

static const char *const part_parent[PART__N] = { "samples", "tracks" };

int pgw__send_catalog(struct odo_pgw *w)
{
	w->pk = PK_CATALOG;
	int rc = pgw__send_q(w, R_PARTS, SQL_PARTITIONS, 0, NULL, NULL, NULL);
	if (!w->o.no_alerts)
		rc = rc ? rc : pgw__send_q(w, R_RULES, SQL_ALERT_RULES, 0, NULL, NULL, NULL);
	return rc ? rc : pgw__sync(w, 0);
}

void pgw__take_rules(struct odo_pgw *w, const PGresult *r)
{
	struct odo_alert_rules *rs = &w->rules;
	rs->n = 0;
	uint64_t bad = 0;
	for (int i = 0; i < PQntuples(r) && PQnfields(r) >= 7; i++) {
		char why[200];
		if (rs->n == ODO_ALERT_MAX_RULES) {
			ODO_LOG(ERROR, "alerts", "alert_rules: more than %d enabled rules; '%s' and the rest are not used",
				ODO_ALERT_MAX_RULES, PQgetvalue(r, i, 0));
			bad += (uint64_t)(PQntuples(r) - i);
			break;
		}
		if (odo_alert_rule_parse(PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
					 PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5),
					 PQgetvalue(r, i, 6), &rs->r[rs->n], why, sizeof why) == ODO_OK) {
			rs->n++;
		} else {
			bad++;
			ODO_LOG(ERROR, "alerts", "alert_rules: %s; this rule raises nothing until it is fixed", why);
		}
	}
	w->st.bad_rules = bad;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

void pgw__take_catalog(struct odo_pgw *w, const PGresult *r)
{
	for (int p = 0; p < PART__N; p++)
		w->parts[p].n = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *parent = PQgetvalue(r, i, 0), *child = PQgetvalue(r, i, 1);
		for (int p = 0; p < PART__N; p++) {
			size_t pl = strlen(part_parent[p]);
			int y, m;
			char tail;
			/* maintain's names: <parent>_YYYY_MM; any other partition is not ours to route to */
			if (strcmp(parent, part_parent[p]) != 0 || strncmp(child, parent, pl) != 0 ||
			    sscanf(child + pl, "_%4d_%2d%c", &y, &m, &tail) != 2 || strlen(child) != pl + 8 || m < 1 ||
			    m > 12)
				continue;
			struct pgw_months *pm = &w->parts[p];
			if (pm->n == pm->cap) {
				size_t cap = pm->cap ? 2 * pm->cap : 64;
				int *nm = realloc(pm->m, cap * sizeof *nm);
				if (!nm)
					continue; /* that month's records go to quarantine: nothing lost */
				pm->m = nm;
				pm->cap = cap;
			}
			pm->m[pm->n++] = y * 100 + m;
		}
	}
	for (int p = 0; p < PART__N; p++)
		qsort(w->parts[p].m, w->parts[p].n, sizeof(int), cmp_int);
}

/* yyyy*100+mm of a UTC time in ms, -1 when out of the calendar's range. */
static int ym_of_ms(int64_t t_ms)
{
	time_t s = (time_t)(t_ms / 1000 - (t_ms % 1000 < 0 ? 1 : 0));
	struct tm tm;
	if (!gmtime_r(&s, &tm) || tm.tm_year > 9999 - 1900 || tm.tm_year < 1 - 1900)
		return -1;
	return (tm.tm_year + 1900) * 100 + tm.tm_mon + 1;
}

static int has_partition(const struct odo_pgw *w, int part, int64_t t_ms)
{
	int ym = ym_of_ms(t_ms);
	const struct pgw_months *pm = &w->parts[part];
	return ym >= 0 && pm->n && bsearch(&ym, pm->m, pm->n, sizeof(int), cmp_int) != NULL;
}

/* ---- rows -------------------------------------------------------------------- */

/* The CBOR of record k of the decoded message: its own bytes in the message
 * as received (the decoder's byte span), else re-encoded. */
static int record_cbor(struct odo_pgw *w, const struct item *it, size_t k, const uint8_t **p, size_t *len)
{
	const struct odo_record *r = &w->scratch->recs[k];
	if (r->len && r->off + r->len <= it->len) {
		*p = it->raw + r->off;
		*len = r->len;
		return ODO_OK;
	}
	if (odo_wire_encode_record(r, w->recbuf, sizeof w->recbuf, len) != ODO_OK) {
		*p = (const uint8_t *)"";
		*len = 0;
		return ODO_ERR_TOOBIG;
	}
	*p = w->recbuf;
	return ODO_OK;
}

/* One dead_letters row; epoch/seq/kind < 0 and empty texts are NULL. */
struct dead_row {
	const char *topic, *tdev;
	const uint8_t *raw;
	size_t len;
	int code;
	const char *field, *msg, *reason, *sqlstate;
	long long offset, epoch, seq, kind;
};

static void add_dead_row(struct odo_pgw *w, const struct dead_row *d)
{
	struct odo_pgcols *c = &w->cs[C_DEAD];
	odo_pgcols_text(c, L_TOPIC, d->topic);
	odo_pgcols_text(c, L_TDEV, d->tdev);
	odo_pgcols_bytes(c, L_PAY, ODO_PG_OID_BYTEA, d->raw, d->len);
	odo_pgcols_i64(c, L_CODE, d->code);
	odo_pgcols_text(c, L_NAME, odo_decode_code_name(d->code));
	odo_pgcols_text(c, L_FIELD, d->field);
	if (d->offset >= 0)
		odo_pgcols_i64(c, L_OFF, d->offset);
	else
		odo_pgcols_null(c, L_OFF, ODO_PG_OID_INT8);
	odo_pgcols_text(c, L_MSG, d->msg);
	odo_pgcols_text(c, L_REASON, d->reason);
	long long v[3] = { d->epoch, d->seq, d->kind };
	for (int i = 0; i < 3; i++) {
		if (v[i] >= 0)
			odo_pgcols_i64(c, L_EPOCH + i, v[i]);
		else
			odo_pgcols_null(c, L_EPOCH + i, ODO_PG_OID_INT8);
	}
	if (d->sqlstate && d->sqlstate[0])
		odo_pgcols_text(c, L_STATE, d->sqlstate);
	else
		odo_pgcols_null(c, L_STATE, ODO_PG_OID_TEXT);
	c->rows++;
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
#define NI(i) odo_pgcols_null(c, (i), ODO_PG_OID_INT8)
#define ND(i) odo_pgcols_null(c, (i), ODO_PG_OID_FLOAT8)

static void quarantine(struct odo_pgw *w, const struct item *it, size_t k, const char *table)
{
	const struct odo_record *r = &w->scratch->recs[k];
	struct odo_pgcols *c = &w->cs[C_QUAR];
	char reason[96];
	int ym = ym_of_ms(r->t_ms);
	snprintf(reason, sizeof reason, "%s: no partition for %04d-%02d (outside the window odo-collector maintain keeps)",
		 table, ym / 100, ym % 100);
	const uint8_t *raw;
	size_t len;
	(void)record_cbor(w, it, k, &raw, &len);
	T(Q_DEV, it->tdev); I(Q_EPOCH, it->epoch); I(Q_SEQ, r->seq); I(Q_T, r->t_ms); I(Q_KIND, r->kind);
	T(Q_REASON, reason);
	odo_pgcols_bytes(c, Q_RAW, ODO_PG_OID_BYTEA, raw, len);
	T(Q_TOPIC, it->topic);
	c->rows++;
}

/* The alerts record k of the decoded message raises (docs/alerts.md), into
 * C_ALERTS: every enabled rule it fires, except a second one of the same
 * device and rule within the rule's cooldown in this transaction (the SQL
 * checks the stored alerts). */
static void alerts_for(struct odo_pgw *w, const struct item *it, size_t k)
{
	const struct odo_record *r = &w->scratch->recs[k];
	for (size_t i = 0; i < w->rules.n; i++) {
		const struct odo_alert_rule *ru = &w->rules.r[i];
		double v;
		if (!odo_alert_match(ru, r, it->now_ms, &v))
			continue;
		int dup = 0;
		for (size_t j = 0; j < w->ncand && !dup; j++) {
			const struct pgw_alert_cand *p = &w->cand[j];
			dup = p->unit == w->nunits && p->rule == i && ru->cooldown_s > 0 && strcmp(p->dev, it->tdev) == 0 &&
			      llabs(p->t_ms - r->t_ms) < ru->cooldown_s * 1000;
		}
		if (dup)
			continue;
		if (w->ncand == w->cand_cap) {
			size_t cap = w->cand_cap ? 2 * w->cand_cap : 16;
			struct pgw_alert_cand *nc = realloc(w->cand, cap * sizeof *nc);
			if (!nc) {
				w->cs[C_ALERTS].col[0].b.oom = 1; /* the pipeline fails to build: retried, nothing lost */
				return;
			}
			w->cand = nc;
			w->cand_cap = cap;
		}
		w->cand[w->ncand++] = (struct pgw_alert_cand){ .dev = it->tdev, .rule = i, .t_ms = r->t_ms,
								.unit = w->nunits };
		const struct odo_alert_metric *m = odo_alert_metric_at(ru->metric);
		struct odo_pgcols *c = &w->cs[C_ALERTS];
		uint64_t trip = r->kind == ODO_REC_EVENT ? r->u.event.trip_id : r->kind == ODO_REC_SAMPLE ? r->u.sample.trip_id : 0;
		odo_pgcols_text(c, AL_DEV, it->tdev);
		odo_pgcols_i64(c, AL_EPOCH, (int64_t)it->epoch);
		odo_pgcols_i64(c, AL_SEQ, (int64_t)r->seq);
		odo_pgcols_i64(c, AL_T, r->t_ms);
		odo_pgcols_i64(c, AL_KIND, r->kind);
		if (trip)
			odo_pgcols_i64(c, AL_TRIP, (int64_t)trip);
		else
			odo_pgcols_null(c, AL_TRIP, ODO_PG_OID_INT8);
		odo_pgcols_text(c, AL_RULE, ru->name);
		odo_pgcols_text(c, AL_METRIC, m->name);
		odo_pgcols_text(c, AL_SEV, ru->severity);
		odo_pgcols_dbl(c, AL_VALUE, v);
		odo_pgcols_text(c, AL_OP, odo_alert_op_text(ru->op));
		odo_pgcols_dbl(c, AL_THR, ru->threshold);
		odo_pgcols_i64(c, AL_COOL, ru->cooldown_s);
		odo_pgbuf_reset(&w->details);
		odo_alert_details(r, &w->details);
		if (w->details.oom)
			c->col[0].b.oom = 1;
		odo_pgcols_text(c, AL_DETAILS, w->details.p ? w->details.p : "{}");
		odo_pgcols_i64(c, AL_RECV, it->now_ms);
		c->rows++;
	}
}

/* Add record k of the decoded message to its statement's columns.
 * Returns 1 when it went to quarantine, 0 when to its table. */
/* Every record (and refused record: t_ms, kind < 0) of the group, for SQL_DROPS. */
static void add_arrival(struct odo_pgw *w, const char *dev, uint64_t epoch, uint64_t seq, int64_t t_ms, int kind)
{
	struct odo_pgcols *c = &w->cs[C_ARRIVE];
	odo_pgcols_text(c, A_DEV, dev);
	odo_pgcols_i64(c, A_EPOCH, (int64_t)epoch);
	odo_pgcols_i64(c, A_SEQ, (int64_t)seq);
	if (kind >= 0) {
		odo_pgcols_i64(c, A_T, t_ms);
		odo_pgcols_i64(c, A_KIND, kind);
	} else {
		odo_pgcols_null(c, A_T, ODO_PG_OID_INT8);
		odo_pgcols_null(c, A_KIND, ODO_PG_OID_INT8);
	}
	c->rows++;
}

static int add_record(struct odo_pgw *w, const struct item *it, size_t k)
{
	const struct odo_record *r = &w->scratch->recs[k];
	const char *dev = it->tdev;
	struct odo_pgcols *c;
	add_arrival(w, dev, it->epoch, r->seq, r->t_ms, r->kind);
	switch (r->kind) {
	case ODO_REC_SAMPLE: {
		if (!has_partition(w, PART_SAMPLES, r->t_ms)) {
			quarantine(w, it, k, "samples");
			return 1;
		}
		const struct odo_rec_sample *s = &r->u.sample;
		c = &w->cs[C_SAMPLES];
		T(S_DEV, dev); I(S_EPOCH, it->epoch); I(S_SEQ, r->seq); I(S_T, r->t_ms); I(S_TSRC, r->tsrc);
		I(S_TRIP, s->trip_id); I(S_FIX, s->fix); D(S_LAT, s->lat); D(S_LON, s->lon);
		D(S_SPEED, s->speed_mps); D(S_HEAD, s->heading_deg); D(S_EPH, s->eph_m);
		D(S_ALT, s->alt_m); D(S_RPM, s->rpm); D(S_OBD, s->obd_speed_mps);
		D(S_THR, s->throttle_pct); D(S_COOL, s->coolant_c); D(S_FUEL, s->fuel_pct);
		D(S_AX, s->ax_g); D(S_AY, s->ay_g);
		break;
	}
	case ODO_REC_EVENT: {
		const struct odo_rec_event *e = &r->u.event;
		c = &w->cs[C_EVENTS];
		T(E_DEV, dev); I(E_EPOCH, it->epoch); I(E_SEQ, r->seq); I(E_T, r->t_ms); I(E_TSRC, r->tsrc);
		I(E_TRIP, e->trip_id); T(E_KIND, odo_event_kind_name(e->kind));
		I(E_SRC, e->source); I(E_DUR, e->duration_ms); D(E_PEAK, e->peak_g);
		D(E_MEAN, e->mean_g); D(E_SB, e->speed_before_mps); D(E_SA, e->speed_after_mps);
		D(E_LAT, e->lat); D(E_LON, e->lon); D(E_HEAD, e->heading_deg);
		if (e->grade >= 0)
			I(E_GRADE, e->grade);
		else
			NI(E_GRADE);
		break;
	}
	case ODO_REC_DTC: {
		const struct odo_rec_dtc *d = &r->u.dtc;
		c = &w->cs[C_DTC];
		T(D_DEV, dev); I(D_EPOCH, it->epoch); I(D_SEQ, r->seq); I(D_T, r->t_ms); I(D_ECU, d->ecu);
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
		T(V_DEV, dev); I(V_EPOCH, it->epoch); I(V_SEQ, r->seq); I(V_T, r->t_ms);
		T(V_VIN, r->u.vehicle.vin); I(V_ECU, r->u.vehicle.ecu);
		break;
	case ODO_REC_PHONE:
		c = &w->cs[C_PHONE];
		T(P_DEV, dev); I(P_EPOCH, it->epoch); I(P_SEQ, r->seq); I(P_T, r->t_ms);
		B(P_SCR, r->u.phone.screen_on); I(P_CALL, r->u.phone.call);
		B(P_HND, r->u.phone.handled);
		break;
	case ODO_REC_STATUS: {
		const struct odo_rec_status *s = &r->u.status;
		c = &w->cs[C_STATUS];
		T(T_DEV, dev); I(T_EPOCH, it->epoch); I(T_SEQ, r->seq); I(T_T, r->t_ms); I(T_UP, s->uptime_s);
		I(T_OD, s->outbox_depth); I(T_OA, s->outbox_oldest_age_s); I(T_EV, s->evicted);
		I(T_RC, s->reconnects); I(T_CE, s->can_errors); I(T_GE, s->gps_errors);
		I(T_AE, s->accel_errors); I(T_FIX, s->fix); I(T_CS, s->clock_source);
		if (s->calib_state >= 0)
			I(T_CAL, s->calib_state);
		else
			NI(T_CAL);
		D(T_CALQ, s->calib_confidence); D(T_ROLL, s->roll_deg); D(T_PITCH, s->pitch_deg);
		D(T_YAW, s->yaw_deg); D(T_CALT, s->calib_ready_s); D(T_GLAG, s->gps_lag_s);
		if (s->gyro_state >= 0)
			I(T_GYRO, s->gyro_state);
		else
			NI(T_GYRO);
		break;
	}
	case ODO_REC_TRACK: {
		if (!has_partition(w, PART_TRACKS, r->t_ms)) {
			quarantine(w, it, k, "tracks");
			return 1;
		}
		const struct odo_rec_track *tk = &r->u.track;
		c = &w->cs[C_TRACKS];
		int64_t idx = (int64_t)c->rows;
		I(K_IDX, idx); T(K_DEV, dev); I(K_EPOCH, it->epoch); I(K_SEQ, r->seq); I(K_T, r->t_ms);
		I(K_TSRC, r->tsrc); I(K_TRIP, tk->trip_id); I(K_N, tk->n);
		c->rows++;
		/* the points, absolute: t from the record's t plus the 0.1 s steps */
		c = &w->cs[C_TRACK_PTS];
		int64_t t = r->t_ms;
		for (int i = 0; i < tk->n && i < ODO_WIRE_MAX_TRACK; i++) {
			const struct odo_track_point *p = &tk->pt[i];
			t += (int64_t)p->dt_ds * 100;
			I(KP_IDX, idx); I(KP_K, i); I(KP_TMS, t);
			D(KP_LAT, p->lat_e6 / 1e6); D(KP_LON, p->lon_e6 / 1e6);
			if (p->v_dms >= 0)
				D(KP_SPEED, p->v_dms / 10.0);
			else
				ND(KP_SPEED);
			if (p->eph_m >= 0)
				D(KP_EPH, (double)p->eph_m);
			else
				ND(KP_EPH);
			c->rows++;
		}
		return 0;
	}
	case ODO_REC_CRASH_TRACE: {
		const struct odo_rec_crash_trace *ct = &r->u.crash_trace;
		c = &w->cs[C_CRASH];
		int64_t idx = (int64_t)c->rows;
		I(CT_IDX, idx); T(CT_DEV, dev); I(CT_EPOCH, it->epoch); I(CT_SEQ, r->seq); I(CT_T, r->t_ms);
		I(CT_TSRC, r->tsrc); I(CT_TRIP, ct->trip_id); I(CT_CRASH, ct->crash_ms); I(CT_PART, ct->part);
		I(CT_PARTS, ct->parts); I(CT_HZ, ct->hz); I(CT_FRAME, ct->frame); D(CT_SPEED, ct->speed_mps);
		D(CT_OBD, ct->obd_speed_mps); D(CT_RPM, ct->rpm); I(CT_AIR, ct->airbag); D(CT_LAT, ct->lat);
		D(CT_LON, ct->lon);
		c->rows++;
		c = &w->cs[C_CRASH_PTS];
		for (int i = 0; i < ct->n && i < ODO_WIRE_MAX_TRACE; i++) {
			I(CP_IDX, idx); I(CP_K, i); I(CP_AX, ct->ax[i]); I(CP_AY, ct->ay[i]); I(CP_AZ, ct->az[i]);
			c->rows++;
		}
		return 0;
	}
	case ODO_REC_TRIP_START: {
		const uint8_t *raw;
		size_t len;
		(void)record_cbor(w, it, k, &raw, &len);
		c = &w->cs[C_TSTART];
		T(TS_DEV, dev); I(TS_EPOCH, it->epoch); I(TS_TRIP, r->u.trip_start.trip_id); I(TS_SEQ, r->seq);
		I(TS_T, r->t_ms); D(TS_LAT, r->u.trip_start.lat); D(TS_LON, r->u.trip_start.lon);
		odo_pgcols_bytes(c, TS_RAW, ODO_PG_OID_BYTEA, raw, len);
		T(TS_TOPIC, it->topic);
		break;
	}
	case ODO_REC_TRIP_END: {
		const struct odo_rec_trip_end *e = &r->u.trip_end;
		const uint8_t *raw;
		size_t len;
		(void)record_cbor(w, it, k, &raw, &len);
		c = &w->cs[C_TEND];
		T(TE_DEV, dev); I(TE_EPOCH, it->epoch); I(TE_TRIP, e->trip_id); I(TE_SEQ, r->seq);
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
		/* version 2, each absent (NULL) when not sent */
		if (e->end_reason >= 0)
			I(TE_REASON, e->end_reason);
		else
			NI(TE_REASON);
		if (e->lon_source >= 0)
			I(TE_LSRC, e->lon_source);
		else
			NI(TE_LSRC);
		const int32_t *per_grade[4] = { e->hard_brakes_g, e->rapid_accels_g, e->harsh_corners_g, e->swerves_g };
		for (int f = 0; f < 4; f++)
			for (int g = 0; g < ODO_GRADES; g++) {
				if (per_grade[f][g] >= 0)
					I(TE_HB1 + f * ODO_GRADES + g, per_grade[f][g]);
				else
					NI(TE_HB1 + f * ODO_GRADES + g);
			}
		for (int g = 0; g < ODO_GRADES; g++) {
			D(TE_LO1 + g, e->lon_share[g]);
			D(TE_LA1 + g, e->lat_share[g]);
		}
		D(TE_LOP, e->lon_p95_g); D(TE_LAP, e->lat_p95_g); D(TE_VSD, e->speed_sd_mps);
		I(TE_PH, e->phone_measured); /* -1 absent: NULL in the SQL */
		D(TE_LMT, e->lon_moving_s); D(TE_AMT, e->lat_moving_s);
		odo_pgcols_bytes(c, TE_RAW, ODO_PG_OID_BYTEA, raw, len);
		T(TE_TOPIC, it->topic);
		break;
	}
	default:
		return 0;
	}
	c->rows++;
	alerts_for(w, it, k);
	return 0;
}

#undef T
#undef I
#undef D
#undef B
#undef NI
#undef ND

static const int ncols_of[C__N] = {
	[C_EPOCHS] = EP__N, [C_SAMPLES] = S__N, [C_TRACKS] = K__N,  [C_TRACK_PTS] = KP__N, [C_EVENTS] = E__N,
	[C_DTC] = D__N,     [C_VEH] = V__N,     [C_PHONE] = P__N,   [C_STATUS] = T__N,     [C_CRASH] = CT__N,
	[C_CRASH_PTS] = CP__N, [C_QUAR] = Q__N, [C_TSTART] = TS__N, [C_TEND] = TE__N,     [C_ALERTS] = AL__N,
	[C_BATCH] = B__N,      [C_DEAD] = L__N,
	[C_ARRIVE] = A__N,
};

static void reset_cols(struct odo_pgw *w, int from, int to)
{
	for (int i = from; i <= to; i++)
		odo_pgcols_reset(&w->cs[i], ncols_of[i]);
}

/* The record statements of whatever the column sets hold, in a fixed order. */
static int send_records(struct odo_pgw *w)
{
	static const struct {
		int cs, pts, tag, name;
		const char *sql;
	} stmts[] = {
		{ C_ARRIVE, -1, R_DROPS, 1, SQL_DROPS }, /* first: what the statements below leave out */
		{ C_SAMPLES, -1, R_NONE, 0, SQL_SAMPLES },
		{ C_TRACKS, C_TRACK_PTS, R_NONE, 0, SQL_TRACKS },
		{ C_EVENTS, -1, R_NONE, 0, SQL_EVENTS },
		{ C_DTC, -1, R_NONE, 0, SQL_DTC },
		{ C_VEH, -1, R_NONE, 0, SQL_VEHICLE },
		{ C_PHONE, -1, R_NONE, 0, SQL_PHONE },
		{ C_STATUS, -1, R_NONE, 0, SQL_STATUS },
		{ C_CRASH, C_CRASH_PTS, R_NONE, 0, SQL_CRASH_TRACES },
		{ C_QUAR, -1, R_QUAR, 1, SQL_QUARANTINE },
		{ C_TSTART, -1, R_CONFLICT, 1, SQL_TRIP_START },
		{ C_TEND, -1, R_CONFLICT, 1, SQL_TRIP_END },
	};
	int rc = ODO_OK;
	for (size_t i = 0; i < ODO_ARRAY_LEN(stmts) && !rc; i++)
		if (w->cs[stmts[i].cs].rows)
			rc = send_cols(w, stmts[i].tag, stmts[i].sql, &w->cs[stmts[i].cs],
				       stmts[i].pts >= 0 ? &w->cs[stmts[i].pts] : NULL, stmts[i].name);
	/* the alerts these records raise: in their transaction */
	if (!rc && w->cs[C_ALERTS].rows)
		rc = send_cols_x(w, R_ALERTS, SQL_ALERTS, &w->cs[C_ALERTS], NULL, 1,
				 w->o.alert_targets ? w->o.alert_targets : "{}");
	return rc;
}

/* The devices' row locks (and rows) for one transaction: X_DEVICES holds
 * a text[] literal of the sorted, distinct ids. */
static int send_locks(struct odo_pgw *w)
{
	const char *dv[1] = { w->extra[X_DEVICES].p };
	/* first: a transaction that may mark (driver, month) pairs (aggregate.h) */
	int rc = pgw__send_q(w, R_NONE, odo_agg_marks_lock_sql(0), 0, NULL, NULL, NULL);
	rc = rc ? rc : pgw__send_q(w, R_NONE, SQL_DEVICES, 1, dv, NULL, NULL);
	return rc ? rc : pgw__send_q(w, R_NONE, SQL_LOCK, 1, dv, NULL, NULL);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* X_DEVICES := the devices of the batches in w->fl ({} when none); returns their count. */
static size_t device_list(struct odo_pgw *w)
{
	const char *devs[64], **d = devs;
	size_t nd = 0;
	if (w->fl_n > ODO_ARRAY_LEN(devs) && !(d = malloc(w->fl_n * sizeof *d)))
		return 0;
	for (const struct item *it = w->fl; it; it = it->next)
		if (it->kind == IT_BATCH)
			d[nd++] = it->tdev;
	qsort(d, nd, sizeof *d, cmp_str);
	struct odo_pgbuf *dl = &w->extra[X_DEVICES];
	odo_pgbuf_reset(dl);
	odo_pgbuf_put(dl, "{", 1);
	size_t u = 0;
	for (size_t i = 0; i < nd; i++) {
		if (i && strcmp(d[i], d[i - 1]) == 0)
			continue;
		odo_pgbuf_printf(dl, "%s\"%s\"", u++ ? "," : "", d[i]); /* ids are [A-Za-z0-9._-] */
	}
	odo_pgbuf_put(dl, "}", 1);
	if (d != devs)
		free(d);
	return dl->oom ? 0 : u;
}

/* Take the next group off the queue into w->fl: the head alone when it is
 * past the group stage, else the head and the group-stage messages after
 * it up to max_group_rows records. */
static void take_group(struct odo_pgw *w)
{
	size_t rows = 0;
	struct item **tailp = &w->fl;
	w->fl = NULL;
	w->fl_n = 0;
	while (w->head) {
		struct item *it = w->head;
		if (w->fl_n && (it->stage != ST_GROUP || w->fl->stage != ST_GROUP || rows >= w->o.max_group_rows))
			break;
		w->head = it->next;
		if (!w->head)
			w->tail = NULL;
		it->next = NULL;
		*tailp = it;
		tailp = &it->next;
		size_t r = it->kind == IT_BATCH ? it->n + it->nbad : 1;
		rows += r;
		w->fl_n++;
		w->nq--;
		w->qrows -= r;
	}
}

/* A message that no longer decodes (cannot happen: it decoded on receipt
 * with the same window) becomes a dead letter rather than a wedge. */
static void undecodable(struct odo_pgw *w, struct item *it)
{
	struct odo_wire_error err;
	int rc = odo_decode_again(it->raw, it->len, it->now_ms, w->scratch, &err);
	ODO_LOG(ERROR, "db", "message on %s no longer decodes (%s at %s: %s); dead-lettered", it->topic,
		odo_decode_code_name(rc), err.field, err.msg);
	it->kind = IT_DEAD;
	it->err = err;
	it->reason = "decode";
}

static int send_isolate(struct odo_pgw *w)
{
	struct item *it = w->fl;
	w->pk = PK_ISOLATE;
	device_list(w);
	int rc = ODO_OK;
	w->ncand = 0;
	for (size_t k = 0; k < w->scratch->n && !rc; k++) {
		reset_cols(w, C_SAMPLES, C_ALERTS);
		reset_cols(w, C_ARRIVE, C_ARRIVE);
		int q = add_record(w, it, k);
		rc = send_locks(w);
		rc = rc ? rc : send_records(w);
		rc = rc ? rc : pgw__sync(w, k);
		if (!rc)
			w->units[w->nunits - 1].quar = q;
	}
	return rc;
}

void pgw__note_time(struct odo_pgw *w, int64_t t_ms)
{
	if (!w->o.hooks || w->lag_n == (size_t)-1)
		return;
	if (w->lag_n == w->lag_cap) {
		size_t cap = w->lag_cap ? 2 * w->lag_cap : 1024;
		int64_t *t = realloc(w->lag_t, cap * sizeof *t);
		if (!t) {
			w->lag_n = (size_t)-1; /* this group's times are not reported */
			return;
		}
		w->lag_t = t;
		w->lag_cap = cap;
	}
	w->lag_t[w->lag_n++] = t_ms;
}

/* A group (or a solo message, or an isolated message's settlement). */
static int send_batches(struct odo_pgw *w)
{
	w->pk = PK_GROUP;
	reset_cols(w, 0, C__N - 1);
	w->ncand = 0;
	w->g_records = 0;
	w->lag_n = 0;
	size_t nbatches = 0;
	for (struct item *it = w->fl; it; it = it->next) {
		if (it->kind == IT_BATCH && it->stage != ST_SETTLE && pgw__decode(w, it) != ODO_OK)
			undecodable(w, it);
		if (it->kind == IT_DEAD) {
			struct dead_row d = { .topic = it->topic, .tdev = it->tdev, .raw = it->raw, .len = it->len,
					      .code = it->err.code, .field = it->err.field, .msg = it->err.msg,
					      .reason = it->reason, .sqlstate = it->sqlstate,
					      .offset = (long long)it->err.offset, .epoch = -1, .seq = -1, .kind = -1 };
			add_dead_row(w, &d);
			continue;
		}
		nbatches++;
		struct odo_pgcols *c = &w->cs[C_EPOCHS];
		odo_pgcols_text(c, EP_DEV, it->tdev);
		odo_pgcols_i64(c, EP_EPOCH, (int64_t)it->epoch);
		c->rows++;
		c = &w->cs[C_BATCH];
		odo_pgcols_text(c, B_DEV, it->tdev);
		odo_pgcols_i64(c, B_EPOCH, (int64_t)it->epoch);
		odo_pgcols_i64(c, B_LO, (int64_t)it->seq);
		odo_pgcols_i64(c, B_HI, (int64_t)it->last_seq);
		odo_pgcols_i64(c, B_N, (int64_t)(it->n + it->nbad));
		odo_pgcols_i64(c, B_FLOOR, (int64_t)it->floor);
		c->rows++;
		/* a batch twice in one group adds its rows once */
		int dup = 0;
		for (const struct item *p = w->fl; p != it && !dup; p = p->next)
			dup = p->kind == IT_BATCH && p->seq == it->seq && p->last_seq == it->last_seq &&
			      p->epoch == it->epoch && p->len == it->len && strcmp(p->tdev, it->tdev) == 0 &&
			      memcmp(p->raw, it->raw, it->len) == 0;
		if (dup)
			continue;
		if (it->stage == ST_SETTLE) {
			if (it->nfail && pgw__decode(w, it) != ODO_OK)
				continue; /* cannot happen; the dead letters then carry no record bytes */
			for (size_t f = 0; f < it->nfail; f++) {
				const struct pgw_fail *pf = &it->fail[f];
				const struct odo_record *r = &w->scratch->recs[pf->index];
				const uint8_t *raw;
				size_t len;
				(void)record_cbor(w, it, pf->index, &raw, &len);
				char field[32];
				snprintf(field, sizeof field, "recs[%zu]", pf->index);
				struct dead_row d = { .topic = it->topic, .tdev = it->tdev, .raw = raw, .len = len,
						      .code = ODO_ERR_DB, .field = field, .msg = pf->msg,
						      .reason = "database", .sqlstate = pf->state, .offset = -1,
						      .epoch = (long long)it->epoch, .seq = (long long)r->seq,
						      .kind = r->kind };
				add_dead_row(w, &d);
			}
		} else {
			for (size_t k = 0; k < w->scratch->n; k++)
				if (!add_record(w, it, k)) {
					w->g_records++;
					pgw__note_time(w, w->scratch->recs[k].t_ms);
				}
		}
		for (size_t b = 0; b < it->nbad; b++) {
			const struct odo_wire_bad *pb = &it->bad[b];
			add_arrival(w, it->tdev, it->epoch, pb->seq, 0, -1);
			struct dead_row d = { .topic = it->topic, .tdev = it->tdev, .raw = it->raw + pb->off, .len = pb->len,
					      .code = pb->err.code, .field = pb->err.field, .msg = pb->err.msg,
					      .reason = "record", .offset = (long long)pb->err.offset,
					      .epoch = (long long)it->epoch, .seq = (long long)pb->seq, .kind = -1 };
			add_dead_row(w, &d);
		}
	}
	int rc = ODO_OK;
	if (nbatches) {
		device_list(w);
		rc = send_locks(w);
		rc = rc ? rc : send_cols(w, R_NONE, SQL_EPOCHS, &w->cs[C_EPOCHS], NULL, 0);
	}
	rc = rc ? rc : send_records(w);
	if (nbatches) {
		rc = rc ? rc : send_cols(w, R_NONE, SQL_BATCHES, &w->cs[C_BATCH], NULL, 1);
		rc = rc ? rc : send_cols(w, R_LOST, SQL_LOST, &w->cs[C_BATCH], NULL, 1);
		rc = rc ? rc : send_cols(w, R_ACK, SQL_ACK, &w->cs[C_EPOCHS], NULL, 0);
	}
	if (!rc && w->cs[C_DEAD].rows)
		rc = send_cols(w, R_DEAD, SQL_DEAD, &w->cs[C_DEAD], NULL, 1);
	return rc ? rc : pgw__sync(w, 0);
}

int pgw__send_group(struct odo_pgw *w)
{
	take_group(w);
	if (w->fl_n == 1 && w->fl->kind == IT_BATCH && w->fl->stage == ST_ISOLATE) {
		if (pgw__decode(w, w->fl) != ODO_OK)
			undecodable(w, w->fl);
		else if (w->scratch->n)
			return send_isolate(w);
		w->fl->stage = ST_SETTLE; /* nothing left to isolate */
	}
	return send_batches(w);
}
