/* cmocka 1.1's assert_float_equal works in float; protocol values need double. */
#ifndef ODO_TEST_NEAR_H
#define ODO_TEST_NEAR_H
#include <math.h>
#define assert_near(a, b, eps)                                                              \
	do {                                                                                \
		double a_ = (a), b_ = (b);                                                  \
		if (!(fabs(a_ - b_) <= (eps)))                                              \
			fail_msg("%s = %.17g, expected %.17g (+-%g)", #a, a_, b_, (double)(eps)); \
	} while (0)
#endif
