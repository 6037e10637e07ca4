/*
 * odo-agent — the uplink: outbox batches over MQTT v5 with mutual TLS.
 *
 * Publishes batches (odo_wire_encode_batch_raw) with QoS 1 to
 * odo/v1/<device>/up and listens on odo/v1/<device>/ack. Records leave the
 * outbox only on the collector's end-to-end ack, never on the broker's
 * PUBACK. libmosquitto is driven from the agent's poll loop through
 * odo_uplink_source(): connect, TLS handshake, reads, writes and keepalive
 * never block (hostname resolution is getaddrinfo(): use an address or a
 * name /etc/hosts resolves when the resolver may hang).
 *
 * Flow control: at most max_inflight batches are out without an
 * end-to-end ack; when the oldest has waited ack_timeout, every batch out
 * is requeued and resent (the collector's writes are idempotent). A
 * reconnect requeues everything too. Batches drain crash records first,
 * then oldest first; one batch in every `fresh_every` takes the newest
 * records so live data is not stuck behind a long backlog.
 * docs/store-and-forward.md has the details.
 *
 * Single-threaded, like the loop. The key passphrase is read from a file
 * (keypass_file) or $ODO_KEY_PASSPHRASE, held in the handle, wiped on
 * close and never logged.
 */
#ifndef ODO_AGENT_UPLINK_H
#define ODO_AGENT_UPLINK_H

#include <stdint.h>

#include "odo/clock.h"
#include "odo/config.h"
#include "odo/err.h"
#include "odo/wire.h"
#include "source.h"
#include "store/store.h"

#define ODO_UPLINK_HOST_MAX 128
#define ODO_UPLINK_PATH_MAX 256
#define ODO_UPLINK_MAX_INFLIGHT 64 /* upper bound for max_inflight */
#define ODO_UPLINK_TOPIC_MAX (16 + ODO_DEVICE_ID_MAX)
#define ODO_UPLINK_SECRET_MAX 256

/* Section [uplink]. Durations in seconds. */
struct odo_uplink_cfg {
	char host[ODO_UPLINK_HOST_MAX];
	long long port;
	char device_id[ODO_DEVICE_ID_MAX + 1];
	char cafile[ODO_UPLINK_PATH_MAX];
	char certfile[ODO_UPLINK_PATH_MAX];
	char keyfile[ODO_UPLINK_PATH_MAX];
	char keypass_file[ODO_UPLINK_PATH_MAX]; /* "" = key not encrypted (or $ODO_KEY_PASSPHRASE) */
	long long keepalive;
	double ack_timeout;
	double nosub_retry;          /* 0 = a batch no collector received waits ack_timeout */
	double connect_timeout;
	long long max_inflight;      /* batches without an end-to-end ack */
	long long max_batch_records;
	long long max_batch_bytes;
	double backoff_min, backoff_max;
	long long fresh_every;       /* 0 = strictly oldest first */
	long long jitter_seed;       /* 0 = derived from the device id and the clock */
};

extern const struct odo_cfg_key odo_uplink_cfg_keys[];
extern const size_t odo_uplink_cfg_nkeys;

struct odo_uplink;

enum odo_uplink_state {
	ODO_UPLINK_DOWN = 0,       /* waiting for the backoff to expire */
	ODO_UPLINK_CONNECTING = 1, /* TCP/TLS/CONNECT under way */
	ODO_UPLINK_UP = 2,         /* CONNACK received, subscribed */
};

struct odo_uplink_stats {
	int state;                 /* enum odo_uplink_state */
	uint64_t connects;         /* successful CONNACKs */
	uint64_t reconnects;       /* connects after the first */
	uint64_t disconnects;      /* links lost (or refused) */
	uint64_t connect_failures; /* attempts that failed or timed out */
	uint64_t batches_sent, records_sent, bytes_sent;
	uint64_t pubacks;          /* broker acknowledgements */
	uint64_t acks;             /* end-to-end acks applied */
	uint64_t last_ack;
	uint64_t ack_timeouts;     /* times the window was requeued */
	uint64_t no_subscribers;   /* PUBACKs "no matching subscribers": no collector received a batch */
	uint64_t bad_acks;         /* undecodable, or for another device */
	uint64_t ack_errors;       /* protocol errors, nothing deleted: another wire version or
				    * epoch, or beyond the last seq the outbox handed out */
	uint64_t publish_errors;
	uint64_t inflight;         /* batches out now */
	int64_t next_attempt_ns;   /* mono instant of the next connect attempt (DOWN) */
};

/* Open: copies cfg, borrows clock and store (both must outlive it), sets
 * up TLS and schedules the first connect attempt for now (no I/O yet).
 * Returns ODO_OK, ODO_ERR_INVAL (bad device id, limits), ODO_ERR_CONFIG
 * (unreadable certificate/key files or passphrase), ODO_ERR_NOMEM. */
int odo_uplink_open(const struct odo_uplink_cfg *cfg, const struct odo_clock *clock,
		    struct odo_store *store, struct odo_uplink **out) ODO_NODISCARD;

/* The poll-loop face: pollfds/handle/deadline/tick as agent/source.h says. */
struct odo_source odo_uplink_source(struct odo_uplink *u);

/* Start publishing right away (call after putting records; the deadline
 * already says "now" when unsent records wait, so this is optional). */
void odo_uplink_kick(struct odo_uplink *u);

/*
 * Shutdown helper, one step of the drain: publishes what the window allows
 * now (no I/O wait) and reports
 *   ODO_OK          the outbox is empty (everything acknowledged);
 *   ODO_ERR_AGAIN   records remain and deadline_mono_ns (on the uplink's
 *                   clock) has not passed: let a loop that holds
 *                   odo_uplink_source() run one round, then call again;
 *   ODO_ERR_TIMEOUT the deadline passed (what is left stays in the outbox).
 * The agent's SIGTERM path (main.c drain()):
 *   while (odo_uplink_flush(u, dl) == ODO_ERR_AGAIN) odo_loop_once(&loop, step);
 */
int odo_uplink_flush(struct odo_uplink *u, int64_t deadline_mono_ns) ODO_NODISCARD;

/* SIGHUP: apply the keys marked reloadable (ack_timeout, connect_timeout,
 * backoff_min/max, max_inflight, max_batch_records/bytes, fresh_every);
 * the others (host, port, device id, TLS files, keepalive) need a restart.
 * A smaller window takes effect as batches are acknowledged.
 * Returns ODO_OK or ODO_ERR_INVAL (nothing applied). */
int odo_uplink_reload(struct odo_uplink *u, const struct odo_uplink_cfg *cfg) ODO_NODISCARD;

int odo_uplink_stats(const struct odo_uplink *u, struct odo_uplink_stats *s) ODO_NODISCARD;

/* Disconnect (politely, without waiting) and free; NULL is a no-op. */
void odo_uplink_close(struct odo_uplink *u);

#endif
