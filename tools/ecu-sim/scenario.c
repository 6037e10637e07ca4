/* Scenario file parser for odo-ecu-sim (see scenario.h). */
#include "scenario.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "can/candump.h"
#include "can/obd.h"

double scenario_value(const struct sim_pid *p, double t)
{
	if (p->n == 0)
		return 0;
	if (t <= p->t[0])
		return p->v[0];
	for (int i = 1; i < p->n; i++)
		if (t <= p->t[i]) {
			double a = (t - p->t[i - 1]) / (p->t[i] - p->t[i - 1]);
			return p->v[i - 1] + a * (p->v[i] - p->v[i - 1]);
		}
	return p->v[p->n - 1];
}

struct sim_ecu *scenario_ecu(struct scenario *sc, uint32_t resp_id)
{
	for (int i = 0; i < sc->necus; i++)
		if (sc->ecus[i].resp_id == resp_id)
			return &sc->ecus[i];
	return NULL;
}

static int hexid(const char *s, uint32_t *out)
{
	char *e;
	unsigned long v = strtoul(s, &e, 16);
	if (!*s || *e || v > 0x7FF)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* An OBD responder: 7E8..7EF, or 29-bit 18DAF1xx (ISO 15765-4; with
 * CAN_EFF_FLAG in the result). */
static int ecuid(const char *s, uint32_t *out)
{
	char *e;
	unsigned long v = strtoul(s, &e, 16);
	if (!*s || *e)
		return -1;
	if (v >= 0x7E8 && v <= 0x7EF) {
		*out = (uint32_t)v;
		return 0;
	}
	if (strlen(s) == 8 && (v & 0xFFFFFF00ul) == SIM_RESP_29_BASE) {
		*out = (uint32_t)v | CAN_EFF_FLAG;
		return 0;
	}
	return -1;
}

#define FAIL(...) do { fprintf(stderr, "%s:%d: ", path, line); fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); fclose(f); return -1; } while (0)

int scenario_load(const char *path, struct scenario *sc)
{
	memset(sc, 0, sizeof *sc);
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return -1;
	}
	char buf[1024];
	int line = 0;
	while (fgets(buf, sizeof buf, f)) {
		line++;
		char *hash = strchr(buf, '#');
		/* '#' inside a frame's ID#DATA is not a comment */
		if (hash && (hash == buf || hash[-1] == ' ' || hash[-1] == '\t'))
			*hash = '\0';
		char *tok[80];
		int nt = 0;
		for (char *t = strtok(buf, " \t\r\n"); t && nt < 80; t = strtok(NULL, " \t\r\n"))
			tok[nt++] = t;
		if (nt == 0)
			continue;
		uint32_t id;
		if (strcmp(tok[0], "ecu") == 0) {
			if (nt != 2 || ecuid(tok[1], &id) != 0)
				FAIL("ecu: want 'ecu 7E8' (7E8..7EF) or 'ecu 18DAF110' (18DAF1xx)");
			if (sc->necus >= SIM_MAX_ECUS || scenario_ecu(sc, id))
				FAIL("ecu: duplicate or too many");
			struct sim_ecu *ne = &sc->ecus[sc->necus++];
			ne->resp_id = id;
			if (id & CAN_EFF_FLAG) { /* 18DAF1xx answers 18DAxxF1 and 18DB33F1 */
				ne->req_id = SIM_REQ_29_BASE | (id & 0xFF) << 8 | CAN_EFF_FLAG;
				ne->func_id = SIM_FUNC_29 | CAN_EFF_FLAG;
			} else {
				ne->req_id = id - 8;
				ne->func_id = SIM_FUNC_11;
			}
			continue;
		}
		if (strcmp(tok[0], "frame") == 0) {
			int64_t t;
			char ifn[IFNAMSIZ];
			char l[128];
			if ((nt != 4 && nt != 5) || sc->nframes >= SIM_MAX_FRAMES)
				FAIL("frame: want 'frame T PERIOD ID#DATA [UNTIL]'");
			struct sim_frame *fr = &sc->frames[sc->nframes];
			fr->t = atof(tok[1]);
			fr->period = atof(tok[2]);
			fr->until = nt == 5 ? atof(tok[4]) : 0;
			snprintf(l, sizeof l, "(0.0) x %s", tok[3]);
			if (odo_candump_parse_line(l, &t, ifn, &fr->f) != 0)
				FAIL("frame: bad ID#DATA '%s'", tok[3]);
			fr->next = fr->t;
			sc->nframes++;
			continue;
		}
		if (strcmp(tok[0], "uds") == 0) {
			uint32_t req, resp;
			if (nt != 6 || hexid(tok[1], &req) || hexid(tok[2], &resp))
				FAIL("uds: want 'uds REQ RESP CODE STATUS FROM_T'");
			struct sim_uds *u = NULL;
			for (int i = 0; i < sc->nuds; i++)
				if (sc->uds[i].req_id == req)
					u = &sc->uds[i];
			if (!u) {
				if (sc->nuds >= SIM_MAX_UDS)
					FAIL("uds: too many modules");
				u = &sc->uds[sc->nuds++];
				u->req_id = req;
				u->resp_id = resp;
			}
			if (u->ndtc >= SIM_MAX_DTCS || odo_obd_dtc_parse(tok[3], u->dtc[u->ndtc].code) != 0)
				FAIL("uds: bad DTC '%s'", tok[3]);
			u->dtc[u->ndtc].status = (uint8_t)strtoul(tok[4], NULL, 16);
			u->dtc[u->ndtc].from_t = atof(tok[5]);
			u->ndtc++;
			continue;
		}
		if (nt < 2 || ecuid(tok[1], &id) != 0)
			FAIL("'%s': want an ECU id after it", tok[0]);
		struct sim_ecu *e = scenario_ecu(sc, id);
		if (!e)
			FAIL("ECU %X not declared with 'ecu'", (unsigned)id);
		if (strcmp(tok[0], "vin") == 0) {
			if (nt != 3 || strlen(tok[2]) != 17)
				FAIL("vin: want 17 characters");
			memcpy(e->vin, tok[2], 18);
		} else if (strcmp(tok[0], "mil") == 0) {
			if (nt != 3)
				FAIL("mil: on|off");
			e->mil = strcmp(tok[2], "on") == 0;
		} else if (strcmp(tok[0], "pid") == 0) {
			if (nt < 4 || e->npids >= SIM_MAX_PIDS || nt - 3 > SIM_MAX_POINTS)
				FAIL("pid: want 'pid ECU PID T:V ...'");
			struct sim_pid *p = &e->pids[e->npids++];
			p->pid = (uint8_t)strtoul(tok[2], NULL, 16);
			uint8_t tmp[4];
			if (odo_obd_encode_pid(p->pid, 0, tmp) == 0)
				FAIL("pid: %s cannot be simulated", tok[2]);
			for (int i = 3; i < nt; i++) {
				char *c = strchr(tok[i], ':');
				if (!c)
					FAIL("pid: point '%s' is not T:V", tok[i]);
				p->t[p->n] = atof(tok[i]);
				p->v[p->n] = atof(c + 1);
				if (p->n && p->t[p->n] <= p->t[p->n - 1])
					FAIL("pid: times must increase");
				p->n++;
			}
		} else if (strcmp(tok[0], "dtc") == 0) {
			int l = nt >= 3 ? (strcmp(tok[2], "stored") == 0 ? 0 : strcmp(tok[2], "pending") == 0 ? 1
					   : strcmp(tok[2], "permanent") == 0 ? 2 : -1) : -1;
			if (l < 0)
				FAIL("dtc: want 'dtc ECU stored|pending|permanent CODE...'");
			for (int i = 3; i < nt; i++) {
				if (e->ndtc[l] >= SIM_MAX_DTCS || odo_obd_dtc_parse(tok[i], e->dtc[l][e->ndtc[l]]) != 0)
					FAIL("dtc: bad code '%s'", tok[i]);
				e->ndtc[l]++;
			}
		} else if (strcmp(tok[0], "stall") == 0) {
			if (nt != 5 || e->stall.set || atof(tok[4]) <= 0)
				FAIL("stall: want 'stall ECU SID FROM_T SECONDS' (once per ECU)");
			e->stall.set = 1;
			e->stall.sid = (uint8_t)strtoul(tok[2], NULL, 16);
			e->stall.from_t = atof(tok[3]);
			e->stall.secs = atof(tok[4]);
		} else if (strcmp(tok[0], "nrc") == 0) {
			if (nt != 5 || e->nnrc >= SIM_MAX_NRC)
				FAIL("nrc: want 'nrc ECU SID PID NRC' (hex)");
			e->nrc[e->nnrc].sid = (uint8_t)strtoul(tok[2], NULL, 16);
			e->nrc[e->nnrc].pid = (uint8_t)strtoul(tok[3], NULL, 16);
			e->nrc[e->nnrc].nrc = (uint8_t)strtoul(tok[4], NULL, 16);
			e->nnrc++;
		} else {
			FAIL("unknown directive '%s'", tok[0]);
		}
	}
	fclose(f);
	if (sc->necus == 0 && sc->nuds == 0 && sc->nframes == 0) {
		fprintf(stderr, "%s: empty scenario\n", path);
		return -1;
	}
	return 0;
}
