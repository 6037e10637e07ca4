/* odo-collector operator commands: the settable fields and the checks of
 * every value before anything is written (admin_int.h). No database here. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/admin_int.h"
#include "odo/wire.h"

/* drivers (001_schema.sql): the reference columns monthly_features carries. */
static const struct admin_field driver_fields[] = {
	{ "persona", "persona_type", ADMIN_F_TEXT, 0, 0, "usage profile, free text (e.g. commuter)" },
	{ "age", "driver_age", ADMIN_F_INT, ADMIN_MIN_LICENCE_AGE, 120, "age in years, 14..120" },
	{ "years-licensed", "years_licensed", ADMIN_F_INT, 0, 120 - ADMIN_MIN_LICENCE_AGE,
	  "years holding a licence, at most age - 14" },
	{ "vehicle-age", "vehicle_age", ADMIN_F_INT, 0, 100, "age of the driver's vehicle in years, 0..100" },
	{ "vehicle-make", "vehicle_make", ADMIN_F_TEXT, 0, 0, "make of the driver's vehicle" },
	{ "vehicle-model", "vehicle_model", ADMIN_F_TEXT, 0, 0, "model of the driver's vehicle" },
	{ "prior-at-fault-accidents", "prior_at_fault_accidents", ADMIN_F_INT, 0, 1000,
	  "at-fault accidents before the policy, 0..1000" },
	{ "prior-claims", "prior_claims", ADMIN_F_INT, 0, 1000, "claims before the policy, 0..1000" },
	{ "prior-violations", "prior_violations", ADMIN_F_INT, 0, 1000, "traffic violations before the policy, 0..1000" },
	{ "data-source", "data_source", ADMIN_F_TEXT, 0, 0, "where these facts come from (e.g. policy system)" },
	{ "account-created", "account_created_date", ADMIN_F_DATE, 0, 0, "YYYY-MM-DD" },
	{ "policy-start", "policy_start_date", ADMIN_F_DATE, 0, 0, "YYYY-MM-DD" },
};

static const struct admin_field vehicle_fields[] = {
	{ "vin", "vin", ADMIN_F_VIN, 0, 0, "17 characters, digits and capitals without I, O, Q (ISO 3779)" },
	{ "make", "make", ADMIN_F_TEXT, 0, 0, "manufacturer" },
	{ "model", "model", ADMIN_F_TEXT, 0, 0, "model" },
	{ "year", "model_year", ADMIN_F_YEAR, 1886, 0, "model year, 1886..next year + 1" },
};

const struct admin_table admin__drivers = { "driver", "drivers", "driver_id", driver_fields,
					    ODO_ARRAY_LEN(driver_fields), 1 };
const struct admin_table admin__vehicles = { "vehicle", "vehicles", "vehicle_id", vehicle_fields,
					     ODO_ARRAY_LEN(vehicle_fields), 0 };

const struct admin_field *admin__field(const struct admin_table *t, const char *opt)
{
	for (size_t i = 0; i < t->nfields; i++)
		if (strcmp(t->fields[i].opt, opt) == 0)
			return &t->fields[i];
	return NULL;
}

/* Well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF) without
 * control characters. */
static int text_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned c = *p;
		if (c < 0x20 || c == 0x7f)
			return 0;
		if (c < 0x80) {
			p++;
			continue;
		}
		int n;
		unsigned cp;
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return 0;
		for (int i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		if (cp >= 0x80 && cp < 0xa0) /* C1 controls */
			return 0;
		p += n + 1;
	}
	return 1;
}

static int digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

static int num(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

static int leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in(int y, int m)
{
	static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && leap(y) ? 29 : d[m - 1];
}

/* "YYYY-MM-DD" at s (exactly 10 characters checked); 1 when a real date. */
static int parse_date(const char *s, int *y, int *m, int *d)
{
	if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2))
		return 0;
	*y = num(s, 4), *m = num(s + 5, 2), *d = num(s + 8, 2);
	return *m >= 1 && *m <= 12 && *d >= 1 && *d <= days_in(*y, *m);
}

static int year_of(int64_t now_s)
{
	time_t t = (time_t)now_s;
	struct tm tm;
	gmtime_r(&t, &tm);
	return tm.tm_year + 1900;
}

int admin__check_value(const struct admin_field *f, const char *v, int64_t now_s, char *why, size_t whysz)
{
	size_t len = strlen(v);
	switch (f->type) {
	case ADMIN_F_TEXT:
		if (len == 0 || len > ADMIN_TEXT_MAX || !text_ok(v)) {
			snprintf(why, whysz, "--%s: 1 to %d bytes of UTF-8 text without control characters", f->opt,
				 ADMIN_TEXT_MAX);
			return ODO_ERR_INVAL;
		}
		return ODO_OK;
	case ADMIN_F_INT:
	case ADMIN_F_YEAR: {
		long max = f->type == ADMIN_F_YEAR ? year_of(now_s) + 1 : f->max;
		char *end;
		long x = strtol(v, &end, 10);
		if (len == 0 || len > 9 || *end || !(isdigit((unsigned char)v[0]) || v[0] == '-') || x < f->min ||
		    x > max) {
			snprintf(why, whysz, "--%s: '%.40s' is not a whole number from %ld to %ld", f->opt, v, f->min, max);
			return ODO_ERR_INVAL;
		}
		return ODO_OK;
	}
	case ADMIN_F_DATE: {
		int y, m, d;
		if (len != 10 || !parse_date(v, &y, &m, &d) || y < 1900 || y > 2200) {
			snprintf(why, whysz, "--%s: '%.40s' is not a date YYYY-MM-DD (1900..2200)", f->opt, v);
			return ODO_ERR_INVAL;
		}
		return ODO_OK;
	}
	case ADMIN_F_VIN:
		if (len != 17 || strspn(v, "0123456789ABCDEFGHJKLMNPRSTUVWXYZ") != 17) {
			snprintf(why, whysz,
				 "--%s: '%.40s' is not a VIN (17 characters: digits and capital letters except I, O and Q,"
				 " ISO 3779)", f->opt, v);
			return ODO_ERR_INVAL;
		}
		return ODO_OK;
	}
	snprintf(why, whysz, "--%s: unknown field type", f->opt);
	return ODO_ERR_INVAL;
}

int admin__check_id(const char *what, const char *id, char *why, size_t whysz)
{
	size_t n = strlen(id);
	if (n == 0 || n > ADMIN_ID_MAX ||
	    strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:@-") != n) {
		snprintf(why, whysz, "%s id '%.80s': 1 to %d characters of A-Z a-z 0-9 . _ : @ -", what, id, ADMIN_ID_MAX);
		return ODO_ERR_INVAL;
	}
	return ODO_OK;
}

int admin__check_device_id(const char *id, char *why, size_t whysz)
{
	if (!odo_wire_device_id_valid(id)) {
		snprintf(why, whysz,
			 "device id '%.80s': 1 to %d characters of A-Z a-z 0-9 . _ - (the wire format's rule; it is the"
			 " CN of the device's certificate)", id, ODO_DEVICE_ID_MAX);
		return ODO_ERR_INVAL;
	}
	if (strncmp(id, "odo-collector", 13) == 0) {
		snprintf(why, whysz, "device id '%s': names starting with odo-collector are reserved for collectors", id);
		return ODO_ERR_INVAL;
	}
	return ODO_OK;
}

/* days from 1970-01-01 to y-m-d (proleptic Gregorian) */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void format_utc(int64_t us, char out[ADMIN_TIME_MAX])
{
	time_t s = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
	long frac = (long)(us - (int64_t)s * 1000000);
	struct tm tm;
	gmtime_r(&s, &tm);
	/* (the remainders bound every field for the compiler; the values are in range anyway) */
	snprintf(out, ADMIN_TIME_MAX, "%04u-%02u-%02u %02u:%02u:%02u.%06u+00", (unsigned)(tm.tm_year + 1900) % 10000u,
		 (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
		 (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u, (unsigned)frac % 1000000u);
}

int admin__parse_time(const char *opt, const char *s, int64_t now_us, char out[ADMIN_TIME_MAX], char *why,
		      size_t whysz)
{
	if (strcmp(s, "now") == 0) {
		format_utc(now_us, out);
		return ODO_OK;
	}
	int y, mo, d, h = 0, mi = 0, sec = 0;
	long frac = 0;
	int64_t off_min = 0;
	size_t len = strlen(s);
	const char *p = s + 10;
	if (len < 10 || !parse_date(s, &y, &mo, &d))
		goto bad;
	if (*p) {
		if ((*p != 'T' && *p != ' ') || !digits(p + 1, 2) || p[3] != ':' || !digits(p + 4, 2))
			goto bad;
		h = num(p + 1, 2), mi = num(p + 4, 2);
		p += 6;
		if (*p == ':') {
			if (!digits(p + 1, 2))
				goto bad;
			sec = num(p + 1, 2);
			p += 3;
			if (*p == '.') {
				int n = 0;
				p++;
				while (isdigit((unsigned char)p[n]) && n < 6)
					n++;
				if (n == 0 || isdigit((unsigned char)p[n]))
					goto bad;
				frac = num(p, n);
				for (int i = n; i < 6; i++)
					frac *= 10;
				p += n;
			}
		}
		if (h > 23 || mi > 59 || sec > 59)
			goto bad;
		if (*p == 'Z' && p[1] == '\0') {
			off_min = 0;
		} else if ((*p == '+' || *p == '-') && digits(p + 1, 2)) {
			int sign = *p == '-' ? -1 : 1;
			int oh = num(p + 1, 2), om = 0;
			const char *q = p + 3;
			if (*q == ':' && digits(q + 1, 2))
				om = num(q + 1, 2), q += 3;
			else if (digits(q, 2))
				om = num(q, 2), q += 2;
			if (*q || oh > 14 || om > 59)
				goto bad;
			off_min = sign * (oh * 60 + om);
		} else {
			snprintf(why, whysz,
				 "%s '%.60s': give the time zone (Z for UTC, or an offset such as +02:00): the server's"
				 " zone is not the operator's", opt, s);
			return ODO_ERR_INVAL;
		}
	}
	if (y < 1970 || y > 2200)
		goto bad;
	int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off_min * 60;
	format_utc(secs * 1000000 + frac, out);
	return ODO_OK;
bad:
	snprintf(why, whysz,
		 "%s '%.60s' is not a time: now, YYYY-MM-DD (midnight UTC) or YYYY-MM-DDTHH:MM[:SS] with Z or"
		 " an offset (+02:00), years 1970..2200", opt, s);
	return ODO_ERR_INVAL;
}
