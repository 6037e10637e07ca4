/*
 * store-driver — a producer for the store-and-forward tests: the agent's
 * outbox and uplink in the agent's poll loop (agent/loop.c), fed by a
 * deterministic generator at a steady rate.
 *
 * Record i (1, 2, ...) has tag (trip_id) i: every 100th is a crash event,
 * every 10th a hard-brake event, the rest samples. After each record is
 * stored, "<i> <seq>\n" is appended to --log (O_APPEND: survives SIGKILL);
 * a restart resumes after the last logged i. A SIGKILL between the commit
 * and the log line makes record i exist twice with two seqs: the checker
 * allows that (at most once per kill) and reports it.
 *
 * Stops producing after --count records; then exits 0 as soon as the
 * outbox is empty (everything acknowledged). --drain: produce nothing.
 * SIGTERM: flush for --grace seconds (odo_uplink_flush), exit 0.
 * Prints store and uplink counters on exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "odo/err.h" /* loop.h uses ODO_NODISCARD */
#include "loop.h"
#include "odo/log.h"
#include "store/store.h"
#include "uplink/uplink.h"

static volatile sig_atomic_t g_term;

static void on_term(int sig)
{
	(void)sig;
	g_term = 1;
}

static uint64_t last_logged(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	unsigned long long i = 0, s = 0, last = 0;
	char line[128];
	while (fgets(line, sizeof(line), f)) {
		/* A torn last line (killed mid-write) does not parse as two numbers and a newline. */
		if (strchr(line, '\n') && sscanf(line, "%llu %llu", &i, &s) == 2 && i > last)
			last = i;
	}
	fclose(f);
	return last;
}

static struct odo_record make(uint64_t i)
{
	struct odo_record r;
	if (i % 100 == 0 || i % 10 == 0) {
		odo_record_init(&r, ODO_REC_EVENT);
		r.u.event.trip_id = i;
		r.u.event.kind = i % 100 == 0 ? ODO_EV_CRASH : ODO_EV_HARD_BRAKE;
		r.u.event.source = i % 100 == 0 ? ODO_EVSRC_ACCEL_AIRBAG : ODO_EVSRC_ACCEL;
		r.u.event.duration_ms = 700;
		r.u.event.peak_g = i % 100 == 0 ? -5.5 : -0.45;
		r.u.event.mean_g = i % 100 == 0 ? -3.0 : -0.38;
		r.u.event.speed_before_mps = 14.0;
		r.u.event.speed_after_mps = 6.0;
	} else {
		odo_record_init(&r, ODO_REC_SAMPLE);
		r.u.sample.trip_id = i;
		r.u.sample.fix = ODO_FIX_3D;
		r.u.sample.lat = 48.0 + (double)(i % 1000) * 1e-5;
		r.u.sample.lon = 11.0 + (double)(i % 777) * 1e-5;
		r.u.sample.speed_mps = (double)(i % 30);
		r.u.sample.heading_deg = (double)(i % 360);
		r.u.sample.rpm = 800.0 + (double)(i % 3000);
	}
	return r;
}

static void usage(void)
{
	fprintf(stderr, "usage: store-driver --db F --port P --cafile F --cert F --key F --device ID --log F\n"
			"       [--host H] [--rate N/s] [--count N] [--drain] [--max-records N] [--max-bytes N]\n"
			"       [--ack-timeout S] [--batch N] [--inflight N] [--grace S] [--seed N]\n");
}

int main(int argc, char **argv)
{
	struct odo_store_cfg scfg;
	struct odo_uplink_cfg ucfg;
	memset(&scfg, 0, sizeof(scfg));
	memset(&ucfg, 0, sizeof(ucfg));
	snprintf(ucfg.host, sizeof(ucfg.host), "127.0.0.1");
	ucfg.keepalive = 10;
	ucfg.ack_timeout = 3;
	ucfg.nosub_retry = 2;
	ucfg.connect_timeout = 5;
	ucfg.max_inflight = 8;
	ucfg.max_batch_records = 100;
	ucfg.max_batch_bytes = 65536;
	ucfg.backoff_min = 0.1;
	ucfg.backoff_max = 2;
	ucfg.fresh_every = 4;
	const char *logpath = NULL;
	double rate = 200, grace = 5;
	uint64_t count = 1000;
	int drain = 0;
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },        { "host", required_argument, NULL, 'h' },
		{ "port", required_argument, NULL, 'p' },      { "cafile", required_argument, NULL, 'c' },
		{ "cert", required_argument, NULL, 'C' },      { "key", required_argument, NULL, 'k' },
		{ "device", required_argument, NULL, 'D' },    { "log", required_argument, NULL, 'l' },
		{ "rate", required_argument, NULL, 'r' },      { "count", required_argument, NULL, 'n' },
		{ "drain", no_argument, NULL, 'x' },           { "max-records", required_argument, NULL, 'R' },
		{ "max-bytes", required_argument, NULL, 'B' }, { "ack-timeout", required_argument, NULL, 'a' },
		{ "batch", required_argument, NULL, 'b' },     { "inflight", required_argument, NULL, 'I' },
		{ "grace", required_argument, NULL, 'g' },     { "seed", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': snprintf(scfg.path, sizeof(scfg.path), "%s", optarg); break;
		case 'h': snprintf(ucfg.host, sizeof(ucfg.host), "%s", optarg); break;
		case 'p': ucfg.port = atoll(optarg); break;
		case 'c': snprintf(ucfg.cafile, sizeof(ucfg.cafile), "%s", optarg); break;
		case 'C': snprintf(ucfg.certfile, sizeof(ucfg.certfile), "%s", optarg); break;
		case 'k': snprintf(ucfg.keyfile, sizeof(ucfg.keyfile), "%s", optarg); break;
		case 'D': snprintf(ucfg.device_id, sizeof(ucfg.device_id), "%s", optarg); break;
		case 'l': logpath = optarg; break;
		case 'r': rate = atof(optarg); break;
		case 'n': count = strtoull(optarg, NULL, 10); break;
		case 'x': drain = 1; break;
		case 'R': scfg.max_records = atoll(optarg); break;
		case 'B': scfg.max_bytes = atoll(optarg); break;
		case 'a': ucfg.ack_timeout = atof(optarg); break;
		case 'b': ucfg.max_batch_records = atoll(optarg); break;
		case 'I': ucfg.max_inflight = atoll(optarg); break;
		case 'g': grace = atof(optarg); break;
		case 's': ucfg.jitter_seed = atoll(optarg); break;
		default: usage(); return 2;
		}
	}
	if (!scfg.path[0] || !ucfg.port || !logpath || !ucfg.device_id[0] || !(rate > 0)) {
		usage();
		return 2;
	}
	odo_log_set_program("store-driver");
	if (getenv("ODO_LOG_LEVEL"))
		odo_log_threshold = odo_log_level_parse(getenv("ODO_LOG_LEVEL"));
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	struct odo_clock clock;
	odo_clock_init_system(&clock);
	struct odo_store *st = NULL;
	int rc = odo_store_open(&scfg, &clock, &st);
	if (rc != ODO_OK) {
		fprintf(stderr, "store-driver: cannot open %s: %s\n", scfg.path, odo_strerror(rc));
		return 1;
	}
	struct odo_uplink *u = NULL;
	rc = odo_uplink_open(&ucfg, &clock, st, &u);
	if (rc != ODO_OK) {
		fprintf(stderr, "store-driver: uplink: %s\n", odo_strerror(rc));
		return 1;
	}
	struct odo_loop loop;
	odo_loop_init(&loop, &clock, ODO_LOOP_SYSTEM);
	if (odo_loop_add(&loop, odo_uplink_source(u)) != ODO_OK)
		return 1;
	int logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0) {
		fprintf(stderr, "store-driver: %s: %s\n", logpath, strerror(errno));
		return 1;
	}
	uint64_t i = last_logged(logpath) + 1, i0 = i, put_errors = 0;
	int64_t start = odo_clock_mono_ns(&clock);
	int64_t period = (int64_t)((double)ODO_NS_PER_S / rate);
	int done_producing = drain || i > count;

	while (!g_term) {
		int64_t now = odo_clock_mono_ns(&clock);
		while (!done_producing && start + (int64_t)(i - i0) * period <= now) {
			struct odo_record r = make(i);
			rc = odo_store_put(st, &r);
			if (rc == ODO_OK) {
				char line[64];
				int n = snprintf(line, sizeof(line), "%" PRIu64 " %" PRIu64 "\n", i, r.seq);
				if (write(logfd, line, (size_t)n) != n)
					fprintf(stderr, "store-driver: log write failed\n");
				i++;
			} else {
				/* The loop never dies on a failed write: count it, retry later. */
				put_errors++;
				break;
			}
			if (i > count)
				done_producing = 1;
		}
		if (done_producing && odo_uplink_flush(u, INT64_MAX) == ODO_OK)
			break;
		int64_t wait = done_producing ? 100 * ODO_NS_PER_MS : start + (int64_t)(i - i0) * period - now;
		if (wait < 0)
			wait = 0;
		if (odo_loop_once(&loop, wait) != ODO_OK)
			fprintf(stderr, "store-driver: poll failed\n");
	}
	if (g_term) {
		int64_t dl = odo_clock_mono_ns(&clock) + (int64_t)(grace * (double)ODO_NS_PER_S);
		while ((rc = odo_uplink_flush(u, dl)) == ODO_ERR_AGAIN)
			if (odo_loop_once(&loop, 50 * ODO_NS_PER_MS) != ODO_OK)
				break;
		fprintf(stderr, "store-driver: flush on SIGTERM: %s\n", odo_strerror(rc));
	}
	struct odo_store_stats ss;
	struct odo_uplink_stats us;
	if (odo_store_stats(st, &ss) == ODO_OK && odo_uplink_stats(u, &us) == ODO_OK)
		fprintf(stderr,
			"store-driver: produced up to %" PRIu64 ", put errors %" PRIu64 ", depth %" PRIu64
			", evicted %" PRIu64 ", rejected %" PRIu64 ", last seq %" PRIu64 ", acked %" PRIu64
			"; connects %" PRIu64 ", reconnects %" PRIu64 ", batches %" PRIu64 ", records sent %" PRIu64
			", acks %" PRIu64 ", ack timeouts %" PRIu64 ", no subscribers %" PRIu64 "\n",
			i - 1, put_errors, ss.depth, ss.evicted, ss.rejected, ss.last_seq, ss.acked, us.connects,
			us.reconnects, us.batches_sent, us.records_sent, us.acks, us.ack_timeouts, us.no_subscribers);
	odo_uplink_close(u);
	odo_store_close(st);
	close(logfd);
	return 0;
}
