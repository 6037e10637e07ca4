/*
 * odo — table-driven configuration files.
 *
 * Format (INI style):
 *
 *   # comment            ; comment
 *   [section]
 *   key = value          # trailing comments allowed after whitespace
 *   name = "quoted value with # inside"
 *
 * Each program module describes its keys in a const table of
 * struct odo_cfg_key, writing into a plain struct of its own. The parser
 * is given a list of sections (name, table, destination struct); it fills
 * defaults first, then the file's values, and reports the first problem:
 * an unknown section or key, a bad value (type or range), a duplicated
 * key, or a missing required key, each with file:line.
 * No allocation; strings are copied into fixed-size char arrays.
 */
#ifndef ODO_CONFIG_H
#define ODO_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "odo/err.h"

enum odo_cfg_type {
	ODO_CFG_STR,    /* char[size] in the struct, NUL-terminated; too long is an error */
	ODO_CFG_INT,    /* long long, bounded by min/max */
	ODO_CFG_DOUBLE, /* double, finite, bounded by min/max */
	ODO_CFG_BOOL,   /* int: true/false/yes/no/on/off/1/0 */
	ODO_CFG_ENUM,   /* int: index into `choices` (NULL-terminated) */
	ODO_CFG_REPLACED, /* a key that no longer exists: setting it is an error
	                     naming what replaced it (`help`); no field, no default */
};

struct odo_cfg_key {
	const char *key;
	enum odo_cfg_type type;
	size_t offset;   /* offsetof(struct X, field) */
	size_t size;     /* ODO_CFG_STR: sizeof the char array */
	const char *def; /* default as it would be written in the file; NULL = none */
	int required;    /* 1: must appear in the file */
	double min, max; /* INT/DOUBLE bounds, inclusive; min > max means unbounded */
	const char *const *choices; /* ENUM */
	const char *help; /* one line, for --help and docs/config.md */
	int reloadable;   /* 1: may change at run time (SIGHUP) */
	/* 1: the value may itself carry a credential (a libpq connection string
	 * can hold password=...). Such a key is read from the configuration file
	 * (mode 0640) only: odo_config_set_arg() refuses it, because a command
	 * line is visible to every local user (ps, /proc) and kept in shell
	 * history. Keys naming a file or variable that holds a secret
	 * (password_file, keypass_file) are not secret themselves. */
	int secret;
};

/* Convenience initialisers. */
#define ODO_CFG_S(k, st, f, d, h) \
	{ .key = (k), .type = ODO_CFG_STR, .offset = offsetof(st, f), .size = sizeof(((st *)0)->f), .def = (d), .min = 1, .max = 0, .help = (h) }
#define ODO_CFG_I(k, st, f, d, lo, hi, h) \
	{ .key = (k), .type = ODO_CFG_INT, .offset = offsetof(st, f), .def = (d), .min = (lo), .max = (hi), .help = (h) }
#define ODO_CFG_D(k, st, f, d, lo, hi, h) \
	{ .key = (k), .type = ODO_CFG_DOUBLE, .offset = offsetof(st, f), .def = (d), .min = (lo), .max = (hi), .help = (h) }
#define ODO_CFG_B(k, st, f, d, h) \
	{ .key = (k), .type = ODO_CFG_BOOL, .offset = offsetof(st, f), .def = (d), .min = 1, .max = 0, .help = (h) }
#define ODO_CFG_E(k, st, f, d, ch, h) \
	{ .key = (k), .type = ODO_CFG_ENUM, .offset = offsetof(st, f), .def = (d), .choices = (ch), .min = 1, .max = 0, .help = (h) }
/* A retired key: "k: replaced by <h>" when a file or --set uses it. */
#define ODO_CFG_GONE(k, h) \
	{ .key = (k), .type = ODO_CFG_REPLACED, .min = 1, .max = 0, .help = (h) }

struct odo_cfg_section {
	const char *name; /* "[name]" */
	const struct odo_cfg_key *keys;
	size_t nkeys;
	void *dest; /* struct the offsets refer to */
};

#define ODO_CFG_ERR_MAX 256
/* Longest section or key name (with its NUL) odo_config_set_arg() accepts. */
#define ODO_CFG_NAME_MAX 64
/* Longest line accepted in a configuration file (without its newline);
 * a longer line is an error, not truncated. */
#define ODO_CFG_LINE_MAX 1024
/* Most keys over all sections given to one parse (duplicate tracking). */
#define ODO_CFG_MAX_KEYS 512

struct odo_cfg_error {
	char file[128];
	int line; /* 0 when not tied to a line (missing required key) */
	char msg[ODO_CFG_ERR_MAX]; /* "file:line: unknown key 'foo' in [gps]" */
};

/* Fill every destination with its defaults. ODO_ERR_CONFIG if a default in
 * a table is itself invalid (a programming error, reported like a file's). */
int odo_config_defaults(const struct odo_cfg_section *secs, size_t nsecs,
			struct odo_cfg_error *err) ODO_NODISCARD;

/* Defaults of one section's table into `dest` (zeroed first): the
 * `odo_x_cfg_defaults()` every module offers. On a bad default in the table
 * (a programming error the config tests catch) `dest` is left zeroed and
 * ODO_ERR_CONFIG returned. */
int odo_config_section_defaults(const char *name, const struct odo_cfg_key *keys, size_t nkeys,
				void *dest, size_t dest_size);

/* Parse `len` bytes of text named `name` (for messages) into the sections,
 * after applying defaults. Returns ODO_OK or ODO_ERR_CONFIG with *err set. */
int odo_config_parse_buf(const char *name, const char *buf, size_t len,
			 const struct odo_cfg_section *secs, size_t nsecs,
			 struct odo_cfg_error *err) ODO_NODISCARD;

/* Same, reading the file at `path` (ODO_ERR_IO when it cannot be read). */
int odo_config_parse_file(const char *path, const struct odo_cfg_section *secs,
			  size_t nsecs, struct odo_cfg_error *err) ODO_NODISCARD;

/* Set one key from a string, as if read from a file (used for overrides).
 * `where` names the origin for messages. */
int odo_config_set(const struct odo_cfg_section *secs, size_t nsecs,
		   const char *section, const char *key, const char *value,
		   const char *where, struct odo_cfg_error *err) ODO_NODISCARD;

/* Apply one command-line override "SECTION.KEY=VALUE" (what --set takes):
 * odo_config_set() with where = "--set", except that a key marked secret is
 * refused. Returns ODO_OK, ODO_ERR_INVAL (NULL arguments) or ODO_ERR_CONFIG
 * with *err naming the problem: not SECTION.KEY=VALUE, unknown section or
 * key, bad value, or a secret key. */
int odo_config_set_arg(const struct odo_cfg_section *secs, size_t nsecs, const char *arg,
		       struct odo_cfg_error *err) ODO_NODISCARD;

/* Write the Markdown reference of every key in secs to f (the programs'
 * --print-config-reference; docs/config.md is generated with it): a title
 * naming `program`, then per section a table of key, type with range or
 * choices, default (or required) and help, with the reloadable and secret
 * marks. Returns ODO_OK, ODO_ERR_INVAL or ODO_ERR_IO (a write failed). */
int odo_config_print_reference(FILE *f, const char *program, const struct odo_cfg_section *secs,
			       size_t nsecs) ODO_NODISCARD;

/* Read a secret (password, key passphrase) from the file `path`, or from the
 * environment variable `env` when path is empty; trailing newlines are
 * stripped. ODO_ERR_NOTFOUND when neither is set. Never logs the value. */
int odo_config_read_secret(const char *path, const char *env, char *out,
			   size_t outsz) ODO_NODISCARD;

#endif
