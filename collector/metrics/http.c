/* odo-collector — HTTP server for metrics and health (see http.h). */
#include "metrics/http.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "odo/log.h"

struct odo_http {
	struct MHD_Daemon *d;
	odo_http_fn fn;
	void *ctx;
	int epfd;
	unsigned port;
};

/* libmicrohttpd's error callback: the format is the library's own. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[256];
	vsnprintf(msg, sizeof msg, fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	ODO_LOG(WARN, "http", "%s", msg);
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, char *body, size_t len, const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_len, void **req)
{
	(void)version, (void)upload, (void)req;
	struct odo_http *h = cls;
	if (*upload_len)
		return MHD_NO; /* no request has a body */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return MHD_NO;
	unsigned status = MHD_HTTP_OK;
	const char *type = "text/plain; charset=utf-8";
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		fputs("only GET and HEAD\n", f);
	} else if (h->fn(h->ctx, url, f, &status, &type) != 0) {
		status = MHD_HTTP_NOT_FOUND;
		type = "text/plain; charset=utf-8";
		fputs("not found: try /metrics, /livez or /readyz\n", f);
	}
	if (fclose(f) != 0) {
		free(buf);
		return MHD_NO;
	}
	return answer(c, status, buf, len, type);
}

/* "HOST:PORT" or "[V6]:PORT" into a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, char *why, size_t whylen)
{
	char host[256];
	const char *colon;
	if (listen[0] == '[') {
		const char *end = strchr(listen, ']');
		if (!end || end[1] != ':' || (size_t)(end - listen - 1) >= sizeof host) {
			snprintf(why, whylen, "'%s': want [IPv6]:PORT", listen);
			return ODO_ERR_CONFIG;
		}
		memcpy(host, listen + 1, (size_t)(end - listen - 1));
		host[end - listen - 1] = '\0';
		colon = end + 1;
	} else {
		colon = strrchr(listen, ':');
		if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host) {
			snprintf(why, whylen, "'%s': want HOST:PORT", listen);
			return ODO_ERR_CONFIG;
		}
		memcpy(host, listen, (size_t)(colon - listen));
		host[colon - listen] = '\0';
	}
	char *e;
	long port = strtol(colon + 1, &e, 10);
	if (!colon[1] || *e || port < 0 || port > 65535) {
		snprintf(why, whylen, "'%s': port must be 0..65535", listen);
		return ODO_ERR_CONFIG;
	}
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *ai = NULL;
	int rc = getaddrinfo(host, NULL, &hints, &ai);
	if (rc != 0 || !ai) {
		snprintf(why, whylen, "'%s': %s", host, gai_strerror(rc));
		return ODO_ERR_CONFIG;
	}
	memset(ss, 0, sizeof *ss);
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	return ODO_OK;
}

int odo_http_open(const char *listen, odo_http_fn fn, void *ctx, struct odo_http **out, char *why, size_t whylen)
{
	*out = NULL;
	why[0] = '\0';
	struct sockaddr_storage ss;
	int rc = parse_listen(listen, &ss, why, whylen);
	if (rc)
		return rc;
	if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) != MHD_YES) {
		snprintf(why, whylen, "this libmicrohttpd has no epoll support");
		return ODO_ERR_CONFIG;
	}
	struct odo_http *h = calloc(1, sizeof *h);
	if (!h)
		return ODO_ERR_NOMEM;
	h->fn = fn;
	h->ctx = ctx;
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, /* first, so it catches everything */
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)ODO_HTTP_MAX_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ODO_HTTP_TIMEOUT_S,
				MHD_OPTION_END);
	if (!h->d) {
		snprintf(why, whylen, "cannot listen on %s (address in use, or not local?)", listen);
		free(h);
		return ODO_ERR_CONFIG;
	}
	const union MHD_DaemonInfo *ep = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	const union MHD_DaemonInfo *lf = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_LISTEN_FD);
	if (!ep || !lf) {
		snprintf(why, whylen, "libmicrohttpd gave no epoll descriptor");
		odo_http_close(h);
		return ODO_ERR_CONFIG;
	}
	h->epfd = ep->epoll_fd;
	struct sockaddr_storage bound;
	socklen_t bl = sizeof bound;
	if (getsockname(lf->listen_fd, (struct sockaddr *)&bound, &bl) == 0)
		h->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
							   : ((struct sockaddr_in6 *)&bound)->sin6_port);
	*out = h;
	return ODO_OK;
}

void odo_http_close(struct odo_http *h)
{
	if (!h)
		return;
	if (h->d)
		MHD_stop_daemon(h->d);
	free(h);
}

unsigned odo_http_port(const struct odo_http *h)
{
	return h->port;
}

int odo_http_socket(const struct odo_http *h)
{
	return h->epfd;
}

int odo_http_timeout_ms(struct odo_http *h)
{
	MHD_UNSIGNED_LONG_LONG t;
	if (MHD_get_timeout(h->d, &t) != MHD_YES)
		return -1;
	return t > 1000 ? 1000 : (int)t;
}

void odo_http_service(struct odo_http *h)
{
	MHD_run(h->d);
}
