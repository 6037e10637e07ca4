#!/usr/bin/env bash
# The broker set up as docs/deploy.md does it on Debian 12 (issue 17,
# finding 1): Debian's own, unmodified /etc/mosquitto/mosquitto.conf, with
# odo's drop-in written by tools/broker/render (odo-broker-setup) with its
# default paths, mosquitto started as its unit starts it (as root, dropping to
# the mosquitto user). The test runs in a private mount namespace in which
# /etc/mosquitto, /var/lib/mosquitto, /var/log/mosquitto, /run and /srv are
# scratch copies, so the real paths are used and the host is not touched.
#   - render before the PKI exists fails, names the missing file, and writes
#     no drop-in (it used to leave an empty odo.conf and exit 0);
#   - with the PKI: broker.key root:mosquitto 0640, the rest readable; the
#     drop-in repeats none of Debian's settings and mosquitto accepts both;
#   - a device publishes, the collector identity receives; a plaintext or
#     certificate-less client is refused;
#   - render refuses (non-zero, naming the file and the reason) a key or a
#     directory mosquitto could not read;
#   - odo-crl-renew.service's own commands (tools/packaging/broker), with
#     /etc/default/odo-crl-renew's settings, renew the CRL and reload the
#     running broker through Debian's pid file: a device revoked meanwhile is
#     refused by the same broker process.
set -euo pipefail
if [ -z "${ODO_IN_NS:-}" ]; then
	exec unshare --mount --propagation private env ODO_IN_NS=1 bash "$0" "$@"
fi
source "$ODO_SOURCE_DIR/tests/lib/servers.sh"
odo_tmpdir
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
ok() { printf 'ok: %s\n' "$*"; }
RENDER=$ODO_SOURCE_DIR/tools/broker/render
PKI=$ODO_SOURCE_DIR/tools/pki

# Debian's mosquitto.conf exactly as the package installed it.
conf=/etc/mosquitto/mosquitto.conf
want=$(dpkg-query -W -f='${Conffiles}\n' mosquitto | awk -v f="$conf" '$1 == f {print $2}')
[ -n "$want" ] || fail "$conf is not a conffile of the installed mosquitto package"
[ "$(md5sum <"$conf" | cut -d' ' -f1)" = "$want" ] || fail "$conf differs from Debian's: this test needs the packaged one"
grep -q '^persistence_location ' "$conf" && grep -q '^include_dir /etc/mosquitto/conf.d' "$conf" ||
	fail "$conf does not look like Debian 12's"

for d in /etc/mosquitto /var/lib/mosquitto /var/log/mosquitto /srv; do
	mkdir -p "$ODO_TMP/root$d"
	[ ! -d "$d" ] || cp -a "$d/." "$ODO_TMP/root$d/"
	mount --bind "$ODO_TMP/root$d" "$d"
done
mount -t tmpfs -o mode=0755 tmpfs /run
[ ! -e /etc/mosquitto/conf.d/odo.conf ] || fail "a drop-in is already there"

# 1. Before the PKI: a clear failure, nothing written.
port=$(odo_free_port)
if "$RENDER" --pki-from /srv/odo-pki --port "$port" 2>"$ODO_TMP/early.err"; then
	fail "render succeeded without a PKI"
fi
grep -q "/srv/odo-pki/ca.crt: no such file" "$ODO_TMP/early.err" || fail "unclear error: $(cat "$ODO_TMP/early.err")"
[ ! -e /etc/mosquitto/conf.d/odo.conf ] && [ ! -e /etc/mosquitto/odo.acl ] || fail "render left files behind after failing"
ok "render before the PKI: exit 1, '$(cat "$ODO_TMP/early.err")', nothing written"

# 2. The documented order: PKI, then the broker.
ODO_BROKER_NAMES=mqtt.fleet.example "$PKI" init /srv/odo-pki 2>/dev/null
"$PKI" device /srv/odo-pki truck-0042 truck-0099 2>/dev/null
"$PKI" collector /srv/odo-pki odo-collector-2 2>/dev/null
"$RENDER" --pki-from /srv/odo-pki --port "$port" 2>"$ODO_TMP/render.log" || { cat "$ODO_TMP/render.log"; fail "render"; }
cat "$ODO_TMP/render.log"
st() { stat -c '%a %U:%G' "$1"; }
[ "$(st /etc/mosquitto/odo-pki/broker.key)" = "640 root:mosquitto" ] || fail "broker.key is $(st /etc/mosquitto/odo-pki/broker.key)"
for f in ca.crt broker.crt crl.pem; do
	[ "$(st /etc/mosquitto/odo-pki/$f)" = "644 root:root" ] || fail "$f is $(st /etc/mosquitto/odo-pki/$f)"
done
[ "$(st /etc/mosquitto/odo-pki)" = "755 root:root" ] || fail "odo-pki/ is $(st /etc/mosquitto/odo-pki)"
[ "$(st /etc/mosquitto/odo.acl)" = "640 root:mosquitto" ] || fail "odo.acl is $(st /etc/mosquitto/odo.acl)"
[ "$(st /etc/mosquitto/conf.d/odo.conf)" = "644 root:root" ] || fail "odo.conf is $(st /etc/mosquitto/conf.d/odo.conf)"
ok "files installed: broker.key 640 root:mosquitto, certificates and CRL 644, ACL 640 root:mosquitto"
for key in $(grep -Ev '^(#|$)' "$conf" | awk '{print $1}' | sort -u); do
	! grep -q "^$key " /etc/mosquitto/conf.d/odo.conf || fail "the drop-in repeats Debian's '$key'"
done
grep -qx "acl_file /etc/mosquitto/odo.acl" /etc/mosquitto/conf.d/odo.conf || fail "acl_file is not the installed ACL"
for c in odo-collector odo-collector-2; do
	grep -qx "user $c" /etc/mosquitto/odo.acl || fail "the ACL lacks collector $c (from /srv/odo-pki)"
done
grep -qx "use_username_as_clientid true" /etc/mosquitto/conf.d/odo.conf || fail "no identity binding in the drop-in"
ok "the drop-in repeats none of $(grep -Ev '^(#|$)' "$conf" | awk '{print $1}' | sort -u | tr '\n' ' ')"

# mosquitto.service's own start: its ExecStartPre lines, then ExecStart.
unit=/lib/systemd/system/mosquitto.service
while IFS= read -r cmd; do
	eval "$cmd" || fail "mosquitto.service ExecStartPre failed: $cmd"
done < <(sed -n 's/^ExecStartPre=//p' "$unit")
start=$(sed -n 's/^ExecStart=//p' "$unit")
[ "$start" = "/usr/sbin/mosquitto -c /etc/mosquitto/mosquitto.conf" ] || fail "unexpected ExecStart: $start"
$start >"$ODO_TMP/mosquitto.out" 2>&1 &
mpid=$!
odo_track_pid "$mpid"
odo_wait_port "$port" 20 || { cat "$ODO_TMP/mosquitto.out" /var/log/mosquitto/mosquitto.log >&2; fail "mosquitto did not start"; }
log=/var/log/mosquitto/mosquitto.log
[ "$(stat -c %U /proc/$mpid)" = mosquitto ] || fail "mosquitto runs as $(stat -c %U /proc/$mpid)"
[ "$(cat /run/mosquitto/mosquitto.pid)" = "$mpid" ] || fail "no pid file from Debian's pid_file"
! grep -q ": Error" "$log" || fail "mosquitto logged errors: $(grep ": Error" "$log")"
ok "mosquitto $(mosquitto -h 2>/dev/null | sed -n 's/^mosquitto version //p') runs Debian's mosquitto.conf + odo.conf as user mosquitto (pid $mpid)"

H=(-h localhost -p "$port" -V mqttv5 --cafile /srv/odo-pki/ca.crt)
dev() { echo "--cert /srv/odo-pki/devices/$1.crt --key /srv/odo-pki/devices/$1.key"; }
timeout 10 mosquitto_sub "${H[@]}" --cert /srv/odo-pki/collector.crt --key /srv/odo-pki/collector.key \
	-t 'odo/v1/+/up' -C 1 -W 8 >"$ODO_TMP/got" 2>&1 &
sub=$!
sleep 1
# shellcheck disable=SC2046
mosquitto_pub "${H[@]}" $(dev truck-0042) -t odo/v1/truck-0042/up -m hello -q 1 || fail "truck-0042 cannot publish"
wait "$sub" || true
[ "$(cat "$ODO_TMP/got")" = hello ] || fail "the collector did not receive the device's message: $(cat "$ODO_TMP/got")"
ok "truck-0042 publishes its uplink, the collector identity receives it"
! timeout 10 mosquitto_pub "${H[@]}" -t odo/v1/truck-0042/up -m x -q 1 2>/dev/null || fail "a client without a certificate connected"
! timeout 10 mosquitto_pub -h localhost -p "$port" -t odo/v1/truck-0042/up -m x -q 1 2>/dev/null || fail "a plaintext client connected"
ok "no certificate, no plaintext: refused"

# 3. Files mosquitto could not read are refused before mosquitto trips on them.
chmod 0600 /etc/mosquitto/odo-pki/broker.key
chown root:root /etc/mosquitto/odo-pki/broker.key
if "$RENDER" check 2>"$ODO_TMP/check.err"; then fail "check accepted a key mosquitto cannot read"; fi
grep -q "mosquitto (user mosquitto) cannot read /etc/mosquitto/odo-pki/broker.key: .*Permission denied" "$ODO_TMP/check.err" ||
	fail "unclear refusal: $(cat "$ODO_TMP/check.err")"
ok "render check: $(head -n 1 "$ODO_TMP/check.err")"
"$RENDER" --pki-from /srv/odo-pki --port "$port" 2>/dev/null || fail "re-installing the PKI failed"
"$RENDER" check 2>/dev/null || fail "check after re-installing"
mkdir -m 0700 "$ODO_TMP/private"
if "$RENDER" --pki-from /srv/odo-pki --pki-dir "$ODO_TMP/private/pki" --conf "$ODO_TMP/private/odo.conf" \
	--acl-file "$ODO_TMP/private/odo.acl" --port "$port" 2>"$ODO_TMP/private.err"; then
	fail "render accepted a directory mosquitto cannot enter"
fi
grep -q "cannot read $ODO_TMP/private/pki/broker.key" "$ODO_TMP/private.err" || fail "unclear refusal: $(cat "$ODO_TMP/private.err")"
ok "render into a directory mosquitto cannot enter: exit 1"

# 4. The CRL renewal as odo-crl-renew.service runs it (no systemd here: the
#    reload goes to the pid in Debian's pid_file).
"$PKI" revoke /srv/odo-pki truck-0099 2>/dev/null
# shellcheck disable=SC2046
mosquitto_pub "${H[@]}" $(dev truck-0099) -t odo/v1/truck-0099/up -m before -q 1 ||
	fail "truck-0099 refused before the broker has the new CRL"
set -a
# shellcheck disable=SC1091
source "$ODO_SOURCE_DIR/tools/packaging/broker/odo-crl-renew.default"
set +a
svc=$ODO_SOURCE_DIR/tools/packaging/broker/odo-crl-renew.service
n=0
while IFS= read -r cmd; do
	cmd=${cmd//\/usr\/bin\/odo-pki/$PKI}
	cmd=${cmd//\/usr\/sbin\/odo-broker-setup/$RENDER}
	cmd=$(eval "echo $cmd")
	echo "+ $cmd"
	$cmd || fail "odo-crl-renew.service: '$cmd' failed"
	n=$((n + 1))
done < <(sed -n 's/^ExecStart=//p' "$svc")
[ "$n" = 2 ] || fail "odo-crl-renew.service has $n ExecStart lines"
sleep 0.5
kill -0 "$mpid" || fail "mosquitto died on the reload"
# shellcheck disable=SC2046
if mosquitto_pub "${H[@]}" $(dev truck-0099) -t odo/v1/truck-0099/up -m after -q 1 2>/dev/null; then
	fail "revoked truck-0099 still connects after the renewal"
fi
# shellcheck disable=SC2046
mosquitto_pub "${H[@]}" $(dev truck-0042) -t odo/v1/truck-0042/up -m after -q 1 || fail "truck-0042 refused after the renewal"
cmp -s /srv/odo-pki/crl.pem /etc/mosquitto/odo-pki/crl.pem || fail "the broker's crl.pem is not the renewed one"
ok "odo-crl-renew.service's commands renewed the CRL ($(openssl crl -in /etc/mosquitto/odo-pki/crl.pem -noout -nextupdate)) and reloaded mosquitto (same pid $mpid): revoked truck-0099 refused, truck-0042 accepted"
echo PASS
