/*
 * obd-probe — VM test driver for agent/can: opens odo_vbus live with a
 * config's [can] section, runs the agent's loop (agent/loop.h, live mode)
 * over odo_vbus_source for N seconds and prints every sink delivery as one
 * line; or replays a candump log through the same decoding (--replay),
 * ticking the source's timers that came due before each frame, and prints
 * the same lines.
 *
 *   obd-probe --config FILE --seconds N [--record LOG]   (SIGINT: stop before N)
 *   obd-probe --config FILE --replay LOG
 *
 * Lines: "obd ecu=7E8 pid=0C value=1726.000", "dtc ecu=7E8 mil=1 stored=P0301,P0420
 * pending= permanent=P0301 airbag=0", "vin ecu=7E8 vin=...", "signal role=0 value=1",
 * and at the end "stats ..." with the counters (bus_off, restarts last).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "can/candump.h"
#include "can/vbus.h"
#include "loop.h"
#include "odo/log.h"

static void p_obd(void *c, const struct odo_obd_value *v)
{
	(void)c;
	printf("obd ecu=%X pid=%02X value=%.3f\n", v->ecu, v->pid, v->value);
}

static void p_list(const char *name, const struct odo_rec_dtc *d, int l)
{
	printf(" %s=", name);
	for (int i = 0; i < d->n[l]; i++)
		printf("%s%s", i ? "," : "", d->codes[l][i]);
}

static void p_dtc(void *c, int64_t t, const struct odo_rec_dtc *d)
{
	(void)c;
	(void)t;
	printf("dtc ecu=%X mil=%d", d->ecu, d->mil);
	p_list("stored", d, ODO_DTC_STORED);
	p_list("pending", d, ODO_DTC_PENDING);
	p_list("permanent", d, ODO_DTC_PERMANENT);
	printf(" airbag=%d\n", d->airbag_deployed);
}

static void p_veh(void *c, int64_t t, const struct odo_rec_vehicle *v)
{
	(void)c;
	(void)t;
	printf("vin ecu=%X vin=%s\n", v->ecu, v->vin);
}

static void p_sig(void *c, const struct odo_signal *s)
{
	(void)c;
	printf("signal role=%u value=%g\n", s->role, s->value);
}

static volatile sig_atomic_t stop; /* SIGINT: stop early, print the stats as at the end */

static void on_int(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	const char *conf = NULL, *rec = NULL, *replay = NULL;
	double seconds = 5;
	int quiet = 0;
	static const struct option opts[] = { { "config", 1, 0, 'c' }, { "seconds", 1, 0, 's' },
					       { "record", 1, 0, 'r' },  { "replay", 1, 0, 'p' },
					       { "quiet", 0, 0, 'q' },   { 0, 0, 0, 0 } };
	int o;
	while ((o = getopt_long(argc, argv, "c:s:r:p:q", opts, NULL)) != -1) {
		switch (o) {
		case 'c': conf = optarg; break;
		case 's': seconds = atof(optarg); break;
		case 'r': rec = optarg; break;
		case 'p': replay = optarg; break;
		case 'q': quiet = 1; break;
		default: return 2;
		}
	}
	if (!conf) {
		fprintf(stderr, "usage: obd-probe --config FILE (--seconds N [--record LOG] | --replay LOG) [--quiet]\n");
		return 2;
	}
	odo_log_set_program("obd-probe");
	odo_log_threshold = ODO_LOG_INFO;
	static struct odo_can_cfg cfg;
	struct odo_cfg_section sec = { "can", odo_can_cfg_keys, odo_can_cfg_nkeys, &cfg };
	struct odo_cfg_error err;
	if (odo_config_parse_file(conf, &sec, 1, &err) != ODO_OK) {
		fprintf(stderr, "obd-probe: %s\n", err.msg);
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct odo_sink sink = { .obd = p_obd, .dtc = p_dtc, .vehicle = p_veh, .signal = p_sig };
	if (quiet)
		memset(&sink, 0, sizeof sink);
	struct odo_clock clk;
	struct odo_vbus *vb;
	int rc;
	if (replay) {
		odo_clock_init_virtual(&clk, 0, 0);
		if ((rc = odo_vbus_open_replay(&cfg, &clk, &sink, &vb)) != ODO_OK) {
			fprintf(stderr, "obd-probe: %s\n", odo_strerror(rc));
			return 1;
		}
		FILE *f = fopen(replay, "r");
		if (!f) {
			perror(replay);
			return 1;
		}
		char line[ODO_CANDUMP_LINE_MAX * 2];
		unsigned long bad = 0;
		while (fgets(line, sizeof line, f)) {
			int64_t t;
			char ifn[IFNAMSIZ];
			struct can_frame fr;
			if (odo_candump_parse_line(line, &t, ifn, &fr) != ODO_OK) {
				bad++;
				continue;
			}
			odo_clock_set_real(&clk, t);
			struct odo_source s = odo_vbus_source(vb);
			if (s.ops->deadline(s.self) <= odo_clock_mono_ns(&clk))
				s.ops->tick(s.self);
			odo_vbus_feed_frame(vb, &fr, ifn);
		}
		fclose(f);
		printf("replay bad_lines=%lu\n", bad);
	} else {
		/* the agent's loop: timers at their deadlines before the inputs
		 * of a wake-up, inputs stamped with the wake-up instant, so that
		 * --replay of the recording decides the same answers solicited */
		struct odo_loop loop;
		odo_loop_init(&loop, &clk, ODO_LOOP_LIVE);
		if ((rc = odo_vbus_open(&cfg, &clk, &sink, &vb)) != ODO_OK) {
			fprintf(stderr, "obd-probe: open: %s\n", odo_strerror(rc));
			return 1;
		}
		FILE *rf = NULL;
		if (rec) {
			rf = fopen(rec, "w");
			if (!rf) {
				perror(rec);
				return 1;
			}
			odo_vbus_set_recorder(vb, rf);
		}
		printf("isotp=%s\n", odo_vbus_kernel_isotp(vb) ? "kernel" : "user");
		if (odo_loop_add(&loop, odo_vbus_source(vb)) != ODO_OK)
			return 1;
		int64_t end = odo_clock_mono_ns(&clk) + (int64_t)(seconds * 1e9);
		struct sigaction sa = { .sa_handler = on_int };
		sigaction(SIGINT, &sa, NULL);
		while (!stop && odo_clock_mono_ns(&clk) < end)
			if (odo_loop_once(&loop, end - odo_clock_mono_ns(&clk)) != ODO_OK && !(stop || errno == EINTR)) {
				perror("poll");
				return 1;
			}
		if (rf)
			fclose(rf);
	}
	struct odo_source_stats st;
	struct odo_can_counters c;
	odo_vbus_stats(vb, &st);
	odo_vbus_counters(vb, &c);
	printf(
	    "stats received=%llu errors=%llu dropped=%llu frames=%llu sent=%llu obd=%llu dtc=%llu vin=%llu "
	    "signals=%llu negative=%llu timeouts=%llu malformed=%llu unsolicited=%llu kernel_drops=%llu "
	    "bus_off=%llu restarts=%llu\n",
	    (unsigned long long)st.received, (unsigned long long)st.errors, (unsigned long long)st.dropped,
	    (unsigned long long)c.frames, (unsigned long long)c.sent, (unsigned long long)c.obd_values,
	    (unsigned long long)c.dtc_records, (unsigned long long)c.vin_records,
	    (unsigned long long)c.signals, (unsigned long long)c.negative, (unsigned long long)c.timeouts,
	    (unsigned long long)c.malformed, (unsigned long long)c.unsolicited,
	    (unsigned long long)c.kernel_drops, (unsigned long long)c.bus_off,
	    (unsigned long long)c.restarts);
	odo_vbus_close(vb);
	return 0;
}
