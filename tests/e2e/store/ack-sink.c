/*
 * ack-sink — a minimal receiving side for the store-and-forward tests.
 *
 * Connects as odo-collector (mutual TLS, MQTT v5, persistent session),
 * subscribes to odo/v1/+/up, decodes each batch strictly, appends one line
 * per record to --out and fdatasync()s it, then acknowledges on
 * odo/v1/<device>/ack, in the batch's wire version and epoch, the highest
 * n such that every seq in [1, n] of that (device, epoch) has been written
 * or is known never to exist (the batch ranges, wire.h). A batch whose acked
 * floor is above what the sink has for its (device, epoch) moves it there
 * (the sink "lost" those acknowledged records, as a restored database does).
 *
 * Line format: "<device> <seq> <kind> <tag> <t_ms>[ <epoch>]\n", tag =
 * trip_id (of samples, events, trip starts and ends); the epoch column
 * (16 hex digits) only with --epoch-column.
 * --ack-extra N: acknowledge N beyond the truth (a collector whose state
 * belongs to another outbox: the agent must delete nothing).
 * --trips FILE: also append "<device> <epoch> <kind> <trip> <seq> <end>" per
 * trip start (kind 1, end -1) and trip end (kind 2, "end" or -1 absent).
 * SIGUSR1: stop acknowledging; SIGUSR2: resume (and re-send every ack).
 * SIGTERM/SIGINT: exit 0 after printing counters to stderr.
 * The real collector (collector/) replaces this in the demo.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "odo/wire.h"

#define MAX_DEVICES 16
#define MAX_INTERVALS 65536

struct interval {
	uint64_t a, b;
};

struct device {
	char id[ODO_DEVICE_ID_MAX + 1];
	uint64_t epoch;
	uint32_t v; /* wire version of its last batch: acks answer in it */
	uint64_t acked;
	struct interval *iv;
	size_t niv;
};

static volatile sig_atomic_t g_stop, g_ack_off, g_ack_on;
static struct device g_dev[MAX_DEVICES];
static int g_ndev;
static int g_acking = 1, g_epoch_column;
static uint64_t g_ack_extra;
static FILE *g_out, *g_trips;
static struct odo_record g_recs[ODO_WIRE_MAX_RECORDS];
static uint64_t g_batches, g_records, g_bad, g_acks_sent;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		g_ack_off = 1;
	else if (sig == SIGUSR2)
		g_ack_on = 1;
	else
		g_stop = 1;
}

static struct device *device_get(const char *id, uint64_t epoch)
{
	for (int i = 0; i < g_ndev; i++)
		if (strcmp(g_dev[i].id, id) == 0 && g_dev[i].epoch == epoch)
			return &g_dev[i];
	if (g_ndev == MAX_DEVICES)
		return NULL;
	struct device *d = &g_dev[g_ndev++];
	snprintf(d->id, sizeof(d->id), "%s", id);
	d->epoch = epoch;
	d->iv = calloc(MAX_INTERVALS, sizeof(*d->iv));
	if (!d->iv) {
		fprintf(stderr, "ack-sink: out of memory\n");
		exit(1);
	}
	return d;
}

/* Record [a, b] as complete and advance the contiguous ack. */
static void device_cover(struct device *d, uint64_t a, uint64_t b)
{
	if (b <= d->acked)
		return;
	if (a <= d->acked + 1) {
		d->acked = b;
	} else if (d->niv < MAX_INTERVALS) {
		d->iv[d->niv].a = a;
		d->iv[d->niv].b = b;
		d->niv++;
	}
	int moved = 1;
	while (moved) {
		moved = 0;
		for (size_t i = 0; i < d->niv; i++) {
			if (d->iv[i].a <= d->acked + 1) {
				if (d->iv[i].b > d->acked)
					d->acked = d->iv[i].b;
				d->iv[i] = d->iv[--d->niv];
				moved = 1;
				break;
			}
		}
	}
}

static void send_ack(struct mosquitto *m, struct device *d)
{
	if (!g_acking || d->acked == 0)
		return;
	struct odo_ack a;
	memset(&a, 0, sizeof(a));
	snprintf(a.device, sizeof(a.device), "%s", d->id);
	a.v = d->v;
	a.epoch = d->epoch;
	a.ack = d->acked + g_ack_extra;
	uint8_t buf[256];
	size_t len = 0;
	if (odo_wire_encode_ack(&a, buf, sizeof(buf), &len) != ODO_OK) {
		fprintf(stderr, "ack-sink: cannot encode ack\n");
		return;
	}
	char topic[128];
	snprintf(topic, sizeof(topic), "odo/v1/%s/ack", d->id);
	if (mosquitto_publish_v5(m, NULL, topic, (int)len, buf, 1, false, NULL) == MOSQ_ERR_SUCCESS)
		g_acks_sent++;
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	(void)obj;
	(void)props;
	struct odo_batch b = { .recs = g_recs, .cap = ODO_WIRE_MAX_RECORDS };
	struct odo_wire_error err;
	/* strict (no room for refused records): the agent sends none */
	if (msg->payloadlen < 0 ||
	    odo_wire_decode_batch(msg->payload, (size_t)msg->payloadlen, NULL, &b, &err) != ODO_OK) {
		g_bad++;
		fprintf(stderr, "ack-sink: bad batch on %s: %s\n", msg->topic, err.msg);
		return;
	}
	/* The topic's device level must match the batch's device. */
	char want[128];
	snprintf(want, sizeof(want), "odo/v1/%s/up", b.device);
	if (strcmp(want, msg->topic) != 0) {
		g_bad++;
		fprintf(stderr, "ack-sink: batch for %s on %s ignored\n", b.device, msg->topic);
		return;
	}
	struct device *d = device_get(b.device, b.epoch);
	if (!d)
		return;
	d->v = b.v;
	if (b.floor > d->acked) {
		fprintf(stderr, "ack-sink: %s epoch %016" PRIx64 ": acked floor %" PRIu64 " above %" PRIu64 "\n", d->id,
			d->epoch, b.floor, d->acked);
		d->acked = b.floor;
	}
	for (size_t i = 0; i < b.n; i++) {
		const struct odo_record *r = &b.recs[i];
		uint64_t tag = 0;
		if (r->kind == ODO_REC_SAMPLE)
			tag = r->u.sample.trip_id;
		else if (r->kind == ODO_REC_EVENT)
			tag = r->u.event.trip_id;
		else if (r->kind == ODO_REC_TRIP_START)
			tag = r->u.trip_start.trip_id;
		else if (r->kind == ODO_REC_TRIP_END)
			tag = r->u.trip_end.trip_id;
		fprintf(g_out, "%s %" PRIu64 " %u %" PRIu64 " %" PRId64, b.device, r->seq, r->kind, tag, r->t_ms);
		if (g_epoch_column)
			fprintf(g_out, " %016" PRIx64, b.epoch);
		fputc('\n', g_out);
		if (g_trips && (r->kind == ODO_REC_TRIP_START || r->kind == ODO_REC_TRIP_END))
			fprintf(g_trips, "%s %016" PRIx64 " %u %" PRIu64 " %" PRIu64 " %d\n", b.device, b.epoch, r->kind,
				tag, r->seq, r->kind == ODO_REC_TRIP_END ? (int)r->u.trip_end.end_reason : -1);
	}
	/* Durable before acknowledging, like the collector's COMMIT. */
	if (fflush(g_out) != 0 || fdatasync(fileno(g_out)) != 0 || (g_trips && fflush(g_trips) != 0)) {
		fprintf(stderr, "ack-sink: cannot write: %s\n", strerror(errno));
		exit(1);
	}
	g_batches++;
	g_records += b.n;
	device_cover(d, b.seq, b.last_seq);
	send_ack(m, d);
}

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags, const mosquitto_property *props)
{
	(void)obj;
	(void)flags;
	(void)props;
	if (rc != 0) {
		fprintf(stderr, "ack-sink: connect refused: %s\n", mosquitto_reason_string(rc));
		return;
	}
	mosquitto_subscribe_v5(m, NULL, "odo/v1/+/up", 1, 0, NULL);
	fprintf(stderr, "ack-sink: connected\n");
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *cafile = NULL, *cert = NULL, *key = NULL, *out = NULL, *trips = NULL;
	const char *id = "odo-collector-sink";
	int port = 0;
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'h' }, { "port", required_argument, NULL, 'p' },
		{ "cafile", required_argument, NULL, 'c' }, { "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'k' },    { "out", required_argument, NULL, 'o' },
		{ "id", required_argument, NULL, 'i' },     { "epoch-column", no_argument, NULL, 'E' },
		{ "ack-extra", required_argument, NULL, 'x' }, { "trips", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'h': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'c': cafile = optarg; break;
		case 'C': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'o': out = optarg; break;
		case 'i': id = optarg; break;
		case 'E': g_epoch_column = 1; break;
		case 'x': g_ack_extra = strtoull(optarg, NULL, 10); break;
		case 't': trips = optarg; break;
		default: return 2;
		}
	}
	if (!port || !cafile || !cert || !key || !out) {
		fprintf(stderr, "usage: ack-sink --port P --cafile F --cert F --key F --out FILE [--host H] [--id ID]"
				" [--epoch-column] [--ack-extra N] [--trips FILE]\n");
		return 2;
	}
	g_out = fopen(out, "a");
	if (!g_out) {
		fprintf(stderr, "ack-sink: %s: %s\n", out, strerror(errno));
		return 1;
	}
	if (trips && !(g_trips = fopen(trips, "a"))) {
		fprintf(stderr, "ack-sink: %s: %s\n", trips, strerror(errno));
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	mosquitto_lib_init();
	struct mosquitto *m = mosquitto_new(id, false, NULL);
	if (!m)
		return 1;
	mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	if (mosquitto_tls_set(m, cafile, NULL, cert, key, NULL) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "ack-sink: TLS files unusable\n");
		return 1;
	}
	mosquitto_connect_v5_callback_set(m, on_connect);
	mosquitto_message_v5_callback_set(m, on_message);
	/* A persistent session: batches published while we are away wait for us. */
	mosquitto_property *props = NULL;
	mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 3600);
	int rc;
	while ((rc = mosquitto_connect_bind_v5(m, host, port, 30, NULL, props)) != MOSQ_ERR_SUCCESS && !g_stop) {
		fprintf(stderr, "ack-sink: connect: %s\n", mosquitto_strerror(rc));
		usleep(200 * 1000);
	}
	while (!g_stop) {
		if (g_ack_off) {
			g_ack_off = 0;
			g_acking = 0;
			fprintf(stderr, "ack-sink: acknowledgements off\n");
		}
		if (g_ack_on) {
			g_ack_on = 0;
			g_acking = 1;
			fprintf(stderr, "ack-sink: acknowledgements on\n");
			for (int i = 0; i < g_ndev; i++)
				send_ack(m, &g_dev[i]);
		}
		rc = mosquitto_loop(m, 100, 1);
		if (rc != MOSQ_ERR_SUCCESS && !g_stop) {
			usleep(200 * 1000);
			rc = mosquitto_connect_bind_v5(m, host, port, 30, NULL, props);
			if (rc != MOSQ_ERR_SUCCESS)
				fprintf(stderr, "ack-sink: reconnect: %s\n", mosquitto_strerror(rc));
		}
	}
	fprintf(stderr, "ack-sink: %" PRIu64 " batches, %" PRIu64 " records, %" PRIu64 " bad, %" PRIu64 " acks sent\n",
		g_batches, g_records, g_bad, g_acks_sent);
	for (int i = 0; i < g_ndev; i++)
		fprintf(stderr, "ack-sink: %s epoch %016" PRIx64 " acked %" PRIu64 "\n", g_dev[i].id, g_dev[i].epoch,
			g_dev[i].acked);
	mosquitto_disconnect(m);
	mosquitto_destroy(m);
	mosquitto_property_free_all(&props);
	fclose(g_out);
	if (g_trips)
		fclose(g_trips);
	mosquitto_lib_cleanup();
	return 0;
}
