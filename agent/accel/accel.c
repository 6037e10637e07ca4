/*
 * odo-agent accelerometer source and the i2c-dev backend (see accel.h).
 */
#include "accel/accel.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "odo/log.h"

/* Log the first read error and then every Nth, so a dead chip cannot flood. */
#define ACCEL_ERR_LOG_EVERY 1000

static const char *const chip_names[] = { "auto", "lis3dh", "mpu6050", NULL };

const struct odo_cfg_key odo_accel_cfg_keys[] = {
	ODO_CFG_S("device", struct odo_accel_cfg, device, "/dev/i2c-1", "I2C bus device (i2c-dev)"),
	ODO_CFG_E("chip", struct odo_accel_cfg, chip, "auto", chip_names,
		  "accelerometer part: auto (probe each known chip), lis3dh, mpu6050"),
	ODO_CFG_I("address", struct odo_accel_cfg, address, "0", 0, 0x77,
		  "7-bit I2C address (0: the chip's usual addresses)"),
	ODO_CFG_I("rate_hz", struct odo_accel_cfg, rate_hz, "100", 10, 400,
		  "sampling rate (Hz); below 100 Hz the accelerometer's crash detection is off"),
	ODO_CFG_I("range_g", struct odo_accel_cfg, range_g, "8", 2, 16,
		  "full-scale range in g (rounded up to what the chip offers)"),
};
const size_t odo_accel_cfg_nkeys = ODO_ARRAY_LEN(odo_accel_cfg_keys);

/* ---- i2c-dev (Linux Documentation/i2c/dev-interface, smbus-protocol) ---- */

struct i2cdev {
	int fd;
};

static int smbus(int fd, char rw, uint8_t cmd, int size, union i2c_smbus_data *data)
{
	struct i2c_smbus_ioctl_data args = { .read_write = rw, .command = cmd, .size = (uint32_t)size, .data = data };
	return ioctl(fd, I2C_SMBUS, &args) < 0 ? -1 : 0;
}

static int dev_read_byte(void *ctx, uint8_t reg, uint8_t *val)
{
	union i2c_smbus_data d;
	if (smbus(((struct i2cdev *)ctx)->fd, I2C_SMBUS_READ, reg, I2C_SMBUS_BYTE_DATA, &d) != 0)
		return -1;
	*val = d.byte;
	return 0;
}

static int dev_write_byte(void *ctx, uint8_t reg, uint8_t val)
{
	union i2c_smbus_data d = { .byte = val };
	return smbus(((struct i2cdev *)ctx)->fd, I2C_SMBUS_WRITE, reg, I2C_SMBUS_BYTE_DATA, &d);
}

/* I2C block read (I2C_SMBUS_I2C_BLOCK_DATA): supported by i2c-stub and by
 * real adapters with I2C_FUNC_SMBUS_READ_I2C_BLOCK; block[0] is the length. */
static int dev_read_block(void *ctx, uint8_t reg, uint8_t *buf, size_t n)
{
	union i2c_smbus_data d;
	if (n == 0 || n > I2C_SMBUS_BLOCK_MAX)
		return -1;
	d.block[0] = (uint8_t)n;
	if (smbus(((struct i2cdev *)ctx)->fd, I2C_SMBUS_READ, reg, I2C_SMBUS_I2C_BLOCK_DATA, &d) != 0)
		return -1;
	if (d.block[0] < n) {
		errno = EIO;
		return -1;
	}
	memcpy(buf, &d.block[1], n);
	return 0;
}

static const struct odo_i2c_ops i2cdev_ops = {
	.read_byte = dev_read_byte,
	.write_byte = dev_write_byte,
	.read_block = dev_read_block,
};

int odo_i2c_dev_open(const char *path, int addr, struct odo_i2c *out)
{
	if (!path || !out || addr < 0x03 || addr > 0x77)
		return ODO_ERR_INVAL;
	struct i2cdev *d = malloc(sizeof *d);
	if (!d)
		return ODO_ERR_NOMEM;
	d->fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->fd < 0 || ioctl(d->fd, I2C_SLAVE, (unsigned long)addr) < 0) {
		int e = errno;
		if (d->fd >= 0)
			close(d->fd);
		free(d);
		errno = e;
		return ODO_ERR_IO;
	}
	unsigned long funcs = 0;
	out->ops = &i2cdev_ops;
	out->ctx = d;
	out->no_block = ioctl(d->fd, I2C_FUNCS, &funcs) == 0 && !(funcs & I2C_FUNC_SMBUS_READ_I2C_BLOCK);
	return ODO_OK;
}

void odo_i2c_dev_close(struct odo_i2c *bus)
{
	if (!bus || !bus->ctx || bus->ops != &i2cdev_ops)
		return;
	struct i2cdev *d = bus->ctx;
	close(d->fd);
	free(d);
	bus->ctx = NULL;
}

/* ---- the source ---- */

/* Waiting for the chip (odo_accel_open_live): retried every 1 s at first,
 * doubling to 30 s; a chip that stops answering for this many reads in a
 * row (one second at the configured rate) is taken as gone. */
#define ACCEL_RETRY_MIN_NS (1000LL * ODO_NS_PER_MS)
#define ACCEL_RETRY_MAX_NS (30000LL * ODO_NS_PER_MS)
#define ACCEL_WHY_MAX 160

struct odo_accel {
	const struct odo_clock *clock;
	const struct odo_sink *sink;
	const struct odo_accel_cfg *cfg; /* borrowed */
	const struct odo_accel_driver *drv;
	struct odo_accel_dev dev;
	int own_bus;
	int tfd;
	FILE *rec;
	struct odo_accel_stats st;
	/* live, waiting for the bus or the chip (drv == NULL) */
	int waiting, absent_said;
	int64_t next_try_ns, gap_ns;
	uint64_t errors_in_row;
	char why[ACCEL_WHY_MAX];
};

static int try_chip(struct odo_accel *a, const struct odo_accel_cfg *cfg, const struct odo_i2c *bus,
		    const struct odo_accel_driver *drv, int addr)
{
	if (bus) {
		a->dev.bus = *bus;
	} else {
		int rc = odo_i2c_dev_open(cfg->device, addr, &a->dev.bus);
		if (rc != ODO_OK) {
			snprintf(a->why, sizeof a->why, "%s: %s", cfg->device, strerror(errno));
			return rc;
		}
		a->own_bus = 1;
	}
	if (drv->probe(&a->dev) == 0) {
		a->drv = drv;
		return ODO_OK;
	}
	if (a->own_bus)
		odo_i2c_dev_close(&a->dev.bus);
	a->own_bus = 0;
	return ODO_ERR_NOTFOUND;
}

/* Back to waiting for the chip (it stopped answering, or the bus went). */
static void stop(struct odo_accel *a)
{
	if (a->tfd >= 0)
		close(a->tfd);
	a->tfd = -1;
	if (a->own_bus)
		odo_i2c_dev_close(&a->dev.bus);
	a->own_bus = 0;
	a->drv = NULL;
}

/* Find the chip, set it up, arm the timer. ODO_OK, or an error with a->why
 * set (nothing left open). */
static int start(struct odo_accel *a, const struct odo_i2c *bus)
{
	const struct odo_accel_cfg *cfg = a->cfg;
	int rc = ODO_ERR_NOTFOUND;
	a->why[0] = '\0';
	for (int i = 0; odo_accel_drivers[i] && !a->drv; i++) {
		const struct odo_accel_driver *drv = odo_accel_drivers[i];
		if (cfg->chip != ODO_ACCEL_AUTO && strcmp(drv->name, chip_names[cfg->chip]) != 0)
			continue;
		for (int k = 0; k < 2 && !a->drv; k++) {
			int addr = cfg->address ? (int)cfg->address : drv->addrs[k];
			if (!addr || (cfg->address && k > 0))
				continue;
			rc = try_chip(a, cfg, bus, drv, addr);
			if (rc == ODO_ERR_IO)
				return rc;
		}
	}
	if (!a->drv) {
		snprintf(a->why, sizeof a->why, "no %s accelerometer answered on %s", chip_names[cfg->chip],
			 bus ? "the bus" : cfg->device);
		return ODO_ERR_NOTFOUND;
	}
	if (a->drv->setup(&a->dev, (int)cfg->range_g, (int)cfg->rate_hz) != 0) {
		snprintf(a->why, sizeof a->why, "%s setup failed: %s", a->drv->name, strerror(errno));
		rc = ODO_ERR_IO;
		goto fail;
	}
	/* Pacing only: sample times come from the injected clock. */
	a->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	long period_ns = (long)(ODO_NS_PER_S / cfg->rate_hz);
	struct itimerspec its = { .it_interval = { 0, period_ns }, .it_value = { 0, period_ns } };
	if (a->tfd < 0 || timerfd_settime(a->tfd, 0, &its, NULL) != 0) {
		snprintf(a->why, sizeof a->why, "timerfd: %s", strerror(errno));
		rc = ODO_ERR_IO;
		goto fail;
	}
	a->errors_in_row = 0;
	ODO_LOG(INFO, "accel", "%s, ±%d g, %lld Hz%s", a->drv->name, a->dev.range_g, cfg->rate_hz,
		a->dev.bus.no_block ? ", byte reads (adapter has no I2C block reads)" : "");
	return ODO_OK;
fail:
	stop(a);
	return rc;
}
static struct odo_accel *alloc_accel(const struct odo_accel_cfg *cfg, const struct odo_clock *clock,
				     const struct odo_sink *sink)
{
	struct odo_accel *a = calloc(1, sizeof *a);
	if (!a)
		return NULL;
	a->clock = clock;
	a->sink = sink;
	a->cfg = cfg;
	a->tfd = -1;
	return a;
}

static int cfg_ok(const struct odo_accel_cfg *cfg)
{
	return cfg && cfg->rate_hz >= 1 && cfg->chip >= 0 && cfg->chip <= ODO_ACCEL_MPU6050;
}

int odo_accel_open(const struct odo_accel_cfg *cfg, const struct odo_i2c *bus,
		   const struct odo_clock *clock, const struct odo_sink *sink, struct odo_accel **out)
{
	if (!cfg_ok(cfg) || !clock || !out)
		return ODO_ERR_INVAL;
	struct odo_accel *a = alloc_accel(cfg, clock, sink);
	if (!a)
		return ODO_ERR_NOMEM;
	int rc = start(a, bus);
	if (rc != ODO_OK) {
		ODO_LOG(ERROR, "accel", "%s", a->why);
		odo_accel_close(a);
		return rc;
	}
	*out = a;
	return ODO_OK;
}

static void wait_for_chip(struct odo_accel *a, int64_t now)
{
	if (!a->absent_said) {
		a->absent_said = 1;
		ODO_LOG(WARN, "accel", "%s: events come from the speed signal until the accelerometer is there;"
			" retrying every %.0f s at first, then every %.0f s", a->why, (double)ACCEL_RETRY_MIN_NS / 1e9,
			(double)ACCEL_RETRY_MAX_NS / 1e9);
	} else {
		ODO_LOG(DEBUG, "accel", "%s; retrying", a->why);
	}
	a->waiting = 1;
	a->next_try_ns = now + a->gap_ns;
	a->gap_ns = a->gap_ns * 2 > ACCEL_RETRY_MAX_NS ? ACCEL_RETRY_MAX_NS : a->gap_ns * 2;
}

int odo_accel_open_live(const struct odo_accel_cfg *cfg, const struct odo_clock *clock,
			const struct odo_sink *sink, struct odo_accel **out)
{
	if (!cfg_ok(cfg) || !clock || !out)
		return ODO_ERR_INVAL;
	struct odo_accel *a = alloc_accel(cfg, clock, sink);
	if (!a)
		return ODO_ERR_NOMEM;
	a->gap_ns = ACCEL_RETRY_MIN_NS;
	if (start(a, NULL) != ODO_OK)
		wait_for_chip(a, odo_clock_mono_ns(clock));
	*out = a;
	return ODO_OK;
}

int odo_accel_present(const struct odo_accel *a)
{
	return a && a->drv;
}

/* Stamp with the clock, count, hand to the sink. */
static void deliver(struct odo_accel *a, struct odo_accel_sample *s)
{
	s->mono_ns = odo_clock_mono_ns(a->clock);
	if (s->saturated)
		a->st.saturated++;
	a->st.src.received++;
	if (a->sink && a->sink->accel)
		a->sink->accel(a->sink->ctx, s);
}

int odo_accel_open_replay(const struct odo_clock *clock, const struct odo_sink *sink, struct odo_accel **out)
{
	if (!clock || !out)
		return ODO_ERR_INVAL;
	struct odo_accel *a = calloc(1, sizeof *a);
	if (!a)
		return ODO_ERR_NOMEM;
	a->clock = clock;
	a->sink = sink;
	a->tfd = -1;
	*out = a;
	return ODO_OK;
}

int odo_accel_read_once(struct odo_accel *a)
{
	if (!a || !a->drv)
		return ODO_ERR_INVAL;
	struct odo_accel_sample s = { 0 };
	if (a->drv->read(&a->dev, &s) != 0) {
		int err = errno;
		a->st.src.errors++;
		a->errors_in_row++;
		if (a->st.src.errors % ACCEL_ERR_LOG_EVERY == 1)
			ODO_LOG(WARN, "accel", "%s read failed (%s), %llu errors so far", a->drv->name,
				strerror(err), (unsigned long long)a->st.src.errors);
		if (a->gap_ns && a->errors_in_row >= (uint64_t)a->cfg->rate_hz) {
			/* a second of failed reads: the chip or its bus is gone; wait for it */
			snprintf(a->why, sizeof a->why, "%s on %s stopped answering (%s)", a->drv->name, a->cfg->device,
				 strerror(err));
			stop(a);
			a->absent_said = 0;
			a->gap_ns = ACCEL_RETRY_MIN_NS;
			wait_for_chip(a, odo_clock_mono_ns(a->clock));
		}
		return ODO_ERR_IO;
	}
	a->errors_in_row = 0;
	/* The sample goes on as its accel.csv row reads back: a replay of the
	 * recording then delivers exactly these values (5 decimals of m/s^2,
	 * 6 of rad/s, far below any chip's resolution). */
	char line[ODO_ACCEL_CSV_LINE_MAX];
	int64_t t;
	size_t n = odo_accel_csv_format(line, sizeof line, odo_clock_real_ns(a->clock), &s);
	if (n == 0 || odo_accel_csv_parse(line, &t, &s) != ODO_OK) {
		a->st.src.errors++;
		return ODO_ERR_IO;
	}
	if (a->rec)
		fwrite(line, 1, n, a->rec);
	deliver(a, &s);
	return ODO_OK;
}

int odo_accel_feed(struct odo_accel *a, const struct odo_accel_sample *s)
{
	if (!a || !s)
		return ODO_ERR_INVAL;
	struct odo_accel_sample c = *s;
	deliver(a, &c);
	return ODO_OK;
}

static int accel_pollfds(void *self, struct pollfd *pfd, int max)
{
	struct odo_accel *a = self;
	if (max < 1 || a->tfd < 0)
		return 0;
	pfd[0].fd = a->tfd;
	pfd[0].events = POLLIN;
	return 1;
}

static void accel_handle(void *self, const struct pollfd *pfd, int n)
{
	struct odo_accel *a = self;
	if (n < 1 || !(pfd[0].revents & POLLIN))
		return;
	uint64_t exp = 0;
	if (read(a->tfd, &exp, sizeof exp) != (ssize_t)sizeof exp || exp == 0)
		return;
	/* One read per wake-up: ticks missed while the loop was busy are lost
	 * samples, counted rather than read late with wrong timestamps. */
	a->st.src.dropped += exp - 1;
	(void)odo_accel_read_once(a);
}

static int64_t accel_deadline(void *self)
{
	struct odo_accel *a = self;
	return a->waiting ? a->next_try_ns : ODO_DEADLINE_NONE;
}

/* Live and waiting: look for the chip again. */
static void accel_tick(void *self)
{
	struct odo_accel *a = self;
	int64_t now = odo_clock_mono_ns(a->clock);
	if (!a->waiting || now < a->next_try_ns)
		return;
	if (start(a, NULL) == ODO_OK) {
		a->waiting = 0;
		a->absent_said = 0;
		a->gap_ns = ACCEL_RETRY_MIN_NS;
		ODO_LOG(INFO, "accel", "the accelerometer is there: events from its samples");
		return;
	}
	wait_for_chip(a, now);
}

static const struct odo_source_ops accel_ops = {
	.name = "accel",
	.pollfds = accel_pollfds,
	.handle = accel_handle,
	.deadline = accel_deadline,
	.tick = accel_tick,
};

struct odo_source odo_accel_source(struct odo_accel *a)
{
	struct odo_source s = { .ops = &accel_ops, .self = a };
	return s;
}

const char *odo_accel_chip_name(const struct odo_accel *a)
{
	return a && a->drv ? a->drv->name : "none";
}

int odo_accel_byte_reads(const struct odo_accel *a)
{
	return a ? a->dev.bus.no_block : 0;
}

void odo_accel_set_recorder(struct odo_accel *a, FILE *f)
{
	if (a)
		a->rec = f;
}

void odo_accel_stats(const struct odo_accel *a, struct odo_accel_stats *out)
{
	if (a && out)
		*out = a->st;
}

void odo_accel_close(struct odo_accel *a)
{
	if (!a)
		return;
	if (a->tfd >= 0)
		close(a->tfd);
	if (a->own_bus)
		odo_i2c_dev_close(&a->dev.bus);
	free(a);
}
