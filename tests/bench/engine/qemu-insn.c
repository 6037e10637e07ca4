/*
 * Guest instruction counter for qemu-user, a TCG plugin (bench.sh's arm64 row).
 *   qemu-aarch64 -plugin odo-qemu-insn.so,out=FILE PROGRAM ARGS...
 * writes the number of guest instructions the program executed, as one decimal
 * line, to FILE (opened when the plugin loads, so a bad path fails at once);
 * without out= the line "insns N" goes to qemu_plugin_outs() (shown with -d plugin).
 *
 * This is built for the host (it is loaded into the x86-64 qemu process), by the
 * native build only. callgrind cannot run inside qemu-user; this counts what
 * callgrind's Ir counts on x86-64: every instruction executed from the first one
 * of the dynamic loader to exit_group, libc included.
 *
 * How it counts: when qemu translates a block, one inline add of the block's
 * instruction count is attached to the block's entry, so no callback runs per
 * executed block. A block left in the middle (a faulting access) counts whole,
 * and the add is not atomic, so a multi-threaded guest may lose counts;
 * engine-bench is single-threaded and takes no faults, so its count is exact.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/*
 * Debian's qemu 7.2 exports the plugin API but ships no qemu-plugin.h, so the
 * few declarations used here are written from QEMU 7.2's documented plugin API
 * (docs/devel/tcg-plugins.rst, "QEMU TCG Plugins",
 * https://qemu.weilnetz.de/doc/7.2/devel/tcg-plugins.html, and the kernel-doc of
 * include/qemu/qemu-plugin.h at v7.2.0). API version 1: Debian's qemu-aarch64 7.2
 * accepts 0 to 1, as its loader says when it refuses a plugin declaring 99 or -1.
 */
#define ODO_QEMU_PLUGIN_API 1
#define ODO_PLUGIN_EXPORT   __attribute__((visibility("default")))

typedef uint64_t qemu_plugin_id_t;

typedef struct {
	const char *target_name;
	struct {
		int min;
		int cur;
	} version;
	bool system_emulation;
	union {
		struct {
			int smp_vcpus;
			int max_vcpus;
		} system;
	};
} qemu_info_t;

struct qemu_plugin_tb; /* opaque, valid during the translation callback only */

enum qemu_plugin_op {
	QEMU_PLUGIN_INLINE_ADD_U64 = 0,
};

typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr,
                                              uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
void qemu_plugin_outs(const char *string);

/* What qemu looks up with dlsym. */
ODO_PLUGIN_EXPORT extern int qemu_plugin_version;
ODO_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                          char **argv);
/* end of the declarations from the QEMU API documentation */

ODO_PLUGIN_EXPORT int qemu_plugin_version = ODO_QEMU_PLUGIN_API;

static uint64_t insns; /* written by the translated code itself */
static FILE *out;      /* NULL: qemu_plugin_outs */

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	(void)id;
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &insns,
	                                         qemu_plugin_tb_n_insns(tb));
}

static void report_count(qemu_plugin_id_t id, void *userdata)
{
	(void)id;
	(void)userdata;
	if (!out) {
		char line[40];
		snprintf(line, sizeof(line), "insns %" PRIu64 "\n", insns);
		qemu_plugin_outs(line);
		return;
	}
	/* The reader treats a missing or empty file as failure: say why here. */
	if (fprintf(out, "%" PRIu64 "\n", insns) < 0 || fclose(out) != 0)
		fprintf(stderr, "odo-qemu-insn: writing the count: %s\n", strerror(errno));
	out = NULL;
}

int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
	if (info->version.min > ODO_QEMU_PLUGIN_API || info->version.cur < ODO_QEMU_PLUGIN_API) {
		fprintf(stderr, "odo-qemu-insn: built for plugin API %d, this qemu offers %d..%d\n",
		        ODO_QEMU_PLUGIN_API, info->version.min, info->version.cur);
		return -1;
	}
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "out=", 4) == 0 && argv[i][4] != '\0' && !out) {
			out = fopen(argv[i] + 4, "w");
			if (!out) {
				fprintf(stderr, "odo-qemu-insn: %s: %s\n", argv[i] + 4, strerror(errno));
				return -1;
			}
		} else {
			fprintf(stderr, "odo-qemu-insn: unknown or repeated argument '%s' (only out=FILE)\n",
			        argv[i]);
			return -1;
		}
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	qemu_plugin_register_atexit_cb(id, report_count, NULL);
	return 0;
}
