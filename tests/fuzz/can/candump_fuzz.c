/*
 * odo — libFuzzer target for `candump -l` lines and everything a replayed
 * CAN frame goes through: odo_candump_parse_line, then odo_vbus_feed_frame
 * on a replay vbus (default [can] configuration plus one UDS module) on a
 * virtual clock, so userspace ISO-TP reassembly, OBD-II service 01/03/07/0A/09
 * decoding and UDS ReadDTCInformation decoding all see hostile frames.
 *
 * The input is split into lines. A line that parses must satisfy the frame
 * invariants (dlc <= 8, id within its format, ifname terminated) and must
 * survive a format/parse round trip; a line that does not parse must leave
 * the outputs untouched and return INVAL or UNSUPPORTED. Everything the vbus
 * delivers is checked for plausibility and counted against its stats.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "can/candump.h"
#include "can/vbus.h"
#include "odo/log.h"

#define FUZZ_LINE_MAX 1024          /* longer lines are cut here (parser must reject) */
#define FUZZ_MAX_STEP_NS (2 * ODO_NS_PER_S) /* virtual time moved per line, at most */

static char line[FUZZ_LINE_MAX + 1];

struct counts {
	const struct odo_clock *clock;
	uint64_t delivered;
};

static void die(const char *what)
{
	fprintf(stderr, "candump_fuzz: %s\n", what);
	abort();
}

static void check_mono(const struct counts *c, int64_t mono_ns)
{
	if (mono_ns != odo_clock_mono_ns(c->clock))
		die("delivery not stamped with the clock's mono time");
}

static void on_obd(void *ctx, const struct odo_obd_value *v)
{
	struct counts *c = ctx;
	check_mono(c, v->mono_ns);
	if (!isfinite(v->value))
		die("OBD value not finite");
	c->delivered++;
}

static int dtc_code_ok(const char *s)
{
	if (strlen(s) != ODO_DTC_LEN || !strchr("PCBU", s[0]))
		return 0;
	for (int i = 1; i < ODO_DTC_LEN; i++)
		if (!strchr("0123456789ABCDEF", s[i]))
			return 0;
	return 1;
}

static void on_dtc(void *ctx, int64_t mono_ns, const struct odo_rec_dtc *d)
{
	struct counts *c = ctx;
	check_mono(c, mono_ns);
	if (d->mil < -1 || d->mil > 1 || (d->airbag_deployed != 0 && d->airbag_deployed != 1))
		die("DTC record flags out of range");
	for (int l = 0; l < ODO_DTC__LISTS; l++) {
		if (d->n[l] > ODO_WIRE_MAX_DTCS)
			die("DTC list longer than its array");
		for (int i = 0; i < d->n[l]; i++)
			if (!dtc_code_ok(d->codes[l][i]))
				die("malformed DTC code delivered");
	}
	c->delivered++;
}

static void on_vehicle(void *ctx, int64_t mono_ns, const struct odo_rec_vehicle *v)
{
	struct counts *c = ctx;
	check_mono(c, mono_ns);
	size_t n = strnlen(v->vin, sizeof v->vin);
	if (n == sizeof v->vin || (n != 0 && n != ODO_VIN_LEN))
		die("VIN not 17 characters or empty");
	for (size_t i = 0; i < n; i++)
		if (v->vin[i] < 0x21 || v->vin[i] > 0x7e)
			die("VIN has a non-printable character");
	c->delivered++;
}

static void on_signal(void *ctx, const struct odo_signal *s)
{
	struct counts *c = ctx;
	check_mono(c, s->mono_ns);
	if (s->role >= ODO_SIG__COUNT || isnan(s->value))
		die("signal role or value invalid");
	c->delivered++;
}

static void check_frame(const char *l, int64_t t, const char *ifname, const struct can_frame *f)
{
	if (strnlen(ifname, IFNAMSIZ) >= IFNAMSIZ || ifname[0] == '\0')
		die("ifname not terminated or empty");
	if (f->can_dlc > CAN_MAX_DLEN)
		die("dlc > 8");
	if (!(f->can_id & (CAN_EFF_FLAG | CAN_ERR_FLAG)) && (f->can_id & ~CAN_RTR_FLAG) > CAN_SFF_MASK)
		die("standard id above 0x7FF");
	if (t < 0)
		die("negative timestamp");
	char buf[ODO_CANDUMP_LINE_MAX];
	size_t n = odo_candump_format(buf, sizeof buf, t, ifname, f);
	if (n == 0 || n >= sizeof buf - 1 || buf[n - 1] != '\n')
		die("formatted line truncated");
	int64_t t2 = -1;
	char if2[IFNAMSIZ];
	struct can_frame f2;
	if (odo_candump_parse_line(buf, &t2, if2, &f2) != ODO_OK) {
		fprintf(stderr, "input: %s\nformatted: %s", l, buf);
		die("formatted line does not parse");
	}
	/* The format keeps microseconds and writes no dlc for remote frames. */
	int same = t2 == t / 1000 * 1000 && strcmp(if2, ifname) == 0 && f2.can_id == f->can_id;
	if (same && !(f->can_id & CAN_RTR_FLAG))
		same = f2.can_dlc == f->can_dlc && memcmp(f2.data, f->data, f->can_dlc) == 0;
	if (!same) {
		fprintf(stderr, "input: %s\nformatted: %s", l, buf);
		die("round trip changed the frame");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	odo_log_threshold = -1; /* hostile frames are logged; keep the run quiet */
	struct odo_can_cfg cfg;
	struct odo_cfg_section sec = { "can", odo_can_cfg_keys, odo_can_cfg_nkeys, &cfg };
	struct odo_cfg_error cerr;
	if (odo_config_defaults(&sec, 1, &cerr) != ODO_OK)
		die(cerr.msg);
	/* One UDS module so responses on 7DA reach the UDS decoder. */
	snprintf(cfg.uds_modules, sizeof cfg.uds_modules, "SRS:7D2:7DA");
	snprintf(cfg.deployment_dtcs, sizeof cfg.deployment_dtcs, "B0001,B1620");
	cfg.isotp = ODO_ISOTP_USER;

	struct odo_clock clock;
	odo_clock_init_virtual(&clock, 1715673600LL * ODO_NS_PER_S, ODO_NS_PER_S);
	struct counts cnt = { .clock = &clock };
	struct odo_sink sink = { .ctx = &cnt, .obd = on_obd, .dtc = on_dtc, .vehicle = on_vehicle,
				 .signal = on_signal };
	struct odo_vbus *vb = NULL;
	if (odo_vbus_open_replay(&cfg, &clock, &sink, &vb) != ODO_OK)
		die("odo_vbus_open_replay failed with the default configuration");
	struct odo_source src = odo_vbus_source(vb);

	int64_t last_t = INT64_MIN;
	size_t pos = 0;
	while (pos < size) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t len = nl ? (size_t)(nl - (data + pos)) + 1 : size - pos;
		size_t cp = len < FUZZ_LINE_MAX ? len : FUZZ_LINE_MAX;
		memcpy(line, data + pos, cp);
		line[cp] = '\0';
		pos += len;

		int64_t t = 0x5A5A5A5A;
		char ifname[IFNAMSIZ];
		struct can_frame f;
		memset(ifname, 0x5A, sizeof ifname);
		memset(&f, 0x5A, sizeof f);
		int rc = odo_candump_parse_line(line, &t, ifname, &f);
		if (rc != ODO_OK) {
			if (rc != ODO_ERR_INVAL && rc != ODO_ERR_UNSUPPORTED)
				die("parse returned an unexpected code");
			if (t != 0x5A5A5A5A || ifname[0] != 0x5A || ((uint8_t *)&f)[0] != 0x5A)
				die("failed parse touched its outputs");
			continue;
		}
		check_frame(line, t, ifname, &f);
		/* Follow the recorded time, a bounded step at a time, and run the
		 * vbus timers (ISO-TP timeouts) the way the poll loop would. */
		if (last_t != INT64_MIN && t > last_t) {
			int64_t d = t - last_t;
			odo_clock_advance(&clock, d < FUZZ_MAX_STEP_NS ? d : FUZZ_MAX_STEP_NS);
		}
		last_t = t;
		if (src.ops->deadline && src.ops->tick && src.ops->deadline(src.self) <= odo_clock_mono_ns(&clock))
			src.ops->tick(src.self);
		odo_vbus_feed_frame(vb, &f, ifname);
	}

	struct odo_source_stats st;
	odo_vbus_stats(vb, &st);
	if (st.received != cnt.delivered)
		die("stats.received differs from what reached the sink");
	odo_vbus_close(vb);
	return 0;
}
