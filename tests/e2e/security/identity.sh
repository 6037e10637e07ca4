#!/usr/bin/env bash
# Broker identity binding (issue 13, finding 1), against a real TLS mosquitto
# with the repo's policy, a real odo-collector and PostgreSQL:
#   - a device that connects with another device's client id, or with a
#     collector's, takes over nobody's session: the broker gives it its own
#     certificate's identity (the log says "as evil ... u'evil'");
#   - while it keeps doing so, the collectors stay connected and a batch
#     stream that another device publishes meanwhile is stored and acked in
#     full, without any resend;
#   - two collectors with distinct certificate identities share the
#     subscription side by side; no device certificate can carry a
#     collector's identity.
# On a broker without use_username_as_clientid the attacker closes the
# collector's connection (its session and shared subscription with it) and
# the victim's, and the victim's batches are lost: this test fails there.
set -euo pipefail
COLLECTOR=$1
FLEETSIM=$2
source "$ODO_SOURCE_DIR/tests/e2e/collector/common.sh"
odo_tmpdir
pki=$ODO_TMP/pki
odo_pki_init "$pki" victim-1 victim-2 evil >/dev/null 2>&1
"$ODO_SOURCE_DIR/tools/pki" collector "$pki" odo-collector-2 2>/dev/null

# No device certificate can carry a collector's identity.
for name in odo-collector odo-collector-2 odo-collector-x; do
	if "$ODO_SOURCE_DIR/tools/pki" device "$pki" "$name" 2>"$ODO_TMP/reserved.err"; then
		fail "tools/pki issued a device certificate named $name"
	fi
	echo "ok: no device certificate for $name ($(cat "$ODO_TMP/reserved.err"))"
done

odo_start_mosquitto "$pki"
odo_start_postgres
write_ini "$ODO_TMP/m.ini" m m
"$COLLECTOR" --config "$ODO_TMP/m.ini" migrate 2>/dev/null
# Each collector asks for the client id its certificate names (docs/deploy.md).
start_collector c1 odo-collector
start_collector c2 odo-collector-2
grep -q "^certfile = $pki/collectors/odo-collector-2.crt" "$ODO_TMP/c2.ini" || fail "c2 does not use its own certificate"

H=(-h 127.0.0.1 -p "$ODO_MQTT_PORT" -V mqttv5 --cafile "$pki/ca.crt")
EVIL=(--cert "$pki/devices/evil.crt" --key "$pki/devices/evil.key")

# The attacker: connects again and again with the client id of a collector
# or of victim-2 (one loop per identity, so all are hit at once), clean start
# (which would also discard the session it took over), holding each
# connection for a second.
attack() { # ID SECONDS
	local until=$((SECONDS + $2))
	while [ $SECONDS -lt $until ]; do
		timeout 5 mosquitto_sub "${H[@]}" "${EVIL[@]}" -i "$1" -t odo/v1/evil/ack -W 1 \
			>/dev/null 2>>"$ODO_TMP/attack.err" || true
	done
}
log_mark=$(wc -l <"$ODO_MQTT_LOG")
c1_mark=$(wc -l <"$ODO_TMP/c1.log")
c2_mark=$(wc -l <"$ODO_TMP/c2.log")

# victim-2 holds an idle session (it only waits for its acks).
timeout 60 mosquitto_sub "${H[@]}" --cert "$pki/devices/victim-2.crt" --key "$pki/devices/victim-2.key" \
	-i victim-2 -t odo/v1/victim-2/ack >/dev/null 2>"$ODO_TMP/victim-2.err" &
odo_track_pid $!
attackers=()
for id in odo-collector odo-collector-2 victim-2; do
	attack "$id" 25 &
	attackers+=($!)
	odo_track_pid $!
done
sleep 2
# victim-1 publishes 40 batches of 50 records at 4 batches/s while under
# attack; it never resends, so a batch lost by the broker stays missing.
B=40 R=50
t0=$SECONDS
"$FLEETSIM" --port "$ODO_MQTT_PORT" --pki "$pki" --prefix victim- --devices 1 --batches $B --records $R \
	--rate 4 --window 4 --wait-acks 20 >"$ODO_TMP/victim.out" 2>&1 &
victim=$!
odo_track_pid "$victim"
victim_rc=0
wait "$victim" || victim_rc=$?
echo "victim finished in $((SECONDS - t0)) s (exit $victim_rc): $(tail -n 1 "$ODO_TMP/victim.out")"
kill "${attackers[@]}" 2>/dev/null || true
wait "${attackers[@]}" 2>/dev/null || true

bad=0
bad() { printf 'FAIL: %s\n' "$*" >&2; bad=$((bad + 1)); }
check_eq() { # WHAT GOT WANT
	if [ "$2" = "$3" ]; then printf 'ok: %s = %s\n' "$1" "$2"; else bad "$1: got '$2', want '$3'"; fi
}
new_log() { tail -n +"$((log_mark + 1))" "$ODO_MQTT_LOG"; }
n_attacks=$(new_log | grep -c "as evil (p5, c1, k60, u'evil')" || true)
echo "attacker connections the broker saw (all as evil): $n_attacks"
[ "$n_attacks" -ge 15 ] || bad "the attacker connected only $n_attacks times as evil: $(new_log | grep -i "new client" | tail -n 5)"
if new_log | grep -E "Client (odo-collector|odo-collector-2|victim-2) already connected"; then
	bad "the attacker took over a session (broker log above)"
fi
[ "$bad" != 0 ] || echo "ok: no session taken over (no 'already connected' in the broker log)"
if new_log | grep -E "New client connected .* as (odo-collector|odo-collector-2|victim-2) .*u'evil'"; then
	bad "the broker let the attacker hold another identity's client id"
fi
for c in c1 c2; do
	mark=c1_mark
	[ $c = c2 ] && mark=c2_mark
	if tail -n +"$((${!mark} + 1))" "$ODO_TMP/$c.log" | grep "disconnected from the broker"; then
		bad "collector $c was disconnected during the attack"
	fi
done
[ "$bad" != 0 ] || echo "ok: both collectors stayed connected"
[ "$victim_rc" = 0 ] || { cat "$ODO_TMP/victim.out"; bad "the victim's batches were not all acked while the attack went on"; }
check_eq "victim's records stored" "$(stored_records 'victim-%')" "$((B * R))"
check_eq "victim acked to its last record" "$(q "SELECT coalesce(max(acked), 0) FROM device_epochs WHERE device_id = 'victim-1'")" "$((B * R))"
n1=$(q "SELECT count(*) FROM batches WHERE processed_by = 'c1'")
n2=$(q "SELECT count(*) FROM batches WHERE processed_by = 'c2'")
echo "batches stored by c1: $n1, by c2: $n2"
[ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] || bad "the two collectors did not share the subscription"
[ "$bad" = 0 ] || fail "$bad check(s) failed"
echo PASS
