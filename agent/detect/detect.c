/* odo-agent — detector core: configuration and dispatch to the detector table. */
#include "detect/detect.h"

#include <math.h>
#include <string.h>

#define S struct odo_detect_cfg
const struct odo_cfg_key odo_detect_cfg_keys[] = {
    ODO_CFG_D("lowpass_hz", S, lowpass_hz, "1.5", 0.1, 20,
              "low-pass cut-off on vehicle-frame acceleration (Hz)"),
    ODO_CFG_D("brake_g", S, brake.thr_g, "0.30", 0.05, 2, "hard braking threshold (g)"),
    ODO_CFG_D("brake_hyst_g", S, brake.hyst_g, "0.05", 0, 1, "hard braking hysteresis (g)"),
    ODO_CFG_D("brake_min_s", S, brake.min_dur_s, "0.3", 0, 10, "hard braking minimum duration (s)"),
    ODO_CFG_D("brake_refractory_s", S, brake.refractory_s, "3", 0, 120, "hard braking refractory time (s)"),
    ODO_CFG_D("accel_g", S, accel.thr_g, "0.20", 0.05, 2, "rapid acceleration threshold (g)"),
    ODO_CFG_D("accel_hyst_g", S, accel.hyst_g, "0.05", 0, 1, "rapid acceleration hysteresis (g)"),
    ODO_CFG_D("accel_min_s", S, accel.min_dur_s, "0.3", 0, 10, "rapid acceleration minimum duration (s)"),
    ODO_CFG_D("accel_refractory_s", S, accel.refractory_s, "3", 0, 120,
              "rapid acceleration refractory time (s)"),
    ODO_CFG_D("rebound_s", S, rebound_s, "2", 0, 10,
              "no rapid acceleration this soon after a hard brake ends (s)"),
    ODO_CFG_D("corner_g", S, corner.thr_g, "0.30", 0.05, 2, "harsh cornering threshold (g)"),
    ODO_CFG_D("corner_hyst_g", S, corner.hyst_g, "0.05", 0, 1, "harsh cornering hysteresis (g)"),
    ODO_CFG_D("corner_min_s", S, corner.min_dur_s, "0.5", 0, 10, "harsh cornering minimum duration (s)"),
    ODO_CFG_D("corner_refractory_s", S, corner.refractory_s, "3", 0, 120,
              "harsh cornering refractory time (s)"),
    ODO_CFG_D("swerve_g", S, swerve.thr_g, "0.20", 0.05, 2, "swerve lobe threshold (g)"),
    ODO_CFG_D("swerve_hyst_g", S, swerve.hyst_g, "0.05", 0, 1, "swerve lobe hysteresis (g)"),
    ODO_CFG_D("swerve_min_s", S, swerve.min_dur_s, "0.2", 0, 10, "swerve lobe minimum duration (s)"),
    ODO_CFG_D("swerve_refractory_s", S, swerve.refractory_s, "3", 0, 120, "swerve refractory time (s)"),
    ODO_CFG_D("swerve_window_s", S, swerve_window_s, "1.5", 0.1, 10,
              "opposite lobe must begin within this of the first (s)"),
    ODO_CFG_D("swerve_max_s", S, swerve_max_s, "2.5", 0.2, 20,
              "longest reversal (both lobes) that is a swerve (s)"),
    ODO_CFG_D("swerve_balance", S, swerve_balance, "0.5", 0, 1,
              "smaller/larger lobe impulse a swerve needs (a lane change's lobes cancel)"),
    ODO_CFG_D("combine_s", S, combine_s, "1", 0, 10,
              "a brake/acceleration within this of a harsh corner is part of the corner (s); 0: report both"),
    ODO_CFG_D("crash_g", S, crash_g, "2.5", 0.5, 16, "crash: dynamic acceleration magnitude (g)"),
    ODO_CFG_D("crash_fuse_s", S, crash_fuse_s, "2", 0, 30,
              "accel crash and airbag signal within this are one crash (s)"),
    ODO_CFG_D("speed_brake_g", S, speed_brake_g, "0.25", 0.05, 2,
              "fallback hard braking from d(speed)/dt (g)"),
    ODO_CFG_D("speed_accel_g", S, speed_accel_g, "0.20", 0.05, 2,
              "fallback rapid acceleration from d(speed)/dt (g)"),
    ODO_CFG_D("speed_min_s", S, speed_min_dur_s, "1.0", 0, 10, "fallback minimum duration (s)"),
    ODO_CFG_D("speed_window_s", S, speed_window_s, "1.0", 0.2, 10, "fallback derivative span (s)"),
    ODO_CFG_D("phone_min_speed_mps", S, phone_min_speed_mps, "2.78", 0, 50,
              "phone distraction counts above this speed (m/s)"),
    ODO_CFG_D("phone_min_s", S, phone_min_dur_s, "2", 0, 600, "shortest phone distraction reported (s)"),
    ODO_CFG_D("min_speed_mps", S, min_speed_mps, "2", 0, 50,
              "cornering/swerving need this speed when speed is known (m/s)"),
};
#undef S
const size_t odo_detect_cfg_nkeys = ODO_ARRAY_LEN(odo_detect_cfg_keys);

void odo_detect_cfg_defaults(struct odo_detect_cfg *c)
{
	/* The tables' defaults are tested; a failure leaves *c zeroed. */
	(void)odo_config_section_defaults("detect", odo_detect_cfg_keys, odo_detect_cfg_nkeys, c, sizeof(*c));
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

void odo_detect_tick(struct odo_detect *d, int64_t mono_ns)
{
	EACH(on_tick, d, mono_ns);
}

void odo_detect_flush(struct odo_detect *d, int64_t mono_ns)
{
	/* a zero sample ends every open excursion at mono_ns and the phone is
	 * put down; then time runs on until nothing is held back any more
	 * (corners, crashes); last, each detector decides what it still holds */
	struct odo_det_sample s = {.mono_ns = mono_ns, .lon = 0, .lat = 0, .dyn = 0, .speed_mps = NAN};
	odo_detect_sample(d, &s);
	odo_detect_phone(d, mono_ns, 0, NAN);
	odo_detect_tick(d, INT64_MAX);
	EACH(on_flush, d, INT64_MAX);
}

uint32_t odo_detect_combined(const struct odo_detect *d)
{
	return d->combine.combined;
}
