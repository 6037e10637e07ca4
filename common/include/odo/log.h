/*
 * odo — logging for the programs (odo-agent, odo-collector, tools).
 *
 * The common library itself never logs: it returns error codes. This
 * header belongs to the separate `odo_log` library that programs link.
 *
 *   ODO_LOG(WARN, "uplink", "broker %s unreachable: %s", host, why);
 *
 * The level is checked before any argument is evaluated. Output goes to
 * stderr (the journal under systemd), one line per call:
 *   "odo-agent[1234]: WARN uplink: broker ... unreachable: ..."
 */
#ifndef ODO_LOG_H
#define ODO_LOG_H

#include "odo/err.h"

enum odo_log_level {
	ODO_LOG_ERROR = 0,
	ODO_LOG_WARN = 1,
	ODO_LOG_INFO = 2,
	ODO_LOG_DEBUG = 3,
};

/* The program's threshold; messages above it are not formatted. */
extern int odo_log_threshold;

/* Name printed before each line (default "odo"). Borrowed: must outlive use. */
void odo_log_set_program(const char *name);
/* Parse "error|warn|info|debug" (or 0..3); returns -1 when unknown. */
int odo_log_level_parse(const char *s);
/* Reopen stderr onto `path` (SIGHUP log rotation); NULL keeps stderr. */
int odo_log_reopen(const char *path);

void odo_log_write(int level, const char *area, const char *fmt, ...) ODO_PRINTF(3, 4);

#define ODO_LOG(level, area, ...)                                                \
	do {                                                                     \
		if (ODO_LOG_##level <= odo_log_threshold)                        \
			odo_log_write(ODO_LOG_##level, (area), __VA_ARGS__);     \
	} while (0)

#endif
