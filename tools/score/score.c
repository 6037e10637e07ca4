/*
 * odo-score — the driving score v1 (common/src/score.c) as a filter, for
 * tools that compute it outside the collector (tools/evaluate):
 *
 *   odo-score < inputs.csv
 *
 * Each input line: graded,n1,n2,n3,graded_m,distance_m,lo1,la1,phone_s,
 * phone_moving_s,night_m,lnw_m,speeding_m,limit_m (an empty field is a value
 * that was not measured; graded 0/1; n1..n3 the graded events per grade).
 * Each output line: events_pts,smooth_pts,phone_pts,time_pts,speeding_pts,
 * inputs,score (empty when absent), or "error <field>" for invalid input.
 * Exit 0, or 2 on a malformed line (named by its number).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "odo/score.h"

#define NIN 14

static void put(double v, int last)
{
	if (isnan(v))
		printf(last ? "\n" : ",");
	else
		printf(last ? "%.17g\n" : "%.17g,", v);
}

int main(void)
{
	char line[1024];
	unsigned long n = 0;
	while (fgets(line, sizeof(line), stdin)) {
		n++;
		double v[NIN];
		char *p = line;
		int k = 0;
		for (; k < NIN; k++) {
			char *end;
			if (*p == ',' || *p == '\n' || *p == '\0') {
				v[k] = NAN;
				end = p;
			} else {
				v[k] = strtod(p, &end);
				if (end == p) {
					fprintf(stderr, "odo-score: line %lu: field %d is not a number\n", n, k + 1);
					return 2;
				}
			}
			p = end;
			if (k < NIN - 1) {
				if (*p != ',') {
					fprintf(stderr, "odo-score: line %lu: %d fields, want %d\n", n, k + 1, NIN);
					return 2;
				}
				p++;
			}
		}
		struct odo_score_in in;
		odo_score_in_init(&in);
		in.graded = v[0] == 1;
		for (int g = 0; g < 3; g++) {
			in.events[0][g] = in.graded ? v[1 + g] : NAN;
			for (int j = 1; j < ODO_SCORE_KINDS; j++)
				in.events[j][g] = in.graded ? 0 : NAN;
		}
		in.graded_m = v[4];
		in.distance_m = v[5];
		in.lon_share1 = v[6];
		in.lat_share1 = v[7];
		in.phone_distraction_s = v[8];
		in.phone_moving_s = v[9];
		in.night_m = v[10];
		in.late_night_weekend_m = v[11];
		in.speeding_m = v[12];
		in.limit_m = v[13];
		struct odo_score_out o;
		const char *bad = NULL;
		if (odo_score_v1(&in, &o, &bad) != ODO_OK) {
			printf("error %s\n", bad ? bad : "?");
			continue;
		}
		put(o.events_pts, 0);
		put(o.smooth_pts, 0);
		put(o.phone_pts, 0);
		put(o.time_pts, 0);
		put(o.speeding_pts, 0);
		if (o.inputs)
			printf("%d,", o.inputs);
		else
			printf(",");
		put(o.score, 1);
	}
	return 0;
}
