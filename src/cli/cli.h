/* cli.h - tickgate's subcommands (src/cli/): everything but running the daemon,
 * which main.c wires. Each returns the process exit code (SPEC §15): 0, 1 on a
 * runtime failure, EXIT_USAGE (2) on bad usage or configuration. */
#ifndef TICKGATE_CLI_H
#define TICKGATE_CLI_H

#include "tickgate/config.h"

#define EXIT_USAGE 2

extern const char tg_cli_usage[];
/** --version: ours and the linked libraries'. */
void tg_cli_version(void);
/** token --sub USER [--ttl 15m] [--role ROLE]... [--portfolios a,b] */
int tg_cli_token(const tg_config_t *cfg, int argc, char **argv);
/** check-config: the effective configuration, secrets masked, on stdout. */
int tg_cli_check_config(const tg_config_t *cfg, int argc, char **argv);
/** migrate: the SQL schema onto postgres.url. */
int tg_cli_migrate(const tg_config_t *cfg, int argc, char **argv);
/** replay --journal DIR ... (ticks to a tcp feed or CSV, or bars as CSV). */
int tg_cli_replay(const tg_config_t *cfg, int argc, char **argv);

#endif
