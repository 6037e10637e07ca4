/*
 * odo-agent --check-config: does this machine give the configuration what it
 * needs? Each entry names a key, a path and what the agent will do with it;
 * odo_check_files() tests it as the current user (run it as the service's
 * user, `sudo -u odo odo-agent --check-config`) and prints one line per
 * problem: "[uplink] certfile /etc/odo/device.crt: No such file or directory".
 * Hardware that may appear later (a CAN interface, an I2C bus) is only a
 * note: the agent starts without it and picks it up when it comes.
 */
#ifndef ODO_AGENT_CHECK_H
#define ODO_AGENT_CHECK_H

#include <stddef.h>
#include <stdio.h>

enum odo_check_need {
	ODO_CHECK_READ,       /* a file to read (certificates, DBC) */
	ODO_CHECK_SECRET,     /* a secret: readable, and by nobody else (mode 0600/0400) */
	ODO_CHECK_WRITE_DIR,  /* a directory to write in (exists, or its parent lets us make it) */
	ODO_CHECK_WRITE_FILE, /* a file to write: itself writable, or a new one in a writable directory */
	ODO_CHECK_CAN_IF,     /* a SocketCAN interface name: a note when it is not there now */
	ODO_CHECK_DEVICE,     /* a device node (/dev/i2c-1): a note when it is not there now */
};

struct odo_check_item {
	const char *section, *key; /* "uplink", "certfile" */
	const char *path;          /* an empty path is skipped */
	enum odo_check_need need;
};

/* Check every item; print problems and notes to `out` ("odo-agent: " first).
 * Returns the number of problems (notes do not count). */
int odo_check_files(const struct odo_check_item *items, size_t n, FILE *out);

#endif
