/* odo-collector — the road layer's embedded texts (generated from
 * collector/sql/roads by its embed.cmake). Private to collector/roads. */
#ifndef ODO_COLLECTOR_ROADS_SQL_H
#define ODO_COLLECTOR_ROADS_SQL_H

extern const char odo_roads_setup_sql[]; /* setup.sql: extension, schemas, tables, default limits */
extern const char odo_roads_build_sql[]; /* build.sql: stage -> roads.ways/edges/areas */
extern const char odo_roads_flex_lua[];  /* osm2pgsql-flex.lua */

#endif
