/* The vehicle-bus source in replay mode: frames in, sink deliveries out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "near.h"
#include <stdio.h>
#include <string.h>

#include "can/candump.h"
#include "can/isotp.h"
#include "can/vbus.h"
#include "odo/log.h"

struct cap {
	int nobd, ndtc, nveh, nsig;
	struct odo_obd_value obd[64];
	struct odo_rec_dtc dtc[4];
	struct odo_rec_vehicle veh[4];
	struct odo_signal sig[64];
};
static struct cap cap;

static void s_obd(void *c, const struct odo_obd_value *v) { (void)c; if (cap.nobd < 64) cap.obd[cap.nobd] = *v; cap.nobd++; }
static void s_dtc(void *c, int64_t t, const struct odo_rec_dtc *d) { (void)c; (void)t; if (cap.ndtc < 4) cap.dtc[cap.ndtc] = *d; cap.ndtc++; }
static void s_veh(void *c, int64_t t, const struct odo_rec_vehicle *v) { (void)c; (void)t; if (cap.nveh < 4) cap.veh[cap.nveh] = *v; cap.nveh++; }
static void s_sig(void *c, const struct odo_signal *s) { (void)c; if (cap.nsig < 64) cap.sig[cap.nsig] = *s; cap.nsig++; }
static const struct odo_sink sink = { .obd = s_obd, .dtc = s_dtc, .vehicle = s_veh, .signal = s_sig };

static struct odo_can_cfg cfg;
static struct odo_clock clk;

static void config(const char *const *kv)
{
	struct odo_cfg_section sec = { "can", odo_can_cfg_keys, odo_can_cfg_nkeys, &cfg };
	struct odo_cfg_error err;
	assert_int_equal(odo_config_defaults(&sec, 1, &err), ODO_OK);
	for (; kv && kv[0]; kv += 2)
		if (odo_config_set(&sec, 1, "can", kv[0], kv[1], "test", &err) != ODO_OK)
			fail_msg("%s", err.msg);
}

static struct odo_vbus *open_replay(const char *const *kv)
{
	memset(&cap, 0, sizeof cap);
	config(kv);
	odo_clock_init_virtual(&clk, 1700000000LL * ODO_NS_PER_S, 1000 * ODO_NS_PER_S);
	struct odo_vbus *vb = NULL;
	assert_int_equal(odo_vbus_open_replay(&cfg, &clk, &sink, &vb), ODO_OK);
	return vb;
}

static void feed(struct odo_vbus *vb, const char *line)
{
	int64_t t;
	char ifn[IFNAMSIZ];
	struct can_frame f;
	assert_int_equal(odo_candump_parse_line(line, &t, ifn, &f), ODO_OK);
	odo_clock_advance(&clk, ODO_NS_PER_MS);
	odo_vbus_feed_frame(vb, &f, ifn);
}

static void mode01_from_two_ecus(void **st)
{
	(void)st;
	/* a recording without odo's requests (somebody else's bus): every
	 * well-formed response is decoded */
	struct odo_vbus *vb = open_replay(NULL);
	feed(vb, "(1.0) can0 7E8#04410C1AF8CCCCCC");       /* 1726 rpm */
	feed(vb, "(1.0) can0 7E9#03410D64CCCCCCCC");       /* 100 km/h */
	feed(vb, "(1.0) can0 7EF#0541057B0D64CCCC");       /* two PIDs: 05 = 83 degC, 0D = 100 km/h */
	feed(vb, "(1.0) can1 7E8#04410C1AF8CCCCCC");       /* other interface: ignored */
	assert_int_equal(cap.nobd, 4);
	assert_int_equal(cap.obd[0].ecu, 0x7E8);
	assert_int_equal(cap.obd[0].pid, 0x0C);
	assert_near(cap.obd[0].value, 1726.0, 1e-9);
	assert_int_equal(cap.obd[1].ecu, 0x7E9);
	assert_near(cap.obd[1].value, 100 / 3.6, 1e-9);
	assert_int_equal(cap.obd[2].ecu, 0x7EF);
	assert_int_equal(cap.obd[2].pid, 0x05);
	assert_near(cap.obd[2].value, 83, 1e-9);
	assert_int_equal(cap.obd[3].pid, 0x0D);
	assert_near(cap.obd[3].value, 100 / 3.6, 1e-9);
	assert_int_equal(cap.obd[3].mono_ns, 1000 * ODO_NS_PER_S + 3 * ODO_NS_PER_MS);
	struct odo_source_stats s;
	odo_vbus_stats(vb, &s);
	assert_int_equal(s.received, 4);
	assert_int_equal(s.errors, 0);
	odo_vbus_close(vb);
}

/* A recording made by odo holds its own requests: the replay matches the
 * responses to them and times them out as the live agent did, and its
 * timers (request timeout, ISO-TP N_Cr) run when the loop ticks it. */
static void requests_in_recording(void **st)
{
	(void)st;
	struct odo_vbus *vb = open_replay(NULL);
	struct odo_source src = odo_vbus_source(vb);
	struct odo_can_counters c;
	assert_true(src.ops->deadline(vb) == ODO_DEADLINE_NONE);
	feed(vb, "(1.0) can0 7DF#02010CCCCCCCCCCC"); /* odo asks for the RPM */
	int64_t rq_deadline = src.ops->deadline(vb);
	assert_int_equal(rq_deadline, odo_clock_mono_ns(&clk) + (int64_t)(cfg.request_timeout_s * 1e9));
	feed(vb, "(1.0) can0 7E8#04410C1AF8CCCCCC"); /* the answer */
	feed(vb, "(1.0) can0 7E9#03410D64CCCCCCCC"); /* an answer to a question not asked */
	assert_int_equal(cap.nobd, 1);
	assert_int_equal(cap.obd[0].pid, 0x0C);
	odo_vbus_counters(vb, &c);
	assert_int_equal(c.unsolicited, 1);
	/* nobody answers the next one: it times out when the loop ticks */
	odo_clock_advance(&clk, ODO_NS_PER_S);
	feed(vb, "(1.0) can0 7DF#02010DCCCCCCCCCC");
	odo_clock_advance(&clk, ODO_NS_PER_S);
	assert_true(src.ops->deadline(vb) <= odo_clock_mono_ns(&clk));
	src.ops->tick(vb);
	odo_vbus_counters(vb, &c);
	assert_int_equal(c.timeouts, 1);
	assert_true(src.ops->deadline(vb) == ODO_DEADLINE_NONE);
	feed(vb, "(1.0) can0 7E8#03410D64CCCCCCCC"); /* too late */
	assert_int_equal(cap.nobd, 1);
	/* the VIN's first frame, then the ECU goes silent past N_Cr: the
	 * half-received message is dropped at the tick, so the consecutive
	 * frames that come later make no VIN (they did not live either) */
	feed(vb, "(1.0) can0 7DF#020902CCCCCCCCCC");
	feed(vb, "(1.0) can0 7E8#1014490201314847");
	int64_t n_cr = odo_clock_mono_ns(&clk) + ODO_ISOTP_N_CR_NS;
	assert_true(src.ops->deadline(vb) < n_cr); /* the request's timeout first */
	odo_clock_advance(&clk, ODO_ISOTP_N_CR_NS);
	src.ops->tick(vb);
	assert_true(src.ops->deadline(vb) == ODO_DEADLINE_NONE);
	odo_vbus_counters(vb, &c);
	assert_int_equal(c.timeouts, 2);
	assert_int_equal(c.malformed, 1); /* N_Cr */
	feed(vb, "(1.0) can0 7E8#21434D3832363333");
	feed(vb, "(1.0) can0 7E8#2241303034333532");
	assert_int_equal(cap.nveh, 0);
	odo_vbus_close(vb);
}

static void vin_dtc_negative_malformed(void **st)
{
	(void)st;
	struct odo_vbus *vb = open_replay((const char *const[]){ "deployment_dtcs", "B0001", NULL });
	/* VIN over three frames: 49 02 01 + 17 characters = 20 bytes */
	feed(vb, "(1.0) can0 7E8#1014490201314847");
	feed(vb, "(1.0) can0 7E0#300000CCCCCCCCCC"); /* the tester's FC, as recorded */
	feed(vb, "(1.0) can0 7E8#21434D3832363333");
	assert_int_equal(cap.nveh, 0);
	feed(vb, "(1.0) can0 7E8#2241303034333532");
	assert_int_equal(cap.nveh, 1);
	assert_string_equal(cap.veh[0].vin, "1HGCM82633A004352");
	assert_int_equal(cap.veh[0].ecu, 0x7E8);
	/* DTC cycle: 43 stored P0301 P0420, 47 pending none, 4A permanent P0301 */
	feed(vb, "(1.0) can0 7E8#0643020301042000");
	feed(vb, "(1.0) can0 7E8#024700CCCCCCCCCC");
	assert_int_equal(cap.ndtc, 0);
	feed(vb, "(1.0) can0 7E8#044A010301CCCCCC");
	assert_int_equal(cap.ndtc, 1);
	assert_int_equal(cap.dtc[0].ecu, 0x7E8);
	assert_int_equal(cap.dtc[0].n[ODO_DTC_STORED], 2);
	assert_string_equal(cap.dtc[0].codes[ODO_DTC_STORED][0], "P0301");
	assert_string_equal(cap.dtc[0].codes[ODO_DTC_STORED][1], "P0420");
	assert_int_equal(cap.dtc[0].n[ODO_DTC_PENDING], 0);
	assert_int_equal(cap.dtc[0].n[ODO_DTC_PERMANENT], 1);
	assert_string_equal(cap.dtc[0].codes[ODO_DTC_PERMANENT][0], "P0301");
	assert_int_equal(cap.dtc[0].airbag_deployed, 0);
	/* negative response, then malformed ones: counted, nothing delivered */
	struct odo_can_counters c;
	feed(vb, "(1.0) can0 7E9#037F0131CCCCCCCC");
	feed(vb, "(1.0) can0 7E9#03410C1ACCCCCCCC"); /* rpm needs 2 bytes */
	feed(vb, "(1.0) can0 7E9#0241FECCCCCCCCCC"); /* unknown PID */
	feed(vb, "(1.0) can0 7E9#04430203CCCCCCCC"); /* count 2, one code */
	feed(vb, "(1.0) can0 7E9#0749020131482A21"); /* VIN too short, bad char */
	feed(vb, "(1.0) can0 7E9#0155CCCCCCCCCCCC"); /* unknown service */
	feed(vb, "(1.0) can0 7E9#10"); /* truncated FF */
	feed(vb, "(1.0) can0 7E9#2512345678"); /* stray CF: ignored */
	odo_vbus_counters(vb, &c);
	assert_int_equal(c.negative, 1);
	assert_int_equal(c.malformed, 6);
	assert_int_equal(cap.nobd, 0);
	assert_int_equal(cap.ndtc, 1);
	assert_int_equal(cap.nveh, 1);
	/* still decoding afterwards */
	feed(vb, "(1.0) can0 7E9#03410D32CCCCCCCC");
	assert_int_equal(cap.nobd, 1);
	odo_vbus_close(vb);
}

static void uds_srs_and_dbc_roles(void **st)
{
	(void)st;
	struct odo_vbus *vb = open_replay((const char *const[]){
		"uds_modules", "SRS:7D2:7DA", "deployment_dtcs", "B0001,B0002",
		"dbc", ODO_SOURCE_DIR "/agent/can/examples/example.dbc",
		"airbag_deployed", "SRS_STATUS.AIRBAG_DEPLOYED", "crash_detected", "SRS_STATUS.CRASH_DETECTED",
		"seatbelt_driver", "SRS_STATUS.BELT_DRIVER", "wipers", "BODY_STATUS.WIPERS",
		"vehicle_speed", "BODY_STATUS.VEHICLE_SPEED", NULL });
	/* UDS 59 02 FF + B0001 status 09 (testFailed|confirmed) */
	feed(vb, "(1.0) can0 7DA#075902FF80010009");
	assert_int_equal(cap.ndtc, 1);
	assert_int_equal(cap.dtc[0].ecu, 0x7DA);
	assert_int_equal(cap.dtc[0].n[ODO_DTC_STORED], 1);
	assert_string_equal(cap.dtc[0].codes[ODO_DTC_STORED][0], "B0001");
	assert_int_equal(cap.dtc[0].airbag_deployed, 1);
	assert_int_equal(cap.nsig, 1);
	assert_int_equal(cap.sig[0].role, ODO_SIG_AIRBAG_DEPLOYED);
	assert_near(cap.sig[0].value, 1, 0);
	/* empty list: not deployed */
	feed(vb, "(1.0) can0 7DA#035902FFCCCCCCCC");
	assert_int_equal(cap.ndtc, 2);
	assert_int_equal(cap.dtc[1].airbag_deployed, 0);
	assert_int_equal(cap.nsig, 2);
	assert_near(cap.sig[1].value, 0, 0);
	/* broadcast frames: states on change only, speed every frame */
	cap.nsig = 0;
	feed(vb, "(1.0) can0 050#0400000000000000"); /* belt buckled, no airbag */
	feed(vb, "(1.0) can0 050#0400000000000000");
	feed(vb, "(1.0) can0 050#0700000000000000"); /* airbag + crash */
	feed(vb, "(1.0) can0 350#0200000000000000"); /* wipers LOW, 0 km/h */
	feed(vb, "(1.0) can0 350#0200271000000000"); /* 100.00 km/h */
	feed(vb, "(1.0) can0 350#02"); /* too short for the speed signal */
	assert_int_equal(cap.nsig, 3 + 2 + 2 + 1);
	assert_int_equal(cap.sig[0].role, ODO_SIG_AIRBAG_DEPLOYED);
	assert_near(cap.sig[0].value, 0, 0);
	assert_int_equal(cap.sig[1].role, ODO_SIG_CRASH_DETECTED);
	assert_int_equal(cap.sig[2].role, ODO_SIG_SEATBELT_DRIVER);
	assert_near(cap.sig[2].value, 1, 0);
	assert_int_equal(cap.sig[3].role, ODO_SIG_AIRBAG_DEPLOYED);
	assert_near(cap.sig[3].value, 1, 0);
	assert_int_equal(cap.sig[4].role, ODO_SIG_CRASH_DETECTED);
	assert_near(cap.sig[4].value, 1, 0);
	assert_int_equal(cap.sig[5].role, ODO_SIG_WIPERS);
	assert_near(cap.sig[5].value, 2, 0);
	assert_int_equal(cap.sig[6].role, ODO_SIG_VEHICLE_SPEED);
	assert_near(cap.sig[6].value, 0, 0);
	assert_int_equal(cap.sig[7].role, ODO_SIG_VEHICLE_SPEED);
	assert_near(cap.sig[7].value, 100 / 3.6, 1e-9);
	odo_vbus_close(vb);
}

static void addressing_29bit(void **st)
{
	(void)st;
	struct odo_vbus *vb = open_replay((const char *const[]){ "addressing", "29", NULL });
	feed(vb, "(1.0) can0 18DAF110#04410C1AF8CCCCCC");
	feed(vb, "(1.0) can0 18DAF11A#03410D64CCCCCCCC");
	feed(vb, "(1.0) can0 7E8#04410C1AF8CCCCCC"); /* 11-bit ids are not OBD here */
	assert_int_equal(cap.nobd, 2);
	assert_int_equal(cap.obd[0].ecu, 0xF110);
	assert_int_equal(cap.obd[1].ecu, 0xF11A);
	odo_vbus_close(vb);
}

static void garbage_then_still_decodes(void **st)
{
	(void)st;
	struct odo_vbus *vb = open_replay(NULL);
	uint32_t x = 99;
	for (int i = 0; i < 200000; i++) {
		struct can_frame f;
		memset(&f, 0, sizeof f);
		x = x * 1664525u + 1013904223u;
		f.can_id = (x >> 8) & 0x7FF;
		if (i % 7 == 0)
			f.can_id = 0x7E8 + (x & 7); /* aim at the OBD responders */
		x = x * 1664525u + 1013904223u;
		f.can_dlc = (uint8_t)((x >> 24) % 9);
		for (int k = 0; k < 8; k++) {
			x = x * 1664525u + 1013904223u;
			f.data[k] = (uint8_t)(x >> 24);
		}
		odo_clock_advance(&clk, 10000);
		odo_vbus_feed_frame(vb, &f, "can0");
		if (i % 1000 == 0)
			odo_vbus_source(vb).ops->tick(vb);
	}
	struct odo_can_counters c;
	odo_vbus_counters(vb, &c);
	assert_int_equal(c.frames, 200000);
	assert_true(c.malformed > 0);
	odo_clock_advance(&clk, 2 * ODO_NS_PER_S);
	odo_vbus_source(vb).ops->tick(vb); /* expire any half-received message */
	int before = cap.nobd;
	feed(vb, "(1.0) can0 7DF#02010CCCCCCCCCCC"); /* (the garbage may have looked like a request) */
	feed(vb, "(1.0) can0 7E8#04410C1AF8CCCCCC");
	assert_int_equal(cap.nobd, before + 1);
	assert_near(cap.obd[before < 64 ? before : 63].value, before < 64 ? 1726.0 : cap.obd[63].value, 1e-9);
	odo_vbus_close(vb);
}

static void recorder_writes_candump(void **st)
{
	(void)st;
	struct odo_vbus *vb = open_replay((const char *const[]){ "interface", "vcan0", NULL });
	char buf[512] = { 0 };
	FILE *f = fmemopen(buf, sizeof buf, "w");
	assert_non_null(f);
	odo_vbus_set_recorder(vb, f);
	feed(vb, "(5.0) vcan0 7E8#04410C1AF8CCCCCC");
	feed(vb, "(5.0) vcan0 18DAF110#0102");
	fclose(f);
	assert_string_equal(buf, "(1700000000.001000) vcan0 7E8#04410C1AF8CCCCCC\n"
				 "(1700000000.002000) vcan0 18DAF110#0102\n");
	odo_vbus_close(vb);
}

static void bad_config_is_refused(void **st)
{
	(void)st;
	const char *const *bad[] = {
		(const char *const[]){ "poll", "0C", NULL },
		(const char *const[]){ "poll", "ZZ:1", NULL },
		(const char *const[]){ "poll", "FE:1", NULL },
		(const char *const[]){ "uds_modules", "SRS:7D2", NULL },
		(const char *const[]){ "deployment_dtcs", "B01", NULL },
		(const char *const[]){ "airbag_deployed", "A.B", NULL },
		(const char *const[]){ "dbc", "/nonexistent.dbc", NULL },
		(const char *const[]){ "dbc", ODO_SOURCE_DIR "/agent/can/examples/example.dbc", "wipers", "NOPE.X", NULL },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		config(bad[i]);
		struct odo_vbus *vb = (struct odo_vbus *)1;
		assert_int_equal(odo_vbus_open_replay(&cfg, &clk, &sink, &vb), ODO_ERR_CONFIG);
	}
	odo_vbus_close(NULL);
}

/* #17: a live bus whose interface is not there (an adapter not plugged in,
 * can0 not created, no CAN in the kernel) is no start-up error: the bus
 * polls nothing and retries after 1 s, doubling up to 30 s. */
static void absent_interface_is_waited_for(void **st)
{
	(void)st;
	config(NULL);
	struct odo_vbus *vb = NULL;
	strcpy(cfg.interface, "nonexistent0");
	odo_clock_init_virtual(&clk, 1700000000LL * ODO_NS_PER_S, 1000 * ODO_NS_PER_S);
	assert_int_equal(odo_vbus_open(&cfg, &clk, &sink, &vb), ODO_OK);
	assert_non_null(vb);
	struct odo_source src = odo_vbus_source(vb);
	struct pollfd p[4];
	assert_int_equal(src.ops->pollfds(vb, p, 4), 0);
	int64_t gap = ODO_NS_PER_S;
	for (int i = 0; i < 8; i++) {
		assert_int_equal(src.ops->deadline(vb), odo_clock_mono_ns(&clk) + gap);
		odo_clock_advance(&clk, gap);
		src.ops->tick(vb); /* tries again: still not there */
		assert_int_equal(src.ops->pollfds(vb, p, 4), 0);
		gap = gap * 2 > 30 * ODO_NS_PER_S ? 30 * ODO_NS_PER_S : gap * 2;
	}
	assert_int_equal(src.ops->deadline(vb), odo_clock_mono_ns(&clk) + 30 * ODO_NS_PER_S);
	odo_vbus_close(vb);
}

int main(void)
{
	odo_log_threshold = ODO_LOG_ERROR;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mode01_from_two_ecus),
		cmocka_unit_test(requests_in_recording),
		cmocka_unit_test(vin_dtc_negative_malformed),
		cmocka_unit_test(uds_srs_and_dbc_roles),
		cmocka_unit_test(addressing_29bit),
		cmocka_unit_test(garbage_then_still_decodes),
		cmocka_unit_test(recorder_writes_candump),
		cmocka_unit_test(bad_config_is_refused),
		cmocka_unit_test(absent_interface_is_waited_for),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
