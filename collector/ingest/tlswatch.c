/* odo-collector — certificate and CRL expiry watch (see tlswatch.h). */
#include "tlswatch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "odo/files.h"
#include "odo/log.h"

#define AREA "tls"

/* ASN1_TIME as Unix seconds. */
static int asn1_to_unix(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return ODO_ERR_INVAL;
	time_t s = timegm(&tm);
	if (s == (time_t)-1)
		return ODO_ERR_RANGE;
	*out = (int64_t)s;
	return ODO_OK;
}

int odo_tlswatch_read(const char *path, int is_crl, int64_t *not_after_s, char *why, size_t whylen)
{
	int rc = odo_file_check_readable(path, why, whylen);
	if (rc != ODO_OK)
		return rc;
	FILE *f = fopen(path, "re");
	if (!f) {
		snprintf(why, whylen, "%s", strerror(errno));
		return ODO_ERR_IO;
	}
	const ASN1_TIME *t = NULL;
	X509 *cert = NULL;
	X509_CRL *crl = NULL;
	if (is_crl) {
		crl = PEM_read_X509_CRL(f, NULL, NULL, NULL);
		if (crl)
			t = X509_CRL_get0_nextUpdate(crl);
	} else {
		cert = PEM_read_X509(f, NULL, NULL, NULL);
		if (cert)
			t = X509_get0_notAfter(cert);
	}
	fclose(f);
	rc = ODO_OK;
	if (!cert && !crl) {
		snprintf(why, whylen, "not a PEM %s", is_crl ? "CRL" : "certificate");
		rc = ODO_ERR_INVAL;
	} else if (!t) {
		snprintf(why, whylen, "the CRL has no nextUpdate");
		rc = ODO_ERR_INVAL;
	} else if (asn1_to_unix(t, not_after_s) != ODO_OK) {
		snprintf(why, whylen, "unreadable %s time", is_crl ? "nextUpdate" : "notAfter");
		rc = ODO_ERR_INVAL;
	}
	X509_free(cert);
	X509_CRL_free(crl);
	return rc;
}

void odo_tlswatch_init(struct odo_tlswatch *w, const char *certfile, const char *crlfile, int64_t warn_s)
{
	memset(w, 0, sizeof *w);
	w->cert.path = certfile && *certfile ? certfile : NULL;
	w->crl.path = crlfile && *crlfile ? crlfile : NULL;
	w->warn_s = warn_s;
}

static void utc(int64_t s, char *buf, size_t n)
{
	time_t t = (time_t)s;
	struct tm tm;
	if (!gmtime_r(&t, &tm) || strftime(buf, n, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, n, "@%lld", (long long)s);
}

static void check_one(struct odo_tlswatch_file *f, int is_crl, int64_t warn_s, int64_t now_s, int first)
{
	if (!f->path)
		return;
	enum odo_tlswatch_state was = f->state;
	int64_t na = 0;
	if (odo_tlswatch_read(f->path, is_crl, &na, f->why, sizeof f->why) != ODO_OK) {
		f->state = ODO_TLSWATCH_UNKNOWN;
	} else {
		f->not_after_s = na;
		f->left_s = na - now_s;
		f->state = f->left_s <= 0 ? ODO_TLSWATCH_EXPIRED
			   : f->left_s < warn_s ? ODO_TLSWATCH_SOON
						: ODO_TLSWATCH_OK;
	}
	const char *what = is_crl ? "CRL" : "certificate";
	char when[64];
	utc(f->not_after_s, when, sizeof when);
	double days = (double)f->left_s / 86400.0;
	switch (f->state) {
	case ODO_TLSWATCH_UNKNOWN:
		if (first || was != f->state)
			ODO_LOG(WARN, AREA, "%s %s: %s; its expiry is not watched%s", what, f->path, f->why,
				is_crl ? " (set [mqtt] crlfile to the broker's crl.pem, or empty)" : "");
		break;
	case ODO_TLSWATCH_OK:
		if (first || was != f->state)
			ODO_LOG(INFO, AREA, "%s %s valid until %s (%.1f days)", what, f->path, when, days);
		break;
	case ODO_TLSWATCH_SOON:
		if (is_crl)
			ODO_LOG(WARN, AREA,
				"CRL %s expires in %.1f days (%s): then the broker refuses every device and "
				"collector; renew it now (tools/pki crl, odo-broker-setup crl; is odo-crl-renew.timer "
				"running?) - docs/deploy.md",
				f->path, days, when);
		else
			ODO_LOG(WARN, AREA,
				"certificate %s expires in %.1f days (%s): then the broker refuses this collector; "
				"issue and install a new one - docs/deploy.md",
				f->path, days, when);
		break;
	case ODO_TLSWATCH_EXPIRED:
		if (is_crl)
			ODO_LOG(ERROR, AREA,
				"CRL %s expired on %s: the broker refuses every device and collector "
				"(broker log: \"certificate verify failed\"; clients: \"alert certificate expired\") until it "
				"loads a renewed one: tools/pki crl DIR, then odo-broker-setup crl --pki-from DIR - "
				"docs/deploy.md",
				f->path, when);
		else
			ODO_LOG(ERROR, AREA,
				"certificate %s expired on %s: the broker refuses this collector until a new one is "
				"installed - docs/deploy.md",
				f->path, when);
		break;
	case ODO_TLSWATCH_OFF:
		break;
	}
}

void odo_tlswatch_check(struct odo_tlswatch *w, int64_t now_s)
{
	check_one(&w->cert, 0, w->warn_s, now_s, !w->checked);
	check_one(&w->crl, 1, w->warn_s, now_s, !w->checked);
	w->checked = 1;
}
