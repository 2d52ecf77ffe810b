/* check_config.c - `tickgate check-config`: the effective configuration (file,
 * environment and defaults merged; secrets masked) on stdout. Loading it is
 * the check: main.c has already exited 2 with the reason if it is invalid. */
#include <stdio.h>

#include "cli.h"

int tg_cli_check_config(const tg_config_t *cfg, int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr, "tickgate check-config: unexpected argument %s\n", argv[1]);
        return EXIT_USAGE;
    }
    tg_config_print(cfg, stdout);
    return 0;
}
