# Generate a C file holding the road layer's SQL and osm2pgsql style as
# strings (odo-collector roads import).
#   cmake -DDIR=... -DOUT=... -P embed.cmake
set(body "/* generated from collector/sql/roads by embed.cmake; do not edit */\n#include \"roads/roads_sql.h\"\n\n")
foreach(pair "odo_roads_setup_sql=setup.sql" "odo_roads_build_sql=build.sql" "odo_roads_flex_lua=osm2pgsql-flex.lua")
  string(REPLACE "=" ";" kv "${pair}")
  list(GET kv 0 name)
  list(GET kv 1 file)
  file(READ "${DIR}/${file}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(APPEND body "const char ${name}[] = {${hex}0x00};\n")
endforeach()
file(WRITE "${OUT}.tmp" "${body}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
