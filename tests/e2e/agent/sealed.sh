#!/bin/bash
# agent_outbox_sealed (issue 13 item 6): the real odo-agent with an encrypted
# outbox ([store] key_file; docs/store-and-forward.md "Encryption at rest").
#  1. Two replays of a drive (--no-uplink: everything stays in the outbox),
#     the second while another connection keeps the WAL from being folded
#     in: the database, -wal and -shm files hold none of the coordinates the
#     agent stored (every sample's and event's latitude/longitude and every
#     track's first point, as their CBOR encoding in --emit shows them) and
#     not the device id. The same two replays into a plain outbox:
#     the same search finds the coordinates (it can fail).
#  2. A wrong key, a missing key file, a key file group or others may read,
#     no key at all: the agent refuses to start with an error naming the
#     file (and the key ids), and the outbox is unchanged byte for byte.
#  1b. Turning it on for the plain outbox: the agent seals what it holds in
#     place at start-up; the files no longer hold any of the coordinates.
#  3. Rotation: a new key_file with the old one as old_key_file starts and
#     reports the old records waiting; they are read back.
# The key is made as docs/store-and-forward.md says: openssl rand -hex 32.
# Usage: sealed.sh /path/to/odo-agent
set -euo pipefail
: "${ODO_SOURCE_DIR:?}"
AGENT=${1:?usage: sealed.sh ODO_AGENT}
[ -x "$AGENT" ] || { echo "FAIL: $AGENT is not built" >&2; exit 1; }
command -v openssl >/dev/null || { echo "FAIL: openssl is not installed (tools/bootstrap)" >&2; exit 1; }
source "$ODO_SOURCE_DIR/tests/lib/servers.sh"
DRIVE="$ODO_SOURCE_DIR/tests/data/drives/synthetic-1"
DEV=sealed-gw-0042
odo_tmpdir
T=$ODO_TMP

fail() {
	echo "FAIL: $*" >&2
	[ -f "$T/agent.log" ] && { echo "--- agent.log" >&2; tail -20 "$T/agent.log" >&2; }
	exit 1
}
ok() { echo "ok: $*"; }

(umask 077 && openssl rand -hex 32 >"$T/outbox.key" && openssl rand -hex 32 >"$T/other.key")

# conf NAME [KEY_FILE [OLD_KEY_FILE]]: $T/NAME.conf with the outbox $T/NAME/outbox.db
conf() {
	mkdir -p "$T/$1"
	cat >"$T/$1.conf" <<CONF
[agent]
device_id = $DEV
state_dir = $T/$1/state
log_file = $T/agent.log
[can]
enabled = true
[store]
path = $T/$1/outbox.db
key_file = ${2:-}
old_key_file = ${3:-}
CONF
}

# run NAME EMIT: one replay into the outbox, nothing sent; exit code in $rc
run() {
	rc=0
	"$AGENT" -c "$T/$1.conf" --replay "$DRIVE" --no-uplink --emit "$T/$2" 2>>"$T/agent.stderr" || rc=$?
}

# hold DB: another connection to the outbox, open until "$T/hold.stop" exists
# (SQLite then leaves the -wal file in place when the agent exits)
hold() {
	rm -f "$T/hold.stop" "$T/hold.ready"
	python3 - "$1" "$T" <<'PY' &
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1])
c.execute("SELECT count(*) FROM outbox").fetchone()
open(os.path.join(sys.argv[2], "hold.ready"), "w").close()
while not os.path.exists(os.path.join(sys.argv[2], "hold.stop")):
    time.sleep(0.05)
PY
	HOLD=$!
	odo_track_pid $HOLD
	for _ in $(seq 100); do [ -f "$T/hold.ready" ] && return 0; sleep 0.05; done
	fail "the holding connection did not open $1"
}
unhold() { touch "$T/hold.stop"; wait "$HOLD" || true; }

# search DIR EMIT...: which stored values occur in the outbox's files (JSON)
search() {
	python3 - "$@" <<'PY'
import json, os, sys
d, emits = sys.argv[1], sys.argv[2:]
needles = {}
for e in emits:
    for line in open(e):
        seq, kind, t_ms, tsrc, hexcbor = line.split()[:5]
        b = bytes.fromhex(hexcbor)
        for key in (b"\x63lat", b"\x63lon"):
            i = b.find(key)
            while i >= 0:
                v = b[i + 4:i + 13] if b[i + 4] == 0xfb else b[i + 4:i + 9]
                needles.setdefault("%s %s" % (kind, key[1:].decode()), set()).add(v)
                i = b.find(key, i + 1)
        # a track: "la"/"lo" arrays, the first element absolute (1e-6 degree, a 32-bit CBOR integer)
        for key in (b"\x62la", b"\x62lo"):
            i = b.find(key)
            if i >= 0 and kind == "track":
                j = i + 3 + (2 if b[i + 3] == 0x98 else 1)
                if b[j] in (0x1a, 0x3a):
                    needles.setdefault("track %s" % key[1:].decode(), set()).add(b[j:j + 5])
data = {}
for sfx in ("", "-wal", "-shm", "-journal"):
    p = os.path.join(d, "outbox.db" + sfx)
    if os.path.exists(p):
        data[sfx or "db"] = open(p, "rb").read()
blob = b"".join(data.values())
found = {k: sum(1 for v in vs if v in blob) for k, vs in needles.items()}
print(json.dumps({"files": {k: len(v) for k, v in data.items()}, "needles": {k: len(v) for k, v in needles.items()},
                  "found": found, "device_id": blob.count(os.environ["DEV"].encode())}))
PY
}
export DEV

echo "== 1. no plaintext in the sealed outbox's files (database, WAL, shm)"
for name in sealed plain; do
	key=""
	[ "$name" = sealed ] && key="$T/outbox.key"
	conf "$name" "$key"
	run "$name" "$name-1.emit"
	[ "$rc" = 0 ] || fail "replay into the $name outbox failed ($rc)"
	hold "$T/$name/outbox.db"
	run "$name" "$name-2.emit"
	[ "$rc" = 0 ] || fail "second replay into the $name outbox failed ($rc)"
	[ -s "$T/$name/outbox.db-wal" ] || fail "the $name outbox has no WAL to search"
	search "$T/$name" "$T/$name-1.emit" "$T/$name-2.emit" >"$T/$name.json"
	unhold
	echo "$name: $(cat "$T/$name.json")"
done
python3 - "$T/sealed.json" "$T/plain.json" <<'PY' || fail "see above"
import json, sys
s, p = (json.load(open(x)) for x in sys.argv[1:])
bad = []
if sum(s["needles"].values()) < 40:
    bad.append("too few stored coordinates to search for: %r" % s["needles"])
if any(s["found"].values()):
    bad.append("the sealed outbox's files hold plaintext coordinates: %r" % s["found"])
if s["device_id"]:
    bad.append("the sealed outbox's files hold the device id %d times" % s["device_id"])
for k in ("sample lat", "sample lon", "event lat", "event lon", "track la", "track lo"):
    if not p["found"].get(k):
        bad.append("the control search found no %s in the plain outbox: %r" % (k, p["found"]))
if set(s["files"]) < {"db", "-wal", "-shm"}:
    bad.append("not every file searched: %r" % s["files"])
if bad:
    print("\n".join(bad), file=sys.stderr)
    sys.exit(1)
PY
ok "sealed outbox: none of $(python3 -c 'import json,sys; print(sum(json.load(open(sys.argv[1]))["needles"].values()))' "$T/sealed.json") stored coordinates and not the device id in outbox.db, -wal, -shm; the plain outbox's files hold them"
grep -q "records sealed with AES-256-GCM, key id" "$T/agent.log" || fail "the agent did not log the sealing key id"

echo "== 1b. turned on for the plain outbox: what it held is sealed in place"
n_plain=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM outbox").fetchone()[0])' "$T/plain/outbox.db")
conf plain "$T/outbox.key"
: >"$T/agent.log"
run plain plain-3.emit
[ "$rc" = 0 ] || fail "replay into the plain outbox with a key failed ($rc)"
grep -q "$n_plain record(s) stored in plaintext before key_file was set: sealed in place" "$T/agent.log" ||
	fail "the agent did not seal the $n_plain plaintext records in place"
search "$T/plain" "$T/plain-1.emit" "$T/plain-2.emit" "$T/plain-3.emit" >"$T/plain-sealed.json"
echo "plain, sealed in place: $(cat "$T/plain-sealed.json")"
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(1 if any(d["found"].values()) or d["device_id"] else 0)' \
	"$T/plain-sealed.json" || fail "plaintext left in the outbox's files after sealing in place"
ok "turned on: the $n_plain plaintext records sealed in place, none of the coordinates left in the files"

echo "== 2. a wrong or missing key: a clear start-up error, nothing changed"
rows() { python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM outbox").fetchone()[0])' "$1"; }
DB="$T/sealed/outbox.db"
[ ! -e "$DB-wal" ] || fail "the WAL of the sealed outbox was not folded in"
n0=$(rows "$DB")
[ ! -e "$DB-wal" ] || rm -f "$DB-wal" "$DB-shm" # a reader's empty leftovers
sha0=$(sha256sum "$DB" | cut -d' ' -f1)
printf 'deadbeef\n' >"$T/notkey.key" && chmod 600 "$T/notkey.key"
cp "$T/outbox.key" "$T/loose-real.key" && chmod 640 "$T/loose-real.key"
check_refused() { # KEY_FILE WHAT MUST...
	local key=$1 what=$2
	shift 2
	conf sealed "$key"
	: >"$T/agent.log"
	run sealed refused.emit
	[ "$rc" != 0 ] || fail "$what: the agent started"
	for m in "$@"; do grep -qF -- "$m" "$T/agent.log" || fail "$what: the error does not say '$m'"; done
	[ "$(sha256sum "$DB" | cut -d' ' -f1)" = "$sha0" ] || fail "$what: the outbox file changed"
	[ ! -e "$DB-wal" ] || [ ! -s "$DB-wal" ] || fail "$what: a WAL was written"
	ok "$what: refused ($(grep -m1 'cannot open the outbox' "$T/agent.log" | sed 's/.*cannot open the outbox [^:]*: //' | cut -c1-150)); outbox unchanged byte for byte"
}
check_refused "$T/other.key" "a wrong key" "$T/other.key" "which is not the key" "nothing was changed"
check_refused "$T/missing.key" "a missing key file" "$T/missing.key" "No such file"
check_refused "$T/loose-real.key" "a key file group may read" "$T/loose-real.key" "mode 0640"
check_refused "$T/notkey.key" "no key in the file" "$T/notkey.key" "64 hex digits"
check_refused "" "no key_file for a sealed outbox" "key_file is not set" "key id"
[ "$(rows "$DB")" = "$n0" ] || fail "rows changed: $(rows "$DB") of $n0"
ok "still $n0 records"

echo "== 3. rotation: the old key read until the backlog drains"
conf sealed "$T/other.key" "$T/outbox.key"
: >"$T/agent.log"
run sealed rotated.emit
[ "$rc" = 0 ] || fail "start with the new key and old_key_file failed ($rc)"
grep -q "$n0 record(s) sealed with \[store\] old_key_file's key wait to be sent" "$T/agent.log" ||
	fail "the agent did not report the $n0 old records"
n1=$(rows "$DB")
[ "$n1" -gt "$n0" ] || fail "no new records after the rotation"
conf sealed "$T/other.key"
: >"$T/agent.log"
run sealed refused.emit
[ "$rc" != 0 ] && grep -q "which is not the key in \[store\] key_file" "$T/agent.log" ||
	fail "the new key alone opened an outbox holding records of the old one"
ok "rotation: $n0 old-key records reported and kept, $((n1 - n0)) new ones sealed with the new key; the new key alone is refused while old records wait"
echo "PASS"
