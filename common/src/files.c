/* odo — readable-file checks for configured paths (see odo/files.h). */
#include "odo/files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
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
