/* Phone protocol: parser, and valid/malformed messages through real sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "odo/log.h"
#include "phone/phone.h"

static struct odo_phone_state got[16];
static int ngot;

static void on_phone(void *ctx, const struct odo_phone_state *s)
{
	(void)ctx;
	if (ngot < 16)
		got[ngot++] = *s;
}

static void test_parse_valid(void **st)
{
	(void)st;
	struct odo_phone_state s;
	char why[ODO_PHONE_REASON_MAX];
	const char *l = "odo-phone/1 screen=on call=handheld handled=0\n";
	assert_int_equal(odo_phone_parse(l, strlen(l), &s, why), ODO_OK);
	assert_int_equal(s.screen_on, 1);
	assert_int_equal(s.call, ODO_CALL_HANDHELD);
	assert_int_equal(s.handled, 0);
	l = "odo-phone/1 handled=1 call=handsfree screen=off";
	assert_int_equal(odo_phone_parse(l, strlen(l), &s, why), ODO_OK);
	assert_int_equal(s.screen_on, 0);
	assert_int_equal(s.call, ODO_CALL_HANDSFREE);
	assert_int_equal(s.handled, 1);
}

static void expect_bad(const char *l, const char *reason_prefix)
{
	struct odo_phone_state s;
	char why[ODO_PHONE_REASON_MAX] = "";
	assert_int_equal(odo_phone_parse(l, strlen(l), &s, why), ODO_ERR_PROTOCOL);
	if (strncmp(why, reason_prefix, strlen(reason_prefix)) != 0)
		fail_msg("'%s': reason '%s', want '%s...'", l, why, reason_prefix);
}

static void test_parse_malformed(void **st)
{
	(void)st;
	expect_bad("", "not odo-phone/1");
	expect_bad("hello", "not odo-phone/1");
	expect_bad("odo-phone/2 screen=on call=none handled=0", "unsupported version");
	expect_bad("odo-phone/1", "missing screen");
	expect_bad("odo-phone/1 screen=on call=none", "missing handled");
	expect_bad("odo-phone/1 screen=maybe call=none handled=0", "bad value");
	expect_bad("odo-phone/1 screen=on call=video handled=0", "bad value");
	expect_bad("odo-phone/1 screen=on call=none handled=2", "bad value");
	expect_bad("odo-phone/1 screen=on screen=off call=none handled=0", "duplicate key");
	expect_bad("odo-phone/1 screen=on call=none handled=0 volume=3", "unknown key");
	expect_bad("odo-phone/1  screen=on call=none handled=0", "expected key=value");
	expect_bad("odo-phone/1 screen call=none handled=0", "expected key=value");
	expect_bad("odo-phone/1screen=on call=none handled=0", "expected one space");
	char nul[] = "odo-phone/1 screen=on\0call=none handled=0";
	struct odo_phone_state s;
	assert_int_equal(odo_phone_parse(nul, sizeof nul - 1, &s, NULL), ODO_ERR_PROTOCOL);
}

/* Run the source once with a short poll. */
static void pump(struct odo_phone *p)
{
	struct odo_source src = odo_phone_source(p);
	for (int k = 0; k < 5; k++) {
		struct pollfd pfd[ODO_SOURCE_MAX_FDS];
		int n = src.ops->pollfds(src.self, pfd, ODO_SOURCE_MAX_FDS);
		if (poll(pfd, (nfds_t)n, 50) > 0)
			src.ops->handle(src.self, pfd, n);
	}
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void send_line(int fd, const char *l)
{
	assert_int_equal(send(fd, l, strlen(l), 0), (ssize_t)strlen(l));
}

static void expect_reply(struct odo_phone *p, int fd, const char *want)
{
	char buf[256];
	size_t len = 0;
	for (int k = 0; k < 20 && (len == 0 || buf[len - 1] != '\n'); k++) {
		pump(p);
		ssize_t r = recv(fd, buf + len, sizeof buf - 1 - len, MSG_DONTWAIT);
		if (r > 0)
			len += (size_t)r;
	}
	buf[len] = '\0';
	assert_string_equal(buf, want);
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void test_sockets(void **st)
{
	(void)st;
	char dir[] = "/tmp/odo-phone-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct odo_phone_cfg cfg;
	memset(&cfg, 0, sizeof cfg);
	snprintf(cfg.socket_path, sizeof cfg.socket_path, "%s/phone.sock", dir);
	cfg.tcp_port = free_port();
	snprintf(cfg.token_file, sizeof cfg.token_file, "%s/token", dir);
	write_file(cfg.token_file, "0123456789abcdef0123\n", 0600);
	struct odo_clock clk;
	odo_clock_init_virtual(&clk, 1700000000LL * ODO_NS_PER_S, 5 * ODO_NS_PER_S);
	struct odo_sink sink = { .phone = on_phone };
	struct odo_phone *p;
	assert_int_equal(odo_phone_open(&cfg, &clk, &sink, &p), ODO_OK);
	char recpath[64];
	snprintf(recpath, sizeof recpath, "%s/phone.csv", dir);
	FILE *rec = fopen(recpath, "w+");
	odo_phone_set_recorder(p, rec);
	ngot = 0;

	int u = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un ua = { .sun_family = AF_UNIX };
	strcpy(ua.sun_path, cfg.socket_path);
	assert_int_equal(connect(u, (struct sockaddr *)&ua, sizeof ua), 0);
	int t = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in ta = { .sin_family = AF_INET, .sin_port = htons((uint16_t)cfg.tcp_port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(connect(t, (struct sockaddr *)&ta, sizeof ta), 0);
	pump(p);
	send_line(t, "odo-phone/1 token=0123456789abcdef0123\n");
	expect_reply(p, t, "ok\n");

	send_line(u, "odo-phone/1 screen=on call=none handled=1\n");
	expect_reply(p, u, "ok\n");
	send_line(t, "odo-phone/1 screen=off call=handsfree handled=0\n");
	expect_reply(p, t, "ok\n");
	send_line(u, "odo-phone/1 screen=on call=video handled=0\n");
	expect_reply(p, u, "err bad value 'call=video'\n");
	/* a line split across two sends is one line */
	send_line(t, "odo-phone/1 screen=on ");
	pump(p);
	send_line(t, "call=handheld handled=1\n");
	expect_reply(p, t, "ok\n");
	/* overlong: one error, the rest of that line discarded, next line fine */
	char big[ODO_PHONE_LINE_MAX * 2];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	send_line(u, big);
	send_line(u, "\n");
	expect_reply(p, u, "err line too long\n");
	send_line(u, "garbage\n");
	expect_reply(p, u, "err not odo-phone/1\n");

	assert_int_equal(ngot, 3);
	assert_int_equal(got[0].screen_on, 1);
	assert_int_equal(got[0].call, ODO_CALL_NONE);
	assert_int_equal(got[0].handled, 1);
	assert_int_equal(got[0].mono_ns, 5 * ODO_NS_PER_S);
	assert_int_equal(got[1].call, ODO_CALL_HANDSFREE);
	assert_int_equal(got[2].call, ODO_CALL_HANDHELD);
	struct odo_phone_stats ps;
	odo_phone_stats(p, &ps);
	assert_int_equal(ps.src.received, 3);
	assert_int_equal(ps.src.errors, 3);
	assert_int_equal(ps.clients_accepted, 2);

	/* the recorder wrote phone.csv rows */
	fflush(rec);
	rewind(rec);
	char row[128];
	assert_non_null(fgets(row, sizeof row, rec));
	assert_string_equal(row, "1700000000.000000,on,none,1\n");

	/* a client going away is survived; the other one still works */
	close(u);
	pump(p);
	send_line(t, "odo-phone/1 screen=off call=none handled=0\n");
	expect_reply(p, t, "ok\n");
	assert_int_equal(ngot, 4);
	close(t);
	fclose(rec);
	odo_phone_close(p);
	assert_int_equal(access(cfg.socket_path, F_OK), -1);
	unlink(recpath);
	unlink(cfg.token_file);
	rmdir(dir);
}

/* Issue 13 finding 6: any local process could inject phone states over TCP.
 * TCP now needs a shared token from a 0600 file; the UNIX socket's file
 * permissions decide who may connect. */
static int connect_tcp(int port)
{
	int t = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in ta = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(connect(t, (struct sockaddr *)&ta, sizeof ta), 0);
	return t;
}

/* The peer closed the connection (after its reply was read). */
static void expect_closed(struct odo_phone *p, int fd)
{
	char c;
	ssize_t r = -1;
	for (int k = 0; k < 20 && r != 0; k++) {
		pump(p);
		r = recv(fd, &c, 1, MSG_DONTWAIT);
	}
	assert_int_equal(r, 0);
}

static char logpath[64];

static int log_has(const char *needle)
{
	FILE *f = fopen(logpath, "r");
	assert_non_null(f);
	char line[512];
	int found = 0;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

static void test_tcp_needs_token(void **st)
{
	(void)st;
	char dir[] = "/tmp/odo-phone-XXXXXX";
	assert_non_null(mkdtemp(dir));
	snprintf(logpath, sizeof logpath, "%s/log", dir);
	assert_int_equal(odo_log_reopen(logpath), ODO_OK);
	struct odo_clock clk;
	odo_clock_init_virtual(&clk, 1700000000LL * ODO_NS_PER_S, 5 * ODO_NS_PER_S);
	struct odo_sink sink = { .phone = on_phone };
	struct odo_phone *p = NULL;
	struct odo_phone_cfg cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.tcp_port = free_port();

	/* no token file: TCP is refused at start-up, naming the key */
	assert_int_equal(odo_phone_open(&cfg, &clk, &sink, &p), ODO_ERR_CONFIG);
	assert_true(log_has("[phone] tcp_port"));
	/* a token others may read, a missing one, a short one: refused too */
	snprintf(cfg.token_file, sizeof cfg.token_file, "%s/token", dir);
	assert_int_equal(odo_phone_open(&cfg, &clk, &sink, &p), ODO_ERR_CONFIG);
	assert_true(log_has("No such file or directory"));
	write_file(cfg.token_file, "0123456789abcdef0123\n", 0644);
	assert_int_equal(odo_phone_open(&cfg, &clk, &sink, &p), ODO_ERR_CONFIG);
	assert_true(log_has("mode 0644"));
	write_file(cfg.token_file, "short\n", 0600);
	assert_int_equal(odo_phone_open(&cfg, &clk, &sink, &p), ODO_ERR_CONFIG);
	assert_true(log_has("shorter than 16"));
	write_file(cfg.token_file, "0123456789abcdef0123\n", 0600);
	assert_int_equal(odo_phone_open(&cfg, &clk, &sink, &p), ODO_OK);
	ngot = 0;

	/* a state without the token first: refused, logged, disconnected, not delivered */
	int t = connect_tcp((int)cfg.tcp_port);
	send_line(t, "odo-phone/1 screen=on call=handheld handled=1\n");
	expect_reply(p, t, "err token required\n");
	expect_closed(p, t);
	close(t);
	assert_true(log_has("refused: no token"));
	/* a wrong token (same length, one character off) */
	t = connect_tcp((int)cfg.tcp_port);
	send_line(t, "odo-phone/1 token=0123456789abcdef0124\n");
	expect_reply(p, t, "err wrong token\n");
	expect_closed(p, t);
	close(t);
	assert_true(log_has("refused: wrong token"));
	/* the right token's prefix only */
	t = connect_tcp((int)cfg.tcp_port);
	send_line(t, "odo-phone/1 token=0123456789abcdef\n");
	expect_reply(p, t, "err wrong token\n");
	close(t);
	/* silent: dropped when its time is up */
	t = connect_tcp((int)cfg.tcp_port);
	pump(p);
	struct odo_source src = odo_phone_source(p);
	assert_true(src.ops->deadline(src.self) <= odo_clock_mono_ns(&clk) + ODO_PHONE_AUTH_S * ODO_NS_PER_S);
	odo_clock_advance(&clk, (ODO_PHONE_AUTH_S + 1) * ODO_NS_PER_S);
	src.ops->tick(src.self);
	expect_reply(p, t, "err token required\n");
	expect_closed(p, t);
	close(t);
	assert_true(log_has("no token within 5 s"));
	assert_int_equal(ngot, 0);
	struct odo_phone_stats ps;
	odo_phone_stats(p, &ps);
	assert_int_equal(ps.auth_refused, 4);
	assert_int_equal(ps.src.received, 0);

	/* the right token: states accepted */
	t = connect_tcp((int)cfg.tcp_port);
	send_line(t, "odo-phone/1 token=0123456789abcdef0123\r\n");
	expect_reply(p, t, "ok\n");
	send_line(t, "odo-phone/1 screen=on call=handheld handled=1\n");
	expect_reply(p, t, "ok\n");
	assert_int_equal(ngot, 1);
	assert_int_equal(src.ops->deadline(src.self), ODO_DEADLINE_NONE);
	close(t);
	odo_phone_close(p);
	assert_int_equal(odo_log_reopen(NULL), ODO_OK);
	unlink(cfg.token_file);
	unlink(logpath);
	rmdir(dir);
}

static void test_unix_socket_mode(void **st)
{
	(void)st;
	char dir[] = "/tmp/odo-phone-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct odo_clock clk;
	odo_clock_init_virtual(&clk, 1700000000LL * ODO_NS_PER_S, 5 * ODO_NS_PER_S);
	struct odo_phone *p = NULL;
	struct odo_phone_cfg cfg;
	memset(&cfg, 0, sizeof cfg);
	snprintf(cfg.socket_path, sizeof cfg.socket_path, "%s/phone.sock", dir);
	struct stat sb;
	/* the default: owner and group may connect, others may not */
	snprintf(cfg.socket_mode, sizeof cfg.socket_mode, "0660");
	assert_int_equal(odo_phone_open(&cfg, &clk, NULL, &p), ODO_OK);
	assert_int_equal(stat(cfg.socket_path, &sb), 0);
	assert_true(S_ISSOCK(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0660);
	odo_phone_close(p);
	snprintf(cfg.socket_mode, sizeof cfg.socket_mode, "0600");
	assert_int_equal(odo_phone_open(&cfg, &clk, NULL, &p), ODO_OK);
	assert_int_equal(stat(cfg.socket_path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	odo_phone_close(p);
	/* a group by name */
	snprintf(cfg.socket_group, sizeof cfg.socket_group, "daemon");
	assert_int_equal(odo_phone_open(&cfg, &clk, NULL, &p), ODO_OK);
	assert_int_equal(stat(cfg.socket_path, &sb), 0);
	assert_int_equal(sb.st_gid, 1);
	odo_phone_close(p);
	/* refused: world-connectable, executable bits, no such group */
	snprintf(cfg.socket_mode, sizeof cfg.socket_mode, "0666");
	assert_int_equal(odo_phone_open(&cfg, &clk, NULL, &p), ODO_ERR_CONFIG);
	snprintf(cfg.socket_mode, sizeof cfg.socket_mode, "0770");
	assert_int_equal(odo_phone_open(&cfg, &clk, NULL, &p), ODO_ERR_CONFIG);
	snprintf(cfg.socket_mode, sizeof cfg.socket_mode, "0660");
	snprintf(cfg.socket_group, sizeof cfg.socket_group, "no-such-group-odo");
	assert_int_equal(odo_phone_open(&cfg, &clk, NULL, &p), ODO_ERR_CONFIG);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_sockets),
		cmocka_unit_test(test_tcp_needs_token),
		cmocka_unit_test(test_unix_socket_mode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
