/*
 * odo-agent GPS: gpsd client over libgps 3.22 (see gps.h).
 */
#include "gps/gps.h"

#include <errno.h>
#include <fcntl.h>
#include <gps.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "odo/log.h"

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
	FILE *rec;
	struct odo_gps_stats st;
	char msg[GPS_MSG_MAX + 1];
	char unpack[GPS_MSG_MAX + 1];
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
	f.speed_mps = fx->speed;
	f.track_deg = fx->track;
	f.climb_mps = fx->climb;
	f.eph = fx->eph;
	f.epx = fx->epx;
	f.epy = fx->epy;
	f.epv = fx->epv;
	f.eps = fx->eps;
	f.ept = fx->ept;
	g->st.src.received++;
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

/* libgps 3.22's gps_unpack() loops for ever on some malformed reports: when
 * json_read_object() fails without moving its end pointer (e.g. an attribute
 * name longer than JSON_ATTR_MAX, 31), gps_unpack() retries from the same
 * place. {"class":"TPV","xxxx...(40)...{"class":"VERSION"} is one (found by
 * tests/fuzz/inputs). gpsd itself only writes well-formed JSON with short
 * names, so a recorded line is checked strictly first: one object, keys of
 * at most GPS_ATTR_MAX characters, bounded nesting. */
#define GPS_ATTR_MAX 31
#define GPS_JSON_DEPTH 8

struct jcur {
	const char *p, *end;
	int classes; /* "class" keys of the top-level object */
};

static void j_ws(struct jcur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n'))
		c->p++;
}

/* A string; its content length in *n. */
static int j_string(struct jcur *c, size_t *n)
{
	if (c->p >= c->end || *c->p != '"')
		return 0;
	c->p++;
	*n = 0;
	while (c->p < c->end && *c->p != '"') {
		unsigned char ch = (unsigned char)*c->p++;
		if (ch < 0x20)
			return 0;
		if (ch == '\\') {
			if (c->p >= c->end || !strchr("\"\\/bfnrtu", *c->p))
				return 0;
			if (*c->p++ == 'u') {
				for (int i = 0; i < 4; i++, c->p++)
					if (c->p >= c->end || !strchr("0123456789abcdefABCDEF", *c->p))
						return 0;
			}
		}
		(*n)++;
	}
	if (c->p >= c->end)
		return 0;
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

static int j_value(struct jcur *c, int depth);

static int j_members(struct jcur *c, int depth, int object)
{
	char close = object ? '}' : ']';
	c->p++;
	j_ws(c);
	if (c->p < c->end && *c->p == close) {
		c->p++;
		return 1;
	}
	for (;;) {
		j_ws(c);
		if (object) {
			size_t n;
			const char *key = c->p + 1;
			if (!j_string(c, &n) || n > GPS_ATTR_MAX)
				return 0;
			/* A second "class" also sends gps_unpack() round for ever
			 * ({"class":"TPV",...,"class":"VERSION",...}, found by
			 * tests/fuzz/inputs): one class per report. */
			if (depth == 0 && n == 5 && memcmp(key, "class", 5) == 0 && ++c->classes > 1)
				return 0;
			j_ws(c);
			if (c->p >= c->end || *c->p++ != ':')
				return 0;
			j_ws(c);
		}
		if (!j_value(c, depth + 1))
			return 0;
		j_ws(c);
		if (c->p >= c->end)
			return 0;
		if (*c->p == close) {
			c->p++;
			return 1;
		}
		if (*c->p++ != ',')
			return 0;
	}
}

static int j_value(struct jcur *c, int depth)
{
	if (depth > GPS_JSON_DEPTH || c->p >= c->end)
		return 0;
	size_t n;
	switch (*c->p) {
	case '{':
		return j_members(c, depth, 1);
	case '[':
		return j_members(c, depth, 0);
	case '"':
		return j_string(c, &n);
	}
	static const char *const lit[] = { "true", "false", "null" };
	for (size_t i = 0; i < 3; i++) {
		size_t l = strlen(lit[i]);
		if ((size_t)(c->end - c->p) >= l && memcmp(c->p, lit[i], l) == 0) {
			c->p += l;
			return 1;
		}
	}
	if (*c->p == '-')
		c->p++;
	if (!j_digits(c))
		return 0;
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (!j_digits(c))
			return 0;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (!j_digits(c))
			return 0;
	}
	return 1;
}

/* 1 when s[0..len) is exactly one well-formed JSON object as gpsd writes. */
static int json_report_ok(const char *s, size_t len)
{
	struct jcur c = { s, s + len, 0 };
	j_ws(&c);
	if (c.p >= c.end || *c.p != '{' || !j_value(&c, 0))
		return 0;
	j_ws(&c);
	return c.p == c.end;
}

int odo_gps_feed_json(struct odo_gps *g, const char *line, size_t len)
{
	if (!g || !line)
		return ODO_ERR_INVAL;
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len > GPS_MSG_MAX) {
		g->st.src.errors++;
		return ODO_ERR_TOOBIG;
	}
	memcpy(g->unpack, line, len);
	g->unpack[len] = '\0';
	if (len < 2 || g->unpack[0] != '{' || g->unpack[len - 1] != '}' || memchr(line, '\0', len) ||
	    !json_report_ok(g->unpack, len)) {
		g->st.src.errors++;
		return ODO_ERR_PROTOCOL;
	}
	int tpv = is_class(g->unpack, "TPV");
	if (tpv)
		clear_fix(&g->gd.fix);
	/* libgps's own parser, the one gps_read() uses on the live socket. */
	int rc = gps_unpack(g->unpack, &g->gd);
	if (rc < 0) {
		g->st.src.errors++;
		return ODO_ERR_PROTOCOL;
	}
	g->st.reports++;
	if (tpv)
		deliver_tpv(g, &g->gd.fix);
	return ODO_OK;
}

static void record_line(struct odo_gps *g, const char *json, size_t len)
{
	if (!g->rec)
		return;
	int64_t t = odo_clock_real_ns(g->clock);
	while (len > 0 && (json[len - 1] == '\n' || json[len - 1] == '\r'))
		len--;
	fprintf(g->rec, "%lld.%06lld %.*s\n", (long long)(t / ODO_NS_PER_S),
		(long long)((t % ODO_NS_PER_S) / 1000), (int)len, json);
}

static void disconnect(struct odo_gps *g, const char *why)
{
	if (!g->connected)
		return;
	ODO_LOG(WARN, "gps", "gpsd %s:%s lost (%s); reconnecting in %lld ms", g->cfg.host,
		g->cfg.port, why, (long long)g->backoff_ms);
	(void)gps_close(&g->gd);
	g->connected = 0;
	g->next_try_ns = odo_clock_mono_ns(g->clock) + g->backoff_ms * ODO_NS_PER_MS;
}

static void try_connect(struct odo_gps *g)
{
	int64_t now = odo_clock_mono_ns(g->clock);
	if (gps_open(g->cfg.host, g->cfg.port, &g->gd) != 0) {
		g->st.connect_failures++;
		ODO_LOG(DEBUG, "gps", "gpsd %s:%s: %s; retry in %lld ms", g->cfg.host, g->cfg.port,
			gps_errstr(errno), (long long)g->backoff_ms);
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
