/* odo-collector operator commands: the database side (admin_int.h). Each
 * command is one transaction; every value is a parameter, and column names
 * come from the constant field tables (fields.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_int.h"
#include "aggregate/aggregate.h"
#include "pg/result.h"

/* a timestamptz as ISO 8601 in UTC */
#define ISO(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* ---- plumbing ----------------------------------------------------------- */

static int db_fail(PGconn *c, PGresult *r, char *why)
{
	const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	char msg[300];
	snprintf(msg, sizeof msg, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
	msg[strcspn(msg, "\n")] = '\0';
	if (st && strcmp(st, "42501") == 0)
		snprintf(why, ADMIN_WHY_MAX,
			 "database: %s (SQLSTATE 42501: the role this command logs in as lacks the privilege; run"
			 " `odo-collector migrate` as the owner to apply the privileges, docs/security.md)", msg);
	else if (st && (strcmp(st, "42P01") == 0 || strcmp(st, "42703") == 0))
		snprintf(why, ADMIN_WHY_MAX, "database: %s (SQLSTATE %s: run `odo-collector migrate` first)", msg, st);
	else
		snprintf(why, ADMIN_WHY_MAX, "database: %s%s%s%s", msg, st ? " (SQLSTATE " : "", st ? st : "",
			 st ? ")" : "");
	PQclear(r);
	return ODO_ERR_DB;
}

/* Run a parameterised statement; on failure *why is set and NULL returned
 * (the result already cleared). */
static PGresult *ex(PGconn *c, const char *sql, int n, const char *const *v, char *why)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, v, NULL, NULL, 0);
	if (odo_pg_ok(r))
		return r;
	(void)db_fail(c, r, why);
	return NULL;
}

static int simple(PGconn *c, const char *sql, char *why)
{
	PGresult *r = ex(c, sql, 0, NULL, why);
	if (!r)
		return ODO_ERR_DB;
	PQclear(r);
	return ODO_OK;
}

/* Every registry transaction may mark (driver, month) pairs: the marks'
 * lock, shared, first (aggregate.h). */
static int begin(PGconn *c, char *why)
{
	int rc = simple(c, "BEGIN", why);
	return rc ? rc : simple(c, odo_agg_marks_lock_sql(0), why);
}

/* Roll back (after a refusal or an error) and pass rc through. */
static int rollback(PGconn *c, int rc)
{
	PQclear(PQexec(c, "ROLLBACK"));
	return rc;
}

static int commit(PGconn *c, char *why)
{
	return simple(c, "COMMIT", why);
}

static const char *val(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

/* "YYYY-MM-DD HH:MM:SS.ffffff+00" -> "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" */
static void iso(const char *canon, char out[ADMIN_TIME_MAX])
{
	snprintf(out, ADMIN_TIME_MAX, "%.10sT%.8s", canon, canon + 11);
	if (strncmp(canon + 19, ".000000", 7) != 0)
		snprintf(out + 19, ADMIN_TIME_MAX - 19, "%.7s", canon + 19);
	strcat(out, "Z");
}

static int strs_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* ---- drivers and vehicles ----------------------------------------------- */

static const char *cast(enum admin_ftype t)
{
	switch (t) {
	case ADMIN_F_INT:
	case ADMIN_F_YEAR: return "::integer";
	case ADMIN_F_DATE: return "::date";
	default: return "::text";
	}
}

/* drivers: nobody holds a licence before the lowest age the schema allows */
static int driver_consistent(PGconn *c, const char *id, char *why)
{
	const char *v[1] = { id };
	PGresult *r = ex(c, "SELECT driver_age, years_licensed FROM drivers WHERE driver_id = $1", 1, v, why);
	if (!r)
		return ODO_ERR_DB;
	int rc = ODO_OK;
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) && !PQgetisnull(r, 0, 1)) {
		long age = atol(PQgetvalue(r, 0, 0)), yl = atol(PQgetvalue(r, 0, 1));
		if (yl > age - ADMIN_MIN_LICENCE_AGE) {
			snprintf(why, ADMIN_WHY_MAX,
				 "driver %s: --years-licensed %ld is more than --age %ld minus %d (nobody holds a licence"
				 " before %d); nothing changed", id, yl, age, ADMIN_MIN_LICENCE_AGE, ADMIN_MIN_LICENCE_AGE);
			rc = ODO_ERR_INVAL;
		}
	}
	PQclear(r);
	return rc;
}

int admin__row_put(PGconn *c, const struct admin_table *t, const char *id, int create,
		   const struct admin_value *v, size_t n, FILE *out, char *why)
{
	char sql[2048];
	const char *p[ADMIN_MAX_FIELDS + 1];
	size_t len;
	if (n > ADMIN_MAX_FIELDS) {
		snprintf(why, ADMIN_WHY_MAX, "too many fields");
		return ODO_ERR_INVAL;
	}
	p[0] = id;
	if (create) {
		len = (size_t)snprintf(sql, sizeof sql, "INSERT INTO %s (%s", t->table, t->key);
		for (size_t i = 0; i < n; i++)
			len += (size_t)snprintf(sql + len, sizeof sql - len, ", %s", v[i].f->col);
		len += (size_t)snprintf(sql + len, sizeof sql - len, ") VALUES ($1");
		for (size_t i = 0; i < n; i++)
			len += (size_t)snprintf(sql + len, sizeof sql - len, ", $%zu%s", i + 2, cast(v[i].f->type));
		snprintf(sql + len, sizeof sql - len, ") ON CONFLICT (%s) DO NOTHING RETURNING %s", t->key, t->key);
	} else {
		len = (size_t)snprintf(sql, sizeof sql, "UPDATE %s SET ", t->table);
		for (size_t i = 0; i < n; i++)
			len += (size_t)snprintf(sql + len, sizeof sql - len, "%s%s = $%zu%s", i ? ", " : "", v[i].f->col,
						i + 2, cast(v[i].f->type));
		if (t->has_updated_at)
			len += (size_t)snprintf(sql + len, sizeof sql - len, ", updated_at = now()");
		snprintf(sql + len, sizeof sql - len, " WHERE %s = $1 RETURNING %s", t->key, t->key);
	}
	for (size_t i = 0; i < n; i++)
		p[i + 1] = v[i].value;
	int rc = begin(c, why);
	if (rc)
		return rc;
	PGresult *r = ex(c, sql, (int)n + 1, p, why);
	if (!r)
		return rollback(c, ODO_ERR_DB);
	int rows = PQntuples(r);
	PQclear(r);
	if (rows == 0) {
		if (create)
			snprintf(why, ADMIN_WHY_MAX, "%s %s exists already; change it with `odo-collector %s set %s --FIELD"
				 " VALUE`", t->what, id, t->what, id);
		else
			snprintf(why, ADMIN_WHY_MAX, "no %s %s; add it with `odo-collector %s add %s`", t->what, id, t->what,
				 id);
		return rollback(c, ODO_ERR_NOTFOUND);
	}
	if (t == &admin__drivers && (rc = driver_consistent(c, id, why)))
		return rollback(c, rc);
	if ((rc = commit(c, why)))
		return rc;
	fprintf(out, "%s %s %s", t->what, id, create ? "added" : "changed:");
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s %s = %s", create ? (i ? "," : ":") : (i ? "," : ""), v[i].f->col,
			v[i].value ? v[i].value : "NULL");
	fputc('\n', out);
	return ODO_OK;
}

/* ---- devices ------------------------------------------------------------ */

int admin__device_add(PGconn *c, const char *id, FILE *out, char *why)
{
	const char *v[1] = { id };
	PGresult *r = ex(c, "INSERT INTO devices (device_id) VALUES ($1) ON CONFLICT (device_id) DO NOTHING"
			    " RETURNING device_id", 1, v, why);
	if (!r)
		return ODO_ERR_DB;
	int added = PQntuples(r) == 1;
	PQclear(r);
	if (added)
		fprintf(out, "device %s added; assign it with `odo-collector device assign %s --driver ID"
			" [--vehicle ID] --from TIME`\n", id, id);
	else
		fprintf(out, "device %s is registered already (nothing changed)\n", id);
	return ODO_OK;
}

/* Lock the device's row, as the writer does, so that no batch of it is
 * stored half under the old windows and half under the new ones. */
static int lock_device(PGconn *c, const char *device, char *why)
{
	const char *v[1] = { device };
	PGresult *r = ex(c, "SELECT 1 FROM devices WHERE device_id = $1 FOR UPDATE", 1, v, why);
	if (!r)
		return ODO_ERR_DB;
	int found = PQntuples(r) == 1;
	PQclear(r);
	if (!found) {
		snprintf(why, ADMIN_WHY_MAX, "no device %s; register it with `odo-collector device add %s`", device, device);
		return ODO_ERR_NOTFOUND;
	}
	return ODO_OK;
}

static int exists(PGconn *c, const struct admin_table *t, const char *id, char *why)
{
	char sql[128];
	snprintf(sql, sizeof sql, "SELECT 1 FROM %s WHERE %s = $1", t->table, t->key);
	const char *v[1] = { id };
	PGresult *r = ex(c, sql, 1, v, why);
	if (!r)
		return ODO_ERR_DB;
	int found = PQntuples(r) == 1;
	PQclear(r);
	if (!found) {
		snprintf(why, ADMIN_WHY_MAX, "no %s %s; add it with `odo-collector %s add %s`", t->what, id, t->what, id);
		return ODO_ERR_NOTFOUND;
	}
	return ODO_OK;
}

/* Re-attribution: the stored trips of `device` that start at or after `from`
 * and belong to driver `old` (NULL: to none) now belong to `neu` (NULL: to
 * none), as the changed windows say. Both drivers' months are marked for the
 * feature refresh, and a month of `old` left without a finished trip loses
 * its feature rows (the aggregation only writes months that have trips).
 * *n = trips moved, months = their months ("YYYY-MM ..."). */
static int reattribute(PGconn *c, const char *device, const char *from, const char *old, const char *neu,
		       long long *n, char *months, size_t msz, char *why)
{
	const char *v[4] = { device, from, old, neu };
	PGresult *r = ex(c,
		"WITH u AS (UPDATE trips SET driver_id = $4 WHERE device_id = $1 AND start_time >= $2::timestamptz"
		"   AND driver_id IS NOT DISTINCT FROM $3 RETURNING start_time, end_time),"
		" m AS (SELECT DISTINCT to_char(start_time AT TIME ZONE 'UTC', 'YYYY-MM') AS month FROM u"
		"   WHERE end_time IS NOT NULL),"
		" d AS (INSERT INTO monthly_features_dirty (driver_id, month) SELECT x.drv, m.month"
		"   FROM m, (VALUES ($3::text), ($4::text)) x (drv) WHERE x.drv IS NOT NULL ON CONFLICT DO NOTHING)"
		" SELECT (SELECT count(*) FROM u), (SELECT coalesce(string_agg(month, ' ' ORDER BY month), '') FROM m)",
		4, v, why);
	if (!r)
		return ODO_ERR_DB;
	*n = atoll(PQgetvalue(r, 0, 0));
	snprintf(months, msz, "%s", PQgetvalue(r, 0, 1));
	PQclear(r);
	if (!old || !months[0])
		return ODO_OK;
	/* (a statement of its own: it must see the update above) */
	static const char *const emptied[] = { "monthly_features", "monthly_behaviour" };
	for (size_t i = 0; i < ODO_ARRAY_LEN(emptied); i++) {
		char sql[512];
		snprintf(sql, sizeof sql,
			 "DELETE FROM %s f WHERE f.driver_id = $1 AND f.month = ANY (string_to_array($2, ' '))"
			 " AND NOT EXISTS (SELECT 1 FROM trips t WHERE t.driver_id = $1 AND t.end_time IS NOT NULL"
			 " AND to_char(t.start_time AT TIME ZONE 'UTC', 'YYYY-MM') = f.month)", emptied[i]);
		const char *w[2] = { old, months };
		if (!(r = ex(c, sql, 2, w, why)))
			return ODO_ERR_DB;
		PQclear(r);
	}
	return ODO_OK;
}

static void report_moved(FILE *out, long long n, const char *old, const char *neu, const char *months)
{
	if (n > 0)
		fprintf(out, "%lld stored trip(s) from then on moved from %s to %s; months marked for the feature refresh:"
			" %s\n", n, old ? old : "no driver", neu ? neu : "no driver", months[0] ? months : "-");
}

int admin__device_assign(PGconn *c, const char *device, const char *driver, const char *vehicle, const char *from,
			 FILE *out, char *why)
{
	char tf[ADMIN_TIME_MAX];
	iso(from, tf);
	int rc = begin(c, why);
	if (rc)
		return rc;
	if ((rc = lock_device(c, device, why)) || (driver && (rc = exists(c, &admin__drivers, driver, why))) ||
	    (vehicle && (rc = exists(c, &admin__vehicles, vehicle, why))))
		return rollback(c, rc);
	/* every window still open at `from` or starting after it */
	const char *v[4] = { device, from, NULL, NULL };
	PGresult *r = ex(c, "SELECT id, driver_id, vehicle_id, " ISO("valid_from") ", valid_to IS NULL, "
			    ISO("valid_to") ", valid_from < $2::timestamptz FROM device_assignments"
			    " WHERE device_id = $1 AND (valid_to IS NULL OR valid_to > $2::timestamptz)"
			    " ORDER BY valid_from", 2, v, why);
	if (!r)
		return rollback(c, ODO_ERR_DB);
	int handover = -1;
	for (int i = 0; i < PQntuples(r) && !rc; i++) {
		int open = PQgetvalue(r, i, 4)[0] == 't', before = PQgetvalue(r, i, 6)[0] == 't';
		if (open && before && handover < 0) {
			handover = i;
			continue;
		}
		snprintf(why, ADMIN_WHY_MAX,
			 "device %s from %s overlaps its window #%s (driver %s, vehicle %s, from %s%s%s): the windows"
			 " of one device never overlap; %s", device, tf, PQgetvalue(r, i, 0), or_dash(val(r, i, 1)),
			 or_dash(val(r, i, 2)), PQgetvalue(r, i, 3), open ? ", open" : " to ", open ? "" : PQgetvalue(r, i, 5),
			 open ? "choose a --from after its start (the open window then ends there), or end it with"
				" `odo-collector device unassign`"
			      : "choose a --from at or after its end");
		rc = ODO_ERR_RANGE;
	}
	if (rc) {
		PQclear(r);
		return rollback(c, rc);
	}
	char old_id[24] = "", old_drv[ADMIN_ID_MAX * 4 + 1] = "", old_veh[ADMIN_ID_MAX * 4 + 1] = "";
	int had_drv = 0, had_veh = 0;
	if (handover >= 0) {
		snprintf(old_id, sizeof old_id, "%s", PQgetvalue(r, handover, 0));
		had_drv = !PQgetisnull(r, handover, 1), had_veh = !PQgetisnull(r, handover, 2);
		snprintf(old_drv, sizeof old_drv, "%s", PQgetvalue(r, handover, 1));
		snprintf(old_veh, sizeof old_veh, "%s", PQgetvalue(r, handover, 2));
		if (strs_eq(had_drv ? old_drv : NULL, driver) && strs_eq(had_veh ? old_veh : NULL, vehicle)) {
			fprintf(out, "device %s is assigned to driver %s, vehicle %s since %s already (window #%s); nothing"
				" changed\n", device, or_dash(driver), or_dash(vehicle), PQgetvalue(r, handover, 3), old_id);
			PQclear(r);
			return rollback(c, ODO_OK);
		}
	}
	PQclear(r);
	if (handover >= 0) {
		v[0] = old_id, v[1] = from;
		if (!(r = ex(c, "UPDATE device_assignments SET valid_to = $2::timestamptz WHERE id = $1::bigint", 2, v, why)))
			return rollback(c, ODO_ERR_DB);
		PQclear(r);
	}
	v[0] = device, v[1] = vehicle, v[2] = driver, v[3] = from;
	if (!(r = ex(c, "INSERT INTO device_assignments (device_id, vehicle_id, driver_id, valid_from)"
			" VALUES ($1, $2, $3, $4::timestamptz) RETURNING id", 4, v, why)))
		return rollback(c, ODO_ERR_DB);
	char new_id[24];
	snprintf(new_id, sizeof new_id, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	/* The stored trips from `from` on follow the windows: those that had
	 * no driver (a device registered after its first drives) and, on a
	 * handover, the old driver's. */
	long long moved = 0, moved_old = 0;
	char months[256] = "", months_old[256] = "";
	if (driver && (rc = reattribute(c, device, from, NULL, driver, &moved, months, sizeof months, why)))
		return rollback(c, rc);
	if (handover >= 0 && had_drv && !strs_eq(old_drv, driver) &&
	    (rc = reattribute(c, device, from, old_drv, driver, &moved_old, months_old, sizeof months_old, why)))
		return rollback(c, rc);
	if ((rc = commit(c, why)))
		return rc;
	fprintf(out, "device %s assigned to driver %s, vehicle %s from %s (window #%s, open)\n", device, or_dash(driver),
		or_dash(vehicle), tf, new_id);
	if (handover >= 0)
		fprintf(out, "window #%s (driver %s, vehicle %s) ended at %s\n", old_id, had_drv ? old_drv : "-",
			had_veh ? old_veh : "-", tf);
	report_moved(out, moved, NULL, driver, months);
	report_moved(out, moved_old, old_drv, driver, months_old);
	return ODO_OK;
}

int admin__device_unassign(PGconn *c, const char *device, const char *at, FILE *out, char *why)
{
	char ta[ADMIN_TIME_MAX];
	iso(at, ta);
	int rc = begin(c, why);
	if (rc)
		return rc;
	if ((rc = lock_device(c, device, why)))
		return rollback(c, rc);
	const char *v[2] = { device, at };
	PGresult *r = ex(c, "SELECT id, driver_id, vehicle_id, " ISO("valid_from") ", valid_from < $2::timestamptz"
			    " FROM device_assignments WHERE device_id = $1 AND valid_to IS NULL ORDER BY valid_from",
			 2, v, why);
	if (!r)
		return rollback(c, ODO_ERR_DB);
	if (PQntuples(r) != 1) {
		if (PQntuples(r) == 0)
			snprintf(why, ADMIN_WHY_MAX, "device %s has no open assignment: nothing to end", device);
		else
			snprintf(why, ADMIN_WHY_MAX,
				 "device %s has %d open assignments (written outside these commands?): end all but one"
				 " by hand first", device, PQntuples(r));
		PQclear(r);
		return rollback(c, ODO_ERR_NOTFOUND);
	}
	char id[24], drv[ADMIN_ID_MAX * 4 + 1], veh[ADMIN_ID_MAX * 4 + 1], from[ADMIN_TIME_MAX];
	int has_drv = !PQgetisnull(r, 0, 1);
	snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
	snprintf(drv, sizeof drv, "%s", or_dash(val(r, 0, 1)));
	snprintf(veh, sizeof veh, "%s", or_dash(val(r, 0, 2)));
	snprintf(from, sizeof from, "%s", PQgetvalue(r, 0, 3));
	int after = PQgetvalue(r, 0, 4)[0] == 't';
	PQclear(r);
	if (!after) {
		snprintf(why, ADMIN_WHY_MAX, "--at %s is not after the start of device %s's open window #%s (%s)", ta,
			 device, id, from);
		return rollback(c, ODO_ERR_RANGE);
	}
	long long moved = 0;
	char months[256] = "";
	if (has_drv && (rc = reattribute(c, device, at, drv, NULL, &moved, months, sizeof months, why)))
		return rollback(c, rc);
	v[0] = id, v[1] = at;
	if (!(r = ex(c, "UPDATE device_assignments SET valid_to = $2::timestamptz WHERE id = $1::bigint", 2, v, why)))
		return rollback(c, ODO_ERR_DB);
	PQclear(r);
	if ((rc = commit(c, why)))
		return rc;
	fprintf(out, "device %s: window #%s (driver %s, vehicle %s, from %s) ended at %s; its records from then on"
		" belong to no driver until the next `device assign`\n", device, id, drv, veh, from, ta);
	report_moved(out, moved, drv, NULL, months);
	return ODO_OK;
}

/* ---- device list -------------------------------------------------------- */

#define LIST_COLS 9

/* One cell of the list: "-" for NULL; a device that never sent: "never". */
static const char *cell(const PGresult *r, int row, int col)
{
	if (col == 3 && PQgetisnull(r, row, 1))
		return "never";
	return or_dash(val(r, row, col));
}

int admin__device_list(PGconn *c, const char *const *ids, size_t n, int tsv, FILE *out, char *why)
{
	/* ids are checked device ids: no comma in them */
	char csv[4096] = "";
	size_t len = 0;
	for (size_t i = 0; i < n && len < sizeof csv; i++)
		len += (size_t)snprintf(csv + len, sizeof csv - len, "%s%s", i ? "," : "", ids[i]);
	if (len >= sizeof csv) {
		snprintf(why, ADMIN_WHY_MAX, "too many device ids");
		return ODO_ERR_INVAL;
	}
	const char *v[1] = { n ? csv : NULL };
	PGresult *r = ex(c,
		"SELECT d.device_id, lpad(to_hex(e.epoch), 16, '0'), e.acked, " ISO("e.last_seen") ","
		" s.outbox_depth, s.outbox_oldest_age_s, " ISO("s.t") ", a.driver_id, a.vehicle_id"
		" FROM devices d"
		" LEFT JOIN device_epochs e ON e.device_id = d.device_id"
		/* the latest status record of that epoch: seq grows with time */
		" LEFT JOIN LATERAL (SELECT t, outbox_depth, outbox_oldest_age_s FROM device_status s"
		"   WHERE s.device_id = d.device_id AND s.epoch = e.epoch ORDER BY s.seq DESC LIMIT 1) s ON true"
		" LEFT JOIN LATERAL (SELECT driver_id, vehicle_id FROM device_assignments a"
		"   WHERE a.device_id = d.device_id AND a.valid_from <= now()"
		"   AND (a.valid_to IS NULL OR a.valid_to > now()) ORDER BY a.valid_from DESC LIMIT 1) a ON true"
		" WHERE $1::text IS NULL OR d.device_id = ANY (string_to_array($1, ','))"
		" ORDER BY d.device_id, e.last_seen DESC NULLS LAST",
		1, v, why);
	if (!r)
		return ODO_ERR_DB;
	static const char *const head[LIST_COLS] = { "DEVICE",   "EPOCH",     "ACKED",  "LAST_SEEN", "BACKLOG",
						     "OLDEST_S", "STATUS_AT", "DRIVER", "VEHICLE" };
	int rows = PQntuples(r), w[LIST_COLS];
	for (int k = 0; k < LIST_COLS; k++)
		w[k] = (int)strlen(head[k]);
	for (int i = 0; i < rows; i++)
		for (int k = 0; k < LIST_COLS; k++) {
			int l = (int)strlen(cell(r, i, k));
			if (l > w[k])
				w[k] = l;
		}
	for (int k = 0; k < LIST_COLS; k++)
		fprintf(out, "%-*s%s", tsv || k == LIST_COLS - 1 ? 0 : w[k], head[k],
			k == LIST_COLS - 1 ? "\n" : tsv ? "\t" : "  ");
	for (int i = 0; i < rows; i++)
		for (int k = 0; k < LIST_COLS; k++)
			fprintf(out, "%-*s%s", tsv || k == LIST_COLS - 1 ? 0 : w[k], cell(r, i, k),
				k == LIST_COLS - 1 ? "\n" : tsv ? "\t" : "  ");
	size_t devices = 0;
	for (int i = 0; i < rows; i++)
		devices += i == 0 || strcmp(PQgetvalue(r, i, 0), PQgetvalue(r, i - 1, 0)) != 0;
	PQclear(r);
	if (n && devices < n) {
		snprintf(why, ADMIN_WHY_MAX, "%zu of the %zu device(s) asked for are not registered", n - devices, n);
		return ODO_ERR_NOTFOUND;
	}
	return ODO_OK;
}

/* ---- consent (migration 004's odo_consent_set) ---------------------------- */

int admin__consent_set(PGconn *c, const char *driver, int granted, const char *by, FILE *out, char *why)
{
	const char *v[3] = { driver, granted ? "true" : "false", by };
	PGresult *r = PQexecParams(c, "SELECT odo_consent_set($1, $2::boolean, $3)", 3, NULL, v, NULL, NULL, 0);
	if (!odo_pg_ok(r)) {
		const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		if (st && strcmp(st, "42883") == 0) {
			PQclear(r);
			snprintf(why, ADMIN_WHY_MAX, "consent needs the schema of migration 004; run `odo-collector migrate`");
			return ODO_ERR_DB;
		}
		return db_fail(c, r, why);
	}
	int known = PQntuples(r) == 1 && !PQgetisnull(r, 0, 0);
	PQclear(r);
	if (!known) {
		snprintf(why, ADMIN_WHY_MAX, "no driver %s; add it with `odo-collector driver add %s`", driver, driver);
		return ODO_ERR_NOTFOUND;
	}
	fprintf(out, "driver %s: consent %s (audited in data_audit)\n", driver, granted ? "granted" : "withdrawn");
	return ODO_OK;
}
