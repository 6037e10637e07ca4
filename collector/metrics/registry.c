/* odo-collector — metrics registry and text exposition (see registry.h). */
#include "metrics/registry.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct odo_metric_series {
	char *values[ODO_METRIC_MAX_LABELS]; /* copied */
	double v;                            /* counter/gauge value; histogram sum */
	uint64_t count;                      /* histogram observations */
	uint64_t *bucket;                    /* histogram: per bucket (not cumulative), nbuckets + 1 */
	const struct odo_metric_family *fam;
};

struct odo_metric_family {
	const struct odo_metric_desc *d;
	size_t max_series;
	struct odo_metric_series **s;
	size_t n, cap;
	struct odo_metric_family *next;
	struct odo_metrics *reg;
	uint64_t dropped; /* series refused at the bound */
};

struct odo_metrics {
	struct odo_metric_family *head, *tail;
};

int odo_metrics_open(struct odo_metrics **out)
{
	*out = calloc(1, sizeof **out);
	return *out ? ODO_OK : ODO_ERR_NOMEM;
}

static void series_free(struct odo_metric_series *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < ODO_METRIC_MAX_LABELS; i++)
		free(s->values[i]);
	free(s->bucket);
	free(s);
}

void odo_metric_family_clear(struct odo_metric_family *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		series_free(f->s[i]);
	f->n = 0;
}

size_t odo_metric_family_size(const struct odo_metric_family *f)
{
	return f ? f->n : 0;
}

void odo_metrics_close(struct odo_metrics *r)
{
	if (!r)
		return;
	struct odo_metric_family *f = r->head;
	while (f) {
		struct odo_metric_family *n = f->next;
		odo_metric_family_clear(f);
		free(f->s);
		free(f);
		f = n;
	}
	free(r);
}

static int valid_name(const char *s, int label)
{
	if (!s || !*s)
		return 0;
	if (label && s[0] == '_' && s[1] == '_')
		return 0; /* reserved for Prometheus itself */
	for (const char *p = s; *p; p++) {
		int alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || (!label && *p == ':');
		if (!alpha && !(p > s && *p >= '0' && *p <= '9'))
			return 0;
	}
	return 1;
}

struct odo_metric_family *odo_metrics_find(const struct odo_metrics *r, const char *name)
{
	for (struct odo_metric_family *f = r ? r->head : NULL; f; f = f->next)
		if (strcmp(f->d->name, name) == 0)
			return f;
	return NULL;
}

int odo_metrics_family(struct odo_metrics *r, const struct odo_metric_desc *d, struct odo_metric_family **out)
{
	*out = NULL;
	if (!r || !d || !valid_name(d->name, 0) || !d->help || d->nlabels > ODO_METRIC_MAX_LABELS ||
	    odo_metrics_find(r, d->name))
		return ODO_ERR_INVAL;
	for (size_t i = 0; i < d->nlabels; i++)
		if (!valid_name(d->labels[i], 1) || (d->type == ODO_METRIC_HISTOGRAM && strcmp(d->labels[i], "le") == 0))
			return ODO_ERR_INVAL;
	if (d->type == ODO_METRIC_HISTOGRAM) {
		if (d->nbuckets == 0 || d->nbuckets > ODO_METRIC_MAX_BUCKETS)
			return ODO_ERR_INVAL;
		for (size_t i = 0; i < d->nbuckets; i++)
			if (!isfinite(d->buckets[i]) || (i > 0 && d->buckets[i] <= d->buckets[i - 1]))
				return ODO_ERR_INVAL;
	}
	struct odo_metric_family *f = calloc(1, sizeof *f);
	if (!f)
		return ODO_ERR_NOMEM;
	f->d = d;
	f->reg = r;
	f->max_series = d->max_series ? d->max_series : d->nlabels ? ODO_METRIC_DEFAULT_SERIES : 1;
	if (r->tail)
		r->tail->next = f;
	else
		r->head = f;
	r->tail = f;
	*out = f;
	return ODO_OK;
}

static int same_values(const struct odo_metric_series *s, size_t n, const char *const *values)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->values[i], values[i] ? values[i] : "") != 0)
			return 0;
	return 1;
}

/* The registry's own family counting series refused at a family's bound. */
static const struct odo_metric_desc dropped_desc = {
	.name = "odo_collector_metric_series_dropped_total",
	.help = "Updates to a series that was not created because its family reached its bound",
	.type = ODO_METRIC_COUNTER,
	.nlabels = 1,
	.labels = { "family" },
	.max_series = 256,
};

static void count_dropped(struct odo_metric_family *f)
{
	f->dropped++;
	if (f->d == &dropped_desc)
		return;
	struct odo_metric_family *dr = odo_metrics_find(f->reg, dropped_desc.name);
	if (!dr && odo_metrics_family(f->reg, &dropped_desc, &dr) != ODO_OK)
		return;
	odo_metric_set(odo_metric_series1(dr, f->d->name), (double)f->dropped);
}

struct odo_metric_series *odo_metric_series(struct odo_metric_family *f, const char *const *values)
{
	if (!f)
		return NULL;
	size_t nl = f->d->nlabels;
	for (size_t i = 0; i < f->n; i++)
		if (same_values(f->s[i], nl, values))
			return f->s[i];
	if (f->n >= f->max_series) {
		count_dropped(f);
		return NULL;
	}
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 8;
		struct odo_metric_series **s = realloc(f->s, cap * sizeof *s);
		if (!s)
			return NULL;
		f->s = s;
		f->cap = cap;
	}
	struct odo_metric_series *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->fam = f;
	for (size_t i = 0; i < nl; i++) {
		s->values[i] = strdup(values[i] ? values[i] : "");
		if (!s->values[i]) {
			series_free(s);
			return NULL;
		}
	}
	if (f->d->type == ODO_METRIC_HISTOGRAM) {
		s->bucket = calloc(f->d->nbuckets + 1, sizeof *s->bucket);
		if (!s->bucket) {
			series_free(s);
			return NULL;
		}
	}
	f->s[f->n++] = s;
	return s;
}

struct odo_metric_series *odo_metric_series1(struct odo_metric_family *f, const char *value)
{
	const char *v[1] = { value };
	return odo_metric_series(f, f && f->d->nlabels ? v : NULL);
}

void odo_metric_add(struct odo_metric_series *s, double v)
{
	if (!s || s->fam->d->type == ODO_METRIC_HISTOGRAM)
		return;
	if (s->fam->d->type == ODO_METRIC_COUNTER && !(v >= 0))
		return; /* a counter never goes down (NaN refused too) */
	s->v += v;
}

void odo_metric_set(struct odo_metric_series *s, double v)
{
	if (!s || s->fam->d->type == ODO_METRIC_HISTOGRAM)
		return;
	if (s->fam->d->type == ODO_METRIC_COUNTER && !(v >= s->v))
		return;
	s->v = v;
}

void odo_metric_observe(struct odo_metric_series *s, double v)
{
	if (!s || s->fam->d->type != ODO_METRIC_HISTOGRAM || isnan(v))
		return;
	const struct odo_metric_desc *d = s->fam->d;
	size_t i = 0;
	while (i < d->nbuckets && v > d->buckets[i])
		i++;
	s->bucket[i]++;
	s->count++;
	s->v += v;
}

double odo_metric_value(const struct odo_metric_series *s)
{
	if (!s)
		return NAN;
	return s->fam->d->type == ODO_METRIC_HISTOGRAM ? (double)s->count : s->v;
}

/* ---- exposition ---------------------------------------------------------- */

static void put_escaped(FILE *o, const char *s, int quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", o);
		else if (*s == '\n')
			fputs("\\n", o);
		else if (quote && *s == '"')
			fputs("\\\"", o);
		else
			fputc(*s, o);
	}
}

/* The shortest text that reads back as the same double (0.1, not
 * 0.10000000000000001), Prometheus' spellings for the special values. */
static void fmt_double(char *buf, size_t len, double v)
{
	if (isnan(v)) {
		snprintf(buf, len, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v == floor(v) && fabs(v) < 9007199254740992.0) {
		snprintf(buf, len, "%.0f", v); /* whole numbers never in exponent form */
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

static void put_value(FILE *o, double v)
{
	char b[40];
	fmt_double(b, sizeof b, v);
	fputs(b, o);
}

/* name{labels[,le="x"]} */
static void put_series_name(FILE *o, const struct odo_metric_desc *d, const char *suffix,
			    const struct odo_metric_series *s, const char *le)
{
	fputs(d->name, o);
	fputs(suffix, o);
	if (d->nlabels == 0 && !le)
		return;
	fputc('{', o);
	for (size_t i = 0; i < d->nlabels; i++) {
		fprintf(o, "%s%s=\"", i ? "," : "", d->labels[i]);
		put_escaped(o, s->values[i], 1);
		fputc('"', o);
	}
	if (le)
		fprintf(o, "%sle=\"%s\"", d->nlabels ? "," : "", le);
	fputc('}', o);
}

static void render_family(const struct odo_metric_family *f, FILE *o)
{
	const struct odo_metric_desc *d = f->d;
	static const char *const type_name[] = { "counter", "gauge", "histogram" };
	fprintf(o, "# HELP %s ", d->name);
	put_escaped(o, d->help, 0);
	fprintf(o, "\n# TYPE %s %s\n", d->name, type_name[d->type]);
	for (size_t i = 0; i < f->n; i++) {
		const struct odo_metric_series *s = f->s[i];
		if (d->type != ODO_METRIC_HISTOGRAM) {
			put_series_name(o, d, "", s, NULL);
			fputc(' ', o);
			put_value(o, s->v);
			fputc('\n', o);
			continue;
		}
		uint64_t cum = 0;
		char le[40];
		for (size_t b = 0; b <= d->nbuckets; b++) {
			cum += s->bucket[b];
			if (b < d->nbuckets)
				fmt_double(le, sizeof le, d->buckets[b]);
			else
				snprintf(le, sizeof le, "+Inf");
			put_series_name(o, d, "_bucket", s, le);
			fprintf(o, " %llu\n", (unsigned long long)cum);
		}
		put_series_name(o, d, "_sum", s, NULL);
		fputc(' ', o);
		put_value(o, s->v);
		fputc('\n', o);
		put_series_name(o, d, "_count", s, NULL);
		fprintf(o, " %llu\n", (unsigned long long)s->count);
	}
}

int odo_metrics_render(const struct odo_metrics *r, FILE *out)
{
	for (const struct odo_metric_family *f = r->head; f; f = f->next)
		render_family(f, out);
	return ferror(out) ? ODO_ERR_IO : ODO_OK;
}
