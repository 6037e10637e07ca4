/*
 * odo — local time from TZif files without TZ, tzset() or global state.
 *
 * File format: RFC 8536 ("The Time Zone Information Format (TZif)").
 * Versions 2 and later carry a second, 64-bit data block after the 32-bit
 * one; we skip the first and read the second. Instants after the last
 * transition follow the POSIX TZ string in the footer (POSIX.1-2017,
 * XBD 8.3 "TZ"; RFC 8536 section 3.3.1 extends its hours to -167..167).
 *
 * Calendar arithmetic uses the days-from-civil / civil-from-days method
 * described by Howard Hinnant ("chrono-compatible low-level date
 * algorithms"): the proleptic Gregorian calendar split into 400-year eras
 * with years starting on March 1, so leap days fall at the end of a year.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "odo/ltime.h"

#define TZ_DEFAULT_DIR  "/usr/share/zoneinfo"
#define TZ_PATH_MAX     512
#define TZIF_HEADER_LEN 44
#define TZ_FOOTER_MAX   ((int)sizeof(((struct odo_tz *)0)->footer))
#define TZ_ABBR_MAX     16
#define SECS_PER_DAY    86400
#define SECS_PER_HOUR   3600
/* Rule hours may be -167..167 (RFC 8536 3.3.1); offsets up to 24:59:59. */
#define TZ_RULE_HOURS_MAX   167
#define TZ_OFFSET_HOURS_MAX 24

/* ---- calendar ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* Days since 1970-01-01 of y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = y - era * 400;                                   /* [0, 399] */
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] from March 1 */
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
	return era * 146097 + doe - 719468; /* 719468: days from 0000-03-01 to 1970-01-01 */
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
	static const int n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : n[m - 1];
}

static void fill(int64_t t, int32_t utoff, int isdst, struct odo_ltime *out)
{
	int64_t local, days, sod, y;
	int m, d;

	/* Saturate instead of overflowing at the ends of int64. */
	if (utoff > 0 && t > INT64_MAX - utoff)
		t = INT64_MAX - utoff;
	if (utoff < 0 && t < INT64_MIN - utoff)
		t = INT64_MIN - utoff;
	local = t + utoff;
	days = floor_div(local, SECS_PER_DAY);
	sod = local - days * SECS_PER_DAY;
	civil_from_days(days, &y, &m, &d);
	out->year = (int)y; /* exact for |year| < 2^31 */
	out->month = m;
	out->mday = d;
	out->hour = (int)(sod / 3600);
	out->min = (int)(sod / 60 % 60);
	out->sec = (int)(sod % 60);
	out->wday = (int)(((days % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
	out->utoff_s = utoff;
	out->isdst = isdst;
}

void odo_utc_time(int64_t t_utc_s, struct odo_ltime *out)
{
	fill(t_utc_s, 0, 0, out);
}

/* ---- POSIX TZ strings ---- */

enum rule_kind { RULE_JULIAN1 /* Jn */, RULE_JULIAN0 /* n */, RULE_MWD /* Mm.w.d */ };

struct tz_rule {
	enum rule_kind kind;
	int day, week, month; /* Jn/n: day; M: month, week, day (weekday) */
	int32_t time;         /* seconds after local midnight */
};

struct posix_tz {
	int32_t std_utoff; /* seconds east of UTC */
	int32_t dst_utoff;
	int has_dst;
	struct tz_rule start, end;
};

static const char *parse_abbr(const char *s)
{
	int n = 0;

	if (*s == '<') {
		for (s++; *s && *s != '>'; s++, n++)
			if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
			      (*s >= '0' && *s <= '9') || *s == '+' || *s == '-'))
				return NULL;
		return *s == '>' && n >= 3 && n < TZ_ABBR_MAX ? s + 1 : NULL;
	}
	for (; (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'); s++)
		n++;
	return n >= 3 && n < TZ_ABBR_MAX ? s : NULL;
}

static const char *parse_num(const char *s, int lo, int hi, int *out)
{
	int v = 0, n = 0;

	for (; *s >= '0' && *s <= '9'; s++, n++) {
		v = v * 10 + (*s - '0');
		if (v > hi)
			return NULL;
	}
	if (n == 0 || v < lo)
		return NULL;
	*out = v;
	return s;
}

/* [+-]hh[:mm[:ss]] as seconds; hours up to max_h. */
static const char *parse_hms(const char *s, int max_h, int32_t *out)
{
	int sign = 1, h, m = 0, sec = 0;

	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	if (!(s = parse_num(s, 0, max_h, &h)))
		return NULL;
	if (*s == ':') {
		if (!(s = parse_num(s + 1, 0, 59, &m)))
			return NULL;
		if (*s == ':' && !(s = parse_num(s + 1, 0, 59, &sec)))
			return NULL;
	}
	*out = sign * (h * 3600 + m * 60 + sec);
	return s;
}

static const char *parse_rule(const char *s, struct tz_rule *r)
{
	if (*s == 'M') {
		r->kind = RULE_MWD;
		if (!(s = parse_num(s + 1, 1, 12, &r->month)) || *s != '.')
			return NULL;
		if (!(s = parse_num(s + 1, 1, 5, &r->week)) || *s != '.')
			return NULL;
		if (!(s = parse_num(s + 1, 0, 6, &r->day)))
			return NULL;
	} else if (*s == 'J') {
		r->kind = RULE_JULIAN1;
		if (!(s = parse_num(s + 1, 1, 365, &r->day)))
			return NULL;
	} else {
		r->kind = RULE_JULIAN0;
		if (!(s = parse_num(s, 0, 365, &r->day)))
			return NULL;
	}
	r->time = 2 * SECS_PER_HOUR;
	if (*s == '/' && !(s = parse_hms(s + 1, TZ_RULE_HOURS_MAX, &r->time)))
		return NULL;
	return s;
}

/* Parse a POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3". A DST
 * name without rules (implementation-defined in POSIX) is rejected rather
 * than guessed: RFC 8536 footers always give the rules. Returns 0 or -1. */
static int parse_posix_tz(const char *s, struct posix_tz *p)
{
	int32_t off;

	memset(p, 0, sizeof(*p));
	if (!(s = parse_abbr(s)) || !(s = parse_hms(s, TZ_OFFSET_HOURS_MAX, &off)))
		return -1;
	p->std_utoff = -off; /* POSIX offsets are west-positive */
	if (*s == '\0')
		return 0;
	if (!(s = parse_abbr(s)))
		return -1;
	p->has_dst = 1;
	p->dst_utoff = p->std_utoff + SECS_PER_HOUR;
	if (*s != ',' && *s != '\0') {
		if (!(s = parse_hms(s, TZ_OFFSET_HOURS_MAX, &off)))
			return -1;
		p->dst_utoff = -off;
	}
	if (*s != ',')
		return -1;
	if (!(s = parse_rule(s + 1, &p->start)) || *s != ',')
		return -1;
	if (!(s = parse_rule(s + 1, &p->end)) || *s != '\0')
		return -1;
	return 0;
}

/* Local (wall-clock, in the offset the rule is written in) seconds since
 * the epoch at which rule r fires in year y. */
static int64_t rule_local(int64_t y, const struct tz_rule *r)
{
	int64_t day;

	switch (r->kind) {
	case RULE_JULIAN1: /* 1..365, February 29 never counted */
		day = days_from_civil(y, 1, 1) + r->day - 1 + (is_leap(y) && r->day >= 60);
		break;
	case RULE_JULIAN0: /* 0..365, February 29 counted */
		day = days_from_civil(y, 1, 1) + r->day;
		break;
	default: {
		int64_t first = days_from_civil(y, r->month, 1);
		int wday1 = (int)(((first % 7) + 7 + 4) % 7);
		int mday = 1 + (r->day - wday1 + 7) % 7 + (r->week - 1) * 7;

		if (mday > month_days(y, r->month))
			mday -= 7; /* week 5 means "the last" */
		day = first + mday - 1;
		break;
	}
	}
	return day * SECS_PER_DAY + r->time;
}

static void posix_localtime(const struct posix_tz *p, int64_t t, struct odo_ltime *out)
{
	int64_t y, start, end;
	int m, d, dst;

	if (!p->has_dst) {
		fill(t, p->std_utoff, 0, out);
		return;
	}
	/* The year as standard time sees it; rules lie well inside a year. */
	civil_from_days(floor_div(t + p->std_utoff, SECS_PER_DAY), &y, &m, &d);
	/* Start is written in standard time, end in daylight time. */
	start = rule_local(y, &p->start) - p->std_utoff;
	end = rule_local(y, &p->end) - p->dst_utoff;
	if (start < end)
		dst = t >= start && t < end; /* northern hemisphere */
	else
		dst = !(t >= end && t < start); /* southern: DST spans the new year */
	fill(t, dst ? p->dst_utoff : p->std_utoff, dst, out);
}

/* ---- TZif ---- */

struct tzif_counts {
	uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static uint32_t be32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static int64_t be64(const unsigned char *b)
{
	return (int64_t)((uint64_t)be32(b) << 32 | be32(b + 4));
}

static int read_exact(int fd, void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int read_header(int fd, int *version, struct tzif_counts *c)
{
	unsigned char h[TZIF_HEADER_LEN];

	if (read_exact(fd, h, sizeof(h)) != 0 || memcmp(h, "TZif", 4) != 0)
		return -1;
	*version = h[4] == 0 ? 1 : h[4] - '0';
	if (h[4] != 0 && (h[4] < '2' || h[4] > '9'))
		return -1;
	c->isutcnt = be32(h + 20);
	c->isstdcnt = be32(h + 24);
	c->leapcnt = be32(h + 28);
	c->timecnt = be32(h + 32);
	c->typecnt = be32(h + 36);
	c->charcnt = be32(h + 40);
	/* RFC 8536 3.1: typecnt and charcnt nonzero; isutcnt/isstdcnt 0 or typecnt. */
	if (c->typecnt == 0 || c->charcnt == 0 || (c->isutcnt && c->isutcnt != c->typecnt) ||
	    (c->isstdcnt && c->isstdcnt != c->typecnt))
		return -1;
	return 0;
}

static int skip(int fd, uint64_t n)
{
	return lseek(fd, (off_t)n, SEEK_CUR) < 0 ? -1 : 0;
}

/* Read one data block whose times are `tsize` bytes wide into tz. */
static int read_block(int fd, const struct tzif_counts *c, int tsize, struct odo_tz *tz)
{
	unsigned char b[8];

	if (c->timecnt > ODO_TZ_MAX_TRANSITIONS || c->typecnt > ODO_TZ_MAX_TYPES)
		return ODO_ERR_TOOBIG;
	if (c->leapcnt)
		return ODO_ERR_UNSUPPORTED; /* "right/" zones count leap seconds */
	for (uint32_t i = 0; i < c->timecnt; i++) {
		if (read_exact(fd, b, (size_t)tsize) != 0)
			return ODO_ERR_PROTOCOL;
		tz->trans_at[i] = tsize == 8 ? be64(b) : (int64_t)(int32_t)be32(b);
		if (i > 0 && tz->trans_at[i] <= tz->trans_at[i - 1])
			return ODO_ERR_PROTOCOL; /* must ascend */
	}
	for (uint32_t i = 0; i < c->timecnt; i++) {
		if (read_exact(fd, b, 1) != 0 || b[0] >= c->typecnt)
			return ODO_ERR_PROTOCOL;
		tz->trans_type[i] = b[0];
	}
	for (uint32_t i = 0; i < c->typecnt; i++) {
		unsigned char ti[6];

		if (read_exact(fd, ti, sizeof(ti)) != 0)
			return ODO_ERR_PROTOCOL;
		tz->type_utoff[i] = (int32_t)be32(ti);
		tz->type_isdst[i] = ti[4];
		/* RFC 8536: utoff -2^31 is invalid; isdst 0 or 1 */
		if (tz->type_utoff[i] == INT32_MIN || ti[4] > 1 || ti[5] >= c->charcnt)
			return ODO_ERR_PROTOCOL;
	}
	tz->ntrans = (int32_t)c->timecnt;
	tz->ntypes = (int32_t)c->typecnt;
	/* designations, (no leap records), standard/wall and UT/local flags */
	if (skip(fd, (uint64_t)c->charcnt + c->isstdcnt + c->isutcnt) != 0)
		return ODO_ERR_PROTOCOL;
	return ODO_OK;
}

static int read_footer(int fd, struct odo_tz *tz)
{
	char f[TZ_FOOTER_MAX + 2];
	size_t n = 0;
	struct posix_tz p;

	/* "\n" TZ-string "\n" */
	if (read_exact(fd, f, 1) != 0 || f[0] != '\n')
		return ODO_ERR_PROTOCOL;
	for (;;) {
		if (read_exact(fd, f + n, 1) != 0)
			return ODO_ERR_PROTOCOL;
		if (f[n] == '\n')
			break;
		if (++n >= (size_t)TZ_FOOTER_MAX)
			return ODO_ERR_TOOBIG;
	}
	f[n] = '\0';
	if (n > 0 && parse_posix_tz(f, &p) != 0)
		return ODO_ERR_PROTOCOL;
	memcpy(tz->footer, f, n + 1);
	return ODO_OK;
}

static int valid_name(const char *name)
{
	size_t n;

	if (!name)
		return 0;
	n = strlen(name);
	return n > 0 && n < ODO_TZ_NAME_MAX && name[0] != '/' && !strstr(name, "..");
}

int odo_tz_load(struct odo_tz *tz, const char *name, const char *zoneinfo_dir)
{
	char path[TZ_PATH_MAX];
	struct tzif_counts c;
	struct stat st;
	int version, fd, rc, n;

	if (!tz || !valid_name(name))
		return ODO_ERR_INVAL;
	n = snprintf(path, sizeof(path), "%s/%s", zoneinfo_dir ? zoneinfo_dir : TZ_DEFAULT_DIR, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return ODO_ERR_INVAL;
	memset(tz, 0, sizeof(*tz));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? ODO_ERR_NOTFOUND : ODO_ERR_IO;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return ODO_ERR_NOTFOUND; /* e.g. the directory "America" */
	}
	rc = ODO_ERR_PROTOCOL;
	if (read_header(fd, &version, &c) != 0)
		goto out;
	if (version == 1) {
		rc = read_block(fd, &c, 4, tz);
		goto out;
	}
	/* skip the 32-bit block: times, type indices, ttinfos, chars, leaps, flags */
	if (skip(fd, (uint64_t)c.timecnt * 5 + (uint64_t)c.typecnt * 6 + c.charcnt + (uint64_t)c.leapcnt * 8 +
	                 c.isstdcnt + c.isutcnt) != 0 ||
	    read_header(fd, &version, &c) != 0)
		goto out;
	rc = read_block(fd, &c, 8, tz);
	if (rc == ODO_OK)
		rc = read_footer(fd, tz);
out:
	close(fd);
	if (rc == ODO_OK)
		memcpy(tz->name, name, strlen(name) + 1);
	else
		memset(tz, 0, sizeof(*tz));
	return rc;
}

void odo_tz_localtime(const struct odo_tz *tz, int64_t t_utc_s, struct odo_ltime *out)
{
	struct posix_tz p;
	int32_t lo, hi;
	int type;

	if (tz->ntypes <= 0) { /* not loaded: UTC rather than garbage */
		fill(t_utc_s, 0, 0, out);
		return;
	}
	/* Past the table (or no table at all) the footer rule governs. */
	if ((tz->ntrans == 0 || t_utc_s >= tz->trans_at[tz->ntrans - 1]) && tz->footer[0] &&
	    parse_posix_tz(tz->footer, &p) == 0) {
		posix_localtime(&p, t_utc_s, out);
		return;
	}
	if (tz->ntrans == 0 || t_utc_s < tz->trans_at[0]) {
		type = 0; /* RFC 8536 3.2: before the first transition, type 0 */
	} else {
		/* last transition at or before t */
		lo = 0;
		hi = tz->ntrans - 1;
		while (lo < hi) {
			int32_t mid = lo + (hi - lo + 1) / 2;

			if (tz->trans_at[mid] <= t_utc_s)
				lo = mid;
			else
				hi = mid - 1;
		}
		type = tz->trans_type[lo];
	}
	fill(t_utc_s, tz->type_utoff[type], tz->type_isdst[type], out);
}
