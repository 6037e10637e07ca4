/*
 * No allocation per sealed record (agent/store/seal.c): malloc, calloc and
 * realloc are interposed in this executable (glibc: these definitions win
 * over libc's and forward to __libc_malloc & co.; OpenSSL allocates through
 * them too) and counted while 20,000 records of every size up to the wire
 * format's maximum are sealed and opened again with the keys set up once,
 * as the outbox does on its per-sample path. Not built with the sanitizers
 * (they interpose malloc themselves). engine_alloc_test does the same for
 * the engine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "odo/wire.h"
#include "store/store_int.h"

#include "../../lib/alloc_count.h"

static void test_no_alloc(void **state)
{
	(void)state;
	char dir[] = "/tmp/odo-store-alloc.XXXXXX", path[64], why[256];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/k", dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", fp);
	fclose(fp);
	assert_int_equal(chmod(path, 0600), 0);
	struct store_key k;
	assert_int_equal(store__key_load("key", path, &k, why, sizeof why), ODO_OK);
	remove(path);
	remove(dir);
	struct store_seal *s = NULL;
	assert_int_equal(store__seal_new(&k, NULL, &s), ODO_OK);

	static uint8_t rec[ODO_WIRE_MAX_RECORD_BYTES], sealed[ODO_WIRE_MAX_RECORD_BYTES + STORE_SEAL_OVERHEAD],
		back[ODO_WIRE_MAX_RECORD_BYTES];
	for (size_t i = 0; i < sizeof rec; i++)
		rec[i] = (uint8_t)(i * 31 + 7);
	/* the counter works at all */
	counting = 1;
	void *p = malloc(16);
	counting = 0;
	free(p);
	assert_int_equal(allocs, 1);
	allocs = 0;

	long n = 0;
	counting = 1;
	for (uint64_t seq = 1; seq <= 20000; seq++) {
		size_t len = 1 + (size_t)(seq * 7919 % sizeof rec), sl = 0, bl = 0;
		uint8_t aad[STORE_AAD_MAX];
		size_t al = store__aad_row(aad, 42, seq, 4, 0, 1, 1700000000000LL + (int64_t)seq, k.id);
		if (store__seal(s, aad, al, rec, len, sealed, sizeof sealed, &sl) != ODO_OK ||
		    store__unseal(s, k.id, aad, al, sealed, sl, back, sizeof back, &bl) != ODO_OK || bl != len ||
		    memcmp(back, rec, len) != 0)
			break;
		n++;
	}
	counting = 0;
	assert_int_equal(n, 20000);
	if (allocs)
		fail_msg("%ld allocations while sealing and opening %ld records", (long)allocs, n);
	store__seal_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_alloc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
