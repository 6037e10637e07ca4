/* odo — wire-format test fixtures (see wire_fixtures.h). */
#include "wire_fixtures.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void wire_fix_record(struct odo_record *r, int kind, int full, uint64_t seq)
{
	odo_record_init(r, (enum odo_record_kind)kind);
	r->seq = seq;
	r->t_ms = 1763900000000LL + (int64_t)(seq % 100000000) * 1000; /* no overflow for any seq */
	r->tsrc = full ? ODO_TSRC_GPS : ODO_TSRC_SYSTEM;
	switch (kind) {
	case ODO_REC_TRIP_START: {
		struct odo_rec_trip_start *t = &r->u.trip_start;
		t->trip_id = 7;
		if (full) {
			t->lat = 48.137154; /* needs float64 */
			t->lon = -11.5;     /* fits float32 */
		}
		break;
	}
	case ODO_REC_TRIP_END: {
		struct odo_rec_trip_end *t = &r->u.trip_end;
		t->trip_id = 7;
		t->start_ms = 1763899000000LL;
		t->end_ms = 1763900000000LL;
		t->distance_m = 12345.678;
		t->duration_s = 1000.0;
		t->moving_s = 870.25;
		t->idle_s = 129.75;
		t->avg_speed_mps = 14.186;
		t->max_speed_mps = 33.3;
		t->night_m = 0.0;
		t->late_night_weekend_m = 0.5;
		t->rush_hour_m = 4000.0;
		t->heavy_traffic_m = 1234.5;
		t->screen_on_s = 12.0;
		t->handheld_call_s = 0.0;
		t->phone_handled_count = 3;
		t->hard_brakes = 2;
		t->rapid_accels = 1;
		t->harsh_corners = 4;
		t->swerves = 0;
		t->crashes = 0;
		t->has_dtc = 1;
		t->airbag_deployed = 0;
		if (full) {
			t->obd_distance_m = 12400.0;
			t->avg_rpm = 1875.5;
			t->wiper_m = 300.0;
			t->mean_abs_jerk = 0.41;
			t->gps_accuracy_m = 3.2;
			/* version 2 */
			t->end_reason = ODO_TRIP_END_SHUTDOWN;
			t->lon_source = ODO_LSRC_BOTH;
			static const int32_t hb[3] = { 5, 1, 1 }, ra[3] = { 0, 1, 0 }, hc[3] = { 7, 3, 1 },
					     sw[3] = { 1, 0, 0 };
			memcpy(t->hard_brakes_g, hb, sizeof(hb));
			memcpy(t->rapid_accels_g, ra, sizeof(ra));
			memcpy(t->harsh_corners_g, hc, sizeof(hc));
			memcpy(t->swerves_g, sw, sizeof(sw));
			t->lon_share[0] = 0.125, t->lon_share[1] = 0.01, t->lon_share[2] = 0.0;
			t->lat_share[0] = 0.2, t->lat_share[1] = 0.05, t->lat_share[2] = 1.0 / 1024;
			t->lon_p95_g = 0.21;
			t->lat_p95_g = 0.25;
			t->speed_sd_mps = 6.5;
			t->phone_measured = 1;
			t->lon_moving_s = 850.5;
			t->lat_moving_s = 820.0;
		}
		break;
	}
	case ODO_REC_EVENT: {
		struct odo_rec_event *e = &r->u.event;
		e->trip_id = 7;
		e->duration_ms = 1450;
		if (full) {
			e->kind = ODO_EV_HARD_BRAKE;
			e->source = ODO_EVSRC_ACCEL;
			e->peak_g = -0.62;
			e->mean_g = -0.41;
			e->speed_before_mps = 22.5;
			e->speed_after_mps = 4.75;
			e->lat = -33.868820;
			e->lon = 151.209296;
			e->heading_deg = 359.5;
			e->grade = ODO_GRADE_HARSH;
		} else {
			/* phone distraction: the only kind without peak/mean */
			e->kind = ODO_EV_PHONE_DISTRACTION;
			e->source = ODO_EVSRC_PHONE;
		}
		break;
	}
	case ODO_REC_SAMPLE: {
		struct odo_rec_sample *s = &r->u.sample;
		s->trip_id = 7;
		s->fix = full ? ODO_FIX_3D : ODO_FIX_NONE;
		if (full) {
			s->lat = 90.0;
			s->lon = -180.0;
			s->speed_mps = 13.9;
			s->heading_deg = 0.0;
			s->eph_m = 2.5;
			s->alt_m = -12.25;
			s->rpm = 2100.0;
			s->obd_speed_mps = 13.888889;
			s->throttle_pct = 100.0;
			s->coolant_c = -40.0;
			s->fuel_pct = 0.0;
			s->ax_g = -0.125;
			s->ay_g = 0.3;
		}
		break;
	}
	case ODO_REC_DTC: {
		struct odo_rec_dtc *d = &r->u.dtc;
		d->ecu = 0x7E8;
		if (full) {
			d->mil = 1;
			d->n[ODO_DTC_STORED] = 2;
			strcpy(d->codes[ODO_DTC_STORED][0], "P0301");
			strcpy(d->codes[ODO_DTC_STORED][1], "B3A7F");
			d->n[ODO_DTC_PENDING] = 1;
			strcpy(d->codes[ODO_DTC_PENDING][0], "U0100");
			d->n[ODO_DTC_PERMANENT] = 1;
			strcpy(d->codes[ODO_DTC_PERMANENT][0], "C1234");
			d->airbag_deployed = 1;
		}
		break;
	}
	case ODO_REC_VEHICLE:
		r->u.vehicle.ecu = full ? 0x7E8 : 0;
		strcpy(r->u.vehicle.vin, full ? "1HGCM82633A004352" : "");
		break;
	case ODO_REC_PHONE:
		r->u.phone.screen_on = full;
		r->u.phone.call = full ? ODO_CALL_HANDHELD : ODO_CALL_NONE;
		r->u.phone.handled = full;
		break;
	case ODO_REC_STATUS: {
		struct odo_rec_status *s = &r->u.status;
		s->uptime_s = full ? 86400ULL * 400 : 0;
		s->outbox_depth = full ? 123456 : 0;
		s->outbox_oldest_age_s = full ? 3600 : 0;
		s->evicted = full ? 5000000000ULL : 0;
		s->reconnects = full ? 17 : 0;
		s->can_errors = full ? 1 : 0;
		s->gps_errors = full ? 2 : 0;
		s->accel_errors = full ? UINT64_MAX : 0;
		s->fix = full ? ODO_FIX_2D : ODO_FIX_UNKNOWN;
		s->clock_source = full ? ODO_TSRC_GPS : ODO_TSRC_SYSTEM;
		if (full) {
			s->accel_errors = INT64_MAX; /* the largest a bigint holds */
			s->calib_state = ODO_CAL_READY;
			s->calib_confidence = 0.875;
			s->roll_deg = -1.5;
			s->pitch_deg = 3.25;
			s->yaw_deg = -179.75;
			s->calib_ready_s = 412.0;
			s->gps_lag_s = 0.5;
			s->gyro_state = ODO_GYRO_ESTABLISHED;
		}
		break;
	}
	case ODO_REC_TRACK: {
		struct odo_rec_track *k = &r->u.track;
		k->trip_id = 7;
		if (!full) {
			/* one point, speed and error not reported */
			k->n = 1;
			k->pt[0].lat_e6 = 48137154;
			k->pt[0].lon_e6 = 11575490;
			break;
		}
		/* 1 Hz points heading south-west across both zero lines, one
		 * with no speed, one after a 2.5 s gap, the extremes last */
		static const struct odo_track_point pts[] = {
			{ 0, 1200, 800, 139, 3 },       { 10, 1050, 640, 141, 3 },
			{ 10, 880, 470, -1, 4 },        { 25, 460, 95, 150, -1 },
			{ 10, -30, -310, 152, 5 },      { 10, -520, -720, 65535, 65535 },
			{ 65535, -90000000, 180000000, 0, 0 }, { 0, 90000000, -180000000, 1, 1 },
		};
		k->n = ODO_ARRAY_LEN(pts);
		memcpy(k->pt, pts, sizeof(pts));
		break;
	}
	case ODO_REC_CRASH_TRACE: {
		struct odo_rec_crash_trace *c = &r->u.crash_trace;
		c->trip_id = 7;
		c->crash_ms = r->t_ms + 15000;
		c->hz = 100;
		c->frame = full ? ODO_FRAME_VEHICLE : ODO_FRAME_SENSOR;
		if (!full) {
			c->part = 0, c->parts = 1, c->n = 1;
			c->ax[0] = -12, c->ay[0] = 3, c->az[0] = 1001;
			break;
		}
		c->part = 2, c->parts = 30;
		c->n = 16;
		for (int i = 0; i < 16; i++) {
			/* a short deceleration pulse, mg */
			c->ax[i] = (int16_t)(i < 8 ? -400 * i : -3200 + 400 * (i - 8));
			c->ay[i] = (int16_t)(i % 2 ? 150 : -150);
			c->az[i] = (int16_t)(1000 + i);
		}
		c->ax[15] = INT16_MIN;
		c->ay[15] = INT16_MAX;
		c->speed_mps = 13.5;
		c->obd_speed_mps = 13.25;
		c->rpm = 1800.0;
		c->airbag = 1;
		c->lat = 52.520008;
		c->lon = 13.404954;
		break;
	}
	default:
		break;
	}
}

size_t wire_fix_all(struct odo_record *recs)
{
	size_t n = 0;
	uint64_t seq = 5;
	for (int k = 1; k <= ODO_REC__MAX; k++)
		for (int full = 1; full >= 0; full--) {
			wire_fix_record(&recs[n++], k, full, seq);
			seq += (uint64_t)(1 + (k % 3)); /* gaps: evicted records */
		}
	return n;
}

size_t wire_fix_small(struct odo_record *recs)
{
	wire_fix_record(&recs[0], ODO_REC_TRIP_START, 0, 3);
	wire_fix_record(&recs[1], ODO_REC_PHONE, 1, 5);
	return 2;
}

#define WHY(...) (snprintf(why, whylen, __VA_ARGS__), 0)
#define EQU(f) \
	if (a->f != b->f) \
	return WHY("%s: %llu != %llu", #f, (unsigned long long)a->f, (unsigned long long)b->f)
#define EQI(f) \
	if (a->f != b->f) \
	return WHY("%s: %lld != %lld", #f, (long long)a->f, (long long)b->f)
#define EQD(f) \
	if (!(a->f == b->f || (isnan(a->f) && isnan(b->f))) || signbit(a->f) != signbit(b->f)) \
	return WHY("%s: %.17g != %.17g", #f, a->f, b->f)
#define EQS(f) \
	if (strcmp(a->f, b->f) != 0) \
	return WHY("%s: \"%s\" != \"%s\"", #f, a->f, b->f)

int wire_record_eq(const struct odo_record *a, const struct odo_record *b, char *why, size_t whylen)
{
	EQU(seq);
	EQI(t_ms);
	EQU(tsrc);
	EQU(kind);
	switch (a->kind) {
	case ODO_REC_TRIP_START:
		EQU(u.trip_start.trip_id);
		EQD(u.trip_start.lat);
		EQD(u.trip_start.lon);
		break;
	case ODO_REC_TRIP_END:
		EQU(u.trip_end.trip_id);
		EQI(u.trip_end.start_ms);
		EQI(u.trip_end.end_ms);
		EQD(u.trip_end.distance_m);
		EQD(u.trip_end.obd_distance_m);
		EQD(u.trip_end.duration_s);
		EQD(u.trip_end.moving_s);
		EQD(u.trip_end.idle_s);
		EQD(u.trip_end.avg_speed_mps);
		EQD(u.trip_end.max_speed_mps);
		EQD(u.trip_end.avg_rpm);
		EQD(u.trip_end.night_m);
		EQD(u.trip_end.late_night_weekend_m);
		EQD(u.trip_end.rush_hour_m);
		EQD(u.trip_end.heavy_traffic_m);
		EQD(u.trip_end.wiper_m);
		EQD(u.trip_end.screen_on_s);
		EQD(u.trip_end.handheld_call_s);
		EQU(u.trip_end.phone_handled_count);
		EQU(u.trip_end.hard_brakes);
		EQU(u.trip_end.rapid_accels);
		EQU(u.trip_end.harsh_corners);
		EQU(u.trip_end.swerves);
		EQU(u.trip_end.crashes);
		EQD(u.trip_end.mean_abs_jerk);
		EQD(u.trip_end.gps_accuracy_m);
		EQI(u.trip_end.has_dtc);
		EQI(u.trip_end.airbag_deployed);
		EQI(u.trip_end.end_reason);
		EQI(u.trip_end.lon_source);
		for (int g = 0; g < ODO_GRADES; g++) {
			EQI(u.trip_end.hard_brakes_g[g]);
			EQI(u.trip_end.rapid_accels_g[g]);
			EQI(u.trip_end.harsh_corners_g[g]);
			EQI(u.trip_end.swerves_g[g]);
			EQD(u.trip_end.lon_share[g]);
			EQD(u.trip_end.lat_share[g]);
		}
		EQD(u.trip_end.lon_p95_g);
		EQD(u.trip_end.lat_p95_g);
		EQD(u.trip_end.speed_sd_mps);
		EQI(u.trip_end.phone_measured);
		EQD(u.trip_end.lon_moving_s);
		EQD(u.trip_end.lat_moving_s);
		break;
	case ODO_REC_EVENT:
		EQU(u.event.trip_id);
		EQU(u.event.kind);
		EQU(u.event.source);
		EQI(u.event.duration_ms);
		EQD(u.event.peak_g);
		EQD(u.event.mean_g);
		EQD(u.event.speed_before_mps);
		EQD(u.event.speed_after_mps);
		EQD(u.event.lat);
		EQD(u.event.lon);
		EQD(u.event.heading_deg);
		EQI(u.event.grade);
		break;
	case ODO_REC_SAMPLE:
		EQU(u.sample.trip_id);
		EQU(u.sample.fix);
		EQD(u.sample.lat);
		EQD(u.sample.lon);
		EQD(u.sample.speed_mps);
		EQD(u.sample.heading_deg);
		EQD(u.sample.eph_m);
		EQD(u.sample.alt_m);
		EQD(u.sample.rpm);
		EQD(u.sample.obd_speed_mps);
		EQD(u.sample.throttle_pct);
		EQD(u.sample.coolant_c);
		EQD(u.sample.fuel_pct);
		EQD(u.sample.ax_g);
		EQD(u.sample.ay_g);
		break;
	case ODO_REC_DTC:
		EQU(u.dtc.ecu);
		EQI(u.dtc.mil);
		EQI(u.dtc.airbag_deployed);
		for (int l = 0; l < ODO_DTC__LISTS; l++) {
			EQU(u.dtc.n[l]);
			for (int i = 0; i < a->u.dtc.n[l] && i < ODO_WIRE_MAX_DTCS; i++)
				EQS(u.dtc.codes[l][i]);
		}
		break;
	case ODO_REC_VEHICLE:
		EQS(u.vehicle.vin);
		EQU(u.vehicle.ecu);
		break;
	case ODO_REC_PHONE:
		EQI(u.phone.screen_on);
		EQU(u.phone.call);
		EQI(u.phone.handled);
		break;
	case ODO_REC_STATUS:
		EQU(u.status.uptime_s);
		EQU(u.status.outbox_depth);
		EQU(u.status.outbox_oldest_age_s);
		EQU(u.status.evicted);
		EQU(u.status.reconnects);
		EQU(u.status.can_errors);
		EQU(u.status.gps_errors);
		EQU(u.status.accel_errors);
		EQU(u.status.fix);
		EQU(u.status.clock_source);
		EQI(u.status.calib_state);
		EQD(u.status.calib_confidence);
		EQD(u.status.roll_deg);
		EQD(u.status.pitch_deg);
		EQD(u.status.yaw_deg);
		EQD(u.status.calib_ready_s);
		EQD(u.status.gps_lag_s);
		EQI(u.status.gyro_state);
		break;
	case ODO_REC_TRACK:
		EQU(u.track.trip_id);
		EQU(u.track.n);
		for (int i = 0; i < a->u.track.n && i < ODO_WIRE_MAX_TRACK; i++) {
			EQU(u.track.pt[i].dt_ds);
			EQI(u.track.pt[i].lat_e6);
			EQI(u.track.pt[i].lon_e6);
			EQI(u.track.pt[i].v_dms);
			EQI(u.track.pt[i].eph_m);
		}
		break;
	case ODO_REC_CRASH_TRACE:
		EQU(u.crash_trace.trip_id);
		EQI(u.crash_trace.crash_ms);
		EQU(u.crash_trace.part);
		EQU(u.crash_trace.parts);
		EQU(u.crash_trace.hz);
		EQU(u.crash_trace.frame);
		EQU(u.crash_trace.n);
		for (int i = 0; i < a->u.crash_trace.n && i < ODO_WIRE_MAX_TRACE; i++) {
			EQI(u.crash_trace.ax[i]);
			EQI(u.crash_trace.ay[i]);
			EQI(u.crash_trace.az[i]);
		}
		EQD(u.crash_trace.speed_mps);
		EQD(u.crash_trace.obd_speed_mps);
		EQD(u.crash_trace.rpm);
		EQD(u.crash_trace.lat);
		EQD(u.crash_trace.lon);
		EQI(u.crash_trace.airbag);
		break;
	default:
		return WHY("unknown kind %u", a->kind);
	}
	return 1;
}
