/*
 * odo-collector — a small metrics registry and its Prometheus text
 * exposition (format 0.0.4, https://prometheus.io/docs/instrumenting/exposition_formats/).
 *
 * Families are registered once from a const description (name, help, type,
 * label names, histogram buckets, a bound on the number of series); series
 * are looked up by their label values and created on first use, up to the
 * family's bound. Beyond it a series is not created: the update is counted
 * in the registry's own odo_collector_metric_series_dropped_total{family}, so
 * a cardinality bug shows up as a metric instead of a memory leak.
 *
 * Single-threaded: the collector's poll loop updates and renders. The
 * registry never logs and does no I/O; rendering writes to a FILE.
 *
 * Ownership: descriptions are borrowed (they must outlive the registry: use
 * static const tables); label values are copied. Series pointers stay valid
 * until their family is cleared (odo_metric_family_clear) or the registry is
 * closed, so hot paths may keep them.
 */
#ifndef ODO_COLLECTOR_METRICS_REGISTRY_H
#define ODO_COLLECTOR_METRICS_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "odo/err.h"

#define ODO_METRIC_MAX_LABELS 4
#define ODO_METRIC_MAX_BUCKETS 24
#define ODO_METRIC_DEFAULT_SERIES 64

enum odo_metric_type { ODO_METRIC_COUNTER, ODO_METRIC_GAUGE, ODO_METRIC_HISTOGRAM };

struct odo_metric_desc {
	const char *name;                /* [a-zA-Z_:][a-zA-Z0-9_:]*, counters end in _total */
	const char *help;                /* one line */
	enum odo_metric_type type;
	size_t nlabels;                  /* <= ODO_METRIC_MAX_LABELS */
	const char *labels[ODO_METRIC_MAX_LABELS];
	size_t nbuckets;                 /* histograms: upper bounds, increasing, +Inf implied */
	double buckets[ODO_METRIC_MAX_BUCKETS];
	size_t max_series;               /* 0 = ODO_METRIC_DEFAULT_SERIES (1 without labels) */
};

struct odo_metrics;
struct odo_metric_family;
struct odo_metric_series;

/* A registry. ODO_ERR_NOMEM. */
int odo_metrics_open(struct odo_metrics **out) ODO_NODISCARD;
/* NULL is a no-op. */
void odo_metrics_close(struct odo_metrics *r);

/* Register a family (the description is borrowed). ODO_ERR_INVAL for a bad
 * name, label or bucket list, or a name registered already; ODO_ERR_NOMEM. */
int odo_metrics_family(struct odo_metrics *r, const struct odo_metric_desc *d,
		       struct odo_metric_family **out) ODO_NODISCARD;
/* The family registered under `name`, or NULL. */
struct odo_metric_family *odo_metrics_find(const struct odo_metrics *r, const char *name);

/* The series with these label values (desc->nlabels of them; NULL when the
 * family has no labels), created when new. NULL when the family is at its
 * bound (counted as dropped) or out of memory. */
struct odo_metric_series *odo_metric_series(struct odo_metric_family *f, const char *const *values);
/* Shorthand for families with at most one label. */
struct odo_metric_series *odo_metric_series1(struct odo_metric_family *f, const char *value);

/* Counters: add a non-negative amount. Gauges: add any amount. NULL is a no-op. */
void odo_metric_add(struct odo_metric_series *s, double v);
/* Gauges: set. Counters: set a total kept elsewhere (it must never decrease). */
void odo_metric_set(struct odo_metric_series *s, double v);
/* Histograms: one observation. */
void odo_metric_observe(struct odo_metric_series *s, double v);
/* Current value (counters, gauges) or observation count (histograms). */
double odo_metric_value(const struct odo_metric_series *s);

/* Remove every series of a family (series pointers into it become invalid):
 * for families rebuilt on every scrape from a table kept elsewhere. */
void odo_metric_family_clear(struct odo_metric_family *f);
/* Number of series a family holds. */
size_t odo_metric_family_size(const struct odo_metric_family *f);

/* Write every family in registration order, in the text exposition format.
 * Families without series are written with HELP and TYPE only. ODO_ERR_IO
 * when the stream reports an error. */
int odo_metrics_render(const struct odo_metrics *r, FILE *out) ODO_NODISCARD;

#endif
