/* odo — readable-file checks for configured paths (see odo/files.h). */
#include "odo/files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int odo_file_check_readable(const char *path, char *why, size_t whylen)
{
	if (!path || !*path) {
		snprintf(why, whylen, "no path given");
		return ODO_ERR_INVAL;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		snprintf(why, whylen, "%s", strerror(e));
		return e == ENOENT ? ODO_ERR_NOTFOUND : ODO_ERR_IO;
	}
	char c;
	ssize_t n;
	do
		n = read(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	int e = errno;
	close(fd);
	if (n < 0) {
		snprintf(why, whylen, "%s", strerror(e));
		return ODO_ERR_IO;
	}
	if (n == 0) {
		snprintf(why, whylen, "empty file");
		return ODO_ERR_IO;
	}
	return ODO_OK;
}

int odo_tls_files_check(const char *cafile, const char *certfile, const char *keyfile, char *msg, size_t msglen)
{
	const char *keys[] = { "cafile", "certfile", "keyfile" };
	const char *paths[] = { cafile, certfile, keyfile };
	for (size_t i = 0; i < ODO_ARRAY_LEN(paths); i++) {
		if (!paths[i] || !*paths[i])
			continue;
		char why[128];
		int rc = odo_file_check_readable(paths[i], why, sizeof why);
		if (rc != ODO_OK) {
			snprintf(msg, msglen, "%s %s: %s", keys[i], paths[i], why);
			return rc;
		}
	}
	return ODO_OK;
}

int odo_secret_file_read(const char *path, char *out, size_t outsz, char *why, size_t whylen)
{
	if (!out || outsz < 2) {
		snprintf(why, whylen, "no room for the secret");
		return ODO_ERR_INVAL;
	}
	out[0] = '\0';
	if (!path || !*path) {
		snprintf(why, whylen, "no path given");
		return ODO_ERR_INVAL;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		snprintf(why, whylen, "%s", strerror(e));
		return e == ENOENT ? ODO_ERR_NOTFOUND : ODO_ERR_IO;
	}
	/* the mode of the file actually opened (no race with a rename) */
	struct stat sb;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		close(fd);
		return ODO_ERR_IO;
	}
	if (sb.st_mode & 077) {
		snprintf(why, whylen, "mode %04o: group or others may access it (chmod 600)",
			 (unsigned)(sb.st_mode & 07777));
		close(fd);
		return ODO_ERR_CONFIG;
	}
	size_t len = 0;
	int rc = ODO_OK;
	for (;;) {
		char c;
		ssize_t n = read(fd, len < outsz - 1 ? out + len : &c, len < outsz - 1 ? outsz - 1 - len : 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(why, whylen, "%s", strerror(errno));
			rc = ODO_ERR_IO;
			break;
		}
		if (n == 0)
			break;
		if (len < outsz - 1) {
			len += (size_t)n;
		} else if (c != '\n' && c != '\r') {
			snprintf(why, whylen, "longer than %zu bytes", outsz - 1);
			rc = ODO_ERR_TOOBIG;
			break;
		}
	}
	close(fd);
	while (rc == ODO_OK && len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r'))
		len--;
	if (rc == ODO_OK && (len == 0 || memchr(out, '\0', len))) {
		snprintf(why, whylen, len == 0 ? "empty file" : "a NUL byte in the file");
		rc = ODO_ERR_INVAL;
	}
	if (rc != ODO_OK) {
		volatile char *v = out;
		for (size_t i = 0; i < outsz; i++)
			v[i] = 0;
		return rc;
	}
	out[len] = '\0';
	return ODO_OK;
}
