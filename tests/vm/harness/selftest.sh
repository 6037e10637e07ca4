#!/usr/bin/env bash
# vm-run must never turn a broken guest into a pass: a script's exit status is
# passed through, a panicking or hanging guest fails, and --share/--file work.
# Usage: selftest.sh PATH/TO/vm-run
set -euo pipefail
vmrun=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail=0
expect() { # expect WANT_RC DESCRIPTION -- vm-run args...
	local want=$1 what=$2 rc=0
	shift 3
	env ${VMENV:-} "$vmrun" "$@" >"$tmp/out" 2>&1 || rc=$?
	if [ "$rc" = "$want" ]; then
		echo "selftest: ok: $what (exit $rc)"
	else
		echo "selftest: FAIL: $what: exit $rc, want $want"; tail -n 20 "$tmp/out"; fail=1
	fi
}
mkdir share
echo "from the host" >in.txt
cat >io.sh <<'G'
grep -qx "from the host" /etc/odo-in.txt
ls /mnt/host >/dev/null
echo "from the guest $(uname -r)" >/mnt/host/out.txt
exit 7
G
expect 7 "exit status passed through; --file in, --share out" -- \
	--name self_io --script io.sh --file "$tmp/in.txt:/etc/odo-in.txt" --share share --timeout 120
if grep -q "^from the guest " share/out.txt 2>/dev/null; then
	echo "selftest: ok: file written in the guest is on the host"
else
	echo "selftest: FAIL: share/out.txt missing"; fail=1
fi
printf 'false\necho not reached\n' >sete.sh
expect 1 "a failing command fails the script (bash -e)" -- --name self_sete --script sete.sh --timeout 120
printf 'echo c >/proc/sysrq-trigger\n' >panic.sh
expect 126 "kernel panic is a failure" -- --name self_panic --script panic.sh --timeout 120
printf 'sleep 600\n' >hang.sh
expect 124 "hanging guest times out" -- --name self_hang --script hang.sh --timeout 20
VMENV="ODO_CACHE=$tmp/nocache" expect 125 "missing kernel names tools/bootstrap" -- --name self_nokernel --script hang.sh
exit $fail
