#!/bin/bash
# agent_config_reference: docs/config.md is what --print-config-reference
# prints, byte for byte; --check-config accepts a good file and names the
# file and line of each kind of bad input, and every file the configuration
# names that the current user cannot use (#17), and the placeholder id.
# Usage: config.sh /path/to/odo-agent
set -euo pipefail
: "${ODO_SOURCE_DIR:?}"
AGENT=${1:?usage: config.sh ODO_AGENT}
source "$ODO_SOURCE_DIR/tests/lib/servers.sh"
odo_tmpdir
cd "$ODO_TMP"
fails=0
bad() { printf 'FAIL: %s\n' "$*" >&2; fails=$((fails + 1)); }

# 1. The reference.
"$AGENT" --print-config-reference >ref.md
if ! cmp -s ref.md "$ODO_SOURCE_DIR/docs/config.md"; then
	diff -u "$ODO_SOURCE_DIR/docs/config.md" ref.md | head -40 >&2 || true
	bad "docs/config.md is out of date; regenerate it with:" \
		"odo-agent --print-config-reference > docs/config.md"
fi
grep -q '^## \[agent\]$' ref.md || bad "reference has no [agent] section"
grep -q '^| `device_id` | string | \*\*required\*\* |' ref.md || bad "reference does not mark device_id required"

# check NAME EXPECTED_RC EXPECTED_TEXT: run --check-config on NAME.conf.
check() {
	local name=$1 want_rc=$2 want=$3 rc=0
	"$AGENT" --check-config -c "$name.conf" >"$name.out" 2>&1 || rc=$?
	if [ "$want_rc" = 0 ] && [ "$rc" != 0 ]; then
		bad "$name: exit $rc, want 0: $(cat "$name.out")"
	elif [ "$want_rc" != 0 ] && [ "$rc" = 0 ]; then
		bad "$name: exit 0 on a bad file: $(cat "$name.out")"
	fi
	grep -qF -- "$want" "$name.out" || bad "$name: output lacks '$want': $(cat "$name.out")"
}

# 2. A good file (comments, blank lines, several sections), with the files it names.
mkdir -p pki
for f in ca.crt device.crt device.key; do echo "-----BEGIN X-----" >"pki/$f"; done
cat >good.conf <<CONF
# a gateway
[agent]
device_id = gw-0001
state_dir = $ODO_TMP/state
status_period_s = 30

[detect]
brake_g2 = 0.3
[store]
path = $ODO_TMP/outbox.db
[can]
interface = can-not-here
[uplink]
cafile = $ODO_TMP/pki/ca.crt
certfile = $ODO_TMP/pki/device.crt
keyfile = $ODO_TMP/pki/device.key
CONF
check good 0 "configuration OK (files checked as user $(id -un))"
# a CAN interface that is not there (yet) is a note, not a problem
check good 0 "note: [can] interface can-not-here: not there now"

# 2b. The files the configuration names (#17): missing, unreadable by the
#     user who runs the check, a directory that cannot be written; the
#     shipped placeholder id. Each is named, and the check fails.
sed "s|^certfile = .*|certfile = $ODO_TMP/pki/missing.crt|" good.conf >nocert.conf
check nocert 1 "[uplink] certfile $ODO_TMP/pki/missing.crt: No such file or directory"
grep -q "configuration OK" nocert.out && bad "nocert: says OK"
sed "s|^path = .*|path = $ODO_TMP/no-such-dir/outbox.db|" good.conf >nostore.conf
check nostore 1 "[store] path $ODO_TMP/no-such-dir/outbox.db: its directory $ODO_TMP/no-such-dir: No such file or directory"
sed "s|^device_id = .*|device_id = unset-device|" good.conf >placeholder.conf
check placeholder 1 "[agent] device_id is still the placeholder 'unset-device' of the shipped configuration"
if id nobody >/dev/null 2>&1; then
	chmod 0600 pki/device.key
	chmod 0755 "$ODO_TMP" pki
	rc=0
	runuser -u nobody -- "$AGENT" --check-config -c good.conf --set agent.state_dir=/tmp \
		--set store.path=/tmp/odo-check-$$.db >nobody.out 2>&1 || rc=$?
	[ $rc = 1 ] || bad "a key the user cannot read: exit $rc"
	grep -qF "[uplink] keyfile $ODO_TMP/pki/device.key: Permission denied" nobody.out ||
		bad "unreadable key not named: $(cat nobody.out)"
	grep -qF "1 problem(s) (checked as user nobody)" nobody.out || bad "not checked as nobody: $(cat nobody.out)"
else
	bad "no user 'nobody' to check readability as another user"
fi

# 3. Each kind of mistake, alone: file:line and what is wrong.
printf '[agent]\ndevice_id = gw-1\n\nbogus_key = 1\n' >unknown.conf
check unknown 1 "unknown.conf:4: unknown key 'bogus_key' in [agent]"
printf '[agent]\ndevice_id = gw-1\n[detect]\nbrake_g2 = fast\n' >badvalue.conf
check badvalue 1 "badvalue.conf:4: bad value for 'brake_g2' in [detect]: 'fast' is not a number"
printf '[agent]\ndevice_id = gw-1\n[detect]\nbrake_g2 = 99\n' >range.conf
check range 1 "range.conf:4: bad value for 'brake_g2' in [detect]: 99 is out of range"
printf '[agent]\ndevice_id = gw-1\n[detect]\nbrake_g = 0.3\n' >replaced.conf
check replaced 1 "replaced.conf:4: 'brake_g' in [detect] was replaced by brake_g1, brake_g2, brake_g3"
printf '[agent]\ndevice_id = gw-1\n[detect]\nbrake_g2 = 0.2\n' >order.conf
check order 1 "detect.brake_g2 (0.2) must be above detect.brake_g1 (0.25)"
printf '[agent]\nlog_level = debug\n' >missing.conf
check missing 1 "missing.conf: missing required key 'device_id' in [agent]"
printf '[agent]\ndevice_id = bad/id\n' >badid.conf
check badid 1 "device_id 'bad/id' is not a valid device id"

# 4. All three in one file: non-zero, and the first problem by file:line
#    (the parser stops at the first error).
printf '[agent]\nstatus_period_s = 5\nbogus_key = 1\n[detect]\nbrake_g2 = fast\n' >all.conf
check all 1 "all.conf:3: unknown key 'bogus_key' in [agent]"
grep -q "configuration OK" all.out && bad "all: says OK"

[ $fails = 0 ] || odo_die "$fails check(s) failed"
echo OK
