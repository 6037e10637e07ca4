/*
 * odo — local time by time-zone name, without touching TZ or any global
 * state: the zone's TZif file (e.g. /usr/share/zoneinfo/Europe/Berlin) is
 * read into a caller-owned struct once, then conversions are pure.
 */
#ifndef ODO_LTIME_H
#define ODO_LTIME_H

#include <stdint.h>

#include "odo/err.h"

#define ODO_TZ_NAME_MAX 64
#define ODO_TZ_MAX_TRANSITIONS 2048
#define ODO_TZ_MAX_TYPES 32

struct odo_tz {
	char name[ODO_TZ_NAME_MAX];
	int32_t ntrans;
	int64_t trans_at[ODO_TZ_MAX_TRANSITIONS]; /* UTC seconds */
	uint8_t trans_type[ODO_TZ_MAX_TRANSITIONS];
	int32_t ntypes;
	int32_t type_utoff[ODO_TZ_MAX_TYPES]; /* seconds east of UTC */
	uint8_t type_isdst[ODO_TZ_MAX_TYPES];
	/* POSIX TZ rule from the file's footer, for instants past the table */
	char footer[64];
};

/* Broken-down local time. */
struct odo_ltime {
	int year, month /* 1-12 */, mday /* 1-31 */, hour, min, sec;
	int wday;   /* 0 = Sunday .. 6 = Saturday */
	int32_t utoff_s; /* offset from UTC in force */
	int isdst;
};

/* Load zone `name` ("UTC", "Europe/Berlin", ...) from `zoneinfo_dir`
 * (NULL: /usr/share/zoneinfo). Names with ".." or a leading '/' are
 * rejected (ODO_ERR_INVAL); a missing zone is ODO_ERR_NOTFOUND; a broken
 * file ODO_ERR_PROTOCOL. */
int odo_tz_load(struct odo_tz *tz, const char *name, const char *zoneinfo_dir) ODO_NODISCARD;
/* UTC instant (s since the epoch) to local time in zone tz. */
void odo_tz_localtime(const struct odo_tz *tz, int64_t t_utc_s, struct odo_ltime *out);
/* UTC civil time for t (no zone). */
void odo_utc_time(int64_t t_utc_s, struct odo_ltime *out);

#endif
