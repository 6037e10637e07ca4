/* odo-collector — per-device state for the metrics (see devices.h). */
#include "metrics/devices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Entries in first-tracked order; an open-addressing index (2 slots per
 * possible entry, a power of two) of positions + 1 (0 = empty). */
struct odo_devtab {
	struct odo_devtab_entry *e;
	size_t n, max;
	uint32_t *slot;
	size_t nslots;
	uint64_t refused;
};

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

int odo_devtab_open(size_t max, struct odo_devtab **out)
{
	*out = NULL;
	if (max == 0 || max > (1u << 24))
		return ODO_ERR_INVAL;
	struct odo_devtab *t = calloc(1, sizeof *t);
	if (!t)
		return ODO_ERR_NOMEM;
	t->max = max;
	t->nslots = 16;
	while (t->nslots < 2 * max)
		t->nslots *= 2;
	t->e = calloc(max, sizeof *t->e);
	t->slot = calloc(t->nslots, sizeof *t->slot);
	if (!t->e || !t->slot) {
		odo_devtab_close(t);
		return ODO_ERR_NOMEM;
	}
	*out = t;
	return ODO_OK;
}

void odo_devtab_close(struct odo_devtab *t)
{
	if (!t)
		return;
	free(t->e);
	free(t->slot);
	free(t);
}

/* The slot holding `dev`, or the empty slot where it would go. */
static size_t find_slot(const struct odo_devtab *t, const char *dev)
{
	size_t i = hash(dev) & (t->nslots - 1);
	while (t->slot[i] && strcmp(t->e[t->slot[i] - 1].id, dev) != 0)
		i = (i + 1) & (t->nslots - 1);
	return i;
}

static struct odo_devtab_entry *lookup(struct odo_devtab *t, const char *dev)
{
	size_t i = find_slot(t, dev);
	return t->slot[i] ? &t->e[t->slot[i] - 1] : NULL;
}

int odo_devtab_seen(struct odo_devtab *t, const char *dev, double now_s)
{
	struct odo_devtab_entry *e = lookup(t, dev);
	if (!e) {
		if (t->n == t->max) {
			t->refused++;
			return ODO_ERR_FULL;
		}
		size_t i = find_slot(t, dev);
		e = &t->e[t->n];
		memset(e, 0, sizeof *e);
		snprintf(e->id, sizeof e->id, "%s", dev);
		t->slot[i] = (uint32_t)++t->n;
	}
	if (now_s > e->last_seen_s)
		e->last_seen_s = now_s;
	return ODO_OK;
}

void odo_devtab_status(struct odo_devtab *t, const char *dev, int64_t t_ms, uint64_t depth, uint64_t oldest_age_s)
{
	struct odo_devtab_entry *e = lookup(t, dev);
	if (!e || (e->has_status && t_ms < e->status_t_ms))
		return;
	e->has_status = 1;
	e->status_t_ms = t_ms;
	e->outbox_depth = depth;
	e->outbox_oldest_age_s = oldest_age_s;
}

size_t odo_devtab_expire(struct odo_devtab *t, double now_s, double expire_s)
{
	size_t kept = 0;
	for (size_t i = 0; i < t->n; i++)
		if (t->e[i].last_seen_s >= now_s - expire_s)
			t->e[kept++] = t->e[i];
	size_t gone = t->n - kept;
	if (!gone)
		return 0;
	t->n = kept;
	memset(t->slot, 0, t->nslots * sizeof *t->slot);
	for (size_t i = 0; i < t->n; i++)
		t->slot[find_slot(t, t->e[i].id)] = (uint32_t)(i + 1);
	return gone;
}

size_t odo_devtab_count(const struct odo_devtab *t)
{
	return t->n;
}

const struct odo_devtab_entry *odo_devtab_at(const struct odo_devtab *t, size_t i)
{
	return i < t->n ? &t->e[i] : NULL;
}

uint64_t odo_devtab_refused(const struct odo_devtab *t)
{
	return t->refused;
}
