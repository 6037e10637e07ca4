/*
 * odo-agent GPS: gpsd client over libgps 3.22 (see gps.h).
 */
#include "gps/gps.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <gps.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "odo/log.h"
#include "odo/wire.h"

/* Longest JSON report libgps hands back by gps_read() (its message buffer). */
#define GPS_MSG_MAX ODO_GPS_JSON_MAX

struct odo_gps {
	struct odo_gps_cfg cfg;
	int live; /* 0: replay only */
	const struct odo_clock *clock;
	const struct odo_sink *sink;
	struct gps_data_t gd;
	int connected;
	int64_t next_try_ns; /* mono; when to (re)connect */
	int64_t backoff_ms;
	int ever_connected;
	int absent_said; /* "gpsd not reachable" logged for this absence */
	FILE *rec;
	struct odo_gps_stats st;
	char msg[GPS_MSG_MAX + 1];
	char unpack[GPS_MSG_MAX + 1]; /* the rebuilt TPV gps_unpack() parses */
	char why[ODO_GPS_WHY_MAX];    /* why the last fed line was refused */
};


const struct odo_cfg_key odo_gps_cfg_keys[] = {
	ODO_CFG_S("host", struct odo_gps_cfg, host, "127.0.0.1", "gpsd host"),
	ODO_CFG_S("port", struct odo_gps_cfg, port, "2947", "gpsd TCP port"),
	ODO_CFG_I("reconnect_min_ms", struct odo_gps_cfg, reconnect_min_ms, "500", 1, 3600000,
		  "first reconnect delay after gpsd goes away (doubles each failure)"),
	ODO_CFG_I("reconnect_max_ms", struct odo_gps_cfg, reconnect_max_ms, "30000", 1, 3600000,
		  "longest reconnect delay"),
};
const size_t odo_gps_cfg_nkeys = ODO_ARRAY_LEN(odo_gps_cfg_keys);

static double nan_if_not(int ok, double v)
{
	return ok ? v : NAN;
}

/* gps_unpack() / gps_read() have just parsed a TPV into g->gd.fix. */
static void deliver_tpv(struct odo_gps *g, const struct gps_fix_t *fx)
{
	struct odo_gps_fix f;
	int mode = fx->mode;

	if (mode < MODE_NOT_SEEN || mode > MODE_3D)
		mode = MODE_NOT_SEEN;
	f.mono_ns = odo_clock_mono_ns(g->clock);
	f.t_ms = (int64_t)fx->time.tv_sec * 1000 + fx->time.tv_nsec / 1000000;
	f.mode = (uint8_t)mode;
	/* No fix (mode 0/1): gpsd may still carry stale coordinates; they are
	 * not a position. 2D: altitude is not valid. */
	f.lat = nan_if_not(mode >= MODE_2D, fx->latitude);
	f.lon = nan_if_not(mode >= MODE_2D, fx->longitude);
	if (!isfinite(f.lat) || !isfinite(f.lon))
		f.lat = f.lon = NAN;
	f.alt_m = nan_if_not(mode >= MODE_3D, fx->altMSL);
	/* A receiver's glitch beyond the wire format's physical bounds is not
	 * a measurement: passed on, it would make the trip summary unencodable. */
	f.speed_mps = nan_if_not(fx->speed >= 0 && fx->speed <= ODO_WIRE_MAX_SPEED_MPS, fx->speed);
	f.track_deg = fx->track;
	f.climb_mps = fx->climb;
	f.eph = nan_if_not(fx->eph >= 0 && fx->eph <= ODO_WIRE_MAX_ERR_M, fx->eph);
	if (fabs(f.alt_m) > ODO_WIRE_MAX_ALT_M)
		f.alt_m = NAN;
	f.epx = fx->epx;
	f.epy = fx->epy;
	f.epv = fx->epv;
	f.eps = fx->eps;
	f.ept = fx->ept;
	g->st.src.received++;
	g->st.fix_mode = f.mode;
	if (g->sink && g->sink->gps)
		g->sink->gps(g->sink->ctx, &f);
}

static int is_class(const char *json, const char *cls)
{
	/* gpsd always writes "class" first: {"class":"TPV",... */
	char pat[32];
	snprintf(pat, sizeof pat, "\"class\":\"%s\"", cls);
	return strstr(json, pat) != NULL;
}

static void clear_fix(struct gps_fix_t *fx)
{
	memset(fx, 0, sizeof *fx);
	fx->mode = MODE_NOT_SEEN;
	fx->ept = fx->latitude = fx->epy = fx->longitude = fx->epx = NAN;
	fx->altitude = fx->altHAE = fx->altMSL = fx->epv = fx->track = fx->epd = NAN;
	fx->speed = fx->eps = fx->climb = fx->epc = fx->eph = NAN;
}

/*
 * Replay: a recorded line is checked, and a TPV rebuilt, before libgps sees it.
 *
 * Why (issue #3). libgps 3.22's gps_unpack() (libgps/libgps_sock.c) walks
 * its buffer with
 *     while (*next != NULL && **next != '\0')
 *             if (libgps_json_unpack(*next, gpsdata, next) == -1) break;
 * libgps_json_unpack() (libgps/libgps_json.c) returns -1 only when strstr()
 * finds no "class": in the text from *next on, or an unknown class. A failed
 * json_read_object() (libgps/json.c, json_internal_read_object()) returns a
 * positive JSON_ERR_* code and leaves *end where it stopped reading the
 * top-level object: at the opening quote of the member it was on (state
 * await_attr records it; a failure inside a nested object or
 * json_read_array() does not move it), or at the offending character. The
 * next round starts there, not on a '{'; strstr() finds any later
 * "class":"<known class>" -- a "class" key in a SKY satellite, in any nested
 * object, or after trailing text -- and that class's reader fails at once
 * with JSON_ERR_OBSTART, setting *end to the same place again: no progress,
 * for ever. Measured on Debian 12's libgps.so.28 through its exported
 * libgps_json_unpack():
 *     {"class":"SKY","satellites":[{"PRN":1,"class":"SKY","used":"x"}]}
 * returns 19 (JSON_ERR_QNONSTRING) with end at byte 15 ("satellites"), then
 * 1 (JSON_ERR_OBSTART) with end at byte 15, and so on. The checks this
 * replaces (keys of at most 31 characters, one top-level "class") stopped
 * two instances of that pattern, not the pattern.
 *
 * Fix. gps_unpack() only gets text written here: for a TPV,
 *     {"class":"TPV","time":"...","mode":3,"lat":48.137168098,...}
 * holding just the members deliver_tpv() reads (unpack = 1 in tpv_keys[]),
 * numbers copied digit for digit so that libgps converts what gpsd wrote, as
 * on the live socket. In that text "class": occurs once, at byte 1, and
 * every value has the type libgps's TPV table expects, so json_read_object()
 * succeeds and leaves *end on the NUL. Even a failure could not loop: *end
 * would lie past the class member (the member libgps_json_unpack()
 * dispatched on passes its t_check), strstr() would find no "class": and the
 * walk would end with -1. Reports of other classes carry nothing the agent
 * uses (libgps fills gd.fix from TPVs only): they are checked, counted and
 * not unpacked. Safety rests on the rebuild alone; the checks (strict JSON,
 * then the type of every member gpsd 3.22 writes in a TPV or SKY) exist to
 * refuse a corrupt line with a reason instead of replaying it. Everything is
 * read in place and written to g->unpack: no allocation per line.
 */
#define GPS_JSON_DEPTH 8  /* nesting accepted in a report (a SKY has 2) */
#define GPS_NUM_MAX    32 /* longest number copied into a rebuilt TPV */
#define GPS_INT_DIGITS 10 /* longest integer (an int) */
#define GPS_CLASS_MAX  16 /* longest class name (gpsd's are A-Z, 0-9) */
#define GPS_KEYS_MAX   48 /* most typed members of one class */

enum vtype { V_STRING, V_TIME, V_INT, V_REAL, V_BOOL, V_MODE, V_SATS };

struct vkey {
	const char *name;
	enum vtype type;
	int unpack; /* TPV: deliver_tpv() reads it, so it goes to libgps */
};

/* The members libgps 3.22 reads in a TPV (json_tpv_read()); others pass unchecked. */
static const struct vkey tpv_keys[] = {
    {"time", V_TIME, 1},     {"mode", V_MODE, 1},       {"ept", V_REAL, 1},      {"lat", V_REAL, 1},
    {"lon", V_REAL, 1},      {"altMSL", V_REAL, 1},     {"epx", V_REAL, 1},      {"epy", V_REAL, 1},
    {"epv", V_REAL, 1},      {"track", V_REAL, 1},      {"speed", V_REAL, 1},    {"climb", V_REAL, 1},
    {"eps", V_REAL, 1},      {"eph", V_REAL, 1},        {"device", V_STRING, 0}, {"datum", V_STRING, 0},
    {"status", V_INT, 0},    {"leapseconds", V_INT, 0}, {"dgpsSta", V_INT, 0},   {"alt", V_REAL, 0},
    {"altHAE", V_REAL, 0},   {"epc", V_REAL, 0},        {"epd", V_REAL, 0},      {"magtrack", V_REAL, 0},
    {"magvar", V_REAL, 0},   {"sep", V_REAL, 0},        {"geoidSep", V_REAL, 0}, {"depth", V_REAL, 0},
    {"dgpsAge", V_REAL, 0},  {"ecefx", V_REAL, 0},      {"ecefy", V_REAL, 0},    {"ecefz", V_REAL, 0},
    {"ecefvx", V_REAL, 0},   {"ecefvy", V_REAL, 0},     {"ecefvz", V_REAL, 0},   {"ecefpAcc", V_REAL, 0},
    {"ecefvAcc", V_REAL, 0}, {"relN", V_REAL, 0},       {"relE", V_REAL, 0},     {"relD", V_REAL, 0},
    {"velN", V_REAL, 0},     {"velE", V_REAL, 0},       {"velD", V_REAL, 0},
};

/* A SKY (json_sky_read()), and each object of its "satellites". */
static const struct vkey sky_keys[] = {
    {"device", V_STRING, 0}, {"time", V_TIME, 0}, {"hdop", V_REAL, 0}, {"xdop", V_REAL, 0},
    {"ydop", V_REAL, 0},     {"vdop", V_REAL, 0}, {"tdop", V_REAL, 0}, {"pdop", V_REAL, 0},
    {"gdop", V_REAL, 0},     {"nSat", V_INT, 0},  {"uSat", V_INT, 0},  {"satellites", V_SATS, 0},
};
static const struct vkey sat_keys[] = {
    {"PRN", V_INT, 0},    {"el", V_REAL, 0},  {"az", V_REAL, 0},   {"ss", V_REAL, 0},    {"used", V_BOOL, 0},
    {"gnssid", V_INT, 0}, {"svid", V_INT, 0}, {"sigid", V_INT, 0}, {"freqid", V_INT, 0}, {"health", V_INT, 0},
};

struct vclass {
	const char *name; /* in messages */
	const struct vkey *keys;
	size_t nkeys;
};

static const struct vclass tpv_class = {"TPV", tpv_keys, ODO_ARRAY_LEN(tpv_keys)};
static const struct vclass sky_class = {"SKY", sky_keys, ODO_ARRAY_LEN(sky_keys)};
static const struct vclass sat_class = {"SKY satellite", sat_keys, ODO_ARRAY_LEN(sat_keys)};
_Static_assert(ODO_ARRAY_LEN(tpv_keys) <= GPS_KEYS_MAX, "GPS_KEYS_MAX too small");

struct span {
	const char *p;
	size_t n;
};

struct jcur {
	const char *s, *p, *end;
	const char *why; /* the first error, at byte `at` */
	size_t at;
};

__attribute__((format(printf, 2, 3))) static void set_why(struct odo_gps *g, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(g->why, sizeof g->why, fmt, ap);
	va_end(ap);
}

static int j_fail_at(struct jcur *c, const char *at, const char *why)
{
	if (!c->why) {
		c->why = why;
		c->at = (size_t)(at - c->s);
	}
	return 0;
}

static int j_fail(struct jcur *c, const char *why)
{
	return j_fail_at(c, c->p, why);
}

static void j_ws(struct jcur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n'))
		c->p++;
}

/* The string at c->p; its content (escapes undecoded) in *out. */
static int j_string(struct jcur *c, struct span *out)
{
	const char *open = c->p++;
	out->p = c->p;
	while (c->p < c->end && *c->p != '"') {
		unsigned char ch = (unsigned char)*c->p;
		if (ch < 0x20)
			return j_fail(c, "control character in a string");
		c->p++;
		if (ch != '\\')
			continue;
		if (c->p >= c->end || !strchr("\"\\/bfnrtu", *c->p))
			return j_fail(c, "bad escape in a string");
		if (*c->p++ == 'u') {
			for (int i = 0; i < 4; i++, c->p++)
				if (c->p >= c->end || !isxdigit((unsigned char)*c->p))
					return j_fail(c, "bad \\u escape in a string");
		}
	}
	if (c->p >= c->end)
		return j_fail_at(c, open, "unterminated string");
	out->n = (size_t)(c->p - out->p);
	c->p++;
	return 1;
}

static int j_digits(struct jcur *c)
{
	const char *s = c->p;
	while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		c->p++;
	return c->p > s;
}

static int j_number(struct jcur *c)
{
	const char *s = c->p;
	if (c->p < c->end && *c->p == '-')
		c->p++;
	if (!j_digits(c))
		return j_fail_at(c, s, "expected a value");
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (!j_digits(c))
			return j_fail(c, "bad number");
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (!j_digits(c))
			return j_fail(c, "bad number");
	}
	return 1;
}

static int span_is(struct span s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && memcmp(s.p, lit, n) == 0;
}

static int j_value(struct jcur *c, int depth);

/* The object at c->p. cls: top level only, gets the "class" string's content. */
static int j_object(struct jcur *c, int depth, struct span *cls)
{
	c->p++;
	j_ws(c);
	if (c->p < c->end && *c->p == '}') {
		c->p++;
		return 1;
	}
	for (;;) {
		struct span key, val;
		j_ws(c);
		if (c->p >= c->end || *c->p != '"')
			return j_fail(c, "expected a key");
		if (!j_string(c, &key))
			return 0;
		j_ws(c);
		if (c->p >= c->end || *c->p != ':')
			return j_fail(c, "expected ':'");
		c->p++;
		j_ws(c);
		val.p = c->p;
		if (!j_value(c, depth + 1))
			return 0;
		val.n = (size_t)(c->p - val.p);
		if (cls && span_is(key, "class")) {
			if (cls->p)
				return j_fail_at(c, key.p - 1, "two \"class\" keys");
			if (val.p[0] != '"')
				return j_fail_at(c, val.p, "\"class\" is not a string");
			cls->p = val.p + 1;
			cls->n = val.n - 2;
		}
		j_ws(c);
		if (c->p >= c->end)
			return j_fail(c, "unterminated object");
		if (*c->p == '}') {
			c->p++;
			return 1;
		}
		if (*c->p != ',')
			return j_fail(c, "expected ',' or '}'");
		c->p++;
	}
}

static int j_array(struct jcur *c, int depth)
{
	c->p++;
	j_ws(c);
	if (c->p < c->end && *c->p == ']') {
		c->p++;
		return 1;
	}
	for (;;) {
		j_ws(c);
		if (!j_value(c, depth + 1))
			return 0;
		j_ws(c);
		if (c->p >= c->end)
			return j_fail(c, "unterminated array");
		if (*c->p == ']') {
			c->p++;
			return 1;
		}
		if (*c->p != ',')
			return j_fail(c, "expected ',' or ']'");
		c->p++;
	}
}

static int j_value(struct jcur *c, int depth)
{
	if (depth > GPS_JSON_DEPTH)
		return j_fail(c, "nested too deeply");
	if (c->p >= c->end)
		return j_fail(c, "expected a value");
	struct span s;
	switch (*c->p) {
	case '{':
		return j_object(c, depth, NULL);
	case '[':
		return j_array(c, depth);
	case '"':
		return j_string(c, &s);
	}
	static const char *const lit[] = { "true", "false", "null" };
	for (size_t i = 0; i < ODO_ARRAY_LEN(lit); i++) {
		size_t l = strlen(lit[i]);
		if ((size_t)(c->end - c->p) >= l && memcmp(c->p, lit[i], l) == 0) {
			c->p += l;
			return 1;
		}
	}
	return j_number(c);
}

static int class_name_ok(struct span s)
{
	if (s.n < 1 || s.n > GPS_CLASS_MAX)
		return 0;
	for (size_t i = 0; i < s.n; i++)
		if (!(s.p[i] >= 'A' && s.p[i] <= 'Z') && !(s.p[i] >= '0' && s.p[i] <= '9'))
			return 0;
	return 1;
}

/* s[0..len) is one strict JSON object with a gpsd class name in *cls; else g->why. */
static int read_report(struct odo_gps *g, const char *s, size_t len, struct span *cls, const char **obj)
{
	struct jcur c = {.s = s, .p = s, .end = s + len};
	cls->p = NULL;
	const char *nul = memchr(s, '\0', len);
	if (nul) {
		set_why(g, "NUL byte at byte %zu", (size_t)(nul - s));
		return 0;
	}
	j_ws(&c);
	*obj = c.p;
	if (c.p >= c.end || *c.p != '{') {
		j_fail(&c, "not a JSON object");
	} else if (j_object(&c, 0, cls)) {
		j_ws(&c);
		if (c.p != c.end)
			j_fail(&c, "text after the object");
	}
	if (c.why) {
		set_why(g, "%s at byte %zu", c.why, c.at);
		return 0;
	}
	if (!cls->p) {
		set_why(g, "no \"class\" key");
		return 0;
	}
	if (!class_name_ok(*cls)) {
		set_why(g, "\"class\" is not a gpsd class name at byte %zu", (size_t)(cls->p - 1 - s));
		return 0;
	}
	return 1;
}

/* NULL when v (value text) is a finite JSON number of at most GPS_NUM_MAX characters. */
static const char *check_real(struct span v)
{
	if (v.p[0] != '-' && !(v.p[0] >= '0' && v.p[0] <= '9'))
		return "not a number";
	if (v.n > GPS_NUM_MAX)
		return "number too long";
	/* libgps 3.22 stores an overflowing number as inf (1e999 does). */
	char num[GPS_NUM_MAX + 1];
	memcpy(num, v.p, v.n);
	num[v.n] = '\0';
	if (!isfinite(strtod(num, NULL)))
		return "number out of range";
	return NULL;
}

static const char *check_int(struct span v)
{
	size_t i = v.n > 0 && v.p[0] == '-';
	if (v.n == i || v.n - i > GPS_INT_DIGITS)
		return "not an integer";
	for (; i < v.n; i++)
		if (v.p[i] < '0' || v.p[i] > '9')
			return "not an integer";
	return NULL;
}

static int digits_in(const char *p, int n, int lo, int hi)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		v = v * 10 + (p[i] - '0');
	}
	return v >= lo && v <= hi;
}

/* NULL when v is "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z", the form gpsd writes. */
static const char *check_time(struct span v)
{
	static const char bad[] = "not an ISO 8601 UTC time";
	const char *p = v.p + 1;
	if (v.p[0] != '"' || v.n < 22)
		return bad;
	size_t n = v.n - 2; /* content */
	if (!digits_in(p, 4, 0, 9999) || p[4] != '-' || !digits_in(p + 5, 2, 1, 12) || p[7] != '-' ||
	    !digits_in(p + 8, 2, 1, 31) || p[10] != 'T' || !digits_in(p + 11, 2, 0, 23) || p[13] != ':' ||
	    !digits_in(p + 14, 2, 0, 59) || p[16] != ':' || !digits_in(p + 17, 2, 0, 60))
		return bad;
	size_t i = 19;
	if (i < n && p[i] == '.') {
		size_t f = ++i;
		while (i < n && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == f || i - f > 9)
			return bad;
	}
	if (i + 1 != n || p[i] != 'Z')
		return bad;
	return NULL;
}

static const char *check_scalar(enum vtype t, struct span v)
{
	switch (t) {
	case V_STRING:
		return v.p[0] == '"' ? NULL : "not a string";
	case V_TIME:
		return check_time(v);
	case V_INT:
		return check_int(v);
	case V_REAL:
		return check_real(v);
	case V_BOOL:
		return span_is(v, "true") || span_is(v, "false") ? NULL : "not true or false";
	case V_MODE:
		return v.n == 1 && v.p[0] >= '0' && v.p[0] <= '3' ? NULL : "not a fix mode (0..3)";
	case V_SATS:
		break;
	}
	return "bad type";
}

static int check_sats(struct odo_gps *g, const char *s, struct span v);

/*
 * Check the members of the object at obj (read by j_object() already) against
 * vc: each typed member given at most once, of its type. vals[i]: the value
 * of vc->keys[i] (p NULL when absent). 0 with g->why set on a mismatch.
 */
static int check_members(struct odo_gps *g, const char *s, const char *obj, const char *end,
                         const struct vclass *vc, struct span *vals)
{
	struct jcur c = {.s = s, .p = obj + 1, .end = end};
	for (size_t i = 0; i < vc->nkeys; i++)
		vals[i].p = NULL;
	j_ws(&c);
	while (c.p < c.end && *c.p != '}') {
		struct span key, val;
		(void)j_string(&c, &key);
		j_ws(&c);
		c.p++; /* ':' */
		j_ws(&c);
		val.p = c.p;
		(void)j_value(&c, 1);
		val.n = (size_t)(c.p - val.p);
		j_ws(&c);
		if (c.p < c.end && *c.p == ',') {
			c.p++;
			j_ws(&c);
		}
		size_t i = 0;
		while (i < vc->nkeys && !span_is(key, vc->keys[i].name))
			i++;
		if (i == vc->nkeys)
			continue;
		const struct vkey *k = &vc->keys[i];
		size_t at = (size_t)(val.p - s);
		if (vals[i].p) {
			set_why(g, "%s \"%s\" given twice at byte %zu", vc->name, k->name, at);
			return 0;
		}
		vals[i] = val;
		if (k->type == V_SATS) {
			if (!check_sats(g, s, val))
				return 0;
			continue;
		}
		const char *bad = check_scalar(k->type, val);
		if (bad) {
			set_why(g, "%s \"%s\": %s at byte %zu", vc->name, k->name, bad, at);
			return 0;
		}
	}
	return 1;
}

/* A SKY's "satellites": an array of satellite objects. */
static int check_sats(struct odo_gps *g, const char *s, struct span v)
{
	struct jcur c = {.s = s, .p = v.p, .end = v.p + v.n};
	struct span vals[ODO_ARRAY_LEN(sat_keys)];
	if (*c.p != '[') {
		set_why(g, "SKY \"satellites\": not an array at byte %zu", (size_t)(c.p - s));
		return 0;
	}
	c.p++;
	j_ws(&c);
	while (c.p < c.end && *c.p != ']') {
		const char *o = c.p;
		if (*o != '{') {
			set_why(g, "SKY \"satellites\": not an object at byte %zu", (size_t)(o - s));
			return 0;
		}
		(void)j_value(&c, 1);
		if (!check_members(g, s, o, c.p, &sat_class, vals))
			return 0;
		j_ws(&c);
		if (c.p < c.end && *c.p == ',') {
			c.p++;
			j_ws(&c);
		}
	}
	return 1;
}

static int put(char *buf, size_t cap, size_t *n, const char *s, size_t len)
{
	if (len >= cap - *n)
		return 0;
	memcpy(buf + *n, s, len);
	*n += len;
	buf[*n] = '\0';
	return 1;
}

/* Write the report libgps gets to g->unpack: "class" and the checked members deliver_tpv() reads. */
static int rebuild_tpv(struct odo_gps *g, const struct span *vals)
{
	static const char head[] = "{\"class\":\"TPV\"";
	char *b = g->unpack;
	size_t cap = sizeof g->unpack, n = 0;
	int ok = put(b, cap, &n, head, sizeof head - 1);
	for (size_t i = 0; i < ODO_ARRAY_LEN(tpv_keys) && ok; i++) {
		const struct vkey *k = &tpv_keys[i];
		if (!k->unpack || !vals[i].p)
			continue;
		ok = put(b, cap, &n, ",\"", 2) && put(b, cap, &n, k->name, strlen(k->name)) &&
		     put(b, cap, &n, "\":", 2) && put(b, cap, &n, vals[i].p, vals[i].n);
	}
	/* Never short of room: the rebuilt report is a subset of the line's members. */
	if (!ok || !put(b, cap, &n, "}", 1)) {
		set_why(g, "TPV too long");
		return 0;
	}
	return 1;
}

int odo_gps_feed_json(struct odo_gps *g, const char *line, size_t len)
{
	if (!g || !line)
		return ODO_ERR_INVAL;
	g->why[0] = '\0';
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len > GPS_MSG_MAX) {
		set_why(g, "longer than %d bytes", GPS_MSG_MAX);
		g->st.src.errors++;
		return ODO_ERR_TOOBIG;
	}
	struct span cls, vals[GPS_KEYS_MAX];
	const char *obj;
	int tpv = 0;
	if (!read_report(g, line, len, &cls, &obj))
		goto refused;
	if (span_is(cls, "TPV")) {
		tpv = 1;
		if (!check_members(g, line, obj, line + len, &tpv_class, vals) || !rebuild_tpv(g, vals))
			goto refused;
	} else if (span_is(cls, "SKY")) {
		if (!check_members(g, line, obj, line + len, &sky_class, vals))
			goto refused;
	}
	if (tpv) {
		clear_fix(&g->gd.fix);
		/* libgps's own parser, the one gps_read() uses on the live socket. */
		if (gps_unpack(g->unpack, &g->gd) < 0) {
			set_why(g, "refused by libgps");
			goto refused;
		}
	}
	g->st.reports++;
	if (tpv)
		deliver_tpv(g, &g->gd.fix);
	return ODO_OK;
refused:
	g->st.src.errors++;
	return ODO_ERR_PROTOCOL;
}

const char *odo_gps_error(const struct odo_gps *g)
{
	return g ? g->why : "";
}

static void record_line(struct odo_gps *g, const char *json, size_t len)
{
	char t[32];
	if (!g->rec || odo_clock_format_unix_us(t, sizeof t, odo_clock_real_ns(g->clock)) == 0)
		return;
	while (len > 0 && (json[len - 1] == '\n' || json[len - 1] == '\r'))
		len--;
	fprintf(g->rec, "%s %.*s\n", t, (int)len, json);
}

/* "YYYY-MM-DD HH:MM:SS " */
static int is_gpspipe_date(const char *l)
{
	static const char pat[] = "dddd-dd-dd dd:dd:dd ";
	for (int i = 0; pat[i]; i++) {
		if (pat[i] == 'd' ? (l[i] < '0' || l[i] > '9') : l[i] != pat[i])
			return 0;
	}
	return 1;
}

int odo_gps_log_parse(const char *line, int64_t *t_real_ns, const char **json, size_t *len, const char **why)
{
	const char *l = line, *p;
	int64_t t;
	if (!line || !t_real_ns || !json || !len || !why)
		return ODO_ERR_INVAL;
	/* `gpspipe -w -uu` (3.22) writes "2018-08-02 16:14:48 1533226488.299000: {";
	 * the date/time in front of the Unix time is skipped. */
	if (is_gpspipe_date(l))
		l += 20;
	if (odo_clock_parse_unix(l, &p, &t) != ODO_OK) {
		*why = "bad receipt time";
		return ODO_ERR_INVAL;
	}
	if (*p == ':') /* gpspipe -u style "<t>: " */
		p++;
	if (*p != ' ' || p[1] != '{') {
		*why = "expected ' {' after the time";
		return ODO_ERR_INVAL;
	}
	*t_real_ns = t;
	*json = p + 1;
	*len = strlen(p + 1);
	return ODO_OK;
}

static void disconnect(struct odo_gps *g, const char *why)
{
	if (!g->connected)
		return;
	ODO_LOG(WARN, "gps", "gpsd %s:%s lost (%s); reconnecting in %lld ms", g->cfg.host,
		g->cfg.port, why, (long long)g->backoff_ms);
	(void)gps_close(&g->gd);
	g->connected = 0;
	g->absent_said = 1; /* said just now */
	g->next_try_ns = odo_clock_mono_ns(g->clock) + g->backoff_ms * ODO_NS_PER_MS;
}

static void try_connect(struct odo_gps *g)
{
	int64_t now = odo_clock_mono_ns(g->clock);
	if (gps_open(g->cfg.host, g->cfg.port, &g->gd) != 0) {
		g->st.connect_failures++;
		/* gpsd not there (yet): said once, then retried quietly */
		if (!g->absent_said) {
			g->absent_said = 1;
			ODO_LOG(WARN, "gps", "gpsd %s:%s not reachable (%s): no position until it is; retrying every"
				" %.1f s at first, then every %.0f s", g->cfg.host, g->cfg.port, gps_errstr(errno),
				(double)g->backoff_ms / 1e3, (double)g->cfg.reconnect_max_ms / 1e3);
		} else {
			ODO_LOG(DEBUG, "gps", "gpsd %s:%s: %s; retry in %lld ms", g->cfg.host, g->cfg.port,
				gps_errstr(errno), (long long)g->backoff_ms);
		}
		g->next_try_ns = now + g->backoff_ms * ODO_NS_PER_MS;
		g->backoff_ms *= 2;
		if (g->backoff_ms > g->cfg.reconnect_max_ms)
			g->backoff_ms = g->cfg.reconnect_max_ms;
		return;
	}
	if (gps_stream(&g->gd, WATCH_ENABLE | WATCH_JSON, NULL) != 0) {
		g->st.connect_failures++;
		(void)gps_close(&g->gd);
		g->next_try_ns = now + g->backoff_ms * ODO_NS_PER_MS;
		return;
	}
	/* The loop must never block: libgps recv()s on a non-blocking socket. */
	int fl = fcntl(g->gd.gps_fd, F_GETFL);
	if (fl >= 0)
		(void)fcntl(g->gd.gps_fd, F_SETFL, fl | O_NONBLOCK);
	g->connected = 1;
	if (g->ever_connected)
		g->st.reconnects++;
	g->ever_connected = 1;
	g->absent_said = 0;
	g->backoff_ms = g->cfg.reconnect_min_ms;
	g->next_try_ns = ODO_DEADLINE_NONE;
	ODO_LOG(INFO, "gps", "connected to gpsd %s:%s", g->cfg.host, g->cfg.port);
}

int odo_gps_open(const struct odo_gps_cfg *cfg, const struct odo_clock *clock,
		 const struct odo_sink *sink, struct odo_gps **out)
{
	if (!clock || !out)
		return ODO_ERR_INVAL;
	if (cfg && (cfg->reconnect_min_ms < 1 || cfg->reconnect_max_ms < cfg->reconnect_min_ms))
		return ODO_ERR_INVAL;
	struct odo_gps *g = calloc(1, sizeof *g);
	if (!g)
		return ODO_ERR_NOMEM;
	g->clock = clock;
	g->sink = sink;
	g->next_try_ns = ODO_DEADLINE_NONE;
	clear_fix(&g->gd.fix);
	if (cfg) {
		g->cfg = *cfg;
		g->live = 1;
		g->backoff_ms = cfg->reconnect_min_ms;
		try_connect(g);
	}
	*out = g;
	return ODO_OK;
}

static int gps_pollfds(void *self, struct pollfd *pfd, int max)
{
	struct odo_gps *g = self;
	if (!g->connected || max < 1)
		return 0;
	pfd[0].fd = g->gd.gps_fd;
	pfd[0].events = POLLIN;
	return 1;
}

static void gps_handle(void *self, const struct pollfd *pfd, int n)
{
	struct odo_gps *g = self;
	if (!g->connected || n < 1 || !(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	for (;;) {
		errno = 0;
		int r = gps_read(&g->gd, g->msg, (int)sizeof g->msg - 1);
		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			disconnect(g, errno ? strerror(errno) : "closed");
			return;
		}
		if (r == 0)
			break;
		g->msg[sizeof g->msg - 1] = '\0';
		size_t len = strnlen(g->msg, sizeof g->msg - 1);
		if (len > 0 && g->msg[0] == '{') {
			record_line(g, g->msg, len);
			g->st.reports++;
			if (is_class(g->msg, "TPV"))
				deliver_tpv(g, &g->gd.fix);
		} else if (len > 0) {
			g->st.src.errors++;
		}
		if (!gps_waiting(&g->gd, 0))
			break;
	}
}

static int64_t gps_deadline(void *self)
{
	struct odo_gps *g = self;
	return (g->live && !g->connected) ? g->next_try_ns : ODO_DEADLINE_NONE;
}

static void gps_tick(void *self)
{
	struct odo_gps *g = self;
	if (g->live && !g->connected && odo_clock_mono_ns(g->clock) >= g->next_try_ns)
		try_connect(g);
}

static const struct odo_source_ops gps_ops = {
	.name = "gps",
	.pollfds = gps_pollfds,
	.handle = gps_handle,
	.deadline = gps_deadline,
	.tick = gps_tick,
};

struct odo_source odo_gps_source(struct odo_gps *g)
{
	struct odo_source s = { .ops = &gps_ops, .self = g };
	return s;
}

void odo_gps_set_recorder(struct odo_gps *g, FILE *f)
{
	if (g)
		g->rec = f;
}

void odo_gps_stats(const struct odo_gps *g, struct odo_gps_stats *out)
{
	if (!g || !out)
		return;
	*out = g->st;
	out->connected = g->connected;
}

void odo_gps_close(struct odo_gps *g)
{
	if (!g)
		return;
	if (g->connected)
		(void)gps_close(&g->gd);
	free(g);
}
