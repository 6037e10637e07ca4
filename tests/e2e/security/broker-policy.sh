#!/usr/bin/env bash
# The repo's broker policy (tools/broker) against a real mosquitto with TLS:
#   - a client without a certificate cannot connect;
#   - a client whose certificate was revoked cannot connect;
#   - a device cannot publish as another device (the collector sees nothing);
#   - a device cannot read another device's acks;
#   - a device can publish its own uplink and read its own acks;
#   - there is no plaintext listener.
set -euo pipefail
source "${ODO_SOURCE_DIR:?}/tests/lib/servers.sh"
odo_tmpdir
pki=$ODO_TMP/pki
odo_pki_init "$pki" dev-a dev-b dev-revoked
"$ODO_SOURCE_DIR/tools/pki" revoke "$pki" dev-revoked
odo_start_mosquitto "$pki"

fails=0
pass() { printf 'ok   %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*"; fails=$((fails + 1)); }

tls() { # tls NAME -> client TLS options for a device (or the collector)
	if [ "$1" = collector ]; then
		echo "--cafile $pki/ca.crt --cert $pki/collector.crt --key $pki/collector.key"
	else
		echo "--cafile $pki/ca.crt --cert $pki/devices/$1.crt --key $pki/devices/$1.key"
	fi
}
H="-h localhost -p $ODO_MQTT_PORT -V mqttv5"

# Subscribe in the background as NAME to TOPIC, collecting into FILE.
sub_bg() {
	local name=$1 topic=$2 file=$3
	# shellcheck disable=SC2046
	timeout 15 mosquitto_sub $H $(tls "$name") -i "sub-$name-$RANDOM" -t "$topic" -F '%t %p' >"$file" 2>"$file.err" &
	SUB_PID=$!
	odo_track_pid "$SUB_PID"
	sleep 1
}

# 1. No certificate: the TLS handshake fails.
if timeout 10 mosquitto_pub $H --cafile "$pki/ca.crt" -i nocert -t odo/v1/dev-a/up -m x -q 1 2>"$ODO_TMP/nocert.err"; then
	fail "a client without a certificate could publish"
else
	pass "no certificate: refused ($(head -n 1 "$ODO_TMP/nocert.err"))"
fi

# 2. Revoked certificate.
# shellcheck disable=SC2046
if timeout 10 mosquitto_pub $H $(tls dev-revoked) -i revoked -t odo/v1/dev-revoked/up -m x -q 1 2>"$ODO_TMP/revoked.err"; then
	fail "a revoked certificate could publish"
else
	pass "revoked certificate: refused ($(head -n 1 "$ODO_TMP/revoked.err"))"
fi

# 3. Plaintext: no listener speaks MQTT without TLS.
if timeout 10 mosquitto_pub -h localhost -p "$ODO_MQTT_PORT" -V mqttv5 -i plain -t odo/v1/dev-a/up -m x -q 1 2>/dev/null; then
	fail "a plaintext client could publish"
else
	pass "plaintext: refused"
fi

# 4. Impersonation: dev-a publishes on dev-b's topic; the collector must see
#    nothing of it, while dev-a's own message gets through.
sub_bg collector 'odo/v1/+/up' "$ODO_TMP/collector.out"
# shellcheck disable=SC2046
mosquitto_pub $H $(tls dev-a) -i dev-a -t odo/v1/dev-b/up -m forged -q 1 || true
# shellcheck disable=SC2046
mosquitto_pub $H $(tls dev-a) -i dev-a -t odo/v1/dev-a/up -m genuine -q 1
sleep 1
kill "$SUB_PID" 2>/dev/null || true
wait "$SUB_PID" 2>/dev/null || true
if grep -q forged "$ODO_TMP/collector.out"; then
	fail "dev-a could publish as dev-b: $(cat "$ODO_TMP/collector.out")"
else
	pass "impersonation: dev-a's message on dev-b's topic was not delivered"
fi
if grep -qx 'odo/v1/dev-a/up genuine' "$ODO_TMP/collector.out"; then
	pass "own uplink: delivered to the collector"
else
	fail "dev-a's own uplink did not reach the collector: '$(cat "$ODO_TMP/collector.out")'"
fi

# 5. Acks: dev-a reads its own, not dev-b's. One subscriber for both topics:
#    the broker binds the client id to the certificate, so a second dev-a
#    connection would replace the first.
# shellcheck disable=SC2046
timeout 15 mosquitto_sub $H $(tls dev-a) -t 'odo/v1/dev-b/ack' -t 'odo/v1/dev-a/ack' -F '%t %p' \
	>"$ODO_TMP/a-reads.out" 2>"$ODO_TMP/a-reads.err" &
SUB_PID=$!
odo_track_pid "$SUB_PID"
sleep 1
# shellcheck disable=SC2046
mosquitto_pub $H $(tls collector) -t odo/v1/dev-b/ack -m ack-for-b -q 1
# shellcheck disable=SC2046
mosquitto_pub $H $(tls collector) -t odo/v1/dev-a/ack -m ack-for-a -q 1
sleep 1
kill "$SUB_PID" 2>/dev/null || true
wait "$SUB_PID" 2>/dev/null || true
if grep -q ack-for-b "$ODO_TMP/a-reads.out"; then
	fail "dev-a read dev-b's acks"
else
	pass "dev-a cannot read dev-b's acks"
fi
if grep -qx 'odo/v1/dev-a/ack ack-for-a' "$ODO_TMP/a-reads.out"; then
	pass "dev-a reads its own acks"
else
	fail "dev-a did not receive its own ack: '$(cat "$ODO_TMP/a-reads.out")'"
fi

# 6. A device cannot write acks (it could forge an acknowledgement for itself):
#    dev-a, which may read its own ack topic, never sees its own forged ack.
sub_bg dev-a 'odo/v1/dev-a/ack' "$ODO_TMP/acks.out"
# shellcheck disable=SC2046
mosquitto_pub $H $(tls dev-a) -i dev-a -t odo/v1/dev-a/ack -m self-ack -q 1 || true
sleep 1
kill "$SUB_PID" 2>/dev/null || true
wait "$SUB_PID" 2>/dev/null || true
if grep -q self-ack "$ODO_TMP/acks.out"; then
	fail "a device could publish its own ack"
else
	pass "a device cannot forge acks"
fi

echo "security: $fails failure(s)"
[ "$fails" -eq 0 ]
