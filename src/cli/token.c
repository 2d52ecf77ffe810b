/* token.c - `tickgate token`: mint an HS256 token with the configured secret. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "tickgate/jwt.h"
#include "tickgate/log.h"


int tg_cli_token(const tg_config_t *cfg, int argc, char **argv)
{
    const char *sub = NULL, *ttl = "15m", *plist = NULL;
    const char *roles[16];
    size_t nroles = 0;
    static const struct option opts[] = {{"sub", required_argument, 0, 's'},
                                         {"ttl", required_argument, 0, 't'},
                                         {"role", required_argument, 0, 'r'},
                                         {"portfolios", required_argument, 0, 'p'},
                                         {0, 0, 0, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            sub = optarg;
            break;
        case 't':
            ttl = optarg;
            break;
        case 'r':
            if (nroles == 16) {
                fprintf(stderr, "tickgate token: at most 16 --role\n");
                return EXIT_USAGE;
            }
            roles[nroles++] = optarg;
            break;
        case 'p':
            plist = optarg;
            break;
        default:
            fprintf(stderr, "tickgate token: unknown option (see --help)\n");
            return EXIT_USAGE;
        }
    }
    if (!sub || !*sub) {
        fprintf(stderr, "tickgate token: --sub USER is required\n");
        return EXIT_USAGE;
    }
    int64_t ttl_s;
    if (tg_parse_duration_s(ttl, &ttl_s) != 0 || ttl_s <= 0) {
        fprintf(stderr, "tickgate token: --ttl: not a duration (e.g. 90, 30s, 15m, 24h, 2d): %s\n",
                ttl);
        return EXIT_USAGE;
    }
    if (strcmp(cfg->auth.jwt_alg, "HS256") != 0 || !cfg->auth.jwt_secret[0]) {
        fprintf(stderr, "tickgate token: auth.jwt_secret: needed to mint HS256 tokens (set it in "
                        "the config or TICKGATE_AUTH_JWT_SECRET)\n");
        return EXIT_USAGE;
    }
    char *plcopy = plist ? strdup(plist) : NULL;
    const char *ports[64];
    size_t nports = 0;
    char *save = NULL;
    for (char *p = plcopy ? strtok_r(plcopy, ",", &save) : NULL; p && nports < 64;
         p = strtok_r(NULL, ",", &save))
        ports[nports++] = p;
    char tok[TG_JWT_MAX_TOKEN];
    int64_t now = time(NULL);
    int n = tg_jwt_mint_hs256(cfg->auth.jwt_secret, strlen(cfg->auth.jwt_secret), sub, roles,
                              nroles, ports, nports, now, now + ttl_s, tok, sizeof tok);
    free(plcopy);
    if (n < 0) {
        fprintf(stderr, "tickgate token: cannot mint: %s\n", strerror(-n));
        return EXIT_USAGE;
    }
    printf("%s\n", tok);
    return 0;
}

