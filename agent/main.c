/*
 * odo-agent — entry point. The full loop is being integrated (issue #3-#7);
 * for now it reports its version and usage.
 */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("odo-agent %s\n", ODO_VERSION);
			return 0;
		}
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("usage: odo-agent [--help] [--version]\n");
			return 0;
		}
	}
	fprintf(stderr, "odo-agent: nothing to do yet (try --help)\n");
	return 2;
}
