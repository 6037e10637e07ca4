/* Unit tests for common/src/config.c: every value type, every error kind
 * with its exact file:line and message, overrides and secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "odo/config.h"

struct gps_cfg {
	char device[16];
	long long rate;
	double min_speed;
	int enabled;
	int mode;
	char note[32];
};

struct up_cfg {
	char host[64];
	long long port;
	double keepalive;
	int tls;
};

static const char *const modes[] = {"auto", "nmea", "ubx", NULL};

static const struct odo_cfg_key gps_keys[] = {
    ODO_CFG_S("device", struct gps_cfg, device, "/dev/ttyACM0", "serial device"),
    ODO_CFG_I("rate", struct gps_cfg, rate, "5", 1, 100, "fixes per second"),
    ODO_CFG_D("min_speed", struct gps_cfg, min_speed, "0.5", 0, 10, "m/s"),
    ODO_CFG_B("enabled", struct gps_cfg, enabled, "yes", "use the GPS"),
    ODO_CFG_E("mode", struct gps_cfg, mode, "auto", modes, "protocol"),
    ODO_CFG_S("note", struct gps_cfg, note, NULL, "free text"),
    ODO_CFG_GONE("min_kmh", "min_speed (m/s)"),
};

/* host is required; port unbounded (min > max) */
static const struct odo_cfg_key up_keys[] = {
    {.key = "host",
     .type = ODO_CFG_STR,
     .offset = offsetof(struct up_cfg, host),
     .size = sizeof(((struct up_cfg *)0)->host),
     .required = 1,
     .min = 1,
     .max = 0},
    ODO_CFG_I("port", struct up_cfg, port, "8883", 1, 0, "unbounded"),
    ODO_CFG_D("keepalive", struct up_cfg, keepalive, "30", 1, 0, "unbounded"),
    ODO_CFG_B("tls", struct up_cfg, tls, "on", "TLS"),
};

static struct gps_cfg gps;
static struct up_cfg up;

static const struct odo_cfg_section secs[] = {
    {"gps", gps_keys, ODO_ARRAY_LEN(gps_keys), &gps},
    {"uplink", up_keys, ODO_ARRAY_LEN(up_keys), &up},
};

static int parse(const char *text, struct odo_cfg_error *err)
{
	memset(&gps, 0xa5, sizeof(gps));
	memset(&up, 0xa5, sizeof(up));
	memset(err, 0, sizeof(*err));
	return odo_config_parse_buf("t.conf", text, strlen(text), secs, ODO_ARRAY_LEN(secs), err);
}

/* Parse `text`, expect ODO_ERR_CONFIG at `line` with every fragment in msg. */
static void expect_error(const char *text, int line, const char *prefix, ...)
{
	struct odo_cfg_error err;
	va_list ap;
	const char *frag;

	assert_int_equal(parse(text, &err), ODO_ERR_CONFIG);
	assert_string_equal(err.file, "t.conf");
	assert_int_equal(err.line, line);
	if (strncmp(err.msg, prefix, strlen(prefix)) != 0)
		fail_msg("message '%s' does not start with '%s'", err.msg, prefix);
	va_start(ap, prefix);
	while ((frag = va_arg(ap, const char *)) != NULL)
		if (!strstr(err.msg, frag))
			fail_msg("message '%s' lacks '%s'", err.msg, frag);
	va_end(ap);
}

static void test_defaults(void **state)
{
	struct odo_cfg_error err;

	(void)state;
	assert_int_equal(parse("[uplink]\nhost = broker\n", &err), ODO_OK);
	assert_string_equal(gps.device, "/dev/ttyACM0");
	assert_int_equal(gps.rate, 5);
	assert_true(gps.min_speed == 0.5);
	assert_int_equal(gps.enabled, 1);
	assert_int_equal(gps.mode, 0);
	assert_string_equal(gps.note, ""); /* no default: zeroed */
	assert_string_equal(up.host, "broker");
	assert_int_equal(up.port, 8883);
	assert_true(up.keepalive == 30.0);
	assert_int_equal(up.tls, 1);
}

static void test_every_type(void **state)
{
	struct odo_cfg_error err;
	const char *text = "# leading comment\n"
	                   "; other comment style\n"
	                   "\n"
	                   "  [ gps ]   # section with spaces and comment\n"
	                   "device=/dev/ttyUSB1\n"
	                   "\trate = 0x10 ; hex, trailing comment\n"
	                   "min_speed = -0 \n"
	                   "enabled = Off\n"
	                   "mode = ubx\n"
	                   "note = \"a # b ; c \\\"q\\\" \\\\ end\"   # comment after quotes\n"
	                   "[uplink]\r\n"
	                   "host = mqtt.example.org#notacomment\r\n"
	                   "port = -12\n"
	                   "keepalive = 1e3\n"
	                   "tls = 0"; /* no final newline */

	(void)state;
	assert_int_equal(parse(text, &err), ODO_OK);
	assert_string_equal(gps.device, "/dev/ttyUSB1");
	assert_int_equal(gps.rate, 16);
	assert_true(gps.min_speed == 0.0);
	assert_int_equal(gps.enabled, 0);
	assert_int_equal(gps.mode, 2);
	assert_string_equal(gps.note, "a # b ; c \"q\" \\ end");
	assert_string_equal(up.host, "mqtt.example.org#notacomment");
	assert_int_equal(up.port, -12);
	assert_true(up.keepalive == 1000.0);
	assert_int_equal(up.tls, 0);
}

static void test_bool_spellings(void **state)
{
	static const char *const yes[] = {"true", "TRUE", "yes", "Yes", "on", "1"};
	static const char *const no[] = {"false", "no", "NO", "off", "0"};
	struct odo_cfg_error err;
	char text[128];

	(void)state;
	for (size_t i = 0; i < ODO_ARRAY_LEN(yes); i++) {
		snprintf(text, sizeof(text), "[uplink]\nhost=h\ntls=%s\n", yes[i]);
		assert_int_equal(parse(text, &err), ODO_OK);
		assert_int_equal(up.tls, 1);
	}
	for (size_t i = 0; i < ODO_ARRAY_LEN(no); i++) {
		snprintf(text, sizeof(text), "[uplink]\nhost=h\ntls=%s\n", no[i]);
		assert_int_equal(parse(text, &err), ODO_OK);
		assert_int_equal(up.tls, 0);
	}
}

static void test_bounds_inclusive(void **state)
{
	struct odo_cfg_error err;

	(void)state;
	assert_int_equal(parse("[gps]\nrate=1\nmin_speed=10\n[uplink]\nhost=h\n", &err), ODO_OK);
	assert_int_equal(gps.rate, 1);
	assert_true(gps.min_speed == 10.0);
	assert_int_equal(parse("[gps]\nrate=100\nmin_speed=0\n[uplink]\nhost=h\n", &err), ODO_OK);
	assert_int_equal(gps.rate, 100);
	/* a string exactly size-1 long fits */
	assert_int_equal(parse("[gps]\ndevice=123456789012345\n[uplink]\nhost=h\n", &err), ODO_OK);
	assert_string_equal(gps.device, "123456789012345");
	/* empty quoted string */
	assert_int_equal(parse("[gps]\nnote=\"\"\n[uplink]\nhost=h\n", &err), ODO_OK);
	assert_string_equal(gps.note, "");
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("[uplink]\nhost=h\n[gpz]\n", 3, "t.conf:3: ", "unknown section [gpz]", NULL);
	expect_error("[gps]\n\nspeed = 3\n", 3, "t.conf:3: ", "unknown key 'speed' in [gps]", NULL);
	expect_error("# c\nrate = 3\n[gps]\n", 2, "t.conf:2: ", "key 'rate' outside any section", NULL);
	expect_error("[gps]\nrate = fast\n", 2, "t.conf:2: ", "'rate'", "[gps]", "'fast'", "not a number",
	             NULL);
	expect_error("[gps]\nrate = 12abc\n", 2, "t.conf:2: ", "'12abc'", "not a number", NULL);
	expect_error("[gps]\nrate =\n", 2, "t.conf:2: ", "'rate'", "not a number", NULL);
	expect_error("[gps]\nrate = 1.5\n", 2, "t.conf:2: ", "'1.5'", "not a number", NULL);
	expect_error("[gps]\nrate = 101\n", 2, "t.conf:2: ", "'rate' in [gps]",
	             "101 is out of range [1, 100]", NULL);
	expect_error("[gps]\nrate = 0\n", 2, "t.conf:2: ", "0 is out of range [1, 100]", NULL);
	expect_error("[uplink]\nport = 99999999999999999999\n", 2, "t.conf:2: ", "'port' in [uplink]",
	             "out of range", NULL);
	expect_error("[gps]\nmin_speed = 10.001\n", 2, "t.conf:2: ", "'min_speed' in [gps]",
	             "10.001 is out of range [0, 10]", NULL);
	expect_error("[gps]\nmin_speed = nan\n", 2, "t.conf:2: ", "'min_speed' in [gps]",
	             "'nan' is not finite", NULL);
	expect_error("[uplink]\nkeepalive = -inf\n", 2, "t.conf:2: ", "'-inf' is not finite", NULL);
	expect_error("[uplink]\nkeepalive = 1e999\n", 2, "t.conf:2: ", "'1e999' is not finite", NULL);
	expect_error("[gps]\nmin_speed = 1,5\n", 2, "t.conf:2: ", "'1,5' is not a number", NULL);
	expect_error("[gps]\nenabled = maybe\n", 2, "t.conf:2: ", "'enabled' in [gps]",
	             "'maybe' is not a boolean", "true/false/yes/no/on/off/1/0", NULL);
	expect_error("[gps]\nmode = UBX\n", 2, "t.conf:2: ", "'mode' in [gps]",
	             "'UBX' is not one of: auto, nmea, ubx", NULL);
	expect_error("[gps]\ndevice = 1234567890123456\n", 2,
	             "t.conf:2: ", "value of 'device' in [gps] is too long", "at most 15", NULL);
	expect_error("[gps]\nrate = 3\nmode = nmea\n\nrate = 4\n", 5,
	             "t.conf:5: ", "duplicate key 'rate' in [gps]", "first set on line 2", NULL);
	/* reopening a section does not forget what was set */
	expect_error("[gps]\nrate = 3\n[uplink]\nhost=h\n[gps]\nrate = 3\n", 6,
	             "t.conf:6: ", "duplicate key 'rate' in [gps]", NULL);
	expect_error("[gps]\nrate = 3\n", 0, "t.conf: ", "missing required key 'host' in [uplink]", NULL);
	expect_error("[gps]\nnote = \"open\n", 2, "t.conf:2: ", "unterminated quoted value", "'note'", NULL);
	expect_error("[gps]\nnote = \"a\\nb\"\n", 2, "t.conf:2: ", "bad escape", NULL);
	expect_error("[gps]\nnote = \"a\" b\n", 2, "t.conf:2: ", "after the quoted value", NULL);
	expect_error("[gps\n", 1, "t.conf:1: ", "without closing ']'", NULL);
	expect_error("[gps] x\n", 1, "t.conf:1: ", "after section header", NULL);
	expect_error("[gps]\njust words\n", 2, "t.conf:2: ", "expected 'key = value'", NULL);
	expect_error("[gps]\n = 3\n", 2, "t.conf:2: ", "missing key", NULL);
}

static void test_first_error_wins(void **state)
{
	(void)state;
	/* line 2 is bad, line 3 too, the required key is missing: line 2 is reported */
	expect_error("[gps]\nrate = x\nbogus = 1\n", 2, "t.conf:2: ", "'rate'", NULL);
}

static void test_bad_value_keeps_default(void **state)
{
	struct odo_cfg_error err;

	(void)state;
	assert_int_equal(parse("[uplink]\nhost=h\n[gps]\nrate = 500\n", &err), ODO_ERR_CONFIG);
	assert_int_equal(gps.rate, 5);
	assert_string_equal(up.host, "h");
}

static void test_line_too_long(void **state)
{
	static char text[ODO_CFG_LINE_MAX * 2 + 64];
	struct odo_cfg_error err;
	size_t n;

	(void)state;
	/* exactly ODO_CFG_LINE_MAX characters: accepted (a comment) */
	n = (size_t)snprintf(text, sizeof(text), "[uplink]\nhost=h\n#");
	memset(text + n, 'x', ODO_CFG_LINE_MAX - 1);
	strcpy(text + n + ODO_CFG_LINE_MAX - 1, "\n");
	assert_int_equal(parse(text, &err), ODO_OK);
	/* one more: line 3 is too long */
	n = (size_t)snprintf(text, sizeof(text), "[uplink]\nhost=h\n#");
	memset(text + n, 'x', ODO_CFG_LINE_MAX);
	strcpy(text + n + ODO_CFG_LINE_MAX, "\nrate=1\n");
	expect_error(text, 3, "t.conf:3: ", "line too long", "1024", NULL);
	/* also on the last line without newline */
	n = (size_t)snprintf(text, sizeof(text), "[uplink]\nhost=h\n#");
	memset(text + n, 'x', ODO_CFG_LINE_MAX);
	text[n + ODO_CFG_LINE_MAX] = '\0';
	expect_error(text, 3, "t.conf:3: ", "line too long", NULL);
}

static void test_nul_byte(void **state)
{
	static const char text[] = "[uplink]\nhost=a\0b\n";
	struct odo_cfg_error err;

	(void)state;
	assert_int_equal(
	    odo_config_parse_buf("t.conf", text, sizeof(text) - 1, secs, ODO_ARRAY_LEN(secs), &err),
	    ODO_ERR_CONFIG);
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.msg, "NUL"));
}

static void test_bad_default(void **state)
{
	struct bad {
		long long n;
	} b;
	static const struct odo_cfg_key k[] = {
	    ODO_CFG_I("n", struct bad, n, "200", 0, 100, "h"),
	};
	const struct odo_cfg_section s[] = {{"x", k, 1, &b}};
	struct odo_cfg_error err;

	(void)state;
	assert_int_equal(odo_config_defaults(s, 1, &err), ODO_ERR_CONFIG);
	assert_int_equal(err.line, 0);
	assert_non_null(strstr(err.msg, "invalid default"));
	assert_non_null(strstr(err.msg, "'n' in [x]"));
	assert_non_null(strstr(err.msg, "200 is out of range [0, 100]"));
}

static void test_file(void **state)
{
	char path[] = "/tmp/odo_config_test_XXXXXX";
	struct odo_cfg_error err;
	const char *text = "[uplink]\nhost = filehost\n[gps]\nrate = 7\nrate = 8\n";
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(odo_config_parse_file(path, secs, ODO_ARRAY_LEN(secs), &err), ODO_ERR_CONFIG);
	assert_string_equal(err.file, path);
	assert_int_equal(err.line, 5);
	{
		char want[256];
		snprintf(want, sizeof(want), "%s:5: duplicate key 'rate' in [gps]", path);
		assert_true(strncmp(err.msg, want, strlen(want)) == 0);
	}
	/* fix it: the file parses and values land */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text) - 9), (ssize_t)strlen(text) - 9);
	close(fd);
	assert_int_equal(odo_config_parse_file(path, secs, ODO_ARRAY_LEN(secs), &err), ODO_OK);
	assert_string_equal(up.host, "filehost");
	assert_int_equal(gps.rate, 7);
	unlink(path);
	assert_int_equal(odo_config_parse_file(path, secs, ODO_ARRAY_LEN(secs), &err), ODO_ERR_IO);
	assert_string_equal(err.file, path);
}

static void test_set(void **state)
{
	struct odo_cfg_error err;

	(void)state;
	assert_int_equal(parse("[uplink]\nhost=h\n", &err), ODO_OK);
	assert_int_equal(odo_config_set(secs, ODO_ARRAY_LEN(secs), "gps", "rate", "42", "--set", &err),
	                 ODO_OK);
	assert_int_equal(gps.rate, 42);
	assert_int_equal(odo_config_set(secs, ODO_ARRAY_LEN(secs), "gps", "mode", "nmea", "--set", &err),
	                 ODO_OK);
	assert_int_equal(gps.mode, 1);
	assert_int_equal(odo_config_set(secs, ODO_ARRAY_LEN(secs), "gps", "rate", "420", "--set", &err),
	                 ODO_ERR_CONFIG);
	assert_int_equal(gps.rate, 42);
	assert_string_equal(err.file, "--set");
	assert_int_equal(err.line, 0);
	assert_string_equal(err.msg, "--set: bad value for 'rate' in [gps]: 420 is out of range "
	                             "[1, 100]");
	assert_int_equal(odo_config_set(secs, ODO_ARRAY_LEN(secs), "gps", "nope", "1", "--set", &err),
	                 ODO_ERR_CONFIG);
	assert_string_equal(err.msg, "--set: unknown key 'nope' in [gps]");
	assert_int_equal(odo_config_set(secs, ODO_ARRAY_LEN(secs), "gsp", "rate", "1", "env", &err),
	                 ODO_ERR_CONFIG);
	assert_string_equal(err.msg, "env: unknown section [gsp]");
}

/* --set SECTION.KEY=VALUE as every program parses it, and the keys it refuses. */
struct db_cfg {
	char conninfo[64];
	char password_file[64];
};

static struct db_cfg db;

static const struct odo_cfg_key db_keys[] = {
    {.key = "conninfo", .type = ODO_CFG_STR, .offset = offsetof(struct db_cfg, conninfo),
     .size = sizeof(((struct db_cfg *)0)->conninfo), .def = "dbname=odo", .min = 1, .max = 0,
     .secret = 1, .help = "libpq string"},
    ODO_CFG_S("password_file", struct db_cfg, password_file, "", "file with the password"),
};

static const struct odo_cfg_section db_secs[] = {
    {"gps", gps_keys, ODO_ARRAY_LEN(gps_keys), &gps},
    {"db", db_keys, ODO_ARRAY_LEN(db_keys), &db},
};

static void test_set_arg(void **state)
{
	struct odo_cfg_error err;
	const size_t n = ODO_ARRAY_LEN(db_secs);

	(void)state;
	assert_int_equal(odo_config_defaults(db_secs, n, &err), ODO_OK);
	assert_int_equal(odo_config_set_arg(db_secs, n, "gps.rate=42", &err), ODO_OK);
	assert_int_equal(gps.rate, 42);
	/* the value may hold '=' and '.' */
	assert_int_equal(odo_config_set_arg(db_secs, n, "gps.note=a.b=c", &err), ODO_OK);
	assert_string_equal(gps.note, "a.b=c");
	/* a path to a secret is not a secret */
	assert_int_equal(odo_config_set_arg(db_secs, n, "db.password_file=/etc/odo/pw", &err), ODO_OK);
	assert_string_equal(db.password_file, "/etc/odo/pw");
	/* a secret key: refused, value untouched and not echoed */
	assert_int_equal(odo_config_set_arg(db_secs, n, "db.conninfo=host=x password=hunter2", &err),
	                 ODO_ERR_CONFIG);
	assert_string_equal(db.conninfo, "dbname=odo");
	assert_string_equal(err.file, "--set");
	assert_non_null(strstr(err.msg, "'conninfo' in [db] may hold a secret"));
	assert_null(strstr(err.msg, "hunter2"));
	/* malformed arguments */
	const char *bad[] = {"gps", "gps.rate", "rate=1", "gps=1.x", ".rate=1", "gps.=1",
	                     "a-section-name-longer-than-sixty-four-characters-is-not-accepted-here.k=1"};
	for (size_t i = 0; i < ODO_ARRAY_LEN(bad); i++) {
		assert_int_equal(odo_config_set_arg(db_secs, n, bad[i], &err), ODO_ERR_CONFIG);
		assert_non_null(strstr(err.msg, "--set: want SECTION.KEY=VALUE"));
	}
	/* what odo_config_set() says, with "--set" as the origin */
	assert_int_equal(odo_config_set_arg(db_secs, n, "gps.rate=420", &err), ODO_ERR_CONFIG);
	assert_string_equal(err.msg, "--set: bad value for 'rate' in [gps]: 420 is out of range [1, 100]");
	assert_int_equal(odo_config_set_arg(db_secs, n, "gsp.rate=1", &err), ODO_ERR_CONFIG);
	assert_string_equal(err.msg, "--set: unknown section [gsp]");
	assert_int_equal(odo_config_set_arg(db_secs, n, NULL, &err), ODO_ERR_INVAL);
}

static void test_reference(void **state)
{
	char buf[4096];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	(void)state;
	assert_non_null(f);
	assert_int_equal(odo_config_print_reference(f, "odo-test", db_secs, ODO_ARRAY_LEN(db_secs)), ODO_OK);
	fclose(f);
	assert_non_null(strstr(buf, "# odo-test configuration reference\n"));
	assert_non_null(strstr(buf, "Keys marked secret may carry a credential"));
	assert_null(strstr(buf, "reloadable")); /* no key is */
	assert_non_null(strstr(buf, "\n## [db]\n"));
	assert_non_null(strstr(buf, "| `rate` | integer (1 to 100) | `5` | fixes per second |\n"));
	assert_non_null(strstr(buf, "| `mode` | choice (auto, nmea, ubx) | `auto` | protocol |\n"));
	assert_non_null(strstr(buf, "| `conninfo` | string | `dbname=odo` | libpq string (secret) |\n"));
	f = fmemopen(buf, sizeof(buf), "w");
	assert_int_equal(odo_config_print_reference(f, "odo-test", secs, ODO_ARRAY_LEN(secs)), ODO_OK);
	fclose(f);
	assert_non_null(strstr(buf, "| `host` | string | **required** |  |\n"));
	assert_non_null(strstr(buf, "| `port` | integer | `8883` | unbounded |\n"));
	assert_null(strstr(buf, "secret"));
}

/* A retired key: refused wherever it is set, naming its replacement; no
 * default, no field; listed as replaced in the reference. */
static void test_replaced(void **state)
{
	struct odo_cfg_section sec = {"gps", gps_keys, ODO_ARRAY_LEN(gps_keys), &gps};
	struct odo_cfg_error err;
	const char *txt = "[gps]\nrate = 7\nmin_kmh = 3\n";
	char buf[2048];
	FILE *f;

	(void)state;
	assert_int_equal(odo_config_defaults(&sec, 1, &err), ODO_OK);
	assert_int_equal(odo_config_parse_buf("r.conf", txt, strlen(txt), &sec, 1, &err), ODO_ERR_CONFIG);
	assert_string_equal(err.msg, "r.conf:3: 'min_kmh' in [gps] was replaced by min_speed (m/s)");
	assert_int_equal(odo_config_set_arg(&sec, 1, "gps.min_kmh=1", &err), ODO_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "'min_kmh' in [gps] was replaced by min_speed"));
	f = fmemopen(buf, sizeof(buf), "w");
	assert_non_null(f);
	assert_int_equal(odo_config_print_reference(f, "odo-test", &sec, 1), ODO_OK);
	fclose(f);
	assert_non_null(strstr(buf, "| `min_kmh` | replaced | — | no longer exists: use min_speed (m/s) |\n"));
}

static void test_secret(void **state)
{
	char path[] = "/tmp/odo_secret_test_XXXXXX";
	char out[16];
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hunter2\r\n\n", 10), 10);
	close(fd);
	setenv("ODO_TEST_SECRET", "fromenv\n", 1);
	/* the file wins over the environment */
	assert_int_equal(odo_config_read_secret(path, "ODO_TEST_SECRET", out, sizeof(out)), ODO_OK);
	assert_string_equal(out, "hunter2");
	assert_int_equal(odo_config_read_secret("", "ODO_TEST_SECRET", out, sizeof(out)), ODO_OK);
	assert_string_equal(out, "fromenv");
	assert_int_equal(odo_config_read_secret(NULL, "ODO_TEST_SECRET", out, sizeof(out)), ODO_OK);
	assert_string_equal(out, "fromenv");
	unsetenv("ODO_TEST_SECRET");
	assert_int_equal(odo_config_read_secret("", "ODO_TEST_SECRET", out, sizeof(out)), ODO_ERR_NOTFOUND);
	assert_int_equal(odo_config_read_secret(NULL, NULL, out, sizeof(out)), ODO_ERR_NOTFOUND);
	/* exactly fits (15 chars + newline), then one too many */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "123456789012345\n", 16), 16);
	close(fd);
	assert_int_equal(odo_config_read_secret(path, NULL, out, sizeof(out)), ODO_OK);
	assert_string_equal(out, "123456789012345");
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "1234567890123456\n", 17), 17);
	close(fd);
	assert_int_equal(odo_config_read_secret(path, NULL, out, sizeof(out)), ODO_ERR_TOOBIG);
	assert_string_equal(out, ""); /* nothing partial left behind */
	setenv("ODO_TEST_SECRET", "1234567890123456", 1);
	assert_int_equal(odo_config_read_secret(NULL, "ODO_TEST_SECRET", out, sizeof(out)), ODO_ERR_TOOBIG);
	unsetenv("ODO_TEST_SECRET");
	unlink(path);
	assert_int_equal(odo_config_read_secret(path, NULL, out, sizeof(out)), ODO_ERR_NOTFOUND);
	assert_int_equal(odo_config_read_secret(path, NULL, out, 0), ODO_ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_every_type),
	    cmocka_unit_test(test_bool_spellings),
	    cmocka_unit_test(test_bounds_inclusive),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_first_error_wins),
	    cmocka_unit_test(test_bad_value_keeps_default),
	    cmocka_unit_test(test_line_too_long),
	    cmocka_unit_test(test_nul_byte),
	    cmocka_unit_test(test_bad_default),
	    cmocka_unit_test(test_file),
	    cmocka_unit_test(test_set),
	    cmocka_unit_test(test_set_arg),
	    cmocka_unit_test(test_reference),
	    cmocka_unit_test(test_secret),
	    cmocka_unit_test(test_replaced),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
