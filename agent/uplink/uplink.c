/*
 * odo-agent — MQTT v5/TLS uplink driven from the poll loop. See uplink.h.
 */
#include "uplink/uplink.h"
#include "uplink/uplink_int.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "odo/files.h"
#include "odo/log.h"

#define AREA "uplink"
/* How often loop_misc() runs while connected (keepalive pings, retries). */
#define MISC_PERIOD_NS (1 * ODO_NS_PER_S)
/* Upper bound on batches published in one pump, so one call stays short. */
#define PUMP_MAX_BATCHES 8
#define BACKOFF_MAX_SHIFT 30

/* Keys that odo_uplink_reload() applies at run time (SIGHUP). */
#define RELOAD_I(k, f, d, lo, hi, h)                                                                  \
	{ .key = (k), .type = ODO_CFG_INT, .offset = offsetof(struct odo_uplink_cfg, f), .def = (d), \
	  .min = (lo), .max = (hi), .help = (h), .reloadable = 1 }
#define RELOAD_D(k, f, d, lo, hi, h)                                                                     \
	{ .key = (k), .type = ODO_CFG_DOUBLE, .offset = offsetof(struct odo_uplink_cfg, f), .def = (d), \
	  .min = (lo), .max = (hi), .help = (h), .reloadable = 1 }

const struct odo_cfg_key odo_uplink_cfg_keys[] = {
	ODO_CFG_S("host", struct odo_uplink_cfg, host, "127.0.0.1", "broker address (an IP avoids blocking name resolution)"),
	ODO_CFG_I("port", struct odo_uplink_cfg, port, "8883", 1, 65535, "broker TLS port"),
	ODO_CFG_S("device_id", struct odo_uplink_cfg, device_id, "", "device id: MQTT client id and topic level, must match the certificate's CN"),
	ODO_CFG_S("cafile", struct odo_uplink_cfg, cafile, "/etc/odo/ca.crt", "CA certificate the broker's certificate must chain to"),
	ODO_CFG_S("certfile", struct odo_uplink_cfg, certfile, "/etc/odo/device.crt", "this device's client certificate"),
	ODO_CFG_S("keyfile", struct odo_uplink_cfg, keyfile, "/etc/odo/device.key", "this device's private key"),
	{ .key = "keypass_file", .type = ODO_CFG_STR, .offset = offsetof(struct odo_uplink_cfg, keypass_file),
	  .size = sizeof(((struct odo_uplink_cfg *)0)->keypass_file), .def = "", .min = 1, .max = 0,
	  .help = "file holding the key's passphrase; empty: unencrypted key or $ODO_KEY_PASSPHRASE" },
	ODO_CFG_I("keepalive", struct odo_uplink_cfg, keepalive, "30", 5, 3600, "MQTT keepalive, seconds"),
	RELOAD_D("ack_timeout", ack_timeout, "30", 0.1, 86400, "seconds to wait for the collector's ack before resending"),
	RELOAD_D("nosub_retry", nosub_retry, "2", 0, 86400,
		 "seconds before resending when the broker says no collector received a batch (MQTT 5 PUBACK 0x10: "
		 "the collectors are restarting); doubles while it lasts, at most ack_timeout; 0 = wait ack_timeout"),
	RELOAD_D("connect_timeout", connect_timeout, "15", 0.1, 600, "seconds from connect attempt to CONNACK"),
	RELOAD_I("max_inflight", max_inflight, "8", 1, ODO_UPLINK_MAX_INFLIGHT, "batches out without an end-to-end ack"),
	RELOAD_I("max_batch_records", max_batch_records, "256", 1, ODO_WIRE_MAX_RECORDS, "records per batch"),
	RELOAD_I("max_batch_bytes", max_batch_bytes, "65536", 4096, ODO_STORE_BATCH_BYTES_MAX, "CBOR bytes of records per batch"),
	RELOAD_D("backoff_min", backoff_min, "1", 0.01, 3600, "first reconnect delay, seconds (doubles per failure, with jitter)"),
	RELOAD_D("backoff_max", backoff_max, "300", 0.01, 86400, "longest reconnect delay, seconds"),
	RELOAD_I("fresh_every", fresh_every, "4", 0, 1000, "one batch in N carries the newest records during a backlog; 0 = strictly oldest first"),
	ODO_CFG_I("jitter_seed", struct odo_uplink_cfg, jitter_seed, "0", 0, 9.2e18, "seed of the backoff jitter; 0 = from the device id and the clock"),
};
const size_t odo_uplink_cfg_nkeys = ODO_ARRAY_LEN(odo_uplink_cfg_keys);

struct sent_batch {
	uint64_t first, last;
	int64_t sent_ns;
	int mid;
	int puback;
	int oldest;         /* oldest lane (else crash-first / live lane) */
	uint64_t range;     /* the batch's range start */
	int64_t ackable_ns; /* since when the ack could cover it (range <= acked + 1); 0 = not yet */
};

/* Window: up to max_inflight batches per lane (oldest, priority). */
#define WINDOW_MAX (2 * ODO_UPLINK_MAX_INFLIGHT + 1)

struct odo_uplink {
	struct odo_uplink_cfg cfg;
	const struct odo_clock *clock;
	struct odo_store *store;
	struct mosquitto *m;

	int state;
	int tcp_pending;   /* non-blocking connect under way: poll for POLLOUT */
	int ever_connected;
	int64_t next_attempt_ns, attempt_started_ns, next_misc_ns;
	unsigned attempt;  /* consecutive failures, for the backoff */
	uint64_t prng;
	uint64_t batch_no; /* batches picked, for the fresh lane */
	uint64_t acked;    /* highest ack applied (store's, at open) */
	int64_t nosub_ns;  /* resend the window then: a batch reached no collector (0 = none) */
	unsigned nosub_n;  /* such refusals since the last ack, for the doubling */

	struct sent_batch win[WINDOW_MAX];
	int nwin;

	char topic_up[ODO_UPLINK_TOPIC_MAX];
	char topic_ack[ODO_UPLINK_TOPIC_MAX];
	char keypass[ODO_UPLINK_SECRET_MAX];
	int have_keypass;
	struct odo_uplink_stats st;
	uint8_t msg[ODO_WIRE_MAX_MESSAGE];
};

/* splitmix64: small, seedable, good enough for jitter. */
static uint64_t prng_next(struct odo_uplink *u)
{
	uint64_t z = (u->prng += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static int64_t now_ns(const struct odo_uplink *u)
{
	return odo_clock_mono_ns(u->clock);
}

/* Exponential backoff with "equal jitter": half fixed, half random. */
static void schedule_retry(struct odo_uplink *u)
{
	double base = u->cfg.backoff_min;
	unsigned shift = u->attempt < BACKOFF_MAX_SHIFT ? u->attempt : BACKOFF_MAX_SHIFT;
	for (unsigned i = 0; i < shift && base < u->cfg.backoff_max; i++)
		base *= 2.0;
	if (base > u->cfg.backoff_max)
		base = u->cfg.backoff_max;
	double frac = (double)(prng_next(u) >> 11) / 9007199254740992.0; /* [0,1) */
	double delay = base * (0.5 + 0.5 * frac);
	u->attempt++;
	u->state = ODO_UPLINK_DOWN;
	u->tcp_pending = 0;
	u->next_attempt_ns = now_ns(u) + (int64_t)(delay * (double)ODO_NS_PER_S);
	u->st.next_attempt_ns = u->next_attempt_ns;
	ODO_LOG(INFO, AREA, "next connect attempt in %.2f s", delay);
}

static void requeue_range(struct odo_uplink *u, uint64_t first, uint64_t last)
{
	if (odo_store_requeue(u->store, first, last) != ODO_OK)
		ODO_LOG(WARN, AREA, "cannot requeue %" PRIu64 "..%" PRIu64, first, last);
}

/* Everything out goes back to unsent: it is resent on the next link. */
static void requeue_window(struct odo_uplink *u)
{
	if (odo_store_requeue(u->store, 0, UINT64_MAX) != ODO_OK)
		ODO_LOG(WARN, AREA, "cannot requeue records in flight");
	u->nwin = 0;
	u->st.inflight = 0;
	u->nosub_ns = 0;
}

static void link_lost(struct odo_uplink *u, const char *why)
{
	if (u->state == ODO_UPLINK_UP) {
		u->st.disconnects++;
		ODO_LOG(WARN, AREA, "link to %s:%lld lost: %s", u->cfg.host, u->cfg.port, why);
	} else {
		u->st.connect_failures++;
		ODO_LOG(WARN, AREA, "cannot connect to %s:%lld: %s", u->cfg.host, u->cfg.port, why);
	}
	requeue_window(u);
	schedule_retry(u);
}

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags, const mosquitto_property *props)
{
	(void)flags;
	(void)props;
	struct odo_uplink *u = obj;
	if (rc != 0) {
		/* Refused (bad certificate, ACL, ...): the library closes the
		 * socket; make sure of it and back off. */
		ODO_LOG(ERROR, AREA, "broker refused the connection: %s", mosquitto_reason_string(rc));
		mosquitto_disconnect(m);
		link_lost(u, "refused");
		return;
	}
	u->state = ODO_UPLINK_UP;
	u->tcp_pending = 0;
	u->attempt = 0;
	u->st.connects++;
	if (u->ever_connected)
		u->st.reconnects++;
	u->ever_connected = 1;
	u->next_misc_ns = now_ns(u) + MISC_PERIOD_NS;
	ODO_LOG(INFO, AREA, "connected to %s:%lld", u->cfg.host, u->cfg.port);
	int src = mosquitto_subscribe_v5(m, NULL, u->topic_ack, 1, 0, NULL);
	if (src != MOSQ_ERR_SUCCESS)
		ODO_LOG(WARN, AREA, "subscribe %s: %s", u->topic_ack, mosquitto_strerror(src));
	/* Whatever was out before this link may not have arrived. */
	requeue_window(u);
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc, const mosquitto_property *props)
{
	(void)m;
	(void)props;
	struct odo_uplink *u = obj;
	if (u->state == ODO_UPLINK_DOWN)
		return; /* already handled (refused, timed out) */
	link_lost(u, rc == 0 ? "disconnected" : mosquitto_strerror(rc));
}

/* The broker took a batch but no collector was subscribed to receive it
 * (a restart of every collector, or the shared subscription not yet
 * renewed): no ack can come, so the window is resent soon rather than after
 * ack_timeout — nosub_retry, doubling while it lasts, at most ack_timeout. */
static void no_subscriber(struct odo_uplink *u, const struct sent_batch *b)
{
	u->st.no_subscribers++;
	if (u->nosub_ns || !(u->cfg.nosub_retry > 0))
		return;
	double d = u->cfg.nosub_retry * (double)(1u << (u->nosub_n < 16 ? u->nosub_n : 16));
	if (d > u->cfg.ack_timeout)
		d = u->cfg.ack_timeout;
	u->nosub_n++;
	u->nosub_ns = now_ns(u) + (int64_t)(d * (double)ODO_NS_PER_S);
	ODO_LOG(WARN, AREA, "batch %" PRIu64 "..%" PRIu64 " reached no collector (no matching subscribers): resending in %.1f s",
		b->first, b->last, d);
}

static void on_publish(struct mosquitto *m, void *obj, int mid, int rc, const mosquitto_property *props)
{
	(void)m;
	(void)props;
	struct odo_uplink *u = obj;
	for (int i = 0; i < u->nwin; i++) {
		if (u->win[i].mid == mid && !u->win[i].puback) {
			u->win[i].puback = 1;
			u->st.pubacks++;
			if (rc == MQTT_RC_NO_MATCHING_SUBSCRIBERS)
				no_subscriber(u, &u->win[i]);
			else if (rc != 0)
				ODO_LOG(WARN, AREA, "broker refused batch %" PRIu64 "..%" PRIu64 ": %s",
					u->win[i].first, u->win[i].last, mosquitto_reason_string(rc));
			break;
		}
	}
}

static void apply_ack(struct odo_uplink *u, uint64_t n)
{
	int rc = odo_store_ack(u->store, n);
	if (rc != ODO_OK) {
		/* odo_store_ack() deleted nothing (ODO_ERR_RANGE: beyond the outbox) */
		ODO_LOG(WARN, AREA, "cannot apply ack %" PRIu64 ": %s", n, odo_strerror(rc));
		return;
	}
	u->st.acks++;
	u->nosub_n = 0;
	if (n > u->st.last_ack)
		u->st.last_ack = n;
	if (n > u->acked)
		u->acked = n;
	int64_t now = now_ns(u);
	int j = 0;
	for (int i = 0; i < u->nwin; i++) {
		if (u->win[i].last <= n)
			continue;
		if (u->win[i].ackable_ns == 0 && u->win[i].range <= u->acked + 1)
			u->win[i].ackable_ns = now;
		u->win[j++] = u->win[i];
	}
	u->nwin = j;
	u->st.inflight = (uint64_t)j;
}

int uplink__handle_ack(struct odo_uplink *u, const uint8_t *payload, size_t len)
{
	struct odo_ack a;
	struct odo_wire_error werr;
	int rc = odo_wire_decode_ack(payload, len, &a, &werr);
	if (rc != ODO_OK) {
		u->st.bad_acks++;
		ODO_LOG(WARN, AREA, "bad ack on %s: %s", u->topic_ack, werr.msg);
		return rc;
	}
	if (strcmp(a.device, u->cfg.device_id) != 0) {
		u->st.bad_acks++;
		ODO_LOG(WARN, AREA, "ack for another device ignored");
		return ODO_ERR_INVAL;
	}
	/* Protocol errors: an ack that is not about this outbox deletes
	 * nothing (docs/store-and-forward.md, "Acknowledgement errors"). */
	uint64_t epoch = odo_store_epoch(u->store), last = odo_store_last_seq(u->store);
	if (a.v != ODO_WIRE_VERSION) {
		u->st.ack_errors++;
		ODO_LOG(WARN, AREA,
			"protocol error: a version %u ack (%" PRIu64 ") is not for this outbox (wire version %d, epoch "
			"%016" PRIx64 "): nothing deleted",
			(unsigned)a.v, a.ack, ODO_WIRE_VERSION, epoch);
		return ODO_ERR_PROTOCOL;
	}
	if (a.epoch != epoch) {
		u->st.ack_errors++;
		ODO_LOG(WARN, AREA,
			"protocol error: ack %" PRIu64 " is for epoch %016" PRIx64 ", this outbox's epoch is %016" PRIx64
			": nothing deleted",
			a.ack, a.epoch, epoch);
		return ODO_ERR_PROTOCOL;
	}
	if (a.ack > last) {
		u->st.ack_errors++;
		ODO_LOG(WARN, AREA,
			"protocol error: ack %" PRIu64 " is beyond %" PRIu64 ", the last sequence number this outbox (epoch "
			"%016" PRIx64 ") handed out: nothing deleted",
			a.ack, last, epoch);
		return ODO_ERR_PROTOCOL;
	}
	apply_ack(u, a.ack);
	return ODO_OK;
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	(void)m;
	(void)props;
	struct odo_uplink *u = obj;
	if (!msg->topic || strcmp(msg->topic, u->topic_ack) != 0 || msg->payloadlen < 0)
		return;
	int rc = uplink__handle_ack(u, msg->payload, (size_t)msg->payloadlen);
	(void)rc; /* logged and counted there */
}

static void on_log(struct mosquitto *m, void *obj, int level, const char *str)
{
	(void)m;
	(void)obj;
	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
		ODO_LOG(DEBUG, AREA, "libmosquitto: %s", str);
}

static int pw_callback(char *buf, int size, int rwflag, void *userdata)
{
	(void)rwflag;
	struct odo_uplink *u = userdata;
	int n = (int)strlen(u->keypass);
	if (n >= size)
		return 0;
	memcpy(buf, u->keypass, (size_t)n + 1);
	return n;
}

static void try_connect(struct odo_uplink *u)
{
	u->attempt_started_ns = now_ns(u);
	u->state = ODO_UPLINK_CONNECTING;
	u->tcp_pending = 1;
	ODO_LOG(DEBUG, AREA, "connecting to %s:%lld", u->cfg.host, u->cfg.port);
	int rc = mosquitto_connect_async(u->m, u->cfg.host, (int)u->cfg.port, (int)u->cfg.keepalive);
	if (rc != MOSQ_ERR_SUCCESS) {
		u->state = ODO_UPLINK_CONNECTING;
		link_lost(u, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
	}
}

/* Publish batches while the window has room and records wait. */
static void pump(struct odo_uplink *u)
{
	for (int k = 0; k < PUMP_MAX_BATCHES; k++) {
		if (u->state != ODO_UPLINK_UP || u->nwin >= WINDOW_MAX)
			return;
		if (odo_store_unsent(u->store) == 0)
			return;
		/* Two lanes of max_inflight batches each. The oldest lane is what
		 * the collector's contiguous ack waits for; crash-first and
		 * live-lane batches ("priority") may wait in the window until the
		 * oldest lane reaches them, so they must never take its slots. */
		int n_old = 0;
		for (int i = 0; i < u->nwin; i++)
			n_old += u->win[i].oldest;
		int n_pri = u->nwin - n_old;
		enum odo_store_pick pick;
		if (n_pri < u->cfg.max_inflight) {
			/* With the oldest lane full, only the live lane may go. */
			pick = n_old >= u->cfg.max_inflight ? ODO_STORE_NEWEST : ODO_STORE_OLDEST;
			if (u->cfg.fresh_every > 0 &&
			    u->batch_no % (uint64_t)u->cfg.fresh_every == (uint64_t)u->cfg.fresh_every - 1)
				pick = ODO_STORE_NEWEST;
		} else if (n_old < u->cfg.max_inflight) {
			pick = ODO_STORE_STRICT;
		} else {
			return;
		}
		struct odo_store_batch b;
		int rc = odo_store_next_batch(u->store, (size_t)u->cfg.max_batch_records,
					      (size_t)u->cfg.max_batch_bytes, pick, &b);
		if (rc == ODO_ERR_NOTFOUND)
			return;
		if (rc != ODO_OK) {
			ODO_LOG(WARN, AREA, "cannot read the outbox: %s", odo_strerror(rc));
			return;
		}
		u->batch_no++;
		size_t len = 0;
		rc = odo_wire_encode_batch_raw(u->cfg.device_id, b.epoch, b.floor, b.range_start, b.n, b.cbor,
					       b.len, u->msg, sizeof(u->msg), &len);
		if (rc != ODO_OK) {
			u->st.publish_errors++;
			ODO_LOG(ERROR, AREA, "cannot encode batch %" PRIu64 "..%" PRIu64 ": %s", b.first, b.last,
				odo_strerror(rc));
			requeue_range(u, b.first, b.last);
			return;
		}
		int mid = 0;
		int mrc = mosquitto_publish_v5(u->m, &mid, u->topic_up, (int)len, u->msg, 1, false, NULL);
		if (mrc != MOSQ_ERR_SUCCESS) {
			u->st.publish_errors++;
			requeue_range(u, b.first, b.last);
			if (mrc == MOSQ_ERR_NO_CONN || mrc == MOSQ_ERR_CONN_LOST)
				link_lost(u, mosquitto_strerror(mrc));
			else
				ODO_LOG(WARN, AREA, "publish: %s", mosquitto_strerror(mrc));
			return;
		}
		struct sent_batch *w = &u->win[u->nwin++];
		w->first = b.first;
		w->last = b.last;
		w->sent_ns = now_ns(u);
		w->mid = mid;
		w->puback = 0;
		w->oldest = pick == ODO_STORE_STRICT || (pick == ODO_STORE_OLDEST && !b.crash);
		if (pick == ODO_STORE_NEWEST || b.crash)
			w->oldest = 0;
		w->range = b.range_start;
		w->ackable_ns = b.range_start <= u->acked + 1 ? w->sent_ns : 0;
		u->st.inflight = (uint64_t)u->nwin;
		u->st.batches_sent++;
		u->st.records_sent += b.n;
		u->st.bytes_sent += len;
	}
}

/* The earliest instant an ackable batch times out; ODO_DEADLINE_NONE when none. */
static int64_t ack_deadline(const struct odo_uplink *u)
{
	int64_t t = ODO_DEADLINE_NONE;
	for (int i = 0; i < u->nwin; i++)
		if (u->win[i].ackable_ns != 0 && u->win[i].ackable_ns < t)
			t = u->win[i].ackable_ns;
	if (t != ODO_DEADLINE_NONE)
		t += (int64_t)(u->cfg.ack_timeout * (double)ODO_NS_PER_S);
	if (u->nosub_ns && u->nosub_ns < t)
		t = u->nosub_ns;
	return t;
}

/* A batch the collector could have acknowledged for ack_timeout has not
 * been: it (or one before it) was lost. Resend the window. Batches waiting
 * for the oldest lane to reach them are not timed out. */
static void check_ack_timeout(struct odo_uplink *u)
{
	int64_t d = ack_deadline(u);
	if (d == ODO_DEADLINE_NONE || now_ns(u) < d)
		return;
	if (u->nosub_ns && now_ns(u) >= u->nosub_ns) {
		ODO_LOG(WARN, AREA, "resending %d batch(es) that may have reached no collector", u->nwin);
		requeue_window(u);
		return;
	}
	u->st.ack_timeouts++;
	ODO_LOG(WARN, AREA, "no ack within %.1f s: resending %d batch(es)", u->cfg.ack_timeout, u->nwin);
	requeue_window(u);
}

static int up_pollfds(void *self, struct pollfd *pfd, int max)
{
	struct odo_uplink *u = self;
	if (max < 1 || u->state == ODO_UPLINK_DOWN)
		return 0;
	int fd = mosquitto_socket(u->m);
	if (fd < 0)
		return 0;
	pfd[0].fd = fd;
	pfd[0].events = POLLIN;
	if (u->tcp_pending || mosquitto_want_write(u->m))
		pfd[0].events |= POLLOUT;
	pfd[0].revents = 0;
	return 1;
}

static void up_handle(void *self, const struct pollfd *pfd, int n)
{
	struct odo_uplink *u = self;
	if (n < 1 || u->state == ODO_UPLINK_DOWN)
		return;
	short re = pfd[0].revents;
	if (u->state == ODO_UPLINK_CONNECTING && u->tcp_pending && (re & (POLLERR | POLLHUP))) {
		/* The non-blocking connect failed (refused, unreachable). */
		mosquitto_disconnect(u->m);
		link_lost(u, "connection refused");
		return;
	}
	if (re & (POLLOUT | POLLERR | POLLHUP)) {
		u->tcp_pending = 0;
		int rc = mosquitto_loop_write(u->m, 1);
		if (rc != MOSQ_ERR_SUCCESS && u->state != ODO_UPLINK_DOWN)
			link_lost(u, mosquitto_strerror(rc));
	}
	if (u->state != ODO_UPLINK_DOWN && (re & (POLLIN | POLLERR | POLLHUP))) {
		int rc = mosquitto_loop_read(u->m, 1);
		if (rc != MOSQ_ERR_SUCCESS && u->state != ODO_UPLINK_DOWN)
			link_lost(u, mosquitto_strerror(rc));
	}
	pump(u);
}

static int64_t up_deadline(void *self)
{
	struct odo_uplink *u = self;
	switch (u->state) {
	case ODO_UPLINK_DOWN:
		return u->next_attempt_ns;
	case ODO_UPLINK_CONNECTING:
		return u->attempt_started_ns + (int64_t)(u->cfg.connect_timeout * (double)ODO_NS_PER_S);
	default:
		break;
	}
	if (odo_store_unsent(u->store) > 0 && u->nwin < WINDOW_MAX) {
		int n_old = 0;
		for (int i = 0; i < u->nwin; i++)
			n_old += u->win[i].oldest;
		if (n_old < u->cfg.max_inflight || u->nwin - n_old < u->cfg.max_inflight)
			return now_ns(u);
	}
	int64_t d = u->next_misc_ns;
	int64_t a = ack_deadline(u);
	return a < d ? a : d;
}

static void up_tick(void *self)
{
	struct odo_uplink *u = self;
	int64_t now = now_ns(u);
	switch (u->state) {
	case ODO_UPLINK_DOWN:
		if (now >= u->next_attempt_ns)
			try_connect(u);
		return;
	case ODO_UPLINK_CONNECTING:
		if (now - u->attempt_started_ns >= (int64_t)(u->cfg.connect_timeout * (double)ODO_NS_PER_S)) {
			mosquitto_disconnect(u->m);
			link_lost(u, "timed out");
		}
		return;
	default:
		break;
	}
	if (now >= u->next_misc_ns) {
		u->next_misc_ns = now + MISC_PERIOD_NS;
		int rc = mosquitto_loop_misc(u->m);
		if (u->state == ODO_UPLINK_UP && (rc != MOSQ_ERR_SUCCESS || mosquitto_socket(u->m) < 0))
			link_lost(u, rc == MOSQ_ERR_SUCCESS ? "keepalive" : mosquitto_strerror(rc));
		if (u->state != ODO_UPLINK_UP)
			return;
	}
	check_ack_timeout(u);
	pump(u);
}

static const struct odo_source_ops uplink_ops = {
	.name = "uplink",
	.pollfds = up_pollfds,
	.handle = up_handle,
	.deadline = up_deadline,
	.tick = up_tick,
};

struct odo_source odo_uplink_source(struct odo_uplink *u)
{
	struct odo_source s = { .ops = &uplink_ops, .self = u };
	return s;
}

void odo_uplink_kick(struct odo_uplink *u)
{
	if (u)
		pump(u);
}

int odo_uplink_flush(struct odo_uplink *u, int64_t deadline_mono_ns)
{
	if (!u)
		return ODO_ERR_INVAL;
	struct odo_store_stats s;
	if (odo_store_stats(u->store, &s) == ODO_OK && s.depth == 0)
		return ODO_OK;
	if (now_ns(u) >= deadline_mono_ns)
		return ODO_ERR_TIMEOUT;
	pump(u);
	return ODO_ERR_AGAIN;
}

int odo_uplink_reload(struct odo_uplink *u, const struct odo_uplink_cfg *cfg)
{
	if (!u || !cfg || cfg->max_inflight < 1 || cfg->max_inflight > ODO_UPLINK_MAX_INFLIGHT ||
	    cfg->max_batch_records < 1 || cfg->max_batch_records > ODO_WIRE_MAX_RECORDS || cfg->max_batch_bytes < 1 ||
	    cfg->max_batch_bytes > ODO_STORE_BATCH_BYTES_MAX || !(cfg->ack_timeout > 0) ||
	    !(cfg->connect_timeout > 0) || !(cfg->backoff_min > 0) || cfg->backoff_max < cfg->backoff_min ||
	    cfg->fresh_every < 0)
		return ODO_ERR_INVAL;
	u->cfg.ack_timeout = cfg->ack_timeout;
	u->cfg.nosub_retry = cfg->nosub_retry;
	u->cfg.connect_timeout = cfg->connect_timeout;
	u->cfg.backoff_min = cfg->backoff_min;
	u->cfg.backoff_max = cfg->backoff_max;
	u->cfg.max_inflight = cfg->max_inflight;
	u->cfg.max_batch_records = cfg->max_batch_records;
	u->cfg.max_batch_bytes = cfg->max_batch_bytes;
	u->cfg.fresh_every = cfg->fresh_every;
	mosquitto_int_option(u->m, MOSQ_OPT_SEND_MAXIMUM, (int)cfg->max_inflight);
	return ODO_OK;
}

int odo_uplink_stats(const struct odo_uplink *u, struct odo_uplink_stats *s)
{
	if (!u || !s)
		return ODO_ERR_INVAL;
	*s = u->st;
	s->state = u->state;
	s->inflight = (uint64_t)u->nwin;
	return ODO_OK;
}

int odo_uplink_open(const struct odo_uplink_cfg *cfg, const struct odo_clock *clock, struct odo_store *store,
		    struct odo_uplink **out)
{
	if (!cfg || !clock || !store || !out)
		return ODO_ERR_INVAL;
	*out = NULL;
	if (!odo_wire_device_id_valid(cfg->device_id) || cfg->port < 1 || cfg->port > 65535 ||
	    cfg->max_inflight < 1 || cfg->max_inflight > ODO_UPLINK_MAX_INFLIGHT || cfg->max_batch_records < 1 ||
	    cfg->max_batch_records > ODO_WIRE_MAX_RECORDS || cfg->max_batch_bytes < 1 ||
	    cfg->max_batch_bytes > ODO_STORE_BATCH_BYTES_MAX || cfg->keepalive < 5 || !(cfg->ack_timeout > 0) ||
	    !(cfg->connect_timeout > 0) || !(cfg->backoff_min > 0) || cfg->backoff_max < cfg->backoff_min ||
	    cfg->fresh_every < 0 || cfg->host[0] == '\0')
		return ODO_ERR_INVAL;
	struct odo_uplink *u = calloc(1, sizeof(*u));
	if (!u)
		return ODO_ERR_NOMEM;
	u->cfg = *cfg;
	u->clock = clock;
	u->store = store;
	snprintf(u->topic_up, sizeof(u->topic_up), "odo/v1/%s/up", cfg->device_id);
	snprintf(u->topic_ack, sizeof(u->topic_ack), "odo/v1/%s/ack", cfg->device_id);
	if (cfg->jitter_seed != 0) {
		u->prng = (uint64_t)cfg->jitter_seed;
	} else {
		uint64_t h = 1469598103934665603ull; /* FNV-1a of the device id, mixed with the clock */
		for (const char *p = cfg->device_id; *p; p++)
			h = (h ^ (uint8_t)*p) * 1099511628211ull;
		u->prng = h ^ (uint64_t)odo_clock_mono_ns(clock);
	}

	int rc = ODO_ERR_CONFIG;
	/* keypass_file, else $ODO_KEY_PASSPHRASE, else the key is not encrypted */
	int src = odo_config_read_secret(cfg->keypass_file, "ODO_KEY_PASSPHRASE", u->keypass, sizeof(u->keypass));
	if (src == ODO_OK) {
		u->have_keypass = u->keypass[0] != '\0';
	} else if (src != ODO_ERR_NOTFOUND || cfg->keypass_file[0]) {
		ODO_LOG(ERROR, AREA, "cannot read the key passphrase from %s: %s",
			cfg->keypass_file[0] ? cfg->keypass_file : "$ODO_KEY_PASSPHRASE",
			src == ODO_ERR_TOOBIG ? "longer than the limit" : odo_strerror(src));
		goto fail;
	}

	mosquitto_lib_init();
	u->m = mosquitto_new(cfg->device_id, true, u);
	if (!u->m) {
		rc = ODO_ERR_NOMEM;
		goto fail;
	}
	mosquitto_int_option(u->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_int_option(u->m, MOSQ_OPT_SEND_MAXIMUM, (int)cfg->max_inflight);
	mosquitto_int_option(u->m, MOSQ_OPT_TCP_NODELAY, 1);
	/* Name the file and the OS error: libmosquitto says only "Invalid
	 * function arguments provided" for a file it cannot open. */
	char why[1200];
	if (odo_tls_files_check(cfg->cafile, cfg->certfile, cfg->keyfile, why, sizeof why) != ODO_OK) {
		ODO_LOG(ERROR, AREA, "TLS: %s", why);
		goto fail;
	}
	int mrc = mosquitto_tls_set(u->m, cfg->cafile, NULL, cfg->certfile, cfg->keyfile,
				    u->have_keypass ? pw_callback : NULL);
	if (mrc != MOSQ_ERR_SUCCESS) {
		ODO_LOG(ERROR, AREA, "TLS files (cafile %s, certfile %s, keyfile %s): %s", cfg->cafile, cfg->certfile,
			cfg->keyfile, mosquitto_strerror(mrc));
		goto fail;
	}
	/* Verify the broker's certificate and host name; TLS 1.2 or later. */
	mosquitto_tls_opts_set(u->m, 1, NULL, NULL);
	mosquitto_tls_insecure_set(u->m, false);
	mosquitto_connect_v5_callback_set(u->m, on_connect);
	mosquitto_disconnect_v5_callback_set(u->m, on_disconnect);
	mosquitto_publish_v5_callback_set(u->m, on_publish);
	mosquitto_message_v5_callback_set(u->m, on_message);
	mosquitto_log_callback_set(u->m, on_log);

	struct odo_store_stats ss;
	if (odo_store_stats(store, &ss) == ODO_OK)
		u->acked = ss.acked;
	u->state = ODO_UPLINK_DOWN;
	u->next_attempt_ns = now_ns(u);
	u->st.next_attempt_ns = u->next_attempt_ns;
	*out = u;
	return ODO_OK;
fail:
	if (u->m)
		mosquitto_destroy(u->m);
	explicit_bzero(u->keypass, sizeof(u->keypass));
	free(u);
	return rc;
}

void odo_uplink_close(struct odo_uplink *u)
{
	if (!u)
		return;
	if (u->state != ODO_UPLINK_DOWN) {
		u->state = ODO_UPLINK_DOWN;
		mosquitto_disconnect(u->m);
		(void)mosquitto_loop_write(u->m, 1); /* best effort, non-blocking */
	}
	mosquitto_destroy(u->m);
	explicit_bzero(u->keypass, sizeof(u->keypass));
	free(u);
}
