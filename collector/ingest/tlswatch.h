/*
 * odo-collector — watches the expiry of what a TLS deployment silently
 * depends on: the collector's own client certificate (notAfter) and the
 * fleet's CRL (nextUpdate, RFC 5280 section 5.1.2.5). When the broker's CRL
 * passes its nextUpdate, OpenSSL refuses every client certificate ("CRL has
 * expired") and the whole fleet goes dark at once; when the collector's
 * certificate expires, ingestion stops. The collector reads both files and
 * warns ahead of time (docs/deploy.md: "Certificate and CRL expiry").
 *
 * The state (seconds left, per file) is kept for a metrics endpoint.
 */
#ifndef ODO_COLLECTOR_TLSWATCH_H
#define ODO_COLLECTOR_TLSWATCH_H

#include <stddef.h>
#include <stdint.h>

#include "odo/err.h"

enum odo_tlswatch_state {
	ODO_TLSWATCH_OFF = 0,  /* no path configured */
	ODO_TLSWATCH_UNKNOWN,  /* configured, but unreadable or not parsable: see why */
	ODO_TLSWATCH_OK,
	ODO_TLSWATCH_SOON,     /* valid, but less than warn_s left */
	ODO_TLSWATCH_EXPIRED,
};

struct odo_tlswatch_file {
	const char *path;
	enum odo_tlswatch_state state;
	int64_t not_after_s; /* Unix seconds (cert notAfter, CRL nextUpdate); when known */
	int64_t left_s;      /* not_after_s - now at the last check; when known */
	char why[192];       /* when UNKNOWN */
};

struct odo_tlswatch {
	struct odo_tlswatch_file cert, crl;
	int64_t warn_s;
	int checked; /* odo_tlswatch_check() ran at least once */
};

/* Reads the time after which the PEM certificate (is_crl 0) or CRL (1) at
 * PATH is no longer valid. ODO_ERR_IO / ODO_ERR_NOTFOUND / ODO_ERR_INVAL
 * with `why` set. */
int odo_tlswatch_read(const char *path, int is_crl, int64_t *not_after_s, char *why, size_t whylen) ODO_NODISCARD;

/* Sets up a watch of certfile and crlfile (either may be NULL or empty). */
void odo_tlswatch_init(struct odo_tlswatch *w, const char *certfile, const char *crlfile, int64_t warn_s);

/* Re-reads both files (they are replaced on renewal) and updates their state
 * for the wall-clock time now_s. Logs only the first check and changes of
 * state, except SOON and EXPIRED, which are logged on every check. */
void odo_tlswatch_check(struct odo_tlswatch *w, int64_t now_s);

#endif
