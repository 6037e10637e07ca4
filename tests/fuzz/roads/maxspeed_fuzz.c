/* libFuzzer target: odo_maxspeed_parse() on arbitrary OSM tag values (the
 * road import reads every distinct maxspeed value of an extract). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "roads/roads.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[512];
	size_t n = size < sizeof s - 1 ? size : sizeof s - 1;
	memcpy(s, data, n);
	s[n] = '\0';
	struct odo_maxspeed m;
	if (odo_maxspeed_parse(s, &m) != ODO_OK)
		abort();
	if (m.kind < ODO_LIMIT_UNKNOWN || m.kind > ODO_LIMIT_NONE)
		abort();
	if (m.kind == ODO_LIMIT_TAGGED && !(m.kph > 0 && m.kph < 1000))
		abort();
	if (memchr(m.country, '\0', sizeof m.country) == NULL || memchr(m.zone, '\0', sizeof m.zone) == NULL)
		abort();
	if (m.kind == ODO_LIMIT_IMPLICIT && (strlen(m.country) != 2 || !m.zone[0]))
		abort();
	return 0;
}
