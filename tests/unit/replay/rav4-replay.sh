#!/bin/bash
# replay_data_rav4: the real comma2k19 RAV4 minute converted into a drive
# recording (tools/comma2k19-to-recording) replays with nothing corrupt and
# every fix, frame and sample delivered.
set -euo pipefail
check=$1 data=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$ODO_SOURCE_DIR/tools/comma2k19-to-recording" "$data" "$tmp/rec"
"$check" "$tmp/rec" | tee "$tmp/out"
fixes=$(($(wc -l <"$data/gnss_live_gnss_ublox.csv") - 1))
frames=$(wc -l <"$data/can_rav4_2017.candump.log")
samples=$(($(wc -l <"$data/imu_accelerometer.csv") - 1))
grep -q "gps.log $((fixes + 1))/0 can.log $frames/0 accel.csv $samples/0 phone.csv 0/0" "$tmp/out" ||
	{ echo "FAIL: want $((fixes + 1)) gps reports, $frames frames, $samples samples, nothing corrupt"; exit 1; }
