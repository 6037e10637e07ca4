#include <errno.h>
#include <poll.h>

#include "odo/err.h"
#include "loop.h"

#define LOOP_MAX_POLLFDS (ODO_LOOP_MAX_SOURCES * ODO_SOURCE_MAX_FDS + 1)

void odo_loop_init(struct odo_loop *l, const struct odo_clock *clock)
{
	l->clock = clock;
	l->nsrc = 0;
	l->extra_fd = -1;
	l->extra_ready = 0;
}

int odo_loop_add(struct odo_loop *l, struct odo_source s)
{
	if (!s.ops)
		return ODO_ERR_INVAL;
	if (l->nsrc >= ODO_LOOP_MAX_SOURCES)
		return ODO_ERR_FULL;
	l->src[l->nsrc++] = s;
	return ODO_OK;
}

void odo_loop_set_extra_fd(struct odo_loop *l, int fd)
{
	l->extra_fd = fd;
}

void odo_loop_tick_due(struct odo_loop *l)
{
	int64_t now = odo_clock_mono_ns(l->clock);

	for (int i = 0; i < l->nsrc; i++) {
		const struct odo_source *s = &l->src[i];
		if (s->ops->deadline && s->ops->tick && s->ops->deadline(s->self) <= now)
			s->ops->tick(s->self);
	}
}

int odo_loop_once(struct odo_loop *l, int64_t max_wait_ns)
{
	struct pollfd pfd[LOOP_MAX_POLLFDS];
	int first[ODO_LOOP_MAX_SOURCES], count[ODO_LOOP_MAX_SOURCES];
	int n = 0, rc, timeout_ms;
	int64_t now = odo_clock_mono_ns(l->clock);
	int64_t deadline = now + (max_wait_ns > 0 ? max_wait_ns : 0);

	for (int i = 0; i < l->nsrc; i++) {
		const struct odo_source *s = &l->src[i];
		int k = 0;

		first[i] = n;
		if (s->ops->pollfds)
			k = s->ops->pollfds(s->self, &pfd[n], ODO_SOURCE_MAX_FDS);
		if (k < 0)
			k = 0;
		for (int j = 0; j < k; j++)
			pfd[n + j].revents = 0;
		count[i] = k;
		n += k;
		if (s->ops->deadline) {
			int64_t d = s->ops->deadline(s->self);
			if (d < deadline)
				deadline = d;
		}
	}
	if (l->extra_fd >= 0) {
		pfd[n].fd = l->extra_fd;
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		n++;
	}

	if (l->clock->kind == ODO_CLOCK_VIRTUAL || deadline <= now) {
		timeout_ms = 0;
	} else {
		int64_t wait = deadline - now;
		/* Round up so we never wake just before a deadline and spin. */
		int64_t ms = (wait + ODO_NS_PER_MS - 1) / ODO_NS_PER_MS;
		timeout_ms = ms > 60000 ? 60000 : (int)ms;
	}

	rc = poll(pfd, (nfds_t)n, timeout_ms);
	if (rc < 0 && errno != EINTR)
		return ODO_ERR_IO;

	l->extra_ready = 0;
	if (rc > 0) {
		for (int i = 0; i < l->nsrc; i++) {
			const struct odo_source *s = &l->src[i];
			int any = 0;

			for (int j = 0; j < count[i]; j++)
				any |= pfd[first[i] + j].revents != 0;
			if (any && s->ops->handle)
				s->ops->handle(s->self, &pfd[first[i]], count[i]);
		}
		if (l->extra_fd >= 0 && (pfd[n - 1].revents & POLLIN))
			l->extra_ready = 1;
	}
	odo_loop_tick_due(l);
	return ODO_OK;
}
