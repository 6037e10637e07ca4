/*
 * odo-collector — the MQTT v5/TLS side: a persistent session
 * (clean_start false + session expiry) subscribed to
 * $share/<group>/odo/v1/+/up, driven from the program's poll loop (no
 * libmosquitto thread), and the ack publisher.
 */
#ifndef ODO_COLLECTOR_MQTT_H
#define ODO_COLLECTOR_MQTT_H

#include <stddef.h>
#include <stdint.h>

#include "odo/err.h"

struct odo_mqin;

struct odo_mqin_opts {
	const char *host;
	int port;
	const char *client_id;   /* stable per collector: the persistent session's name */
	const char *group;       /* shared-subscription group */
	const char *cafile, *certfile, *keyfile;
	int keepalive_s;
	long session_expiry_s;
};

/* Called per received message; topic and payload valid during the call. */
typedef void (*odo_mqin_msg_fn)(void *ctx, const char *topic, const uint8_t *payload, size_t len);

/* Create the client and start connecting. ODO_ERR_CONFIG for bad TLS files. */
int odo_mqin_open(const struct odo_mqin_opts *o, odo_mqin_msg_fn fn, void *ctx, struct odo_mqin **out) ODO_NODISCARD;
void odo_mqin_close(struct odo_mqin *m);
/* Socket and wanted events (-1 when disconnected). */
int odo_mqin_socket(struct odo_mqin *m, short *events);
/* Handle I/O, keepalive and reconnection. */
void odo_mqin_service(struct odo_mqin *m, int64_t now_ms, short revents);
/* Publish the ack of (device, epoch) on odo/v1/<device>/ack, QoS 1, in the
 * wire version the batch came in: {"v":1,"dev","ack"} (epoch 0) or
 * {"v":2,"dev","ep","ack"}. ODO_ERR_AGAIN when the broker is away. */
int odo_mqin_publish_ack(struct odo_mqin *m, const char *device, uint64_t epoch, uint32_t version, uint64_t ack);
int odo_mqin_connected(const struct odo_mqin *m);
/* 1 when connected and the broker granted the shared subscription (SUBACK). */
int odo_mqin_subscribed(const struct odo_mqin *m);
/* Graceful stop, step 1: unsubscribe from the shared subscription, so the
 * broker sends this collector's share to the others from now on (messages
 * already on their way still arrive and must be handled). */
void odo_mqin_stop_intake(struct odo_mqin *m);
/* 1 once the unsubscribe is confirmed and every published ack was taken by
 * the broker (PUBACK), or the connection is gone. */
int odo_mqin_drained(const struct odo_mqin *m);
/* Step 2: disconnect (the session and its expiry stay with the broker). */
void odo_mqin_disconnect(struct odo_mqin *m);

#endif
