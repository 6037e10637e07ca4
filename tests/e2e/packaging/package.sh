#!/bin/bash
# Builds the Debian packages for one architecture in its own build directory,
# unpacks them and checks what a user installs: control fields (Architecture,
# Depends covering every shared library the binary needs, with the version
# dpkg-shlibdeps derives), conffiles shipped 0640, copyright and changelog.gz in
# /usr/share/doc/<package>, the hardened systemd unit (no repeated line,
# systemd-analyze verify, exposure score no worse than 2.3 / 1.6), the binary in
# /usr/bin, and lintian: no error, no warning that tools/packaging/lintian-warnings
# does not list with a reason; the odo-broker package (amd64 run) likewise;
# runs the packaged odo-agent
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
for t in cmake cpack dpkg-deb dpkg readelf cmp lintian systemd-analyze gzip; do need "$t"; done

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
		grep -Eq "(^|, )$owner \(>= [^)]+\)" <<<"$depends" || fail "$pkg: Depends has no version for $owner: '$depends'"
		echo "  $lib -> $(grep -Eo "$owner \(>= [^)]+\)" <<<"$depends")"
	done
	grep -Eq "(^|, )adduser( |,|$)" <<<"$depends" || fail "$pkg: Depends lacks adduser (postinst uses it)"

	# conffiles: the configuration, and it is in the package.
	[ "$(cat "$c/conffiles")" = "$conffile" ] || fail "$pkg: conffiles is '$(cat "$c/conffiles")'"
	[ -f "$d$conffile" ] || fail "$pkg: $conffile not shipped"
	local mode
	mode=$(dpkg-deb -c "$deb" | awk -v f=".$conffile" '$6 == f {print $1}')
	[ "$mode" = "-rw-r-----" ] || fail "$pkg: $conffile is $mode in the package, not -rw-r----- (0640)"
	check_doc "$pkg" "$d"
	[ -f "$d/usr/share/man/man1/$bin.1.gz" ] || fail "$pkg: no manual page $bin(1)"
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
	check_unit "$pkg" "$u"
	echo "$pkg: control, conffiles, docs, unit and binary OK"
}

# check_doc PKG ROOT: copyright and a max-compressed changelog for this version.
check_doc() {
	local pkg=$1 doc=$2/usr/share/doc/$1
	[ -f "$doc/copyright" ] || fail "$pkg: no /usr/share/doc/$pkg/copyright"
	grep -q '^License: MIT' "$doc/copyright" || fail "$pkg: copyright names no licence"
	[ -f "$doc/changelog.gz" ] || fail "$pkg: no /usr/share/doc/$pkg/changelog.gz"
	gzip -dc "$doc/changelog.gz" | head -n 1 | grep -q "^odo ($version) " || fail "$pkg: changelog.gz is not for $version"
}

# check_unit PKG FILE: no setting given twice (systemd merges repeated lines
# silently; only list-valued keys may repeat), and systemd-analyze verify is
# silent with the unit's programs taken from the package.
check_unit() {
	local pkg=$1 u=$2 dup out
	dup=$(grep -Ev '^(#|$|\[)' "$u" | grep -Ev '^(ExecStart|ExecStartPre|SystemCallFilter|ReadWritePaths|LoadCredential)=' | sort | uniq -d)
	[ -z "$dup" ] || fail "$pkg: $(basename "$u") repeats: $dup"
	mkdir -p "$tmp/units"
	# the package's other units beside it, so that its dependencies resolve
	local o
	for o in "$(dirname "$u")"/*.service "$(dirname "$u")"/*.timer; do
		[ -e "$o" ] || continue
		sed -e "s|/usr/bin/odo|$tmp/$pkg/usr/bin/odo|g; s|/usr/sbin/odo|$tmp/$pkg/usr/sbin/odo|g" "$o" >"$tmp/units/$(basename "$o")"
	done
	out=$(systemd-analyze verify "$tmp/units/$(basename "$u")" 2>&1) || fail "$pkg: systemd-analyze verify: $out"
	[ -z "$out" ] || fail "$pkg: systemd-analyze verify $(basename "$u"): $out"
}

# exposure PKG UNIT MAX: systemd-analyze security's score for the packaged unit.
exposure() {
	local score
	score=$(systemd-analyze security --offline=true --root="$tmp/$1" "$2" 2>/dev/null |
		sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
	[ -n "$score" ] || fail "$1: no exposure score for $2"
	awk -v s="$score" -v m="$3" 'BEGIN { exit !(s <= m) }' || fail "$1: $2 exposure $score, worse than $3"
	echo "$1: $2 exposure $score (at most $3)"
}

# lintian_ok DEB...: no error, and only the warnings tools/packaging/lintian-warnings lists.
lintian_ok() {
	local out allowed line pkg tag bad=0
	out=$(lintian --tag-display-limit 0 "$@" 2>&1 | grep -v '^running with root privileges') || true
	allowed=$(grep -Ev '^(#|$)' "$src/tools/packaging/lintian-warnings" | sed 's/ *|.*//')
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		case $line in
		E:*) echo "lintian error: $line" >&2; bad=1 ;;
		W:*)
			pkg=$(cut -d' ' -f2 <<<"$line" | tr -d :)
			tag=$(cut -d' ' -f3 <<<"$line")
			if grep -qx "$pkg $tag" <<<"$allowed"; then
				echo "  lintian (listed): $line"
			else
				echo "lintian warning not in tools/packaging/lintian-warnings: $line" >&2
				bad=1
			fi
			;;
		esac
	done <<<"$out"
	[ $bad = 0 ] || fail "lintian"
	echo "lintian: no errors, no unlisted warnings"
}

check_deb odo-agent odo-agent /etc/odo/agent.conf odo-agent.service
exposure odo-agent odo-agent.service 2.3
agent=$tmp/odo-agent/usr/bin/odo-agent

# The packaged binary runs (qemu-user for the ARM ones).
out=$("${run[@]}" "$agent" --version)
[ "$out" = "odo-agent $version" ] || fail "--version printed '$out'"

# The packaged default configuration and every board's: the agent's own check
# refuses the placeholder device id they ship with, and passes them once the id
# is set and the files they name exist (here: stand-ins in this test's directory);
# a broken one is refused (the check can fail).
mkdir -p "$tmp/chk"
for f in ca.crt device.crt device.key; do echo x >"$tmp/chk/$f"; done
files=(--set agent.state_dir="$tmp/chk" --set store.path="$tmp/chk/outbox.db" --set uplink.cafile="$tmp/chk/ca.crt"
       --set uplink.certfile="$tmp/chk/device.crt" --set uplink.keyfile="$tmp/chk/device.key" --set accel.device=/dev/null)
for cfg in "$tmp/odo-agent/etc/odo/agent.conf" "$src"/boards/*/agent.conf; do
	! "${run[@]}" "$agent" --config "$cfg" --check-config >"$tmp/chk/out" 2>&1 || fail "--check-config accepted the placeholder in $cfg"
	grep -q "placeholder 'unset-device'" "$tmp/chk/out" || fail "$cfg: the placeholder is not named: $(cat "$tmp/chk/out")"
	"${run[@]}" "$agent" --config "$cfg" --set agent.device_id=pkg-test "${files[@]}" --check-config >"$tmp/chk/out" 2>&1 ||
		fail "--check-config rejects $cfg: $(cat "$tmp/chk/out")"
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
	exposure odo-collector odo-collector.service 1.6
	units=$tmp/odo-collector/lib/systemd/system
	for u in odo-collector-roads.service odo-collector-migrate.service odo-collector-maintain.service \
		 odo-collector-maintain.timer odo-collector-archive.service odo-collector-archive.timer; do
		check_unit odo-collector "$units/$u"
	done
	for u in odo-collector-roads.service odo-collector-migrate.service odo-collector-maintain.service \
		 odo-collector-archive.service; do
		exposure odo-collector "$u" 1.6
	done
	grep -qx 'OnCalendar=daily' "$units/odo-collector-archive.timer" || fail "odo-collector: the archive timer is not daily"
	grep -q '^ExecStart=/usr/bin/odo-collector --config /etc/odo/collector.conf --set db.aggregate_password_file=%d/db-aggregate roads follow' \
		"$units/odo-collector-roads.service" || fail "map-matching unit"
	# Least privilege (issue 13 item 3): each unit gets only its role's
	# credential; the schema owner's units run as a user of their own; the
	# daily timer keeps the partitions ahead.
	grep -qx 'OnCalendar=daily' "$units/odo-collector-maintain.timer" || fail "the maintain timer is not daily"
	for u in migrate maintain archive; do
		cmd=$u; [ $u = archive ] && cmd="archive run"
		grep -qx "ExecStart=/usr/bin/odo-collector --config /etc/odo/collector.conf --set db.owner_password_file=%d/db-owner $cmd" \
			"$units/odo-collector-$u.service" || fail "odo-collector-$u.service does not run $u as the owner"
		grep -qx 'User=odo-dbowner' "$units/odo-collector-$u.service" || fail "odo-collector-$u.service: not its own user"
		grep -qx 'LoadCredential=db-owner:/etc/odo/db/owner.password' "$units/odo-collector-$u.service" ||
			fail "odo-collector-$u.service: no owner credential"
	done
	! grep -q 'owner' <(grep -v '^#' "$units/odo-collector.service") || fail "the ingest unit sees the owner's credential"
	grep -q '^ExecStart=.* --set db.ingest_password_file=%d/db-ingest --set db.aggregate_password_file=%d/db-aggregate run$' \
		"$units/odo-collector.service" || fail "the collector unit does not run with its roles' credentials"
	grep -qx 'Requires=odo-collector-migrate.service' "$units/odo-collector.service" ||
		fail "the collector unit does not migrate (as the owner) first"
	grep -q 'adduser --system .*odo-dbowner' "$tmp/odo-collector.ctl/postinst" || fail "postinst: no odo-dbowner user"
	grep -q 'odo-collector-maintain.timer' "$tmp/odo-collector.ctl/postinst" || fail "postinst: timer not enabled"
	coll=$tmp/odo-collector/usr/bin/odo-collector
	out=$("$coll" --version)
	[ "$out" = "odo-collector $version" ] || fail "collector --version printed '$out'"
	ls "$tmp"/odo-collector/usr/share/odo/sql/*.sql >/dev/null || fail "collector: no SQL migrations shipped"
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

	# odo-broker: architecture-independent, the tools and the CRL renewal.
	bdeb=$build/odo-broker_${version}_all.deb
	[ -f "$bdeb" ] || fail "$bdeb not written"
	[ "$(field "$bdeb" Architecture)" = all ] || fail "odo-broker: Architecture $(field "$bdeb" Architecture)"
	grep -q "mosquitto (>= 2.0)" <<<"$(field "$bdeb" Depends)" || fail "odo-broker: Depends $(field "$bdeb" Depends)"
	dpkg-deb -x "$bdeb" "$tmp/odo-broker"
	dpkg-deb -e "$bdeb" "$tmp/odo-broker.ctl"
	b=$tmp/odo-broker
	for f in usr/sbin/odo-broker-setup usr/bin/odo-pki; do [ -x "$b/$f" ] || fail "odo-broker: /$f"; done
	for f in usr/share/odo-broker/odo.conf.in usr/share/odo-broker/acl.in etc/default/odo-crl-renew \
		 lib/systemd/system/odo-crl-renew.service lib/systemd/system/odo-crl-renew.timer; do
		[ -f "$b/$f" ] || fail "odo-broker: /$f missing"
	done
	[ "$(cat "$tmp/odo-broker.ctl/conffiles")" = /etc/default/odo-crl-renew ] || fail "odo-broker: conffiles"
	check_doc odo-broker "$b"
	for f in man1/odo-pki.1.gz man8/odo-broker-setup.8.gz; do
		[ -f "$b/usr/share/man/$f" ] || fail "odo-broker: no manual page $f"
	done
	for s in postinst prerm postrm; do sh -n "$tmp/odo-broker.ctl/$s" || fail "odo-broker: $s"; done
	check_unit odo-broker "$b/lib/systemd/system/odo-crl-renew.service"
	check_unit odo-broker "$b/lib/systemd/system/odo-crl-renew.timer"
	grep -qx 'OnCalendar=daily' "$b/lib/systemd/system/odo-crl-renew.timer" || fail "odo-broker: the timer is not daily"
	# The installed setup tool finds its templates in /usr/share/odo-broker
	# (here: the unpacked copy) and renders a drop-in.
	mkdir -p "$tmp/bpki"
	"$src/tools/pki" init "$tmp/bpki/ca" >/dev/null 2>&1
	ODO_BROKER_TEMPLATES=$b/usr/share/odo-broker "$b/usr/sbin/odo-broker-setup" --user "$(id -un)" \
		--pki-dir "$tmp/bpki/ca" --conf "$tmp/bpki/odo.conf" --acl-file "$tmp/bpki/odo.acl" 2>/dev/null ||
		fail "odo-broker: the packaged odo-broker-setup failed"
	grep -qx 'use_username_as_clientid true' "$tmp/bpki/odo.conf" || fail "odo-broker: rendered drop-in lacks the identity binding"
	echo "odo-broker: contents, docs, units and odo-broker-setup OK"
	lintian_ok "$build"/*.deb
else
	lintian_ok "$build"/*.deb
fi
echo "PASS packaging $arch ($((SECONDS - t0)) s)"
