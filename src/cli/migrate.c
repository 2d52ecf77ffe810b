/* migrate.c - `tickgate migrate`: the SQL schema onto postgres.url (idempotent). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "tickgate/pg.h"


int tg_cli_migrate(const tg_config_t *cfg, int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr, "tickgate migrate: unexpected argument %s\n", argv[1]);
        return EXIT_USAGE;
    }
    char err[1024];
    int rc = tg_store_pg_migrate(cfg->postgres.url, stdout, err, sizeof err);
    if (rc) {
        fprintf(stderr, "tickgate migrate: %s\n", err);
        /* SPEC §15: an empty postgres.url is a configuration error (2), like a
         * bad key; an unreachable server or failed SQL is a runtime one (1) */
        return rc == -EINVAL ? EXIT_USAGE : 1;
    }
    return 0;
}

