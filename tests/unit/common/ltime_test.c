/* Unit tests for common/src/ltime.c.
 *
 * The reference is glibc's localtime_r/gmtime_r: TZ is set here, in the
 * test only (the code under test never reads TZ). Real zones come from
 * the system's tzdata (/usr/share/zoneinfo); without it the test fails
 * (tzdata must be installed by tools/bootstrap). Synthetic TZif files
 * written to a temporary directory cover version 1 files and footer rules
 * glibc reads from the very same file. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "odo/ltime.h"

#define ZONEINFO  "/usr/share/zoneinfo"
#define Y1850     (-3786825600LL) /* 1850-01-01T00:00:00Z */
#define Y1906     (-2000000000LL) /* first transition of the synthetic files */
#define Y1971     31536000LL
#define Y2030     1893456000LL
#define Y2037     2114380800LL
#define Y2120     4733510400LL
#define Y2200     7258118400LL
#define SCAN_STEP (6 * 3600)

static struct odo_tz tz; /* 18 KiB: not on the stack */
static char tmpdir[64];
static long compared;

/* xorshift64*: a fixed sequence, so failures reproduce */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static int64_t rand_between(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(next_rand() % (uint64_t)(hi - lo));
}

static void use_glibc_zone(const char *tzvalue)
{
	assert_int_equal(setenv("TZ", tzvalue, 1), 0);
	tzset(); /* localtime_r does not re-read TZ by itself */
}

static void require_zoneinfo(void)
{
	struct stat st;

	if (stat(ZONEINFO "/Europe/Berlin", &st) != 0)
		fail_msg("%s/Europe/Berlin is missing (%s): install the Debian package tzdata "
		         "(it belongs in tools/bootstrap)",
		         ZONEINFO, strerror(errno));
}

/* Compare one instant with glibc under the TZ currently set. */
static void compare_at(const char *what, int64_t t)
{
	struct odo_ltime lt;
	struct tm tm;
	time_t tt = (time_t)t;

	assert_non_null(localtime_r(&tt, &tm));
	odo_tz_localtime(&tz, t, &lt);
	compared++;
	if (lt.year != tm.tm_year + 1900 || lt.month != tm.tm_mon + 1 || lt.mday != tm.tm_mday ||
	    lt.hour != tm.tm_hour || lt.min != tm.tm_min || lt.sec != tm.tm_sec || lt.wday != tm.tm_wday ||
	    lt.utoff_s != tm.tm_gmtoff || lt.isdst != (tm.tm_isdst > 0))
		fail_msg("%s at t=%lld: odo %04d-%02d-%02d %02d:%02d:%02d wday %d off %d dst %d; "
		         "glibc %04d-%02d-%02d %02d:%02d:%02d wday %d off %ld dst %d",
		         what, (long long)t, lt.year, lt.month, lt.mday, lt.hour, lt.min, lt.sec, lt.wday,
		         (int)lt.utoff_s, lt.isdst, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		         tm.tm_min, tm.tm_sec, tm.tm_wday, tm.tm_gmtoff, tm.tm_isdst);
}

static long glibc_off(int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;

	assert_non_null(localtime_r(&tt, &tm));
	return tm.tm_gmtoff * 2 + (tm.tm_isdst > 0);
}

/* Walk [from, to) in SCAN_STEP steps; wherever glibc's offset or DST flag
 * changes, find the exact second and compare the seconds around it.
 * Returns the number of changes found. */
static int scan_edges(const char *what, int64_t from, int64_t to)
{
	long prev = glibc_off(from);
	int edges = 0;

	for (int64_t t = from + SCAN_STEP; t < to; t += SCAN_STEP) {
		long cur = glibc_off(t);

		compare_at(what, t);
		if (cur != prev) {
			int64_t lo = t - SCAN_STEP, hi = t; /* off(lo) = prev, off(hi) = cur */

			while (hi - lo > 1) {
				int64_t mid = lo + (hi - lo) / 2;

				if (glibc_off(mid) == prev)
					lo = mid;
				else
					hi = mid;
			}
			for (int64_t e = hi - 2; e <= hi + 2; e++)
				compare_at(what, e);
			edges++;
		}
		prev = cur;
	}
	return edges;
}

static void compare_zone(const char *name, int expect_dst_future)
{
	char tzvalue[128];
	int edges;

	require_zoneinfo();
	assert_int_equal(odo_tz_load(&tz, name, NULL), ODO_OK);
	assert_string_equal(tz.name, name);
	snprintf(tzvalue, sizeof(tzvalue), ":%s/%s", ZONEINFO, name);
	use_glibc_zone(tzvalue);
	/* every transition of the table, and the seconds around it */
	for (int32_t i = 0; i < tz.ntrans; i++)
		for (int64_t d = -2; d <= 2; d++)
			if (tz.trans_at[i] + d > Y1850)
				compare_at(name, tz.trans_at[i] + d);
	/* random instants from 1850 to 2200 */
	for (int i = 0; i < 3000; i++)
		compare_at(name, rand_between(Y1850, Y2200));
	/* the years served by the footer rule, edge by edge */
	edges = scan_edges(name, Y2030, Y2120);
	if (expect_dst_future)
		assert_true(edges >= 2 * 89);
	else
		assert_int_equal(edges, 0);
}

static void test_utc(void **state)
{
	(void)state;
	compare_zone("UTC", 0);
	assert_int_equal(tz.ntypes, 1);
	assert_int_equal(tz.type_utoff[0], 0);
}

static void test_berlin(void **state)
{
	(void)state;
	compare_zone("Europe/Berlin", 1);
	assert_string_equal(tz.footer, "CET-1CEST,M3.5.0,M10.5.0/3");
}

static void test_new_york(void **state)
{
	(void)state;
	compare_zone("America/New_York", 1);
	assert_string_equal(tz.footer, "EST5EDT,M3.2.0,M11.1.0");
}

static void test_sydney(void **state)
{
	(void)state;
	compare_zone("Australia/Sydney", 1);
}

static void test_kolkata(void **state)
{
	(void)state;
	compare_zone("Asia/Kolkata", 0);
}

static void test_more_zones(void **state)
{
	(void)state;
	compare_zone("Australia/Lord_Howe", 1); /* 30-minute DST */
	compare_zone("America/Sao_Paulo", 0);   /* DST abolished in 2019 */
	compare_zone("Asia/Tehran", 0);         /* <+0330>-3:30 */
	compare_zone("Pacific/Chatham", 1);     /* +12:45 / +13:45 */
}

/* Hand-checked instants (not from glibc): the 2024 switches. */
static void test_known_instants(void **state)
{
	struct odo_ltime lt;

	(void)state;
	require_zoneinfo();
	assert_int_equal(odo_tz_load(&tz, "Europe/Berlin", ZONEINFO), ODO_OK);
	/* 2024-03-31T00:59:59Z is 01:59:59 CET; one second later 03:00:00 CEST */
	odo_tz_localtime(&tz, 1711846799, &lt);
	assert_int_equal(lt.hour, 1);
	assert_int_equal(lt.min, 59);
	assert_int_equal(lt.isdst, 0);
	assert_int_equal(lt.utoff_s, 3600);
	odo_tz_localtime(&tz, 1711846800, &lt);
	assert_int_equal(lt.hour, 3);
	assert_int_equal(lt.min, 0);
	assert_int_equal(lt.isdst, 1);
	assert_int_equal(lt.utoff_s, 7200);
	assert_int_equal(lt.wday, 0); /* a Sunday */
	/* 2100-03-28 (footer rule): last Sunday of March, 01:00Z */
	odo_tz_localtime(&tz, 4109878799, &lt); /* 2100-03-28T00:59:59Z */
	assert_int_equal(lt.utoff_s, 3600);
	odo_tz_localtime(&tz, 4109878800, &lt);
	assert_int_equal(lt.utoff_s, 7200);
	assert_int_equal(lt.year, 2100);
	assert_int_equal(lt.month, 3);
	assert_int_equal(lt.mday, 28);
	assert_int_equal(lt.hour, 3);
}

static void test_utc_time(void **state)
{
	struct odo_ltime lt;
	struct tm tm;

	(void)state;
	/* every day from 1600 to 2400 at a varying second of the day */
	for (int64_t t = -11676096000LL; t < 13569465600LL; t += 86400 + 7) {
		time_t tt = (time_t)t;

		assert_non_null(gmtime_r(&tt, &tm));
		odo_utc_time(t, &lt);
		if (lt.year != tm.tm_year + 1900 || lt.month != tm.tm_mon + 1 || lt.mday != tm.tm_mday ||
		    lt.hour != tm.tm_hour || lt.min != tm.tm_min || lt.sec != tm.tm_sec ||
		    lt.wday != tm.tm_wday || lt.utoff_s != 0 || lt.isdst)
			fail_msg("t=%lld: %d-%d-%d %d:%d:%d w%d vs %d-%d-%d %d:%d:%d w%d", (long long)t,
			         lt.year, lt.month, lt.mday, lt.hour, lt.min, lt.sec, lt.wday,
			         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			         tm.tm_sec, tm.tm_wday);
	}
	/* random instants over +-100000 years */
	for (int i = 0; i < 20000; i++) {
		int64_t t = rand_between(-3155760000000LL, 3155760000000LL);
		time_t tt = (time_t)t;

		assert_non_null(gmtime_r(&tt, &tm));
		odo_utc_time(t, &lt);
		assert_int_equal(lt.year, tm.tm_year + 1900);
		assert_int_equal(lt.month, tm.tm_mon + 1);
		assert_int_equal(lt.mday, tm.tm_mday);
		assert_int_equal(lt.hour * 3600 + lt.min * 60 + lt.sec,
		                 tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec);
		assert_int_equal(lt.wday, tm.tm_wday);
	}
	odo_utc_time(0, &lt);
	assert_int_equal(lt.year, 1970);
	assert_int_equal(lt.wday, 4); /* Thursday */
	odo_utc_time(-1, &lt);
	assert_int_equal(lt.year, 1969);
	assert_int_equal(lt.month, 12);
	assert_int_equal(lt.mday, 31);
	assert_int_equal(lt.sec, 59);
	odo_utc_time(951782400, &lt); /* 2000-02-29 */
	assert_int_equal(lt.month, 2);
	assert_int_equal(lt.mday, 29);
}

static void test_bad_names(void **state)
{
	(void)state;
	require_zoneinfo();
	assert_int_equal(odo_tz_load(&tz, "../zoneinfo/UTC", NULL), ODO_ERR_INVAL);
	assert_int_equal(odo_tz_load(&tz, "Europe/../Europe/Berlin", NULL), ODO_ERR_INVAL);
	assert_int_equal(odo_tz_load(&tz, "Europe/..", NULL), ODO_ERR_INVAL);
	assert_int_equal(odo_tz_load(&tz, "/usr/share/zoneinfo/UTC", NULL), ODO_ERR_INVAL);
	assert_int_equal(odo_tz_load(&tz, "", NULL), ODO_ERR_INVAL);
	assert_int_equal(odo_tz_load(&tz, NULL, NULL), ODO_ERR_INVAL);
	assert_int_equal(odo_tz_load(&tz, "Nowhere/Atlantis", NULL), ODO_ERR_NOTFOUND);
	assert_int_equal(odo_tz_load(&tz, "Europe", NULL), ODO_ERR_NOTFOUND); /* a directory */
	assert_int_equal(odo_tz_load(&tz, "UTC", "/nonexistent-zoneinfo"), ODO_ERR_NOTFOUND);
}

/* ---- synthetic files ---- */

static void write_file(const char *name, const void *data, size_t len)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static size_t read_whole(const char *path, unsigned char *buf, size_t sz)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, sz);
	close(fd);
	assert_true(n > 0 && (size_t)n < sz);
	return (size_t)n;
}

static uint32_t be32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static unsigned char *put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
	return p + 4;
}

static unsigned char *header(unsigned char *p, char version, uint32_t timecnt)
{
	memcpy(p, "TZif", 4);
	p[4] = (unsigned char)version;
	memset(p + 5, 0, 15);
	p = put32(p + 20, 0);  /* isutcnt */
	p = put32(p, 0);       /* isstdcnt */
	p = put32(p, 0);       /* leapcnt */
	p = put32(p, timecnt); /* timecnt */
	p = put32(p, 1);       /* typecnt */
	return put32(p, 4);    /* charcnt */
}

/* A v2 file: one transition in 1906 to its only type (standard offset
 * `utoff`), then the footer rule for everything after. */
static size_t make_footer_file(unsigned char *buf, int32_t utoff, const char *footer)
{
	unsigned char *p = buf;

	p = header(p, '2', 1);
	p = put32(p, (uint32_t)(int32_t)Y1906);
	*p++ = 0;
	p = put32(p, (uint32_t)utoff);
	*p++ = 0;
	*p++ = 0;
	memcpy(p, "XXX", 4);
	p += 4;
	p = header(p, '2', 1);
	p = put32(p, (uint32_t)((uint64_t)Y1906 >> 32));
	p = put32(p, (uint32_t)(uint64_t)Y1906);
	*p++ = 0;
	p = put32(p, (uint32_t)utoff);
	*p++ = 0;
	*p++ = 0;
	memcpy(p, "XXX", 4);
	p += 4;
	p += sprintf((char *)p, "\n%s\n", footer);
	return (size_t)(p - buf);
}

static void test_footer_rules(void **state)
{
	static const struct {
		const char *rule;
		int32_t std;
		int dst;
	} rules[] = {
	    {"CET-1CEST,M3.5.0,M10.5.0/3", 3600, 1},
	    {"EST5EDT,M3.2.0,M11.1.0", -18000, 1},
	    {"AEST-10AEDT,M10.1.0,M4.1.0/3", 36000, 1},
	    {"NZST-12NZDT,M9.5.0,M4.1.0/3", 43200, 1},
	    {"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", 37800, 1},
	    {"<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", -10800, 1}, /* RFC 8536 negative times */
	    {"XXX3YYY,J60/2,J300/2", -10800, 1},
	    {"XXX3YYY,59/2:30,299", -10800, 1},
	    {"IST-5:30", 19800, 0},
	    {"<+0545>-5:45", 20700, 0},
	    {"HST10", -36000, 0},
	};
	unsigned char buf[512];
	char tzvalue[128];

	(void)state;
	for (size_t i = 0; i < ODO_ARRAY_LEN(rules); i++) {
		size_t n = make_footer_file(buf, rules[i].std, rules[i].rule);
		int edges;

		char name[16];

		/* a new name per rule: glibc caches a zone file it has read */
		snprintf(name, sizeof(name), "Synth%zu", i);
		write_file(name, buf, n);
		assert_int_equal(odo_tz_load(&tz, name, tmpdir), ODO_OK);
		assert_string_equal(tz.footer, rules[i].rule);
		snprintf(tzvalue, sizeof(tzvalue), ":%s/%s", tmpdir, name);
		use_glibc_zone(tzvalue);
		/* glibc evaluates TZ rules for years before 1970 as if in 1970
		 * (compute_change in glibc's time/tzset.c), so it is no reference
		 * there; real files only reach their footer in this century. */
		for (int k = 0; k < 1000; k++)
			compare_at(rules[i].rule, rand_between(Y1971, Y2200));
		edges = scan_edges(rules[i].rule, Y1971, Y1971 + 30LL * 365 * 86400);
		edges += scan_edges(rules[i].rule, Y2030, Y2120);
		if (rules[i].dst)
			assert_true(edges >= 2 * 118);
		else
			assert_int_equal(edges, 0);
	}
}

/* A version 1 file (32-bit data only, no footer), cut from the real
 * Berlin file, gives the same answers as glibc reading that file. */
static void test_version1(void **state)
{
	static unsigned char buf[65536];
	uint32_t isut, isstd, leap, timecnt, typecnt, charcnt;
	size_t len, v1len;
	char tzvalue[128];

	(void)state;
	require_zoneinfo();
	len = read_whole(ZONEINFO "/Europe/Berlin", buf, sizeof(buf));
	assert_true(len > 44);
	isut = be32(buf + 20);
	isstd = be32(buf + 24);
	leap = be32(buf + 28);
	timecnt = be32(buf + 32);
	typecnt = be32(buf + 36);
	charcnt = be32(buf + 40);
	v1len = 44 + timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isut;
	assert_true(v1len <= len);
	buf[4] = 0;
	write_file("V1", buf, v1len);
	assert_int_equal(odo_tz_load(&tz, "V1", tmpdir), ODO_OK);
	assert_int_equal(tz.ntrans, (int32_t)timecnt);
	assert_string_equal(tz.footer, "");
	snprintf(tzvalue, sizeof(tzvalue), ":%s/V1", tmpdir);
	use_glibc_zone(tzvalue);
	for (int32_t i = 0; i < tz.ntrans; i++)
		for (int64_t d = -1; d <= 1; d++)
			compare_at("v1", tz.trans_at[i] + d);
	for (int i = 0; i < 3000; i++)
		compare_at("v1", rand_between(INT32_MIN, INT32_MAX));
}

static void test_broken_files(void **state)
{
	static unsigned char buf[65536];
	static unsigned char copy[65536];
	size_t len;

	(void)state;
	require_zoneinfo();
	len = read_whole(ZONEINFO "/America/New_York", buf, sizeof(buf));
	/* every truncation is refused, never read past */
	for (size_t cut = 0; cut < len; cut += (cut < 64 ? 1 : 37)) {
		write_file("Cut", buf, cut);
		if (odo_tz_load(&tz, "Cut", tmpdir) != ODO_ERR_PROTOCOL)
			fail_msg("file cut at %zu of %zu bytes was not refused", cut, len);
		assert_int_equal(tz.ntypes, 0); /* nothing half-loaded */
	}
	/* bad magic */
	memcpy(copy, buf, len);
	copy[0] = 'X';
	write_file("Bad", copy, len);
	assert_int_equal(odo_tz_load(&tz, "Bad", tmpdir), ODO_ERR_PROTOCOL);
	/* a transition type index out of range */
	{
		unsigned char syn[512];
		size_t n = make_footer_file(syn, 0, "UTC0");
		size_t v2 = 44 + 4 + 1 + 6 + 4; /* start of the second header */

		syn[v2 + 44 + 8] = 1; /* type index 1 of 1 type */
		write_file("Bad", syn, n);
		assert_int_equal(odo_tz_load(&tz, "Bad", tmpdir), ODO_ERR_PROTOCOL);
		/* an unparseable footer */
		n = make_footer_file(syn, 0, "EST5EDT,M13.1.0,M11.1.0");
		write_file("Bad", syn, n);
		assert_int_equal(odo_tz_load(&tz, "Bad", tmpdir), ODO_ERR_PROTOCOL);
		n = make_footer_file(syn, 0, "E5");
		write_file("Bad", syn, n);
		assert_int_equal(odo_tz_load(&tz, "Bad", tmpdir), ODO_ERR_PROTOCOL);
		/* a footer longer than the struct holds */
		n = make_footer_file(syn, 0,
		                     "<+0000000000001>0<+0000000000002>,M3.5.0/2:00:00,M10.5.0/3:00:00X");
		write_file("Bad", syn, n);
		assert_int_equal(odo_tz_load(&tz, "Bad", tmpdir), ODO_ERR_TOOBIG);
	}
	/* leap-second files ("right/") are refused, not misread */
	if (access(ZONEINFO "/right/UTC", R_OK) == 0)
		assert_int_equal(odo_tz_load(&tz, "right/UTC", NULL), ODO_ERR_UNSUPPORTED);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/odo_ltime_test_XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	static const char *const files[] = {"V1", "Cut", "Bad"};
	char path[256];

	(void)state;
	for (size_t i = 0; i < ODO_ARRAY_LEN(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
		unlink(path);
	}
	for (int i = 0; i < 32; i++) {
		snprintf(path, sizeof(path), "%s/Synth%d", tmpdir, i);
		unlink(path);
	}
	rmdir(tmpdir);
	printf("compared %ld instants with glibc\n", compared);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_utc),
	    cmocka_unit_test(test_berlin),
	    cmocka_unit_test(test_new_york),
	    cmocka_unit_test(test_sydney),
	    cmocka_unit_test(test_kolkata),
	    cmocka_unit_test(test_more_zones),
	    cmocka_unit_test(test_known_instants),
	    cmocka_unit_test(test_utc_time),
	    cmocka_unit_test(test_bad_names),
	    cmocka_unit_test(test_footer_rules),
	    cmocka_unit_test(test_version1),
	    cmocka_unit_test(test_broken_files),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
