# Install layout (`cmake --install BUILD [--prefix P]`), included last from CMakeLists.txt.
#
#   bin/tickgate, bin/tickgate-bench       the daemon and the load generator (when built)
#   share/tickgate/web/                    dashboard files (also embedded in the binary;
#                                          point server.web_root here to serve them from disk)
#   share/tickgate/sql/                    schema files (deploy/sql/), for `tickgate migrate`/DBAs
#   share/doc/tickgate/examples/           tickgate.conf (every key, documented),
#                                          tickgate.service.conf (the packaged /etc config),
#                                          tickgate.default (EnvironmentFile template)
#   share/man/man1/tickgate.1.gz           generated from `tickgate --help` (help2man)
#   lib/systemd/system/tickgate.service    the systemd unit
#
# /etc/tickgate/tickgate.conf is added only to the Debian package (cmake/package.cmake):
# a plain `cmake --install` never writes outside its prefix.
include(GNUInstallDirs)

install(TARGETS tickgate RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET tickgate-bench)
  install(TARGETS tickgate-bench RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

if(IS_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/web)
  install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/web/ DESTINATION ${CMAKE_INSTALL_DATADIR}/tickgate/web
          PATTERN node_modules EXCLUDE PATTERN tests EXCLUDE PATTERN test EXCLUDE
          PATTERN package.json EXCLUDE PATTERN package-lock.json EXCLUDE)
endif()
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/deploy/sql)
  install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/deploy/sql/ DESTINATION ${CMAKE_INSTALL_DATADIR}/tickgate/sql)
endif()

set(TG_DOC_EXAMPLES ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/deploy/tickgate.conf DESTINATION ${TG_DOC_EXAMPLES})
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/deploy/debian/tickgate.conf
        DESTINATION ${TG_DOC_EXAMPLES} RENAME tickgate.service.conf)
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/deploy/debian/tickgate.default DESTINATION ${TG_DOC_EXAMPLES})
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/deploy/systemd/tickgate.service
        DESTINATION lib/systemd/system)

# Man page from `tickgate --help` / `--version`. Skipped (with a note) without help2man;
# scripts/bootstrap.sh installs it.
find_program(TG_HELP2MAN help2man)
find_program(TG_GZIP gzip)
if(TG_HELP2MAN AND TG_GZIP)
  set(TG_MAN ${CMAKE_CURRENT_BINARY_DIR}/man/tickgate.1)
  add_custom_command(
    OUTPUT ${TG_MAN}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/man
    COMMAND ${TG_HELP2MAN} --no-info --section=1 --source=tickgate
            "--name=streaming market-data and portfolio gateway"
            --output=${TG_MAN} $<TARGET_FILE:tickgate>
    COMMAND ${TG_GZIP} -9nf ${TG_MAN}
    DEPENDS tickgate
    COMMENT "Generating tickgate.1 from tickgate --help")
  add_custom_target(tickgate-man ALL DEPENDS ${TG_MAN}.gz)
  install(FILES ${TG_MAN}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  message(STATUS "help2man not found: no man page (scripts/bootstrap.sh installs it)")
endif()

include(${CMAKE_CURRENT_LIST_DIR}/package.cmake)
