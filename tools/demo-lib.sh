# tools/demo-lib.sh — the second half of tools/demo (sourced by it): the
# collector, the agents, the summary and the report. Expects the variables
# and servers tools/demo set up.

demo_collector_conf() { # FILE NAME
	cat >"$1" <<CONF
[collector]
name = $2
refresh_s = 0
commit_ms = 20
# the replayed recordings are from 2018 and 2024: keep month partitions that far back
partition_months_back = 120

[mqtt]
host = localhost
port = $ODO_MQTT_PORT
client_id = odo-collector
group = demo
cafile = $ODO_TMP/pki/ca.crt
certfile = $ODO_TMP/pki/collector.crt
keyfile = $ODO_TMP/pki/collector.key
crlfile = $ODO_TMP/pki/crl.pem

[db]
conninfo = $ODO_PG_CONNINFO

[metrics]
# any free port on loopback (the log names it): several demos may run at once
listen = 127.0.0.1:0
CONF
}

demo_agent_conf() { # FILE DEVICE [extra INI text]
	local dev=$2
	mkdir -p "$ODO_TMP/agent-$dev"
	cat >"$1" <<CONF
[agent]
device_id = $dev
state_dir = $ODO_TMP/agent-$dev
timezone = America/Los_Angeles
status_period_s = 5
shutdown_grace_s = 20
accel = false
phone = false

[can]
enabled = false
interface = can0
dbc = $ROOT/tests/data/can/toyota_2017.dbc
vehicle_speed = WHEEL_SPEEDS.WHEEL_SPEED_FL

[engine]
sample_period_s = 1

[gps]
host = 127.0.0.1
port = ${ODO_GPSD_PORT:-2947}

[store]
path = $ODO_TMP/agent-$dev/outbox.db

[uplink]
host = localhost
port = $ODO_MQTT_PORT
cafile = $ODO_TMP/pki/ca.crt
certfile = $ODO_TMP/pki/devices/$dev.crt
keyfile = $ODO_TMP/pki/devices/$dev.key
ack_timeout = 5
${3:-}
CONF
}

# Register a driver, a vehicle and the device's assignment to them, with the
# operator commands (docs/collector.md "Operator commands"); the recordings
# are from 2018 and 2024, so the assignment starts in 2000.
demo_register() { # DEVICE DRIVER VEHICLE MAKE MODEL YEAR AGE
	local c=("$COLLECTOR" --config "$ODO_TMP/collector.conf")
	"${c[@]}" driver add "$2" --persona commuter --age "$7" --years-licensed 12 --vehicle-age $((2026 - $6)) \
		--vehicle-make "$4" --vehicle-model "$5" --prior-at-fault-accidents 0 --prior-claims 0 \
		--prior-violations 0 --data-source odo --account-created 2017-01-01 --policy-start 2017-01-01
	demo_register_vehicle "$@"
}

# Another vehicle and device for a driver demo_register added already.
demo_register_vehicle() { # DEVICE DRIVER VEHICLE MAKE MODEL YEAR
	local c=("$COLLECTOR" --config "$ODO_TMP/collector.conf")
	"${c[@]}" vehicle add "$3" --make "$4" --model "$5" --year "$6"
	"${c[@]}" device add "$1"
	"${c[@]}" device assign "$1" --driver "$2" --vehicle "$3" --from 2000-01-01
}

# JSON for tools/trip-report: one device's trips, track, events, monthly row,
# crash traces, and its map matching (matched fixes, speeding episodes, per-trip summary;
# the matched roads' geometry when the PostGIS road layer is there).
demo_report_json() { # DEVICE DRIVER MONTH OUT
	odo_psql -At -v dev="$1" -v drv="$2" -v month="$3" >"$4" <<'SQL'
SELECT to_regclass('roads.edges') IS NOT NULL AS have_roads \gset
\if :have_roads
SELECT coalesce(json_agg(json_build_object('way_id', x.way_id, 'class', w.class,
    'coords', (SELECT json_agg(json_build_array(ST_Y(d.geom), ST_X(d.geom)) ORDER BY d.path)
               FROM ST_DumpPoints(ST_Transform(x.geom, 4326)) d))), '[]'::json) AS roads
FROM roads.edges x JOIN roads.ways w ON w.way_id = x.way_id
WHERE x.edge_id IN (SELECT DISTINCT m.edge_id FROM trip_match_points m JOIN trips t ON t.trip_id = m.trip_id
                    WHERE t.device_id = :'dev' AND m.edge_id IS NOT NULL) \gset
\else
SELECT '[]' AS roads \gset
\endif
SELECT json_build_object(
  'device', :'dev', 'driver', :'drv',
  'trips', coalesce((SELECT json_agg(t ORDER BY t.start_time) FROM (
      SELECT trip_id, start_time, end_time, round(total_distance_miles::numeric, 3) AS total_distance_miles,
             round(duration_minutes::numeric, 2) AS duration_minutes, round(avg_speed_mph::numeric, 1) AS avg_speed_mph,
             round((max_speed_mps * 2.2369363)::numeric, 1) AS max_speed_mph, hard_brakes, rapid_accels,
             harsh_corners, swerves,
             hard_brakes_g1, hard_brakes_g2, hard_brakes_g3, rapid_accels_g1, rapid_accels_g2, rapid_accels_g3,
             harsh_corners_g1, harsh_corners_g2, harsh_corners_g3, swerves_g1, swerves_g2, swerves_g3,
             lon_source, mean_abs_jerk, lon_share_g1, lon_share_g2, lon_share_g3, lat_share_g1, lat_share_g2,
             lat_share_g3, lon_p95_g, lat_p95_g, speed_sd_mps, lon_moving_s, lat_moving_s, phone_measured,
             phone_distraction_s, score, score_version, score_inputs, score_events_pts, score_smooth_pts,
             score_phone_pts, score_time_pts, score_speeding_pts
      FROM trips WHERE device_id = :'dev') t), '[]'::json),
  'track', coalesce((SELECT json_agg(json_build_object('t', (extract(epoch FROM s.t) * 1000)::bigint,
      'lat', s.lat, 'lon', s.lon, 'speed_mps', s.speed_mps, 'ax_g', s.ax_g, 'ay_g', s.ay_g) ORDER BY s.t)
      FROM samples s WHERE s.device_id = :'dev'), '[]'::json),
  'events', coalesce((SELECT json_agg(json_build_object('t', (extract(epoch FROM e.t) * 1000)::bigint,
      'time', to_char(e.t AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), 'kind', e.kind,
      'duration_ms', e.duration_ms, 'grade', e.grade, 'peak_g', e.peak_g, 'lat', e.lat, 'lon', e.lon,
      'speed_before_mps', e.speed_before_mps, 'speed_after_mps', e.speed_after_mps) ORDER BY e.t)
      FROM events e WHERE e.device_id = :'dev'), '[]'::json),
  'monthly', (SELECT row_to_json(m) FROM monthly_features m WHERE m.driver_id = :'drv' AND m.month = :'month'),
  'behaviour', (SELECT row_to_json(b) FROM monthly_behaviour b WHERE b.driver_id = :'drv' AND b.month = :'month'),
  'roads', :'roads'::json,
  'matched', coalesce((SELECT json_agg(json_build_object('t', (extract(epoch FROM m.t) * 1000)::bigint,
      'lat', m.lat, 'lon', m.lon, 'status', m.status, 'seg_status', m.seg_status, 'speed_mps', m.speed_mps,
      'limit_kph', m.limit_kph, 'road_class', m.road_class, 'way_id', m.way_id) ORDER BY m.t)
      FROM trip_match_points m JOIN trips t ON t.trip_id = m.trip_id WHERE t.device_id = :'dev'), '[]'::json),
  'speeding', coalesce((SELECT json_agg(json_build_object('t0', (extract(epoch FROM e.start_time) * 1000)::bigint,
      't1', (extract(epoch FROM e.end_time) * 1000)::bigint,
      'start_time', to_char(e.start_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), 'band', e.band,
      'duration_s', e.duration_s, 'distance_m', round(e.distance_m::numeric, 1), 'limit_kph', e.limit_kph,
      'peak_over_mph', round(e.peak_over_mph::numeric, 1), 'mean_over_mph', round(e.mean_over_mph::numeric, 1))
      ORDER BY e.start_time)
      FROM speeding_episodes e JOIN trips t ON t.trip_id = e.trip_id WHERE t.device_id = :'dev'), '[]'::json),
  'road_summary', coalesce((SELECT json_agg(json_build_object('trip_id', r.trip_id, 'covered', r.covered,
      'null_reason', r.null_reason, 'distance_m', round(r.distance_m::numeric), 'matched_m', round(r.matched_m::numeric),
      'unmatched_share', round(r.unmatched_share::numeric, 3), 'highway_m', round(r.highway_m::numeric),
      'urban_m', round(r.urban_m::numeric), 'speeding_episodes', r.speeding_episodes,
      'max_over_limit_mph', round(r.max_over_limit_mph::numeric, 1)))
      FROM trip_roads r JOIN trips t ON t.trip_id = r.trip_id WHERE t.device_id = :'dev'), '[]'::json),
  'crash_traces', coalesce((SELECT json_agg(json_build_object('crash_t', (extract(epoch FROM c.crash_t) * 1000)::bigint,
      't', (extract(epoch FROM c.t) * 1000)::bigint, 'part', c.part, 'parts', c.parts, 'hz', c.hz, 'frame', c.frame,
      'ax', c.ax, 'ay', c.ay, 'az', c.az, 'speed_mps', c.speed_mps, 'obd_speed_mps', c.obd_speed_mps, 'rpm', c.rpm,
      'airbag', c.airbag, 'lat', c.lat, 'lon', c.lon) ORDER BY c.crash_t, c.part)
      FROM crash_traces c WHERE c.device_id = :'dev'), '[]'::json));
SQL
}

demo_main() {
	local conf=$ODO_TMP/collector.conf
	demo_collector_conf "$conf" demo-collector-1

	progress "collector: migrate the schema"
	"$COLLECTOR" --config "$conf" migrate

	progress "road layer: importing the Monaco OpenStreetMap extract (PostGIS, osm2pgsql; (c) OpenStreetMap contributors, ODbL)"
	"$COLLECTOR" --config "$conf" roads import "$ROOT/tests/data/osm/monaco.osm.pbf" --country FR 2>"$ODO_TMP/roads-import.log" ||
		{ tail -n 20 "$ODO_TMP/roads-import.log"; echo "demo: roads import failed" >&2; exit 1; }

	progress "registering drivers, vehicles and devices"
	demo_register "$DEVICE" driver-rav4 vehicle-rav4 Toyota RAV4 2017 41
	demo_register "$SYNTH_DEVICE" driver-synthetic vehicle-synthetic Generic Sedan 2020 29
	demo_register "$LIVE_DEVICE" driver-live vehicle-live Generic Van 2019 35
	demo_register "$MONACO_DEVICE" driver-monaco vehicle-monaco Generic Hatchback 2021 33

	progress "collector: ingesting (MQTT shared subscription -> PostgreSQL)"
	"$COLLECTOR" --config "$conf" run >"$ODO_TMP/collector.log" 2>&1 &
	local cpid=$!
	odo_track_pid "$cpid"
	sleep 1
	kill -0 "$cpid" 2>/dev/null || { cat "$ODO_TMP/collector.log"; echo "demo: the collector did not start" >&2; exit 1; }

	progress "agent $LIVE_DEVICE: live GPS from gpsd (gpsfake playing $(basename "$GPSLOG"))"
	demo_agent_conf "$ODO_TMP/live.conf" "$LIVE_DEVICE" ""
	sed -i 's/^\[agent\]/[agent]\ngps = true/' "$ODO_TMP/live.conf"
	"$AGENT" --config "$ODO_TMP/live.conf" >"$ODO_TMP/agent-live.log" 2>&1 &
	local lpid=$!
	odo_track_pid "$lpid"

	progress "agent $DEVICE: replaying the real drive $(basename "$DRIVE") (comma2k19, 2017 RAV4, I-280)"
	# The comma2k19 device is mounted vehicle-aligned (sensor x forward, y right,
	# z down: the recording's meta.conf); one minute of I-280 is too little for
	# the learnt calibration to become ready (docs/accuracy.md), so the demo
	# states the known mount and its samples carry vehicle-frame acceleration.
	demo_agent_conf "$ODO_TMP/rav4.conf" "$DEVICE" '[calib]
matrix = "1 0 0  0 1 0  0 0 1"'
	sed -i 's/^\[agent\]/[agent]\ngps = false/' "$ODO_TMP/rav4.conf"
	"$AGENT" --config "$ODO_TMP/rav4.conf" --replay "$DRIVE" --drain-timeout 120 2>&1 | tee "$ODO_TMP/agent-rav4.log" | grep -E 'replayed|acknowledged|unacknowledged|ERROR' || true
	[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "demo: the RAV4 replay was not fully acknowledged" >&2; exit 1; }

	progress "agent $SYNTH_DEVICE: replaying the synthetic drive $(basename "$SYNTH") (known events)"
	demo_agent_conf "$ODO_TMP/synth.conf" "$SYNTH_DEVICE"
	sed -i 's/^\[agent\]/[agent]\ngps = false/; s/^timezone = .*/timezone = Europe\/Berlin/' "$ODO_TMP/synth.conf"
	"$AGENT" --config "$ODO_TMP/synth.conf" --replay "$SYNTH" --drain-timeout 120 2>&1 | tee "$ODO_TMP/agent-synth.log" | grep -E 'replayed|acknowledged|unacknowledged|ERROR' || true
	[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "demo: the synthetic replay was not fully acknowledged" >&2; exit 1; }

	# The RAV4 drive lies in California, outside the loaded map (Monaco): its
	# speeding and road-type columns stay NULL, with the reason. So a Monaco
	# drive too: synthesised along the extract's roads (a tunnel, a U-turn,
	# a speeding episode), replayed by the real agent like the others.
	progress "agent $MONACO_DEVICE: a synthetic drive through Monaco's streets (tests/e2e/roads/synth.py)"
	python3 "$ROOT/tests/e2e/roads/synth.py" plan "$ODO_TMP/monaco.json" | grep city
	python3 "$ROOT/tests/e2e/roads/synth.py" recording "$ODO_TMP/monaco.json" city "$ODO_TMP/monaco-drive"
	demo_agent_conf "$ODO_TMP/monaco.conf" "$MONACO_DEVICE"
	sed -i 's/^\[agent\]/[agent]\ngps = false/; s/^timezone = .*/timezone = Europe\/Monaco/; s/^sample_period_s = .*/sample_period_s = 10/' "$ODO_TMP/monaco.conf"
	"$AGENT" --config "$ODO_TMP/monaco.conf" --replay "$ODO_TMP/monaco-drive" --drain-timeout 120 2>&1 | tee "$ODO_TMP/agent-monaco.log" | grep -E 'replayed|acknowledged|unacknowledged|ERROR' || true
	[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "demo: the Monaco replay was not fully acknowledged" >&2; exit 1; }

	progress "agent $LIVE_DEVICE: waiting for gpsfake to finish, then SIGTERM (ignition off)"
	local i
	for ((i = 0; i < 120; i++)); do
		kill -0 "$ODO_GPSFAKE_PID" 2>/dev/null || break
		sleep 1
	done
	kill -TERM "$lpid"
	if wait "$lpid"; then
		echo "live agent exited cleanly after flushing"
	else
		echo "demo: the live agent exited with an error:" >&2
		tail -n 20 "$ODO_TMP/agent-live.log" >&2
		exit 1
	fi
	grep -E 'stopping|left in the outbox' "$ODO_TMP/agent-live.log" || true

	progress "acknowledgements: every record each device produced is committed"
	odo_psql -c "SELECT device_id, epoch, acked AS acked_seq, last_seen FROM device_epochs ORDER BY device_id, epoch"

	progress "map matching: every finished trip against the road layer (odo-collector roads match)"
	"$COLLECTOR" --config "$conf" roads match ||
		echo "demo: map matching reported an error (above); the trips it matched are shown"
	odo_psql -c "SELECT t.device_id, r.covered, coalesce(r.null_reason, '-') AS null_reason, r.points, round(r.unmatched_share::numeric, 3) AS unmatched, round((100 * r.highway_m / nullif(r.matched_m, 0))::numeric, 1) AS pct_highway, round((100 * r.urban_m / nullif(r.matched_m, 0))::numeric, 1) AS pct_urban, r.speeding_episodes, round(r.max_over_limit_mph::numeric, 1) AS max_over_mph FROM trip_roads r JOIN trips t USING (trip_id) ORDER BY t.start_time"

	progress "aggregating monthly features"
	local months m
	months=$(odo_psql -At -c "SELECT DISTINCT to_char(start_time AT TIME ZONE 'UTC', 'YYYY-MM') FROM trips WHERE start_time IS NOT NULL ORDER BY 1")
	for m in $months; do
		"$COLLECTOR" --config "$conf" aggregate --month "$m"
	done

	progress "summary"
	echo "-- trips"
	odo_psql -c "SELECT trip_id, driver_id, start_time, round(total_distance_miles::numeric,2) AS miles, round(duration_minutes::numeric,1) AS minutes, round(avg_speed_mph::numeric,1) AS avg_mph, hard_brakes, rapid_accels, harsh_corners, swerves, round(mean_abs_jerk::numeric,2) AS jerk_mps3, round(score::numeric,1) AS score, score_inputs FROM trips ORDER BY start_time"
	echo "-- events"
	odo_psql -c "SELECT device_id, t, kind, grade, duration_ms, round(peak_g::numeric,2) AS peak_g, round(speed_before_mps::numeric,1) AS v_before, round(speed_after_mps::numeric,1) AS v_after FROM events ORDER BY t"
	echo "-- mounting calibration: the last status record of each live agent (docs/detection.md)"
	odo_psql -c "SELECT DISTINCT ON (device_id) device_id, t, CASE calib_state WHEN 0 THEN 'learning' WHEN 1 THEN 'ready' WHEN 2 THEN 're-learning' END AS calibration, round(calib_confidence::numeric,2) AS confidence, round(calib_roll_deg::numeric,1) AS roll, round(calib_pitch_deg::numeric,1) AS pitch, round(calib_yaw_deg::numeric,1) AS yaw, calib_ready_s AS ready_after_s, calib_gps_lag_s AS gps_lag_s, calib_gyro_state AS gyro FROM device_status ORDER BY device_id, t DESC"
	echo "-- dead letters (rejected messages)"
	odo_psql -c "SELECT count(*) AS dead_letters FROM dead_letters"

	progress "HTML trip reports"
	local rav4_month synth_month monaco_month
	# (psql interpolates :'var' only in its input, not in -c)
	rav4_month=$(odo_psql -At -v dev="$DEVICE" <<<"SELECT to_char(min(start_time) AT TIME ZONE 'UTC', 'YYYY-MM') FROM trips WHERE device_id = :'dev'")
	synth_month=$(odo_psql -At -v dev="$SYNTH_DEVICE" <<<"SELECT to_char(min(start_time) AT TIME ZONE 'UTC', 'YYYY-MM') FROM trips WHERE device_id = :'dev'")
	mkdir -p "$REPORT_DIR"
	demo_report_json "$SYNTH_DEVICE" driver-synthetic "$synth_month" "$ODO_TMP/synth.json"
	"$ROOT/tools/trip-report" "$ODO_TMP/synth.json" "$REPORT_DIR/report-synthetic.html"
	monaco_month=$(odo_psql -At -v dev="$MONACO_DEVICE" <<<"SELECT to_char(min(start_time) AT TIME ZONE 'UTC', 'YYYY-MM') FROM trips WHERE device_id = :'dev'")
	demo_report_json "$MONACO_DEVICE" driver-monaco "$monaco_month" "$ODO_TMP/monaco.json"
	"$ROOT/tools/trip-report" "$ODO_TMP/monaco.json" "$REPORT_DIR/report-monaco.html"
	demo_report_json "$DEVICE" driver-rav4 "$rav4_month" "$ODO_TMP/rav4.json"
	"$ROOT/tools/trip-report" "$ODO_TMP/rav4.json" "$REPORT_DIR/report.html"

	progress "done in $(($(date +%s) - t_start)) s; stopping everything that was started"
	echo
	echo "speeding and road types: the RAV4 drive (I-280, California) lies outside the loaded map (Monaco),"
	echo "so its road columns are NULL, with the reason in trip_roads above; the Monaco drive's, $monaco_month:"
	odo_psql -v drv=driver-monaco -v month="$monaco_month" <<<"SELECT speeding_rate_per_100_miles, max_speed_over_limit_mph, pct_miles_highway, pct_miles_urban, pct_miles_in_rain_or_snow FROM monthly_features WHERE driver_id = :'drv' AND month = :'month'"
	echo "trip report (Monaco drive, matched roads and speeding): $REPORT_DIR/report-monaco.html"
	echo "monthly_features for driver-rav4, $rav4_month (the real drive):"
	odo_psql -x -v drv=driver-rav4 -v month="$rav4_month" <<<"SELECT * FROM monthly_features WHERE driver_id = :'drv' AND month = :'month'"
	echo "trip report (synthetic drive with events): $REPORT_DIR/report-synthetic.html"
	echo "trip report: $REPORT_DIR/report.html"
}
