/* candump -l line parser and formatter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "can/candump.h"

static void parses_standard_and_extended(void **st)
{
	(void)st;
	int64_t t;
	char ifn[IFNAMSIZ];
	struct can_frame f;
	assert_int_equal(odo_candump_parse_line("(46408.584930) can0 260#08FFFB0000001884\n", &t, ifn, &f), ODO_OK);
	assert_int_equal(t, 46408584930000LL);
	assert_string_equal(ifn, "can0");
	assert_int_equal(f.can_id, 0x260);
	assert_int_equal(f.can_dlc, 8);
	assert_int_equal(f.data[0], 0x08);
	assert_int_equal(f.data[7], 0x84);
	assert_int_equal(odo_candump_parse_line("(1.5) vcan0 18DAF110#037F0112", &t, ifn, &f), ODO_OK);
	assert_int_equal(t, 1500000000LL);
	assert_int_equal(f.can_id, 0x18DAF110u | CAN_EFF_FLAG);
	assert_int_equal(f.can_dlc, 4);
	assert_int_equal(odo_candump_parse_line("(1.000001) can1 123#", &t, ifn, &f), ODO_OK);
	assert_int_equal(f.can_dlc, 0);
	assert_int_equal(odo_candump_parse_line("(1.000001) can1 123#R", &t, ifn, &f), ODO_OK);
	assert_true(f.can_id & CAN_RTR_FLAG);
	assert_int_equal(odo_candump_parse_line("(1.000001) can1 20000004#0004000000000000", &t, ifn, &f), ODO_OK);
	assert_true(f.can_id & CAN_ERR_FLAG);
}

static void rejects_garbage(void **st)
{
	(void)st;
	static const char *bad[] = {
		"", "garbage", "(1.0)", "(1.0) can0", "(1.0) can0 123", "(x.0) can0 123#00",
		"(1.0) can0 12#00", "(1.0) can0 1234#00", "(1.0) can0 123#0", "(1.0) can0 123#001122334455667788",
		"(1.0) can0 123#00 junk", "1.0) can0 123#00", "(1.0)can0 123#00", "(1.0) can0 800#00",
		"(1.0) can0 123#GG", "(1.0) averyveryverylongifname 123#00", "(1.0) can0 123#00#",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t t = 7;
		char ifn[IFNAMSIZ] = "keep";
		struct can_frame f = { .can_id = 0x55 };
		assert_int_equal(odo_candump_parse_line(bad[i], &t, ifn, &f), ODO_ERR_INVAL);
		assert_int_equal(t, 7);
		assert_string_equal(ifn, "keep");
		assert_int_equal(f.can_id, 0x55);
	}
	int64_t t;
	char ifn[IFNAMSIZ];
	struct can_frame f;
	assert_int_equal(odo_candump_parse_line("(1.0) can0 123##100", &t, ifn, &f), ODO_ERR_UNSUPPORTED);
	assert_int_equal(odo_candump_parse_line(NULL, &t, ifn, &f), ODO_ERR_INVAL);
}

static void format_round_trips(void **st)
{
	(void)st;
	char line[ODO_CANDUMP_LINE_MAX];
	struct can_frame f = { .can_id = 0x7E8, .can_dlc = 8, .data = { 0x04, 0x41, 0x0C, 0x1A, 0xF8, 0xCC, 0xCC, 0xCC } };
	size_t n = odo_candump_format(line, sizeof line, 1700000000123456000LL, "vcan0", &f);
	assert_string_equal(line, "(1700000000.123456) vcan0 7E8#04410C1AF8CCCCCC\n");
	assert_int_equal(n, strlen(line));
	int64_t t;
	char ifn[IFNAMSIZ];
	struct can_frame g;
	assert_int_equal(odo_candump_parse_line(line, &t, ifn, &g), ODO_OK);
	assert_int_equal(t, 1700000000123456000LL);
	assert_memory_equal(&f, &g, sizeof f);
	struct can_frame x = { .can_id = 0x18DAF110u | CAN_EFF_FLAG, .can_dlc = 2, .data = { 1, 2 } };
	odo_candump_format(line, sizeof line, 5000000, "can1", &x);
	assert_string_equal(line, "(0.005000) can1 18DAF110#0102\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_standard_and_extended),
		cmocka_unit_test(rejects_garbage),
		cmocka_unit_test(format_round_trips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
