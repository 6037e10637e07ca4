/*
 * odo-ecu-sim — answers OBD-II (SAE J1979 services 01, 03, 07, 0A, 09) and
 * UDS ReadDTCInformation (19 02) on a SocketCAN interface from a scenario
 * file, and sends scheduled broadcast frames (e.g. an airbag status frame).
 *
 *   odo-ecu-sim --iface vcan0 --scenario FILE [--isotp kernel|user] [--duration S]
 *               [--start-on-request] [-v]
 *
 * --start-on-request: the scenario's time 0 is the first OBD-II data request
 * (service 01 for a PID that is not a "PIDs supported" bitmap) rather than
 * the start (until then everything is as at time 0), so a slow requester
 * (an emulated VM on a busy host, a long PID discovery) sees the same ramp.
 *
 * A tool, not part of the agent: it uses the system clock directly.
 */
#include <errno.h>
#include <getopt.h>
#include <linux/can.h>
#include <linux/can/isotp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "can/isotp.h"
#include "can/obd.h"
#include "can/socketcan.h"
#include "odo/log.h"
#include "scenario.h"

static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }

static struct scenario sc;
static int raw_fd = -1, kernel, verbose;
static double t0;
static int start_on_request, started = 1;
static struct odo_isotp ecu_tp[SIM_MAX_ECUS], uds_tp[SIM_MAX_UDS];
static int ecu_phys[SIM_MAX_ECUS], ecu_func[SIM_MAX_ECUS], uds_fd[SIM_MAX_UDS];
static unsigned long long n_req, n_resp;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
static int64_t now_ns(void) { return (int64_t)(now_s() * 1e9); }

/* Scenario time (s). */
static double sim_t(void)
{
	return started ? now_s() - t0 : 0;
}

static int raw_send(void *ctx, const struct can_frame *f)
{
	(void)ctx;
	return write(raw_fd, f, sizeof *f) == (ssize_t)sizeof *f ? 0 : -1;
}

static void send_resp(int kind, int i, const uint8_t *d, size_t n)
{
	int rc;
	if (kernel) {
		int fd = kind == 0 ? ecu_phys[i] : uds_fd[i];
		rc = write(fd, d, n) == (ssize_t)n ? 0 : -1;
	} else {
		rc = odo_isotp_send(kind == 0 ? &ecu_tp[i] : &uds_tp[i], d, n, now_ns());
	}
	if (rc != 0)
		fprintf(stderr, "odo-ecu-sim: send failed (%d, %s)\n", rc, strerror(errno));
	else
		n_resp++;
	if (verbose) {
		fprintf(stderr, "odo-ecu-sim: %s %d ->", kind == 0 ? "ecu" : "uds", i);
		for (size_t k = 0; k < n && k < 24; k++)
			fprintf(stderr, " %02X", d[k]);
		fputc('\n', stderr);
	}
}

static int pid_supported(const struct sim_ecu *e, uint8_t pid)
{
	if (pid == 0x01)
		return 1;
	if ((pid & 0x1F) == 0) {
		/* a bitmap PID is supported when a higher PID is */
		for (int i = 0; i < e->npids; i++)
			if (e->pids[i].pid > pid)
				return 1;
		return 0;
	}
	for (int i = 0; i < e->npids; i++)
		if (e->pids[i].pid == pid)
			return 1;
	return 0;
}

static int nrc_for(const struct sim_ecu *e, uint8_t sid, uint8_t pid)
{
	for (int i = 0; i < e->nnrc; i++)
		if (e->nrc[i].sid == sid && e->nrc[i].pid == pid)
			return e->nrc[i].nrc;
	return -1;
}

static void answer_obd(int i, const uint8_t *q, size_t qn, int functional)
{
	struct sim_ecu *e = &sc.ecus[i];
	uint8_t r[64];
	size_t n = 0;
	if (!started && qn >= 2 && q[0] == 0x01 && q[1] % 0x20 != 0) {
		t0 = now_s(); /* the first data request (not a "PIDs supported" bitmap) */
		started = 1;
	}
	double t = sim_t();
	n_req++;
	if (qn < 1)
		return;
	int nrc = nrc_for(e, q[0], qn > 1 ? q[1] : 0);
	if (nrc >= 0) {
		uint8_t neg[3] = { 0x7F, q[0], (uint8_t)nrc };
		send_resp(0, i, neg, 3);
		return;
	}
	switch (q[0]) {
	case 0x01:
		r[n++] = 0x41;
		for (size_t k = 1; k < qn && k <= 6; k++) {
			uint8_t pid = q[k];
			if (!pid_supported(e, pid) && pid != 0x00)
				continue;
			r[n++] = pid;
			if ((pid & 0x1F) == 0) {
				uint8_t bm[4] = { 0 };
				for (int b = 1; b <= 32; b++)
					if (pid_supported(e, (uint8_t)(pid + b)))
						bm[(b - 1) / 8] |= (uint8_t)(0x80 >> ((b - 1) % 8));
				memcpy(r + n, bm, 4);
				n += 4;
			} else if (pid == 0x01) {
				r[n++] = (uint8_t)((e->mil ? 0x80 : 0) | (e->ndtc[0] & 0x7F));
				r[n++] = 0x07;
				r[n++] = 0xE5;
				r[n++] = 0x00;
			} else {
				for (int p = 0; p < e->npids; p++)
					if (e->pids[p].pid == pid) {
						double v = scenario_value(&e->pids[p], t);
						if (pid == 0x0D)
							v /= 3.6;     /* km/h -> m/s */
						if (pid == 0x21 || pid == 0x31)
							v *= 1000;    /* km -> m */
						n += (size_t)odo_obd_encode_pid(pid, v, r + n);
					}
			}
		}
		if (n == 1) {
			if (!functional) {
				uint8_t neg[3] = { 0x7F, 0x01, 0x31 };
				send_resp(0, i, neg, 3);
			}
			return;
		}
		break;
	case 0x03: case 0x07: case 0x0A: {
		int l = q[0] == 0x03 ? 0 : q[0] == 0x07 ? 1 : 2;
		r[n++] = (uint8_t)(q[0] + 0x40);
		r[n++] = (uint8_t)e->ndtc[l];
		for (int k = 0; k < e->ndtc[l]; k++) {
			r[n++] = e->dtc[l][k][0];
			r[n++] = e->dtc[l][k][1];
		}
		break;
	}
	case 0x09:
		if (qn >= 2 && q[1] == 0x02 && e->vin[0]) {
			r[n++] = 0x49;
			r[n++] = 0x02;
			r[n++] = 0x01;
			memcpy(r + n, e->vin, 17);
			n += 17;
		} else if (qn >= 2 && q[1] == 0x00) {
			uint8_t m[6] = { 0x49, 0x00, 0x40, 0, 0, 0 };
			memcpy(r, m, 6);
			n = 6;
		} else {
			if (!functional) {
				uint8_t neg[3] = { 0x7F, 0x09, 0x31 };
				send_resp(0, i, neg, 3);
			}
			return;
		}
		break;
	default:
		if (!functional) {
			uint8_t neg[3] = { 0x7F, q[0], 0x11 };
			send_resp(0, i, neg, 3);
		}
		return;
	}
	if (e->stall.set && e->stall.state == 0 && q[0] == e->stall.sid && t >= e->stall.from_t && n > 7) {
		/* wait for the tester's flow control past the stall */
		e->stall.state = 1;
		ecu_tp[i].n_bs_ns = (int64_t)((e->stall.secs + 1) * 1e9);
		fprintf(stderr, "odo-ecu-sim: ECU %X stalls for %.1f s after the first frame of %02X\n",
			(unsigned)(e->resp_id & CAN_EFF_MASK), e->stall.secs, q[0] + 0x40);
	}
	send_resp(0, i, r, n);
}

/* Hold the tester's flow control to a stalled ECU; 1 when f was held. */
static int stall_hold(const struct can_frame *f, double t)
{
	for (int i = 0; i < sc.necus; i++) {
		struct sim_ecu *e = &sc.ecus[i];
		if (e->stall.state == 1 && f->can_id == e->req_id && f->can_dlc >= 1 && (f->data[0] >> 4) == 3) {
			e->stall.fc = *f;
			e->stall.release_t = t + e->stall.secs;
			e->stall.state = 2;
			return 1;
		}
	}
	return 0;
}

/* Release a held flow control when its stall is over: the rest follows. */
static void stall_release(double t, int64_t now)
{
	for (int i = 0; i < sc.necus; i++) {
		struct sim_ecu *e = &sc.ecus[i];
		if (e->stall.state == 2 && t >= e->stall.release_t) {
			e->stall.state = 3;
			odo_isotp_rx(&ecu_tp[i], &e->stall.fc, now);
			ecu_tp[i].n_bs_ns = ODO_ISOTP_N_BS_NS;
			fprintf(stderr, "odo-ecu-sim: ECU %X resumes\n", (unsigned)(e->resp_id & CAN_EFF_MASK));
		}
	}
}

static void answer_uds(int i, const uint8_t *q, size_t qn)
{
	struct sim_uds *u = &sc.uds[i];
	uint8_t r[3 + 4 * SIM_MAX_DTCS];
	size_t n = 0;
	double t = sim_t();
	n_req++;
	if (qn < 3 || q[0] != 0x19 || q[1] != 0x02) {
		uint8_t neg[3] = { 0x7F, qn ? q[0] : 0, (uint8_t)(qn && q[0] == 0x19 ? 0x12 : 0x11) };
		send_resp(1, i, neg, 3);
		return;
	}
	r[n++] = 0x59;
	r[n++] = 0x02;
	r[n++] = 0xFF;
	for (int k = 0; k < u->ndtc; k++)
		if (t >= u->dtc[k].from_t && (u->dtc[k].status & q[2])) {
			r[n++] = u->dtc[k].code[0];
			r[n++] = u->dtc[k].code[1];
			r[n++] = 0x00;
			r[n++] = u->dtc[k].status;
		}
	send_resp(1, i, r, n);
}

static void tp_msg(void *ctx, struct odo_isotp *l, const uint8_t *d, size_t n)
{
	(void)ctx;
	intptr_t tag = (intptr_t)l->user;
	if (tag >= 100)
		answer_uds((int)(tag - 100), d, n);
	else
		answer_obd((int)tag, d, n, 0);
}

static void usage(void)
{
	fprintf(stderr, "usage: odo-ecu-sim --iface IF --scenario FILE [--isotp kernel|user] [--duration S]\n"
			"                   [--start-on-request] [-v]\n"
			"Answers OBD-II and UDS 19 02 from a scenario (docs/can.md).\n");
}

int main(int argc, char **argv)
{
	const char *iface = NULL, *scen = NULL, *mode = "user";
	double duration = 0;
	static const struct option opts[] = {
		{ "iface", required_argument, 0, 'i' }, { "scenario", required_argument, 0, 's' },
		{ "isotp", required_argument, 0, 'm' }, { "duration", required_argument, 0, 'd' },
		{ "verbose", no_argument, 0, 'v' }, { "help", no_argument, 0, 'h' },
		{ "start-on-request", no_argument, 0, 'S' }, { 0, 0, 0, 0 }
	};
	int c;
	while ((c = getopt_long(argc, argv, "i:s:m:d:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'i': iface = optarg; break;
		case 's': scen = optarg; break;
		case 'm': mode = optarg; break;
		case 'd': duration = atof(optarg); break;
		case 'v': verbose = 1; break;
		case 'S': start_on_request = 1; started = 0; break;
		case 'h': usage(); return 0;
		default: usage(); return 2;
		}
	}
	if (!iface || !scen || (strcmp(mode, "kernel") != 0 && strcmp(mode, "user") != 0)) {
		usage();
		return 2;
	}
	kernel = strcmp(mode, "kernel") == 0;
	if (scenario_load(scen, &sc) != 0)
		return 1;
	for (int i = 0; i < sc.necus; i++)
		if (kernel && sc.ecus[i].stall.set) {
			fprintf(stderr, "odo-ecu-sim: 'stall' needs --isotp user (the kernel sends the frames)\n");
			return 2;
		}
	if (odo_can_raw_open(iface, &raw_fd) != 0) {
		fprintf(stderr, "odo-ecu-sim: %s: %s\n", iface, strerror(errno));
		return 1;
	}
	struct pollfd pfd[1 + 2 * SIM_MAX_ECUS + SIM_MAX_UDS];
	int tags[ODO_ARRAY_LEN(pfd)];
	int np = 0;
	pfd[np].fd = raw_fd;
	pfd[np].events = POLLIN;
	tags[np++] = -1;
	struct odo_isotp_cb cb = { .send = raw_send, .msg = tp_msg };
	for (int i = 0; i < sc.necus; i++) {
		struct sim_ecu *e = &sc.ecus[i];
		if (kernel) {
			if (odo_can_isotp_open(iface, e->resp_id, e->req_id, 0, 0, &ecu_phys[i]) != 0 ||
			    odo_can_isotp_open(iface, e->resp_id, e->func_id, 0, 0, &ecu_func[i]) != 0) {
				fprintf(stderr, "odo-ecu-sim: kernel ISO-TP: %s\n", strerror(errno));
				return 1;
			}
			pfd[np].fd = ecu_phys[i]; pfd[np].events = POLLIN; tags[np++] = i;
			pfd[np].fd = ecu_func[i]; pfd[np].events = POLLIN; tags[np++] = 1000 + i;
		} else {
			odo_isotp_init(&ecu_tp[i], e->resp_id, e->req_id, 0, 0, &cb);
			ecu_tp[i].user = (void *)(intptr_t)i;
		}
	}
	for (int i = 0; i < sc.nuds; i++) {
		if (kernel) {
			if (odo_can_isotp_open(iface, sc.uds[i].resp_id, sc.uds[i].req_id, 0, 0, &uds_fd[i]) != 0) {
				fprintf(stderr, "odo-ecu-sim: kernel ISO-TP: %s\n", strerror(errno));
				return 1;
			}
			pfd[np].fd = uds_fd[i]; pfd[np].events = POLLIN; tags[np++] = 100 + i;
		} else {
			odo_isotp_init(&uds_tp[i], sc.uds[i].resp_id, sc.uds[i].req_id, 0, 0, &cb);
			uds_tp[i].user = (void *)(intptr_t)(100 + i);
		}
	}
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	t0 = now_s();
	fprintf(stderr, "odo-ecu-sim: %s, %s ISO-TP, %d ECUs, %d UDS modules, %d frames\n", iface, mode, sc.necus,
		sc.nuds, sc.nframes);
	uint8_t buf[ODO_ISOTP_MAX];
	while (!stop) {
		double t = sim_t();
		if (duration > 0 && t >= duration)
			break;
		for (int k = 0; k < sc.nframes; k++) {
			struct sim_frame *fr = &sc.frames[k];
			if (fr->next >= 0 && t >= fr->next) {
				(void)raw_send(NULL, &fr->f);
				fr->next = fr->period > 0 ? fr->next + fr->period : -1;
				if (fr->until > 0 && fr->next >= fr->until)
					fr->next = -1;
			}
		}
		int r = poll(pfd, (nfds_t)np, 5);
		if (r < 0 && errno != EINTR)
			break;
		int64_t now = now_ns();
		for (int k = 0; k < np && r > 0; k++) {
			if (!(pfd[k].revents & POLLIN))
				continue;
			if (tags[k] == -1) {
				struct can_frame f;
				while (read(raw_fd, &f, sizeof f) == (ssize_t)sizeof f) {
					if (kernel)
						continue;
					if (f.can_id == SIM_FUNC_11 ||
					    f.can_id == (SIM_FUNC_29 | CAN_EFF_FLAG)) {
						uint8_t len = f.data[0];
						if ((len >> 4) == 0 && len >= 1 && len <= 7 && f.can_dlc >= len + 1)
							for (int i = 0; i < sc.necus; i++)
								if (sc.ecus[i].func_id == f.can_id)
									answer_obd(i, f.data + 1, len, 1);
						continue;
					}
					if (stall_hold(&f, sim_t()))
						continue;
					for (int i = 0; i < sc.necus; i++)
						odo_isotp_rx(&ecu_tp[i], &f, now);
					for (int i = 0; i < sc.nuds; i++)
						odo_isotp_rx(&uds_tp[i], &f, now);
				}
				continue;
			}
			ssize_t n;
			while ((n = read(pfd[k].fd, buf, sizeof buf)) > 0) {
				int tag = tags[k];
				if (tag >= 1000)
					answer_obd(tag - 1000, buf, (size_t)n, 1);
				else if (tag >= 100)
					answer_uds(tag - 100, buf, (size_t)n);
				else
					answer_obd(tag, buf, (size_t)n, 0);
			}
		}
		if (!kernel) {
			stall_release(sim_t(), now);
			for (int i = 0; i < sc.necus; i++)
				odo_isotp_tick(&ecu_tp[i], now);
			for (int i = 0; i < sc.nuds; i++)
				odo_isotp_tick(&uds_tp[i], now);
		}
	}
	fprintf(stderr, "odo-ecu-sim: %llu requests, %llu responses\n", n_req, n_resp);
	return 0;
}
