#!/usr/bin/env bash
# Store-and-forward benchmark (label bench). Prints a markdown table:
#   1. records/s into the outbox (odo_store_put: encode, evict check, insert,
#      one commit per record) next to raw SQLite inserts of the same rows
#      (same schema, WAL, synchronous=NORMAL, one commit per row);
#   1b. the encrypted outbox ([store] key_file: AES-256-GCM per record,
#      issue 13 item 6) next to the plain outbox: put, and read back
#      (odo_store_next_batch of 100 + ack until empty), same run, same rows;
#   2. backlog drain rate through the uplink to a local TLS mosquitto with
#      end-to-end acks from the ack-sink (fdatasync per batch) next to raw
#      libmosquitto QoS 1 publishes of equally sized messages (no acks, no
#      outbox), same window of 8 in flight;
#   3. the same drain against the shipped broker policy (set_tcp_nodelay
#      true) next to the same policy with Nagle's algorithm on (a second
#      broker rendered with set_tcp_nodelay false). Drains: best of 3
#      interleaved rounds each.
# Usage: ODO_SOURCE_DIR=... ODO_BINARY_DIR=... bench.sh [N]
set -euo pipefail
: "${ODO_SOURCE_DIR:?}" "${ODO_BINARY_DIR:?}"
N=${1:-${ODO_BENCH_N:-20000}}
BATCH=100
source "$ODO_SOURCE_DIR/tests/lib/servers.sh"
B="$ODO_BINARY_DIR/tests/bench/store/store-bench"
DRIVER="$ODO_BINARY_DIR/tests/e2e/store/store-driver"
SINK="$ODO_BINARY_DIR/tests/e2e/store/ack-sink"
for b in "$B" "$DRIVER" "$SINK"; do [ -x "$b" ] || odo_die "$b is not built"; done
odo_tmpdir
odo_pki_init "$ODO_TMP/pki" dev-bench
odo_start_mosquitto "$ODO_TMP/pki"
P="$ODO_TMP/pki"

# Three rounds, interleaved, fresh files each; the best of each is kept.
(umask 077 && openssl rand -hex 32 >"$ODO_TMP/outbox.key")
t_put=1e9 t_sql=1e9 t_seal=1e9 t_rd=1e9 t_rds=1e9
for r in 1 2 3; do
	read -r _ _ t avg < <("$B" put "$ODO_TMP/put$r.db" "$N")
	t_put=$(python3 -c "print(min($t_put, $t))")
	read -r _ _ t < <("$B" sqlite "$ODO_TMP/raw$r.db" "$N")
	t_sql=$(python3 -c "print(min($t_sql, $t))")
	read -r _ _ t avg_sealed < <("$B" put "$ODO_TMP/sealed$r.db" "$N" "$ODO_TMP/outbox.key")
	t_seal=$(python3 -c "print(min($t_seal, $t))")
	read -r _ n t < <("$B" read "$ODO_TMP/put$r.db")
	[ "$n" = "$N" ] || odo_die "read $n of $N records back from the plain outbox"
	t_rd=$(python3 -c "print(min($t_rd, $t))")
	read -r _ n t < <("$B" read "$ODO_TMP/sealed$r.db" "$ODO_TMP/outbox.key")
	[ "$n" = "$N" ] || odo_die "read $n of $N records back from the sealed outbox"
	t_rds=$(python3 -c "print(min($t_rds, $t))")
done

# The shipped broker policy must carry set_tcp_nodelay true (issue #16 item 5);
# the drain is measured against it and against the same policy with Nagle's
# algorithm left on (mosquitto's default), on a second broker.
grep -qx 'set_tcp_nodelay true' "$ODO_MQTT_CONF" || odo_die "the rendered broker policy lacks set_tcp_nodelay true"
PORT_SHIPPED=$ODO_MQTT_PORT
mkdir -p "$ODO_TMP/nagle-templates"
cp "$ODO_SOURCE_DIR/tools/broker/acl.in" "$ODO_TMP/nagle-templates/"
sed 's/^set_tcp_nodelay true$/set_tcp_nodelay false/' "$ODO_SOURCE_DIR/tools/broker/odo.conf.in" \
	>"$ODO_TMP/nagle-templates/odo.conf.in"
ODO_BROKER_TEMPLATES="$ODO_TMP/nagle-templates" odo_start_mosquitto "$ODO_TMP/pki" mosquitto-nagle
grep -qx 'set_tcp_nodelay false' "$ODO_MQTT_CONF" || odo_die "the Nagle broker's policy was not rendered"
PORT_NAGLE=$ODO_MQTT_PORT

# drain PORT ROUND: one outbox of N records drained through the uplink to the
# broker on PORT and acknowledged by a fresh ack-sink; prints the seconds.
drain() {
	local port=$1 tag=$2 sink t0 t1 got
	"$SINK" --port "$port" --cafile "$P/ca.crt" --cert "$P/collector.crt" --key "$P/collector.key" \
		--out "$ODO_TMP/sink-$tag.out" 2>"$ODO_TMP/sink-$tag.log" &
	sink=$!
	odo_track_pid "$sink"
	"$B" fill "$ODO_TMP/drain-$tag.db" "$N" >/dev/null
	t0=$(date +%s.%N)
	"$DRIVER" --db "$ODO_TMP/drain-$tag.db" --port "$port" --cafile "$P/ca.crt" \
		--cert "$P/devices/dev-bench.crt" --key "$P/devices/dev-bench.key" --device dev-bench \
		--log "$ODO_TMP/p-$tag.log" --drain --batch "$BATCH" --inflight 8 --ack-timeout 60 \
		2>"$ODO_TMP/driver-$tag.log" || { cat "$ODO_TMP/driver-$tag.log" >&2; odo_die "drain $tag failed"; }
	t1=$(date +%s.%N)
	kill "$sink"
	wait "$sink" 2>/dev/null || true
	got=$(wc -l <"$ODO_TMP/sink-$tag.out")
	[ "$got" -ge "$N" ] || odo_die "drain $tag delivered $got of $N records"
	python3 -c "print($t1 - $t0)"
}

# Three interleaved rounds against each broker; the best of each is kept.
t_drain=1e9 t_nagle=1e9
for r in 1 2 3; do
	t=$(drain "$PORT_SHIPPED" "shipped$r")
	t_drain=$(python3 -c "print(min($t_drain, $t))")
	t=$(drain "$PORT_NAGLE" "nagle$r")
	t_nagle=$(python3 -c "print(min($t_nagle, $t))")
done
msgs=$(((N + BATCH - 1) / BATCH))
size=$((avg * BATCH + 40))
read -r _ n3 t_raw < <("$B" rawpub "$PORT_SHIPPED" "$P/ca.crt" "$P/devices/dev-bench.crt" "$P/devices/dev-bench.key" \
	dev-bench "$msgs" "$size")

python3 - "$N" "$t_put" "$t_sql" "$t_drain" "$t_nagle" "$msgs" "$t_raw" "$BATCH" "$size" "$t_seal" "$t_rd" "$t_rds" "$avg" "$avg_sealed" <<'PY'
import sys
n, t_put, t_sql, t_drain, t_nagle, msgs, t_raw, batch, size, t_seal, t_rd, t_rds, avg, avg_s = sys.argv[1:]
n = int(n); msgs = int(msgs); batch = int(batch)
put = n / float(t_put); sql = n / float(t_sql)
drain = n / float(t_drain); nagle = n / float(t_nagle); raw = msgs * batch / float(t_raw)
print(f"| measurement | records/s | baseline | baseline records/s | ratio |")
print(f"|---|---:|---|---:|---:|")
print(f"| outbox put ({n} samples, 1 commit each) | {put:,.0f} | raw SQLite insert, same schema/WAL/NORMAL | {sql:,.0f} | {put/sql:.2f} |")
print(f"| backlog drain via uplink, e2e acked ({n} records, batches of {batch}) | {drain:,.0f} | raw libmosquitto QoS 1 publish, {msgs} x {size} B | {raw:,.0f} | {drain/raw:.2f} |")
print(f"| backlog drain, shipped broker policy (set_tcp_nodelay true) | {drain:,.0f} | same drain, same policy with set_tcp_nodelay false (Nagle on) | {nagle:,.0f} | {drain/nagle:.2f} |")
seal = n / float(t_seal); rd = n / float(t_rd); rds = n / float(t_rds)
print(f"| outbox put, sealed (AES-256-GCM, {avg_s} B stored per sample) | {seal:,.0f} | the plain outbox put above ({avg} B per sample) | {put:,.0f} | {seal/put:.2f} |")
print(f"| outbox read back + ack, sealed (batches of 100, opened) | {rds:,.0f} | the same from the plain outbox | {rd:,.0f} | {rds/rd:.2f} |")
PY
