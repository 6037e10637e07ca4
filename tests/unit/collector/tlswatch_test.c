/* Unit tests of the collector's certificate/CRL expiry watch (collector/ingest/tlswatch). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ingest/tlswatch.h"

#define CERT ODO_SOURCE_DIR "/tests/data/pki/expiry-cert.pem"
#define CRL ODO_SOURCE_DIR "/tests/data/pki/expiry-crl.pem"
#define CERT_NOT_AFTER 1924992000LL /* 2031-01-01 00:00:00 UTC */
#define CRL_NEXT_UPDATE 1924905600LL /* 2030-12-31 00:00:00 UTC */
#define DAY 86400LL

static void reads_the_dates(void **st)
{
	(void)st;
	int64_t t = 0;
	char why[128];
	assert_int_equal(odo_tlswatch_read(CERT, 0, &t, why, sizeof why), ODO_OK);
	assert_int_equal(t, CERT_NOT_AFTER);
	assert_int_equal(odo_tlswatch_read(CRL, 1, &t, why, sizeof why), ODO_OK);
	assert_int_equal(t, CRL_NEXT_UPDATE);
}

static void refuses_what_it_cannot_read(void **st)
{
	(void)st;
	int64_t t = 0;
	char why[128];
	assert_int_equal(odo_tlswatch_read("/nonexistent/crl.pem", 1, &t, why, sizeof why), ODO_ERR_NOTFOUND);
	assert_string_equal(why, "No such file or directory");
	/* a certificate is not a CRL, and the other way round */
	assert_int_equal(odo_tlswatch_read(CERT, 1, &t, why, sizeof why), ODO_ERR_INVAL);
	assert_string_equal(why, "not a PEM CRL");
	assert_int_equal(odo_tlswatch_read(CRL, 0, &t, why, sizeof why), ODO_ERR_INVAL);
	assert_string_equal(why, "not a PEM certificate");
}

static void states_follow_the_clock(void **st)
{
	(void)st;
	struct odo_tlswatch w;
	odo_tlswatch_init(&w, CERT, CRL, 15 * DAY);
	/* a month before the CRL's nextUpdate: both fine */
	odo_tlswatch_check(&w, CRL_NEXT_UPDATE - 30 * DAY);
	assert_int_equal(w.cert.state, ODO_TLSWATCH_OK);
	assert_int_equal(w.crl.state, ODO_TLSWATCH_OK);
	assert_int_equal(w.crl.left_s, 30 * DAY);
	assert_int_equal(w.cert.left_s, 31 * DAY);
	/* 10 days before: the CRL warns, the certificate (11 days) too */
	odo_tlswatch_check(&w, CRL_NEXT_UPDATE - 10 * DAY);
	assert_int_equal(w.crl.state, ODO_TLSWATCH_SOON);
	assert_int_equal(w.cert.state, ODO_TLSWATCH_SOON);
	assert_int_equal(w.crl.left_s, 10 * DAY);
	/* the second the CRL lapses it is expired; the certificate a day later */
	odo_tlswatch_check(&w, CRL_NEXT_UPDATE);
	assert_int_equal(w.crl.state, ODO_TLSWATCH_EXPIRED);
	assert_int_equal(w.cert.state, ODO_TLSWATCH_SOON);
	assert_int_equal(w.cert.left_s, DAY);
	odo_tlswatch_check(&w, CERT_NOT_AFTER + 1);
	assert_int_equal(w.cert.state, ODO_TLSWATCH_EXPIRED);
	assert_int_equal(w.cert.left_s, -1);
}

static void unconfigured_and_missing(void **st)
{
	(void)st;
	struct odo_tlswatch w;
	odo_tlswatch_init(&w, CERT, "", 15 * DAY);
	odo_tlswatch_check(&w, CERT_NOT_AFTER - 100 * DAY);
	assert_int_equal(w.crl.state, ODO_TLSWATCH_OFF);
	assert_int_equal(w.cert.state, ODO_TLSWATCH_OK);
	odo_tlswatch_init(&w, CERT, "/nonexistent/crl.pem", 15 * DAY);
	odo_tlswatch_check(&w, CERT_NOT_AFTER - 100 * DAY);
	assert_int_equal(w.crl.state, ODO_TLSWATCH_UNKNOWN);
	assert_string_equal(w.crl.why, "No such file or directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads_the_dates),
		cmocka_unit_test(refuses_what_it_cannot_read),
		cmocka_unit_test(states_follow_the_clock),
		cmocka_unit_test(unconfigured_and_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
