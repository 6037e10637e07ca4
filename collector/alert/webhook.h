/*
 * odo-collector — an alert as a webhook request (docs/alerts.md "Payload"
 * and "Signature"): the JSON body and its HMAC-SHA256 signature.
 *
 * Signature header:  X-Odo-Signature: t=<unix seconds>,v1=<64 hex digits>
 * where v1 = HMAC-SHA256(secret, "<t>.<body>") over the exact body bytes.
 * A receiver recomputes it, compares in constant time, refuses a t more
 * than 5 minutes from its clock (replay), and keeps the alert "id" it has
 * seen (an alert may arrive more than once: retries are at least once).
 *
 * Pure: no I/O, no logging; OpenSSL's HMAC only.
 */
#ifndef ODO_COLLECTOR_ALERT_WEBHOOK_H
#define ODO_COLLECTOR_ALERT_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "pg/pgarray.h"

#define ODO_ALERT_SIG_HEADER "X-Odo-Signature"
#define ODO_ALERT_SIG_MAX 96 /* "t=<digits>,v1=<64 hex>" and its NUL */

/* One alert as the delivery queue hands it out (text as PostgreSQL gave it;
 * borrowed). Optional texts: NULL or "" = JSON null. */
struct odo_alert_msg {
	long long alert_id;
	const char *device;
	unsigned long long epoch;
	long long seq;
	const char *rule, *metric, *severity;
	const char *record_time, *received_at, *raised_at; /* RFC 3339 UTC */
	long long trip;          /* device trip id; < 0 none */
	const char *value;       /* a number's text, or NULL */
	const char *op;
	const char *threshold;
	const char *details;     /* a JSON object (jsonb::text) */
};

/* The alert's stable id: "<device>:<epoch, 16 hex>:<seq>:<rule>" (the same
 * for every attempt and every collector: the receiver's dedup key). */
void odo_alert_id(const struct odo_alert_msg *m, char *out, size_t len);

/* The JSON body into out (reset first). ODO_ERR_NOMEM. */
int odo_alert_body(const struct odo_alert_msg *m, struct odo_pgbuf *out);

/* The header value "t=<t>,v1=<hex>" for body at unix time t. ODO_ERR_INVAL
 * (no secret), ODO_ERR_NOMEM (OpenSSL failed). */
int odo_alert_sign(const char *secret, size_t secret_len, int64_t t, const char *body, size_t body_len,
		   char out[ODO_ALERT_SIG_MAX]);

#endif
