/*
 * odo-ecu-sim scenario files (format: docs/can.md "ECU simulator").
 * Values are in SAE J1979 display units: rpm, km/h, degC, %, s, km.
 */
#ifndef ODO_ECUSIM_SCENARIO_H
#define ODO_ECUSIM_SCENARIO_H

#include <linux/can.h>
#include <stdint.h>

#define SIM_MAX_ECUS 8
#define SIM_MAX_PIDS 32
#define SIM_MAX_POINTS 64
#define SIM_MAX_DTCS 16
#define SIM_MAX_UDS 4
#define SIM_MAX_FRAMES 16
#define SIM_MAX_NRC 8
#define SIM_FUNC_11      0x7DFu
#define SIM_FUNC_29      0x18DB33F1u /* functional request, 29-bit */
#define SIM_RESP_29_BASE 0x18DAF100u /* 18DAF1xx: response of ECU xx */
#define SIM_REQ_29_BASE  0x18DA00F1u /* 18DAxxF1: physical request to ECU xx */

struct sim_pid {
	uint8_t pid;
	int n;
	double t[SIM_MAX_POINTS], v[SIM_MAX_POINTS];
};

struct sim_ecu {
	uint32_t resp_id, req_id, func_id; /* CAN_EFF_FLAG set for 29-bit */
	char vin[18];
	int mil;
	struct sim_pid pids[SIM_MAX_PIDS];
	int npids;
	uint8_t dtc[3][SIM_MAX_DTCS][2];
	int ndtc[3];
	struct { uint8_t sid, pid, nrc; } nrc[SIM_MAX_NRC];
	int nnrc;
	/* stall: the first multi-frame answer to service sid sent at or after
	 * from_t stops after its first frame for secs (the tester's flow
	 * control is held back), then the rest follows */
	struct {
		int set, state; /* state: 0 waiting, 1 answer sent, 2 FC held, 3 done */
		uint8_t sid;
		double from_t, secs, release_t;
		struct can_frame fc;
	} stall;
};

struct sim_uds {
	uint32_t req_id, resp_id;
	struct { uint8_t code[2]; uint8_t status; double from_t; } dtc[SIM_MAX_DTCS];
	int ndtc;
};

struct sim_frame {
	double t, period, until; /* until <= 0: forever */
	struct can_frame f;
	double next;
};

struct scenario {
	struct sim_ecu ecus[SIM_MAX_ECUS];
	int necus;
	struct sim_uds uds[SIM_MAX_UDS];
	int nuds;
	struct sim_frame frames[SIM_MAX_FRAMES];
	int nframes;
};

/* Parse a scenario file; on error prints "file:line: reason" to stderr. */
int scenario_load(const char *path, struct scenario *sc);
/* Value of a PID at time t (linear interpolation, clamped at the ends). */
double scenario_value(const struct sim_pid *p, double t);
struct sim_ecu *scenario_ecu(struct scenario *sc, uint32_t resp_id);

#endif
