/*
 * Alert rules and the webhook request (collector/alert/rules.c, webhook.c):
 * a rule row refused with an error naming what is wrong; which records fire
 * which rule (a crash raises "crash" or "airbag", never both; a value not
 * measured never fires; the age limit); the details and the body as JSON;
 * the HMAC-SHA256 signature against Python's hmac module (independent).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alert/rules.h"
#include "alert/webhook.h"

static struct odo_alert_rule rule(const char *metric, const char *op, const char *thr, const char *cool,
				  const char *age)
{
	struct odo_alert_rule r;
	char why[200];
	assert_int_equal(odo_alert_rule_parse("r1", metric, op, thr, cool, age, "warning", &r, why, sizeof why), ODO_OK);
	return r;
}

static void bad(const char *name, const char *metric, const char *op, const char *thr, const char *cool,
		const char *sev, const char *want)
{
	struct odo_alert_rule r;
	char why[200] = "";
	assert_int_equal(odo_alert_rule_parse(name, metric, op, thr, cool, "", sev, &r, why, sizeof why),
			 ODO_ERR_CONFIG);
	printf("refused: %s\n", why);
	assert_non_null(strstr(why, want));
}

static void test_parse(void **state)
{
	(void)state;
	struct odo_alert_rule r = rule("sample.coolant_c", ">", "120", "1800", "3600");
	assert_int_equal(r.op, ODO_ALERT_GT);
	assert_true(r.threshold == 120);
	assert_int_equal(r.cooldown_s, 1800);
	assert_int_equal(r.max_age_s, 3600);
	assert_string_equal(odo_alert_metric_at(r.metric)->name, "sample.coolant_c");
	r = rule("crash", "", "", "0", "");
	assert_int_equal(r.op, ODO_ALERT_NONE);
	assert_true(isnan(r.threshold));
	assert_int_equal(r.max_age_s, -1);
	bad("x", "sample.speed", ">", "1", "0", "warning", "unknown metric 'sample.speed'");
	bad("x", "sample.speed_mps", "", "1", "0", "warning", "needs op and threshold");
	bad("x", "sample.speed_mps", "=", "1", "0", "warning", "op '=' is not one of");
	bad("x", "sample.speed_mps", ">", "fast", "0", "warning", "threshold 'fast'");
	bad("x", "sample.speed_mps", ">", "inf", "0", "warning", "threshold 'inf'");
	bad("x", "crash", ">", "1", "0", "warning", "takes no op or threshold");
	bad("x", "crash", "", "", "-1", "warning", "cooldown_s '-1'");
	bad("x", "crash", "", "", "0", "urgent", "severity 'urgent'");
	bad("Bad-Name", "crash", "", "", "0", "warning", "name must be [a-z0-9_]");
	/* every metric in the table has a name, a kind and a help line */
	for (size_t i = 0; i < odo_alert_metric_count(); i++) {
		const struct odo_alert_metric *m = odo_alert_metric_at(i);
		assert_true(m->name && *m->name && m->help && *m->help && m->kind >= 1 && m->kind <= ODO_REC__MAX);
	}
	assert_null(odo_alert_metric_at(odo_alert_metric_count()));
}

static struct odo_record crash_ev(int src, double peak)
{
	struct odo_record r;
	odo_record_init(&r, ODO_REC_EVENT);
	r.seq = 7;
	r.t_ms = 1767225600000LL;
	r.u.event.kind = ODO_EV_CRASH;
	r.u.event.source = (uint8_t)src;
	r.u.event.peak_g = peak;
	r.u.event.mean_g = peak / 2;
	r.u.event.trip_id = 3;
	return r;
}

static void test_match(void **state)
{
	(void)state;
	int64_t now = 1767225600000LL + 500;
	struct odo_alert_rule crash = rule("crash", "", "", "0", ""), airbag = rule("airbag", "", "", "0", "");
	double v = 0;
	/* one crash record raises exactly one of the two */
	struct odo_record a = crash_ev(ODO_EVSRC_ACCEL, -8.2), b = crash_ev(ODO_EVSRC_AIRBAG, 0),
			  c = crash_ev(ODO_EVSRC_ACCEL_AIRBAG, -12.5);
	assert_true(odo_alert_match(&crash, &a, now, &v) && fabs(v - 8.2) < 1e-12);
	assert_false(odo_alert_match(&airbag, &a, now, &v));
	assert_false(odo_alert_match(&crash, &b, now, &v));
	assert_true(odo_alert_match(&airbag, &b, now, &v) && isnan(v)); /* no accelerometer value */
	assert_false(odo_alert_match(&crash, &c, now, &v));
	assert_true(odo_alert_match(&airbag, &c, now, &v) && fabs(v - 12.5) < 1e-12);
	/* other events are no crash */
	struct odo_record hb = crash_ev(ODO_EVSRC_ACCEL, -0.5);
	hb.u.event.kind = ODO_EV_HARD_BRAKE;
	assert_false(odo_alert_match(&crash, &hb, now, &v));
	/* thresholds on samples; NaN (not measured) never fires */
	struct odo_record s;
	odo_record_init(&s, ODO_REC_SAMPLE);
	s.t_ms = now - 1000;
	s.u.sample.speed_mps = 36.2;
	struct odo_alert_rule over = rule("sample.speed_mps", ">", "36.11", "600", "3600");
	assert_true(odo_alert_match(&over, &s, now, &v) && v == 36.2);
	s.u.sample.speed_mps = 36.11;
	assert_false(odo_alert_match(&over, &s, now, &v)); /* > is strict */
	struct odo_alert_rule ge = rule("sample.speed_mps", ">=", "36.11", "600", "");
	assert_true(odo_alert_match(&ge, &s, now, &v));
	s.u.sample.speed_mps = NAN;
	assert_false(odo_alert_match(&ge, &s, now, &v));
	struct odo_alert_rule low = rule("sample.fuel_pct", "<", "10", "0", "");
	s.u.sample.fuel_pct = 9.5;
	assert_true(odo_alert_match(&low, &s, now, &v));
	/* the age limit: a record older than max_age_s at arrival raises nothing */
	s.u.sample.speed_mps = 40;
	s.t_ms = now - 3600 * 1000 - 1;
	assert_false(odo_alert_match(&over, &s, now, &v));
	s.t_ms = now - 3600 * 1000;
	assert_true(odo_alert_match(&over, &s, now, &v));
	/* the wrong kind */
	assert_false(odo_alert_match(&over, &a, now, &v));
}

static void test_json(void **state)
{
	(void)state;
	struct odo_pgbuf b = {0};
	struct odo_record r = crash_ev(ODO_EVSRC_AIRBAG, 0);
	r.u.event.speed_before_mps = 14.5;
	odo_alert_details(&r, &b);
	printf("%s\n", b.p);
	assert_non_null(strstr(b.p, "\"event\":\"crash\",\"source\":\"airbag\",\"trip\":3"));
	assert_non_null(strstr(b.p, "\"peak_g\":null,\"mean_g\":null")); /* not measured: null, never 0 */
	assert_non_null(strstr(b.p, "\"speed_before_mps\":14.5,\"speed_after_mps\":null"));
	odo_pgbuf_reset(&b);
	odo_json_str(&b, "a\"b\\c\n");
	assert_string_equal(b.p, "\"a\\\"b\\\\c\\u000a\"");
	odo_pgbuf_reset(&b);
	struct odo_alert_msg m = {.alert_id = 12, .device = "car-1", .epoch = 0xabcULL, .seq = 42, .rule = "overspeed",
				  .metric = "sample.speed_mps", .severity = "warning",
				  .record_time = "2026-01-01T00:00:00.000Z", .received_at = "2026-01-01T00:00:00.120Z",
				  .raised_at = "2026-01-01T00:00:00.150Z", .trip = 5, .value = "37.5", .op = ">",
				  .threshold = "36.11", .details = "{\"kind\":\"sample\"}"};
	assert_int_equal(odo_alert_body(&m, &b), ODO_OK);
	printf("%s\n", b.p);
	assert_string_equal(b.p, "{\"id\":\"car-1:0000000000000abc:42:overspeed\",\"alert_id\":12,\"rule\":\"overspeed\","
				 "\"metric\":\"sample.speed_mps\",\"severity\":\"warning\",\"device\":\"car-1\","
				 "\"epoch\":\"0000000000000abc\",\"seq\":42,\"trip_id\":\"car-1:0000000000000abc:5\","
				 "\"record_time\":\"2026-01-01T00:00:00.000Z\",\"received_at\":\"2026-01-01T00:00:00.120Z\","
				 "\"raised_at\":\"2026-01-01T00:00:00.150Z\",\"value\":37.5,\"op\":\">\",\"threshold\":36.11,"
				 "\"details\":{\"kind\":\"sample\"}}");
	/* no value, no trip: null */
	m.value = NULL;
	m.trip = -1;
	m.op = "";
	m.threshold = NULL;
	assert_int_equal(odo_alert_body(&m, &b), ODO_OK);
	assert_non_null(strstr(b.p, "\"trip_id\":null"));
	assert_non_null(strstr(b.p, "\"value\":null,\"op\":null,\"threshold\":null"));
	odo_pgbuf_free(&b);
}

static void test_signature(void **state)
{
	(void)state;
	char sig[ODO_ALERT_SIG_MAX];
	const char *body = "{\"id\":\"x\"}";
	/* python3 -c 'import hmac,hashlib; print(hmac.new(b"whsec-test-key",
	 *   b"1767225600." + b"{\"id\":\"x\"}", hashlib.sha256).hexdigest())' */
	assert_int_equal(odo_alert_sign("whsec-test-key", 14, 1767225600, body, strlen(body), sig), ODO_OK);
	assert_string_equal(sig, "t=1767225600,v1=174ec0291e60b9eb6749259b486c3d71e0ff7266b8116bf892254c1c3a7faf2f");
	/* another time, another signature (the timestamp is signed) */
	char sig2[ODO_ALERT_SIG_MAX];
	assert_int_equal(odo_alert_sign("whsec-test-key", 14, 1767225601, body, strlen(body), sig2), ODO_OK);
	assert_string_not_equal(sig + 16, sig2 + 16);
	assert_int_equal(odo_alert_sign("", 0, 1, body, strlen(body), sig), ODO_ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_match),
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_signature),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
