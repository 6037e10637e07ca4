/* DBC parser and decoder: hand vectors, then the real RAV4 excerpt
 * (tests/data/can, comma2k19 + opendbc, MIT) against its decoded CSV. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "near.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "can/candump.h"
#include "can/dbc.h"

static const char dbc_text[] =
	"VERSION \"\"\n\nNS_ :\n    CM_\n\nBS_:\n\nBU_: SRS BCM\n\n"
	"BO_ 80 AIRBAG_STATUS: 8 SRS\n"
	" SG_ AIRBAG_DEPLOYED : 0|1@1+ (1,0) [0|1] \"\" BCM\n"
	" SG_ CRASH : 1|1@1+ (1,0) [0|1] \"\" BCM\n"
	" SG_ COUNTER : 8|12@1+ (1,0) [0|4095] \"\" BCM\n"
	" SG_ TEMP : 16|8@1- (0.5,10) [-54|73.5] \"degC\" BCM\n"
	" SG_ BIG : 3|12@0+ (1,0) [0|4095] \"\" BCM\n"
	" SG_ ACCEL : 39|16@0- (0.01,0) [-327.68|327.67] \"m/s2\" BCM\n"
	"\n"
	"BO_ 2566844926 EXT_MSG: 8 BCM\n"
	" SG_ MUX M : 0|8@1+ (1,0) [0|255] \"\" SRS\n"
	" SG_ WIPERS m1 : 8|2@1+ (1,0) [0|3] \"\" SRS\n"
	" SG_ BELT m2 : 8|1@1+ (1,0) [0|1] \"\" SRS\n"
	"\n"
	"CM_ SG_ 80 AIRBAG_DEPLOYED \"1 when any airbag fired\";\n"
	"BA_DEF_ SG_ \"GenSigStartValue\" INT 0 100;\n"
	"VAL_ 2566844926 WIPERS 0 \"OFF\" 1 \"INTERVAL\" 2 \"LOW\" 3 \"HIGH\" ;\n"
	"VAL_ 80 AIRBAG_DEPLOYED 0 \"no\" 1 \"yes\" ;\n";

static void parse_and_decode(void **st)
{
	(void)st;
	struct odo_dbc *d = NULL;
	int line = 0;
	assert_int_equal(odo_dbc_parse_buf(dbc_text, strlen(dbc_text), &d, &line), ODO_OK);
	assert_int_equal(odo_dbc_nmsgs(d), 2);
	const struct odo_dbc_msg *m = odo_dbc_find_id(d, 80);
	assert_non_null(m);
	assert_string_equal(m->name, "AIRBAG_STATUS");
	assert_int_equal(m->nsigs, 6);
	const uint8_t data[8] = { 0x0B, 0x34, 0xFF, 0x00, 0xFF, 0xFE, 0, 0 };
	double v;
	int64_t raw;
	assert_int_equal(odo_dbc_decode(odo_dbc_find_signal(m, "AIRBAG_DEPLOYED"), data, 8, &v), ODO_OK);
	assert_near(v, 1, 0);
	assert_int_equal(odo_dbc_decode(odo_dbc_find_signal(m, "CRASH"), data, 8, &v), ODO_OK);
	assert_near(v, 1, 0);
	/* Intel 12 bits from bit 8: byte1 + low nibble of byte2 */
	assert_int_equal(odo_dbc_raw(odo_dbc_find_signal(m, "COUNTER"), data, 8, &raw), ODO_OK);
	assert_int_equal(raw, 0xF34);
	/* Intel signed byte 0xFF = -1 -> -1*0.5+10 */
	assert_int_equal(odo_dbc_decode(odo_dbc_find_signal(m, "TEMP"), data, 8, &v), ODO_OK);
	assert_near(v, 9.5, 1e-12);
	/* Motorola 12 bits, MSB at bit 3: low nibble of byte0, then byte1 */
	assert_int_equal(odo_dbc_raw(odo_dbc_find_signal(m, "BIG"), data, 8, &raw), ODO_OK);
	assert_int_equal(raw, 0xB34);
	/* Motorola signed 16 bits from bit 39: bytes 4,5 = 0xFFFE = -2 */
	assert_int_equal(odo_dbc_decode(odo_dbc_find_signal(m, "ACCEL"), data, 8, &v), ODO_OK);
	assert_near(v, -0.02, 1e-12);
	/* a frame too short for the signal is refused, not read past */
	assert_int_equal(odo_dbc_decode(odo_dbc_find_signal(m, "ACCEL"), data, 4, &v), ODO_ERR_RANGE);
	/* extended id (bit 31 in the DBC) and value tables */
	const struct odo_dbc_msg *x = odo_dbc_find_msg(d, "EXT_MSG");
	assert_non_null(x);
	assert_int_equal(x->id, (2566844926u & 0x1FFFFFFFu) | 0x80000000u);
	assert_ptr_equal(odo_dbc_find_id(d, x->id), x);
	const struct odo_dbc_signal *w = odo_dbc_find_signal(x, "WIPERS");
	assert_int_equal(w->mux, 2);
	assert_int_equal(w->mux_val, 1);
	assert_int_equal(odo_dbc_find_signal(x, "MUX")->mux, 1);
	assert_string_equal(odo_dbc_val_desc(w, 2), "LOW");
	assert_null(odo_dbc_val_desc(w, 7));
	assert_string_equal(odo_dbc_val_desc(odo_dbc_find_signal(m, "AIRBAG_DEPLOYED"), 1), "yes");
	assert_string_equal(odo_dbc_find_signal(m, "TEMP")->unit, "degC");
	assert_near(odo_dbc_find_signal(m, "TEMP")->min, -54, 0);
	odo_dbc_close(d);
}

static void malformed_is_rejected(void **st)
{
	(void)st;
	static const char *bad[] = {
		"BO_ 80 X: 8 A\n SG_ S : 0|1@2+ (1,0) [0|1] \"\" B\n",
		"BO_ 80 X: 8 A\n SG_ S : 0|0@1+ (1,0) [0|1] \"\" B\n",
		"BO_ 80 X: 8 A\n SG_ S : 0|1@1+ (1,0 [0|1] \"\" B\n",
		"BO_ X: 8 A\n",
		"BO_ 80 X: 8 A\nVAL_ 80 S 0 \"open\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct odo_dbc *d = NULL;
		int line = 0;
		assert_int_equal(odo_dbc_parse_buf(bad[i], strlen(bad[i]), &d, &line), ODO_ERR_PROTOCOL);
		assert_null(d);
		assert_true(line >= 1);
	}
	struct odo_dbc *d;
	assert_int_equal(odo_dbc_load("/nonexistent.dbc", &d, NULL), ODO_ERR_IO);
}

/* Golden: WHEEL_SPEEDS of the committed excerpt reproduce the CSV bit for bit. */
static void rav4_excerpt_golden(void **st)
{
	(void)st;
	struct odo_dbc *d = NULL;
	int line = 0;
	assert_int_equal(odo_dbc_load(ODO_SOURCE_DIR "/tests/data/can/toyota_2017.dbc", &d, &line), ODO_OK);
	const struct odo_dbc_msg *m = odo_dbc_find_id(d, 170);
	assert_non_null(m);
	assert_string_equal(m->name, "WHEEL_SPEEDS");
	static const char *names[4] = { "WHEEL_SPEED_FL", "WHEEL_SPEED_FR", "WHEEL_SPEED_RL", "WHEEL_SPEED_RR" };
	const struct odo_dbc_signal *s[4];
	for (int i = 0; i < 4; i++)
		assert_non_null(s[i] = odo_dbc_find_signal(m, names[i]));
	FILE *log = fopen(ODO_SOURCE_DIR "/tests/data/can/rav4_excerpt.candump.log", "r");
	FILE *csv = fopen(ODO_SOURCE_DIR "/tests/data/can/rav4_excerpt_wheel_speed.csv", "r");
	assert_non_null(log);
	assert_non_null(csv);
	char l[256], c[256];
	assert_non_null(fgets(c, sizeof c, csv)); /* header */
	int rows = 0;
	while (fgets(l, sizeof l, log)) {
		int64_t t;
		char ifn[IFNAMSIZ];
		struct can_frame f;
		assert_int_equal(odo_candump_parse_line(l, &t, ifn, &f), ODO_OK);
		if (strcmp(ifn, "can0") != 0 || f.can_id != 170)
			continue;
		assert_non_null(fgets(c, sizeof c, csv));
		char *p = c;
		double tc = strtod(p, &p);
		assert_int_equal((int64_t)(tc * 1e6 + 0.5), t / 1000);
		for (int i = 0; i < 4; i++) {
			assert_int_equal(*p++, ',');
			double want = strtod(p, &p), v;
			assert_int_equal(odo_dbc_decode(s[i], f.data, f.can_dlc, &v), ODO_OK);
			v *= 1 / 3.6; /* km/h -> m/s, as the vbus role does */
			if (v != want)
				fail_msg("row %d %s: %.17g != %.17g", rows, names[i], v, want);
		}
		rows++;
	}
	assert_null(fgets(c, sizeof c, csv));
	assert_int_equal(rows, 22);
	fclose(log);
	fclose(csv);
	odo_dbc_close(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_and_decode),
		cmocka_unit_test(malformed_is_rejected),
		cmocka_unit_test(rav4_excerpt_golden),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
