#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <fcntl.h>

#include "odo/log.h"

int odo_log_threshold = ODO_LOG_INFO;
static const char *program = "odo";

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void odo_log_set_program(const char *name)
{
	program = name ? name : "odo";
}

int odo_log_level_parse(const char *s)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};

	if (!s)
		return -1;
	for (int i = 0; i < 4; i++)
		if (strcasecmp(s, names[i]) == 0)
			return i;
	if (s[0] >= '0' && s[0] <= '3' && s[1] == '\0')
		return s[0] - '0';
	return -1;
}

int odo_log_reopen(const char *path)
{
	int fd;

	if (!path || !*path)
		return ODO_OK;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return ODO_ERR_IO;
	if (dup2(fd, STDERR_FILENO) < 0) {
		close(fd);
		return ODO_ERR_IO;
	}
	close(fd);
	return ODO_OK;
}

void odo_log_write(int level, const char *area, const char *fmt, ...)
{
	char line[1024];
	int n;
	va_list ap;

	if (level < 0)
		level = 0;
	if (level > 3)
		level = 3;
	n = snprintf(line, sizeof(line), "%s[%ld]: %s %s: ", program, (long)getpid(),
		     level_names[level], area ? area : "-");
	if (n < 0)
		return;
	if ((size_t)n < sizeof(line)) {
		va_start(ap, fmt);
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	/* One write per line so concurrent writers do not interleave. */
	n = (int)strlen(line);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}
