/*
 * odo-agent phone state server (see phone.h).
 */
#include "phone/phone.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "odo/files.h"
#include "odo/log.h"

#define PHONE_MAGIC "odo-phone/1"

struct client {
	int fd; /* -1: free */
	int tcp;            /* 1: came over TCP: must send the token first */
	int authed;         /* the token was right (UNIX clients: always) */
	int64_t auth_until; /* mono ns: a TCP client not authenticated by then is dropped */
	char peer[32];      /* "127.0.0.1:PORT" or "uid N", for the log */
	size_t len;
	int overlong; /* discarding the rest of a too-long line */
	char buf[ODO_PHONE_LINE_MAX + 1];
};

struct odo_phone {
	const struct odo_clock *clock;
	const struct odo_sink *sink;
	struct odo_phone_cfg cfg;
	char token[ODO_PHONE_TOKEN_MAX + 1]; /* TCP's shared secret ("" = no TCP) */
	size_t token_len;
	int ufd, tfd;
	FILE *rec;
	struct client cl[ODO_PHONE_MAX_CLIENTS];
	struct odo_phone_stats st;
	/* which fd each pollfd slot was, for handle() */
	int slot_fd[ODO_SOURCE_MAX_FDS];
};

const struct odo_cfg_key odo_phone_cfg_keys[] = {
	ODO_CFG_S("socket", struct odo_phone_cfg, socket_path, "/run/odo/phone.sock",
		  "UNIX stream socket the companion app connects to (empty: none)"),
	ODO_CFG_S("socket_mode", struct odo_phone_cfg, socket_mode, "0660",
		  "permissions of the socket file (octal): who may connect is who may write it"),
	ODO_CFG_S("socket_group", struct odo_phone_cfg, socket_group, "",
		  "group of the socket file, e.g. the companion bridge's (empty: the agent's own group)"),
	ODO_CFG_I("tcp_port", struct odo_phone_cfg, tcp_port, "0", 0, 65535,
		  "also listen on 127.0.0.1:PORT (0: off); needs token_file"),
	ODO_CFG_S("token_file", struct odo_phone_cfg, token_file, "",
		  "file (mode 0600) holding the shared token a TCP client must send first (16-128 characters)"),
};
const size_t odo_phone_cfg_nkeys = ODO_ARRAY_LEN(odo_phone_cfg_keys);

static const char *const call_names[] = { "none", "handheld", "handsfree" };

static void set_reason(char *r, const char *msg, const char *tok, size_t toklen)
{
	if (tok)
		snprintf(r, ODO_PHONE_REASON_MAX, "%s '%.*s'", msg, (int)(toklen > 24 ? 24 : toklen), tok);
	else
		snprintf(r, ODO_PHONE_REASON_MAX, "%s", msg);
}

static int tok_eq(const char *t, size_t n, const char *s)
{
	return strlen(s) == n && memcmp(t, s, n) == 0;
}

int odo_phone_parse(const char *line, size_t len, struct odo_phone_state *out,
		    char reason[ODO_PHONE_REASON_MAX])
{
	char dummy[ODO_PHONE_REASON_MAX];
	if (!reason)
		reason = dummy;
	if (!line || !out) {
		set_reason(reason, "no input", NULL, 0);
		return ODO_ERR_PROTOCOL;
	}
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > ODO_PHONE_LINE_MAX) {
		set_reason(reason, "line too long", NULL, 0);
		return ODO_ERR_PROTOCOL;
	}
	size_t ml = strlen(PHONE_MAGIC);
	if (len < ml || memcmp(line, PHONE_MAGIC, ml) != 0) {
		if (len > 9 && memcmp(line, "odo-phone/", 10) == 0)
			set_reason(reason, "unsupported version", line, len);
		else
			set_reason(reason, "not odo-phone/1", NULL, 0);
		return ODO_ERR_PROTOCOL;
	}
	int screen = -1, call = -1, handled = -1;
	size_t i = ml;
	if (i == len) {
		set_reason(reason, "missing screen", NULL, 0);
		return ODO_ERR_PROTOCOL;
	}
	while (i < len) {
		if (line[i] != ' ') {
			set_reason(reason, "expected one space before", line + i, len - i);
			return ODO_ERR_PROTOCOL;
		}
		i++;
		size_t s = i;
		while (i < len && line[i] != ' ')
			i++;
		const char *t = line + s;
		size_t n = i - s;
		const char *eq = memchr(t, '=', n);
		if (!eq) {
			set_reason(reason, "expected key=value, got", t, n);
			return ODO_ERR_PROTOCOL;
		}
		size_t kn = (size_t)(eq - t);
		const char *v = eq + 1;
		size_t vn = n - kn - 1;
		int *dst;
		int val = -1;
		if (tok_eq(t, kn, "screen")) {
			dst = &screen;
			val = tok_eq(v, vn, "on") ? 1 : tok_eq(v, vn, "off") ? 0 : -1;
		} else if (tok_eq(t, kn, "call")) {
			dst = &call;
			for (int c = 0; c < 3; c++)
				if (tok_eq(v, vn, call_names[c]))
					val = c;
		} else if (tok_eq(t, kn, "handled")) {
			dst = &handled;
			val = tok_eq(v, vn, "1") ? 1 : tok_eq(v, vn, "0") ? 0 : -1;
		} else {
			set_reason(reason, "unknown key", t, kn);
			return ODO_ERR_PROTOCOL;
		}
		if (*dst != -1) {
			set_reason(reason, "duplicate key", t, kn);
			return ODO_ERR_PROTOCOL;
		}
		if (val < 0) {
			set_reason(reason, "bad value", t, n);
			return ODO_ERR_PROTOCOL;
		}
		*dst = val;
	}
	if (screen < 0 || call < 0 || handled < 0) {
		set_reason(reason, screen < 0 ? "missing screen" : call < 0 ? "missing call" : "missing handled",
			   NULL, 0);
		return ODO_ERR_PROTOCOL;
	}
	out->screen_on = screen;
	out->call = (uint8_t)call;
	out->handled = handled;
	return ODO_OK;
}

size_t odo_phone_csv_format(char *buf, size_t size, int64_t t_real_ns, const struct odo_phone_state *s)
{
	size_t k = odo_clock_format_unix_us(buf, size, t_real_ns);
	if (k == 0 || s->call > ODO_CALL_HANDSFREE)
		return 0;
	int n = snprintf(buf + k, size - k, ",%s,%s,%d\n", s->screen_on ? "on" : "off", call_names[s->call],
			 s->handled ? 1 : 0);
	return n > 0 && (size_t)n < size - k ? k + (size_t)n : 0;
}

/* "on"/"off", a call state, "0"/"1": the field [p, e) as an index of names, or -1. */
static int csv_field(const char *p, const char *e, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strlen(names[i]) == (size_t)(e - p) && memcmp(names[i], p, (size_t)(e - p)) == 0)
			return i;
	return -1;
}

int odo_phone_csv_parse(const char *line, int64_t *t_real_ns, struct odo_phone_state *out)
{
	static const char *const screens[] = {"off", "on"}, *const bits[] = {"0", "1"};
	const char *p, *e;
	int64_t t;
	int f[3];
	const char *const *names[3] = {screens, call_names, bits};
	const int counts[3] = {2, 3, 2};

	if (!line || !t_real_ns || !out)
		return ODO_ERR_INVAL;
	if (odo_clock_parse_unix(line, &p, &t) != ODO_OK)
		return ODO_ERR_INVAL;
	for (int i = 0; i < 3; i++) {
		if (*p++ != ',')
			return ODO_ERR_INVAL;
		for (e = p; *e && *e != ',' && *e != '\r' && *e != '\n'; e++)
			;
		if ((f[i] = csv_field(p, e, names[i], counts[i])) < 0)
			return ODO_ERR_PROTOCOL;
		p = e;
	}
	if (*p == '\r')
		p++;
	if (*p == '\n')
		p++;
	if (*p)
		return ODO_ERR_INVAL;
	*t_real_ns = t;
	memset(out, 0, sizeof(*out));
	out->screen_on = f[0];
	out->call = (uint8_t)f[1];
	out->handled = f[2];
	return ODO_OK;
}

/* A state that was accepted: stamped, recorded, counted, to the sink. */
static void deliver_state(struct odo_phone *p, struct odo_phone_state *s)
{
	s->mono_ns = odo_clock_mono_ns(p->clock);
	if (p->rec) {
		char row[ODO_PHONE_CSV_LINE_MAX];
		size_t n = odo_phone_csv_format(row, sizeof row, odo_clock_real_ns(p->clock), s);
		fwrite(row, 1, n, p->rec);
	}
	p->st.src.received++;
	if (p->sink && p->sink->phone)
		p->sink->phone(p->sink->ctx, s);
}

static int deliver(struct odo_phone *p, const char *line, size_t len, char *reason)
{
	struct odo_phone_state s;
	int rc = odo_phone_parse(line, len, &s, reason);
	if (rc != ODO_OK) {
		p->st.src.errors++;
		ODO_LOG(WARN, "phone", "rejected message: %s", reason);
		return rc;
	}
	deliver_state(p, &s);
	return ODO_OK;
}

int odo_phone_feed(struct odo_phone *p, const struct odo_phone_state *s)
{
	if (!p || !s || s->call > ODO_CALL_HANDSFREE)
		return ODO_ERR_INVAL;
	struct odo_phone_state c = *s;
	deliver_state(p, &c);
	return ODO_OK;
}

int odo_phone_feed_line(struct odo_phone *p, const char *line, size_t len)
{
	char reason[ODO_PHONE_REASON_MAX];
	if (!p)
		return ODO_ERR_INVAL;
	return deliver(p, line, len, reason);
}

/* The socket file is created 0600 (umask around bind: the agent is
 * single-threaded) and only then given its group and mode, so it never
 * exists with wider permissions than configured. */
static int listen_unix(const char *path, mode_t mode, gid_t gid)
{
	struct sockaddr_un a;
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof a.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(a.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	(void)unlink(path);
	mode_t old = umask(0177);
	int rc = bind(fd, (struct sockaddr *)&a, sizeof a);
	umask(old);
	if (rc != 0 || (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) != 0) || chmod(path, mode) != 0 ||
	    listen(fd, 8) != 0) {
		int e = errno;
		close(fd);
		(void)unlink(path);
		errno = e;
		return -1;
	}
	return fd;
}

/* socket_mode: octal, owner read/write, group at most read/write, others
 * nothing (connecting needs write permission: others never may). */
static int parse_mode(const char *s, mode_t *out)
{
	char *end;
	long v = strtol(s, &end, 8);
	if (!*s || *end || v < 0 || (v & ~0660L) || (v & 0600) != 0600)
		return -1;
	*out = (mode_t)v;
	return 0;
}

static int listen_tcp(int port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 8) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int odo_phone_open(const struct odo_phone_cfg *cfg, const struct odo_clock *clock,
		   const struct odo_sink *sink, struct odo_phone **out)
{
	if (!clock || !out)
		return ODO_ERR_INVAL;
	struct odo_phone *p = calloc(1, sizeof *p);
	if (!p)
		return ODO_ERR_NOMEM;
	p->clock = clock;
	p->sink = sink;
	p->ufd = p->tfd = -1;
	for (int i = 0; i < ODO_PHONE_MAX_CLIENTS; i++)
		p->cl[i].fd = -1;
	if (cfg) {
		p->cfg = *cfg;
		mode_t mode = 0660;
		gid_t gid = (gid_t)-1;
		if (cfg->socket_mode[0] && parse_mode(cfg->socket_mode, &mode) != 0) {
			ODO_LOG(ERROR, "phone", "[phone] socket_mode '%s': want octal permissions: owner read/write,"
				" group at most read/write, nothing for others (0660 or 0600)", cfg->socket_mode);
			odo_phone_close(p);
			return ODO_ERR_CONFIG;
		}
		if (cfg->socket_group[0]) {
			const struct group *g = getgrnam(cfg->socket_group);
			if (!g) {
				ODO_LOG(ERROR, "phone", "[phone] socket_group '%s': no such group", cfg->socket_group);
				odo_phone_close(p);
				return ODO_ERR_CONFIG;
			}
			gid = g->gr_gid;
		}
		if (cfg->tcp_port > 0) {
			/* TCP reaches every local user: never without a token. */
			char why[128];
			int rc = ODO_ERR_CONFIG;
			if (!cfg->token_file[0])
				snprintf(why, sizeof why, "not set");
			else
				rc = odo_secret_file_read(cfg->token_file, p->token, sizeof p->token, why, sizeof why);
			if (rc == ODO_OK && strlen(p->token) < ODO_PHONE_TOKEN_MIN) {
				snprintf(why, sizeof why, "the token is shorter than %d characters", ODO_PHONE_TOKEN_MIN);
				rc = ODO_ERR_CONFIG;
			}
			if (rc != ODO_OK) {
				ODO_LOG(ERROR, "phone", "[phone] tcp_port %lld needs a token: token_file %s: %s", cfg->tcp_port,
					cfg->token_file[0] ? cfg->token_file : "", why);
				odo_phone_close(p);
				return ODO_ERR_CONFIG;
			}
			p->token_len = strlen(p->token);
		}
		if (cfg->socket_path[0] && (p->ufd = listen_unix(cfg->socket_path, mode, gid)) < 0) {
			ODO_LOG(ERROR, "phone", "cannot listen on %s: %s", cfg->socket_path, strerror(errno));
			odo_phone_close(p);
			return ODO_ERR_IO;
		}
		if (cfg->tcp_port > 0 && (p->tfd = listen_tcp((int)cfg->tcp_port)) < 0) {
			ODO_LOG(ERROR, "phone", "cannot listen on 127.0.0.1:%lld: %s", cfg->tcp_port,
				strerror(errno));
			odo_phone_close(p);
			return ODO_ERR_IO;
		}
	}
	*out = p;
	return ODO_OK;
}

static int phone_pollfds(void *self, struct pollfd *pfd, int max)
{
	struct odo_phone *p = self;
	int n = 0;
	if (p->ufd >= 0 && n < max)
		pfd[n].fd = p->ufd, pfd[n].events = POLLIN, p->slot_fd[n++] = p->ufd;
	if (p->tfd >= 0 && n < max)
		pfd[n].fd = p->tfd, pfd[n].events = POLLIN, p->slot_fd[n++] = p->tfd;
	for (int i = 0; i < ODO_PHONE_MAX_CLIENTS && n < max; i++)
		if (p->cl[i].fd >= 0)
			pfd[n].fd = p->cl[i].fd, pfd[n].events = POLLIN, p->slot_fd[n++] = p->cl[i].fd;
	return n;
}

static void reply(int fd, const char *s)
{
	/* Replies are tiny; a client that does not read them loses them. */
	ssize_t r = send(fd, s, strlen(s), MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)r;
}

static void accept_one(struct odo_phone *p, int lfd)
{
	struct sockaddr_in peer;
	socklen_t plen = sizeof peer;
	int tcp = lfd == p->tfd;
	int fd = accept4(lfd, tcp ? (struct sockaddr *)&peer : NULL, tcp ? &plen : NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (int i = 0; i < ODO_PHONE_MAX_CLIENTS; i++) {
		struct client *c = &p->cl[i];
		if (c->fd < 0) {
			c->fd = fd;
			c->len = 0;
			c->overlong = 0;
			c->tcp = tcp;
			c->authed = !tcp;
			c->auth_until = odo_clock_mono_ns(p->clock) + (int64_t)ODO_PHONE_AUTH_S * ODO_NS_PER_S;
			if (tcp) {
				char ip[INET_ADDRSTRLEN] = "?";
				inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
				snprintf(c->peer, sizeof c->peer, "%s:%u", ip, (unsigned)ntohs(peer.sin_port));
			} else {
				struct ucred cr;
				socklen_t cl = sizeof cr;
				if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0)
					snprintf(c->peer, sizeof c->peer, "uid %u", (unsigned)cr.uid);
				else
					snprintf(c->peer, sizeof c->peer, "unix");
			}
			p->st.clients_accepted++;
			ODO_LOG(DEBUG, "phone", "client connected (%s%s)", c->peer, tcp ? ", token expected" : "");
			return;
		}
	}
	p->st.clients_refused++;
	ODO_LOG(WARN, "phone", "refusing client: %d already connected", ODO_PHONE_MAX_CLIENTS);
	reply(fd, "err too many clients\n");
	close(fd);
}

static void drop(struct client *c)
{
	close(c->fd);
	c->fd = -1;
	c->len = 0;
}

/* Equal without an early exit, so the time taken says nothing of the token. */
static int token_equal(const char *a, size_t an, const char *b, size_t bn)
{
	unsigned char d = an != bn;
	for (size_t i = 0; i < an && i < bn; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

#define TOKEN_PREFIX PHONE_MAGIC " token="

/* A TCP client's first line: the token, or the connection is refused. */
static int authenticate(struct odo_phone *p, struct client *c)
{
	size_t len = c->len, pl = strlen(TOKEN_PREFIX);
	if (len > 0 && c->buf[len - 1] == '\r')
		len--;
	const char *why = NULL;
	if (len < pl || memcmp(c->buf, TOKEN_PREFIX, pl) != 0)
		why = "no token";
	else if (!token_equal(c->buf + pl, len - pl, p->token, p->token_len))
		why = "wrong token";
	if (why) {
		p->st.auth_refused++;
		ODO_LOG(WARN, "phone", "TCP client %s refused: %s (its first line must be '%s<token from [phone]"
			" token_file>')", c->peer, why, TOKEN_PREFIX);
		reply(c->fd, strcmp(why, "no token") == 0 ? "err token required\n" : "err wrong token\n");
		return ODO_ERR_PROTOCOL;
	}
	c->authed = 1;
	ODO_LOG(DEBUG, "phone", "TCP client %s authenticated", c->peer);
	reply(c->fd, "ok\n");
	return ODO_OK;
}

static void read_client(struct odo_phone *p, struct client *c)
{
	char tmp[ODO_PHONE_LINE_MAX];
	ssize_t r = recv(c->fd, tmp, sizeof tmp, MSG_DONTWAIT);
	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
		drop(c);
		return;
	}
	for (ssize_t i = 0; i < r; i++) {
		char ch = tmp[i];
		if (ch == '\n') {
			if (c->overlong) {
				c->overlong = 0;
				c->len = 0;
				continue;
			}
			if (!c->authed) {
				if (authenticate(p, c) != ODO_OK) {
					drop(c);
					return;
				}
				c->len = 0;
				continue;
			}
			char reason[ODO_PHONE_REASON_MAX];
			if (deliver(p, c->buf, c->len, reason) == ODO_OK) {
				reply(c->fd, "ok\n");
			} else {
				char msg[ODO_PHONE_REASON_MAX + 8];
				snprintf(msg, sizeof msg, "err %s\n", reason);
				reply(c->fd, msg);
			}
			c->len = 0;
		} else if (c->overlong) {
			continue;
		} else if (c->len >= ODO_PHONE_LINE_MAX && !c->authed) {
			p->st.auth_refused++;
			ODO_LOG(WARN, "phone", "TCP client %s refused: no token (an over-long first line)", c->peer);
			reply(c->fd, "err token required\n");
			drop(c);
			return;
		} else if (c->len >= ODO_PHONE_LINE_MAX) {
			p->st.src.errors++;
			ODO_LOG(WARN, "phone", "rejected message: line too long");
			reply(c->fd, "err line too long\n");
			c->overlong = 1;
		} else {
			c->buf[c->len++] = ch;
		}
	}
}

static void phone_handle(void *self, const struct pollfd *pfd, int n)
{
	struct odo_phone *p = self;
	for (int k = 0; k < n; k++) {
		if (!pfd[k].revents)
			continue;
		int fd = p->slot_fd[k];
		if (fd == p->ufd || fd == p->tfd) {
			accept_one(p, fd);
			continue;
		}
		for (int i = 0; i < ODO_PHONE_MAX_CLIENTS; i++)
			if (p->cl[i].fd == fd)
				read_client(p, &p->cl[i]);
	}
}

/* The earliest instant an unauthenticated TCP client runs out of time. */
static int64_t phone_deadline(void *self)
{
	struct odo_phone *p = self;
	int64_t d = ODO_DEADLINE_NONE;
	for (int i = 0; i < ODO_PHONE_MAX_CLIENTS; i++)
		if (p->cl[i].fd >= 0 && !p->cl[i].authed && p->cl[i].auth_until < d)
			d = p->cl[i].auth_until;
	return d;
}

static void phone_tick(void *self)
{
	struct odo_phone *p = self;
	int64_t now = odo_clock_mono_ns(p->clock);
	for (int i = 0; i < ODO_PHONE_MAX_CLIENTS; i++) {
		struct client *c = &p->cl[i];
		if (c->fd >= 0 && !c->authed && now >= c->auth_until) {
			p->st.auth_refused++;
			ODO_LOG(WARN, "phone", "TCP client %s refused: no token within %d s", c->peer, ODO_PHONE_AUTH_S);
			reply(c->fd, "err token required\n");
			drop(c);
		}
	}
}

static const struct odo_source_ops phone_ops = {
	.name = "phone",
	.pollfds = phone_pollfds,
	.handle = phone_handle,
	.deadline = phone_deadline,
	.tick = phone_tick,
};

struct odo_source odo_phone_source(struct odo_phone *p)
{
	struct odo_source s = { .ops = &phone_ops, .self = p };
	return s;
}

void odo_phone_set_recorder(struct odo_phone *p, FILE *f)
{
	if (p)
		p->rec = f;
}

void odo_phone_stats(const struct odo_phone *p, struct odo_phone_stats *out)
{
	if (p && out)
		*out = p->st;
}

void odo_phone_close(struct odo_phone *p)
{
	if (!p)
		return;
	for (int i = 0; i < ODO_PHONE_MAX_CLIENTS; i++)
		if (p->cl[i].fd >= 0)
			close(p->cl[i].fd);
	if (p->ufd >= 0) {
		close(p->ufd);
		(void)unlink(p->cfg.socket_path);
	}
	if (p->tfd >= 0)
		close(p->tfd);
	volatile char *t = p->token;
	for (size_t i = 0; i < sizeof p->token; i++)
		t[i] = 0;
	free(p);
}
