/* Userspace ISO-TP state machine, two links joined by a fake frame pipe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "can/isotp.h"

#define QMAX 1024
static struct can_frame q[QMAX];
static int qhead, qtail;
static int nff, ncf, nfc, nsf;
static uint8_t got[ODO_ISOTP_MAX];
static size_t got_len;
static int nmsg, ev_count[8];

static int pipe_send(void *ctx, const struct can_frame *f)
{
	(void)ctx;
	assert_int_equal(f->can_dlc, 8); /* ISO 15765-4: padded frames */
	switch (f->data[0] >> 4) {
	case 0: nsf++; break;
	case 1: nff++; break;
	case 2: ncf++; break;
	case 3: nfc++; break;
	}
	q[qtail++ % QMAX] = *f;
	return 0;
}

static void on_msg(void *ctx, struct odo_isotp *l, const uint8_t *d, size_t n)
{
	(void)ctx;
	(void)l;
	memcpy(got, d, n);
	got_len = n;
	nmsg++;
}

static void on_event(void *ctx, struct odo_isotp *l, enum odo_isotp_event ev)
{
	(void)ctx;
	(void)l;
	ev_count[ev]++;
}

static struct odo_isotp a, b; /* a: tester 7E0->7E8, b: ECU 7E8->7E0 */

static int setup(void **st)
{
	(void)st;
	struct odo_isotp_cb cb = { .send = pipe_send, .msg = on_msg, .event = on_event };
	qhead = qtail = nff = ncf = nfc = nsf = nmsg = 0;
	got_len = 0;
	memset(ev_count, 0, sizeof ev_count);
	odo_isotp_init(&a, 0x7E0, 0x7E8, 0, 0, &cb);
	odo_isotp_init(&b, 0x7E8, 0x7E0, 0, 0, &cb);
	return 0;
}

/* Deliver queued frames to both links (each ignores other ids). */
static void pump(int64_t now)
{
	while (qhead < qtail) {
		struct can_frame f = q[qhead++ % QMAX];
		odo_isotp_rx(&a, &f, now);
		odo_isotp_rx(&b, &f, now);
	}
}

static void single_frame(void **st)
{
	(void)st;
	static const uint8_t req[] = { 0x01, 0x0C };
	assert_int_equal(odo_isotp_send(&a, req, sizeof req, 0), ODO_OK);
	assert_int_equal(q[0].data[0], 0x02);
	assert_int_equal(q[0].data[3], ODO_ISOTP_PAD);
	pump(0);
	assert_int_equal(nmsg, 1);
	assert_int_equal(got_len, 2);
	assert_memory_equal(got, req, 2);
	assert_int_equal(ev_count[ODO_ISOTP_EV_TX_DONE], 1);
}

static void multi_frame_vin(void **st)
{
	(void)st;
	static const uint8_t vin[] = "\x49\x02\x01" "1HGCM82633A004352";
	assert_int_equal(odo_isotp_send(&b, vin, 20, 0), ODO_OK);
	assert_int_equal(odo_isotp_send(&b, vin, 20, 0), ODO_ERR_AGAIN); /* busy */
	pump(0);
	assert_int_equal(nmsg, 1);
	assert_int_equal(got_len, 20);
	assert_memory_equal(got, vin, 20);
	assert_int_equal(nff, 1);
	assert_int_equal(ncf, 2);
	assert_int_equal(nfc, 1);
	assert_int_equal(odo_isotp_deadline(&a), INT64_MAX);
	assert_int_equal(odo_isotp_deadline(&b), INT64_MAX);
}

static void block_size_and_stmin(void **st)
{
	(void)st;
	a.bs = 2;
	a.stmin = 5; /* ms */
	uint8_t msg[100];
	for (int i = 0; i < 100; i++)
		msg[i] = (uint8_t)i;
	int64_t now = 0;
	assert_int_equal(odo_isotp_send(&b, msg, sizeof msg, now), ODO_OK);
	for (int guard = 0; guard < 200 && nmsg == 0; guard++) {
		pump(now);
		int64_t d = odo_isotp_deadline(&b);
		if (d == INT64_MAX)
			break;
		/* STmin honoured: the sender never asks to run sooner than 5 ms */
		assert_true(d - now == 5 * 1000000LL || d - now == ODO_ISOTP_N_BS_NS);
		now = d;
		odo_isotp_tick(&b, now);
	}
	pump(now);
	assert_int_equal(nmsg, 1);
	assert_int_equal(got_len, 100);
	assert_memory_equal(got, msg, 100);
	assert_int_equal(ncf, 14);  /* 6 bytes in FF, 94 in 14 CFs */
	assert_int_equal(nfc, 7);   /* after FF, then after every 2nd CF but the last */
	assert_int_equal(ev_count[ODO_ISOTP_EV_TX_DONE], 1);
}

static void flow_control_timeout(void **st)
{
	(void)st;
	uint8_t msg[30] = { 0 };
	assert_int_equal(odo_isotp_send(&b, msg, sizeof msg, 0), ODO_OK);
	qhead = qtail; /* the FF is lost: nobody answers */
	assert_int_equal(odo_isotp_deadline(&b), ODO_ISOTP_N_BS_NS);
	odo_isotp_tick(&b, ODO_ISOTP_N_BS_NS - 1);
	assert_int_equal(ev_count[ODO_ISOTP_EV_TX_TIMEOUT], 0);
	odo_isotp_tick(&b, ODO_ISOTP_N_BS_NS);
	assert_int_equal(ev_count[ODO_ISOTP_EV_TX_TIMEOUT], 1);
	assert_int_equal(odo_isotp_send(&b, msg, sizeof msg, 0), ODO_OK); /* idle again */
}

static void consecutive_frame_timeout_and_bad_sn(void **st)
{
	(void)st;
	struct can_frame ff = { .can_id = 0x7E8, .can_dlc = 8, .data = { 0x10, 0x14, 0x49, 0x02, 0x01, 'A', 'B', 'C' } };
	odo_isotp_rx(&a, &ff, 0);
	assert_int_equal(nfc, 1);
	assert_int_equal(odo_isotp_deadline(&a), ODO_ISOTP_N_CR_NS);
	odo_isotp_tick(&a, ODO_ISOTP_N_CR_NS);
	assert_int_equal(ev_count[ODO_ISOTP_EV_RX_TIMEOUT], 1);
	/* a CF after the timeout belongs to nothing: ignored */
	struct can_frame cf = { .can_id = 0x7E8, .can_dlc = 8, .data = { 0x21, 'D', 'E', 'F', 'G', 'H', 'I', 'J' } };
	odo_isotp_rx(&a, &cf, ODO_ISOTP_N_CR_NS + 1);
	assert_int_equal(nmsg, 0);
	/* wrong sequence number aborts */
	odo_isotp_rx(&a, &ff, 0);
	cf.data[0] = 0x22;
	odo_isotp_rx(&a, &cf, 1);
	assert_int_equal(ev_count[ODO_ISOTP_EV_BAD_FRAME], 1);
	assert_int_equal(nmsg, 0);
	/* truncated frames */
	struct can_frame t = { .can_id = 0x7E8, .can_dlc = 2, .data = { 0x05, 0x41 } };
	odo_isotp_rx(&a, &t, 2);
	struct can_frame sff = { .can_id = 0x7E8, .can_dlc = 8, .data = { 0x10, 0x05 } }; /* FF for 5 bytes */
	odo_isotp_rx(&a, &sff, 3);
	assert_int_equal(ev_count[ODO_ISOTP_EV_BAD_FRAME], 3);
	assert_int_equal(nmsg, 0);
}

static void random_garbage_survives(void **st)
{
	(void)st;
	uint32_t x = 12345;
	int64_t now = 0;
	for (int i = 0; i < 100000; i++) {
		struct can_frame f = { .can_id = 0x7E8 };
		x = x * 1103515245u + 12345u;
		f.can_dlc = (uint8_t)((x >> 16) % 9);
		for (int k = 0; k < 8; k++) {
			x = x * 1103515245u + 12345u;
			f.data[k] = (uint8_t)(x >> 16);
		}
		now += 1000;
		odo_isotp_rx(&a, &f, now);
		odo_isotp_tick(&a, now);
		assert_true(a.rx_have <= ODO_ISOTP_MAX);
		assert_true(got_len <= ODO_ISOTP_MAX);
		qhead = qtail;
	}
	/* and a valid message still goes through afterwards */
	odo_isotp_reset(&a);
	nmsg = 0;
	static const uint8_t req[] = { 0x41, 0x0D, 0x32 };
	assert_int_equal(odo_isotp_send(&b, req, 3, now), ODO_OK);
	pump(now);
	assert_int_equal(nmsg, 1);
	assert_memory_equal(got, req, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(single_frame, setup),
		cmocka_unit_test_setup(multi_frame_vin, setup),
		cmocka_unit_test_setup(block_size_and_stmin, setup),
		cmocka_unit_test_setup(flow_control_timeout, setup),
		cmocka_unit_test_setup(consecutive_frame_timeout_and_bad_sn, setup),
		cmocka_unit_test_setup(random_garbage_survives, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
