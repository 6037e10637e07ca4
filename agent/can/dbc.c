/* DBC parser and signal decoder (see dbc.h). */
#include "can/dbc.h"

#include <linux/can.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct odo_dbc {
	struct odo_dbc_msg *msgs; /* sorted by id after parsing */
	size_t n, cap;
};

struct cur {
	const char *p, *end;
};

static void skip_ws(struct cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

static int eat(struct cur *c, char ch)
{
	skip_ws(c);
	if (c->p < c->end && *c->p == ch) {
		c->p++;
		return 1;
	}
	return 0;
}

static int ident(struct cur *c, char *out, size_t size)
{
	skip_ws(c);
	size_t n = 0;
	while (c->p < c->end && (*c->p == '_' || (*c->p >= '0' && *c->p <= '9') ||
				 ((*c->p | 0x20) >= 'a' && (*c->p | 0x20) <= 'z'))) {
		if (n + 1 >= size)
			return 0;
		out[n++] = *c->p++;
	}
	out[n] = '\0';
	return n > 0;
}

static int number(struct cur *c, double *v)
{
	skip_ws(c);
	char tmp[64];
	size_t n = 0;
	while (c->p + n < c->end && n + 1 < sizeof tmp &&
	       strchr("0123456789+-.eE", c->p[n]) && c->p[n] != '\0')
		n++;
	if (n == 0)
		return 0;
	memcpy(tmp, c->p, n);
	tmp[n] = '\0';
	char *e;
	*v = strtod(tmp, &e);
	if (e == tmp)
		return 0;
	c->p += e - tmp;
	return 1;
}

static int integer(struct cur *c, int64_t *v)
{
	skip_ws(c);
	char tmp[32];
	size_t n = 0;
	while (c->p + n < c->end && n + 1 < sizeof tmp &&
	       ((c->p[n] >= '0' && c->p[n] <= '9') || (n == 0 && c->p[n] == '-')))
		n++;
	if (n == 0 || (n == 1 && c->p[0] == '-'))
		return 0;
	memcpy(tmp, c->p, n);
	tmp[n] = '\0';
	*v = strtoll(tmp, NULL, 10);
	c->p += n;
	return 1;
}

static int qstring(struct cur *c, char *out, size_t size)
{
	skip_ws(c);
	if (c->p >= c->end || *c->p != '"')
		return 0;
	c->p++;
	size_t n = 0;
	while (c->p < c->end && *c->p != '"') {
		if (n + 1 < size)
			out[n++] = *c->p;
		c->p++;
	}
	if (c->p >= c->end)
		return 0;
	c->p++;
	out[n] = '\0';
	return 1;
}

static uint32_t dbc_id_to_can(int64_t id)
{
	/* DBC marks extended ids with bit 31. */
	if (id & 0x80000000LL)
		return ((uint32_t)id & CAN_EFF_MASK) | CAN_EFF_FLAG;
	return (uint32_t)id;
}

static int parse_bo(struct odo_dbc *d, struct cur *c)
{
	int64_t id, dlc;
	char name[ODO_DBC_NAME_MAX];
	if (!integer(c, &id) || id < 0 || !ident(c, name, sizeof name) || !eat(c, ':') ||
	    !integer(c, &dlc) || dlc < 0 || dlc > 64)
		return ODO_ERR_PROTOCOL;
	if (d->n == d->cap) {
		size_t nc = d->cap ? d->cap * 2 : 64;
		struct odo_dbc_msg *m = realloc(d->msgs, nc * sizeof *m);
		if (!m)
			return ODO_ERR_NOMEM;
		d->msgs = m;
		d->cap = nc;
	}
	struct odo_dbc_msg *m = &d->msgs[d->n++];
	memset(m, 0, sizeof *m);
	m->id = dbc_id_to_can(id);
	memcpy(m->name, name, sizeof name);
	m->dlc = (uint8_t)dlc;
	return ODO_OK;
}

static int parse_sg(struct odo_dbc_msg *m, struct cur *c)
{
	struct odo_dbc_signal s;
	memset(&s, 0, sizeof s);
	if (!ident(c, s.name, sizeof s.name))
		return ODO_ERR_PROTOCOL;
	skip_ws(c);
	if (c->p < c->end && *c->p == 'M' && (c->p + 1 == c->end || c->p[1] == ' ' || c->p[1] == ':')) {
		s.mux = 1;
		c->p++;
	} else if (c->p < c->end && *c->p == 'm') {
		int64_t mv;
		c->p++;
		if (!integer(c, &mv) || mv < 0 || mv > 65535)
			return ODO_ERR_PROTOCOL;
		s.mux = 2;
		s.mux_val = (uint16_t)mv;
		if (c->p < c->end && *c->p == 'M')
			c->p++; /* extended multiplexing mNM */
	}
	int64_t start, len;
	if (!eat(c, ':') || !integer(c, &start) || !eat(c, '|') || !integer(c, &len) || !eat(c, '@'))
		return ODO_ERR_PROTOCOL;
	if (start < 0 || start > 511 || len < 1 || len > 64)
		return ODO_ERR_PROTOCOL;
	if (c->p + 2 > c->end || (c->p[0] != '0' && c->p[0] != '1') || (c->p[1] != '+' && c->p[1] != '-'))
		return ODO_ERR_PROTOCOL;
	s.big_endian = c->p[0] == '0';
	s.is_signed = c->p[1] == '-';
	c->p += 2;
	if (!eat(c, '(') || !number(c, &s.factor) || !eat(c, ',') || !number(c, &s.offset) || !eat(c, ')') ||
	    !eat(c, '[') || !number(c, &s.min) || !eat(c, '|') || !number(c, &s.max) || !eat(c, ']') ||
	    !qstring(c, s.unit, sizeof s.unit))
		return ODO_ERR_PROTOCOL;
	s.start = (uint16_t)start;
	s.len = (uint16_t)len;
	struct odo_dbc_signal *ns = realloc(m->sigs, (m->nsigs + 1) * sizeof *ns);
	if (!ns)
		return ODO_ERR_NOMEM;
	m->sigs = ns;
	m->sigs[m->nsigs++] = s;
	return ODO_OK;
}

static struct odo_dbc_msg *find_id_linear(struct odo_dbc *d, uint32_t id)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->msgs[i].id == id)
			return &d->msgs[i];
	return NULL;
}

static int parse_val(struct odo_dbc *d, struct cur *c)
{
	int64_t id;
	char sname[ODO_DBC_NAME_MAX];
	if (!integer(c, &id))
		return ODO_OK; /* VAL_ for environment variables: ignored */
	if (!ident(c, sname, sizeof sname))
		return ODO_ERR_PROTOCOL;
	struct odo_dbc_msg *m = find_id_linear(d, dbc_id_to_can(id));
	struct odo_dbc_signal *s = NULL;
	for (size_t i = 0; m && i < m->nsigs; i++)
		if (strcmp(m->sigs[i].name, sname) == 0)
			s = &m->sigs[i];
	for (;;) {
		int64_t raw;
		char desc[ODO_DBC_DESC_MAX];
		if (eat(c, ';'))
			return ODO_OK;
		if (!integer(c, &raw) || !qstring(c, desc, sizeof desc))
			return ODO_ERR_PROTOCOL;
		if (!s)
			continue; /* table for an unknown signal: skip */
		struct odo_dbc_val *nv = realloc(s->vals, (s->nvals + 1) * sizeof *nv);
		if (!nv)
			return ODO_ERR_NOMEM;
		s->vals = nv;
		s->vals[s->nvals].raw = raw;
		memcpy(s->vals[s->nvals].desc, desc, sizeof desc);
		s->nvals++;
	}
}

static int cmp_msg(const void *a, const void *b)
{
	uint32_t x = ((const struct odo_dbc_msg *)a)->id, y = ((const struct odo_dbc_msg *)b)->id;
	return x < y ? -1 : x > y;
}

static int starts(const struct cur *c, const char *kw)
{
	size_t n = strlen(kw);
	return (size_t)(c->end - c->p) > n && memcmp(c->p, kw, n) == 0 && (c->p[n] == ' ' || c->p[n] == '\t');
}

int odo_dbc_parse_buf(const char *buf, size_t len, struct odo_dbc **out, int *errline)
{
	if (!buf || !out)
		return ODO_ERR_INVAL;
	struct odo_dbc *d = calloc(1, sizeof *d);
	if (!d)
		return ODO_ERR_NOMEM;
	struct odo_dbc_msg *cur_msg = NULL;
	const char *p = buf, *end = buf + len;
	int line = 0, rc = ODO_OK;
	while (p < end) {
		line++;
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		struct cur c = { p, eol };
		if (c.end > c.p && c.end[-1] == '\r')
			c.end--;
		skip_ws(&c);
		if (starts(&c, "BO_")) {
			c.p += 3;
			rc = parse_bo(d, &c);
			cur_msg = rc == ODO_OK ? &d->msgs[d->n - 1] : NULL;
		} else if (starts(&c, "SG_")) {
			c.p += 3;
			/* a signal outside a message belongs to nothing: skip it */
			if (cur_msg)
				rc = parse_sg(cur_msg, &c);
		} else if (starts(&c, "VAL_")) {
			c.p += 4;
			rc = parse_val(d, &c);
		} else if (c.p < c.end) {
			cur_msg = NULL; /* any other section ends the message */
		}
		if (rc != ODO_OK) {
			if (errline)
				*errline = line;
			odo_dbc_close(d);
			return rc;
		}
		p = eol + 1;
	}
	if (d->n > 1) /* msgs is NULL for a DBC without messages: qsort(NULL) is UB */
		qsort(d->msgs, d->n, sizeof *d->msgs, cmp_msg);
	*out = d;
	return ODO_OK;
}

int odo_dbc_load(const char *path, struct odo_dbc **out, int *errline)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return ODO_ERR_IO;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int rc = ODO_OK;
	for (;;) {
		if (cap - n < 4096) {
			char *nb = realloc(buf, cap + 65536);
			if (!nb) {
				rc = ODO_ERR_NOMEM;
				break;
			}
			buf = nb;
			cap += 65536;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0) {
			if (ferror(f))
				rc = ODO_ERR_IO;
			break;
		}
	}
	fclose(f);
	if (rc == ODO_OK)
		rc = odo_dbc_parse_buf(buf, n, out, errline);
	free(buf);
	return rc;
}

void odo_dbc_close(struct odo_dbc *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		for (size_t j = 0; j < d->msgs[i].nsigs; j++)
			free(d->msgs[i].sigs[j].vals);
		free(d->msgs[i].sigs);
	}
	free(d->msgs);
	free(d);
}

size_t odo_dbc_nmsgs(const struct odo_dbc *d) { return d ? d->n : 0; }

const struct odo_dbc_msg *odo_dbc_msg_at(const struct odo_dbc *d, size_t i)
{
	return d && i < d->n ? &d->msgs[i] : NULL;
}

const struct odo_dbc_msg *odo_dbc_find_id(const struct odo_dbc *d, uint32_t id)
{
	if (!d)
		return NULL;
	size_t lo = 0, hi = d->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (d->msgs[mid].id == id)
			return &d->msgs[mid];
		if (d->msgs[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct odo_dbc_msg *odo_dbc_find_msg(const struct odo_dbc *d, const char *name)
{
	for (size_t i = 0; d && name && i < d->n; i++)
		if (strcmp(d->msgs[i].name, name) == 0)
			return &d->msgs[i];
	return NULL;
}

const struct odo_dbc_signal *odo_dbc_find_signal(const struct odo_dbc_msg *m, const char *name)
{
	for (size_t i = 0; m && name && i < m->nsigs; i++)
		if (strcmp(m->sigs[i].name, name) == 0)
			return &m->sigs[i];
	return NULL;
}

int odo_dbc_raw(const struct odo_dbc_signal *s, const uint8_t *data, size_t len, int64_t *raw)
{
	uint64_t v = 0;
	if (s->big_endian) {
		/* Motorola: start is the MSB; walk down within a byte, then to
		 * bit 7 of the next byte (DBC's sawtooth numbering). */
		unsigned pos = s->start;
		for (unsigned i = 0; i < s->len; i++) {
			if (pos / 8 >= len)
				return ODO_ERR_RANGE;
			v = (v << 1) | ((data[pos / 8] >> (pos % 8)) & 1u);
			pos = (pos % 8 == 0) ? pos + 15 : pos - 1;
		}
	} else {
		for (unsigned i = 0; i < s->len; i++) {
			unsigned pos = s->start + i;
			if (pos / 8 >= len)
				return ODO_ERR_RANGE;
			v |= (uint64_t)((data[pos / 8] >> (pos % 8)) & 1u) << i;
		}
	}
	if (s->is_signed && s->len < 64 && (v >> (s->len - 1)) & 1u)
		v |= ~0ULL << s->len;
	*raw = (int64_t)v;
	return ODO_OK;
}

int odo_dbc_decode(const struct odo_dbc_signal *s, const uint8_t *data, size_t len, double *value)
{
	int64_t raw;
	int rc = odo_dbc_raw(s, data, len, &raw);
	if (rc != ODO_OK)
		return rc;
	if (s->is_signed)
		*value = (double)raw * s->factor + s->offset;
	else
		*value = (double)(uint64_t)raw * s->factor + s->offset;
	return ODO_OK;
}

const char *odo_dbc_val_desc(const struct odo_dbc_signal *s, int64_t raw)
{
	for (size_t i = 0; i < s->nvals; i++)
		if (s->vals[i].raw == raw)
			return s->vals[i].desc;
	return NULL;
}
