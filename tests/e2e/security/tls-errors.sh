#!/usr/bin/env bash
# TLS files that cannot be used are reported by file and operating-system
# error (issue 17): odo-agent's uplink and odo-collector's MQTT side each get a
# missing, an unreadable (as an unprivileged user), a directory and an empty
# cafile/certfile/keyfile, and must name it; libmosquitto's own
# "Invalid function arguments provided" must not be all they say.
set -euo pipefail
AGENT=$1
COLLECTOR=$2
source "$ODO_SOURCE_DIR/tests/lib/servers.sh"
odo_tmpdir
pki=$ODO_TMP/pki
odo_pki_init "$pki" tls-dev >/dev/null 2>&1
drive=$ODO_SOURCE_DIR/tests/data/drives/synthetic-1
fails=0
bad() { printf 'FAIL %s\n' "$*"; fails=$((fails + 1)); }

# The files an unprivileged user (nobody) runs with: its own copies, readable.
u=$ODO_TMP/user
mkdir -p "$u/state" "$u/dir.crt"
cp "$pki/ca.crt" "$pki/devices/tls-dev.crt" "$pki/devices/tls-dev.key" "$pki/collector.crt" "$pki/collector.key" "$u/"
: >"$u/empty.crt"
cp "$pki/devices/tls-dev.key" "$u/locked.key"
chmod 0600 "$u/locked.key"   # root's, not nobody's
chown -R nobody "$u/state"
chmod 0755 "$u" && chmod 0644 "$u"/*.crt "$u"/tls-dev.key "$u"/collector.key
as_nobody() { timeout 20 setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; }

# expect WHAT WANT CMD...: CMD fails and its stderr contains WANT.
expect() {
	local what=$1 want=$2 out
	shift 2
	if out=$("$@" 2>&1 >/dev/null); then
		bad "$what: succeeded"
		return
	fi
	if [[ $out == *"$want"* ]]; then
		printf 'ok   %s: %s\n' "$what" "$(grep -F -- "$want" <<<"$out" | head -n 1)"
	else
		bad "$what: wanted '$want' in: $out"
	fi
	[[ $out != *"Invalid function arguments provided"* ]] || bad "$what: still says 'Invalid function arguments provided'"
}

agent() { # KEY=PATH...: a replay with the uplink on, as nobody
	local sets=() kv
	for kv in "$@"; do sets+=(--set "uplink.$kv"); done
	as_nobody "$AGENT" --set agent.device_id=tls-dev --set agent.state_dir="$u/state" \
		--set store.path="$u/state/outbox.db" --set uplink.host=127.0.0.1 --set uplink.port=1 \
		--set uplink.cafile="$u/ca.crt" --set uplink.certfile="$u/tls-dev.crt" \
		--set uplink.keyfile="$u/tls-dev.key" "${sets[@]}" --replay "$drive" --emit /dev/null
}
expect "agent, missing cafile" "cafile $u/nope.crt: No such file or directory" agent cafile="$u/nope.crt"
expect "agent, unreadable keyfile" "keyfile $u/locked.key: Permission denied" agent keyfile="$u/locked.key"
expect "agent, certfile is a directory" "certfile $u/dir.crt: Is a directory" agent certfile="$u/dir.crt"
expect "agent, empty cafile" "cafile $u/empty.crt: empty file" agent cafile="$u/empty.crt"

collector() { # KEY=PATH: `run` as nobody (it stops before touching the database)
	local ca=$u/ca.crt cert=$u/collector.crt key=$u/collector.key
	case $1 in
	cafile=*) ca=${1#*=} ;;
	certfile=*) cert=${1#*=} ;;
	keyfile=*) key=${1#*=} ;;
	esac
	printf '[mqtt]\nhost = 127.0.0.1\nport = 1\ncafile = %s\ncertfile = %s\nkeyfile = %s\n[db]\nconninfo = host=%s dbname=none connect_timeout=1\n[metrics]\nlisten = 127.0.0.1:0\n' \
		"$ca" "$cert" "$key" "$u/nodb" >"$u/collector.ini"
	chmod 0644 "$u/collector.ini"
	as_nobody "$COLLECTOR" --config "$u/collector.ini" run
}
expect "collector, missing certfile" "certfile $u/nope.crt: No such file or directory" collector certfile="$u/nope.crt"
expect "collector, unreadable keyfile" "keyfile $u/locked.key: Permission denied" collector keyfile="$u/locked.key"
expect "collector, cafile is a directory" "cafile $u/dir.crt: Is a directory" collector cafile="$u/dir.crt"

echo "tls errors: $fails failure(s)"
[ "$fails" -eq 0 ]
