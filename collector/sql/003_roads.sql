-- odo collector schema: map-matching results and per-trip road features
-- (issue #15). Portable like 001: no extension. The road network itself is
-- an optional PostGIS layer in schema `roads`, created only by
-- `odo-collector roads import` (collector/sql/roads/); ingest never needs it.
-- Definitions: docs/features.md "Road features"; docs/collector.md "Map matching".

-- One row per fix of a trip's dense track (wire kind 9), as matched.
-- status: 0 matched, 1 off the map (no road within the radius), 2 isolated
-- (candidates, but no route to a neighbour), 5 no road data.
-- seg_status: the segment from the previous fix to this one: 0 matched,
-- 1 off the map, 3 gap (no fix for more than [roads] max_gap_s: tunnel,
-- lost signal), 4 no drivable route between the matches, 5 no road data.
CREATE TABLE trip_match_points (
    trip_id      text NOT NULL REFERENCES trips (trip_id) ON DELETE CASCADE ON UPDATE CASCADE,
    i            integer NOT NULL,
    device_id    text NOT NULL,
    t            timestamptz NOT NULL,
    lat          double precision NOT NULL,
    lon          double precision NOT NULL,
    speed_mps    double precision,               -- GPS speed; NULL = not reported
    eph_m        double precision,               -- NULL = not reported
    status       smallint NOT NULL,
    seg_status   smallint NOT NULL,
    seg_m        double precision NOT NULL,      -- great-circle distance from the previous fix
    edge_id      bigint,                         -- roads.edges at matching time
    way_id       bigint,                         -- the OSM way
    road_class   text,                           -- OSM highway=*
    urban        boolean,
    limit_kph    real,                           -- in the direction travelled; NULL = none/unknown
    limit_kind   smallint,                       -- 1 tagged, 2 implicit, 3 default, 4 no limit, 0 unknown
    PRIMARY KEY (trip_id, i)
);
CREATE INDEX trip_match_points_t ON trip_match_points (device_id, t);

-- Speeding episodes: over the limit by more than max(X mph, Y %) for at
-- least Z s ([roads] speeding_mph, speeding_pct, speeding_min_s).
CREATE TABLE speeding_episodes (
    trip_id        text NOT NULL REFERENCES trips (trip_id) ON DELETE CASCADE ON UPDATE CASCADE,
    n              integer NOT NULL,
    start_time     timestamptz NOT NULL,
    end_time       timestamptz NOT NULL,
    duration_s     double precision NOT NULL,
    distance_m     double precision NOT NULL,
    limit_kph      real NOT NULL,                -- the limit where it began
    peak_over_mph  double precision NOT NULL,    -- highest excess sustained for 3 s
    mean_over_mph  double precision NOT NULL,
    band           smallint NOT NULL CHECK (band BETWEEN 1 AND 3),
    start_lat      double precision,
    start_lon      double precision,
    way_id         bigint,
    PRIMARY KEY (trip_id, n)
);

-- Per-trip road summary: what the behaviour score and monthly_features read.
-- covered = the map covers the trip (unmatched share <= [roads]
-- max_unmatched_share); otherwise null_reason says why its road features
-- are NULL: 'no track', 'no road data', 'unmatched share above the bound (0.43 > 0.20)'.
CREATE TABLE trip_roads (
    trip_id              text PRIMARY KEY REFERENCES trips (trip_id) ON DELETE CASCADE ON UPDATE CASCADE,
    matched_at           timestamptz NOT NULL DEFAULT now(),
    import_id            bigint,                 -- roads.imports used; NULL = no road data
    points               integer NOT NULL,
    matched_points       integer NOT NULL,
    distance_m           double precision NOT NULL,  -- track length (sum of seg_m)
    matched_m            double precision NOT NULL,
    unmatched_m          double precision NOT NULL,
    unmatched_share      double precision,           -- unmatched_m / distance_m
    covered              boolean NOT NULL,
    null_reason          text,
    highway_m            double precision,           -- NULL unless covered
    urban_m              double precision,
    limit_m              double precision,           -- matched distance with a known limit (or none)
    speeding_episodes    integer,
    speeding_band1       integer,
    speeding_band2       integer,
    speeding_band3       integer,
    speeding_s           double precision,
    speeding_m           double precision,
    max_over_limit_mph   double precision,           -- highest 3-s sustained excess, >= 0
    CHECK (covered = (null_reason IS NULL))
);

-- Why a driver's month has NULL road columns (or how much the map covered).
CREATE VIEW monthly_road_coverage AS
SELECT t.driver_id, to_char(t.start_time AT TIME ZONE 'UTC', 'YYYY-MM') AS month,
       count(*) AS trips,
       count(*) FILTER (WHERE r.covered) AS trips_covered,
       count(*) FILTER (WHERE r.trip_id IS NULL) AS trips_not_matched_yet,
       sum(r.matched_m) FILTER (WHERE r.covered) / 1609.344 AS miles_covered,
       sum(t.distance_m) FILTER (WHERE r.covered IS NOT TRUE) / 1609.344 AS miles_not_covered,
       CASE WHEN count(*) FILTER (WHERE r.covered) > 0 THEN NULL
            ELSE coalesce(string_agg(DISTINCT split_part(r.null_reason, ' (', 1), '; '), 'not matched yet') END AS null_reason
FROM trips t LEFT JOIN trip_roads r ON r.trip_id = t.trip_id
WHERE t.end_time IS NOT NULL AND t.driver_id IS NOT NULL
GROUP BY 1, 2;
