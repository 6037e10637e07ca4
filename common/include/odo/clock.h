/*
 * odo — an injectable clock.
 *
 * Everything time-dependent takes a `const struct odo_clock *` instead of
 * calling time() or clock_gettime(): a system clock in production, a
 * virtual one that replay and tests move by hand, so recorded drives replay
 * deterministically and faster than real time.
 *
 * Two time lines: REAL (UTC wall clock, ns since the Unix epoch; may jump)
 * and MONO (monotonic ns, never jumps; use it for timeouts and rates).
 */
#ifndef ODO_CLOCK_H
#define ODO_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "odo/err.h"

#define ODO_NS_PER_S 1000000000LL
#define ODO_NS_PER_MS 1000000LL

enum odo_clock_kind { ODO_CLOCK_SYSTEM = 0, ODO_CLOCK_VIRTUAL = 1 };

/* Plain value; copy freely. Fields are private to clock.c. */
struct odo_clock {
	enum odo_clock_kind kind;
	int64_t real_ns; /* virtual only */
	int64_t mono_ns; /* virtual only */
};

/* A clock that reads CLOCK_REALTIME / CLOCK_MONOTONIC. */
void odo_clock_init_system(struct odo_clock *c);
/* A virtual clock standing at the given instants. */
void odo_clock_init_virtual(struct odo_clock *c, int64_t real_ns, int64_t mono_ns);

int64_t odo_clock_real_ns(const struct odo_clock *c);
int64_t odo_clock_mono_ns(const struct odo_clock *c);

/* Virtual clocks only (no-op on a system clock): move both lines forward
 * by delta_ns (negative deltas are ignored: monotonic time never goes back). */
void odo_clock_advance(struct odo_clock *c, int64_t delta_ns);
/* Virtual clocks only: set REAL to real_ns and move MONO forward by the same
 * amount when real_ns is later than now (a replay following recorded UTC). */
void odo_clock_set_real(struct odo_clock *c, int64_t real_ns);

/* Unix times as drive recordings write them: "1533234567.123456".
 * Parse at s: 1 to 12 digits of seconds, optionally '.' and 1 to 9 digits
 * of fraction; *ns gets nanoseconds since the epoch and *end the first
 * character after. ODO_OK, or ODO_ERR_INVAL (no digits, too many, an empty
 * fraction, beyond int64 nanoseconds); outputs untouched on error. */
int odo_clock_parse_unix(const char *s, const char **end, int64_t *ns) ODO_NODISCARD;
/* Write ns (>= 0) as "S.UUUUUU" (microseconds, truncated) into buf; returns
 * the length, or 0 when it does not fit. */
size_t odo_clock_format_unix_us(char *buf, size_t size, int64_t ns);

#endif
