/* odo-collector — growable buffer and binary arrays (see pgarray.h). */
#include "pg/pgarray.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PGBUF_FIRST_CAP  256
#define PGBUF_PRINTF_TMP 64

static void need(struct odo_pgbuf *s, size_t more)
{
	if (s->oom || s->n + more + 1 <= s->cap)
		return;
	size_t cap = s->cap ? s->cap : PGBUF_FIRST_CAP;
	while (cap < s->n + more + 1)
		cap *= 2;
	char *p = realloc(s->p, cap);
	if (!p) {
		s->oom = 1;
		return;
	}
	s->p = p;
	s->cap = cap;
}

void odo_pgbuf_put(struct odo_pgbuf *s, const void *data, size_t len)
{
	need(s, len);
	if (s->oom)
		return;
	if (len)
		memcpy(s->p + s->n, data, len);
	s->n += len;
	s->p[s->n] = '\0';
}

void odo_pgbuf_printf(struct odo_pgbuf *s, const char *fmt, ...)
{
	char tmp[PGBUF_PRINTF_TMP];
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (k < 0)
		return;
	if ((size_t)k < sizeof tmp) {
		odo_pgbuf_put(s, tmp, (size_t)k);
		return;
	}
	need(s, (size_t)k);
	if (s->oom)
		return;
	va_start(ap, fmt);
	vsnprintf(s->p + s->n, (size_t)k + 1, fmt, ap);
	va_end(ap);
	s->n += (size_t)k;
}

void odo_pgbuf_reset(struct odo_pgbuf *s)
{
	s->n = 0;
	s->oom = 0;
	if (s->p)
		s->p[0] = '\0';
}

void odo_pgbuf_free(struct odo_pgbuf *s)
{
	free(s->p);
	s->p = NULL;
	s->n = s->cap = 0;
	s->oom = 0;
}

static void put_be32(struct odo_pgbuf *s, uint32_t v)
{
	unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
	                      (unsigned char)v};
	odo_pgbuf_put(s, b, 4);
}

static void put_be64(struct odo_pgbuf *s, uint64_t v)
{
	put_be32(s, (uint32_t)(v >> 32));
	put_be32(s, (uint32_t)v);
}

void odo_pgcols_reset(struct odo_pgcols *c, int ncols)
{
	c->ncols = ncols;
	c->rows = 0;
	for (int i = 0; i < ODO_PG_MAX_COLS; i++) {
		odo_pgbuf_reset(&c->col[i].b);
		c->col[i].count = 0;
		c->col[i].oid = 0;
	}
}

void odo_pgcols_free(struct odo_pgcols *c)
{
	for (int i = 0; i < ODO_PG_MAX_COLS; i++)
		odo_pgbuf_free(&c->col[i].b);
}

/* Start element i of a column, reserving the header on the first. */
static struct odo_pgbuf *elem(struct odo_pgcols *c, int i, uint32_t oid)
{
	struct odo_pgcol *k = &c->col[i];
	if (k->b.n == 0) {
		static const char zero[ODO_PG_ARRAY_HEADER];
		odo_pgbuf_put(&k->b, zero, ODO_PG_ARRAY_HEADER);
	}
	k->oid = oid;
	k->count++;
	return &k->b;
}

void odo_pgcols_null(struct odo_pgcols *c, int i, uint32_t oid)
{
	put_be32(elem(c, i, oid), 0xFFFFFFFFu);
}

void odo_pgcols_i64(struct odo_pgcols *c, int i, int64_t v)
{
	struct odo_pgbuf *b = elem(c, i, ODO_PG_OID_INT8);
	put_be32(b, 8);
	put_be64(b, (uint64_t)v);
}

void odo_pgcols_dbl(struct odo_pgcols *c, int i, double v)
{
	if (isnan(v) || isinf(v)) {
		odo_pgcols_null(c, i, ODO_PG_OID_FLOAT8);
		return;
	}
	uint64_t bits;
	memcpy(&bits, &v, sizeof bits);
	struct odo_pgbuf *b = elem(c, i, ODO_PG_OID_FLOAT8);
	put_be32(b, 8);
	put_be64(b, bits);
}

void odo_pgcols_bool(struct odo_pgcols *c, int i, int v)
{
	struct odo_pgbuf *b = elem(c, i, ODO_PG_OID_BOOL);
	put_be32(b, 1);
	odo_pgbuf_put(b, v ? "\1" : "\0", 1);
}

void odo_pgcols_bytes(struct odo_pgcols *c, int i, uint32_t oid, const void *p, size_t len)
{
	struct odo_pgbuf *b = elem(c, i, oid);
	put_be32(b, (uint32_t)len);
	odo_pgbuf_put(b, p, len);
}

void odo_pgcols_text(struct odo_pgcols *c, int i, const char *s)
{
	odo_pgcols_bytes(c, i, ODO_PG_OID_TEXT, s, strlen(s));
}

int odo_pgcols_finish(struct odo_pgcols *c)
{
	int oom = 0;
	for (int i = 0; i < c->ncols; i++) {
		struct odo_pgcol *k = &c->col[i];
		if (k->b.n == 0 && !k->b.oom)
			return ODO_ERR_INVAL; /* a column without elements */
		if (k->count != c->col[0].count)
			return ODO_ERR_INVAL; /* columns of different lengths */
		oom |= k->b.oom;
		if (k->b.oom)
			continue;
		unsigned char *h = (unsigned char *)k->b.p;
		/* ndim 1, "may hold NULLs" 1 (array_recv accepts it either way), oid, length, lower bound 1
		 */
		uint32_t v[5] = {1, 1, k->oid, k->count, 1};
		for (int j = 0; j < 5; j++) {
			h[4 * j] = (unsigned char)(v[j] >> 24);
			h[4 * j + 1] = (unsigned char)(v[j] >> 16);
			h[4 * j + 2] = (unsigned char)(v[j] >> 8);
			h[4 * j + 3] = (unsigned char)v[j];
		}
	}
	return oom ? ODO_ERR_NOMEM : ODO_OK;
}
