/*
 * replay-check DIR — replay a drive recording with no consumers and print
 * per-stream counts: "gps N/C can N/C accel N/C phone N/C order O" (items
 * delivered / corrupt lines). Exit 1 if any line was corrupt.
 */
#include <stdio.h>

#include "gps/gps.h"
#include "replay/replay.h"

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: replay-check DIR\n");
		return 2;
	}
	struct odo_clock clk;
	odo_clock_init_virtual(&clk, 0, 0);
	struct odo_gps *g;
	if (odo_gps_open(NULL, &clk, NULL, &g) != ODO_OK)
		return 1;
	struct odo_replay_targets t = { .gps = g };
	struct odo_replay *rp;
	if (odo_replay_open(argv[1], &clk, &t, &rp) != ODO_OK)
		return 1;
	while (odo_replay_step(rp) == ODO_OK)
		;
	struct odo_replay_stats st;
	odo_replay_stats(rp, &st);
	odo_replay_close(rp);
	odo_gps_close(g);
	uint64_t bad = 0;
	for (int i = 0; i < ODO_RSTREAM__COUNT; i++) {
		printf("%s %llu/%llu ", odo_replay_files[i], (unsigned long long)st.items[i],
		       (unsigned long long)st.corrupt[i]);
		bad += st.corrupt[i];
	}
	printf("out_of_order %llu\n", (unsigned long long)st.out_of_order);
	return bad ? 1 : 0;
}
