/*
 * odo-collector — alert rules (docs/alerts.md): which records raise an alert.
 *
 * A rule is a row of the alert_rules table: a metric from the const table
 * below (the crash event, the airbag deployment, or a field of a record
 * kind), for field metrics a comparison with a threshold, a cooldown per
 * device and an age limit. The writer loads the enabled rules with the
 * partition catalog (at connect and every minute) and evaluates every
 * record it stores against them; an alert row goes into the same
 * transaction as the record (pg/group.c).
 *
 * Pure: no libpq, no I/O, no logging.
 */
#ifndef ODO_COLLECTOR_ALERT_RULES_H
#define ODO_COLLECTOR_ALERT_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "odo/err.h"
#include "odo/wire.h"
#include "pg/pgarray.h"

#define ODO_ALERT_MAX_RULES 64
#define ODO_ALERT_NAME_MAX 64 /* rule names: [a-z][a-z0-9_]{0,62} (checked by the table too) */

/* One metric a rule can watch. */
struct odo_alert_metric {
	const char *name;   /* "crash", "airbag", "sample.speed_mps", ... */
	uint8_t kind;       /* record kind it reads */
	int threshold;      /* 1: compared with a threshold (op, threshold); 0: the record itself is the alert */
	const char *unit;
	const char *help;   /* docs/alerts.md */
};

/* Every metric (docs/alerts.md "Metrics"). */
size_t odo_alert_metric_count(void);
const struct odo_alert_metric *odo_alert_metric_at(size_t i);

enum odo_alert_op { ODO_ALERT_NONE = 0, ODO_ALERT_GT, ODO_ALERT_GE, ODO_ALERT_LT, ODO_ALERT_LE };

struct odo_alert_rule {
	char name[ODO_ALERT_NAME_MAX];
	size_t metric;      /* index into the metric table */
	enum odo_alert_op op;
	double threshold;   /* NaN without a threshold */
	int64_t cooldown_s; /* no second alert of this rule for the device within this of one (record time) */
	int64_t max_age_s;  /* a record older than this when it arrives raises none; -1 no limit */
	char severity[16];  /* critical, warning, info */
};

struct odo_alert_rules {
	size_t n;
	struct odo_alert_rule r[ODO_ALERT_MAX_RULES];
};

/* One rule from its table row's text values (op, threshold, max_age_s may
 * be NULL or ""). ODO_OK, or ODO_ERR_CONFIG with why (len bytes) naming the
 * problem: unknown metric, a threshold metric without op/threshold or a
 * record metric with them, bad number, bad severity. */
int odo_alert_rule_parse(const char *name, const char *metric, const char *op, const char *threshold,
			 const char *cooldown_s, const char *max_age_s, const char *severity,
			 struct odo_alert_rule *out, char *why, size_t len) ODO_NODISCARD;

/* The text of an op (">", ">=", "<", "<=", "" none). */
const char *odo_alert_op_text(enum odo_alert_op op);

/* Does rule ru fire on record r (arrived at now_ms)? 1 with *value (NaN
 * when the metric has none, e.g. an airbag-only crash's peak), else 0. A
 * value that was not measured never fires. */
int odo_alert_match(const struct odo_alert_rule *ru, const struct odo_record *r, int64_t now_ms, double *value);

/* The record's fields an alert carries ("details" in the payload), as a
 * JSON object appended to out: NaN fields are null. */
void odo_alert_details(const struct odo_record *r, struct odo_pgbuf *out);

/* JSON helpers (also used for the webhook body). */
void odo_json_num(struct odo_pgbuf *out, double v);                  /* null when not finite */
void odo_json_str(struct odo_pgbuf *out, const char *s);             /* quoted, escaped */

#endif
