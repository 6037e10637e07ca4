/* odo-collector — an alert as a webhook request (see webhook.h). */
#include "alert/webhook.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/params.h>

#include "alert/rules.h"

void odo_alert_id(const struct odo_alert_msg *m, char *out, size_t len)
{
	snprintf(out, len, "%s:%016llx:%lld:%s", m->device, m->epoch, m->seq, m->rule);
}

/* ,"key":"text" or null */
static void kstr(struct odo_pgbuf *o, const char *k, const char *v)
{
	odo_pgbuf_printf(o, ",\"%s\":", k);
	if (v && *v)
		odo_json_str(o, v);
	else
		odo_pgbuf_put(o, "null", 4);
}

/* ,"key":<number text as PostgreSQL printed it> or null (NaN, Infinity are
 * not JSON: null) */
static void knum(struct odo_pgbuf *o, const char *k, const char *v)
{
	odo_pgbuf_printf(o, ",\"%s\":", k);
	if (!v || !*v || strcmp(v, "NaN") == 0 || strstr(v, "Infinity"))
		odo_pgbuf_put(o, "null", 4);
	else
		odo_pgbuf_put(o, v, strlen(v));
}

int odo_alert_body(const struct odo_alert_msg *m, struct odo_pgbuf *o)
{
	char id[256], ep[17];
	odo_pgbuf_reset(o);
	odo_alert_id(m, id, sizeof id);
	snprintf(ep, sizeof ep, "%016llx", m->epoch);
	odo_pgbuf_put(o, "{\"id\":", 6);
	odo_json_str(o, id);
	odo_pgbuf_printf(o, ",\"alert_id\":%lld", m->alert_id);
	kstr(o, "rule", m->rule);
	kstr(o, "metric", m->metric);
	kstr(o, "severity", m->severity);
	kstr(o, "device", m->device);
	kstr(o, "epoch", ep);
	odo_pgbuf_printf(o, ",\"seq\":%lld", m->seq);
	if (m->trip >= 0) {
		char trip[256];
		snprintf(trip, sizeof trip, "%s:%s:%lld", m->device, ep, m->trip);
		kstr(o, "trip_id", trip);
	} else {
		kstr(o, "trip_id", NULL);
	}
	kstr(o, "record_time", m->record_time);
	kstr(o, "received_at", m->received_at);
	kstr(o, "raised_at", m->raised_at);
	knum(o, "value", m->value);
	kstr(o, "op", m->op);
	knum(o, "threshold", m->threshold);
	odo_pgbuf_put(o, ",\"details\":", 11);
	if (m->details && *m->details)
		odo_pgbuf_put(o, m->details, strlen(m->details));
	else
		odo_pgbuf_put(o, "{}", 2);
	odo_pgbuf_put(o, "}", 1);
	return o->oom ? ODO_ERR_NOMEM : ODO_OK;
}

int odo_alert_sign(const char *secret, size_t secret_len, int64_t t, const char *body, size_t body_len,
		   char out[ODO_ALERT_SIG_MAX])
{
	if (!secret || !secret_len)
		return ODO_ERR_INVAL;
	char ts[24];
	int tl = snprintf(ts, sizeof ts, "%lld.", (long long)t);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	/* HMAC over "<t>." then the body, fed in two pieces (no copy of the
	 * body to put them together) */
	EVP_MAC *hm = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = hm ? EVP_MAC_CTX_new(hm) : NULL;
	OSSL_PARAM params[2] = { OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0), OSSL_PARAM_END };
	size_t outl = 0;
	int ok = ctx && EVP_MAC_init(ctx, (const unsigned char *)secret, secret_len, params) &&
		 EVP_MAC_update(ctx, (const unsigned char *)ts, (size_t)tl) &&
		 EVP_MAC_update(ctx, (const unsigned char *)body, body_len) &&
		 EVP_MAC_final(ctx, mac, &outl, sizeof mac);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(hm);
	if (!ok || outl != 32)
		return ODO_ERR_NOMEM;
	maclen = (unsigned int)outl;
	int n = snprintf(out, ODO_ALERT_SIG_MAX, "t=%lld,v1=", (long long)t);
	for (unsigned i = 0; i < maclen && n + 2 < ODO_ALERT_SIG_MAX; i++)
		n += snprintf(out + n, (size_t)(ODO_ALERT_SIG_MAX - n), "%02x", mac[i]);
	return ODO_OK;
}
