/*
 * cancheck — proves, inside the test VM, that the kernel facilities odo's
 * agent relies on work the way the agent uses them:
 *   1. CAN_RAW on vcan0: a frame sent on one socket arrives on another, byte for byte;
 *   2. CAN_ISOTP on vcan0: a 100-byte message goes 0x7E0 -> 0x7E8 and a different
 *      100-byte reply comes back (multi-frame, flow control by the kernel);
 *   3. i2c-dev on /dev/i2c-0 (i2c-stub, chip 0x1d): an SMBus byte-data write to a
 *      register reads back the same value, and a second register is independent.
 * The guest script creates vcan0 and loads i2c-stub; this program sets nothing up.
 * Every check prints "ok"/"FAIL"; the exit status is the number of failed checks.
 *
 * Usage: cancheck [IFACE [I2C_DEV [I2C_ADDR]]]   (defaults vcan0 /dev/i2c-0 0x1d)
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/can.h>
#include <linux/can/isotp.h>
#include <linux/can/raw.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
	CANCHECK_WAIT_MS = 2000,     /* how long a receive may take before it counts as lost */
	CANCHECK_ISOTP_LEN = 100,    /* ISO-TP message size: needs first + consecutive frames */
	CANCHECK_ISOTP_BUF = 4096,   /* receive buffer, larger than any message we send */
	CANCHECK_ID_TESTER = 0x7E0,  /* OBD-II physical request id */
	CANCHECK_ID_ECU = 0x7E8,     /* OBD-II response id of ECU #1 */
	CANCHECK_I2C_REG_A = 0x20,   /* i2c-stub registers used by the test */
	CANCHECK_I2C_REG_B = 0x21,
};

static int failures;

static void check(int cond, const char *what)
{
	printf("cancheck: %s: %s\n", cond ? "ok" : "FAIL", what);
	if (!cond)
		failures++;
}

/* Waits until fd is readable; 1 when it is, 0 on timeout or error. */
static int wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n = poll(&p, 1, CANCHECK_WAIT_MS);
	return n == 1 && (p.revents & POLLIN);
}

static int open_raw(int ifindex)
{
	struct sockaddr_can a = { .can_family = AF_CAN, .can_ifindex = ifindex };
	int s = socket(PF_CAN, SOCK_RAW, CAN_RAW);
	if (s < 0) {
		perror("cancheck: socket(CAN_RAW)");
		return -1;
	}
	if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) {
		perror("cancheck: bind(CAN_RAW)");
		close(s);
		return -1;
	}
	return s;
}

static void check_raw(int ifindex)
{
	static const unsigned char payload[8] = { 0x02, 0x01, 0x0c, 0x55, 0xaa, 0x00, 0xff, 0x7e };
	struct can_frame tx = { .can_id = CANCHECK_ID_TESTER, .len = sizeof payload };
	struct can_frame rx;
	int a = open_raw(ifindex), b = open_raw(ifindex);
	check(a >= 0 && b >= 0, "two CAN_RAW sockets bound to the interface");
	if (a < 0 || b < 0)
		goto out;
	memcpy(tx.data, payload, sizeof payload);
	check(write(a, &tx, sizeof tx) == (ssize_t)sizeof tx, "raw frame written");
	memset(&rx, 0, sizeof rx);
	int got = wait_readable(b) && read(b, &rx, sizeof rx) == (ssize_t)sizeof rx;
	check(got, "raw frame received on the second socket");
	check(got && rx.can_id == CANCHECK_ID_TESTER, "raw frame id 0x7E0");
	check(got && rx.len == sizeof payload && memcmp(rx.data, payload, sizeof payload) == 0,
	      "raw frame length and 8 data bytes identical");
	/* The sender does not see its own frame (CAN_RAW_RECV_OWN_MSGS is off). */
	check(!wait_readable(a), "sender does not receive its own frame");
out:
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
}

static int open_isotp(int ifindex, canid_t tx_id, canid_t rx_id)
{
	struct sockaddr_can a = { .can_family = AF_CAN, .can_ifindex = ifindex };
	int s = socket(PF_CAN, SOCK_DGRAM, CAN_ISOTP);
	if (s < 0) {
		perror("cancheck: socket(CAN_ISOTP)");
		return -1;
	}
	a.can_addr.tp.tx_id = tx_id;
	a.can_addr.tp.rx_id = rx_id;
	if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) {
		perror("cancheck: bind(CAN_ISOTP)");
		close(s);
		return -1;
	}
	return s;
}

/* Sends len bytes on from, expects exactly them on to. */
static void isotp_exchange(int from, int to, const unsigned char *msg, size_t len, const char *dir)
{
	static unsigned char buf[CANCHECK_ISOTP_BUF];
	char what[128];
	ssize_t n = write(from, msg, len);
	snprintf(what, sizeof what, "ISO-TP %s: %zu-byte message written", dir, len);
	check(n == (ssize_t)len, what);
	memset(buf, 0, sizeof buf);
	n = wait_readable(to) ? read(to, buf, sizeof buf) : -1;
	snprintf(what, sizeof what, "ISO-TP %s: received %zd bytes, want %zu", dir, n, len);
	check(n == (ssize_t)len, what);
	snprintf(what, sizeof what, "ISO-TP %s: content identical", dir);
	check(n == (ssize_t)len && memcmp(buf, msg, len) == 0, what);
}

static void check_isotp(int ifindex)
{
	unsigned char req[CANCHECK_ISOTP_LEN], resp[CANCHECK_ISOTP_LEN];
	int tester = open_isotp(ifindex, CANCHECK_ID_TESTER, CANCHECK_ID_ECU);
	int ecu = open_isotp(ifindex, CANCHECK_ID_ECU, CANCHECK_ID_TESTER);
	check(tester >= 0 && ecu >= 0, "two CAN_ISOTP sockets (0x7E0/0x7E8 and reverse)");
	if (tester < 0 || ecu < 0)
		goto out;
	for (size_t i = 0; i < sizeof req; i++) {
		req[i] = (unsigned char)(i * 7 + 3);
		resp[i] = (unsigned char)(0xff - i);
	}
	isotp_exchange(tester, ecu, req, sizeof req, "0x7E0->0x7E8");
	isotp_exchange(ecu, tester, resp, sizeof resp, "0x7E8->0x7E0");
out:
	if (tester >= 0)
		close(tester);
	if (ecu >= 0)
		close(ecu);
}

static int smbus(int fd, unsigned char rw, unsigned char reg, union i2c_smbus_data *d)
{
	struct i2c_smbus_ioctl_data io = {
		.read_write = rw, .command = reg, .size = I2C_SMBUS_BYTE_DATA, .data = d,
	};
	return ioctl(fd, I2C_SMBUS, &io);
}

static void check_i2c(const char *dev, long addr)
{
	union i2c_smbus_data d;
	int fd = open(dev, O_RDWR);
	check(fd >= 0, "i2c device opened");
	if (fd < 0) {
		fprintf(stderr, "cancheck: open %s: %s\n", dev, strerror(errno));
		return;
	}
	check(ioctl(fd, I2C_SLAVE, addr) == 0, "I2C_SLAVE set to the stub chip");
	d.byte = 0xa5;
	check(smbus(fd, I2C_SMBUS_WRITE, CANCHECK_I2C_REG_A, &d) == 0, "SMBus write byte data 0xa5 to 0x20");
	d.byte = 0x3c;
	check(smbus(fd, I2C_SMBUS_WRITE, CANCHECK_I2C_REG_B, &d) == 0, "SMBus write byte data 0x3c to 0x21");
	d.byte = 0;
	check(smbus(fd, I2C_SMBUS_READ, CANCHECK_I2C_REG_A, &d) == 0 && d.byte == 0xa5,
	      "SMBus read of 0x20 gives 0xa5");
	d.byte = 0;
	check(smbus(fd, I2C_SMBUS_READ, CANCHECK_I2C_REG_B, &d) == 0 && d.byte == 0x3c,
	      "SMBus read of 0x21 gives 0x3c");
	/* A chip that is not there must not answer. */
	check(ioctl(fd, I2C_SLAVE, addr + 1) == 0 && smbus(fd, I2C_SMBUS_READ, CANCHECK_I2C_REG_A, &d) < 0,
	      "no answer from an address without a chip");
	close(fd);
}

int main(int argc, char **argv)
{
	const char *ifname = argc > 1 ? argv[1] : "vcan0";
	const char *i2cdev = argc > 2 ? argv[2] : "/dev/i2c-0";
	long addr = argc > 3 ? strtol(argv[3], NULL, 0) : 0x1d;
	int ifindex = (int)if_nametoindex(ifname);

	setvbuf(stdout, NULL, _IOLBF, 0);
	check(ifindex > 0, "CAN interface exists");
	if (ifindex > 0) {
		check_raw(ifindex);
		check_isotp(ifindex);
	}
	check_i2c(i2cdev, addr);
	printf("cancheck: %d check(s) failed\n", failures);
	return failures > 255 ? 255 : failures;
}
