/* odo-collector — MQTT ingest (see mqtt.h). */
#include "ingest/mqtt.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "odo/files.h"
#include "odo/log.h"
#include "odo/wire.h"

#define MQIN_RETRY_MS 1000
#define MQIN_TOPIC_MAX 256
#define MQIN_ACK_BUF 128
#define MQIN_DRAIN_MS 3000

struct odo_mqin {
	struct mosquitto *mosq;
	struct odo_mqin_opts o;
	char group[64];
	odo_mqin_msg_fn fn;
	void *ctx;
	int connected, connecting;
	int subscribed; /* SUBACK granted the shared subscription */
	int64_t next_try_ms;
	int stopping;
	int acks_inflight; /* QoS 1 acks published, PUBACK not yet received */
	int unsub_mid, unsubscribed;
};

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags, const mosquitto_property *props)
{
	(void)props;
	struct odo_mqin *m = obj;
	if (rc != 0) {
		ODO_LOG(WARN, "mqtt", "broker refused the connection: %s", mosquitto_reason_string(rc));
		return;
	}
	m->connected = 1;
	char sub[MQIN_TOPIC_MAX];
	snprintf(sub, sizeof sub, "$share/%s/odo/v1/+/up", m->group);
	ODO_LOG(INFO, "mqtt", "connected (session %s), subscribing %s", (flags & 1) ? "resumed" : "new", sub);
	int r = mosquitto_subscribe_v5(mosq, NULL, sub, 1, 0, NULL);
	if (r != MOSQ_ERR_SUCCESS)
		ODO_LOG(WARN, "mqtt", "subscribe failed: %s", mosquitto_strerror(r));
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc, const mosquitto_property *props)
{
	(void)mosq, (void)props;
	struct odo_mqin *m = obj;
	m->connected = 0;
	m->subscribed = 0;
	if (!m->stopping)
		ODO_LOG(WARN, "mqtt", "disconnected from the broker (%s)", mosquitto_reason_string(rc));
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	(void)mosq, (void)props;
	struct odo_mqin *m = obj;
	m->fn(m->ctx, msg->topic, msg->payload, msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0);
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid, int rc, const mosquitto_property *props)
{
	(void)mosq, (void)mid, (void)props;
	struct odo_mqin *m = obj;
	if (rc)
		ODO_LOG(WARN, "mqtt", "broker refused an ack (reason %d)", rc);
	if (m->acks_inflight > 0)
		m->acks_inflight--;
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int n, const int *granted,
			 const mosquitto_property *props)
{
	(void)mosq, (void)mid, (void)props;
	struct odo_mqin *m = obj;
	if (n >= 1 && granted[0] <= 2)
		m->subscribed = 1;
	else
		ODO_LOG(ERROR, "mqtt", "the broker refused the subscription (reason %d): check the ACL",
			n >= 1 ? granted[0] : -1);
}

static void on_unsubscribe(struct mosquitto *mosq, void *obj, int mid, const mosquitto_property *props)
{
	(void)mosq, (void)props;
	struct odo_mqin *m = obj;
	if (mid == m->unsub_mid)
		m->unsubscribed = 1;
}

static void try_connect(struct odo_mqin *m, int64_t now_ms)
{
	mosquitto_property *props = NULL;
	mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, (uint32_t)m->o.session_expiry_s);
	/* Blocking TCP connect: the broker is local or near; a refused or
	 * unreachable broker fails fast and is retried every second. */
	int rc = m->connecting ? mosquitto_reconnect(m->mosq)
			       : mosquitto_connect_bind_v5(m->mosq, m->o.host, m->o.port, m->o.keepalive_s, NULL, props);
	mosquitto_property_free_all(&props);
	if (rc != MOSQ_ERR_SUCCESS) {
		ODO_LOG(WARN, "mqtt", "cannot connect to %s:%d: %s", m->o.host, m->o.port, mosquitto_strerror(rc));
		m->next_try_ms = now_ms + MQIN_RETRY_MS;
	}
	m->connecting = 1; /* from now on, reconnect with the same options */
}

int odo_mqin_open(const struct odo_mqin_opts *o, odo_mqin_msg_fn fn, void *ctx, struct odo_mqin **out)
{
	*out = NULL;
	struct odo_mqin *m = calloc(1, sizeof *m);
	if (!m)
		return ODO_ERR_NOMEM;
	m->o = *o;
	m->fn = fn;
	m->ctx = ctx;
	snprintf(m->group, sizeof m->group, "%s", o->group);
	mosquitto_lib_init();
	/* clean_session false = clean_start false in MQTT v5 */
	m->mosq = mosquitto_new(o->client_id, false, m);
	if (!m->mosq) {
		free(m);
		return ODO_ERR_NOMEM;
	}
	mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	/* Name the file and the OS error: libmosquitto says only "Invalid
	 * function arguments provided" for a file it cannot open. */
	char why[1200];
	if (odo_tls_files_check(o->cafile, o->certfile, o->keyfile, why, sizeof why) != ODO_OK) {
		ODO_LOG(ERROR, "mqtt", "TLS: %s", why);
		odo_mqin_close(m);
		return ODO_ERR_CONFIG;
	}
	int rc = mosquitto_tls_set(m->mosq, o->cafile, NULL, o->certfile, o->keyfile, NULL);
	if (rc != MOSQ_ERR_SUCCESS) {
		ODO_LOG(ERROR, "mqtt", "TLS setup failed (cafile/certfile/keyfile): %s", mosquitto_strerror(rc));
		odo_mqin_close(m);
		return ODO_ERR_CONFIG;
	}
	mosquitto_connect_v5_callback_set(m->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(m->mosq, on_disconnect);
	mosquitto_message_v5_callback_set(m->mosq, on_message);
	mosquitto_publish_v5_callback_set(m->mosq, on_publish);
	mosquitto_subscribe_v5_callback_set(m->mosq, on_subscribe);
	mosquitto_unsubscribe_v5_callback_set(m->mosq, on_unsubscribe);
	*out = m;
	return ODO_OK;
}

void odo_mqin_close(struct odo_mqin *m)
{
	if (!m)
		return;
	mosquitto_destroy(m->mosq);
	mosquitto_lib_cleanup();
	free(m);
}

int odo_mqin_socket(struct odo_mqin *m, short *events)
{
	*events = 0;
	int fd = mosquitto_socket(m->mosq);
	if (fd < 0)
		return -1;
	*events = POLLIN;
	if (mosquitto_want_write(m->mosq))
		*events |= POLLOUT;
	return fd;
}

void odo_mqin_service(struct odo_mqin *m, int64_t now_ms, short revents)
{
	if (m->stopping)
		return;
	if (mosquitto_socket(m->mosq) < 0) {
		m->connected = 0;
		if (now_ms >= m->next_try_ms)
			try_connect(m, now_ms);
		return;
	}
	if (revents & (POLLIN | POLLERR | POLLHUP))
		mosquitto_loop_read(m->mosq, 1);
	if (mosquitto_socket(m->mosq) >= 0 && ((revents & POLLOUT) || mosquitto_want_write(m->mosq)))
		mosquitto_loop_write(m->mosq, 1);
	if (mosquitto_socket(m->mosq) >= 0)
		mosquitto_loop_misc(m->mosq);
	if (mosquitto_socket(m->mosq) < 0)
		m->next_try_ms = now_ms + MQIN_RETRY_MS;
}

int odo_mqin_publish_ack(struct odo_mqin *m, const char *device, uint64_t epoch, uint32_t version, uint64_t ack)
{
	struct odo_ack a;
	memset(&a, 0, sizeof a);
	a.v = version;
	a.epoch = epoch;
	snprintf(a.device, sizeof a.device, "%s", device);
	a.ack = ack;
	uint8_t buf[MQIN_ACK_BUF];
	size_t len;
	int rc = odo_wire_encode_ack(&a, buf, sizeof buf, &len);
	if (rc)
		return rc;
	char topic[MQIN_TOPIC_MAX];
	snprintf(topic, sizeof topic, "odo/v1/%s/ack", device);
	rc = mosquitto_publish_v5(m->mosq, NULL, topic, (int)len, buf, 1, false, NULL);
	if (rc != MOSQ_ERR_SUCCESS)
		return ODO_ERR_AGAIN; /* the device resends; the next commit acks again */
	m->acks_inflight++;
	return ODO_OK;
}

int odo_mqin_connected(const struct odo_mqin *m)
{
	return m->connected;
}

int odo_mqin_subscribed(const struct odo_mqin *m)
{
	return m->connected && m->subscribed && !m->unsubscribed;
}

void odo_mqin_stop_intake(struct odo_mqin *m)
{
	char sub[MQIN_TOPIC_MAX];
	snprintf(sub, sizeof sub, "$share/%s/odo/v1/+/up", m->group);
	if (!m->connected || mosquitto_unsubscribe_v5(m->mosq, &m->unsub_mid, sub, NULL) != MOSQ_ERR_SUCCESS)
		m->unsubscribed = 1; /* nothing more can arrive anyway */
}

int odo_mqin_drained(const struct odo_mqin *m)
{
	return (m->unsubscribed && m->acks_inflight == 0) || !m->connected;
}

void odo_mqin_disconnect(struct odo_mqin *m)
{
	if (m->acks_inflight > 0)
		ODO_LOG(WARN, "mqtt", "leaving with %d ack(s) unconfirmed by the broker", m->acks_inflight);
	m->stopping = 1;
	mosquitto_disconnect_v5(m->mosq, 0, NULL);
	for (int i = 0; i < 10 && mosquitto_socket(m->mosq) >= 0; i++)
		mosquitto_loop_write(m->mosq, 1);
}
