/*
 * odo-agent — entry point: the command line (options, the configuration's
 * load, --check-config, --print-mount); the parts and the one run are
 * agent.c, the configuration conf.c, the device status status.c.
 */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "odo/err.h"
#include "odo/log.h"

#include "agent.h"
#include "check.h"

#ifndef ODO_VERSION
#define ODO_VERSION "0"
#endif

#define AGENT_MAX_SETS 32

static void usage(FILE *f)
{
	fprintf(f,
		"usage: odo-agent [OPTIONS]\n"
		"\n"
		"Reads GPS (gpsd), OBD-II and vehicle signals (SocketCAN), an I2C accelerometer and a companion\n"
		"phone; detects driving events; keeps records in an SQLite outbox; sends them over MQTT/TLS.\n"
		"\n"
		"  -c, --config FILE         configuration file (docs/config.md lists every key)\n"
		"      --set SECTION.KEY=VAL override one configuration value (repeatable; keys\n"
		"                            marked secret are refused)\n"
		"      --record DIR          also write every input to the drive recording DIR\n"
		"      --replay DIR          drive the pipeline from the recording DIR on a virtual clock; it\n"
		"                            starts from a fresh calibration and leaves [agent] state_dir alone\n"
		"      --with-state          with --replay: load and save the calibration in [agent] state_dir\n"
		"      --drain-timeout S     after --replay, keep sending until acknowledged, at most S seconds\n"
		"                            (default 120; 0 = do not wait)\n"
		"      --no-uplink           store records in the outbox but do not connect to the broker\n"
		"      --emit FILE           also write each record as a line 'seq kind t_ms tsrc cbor-hex'\n"
		"      --log-level LEVEL     error, warn, info or debug (overrides [agent] log_level)\n"
		"      --check-config        parse the configuration and check, as the current user, every file\n"
		"                            it names (certificates, outbox and state directories, DBC); run it\n"
		"                            as the service's user: sudo -u odo odo-agent --check-config ...\n"
		"      --print-config-reference  print every configuration key (Markdown) and exit\n"
		"      --print-mount         print the learnt sensor mount (the calibration state file) and exit\n"
		"  -V, --version             print the version and exit\n"
		"  -h, --help                this text\n"
		"\n"
		"Signals: SIGTERM/SIGINT end the trip and flush within [agent] shutdown_grace_s;\n"
		"SIGHUP reopens the log file and reloads the reloadable settings.\n"
		"Exit status: 0 ok; 1 start-up error; 2 usage; 3 replay not fully acknowledged; 4 records lost.\n");
}

/* --print-mount: the calibration state file named by the configuration. */
static int print_mount_state(struct agent *a)
{
	static struct odo_calib c;
	char path[ODO_AGENT_PATH_MAX + 16];
	int line = 0;
	snprintf(path, sizeof(path), "%s/calibration", a->conf.agent.state_dir);
	if (odo_calib_init(&c, &a->conf.engine.calib) != ODO_OK) {
		fprintf(stderr, "odo-agent: [calib] matrix is not a rotation\n");
		return 1;
	}
	if (c.fixed) {
		printf("file         none: [calib] matrix is configured\n");
		odo_calib_print(&c, stdout);
		return 0;
	}
	int rc = odo_calib_load(&c, path, &line);
	if (rc == ODO_ERR_NOTFOUND) {
		fprintf(stderr, "odo-agent: %s: no calibration state (nothing learnt yet, or another [agent] state_dir)\n", path);
		return 1;
	}
	if (rc != ODO_OK) {
		fprintf(stderr, "odo-agent: %s:%d: malformed calibration state\n", path, line);
		return 1;
	}
	printf("file         %s\n", path);
	odo_calib_print(&c, stdout);
	return 0;
}

/* --check-config beyond parsing: every file the configuration names, as the
 * current user (check.h). Returns the exit status. */
static int check_config(struct agent *a)
{
	const struct odo_agent_conf *c = &a->conf;
	const int up = c->agent.uplink, can = c->can.enabled;
	const struct odo_check_item items[] = {
		{ "agent", "state_dir", c->agent.state_dir, ODO_CHECK_WRITE_DIR },
		{ "agent", "log_file", c->agent.log_file, ODO_CHECK_WRITE_FILE },
		{ "store", "path", c->store.path, ODO_CHECK_WRITE_FILE },
		{ "uplink", "cafile", up ? c->uplink.cafile : "", ODO_CHECK_READ },
		{ "uplink", "certfile", up ? c->uplink.certfile : "", ODO_CHECK_READ },
		{ "uplink", "keyfile", up ? c->uplink.keyfile : "", ODO_CHECK_READ },
		{ "uplink", "keypass_file", up ? c->uplink.keypass_file : "", ODO_CHECK_SECRET },
		{ "can", "interface", can ? c->can.interface : "", ODO_CHECK_CAN_IF },
		{ "can", "dbc", can ? c->can.dbc : "", ODO_CHECK_READ },
		{ "accel", "device", c->agent.accel ? c->accel.device : "", ODO_CHECK_DEVICE },
		{ "phone", "token_file", c->agent.phone && c->phone.tcp_port ? c->phone.token_file : "", ODO_CHECK_SECRET },
	};
	int problems = odo_check_files(items, ODO_ARRAY_LEN(items), stdout);
	struct passwd *pw = getpwuid(geteuid());
	if (problems) {
		printf("odo-agent: %d problem(s) (checked as user %s)\n", problems, pw ? pw->pw_name : "?");
		return 1;
	}
	printf("odo-agent: configuration OK (files checked as user %s)\n", pw ? pw->pw_name : "?");
	return 0;
}

int main(int argc, char **argv)
{
	static struct agent a; /* large (config, tz tables): not on the stack */
	const char *replay_dir = NULL, *record_dir = NULL, *emit_path = NULL, *log_level = NULL;
	const char *sets[AGENT_MAX_SETS];
	int nsets = 0, no_uplink = 0, check_only = 0, print_ref = 0, print_mount = 0, with_state = 0, rc, opt;
	double drain_s = 120;
	enum { O_SET = 256, O_RECORD, O_REPLAY, O_DRAIN, O_NOUPLINK, O_EMIT, O_LOGLEVEL, O_CHECK, O_REF, O_MOUNT,
	       O_STATE };
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"set", required_argument, NULL, O_SET},
		{"record", required_argument, NULL, O_RECORD},
		{"replay", required_argument, NULL, O_REPLAY},
		{"drain-timeout", required_argument, NULL, O_DRAIN},
		{"no-uplink", no_argument, NULL, O_NOUPLINK},
		{"emit", required_argument, NULL, O_EMIT},
		{"log-level", required_argument, NULL, O_LOGLEVEL},
		{"check-config", no_argument, NULL, O_CHECK},
		{"print-config-reference", no_argument, NULL, O_REF},
		{"print-mount", no_argument, NULL, O_MOUNT},
		{"with-state", no_argument, NULL, O_STATE},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};

	odo_log_set_program("odo-agent");
	a.sigfd = -1;
	while ((opt = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': snprintf(a.conf.path, sizeof(a.conf.path), "%s", optarg); break;
		case O_SET:
			if (nsets >= AGENT_MAX_SETS) {
				fprintf(stderr, "odo-agent: too many --set\n");
				return 2;
			}
			sets[nsets++] = optarg;
			break;
		case O_RECORD: record_dir = optarg; break;
		case O_REPLAY: replay_dir = optarg; break;
		case O_DRAIN: drain_s = strtod(optarg, NULL); break;
		case O_NOUPLINK: no_uplink = 1; break;
		case O_EMIT: emit_path = optarg; break;
		case O_LOGLEVEL: log_level = optarg; break;
		case O_CHECK: check_only = 1; break;
		case O_REF: print_ref = 1; break;
		case O_MOUNT: print_mount = 1; break;
		case O_STATE: with_state = 1; break;
		case 'V': printf("odo-agent %s\n", ODO_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "odo-agent: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (print_ref) {
		odo_agent_conf_sections(&a.conf);
		return odo_config_print_reference(stdout, "odo-agent", a.conf.secs, a.conf.nsecs) == ODO_OK ? 0 : 1;
	}
	if (replay_dir && record_dir) {
		fprintf(stderr, "odo-agent: --record and --replay exclude each other\n");
		return 2;
	}
	char why[ODO_CFG_ERR_MAX];
	if (odo_agent_conf_load(&a.conf, sets, nsets, why, sizeof(why)) != ODO_OK) {
		fprintf(stderr, "odo-agent: %s\n", why);
		return 1;
	}
	if (check_only)
		return check_config(&a);
	if (print_mount)
		return print_mount_state(&a);
	odo_log_threshold = a.conf.agent.log_level;
	if (log_level) {
		int l = odo_log_level_parse(log_level);
		if (l < 0) {
			fprintf(stderr, "odo-agent: unknown log level '%s'\n", log_level);
			return 2;
		}
		odo_log_threshold = l;
	}
	if (odo_log_reopen(a.conf.agent.log_file) != ODO_OK)
		fprintf(stderr, "odo-agent: cannot open log file %s: %s\n", a.conf.agent.log_file, strerror(errno));
	if (emit_path) {
		a.emit = fopen(emit_path, "w");
		if (!a.emit) {
			fprintf(stderr, "odo-agent: cannot write %s: %s\n", emit_path, strerror(errno));
			return 1;
		}
		/* One write(2) per line: a SIGKILL loses at most the line of the
		 * record being stored at that instant (tests rely on this). */
		setvbuf(a.emit, NULL, _IOLBF, 0);
	}

	a.sigfd = agent_signals_open();
	if (a.sigfd < 0) {
		fprintf(stderr, "odo-agent: signalfd: %s\n", strerror(errno));
		return 1;
	}
	if (with_state && !replay_dir) {
		fprintf(stderr, "odo-agent: --with-state goes with --replay (a live run always keeps its state)\n");
		return 2;
	}
	rc = agent_open(&a, replay_dir, record_dir, no_uplink, with_state);
	if (rc != ODO_OK) {
		agent_close(&a);
		return 1;
	}
	rc = agent_run(&a, drain_s);
	agent_close(&a);
	close(a.sigfd);
	return rc;
}
