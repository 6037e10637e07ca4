/*
 * odo — writes the golden wire vectors of tests/data/wire/ from the
 * fixtures. Run by hand when the format changes on purpose (never by the
 * tests, which compare against the committed files):
 *
 * The v1_*.cbor files were written by the version 1 encoder and are kept
 * as they are: receivers still accept version 1.
 *
 *   cmake --build <build> --target wire_gen_golden
 *   <build>/tests/unit/wire/wire_gen_golden tests/data/wire
 */
#include <stdio.h>
#include <string.h>

#include "odo/wire.h"
#include "wire_fixtures.h"

static uint8_t buf[ODO_WIRE_MAX_MESSAGE];

static int put(const char *dir, const char *name, const uint8_t *b, size_t n)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(b, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		return 1;
	}
	printf("%s: %zu bytes\n", path, n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s <output directory>\n", argv[0]);
		return 2;
	}
	const char *dir = argv[1];
	int bad = 0;
	size_t len;
	for (int k = 1; k <= ODO_REC__MAX; k++)
		for (int full = 0; full <= 1; full++) {
			struct odo_record r;
			wire_fix_record(&r, k, full, 42);
			if (odo_wire_encode_record(&r, buf, sizeof(buf), &len) != ODO_OK) {
				fprintf(stderr, "kind %d does not encode\n", k);
				return 1;
			}
			char name[64];
			snprintf(name, sizeof(name), "rec_%s_%s.cbor", odo_record_kind_name(k), full ? "full" : "min");
			bad |= put(dir, name, buf, len);
		}
	struct odo_record recs[WIRE_FIX_ALL];
	size_t n = wire_fix_all(recs);
	if (odo_wire_encode_batch(WIRE_FIX_DEVICE, WIRE_FIX_EPOCH, 2, 3, recs, n, buf, sizeof(buf), &len) != ODO_OK)
		return 1;
	bad |= put(dir, "batch_all.cbor", buf, len);
	n = wire_fix_small(recs);
	if (odo_wire_encode_batch(WIRE_FIX_SMALL_DEVICE, WIRE_FIX_SMALL_EPOCH, 2, 3, recs, n, buf, sizeof(buf),
				  &len) != ODO_OK)
		return 1;
	bad |= put(dir, "batch_small.cbor", buf, len);
	struct odo_ack a = { .v = 2, .device = WIRE_FIX_DEVICE, .epoch = WIRE_FIX_EPOCH, .ack = 12345 };
	if (odo_wire_encode_ack(&a, buf, sizeof(buf), &len) != ODO_OK)
		return 1;
	bad |= put(dir, "ack.cbor", buf, len);
	return bad;
}
