# Airbag deployment through both sources: the DBC broadcast SRS_STATUS frame
# (AIRBAG_DEPLOYED goes 0 -> 1 at t = 4 s) and UDS 19 02 to the SRS module
# (deployment code B0001 appears at t = 3 s).
MODE=user
. /etc/odo/can-vm.sh
sig=$(grep '^signal role=0 ' /tmp/out.txt | tr '\n' ' ')
echo "airbag signals: $sig"
# DBC: first report 0 (belted, not deployed), then 1.
grep -q '^signal role=3 value=1$' /tmp/out.txt || fail "seatbelt not reported buckled"
grep -q '^signal role=1 value=1$' /tmp/out.txt || fail "crash_detected not reported"
# UDS: a record without deployment (only B1620), later one with B0001 -> airbag=1.
grep -qx 'dtc ecu=7DA mil=-1 stored=B1620 pending= permanent= airbag=0' /tmp/out.txt || fail "UDS before deployment"
grep -qx 'dtc ecu=7DA mil=-1 stored=B1620,B0001 pending= permanent= airbag=1' /tmp/out.txt || fail "UDS deployment"
first0=$(grep -m1 -n '^signal role=0 value=0$' /tmp/out.txt | cut -d: -f1)
first1=$(grep -m1 -n '^signal role=0 value=1$' /tmp/out.txt | cut -d: -f1)
[ -n "$first0" ] && [ -n "$first1" ] && [ "$first0" -lt "$first1" ] || fail "airbag did not go 0 then 1"
# after deployment it never reads 0 again from either source
[ "$(tail -n +"$first1" /tmp/out.txt | grep -c '^signal role=0 value=0$' || true)" = 0 ] || fail "airbag reverted to 0"
echo "airbag: OK"
