#!/bin/bash
# config_set_secret: odo-agent, odo-collector and odo-accuracy parse --set
# with the same code (odo_config_set_arg): the same errors for a malformed
# argument, an unknown key and a bad value; odo-collector refuses the secret
# [db] conninfo without echoing it; docs/collector-config.md is what
# odo-collector --print-config-reference prints (docs/config.md is checked by
# agent_config_reference).
# Usage: set-secret.sh ODO_AGENT ODO_COLLECTOR ODO_ACCURACY
set -euo pipefail
: "${ODO_SOURCE_DIR:?}"
AGENT=${1:?} COLLECTOR=${2:?} ACCURACY=${3:?}
source "$ODO_SOURCE_DIR/tests/lib/servers.sh"
odo_tmpdir
cd "$ODO_TMP"
fails=0
bad() { printf 'FAIL: %s\n' "$*" >&2; fails=$((fails + 1)); }

# expect NAME WANT_RC TEXT CMD...: exit status WANT_RC (or "nz"), TEXT in the output.
expect() {
	local name=$1 want=$2 text=$3 rc=0
	shift 3
	"$@" >"$name.out" 2>&1 </dev/null || rc=$?
	if [ "$want" = nz ]; then
		[ "$rc" != 0 ] || bad "$name: exit 0, want an error: $(cat "$name.out")"
	elif [ "$rc" != "$want" ]; then
		bad "$name: exit $rc, want $want: $(cat "$name.out")"
	fi
	grep -qF -- "$text" "$name.out" || bad "$name: output lacks '$text': $(cat "$name.out")"
}

# 1. The secret key: refused by name, the value never printed.
expect secret 2 "--set: 'conninfo' in [db] may hold a secret and is not accepted on the command line" \
	"$COLLECTOR" --set 'db.conninfo=host=db password=hunter2' migrate
grep -q hunter2 secret.out && bad "the refused secret was echoed: $(cat secret.out)"
# Its neighbours name files or variables, not secrets: accepted (migrate then
# fails on the missing database, after the configuration was taken).
expect notsecret nz "" "$COLLECTOR" --set db.password_file=/nonexistent --set 'db.password_env=X' \
	--set collector.log_level=error aggregate --month bad
grep -q "may hold a secret\|--set:" notsecret.out && bad "password_file refused: $(cat notsecret.out)"

# 2. Every program: the same messages from the same parser.
for prog in agent collector accuracy; do
	case $prog in
	agent) run=("$AGENT" --check-config --set agent.device_id=gw-1) tail=() ;;
	collector) run=("$COLLECTOR") tail=(migrate) ;;
	accuracy) run=("$ACCURACY") tail=("$ODO_TMP") ;;
	esac
	key=detect.brake_g2
	[ $prog = collector ] && key=collector.max_group_rows
	expect "$prog-form" nz "--set: want SECTION.KEY=VALUE, not 'brake_g'" "${run[@]}" --set brake_g "${tail[@]}"
	unknown="--set: unknown key 'nope' in [detect]"
	[ $prog = collector ] && unknown="--set: unknown section [detect]"
	expect "$prog-unknown" nz "$unknown" "${run[@]}" --set detect.nope=1 "${tail[@]}"
	expect "$prog-value" nz "--set: bad value for '${key#*.}' in [${key%%.*}]: 'fast' is not" \
		"${run[@]}" --set "$key=fast" "${tail[@]}"
done
# (no uplink: --check-config would ask for the certificates; the outbox and state in this test's directory)
expect agent-ok 0 "configuration OK" "$AGENT" --check-config --set agent.device_id=gw-1 --set detect.brake_g2=0.4 \
	--set agent.uplink=false --set agent.state_dir="$ODO_TMP/state" --set store.path="$ODO_TMP/outbox.db"

# 3. The collector's generated reference is the documented one, and marks the secret.
"$COLLECTOR" --print-config-reference >collector-config.md
if ! cmp -s collector-config.md "$ODO_SOURCE_DIR/docs/collector-config.md"; then
	diff -u "$ODO_SOURCE_DIR/docs/collector-config.md" collector-config.md | head -30 >&2 || true
	bad "docs/collector-config.md is out of date: odo-collector --print-config-reference > docs/collector-config.md"
fi
grep -q '^| `conninfo` | .*(secret) |$' collector-config.md || bad "conninfo not marked secret in the reference"

[ $fails = 0 ] || odo_die "$fails check(s) failed"
echo OK
