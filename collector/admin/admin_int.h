/* odo-collector operator commands: what fields.c, registry.c and cli.c share. */
#ifndef ODO_COLLECTOR_ADMIN_INT_H
#define ODO_COLLECTOR_ADMIN_INT_H

#include <stddef.h>
#include <stdint.h>

#include "admin/admin.h"
#include "odo/err.h"

#define ADMIN_WHY_MAX 512
#define ADMIN_TIME_MAX 40 /* "YYYY-MM-DD HH:MM:SS.ffffff+00" */
#define ADMIN_TEXT_MAX 200
#define ADMIN_ID_MAX 64
#define ADMIN_MAX_FIELDS 16
#define ADMIN_MIN_LICENCE_AGE 14 /* drivers.driver_age's lower bound (001_schema.sql) */

enum admin_ftype {
	ADMIN_F_TEXT, /* 1..ADMIN_TEXT_MAX bytes of UTF-8 without control characters */
	ADMIN_F_INT,  /* a whole number in [min, max] */
	ADMIN_F_DATE, /* YYYY-MM-DD, a real calendar date */
	ADMIN_F_YEAR, /* a model year: 1886 (the first car) .. next year + 1 */
	ADMIN_F_VIN,  /* 17 characters of [A-HJ-NPR-Z0-9] (ISO 3779: no I, O, Q) */
};

/* One settable column: the option is --opt, the column `col` (a constant,
 * never input). */
struct admin_field {
	const char *opt;
	const char *col;
	enum admin_ftype type;
	long min, max;
	const char *help;
};

/* A table of fields of one kind of row (drivers, vehicles). */
struct admin_table {
	const char *what;  /* "driver" */
	const char *table; /* "drivers" */
	const char *key;   /* "driver_id" */
	const struct admin_field *fields;
	size_t nfields;
	int has_updated_at;
};

extern const struct admin_table admin__drivers;
extern const struct admin_table admin__vehicles;

/* A value given on the command line for one field; NULL value = clear it. */
struct admin_value {
	const struct admin_field *f;
	const char *value;
};

/* The field of table `t` whose option is `opt` (without "--"); NULL if none. */
const struct admin_field *admin__field(const struct admin_table *t, const char *opt);

/* Check `value` for field f (now_s: the current time, for model years).
 * ODO_OK, or ODO_ERR_INVAL with a message naming --opt in why. */
int admin__check_value(const struct admin_field *f, const char *value, int64_t now_s, char *why, size_t whysz);

/* Driver and vehicle ids: 1..64 characters of [A-Za-z0-9._:@-]. Device ids
 * follow the wire format ([A-Za-z0-9._-], 1..64) and may not start with the
 * collectors' reserved prefix "odo-collector". ODO_OK or ODO_ERR_INVAL. */
int admin__check_id(const char *what, const char *id, char *why, size_t whysz);
int admin__check_device_id(const char *id, char *why, size_t whysz);

/* A point in time: "now", "YYYY-MM-DD" (midnight UTC) or
 * "YYYY-MM-DDTHH:MM[:SS[.ffffff]]" followed by "Z" or an offset "+HH:MM",
 * "+HHMM", "+HH" ('T' or a space). A time without a zone is refused (an
 * operator's local time is not the server's). Years 1970..2200. out: the
 * same instant in UTC, "YYYY-MM-DD HH:MM:SS.ffffff+00" (for $n::timestamptz).
 * ODO_OK or ODO_ERR_INVAL naming `opt`. */
int admin__parse_time(const char *opt, const char *s, int64_t now_us, char out[ADMIN_TIME_MAX], char *why,
		      size_t whysz);

/* ---- registry.c: one transaction each; why gets the reason ---- */

int admin__row_put(PGconn *c, const struct admin_table *t, const char *id, int create,
		   const struct admin_value *v, size_t n, FILE *out, char *why);
int admin__device_add(PGconn *c, const char *id, FILE *out, char *why);
int admin__device_assign(PGconn *c, const char *device, const char *driver, const char *vehicle,
			 const char *from, FILE *out, char *why);
int admin__device_unassign(PGconn *c, const char *device, const char *at, FILE *out, char *why);
int admin__device_list(PGconn *c, const char *const *ids, size_t n, int tsv, FILE *out, char *why);
int admin__consent_set(PGconn *c, const char *driver, int granted, const char *by, FILE *out, char *why);

#endif
