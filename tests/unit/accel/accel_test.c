/* Accelerometer drivers on a fake register bus: probe, setup registers,
 * conversion, saturation, read errors; accel.csv rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <string.h>

#include "accel/accel.h"

struct fake {
	uint8_t reg[256];
	int auto_inc_bit; /* LIS3DH: block reads need bit 7 of the sub-address */
	int fail;         /* every transfer fails (chip gone) */
	int fail_block;   /* block reads fail */
	int writes;
};

static int f_rb(void *ctx, uint8_t r, uint8_t *v)
{
	struct fake *f = ctx;
	if (f->fail)
		return errno = EREMOTEIO, -1;
	*v = f->reg[r];
	return 0;
}

static int f_wb(void *ctx, uint8_t r, uint8_t v)
{
	struct fake *f = ctx;
	if (f->fail)
		return errno = EREMOTEIO, -1;
	f->reg[r] = v;
	f->writes++;
	return 0;
}

static int f_blk(void *ctx, uint8_t r, uint8_t *b, size_t n)
{
	struct fake *f = ctx;
	if (f->fail || f->fail_block)
		return errno = EREMOTEIO, -1;
	int inc = 1;
	if (f->auto_inc_bit) {
		inc = (r & 0x80) != 0;
		r &= 0x7F;
	}
	for (size_t i = 0; i < n; i++)
		b[i] = f->reg[(uint8_t)(r + (inc ? i : 0))];
	return 0;
}

static const struct odo_i2c_ops fops = { f_rb, f_wb, f_blk };

static struct odo_accel_sample got[8];
static int ngot;
static void on_accel(void *ctx, const struct odo_accel_sample *s)
{
	(void)ctx;
	if (ngot < 8)
		got[ngot++] = *s;
}

static struct odo_accel_cfg cfg(int chip)
{
	struct odo_accel_cfg c = { .device = "/nonexistent", .chip = chip, .rate_hz = 100, .range_g = 8 };
	return c;
}

#define G 9.80665

static void near(double a, double b)
{
	if (fabs(a - b) > 1e-4)
		fail_msg("%f != %f", a, b);
}

static void test_lis3dh(void **st)
{
	(void)st;
	struct fake f = { .auto_inc_bit = 1 };
	f.reg[0x0F] = 0x33;
	/* ±8 g: 4 mg/digit, 12-bit left-justified, little-endian */
	f.reg[0x28] = 0xA0, f.reg[0x29] = 0x0F; /* +250 -> 1.0 g */
	f.reg[0x2A] = 0x30, f.reg[0x2B] = 0xF8; /* -125 -> -0.5 g */
	f.reg[0x2C] = 0xF0, f.reg[0x2D] = 0x7F; /* +2047: full scale */
	struct odo_i2c bus = { &fops, &f, 0 };
	struct odo_clock c;
	odo_clock_init_virtual(&c, 1700000000LL * ODO_NS_PER_S, 7);
	struct odo_sink sink = { .accel = on_accel };
	struct odo_accel_cfg k = cfg(ODO_ACCEL_AUTO);
	struct odo_accel *a;
	assert_int_equal(odo_accel_open(&k, &bus, &c, &sink, &a), ODO_OK);
	assert_string_equal(odo_accel_chip_name(a), "lis3dh");
	assert_int_equal(f.reg[0x20], 0x57); /* 100 Hz, XYZ on */
	assert_int_equal(f.reg[0x23], 0xA8); /* BDU, ±8 g, HR */
	ngot = 0;
	assert_int_equal(odo_accel_read_once(a), ODO_OK);
	assert_int_equal(ngot, 1);
	near(got[0].x, 1.0 * G);
	near(got[0].y, -0.5 * G);
	near(got[0].z, 2047 * 4e-3 * G);
	assert_int_equal(got[0].saturated, 1);
	assert_int_equal(got[0].mono_ns, 7);
	f.reg[0x2D] = 0x0F;
	assert_int_equal(odo_accel_read_once(a), ODO_OK);
	assert_int_equal(got[1].saturated, 0);
	/* read errors: counted, survived, nothing delivered */
	f.fail_block = 1;
	assert_int_equal(odo_accel_read_once(a), ODO_ERR_IO);
	assert_int_equal(odo_accel_read_once(a), ODO_ERR_IO);
	f.fail_block = 0;
	assert_int_equal(odo_accel_read_once(a), ODO_OK);
	assert_int_equal(ngot, 3);
	struct odo_accel_stats s;
	odo_accel_stats(a, &s);
	assert_int_equal(s.src.received, 3);
	assert_int_equal(s.src.errors, 2);
	assert_int_equal(s.saturated, 1);
	assert_int_equal(got[0].has_gyro, 0);
	odo_accel_close(a);
	/* 10-50 Hz: the chip's own rates (bandwidth ODR/2) */
	const int rates[][2] = { { 10, 0x27 }, { 25, 0x37 }, { 50, 0x47 }, { 200, 0x67 }, { 400, 0x77 } };
	for (size_t i = 0; i < ODO_ARRAY_LEN(rates); i++) {
		k.rate_hz = rates[i][0];
		assert_int_equal(odo_accel_open(&k, &bus, &c, &sink, &a), ODO_OK);
		assert_int_equal(f.reg[0x20], rates[i][1]);
		odo_accel_close(a);
	}
}

/* An adapter without I2C block reads: the same sample, read byte by byte
 * from the plain register addresses. */
static void test_lis3dh_byte_reads(void **st)
{
	(void)st;
	struct fake f = { .auto_inc_bit = 1, .fail_block = 1 };
	f.reg[0x0F] = 0x33;
	f.reg[0x28] = 0xA0, f.reg[0x29] = 0x0F;
	f.reg[0x2A] = 0x30, f.reg[0x2B] = 0xF8;
	f.reg[0x2C] = 0x00, f.reg[0x2D] = 0x01; /* +16 -> 64 mg */
	struct odo_i2c bus = { &fops, &f, 1 };
	struct odo_clock c;
	odo_clock_init_virtual(&c, 0, 0);
	struct odo_sink sink = { .accel = on_accel };
	struct odo_accel_cfg k = cfg(ODO_ACCEL_LIS3DH);
	struct odo_accel *a;
	assert_int_equal(odo_accel_open(&k, &bus, &c, &sink, &a), ODO_OK);
	assert_int_equal(odo_accel_byte_reads(a), 1);
	ngot = 0;
	assert_int_equal(odo_accel_read_once(a), ODO_OK);
	near(got[0].x, 1.0 * G);
	near(got[0].y, -0.5 * G);
	near(got[0].z, 0.064 * G);
	assert_int_equal(got[0].saturated, 0);
	odo_accel_close(a);
}

static void test_mpu6050(void **st)
{
	(void)st;
	struct fake f = { 0 };
	f.reg[0x75] = 0x68;
	f.reg[0x6B] = 0x40; /* powers up asleep */
	/* ±8 g: 4096 LSB/g, big-endian */
	f.reg[0x3B] = 0x10, f.reg[0x3C] = 0x00; /* 4096 -> 1 g */
	f.reg[0x3D] = 0xF8, f.reg[0x3E] = 0x00; /* -2048 -> -0.5 g */
	f.reg[0x3F] = 0x80, f.reg[0x40] = 0x00; /* -32768: full scale */
	/* ±250 deg/s: 131 LSB/(deg/s), big-endian */
	f.reg[0x43] = 0x05, f.reg[0x44] = 0x1E; /* 1310 -> 10 deg/s */
	f.reg[0x45] = 0xFF, f.reg[0x46] = 0x7D; /* -131 -> -1 deg/s */
	f.reg[0x47] = 0x00, f.reg[0x48] = 0x00;
	struct odo_i2c bus = { &fops, &f, 0 };
	struct odo_clock c;
	odo_clock_init_virtual(&c, 0, 0);
	struct odo_sink sink = { .accel = on_accel };
	struct odo_accel_cfg k = cfg(ODO_ACCEL_MPU6050);
	struct odo_accel *a;
	assert_int_equal(odo_accel_open(&k, &bus, &c, &sink, &a), ODO_OK);
	assert_string_equal(odo_accel_chip_name(a), "mpu6050");
	assert_int_equal(f.reg[0x6B], 0x01); /* awake */
	assert_int_equal(f.reg[0x19], 9);    /* 1 kHz / (1 + 9) = 100 Hz */
	assert_int_equal(f.reg[0x1C], 0x10); /* AFS_SEL 2: ±8 g */
	assert_int_equal(f.reg[0x1B], 0x00); /* FS_SEL 0: ±250 deg/s */
	assert_int_equal(f.reg[0x1A], 3);    /* DLPF 42 Hz: the widest at most half of 100 Hz */
	ngot = 0;
	assert_int_equal(odo_accel_read_once(a), ODO_OK);
	near(got[0].x, 1.0 * G);
	near(got[0].y, -0.5 * G);
	near(got[0].z, -8.0 * G);
	assert_int_equal(got[0].saturated, 1);
	assert_int_equal(got[0].has_gyro, 1);
	near(got[0].gx, 10 * M_PI / 180);
	near(got[0].gy, -1 * M_PI / 180);
	near(got[0].gz, 0);
	f.fail = 1; /* chip gone */
	for (int i = 0; i < 5; i++)
		assert_int_equal(odo_accel_read_once(a), ODO_ERR_IO);
	f.fail = 0; /* back */
	assert_int_equal(odo_accel_read_once(a), ODO_OK);
	struct odo_accel_stats s;
	odo_accel_stats(a, &s);
	assert_int_equal(s.src.errors, 5);
	assert_int_equal(s.src.received, 2);
	odo_accel_close(a);
	/* the low-pass follows the rate: 400 Hz -> 188 Hz, 25 Hz -> 10 Hz, 10 Hz -> 5 Hz */
	const int rates[][2] = { { 400, 1 }, { 200, 2 }, { 50, 4 }, { 25, 5 }, { 10, 6 } };
	for (size_t i = 0; i < ODO_ARRAY_LEN(rates); i++) {
		k.rate_hz = rates[i][0];
		assert_int_equal(odo_accel_open(&k, &bus, &c, &sink, &a), ODO_OK);
		assert_int_equal(f.reg[0x1A], rates[i][1]);
		assert_int_equal(f.reg[0x19], 1000 / rates[i][0] - 1);
		odo_accel_close(a);
	}
}

/* #17: the agent's live accelerometer on a bus that is not there: no error,
 * nothing polled, tried again after 1 s, doubling up to 30 s. */
static void test_live_bus_absent(void **st)
{
	(void)st;
	struct odo_clock c;
	odo_clock_init_virtual(&c, 0, ODO_NS_PER_S);
	struct odo_sink sink = { .accel = on_accel };
	struct odo_accel_cfg k = cfg(ODO_ACCEL_AUTO);
	strcpy(k.device, "/nonexistent/i2c-9");
	struct odo_accel *a = NULL;
	assert_int_equal(odo_accel_open_live(&k, &c, &sink, &a), ODO_OK);
	assert_non_null(a);
	assert_int_equal(odo_accel_present(a), 0);
	struct odo_source src = odo_accel_source(a);
	struct pollfd p[2];
	int64_t gap = ODO_NS_PER_S;
	for (int i = 0; i < 7; i++) {
		assert_int_equal(src.ops->pollfds(a, p, 2), 0);
		assert_int_equal(src.ops->deadline(a), odo_clock_mono_ns(&c) + gap);
		odo_clock_advance(&c, gap);
		src.ops->tick(a);
		gap = gap * 2 > 30 * ODO_NS_PER_S ? 30 * ODO_NS_PER_S : gap * 2;
	}
	assert_int_equal(src.ops->deadline(a), odo_clock_mono_ns(&c) + 30 * ODO_NS_PER_S);
	assert_int_equal(odo_accel_read_once(a), ODO_ERR_INVAL); /* no chip: nothing read */
	odo_accel_close(a);
}

static void test_probe_failures(void **st)
{
	(void)st;
	struct fake f = { 0 };
	f.reg[0x0F] = 0x32; /* not a LIS3DH */
	struct odo_i2c bus = { &fops, &f, 0 };
	struct odo_clock c;
	odo_clock_init_virtual(&c, 0, 0);
	struct odo_accel *a = NULL;
	struct odo_accel_cfg k = cfg(ODO_ACCEL_AUTO);
	assert_int_equal(odo_accel_open(&k, &bus, &c, NULL, &a), ODO_ERR_NOTFOUND);
	f.fail = 1;
	assert_int_equal(odo_accel_open(&k, &bus, &c, NULL, &a), ODO_ERR_NOTFOUND);
	k.device[0] = '\0';
	k.chip = 7;
	assert_int_equal(odo_accel_open(&k, &bus, &c, NULL, &a), ODO_ERR_INVAL);
	/* i2c-dev on a path that does not exist */
	k = cfg(ODO_ACCEL_LIS3DH);
	assert_int_equal(odo_accel_open(&k, NULL, &c, NULL, &a), ODO_ERR_IO);
	odo_accel_close(NULL);
}

static void test_csv(void **st)
{
	(void)st;
	struct odo_accel_sample s = { .x = 1.5f, .y = -9.80665f, .z = 0.125f, .saturated = 1 }, r;
	char line[ODO_ACCEL_CSV_LINE_MAX];
	odo_accel_csv_format(line, sizeof line, 1533234567123456000LL, &s);
	assert_string_equal(line, "1533234567.123456,1.50000,-9.80665,0.12500,1\n");
	int64_t t;
	assert_int_equal(odo_accel_csv_parse(line, &t, &r), ODO_OK);
	assert_int_equal(t, 1533234567123456000LL);
	near(r.y, -9.80665);
	assert_int_equal(r.saturated, 1);
	assert_int_equal(r.has_gyro, 0);
	/* with the gyroscope's columns */
	s.has_gyro = 1;
	s.gx = 0.25f, s.gy = -0.0625f, s.gz = 1.5f;
	odo_accel_csv_format(line, sizeof line, 1533234567123456000LL, &s);
	assert_string_equal(line, "1533234567.123456,1.50000,-9.80665,0.12500,1,0.250000,-0.062500,1.500000\n");
	assert_int_equal(odo_accel_csv_parse(line, &t, &r), ODO_OK);
	assert_int_equal(r.has_gyro, 1);
	near(r.gy, -0.0625);
	near(r.gz, 1.5);
	const char *bad[] = { "", "t,x,y,z,saturated", "1.0,1,2,3", "1.0,1,2,3,2", "1.0,1,2,3,1x",
			      "x1.0,1,2,3,0", "1.0,nan,2,3,0", "1.0,1,,3,0", "1.,1,2,3,0",
			      "1.0,1e400,2,3,0", "12345678901234.0,1,2,3,0", "1.0,1,2,3,0,", "1.0,1,2,3,0,1,2",
			      "1.0,1,2,3,0,1,2,3,4", "1.0,1,2,3,0,1,inf,3", "1.0,1,2,3,0,1,2,3x" };
	for (size_t i = 0; i < ODO_ARRAY_LEN(bad); i++)
		if (odo_accel_csv_parse(bad[i], &t, &r) != ODO_ERR_INVAL)
			fail_msg("accepted '%s'", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lis3dh),
		cmocka_unit_test(test_lis3dh_byte_reads),
		cmocka_unit_test(test_mpu6050),
		cmocka_unit_test(test_probe_failures),
		cmocka_unit_test(test_live_bus_absent),
		cmocka_unit_test(test_csv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
