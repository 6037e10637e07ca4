#!/bin/bash
# Builds the Debian packages for one architecture in its own build directory,
# unpacks them and checks what a user installs: control fields (Architecture,
# Depends covering every shared library the binary needs), conffiles, the
# hardened systemd unit, the binary in /usr/bin; runs the packaged odo-agent
# (under qemu-user for arm64/armhf) for --version, --check-config of the packaged
# and per-board configurations, and a replay whose records must equal, byte for
# byte, those of the build's own native odo-agent.
#
#   package.sh ARCH WORKDIR NATIVE_AGENT VERSION WERROR C_COMPILER
#   ARCH: arm64 | armhf | amd64 (amd64 also builds and checks odo-collector)
set -euo pipefail

arch=$1 work=$2 native_agent=$3 version=$4 werror=$5 cc=$6
src=${ODO_SOURCE_DIR:?ODO_SOURCE_DIR not set}
drive=$src/tests/data/drives/synthetic-1

fail() { echo "FAIL: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || fail "$1 not found (run tools/bootstrap)"; }
for t in cmake cpack dpkg-deb dpkg readelf cmp; do need "$t"; done

case $arch in
arm64) triplet=aarch64-linux-gnu; machine=AArch64; run=(qemu-aarch64)
       conf=(-DCMAKE_TOOLCHAIN_FILE="$src/toolchains/arm64-debian.cmake" -DODO_BUILD_COLLECTOR=OFF) ;;
armhf) triplet=arm-linux-gnueabihf; machine=ARM; run=(qemu-arm)
       conf=(-DCMAKE_TOOLCHAIN_FILE="$src/toolchains/armhf-debian.cmake" -DODO_BUILD_COLLECTOR=OFF) ;;
amd64) triplet=x86_64-linux-gnu; machine="Advanced Micro Devices X86-64"; run=()
       conf=(-DCMAKE_C_COMPILER="$cc") ;;
*) fail "unknown architecture $arch" ;;
esac
# qemu-user without -L: the multiarch libc in /usr/lib/<triplet> is the right
# one (see toolchains/debian-cross.cmake).
[ ${#run[@]} -eq 0 ] || need "${run[0]}"
[ -x "$native_agent" ] || fail "native odo-agent $native_agent not built"

build=$work/build
mkdir -p "$build"
tmp=$(mktemp -d "$work/run.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Only the shipped programs: no tests, no sanitizers (they would not be shipped).
t0=$SECONDS
cmake -S "$src" -B "$build" "${conf[@]}" -DODO_BUILD_TESTS=OFF -DODO_SANITIZE=OFF \
      -DODO_WERROR="$werror" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$tmp/configure.log" 2>&1 ||
	{ cat "$tmp/configure.log" >&2; fail "configure ($arch)"; }
targets=(odo-agent)
[ "$arch" = amd64 ] && targets+=(odo-collector)
cmake --build "$build" -j2 --target "${targets[@]}" >"$tmp/build.log" 2>&1 ||
	{ tail -40 "$tmp/build.log" >&2; fail "build ($arch)"; }
rm -f "$build"/*.deb
(cd "$build" && cpack -G DEB) >"$tmp/cpack.log" 2>&1 || { cat "$tmp/cpack.log" >&2; fail "cpack ($arch)"; }
echo "built and packaged $arch in $((SECONDS - t0)) s"

field() { dpkg-deb -f "$1" "$2"; }

# check_deb PKG BINARY CONFFILE UNIT: the common checks of one package; leaves
# it unpacked in $tmp/PKG (data) and $tmp/PKG.ctl (control).
check_deb() {
	local pkg=$1 bin=$2 conffile=$3 unit=$4
	local deb=$build/${pkg}_${version}_${arch}.deb
	[ -f "$deb" ] || { ls "$build"/*.deb >&2 || true; fail "$deb not written"; }
	local n; n=$(ls "$build"/"${pkg}"_*.deb | wc -l)
	[ "$n" = 1 ] || fail "$n $pkg packages"
	[ "$(field "$deb" Package)" = "$pkg" ] || fail "$pkg: Package field"
	[ "$(field "$deb" Version)" = "$version" ] || fail "$pkg: Version $(field "$deb" Version) != $version"
	[ "$(field "$deb" Architecture)" = "$arch" ] || fail "$pkg: Architecture $(field "$deb" Architecture)"
	field "$deb" Description | sed -n 1p | grep -q "^odo " || fail "$pkg: summary line: $(field "$deb" Description | sed -n 1p)"

	local d=$tmp/$pkg c=$tmp/$pkg.ctl
	dpkg-deb -x "$deb" "$d"
	dpkg-deb -e "$deb" "$c"

	# The binary: in /usr/bin, for this architecture, stripped.
	local exe=$d/usr/bin/$bin
	[ -x "$exe" ] || fail "$pkg: /usr/bin/$bin missing or not executable"
	readelf -h "$exe" | grep -q "Machine:[[:space:]]*$machine" || fail "$pkg: $bin is not $machine: $(readelf -h "$exe" | grep Machine)"
	! readelf -S "$exe" | grep -q '\.debug_info' || fail "$pkg: $bin not stripped"

	# Depends names the package of every shared library the binary needs.
	local depends; depends=$(field "$deb" Depends)
	local lib path owner dir
	for lib in $(readelf -d "$exe" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		# dpkg knows a library by the path its package installed (/lib or /usr/lib).
		owner=
		for path in /lib/$triplet/$lib /usr/lib/$triplet/$lib; do
			owner=$(dpkg -S "$path" 2>/dev/null | sed -n 1p | cut -d: -f1) && [ -n "$owner" ] && break
		done
		[ -n "$owner" ] || fail "$pkg: no installed package has $lib (NEEDED) in /usr/lib/$triplet"
		grep -Eq "(^|, )$owner( |,|$)" <<<"$depends" || fail "$pkg: Depends '$depends' lacks $owner (for $lib)"
		echo "  $lib -> $owner"
	done
	grep -Eq "(^|, )adduser( |,|$)" <<<"$depends" || fail "$pkg: Depends lacks adduser (postinst uses it)"

	# conffiles: the configuration, and it is in the package.
	[ "$(cat "$c/conffiles")" = "$conffile" ] || fail "$pkg: conffiles is '$(cat "$c/conffiles")'"
	[ -f "$d$conffile" ] || fail "$pkg: $conffile not shipped"
	local s
	for s in postinst prerm postrm; do
		[ -x "$c/$s" ] || fail "$pkg: $s missing or not executable"
		sh -n "$c/$s" || fail "$pkg: $s is not valid sh"
	done
	grep -q 'adduser --system' "$c/postinst" || fail "$pkg: postinst creates no system user"
	# Purging one package must not take the other's data in the shared /var/lib/odo.
	! grep -q 'rm -rf /var/lib/odo' "$c/postrm" || fail "$pkg: postrm removes all of /var/lib/odo"

	# The unit: dedicated user, hardening, state directory, restart on failure.
	local u=$d/lib/systemd/system/$unit
	[ -f "$u" ] || fail "$pkg: $unit missing"
	local want
	for want in "User=odo" "Group=odo" "NoNewPrivileges=yes" "ProtectSystem=strict" "ProtectHome=yes" \
		    "StateDirectory=odo" "Restart=on-failure" "PrivateTmp=yes" "CapabilityBoundingSet=" \
		    "ProtectKernelModules=yes" "SystemCallArchitectures=native" "RestrictSUIDSGID=yes"; do
		grep -qx "$want" "$u" || fail "$pkg: $unit lacks $want"
	done
	grep -q "^ExecStart=/usr/bin/$bin --config $conffile" "$u" || fail "$pkg: $unit ExecStart"
	grep -q '^WantedBy=multi-user.target' "$u" || fail "$pkg: $unit not enabled for multi-user.target"
	echo "$pkg: control, conffiles, unit and binary OK"
}

check_deb odo-agent odo-agent /etc/odo/agent.conf odo-agent.service
agent=$tmp/odo-agent/usr/bin/odo-agent

# The packaged binary runs (qemu-user for the ARM ones).
out=$("${run[@]}" "$agent" --version)
[ "$out" = "odo-agent $version" ] || fail "--version printed '$out'"

# The packaged default configuration and every board's pass the agent's own check;
# a broken one is refused (the check can fail).
for cfg in "$tmp/odo-agent/etc/odo/agent.conf" "$src"/boards/*/agent.conf; do
	"${run[@]}" "$agent" --config "$cfg" --check-config >/dev/null || fail "--check-config rejects $cfg"
done
n=$(ls "$src"/boards/*/agent.conf | wc -l)
[ "$n" -ge 3 ] || fail "only $n board configurations"
printf '[agent]\ndevice_id = bad id\n' >"$tmp/bad.conf"
! "${run[@]}" "$agent" --config "$tmp/bad.conf" --check-config >/dev/null 2>&1 || fail "--check-config accepted a bad device id"
# Secure defaults in the packaged configuration.
pc=$tmp/odo-agent/etc/odo/agent.conf
for want in "port = 8883" "cafile = /etc/odo/ca.crt" "certfile = /etc/odo/device.crt" \
	    "keyfile = /etc/odo/device.key" "path = /var/lib/odo/outbox.db" "state_dir = /var/lib/odo" "log_file ="; do
	grep -qx "$want" "$pc" || fail "packaged agent.conf lacks '$want'"
done

# A short replay with the packaged binary: a trip with events, the same records
# as the native build's.
mkdir "$tmp/p" "$tmp/n"
"${run[@]}" "$agent" --set agent.device_id=pkg-test --set agent.state_dir="$tmp/p" \
	--set store.path="$tmp/p/outbox.db" --no-uplink --replay "$drive" --emit "$tmp/p/out.txt" \
	2>"$tmp/p/log" || { cat "$tmp/p/log" >&2; fail "packaged odo-agent replay"; }
"$native_agent" --set agent.device_id=pkg-test --set agent.state_dir="$tmp/n" \
	--set store.path="$tmp/n/outbox.db" --no-uplink --replay "$drive" --emit "$tmp/n/out.txt" \
	2>"$tmp/n/log" || { cat "$tmp/n/log" >&2; fail "native odo-agent replay"; }
kinds=$(awk '{print $2}' "$tmp/p/out.txt" | sort | uniq -c)
echo "$kinds"
for k in trip_start event trip_end; do
	awk -v k="$k" '$2 == k { found = 1 } END { exit !found }' "$tmp/p/out.txt" || fail "replay emitted no $k"
done
[ "$(awk '$2 == "trip_start"' "$tmp/p/out.txt" | wc -l)" = "$(awk '$2 == "trip_end"' "$tmp/p/out.txt" | wc -l)" ] ||
	fail "unbalanced trip_start/trip_end"
[ -s "$tmp/p/outbox.db" ] || fail "replay stored no outbox"
cmp "$tmp/p/out.txt" "$tmp/n/out.txt" ||
	{ diff "$tmp/p/out.txt" "$tmp/n/out.txt" | sed -n 1,20p >&2; fail "$arch records differ from the native build's"; }
echo "replay under ${run[*]:-native}: $(wc -l <"$tmp/p/out.txt") records, identical to the native build's"

if [ "$arch" = amd64 ]; then
	check_deb odo-collector odo-collector /etc/odo/collector.conf odo-collector.service
	coll=$tmp/odo-collector/usr/bin/odo-collector
	out=$("$coll" --version)
	[ "$out" = "odo-collector $version" ] || fail "collector --version printed '$out'"
	ls "$tmp"/odo-collector/usr/share/odo/sql/*.sql >/dev/null || fail "collector: no SQL migrations shipped"
	grep -q '^ExecStartPre=/usr/bin/odo-collector --config /etc/odo/collector.conf migrate' \
		"$tmp/odo-collector/lib/systemd/system/odo-collector.service" || fail "collector unit does not migrate"
	# odo-collector has no --check-config: `aggregate` without --month parses the
	# whole configuration first and then stops with this usage error, touching
	# nothing. A configuration error stops it earlier with another message.
	cc_check() { env -u ODO_DB_PASSWORD "$coll" --config "$1" aggregate 2>&1; }
	out=$(cc_check "$tmp/odo-collector/etc/odo/collector.conf") && fail "collector aggregate without --month succeeded"
	[ "$out" = "odo-collector: aggregate needs --month YYYY-MM" ] || fail "packaged collector.conf: $out"
	printf '[mqtt]\nport = 0\n' >"$tmp/badc.conf"
	out=$(cc_check "$tmp/badc.conf") || true
	[ "$out" != "odo-collector: aggregate needs --month YYYY-MM" ] || fail "collector accepted port = 0"
	cc=$tmp/odo-collector/etc/odo/collector.conf
	for want in "port = 8883" "cafile = /etc/odo/pki/ca.crt" "certfile = /etc/odo/pki/collector.crt" \
		    "keyfile = /etc/odo/pki/collector.key" "password_file ="; do
		grep -qx "$want" "$cc" || fail "packaged collector.conf lacks '$want'"
	done
	grep -qi 'password' <<<"$(grep -v '^#' "$cc" | grep conninfo)" && fail "collector.conf puts a password in conninfo"
	echo "odo-collector: configuration and version OK"
fi
echo "PASS packaging $arch ($((SECONDS - t0)) s)"
