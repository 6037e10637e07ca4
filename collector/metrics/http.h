/*
 * odo-collector — the small HTTP server behind /metrics, /livez and /readyz.
 *
 * libmicrohttpd (GNU, Debian libmicrohttpd12) in its "external polling"
 * epoll mode: no thread of its own. It exposes one epoll descriptor that the
 * collector's poll loop watches beside the MQTT and PostgreSQL sockets;
 * odo_http_service() then accepts, reads and answers without blocking. So a
 * scrape reads the collector's state in the same thread that changes it (no
 * locks), and a loop that is stuck cannot answer its liveness probe.
 *
 * Only GET and HEAD are served; requests carry no body. Connections are
 * limited (ODO_HTTP_MAX_CONNECTIONS) and time out (ODO_HTTP_TIMEOUT_S).
 */
#ifndef ODO_COLLECTOR_METRICS_HTTP_H
#define ODO_COLLECTOR_METRICS_HTTP_H

#include <stddef.h>
#include <stdio.h>

#include "odo/err.h"

#define ODO_HTTP_MAX_CONNECTIONS 16
#define ODO_HTTP_TIMEOUT_S 10

struct odo_http;

/* Writes the body for `path` to `body` and sets the status code (200
 * unless changed) and the content type (text/plain unless changed; a
 * static string). Returns 0, or non-zero for 404. */
typedef int (*odo_http_fn)(void *ctx, const char *path, FILE *body, unsigned *status, const char **content_type);

/* Listen on `listen`: "HOST:PORT" with an IPv4 address or name, or
 * "[IPv6]:PORT". Port 0 picks a free port (see odo_http_port).
 * ODO_ERR_CONFIG with `why` for an address that cannot be parsed or bound;
 * ODO_ERR_NOMEM. */
int odo_http_open(const char *listen, odo_http_fn fn, void *ctx, struct odo_http **out, char *why,
		  size_t whylen) ODO_NODISCARD;
/* NULL is a no-op. Open connections are closed. */
void odo_http_close(struct odo_http *h);
/* The port bound. */
unsigned odo_http_port(const struct odo_http *h);
/* The descriptor to poll for POLLIN. */
int odo_http_socket(const struct odo_http *h);
/* Milliseconds until odo_http_service() is due without I/O (-1: none). */
int odo_http_timeout_ms(struct odo_http *h);
/* Accept, read, answer: call after every poll (cheap when idle). */
void odo_http_service(struct odo_http *h);

#endif
