/* odo-collector — alert rules (see rules.h). */
#include "alert/rules.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Metric values: one function per metric, NaN when the record does not
 * have it. */
typedef double (*metric_fn)(const struct odo_record *r);

static int is_crash(const struct odo_record *r)
{
	return r->kind == ODO_REC_EVENT && r->u.event.kind == ODO_EV_CRASH;
}
static int airbag_src(const struct odo_record *r)
{
	return r->u.event.source == ODO_EVSRC_AIRBAG || r->u.event.source == ODO_EVSRC_ACCEL_AIRBAG;
}
/* A crash the vehicle did not confirm / did confirm: each crash record
 * raises one of the two, never both. peak_g is "not measured" (0) for an
 * airbag-only crash. */
static double m_crash(const struct odo_record *r)
{
	return is_crash(r) && !airbag_src(r) ? fabs(r->u.event.peak_g) : NAN;
}
static double m_airbag(const struct odo_record *r)
{
	if (!is_crash(r) || !airbag_src(r))
		return NAN;
	return r->u.event.source == ODO_EVSRC_AIRBAG ? INFINITY : fabs(r->u.event.peak_g);
}
#define SAMPLE(f)                                                                                                 \
	static double m_##f(const struct odo_record *r) { return r->u.sample.f; }
SAMPLE(speed_mps)
SAMPLE(obd_speed_mps)
SAMPLE(rpm)
SAMPLE(coolant_c)
SAMPLE(throttle_pct)
SAMPLE(fuel_pct)
SAMPLE(ax_g)
SAMPLE(ay_g)
#undef SAMPLE
static double m_outbox_age(const struct odo_record *r)
{
	return (double)r->u.status.outbox_oldest_age_s;
}
static double m_outbox_depth(const struct odo_record *r)
{
	return (double)r->u.status.outbox_depth;
}

static const struct {
	struct odo_alert_metric m;
	metric_fn fn;
} METRICS[] = {
    {{"crash", ODO_REC_EVENT, 0, "g",
      "a crash event from the accelerometer alone (value: its peak); docs/detection.md \"Crash\""},
     m_crash},
    {{"airbag", ODO_REC_EVENT, 0, "g",
      "a crash event with the vehicle's airbag / crash signal, alone or with the accelerometer (value: the "
      "accelerometer's peak, null when it saw none)"},
     m_airbag},
    {{"sample.speed_mps", ODO_REC_SAMPLE, 1, "m/s", "GPS speed of a periodic sample"}, m_speed_mps},
    {{"sample.obd_speed_mps", ODO_REC_SAMPLE, 1, "m/s", "vehicle speed (OBD-II / bus) of a periodic sample"},
     m_obd_speed_mps},
    {{"sample.rpm", ODO_REC_SAMPLE, 1, "1/min", "engine speed of a periodic sample"}, m_rpm},
    {{"sample.coolant_c", ODO_REC_SAMPLE, 1, "degC", "engine coolant temperature of a periodic sample"},
     m_coolant_c},
    {{"sample.throttle_pct", ODO_REC_SAMPLE, 1, "%", "throttle position of a periodic sample"}, m_throttle_pct},
    {{"sample.fuel_pct", ODO_REC_SAMPLE, 1, "%", "fuel level of a periodic sample"}, m_fuel_pct},
    {{"sample.ax_g", ODO_REC_SAMPLE, 1, "g", "longitudinal acceleration (filtered) of a periodic sample"}, m_ax_g},
    {{"sample.ay_g", ODO_REC_SAMPLE, 1, "g", "lateral acceleration (filtered) of a periodic sample"}, m_ay_g},
    {{"status.outbox_oldest_age_s", ODO_REC_STATUS, 1, "s",
      "age of the oldest record waiting in the device's outbox (a device that cannot deliver)"},
     m_outbox_age},
    {{"status.outbox_depth", ODO_REC_STATUS, 1, "records", "records waiting in the device's outbox"},
     m_outbox_depth},
};

size_t odo_alert_metric_count(void)
{
	return ODO_ARRAY_LEN(METRICS);
}

const struct odo_alert_metric *odo_alert_metric_at(size_t i)
{
	return i < ODO_ARRAY_LEN(METRICS) ? &METRICS[i].m : NULL;
}

const char *odo_alert_op_text(enum odo_alert_op op)
{
	switch (op) {
	case ODO_ALERT_GT: return ">";
	case ODO_ALERT_GE: return ">=";
	case ODO_ALERT_LT: return "<";
	case ODO_ALERT_LE: return "<=";
	default: return "";
	}
}

static int parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int odo_alert_rule_parse(const char *name, const char *metric, const char *op, const char *threshold,
			 const char *cooldown_s, const char *max_age_s, const char *severity,
			 struct odo_alert_rule *out, char *why, size_t len)
{
#define BAD(...)                                                                                                  \
	do {                                                                                                      \
		if (why && len)                                                                                   \
			snprintf(why, len, __VA_ARGS__);                                                          \
		return ODO_ERR_CONFIG;                                                                            \
	} while (0)
	memset(out, 0, sizeof(*out));
	if (!name || !*name || strlen(name) >= ODO_ALERT_NAME_MAX)
		BAD("rule name empty or longer than %d characters", ODO_ALERT_NAME_MAX - 1);
	for (const char *p = name; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_'))
			BAD("rule %s: name must be [a-z0-9_]", name);
	snprintf(out->name, sizeof(out->name), "%s", name);
	size_t m = ODO_ARRAY_LEN(METRICS);
	for (size_t i = 0; metric && i < ODO_ARRAY_LEN(METRICS); i++)
		if (strcmp(metric, METRICS[i].m.name) == 0)
			m = i;
	if (m == ODO_ARRAY_LEN(METRICS))
		BAD("rule %s: unknown metric '%s' (docs/alerts.md lists them)", name, metric ? metric : "");
	out->metric = m;
	int has_op = op && *op, has_thr = threshold && *threshold;
	out->threshold = NAN;
	if (METRICS[m].m.threshold) {
		if (!has_op || !has_thr)
			BAD("rule %s: metric %s needs op and threshold", name, metric);
		static const char *const ops[] = {"", ">", ">=", "<", "<="};
		out->op = ODO_ALERT_NONE;
		for (int k = 1; k <= 4; k++)
			if (strcmp(op, ops[k]) == 0)
				out->op = (enum odo_alert_op)k;
		if (out->op == ODO_ALERT_NONE)
			BAD("rule %s: op '%s' is not one of > >= < <=", name, op);
		char *end;
		out->threshold = strtod(threshold, &end);
		if (end == threshold || *end || !isfinite(out->threshold))
			BAD("rule %s: threshold '%s' is not a finite number", name, threshold);
	} else if (has_op || has_thr) {
		BAD("rule %s: metric %s takes no op or threshold (the record itself is the alert)", name, metric);
	}
	if (!cooldown_s || parse_i64(cooldown_s, 0, 604800, &out->cooldown_s))
		BAD("rule %s: cooldown_s '%s' is not 0..604800", name, cooldown_s ? cooldown_s : "");
	out->max_age_s = -1;
	if (max_age_s && *max_age_s && parse_i64(max_age_s, 0, INT64_MAX / 1000, &out->max_age_s))
		BAD("rule %s: max_age_s '%s' is not a number of seconds", name, max_age_s);
	if (!severity || (strcmp(severity, "critical") && strcmp(severity, "warning") && strcmp(severity, "info")))
		BAD("rule %s: severity '%s' is not critical, warning or info", name, severity ? severity : "");
	snprintf(out->severity, sizeof(out->severity), "%s", severity);
	return ODO_OK;
#undef BAD
}

int odo_alert_match(const struct odo_alert_rule *ru, const struct odo_record *r, int64_t now_ms, double *value)
{
	if (ru->metric >= ODO_ARRAY_LEN(METRICS) || r->kind != METRICS[ru->metric].m.kind)
		return 0;
	if (ru->max_age_s >= 0 && now_ms - r->t_ms > ru->max_age_s * 1000)
		return 0;
	double v = METRICS[ru->metric].fn(r);
	if (!METRICS[ru->metric].m.threshold) {
		if (isnan(v))
			return 0;
		*value = isfinite(v) ? v : NAN; /* INFINITY: the record, without a value */
		return 1;
	}
	if (!isfinite(v))
		return 0; /* not measured: never an alert */
	int hit = 0;
	switch (ru->op) {
	case ODO_ALERT_GT: hit = v > ru->threshold; break;
	case ODO_ALERT_GE: hit = v >= ru->threshold; break;
	case ODO_ALERT_LT: hit = v < ru->threshold; break;
	case ODO_ALERT_LE: hit = v <= ru->threshold; break;
	default: break;
	}
	if (hit)
		*value = v;
	return hit;
}

void odo_json_num(struct odo_pgbuf *out, double v)
{
	if (!isfinite(v))
		odo_pgbuf_put(out, "null", 4);
	else if (v == floor(v) && fabs(v) < 9007199254740992.0)
		odo_pgbuf_printf(out, "%.0f", v);
	else
		odo_pgbuf_printf(out, "%.17g", v);
}

void odo_json_str(struct odo_pgbuf *out, const char *s)
{
	odo_pgbuf_put(out, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			odo_pgbuf_printf(out, "\\%c", *p);
		else if (*p < 0x20)
			odo_pgbuf_printf(out, "\\u%04x", *p);
		else
			odo_pgbuf_put(out, p, 1);
	}
	odo_pgbuf_put(out, "\"", 1);
}

/* ,"key":number */
static void kv(struct odo_pgbuf *o, const char *k, double v)
{
	odo_pgbuf_printf(o, ",\"%s\":", k);
	odo_json_num(o, v);
}

void odo_alert_details(const struct odo_record *r, struct odo_pgbuf *o)
{
	odo_pgbuf_put(o, "{\"kind\":", 8);
	odo_json_str(o, odo_record_kind_name(r->kind));
	switch (r->kind) {
	case ODO_REC_EVENT: {
		const struct odo_rec_event *e = &r->u.event;
		static const char *const src[] = {"accelerometer", "speed", "airbag", "accelerometer+airbag", "phone"};
		odo_pgbuf_put(o, ",\"event\":", 9);
		odo_json_str(o, odo_event_kind_name(e->kind));
		odo_pgbuf_put(o, ",\"source\":", 10);
		odo_json_str(o, e->source < ODO_ARRAY_LEN(src) ? src[e->source] : "unknown");
		odo_pgbuf_printf(o, ",\"trip\":%llu,\"duration_ms\":%lld", (unsigned long long)e->trip_id,
				 (long long)e->duration_ms);
		/* an airbag-only crash has no accelerometer peak (0 on the wire) */
		int measured = !(e->kind == ODO_EV_CRASH && e->source == ODO_EVSRC_AIRBAG);
		kv(o, "peak_g", measured ? e->peak_g : NAN);
		kv(o, "mean_g", measured ? e->mean_g : NAN);
		kv(o, "speed_before_mps", e->speed_before_mps);
		kv(o, "speed_after_mps", e->speed_after_mps);
		kv(o, "lat", e->lat);
		kv(o, "lon", e->lon);
		kv(o, "heading_deg", e->heading_deg);
		break;
	}
	case ODO_REC_SAMPLE: {
		const struct odo_rec_sample *s = &r->u.sample;
		odo_pgbuf_printf(o, ",\"trip\":%llu", (unsigned long long)s->trip_id);
		kv(o, "lat", s->lat);
		kv(o, "lon", s->lon);
		kv(o, "speed_mps", s->speed_mps);
		kv(o, "heading_deg", s->heading_deg);
		kv(o, "obd_speed_mps", s->obd_speed_mps);
		kv(o, "rpm", s->rpm);
		kv(o, "coolant_c", s->coolant_c);
		kv(o, "throttle_pct", s->throttle_pct);
		kv(o, "fuel_pct", s->fuel_pct);
		kv(o, "ax_g", s->ax_g);
		kv(o, "ay_g", s->ay_g);
		break;
	}
	case ODO_REC_STATUS: {
		const struct odo_rec_status *s = &r->u.status;
		kv(o, "uptime_s", (double)s->uptime_s);
		kv(o, "outbox_depth", (double)s->outbox_depth);
		kv(o, "outbox_oldest_age_s", (double)s->outbox_oldest_age_s);
		kv(o, "evicted", (double)s->evicted);
		break;
	}
	default:
		break;
	}
	odo_pgbuf_put(o, "}", 1);
}
