/* odo-agent --check-config: the files and devices a configuration names (check.h). */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "odo/files.h"

#define WHY_MAX 400

/* Can we create entries in `dir` (which must exist)? */
static int dir_writable(const char *dir, char *why, size_t whysz)
{
	struct stat st;
	if (stat(dir, &st) != 0) {
		snprintf(why, whysz, "%s", strerror(errno));
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, whysz, "not a directory");
		return 0;
	}
	if (access(dir, W_OK | X_OK) != 0) {
		snprintf(why, whysz, "%s", strerror(errno));
		return 0;
	}
	return 1;
}

static void parent_of(const char *path, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s", path);
	char *s = strrchr(out, '/');
	if (!s)
		snprintf(out, outsz, ".");
	else if (s == out)
		out[1] = '\0';
	else
		*s = '\0';
}

/* 0 ok, 1 problem (why set), 2 note (why set) */
static int check_one(const struct odo_check_item *it, char *why, size_t whysz)
{
	char parent[PATH_MAX], reason[WHY_MAX];
	struct stat st;
	switch (it->need) {
	case ODO_CHECK_READ:
		return odo_file_check_readable(it->path, why, whysz) == ODO_OK ? 0 : 1;
	case ODO_CHECK_SECRET: {
		char secret[512];
		int rc = odo_secret_file_read(it->path, secret, sizeof secret, why, whysz);
		memset(secret, 0, sizeof secret);
		return rc == ODO_OK ? 0 : 1;
	}
	case ODO_CHECK_WRITE_DIR:
		if (stat(it->path, &st) == 0)
			return dir_writable(it->path, why, whysz) ? 0 : 1;
		if (errno != ENOENT) {
			snprintf(why, whysz, "%s", strerror(errno));
			return 1;
		}
		parent_of(it->path, parent, sizeof parent);
		if (dir_writable(parent, why, whysz))
			return 0; /* the agent makes it */
		snprintf(reason, sizeof reason, "%s", why);
		snprintf(why, whysz, "does not exist, and %.200s cannot be written: %.100s", parent, reason);
		return 1;
	case ODO_CHECK_WRITE_FILE:
		if (stat(it->path, &st) == 0) {
			if (S_ISDIR(st.st_mode)) {
				snprintf(why, whysz, "is a directory");
				return 1;
			}
			if (access(it->path, W_OK) != 0) {
				snprintf(why, whysz, "%s", strerror(errno));
				return 1;
			}
		}
		parent_of(it->path, parent, sizeof parent);
		if (!dir_writable(parent, why, whysz)) {
			snprintf(reason, sizeof reason, "%s", why);
			snprintf(why, whysz, "its directory %.200s: %.100s", parent, reason);
			return 1;
		}
		return 0;
	case ODO_CHECK_CAN_IF:
		if (if_nametoindex(it->path) != 0)
			return 0;
		snprintf(why, whysz, "not there now (%s): the agent starts without it and uses it when it appears",
			 strerror(errno));
		return 2;
	case ODO_CHECK_DEVICE:
		if (stat(it->path, &st) == 0) {
			if (access(it->path, R_OK | W_OK) == 0)
				return 0;
			snprintf(why, whysz, "%s (the service's user needs read and write access: group i2c)",
				 strerror(errno));
			return 1;
		}
		snprintf(why, whysz, "not there now (%s): the agent starts without it and uses it when it appears",
			 strerror(errno));
		return 2;
	}
	return 0;
}

int odo_check_files(const struct odo_check_item *items, size_t n, FILE *out)
{
	int problems = 0;
	for (size_t i = 0; i < n; i++) {
		const struct odo_check_item *it = &items[i];
		if (!it->path || !it->path[0])
			continue;
		char why[WHY_MAX] = "";
		int r = check_one(it, why, sizeof why);
		if (r == 1) {
			problems++;
			fprintf(out, "odo-agent: [%s] %s %s: %s\n", it->section, it->key, it->path, why);
		} else if (r == 2) {
			fprintf(out, "odo-agent: note: [%s] %s %s: %s\n", it->section, it->key, it->path, why);
		}
	}
	return problems;
}
