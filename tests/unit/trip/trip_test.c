/*
 * Trip segmentation and summary from a scripted GPS/phone/wiper sequence;
 * every expected value is computed here from the script (own haversine,
 * own stop bookkeeping), following the rules of docs/features.md.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../engine/synth.h"
#include "trip/trip.h"

#define BASE_S 1768381200LL /* Wednesday 2026-01-14 09:00:00 UTC: daylight, rush hour */
#define MAXFIX 2048
#define NS(t)  ((int64_t)(t)*1000000000LL)

struct fixr {
	int t;
	double lat, lon, v, eph;
	int jump; /* an outlier position */
};

static struct fixr fx[MAXFIX];
static int nfx;

/* Script: 10 s parked with jitter, 60 s at 10 m/s, 3 stop-and-go cycles,
 * 30 s at 10 m/s, stop; one outlier fix and one vague fix on the way. */
static void script(void)
{
	uint64_t rng = 99;
	double lat = 48.0, lon = 11.0, v = 0;
	int t = 0;
	nfx = 0;
	for (; t < 10; t++) {
		double jl = t < 9 ? 3 * syn_rand(&rng) : 0, jo = t < 9 ? 3 * syn_rand(&rng) : 0;
		double la = lat, lo = lon;
		syn_step(&la, &lo, 0, jl);
		syn_step(&la, &lo, 90, jo);
		fx[nfx++] = (struct fixr){t, la, lo, 0.1, 4, 0};
	}
	/* speed profile per second */
	double prof[512];
	int np = 0;
	for (int i = 0; i < 60; i++)
		prof[np++] = 10;
	for (int c = 0; c < 3; c++) {
		for (int i = 1; i <= 5; i++)
			prof[np++] = 5.0 - i; /* 4 3 2 1 0 */
		for (int i = 0; i < 10; i++)
			prof[np++] = 0; /* stopped */
		for (int i = 1; i <= 5; i++)
			prof[np++] = i; /* 1..5 */
		for (int i = 0; i < 10; i++)
			prof[np++] = 5;
	}
	for (int i = 0; i < 30; i++)
		prof[np++] = 10;
	for (int i = 1; i <= 5; i++)
		prof[np++] = 10 - 2 * i;
	(void)prof;
	for (int i = 0; i < np && i < 512; i++) {
		/* the car covers (v_prev + v)/2 metres in the second before the fix */
		double vn = prof[i];
		syn_step(&lat, &lon, 0, (v + vn) / 2);
		v = vn;
		int jump = t == 40;
		double eph = t == 50 ? 80 : 4;
		double la = lat, lo = lon;
		if (jump)
			syn_step(&la, &lo, 90, 600);
		fx[nfx++] = (struct fixr){t, la, lo, v, eph, jump};
		t++;
	}
	for (int i = 0; i < 320; i++, t++)
		fx[nfx++] = (struct fixr){t, lat, lon, 0, 4, 0};
}

static void test_trip_summary(void **state)
{
	(void)state;
	script();
	struct odo_trip tr;
	odo_trip_init(&tr, NULL, NULL);
	struct odo_rec_trip_end s;
	int starts = 0, ends = 0, start_t = -1;
	for (int i = 0; i < nfx; i++) {
		int64_t ns = NS(fx[i].t);
		int64_t t_ms = (BASE_S + fx[i].t) * 1000;
		if (fx[i].t == 30)
			odo_trip_wipers(&tr, 1);
		if (fx[i].t == 50)
			odo_trip_wipers(&tr, 0);
		if (fx[i].t == 40)
			odo_trip_phone(&tr, ns, 0, ODO_CALL_HANDHELD, 0);
		if (fx[i].t == 45)
			odo_trip_phone(&tr, ns, 1, ODO_CALL_HANDHELD, 1);
		if (fx[i].t == 46)
			odo_trip_phone(&tr, ns, 1, ODO_CALL_HANDHELD, 0);
		if (fx[i].t == 47)
			odo_trip_phone(&tr, ns, 0, ODO_CALL_HANDHELD, 1);
		if (fx[i].t == 70)
			odo_trip_phone(&tr, ns, 0, ODO_CALL_NONE, 0);
		if (odo_trip_gps(&tr, ns, t_ms, fx[i].lat, fx[i].lon, fx[i].v, fx[i].eph, 1)) {
			starts++;
			start_t = fx[i].t;
			odo_trip_set_id(&tr, 7); /* the caller's (the outbox's) id */
		}
		if (fx[i].t == 40 && tr.open) {
			/* a checkpoint: the summary so far, the trip goes on */
			struct odo_rec_trip_end ck;
			odo_trip_snapshot(&tr, ns, t_ms, &ck);
			assert_int_equal(ck.trip_id, 7);
			assert_int_equal(ck.end_reason, ODO_TRIP_END_RECOVERED);
			assert_int_equal(ck.end_ms, t_ms);
			assert_true(ck.distance_m > 0 && ck.duration_s > 0);
			assert_true(tr.open);
		}
		if (fx[i].t == 60)
			odo_trip_event(&tr, ODO_EV_HARD_BRAKE, 2);
		if (fx[i].t == 61)
			odo_trip_event(&tr, ODO_EV_CORNER_LEFT, 3);
		if (fx[i].t == 62)
			odo_trip_event(&tr, ODO_EV_CORNER_RIGHT, 1); /* moderate: not harsh */
		if (fx[i].t == 63)
			odo_trip_event(&tr, ODO_EV_CRASH, 0);
		if (odo_trip_check_end(&tr, ns, t_ms, &s))
			ends++;
	}
	assert_int_equal(starts, 1);
	assert_int_equal(start_t, 15); /* 2 m/s or more for 5 s */
	assert_int_equal(ends, 1);
	assert_int_equal(s.trip_id, 7);

	/* independent expectations */
	int first_move = -1, last_move = -1;
	double dist = 0, heavy = 0, wiper = 0, moving = 0;
	int stops[64], nst = 0;
	int prev_good = -1;
	double eph_sum = 0;
	int eph_n = 0;
	for (int i = 0; i < nfx; i++) {
		if (fx[i].v >= 2 && first_move < 0)
			first_move = fx[i].t;
		if (fx[i].v >= 0.5)
			last_move = fx[i].t;
		if (i > 0 && fx[i - 1].v >= 0.5 && fx[i].v < 0.5)
			stops[nst++] = fx[i].t;
	}
	for (int i = 0; i < nfx; i++) {
		int in_trip = fx[i].t >= first_move && fx[i].t <= last_move + 300;
		if (in_trip && fx[i].t >= start_t) {
			eph_sum += fx[i].eph;
			eph_n++;
		}
		if (i > 0 && fx[i - 1].t >= first_move && fx[i].t <= last_move + 1 && fx[i - 1].v >= 0.5)
			moving += 1;
		if (fx[i].jump || fx[i].eph > 50)
			continue;
		if (prev_good >= 0 && fx[i].v >= 0.5 && fx[i].t >= first_move) {
			double d = syn_dist(fx[prev_good].lat, fx[prev_good].lon, fx[i].lat, fx[i].lon);
			dist += d;
			int ns = 0;
			for (int k = 0; k < nst; k++)
				ns += stops[k] <= fx[i].t && fx[i].t - stops[k] <= 120;
			if (fx[i].v < 8.33 && ns >= 2)
				heavy += d;
			if (fx[i].t >= 30 &&
			    fx[i].t < 50) /* wipers switched on before fix 30, off before 50 */
				wiper += d;
		}
		prev_good = i;
	}
	printf("distance %.2f (expected %.2f), heavy %.2f (%.2f), wiper %.2f (%.2f), moving %.0f (%.0f)\n",
	       s.distance_m, dist, s.heavy_traffic_m, heavy, s.wiper_m, wiper, s.moving_s, moving);
	assert_true(fabs(s.distance_m - dist) < 0.01);
	assert_true(heavy > 0 && fabs(s.heavy_traffic_m - heavy) < 0.01);
	assert_true(fabs(s.wiper_m - wiper) < 0.01);
	/* start backdated to the motion's start, end at the last moving fix */
	assert_int_equal(s.start_ms, (BASE_S + first_move) * 1000);
	assert_int_equal(s.end_ms, (BASE_S + last_move) * 1000);
	assert_true(fabs(s.duration_s - (last_move - first_move)) < 1e-9);
	assert_true(fabs(s.moving_s - moving) < 1e-9);
	assert_true(fabs(s.idle_s - (s.duration_s - moving)) < 1e-9);
	assert_true(fabs(s.max_speed_mps - 10) < 1e-9);
	assert_true(fabs(s.avg_speed_mps - dist / moving) < 1e-6);
	/* 09:00 UTC on a Wednesday, 48 N 11 E in January: day, rush hour, not weekend night */
	assert_true(s.night_m == 0);
	assert_true(fabs(s.rush_hour_m - s.distance_m) < 1e-9);
	assert_true(s.late_night_weekend_m == 0);
	assert_true(fabs(s.handheld_call_s - 30) < 1e-9);
	assert_true(fabs(s.screen_on_s - 2) < 1e-9);
	assert_int_equal(s.phone_handled_count, 2);
	/* harsh and above in the v1 counters; every grade per grade */
	assert_int_equal(s.hard_brakes, 1);
	assert_int_equal(s.harsh_corners, 1);
	assert_int_equal(s.crashes, 1);
	const int32_t hb[3] = {0, 1, 0}, ra[3] = {0, 0, 0}, hc[3] = {1, 0, 1}, sw[3] = {0, 0, 0};
	assert_memory_equal(s.hard_brakes_g, hb, sizeof(hb));
	assert_memory_equal(s.rapid_accels_g, ra, sizeof(ra));
	assert_memory_equal(s.harsh_corners_g, hc, sizeof(hc));
	assert_memory_equal(s.swerves_g, sw, sizeof(sw));
	assert_int_equal(s.hard_brakes, s.hard_brakes_g[1] + s.hard_brakes_g[2]);
	assert_int_equal(s.harsh_corners, s.harsh_corners_g[1] + s.harsh_corners_g[2]);
	assert_true(isnan(s.avg_rpm));
	assert_true(isnan(s.obd_distance_m));
	assert_true(fabs(s.gps_accuracy_m - eph_sum / eph_n) < 1e-9);
	assert_int_equal(s.has_dtc, 0);
	assert_int_equal(s.end_reason, ODO_TRIP_END_STOPPED);
	/* no accelerometer: the longitudinal smoothness comes from the GPS speed's
	 * derivative (smooth_test checks the values); no jerk, nothing lateral */
	assert_int_equal(s.lon_source, ODO_LSRC_SPEED);
	assert_true(isfinite(s.lon_share[0]) && isfinite(s.lon_p95_g));
	assert_true(isnan(s.mean_abs_jerk) && isnan(s.lat_share[0]) && isnan(s.lat_p95_g));
	assert_true(isfinite(s.speed_sd_mps));
}

static void test_ignition(void **state)
{
	(void)state;
	struct odo_trip tr;
	odo_trip_init(&tr, NULL, NULL);
	struct odo_rec_trip_end s;
	int ended = 0;
	/* engine on at t=5, idles 100 s stationary (still a trip), off at 105 */
	for (int t = 0; t < 200; t++) {
		int64_t ns = NS(t), ms = (BASE_S + t) * 1000;
		if (t >= 5 && t < 105)
			assert_int_equal(odo_trip_rpm(&tr, ns, ms, 750), t == 5);
		else if (t >= 105 && t < 110)
			odo_trip_rpm(&tr, ns, ms, 0);
		odo_trip_obd_speed(&tr, ns, ms, 0);
		if (odo_trip_check_end(&tr, ns, ms, &s)) {
			ended = t;
			break;
		}
	}
	assert_int_equal(ended, 134); /* 30 s after the last running report */
	assert_int_equal(s.start_ms, (BASE_S + 5) * 1000);
	assert_true(fabs(s.duration_s - 99) < 1e-9);
	assert_true(fabs(s.idle_s - 99) < 1e-9);
	assert_true(fabs(s.avg_rpm - 750) < 1e-9);
	assert_true(fabs(s.obd_distance_m) < 1e-9);
	/* no longitudinal signal: the jerk was not measured, it is not 0 */
	assert_true(isnan(s.mean_abs_jerk));
	assert_int_equal(s.end_reason, ODO_TRIP_END_STOPPED);
	/* finish closes an open trip, for the reason given */
	assert_int_equal(odo_trip_rpm(&tr, NS(300), (BASE_S + 300) * 1000, 900), 1);
	odo_trip_set_id(&tr, 2);
	assert_int_equal(odo_trip_finish(&tr, NS(310), (BASE_S + 310) * 1000, ODO_TRIP_END_SHUTDOWN, &s), 1);
	assert_int_equal(s.trip_id, 2);
	assert_int_equal(s.end_reason, ODO_TRIP_END_SHUTDOWN);
	assert_true(fabs(s.duration_s - 10) < 1e-9);
	assert_int_equal(odo_trip_finish(&tr, NS(311), (BASE_S + 311) * 1000, ODO_TRIP_END_SHUTDOWN, &s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_trip_summary),
	    cmocka_unit_test(test_ignition),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
