/*
 * odo-collector — alert delivery (docs/alerts.md "Delivery").
 *
 * The writers raise alerts in the transaction that stores their records
 * (pg/group.c); each alert has a row per delivery target in
 * alert_deliveries. This module delivers them: on its own PostgreSQL
 * connection it claims due deliveries (a lease, FOR UPDATE SKIP LOCKED, so
 * collectors share the queue and never deliver one at once), POSTs each to
 * the webhook with libcurl's multi interface, and records the outcome:
 * delivered, or the next attempt after an exponential backoff with jitter,
 * or failed once the alert is older than give_up_s. Both the database
 * connection (non-blocking libpq) and the HTTP transfers are driven from the
 * program's poll loop: nothing here blocks ingest.
 *
 * A claim runs as soon as a writer committed an alert (odo_alerts_raised)
 * and every poll_s (retries that fell due, alerts other collectors raised,
 * and those left behind by a collector that stopped: a clean stop releases
 * its leases, a crashed one's lapse after lease_s; at connect a collector
 * releases the leases its own name still holds).
 *
 * Delivery is at least once: a receiver that answered 2xx but whose answer
 * was lost (a collector killed in between) gets the alert again; the
 * payload's "id" is the key to deduplicate on.
 */
#ifndef ODO_COLLECTOR_ALERT_DISPATCH_H
#define ODO_COLLECTOR_ALERT_DISPATCH_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics/registry.h"
#include "odo/config.h"
#include "odo/err.h"

#define ODO_ALERTS_URL_MAX 512
#define ODO_ALERTS_PATH_MAX 512
#define ODO_ALERTS_MAX_PARALLEL 32
/* Descriptors odo_alerts_pollfds() may fill: the database and one per transfer. */
#define ODO_ALERTS_MAX_FDS (1 + ODO_ALERTS_MAX_PARALLEL)

/* Section [alerts]. */
struct odo_alerts_cfg {
	char webhook_url[ODO_ALERTS_URL_MAX];      /* "" = no webhook: alerts are only recorded */
	char webhook_secret_file[ODO_ALERTS_PATH_MAX];
	char webhook_cafile[ODO_ALERTS_PATH_MAX];  /* "" = the system's CA store */
	double timeout_s;
	double backoff_min_s, backoff_max_s;
	double give_up_s;
	double poll_s;
	double lease_s;
	long long max_parallel;
};

#define ODO_ALERTS_NKEYS 10
extern const struct odo_cfg_key odo_alerts_cfg_keys[ODO_ALERTS_NKEYS];

struct odo_alerts_opts {
	const char *conninfo, *password; /* as the writers' */
	const char *user;                /* the role (the writers': odo_ingest); NULL or "": the conninfo's */
	const char *name;                /* [collector] name: the lease holder (unique per process) */
	const char *version;             /* User-Agent */
	struct odo_metrics *metrics;     /* families added here (may be NULL) */
};

struct odo_alerts;

/* ODO_ERR_CONFIG (why says: the secret cannot be read, the URL is not
 * http(s), lease_s not above timeout_s, ...), ODO_ERR_NOMEM, ODO_ERR_IO
 * (libcurl would not start). */
int odo_alerts_open(const struct odo_alerts_cfg *c, const struct odo_alerts_opts *o, struct odo_alerts **out,
		    char *why, size_t whylen) ODO_NODISCARD;
/* NULL is a no-op. Transfers under way are abandoned (their leases lapse). */
void odo_alerts_close(struct odo_alerts *a);

/* The writers' odo_pgw_opts.alert_targets: "{webhook}" or "{}". */
const char *odo_alerts_targets(const struct odo_alerts *a);
/* The writers' alert_raised callback (ctx = the odo_alerts): counts it and
 * claims at once. */
void odo_alerts_raised(void *ctx, const char *rule);

/* Poll loop: fill up to max descriptors (returns how many), the timeout
 * (ms, capped at 1000), then service with the same descriptors and their
 * revents. */
int odo_alerts_pollfds(struct odo_alerts *a, struct pollfd *p, int max);
int odo_alerts_timeout_ms(struct odo_alerts *a, int64_t now_ms);
void odo_alerts_service(struct odo_alerts *a, int64_t now_ms, const struct pollfd *p, int n);

/* A graceful stop: no new claims, transfers under way finish (at most
 * timeout_s), their outcomes are written, unfinished leases released.
 * odo_alerts_idle() says when that is done. */
void odo_alerts_stop(struct odo_alerts *a);
int odo_alerts_idle(const struct odo_alerts *a);

struct odo_alerts_stats {
	uint64_t raised;                 /* alerts the writers committed (this process) */
	uint64_t attempts, delivered, retries, failed;
	uint64_t db_errors;
	int64_t pending;                 /* deliveries pending in the database (last count; -1 unknown) */
};
void odo_alerts_get_stats(const struct odo_alerts *a, struct odo_alerts_stats *st);

#endif
