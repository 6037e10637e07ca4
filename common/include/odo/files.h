/*
 * odo — can this process read the files it was configured with?
 *
 * libmosquitto's mosquitto_tls_set() reports a missing or unreadable file only
 * as MOSQ_ERR_INVAL ("Invalid function arguments provided"), and a file it can
 * open but not use only later, at the handshake. These checks run first and
 * say which file and what the operating system said about it.
 */
#ifndef ODO_FILES_H
#define ODO_FILES_H

#include <stddef.h>

#include "odo/err.h"

/* ODO_OK when PATH is a file this process can read and that is not empty;
 * otherwise ODO_ERR_IO (or ODO_ERR_NOTFOUND when it does not exist) with
 * `why` set to the reason, e.g. "No such file or directory", "Permission
 * denied", "Is a directory", "empty file". */
int odo_file_check_readable(const char *path, char *why, size_t whylen) ODO_NODISCARD;

/* Checks a TLS client's cafile, certfile and keyfile (a NULL or empty path
 * is skipped) in that order; on the first failure `msg` reads
 * "<key> <path>: <reason>", e.g. "certfile /etc/odo/device.crt: No such file
 * or directory". */
int odo_tls_files_check(const char *cafile, const char *certfile, const char *keyfile, char *msg,
			size_t msglen) ODO_NODISCARD;

/* Read a secret (a key, a token) from PATH, which must be a regular file that
 * neither its group nor other users may access (mode 0600 or 0400, like
 * ssh's private keys): a secret others can read is no secret. Trailing
 * newlines are stripped; the value is NUL-terminated and never logged.
 * ODO_ERR_NOTFOUND (no such file), ODO_ERR_IO (cannot read; not a regular
 * file), ODO_ERR_CONFIG (group or other permission bits set), ODO_ERR_TOOBIG
 * (longer than outsz - 1), ODO_ERR_INVAL (empty, or a NUL byte); `why`
 * then says it, e.g. "mode 0644: group or others may read it (chmod 600)". */
int odo_secret_file_read(const char *path, char *out, size_t outsz, char *why, size_t whylen) ODO_NODISCARD;

#endif
