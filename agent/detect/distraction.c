/* odo-agent — phone distraction: the phone in use (screen on, handled, or a
 * handheld call) while the vehicle moves faster than phone_min_speed_mps,
 * for at least phone_min_dur_s. */
#include <math.h>

#include "detect/run.h"

static void phone_update(struct odo_detect *d, int64_t mono_ns, int active, double speed_mps)
{
	struct odo_det_phone_state *st = &d->phone;
	int cond = active && isfinite(speed_mps) && speed_mps >= d->cfg.phone_min_speed_mps;
	if (cond && !st->active) {
		st->active = 1;
		st->start_ns = mono_ns;
	} else if (!cond && st->active) {
		st->active = 0;
		if ((double)(mono_ns - st->start_ns) >= d->cfg.phone_min_dur_s * 1e9) {
			struct odo_det_event ev = {.kind = ODO_EV_PHONE_DISTRACTION,
			                           .source = ODO_EVSRC_PHONE,
			                           .start_ns = st->start_ns,
			                           .end_ns = mono_ns,
			                           .peak_g = NAN,
			                           .mean_g = NAN};
			detect__emit(d, &ev);
		}
	}
}

const struct odo_detector_ops odo_det_distraction = {
    .name = "distraction",
    .on_phone = phone_update,
};
