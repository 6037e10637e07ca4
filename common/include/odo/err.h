/*
 * odo — error codes shared by every part of the project.
 *
 * Functions that can fail return an `int` holding one of these codes
 * (ODO_OK on success). odo_strerror() turns a code into a short English
 * phrase; it never returns NULL.
 */
#ifndef ODO_ERR_H
#define ODO_ERR_H

#if defined(__GNUC__) || defined(__clang__)
#define ODO_NODISCARD __attribute__((warn_unused_result))
#define ODO_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define ODO_NODISCARD
#define ODO_PRINTF(fmt, args)
#endif

#define ODO_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum odo_err {
	ODO_OK = 0,
	ODO_ERR_NOMEM,      /* allocation failed */
	ODO_ERR_INVAL,      /* invalid argument */
	ODO_ERR_IO,         /* I/O error, errno may say more */
	ODO_ERR_PROTOCOL,   /* peer violated a protocol */
	ODO_ERR_FULL,       /* buffer or store full */
	ODO_ERR_AGAIN,      /* try again later, nothing lost */
	ODO_ERR_DB,         /* database error */
	ODO_ERR_TIMEOUT,    /* deadline passed */
	ODO_ERR_NOTFOUND,   /* no such thing */
	ODO_ERR_UNSUPPORTED,/* not supported here */
	ODO_ERR_CONFIG,     /* configuration error */
	ODO_ERR_CLOSED,     /* peer or source closed */
	ODO_ERR_RANGE,      /* value out of range */
	ODO_ERR_TOOBIG,     /* does not fit the destination */
	/* wire-format decoder: each names the offending field in its detail */
	ODO_ERR_WIRE_MALFORMED, /* not well-formed CBOR, or truncated */
	ODO_ERR_WIRE_VERSION,   /* unknown wire version */
	ODO_ERR_WIRE_TYPE,      /* field has the wrong CBOR type */
	ODO_ERR_WIRE_MISSING,   /* required field absent */
	ODO_ERR_WIRE_RANGE,     /* value out of range (lat/lon, non-finite, ...) */
	ODO_ERR_WIRE_TOOLONG,   /* string or array longer than allowed */
	ODO_ERR_WIRE_TRAILING,  /* bytes after the top-level item */
	ODO_ERR_WIRE_UNKNOWN,   /* unknown key or record kind */
	ODO_ERR_WIRE_DUPLICATE, /* key given twice */
	ODO_ERR__COUNT
};

/* A static, never-NULL description of code `e` (unknown codes included). */
const char *odo_strerror(int e);

#endif
