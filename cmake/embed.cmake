# Embed static files (web/, the demo portfolios) into the binary as C arrays,
# so `tickgate` with no arguments needs nothing installed next to it.
# Generates embedded_files.c with tg_embedded_files[] (see include/tickgate/embed.h).
function(tg_embed_files target)
  set(gen ${CMAKE_CURRENT_BINARY_DIR}/generated/embedded_files.c)
  file(GLOB_RECURSE web_files CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/web/*)
  list(FILTER web_files EXCLUDE REGEX "/(node_modules|tests?)/|package(-lock)?\\.json$")
  file(GLOB sql_files CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/deploy/sql/*.sql)
  set(files ${web_files} ${CMAKE_CURRENT_SOURCE_DIR}/deploy/demo-portfolios.json ${sql_files})
  # a ';' list would be split into separate arguments by add_custom_command
  string(REPLACE ";" "|" files_arg "${files}")
  add_custom_command(
    OUTPUT ${gen}
    COMMAND ${CMAKE_COMMAND} -DOUT=${gen} -DROOT=${CMAKE_CURRENT_SOURCE_DIR}
            "-DFILES=${files_arg}" -P ${CMAKE_CURRENT_SOURCE_DIR}/cmake/embed_gen.cmake
    DEPENDS ${files} ${CMAKE_CURRENT_SOURCE_DIR}/cmake/embed_gen.cmake
    COMMENT "Embedding web/ and demo portfolios"
    VERBATIM)
  target_sources(${target} PRIVATE ${gen})
endfunction()
