/* odo-agent — detector core: configuration and dispatch to the detector table. */
#include "detect/detect.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define S struct odo_detect_cfg
/* One graded kind: three levels and their minimum durations (docs/detection.md gives each default's
 * source), hysteresis and refractory time. */
#define GRADED(P, F, NAME, G1, G2, G3, M1, M2, M3)                                                          \
	ODO_CFG_D(P "_g1", S, F.thr_g[0], G1, 0.05, 2, NAME ": grade 1 (moderate) level (g)"),               \
	    ODO_CFG_D(P "_g2", S, F.thr_g[1], G2, 0.05, 2, NAME ": grade 2 (harsh) level (g)"),              \
	    ODO_CFG_D(P "_g3", S, F.thr_g[2], G3, 0.05, 2, NAME ": grade 3 (severe) level (g)"),             \
	    ODO_CFG_D(P "_min_s1", S, F.min_dur_s[0], M1, 0, 10, NAME ": grade 1 minimum duration (s)"),     \
	    ODO_CFG_D(P "_min_s2", S, F.min_dur_s[1], M2, 0, 10, NAME ": grade 2 minimum duration (s)"),     \
	    ODO_CFG_D(P "_min_s3", S, F.min_dur_s[2], M3, 0, 10, NAME ": grade 3 minimum duration (s)"),     \
	    ODO_CFG_D(P "_hyst_g", S, F.hyst_g, "0.05", 0, 1, NAME ": hysteresis (g)"),                      \
	    ODO_CFG_D(P "_refractory_s", S, F.refractory_s, "3", 0, 120, NAME ": refractory time (s)")
const struct odo_cfg_key odo_detect_cfg_keys[] = {
    ODO_CFG_D("lowpass_hz", S, lowpass_hz, "1.5", 0.1, 20,
              "low-pass cut-off on vehicle-frame acceleration (Hz)"),
    GRADED("brake", brake, "hard braking", "0.25", "0.30", "0.45", "0.6", "0.3", "0.3"),
    GRADED("accel", accel, "rapid acceleration", "0.20", "0.25", "0.35", "0.6", "0.3", "0.3"),
    ODO_CFG_D("rebound_s", S, rebound_s, "2", 0, 10,
              "no rapid acceleration this soon after a hard brake ends (s)"),
    GRADED("corner", corner, "harsh cornering", "0.30", "0.40", "0.50", "0.5", "0.5", "0.5"),
    ODO_CFG_D("swerve_g1", S, swerve.thr_g[0], "0.20", 0.05, 2,
              "swerve: lobe level, and grade 1 (moderate) when the smaller lobe peaks there (g)"),
    ODO_CFG_D("swerve_g2", S, swerve.thr_g[1], "0.30", 0.05, 2,
              "swerve: grade 2 (harsh) when both lobes peak at or above this (g)"),
    ODO_CFG_D("swerve_g3", S, swerve.thr_g[2], "0.50", 0.05, 2,
              "swerve: grade 3 (severe) when both lobes peak at or above this (g)"),
    ODO_CFG_D("swerve_min_s", S, swerve.min_dur_s[0], "0.2", 0, 10, "swerve lobe minimum duration (s)"),
    ODO_CFG_D("swerve_hyst_g", S, swerve.hyst_g, "0.05", 0, 1, "swerve lobe hysteresis (g)"),
    ODO_CFG_D("swerve_refractory_s", S, swerve.refractory_s, "3", 0, 120, "swerve refractory time (s)"),
    ODO_CFG_D("swerve_window_s", S, swerve_window_s, "1.5", 0.1, 10,
              "opposite lobe must begin within this of the first (s)"),
    ODO_CFG_D("swerve_max_s", S, swerve_max_s, "2.5", 0.2, 20,
              "longest reversal (both lobes) that is a swerve (s)"),
    ODO_CFG_D("swerve_balance", S, swerve_balance, "0.5", 0, 1,
              "smaller/larger lobe impulse a swerve needs (a lane change's lobes cancel)"),
    ODO_CFG_D("combine_s", S, combine_s, "1", 0, 10,
              "a brake/acceleration within this of a corner of at least its grade is part of the corner (s); "
              "0: report both"),
    ODO_CFG_D("crash_g", S, crash_g, "2.5", 0.5, 16, "crash: dynamic acceleration magnitude (g)"),
    ODO_CFG_D("crash_dv_kmh", S, crash_dv_kmh, "8", 0, 100,
              "crash: an impact counts when the speed changes by at least this within crash_dv_window_s "
              "(km/h; 49 CFR 563.5's EDR trigger, 8 km/h in 150 ms; 0 = every impact)"),
    ODO_CFG_D("crash_dv_window_s", S, crash_dv_window_s, "0.15", 0.02, 0.3,
              "crash: the window of that speed change (s)"),
    ODO_CFG_D("crash_fuse_s", S, crash_fuse_s, "2", 0, 30,
              "accel crash and airbag signal within this are one crash (s)"),
    ODO_CFG_D("speed_brake_g1", S, speed_brake.thr_g[0], "0.23", 0.05, 2,
              "fallback hard braking from d(speed)/dt: grade 1 level (g)"),
    ODO_CFG_D("speed_brake_g2", S, speed_brake.thr_g[1], "0.32", 0.05, 2,
              "fallback hard braking: grade 2 level (g)"),
    ODO_CFG_D("speed_brake_g3", S, speed_brake.thr_g[2], "0.41", 0.05, 2,
              "fallback hard braking: grade 3 level (g)"),
    ODO_CFG_D("speed_accel_g1", S, speed_accel.thr_g[0], "0.20", 0.05, 2,
              "fallback rapid acceleration from d(speed)/dt: grade 1 level (g)"),
    ODO_CFG_D("speed_accel_g2", S, speed_accel.thr_g[1], "0.25", 0.05, 2,
              "fallback rapid acceleration: grade 2 level (g)"),
    ODO_CFG_D("speed_accel_g3", S, speed_accel.thr_g[2], "0.35", 0.05, 2,
              "fallback rapid acceleration: grade 3 level (g)"),
    ODO_CFG_D("speed_min_s", S, speed_brake.min_dur_s[0], "1.0", 0, 10,
              "fallback minimum duration, every grade (s)"),
    ODO_CFG_D("speed_window_s", S, speed_window_s, "1.0", 0.2, 10, "fallback derivative span (s)"),
    ODO_CFG_D("phone_min_speed_mps", S, phone_min_speed_mps, "2.78", 0, 50,
              "phone distraction counts above this speed (m/s)"),
    ODO_CFG_D("phone_min_s", S, phone_min_dur_s, "2", 0, 600, "shortest phone distraction reported (s)"),
    ODO_CFG_D("min_speed_mps", S, min_speed_mps, "2", 0, 50,
              "cornering/swerving need this speed when speed is known (m/s)"),
    /* version 1 keys: one level per kind became three grades (a fleet that
     * changed one must decide which grade it meant) */
    ODO_CFG_GONE("brake_g", "brake_g1, brake_g2, brake_g3 (harsh = brake_g2; docs/detection.md)"),
    ODO_CFG_GONE("brake_min_s", "brake_min_s1, brake_min_s2, brake_min_s3 (docs/detection.md)"),
    ODO_CFG_GONE("accel_g", "accel_g1, accel_g2, accel_g3 (harsh = accel_g2; docs/detection.md)"),
    ODO_CFG_GONE("accel_min_s", "accel_min_s1, accel_min_s2, accel_min_s3 (docs/detection.md)"),
    ODO_CFG_GONE("corner_g", "corner_g1, corner_g2, corner_g3 (harsh = corner_g2; docs/detection.md)"),
    ODO_CFG_GONE("corner_min_s", "corner_min_s1, corner_min_s2, corner_min_s3 (docs/detection.md)"),
    ODO_CFG_GONE("swerve_g", "swerve_g1, swerve_g2, swerve_g3 (harsh = swerve_g2; docs/detection.md)"),
    ODO_CFG_GONE("speed_brake_g", "speed_brake_g1, speed_brake_g2, speed_brake_g3 (docs/detection.md)"),
    ODO_CFG_GONE("speed_accel_g", "speed_accel_g1, speed_accel_g2, speed_accel_g3 (docs/detection.md)"),
};
#undef GRADED
#undef S
const size_t odo_detect_cfg_nkeys = ODO_ARRAY_LEN(odo_detect_cfg_keys);

void odo_detect_cfg_defaults(struct odo_detect_cfg *c)
{
	/* The tables' defaults are tested; a failure leaves *c zeroed. */
	(void)odo_config_section_defaults("detect", odo_detect_cfg_keys, odo_detect_cfg_nkeys, c, sizeof(*c));
}

int odo_detect_cfg_check(const struct odo_detect_cfg *c, char *why, size_t len)
{
	static const struct {
		const char *key;
		size_t off;
	} kinds[] = {
	    {"brake", offsetof(struct odo_detect_cfg, brake)},
	    {"accel", offsetof(struct odo_detect_cfg, accel)},
	    {"corner", offsetof(struct odo_detect_cfg, corner)},
	    {"swerve", offsetof(struct odo_detect_cfg, swerve)},
	    {"speed_brake", offsetof(struct odo_detect_cfg, speed_brake)},
	    {"speed_accel", offsetof(struct odo_detect_cfg, speed_accel)},
	};
	for (size_t i = 0; i < ODO_ARRAY_LEN(kinds); i++) {
		const struct odo_det_thr *p = (const void *)((const char *)c + kinds[i].off);
		for (int k = 1; k < ODO_DET_GRADES; k++)
			if (!(p->thr_g[k] > p->thr_g[k - 1])) {
				if (why && len)
					snprintf(why, len, "detect.%s_g%d (%g) must be above detect.%s_g%d (%g)",
					         kinds[i].key, k + 1, p->thr_g[k], kinds[i].key, k, p->thr_g[k - 1]);
				return ODO_ERR_CONFIG;
			}
	}
	return ODO_OK;
}

const struct odo_detector_ops *const odo_detectors[] = {
    &odo_det_longitudinal, &odo_det_corner, &odo_det_swerve, &odo_det_crash, &odo_det_speed,
    &odo_det_distraction,  NULL,
};

void odo_detect_init(struct odo_detect *d, const struct odo_detect_cfg *cfg, odo_det_emit_fn emit, void *ctx)
{
	memset(d, 0, sizeof(*d));
	if (cfg)
		d->cfg = *cfg;
	else
		odo_detect_cfg_defaults(&d->cfg);
	d->emit = emit;
	d->emit_ctx = ctx;
	for (size_t i = 0; odo_detectors[i]; i++)
		if (odo_detectors[i]->init)
			odo_detectors[i]->init(d);
}

/* Every detector's hook H, in table order. */
#define EACH(H, ...)                                                                                               \
	do {                                                                                                       \
		for (size_t i_ = 0; odo_detectors[i_]; i_++)                                                       \
			if (odo_detectors[i_]->H)                                                                  \
				odo_detectors[i_]->H(__VA_ARGS__);                                                 \
	} while (0)

void odo_detect_sample(struct odo_detect *d, const struct odo_det_sample *s)
{
	EACH(on_sample, d, s);
}

void odo_detect_speed(struct odo_detect *d, int64_t mono_ns, double speed_mps, int accel_live)
{
	if (!isfinite(speed_mps))
		return;
	EACH(on_speed, d, mono_ns, speed_mps, accel_live);
}

void odo_detect_phone(struct odo_detect *d, int64_t mono_ns, int active, double speed_mps)
{
	EACH(on_phone, d, mono_ns, active, speed_mps);
}

void odo_detect_airbag(struct odo_detect *d, int64_t mono_ns)
{
	EACH(on_airbag, d, mono_ns);
}

void odo_detect_impact(struct odo_detect *d, const struct odo_det_impact *s)
{
	EACH(on_impact, d, s);
}

void odo_detect_tick(struct odo_detect *d, int64_t mono_ns)
{
	EACH(on_tick, d, mono_ns);
}

void odo_detect_flush(struct odo_detect *d, int64_t mono_ns)
{
	/* a zero sample ends every open excursion at mono_ns and the phone is
	 * put down; then time runs on until nothing is held back any more
	 * (corners, crashes); last, each detector decides what it still holds */
	struct odo_det_sample s = {.mono_ns = mono_ns, .lon = 0, .lat = 0, .speed_mps = NAN};
	odo_detect_sample(d, &s);
	struct odo_det_impact z = {.mono_ns = mono_ns};
	odo_detect_impact(d, &z);
	odo_detect_phone(d, mono_ns, 0, NAN);
	odo_detect_tick(d, INT64_MAX);
	EACH(on_flush, d, INT64_MAX);
}

uint32_t odo_detect_combined(const struct odo_detect *d)
{
	return d->combine.combined;
}

uint32_t odo_detect_impacts_rejected(const struct odo_detect *d)
{
	return d->crash.rejected;
}

double odo_detect_last_dv(const struct odo_detect *d)
{
	return d->crash.dv_last;
}
