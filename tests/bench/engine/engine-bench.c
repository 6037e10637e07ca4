/*
 * Engine benchmark driver (label bench, see bench.sh).
 *   engine-bench gen FILE SECONDS   write a synthetic drive (100 Hz accel, 1 Hz GPS and OBD) as text
 *   engine-bench parse FILE         baseline: read and parse every line, nothing else
 *   engine-bench engine FILE        read, parse and feed the engine's sink (learning calibration)
 * parse/engine print: "<mode> <lines> <seconds of drive> <wall s> <peak RSS KiB> <records>".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "engine/engine.h"

#define LINE_LEN 256

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_kib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static uint64_t rng = 1;
static double rnd(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rng >> 11) / (double)(1ULL << 53) * 2 - 1;
}

/* A repeating 120 s pattern: accelerate, cruise, turns both ways, a hard
 * brake, a stop; the sensor mounted rotated 90 deg about the vertical. */
static int gen(const char *path, int secs)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return 1;
	double v = 0, psi = 0, lat = 52.5, lon = 13.4;
	for (long i = 0; i < (long)secs * 100; i++) {
		double t = i / 100.0, ph = fmod(t, 120);
		double a = ph < 10    ? 1.5
		           : ph < 40  ? 0
		           : ph < 50  ? 0
		           : ph < 60  ? 0
		           : ph < 62  ? -4.5
		           : ph < 70  ? -0.5
		           : ph < 100 ? 0.6
		                      : -1.0;
		double w = (ph >= 40 && ph < 50) ? 0.15 : (ph >= 50 && ph < 60) ? -0.15 : 0;
		if (v + a * 0.01 < 0)
			a = -v / 0.01;
		v += a * 0.01;
		psi += w * 0.01;
		lat += v * 0.01 * cos(psi) / 111195.0;
		lon += v * 0.01 * sin(psi) / (111195.0 * cos(lat * M_PI / 180));
		double fx = a, fy = v * w;
		/* sensor = vehicle rotated 90 deg about down: x_s = -y_v, y_s = x_v */
		fprintf(f, "A %.2f %.4f %.4f %.4f\n", t, -fy + 0.2 * rnd(), fx + 0.2 * rnd(),
		        -9.80665 + 0.2 * rnd());
		if (i % 100 == 0) {
			fprintf(f, "G %.2f %.7f %.7f %.3f %.2f\n", t, lat, lon, v,
			        fmod(psi * 180 / M_PI + 360, 360));
			fprintf(f, "O %.2f 12 %.1f\n", t + 0.5, 800 + 100 * v);
			fprintf(f, "O %.2f 13 %.3f\n", t + 0.5, v);
		}
	}
	return fclose(f) ? 1 : 0;
}

static long records;
static int on_rec(void *ctx, struct odo_record *r)
{
	(void)ctx;
	(void)r;
	records++;
	return 0;
}

static int run(const char *mode, const char *path)
{
	int feed = strcmp(mode, "engine") == 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return 1;
	struct odo_clock clk;
	odo_clock_init_virtual(&clk, 1768010400LL * ODO_NS_PER_S, 0);
	struct odo_engine *e = NULL;
	struct odo_sink sk = {0};
	if (feed) {
		if (odo_engine_open(NULL, &clk, NULL, on_rec, NULL, NULL, &e))
			return 1;
		sk = odo_engine_sink(e);
	}
	char line[LINE_LEN];
	long n = 0;
	double last_t = 0, sum = 0, t0 = now_s();
	int64_t next_tick = ODO_NS_PER_S;
	while (fgets(line, sizeof(line), f)) {
		double t, a, b, c, d;
		n++;
		if (line[0] == 'A' && sscanf(line + 2, "%lf %lf %lf %lf", &t, &a, &b, &c) == 4) {
			int64_t ns = (int64_t)llround(t * 1e9);
			sum += a + b + c;
			if (feed) {
				if (ns > odo_clock_mono_ns(&clk))
					odo_clock_advance(&clk, ns - odo_clock_mono_ns(&clk));
				struct odo_accel_sample s = {
				    .mono_ns = ns, .x = (float)a, .y = (float)b, .z = (float)c};
				sk.accel(sk.ctx, &s);
				if (ns >= next_tick) {
					odo_engine_tick(e);
					next_tick += ODO_NS_PER_S;
				}
			}
			last_t = t;
		} else if (line[0] == 'G' &&
		           sscanf(line + 2, "%lf %lf %lf %lf %lf", &t, &a, &b, &c, &d) == 5) {
			sum += a + b + c + d;
			if (feed) {
				int64_t ns = (int64_t)llround(t * 1e9);
				struct odo_gps_fix fx = {.mono_ns = ns,
				                         .t_ms = 1768010400000LL + (int64_t)llround(t * 1000),
				                         .mode = ODO_FIX_3D,
				                         .lat = a,
				                         .lon = b,
				                         .alt_m = NAN,
				                         .speed_mps = c,
				                         .track_deg = d,
				                         .climb_mps = NAN,
				                         .eph = 5,
				                         .epx = NAN,
				                         .epy = NAN,
				                         .epv = NAN,
				                         .eps = NAN,
				                         .ept = NAN};
				sk.gps(sk.ctx, &fx);
			}
		} else if (line[0] == 'O' && sscanf(line + 2, "%lf %lf %lf", &t, &a, &b) == 3) {
			sum += a + b;
			if (feed) {
				struct odo_obd_value o = {
				    .mono_ns = (int64_t)llround(t * 1e9), .pid = (uint8_t)a, .value = b};
				sk.obd(sk.ctx, &o);
			}
		}
	}
	fclose(f);
	if (feed) {
		odo_engine_finish(e);
		odo_engine_close(e);
	}
	double wall = now_s() - t0;
	printf("%s %ld %.0f %.4f %ld %ld\n", mode, n, last_t, wall, peak_rss_kib(), records);
	return sum == 12345.678 ? 2 : 0; /* keep the baseline's parsing observable */
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "gen") == 0)
		return gen(argv[2], atoi(argv[3]));
	if (argc == 3 && (strcmp(argv[1], "parse") == 0 || strcmp(argv[1], "engine") == 0))
		return run(argv[1], argv[2]);
	fprintf(stderr, "usage: engine-bench gen FILE SECONDS | parse FILE | engine FILE\n");
	return 2;
}
