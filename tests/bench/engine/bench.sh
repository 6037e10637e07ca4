#!/usr/bin/env bash
# Engine benchmark (label bench): cost of the engine per simulated second of
# driving, as instructions (valgrind --tool=callgrind) above a baseline that
# only reads and parses the same recording, plus peak RSS. Prints a markdown
# table. With ODO_BENCH_ARM64_BUILD=<arm64 build dir> it also runs that
# build's engine-bench under qemu-aarch64, where callgrind cannot run: there
# the guest instructions are counted by odo-qemu-insn.so, a TCG plugin that
# this (native) build makes from qemu-insn.c (ODO_BENCH_QEMU_PLUGIN=<path>
# overrides it).
# Usage: ODO_BINARY_DIR=... [ODO_BENCH_ARM64_BUILD=...] bench.sh [SECONDS]
set -euo pipefail
: "${ODO_BINARY_DIR:?}"
SECS=${1:-${ODO_BENCH_SECONDS:-1200}}
B="$ODO_BINARY_DIR/tests/bench/engine/engine-bench"
[ -x "$B" ] || { echo "FAIL: $B is not built" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "FAIL: valgrind missing" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$B" gen "$T/drive.txt" "$SECS"

ir() { # total instructions of one run
	valgrind --tool=callgrind --callgrind-out-file="$T/cg.$1" "$B" "$1" "$T/drive.txt" >"$T/out.$1" 2>"$T/vg.$1"
	grep -E '^(summary|totals):' "$T/cg.$1" | head -1 | awk '{print $2}'
}
ir_parse=$(ir parse)
ir_engine=$(ir engine)
read -r _ lines simsec wall_p rss_p _ < <("$B" parse "$T/drive.txt")
read -r _ _ _ wall_e rss_e recs < <("$B" engine "$T/drive.txt")
echo "| build | drive (simulated s) | input lines | baseline: parse only | engine (parse + engine) | engine alone per simulated s | peak RSS parse / engine | records |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
python3 - "$ir_parse" "$ir_engine" "$simsec" "$lines" "$rss_p" "$rss_e" "$recs" <<'PY'
import sys
p, e, s, n, rp, re, rec = map(float, sys.argv[1:])
print(f"| x86-64 (callgrind Ir) | {s:.0f} | {n:.0f} | {p/s:,.0f} Ir/s | {e/s:,.0f} Ir/s | {(e-p)/s:,.0f} Ir/s ({(e-p)/p:.2f} x parse) | {rp:.0f} / {re:.0f} KiB | {rec:.0f} |")
PY
if [ -n "${ODO_BENCH_ARM64_BUILD:-}" ]; then
	A="$ODO_BENCH_ARM64_BUILD/tests/bench/engine/engine-bench"
	P=${ODO_BENCH_QEMU_PLUGIN:-$ODO_BINARY_DIR/tests/bench/engine/odo-qemu-insn.so}
	[ -x "$A" ] || { echo "FAIL: $A is not built" >&2; exit 1; }
	[ -f "$P" ] || { echo "FAIL: $P is not built (target odo-qemu-insn of the native build)" >&2; exit 1; }
	command -v qemu-aarch64 >/dev/null || { echo "FAIL: qemu-aarch64 missing" >&2; exit 1; }
	export QEMU_LD_PREFIX=${QEMU_LD_PREFIX:-/usr/aarch64-linux-gnu}
	insn() { # guest instructions of one run, counted by the plugin
		qemu-aarch64 -plugin "$P,out=$T/insn.$1" "$A" "$1" "$T/drive.txt" >"$T/qout.$1" ||
			{ echo "FAIL: qemu-aarch64 -plugin $P $A $1" >&2; return 1; }
		local n=
		read -r n <"$T/insn.$1" || true
		[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "FAIL: the plugin wrote no count for $1" >&2; return 1; }
		echo "$n"
	}
	in_parse=$(insn parse)
	in_engine=$(insn engine)
	[ "$in_engine" -gt "$in_parse" ] ||
		{ echo "FAIL: engine run ($in_engine insns) not above parse ($in_parse)" >&2; exit 1; }
	# Peak RSS from runs without the plugin: the program plus qemu itself.
	read -r _ lines_a simsec_a _ rss_pa _ < <(qemu-aarch64 "$A" parse "$T/drive.txt")
	read -r _ _ _ _ rss_ea recs_a < <(qemu-aarch64 "$A" engine "$T/drive.txt")
	python3 - "$in_parse" "$in_engine" "$simsec_a" "$lines_a" "$rss_pa" "$rss_ea" "$recs_a" <<'PY'
import sys
p, e, s, n, rp, re, rec = map(float, sys.argv[1:])
print(f"| arm64 under qemu-aarch64 (guest insns, odo-qemu-insn) | {s:.0f} | {n:.0f} | {p/s:,.0f} insn/s | {e/s:,.0f} insn/s | {(e-p)/s:,.0f} insn/s ({(e-p)/p:.2f} x parse) | {rp:.0f} / {re:.0f} KiB (incl. qemu) | {rec:.0f} |")
PY
fi
