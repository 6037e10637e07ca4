#!/usr/bin/env bash
# Collector throughput: odo-fleet-sim -> mosquitto (TLS, client certs) ->
# odo-collector -> PostgreSQL, on this machine, next to two baselines
# measured in the same run with the same data:
#   broker:  the same messages through the same broker to a plain subscriber
#   copy:    PostgreSQL's COPY of the same sample rows into a plain table
# plus the alternative write path we did not choose (COPY into a staging
# table, then INSERT ... ON CONFLICT DO NOTHING).
#
#   collector_bench.sh COLLECTOR FLEETSIM [DEVICES BATCHES RECORDS]
# Prints a markdown table. Exits non-zero if any stage fails (not on speed).
set -euo pipefail
COLLECTOR=$1
FLEETSIM=$2
N=${3:-20}
B=${4:-10}
R=${5:-1000}
source "$ODO_SOURCE_DIR/tests/e2e/collector/common.sh"
odo_tmpdir
devs=()
for i in $(seq 1 "$N"); do devs+=("b-$i"); done
odo_pki_init "$ODO_TMP/pki" "${devs[@]}" >/dev/null
odo_start_mosquitto "$ODO_TMP/pki"
odo_start_postgres
total=$((N * B * R))
msgs=$((N * B))
now() { date +%s.%N; }
rate() { python3 -c "import sys; print('%.0f' % (float(sys.argv[1]) / float(sys.argv[2])))" "$1" "$2"; }
sub() { python3 -c "import sys; print('%.3f' % (float(sys.argv[1]) - float(sys.argv[2]) - float(sys.argv[3])))" "$1" "$2" "$3"; }

echo "== baseline 1: broker passthrough of the same $msgs messages" >&2
mosquitto_sub -h 127.0.0.1 -p "$ODO_MQTT_PORT" -V mqttv5 -q 1 --cafile "$ODO_TMP/pki/ca.crt" \
	--cert "$ODO_TMP/pki/collector.crt" --key "$ODO_TMP/pki/collector.key" \
	-t 'odo/v1/+/up' -C "$msgs" >/dev/null &
subpid=$!
odo_track_pid "$subpid"
sleep 1
t0=$(now)
"$FLEETSIM" --port "$ODO_MQTT_PORT" --pki "$ODO_TMP/pki" --prefix b- --devices "$N" --batches "$B" --records "$R" \
	--window 20 >"$ODO_TMP/sim0.out"
wait "$subpid"
t1=$(now)
conn=$(sed -n 's/^connected .* in \([0-9.]*\) s$/\1/p' "$ODO_TMP/sim0.out")
t_broker=$(sub "$t1" "$t0" "$conn")

echo "== the collector: same messages, stored and acknowledged" >&2
write_ini "$ODO_TMP/bench.ini" bench bench "${ODO_BENCH_DB_CONNECTIONS:-2}"
sed -i 's/^log_level = info/log_level = warn/; s/^commit_ms = 20/commit_ms = 50\nmax_group_rows = 20000/' "$ODO_TMP/bench.ini"
"$COLLECTOR" --config "$ODO_TMP/bench.ini" migrate 2>/dev/null
"$COLLECTOR" --config "$ODO_TMP/bench.ini" run 2>"$ODO_TMP/bench.log" &
cpid=$!
odo_track_pid "$cpid"
sleep 1
t0=$(now)
"$FLEETSIM" --port "$ODO_MQTT_PORT" --pki "$ODO_TMP/pki" --prefix b- --devices "$N" --batches "$B" --records "$R" \
	--window 20 --wait-acks 600 --start-seq 1 --t0-ms 1793491200000 >"$ODO_TMP/sim1.out" || { tail -3 "$ODO_TMP/sim1.out"; fail "not all acked"; }
t1=$(now)
conn=$(sed -n 's/^connected .* in \([0-9.]*\) s$/\1/p' "$ODO_TMP/sim1.out")
t_coll=$(sub "$t1" "$t0" "$conn")
stored=$(stored_records 'b-%')
expect_eq "records stored" "$stored" "$total" >&2
kill -TERM "$cpid"; wait "$cpid" || true

echo "== baseline 2: COPY of the same sample rows" >&2
nsamples=$(q "SELECT count(*) FROM samples")
chmod 777 "$ODO_TMP"
q "COPY (SELECT * FROM samples) TO '$ODO_TMP/samples.copy'" >/dev/null
q "CREATE TABLE copy_plain (LIKE samples INCLUDING DEFAULTS); ALTER TABLE copy_plain ADD PRIMARY KEY (device_id, seq, t)" >/dev/null
t0=$(now); q "COPY copy_plain FROM '$ODO_TMP/samples.copy'" >/dev/null; t1=$(now)
t_copy=$(sub "$t1" "$t0" 0)
echo "== alternative write path: COPY into staging + INSERT ON CONFLICT into the partitioned table" >&2
q "CREATE TABLE samples_alt (LIKE samples INCLUDING DEFAULTS, PRIMARY KEY (device_id, seq, t)) PARTITION BY RANGE (t);
   CREATE TABLE samples_alt_2026_11 PARTITION OF samples_alt FOR VALUES FROM ('2026-11-01') TO ('2026-12-01');
   CREATE TABLE samples_alt_2026_12 PARTITION OF samples_alt FOR VALUES FROM ('2026-12-01') TO ('2027-01-01')" >/dev/null
t0=$(now)
odo_psql -c "BEGIN; CREATE TEMP TABLE stage (LIKE samples) ON COMMIT DROP; COPY stage FROM '$ODO_TMP/samples.copy'; INSERT INTO samples_alt SELECT * FROM stage ON CONFLICT DO NOTHING; COMMIT" >/dev/null
t1=$(now)
t_stage=$(sub "$t1" "$t0" 0)
expect_eq "staged rows" "$(q "SELECT count(*) FROM samples_alt")" "$nsamples" >&2

cat <<TABLE
| stage | what | records | seconds | records/s |
|---|---|---:|---:|---:|
| baseline | mosquitto passthrough (TLS, QoS 1), same messages to one subscriber | $total | $t_broker | $(rate "$total" "$t_broker") |
| **odo-collector** | fleet-sim → mosquitto (TLS) → decode → PostgreSQL (pipelined group commit) → acks back | $total | $t_coll | **$(rate "$total" "$t_coll")** |
| baseline | PostgreSQL COPY of the same sample rows into a plain table | $nsamples | $t_copy | $(rate "$nsamples" "$t_copy") |
| alternative | COPY into a staging table + INSERT ... ON CONFLICT DO NOTHING (partitioned) | $nsamples | $t_stage | $(rate "$nsamples" "$t_stage") |

collector / broker passthrough: $(python3 -c "print('%.2f' % ($t_broker / $t_coll))"); collector / COPY: $(python3 -c "print('%.2f' % (($total / $t_coll) / ($nsamples / $t_copy)))")
($N devices × $B batches × $R records; $(nproc) cores; collector with ${ODO_BENCH_DB_CONNECTIONS:-2} database connection(s))
TABLE
