/* SAE J1979 PID decoders and J2012 DTC codes, with hand-computed vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "near.h"
#include <math.h>
#include <string.h>

#include "can/obd.h"

static double dec(uint8_t pid, const uint8_t *d, size_t n)
{
	double v = NAN;
	assert_int_equal(odo_obd_decode_pid(pid, d, n, &v), ODO_OK);
	return v;
}

static void pid_vectors(void **st)
{
	(void)st;
	/* values from raw-can.txt of the Etios log, computed by hand */
	assert_near(dec(0x0C, (const uint8_t[]){ 0x13, 0x5F }, 2), 1239.75, 1e-9);
	assert_near(dec(0x0C, (const uint8_t[]){ 0x1A, 0xF8 }, 2), 1726.0, 1e-9);
	assert_near(dec(0x0D, (const uint8_t[]){ 100 }, 1), 100 / 3.6, 1e-9);
	assert_near(dec(0x05, (const uint8_t[]){ 0x53 }, 1), 43.0, 1e-9);
	assert_near(dec(0x11, (const uint8_t[]){ 0x2F }, 1), 47 * 100.0 / 255, 1e-9);
	assert_near(dec(0x1F, (const uint8_t[]){ 0x00, 0x05 }, 2), 5.0, 1e-9);
	assert_near(dec(0x2F, (const uint8_t[]){ 0x34 }, 1), 52 * 100.0 / 255, 1e-9);
	assert_near(dec(0x21, (const uint8_t[]){ 0x01, 0x02 }, 2), 258000.0, 1e-9);
	assert_near(dec(0x0E, (const uint8_t[]){ 0x8A }, 1), 5.0, 1e-9);
	assert_near(dec(0x42, (const uint8_t[]){ 0x30, 0x5E }, 2), 12.382, 1e-9);
	assert_near(dec(0x3C, (const uint8_t[]){ 0x10, 0x90 }, 2), 384.0, 1e-9);
	assert_near(dec(0x06, (const uint8_t[]){ 0x7A }, 1), -4.6875, 1e-9);
	double v;
	assert_int_equal(odo_obd_decode_pid(0x0C, (const uint8_t[]){ 1 }, 1, &v), ODO_ERR_PROTOCOL);
	assert_int_equal(odo_obd_decode_pid(0x0D, (const uint8_t[]){ 1, 2 }, 2, &v), ODO_ERR_PROTOCOL);
	assert_int_equal(odo_obd_decode_pid(0xFE, (const uint8_t[]){ 1 }, 1, &v), ODO_ERR_UNSUPPORTED);
	assert_int_equal(odo_obd_decode_pid(0x00, (const uint8_t[]){ 1, 2, 3, 4 }, 4, &v), ODO_ERR_UNSUPPORTED);
}

static void encode_inverts_decode(void **st)
{
	(void)st;
	static const uint8_t pids[] = { 0x0C, 0x0D, 0x05, 0x11, 0x1F, 0x2F, 0x21 };
	for (size_t i = 0; i < sizeof pids; i++)
		for (int raw = 0; raw < 256; raw += 7) {
			uint8_t d[4] = { (uint8_t)raw, (uint8_t)(raw * 3) }, e[4];
			int n = odo_obd_pid_len(pids[i]);
			double v;
			assert_int_equal(odo_obd_decode_pid(pids[i], d, (size_t)n, &v), ODO_OK);
			assert_int_equal(odo_obd_encode_pid(pids[i], v, e), n);
			assert_memory_equal(d, e, (size_t)n);
		}
}

static void supported_bitmap(void **st)
{
	(void)st;
	uint8_t sup[ODO_OBD_MAX_PIDS] = { 0 };
	odo_obd_supported(0x00, (const uint8_t[]){ 0xBE, 0x1F, 0xA8, 0x13 }, sup);
	/* BE1FA813: the classic example: 01 03 04 05 06 07 0C 0D 0E 0F 10 11 13 15 1C 1F 20 */
	static const uint8_t want[] = { 0x01, 0x03, 0x04, 0x05, 0x06, 0x07, 0x0C, 0x0D, 0x0E, 0x0F,
					0x10, 0x11, 0x13, 0x15, 0x1C, 0x1F, 0x20 };
	int count = 0;
	for (int p = 0; p < 256; p++)
		count += sup[p];
	assert_int_equal(count, (int)sizeof want);
	for (size_t i = 0; i < sizeof want; i++)
		assert_int_equal(sup[want[i]], 1);
}

static void dtc_codes(void **st)
{
	(void)st;
	char s[ODO_DTC_LEN + 1];
	odo_obd_dtc_str(0x03, 0x01, s);
	assert_string_equal(s, "P0301");
	odo_obd_dtc_str(0x41, 0x23, s);
	assert_string_equal(s, "C0123");
	odo_obd_dtc_str(0x80, 0x01, s);
	assert_string_equal(s, "B0001");
	odo_obd_dtc_str(0xD6, 0x20, s);
	assert_string_equal(s, "U1620");
	odo_obd_dtc_str(0x34, 0x20, s);
	assert_string_equal(s, "P3420");
	uint8_t b[2];
	assert_int_equal(odo_obd_dtc_parse("B1620", b), ODO_OK);
	assert_int_equal(b[0], 0x96);
	assert_int_equal(b[1], 0x20);
	assert_int_equal(odo_obd_dtc_parse("X0001", b), ODO_ERR_INVAL);
	assert_int_equal(odo_obd_dtc_parse("P4001", b), ODO_ERR_INVAL);
	assert_int_equal(odo_obd_dtc_parse("P001", b), ODO_ERR_INVAL);
	assert_int_equal(odo_obd_dtc_parse("P00G1", b), ODO_ERR_INVAL);

	char codes[4][ODO_DTC_LEN + 1];
	static const uint8_t r[] = { 0x43, 0x03, 0x03, 0x01, 0x04, 0x20, 0x00, 0x00 };
	assert_int_equal(odo_obd_decode_dtcs(r, sizeof r, codes, 4), 2);
	assert_string_equal(codes[0], "P0301");
	assert_string_equal(codes[1], "P0420");
	static const uint8_t none[] = { 0x47, 0x00 };
	assert_int_equal(odo_obd_decode_dtcs(none, sizeof none, codes, 4), 0);
	static const uint8_t shrt[] = { 0x43, 0x03, 0x03, 0x01 };
	assert_int_equal(odo_obd_decode_dtcs(shrt, sizeof shrt, codes, 4), -ODO_ERR_PROTOCOL);
	assert_int_equal(odo_obd_decode_dtcs(r, 1, codes, 4), -ODO_ERR_PROTOCOL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pid_vectors),
		cmocka_unit_test(encode_inverts_decode),
		cmocka_unit_test(supported_bitmap),
		cmocka_unit_test(dtc_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
