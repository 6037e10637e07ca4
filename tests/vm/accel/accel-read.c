/*
 * accel-read — opens the accelerometer live through i2c-dev like odo-agent
 * does, runs its source from a poll loop and prints the samples it delivers:
 *
 *   accel-read DEVICE CHIP ADDRESS COUNT [TIMEOUT_S]
 *     CHIP auto|lis3dh|mpu6050, ADDRESS 0x.. or 0 (the chip's usual ones)
 *
 * stdout: "chip NAME", "reads block|byte", then "sample X Y Z SAT" (m/s^2, %.4f) per sample,
 * then "stats received=R errors=E dropped=D saturated=S".
 * Exit 0 after COUNT samples or timeout; 3 when the open fails (message).
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accel/accel.h"
#include "odo/log.h"

static unsigned long n;

static void on_accel(void *ctx, const struct odo_accel_sample *s)
{
	(void)ctx;
	printf("sample %.4f %.4f %.4f %u\n", (double)s->x, (double)s->y, (double)s->z, s->saturated);
	if (s->has_gyro)
		printf("gyro %.5f %.5f %.5f\n", (double)s->gx, (double)s->gy, (double)s->gz);
	n++;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: accel-read DEVICE CHIP ADDRESS COUNT [TIMEOUT_S]\n");
		return 2;
	}
	odo_log_set_program("accel-read");
	struct odo_accel_cfg cfg = { .rate_hz = 100, .range_g = 8 };
	snprintf(cfg.device, sizeof cfg.device, "%s", argv[1]);
	cfg.chip = !strcmp(argv[2], "lis3dh") ? ODO_ACCEL_LIS3DH : !strcmp(argv[2], "mpu6050") ? ODO_ACCEL_MPU6050 : ODO_ACCEL_AUTO;
	cfg.address = strtol(argv[3], NULL, 0);
	unsigned long want = strtoul(argv[4], NULL, 10);
	int timeout_s = argc > 5 ? atoi(argv[5]) : 10;
	struct odo_clock clk;
	odo_clock_init_system(&clk);
	struct odo_sink sink = { .accel = on_accel };
	struct odo_accel *a;
	int rc = odo_accel_open(&cfg, NULL, &clk, &sink, &a);
	if (rc != ODO_OK) {
		printf("open failed: %s\n", odo_strerror(rc));
		return 3;
	}
	printf("chip %s\n", odo_accel_chip_name(a));
	printf("reads %s\n", odo_accel_byte_reads(a) ? "byte" : "block");
	struct odo_source src = odo_accel_source(a);
	int64_t end = odo_clock_mono_ns(&clk) + (int64_t)timeout_s * ODO_NS_PER_S;
	struct odo_accel_stats st;
	for (;;) {
		odo_accel_stats(a, &st);
		if (n >= want || st.src.received + st.src.errors >= want || odo_clock_mono_ns(&clk) >= end)
			break;
		struct pollfd pfd[ODO_SOURCE_MAX_FDS];
		int k = src.ops->pollfds(src.self, pfd, ODO_SOURCE_MAX_FDS);
		if (poll(pfd, (nfds_t)k, 100) > 0)
			src.ops->handle(src.self, pfd, k);
	}
	odo_accel_stats(a, &st);
	printf("stats received=%llu errors=%llu dropped=%llu saturated=%llu\n",
	       (unsigned long long)st.src.received, (unsigned long long)st.src.errors,
	       (unsigned long long)st.src.dropped, (unsigned long long)st.saturated);
	odo_accel_close(a);
	return 0;
}
