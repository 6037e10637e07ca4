/*
 * odo-agent accelerometer — I2C parts through i2c-dev (SMBus transfers).
 *
 * A const driver table per chip (drivers.c; docs/inputs.md "How to add a
 * chip"): probe (WHO_AM_I), setup (range, output data rate), read (one
 * x/y/z sample converted to m/s^2 in the sensor frame, saturation flagged).
 * The source paces reads with a timerfd at rate_hz; each expiry reads one
 * sample and delivers it to sink->accel stamped with the injected clock.
 * Missed expiries are counted in stats.src.dropped; read errors in
 * stats.src.errors (logged, survived: the next tick reads again).
 */
#ifndef ODO_AGENT_ACCEL_H
#define ODO_AGENT_ACCEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "input.h"
#include "odo/clock.h"
#include "odo/config.h"
#include "source.h"

#define ODO_ACCEL_PATH_MAX 64
#define ODO_ACCEL_CSV_HEADER "t,x,y,z,saturated"
/* The header of a recording whose rows carry the gyroscope's columns too
 * (a row of either form is accepted under either header). */
#define ODO_ACCEL_CSV_HEADER_GYRO "t,x,y,z,saturated,gx,gy,gz"
#define ODO_ACCEL_CSV_LINE_MAX 128

/* Register access to one I2C device (address already selected). Each
 * returns 0 or -1 (errno set). read_block: n <= 32 consecutive bytes. */
struct odo_i2c_ops {
	int (*read_byte)(void *ctx, uint8_t reg, uint8_t *val);
	int (*write_byte)(void *ctx, uint8_t reg, uint8_t val);
	int (*read_block)(void *ctx, uint8_t reg, uint8_t *buf, size_t n);
};

struct odo_i2c {
	const struct odo_i2c_ops *ops;
	void *ctx;
	/* 1: the adapter has no I2C-block reads (I2C_FUNCS lacks
	 * I2C_FUNC_SMBUS_READ_I2C_BLOCK, e.g. some SMBus-only controllers);
	 * drivers then read the data registers one byte at a time. */
	int no_block;
};

/* Per-device state a driver keeps between setup and read. */
struct odo_accel_dev {
	struct odo_i2c bus;
	int range_g;     /* configured full scale */
	double scale;    /* m/s^2 per raw count */
	int32_t raw_max; /* |raw| at or above which an axis is saturated */
};

struct odo_accel_driver {
	const char *name;
	uint8_t addrs[2]; /* usual 7-bit addresses, 0 = none */
	/* 0 when the WHO_AM_I register identifies this chip. */
	int (*probe)(struct odo_accel_dev *d);
	/* Configure range (g) and rate (Hz), rounding up to what the chip has;
	 * fill d->scale and d->raw_max. 0 or -1. */
	int (*setup)(struct odo_accel_dev *d, int range_g, int rate_hz);
	/* One sample in m/s^2, sensor frame, into s->x/y/z; s->saturated = 1
	 * when an axis is at full scale; a chip with a gyroscope also fills
	 * s->gx/gy/gz (rad/s) and sets s->has_gyro (one burst: same instant). */
	int (*read)(struct odo_accel_dev *d, struct odo_accel_sample *s);
};

extern const struct odo_accel_driver odo_accel_lis3dh;
extern const struct odo_accel_driver odo_accel_mpu6050;
/* NULL-terminated, in auto-detection order. */
extern const struct odo_accel_driver *const odo_accel_drivers[];

enum odo_accel_chip { ODO_ACCEL_AUTO = 0, ODO_ACCEL_LIS3DH = 1, ODO_ACCEL_MPU6050 = 2 };

/* Section [accel]. */
struct odo_accel_cfg {
	char device[ODO_ACCEL_PATH_MAX]; /* /dev/i2c-N */
	int chip;                        /* enum odo_accel_chip */
	long long address;               /* 7-bit; 0 = the driver's usual ones */
	long long rate_hz;
	long long range_g;
};

extern const struct odo_cfg_key odo_accel_cfg_keys[];
extern const size_t odo_accel_cfg_nkeys;

struct odo_accel;

struct odo_accel_stats {
	struct odo_source_stats src; /* received, errors (I2C), dropped (missed ticks) */
	uint64_t saturated;
};

/* i2c-dev backend: open `path`, select 7-bit `addr`. Returns ODO_OK or
 * ODO_ERR_IO. odo_i2c_dev_close() closes it (NULL-safe via ctx). */
int odo_i2c_dev_open(const char *path, int addr, struct odo_i2c *out) ODO_NODISCARD;
void odo_i2c_dev_close(struct odo_i2c *bus);

/*
 * Open the accelerometer: on `bus` when given (tests: a fake bus; the
 * handle does not own it), otherwise on cfg->device through i2c-dev.
 * Probes the configured chip (or each driver at its addresses for auto),
 * sets it up and arms the timerfd. Returns ODO_OK, ODO_ERR_INVAL,
 * ODO_ERR_NOMEM, ODO_ERR_IO (device cannot be opened),
 * ODO_ERR_NOTFOUND (no chip answered the probe).
 */
int odo_accel_open(const struct odo_accel_cfg *cfg, const struct odo_i2c *bus,
		   const struct odo_clock *clock, const struct odo_sink *sink,
		   struct odo_accel **out) ODO_NODISCARD;

/*
 * The agent's live accelerometer: as odo_accel_open() on cfg->device, but a
 * bus or chip that is not there (yet) is no error: the handle waits for it
 * (logged once, retried every 1 s doubling to 30 s) and starts reading when
 * it answers; a chip that stops answering (a second of failed reads) is
 * waited for again. cfg, clock and sink are borrowed. ODO_OK, ODO_ERR_INVAL,
 * ODO_ERR_NOMEM.
 */
int odo_accel_open_live(const struct odo_accel_cfg *cfg, const struct odo_clock *clock,
			const struct odo_sink *sink, struct odo_accel **out) ODO_NODISCARD;

/* 1 when a chip is being read (0: waiting for it, or a replay handle). */
int odo_accel_present(const struct odo_accel *a);

/* Replay: no device; samples come from odo_accel_feed(). clock and sink
 * are borrowed. ODO_OK, ODO_ERR_INVAL, ODO_ERR_NOMEM. */
int odo_accel_open_replay(const struct odo_clock *clock, const struct odo_sink *sink,
			  struct odo_accel **out) ODO_NODISCARD;

struct odo_source odo_accel_source(struct odo_accel *a);

/* Replay: deliver one recorded sample (an accel.csv row) as if read now:
 * stamped with the clock's mono time, counted, to the sink. ODO_OK or
 * ODO_ERR_INVAL. */
int odo_accel_feed(struct odo_accel *a, const struct odo_accel_sample *s) ODO_NODISCARD;

/* Read one sample now and deliver it (what each timer tick does) as its
 * accel.csv row reads back, the row going to the recorder when one is set.
 * ODO_OK or ODO_ERR_IO (counted); ODO_ERR_INVAL for a replay handle. */
int odo_accel_read_once(struct odo_accel *a);

/* Name of the driver in use ("lis3dh", "mpu6050"). */
const char *odo_accel_chip_name(const struct odo_accel *a);

/* 1 when samples are read byte by byte (adapter without I2C block reads). */
int odo_accel_byte_reads(const struct odo_accel *a);

/* Write each sample to f as an accel.csv row (borrowed; NULL stops). */
void odo_accel_set_recorder(struct odo_accel *a, FILE *f);

void odo_accel_stats(const struct odo_accel *a, struct odo_accel_stats *out);

void odo_accel_close(struct odo_accel *a);

/* Format / parse one accel.csv row ("t,x,y,z,saturated"; t = Unix s.us).
 * parse: ODO_OK, ODO_ERR_INVAL on a malformed row (outputs untouched). */
size_t odo_accel_csv_format(char *buf, size_t size, int64_t t_real_ns,
			    const struct odo_accel_sample *s);
int odo_accel_csv_parse(const char *line, int64_t *t_real_ns,
			struct odo_accel_sample *s) ODO_NODISCARD;

#endif
