/*
 * slcan-sim — the far end of a serial-line CAN adapter, for VM tests of the
 * kernel's slcan driver (a real can-dev controller: bitrate, state, bus-off)
 * without hardware. Opens a pty, puts the N_SLCAN line discipline on its
 * slave (the kernel then registers an slcanN interface) and speaks the
 * adapter's side of the protocol on the master:
 *
 *   from the driver   C (close)  Sn (bitrate index)  O (open)  L (listen-only)
 *                     F (status flags, answered F00)  tIIIL.. / TIIIIIIIIL.. (frames)
 *   to the driver     \r after a command; frames tIIIL..; state sXRRRTTT
 *                     (X = a/w/p/b, RRR/TTT decimal error counters)
 *
 * While open it is one OBD-II ECU (7E8) answering functional 7DF service 01
 * requests: PID 00 (supported: 0C, 0D), 0C = 1000 rpm x the number of O
 * commands seen so far, 0D = 10 km/h x the same, so a test can tell answers
 * given before and after a re-open apart. SIGUSR1 reports bus-off
 * ("sb256256"); from then on host frames are ignored until the next O, as a
 * controller that left the bus would. SIGTERM/SIGINT end it (closing the pty
 * removes the interface).
 *
 *   slcan-sim      prints "attached IFNAME", then one line per command and event
 *
 * Protocol as in the kernel's drivers/net/can/slcan/slcan-core.c (6.1):
 * slcan_netdev_open() sends "C\rS%d\r", optionally "F\r", then "O\r" (or
 * "L\r") when a bitrate was set with ip link; slcan_bump_state() takes
 * exactly 8 characters for a state.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "odo/hex.h"

#ifndef N_SLCAN
#define N_SLCAN 17 /* include/uapi/linux/tty.h */
#endif

#define LINE_MAX_LEN 64
#define ECU_RESP     0x7E8
#define OBD_FUNC     0x7DF
#define PAD          0xCC

static int master = -1;
static int opens, bus_off;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void put(const char *s)
{
	size_t n = strlen(s);
	if (write(master, s, n) != (ssize_t)n)
		say("write failed: %s", strerror(errno));
}

/* Send an 11-bit frame of 8 bytes: payload then padding. */
static void send_frame(unsigned id, const unsigned char *d, int n)
{
	char line[LINE_MAX_LEN];
	int k = snprintf(line, sizeof line, "t%03X8", id);
	for (int i = 0; i < 8; i++)
		k += snprintf(line + k, sizeof line - (size_t)k, "%02X", i < n ? d[i] : PAD);
	snprintf(line + k, sizeof line - (size_t)k, "\r");
	put(line);
}

static void obd_request(unsigned pid)
{
	unsigned char r[8];
	int n = 0;
	switch (pid) {
	case 0x00: /* bitmap of 01..20: bits for 0C and 0D */
		r[n++] = 6;
		r[n++] = 0x41;
		r[n++] = 0x00;
		r[n++] = 0x00;
		r[n++] = 0x18;
		r[n++] = 0x00;
		r[n++] = 0x00;
		break;
	case 0x0C: {
		unsigned v = 1000u * (unsigned)opens * 4u; /* rpm x 4 */
		say("rpm answer (open %d)", opens); /* the test waits for these, not for a time */
		r[n++] = 4;
		r[n++] = 0x41;
		r[n++] = 0x0C;
		r[n++] = (unsigned char)(v >> 8);
		r[n++] = (unsigned char)v;
		break;
	}
	case 0x0D:
		r[n++] = 3;
		r[n++] = 0x41;
		r[n++] = 0x0D;
		r[n++] = (unsigned char)(10 * opens);
		break;
	default:
		return; /* not supported: no answer, like a real ECU to a functional request */
	}
	send_frame(ECU_RESP, r, n);
}

/* A frame from the host: tIIIL<data> or TIIIIIIIIL<data>. */
static void host_frame(const char *l, size_t n)
{
	int ext = l[0] == 'T';
	size_t idlen = ext ? 8 : 3;
	if (n < 1 + idlen + 1)
		return;
	unsigned id = 0;
	for (size_t i = 1; i <= idlen; i++) {
		int h = odo_hex_digit(l[i]);
		if (h < 0)
			return;
		id = id << 4 | (unsigned)h;
	}
	int dlc = l[1 + idlen] - '0';
	if (dlc < 0 || dlc > 8 || n < 2 + idlen + 2 * (size_t)dlc)
		return;
	unsigned char d[8];
	for (int i = 0; i < dlc; i++) {
		int hi = odo_hex_digit(l[2 + idlen + 2 * (size_t)i]), lo = odo_hex_digit(l[3 + idlen + 2 * (size_t)i]);
		if (hi < 0 || lo < 0)
			return;
		d[i] = (unsigned char)(hi << 4 | lo);
	}
	if (opens == 0 || bus_off)
		return; /* closed, or off the bus: nothing reaches the ECU */
	if (!ext && id == OBD_FUNC && dlc >= 3 && d[0] == 2 && d[1] == 0x01)
		obd_request(d[2]);
}

static void line(const char *l, size_t n)
{
	if (n == 0)
		return;
	switch (l[0]) {
	case 't':
	case 'T':
		host_frame(l, n);
		return;
	case 'C':
		say("cmd C");
		put("\r");
		return;
	case 'S':
		say("cmd S%.*s", (int)(n - 1), l + 1);
		put("\r");
		return;
	case 'F':
		say("cmd F");
		put("F00\r");
		return;
	case 'O':
	case 'L':
		opens++;
		bus_off = 0;
		say("cmd %c (open %d)", l[0], opens);
		put("\r");
		return;
	default:
		say("cmd %.*s: unknown, answered BEL", (int)n, l);
		put("\a");
	}
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
		perror("slcan-sim: pty");
		return 1;
	}
	int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	if (slave < 0) {
		perror("slcan-sim: pty slave");
		return 1;
	}
	struct termios tio;
	if (tcgetattr(slave, &tio) == 0) {
		cfmakeraw(&tio);
		(void)tcsetattr(slave, TCSANOW, &tio);
	}
	int ldisc = N_SLCAN;
	if (ioctl(slave, TIOCSETD, &ldisc) != 0) {
		perror("slcan-sim: TIOCSETD N_SLCAN (is the slcan module loaded?)");
		return 1;
	}
	char ifname[IFNAMSIZ + 1] = "";
	if (ioctl(slave, SIOCGIFNAME, ifname) != 0) {
		perror("slcan-sim: SIOCGIFNAME");
		return 1;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0) {
		perror("slcan-sim: signalfd");
		return 1;
	}
	say("attached %s", ifname);
	char buf[LINE_MAX_LEN];
	size_t have = 0;
	for (;;) {
		struct pollfd p[2] = {{.fd = master, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("slcan-sim: poll");
			return 1;
		}
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
				if (si.ssi_signo != SIGUSR1)
					break;
				bus_off = 1;
				say("state bus-off");
				put("sb256256\r");
			}
		}
		if (p[0].revents & POLLIN) {
			char in[256];
			ssize_t r = read(master, in, sizeof in);
			if (r <= 0) {
				if (r < 0 && errno == EINTR)
					continue;
				say("pty closed");
				break;
			}
			for (ssize_t i = 0; i < r; i++) {
				if (in[i] == '\r' || in[i] == '\a') {
					line(buf, have);
					have = 0;
				} else if (have < sizeof buf) {
					buf[have++] = in[i];
				}
			}
		} else if (p[0].revents & (POLLHUP | POLLERR)) {
			say("pty hung up");
			break;
		}
	}
	close(slave);
	close(master);
	return 0;
}
