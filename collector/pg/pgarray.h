/*
 * odo-collector — a growable byte buffer and PostgreSQL binary-format arrays.
 *
 * A pure module (no libpq, no I/O): the writer fills one odo_pgcols per
 * table, one column per statement parameter, and sends each column as one
 * binary-format array parameter (array_recv's format: ndim, has-null flag,
 * element type OID, length, lower bound, then each element as a 4-byte
 * big-endian length, -1 for NULL, and its bytes; every integer big-endian).
 * So the server parses no numbers from text.
 *
 * Memory: every function that grows a buffer sets its `oom` flag instead of
 * failing; odo_pgcols_finish() reports it once (ODO_ERR_NOMEM). Buffers keep
 * their capacity across resets; *_free() releases it (NULL-safe members).
 */
#ifndef ODO_COLLECTOR_PGARRAY_H
#define ODO_COLLECTOR_PGARRAY_H

#include <stddef.h>
#include <stdint.h>

#include "odo/err.h"

/* Element type OIDs (pg_type.oid, stable across PostgreSQL versions). */
#define ODO_PG_OID_BOOL   16
#define ODO_PG_OID_BYTEA  17
#define ODO_PG_OID_INT8   20
#define ODO_PG_OID_TEXT   25
#define ODO_PG_OID_FLOAT8 701

/* Bytes of a one-dimensional array header: ndim, flags, oid, length, lower bound. */
#define ODO_PG_ARRAY_HEADER 20
/* Columns of the widest statement. */
#define ODO_PG_MAX_COLS 64

/* Growable, always NUL-terminated byte buffer. */
struct odo_pgbuf {
	char *p;
	size_t n, cap;
	int oom;
};

void odo_pgbuf_put(struct odo_pgbuf *s, const void *data, size_t len);
void odo_pgbuf_printf(struct odo_pgbuf *s, const char *fmt, ...) ODO_PRINTF(2, 3);
/* Empty it (capacity kept, oom cleared). */
void odo_pgbuf_reset(struct odo_pgbuf *s);
void odo_pgbuf_free(struct odo_pgbuf *s);

/* One array parameter under construction. */
struct odo_pgcol {
	struct odo_pgbuf b;
	uint32_t oid;
	uint32_t count;
};

/* The columns of one statement; `rows` is the caller's row count. */
struct odo_pgcols {
	int ncols;
	size_t rows;
	struct odo_pgcol col[ODO_PG_MAX_COLS];
};

/* Start over with `ncols` columns (<= ODO_PG_MAX_COLS), no rows. */
void odo_pgcols_reset(struct odo_pgcols *c, int ncols);
void odo_pgcols_free(struct odo_pgcols *c);

/* Append one element to column i. Integers travel as int8, floats as
 * float8 (NaN and infinities as NULL: "not measured"); the SQL narrows by
 * assignment. */
void odo_pgcols_null(struct odo_pgcols *c, int i, uint32_t oid);
void odo_pgcols_i64(struct odo_pgcols *c, int i, int64_t v);
void odo_pgcols_dbl(struct odo_pgcols *c, int i, double v);
void odo_pgcols_bool(struct odo_pgcols *c, int i, int v);
void odo_pgcols_bytes(struct odo_pgcols *c, int i, uint32_t oid, const void *p, size_t len);
void odo_pgcols_text(struct odo_pgcols *c, int i, const char *s);

/* Write each column's header. ODO_ERR_NOMEM if any append failed,
 * ODO_ERR_INVAL if a column of the first ncols has no element (the caller
 * must give every column of a row a value). */
int odo_pgcols_finish(struct odo_pgcols *c) ODO_NODISCARD;

#endif
