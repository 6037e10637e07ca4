-- odo road layer (optional; issue #15): set-up, run by `odo-collector roads
-- import` before osm2pgsql. Needs PostGIS (Debian: postgresql-15-postgis-3)
-- and a role that may CREATE EXTENSION (or an administrator who ran
-- `CREATE EXTENSION postgis` once). Idempotent. The core schema
-- (collector/sql/NNN_*.sql) never depends on anything here.
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE SCHEMA IF NOT EXISTS roads;
CREATE SCHEMA IF NOT EXISTS roads_stage;

-- One row per import (also per update): what was loaded, when, by whom.
CREATE TABLE IF NOT EXISTS roads.imports (
    import_id         bigserial PRIMARY KEY,
    source_file       text NOT NULL,
    fallback_country  text,
    started_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    ways              integer,
    edges             integer,
    unparsed_maxspeed integer,
    performed_by      text NOT NULL
);

-- Legal default speed limits in km/h by country and zone, applied where a way
-- has no maxspeed tag, and resolving implicit values such as "FR:urban".
-- kph NULL = no general limit. Zones: urban, rural (single carriageway
-- outside built-up areas), trunk (dual carriageway / expressway outside
-- built-up areas), motorway, living_street; GB's national speed limit
-- names. Sources per row; the general one is the OpenStreetMap wiki page
-- "Default speed limits" (revision 2413111, 2022-10-03), which cites each
-- country's road traffic law. docs/features.md lists the table.
CREATE TABLE IF NOT EXISTS roads.default_limits (
    country  text NOT NULL,
    zone     text NOT NULL,
    kph      real,
    source   text NOT NULL,
    PRIMARY KEY (country, zone)
);
INSERT INTO roads.default_limits (country, zone, kph, source) VALUES
  ('FR', 'urban', 50, 'Code de la route art. R413-3'),
  ('FR', 'rural', 80, 'Code de la route art. R413-2 (décret 2018-487: 80 on two-way roads without separation)'),
  ('FR', 'trunk', 110, 'Code de la route art. R413-2 (routes à deux chaussées séparées)'),
  ('FR', 'motorway', 130, 'Code de la route art. R413-2'),
  ('FR', 'living_street', 20, 'Code de la route art. R110-2 (zone de rencontre)'),
  ('MC', 'urban', 50, 'OSM wiki Default speed limits (MC); the principality is built up throughout'),
  ('MC', 'rural', 50, 'as urban: no road in Monaco lies outside the built-up area'),
  ('MC', 'living_street', 20, 'OSM wiki Default speed limits (MC)'),
  ('DE', 'urban', 50, 'StVO §3 (3) 1'),
  ('DE', 'rural', 100, 'StVO §3 (3) 2c'),
  ('DE', 'trunk', 100, 'StVO §3 (3) 2c (Kraftfahrstraße without a posted limit: advisory 130 only on dual carriageways; 100 applies to cars on other roads)'),
  ('DE', 'motorway', NULL, 'no general limit on Autobahnen (Autobahn-Richtgeschwindigkeits-Verordnung: 130 advisory)'),
  ('DE', 'living_street', 7, 'StVO Anlage 3 Zeichen 325.1: Schrittgeschwindigkeit (case law 4-7 km/h; upper end)'),
  ('IT', 'urban', 50, 'Codice della strada art. 142'),
  ('IT', 'rural', 90, 'Codice della strada art. 142 (strade extraurbane secondarie)'),
  ('IT', 'trunk', 110, 'Codice della strada art. 142 (extraurbane principali)'),
  ('IT', 'motorway', 130, 'Codice della strada art. 142'),
  ('ES', 'urban', 50, 'Reglamento General de Circulación art. 50'),
  ('ES', 'rural', 90, 'Reglamento General de Circulación art. 48 (2019: 90 on conventional roads)'),
  ('ES', 'trunk', 120, 'Reglamento General de Circulación art. 48 (autovías)'),
  ('ES', 'motorway', 120, 'Reglamento General de Circulación art. 48'),
  ('CH', 'urban', 50, 'Verkehrsregelnverordnung art. 4a'),
  ('CH', 'rural', 80, 'Verkehrsregelnverordnung art. 4a'),
  ('CH', 'trunk', 100, 'Verkehrsregelnverordnung art. 4a (Autostrassen)'),
  ('CH', 'motorway', 120, 'Verkehrsregelnverordnung art. 4a'),
  ('AT', 'urban', 50, 'StVO 1960 §20 (2)'),
  ('AT', 'rural', 100, 'StVO 1960 §20 (2)'),
  ('AT', 'trunk', 100, 'StVO 1960 §20 (2)'),
  ('AT', 'motorway', 130, 'StVO 1960 §20 (2)'),
  ('NL', 'urban', 50, 'RVV 1990 art. 20'),
  ('NL', 'rural', 80, 'RVV 1990 art. 21'),
  ('NL', 'trunk', 100, 'RVV 1990 art. 22 (autowegen)'),
  ('NL', 'motorway', 100, 'RVV 1990 art. 22 and the 2020 daytime limit (130 at night where signed)'),
  ('GB', 'urban', 48.28, 'Road Traffic Regulation Act 1984 s.81: 30 mph on restricted (lit) roads'),
  ('GB', 'nsl_restricted', 48.28, 'Road Traffic Regulation Act 1984 s.81: 30 mph'),
  ('GB', 'rural', 96.56, 'national speed limit, single carriageway: 60 mph'),
  ('GB', 'nsl_single', 96.56, 'national speed limit, single carriageway: 60 mph'),
  ('GB', 'trunk', 112.65, 'national speed limit, dual carriageway: 70 mph'),
  ('GB', 'nsl_dual', 112.65, 'national speed limit, dual carriageway: 70 mph'),
  ('GB', 'motorway', 112.65, 'Motorways Traffic (Speed Limit) Regulations 1974: 70 mph')
ON CONFLICT (country, zone) DO UPDATE SET kph = EXCLUDED.kph, source = EXCLUDED.source;

-- Radii of the built-up area around OSM place nodes (the urban rule's
-- fallback where no landuse/place polygon covers a way; docs/features.md).
CREATE TABLE IF NOT EXISTS roads.place_radius (
    place     text PRIMARY KEY,
    radius_m  real NOT NULL
);
INSERT INTO roads.place_radius VALUES
  ('city', 2000), ('town', 1000), ('village', 500), ('suburb', 500), ('quarter', 300),
  ('neighbourhood', 300), ('hamlet', 200), ('city_block', 100)
ON CONFLICT (place) DO UPDATE SET radius_m = EXCLUDED.radius_m;

-- The maxspeed values of the current import as odo_maxspeed_parse() read
-- them (filled by the collector between osm2pgsql and build.sql).
CREATE TABLE IF NOT EXISTS roads.maxspeed_parsed (
    raw      text PRIMARY KEY,
    kind     smallint NOT NULL,
    kph      real,
    country  text,
    zone     text
);
