/*
 * odo-collector — what the metrics know per device: when a message from it
 * last arrived here, and its outbox backlog as its latest status record
 * (wire kind 8) reported it.
 *
 * Bounded: at most `max` devices (the [metrics] max_devices setting, the
 * cardinality limit of the per-device series). A device beyond the bound is
 * not tracked (counted; docs/metrics.md); a device not heard from for
 * `expire_s` is forgotten, which frees its place. Lookups are hashed.
 */
#ifndef ODO_COLLECTOR_METRICS_DEVICES_H
#define ODO_COLLECTOR_METRICS_DEVICES_H

#include <stddef.h>
#include <stdint.h>

#include "odo/err.h"
#include "odo/wire.h"

struct odo_devtab_entry {
	char id[ODO_DEVICE_ID_MAX + 1];
	double last_seen_s;          /* wall clock, Unix seconds: last message received */
	int has_status;              /* a status record was seen */
	int64_t status_t_ms;         /* the newest status record's own time */
	uint64_t outbox_depth;       /* ... its outbox records waiting */
	uint64_t outbox_oldest_age_s;/* ... age of its oldest waiting record */
};

struct odo_devtab;

/* ODO_ERR_INVAL (max 0) / ODO_ERR_NOMEM. */
int odo_devtab_open(size_t max, struct odo_devtab **out) ODO_NODISCARD;
void odo_devtab_close(struct odo_devtab *t);

/* A message from `dev` arrived at now_s. ODO_ERR_FULL when the device is
 * not tracked because the table is full (counted in odo_devtab_refused). */
int odo_devtab_seen(struct odo_devtab *t, const char *dev, double now_s);
/* A status record of `dev` (call after odo_devtab_seen): kept when it is
 * newer than the one held (records may arrive out of order). */
void odo_devtab_status(struct odo_devtab *t, const char *dev, int64_t t_ms, uint64_t depth, uint64_t oldest_age_s);
/* Forget devices last seen before now_s - expire_s. Returns how many. */
size_t odo_devtab_expire(struct odo_devtab *t, double now_s, double expire_s);

size_t odo_devtab_count(const struct odo_devtab *t);
/* The i-th tracked device, in the order they were first tracked (i < count). */
const struct odo_devtab_entry *odo_devtab_at(const struct odo_devtab *t, size_t i);
/* Messages from devices that could not be tracked (table full). */
uint64_t odo_devtab_refused(const struct odo_devtab *t);

#endif
