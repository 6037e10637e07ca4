/* Unit tests for common/src/log.c (the odo_log library). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "odo/log.h"

static int evaluations;

static int side_effect(void)
{
	return ++evaluations;
}

/* Run fn with stderr redirected to a temporary file; return its text. */
static void capture(void (*fn)(void), char *out, size_t outsz)
{
	char path[] = "/tmp/odo_log_test_XXXXXX";
	int fd = mkstemp(path);
	int saved = dup(STDERR_FILENO);
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	fn();
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	n = pread(fd, out, outsz - 1, 0);
	assert_true(n >= 0);
	out[n] = '\0';
	close(fd);
	unlink(path);
}

static void log_some(void)
{
	odo_log_set_program("odo-test");
	odo_log_threshold = ODO_LOG_WARN;
	ODO_LOG(DEBUG, "area", "debug %d", side_effect());
	ODO_LOG(INFO, "area", "info %d", side_effect());
	ODO_LOG(WARN, "uplink", "warn %d", side_effect());
	ODO_LOG(ERROR, "store", "error %d", side_effect());
	odo_log_set_program(NULL);
}

static void test_threshold_skips_formatting(void **state)
{
	char text[1024];
	char want[256];

	(void)state;
	evaluations = 0;
	capture(log_some, text, sizeof(text));
	/* DEBUG and INFO arguments were never evaluated */
	assert_int_equal(evaluations, 2);
	snprintf(want, sizeof(want),
	         "odo-test[%ld]: WARN uplink: warn 1\nodo-test[%ld]: ERROR store: error 2\n", (long)getpid(),
	         (long)getpid());
	assert_string_equal(text, want);
}

static void log_long(void)
{
	static char big[4096];

	memset(big, 'y', sizeof(big) - 1);
	odo_log_threshold = ODO_LOG_DEBUG;
	ODO_LOG(DEBUG, NULL, "%s", big);
}

static void test_long_line_truncated(void **state)
{
	char text[8192];
	size_t n;

	(void)state;
	capture(log_long, text, sizeof(text));
	n = strlen(text);
	assert_true(n > 100 && n <= 1024);
	assert_int_equal(text[n - 1], '\n');
	assert_ptr_equal(strchr(text, '\n'), text + n - 1); /* one line */
	assert_non_null(strstr(text, "DEBUG -: yyy"));
}

static void test_level_parse(void **state)
{
	(void)state;
	assert_int_equal(odo_log_level_parse("error"), ODO_LOG_ERROR);
	assert_int_equal(odo_log_level_parse("WARN"), ODO_LOG_WARN);
	assert_int_equal(odo_log_level_parse("Info"), ODO_LOG_INFO);
	assert_int_equal(odo_log_level_parse("debug"), ODO_LOG_DEBUG);
	assert_int_equal(odo_log_level_parse("0"), 0);
	assert_int_equal(odo_log_level_parse("3"), 3);
	assert_int_equal(odo_log_level_parse("4"), -1);
	assert_int_equal(odo_log_level_parse("33"), -1);
	assert_int_equal(odo_log_level_parse("warning"), -1);
	assert_int_equal(odo_log_level_parse(""), -1);
	assert_int_equal(odo_log_level_parse(NULL), -1);
}

static void test_reopen(void **state)
{
	char path[] = "/tmp/odo_log_reopen_XXXXXX";
	char text[512];
	int fd = mkstemp(path);
	int saved = dup(STDERR_FILENO);
	ssize_t n;

	(void)state;
	assert_true(fd >= 0 && saved >= 0);
	close(fd);
	assert_int_equal(odo_log_reopen(NULL), 0);
	assert_int_equal(odo_log_reopen(path), 0);
	odo_log_threshold = ODO_LOG_INFO;
	ODO_LOG(INFO, "rot", "after reopen");
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	fd = open(path, O_RDONLY);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	unlink(path);
	assert_true(n > 0);
	text[n] = '\0';
	assert_non_null(strstr(text, "INFO rot: after reopen\n"));
	assert_int_equal(odo_log_reopen("/nonexistent-dir/x.log"), ODO_ERR_IO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_threshold_skips_formatting),
	    cmocka_unit_test(test_long_line_truncated),
	    cmocka_unit_test(test_level_parse),
	    cmocka_unit_test(test_reopen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
