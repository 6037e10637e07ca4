/*
 * Accelerometer drivers: one const table per chip (see accel.h).
 */
#include <math.h>

#include "accel/accel.h"
#include "odo/geo.h"

/* n consecutive registers from `reg`: one I2C-block read addressed as
 * `block_reg` (the chip's multi-byte convention), or n byte reads when the
 * adapter cannot do block reads. */
static int read_regs(struct odo_accel_dev *d, uint8_t reg, uint8_t block_reg, uint8_t *b, size_t n)
{
	if (!d->bus.no_block)
		return d->bus.ops->read_block(d->bus.ctx, block_reg, b, n);
	for (size_t i = 0; i < n; i++)
		if (d->bus.ops->read_byte(d->bus.ctx, (uint8_t)(reg + i), &b[i]) != 0)
			return -1;
	return 0;
}

/* ---- ST LIS3DH (datasheet DocID17530 Rev 2, 2016) ----
 * WHO_AM_I 0x0F reads 0x33 (§8.7). CTRL_REG1 0x20: ODR[7:4] (0010 = 10 Hz,
 * 0011 = 25 Hz, 0100 = 50 Hz, 0101 = 100 Hz, 0110 = 200 Hz, 0111 = 400 Hz),
 * LPen bit 3, Z/Y/X enable bits 2..0 (§8.8). Its bandwidth is ODR/2 by
 * design: no aliasing whatever the rate.
 * CTRL_REG4 0x23: BDU bit 7, FS[5:4] (00 ±2 g .. 11 ±16 g), HR bit 3 (§8.11).
 * OUT_X_L..OUT_Z_H 0x28..0x2D, two's complement, left-justified; in
 * high-resolution mode 12 bits, sensitivity 1/2/4/12 mg/digit for
 * ±2/4/8/16 g (Table 4). Multi-byte reads need the sub-address MSB set
 * (auto-increment, §6.1.1): the block read starts at 0x28 | 0x80. With
 * BDU set, byte-wise reads (adapters without block reads) cannot tear a
 * sample's high and low bytes (§8.11). */
#define LIS3DH_WHO_AM_I 0x0F
#define LIS3DH_ID 0x33
#define LIS3DH_CTRL_REG1 0x20
#define LIS3DH_CTRL_REG4 0x23
#define LIS3DH_OUT_X_L 0x28
#define LIS3DH_AUTO_INC 0x80

static int lis3dh_probe(struct odo_accel_dev *d)
{
	uint8_t id;
	if (d->bus.ops->read_byte(d->bus.ctx, LIS3DH_WHO_AM_I, &id) != 0)
		return -1;
	return id == LIS3DH_ID ? 0 : -1;
}

static int lis3dh_setup(struct odo_accel_dev *d, int range_g, int rate_hz)
{
	static const struct { int g; uint8_t fs; double mg; } fs[] = {
		{ 2, 0, 1.0 }, { 4, 1, 2.0 }, { 8, 2, 4.0 }, { 16, 3, 12.0 } };
	unsigned i = 0;
	while (i + 1 < ODO_ARRAY_LEN(fs) && fs[i].g < range_g)
		i++;
	uint8_t odr = rate_hz <= 10 ? 0x2 : rate_hz <= 25 ? 0x3 : rate_hz <= 50 ? 0x4 : rate_hz <= 100 ? 0x5
		    : rate_hz <= 200 ? 0x6 : 0x7;
	if (d->bus.ops->write_byte(d->bus.ctx, LIS3DH_CTRL_REG1, (uint8_t)(odr << 4 | 0x07)) != 0)
		return -1;
	if (d->bus.ops->write_byte(d->bus.ctx, LIS3DH_CTRL_REG4,
				   (uint8_t)(0x80 | fs[i].fs << 4 | 0x08)) != 0)
		return -1;
	d->range_g = fs[i].g;
	d->scale = fs[i].mg * 1e-3 * ODO_G;
	d->raw_max = 2047;
	return 0;
}

static int lis3dh_read(struct odo_accel_dev *d, struct odo_accel_sample *s)
{
	uint8_t b[6];
	float *xyz[3] = { &s->x, &s->y, &s->z };
	if (read_regs(d, LIS3DH_OUT_X_L, LIS3DH_OUT_X_L | LIS3DH_AUTO_INC, b, 6) != 0)
		return -1;
	s->saturated = 0;
	s->has_gyro = 0;
	for (int i = 0; i < 3; i++) {
		int16_t raw16 = (int16_t)(uint16_t)(b[2 * i] | b[2 * i + 1] << 8);
		int32_t raw = raw16 / 16; /* 12-bit, left-justified */
		if (raw >= d->raw_max || raw <= -d->raw_max - 1)
			s->saturated = 1;
		*xyz[i] = (float)(raw * d->scale);
	}
	return 0;
}

const struct odo_accel_driver odo_accel_lis3dh = {
	.name = "lis3dh",
	.addrs = { 0x18, 0x19 },
	.probe = lis3dh_probe,
	.setup = lis3dh_setup,
	.read = lis3dh_read,
};

/* ---- InvenSense MPU-6050 (Register Map RM-MPU-6000A-00 Rev 4.2) ----
 * WHO_AM_I 0x75 reads 0x68 (§4.32). PWR_MGMT_1 0x6B: the part powers up
 * asleep (SLEEP bit 6); write 0x01 = awake, clock from the X gyro PLL
 * (§4.28). CONFIG 0x1A DLPF_CFG (§4.3): codes 1..6 low-pass the gyroscope at
 * 188/98/42/20/10/5 Hz (the accelerometer at about the same); the widest
 * one at or below half the sampling rate is chosen, so the samples are not
 * aliased (the Linux inv_mpu6050 driver chooses it the same way); code 0
 * would make the gyroscope output 8 kHz, so it is never used and the
 * sample rate is 1 kHz / (1 + SMPLRT_DIV 0x19) (§4.2). GYRO_CONFIG 0x1B
 * FS_SEL[4:3] = 0: ±250 deg/s, 131 LSB/(deg/s) (§4.4; a car turns far
 * slower). ACCEL_CONFIG 0x1C AFS_SEL[4:3]: ±2/4/8/16 g =
 * 16384/8192/4096/2048 LSB/g (§4.5, §4.17). One 14-byte burst from
 * ACCEL_XOUT_H 0x3B reads accelerometer, temperature and gyroscope of the
 * same instant (§4.17-4.19), big-endian 16-bit. */
#define MPU_SMPLRT_DIV 0x19
#define MPU_CONFIG 0x1A
#define MPU_GYRO_CONFIG 0x1B
#define MPU_ACCEL_CONFIG 0x1C
#define MPU_ACCEL_XOUT_H 0x3B
#define MPU_PWR_MGMT_1 0x6B
#define MPU_WHO_AM_I 0x75
#define MPU_ID 0x68

static int mpu_probe(struct odo_accel_dev *d)
{
	uint8_t id;
	if (d->bus.ops->read_byte(d->bus.ctx, MPU_WHO_AM_I, &id) != 0)
		return -1;
	return id == MPU_ID ? 0 : -1;
}

static int mpu_setup(struct odo_accel_dev *d, int range_g, int rate_hz)
{
	static const struct { int g; uint8_t afs; double lsb_per_g; } fs[] = {
		{ 2, 0, 16384 }, { 4, 1, 8192 }, { 8, 2, 4096 }, { 16, 3, 2048 } };
	unsigned i = 0;
	while (i + 1 < ODO_ARRAY_LEN(fs) && fs[i].g < range_g)
		i++;
	if (rate_hz < 4)
		rate_hz = 4;
	if (rate_hz > 1000)
		rate_hz = 1000;
	uint8_t div = (uint8_t)(1000 / rate_hz - 1);
	/* DLPF_CFG 1..6: 188, 98, 42, 20, 10, 5 Hz; the widest <= rate / 2 */
	static const int bw[] = { 188, 98, 42, 20, 10, 5 };
	uint8_t dlpf = 1;
	while (dlpf < 6 && bw[dlpf - 1] * 2 > rate_hz)
		dlpf++;
	struct odo_i2c *b = &d->bus;
	if (b->ops->write_byte(b->ctx, MPU_PWR_MGMT_1, 0x01) != 0 ||
	    b->ops->write_byte(b->ctx, MPU_CONFIG, dlpf) != 0 ||
	    b->ops->write_byte(b->ctx, MPU_SMPLRT_DIV, div) != 0 ||
	    b->ops->write_byte(b->ctx, MPU_GYRO_CONFIG, 0x00) != 0 ||
	    b->ops->write_byte(b->ctx, MPU_ACCEL_CONFIG, (uint8_t)(fs[i].afs << 3)) != 0)
		return -1;
	d->range_g = fs[i].g;
	d->scale = ODO_G / fs[i].lsb_per_g;
	d->raw_max = 32767;
	return 0;
}

#define MPU_GYRO_LSB_PER_DPS 131.0

static int mpu_read(struct odo_accel_dev *d, struct odo_accel_sample *s)
{
	uint8_t b[14]; /* accel x/y/z, temperature, gyro x/y/z */
	float *xyz[3] = { &s->x, &s->y, &s->z }, *w[3] = { &s->gx, &s->gy, &s->gz };
	if (read_regs(d, MPU_ACCEL_XOUT_H, MPU_ACCEL_XOUT_H, b, sizeof b) != 0)
		return -1;
	s->saturated = 0;
	for (int i = 0; i < 3; i++) {
		int32_t raw = (int16_t)(uint16_t)(b[2 * i] << 8 | b[2 * i + 1]);
		if (raw >= d->raw_max || raw <= -d->raw_max - 1)
			s->saturated = 1;
		*xyz[i] = (float)(raw * d->scale);
		int32_t g = (int16_t)(uint16_t)(b[8 + 2 * i] << 8 | b[9 + 2 * i]);
		*w[i] = (float)(g / MPU_GYRO_LSB_PER_DPS * M_PI / 180);
	}
	s->has_gyro = 1;
	return 0;
}

const struct odo_accel_driver odo_accel_mpu6050 = {
	.name = "mpu6050",
	.addrs = { 0x68, 0x69 },
	.probe = mpu_probe,
	.setup = mpu_setup,
	.read = mpu_read,
};

const struct odo_accel_driver *const odo_accel_drivers[] = {
	&odo_accel_lis3dh,
	&odo_accel_mpu6050,
	NULL,
};
