/* replay.c - `tickgate replay`: journaled ticks to a tcp feed or CSV, or exact bars as CSV. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "tickgate/bars.h"
#include "tickgate/journal.h"
#include "tickgate/log.h"
#include "tickgate/replay.h"


int tg_cli_replay(const tg_config_t *cfg, int argc, char **argv)
{
    const char *journal = NULL, *speed = NULL, *send = NULL, *csv = NULL, *bars = NULL;
    int64_t from = 0, to = 0;
    static const struct option opts[] = {{"journal", required_argument, 0, 'j'},
                                         {"speed", required_argument, 0, 's'},
                                         {"from", required_argument, 0, 'f'},
                                         {"to", required_argument, 0, 't'},
                                         {"send", required_argument, 0, 'n'},
                                         {"csv", required_argument, 0, 'o'},
                                         {"bars", required_argument, 0, 'b'},
                                         {0, 0, 0, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'j':
            journal = optarg;
            break;
        case 's':
            speed = optarg;
            break;
        case 'f':
        case 't':
            errno = 0;
            long long v = strtoll(optarg, &end, 10);
            if (errno || !*optarg || *end || v < 0) {
                fprintf(stderr, "tickgate replay: --%s: not a timestamp in ns: %s\n",
                        c == 'f' ? "from" : "to", optarg);
                return EXIT_USAGE;
            }
            if (c == 'f')
                from = v;
            else
                to = v;
            break;
        case 'n':
            send = optarg;
            break;
        case 'o':
            csv = optarg;
            break;
        case 'b':
            bars = optarg;
            break;
        default:
            fprintf(stderr, "tickgate replay: unknown option (see --help)\n");
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tickgate replay: unexpected argument %s\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (!journal || !*journal) {
        fprintf(stderr, "tickgate replay: --journal DIR is required\n");
        return EXIT_USAGE;
    }
    if (!!send == !!csv) {
        fprintf(stderr, "tickgate replay: exactly one of --send HOST:PORT or --csv FILE\n");
        return EXIT_USAGE;
    }
    char err[512] = "";
    if (bars) { /* exact bars from the journal (SPEC §12) */
        tg_bar_iv_t iv;
        if (tg_bar_iv_parse(bars, strlen(bars), &iv) != 0 || !csv) {
            fprintf(stderr, "tickgate replay: --bars takes 1s, 1m, 5m, 1h or 1d, with --csv FILE\n");
            return EXIT_USAGE;
        }
        int rc = tg_bars_replay_csv(journal, iv, from, to, cfg->engine.tzdir, cfg->engine.session_open,
                                    cfg->engine.session_tz, csv, err, sizeof err);
        if (rc)
            fprintf(stderr, "tickgate replay: %s\n", err[0] ? err : strerror(-rc));
        return rc == 0 ? 0 : rc == -EINVAL ? EXIT_USAGE : 1;
    }
    int rc = tg_replay_run(journal, NULL, speed, from, to, send, csv, err, sizeof err);
    if (rc) {
        fprintf(stderr, "tickgate replay: %s\n", err[0] ? err : strerror(-rc));
        return rc == -EINVAL ? EXIT_USAGE : 1;
    }
    return 0;
}

