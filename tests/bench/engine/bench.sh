#!/usr/bin/env bash
# Engine benchmark (label bench): cost of the engine per simulated second of
# driving, as instructions (valgrind --tool=callgrind) above a baseline that
# only reads and parses the same recording, plus peak RSS. Prints a markdown
# table. With ODO_BENCH_ARM64_BUILD=<arm64 build dir> it also runs that
# build's engine-bench under qemu-aarch64 (wall-time ratio to the same
# baseline; callgrind cannot run inside qemu-user).
# Usage: ODO_BINARY_DIR=... bench.sh [SECONDS]
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
	[ -x "$A" ] || { echo "FAIL: $A is not built" >&2; exit 1; }
	export QEMU_LD_PREFIX=${QEMU_LD_PREFIX:-/usr/aarch64-linux-gnu}
	best() { # best of 3 wall times
		for _ in 1 2 3; do qemu-aarch64 "$A" "$1" "$T/drive.txt"; done | sort -k4 -n | head -1
	}
	read -r _ _ _ wp rp _ < <(best parse)
	read -r _ _ _ we re recs < <(best engine)
	python3 - "$wp" "$we" "$SECS" "$rp" "$re" "$recs" <<'PY'
import sys
wp, we, s, rp, re, rec = map(float, sys.argv[1:])
print(f"| arm64 under qemu-aarch64 (wall, best of 3) | {s:.0f} | - | {wp:.3f} s | {we:.3f} s | {(we-wp)/s*1e3:.3f} ms emulated per simulated s ({(we-wp)/wp:.2f} x parse) | {rp:.0f} / {re:.0f} KiB (incl. qemu) | {rec:.0f} |")
PY
fi
