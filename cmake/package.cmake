# Debian package with CPack: `make package` (or `cpack -G DEB` in the build dir).
# Included from cmake/install.cmake. Maintainer scripts live in deploy/debian/.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tickgate)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "tickgate")
set(CPACK_PACKAGE_CONTACT "tickgate maintainers <tickgate@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "streaming market-data and portfolio gateway")
set(CPACK_PACKAGE_DESCRIPTION
    "tickgate ingests ticks from provider feeds behind circuit breakers, values portfolios\n\
exactly and incrementally per tick, and fans quotes, portfolio states and alerts out over\n\
WebSocket (JSON or MessagePack), with PostgreSQL snapshots, Redis fan-out and an io_uring\n\
journal. Includes tickgate-bench, a WebSocket load generator.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES OFF) # keep -g symbols: profiling and crash reports in production

set(CPACK_DEBIAN_PACKAGE_NAME tickgate)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # tickgate_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON) # dpkg-shlibdeps (dpkg-dev) computes the library deps
# adduser for the system user (postinst); tzdata for engine.session_tz (IANA zones).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, tzdata")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "postgresql, redis-server, prometheus")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_SOURCE_DIR}/deploy/debian/conffiles
    ${CMAKE_CURRENT_SOURCE_DIR}/deploy/debian/postinst
    ${CMAKE_CURRENT_SOURCE_DIR}/deploy/debian/prerm
    ${CMAKE_CURRENT_SOURCE_DIR}/deploy/debian/postrm)

# /etc/tickgate/tickgate.conf goes only into the package: a script run on CPack's staging
# directory after the install step adds it (a plain `cmake --install` stays in its prefix).
set(TG_CPACK_ETC_SCRIPT ${CMAKE_CURRENT_BINARY_DIR}/tg_cpack_etc.cmake)
file(WRITE ${TG_CPACK_ETC_SCRIPT}
     "file(COPY \"${CMAKE_CURRENT_SOURCE_DIR}/deploy/debian/tickgate.conf\"\n"
     "     DESTINATION \"\${CPACK_TEMPORARY_INSTALL_DIRECTORY}/etc/tickgate\"\n"
     "     FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)\n")
set(CPACK_PRE_BUILD_SCRIPTS ${TG_CPACK_ETC_SCRIPT})

include(CPack)
