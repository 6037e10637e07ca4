/*
 * The crash trace through the whole engine (#16 item 1): a synthetic drive
 * (tests/unit/engine/drive.h: 100 Hz accelerometer mounted askew, 1 Hz GPS,
 * 1 Hz OBD speed and RPM) with
 *   - a frontal crash (100 ms, 20 g half-sine: 45 km/h): the trace is
 *     complete: 15 s before and 15 s after at 100 Hz in 24 parts of <= 128
 *     samples, vehicle frame, values, speeds, RPM, position; the parts
 *     before the crash are out when the crash is reported;
 *   - an airbag-only crash (no impact at the accelerometer): a trace with
 *     the airbag state before and after;
 *   - a pothole spike (5 g vertical for 30 ms at speed): no crash, no trace;
 *   - a crash before the mounting is calibrated: detected, traced in the
 *     sensor frame;
 *   - a crash 5 s before the agent stops: the trace ends with what it has
 *     (fewer parts than announced, a shorter last one).
 * Each record also goes through the wire encoder (what the outbox stores).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drive.h"

#define MAXREC 4096
#define BASE_MS 1768010400000LL

static struct odo_record *recs;
static int64_t *emitted_ns; /* the engine's clock when each record was emitted */
static int nrec;
static struct odo_clock *cur_clk;

static int collect(void *ctx, struct odo_record *r)
{
	(void)ctx;
	uint8_t buf[ODO_WIRE_MAX_RECORD_BYTES];
	size_t len;
	struct odo_record w = *r;
	w.seq = (uint64_t)nrec + 1; /* the outbox numbers them */
	assert_int_equal(odo_wire_encode_record(&w, buf, sizeof(buf), &len), ODO_OK);
	if (nrec < MAXREC) {
		emitted_ns[nrec] = odo_clock_mono_ns(cur_clk);
		recs[nrec++] = *r;
	}
	return 0;
}

static int setup(void **state)
{
	(void)state;
	recs = calloc(MAXREC, sizeof(*recs));
	emitted_ns = calloc(MAXREC, sizeof(*emitted_ns));
	return recs && emitted_ns ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(recs);
	free(emitted_ns);
	return 0;
}

static int count(int kind)
{
	int n = 0;
	for (int i = 0; i < nrec; i++)
		n += recs[i].kind == kind;
	return n;
}

static const struct odo_record *crash_event(void)
{
	const struct odo_record *found = NULL;
	for (int i = 0; i < nrec; i++)
		if (recs[i].kind == ODO_REC_EVENT && recs[i].u.event.kind == ODO_EV_CRASH) {
			assert_null(found); /* one crash */
			found = &recs[i];
		}
	return found;
}

struct rig {
	struct odo_clock clk;
	struct odo_engine *e;
	struct drv d;
	double M[3][3];
};

/* calibrated: an explicit mounting matrix (frame 0); else learning. */
static void rig_open(struct rig *g, int calibrated)
{
	nrec = 0;
	cur_clk = &g->clk;
	odo_clock_init_virtual(&g->clk, BASE_MS * ODO_NS_PER_MS, 0);
	struct odo_engine_cfg cfg;
	odo_engine_cfg_defaults(&cfg);
	syn_rot(75, -10, 5, g->M);
	if (calibrated)
		assert_int_equal(odo_calib_cfg_set_matrix(&cfg.calib, g->M), ODO_OK);
	assert_int_equal(odo_engine_open(&cfg, &g->clk, NULL, collect, NULL, NULL, &g->e), ODO_OK);
	drv_init(&g->d, &g->clk, g->e, g->M, BASE_MS);
	g->d.noise = 0.05;
}

/* The phases; before phase `at`, a crash pulse of impact_g / a pothole of bump_g. */
static void rig_run_at(struct rig *g, const struct drv_phase *ph, size_t n, size_t at, double impact_g, double bump_g)
{
	for (size_t i = 0; i < n; i++) {
		if (i == at) {
			g->d.impact_g = impact_g;
			g->d.bump_g = bump_g;
		}
		drv_run(&g->d, &ph[i]);
	}
}

static void rig_run(struct rig *g, const struct drv_phase *ph, size_t n)
{
	rig_run_at(g, ph, n, n, 0, 0);
}

/* The trace parts in order; checks what every part shares. Returns how many. */
static int trace_parts(const struct odo_record **out, int max, const struct odo_record *ev, int frame)
{
	int n = 0;
	for (int i = 0; i < nrec; i++) {
		if (recs[i].kind != ODO_REC_CRASH_TRACE)
			continue;
		const struct odo_rec_crash_trace *c = &recs[i].u.crash_trace;
		assert_true(n < max);
		assert_int_equal(c->part, n); /* in order, none missing */
		assert_int_equal(c->crash_ms, ev->t_ms);
		assert_int_equal(c->trip_id, ev->u.event.trip_id);
		assert_int_equal(c->hz, 100);
		assert_int_equal(c->frame, frame);
		assert_true(c->n >= 1 && c->n <= ODO_WIRE_MAX_TRACE);
		out[n++] = &recs[i];
	}
	return n;
}

static void test_crash_trace_complete(void **state)
{
	(void)state;
	struct rig g;
	rig_open(&g, 1);
	/* start, cruise at 15 m/s, crash (45 km/h lost in 100 ms), stopped */
	const struct drv_phase ph[] = {
	    {20, 0, 0, 1, 0}, {10, 1.5, 0, 1, 0}, {60, 0, 0, 1, 0}, {30, -0.05, 0, 1, 0}, {20, 0, 0, 0, 0},
	};
	double crash_t = 20 + 10 + 60; /* the pulse starts here (drive time, s) */
	rig_run_at(&g, ph, sizeof(ph) / sizeof(ph[0]), 3, 20.0, 0);
	odo_engine_finish(g.e);

	const struct odo_record *ev = crash_event();
	assert_non_null(ev);
	assert_int_equal(ev->u.event.source, ODO_EVSRC_ACCEL);
	assert_true(ev->u.event.peak_g > 19 && ev->u.event.peak_g < 21);
	struct odo_engine_stats st;
	odo_engine_stats(g.e, &st);
	printf("crash: peak %.1f g, speed change %.1f km/h; %llu trace(s), %llu part(s)\n", ev->u.event.peak_g,
	       st.last_impact_dv_kmh, (unsigned long long)st.trace.traces, (unsigned long long)st.trace.parts);
	assert_true(fabs(st.last_impact_dv_kmh - 45) < 3);
	int64_t crash_ms = BASE_MS + llround(crash_t * 1000);
	assert_true(llabs(ev->t_ms - crash_ms) <= 20); /* where the pulse rises through 2.5 g */

	const struct odo_record *p[64];
	int np = trace_parts(p, 64, ev, ODO_FRAME_VEHICLE);
	assert_int_equal(np, 24); /* 3000 samples in parts of 128 */
	int total = 0;
	for (int i = 0; i < np; i++) {
		assert_int_equal(p[i]->u.crash_trace.parts, 24);
		assert_int_equal(p[i]->u.crash_trace.n, i < 23 ? 128 : 3000 - 23 * 128);
		total += p[i]->u.crash_trace.n;
		/* each part's t is its first sample's; parts follow each other by n / hz */
		if (i)
			assert_true(llabs(p[i]->t_ms - p[i - 1]->t_ms - 1280) <= 1);
	}
	assert_int_equal(total, 3000);
	/* 15 s before the crash's start (first sample at or after), 15 s after */
	assert_true(p[0]->t_ms >= ev->t_ms - 15000 && p[0]->t_ms <= ev->t_ms - 15000 + 10);
	int64_t last_ms = p[np - 1]->t_ms + (p[np - 1]->u.crash_trace.n - 1) * 10;
	assert_true(last_ms >= ev->t_ms + 15000 - 20 && last_ms <= ev->t_ms + 15000);

	/* the values, vehicle frame (x forward, y right, z down; specific
	 * force, so -1 g on z at rest): cruising before, the pulse's -20 g */
	const struct odo_rec_crash_trace *c0 = &p[0]->u.crash_trace;
	assert_true(abs(c0->ax[5]) < 100 && abs(c0->ay[5]) < 100 && abs(c0->az[5] + 1000) < 100);
	int minx = 0;
	int64_t min_ms = 0;
	for (int i = 0; i < np; i++)
		for (int k = 0; k < p[i]->u.crash_trace.n; k++)
			if (p[i]->u.crash_trace.ax[k] < minx) {
				minx = p[i]->u.crash_trace.ax[k];
				min_ms = p[i]->t_ms + k * 10;
			}
	printf("trace: lowest ax %d mg at crash + %lld ms\n", minx, (long long)(min_ms - crash_ms));
	assert_true(minx < -19500 && minx > -20500);
	assert_true(llabs(min_ms - (crash_ms + 50)) <= 10);
	/* context at each part's first sample: GPS speed 15 m/s before, ~2.5 m/s after */
	assert_true(fabs(c0->speed_mps - 15) < 0.2);
	assert_true(fabs(c0->obd_speed_mps - 15) < 0.2);
	assert_true(fabs(c0->rpm - (800 + 100 * 15)) < 30);
	assert_true(isfinite(c0->lat) && isfinite(c0->lon));
	assert_int_equal(c0->airbag, -1); /* no airbag signal in this vehicle */
	const struct odo_rec_crash_trace *cl = &p[np - 1]->u.crash_trace;
	assert_true(cl->speed_mps < 3.5);

	/* the parts before the crash left as soon as it was reported (within
	 * the fusion window and the judging), not after the window after it */
	int64_t crash_ns = llround(crash_t * 1e9);
	for (int i = 0; i < np; i++) {
		int64_t first_ns = (p[i]->t_ms - BASE_MS) * ODO_NS_PER_MS;
		int64_t when = emitted_ns[p[i] - recs];
		if (first_ns + 1280 * ODO_NS_PER_MS < crash_ns)
			assert_true(when <= crash_ns + (int64_t)3.5e9);
		else
			assert_true(when <= first_ns + (int64_t)1.3e9 + (int64_t)3.5e9);
	}
	assert_int_equal(st.trace.traces, 1);
	assert_int_equal(st.trace.short_traces, 0);
	odo_engine_close(g.e);
}

static void test_airbag_only(void **state)
{
	(void)state;
	struct rig g;
	rig_open(&g, 1);
	/* the restraint module's broadcast: not deployed, then deployed */
	struct odo_signal sig = {.mono_ns = odo_clock_mono_ns(&g.clk), .role = ODO_SIG_AIRBAG_DEPLOYED, .value = 0};
	g.d.sink.signal(g.d.sink.ctx, &sig);
	rig_run(&g, (const struct drv_phase[]){{20, 0, 0, 1, 0}, {10, 1.5, 0, 1, 0}, {40, 0, 0, 1, 0}}, 3);
	int64_t air_ns = odo_clock_mono_ns(&g.clk);
	sig.mono_ns = air_ns;
	sig.value = 1;
	g.d.sink.signal(g.d.sink.ctx, &sig);
	rig_run(&g, (const struct drv_phase[]){{4, -3.0, 0, 1, 0}, {30, 0, 0, 0, 0}}, 2);
	odo_engine_finish(g.e);
	const struct odo_record *ev = crash_event();
	assert_non_null(ev);
	assert_int_equal(ev->u.event.source, ODO_EVSRC_AIRBAG);
	const struct odo_record *p[64];
	int np = trace_parts(p, 64, ev, ODO_FRAME_VEHICLE);
	assert_int_equal(np, 24);
	/* the airbag state at each part's first sample: 0 before, 1 after */
	for (int i = 0; i < np; i++) {
		int64_t first_ns = (p[i]->t_ms - BASE_MS) * ODO_NS_PER_MS;
		assert_int_equal(p[i]->u.crash_trace.airbag, first_ns < air_ns - 100 * ODO_NS_PER_MS ? 0 : 1);
	}
	assert_true(llabs(p[0]->t_ms - (ev->t_ms - 15000)) <= 10);
	odo_engine_close(g.e);
}

static void test_pothole_no_trace(void **state)
{
	(void)state;
	for (int calibrated = 1; calibrated >= 0; calibrated--) {
		struct rig g;
		rig_open(&g, calibrated);
		const struct drv_phase ph[] = {
		    {20, 0, 0, 1, 0}, {10, 1.5, 0, 1, 0}, {20, 0, 0, 1, 0}, {20, 0, 0, 1, 0}, {20, -0.75, 0, 1, 0},
		};
		rig_run_at(&g, ph, sizeof(ph) / sizeof(ph[0]), 3, 0, 5.0);
		odo_engine_finish(g.e);
		struct odo_engine_stats st;
		odo_engine_stats(g.e, &st);
		printf("pothole (%s): %u impact(s) rejected, speed change %.1f km/h\n",
		       calibrated ? "calibrated: horizontal" : "learning: whole vector", st.impacts_rejected,
		       st.last_impact_dv_kmh);
		assert_null(crash_event());
		assert_int_equal(count(ODO_REC_CRASH_TRACE), 0);
		assert_int_equal(st.impacts_rejected, 1);
		assert_true(st.last_impact_dv_kmh < 4);
		assert_int_equal(st.trace.traces, 0);
		odo_engine_close(g.e);
	}
}

static void test_before_calibration(void **state)
{
	(void)state;
	struct rig g;
	rig_open(&g, 0);
	const struct drv_phase ph[] = {
	    {20, 0, 0, 1, 0}, {10, 1.5, 0, 1, 0}, {25, 0, 0, 1, 0}, {20, 0, 0, 0, 0},
	};
	rig_run_at(&g, ph, sizeof(ph) / sizeof(ph[0]), 2, 20.0, 0);
	odo_engine_finish(g.e);
	const struct odo_record *ev = crash_event(); /* the trace's frame says: not calibrated then */
	assert_non_null(ev);
	const struct odo_record *p[64];
	int np = trace_parts(p, 64, ev, ODO_FRAME_SENSOR);
	assert_int_equal(np, 24);
	/* sensor frame: the pulse is along the vehicle's forward axis as the
	 * box sees it: |a| of the lowest sample ~ 20 g */
	double best = 0;
	for (int i = 0; i < np; i++)
		for (int k = 0; k < p[i]->u.crash_trace.n; k++) {
			const struct odo_rec_crash_trace *c = &p[i]->u.crash_trace;
			double m = sqrt((double)c->ax[k] * c->ax[k] + (double)c->ay[k] * c->ay[k] + (double)c->az[k] * c->az[k]);
			if (m > best)
				best = m;
		}
	assert_true(best > 19500 && best < 20600);
	odo_engine_close(g.e);
}

static void test_crash_then_stop(void **state)
{
	(void)state;
	struct rig g;
	rig_open(&g, 1);
	const struct drv_phase ph[] = {
	    {20, 0, 0, 1, 0}, {10, 1.5, 0, 1, 0}, {30, 0, 0, 1, 0}, {5, 0, 0, 1, 0},
	};
	rig_run_at(&g, ph, sizeof(ph) / sizeof(ph[0]), 3, 20.0, 0);
	odo_engine_finish(g.e); /* SIGTERM 5 s after the crash */
	const struct odo_record *ev = crash_event();
	assert_non_null(ev);
	const struct odo_record *p[64];
	int np = trace_parts(p, 64, ev, ODO_FRAME_VEHICLE);
	int total = 0;
	for (int i = 0; i < np; i++) {
		assert_int_equal(p[i]->u.crash_trace.parts, 24); /* as announced */
		total += p[i]->u.crash_trace.n;
	}
	printf("stopped 5 s after the crash: %d part(s) of 24, %d samples\n", np, total);
	/* 15 s before and the 5 s after it, to the last sample */
	assert_true(total >= 1999 && total <= 2001);
	assert_int_equal(np, (total + 127) / 128);
	assert_true(p[np - 1]->u.crash_trace.n < 128);
	struct odo_engine_stats st;
	odo_engine_stats(g.e, &st);
	assert_int_equal(st.trace.short_traces, 1);
	odo_engine_close(g.e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crash_trace_complete), cmocka_unit_test(test_airbag_only),
	    cmocka_unit_test(test_pothole_no_trace),     cmocka_unit_test(test_before_calibration),
	    cmocka_unit_test(test_crash_then_stop),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
