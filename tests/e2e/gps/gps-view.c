/*
 * gps-view — the agent's view of gpsd: runs odo_gps live from a poll loop
 * and prints every TPV the sink receives, one JSON object per line, only
 * the fields that are not NaN (what gps_e2e compares with gpsd's .chk).
 *
 *   gps-view HOST PORT TIMEOUT_S [--exit-on-close] [--tpv N] [--record DIR]
 *   gps-view --replay DIR
 *
 * --record writes a drive recording (gps.log) of the live session;
 * --replay prints the TPVs of a recording replayed through odo_replay, in
 * the same format, so live and replayed views can be compared.
 * stderr gets "connected N" each time a gpsd session comes up, and
 * "stats received=... errors=... reconnects=..." at the end.
 */
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gps/gps.h"
#include "replay/replay.h"
#include "odo/log.h"

static unsigned long ntpv;

static void pr(const char *k, double v, int *first)
{
	(void)first;
	if (isfinite(v))
		printf(",\"%s\":%.17g", k, v);
}

static void on_gps(void *ctx, const struct odo_gps_fix *f)
{
	(void)ctx;
	printf("{\"class\":\"TPV\",\"mode\":%u", f->mode);
	if (f->t_ms)
		printf(",\"time_ms\":%lld", (long long)f->t_ms);
	int first = 0;
	pr("lat", f->lat, &first);
	pr("lon", f->lon, &first);
	pr("altMSL", f->alt_m, &first);
	pr("speed", f->speed_mps, &first);
	pr("track", f->track_deg, &first);
	pr("climb", f->climb_mps, &first);
	pr("eph", f->eph, &first);
	pr("epx", f->epx, &first);
	pr("epy", f->epy, &first);
	pr("epv", f->epv, &first);
	pr("eps", f->eps, &first);
	pr("ept", f->ept, &first);
	printf("}\n");
	fflush(stdout);
	ntpv++;
}

static int replay(const char *dir)
{
	struct odo_clock clk;
	odo_clock_init_virtual(&clk, 0, 0);
	struct odo_sink sink = { .gps = on_gps };
	struct odo_gps *g;
	if (odo_gps_open(NULL, &clk, &sink, &g) != ODO_OK)
		return 1;
	struct odo_replay_targets t = { .gps = g };
	struct odo_replay *rp;
	if (odo_replay_open(dir, &clk, &t, &rp) != ODO_OK)
		return 1;
	while (odo_replay_step(rp) == ODO_OK)
		;
	struct odo_replay_stats st;
	odo_replay_stats(rp, &st);
	fprintf(stderr, "replayed %llu gps reports, %llu corrupt\n", (unsigned long long)st.items[ODO_RSTREAM_GPS],
		(unsigned long long)st.corrupt[ODO_RSTREAM_GPS]);
	odo_replay_close(rp);
	odo_gps_close(g);
	return st.corrupt[ODO_RSTREAM_GPS] ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--replay"))
		return replay(argv[2]);
	if (argc < 4) {
		fprintf(stderr, "usage: gps-view HOST PORT TIMEOUT_S [--exit-on-close] [--tpv N]\n");
		return 2;
	}
	int exit_on_close = 0;
	unsigned long want = 0;
	const char *record = NULL;
	for (int i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "--exit-on-close"))
			exit_on_close = 1;
		else if (!strcmp(argv[i], "--tpv") && i + 1 < argc)
			want = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--record") && i + 1 < argc)
			record = argv[++i];
	}
	odo_log_set_program("gps-view");
	struct odo_gps_cfg cfg;
	memset(&cfg, 0, sizeof cfg);
	snprintf(cfg.host, sizeof cfg.host, "%s", argv[1]);
	snprintf(cfg.port, sizeof cfg.port, "%s", argv[2]);
	cfg.reconnect_min_ms = 20;
	cfg.reconnect_max_ms = 200;
	struct odo_clock clk;
	odo_clock_init_system(&clk);
	struct odo_sink sink = { .gps = on_gps };
	struct odo_gps *g;
	if (odo_gps_open(&cfg, &clk, &sink, &g) != ODO_OK)
		return 1;
	struct odo_recorder *rec = NULL;
	if (record) {
		if (odo_recorder_open(record, NULL, &rec) != ODO_OK)
			return 1;
		odo_gps_set_recorder(g, odo_recorder_file(rec, ODO_RSTREAM_GPS));
	}
	struct odo_source src = odo_gps_source(g);
	int64_t end = odo_clock_mono_ns(&clk) + (int64_t)atoi(argv[3]) * ODO_NS_PER_S;
	int was = 0, sessions = 0;
	struct odo_gps_stats st;
	for (;;) {
		odo_gps_stats(g, &st);
		if (st.connected != was) {
			if (st.connected)
				fprintf(stderr, "connected %d\n", ++sessions);
			else if (exit_on_close)
				break;
			was = st.connected;
		}
		if (want && ntpv >= want)
			break;
		int64_t now = odo_clock_mono_ns(&clk);
		if (now >= end)
			break;
		struct pollfd pfd[ODO_SOURCE_MAX_FDS];
		int n = src.ops->pollfds(src.self, pfd, ODO_SOURCE_MAX_FDS);
		int64_t dl = src.ops->deadline(src.self);
		int64_t wait = end - now;
		if (dl != ODO_DEADLINE_NONE && dl - now < wait)
			wait = dl > now ? dl - now : 0;
		int r = poll(pfd, (nfds_t)n, (int)(wait / ODO_NS_PER_MS) + 1);
		if (r > 0)
			src.ops->handle(src.self, pfd, n);
		src.ops->tick(src.self);
	}
	odo_gps_stats(g, &st);
	fprintf(stderr, "stats received=%llu errors=%llu reports=%llu reconnects=%llu\n",
		(unsigned long long)st.src.received, (unsigned long long)st.src.errors,
		(unsigned long long)st.reports, (unsigned long long)st.reconnects);
	odo_gps_close(g);
	odo_recorder_close(rec);
	return 0;
}
