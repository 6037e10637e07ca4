/*
 * odo-collector — the collector's metrics and health endpoints.
 *
 * Owns the registry (registry.h), the per-device table (devices.h) and the
 * HTTP server (http.h) on [metrics] listen:
 *   /metrics  Prometheus text format: every family in docs/metrics.md
 *   /livez    200 while the poll loop runs (it serves this itself)
 *   /readyz   200 when ready, 503 otherwise; the body lists each check
 * The ingest path reports what it takes (odo_cm_message), the writers'
 * hooks report commits and database errors, and a scrape reads the rest
 * (writer statistics, connection states, certificate and CRL expiry) from
 * the sources given to odo_cm_attach.
 *
 * Other parts of the collector add their own families to the registry
 * (odo_cm_registry) at start-up, before the first scrape.
 */
#ifndef ODO_COLLECTOR_METRICS_CMETRICS_H
#define ODO_COLLECTOR_METRICS_CMETRICS_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/mqtt.h"
#include "ingest/tlswatch.h"
#include "metrics/registry.h"
#include "odo/wire.h"
#include "pg/writer.h"

struct odo_cm;

struct odo_cm_opts {
	const char *listen;      /* "HOST:PORT"; NULL or "" = no HTTP server (metrics still counted) */
	size_t max_devices;      /* per-device series bound */
	double device_expire_s;  /* forget a device not heard from for this long */
	const char *version;     /* build_info */
	const char *name;        /* [collector] name, build_info */
	double max_queue_bytes, max_queue_msgs; /* the queue's bounds ([collector] max_queue_bytes, max_queue) */
};

/* What a scrape and the readiness check read (all borrowed, must outlive
 * the odo_cm; any may be NULL / 0). */
struct odo_cm_sources {
	struct odo_pgw *const *writers;
	int nwriters;
	struct odo_mqin *mq;
	const struct odo_tlswatch *tls;
	const uint64_t *acks_sent;
	const volatile int *stopping; /* non-zero once a graceful stop began */
};

/* ODO_ERR_CONFIG (listen address; why says more) / ODO_ERR_NOMEM / ODO_ERR_INVAL. */
int odo_cm_open(const struct odo_cm_opts *o, struct odo_cm **out, char *why, size_t whylen) ODO_NODISCARD;
void odo_cm_close(struct odo_cm *cm);
void odo_cm_attach(struct odo_cm *cm, const struct odo_cm_sources *src);
struct odo_metrics *odo_cm_registry(struct odo_cm *cm);
/* The HTTP port bound (0 without a server). */
unsigned odo_cm_port(const struct odo_cm *cm);

/* The result of one received MQTT message. */
enum odo_cm_msg { ODO_CM_ACCEPTED, ODO_CM_REJECTED, ODO_CM_SHED };
/* Count one message by its result. */
void odo_cm_message(struct odo_cm *cm, enum odo_cm_msg result);
/* A batch the decoder accepted: its records by kind, the device's
 * last-seen time and its newest status record. now_s: wall clock. */
void odo_cm_batch(struct odo_cm *cm, const struct odo_batch *b, double now_s);

/* Writer hooks (pg/writer.h odo_pgw_hooks) that feed the commit lag, the
 * group sizes and the database errors. */
const struct odo_pgw_hooks *odo_cm_writer_hooks(struct odo_cm *cm);

/* 1 when ready (see /readyz); why lists the checks. */
int odo_cm_ready(struct odo_cm *cm, char *why, size_t whylen);

/* Poll loop: descriptor (-1 none), timeout (-1 none), service after poll. */
int odo_cm_socket(const struct odo_cm *cm);
int odo_cm_timeout_ms(struct odo_cm *cm);
void odo_cm_service(struct odo_cm *cm, double now_s);

#endif
