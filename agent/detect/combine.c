/*
 * odo-agent detectors — the combining stage: one manoeuvre, one event.
 *
 * Swerve and corner. A lane change's first lobe can last long enough to be
 * a harsh corner on its own; so a corner is held until no swerve can claim
 * it any more (swerve_window_s + swerve_max_s after it ended), and a swerve
 * removes the held corners inside it.
 *
 * Corner and brake/acceleration. Drivers brake into a turn and accelerate
 * out of it; the turn is one manoeuvre and a corner event already reports
 * it (its peak is the grip the driver used). A brake or acceleration that
 * overlaps a corner event of at least its own grade, give or take
 * combine_s, is therefore folded into the corner, not reported as a second
 * event; one of a higher grade than the corner is reported on its own.
 * Only a corner that is reported claims one: a lobe that a swerve takes
 * over does not (braking while swerving is reported). So a brake or
 * acceleration is held while a corner could still claim it: until combine_s
 * after it ended, and while a corner under way began in time or a held
 * corner overlaps it.
 *
 * The detectors hand their events and corner runs in (run.h); the decisions
 * go out through detect__emit().
 */
#include "detect/run.h"

/* ---- corners and swerves ---- */

/* Report the oldest n held corners; each is remembered for the brakes and
 * accelerations of the same manoeuvre. */
static void corners_out(struct odo_detect *d, int n)
{
	struct odo_det_combine *c = &d->combine;
	for (int i = 0; i < n && i < c->ncorner; i++) {
		detect__emit(d, &c->corner[i]);
		for (int j = ODO_DET_CORNER_IV - 1; j > 0; j--) {
			c->corner_iv[j][0] = c->corner_iv[j - 1][0];
			c->corner_iv[j][1] = c->corner_iv[j - 1][1];
			c->corner_iv_grade[j] = c->corner_iv_grade[j - 1];
		}
		c->corner_iv[0][0] = c->corner[i].start_ns;
		c->corner_iv[0][1] = c->corner[i].end_ns;
		c->corner_iv_grade[0] = c->corner[i].grade;
	}
	int k = n < c->ncorner ? n : c->ncorner;
	for (int i = k; i < c->ncorner; i++)
		c->corner[i - k] = c->corner[i];
	c->ncorner -= k;
}

void detect__combine_corner(struct odo_detect *d, const struct odo_det_event *ev)
{
	struct odo_det_combine *c = &d->combine;
	if (c->ncorner == ODO_DET_CORNER_HELD)
		corners_out(d, 1);
	c->corner[c->ncorner++] = *ev;
}

void detect__combine_corner_run(struct odo_detect *d, int side, int active, int64_t start_ns, int grade)
{
	d->combine.run_active[side] = active;
	d->combine.run_start_ns[side] = start_ns;
	d->combine.run_grade[side] = (uint8_t)grade;
}

void detect__combine_release_corners(struct odo_detect *d, int64_t t)
{
	int64_t hold = (int64_t)((d->cfg.swerve_window_s + d->cfg.swerve_max_s) * 1e9);
	while (d->combine.ncorner && t - d->combine.corner[0].end_ns > hold)
		corners_out(d, 1);
}

void detect__combine_swerve(struct odo_detect *d, const struct odo_det_event *ev)
{
	struct odo_det_combine *c = &d->combine;
	int64_t window = (int64_t)(d->cfg.swerve_window_s * 1e9);
	/* a corner inside the reversal was part of the swerve */
	int keep = 0;
	for (int i = 0; i < c->ncorner; i++)
		if (c->corner[i].start_ns < ev->start_ns - window)
			c->corner[keep++] = c->corner[i];
	c->ncorner = keep;
	detect__emit(d, ev);
}

/* ---- brakes and accelerations ---- */

static int overlaps(int64_t a0, int64_t a1, const struct odo_det_event *ev, int64_t c)
{
	return a0 <= ev->end_ns + c && ev->start_ns <= a1 + c;
}

/* A reported corner of at least ev's grade claims ev (a severe stop in a
 * moderate bend is a braking event of its own). final: the decision cannot
 * wait any more (hold buffer full, end of the drive): a held corner and a
 * corner under way that has already reached a grade count as reported. */
static int claimed(const struct odo_detect *d, const struct odo_det_event *ev, int64_t t, int final)
{
	const struct odo_det_combine *c = &d->combine;
	int64_t w = (int64_t)(d->cfg.combine_s * 1e9);
	(void)t;
	for (int i = 0; i < ODO_DET_CORNER_IV; i++)
		if (c->corner_iv[i][1] && c->corner_iv_grade[i] >= ev->grade &&
		    overlaps(c->corner_iv[i][0], c->corner_iv[i][1], ev, w))
			return 1;
	if (!final)
		return 0;
	for (int i = 0; i < c->ncorner; i++)
		if (c->corner[i].grade >= ev->grade && overlaps(c->corner[i].start_ns, c->corner[i].end_ns, ev, w))
			return 1;
	for (int k = 0; k < 2; k++)
		if (c->run_active[k] && c->run_start_ns[k] <= ev->end_ns + w && c->run_grade[k] &&
		    c->run_grade[k] >= ev->grade)
			return 1;
	return 0;
}

/* A corner could still claim ev. */
static int claimable(const struct odo_detect *d, const struct odo_det_event *ev, int64_t t)
{
	const struct odo_det_combine *c = &d->combine;
	int64_t w = (int64_t)(d->cfg.combine_s * 1e9);
	if (t - ev->end_ns <= w)
		return 1;
	for (int k = 0; k < 2; k++)
		if (c->run_active[k] && c->run_start_ns[k] <= ev->end_ns + w)
			return 1;
	for (int i = 0; i < c->ncorner; i++)
		if (c->corner[i].grade >= ev->grade && overlaps(c->corner[i].start_ns, c->corner[i].end_ns, ev, w))
			return 1;
	return 0;
}

/* Decide the oldest held event now. */
static void lon_decide(struct odo_detect *d, int64_t t, int final)
{
	struct odo_det_combine *c = &d->combine;
	if (claimed(d, &c->lon[0], t, final))
		c->combined++;
	else
		detect__emit(d, &c->lon[0]);
	for (int i = 1; i < c->nlon; i++)
		c->lon[i - 1] = c->lon[i];
	c->nlon--;
}

void detect__combine_lon(struct odo_detect *d, const struct odo_det_event *ev, int64_t t)
{
	struct odo_det_combine *c = &d->combine;
	if (d->cfg.combine_s <= 0) {
		detect__emit(d, ev);
		return;
	}
	if (c->nlon == ODO_DET_LON_HELD)
		lon_decide(d, t, 1); /* full: the oldest is decided now */
	c->lon[c->nlon++] = *ev;
}

void detect__combine_release_lon(struct odo_detect *d, int64_t t)
{
	while (d->combine.nlon && !claimable(d, &d->combine.lon[0], t))
		lon_decide(d, t, 0);
}

void detect__combine_flush_lon(struct odo_detect *d, int64_t t)
{
	while (d->combine.nlon)
		lon_decide(d, t, 1);
}
