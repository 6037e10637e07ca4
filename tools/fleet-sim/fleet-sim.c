/*
 * odo-fleet-sim — N simulated vehicles, each with its own device
 * certificate, publishing realistic odo wire batches (trips: 1 Hz samples,
 * driving events, trip summaries, DTC and status records) over MQTT v5/TLS,
 * and collecting the collector's acks.
 *
 *   odo-fleet-sim --port P --pki DIR --devices N --batches B --records R
 *                 [--prefix dev-] [--first K] [--rate MSGS_PER_S] [--host H] [--dup] [--gap K] [--window W]
 *                 [--wait-acks SECONDS] [--start-seq S] [--t0-ms MS] [--ack-log FILE] [--epoch E]
 *                 [--emit FILE]
 *   odo-fleet-sim --encode-only FILE --device D [--payload-device X] ...
 *
 * Batches are wire version 2 with epoch E (default 1; every simulated
 * vehicle's outbox has that epoch) and acked floor min(last ack, range
 * start - 1); acks for another epoch are ignored.
 *
 * Prints "ack <device> <n>" per device at the end and a summary line
 * "published <msgs> messages <records> records in <s> s"; with --wait-acks
 * exits 0 only when every device's ack reached its last sequence number.
 * --ack-log FILE appends "<device> <ack>" for every ack as it arrives (a test
 * can watch it while the device is connected: a second connection with the
 * same certificate would replace this one, the broker binds the client id).
 * --emit FILE appends "<device> <epoch> <seq> <kind> <t_ms> <trip> <t1_ms>" for
 * every record as it is built (trip 0 for records outside a trip; t1_ms the
 * end of the trip for a trip end, else 0): the ground truth
 * of what was sent, for tests that account for every record (the lifecycle
 * soak).
 */
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "odo/wire.h"

#define SIM_PATH_MAX 512
#define SIM_MAX_DEVICES 4096
#define SIM_TOPIC_MAX 128
#define SIM_TRIP_SAMPLES 120 /* 1 Hz samples per simulated trip */

struct opts {
	const char *host, *pki, *prefix, *encode_only, *device, *payload_device, *ack_log, *emit;
	int port, first, rate, devices, batches, records, dup, gap, window, wait_acks;
	uint64_t start_seq, epoch;
	int64_t t0_ms;
};

struct vehicle {
	char id[ODO_DEVICE_ID_MAX + 1];
	struct mosquitto *mosq;
	int connected, subscribed;
	uint64_t next_seq, last_seq, ack;
	int sent_batches, inflight;
	/* trip state */
	uint64_t trip_id;
	int in_trip, trip_samples;
	int64_t t_ms, trip_start_ms;
	double lat, lon, heading, speed, dist;
	uint32_t brakes, accels;
	unsigned rng;
};

static struct opts O;
static FILE *ack_log, *emit;
static uint8_t buf[ODO_WIRE_MAX_MESSAGE];
static struct odo_record recs[ODO_WIRE_MAX_RECORDS];

static double rnd(struct vehicle *v)
{
	v->rng = v->rng * 1103515245u + 12345u;
	return (double)((v->rng >> 8) & 0xFFFFFF) / 16777216.0;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Next record of a vehicle's life: trips of SIM_TRIP_SAMPLES samples with events. */
static void next_record(struct vehicle *v, struct odo_record *r)
{
	if (!v->in_trip) {
		odo_record_init(r, ODO_REC_TRIP_START);
		v->in_trip = 1;
		v->trip_id++;
		v->trip_samples = 0;
		v->trip_start_ms = v->t_ms;
		v->dist = 0;
		v->brakes = v->accels = 0;
		r->u.trip_start.trip_id = v->trip_id;
		r->u.trip_start.lat = v->lat;
		r->u.trip_start.lon = v->lon;
	} else if (v->trip_samples >= SIM_TRIP_SAMPLES) {
		odo_record_init(r, ODO_REC_TRIP_END);
		struct odo_rec_trip_end *e = &r->u.trip_end;
		v->in_trip = 0;
		e->trip_id = v->trip_id;
		e->start_ms = v->trip_start_ms;
		e->end_ms = v->t_ms;
		e->distance_m = v->dist;
		e->duration_s = (double)(v->t_ms - v->trip_start_ms) / 1000;
		e->moving_s = e->duration_s * 0.9;
		e->idle_s = e->duration_s - e->moving_s;
		e->avg_speed_mps = e->moving_s > 0 ? v->dist / e->moving_s : 0;
		e->max_speed_mps = e->avg_speed_mps * 1.4;
		e->avg_rpm = 1800;
		e->night_m = 0;
		e->late_night_weekend_m = 0;
		e->rush_hour_m = v->dist * 0.3;
		e->heavy_traffic_m = v->dist * 0.1;
		e->screen_on_s = 12;
		e->handheld_call_s = 0;
		e->hard_brakes = v->brakes;
		e->rapid_accels = v->accels;
		e->mean_abs_jerk = 0.8;
		e->gps_accuracy_m = 4.5;
		v->t_ms += 3600 * 1000; /* parked for an hour */
	} else if (rnd(v) < 0.01) {
		odo_record_init(r, ODO_REC_EVENT);
		struct odo_rec_event *e = &r->u.event;
		int brake = rnd(v) < 0.5;
		e->trip_id = v->trip_id;
		e->kind = brake ? ODO_EV_HARD_BRAKE : ODO_EV_RAPID_ACCEL;
		e->source = ODO_EVSRC_ACCEL;
		e->duration_ms = 800;
		e->peak_g = brake ? -0.45 : 0.38;
		e->mean_g = brake ? -0.32 : 0.3;
		e->speed_before_mps = v->speed;
		e->speed_after_mps = brake ? v->speed * 0.6 : v->speed * 1.3;
		e->lat = v->lat;
		e->lon = v->lon;
		e->heading_deg = v->heading;
		if (brake)
			v->brakes++;
		else
			v->accels++;
	} else if (rnd(v) < 0.002) {
		odo_record_init(r, ODO_REC_STATUS);
		r->u.status.uptime_s = (uint64_t)(v->t_ms / 1000 % 100000);
		r->u.status.fix = ODO_FIX_3D;
	} else {
		odo_record_init(r, ODO_REC_SAMPLE);
		struct odo_rec_sample *s = &r->u.sample;
		v->speed += (rnd(v) - 0.5) * 1.5;
		if (v->speed < 0)
			v->speed = 0;
		if (v->speed > 35)
			v->speed = 35;
		v->heading = fmod(v->heading + (rnd(v) - 0.5) * 6 + 360, 360);
		double d = v->speed; /* 1 s */
		v->dist += d;
		v->lat += d * cos(v->heading * M_PI / 180) / 111320.0;
		v->lon += d * sin(v->heading * M_PI / 180) / (111320.0 * cos(v->lat * M_PI / 180));
		s->trip_id = v->trip_id;
		s->fix = ODO_FIX_3D;
		s->lat = v->lat;
		s->lon = v->lon;
		s->speed_mps = v->speed;
		s->heading_deg = v->heading;
		s->eph_m = 4.5;
		s->rpm = 900 + v->speed * 70;
		s->obd_speed_mps = v->speed;
		s->ax_g = (rnd(v) - 0.5) * 0.2;
		s->ay_g = (rnd(v) - 0.5) * 0.2;
		v->trip_samples++;
	}
	r->t_ms = v->t_ms;
	r->tsrc = ODO_TSRC_GPS;
	v->t_ms += 1000;
}

/* Encode the vehicle's next batch into buf. The range starts at next_seq;
 * with --gap, the first `gap` numbers of every 3rd batch are "evicted". */
static int make_batch(struct vehicle *v, const char *payload_dev, size_t *len)
{
	uint64_t start = v->next_seq;
	uint64_t s = start;
	if (O.gap && v->sent_batches % 3 == 1)
		s += (uint64_t)O.gap;
	for (int i = 0; i < O.records; i++) {
		next_record(v, &recs[i]);
		recs[i].seq = s++;
	}
	v->next_seq = s;
	v->last_seq = s - 1;
	for (int i = 0; emit && i < O.records; i++) {
		const struct odo_record *r = &recs[i];
		uint64_t trip = r->kind == ODO_REC_TRIP_START ? r->u.trip_start.trip_id
				: r->kind == ODO_REC_TRIP_END ? r->u.trip_end.trip_id
				: r->kind == ODO_REC_EVENT    ? r->u.event.trip_id
				: r->kind == ODO_REC_SAMPLE   ? r->u.sample.trip_id
							      : 0;
		fprintf(emit, "%s %llu %llu %s %lld %llu %lld\n", v->id, (unsigned long long)O.epoch,
			(unsigned long long)r->seq, odo_record_kind_name(r->kind), (long long)r->t_ms,
			(unsigned long long)trip,
			(long long)(r->kind == ODO_REC_TRIP_END ? r->u.trip_end.end_ms : 0));
	}
	if (emit)
		fflush(emit);
	uint64_t floor = v->ack < start ? v->ack : start - 1;
	int rc = odo_wire_encode_batch(payload_dev, O.epoch, floor, start, recs, (size_t)O.records, buf, sizeof buf,
				       len);
	if (rc) {
		fprintf(stderr, "fleet-sim: encode failed: %s\n", odo_strerror(rc));
		return -1;
	}
	return 0;
}

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags, const mosquitto_property *p)
{
	(void)flags, (void)p;
	struct vehicle *v = obj;
	if (rc) {
		fprintf(stderr, "fleet-sim: %s refused: %s\n", v->id, mosquitto_reason_string(rc));
		return;
	}
	char t[SIM_TOPIC_MAX];
	snprintf(t, sizeof t, "odo/v1/%s/ack", v->id);
	mosquitto_subscribe_v5(m, NULL, t, 1, 0, NULL);
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *q, const mosquitto_property *p)
{
	(void)m, (void)mid, (void)n, (void)q, (void)p;
	struct vehicle *v = obj;
	v->connected = 1;
	v->subscribed = 1;
}

static void on_publish(struct mosquitto *m, void *obj, int mid, int rc, const mosquitto_property *p)
{
	(void)m, (void)mid, (void)p;
	struct vehicle *v = obj;
	if (rc)
		fprintf(stderr, "fleet-sim: %s publish refused (reason %d)\n", v->id, rc);
	v->inflight--;
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg, const mosquitto_property *p)
{
	(void)m, (void)p;
	struct vehicle *v = obj;
	struct odo_ack a;
	struct odo_wire_error e;
	if (odo_wire_decode_ack(msg->payload, (size_t)msg->payloadlen, &a, &e) != ODO_OK) {
		fprintf(stderr, "fleet-sim: %s: bad ack: %s\n", v->id, e.msg);
		return;
	}
	if (strcmp(a.device, v->id) != 0) {
		fprintf(stderr, "fleet-sim: %s: ack for %s\n", v->id, a.device);
		return;
	}
	if (a.v != ODO_WIRE_VERSION || a.epoch != O.epoch) {
		fprintf(stderr, "fleet-sim: %s: ack %llu for version %u epoch %llu ignored (epoch %llu)\n", v->id,
			(unsigned long long)a.ack, (unsigned)a.v, (unsigned long long)a.epoch,
			(unsigned long long)O.epoch);
		return;
	}
	if (ack_log) {
		fprintf(ack_log, "%s %llu\n", v->id, (unsigned long long)a.ack);
		fflush(ack_log);
	}
	if (a.ack > v->ack)
		v->ack = a.ack;
}

static int setup(struct vehicle *v, int i)
{
	char ca[SIM_PATH_MAX], crt[SIM_PATH_MAX], key[SIM_PATH_MAX];
	snprintf(v->id, sizeof v->id, "%s%d", O.prefix, i + O.first);
	v->next_seq = O.start_seq;
	v->rng = 12345u + (unsigned)i * 7919u;
	v->lat = 52.52 + (i % 50) * 0.01;
	v->lon = 13.40 + (i / 50) * 0.01;
	v->speed = 12;
	v->t_ms = O.t0_ms + (int64_t)i * 1000;
	v->trip_id = (O.start_seq - 1) * 1000; /* distinct trips across runs with different start seqs */
	snprintf(ca, sizeof ca, "%s/ca.crt", O.pki);
	snprintf(crt, sizeof crt, "%s/devices/%s.crt", O.pki, v->id);
	snprintf(key, sizeof key, "%s/devices/%s.key", O.pki, v->id);
	v->mosq = mosquitto_new(v->id, true, v);
	if (!v->mosq)
		return -1;
	mosquitto_int_option(v->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	if (mosquitto_tls_set(v->mosq, ca, NULL, crt, key, NULL) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "fleet-sim: TLS files for %s not usable (%s)\n", v->id, crt);
		return -1;
	}
	mosquitto_connect_v5_callback_set(v->mosq, on_connect);
	mosquitto_subscribe_v5_callback_set(v->mosq, on_subscribe);
	mosquitto_publish_v5_callback_set(v->mosq, on_publish);
	mosquitto_message_v5_callback_set(v->mosq, on_message);
	int rc = mosquitto_connect_bind_v5(v->mosq, O.host, O.port, 30, NULL, NULL);
	if (rc) {
		fprintf(stderr, "fleet-sim: %s cannot connect: %s\n", v->id, mosquitto_strerror(rc));
		return -1;
	}
	return 0;
}

static void service_all(struct vehicle *vs, int n, int timeout)
{
	struct pollfd p[SIM_MAX_DEVICES];
	for (int i = 0; i < n; i++) {
		p[i].fd = mosquitto_socket(vs[i].mosq);
		p[i].events = POLLIN | (mosquitto_want_write(vs[i].mosq) ? POLLOUT : 0);
		p[i].revents = 0;
	}
	poll(p, (nfds_t)n, timeout);
	for (int i = 0; i < n; i++) {
		if (p[i].revents & (POLLIN | POLLERR | POLLHUP))
			mosquitto_loop_read(vs[i].mosq, 1);
		if (mosquitto_want_write(vs[i].mosq))
			mosquitto_loop_write(vs[i].mosq, 1);
		mosquitto_loop_misc(vs[i].mosq);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: odo-fleet-sim --port P --pki DIR --devices N --batches B --records R [--prefix dev-] [--first K] [--rate M]\n"
			"       [--host H] [--dup] [--gap K] [--window W] [--wait-acks S] [--start-seq S] [--t0-ms MS] [--ack-log FILE]\n"
			"       [--epoch E] [--emit FILE]\n"
			"       odo-fleet-sim --encode-only FILE --device D [--payload-device X] [--records R] [--start-seq S]\n");
}

int main(int argc, char **argv)
{
	O = (struct opts){ .host = "127.0.0.1", .prefix = "dev-", .devices = 1, .batches = 1, .records = 100, .first = 1,
			   .window = 20, .start_seq = 1, .epoch = 1, .t0_ms = 1793491200000LL /* 2026-11-01T00:00Z */ };
	static const struct option lo[] = {
		{ "host", 1, NULL, 'H' }, { "port", 1, NULL, 'p' }, { "pki", 1, NULL, 'k' },
		{ "devices", 1, NULL, 'n' }, { "batches", 1, NULL, 'b' }, { "records", 1, NULL, 'r' },
		{ "prefix", 1, NULL, 'P' }, { "dup", 0, NULL, 'd' }, { "gap", 1, NULL, 'g' },
		{ "window", 1, NULL, 'w' }, { "wait-acks", 1, NULL, 'a' }, { "start-seq", 1, NULL, 's' },
		{ "t0-ms", 1, NULL, 't' }, { "encode-only", 1, NULL, 'e' }, { "device", 1, NULL, 'D' },
		{ "payload-device", 1, NULL, 'X' }, { "first", 1, NULL, 'f' }, { "rate", 1, NULL, 'R' },
		{ "ack-log", 1, NULL, 'L' }, { "epoch", 1, NULL, 'E' }, { "emit", 1, NULL, 'M' }, { NULL, 0, NULL, 0 },
	};
	int o;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'H': O.host = optarg; break;
		case 'p': O.port = atoi(optarg); break;
		case 'k': O.pki = optarg; break;
		case 'n': O.devices = atoi(optarg); break;
		case 'b': O.batches = atoi(optarg); break;
		case 'r': O.records = atoi(optarg); break;
		case 'P': O.prefix = optarg; break;
		case 'd': O.dup = 1; break;
		case 'g': O.gap = atoi(optarg); break;
		case 'w': O.window = atoi(optarg); break;
		case 'a': O.wait_acks = atoi(optarg); break;
		case 's': O.start_seq = strtoull(optarg, NULL, 10); break;
		case 't': O.t0_ms = strtoll(optarg, NULL, 10); break;
		case 'e': O.encode_only = optarg; break;
		case 'D': O.device = optarg; break;
		case 'X': O.payload_device = optarg; break;
		case 'f': O.first = atoi(optarg); break;
		case 'R': O.rate = atoi(optarg); break;
		case 'L': O.ack_log = optarg; break;
		case 'E': O.epoch = strtoull(optarg, NULL, 10); break;
		case 'M': O.emit = optarg; break;
		default: usage(); return 2;
		}
	}
	if (O.records < 1 || O.records > ODO_WIRE_MAX_RECORDS || O.start_seq < 1 || O.window < 1 ||
	    O.epoch > (uint64_t)INT64_MAX) {
		usage();
		return 2;
	}
	if (O.ack_log && !(ack_log = fopen(O.ack_log, "a"))) {
		perror(O.ack_log);
		return 2;
	}
	if (O.emit && !(emit = fopen(O.emit, "a"))) {
		perror(O.emit);
		return 2;
	}
	if (O.encode_only) {
		static struct vehicle v;
		if (!O.device) {
			usage();
			return 2;
		}
		snprintf(v.id, sizeof v.id, "%s", O.device);
		v.next_seq = O.start_seq;
		v.trip_id = (O.start_seq - 1) * 1000;
		v.rng = 1;
		v.lat = 52.5, v.lon = 13.4, v.speed = 10, v.t_ms = O.t0_ms;
		size_t len;
		if (make_batch(&v, O.payload_device ? O.payload_device : O.device, &len))
			return 1;
		FILE *f = fopen(O.encode_only, "wb");
		if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
			perror(O.encode_only);
			return 1;
		}
		printf("last_seq %llu\n", (unsigned long long)v.last_seq);
		/* the samples as sent, for tests to compare with what was stored */
		for (int i = 0; i < O.records; i++)
			if (recs[i].kind == ODO_REC_SAMPLE)
				printf("sample %llu %lld %.17g %.17g %.17g %.17g %.17g %.17g %.17g\n",
				       (unsigned long long)recs[i].seq, (long long)recs[i].t_ms, recs[i].u.sample.lat,
				       recs[i].u.sample.lon, recs[i].u.sample.speed_mps, recs[i].u.sample.heading_deg,
				       recs[i].u.sample.rpm, recs[i].u.sample.ax_g, recs[i].u.sample.ay_g);
		return 0;
	}
	if (!O.pki || !O.port || O.devices < 1 || O.devices > SIM_MAX_DEVICES) {
		usage();
		return 2;
	}
	mosquitto_lib_init();
	struct vehicle *vs = calloc((size_t)O.devices, sizeof *vs);
	if (!vs)
		return 1;
	for (int i = 0; i < O.devices; i++)
		if (setup(&vs[i], i))
			return 1;
	int64_t t_start = now_ms(), deadline = t_start + 30000;
	for (;;) { /* all connected and subscribed to their acks */
		int ready = 0;
		for (int i = 0; i < O.devices; i++)
			ready += vs[i].subscribed;
		if (ready == O.devices)
			break;
		if (now_ms() > deadline) {
			fprintf(stderr, "fleet-sim: only %d of %d devices connected\n", ready, O.devices);
			return 1;
		}
		service_all(vs, O.devices, 50);
	}
	printf("connected %d devices in %.3f s\n", O.devices, (double)(now_ms() - t_start) / 1000);
	fflush(stdout);
	t_start = now_ms();
	long long msgs = 0, nrec = 0;
	int copies = O.dup ? 2 : 1;
	int next = 0; /* the vehicle whose turn it is */
	for (;;) {
		int active = 0, sent = 1;
		/* Round robin: one batch per vehicle per turn, so that under --rate
		 * every vehicle keeps publishing for the whole run. */
		while (sent) {
			sent = 0;
			for (int j = 0; j < O.devices; j++) {
				int i = (next + j) % O.devices;
				struct vehicle *v = &vs[i];
				if (v->sent_batches >= O.batches || v->inflight + copies > O.window ||
				    (O.rate && msgs >= (long long)O.rate * (now_ms() - t_start) / 1000))
					continue;
				size_t len;
				if (make_batch(v, v->id, &len))
					return 1;
				char t[SIM_TOPIC_MAX];
				snprintf(t, sizeof t, "odo/v1/%s/up", v->id);
				for (int c = 0; c < copies; c++) {
					int rc = mosquitto_publish_v5(v->mosq, NULL, t, (int)len, buf, 1, false, NULL);
					if (rc) {
						fprintf(stderr, "fleet-sim: publish: %s\n", mosquitto_strerror(rc));
						return 1;
					}
					v->inflight++;
					msgs++;
				}
				nrec += O.records;
				v->sent_batches++;
				sent = 1;
				next = (i + 1) % O.devices;
				break;
			}
		}
		for (int i = 0; i < O.devices; i++)
			if (vs[i].sent_batches < O.batches || vs[i].inflight > 0)
				active = 1;
		if (!active)
			break;
		service_all(vs, O.devices, 10);
	}
	int64_t t_pub = now_ms();
	int all = 1;
	if (O.wait_acks) {
		deadline = now_ms() + (int64_t)O.wait_acks * 1000;
		for (;;) {
			all = 1;
			for (int i = 0; i < O.devices; i++)
				if (vs[i].ack < vs[i].last_seq)
					all = 0;
			if (all || now_ms() > deadline)
				break;
			service_all(vs, O.devices, 50);
		}
	}
	int64_t t_end = now_ms();
	for (int i = 0; i < O.devices; i++)
		printf("ack %s %llu last %llu\n", vs[i].id, (unsigned long long)vs[i].ack,
		       (unsigned long long)vs[i].last_seq);
	printf("published %lld messages %lld records in %.3f s; all acked after %.3f s: %s\n", msgs, nrec,
	       (double)(t_pub - t_start) / 1000, (double)(t_end - t_start) / 1000, all ? "yes" : "no");
	for (int i = 0; i < O.devices; i++) {
		mosquitto_disconnect_v5(vs[i].mosq, 0, NULL);
		mosquitto_loop_write(vs[i].mosq, 1);
		mosquitto_destroy(vs[i].mosq);
	}
	free(vs);
	mosquitto_lib_cleanup();
	return O.wait_acks && !all ? 1 : 0;
}
