/*
 * The engine end to end through its sink: a synthetic drive with a known
 * mounting, known manoeuvres and known timing; the records it emits are
 * checked against the generator's own truth (distance integrated from the
 * kinematics, times from the script), not against the engine's code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "drive.h"
#include "odo/geo.h"

#define MAXREC      4096
#define BASE_MS     1768010400000LL /* Saturday 2026-01-10 02:00:00 UTC */
#define RTC_SKEW_MS 7000            /* the system clock is 7 s fast: GPS time must win */

static struct odo_record recs[MAXREC];
static int nrec;

static int collect(void *ctx, struct odo_record *r)
{
	(void)ctx;
	assert_int_equal(r->seq, 0);
	/* every record is valid on the wire (once the store gives it a seq) */
	struct odo_record c = *r, back;
	c.seq = 1;
	uint8_t buf[ODO_WIRE_MAX_RECORD_BYTES];
	size_t len;
	struct odo_wire_error werr;
	int rc = odo_wire_encode_record(&c, buf, sizeof(buf), &len);
	if (rc)
		fprintf(stderr, "record %s does not encode: %s\n", odo_record_kind_name(r->kind),
		        odo_strerror(rc));
	assert_int_equal(rc, ODO_OK);
	rc = odo_wire_decode_record(buf, len, &back, &werr);
	if (rc)
		fprintf(stderr, "record %s does not decode: %s\n", odo_record_kind_name(r->kind), werr.msg);
	assert_int_equal(rc, ODO_OK);
	assert_int_equal(back.kind, r->kind);
	assert_int_equal(back.t_ms, r->t_ms);
	if (nrec < MAXREC)
		recs[nrec++] = *r;
	return 0;
}

static int count_kind(int kind)
{
	int n = 0;
	for (int i = 0; i < nrec; i++)
		n += recs[i].kind == kind;
	return n;
}

static const struct odo_record *find_event(int kind, int nth)
{
	for (int i = 0; i < nrec; i++)
		if (recs[i].kind == ODO_REC_EVENT && recs[i].u.event.kind == kind && nth-- == 0)
			return &recs[i];
	return NULL;
}

static void test_drive(void **state)
{
	(void)state;
	nrec = 0;
	struct odo_clock clk;
	odo_clock_init_virtual(&clk, (BASE_MS + RTC_SKEW_MS) * ODO_NS_PER_MS, 0);
	char statep[] = "/tmp/odo-engine-test-XXXXXX";
	int fd = mkstemp(statep);
	assert_true(fd >= 0);
	close(fd);
	unlink(statep);
	struct odo_engine *e;
	assert_int_equal(odo_engine_open(NULL, &clk, NULL, collect, NULL, statep, &e), ODO_OK);
	double M[3][3];
	syn_rot(-120, 15, 8, M); /* the box, mounted askew */
	struct drv d;
	drv_init(&d, &clk, e, M, BASE_MS);

	const struct drv_phase start[] = {{20, 0, 0, 1, 0}, {10, 1.0, 0, 1, 0}};
	for (size_t i = 0; i < 2; i++)
		drv_run(&d, &start[i]);
	drv_warmup(&d, 12);
	struct odo_engine_stats st;
	odo_engine_stats(e, &st);
	assert_true(st.calib_ready);
	printf("mounting error %.2f deg, confidence %.2f\n", syn_angle(st.R, M), st.calib_confidence);
	assert_true(syn_angle(st.R, M) < 2.0);
	assert_int_equal(access(statep, R_OK), 0); /* persisted when learnt */
	for (int k = 1; k <= ODO_EV__MAX; k++)
		assert_int_equal(st.events[k], 0); /* gentle driving: no events */

	double v_brake = d.v, t_brake = d.t + 5;
	const struct drv_phase man[] = {
	    {5, 0, 0, 1, 0},   {1.5, -4.4, 0, 1, 0}, {5, 0, 0, 1, 0}, /* hard brake 0.45 g */
	    {2, 3.0, 0, 1, 0}, {5, 0, 0, 1, 0},                       /* rapid accel 0.31 g */
	};
	for (size_t i = 0; i < sizeof(man) / sizeof(man[0]); i++)
		drv_run(&d, &man[i]);
	double t_turn = d.t;
	double w_turn = 0.4 * SYN_G / d.v * 180 / M_PI; /* 0.4 g to the right */
	const struct drv_phase turn = {3, 0, w_turn, 1, 0};
	drv_run(&d, &turn);
	const struct drv_phase rest[] = {
	    {5, 0, 0, 1, 0}, {20, 0, 0, 1, 1}, {5, 0, 0, 1, 0}, {12, -1.0, 0, 1, 0}};
	for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++)
		drv_run(&d, &rest[i]);
	/* a DTC while stopped */
	struct odo_rec_dtc dtc;
	memset(&dtc, 0, sizeof(dtc));
	dtc.ecu = 0x7E8;
	dtc.mil = 1;
	dtc.n[ODO_DTC_STORED] = 1;
	strcpy(dtc.codes[ODO_DTC_STORED][0], "P0301");
	d.sink.dtc(d.sink.ctx, odo_clock_mono_ns(&clk), &dtc);
	const struct drv_phase stop[] = {{10, 0, 0, 1, 0}, {40, 0, 0, 0, 0}};
	for (size_t i = 0; i < 2; i++)
		drv_run(&d, &stop[i]);

	/* trips */
	assert_int_equal(count_kind(ODO_REC_TRIP_START), 1);
	assert_int_equal(count_kind(ODO_REC_TRIP_END), 1);
	const struct odo_record *ts = NULL, *te = NULL;
	for (int i = 0; i < nrec; i++) {
		if (recs[i].kind == ODO_REC_TRIP_START)
			ts = &recs[i];
		if (recs[i].kind == ODO_REC_TRIP_END)
			te = &recs[i];
	}
	/* started by the first RPM report (0.5 s), before any fix: system time */
	assert_int_equal(ts->tsrc, ODO_TSRC_SYSTEM);
	assert_int_equal(ts->t_ms, BASE_MS + 500 + RTC_SKEW_MS);
	const struct odo_rec_trip_end *s = &te->u.trip_end;
	assert_int_equal(s->trip_id, ts->u.trip_start.trip_id);
	assert_int_equal(te->tsrc, ODO_TSRC_GPS);
	/* ended at the last RPM report with the engine running */
	assert_int_equal(s->end_ms, BASE_MS + llround(d.tr.t_last_rpm_on * 1000));
	assert_true(fabs(s->duration_s - (d.tr.t_last_rpm_on - 0.5)) < 1e-6);
	printf("distance %.1f m (truth %.1f), obd %.1f, moving %.1f s (truth %.1f), duration %.1f s\n",
	       s->distance_m, d.tr.dist_m, s->obd_distance_m, s->moving_s, d.tr.moving_s, s->duration_s);
	assert_true(fabs(s->distance_m - d.tr.dist_m) < 0.005 * d.tr.dist_m + 2);
	assert_true(fabs(s->obd_distance_m - d.tr.dist_m) < 0.005 * d.tr.dist_m + 2);
	assert_true(fabs(s->moving_s - d.tr.moving_s) < 1e-6);
	assert_true(fabs(s->idle_s - (s->duration_s - d.tr.moving_s)) < 1e-6);
	assert_true(fabs(s->avg_speed_mps - s->distance_m / s->moving_s) < 1e-9);
	assert_true(fabs(s->max_speed_mps - d.tr.max_speed) < 0.02);
	assert_true(fabs(s->avg_rpm - d.tr.rpm_sum / d.tr.rpm_n) < 1e-6);
	/* Saturday 02:00-02:10 UTC in Berlin in January: night, late-night weekend, no rush hour */
	assert_true(fabs(s->night_m - s->distance_m) < 1e-6);
	assert_true(fabs(s->late_night_weekend_m - s->distance_m) < 1e-6);
	assert_true(s->rush_hour_m == 0);
	assert_true(s->heavy_traffic_m == 0);
	assert_true(isnan(s->wiper_m)); /* no wiper signal */
	assert_true(fabs(s->screen_on_s - 20) < 1e-6);
	assert_true(s->handheld_call_s == 0);
	assert_int_equal(s->hard_brakes, 1);
	assert_int_equal(s->rapid_accels, 1);
	assert_int_equal(s->harsh_corners, 1);
	assert_int_equal(s->swerves, 0);
	assert_int_equal(s->crashes, 0);
	assert_true(fabs(s->gps_accuracy_m - 5) < 1e-9);
	assert_true(s->mean_abs_jerk > 0);
	/* the mounting was learnt during the trip: speed derivative, then accelerometer */
	assert_int_equal(s->lon_source, ODO_LSRC_BOTH);
	assert_true(s->lon_moving_s > s->lat_moving_s && s->lat_moving_s > 60);
	assert_true(s->lon_moving_s <= s->moving_s + 1);
	/* 0.45 g brake 1.5 s, 0.31 g for 2 s, 0.4 g turn 3 s after calibration: beyond the
	 * moderate levels for about 6.5 s of the accelerometer's time */
	double acc_lon_s = s->lon_share[0] * s->lon_moving_s, lat_s = s->lat_share[0] * s->lat_moving_s;
	printf("lo1 %.3f (%.1f s) la1 %.3f (%.1f s) lop %.3f lap %.3f vsd %.2f\n", s->lon_share[0], acc_lon_s,
	       s->lat_share[0], lat_s, s->lon_p95_g, s->lat_p95_g, s->speed_sd_mps);
	assert_true(acc_lon_s > 3 && acc_lon_s < 6);
	assert_true(lat_s > 2 && lat_s < 4);
	assert_true(s->lat_share[2] == 0 && s->lon_share[1] > 0 && s->lon_share[2] == 0); /* 0.449 g < 0.45 */
	assert_true(isfinite(s->lon_p95_g) && isfinite(s->lat_p95_g) && isfinite(s->speed_sd_mps));
	assert_int_equal(s->phone_measured, 1);
	assert_int_equal(s->has_dtc, 1);
	assert_int_equal(s->airbag_deployed, 0);

	/* events */
	const struct odo_record *b = find_event(ODO_EV_HARD_BRAKE, 0);
	assert_non_null(b);
	assert_int_equal(b->tsrc, ODO_TSRC_GPS);
	printf("brake at %+.3f s, %lld ms, peak %.3f g\n", (double)(b->t_ms - BASE_MS) / 1000 - t_brake,
	       (long long)b->u.event.duration_ms, b->u.event.peak_g);
	assert_true(fabs((double)(b->t_ms - BASE_MS) / 1000 - t_brake) < 0.3); /* low-pass delay */
	assert_true(fabs(b->u.event.peak_g + 4.4 / SYN_G) < 0.04);
	assert_true(b->u.event.duration_ms > 1000 && b->u.event.duration_ms < 2200);
	assert_true(fabs(b->u.event.speed_before_mps - v_brake) < 1.0);
	assert_true(b->u.event.speed_after_mps < b->u.event.speed_before_mps - 4);
	assert_true(odo_geo_valid(b->u.event.lat, b->u.event.lon));
	assert_true(isfinite(b->u.event.heading_deg));
	assert_int_equal(b->u.event.trip_id, s->trip_id);
	const struct odo_record *a = find_event(ODO_EV_RAPID_ACCEL, 0);
	assert_non_null(a);
	assert_true(fabs(a->u.event.peak_g - 3.0 / SYN_G) < 0.04);
	const struct odo_record *c = find_event(ODO_EV_CORNER_RIGHT, 0);
	assert_non_null(c);
	assert_true(fabs((double)(c->t_ms - BASE_MS) / 1000 - t_turn) < 0.4);
	assert_true(fabs(c->u.event.peak_g - 0.4) < 0.04);
	const struct odo_record *p = find_event(ODO_EV_PHONE_DISTRACTION, 0);
	assert_non_null(p);
	assert_int_equal(p->u.event.duration_ms, 20000);
	assert_int_equal(count_kind(ODO_REC_PHONE), 2);
	assert_int_equal(count_kind(ODO_REC_DTC), 1);
	int samples = count_kind(ODO_REC_SAMPLE);
	/* every 10 s from the trip's start (first tick at 1 s) until the tick that ends it,
	 * the first whole second at least 30 s after the last running RPM report */
	double t_close = ceil(d.tr.t_last_rpm_on + 30);
	assert_int_equal(samples, (int)floor((t_close - 1) / 10) + 1);
	for (int i = 0; i < nrec; i++)
		if (recs[i].kind == ODO_REC_SAMPLE && recs[i].t_ms > BASE_MS + llround(t_brake * 1000))
			assert_true(isfinite(recs[i].u.sample.ax_g) && isfinite(recs[i].u.sample.lat));

	odo_engine_close(e);
	/* a new engine restores the mounting from the state file */
	assert_int_equal(odo_engine_open(NULL, &clk, NULL, collect, NULL, statep, &e), ODO_OK);
	odo_engine_stats(e, &st);
	assert_true(st.calib_ready);
	assert_true(syn_angle(st.R, M) < 2.0);
	odo_engine_close(e);
	unlink(statep);
}

/* A trip started by motion begins when the motion did, before the speed
 * that showed it: its start record carries the very time its end reports,
 * whatever the sub-millisecond phase of the clocks (found by the soak: the
 * two differed by 1 ms when the phases carried). */
static void test_trip_start_time_rounding(void **state)
{
	(void)state;
	nrec = 0;
	struct odo_clock clk;
	odo_clock_init_virtual(&clk, BASE_MS * ODO_NS_PER_MS + 700000, 0); /* system clock at +0.7 ms */
	struct odo_engine *e;
	assert_int_equal(odo_engine_open(NULL, &clk, NULL, collect, NULL, NULL, &e), ODO_OK);
	struct odo_sink sk = odo_engine_sink(e);
	/* 3 m/s from 1.0009 s; the start test passes 5.0005 s into the motion,
	 * where the phases (0.9 + 0.5 + 0.7 ms) carry past a millisecond */
	for (int i = 0; i < 40; i++) {
		int64_t ns = 1000900000 + (i == 0 ? 0 : 5000500000LL + (int64_t)(i - 1) * 1000000000);
		odo_clock_advance(&clk, ns - odo_clock_mono_ns(&clk));
		struct odo_obd_value o = {.mono_ns = ns, .pid = ODO_OBD_SPEED, .value = i < 20 ? 3 : 0};
		sk.obd(sk.ctx, &o);
		odo_engine_tick(e);
	}
	odo_engine_finish(e);
	const struct odo_record *ts = NULL, *te = NULL;
	for (int i = 0; i < nrec; i++) {
		if (recs[i].kind == ODO_REC_TRIP_START)
			ts = &recs[i];
		if (recs[i].kind == ODO_REC_TRIP_END)
			te = &recs[i];
	}
	assert_non_null(ts);
	assert_non_null(te);
	assert_int_equal(ts->tsrc, ODO_TSRC_SYSTEM);
	printf("trip start record %lld, end says %lld\n", (long long)(ts->t_ms - BASE_MS),
	       (long long)(te->u.trip_end.start_ms - BASE_MS));
	assert_int_equal(ts->t_ms, BASE_MS + 1001); /* 1000.9 ms + 0.7 ms */
	assert_int_equal(te->u.trip_end.start_ms, ts->t_ms);
	odo_engine_close(e);
}

/* No accelerometer: braking from the derivative of speed (source SPEED). */
static void test_no_accel_fallback(void **state)
{
	(void)state;
	nrec = 0;
	struct odo_clock clk;
	odo_clock_init_virtual(&clk, BASE_MS * ODO_NS_PER_MS, 0);
	struct odo_engine *e;
	assert_int_equal(odo_engine_open(NULL, &clk, NULL, collect, NULL, NULL, &e), ODO_OK);
	struct odo_sink sk = odo_engine_sink(e);
	double v = 0;
	for (int i = 1; i <= 120; i++) {
		double t = i;
		v = t < 20 ? t : t < 60 ? 20 : t < 64 ? 20 - 4 * (t - 60) : 4;
		odo_clock_advance(&clk, (int64_t)(t * 1e9) - odo_clock_mono_ns(&clk));
		struct odo_obd_value o = {
		    .mono_ns = odo_clock_mono_ns(&clk), .pid = ODO_OBD_SPEED, .value = v};
		sk.obd(sk.ctx, &o);
		if (i == 30 ||
		    i == 40) { /* wipers on for 10 s at 20 m/s, no GPS: wiper distance needs the track */
			struct odo_signal w = {
			    .mono_ns = o.mono_ns, .role = ODO_SIG_WIPERS, .value = i == 30};
			sk.signal(sk.ctx, &w);
		}
		if (i == 100) {
			struct odo_rec_vehicle vin = {.vin = "1HGCM82633A004352", .ecu = 0x7E8};
			sk.vehicle(sk.ctx, o.mono_ns, &vin);
			struct odo_signal ab = {
			    .mono_ns = o.mono_ns, .role = ODO_SIG_AIRBAG_DEPLOYED, .value = 1};
			sk.signal(sk.ctx, &ab);
			sk.signal(sk.ctx, &ab); /* repeated: one deployment */
		}
		odo_engine_tick(e);
	}
	odo_engine_finish(e);
	assert_int_equal(count_kind(ODO_REC_VEHICLE), 1);
	const struct odo_record *cr = find_event(ODO_EV_CRASH, 0);
	assert_non_null(cr);
	assert_null(find_event(ODO_EV_CRASH, 1));
	assert_int_equal(cr->u.event.source, ODO_EVSRC_AIRBAG);
	assert_int_equal(cr->t_ms, BASE_MS + 100000);
	for (int i = 0; i < nrec; i++)
		if (recs[i].kind == ODO_REC_TRIP_END) {
			assert_int_equal(recs[i].u.trip_end.airbag_deployed, 1);
			assert_int_equal(recs[i].u.trip_end.crashes, 1);
			assert_true(recs[i].u.trip_end.wiper_m == 0); /* signal seen, but no GPS track */
			assert_true(isnan(recs[i].u.trip_end.gps_accuracy_m));
			/* OBD only: distance from the track is 0, the OBD integral is the truth:
			 * 0..20 s ramp (from the first report at 1 m/s), 40 s at 20, 4 s down, 56 s at 4 */
			assert_true(recs[i].u.trip_end.distance_m == 0);
			/* the trip starts by motion: 2 m/s or more from t = 2 s held 5 s; the OBD
			 * integral runs from the first report at 2 m/s or more (t = 2) to the end:
			 * trapezoids of the 1 Hz reports, computed here from the profile */
			double truth = 0;
			for (int k = 3; k <= 120; k++) {
				double a = k - 1 < 20   ? k - 1
				           : k - 1 < 60 ? 20
				           : k - 1 < 64 ? 20 - 4 * (k - 1 - 60)
				                        : 4;
				double b = k < 20 ? k : k < 60 ? 20 : k < 64 ? 20 - 4 * (k - 60) : 4;
				truth += (a + b) / 2;
			}
			printf("obd distance %.1f m, truth %.1f m\n", recs[i].u.trip_end.obd_distance_m,
			       truth);
			assert_true(fabs(recs[i].u.trip_end.obd_distance_m - truth) < 1e-6);
		}
	const struct odo_record *b = find_event(ODO_EV_HARD_BRAKE, 0);
	assert_non_null(b);
	assert_int_equal(b->u.event.source, ODO_EVSRC_SPEED);
	/* OBD only: speeds before/after from OBD, no position */
	assert_true(b->u.event.speed_before_mps >= 16 && b->u.event.speed_before_mps <= 20);
	assert_true(b->u.event.speed_after_mps <= 8);
	assert_true(isnan(b->u.event.lat));
	assert_true(fabs(b->u.event.peak_g + 4 / SYN_G) < 0.01);
	assert_int_equal(count_kind(ODO_REC_TRIP_END), 1);
	for (int i = 0; i < nrec; i++)
		if (recs[i].kind == ODO_REC_TRIP_END) {
			/* no trip store: the in-memory counter; ended by finish(): shutdown */
			assert_int_equal(recs[i].u.trip_end.trip_id, 1);
			assert_int_equal(recs[i].u.trip_end.end_reason, ODO_TRIP_END_SHUTDOWN);
			/* no accelerometer: the jerk was not measured (absent, not 0) */
			assert_true(isnan(recs[i].u.trip_end.mean_abs_jerk));
		}
	odo_engine_close(e);
}

/* A fake outbox for trip identity and checkpoints (engine.h). */
struct fake_trips {
	uint64_t next;
	int pending;              /* one trip left open by an "unclean stop" */
	struct odo_record left;
	struct odo_record last_ck;
	int nck;
};

static int ft_next_id(void *ctx, uint64_t *id)
{
	struct fake_trips *f = ctx;
	*id = f->next++;
	return ODO_OK;
}

static int ft_checkpoint(void *ctx, const struct odo_record *r)
{
	struct fake_trips *f = ctx;
	assert_int_equal(r->kind, ODO_REC_TRIP_END);
	if (f->nck)
		assert_true(r->u.trip_end.obd_distance_m >= f->last_ck.u.trip_end.obd_distance_m);
	f->last_ck = *r;
	f->nck++;
	return ODO_OK;
}

static int ft_recover(void *ctx, struct odo_record *r)
{
	struct fake_trips *f = ctx;
	if (!f->pending)
		return ODO_ERR_NOTFOUND;
	f->pending = 0;
	*r = f->left;
	return ODO_OK;
}

/* Trip ids come from the outbox, the open trip is checkpointed every
 * [trip] checkpoint_s, and a trip an unclean stop left open is ended at
 * start-up from its checkpoint ("end": 2); finish() ends one with "end": 1. */
static void test_trip_store(void **state)
{
	(void)state;
	nrec = 0;
	struct odo_clock clk;
	odo_clock_init_virtual(&clk, BASE_MS * ODO_NS_PER_MS, 0);
	struct odo_engine_cfg cfg;
	odo_engine_cfg_defaults(&cfg);
	assert_true(cfg.trip.checkpoint_s == 60); /* the documented default */
	cfg.trip.checkpoint_s = 20;
	struct odo_engine *e;
	assert_int_equal(odo_engine_open(&cfg, &clk, NULL, collect, NULL, NULL, &e), ODO_OK);
	struct fake_trips ft = { .next = 4294967296ULL + 5, .pending = 1 };
	odo_record_init(&ft.left, ODO_REC_TRIP_END);
	ft.left.t_ms = BASE_MS - 3600000;
	ft.left.tsrc = ODO_TSRC_GPS;
	ft.left.u.trip_end.trip_id = 4294967296ULL + 4;
	ft.left.u.trip_end.start_ms = BASE_MS - 4000000;
	ft.left.u.trip_end.end_ms = BASE_MS - 3600000;
	ft.left.u.trip_end.distance_m = 5000;
	ft.left.u.trip_end.end_reason = ODO_TRIP_END_RECOVERED;
	struct odo_engine_trip_store ts = { &ft, ft_next_id, ft_checkpoint, ft_recover };
	assert_int_equal(odo_engine_set_trip_store(e, &ts), 1);
	/* the recovered trip end comes first, as it was checkpointed */
	assert_int_equal(nrec, 1);
	assert_int_equal(recs[0].kind, ODO_REC_TRIP_END);
	assert_true(recs[0].u.trip_end.trip_id == 4294967296ULL + 4);
	assert_int_equal(recs[0].u.trip_end.end_reason, ODO_TRIP_END_RECOVERED);
	assert_int_equal(recs[0].t_ms, BASE_MS - 3600000);
	assert_int_equal(recs[0].tsrc, ODO_TSRC_GPS);
	struct odo_sink sk = odo_engine_sink(e);
	for (int i = 1; i <= 120; i++) {
		odo_clock_advance(&clk, (int64_t)i * ODO_NS_PER_S - odo_clock_mono_ns(&clk));
		struct odo_obd_value o = { .mono_ns = odo_clock_mono_ns(&clk), .pid = ODO_OBD_SPEED, .value = 10 };
		sk.obd(sk.ctx, &o);
		odo_engine_tick(e);
	}
	/* started at 1 s + 5 s: checkpoints at the start and every 20 s of the trip */
	printf("%d checkpoints\n", ft.nck);
	assert_true(ft.nck >= 6 && ft.nck <= 7);
	assert_true(ft.last_ck.u.trip_end.trip_id == 4294967296ULL + 5);
	assert_int_equal(ft.last_ck.u.trip_end.end_reason, ODO_TRIP_END_RECOVERED);
	assert_true(ft.last_ck.u.trip_end.obd_distance_m > 900);
	odo_engine_finish(e);
	int starts = 0;
	for (int i = 0; i < nrec; i++) {
		if (recs[i].kind == ODO_REC_TRIP_START) {
			starts++;
			assert_true(recs[i].u.trip_start.trip_id == 4294967296ULL + 5);
		}
		if (recs[i].kind == ODO_REC_TRIP_END && i > 0) {
			assert_true(recs[i].u.trip_end.trip_id == 4294967296ULL + 5);
			assert_int_equal(recs[i].u.trip_end.end_reason, ODO_TRIP_END_SHUTDOWN);
			assert_true(recs[i].u.trip_end.obd_distance_m >= ft.last_ck.u.trip_end.obd_distance_m);
		}
	}
	assert_int_equal(starts, 1);
	assert_int_equal(count_kind(ODO_REC_TRIP_END), 2);
	struct odo_engine_stats st;
	odo_engine_stats(e, &st);
	assert_int_equal(st.recovered, 1);
	assert_int_equal(st.checkpoints, (uint64_t)ft.nck);
	assert_true(ft.next == 4294967296ULL + 6);
	odo_engine_close(e);
}

static void test_bad_args(void **state)
{
	(void)state;
	struct odo_clock clk;
	odo_clock_init_virtual(&clk, 0, 0);
	struct odo_engine *e;
	struct odo_engine_cfg cfg;
	odo_engine_cfg_defaults(&cfg);
	assert_int_equal(odo_engine_open(&cfg, NULL, NULL, collect, NULL, NULL, &e), ODO_ERR_INVAL);
	assert_int_equal(odo_engine_open(&cfg, &clk, NULL, NULL, NULL, NULL, &e), ODO_ERR_INVAL);
	strcpy(cfg.calib.matrix, "1 2 3");
	assert_int_equal(odo_engine_open(&cfg, &clk, NULL, collect, NULL, NULL, &e), ODO_ERR_CONFIG);
	/* grade levels out of order */
	odo_engine_cfg_defaults(&cfg);
	cfg.detect.corner.thr_g[2] = cfg.detect.corner.thr_g[1] - 0.01;
	assert_int_equal(odo_engine_open(&cfg, &clk, NULL, collect, NULL, NULL, &e), ODO_ERR_CONFIG);
	odo_engine_cfg_defaults(&cfg);
	odo_engine_close(NULL);
	/* the key tables parse their own defaults and a real file */
	struct odo_cfg_section secs[ODO_ENGINE_CFG_NSECTIONS];
	struct odo_cfg_error err;
	odo_engine_cfg_sections(&cfg, secs);
	const char *txt = "[detect]\nbrake_g2 = 0.4\n[calib]\nmatrix = \"0 1 0 -1 0 0 0 0 "
	                  "1\"\n[trip]\nstationary_s = 120\n[engine]\nsample_period_s = 5\n";
	assert_int_equal(
	    odo_config_parse_buf("t.conf", txt, strlen(txt), secs, ODO_ENGINE_CFG_NSECTIONS, &err), ODO_OK);
	assert_true(cfg.detect.brake.thr_g[1] == 0.4 && cfg.detect.accel.thr_g[0] == 0.20);
	assert_true(cfg.trip.stationary_s == 120 && cfg.engine.sample_period_s == 5);
	assert_int_equal(odo_engine_open(&cfg, &clk, NULL, collect, NULL, NULL, &e), ODO_OK);
	struct odo_engine_stats st;
	odo_engine_stats(e, &st);
	assert_true(st.calib_ready && st.calib_fixed);
	odo_engine_close(e);
}

/* A slow accelerometer (25 Hz) cannot see an impact: crash detection from it
 * is off, a 100 Hz one detects the same impact. */
static void test_crash_needs_100hz(void **state)
{
	(void)state;
	for (int hz = 25; hz <= 100; hz += 75) {
		nrec = 0;
		struct odo_clock clk;
		odo_clock_init_virtual(&clk, BASE_MS * ODO_NS_PER_MS, 0);
		struct odo_engine_cfg cfg;
		odo_engine_cfg_defaults(&cfg);
		strcpy(cfg.calib.matrix, "1 0 0 0 1 0 0 0 1");
		struct odo_engine *e;
		assert_int_equal(odo_engine_open(&cfg, &clk, NULL, collect, NULL, NULL, &e), ODO_OK);
		struct odo_sink sink = odo_engine_sink(e);
		int n = 30 * hz;
		for (int i = 0; i < n; i++) {
			int64_t ns = (int64_t)i * ODO_NS_PER_S / hz;
			odo_clock_advance(&clk, ns - odo_clock_mono_ns(&clk));
			/* a 100 ms, 20 g frontal crash pulse at t = 20 s (45 km/h), sampled
			 * where it falls on a sample */
			double t = (double)i / hz, x = t >= 20 && t < 20.1 ? -20 * SYN_G * sin(M_PI * (t - 20) / 0.1) : 0;
			struct odo_accel_sample s = {.mono_ns = ns, .x = (float)x, .y = 0, .z = (float)-SYN_G};
			sink.accel(sink.ctx, &s);
			odo_engine_tick(e);
		}
		odo_engine_finish(e);
		struct odo_engine_stats st;
		odo_engine_stats(e, &st);
		printf("%d Hz: crash detection %s, %llu crash events\n", hz, st.crash_accel_off ? "off" : "on",
		       (unsigned long long)st.events[ODO_EV_CRASH]);
		assert_int_equal(st.crash_accel_off, hz < 100);
		assert_int_equal(st.events[ODO_EV_CRASH], hz < 100 ? 0 : 1);
		odo_engine_close(e);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crash_needs_100hz),
	    cmocka_unit_test(test_drive),
	    cmocka_unit_test(test_no_accel_fallback),
	    cmocka_unit_test(test_trip_start_time_rounding),
	    cmocka_unit_test(test_trip_store),
	    cmocka_unit_test(test_bad_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
