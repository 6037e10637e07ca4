-- odo road layer: osm2pgsql flex style (osm2pgsql >= 1.8).
-- `odo-collector roads import FILE.osm.pbf` runs osm2pgsql with this style
-- into the schema `roads_stage`; the collector then builds `roads.ways`,
-- `roads.edges` and `roads.areas` from it in one transaction
-- (docs/deploy.md "Road data", docs/collector.md "Map matching").
-- Data: (c) OpenStreetMap contributors, ODbL 1.0.

-- Ways a car may drive on (OSM wiki "Key:highway"; "road" is an unclassified
-- road of unknown class). Excluded: footway, path, cycleway, steps,
-- pedestrian, track, bridleway, construction, proposed, raceway, bus_guideway,
-- escape, busway, services, rest_area (no through traffic of cars).
local CAR = {
  motorway = true, motorway_link = true, trunk = true, trunk_link = true,
  primary = true, primary_link = true, secondary = true, secondary_link = true,
  tertiary = true, tertiary_link = true, unclassified = true, residential = true,
  living_street = true, service = true, road = true,
}

-- Built-up areas for the urban/rural rule.
local BUILT_LANDUSE = { residential = true, commercial = true, retail = true, industrial = true }
local BUILT_PLACE = { city = true, town = true, village = true, suburb = true, quarter = true,
  neighbourhood = true, hamlet = true, city_block = true }

local S = 'roads_stage'

local ways = osm2pgsql.define_way_table('osm_ways', {
  { column = 'highway', type = 'text', not_null = true },
  { column = 'maxspeed', type = 'text' },
  { column = 'maxspeed_forward', type = 'text' },
  { column = 'maxspeed_backward', type = 'text' },
  { column = 'maxspeed_conditional', type = 'text' },
  { column = 'oneway', type = 'text' },
  { column = 'junction', type = 'text' },
  { column = 'access', type = 'text' },
  { column = 'motor_vehicle', type = 'text' },
  { column = 'source_maxspeed', type = 'text' },
  { column = 'maxspeed_type', type = 'text' },
  { column = 'tunnel', type = 'text' },
  { column = 'name', type = 'text' },
  { column = 'ref', type = 'text' },
  { column = 'nodes', sql_type = 'bigint[]' },
  { column = 'geom', type = 'linestring', projection = 4326, not_null = true },
}, { schema = S })

local areas = osm2pgsql.define_area_table('osm_areas', {
  { column = 'kind', type = 'text', not_null = true },   -- 'built' or 'country'
  { column = 'value', type = 'text' },                  -- landuse/place value or ISO 3166-1 code
  { column = 'geom', type = 'geometry', projection = 4326, not_null = true },
}, { schema = S })

local places = osm2pgsql.define_node_table('osm_places', {
  { column = 'place', type = 'text', not_null = true },
  { column = 'geom', type = 'point', projection = 4326, not_null = true },
}, { schema = S })

function osm2pgsql.process_node(object)
  if BUILT_PLACE[object.tags.place] then
    places:insert({ place = object.tags.place, geom = object:as_point() })
  end
end

local function drivable(t)
  if not CAR[t.highway] then return false end
  if t.area == 'yes' then return false end
  local a = t.motor_vehicle or t.motorcar or t.vehicle or t.access
  if a == 'no' or a == 'private' and t.highway == 'service' then return false end
  if t.service == 'parking_aisle' or t.service == 'drive-through' then return false end
  return true
end

local function pg_array(ids)
  return '{' .. table.concat(ids, ',') .. '}'
end

function osm2pgsql.process_way(object)
  local t = object.tags
  if t.highway and drivable(t) then
    ways:insert({
      highway = t.highway,
      maxspeed = t.maxspeed,
      maxspeed_forward = t['maxspeed:forward'],
      maxspeed_backward = t['maxspeed:backward'],
      maxspeed_conditional = t['maxspeed:conditional'],
      oneway = t.oneway,
      junction = t.junction,
      access = t.access,
      motor_vehicle = t.motor_vehicle,
      source_maxspeed = t['source:maxspeed'],
      maxspeed_type = t['maxspeed:type'] or t['zone:maxspeed'],
      tunnel = t.tunnel,
      name = t.name,
      ref = t.ref,
      nodes = pg_array(object.nodes),
      geom = object:as_linestring(),
    })
  end
  if object.is_closed then
    if BUILT_LANDUSE[t.landuse] then
      areas:insert({ kind = 'built', value = 'landuse=' .. t.landuse, geom = object:as_polygon() })
    elseif BUILT_PLACE[t.place] then
      areas:insert({ kind = 'built', value = 'place=' .. t.place, geom = object:as_polygon() })
    end
  end
end

function osm2pgsql.process_relation(object)
  local t = object.tags
  if t.type == 'multipolygon' then
    if BUILT_LANDUSE[t.landuse] then
      areas:insert({ kind = 'built', value = 'landuse=' .. t.landuse, geom = object:as_multipolygon() })
    elseif BUILT_PLACE[t.place] then
      areas:insert({ kind = 'built', value = 'place=' .. t.place, geom = object:as_multipolygon() })
    end
  elseif t.type == 'boundary' and t.boundary == 'administrative' and t.admin_level == '2' then
    local cc = t['ISO3166-1:alpha2'] or t['ISO3166-1']
    if cc and #cc == 2 then
      areas:insert({ kind = 'country', value = string.upper(cc), geom = object:as_multipolygon() })
    end
  end
end
