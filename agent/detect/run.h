/*
 * odo-agent detectors — what the detector files share (private to
 * agent/detect/): the threshold-excursion helper, the output, and the
 * combining stage's interface. A detector calls these; it never reads
 * another detector's state.
 */
#ifndef ODO_DETECT_RUN_H
#define ODO_DETECT_RUN_H

#include <stdint.h>

#include "detect/detect.h"

/* Shared graded excursion (run.c; docs/detection.md "Grades"). x is the
 * value in the detector's direction (positive = toward the event), in g.
 * An excursion starts at the first x >= thr_g[0] outside the refractory
 * time and continues while x >= thr_g[0] - hyst_g. Inside it, a run at
 * grade k's level starts at x >= thr_g[k-1] and continues while
 * x >= thr_g[k-1] - hyst_g; the longest run per level is kept. When the
 * excursion ends (at t, the first sample below) its grade is the highest k
 * whose longest run lasted min_dur_s[k-1]; with a grade, 1 is returned (r
 * holds start, peak, sum and grade) and the refractory time starts; with
 * none, nothing is reported. */
int detect__run_step(struct odo_det_run *r, const struct odo_det_thr *p, int64_t t, double x);

/* The grade an excursion under way has already reached at t (0: none yet,
 * or no excursion). */
int detect__run_grade_at(const struct odo_det_run *r, const struct odo_det_thr *p, int64_t t);

/* The event of a run that detect__run_step() has just ended; sign +1 or -1
 * turns the detector's direction back into signed g. */
struct odo_det_event detect__run_event(const struct odo_det_run *r, uint8_t kind, uint8_t src, double sign);

/* Report an event (through the engine's emit callback, synchronously). */
void detect__emit(struct odo_detect *d, const struct odo_det_event *ev);

/* ---- the combining stage (combine.c) ----
 * Corner side: 0 right, 1 left. */

/* A harsh corner ended: held while a swerve may claim it; with the hold
 * full, the oldest held corner is reported now. */
void detect__combine_corner(struct odo_detect *d, const struct odo_det_event *ev);
/* Whether a corner is under way on `side`, since when, and the grade it has
 * reached so far. */
void detect__combine_corner_run(struct odo_detect *d, int side, int active, int64_t start_ns, int grade);
/* Report the held corners that no swerve can claim any more at t. */
void detect__combine_release_corners(struct odo_detect *d, int64_t t);
/* A swerve: it claims the held corners inside it, then is reported. */
void detect__combine_swerve(struct odo_detect *d, const struct odo_det_event *ev);
/* A brake or acceleration ended at t: held while a corner may claim it
 * (reported at once with combine_s = 0). */
void detect__combine_lon(struct odo_detect *d, const struct odo_det_event *ev, int64_t t);
/* Decide the held brakes and accelerations no corner can claim any more. */
void detect__combine_release_lon(struct odo_detect *d, int64_t t);
/* End of the drive: decide every held brake and acceleration now. */
void detect__combine_flush_lon(struct odo_detect *d, int64_t t);

#endif
