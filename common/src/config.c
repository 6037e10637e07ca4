/*
 * odo — table-driven INI-style configuration (see odo/config.h).
 *
 * The parser works one line at a time from a fixed line buffer, so a file
 * and a memory buffer go through the same code and nothing is allocated.
 * Values are checked completely before they are stored: a bad value leaves
 * the field at its previous (default) value.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "odo/config.h"

/* Room for one explanation before the "file:line: " prefix is added. */
#define CFG_WHY_MAX ODO_CFG_ERR_MAX
/* Chunk read from a configuration file at a time. */
#define CFG_READ_CHUNK 4096

struct parser {
	const char *name;
	const struct odo_cfg_section *secs;
	size_t nsecs;
	struct odo_cfg_error *err;
	int lineno;
	long cur; /* index of the current section, -1 before any */
	int failed;
	size_t len;                 /* bytes in line[] */
	int overflow;               /* current line exceeded ODO_CFG_LINE_MAX */
	int seen[ODO_CFG_MAX_KEYS]; /* line on which each key was set, 0 = not yet */
	char line[ODO_CFG_LINE_MAX + 1];
	char value[ODO_CFG_LINE_MAX + 1]; /* unquoted value */
};

static void set_err(struct odo_cfg_error *err, const char *file, int line, const char *fmt, ...)
    ODO_PRINTF(4, 5);

static void set_err(struct odo_cfg_error *err, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err)
		return;
	if (!file)
		file = "(config)";
	snprintf(err->file, sizeof(err->file), "%s", file);
	err->line = line;
	if (line > 0)
		n = snprintf(err->msg, sizeof(err->msg), "%s:%d: ", file, line);
	else
		n = snprintf(err->msg, sizeof(err->msg), "%s: ", file);
	if (n < 0 || (size_t)n >= sizeof(err->msg))
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg + n, sizeof(err->msg) - (size_t)n, fmt, ap);
	va_end(ap);
}

static void clear_err(struct odo_cfg_error *err)
{
	if (!err)
		return;
	err->file[0] = '\0';
	err->line = 0;
	err->msg[0] = '\0';
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static int bounded(const struct odo_cfg_key *k)
{
	return k->min <= k->max;
}

static void why_set(char *why, size_t whysz, const char *fmt, ...) ODO_PRINTF(3, 4);

static void why_set(char *why, size_t whysz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whysz, fmt, ap);
	va_end(ap);
}

/* Check `v` against key `k` and, when valid, store it into `dest`.
 * Returns 0, or -1 with `why` describing the problem. */
static int store_value(const char *secname, const struct odo_cfg_key *k, void *dest, const char *v, char *why,
                       size_t whysz)
{
	char *field = (char *)dest + k->offset;
	char *end;

	switch (k->type) {
	case ODO_CFG_STR: {
		size_t n = strlen(v);

		if (k->size == 0 || n >= k->size) {
			why_set(why, whysz, "value of '%s' in [%s] is too long (%zu characters, at most %zu)",
			        k->key, secname, n, k->size ? k->size - 1 : 0);
			return -1;
		}
		memcpy(field, v, n + 1);
		return 0;
	}
	case ODO_CFG_INT: {
		long long x;
		int base = 10;
		const char *digits = v;

		/* Decimal, or hexadecimal with 0x; no octal surprise for "010". */
		if (*digits == '+' || *digits == '-')
			digits++;
		if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
			base = 16;
		if (*v == '\0' || is_space(*v) || !(*digits >= '0' && *digits <= '9')) {
			why_set(why, whysz, "bad value for '%s' in [%s]: '%s' is not a number", k->key,
			        secname, v);
			return -1;
		}
		errno = 0;
		x = strtoll(v, &end, base);
		if (*end != '\0' || end == v) {
			why_set(why, whysz, "bad value for '%s' in [%s]: '%s' is not a number", k->key,
			        secname, v);
			return -1;
		}
		if (errno == ERANGE || (bounded(k) && ((double)x < k->min || (double)x > k->max))) {
			if (bounded(k))
				why_set(why, whysz,
				        "bad value for '%s' in [%s]: %s is out of range [%g, %g]",
				        k->key, secname, v, k->min, k->max);
			else
				why_set(why, whysz,
				        "bad value for '%s' in [%s]: %s is out of range for an integer",
				        k->key, secname, v);
			return -1;
		}
		memcpy(field, &x, sizeof(x));
		return 0;
	}
	case ODO_CFG_DOUBLE: {
		double x;

		if (*v == '\0' || is_space(*v)) {
			why_set(why, whysz, "bad value for '%s' in [%s]: '%s' is not a number", k->key,
			        secname, v);
			return -1;
		}
		errno = 0;
		x = strtod(v, &end);
		if (*end != '\0' || end == v) {
			why_set(why, whysz, "bad value for '%s' in [%s]: '%s' is not a number", k->key,
			        secname, v);
			return -1;
		}
		if (!isfinite(x)) {
			why_set(why, whysz, "bad value for '%s' in [%s]: '%s' is not finite", k->key, secname,
			        v);
			return -1;
		}
		if (bounded(k) && (x < k->min || x > k->max)) {
			why_set(why, whysz, "bad value for '%s' in [%s]: %s is out of range [%g, %g]",
			        k->key, secname, v, k->min, k->max);
			return -1;
		}
		memcpy(field, &x, sizeof(x));
		return 0;
	}
	case ODO_CFG_BOOL: {
		static const char *const yes[] = {"true", "yes", "on", "1"};
		static const char *const no[] = {"false", "no", "off", "0"};
		int b = -1;

		for (size_t i = 0; i < ODO_ARRAY_LEN(yes); i++) {
			if (strcasecmp(v, yes[i]) == 0)
				b = 1;
			if (strcasecmp(v, no[i]) == 0)
				b = 0;
		}
		if (b < 0) {
			why_set(why, whysz,
			        "bad value for '%s' in [%s]: '%s' is not a boolean "
			        "(true/false/yes/no/on/off/1/0)",
			        k->key, secname, v);
			return -1;
		}
		memcpy(field, &b, sizeof(b));
		return 0;
	}
	case ODO_CFG_REPLACED:
		why_set(why, whysz, "'%s' in [%s] was replaced by %s", k->key, secname, k->help ? k->help : "?");
		return -1;
	case ODO_CFG_ENUM: {
		char list[CFG_WHY_MAX];
		size_t used = 0;

		if (!k->choices) {
			why_set(why, whysz, "key '%s' in [%s] is an enum without choices", k->key, secname);
			return -1;
		}
		for (int i = 0; k->choices[i]; i++) {
			if (strcmp(v, k->choices[i]) == 0) {
				memcpy(field, &i, sizeof(i));
				return 0;
			}
		}
		list[0] = '\0';
		for (int i = 0; k->choices[i] && used < sizeof(list); i++) {
			int n =
			    snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", k->choices[i]);
			if (n < 0)
				break;
			used += (size_t)n;
		}
		why_set(why, whysz, "bad value for '%s' in [%s]: '%s' is not one of: %s", k->key, secname, v,
		        list);
		return -1;
	}
	}
	why_set(why, whysz, "key '%s' in [%s] has an unknown type", k->key, secname);
	return -1;
}

/* Zero a field that has no default, so every destination is fully set. */
static void zero_value(const struct odo_cfg_key *k, void *dest)
{
	char *field = (char *)dest + k->offset;

	switch (k->type) {
	case ODO_CFG_STR:
		if (k->size)
			memset(field, 0, k->size);
		break;
	case ODO_CFG_INT:
		memset(field, 0, sizeof(long long));
		break;
	case ODO_CFG_DOUBLE: {
		double z = 0.0;
		memcpy(field, &z, sizeof(z));
		break;
	}
	case ODO_CFG_BOOL:
	case ODO_CFG_ENUM:
		memset(field, 0, sizeof(int));
		break;
	case ODO_CFG_REPLACED:
		break;
	}
}

int odo_config_defaults(const struct odo_cfg_section *secs, size_t nsecs, struct odo_cfg_error *err)
{
	char why[CFG_WHY_MAX];

	clear_err(err);
	if (nsecs && !secs)
		return ODO_ERR_INVAL;
	for (size_t s = 0; s < nsecs; s++) {
		for (size_t i = 0; i < secs[s].nkeys; i++) {
			const struct odo_cfg_key *k = &secs[s].keys[i];

			if (!k->def) {
				zero_value(k, secs[s].dest);
				continue;
			}
			if (store_value(secs[s].name, k, secs[s].dest, k->def, why, sizeof(why)) != 0) {
				set_err(err, "(defaults)", 0, "invalid default: %s", why);
				return ODO_ERR_CONFIG;
			}
		}
	}
	return ODO_OK;
}

static void fail(struct parser *p, const char *fmt, ...) ODO_PRINTF(2, 3);

static void fail(struct parser *p, const char *fmt, ...)
{
	char why[CFG_WHY_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	set_err(p->err, p->name, p->lineno, "%s", why);
	p->failed = 1;
}

/* Index of key `k` of section `s` in parser.seen[]. */
static size_t key_slot(const struct parser *p, size_t s, size_t k)
{
	size_t slot = 0;

	for (size_t i = 0; i < s; i++)
		slot += p->secs[i].nkeys;
	return slot + k;
}

/* Unquote/trim the value starting at `v` into p->value; -1 on syntax error. */
static int take_value(struct parser *p, const char *v, const char *key)
{
	char *out = p->value;

	while (is_space(*v))
		v++;
	if (*v == '"') {
		v++;
		for (;;) {
			if (*v == '\0') {
				fail(p, "unterminated quoted value for '%s'", key);
				return -1;
			}
			if (*v == '"')
				break;
			if (*v == '\\') {
				if (v[1] == '"' || v[1] == '\\') {
					*out++ = v[1];
					v += 2;
					continue;
				}
				fail(p, "bad escape '\\%c' in quoted value for '%s' (only \\\" and \\\\)",
				     v[1] ? v[1] : ' ', key);
				return -1;
			}
			*out++ = *v++;
		}
		*out = '\0';
		v++; /* closing quote */
		while (is_space(*v))
			v++;
		if (*v != '\0' && *v != '#' && *v != ';') {
			fail(p, "unexpected text after the quoted value for '%s'", key);
			return -1;
		}
		return 0;
	}
	/* Unquoted: a comment starts at '#' or ';' at the start of the value
	 * or after whitespace; "a#b" keeps its '#'. */
	for (const char *c = v; *c; c++) {
		if ((*c == '#' || *c == ';') && (c == v || is_space(c[-1])))
			break;
		*out++ = *c;
	}
	while (out > p->value && is_space(out[-1]))
		out--;
	*out = '\0';
	return 0;
}

static void process_line(struct parser *p)
{
	char *s = p->line;
	char *e;
	char *eq;
	const struct odo_cfg_section *sec;
	char why[CFG_WHY_MAX];

	p->line[p->len] = '\0';
	if (memchr(p->line, '\0', p->len)) {
		fail(p, "NUL byte in line");
		return;
	}
	while (is_space(*s))
		s++;
	if (*s == '\0' || *s == '#' || *s == ';')
		return;
	if (*s == '[') {
		char *name = s + 1;
		char *close = strchr(name, ']');

		if (!close) {
			fail(p, "section header without closing ']'");
			return;
		}
		for (e = close + 1; is_space(*e); e++)
			;
		if (*e != '\0' && *e != '#' && *e != ';') {
			fail(p, "unexpected text after section header");
			return;
		}
		while (is_space(*name))
			name++;
		e = close;
		while (e > name && is_space(e[-1]))
			e--;
		*e = '\0';
		for (size_t i = 0; i < p->nsecs; i++) {
			if (strcmp(p->secs[i].name, name) == 0) {
				p->cur = (long)i;
				return;
			}
		}
		fail(p, "unknown section [%s]", name);
		return;
	}
	eq = strchr(s, '=');
	if (!eq) {
		fail(p, "expected 'key = value' or '[section]'");
		return;
	}
	e = eq;
	while (e > s && is_space(e[-1]))
		e--;
	*e = '\0';
	if (*s == '\0') {
		fail(p, "missing key before '='");
		return;
	}
	if (p->cur < 0) {
		fail(p, "key '%s' outside any section", s);
		return;
	}
	sec = &p->secs[p->cur];
	for (size_t i = 0; i < sec->nkeys; i++) {
		const struct odo_cfg_key *k = &sec->keys[i];
		size_t slot;

		if (strcmp(k->key, s) != 0)
			continue;
		slot = key_slot(p, (size_t)p->cur, i);
		if (p->seen[slot]) {
			fail(p, "duplicate key '%s' in [%s] (first set on line %d)", s, sec->name,
			     p->seen[slot]);
			return;
		}
		if (take_value(p, eq + 1, s) != 0)
			return;
		if (store_value(sec->name, k, sec->dest, p->value, why, sizeof(why)) != 0) {
			fail(p, "%s", why);
			return;
		}
		p->seen[slot] = p->lineno;
		return;
	}
	fail(p, "unknown key '%s' in [%s]", s, sec->name);
}

static void end_line(struct parser *p)
{
	p->lineno++;
	if (p->overflow)
		fail(p, "line too long (more than %d characters)", ODO_CFG_LINE_MAX);
	else
		process_line(p);
	p->len = 0;
	p->overflow = 0;
}

static void feed(struct parser *p, const char *buf, size_t len)
{
	for (size_t i = 0; i < len && !p->failed; i++) {
		if (buf[i] == '\n') {
			end_line(p);
		} else if (p->len < ODO_CFG_LINE_MAX) {
			p->line[p->len++] = buf[i];
		} else {
			p->overflow = 1;
		}
	}
}

static int begin(struct parser *p, const char *name, const struct odo_cfg_section *secs, size_t nsecs,
                 struct odo_cfg_error *err)
{
	size_t total = 0;
	int rc;

	memset(p, 0, offsetof(struct parser, seen));
	memset(p->seen, 0, sizeof(p->seen));
	p->name = name ? name : "(config)";
	p->secs = secs;
	p->nsecs = nsecs;
	p->err = err;
	p->cur = -1;
	if (nsecs && !secs)
		return ODO_ERR_INVAL;
	for (size_t s = 0; s < nsecs; s++)
		total += secs[s].nkeys;
	if (total > ODO_CFG_MAX_KEYS) {
		set_err(err, p->name, 0, "too many keys (%zu, at most %d)", total, ODO_CFG_MAX_KEYS);
		return ODO_ERR_CONFIG;
	}
	rc = odo_config_defaults(secs, nsecs, err);
	return rc;
}

static int finish(struct parser *p)
{
	if (!p->failed && (p->len > 0 || p->overflow))
		end_line(p);
	if (p->failed)
		return ODO_ERR_CONFIG;
	for (size_t s = 0; s < p->nsecs; s++) {
		for (size_t i = 0; i < p->secs[s].nkeys; i++) {
			const struct odo_cfg_key *k = &p->secs[s].keys[i];

			if (k->required && !p->seen[key_slot(p, s, i)]) {
				set_err(p->err, p->name, 0, "missing required key '%s' in [%s]", k->key,
				        p->secs[s].name);
				return ODO_ERR_CONFIG;
			}
		}
	}
	return ODO_OK;
}

int odo_config_parse_buf(const char *name, const char *buf, size_t len, const struct odo_cfg_section *secs,
                         size_t nsecs, struct odo_cfg_error *err)
{
	struct parser p;
	int rc;

	if (!buf && len)
		return ODO_ERR_INVAL;
	rc = begin(&p, name, secs, nsecs, err);
	if (rc != ODO_OK)
		return rc;
	if (len)
		feed(&p, buf, len);
	return finish(&p);
}

int odo_config_parse_file(const char *path, const struct odo_cfg_section *secs, size_t nsecs,
                          struct odo_cfg_error *err)
{
	struct parser p;
	char chunk[CFG_READ_CHUNK];
	int fd;
	int rc;

	if (!path)
		return ODO_ERR_INVAL;
	rc = begin(&p, path, secs, nsecs, err);
	if (rc != ODO_OK)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		set_err(err, path, 0, "cannot open: %s", strerror(errno));
		return ODO_ERR_IO;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			set_err(err, path, 0, "cannot read: %s", strerror(errno));
			close(fd);
			return ODO_ERR_IO;
		}
		if (n == 0)
			break;
		feed(&p, chunk, (size_t)n);
		if (p.failed)
			break;
	}
	close(fd);
	return finish(&p);
}

int odo_config_set(const struct odo_cfg_section *secs, size_t nsecs, const char *section, const char *key,
                   const char *value, const char *where, struct odo_cfg_error *err)
{
	char why[CFG_WHY_MAX];

	clear_err(err);
	if (!where)
		where = "(override)";
	if ((nsecs && !secs) || !section || !key || !value)
		return ODO_ERR_INVAL;
	for (size_t s = 0; s < nsecs; s++) {
		if (strcmp(secs[s].name, section) != 0)
			continue;
		for (size_t i = 0; i < secs[s].nkeys; i++) {
			const struct odo_cfg_key *k = &secs[s].keys[i];

			if (strcmp(k->key, key) != 0)
				continue;
			if (store_value(secs[s].name, k, secs[s].dest, value, why, sizeof(why)) != 0) {
				set_err(err, where, 0, "%s", why);
				return ODO_ERR_CONFIG;
			}
			return ODO_OK;
		}
		set_err(err, where, 0, "unknown key '%s' in [%s]", key, section);
		return ODO_ERR_CONFIG;
	}
	set_err(err, where, 0, "unknown section [%s]", section);
	return ODO_ERR_CONFIG;
}

/* Overwrite a buffer that held secret bytes, in a way the compiler keeps. */
int odo_config_set_arg(const struct odo_cfg_section *secs, size_t nsecs, const char *arg,
		       struct odo_cfg_error *err)
{
	char sec[ODO_CFG_NAME_MAX], key[ODO_CFG_NAME_MAX];
	const char *dot, *eq;

	clear_err(err);
	if ((nsecs && !secs) || !arg)
		return ODO_ERR_INVAL;
	dot = strchr(arg, '.');
	eq = strchr(arg, '=');
	if (!dot || !eq || dot > eq || dot == arg || eq == dot + 1 || (size_t)(dot - arg) >= sizeof(sec) ||
	    (size_t)(eq - dot - 1) >= sizeof(key)) {
		set_err(err, "--set", 0, "want SECTION.KEY=VALUE, not '%s'", arg);
		return ODO_ERR_CONFIG;
	}
	memcpy(sec, arg, (size_t)(dot - arg));
	sec[dot - arg] = '\0';
	memcpy(key, dot + 1, (size_t)(eq - dot - 1));
	key[eq - dot - 1] = '\0';
	for (size_t s = 0; s < nsecs; s++) {
		if (strcmp(secs[s].name, sec) != 0)
			continue;
		for (size_t i = 0; i < secs[s].nkeys; i++)
			if (secs[s].keys[i].secret && strcmp(secs[s].keys[i].key, key) == 0) {
				/* The value is not echoed: it may be the secret. */
				set_err(err, "--set", 0,
					"'%s' in [%s] may hold a secret and is not accepted on the command line "
					"(visible in ps and shell history): set it in the configuration file",
					key, sec);
				return ODO_ERR_CONFIG;
			}
	}
	return odo_config_set(secs, nsecs, sec, key, eq + 1, "--set", err);
}

static const char *type_name(const struct odo_cfg_key *k)
{
	switch (k->type) {
	case ODO_CFG_STR: return "string";
	case ODO_CFG_INT: return "integer";
	case ODO_CFG_DOUBLE: return "number";
	case ODO_CFG_BOOL: return "boolean";
	case ODO_CFG_ENUM: return "choice";
	case ODO_CFG_REPLACED: return "replaced";
	}
	return "?";
}

int odo_config_print_reference(FILE *f, const char *program, const struct odo_cfg_section *secs, size_t nsecs)
{
	int reloadable = 0, secret = 0;

	if (!f || !program || (nsecs && !secs))
		return ODO_ERR_INVAL;
	for (size_t i = 0; i < nsecs; i++)
		for (size_t j = 0; j < secs[i].nkeys; j++) {
			reloadable |= secs[i].keys[j].reloadable;
			secret |= secs[i].keys[j].secret;
		}
	fprintf(f, "# %s configuration reference\n\n"
		   "Generated by `%s --print-config-reference`; do not edit by hand.\n"
		   "The file is INI-style (`[section]`, `key = value`, `#` comments); every key is optional\n"
		   "unless marked required.%s\n%s",
		program, program, reloadable ? " Keys marked reloadable take effect on SIGHUP." : "",
		secret ? "Keys marked secret may carry a credential: they are read from the file only,\n"
			 "`--set` refuses them (a command line shows in `ps` and shell history).\n"
		       : "");
	for (size_t i = 0; i < nsecs; i++) {
		const struct odo_cfg_section *s = &secs[i];

		fprintf(f, "\n## [%s]\n\n| key | type | default | description |\n|---|---|---|---|\n", s->name);
		for (size_t j = 0; j < s->nkeys; j++) {
			const struct odo_cfg_key *k = &s->keys[j];
			char range[96] = "";

			if ((k->type == ODO_CFG_INT || k->type == ODO_CFG_DOUBLE) && bounded(k))
				snprintf(range, sizeof(range), " (%g to %g)", k->min, k->max);
			if (k->type == ODO_CFG_ENUM && k->choices) {
				size_t n = (size_t)snprintf(range, sizeof(range), " (");

				for (int c = 0; k->choices[c] && n < sizeof(range); c++)
					n += (size_t)snprintf(range + n, sizeof(range) - n, "%s%s", c ? ", " : "",
							      k->choices[c]);
				if (n < sizeof(range))
					snprintf(range + n, sizeof(range) - n, ")");
			}
			if (k->type == ODO_CFG_REPLACED) {
				fprintf(f, "| `%s` | replaced | — | no longer exists: use %s |\n", k->key,
					k->help ? k->help : "?");
				continue;
			}
			if (k->required)
				fprintf(f, "| `%s` | %s%s | **required** |", k->key, type_name(k), range);
			else
				fprintf(f, "| `%s` | %s%s | `%s` |", k->key, type_name(k), range, k->def ? k->def : "");
			fprintf(f, " %s%s%s |\n", k->help ? k->help : "", k->reloadable ? " (reloadable)" : "",
				k->secret ? " (secret)" : "");
		}
	}
	return fflush(f) == 0 && !ferror(f) ? ODO_OK : ODO_ERR_IO;
}

static void wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n--)
		*v++ = 0;
}

int odo_config_read_secret(const char *path, const char *env, char *out, size_t outsz)
{
	size_t len = 0;

	if (!out || outsz == 0)
		return ODO_ERR_INVAL;
	out[0] = '\0';
	if (path && *path) {
		/* read(2), not stdio: no library buffer keeps a copy. */
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		int rc = ODO_OK;

		if (fd < 0)
			return errno == ENOENT ? ODO_ERR_NOTFOUND : ODO_ERR_IO;
		for (;;) {
			char extra[64];
			ssize_t n;

			if (len < outsz - 1)
				n = read(fd, out + len, outsz - 1 - len);
			else
				n = read(fd, extra, sizeof(extra));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				rc = ODO_ERR_IO;
				break;
			}
			if (n == 0)
				break;
			if (len < outsz - 1) {
				len += (size_t)n;
				continue;
			}
			/* Past the buffer only trailing newlines are acceptable. */
			for (ssize_t i = 0; i < n; i++)
				if (extra[i] != '\n' && extra[i] != '\r')
					rc = ODO_ERR_TOOBIG;
			wipe(extra, sizeof(extra));
			if (rc != ODO_OK)
				break;
		}
		close(fd);
		if (rc == ODO_OK && memchr(out, '\0', len))
			rc = ODO_ERR_INVAL;
		if (rc != ODO_OK) {
			wipe(out, outsz);
			out[0] = '\0';
			return rc;
		}
	} else {
		const char *v = env && *env ? getenv(env) : NULL;

		if (!v)
			return ODO_ERR_NOTFOUND;
		len = strlen(v);
		while (len > 0 && (v[len - 1] == '\n' || v[len - 1] == '\r'))
			len--;
		if (len >= outsz)
			return ODO_ERR_TOOBIG;
		memcpy(out, v, len);
	}
	while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r'))
		len--;
	out[len] = '\0';
	return ODO_OK;
}

int odo_config_section_defaults(const char *name, const struct odo_cfg_key *keys, size_t nkeys,
				void *dest, size_t dest_size)
{
	struct odo_cfg_section sec = {.name = name, .keys = keys, .nkeys = nkeys, .dest = dest};
	struct odo_cfg_error err;

	memset(dest, 0, dest_size);
	if (odo_config_defaults(&sec, 1, &err) != ODO_OK) {
		memset(dest, 0, dest_size);
		return ODO_ERR_CONFIG;
	}
	return ODO_OK;
}
