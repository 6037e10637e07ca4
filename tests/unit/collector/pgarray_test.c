/* Unit tests of collector/pg/pgarray: the growable buffer and the binary
 * array format PostgreSQL's array_recv() reads. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pg/pgarray.h"

static uint32_t be32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

static uint64_t be64(const char *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static void buffer_grows_and_resets(void **st)
{
	(void)st;
	struct odo_pgbuf b = { 0 };
	for (int i = 0; i < 1000; i++)
		odo_pgbuf_put(&b, "abc", 3);
	assert_int_equal(b.n, 3000);
	assert_int_equal(strlen(b.p), 3000);
	assert_false(b.oom);
	size_t cap = b.cap;
	odo_pgbuf_reset(&b);
	assert_int_equal(b.n, 0);
	assert_string_equal(b.p, "");
	assert_int_equal(b.cap, cap); /* capacity kept */
	/* longer than the printf fast path */
	odo_pgbuf_printf(&b, "%s-%d-%s", "0123456789012345678901234567890123456789", 42,
			 "0123456789012345678901234567890123456789");
	assert_string_equal(b.p, "0123456789012345678901234567890123456789-42-0123456789012345678901234567890123456789");
	odo_pgbuf_printf(&b, "|%d", 7);
	assert_int_equal(b.p[b.n - 2], '|');
	odo_pgbuf_put(&b, "", 0);
	odo_pgbuf_free(&b);
	assert_null(b.p);
	odo_pgbuf_free(&b); /* twice is fine */
}

/* Walk one encoded array and check its header. */
static const char *header(const struct odo_pgcol *k, uint32_t oid, uint32_t n)
{
	const char *p = k->b.p;
	assert_int_equal(be32(p), 1);      /* ndim */
	assert_int_equal(be32(p + 4), 1);  /* has nulls flag */
	assert_int_equal(be32(p + 8), oid);
	assert_int_equal(be32(p + 12), n); /* length */
	assert_int_equal(be32(p + 16), 1); /* lower bound */
	return p + ODO_PG_ARRAY_HEADER;
}

static void arrays_in_binary_format(void **st)
{
	(void)st;
	struct odo_pgcols *c = calloc(1, sizeof *c);
	assert_non_null(c);
	odo_pgcols_reset(c, 5);
	odo_pgcols_i64(c, 0, -2);
	odo_pgcols_i64(c, 0, INT64_MAX);
	odo_pgcols_dbl(c, 1, 1.5);
	odo_pgcols_dbl(c, 1, NAN); /* not measured: NULL */
	odo_pgcols_text(c, 2, "car-1");
	odo_pgcols_null(c, 2, ODO_PG_OID_TEXT);
	odo_pgcols_bool(c, 3, 1);
	odo_pgcols_bool(c, 3, 0);
	static const uint8_t raw[3] = { 0xa1, 0x00, 0xff };
	odo_pgcols_bytes(c, 4, ODO_PG_OID_BYTEA, raw, sizeof raw);
	odo_pgcols_dbl(c, 4, INFINITY); /* any type may be NULL; the oid is the column's */
	c->col[4].oid = ODO_PG_OID_BYTEA;
	assert_int_equal(odo_pgcols_finish(c), ODO_OK);

	const char *p = header(&c->col[0], ODO_PG_OID_INT8, 2);
	assert_int_equal(be32(p), 8);
	assert_int_equal((int64_t)be64(p + 4), -2);
	assert_int_equal(be32(p + 12), 8);
	assert_int_equal((int64_t)be64(p + 16), INT64_MAX);
	assert_int_equal(c->col[0].b.n, ODO_PG_ARRAY_HEADER + 2 * 12);

	p = header(&c->col[1], ODO_PG_OID_FLOAT8, 2);
	uint64_t bits = be64(p + 4);
	double d;
	memcpy(&d, &bits, sizeof d);
	assert_true(d == 1.5);
	assert_int_equal(be32(p + 12), 0xFFFFFFFFu); /* NULL */
	assert_int_equal(c->col[1].b.n, ODO_PG_ARRAY_HEADER + 12 + 4);

	p = header(&c->col[2], ODO_PG_OID_TEXT, 2);
	assert_int_equal(be32(p), 5);
	assert_memory_equal(p + 4, "car-1", 5);
	assert_int_equal(be32(p + 9), 0xFFFFFFFFu);

	p = header(&c->col[3], ODO_PG_OID_BOOL, 2);
	assert_int_equal(be32(p), 1);
	assert_int_equal(p[4], 1);
	assert_int_equal(be32(p + 5), 1);
	assert_int_equal(p[9], 0);

	p = header(&c->col[4], ODO_PG_OID_BYTEA, 2);
	assert_int_equal(be32(p), 3);
	assert_memory_equal(p + 4, raw, 3);
	assert_int_equal(be32(p + 7), 0xFFFFFFFFu);

	/* reset: everything empty again, ready for the next group */
	odo_pgcols_reset(c, 1);
	assert_int_equal(c->col[0].count, 0);
	assert_int_equal(c->col[0].b.n, 0);
	assert_int_equal(c->rows, 0);
	odo_pgcols_free(c);
	free(c);
}

static void finish_refuses_inconsistent_columns(void **st)
{
	(void)st;
	struct odo_pgcols *c = calloc(1, sizeof *c);
	assert_non_null(c);
	odo_pgcols_reset(c, 2);
	odo_pgcols_i64(c, 0, 1);
	assert_int_equal(odo_pgcols_finish(c), ODO_ERR_INVAL); /* column 1 empty */
	odo_pgcols_i64(c, 1, 1);
	odo_pgcols_i64(c, 1, 2);
	assert_int_equal(odo_pgcols_finish(c), ODO_ERR_INVAL); /* 1 vs 2 elements */
	odo_pgcols_i64(c, 0, 2);
	assert_int_equal(odo_pgcols_finish(c), ODO_OK);
	odo_pgcols_free(c);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buffer_grows_and_resets),
		cmocka_unit_test(arrays_in_binary_format),
		cmocka_unit_test(finish_refuses_inconsistent_columns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
