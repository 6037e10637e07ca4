#!/usr/bin/env bash
# Runs tools/demo on this build's binaries and checks what a user sees:
#   - the demo exits 0 and its last lines show the monthly_features row and
#     the path of the HTML report;
#   - the report opens in headless Chromium: the DOM has the route (an SVG
#     polyline with the track), one marker per event, the events listed, and
#     a screenshot that is not blank; the Monaco drive's report draws its
#     matched roads and its speeding episode(s);
#   - behaviour (#14): every graded event is listed with its grade; the real
#     RAV4 drive plots vehicle-frame (longitudinal and lateral) acceleration,
#     and every report shows the smoothness measures and the trip score with
#     its components; the RAV4 month's avg_jerk_rate is measured (not a
#     made-up 0) and its monthly_behaviour row is in the report.
set -euo pipefail
: "${ODO_SOURCE_DIR:?}" "${ODO_BINARY_DIR:?}"
out=$(mktemp -d /tmp/odo-demo-test.XXXXXX)
trap 'rm -rf "$out"' EXIT

ODO_DEMO_PREBUILT=1 ODO_BUILD_DIR=$ODO_BINARY_DIR ODO_REPORT_DIR=$out \
	"$ODO_SOURCE_DIR/tools/demo" >"$out/demo.log" 2>&1 || {
	tail -n 60 "$out/demo.log"
	echo "FAIL: tools/demo exited non-zero"
	exit 1
}
tail -n 50 "$out/demo.log"

fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }
last=$(tail -n 45 "$out/demo.log")
check "the last lines show the monthly_features row" "grep -q 'hard_brake_rate_per_100_miles' <<<\"\$last\" && grep -q '^driver_id .*| driver-rav4' <<<\"\$last\""
jerk=$(grep -E '^avg_jerk_rate ' <<<"$last" | awk -F'|' '{gsub(/ /, "", $2); print $2}')
check "the RAV4 month's avg_jerk_rate is measured, not 0 ($jerk)" "awk -v v='$jerk' 'BEGIN { exit !(v != \"\" && v + 0 > 0) }'"
check "the live agent's status records carry its calibration state (learning: no accelerometer)" "grep -Eq '^ *demo-live +\\| [^|]+\\| learning +\\|' '$out/demo.log'"
check "the last line names the report" "tail -n 1 '$out/demo.log' | grep -q 'trip report: $out/report.html'"

for rep in report-synthetic report-monaco report; do
	html=$out/$rep.html
	check "$rep.html exists" "[ -s '$html' ]"
	grep -q 'src="http\|href="http' "$html" && { echo "FAIL $rep.html loads network resources"; fail=1; }
	chrome=(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run
		--disable-background-networking --disable-component-update --disable-sync
		--user-data-dir="$out/chrome-$rep" --window-size=900,1400)
	"${chrome[@]}" --dump-dom "file://$html" >"$out/$rep.dom" 2>/dev/null
	"${chrome[@]}" --screenshot="$out/$rep.png" "file://$html" >/dev/null 2>&1
	python3 - "$out/$rep.dom" "$out/$rep.png" "$rep" <<'PY' || fail=1
import re, struct, sys, zlib
dom, png, rep = open(sys.argv[1], encoding="utf-8").read(), open(sys.argv[2], "rb").read(), sys.argv[3]
bad = []
m = re.search(r'<polyline points="([^"]+)"', dom)
pts = m.group(1).split() if m else []
if len(pts) < 10:
    bad.append(f"route polyline has {len(pts)} points")
n_events = int(re.search(r'id="event-count">(\d+)<', dom).group(1))
markers = dom.count('class="event-marker"')
rows = len(re.findall(r"<tr><td>\d+</td>", dom.split('id="events"')[1].split("</table>")[0])) if n_events else 0
if rep == "report-synthetic":
    if n_events < 3:
        bad.append(f"only {n_events} events in the synthetic drive's report")
    for kind in ("hard_brake", "rapid_accel", "corner_right"):
        if f"<td>{kind}</td>" not in dom:
            bad.append(f"event {kind} not listed")
if rep == "report-monaco":
    roads = dom.count('class="matched-road"')
    if roads < 10:
        bad.append(f"only {roads} matched roads drawn in the Monaco report")
    n_sp = int(re.search(r'id="speeding-count">(\d+)<', dom).group(1))
    drawn = dom.count('class="speeding-episode"')
    if n_sp < 1 or drawn != n_sp:
        bad.append(f"{n_sp} speeding episodes listed, {drawn} drawn")
# behaviour: grades, smoothness, score (tools/trip-report "Behaviour")
ev_html = dom.split('id="events"')[1].split("</table>")[0] if n_events else ""
for kind, grade in re.findall(r"<tr><td>\d+</td><td>([a-z_]+)</td><td>([^<]*)</td>", ev_html):
    graded = kind in ("hard_brake", "rapid_accel", "corner_left", "corner_right", "swerve")
    if graded != bool(re.fullmatch(r"G[123]", grade)):
        bad.append(f"event {kind} listed with grade {grade!r}")
sm = dom.split('id="smoothness"')[1].split("</div>")[0]
sc = dom.split('id="score"')[1].split("</div>")[0]
if "<tbody><tr>" not in sm or "<tbody><tr>" not in sc:
    bad.append("no per-trip smoothness or score rows")
if rep == "report-synthetic" and not re.search(r"<td>\d+\.\d%/\d+\.\d%/\d+\.\d%</td>", sm):
    bad.append("the synthetic drive's smoothness shares are missing")
if rep == "report":
    for key, label in (("ax_g", "longitudinal"), ("ay_g", "lateral")):
        if f'id="plot-{key}"' not in dom:
            bad.append(f"no vehicle-frame {label} acceleration plotted for the RAV4 drive")
    if "<td>accelerometer</td>" not in sm or not re.search(r"<td>0\.\d{3}</td>", sm):
        bad.append("the RAV4 trip's longitudinal source is not the accelerometer, or no mean |jerk|")
    if not re.search(r"<tr><td>[^<]+</td><td>\d+\.\d</td><td>1</td>", sc):
        bad.append("the RAV4 trip has no version-1 score")
    if "not measured" not in sc:
        bad.append("the RAV4 trip's unmeasured components (phone, speeding) are not shown as such")
    if 'id="behaviour"' not in dom or "graded_miles" not in dom:
        bad.append("the monthly_behaviour row is not in the report")
if markers != n_events or rows != n_events:
    bad.append(f"{n_events} events but {markers} markers and {rows} table rows")
# The screenshot: a valid PNG whose pixels are not all one colour.
assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, w, h = 8, b"", 0, 0
while pos < len(png):
    ln, typ = struct.unpack(">I4s", png[pos:pos + 8])
    data = png[pos + 8:pos + 8 + ln]
    if typ == b"IHDR":
        w, h = struct.unpack(">II", data[:8])
    elif typ == b"IDAT":
        idat += data
    pos += 12 + ln
raw = zlib.decompress(idat)
distinct = len(set(raw[i:i + 3] for i in range(1, min(len(raw), 400000), 97)))
if w < 800 or h < 1000 or distinct < 20:
    bad.append(f"screenshot {w}x{h} with {distinct} distinct samples looks blank")
print(f"{rep}: {len(pts)} route points, {n_events} events, {markers} markers, screenshot {w}x{h}")
for b in bad:
    print("FAIL", rep, b)
sys.exit(1 if bad else 0)
PY
done
[ $fail = 0 ] && echo "demo report: ok"
exit $fail
