/* usage.c - --help and --version. */
#include <hiredis/hiredis.h>
#include <libconfig.h>
#include <libpq-fe.h>
#include <libwebsockets.h>
#include <msgpack.h>
#include <openssl/crypto.h>
#include <stdio.h>

#include "cli.h"

const char tg_cli_usage[] =
    "usage: tickgate [--config FILE] [SUBCOMMAND [ARGS]]\n"
    "\n"
    "With no subcommand, run the gateway. Without --config it runs the embedded\n"
    "default: a synthetic feed over the bundled universe, demo portfolios, HTTP and\n"
    "WebSocket on 127.0.0.1:8080, and it prints a demo token and the dashboard URL.\n"
    "\n"
    "Subcommands:\n"
    "  token --sub USER [--ttl 15m] [--role ROLE]... [--portfolios a,b]\n"
    "                         mint an HS256 token with the configured secret\n"
    "  check-config           validate and print the effective config (secrets masked)\n"
    "  migrate                apply the SQL schema to postgres.url (idempotent)\n"
    "  replay --journal DIR [--speed N|max] [--from TS_NS] [--to TS_NS]\n"
    "         (--send HOST:PORT | --csv FILE)\n"
    "                         send journaled ticks to a tcp feed, or write them as CSV\n"
    "  replay --journal DIR --bars 1s|1m|5m|1h|1d --csv FILE [--from TS_NS] [--to TS_NS]\n"
    "                         exact OHLCV bars built from the journal's trades, as CSV\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE      configuration file (libconfig syntax)\n"
    "  -h, --help             this help\n"
    "  -V, --version          version and linked library versions\n"
    "\n"
    "Every setting can be overridden with TICKGATE_<SECTION>_<KEY> (see README).\n"
    "Exit codes: 0 clean, 1 runtime failure, 2 bad usage or invalid configuration.\n";

void tg_cli_version(void)
{
    printf("tickgate %s\n", TG_VERSION);
    printf("  libwebsockets %s\n", lws_get_library_version());
    printf("  openssl %s\n", OpenSSL_version(OPENSSL_VERSION_STRING));
    printf("  hiredis %d.%d.%d\n", HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
    printf("  libpq %d\n", PQlibVersion());
    printf("  msgpack-c %s\n", msgpack_version());
    printf("  liburing %s\n", TG_URING_VERSION);
    printf("  libconfig %d.%d.%d\n", LIBCONFIG_VER_MAJOR, LIBCONFIG_VER_MINOR,
           LIBCONFIG_VER_REVISION);
    printf("  jemalloc %s%s\n", TG_JEMALLOC_VERSION,
           TG_WITH_JEMALLOC ? "" : " (not linked: sanitizer build)");
}

