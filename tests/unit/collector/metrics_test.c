/* Unit tests of the collector's metrics registry (text exposition) and its
 * bounded per-device table (collector/metrics). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics/devices.h"
#include "metrics/registry.h"

static char *render(const struct odo_metrics *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(odo_metrics_render(r, f), ODO_OK);
	fclose(f);
	return buf;
}

static const struct odo_metric_desc C = { .name = "t_msgs_total", .help = "Messages \\ seen\nhere", .type = ODO_METRIC_COUNTER,
					      .nlabels = 1, .labels = { "result" } };
static const struct odo_metric_desc G = { .name = "t_temp", .help = "A gauge", .type = ODO_METRIC_GAUGE };
static const struct odo_metric_desc H = { .name = "t_lag_seconds", .help = "Lag", .type = ODO_METRIC_HISTOGRAM,
					      .nbuckets = 3, .buckets = { 0.1, 1, 10 } };

static void renders_the_text_format(void **st)
{
	(void)st;
	struct odo_metrics *r;
	struct odo_metric_family *c, *g, *h;
	assert_int_equal(odo_metrics_open(&r), ODO_OK);
	assert_int_equal(odo_metrics_family(r, &C, &c), ODO_OK);
	assert_int_equal(odo_metrics_family(r, &G, &g), ODO_OK);
	assert_int_equal(odo_metrics_family(r, &H, &h), ODO_OK);
	odo_metric_add(odo_metric_series1(c, "ok"), 3);
	odo_metric_add(odo_metric_series1(c, "ok"), 2);
	odo_metric_add(odo_metric_series1(c, "a\"b\\c\nd"), 1);
	odo_metric_set(odo_metric_series(g, NULL), -1.5);
	struct odo_metric_series *hs = odo_metric_series(h, NULL);
	odo_metric_observe(hs, 0.05);
	odo_metric_observe(hs, 0.1); /* le is inclusive */
	odo_metric_observe(hs, 5);
	odo_metric_observe(hs, 100);
	odo_metric_observe(hs, NAN); /* ignored */
	char *out = render(r);
	const char *want =
		"# HELP t_msgs_total Messages \\\\ seen\\nhere\n"
		"# TYPE t_msgs_total counter\n"
		"t_msgs_total{result=\"ok\"} 5\n"
		"t_msgs_total{result=\"a\\\"b\\\\c\\nd\"} 1\n"
		"# HELP t_temp A gauge\n"
		"# TYPE t_temp gauge\n"
		"t_temp -1.5\n"
		"# HELP t_lag_seconds Lag\n"
		"# TYPE t_lag_seconds histogram\n"
		"t_lag_seconds_bucket{le=\"0.1\"} 2\n"
		"t_lag_seconds_bucket{le=\"1\"} 2\n"
		"t_lag_seconds_bucket{le=\"10\"} 3\n"
		"t_lag_seconds_bucket{le=\"+Inf\"} 4\n"
		"t_lag_seconds_sum 105.15\n"
		"t_lag_seconds_count 4\n";
	assert_string_equal(out, want);
	free(out);
	odo_metrics_close(r);
}

static void counters_never_go_down(void **st)
{
	(void)st;
	struct odo_metrics *r;
	struct odo_metric_family *c;
	assert_int_equal(odo_metrics_open(&r), ODO_OK);
	assert_int_equal(odo_metrics_family(r, &C, &c), ODO_OK);
	struct odo_metric_series *s = odo_metric_series1(c, "x");
	odo_metric_set(s, 10);
	odo_metric_set(s, 7);   /* a total kept elsewhere never decreases */
	odo_metric_add(s, -1);  /* refused */
	odo_metric_add(s, NAN); /* refused */
	assert_true(odo_metric_value(s) == 10);
	odo_metric_set(s, 12);
	assert_true(odo_metric_value(s) == 12);
	odo_metrics_close(r);
}

static void refuses_bad_descriptions(void **st)
{
	(void)st;
	struct odo_metrics *r;
	struct odo_metric_family *f;
	assert_int_equal(odo_metrics_open(&r), ODO_OK);
	static const struct odo_metric_desc bad_name = { .name = "1abc", .help = "x" };
	static const struct odo_metric_desc bad_label = { .name = "ok_name", .help = "x", .nlabels = 1, .labels = { "a-b" } };
	static const struct odo_metric_desc reserved = { .name = "ok_name", .help = "x", .nlabels = 1, .labels = { "__x" } };
	static const struct odo_metric_desc le = { .name = "ok_name", .help = "x", .type = ODO_METRIC_HISTOGRAM,
						   .nlabels = 1, .labels = { "le" }, .nbuckets = 1, .buckets = { 1 } };
	static const struct odo_metric_desc order = { .name = "ok_name", .help = "x", .type = ODO_METRIC_HISTOGRAM,
						      .nbuckets = 2, .buckets = { 2, 1 } };
	static const struct odo_metric_desc none = { .name = "ok_name", .help = "x", .type = ODO_METRIC_HISTOGRAM };
	assert_int_equal(odo_metrics_family(r, &bad_name, &f), ODO_ERR_INVAL);
	assert_int_equal(odo_metrics_family(r, &bad_label, &f), ODO_ERR_INVAL);
	assert_int_equal(odo_metrics_family(r, &reserved, &f), ODO_ERR_INVAL);
	assert_int_equal(odo_metrics_family(r, &le, &f), ODO_ERR_INVAL);
	assert_int_equal(odo_metrics_family(r, &order, &f), ODO_ERR_INVAL);
	assert_int_equal(odo_metrics_family(r, &none, &f), ODO_ERR_INVAL);
	struct odo_metric_family *g, *g2;
	assert_int_equal(odo_metrics_family(r, &G, &g), ODO_OK);
	assert_int_equal(odo_metrics_family(r, &G, &g2), ODO_ERR_INVAL); /* twice */
	assert_null(g2);
	assert_ptr_equal(odo_metrics_find(r, "t_temp"), g);
	odo_metrics_close(r);
}

static void bounds_the_series(void **st)
{
	(void)st;
	static const struct odo_metric_desc d = { .name = "t_dev", .help = "per device", .type = ODO_METRIC_GAUGE,
						  .nlabels = 1, .labels = { "device" }, .max_series = 2 };
	struct odo_metrics *r;
	struct odo_metric_family *f;
	assert_int_equal(odo_metrics_open(&r), ODO_OK);
	assert_int_equal(odo_metrics_family(r, &d, &f), ODO_OK);
	assert_non_null(odo_metric_series1(f, "a"));
	assert_non_null(odo_metric_series1(f, "b"));
	assert_null(odo_metric_series1(f, "c"));
	assert_null(odo_metric_series1(f, "d"));
	odo_metric_set(odo_metric_series1(f, "c"), 1); /* NULL: a no-op */
	assert_int_equal(odo_metric_family_size(f), 2);
	char *out = render(r);
	assert_non_null(strstr(out, "odo_collector_metric_series_dropped_total{family=\"t_dev\"} 3\n"));
	free(out);
	odo_metric_family_clear(f);
	assert_int_equal(odo_metric_family_size(f), 0);
	assert_non_null(odo_metric_series1(f, "c"));
	odo_metrics_close(r);
}

static void device_table(void **st)
{
	(void)st;
	struct odo_devtab *t;
	assert_int_equal(odo_devtab_open(0, &t), ODO_ERR_INVAL);
	assert_int_equal(odo_devtab_open(3, &t), ODO_OK);
	assert_int_equal(odo_devtab_seen(t, "d1", 100), ODO_OK);
	assert_int_equal(odo_devtab_seen(t, "d2", 200), ODO_OK);
	assert_int_equal(odo_devtab_seen(t, "d3", 300), ODO_OK);
	assert_int_equal(odo_devtab_seen(t, "d4", 300), ODO_ERR_FULL);
	assert_int_equal(odo_devtab_seen(t, "d1", 350), ODO_OK); /* known: still tracked */
	assert_int_equal(odo_devtab_refused(t), 1);
	assert_int_equal(odo_devtab_count(t), 3);
	/* the newest status record wins, whatever the arrival order */
	odo_devtab_status(t, "d2", 5000, 40, 12);
	odo_devtab_status(t, "d2", 4000, 99, 99);
	odo_devtab_status(t, "d4", 4000, 1, 1); /* untracked: ignored */
	const struct odo_devtab_entry *e = odo_devtab_at(t, 1);
	assert_string_equal(e->id, "d2");
	assert_true(e->has_status);
	assert_int_equal(e->outbox_depth, 40);
	assert_int_equal(e->outbox_oldest_age_s, 12);
	assert_int_equal(e->status_t_ms, 5000);
	assert_false(odo_devtab_at(t, 0)->has_status);
	assert_true(odo_devtab_at(t, 0)->last_seen_s == 350);
	/* d2 (200) is forgotten after 100 s of silence at 310; its place is free */
	assert_int_equal(odo_devtab_expire(t, 310, 100), 1);
	assert_int_equal(odo_devtab_count(t), 2);
	assert_string_equal(odo_devtab_at(t, 0)->id, "d1");
	assert_string_equal(odo_devtab_at(t, 1)->id, "d3");
	assert_int_equal(odo_devtab_seen(t, "d4", 320), ODO_OK);
	assert_int_equal(odo_devtab_seen(t, "d3", 330), ODO_OK); /* still found after the rehash */
	assert_int_equal(odo_devtab_count(t), 3);
	assert_true(odo_devtab_at(t, 1)->last_seen_s == 330);
	odo_devtab_close(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(renders_the_text_format), cmocka_unit_test(counters_never_go_down),
		cmocka_unit_test(refuses_bad_descriptions), cmocka_unit_test(bounds_the_series),
		cmocka_unit_test(device_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
