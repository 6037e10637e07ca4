/* odo-collector — the road graph of a trip's corridor (roads_private.h). */
#include <stdlib.h>
#include <string.h>

#include "roads_private.h"

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int cmp_edge(const void *a, const void *b)
{
	return cmp_i64(&((const struct roads__edge *)a)->id, &((const struct roads__edge *)b)->id);
}

static int32_t node_index(const int64_t *ids, size_t n, int64_t id)
{
	const int64_t *p = bsearch(&id, ids, n, sizeof *ids, cmp_i64);
	return p ? (int32_t)(p - ids) : -1;
}

int roads__graph_build(struct roads__graph *g, struct roads__edge *e, size_t n)
{
	memset(g, 0, sizeof *g);
	g->e = e;
	g->n_edges = n;
	qsort(e, n, sizeof *e, cmp_edge);
	int64_t *ids = malloc((2 * n + 1) * sizeof *ids);
	if (!ids)
		return ODO_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		ids[2 * i] = e[i].raw_u, ids[2 * i + 1] = e[i].raw_v;
	qsort(ids, 2 * n, sizeof *ids, cmp_i64);
	size_t m = 0;
	for (size_t i = 0; i < 2 * n; i++)
		if (m == 0 || ids[i] != ids[m - 1])
			ids[m++] = ids[i];
	for (size_t i = 0; i < n; i++) {
		e[i].u = node_index(ids, m, e[i].raw_u);
		e[i].v = node_index(ids, m, e[i].raw_v);
	}
	free(ids);
	g->n_nodes = m;
	g->off = calloc(m + 1, sizeof *g->off);
	g->arc = malloc((2 * n + 1) * sizeof *g->arc);
	if (!g->off || !g->arc) {
		roads__graph_free(g);
		return ODO_ERR_NOMEM;
	}
	/* count, prefix-sum, fill: arcs leaving each node */
	for (size_t i = 0; i < n; i++) {
		if (e[i].oneway != -1)
			g->off[e[i].u + 1]++;
		if (e[i].oneway != 1)
			g->off[e[i].v + 1]++;
	}
	for (size_t x = 0; x < m; x++)
		g->off[x + 1] += g->off[x];
	size_t *fill = malloc((m + 1) * sizeof *fill);
	if (!fill) {
		roads__graph_free(g);
		return ODO_ERR_NOMEM;
	}
	memcpy(fill, g->off, (m + 1) * sizeof *fill);
	for (size_t i = 0; i < n; i++) {
		if (e[i].oneway != -1)
			g->arc[fill[e[i].u]++] = (int32_t)(2 * i);
		if (e[i].oneway != 1)
			g->arc[fill[e[i].v]++] = (int32_t)(2 * i + 1);
	}
	free(fill);
	return ODO_OK;
}

void roads__graph_free(struct roads__graph *g)
{
	if (!g)
		return;
	free(g->e);
	free(g->off);
	free(g->arc);
	memset(g, 0, sizeof *g);
}

int32_t roads__graph_find(const struct roads__graph *g, int64_t id)
{
	size_t lo = 0, hi = g->n_edges;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (g->e[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < g->n_edges && g->e[lo].id == id ? (int32_t)lo : -1;
}
