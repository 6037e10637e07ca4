-- odo road layer: build roads.ways, roads.edges and roads.areas from what
-- osm2pgsql loaded into roads_stage (osm2pgsql-flex.lua), in the caller's
-- transaction. The caller has filled roads.maxspeed_parsed and the
-- temporary table import_params (fallback_country, import_id).
-- Definitions (limit kinds, urban rule, oneway): docs/features.md.

DROP TABLE IF EXISTS roads.ways_new, roads.edges_new, roads.areas_new;

CREATE TABLE roads.areas_new AS
  SELECT row_number() OVER () AS area_id, kind, value, ST_MakeValid(geom) AS geom
  FROM roads_stage.osm_areas;
CREATE INDEX ON roads.areas_new USING gist (geom);
ANALYZE roads.areas_new;

CREATE TABLE roads.ways_new AS
WITH w AS (
  SELECT s.way_id, s.highway, s.maxspeed, s.maxspeed_forward, s.maxspeed_backward,
         s.maxspeed_conditional, coalesce(s.maxspeed_type, s.source_maxspeed) AS zone_tag,
         s.oneway, s.junction, s.tunnel, s.name, s.ref, s.nodes, s.geom,
         ST_LineInterpolatePoint(s.geom, 0.5) AS mid
  FROM roads_stage.osm_ways s
  WHERE ST_NPoints(s.geom) >= 2
), c AS (
  SELECT w.*,
    coalesce((SELECT a.value FROM roads.areas_new a
              WHERE a.kind = 'country' AND ST_Intersects(a.geom, w.mid) LIMIT 1),
             nullif(p.fallback_country, '')) AS country
  FROM w CROSS JOIN import_params p
), m AS (
  SELECT c.*,
    pb.kind AS b_kind, pb.kph AS b_kph, pb.country AS b_cc, pb.zone AS b_zone,
    pz.kind AS z_kind, pz.country AS z_cc, pz.zone AS z_zone,
    pf.kind AS f_kind, pf.kph AS f_kph, pk.kind AS k_kind, pk.kph AS k_kph,
    CASE WHEN c.oneway IN ('yes', 'true', '1') THEN 1
         WHEN c.oneway IN ('-1', 'reverse') THEN -1
         WHEN c.oneway IN ('no', 'false', '0', 'reversible', 'alternating') THEN 0
         WHEN c.junction IN ('roundabout', 'circular') THEN 1
         WHEN c.highway IN ('motorway', 'motorway_link') THEN 1
         ELSE 0 END AS oneway_dir
  FROM c
  LEFT JOIN roads.maxspeed_parsed pb ON pb.raw = c.maxspeed
  LEFT JOIN roads.maxspeed_parsed pz ON pz.raw = c.zone_tag
  LEFT JOIN roads.maxspeed_parsed pf ON pf.raw = c.maxspeed_forward
  LEFT JOIN roads.maxspeed_parsed pk ON pk.raw = c.maxspeed_backward
), z AS (
  -- the implicit zone, from maxspeed itself ("FR:urban", "DE:zone30") or from
  -- maxspeed:type / source:maxspeed
  SELECT m.*,
    CASE WHEN m.b_kind = 2 OR m.b_zone = 'zone' THEN m.b_zone WHEN m.z_kind = 2 THEN m.z_zone END AS izone,
    CASE WHEN m.b_kind = 2 OR m.b_zone = 'zone' THEN m.b_cc WHEN m.z_kind = 2 THEN m.z_cc END AS icc
  FROM m
), u AS (
  SELECT z.*,
    CASE
      WHEN z.izone IN ('urban', 'living_street', 'nsl_restricted', 'zone') THEN 'implicit'
      WHEN z.izone IN ('rural', 'motorway', 'trunk', 'nsl_single', 'nsl_dual') THEN 'implicit'
      WHEN EXISTS (SELECT 1 FROM roads.areas_new a WHERE a.kind = 'built' AND ST_Intersects(a.geom, z.mid))
        THEN 'area'
      WHEN EXISTS (SELECT 1 FROM roads_stage.osm_places pl JOIN roads.place_radius r ON r.place = pl.place
                   WHERE ST_DWithin(pl.geom::geography, z.mid::geography, r.radius_m))
        THEN 'place'
      ELSE 'none' END AS urban_rule
  FROM z
), v AS (
  SELECT u.*,
    CASE WHEN u.urban_rule = 'implicit' THEN u.izone IN ('urban', 'living_street', 'nsl_restricted', 'zone')
         ELSE u.urban_rule IN ('area', 'place') END AS urban
  FROM u
), d AS (
  SELECT v.*,
    CASE WHEN v.highway IN ('motorway', 'motorway_link') THEN 'motorway'
         WHEN v.highway IN ('trunk', 'trunk_link') AND v.oneway_dir <> 0 AND NOT v.urban THEN 'trunk'
         WHEN v.highway = 'living_street' THEN 'living_street'
         WHEN v.urban THEN 'urban'
         ELSE 'rural' END AS dzone
  FROM v
), l AS (
  SELECT d.*,
    di.kph AS i_kph, di.country IS NOT NULL AS i_found,
    dd.kph AS d_kph, dd.country IS NOT NULL AS d_found
  FROM d
  LEFT JOIN roads.default_limits di ON di.country = d.icc AND di.zone = d.izone
  LEFT JOIN roads.default_limits dd ON dd.country = d.country AND dd.zone = d.dzone
), b AS (
  SELECT l.*,
    CASE WHEN l.b_kind = 1 THEN 1
         WHEN l.b_kind = 4 THEN 4
         WHEN (l.b_kind = 2 OR (l.b_kind IS NULL AND l.z_kind = 2)) AND l.i_found THEN CASE WHEN l.i_kph IS NULL THEN 4 ELSE 2 END
         WHEN l.d_found THEN CASE WHEN l.d_kph IS NULL THEN 4 ELSE 3 END
         ELSE 0 END AS base_kind,
    CASE WHEN l.b_kind = 1 THEN l.b_kph
         WHEN l.b_kind = 4 THEN NULL
         WHEN (l.b_kind = 2 OR (l.b_kind IS NULL AND l.z_kind = 2)) AND l.i_found THEN l.i_kph
         WHEN l.d_found THEN l.d_kph END AS base_kph
  FROM l
)
SELECT b.way_id, b.highway AS class, b.name, b.ref, b.country, b.oneway_dir::smallint AS oneway,
  b.urban, b.urban_rule, b.dzone AS default_zone,
  b.maxspeed AS maxspeed_tag, b.maxspeed_conditional AS maxspeed_conditional_ignored,
  CASE WHEN b.f_kind = 1 THEN 1 WHEN b.f_kind = 4 THEN 4 ELSE b.base_kind END::smallint AS kind_fwd,
  CASE WHEN b.f_kind = 1 THEN b.f_kph WHEN b.f_kind = 4 THEN NULL ELSE b.base_kph END::real AS kph_fwd,
  CASE WHEN b.k_kind = 1 THEN 1 WHEN b.k_kind = 4 THEN 4 ELSE b.base_kind END::smallint AS kind_bwd,
  CASE WHEN b.k_kind = 1 THEN b.k_kph WHEN b.k_kind = 4 THEN NULL ELSE b.base_kph END::real AS kph_bwd,
  coalesce(b.tunnel NOT IN ('no'), false) AS tunnel,
  b.nodes, b.geom,
  (SELECT import_id FROM import_params) AS import_id
FROM b;
ALTER TABLE roads.ways_new ADD PRIMARY KEY (way_id);

-- Edges: each way split at every node it shares with another way (or with
-- itself), so that the graph's vertices are OSM junction nodes. A way whose
-- geometry lost points (duplicate consecutive nodes) stays one edge.
CREATE TABLE roads.edges_new AS
WITH n AS (
  SELECT w.way_id, u.node, u.ord::int AS ord, cardinality(w.nodes) AS nn,
         ST_NPoints(w.geom) = cardinality(w.nodes) AS exact
  FROM roads.ways_new w, unnest(w.nodes) WITH ORDINALITY AS u(node, ord)
), cnt AS (
  SELECT node, count(*) AS c FROM n GROUP BY node
), s AS (
  SELECT n.way_id, n.node, n.ord FROM n JOIN cnt USING (node)
  WHERE n.ord = 1 OR n.ord = n.nn OR (n.exact AND cnt.c > 1)
), seg AS (
  SELECT s.way_id, s.node AS source, s.ord AS o1,
         lead(s.node) OVER win AS target, lead(s.ord) OVER win AS o2
  FROM s WINDOW win AS (PARTITION BY s.way_id ORDER BY s.ord)
)
SELECT row_number() OVER (ORDER BY seg.way_id, seg.o1) AS edge_id, seg.way_id, seg.source, seg.target,
  ST_Transform(CASE WHEN seg.o1 = 1 AND seg.o2 = cardinality(w.nodes) THEN w.geom
       ELSE ST_MakeLine(ARRAY(SELECT ST_PointN(w.geom, i) FROM generate_series(seg.o1, seg.o2) AS i)) END,
       3857) AS geom
FROM seg JOIN roads.ways_new w USING (way_id)
WHERE seg.target IS NOT NULL;
ALTER TABLE roads.edges_new ADD COLUMN length_m double precision;
UPDATE roads.edges_new SET length_m = ST_Length(ST_Transform(geom, 4326)::geography);
DELETE FROM roads.edges_new WHERE length_m IS NULL OR length_m <= 0;
ALTER TABLE roads.edges_new ADD PRIMARY KEY (edge_id);
CREATE INDEX ON roads.edges_new USING gist (geom);
CREATE INDEX ON roads.edges_new (way_id);
ALTER TABLE roads.ways_new DROP COLUMN nodes;

-- Swap in: readers (matching) see either the old layer or the new one.
DROP TABLE IF EXISTS roads.edges, roads.ways, roads.areas;
ALTER TABLE roads.ways_new RENAME TO ways;
ALTER TABLE roads.edges_new RENAME TO edges;
ALTER TABLE roads.areas_new RENAME TO areas;
ANALYZE roads.ways;
ANALYZE roads.edges;
