/*
 * odo-agent — the one interface the poll loop drives.
 *
 * A live source (gpsd client, CAN bus, accelerometer, phone socket, MQTT
 * uplink) exposes file descriptors to poll and a deadline for its timers;
 * the loop (loop.c) is single-threaded and never blocks anywhere but in
 * poll(). Sources never block either: they read what is ready and return.
 */
#ifndef ODO_AGENT_SOURCE_H
#define ODO_AGENT_SOURCE_H

#include <poll.h>
#include <stdint.h>

#define ODO_SOURCE_MAX_FDS 8
#define ODO_DEADLINE_NONE INT64_MAX

struct odo_source_ops {
	const char *name;
	/* Fill up to `max` pollfds (fd and events); return how many (0..max). */
	int (*pollfds)(void *self, struct pollfd *pfd, int max);
	/* Handle the revents of the pollfds this source filled last time. */
	void (*handle)(void *self, const struct pollfd *pfd, int n);
	/* Next monotonic instant (clock mono ns) this source wants tick() called;
	 * ODO_DEADLINE_NONE when it has nothing scheduled. */
	int64_t (*deadline)(void *self);
	/* Timers: retries, polling schedules, reconnect backoff. */
	void (*tick)(void *self);
};

struct odo_source {
	const struct odo_source_ops *ops;
	void *self;
};

#endif
