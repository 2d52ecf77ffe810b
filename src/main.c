/* main.c - tickgate: the command line's dispatch, and the wiring of the data flow
 * (the subcommands themselves are in src/cli/).
 *
 *   feeds (one thread each) --SPSC ring--> engine thread --SPSC ring per
 *   gateway thread--> gateway service threads (lws) --> WebSocket clients
 *
 * The main thread parses the command line, builds the configuration, starts
 * the pipeline from the consumer end (gateway, engine, then feeds), then waits
 * for signals; on SIGTERM/SIGINT it stops in the reverse order.
 */
#include <errno.h>
#include <liburing.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "tickgate/bus.h"
#include "tickgate/config.h"
#include "tickgate/engine.h"
#include "tickgate/feed.h"
#include "tickgate/gateway.h"
#include "tickgate/journal_writer.h"
#include "tickgate/log.h"
#include "tickgate/metrics.h"
#include "tickgate/redis.h"
#include "tickgate/bars.h"
#include "tickgate/webhook.h"
#include "tickgate/pg.h"

extern char **environ;

#define SHUTDOWN_GRACE_MS 2000
#define PG_FLUSH_GRACE_MS 1500 /* pending snapshots; the rest spills to journal.dir */
#define BUS_FLUSH_GRACE_MS 500 /* ingest node: bus entries not yet in Redis */

/* ---- the daemon ---- */

/*
 * SPEC §6 lists tickgate_io_uring_enabled and tickgate_journal_bytes_total
 * unconditionally: export them even without a journal. The gauge says whether
 * io_uring works here (a seccomp profile may refuse it); the journal and the
 * tcp feed overwrite it with what they actually use.
 */
static void export_io_uring(tg_metrics_t *m, const tg_config_t *cfg)
{
    struct io_uring ring;
    bool ok = !cfg->server.disable_io_uring && io_uring_queue_init(2, &ring, 0) == 0;
    if (ok)
        io_uring_queue_exit(&ring);
    tg_gauge_t *g = tg_metrics_gauge(m, "tickgate_io_uring_enabled", NULL,
                                     "1 when the journal writes through io_uring");
    if (g)
        tg_gauge_set(g, ok ? 1 : 0);
    tg_metrics_counter(m, "tickgate_journal_bytes_total", NULL,
                       "Bytes appended to the tick journal");
}

/*
 * SPEC §15: every §6 metric from the start, so that absent() rules and
 * dashboards work: the store metrics read 0 while a store is disabled (the
 * store registers the same series when it starts). tickgate_store_configured
 * tells a disabled store (0) from one that is down (the alert rules use it).
 */
static void export_store_metrics(tg_metrics_t *m, const tg_config_t *cfg)
{
    static const char *const tables[] = {"quote_snapshots", "portfolio_snapshots",
                                         "portfolio_alerts"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char label[64];
        snprintf(label, sizeof label, "table=\"%s\"", tables[i]);
        tg_metrics_counter(m, "tickgate_snapshot_rows_total", label,
                           "Rows written to PostgreSQL, by table");
    }
    tg_metrics_counter(m, "tickgate_snapshot_dropped_total", NULL,
                       "Snapshot rows dropped past postgres.max_buffer_rows");
    tg_metrics_gauge(m, "tickgate_snapshot_backlog", NULL,
                     "Rows waiting to be written to PostgreSQL");
    tg_metrics_gauge(m, "tickgate_postgres_up", NULL, "1 while PostgreSQL is connected");
    tg_metrics_gauge(m, "tickgate_redis_up", NULL, "1 while Redis is connected and answering in time");
    tg_gauge_t *pg = tg_metrics_gauge(m, "tickgate_store_configured", "store=\"postgres\"",
                                      "1 when the store is configured (its url is set)");
    tg_gauge_t *rd = tg_metrics_gauge(m, "tickgate_store_configured", "store=\"redis\"",
                                      "1 when the store is configured (its url is set)");
    if (pg)
        tg_gauge_set(pg, cfg->postgres.url[0] ? 1 : 0);
    if (rd)
        tg_gauge_set(rd, cfg->redis.url[0] ? 1 : 0);
}

/* ---- sinks: the engine's output wired to the stores (neither names the other) ---- */

static void journal_ticks(void *ctx, const tg_tick_t *t, size_t n)
{
    tg_journal_writer_push(ctx, t, n);
}

static void redis_ticks(void *ctx, const tg_tick_t *t, size_t n)
{
    tg_redis_push_ticks(ctx, t, n);
}

static size_t redis_alerts(void *ctx, const tg_snap_row_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tg_redis_push_alert(ctx, &rows[i]);
    return n;
}

static size_t pg_rows(void *ctx, const tg_snap_row_t *rows, size_t n)
{
    return tg_store_pg_push(ctx, rows, n);
}

typedef struct app {
    tg_config_t *cfg;
    tg_metrics_t *metrics;
    tg_jwt_verifier_t *jwt;
    tg_feed_t feeds[TG_MAX_FEEDS];
    size_t nfeeds;
    tg_engine_t *engine;
    tg_journal_writer_t *journal; /* NULL without journal.dir */
    tg_store_pg_t *pg;  /* NULL without postgres.url */
    tg_redis_t *redis;  /* NULL without redis.url */
    tg_bus_pub_t *bus_pub; /* node.role ingest: engine output -> cluster bus */
    tg_bus_sub_t *bus;     /* node.role gateway: cluster bus -> service threads (no engine) */
    tg_webhook_t *webhook; /* NULL without alerts.webhook_url / alertmanager_url */
    tg_gateway_t *gateway;
    const char *config_path;
    char demo_token[TG_JWT_MAX_TOKEN];
} app_t;

/* Embedded default: a random secret for this run, and a demo token for `demo`. */
static int embedded_secret(app_t *a)
{
    unsigned char rnd[32];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return -EIO;
    char hex[65];
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    free(a->cfg->auth.jwt_secret);
    a->cfg->auth.jwt_secret = strdup(hex);
    if (!a->cfg->auth.jwt_secret)
        return -ENOMEM;
    const char *roles[] = {"admin"};
    int64_t now = time(NULL);
    int n = tg_jwt_mint_hs256(hex, strlen(hex), "demo", roles, 1, NULL, 0, now, now + 86400,
                              a->demo_token, sizeof a->demo_token);
    return n < 0 ? n : 0;
}

/*
 * SIGHUP: re-read the config file for the log settings, the alerts thresholds
 * and the limits (SPEC §15), and have the engine reload the portfolios file;
 * connections are untouched.
 */
static void reload(app_t *a)
{
    tg_config_t fresh;
    char err[512];
    bool ok = false;
    if (a->config_path && tg_config_load(&fresh, a->config_path, environ, err, sizeof err) != 0) {
        TG_WARN("config_reload_failed", "error", TG_S(err));
    } else {
        const tg_config_t *c = a->config_path ? &fresh : a->cfg;
        tg_log_set_level(c->log.level);
        tg_log_set_format(c->log.format);
        ok = a->config_path != NULL;
    }
    /* alerts thresholds and portfolio_max_hz go with the portfolios to the
     * engine thread, limits to each gateway thread: both copy what they keep */
    if (a->engine) /* a gateway node has no portfolios or alert rules of its own */
        tg_engine_reload(a->engine, ok ? &fresh : NULL);
    if (ok)
        tg_gateway_set_limits(a->gateway, &fresh.limits);
    if (a->config_path)
        tg_config_free(&fresh);
    TG_INFO("config_reloaded", "what",
            TG_S(ok ? "log settings, alerts, limits, portfolios" : "log level, portfolios"));
}

static int run_daemon(tg_config_t *cfg, const char *config_path)
{
    app_t a = {.cfg = cfg, .config_path = config_path};
    int rc, exit_code = 1;

    /* Signals are taken synchronously by this thread only (sigwaitinfo):
     * block them before any thread starts so every thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (cfg->embedded_default && (rc = embedded_secret(&a)) != 0) {
        TG_ERROR("startup_failed", "error", TG_S("cannot create the demo secret"));
        return 1;
    }
    rc = tg_jwt_verifier_create(&a.jwt, cfg->auth.jwt_alg, cfg->auth.jwt_secret,
                                strlen(cfg->auth.jwt_secret), cfg->auth.jwt_public_key,
                                cfg->auth.leeway_s);
    if (rc) {
        fprintf(stderr, "tickgate: auth: cannot build the token verifier (%s): set "
                        "auth.jwt_secret (HS256) or auth.jwt_public_key (RS256)\n",
                strerror(rc == -ENOENT ? ENOENT : EINVAL));
        return EXIT_USAGE;
    }
    if ((rc = tg_metrics_create(&a.metrics)) != 0)
        goto out;
    export_io_uring(a.metrics, cfg);
    export_store_metrics(a.metrics, cfg);

    /* SPEC §14: a gateway node takes the engine's output from the bus instead */
    bool gateway_node = strcmp(cfg->node.role, "gateway") == 0;
    bool ingest_node = strcmp(cfg->node.role, "ingest") == 0;
    {
        char label[32];
        snprintf(label, sizeof label, "role=\"%s\"", cfg->node.role);
        tg_gauge_t *role = tg_metrics_gauge(a.metrics, "tickgate_node_role", label,
                                            "This node's node.role (always 1)");
        if (role)
            tg_gauge_set(role, 1);
    }
    if (gateway_node) {
        if ((rc = tg_bus_sub_create(&a.bus, cfg, a.metrics)) != 0)
            goto out;
        goto stores;
    }

    /* feeds -> engine -> gateway: build from the producers, start from the consumers */
    for (size_t i = 0; i < cfg->n_feeds; i++) {
        rc = tg_feed_init(&a.feeds[i], cfg, (uint16_t)i, 65536, a.metrics, tg_engine_wake, NULL);
        if (rc) {
            TG_ERROR("startup_failed", "feed", TG_S(cfg->feeds[i].name), "error",
                     TG_S(strerror(-rc)));
            goto out;
        }
        a.nfeeds++;
    }
    char err[512];
    if ((rc = tg_engine_create(&a.engine, cfg, a.feeds, a.nfeeds, a.metrics, err, sizeof err)) != 0) {
        fprintf(stderr, "tickgate: %s\n", err);
        if (rc == -EINVAL || rc == -ENOENT)
            exit_code = EXIT_USAGE;
        goto out;
    }
    for (size_t i = 0; i < a.nfeeds; i++)
        a.feeds[i].wake_arg = a.engine;
    /* the journal thread, after the engine restored the last quotes from it */
    if (cfg->journal.dir[0] && (rc = tg_journal_writer_start(&a.journal, cfg, a.metrics)) != 0) {
        fprintf(stderr, "tickgate: journal.dir: cannot use %s: %s\n", cfg->journal.dir,
                strerror(-rc));
        if (rc == -EINVAL || rc == -ENOENT)
            exit_code = EXIT_USAGE;
        goto out;
    }
    /* persistence: both connect in the background, so a server that is down
     * at start delays nothing (SPEC §7: keep serving) */
    tg_portfolio_sink_t to_engine = tg_engine_portfolio_sink(a.engine);
    if (cfg->postgres.url[0] && (rc = tg_store_pg_start(&a.pg, cfg, &to_engine, a.metrics)) != 0)
        goto out;
    if (ingest_node && (rc = tg_bus_pub_create(&a.bus_pub, cfg, a.metrics)) != 0)
        goto out;
stores:
    if (cfg->redis.url[0] && (rc = tg_redis_start(&a.redis, cfg, a.metrics)) != 0) {
        fprintf(stderr, "tickgate: redis.url: cannot use it: %s\n", strerror(-rc));
        if (rc == -EINVAL)
            exit_code = EXIT_USAGE;
        goto out;
    }
    tg_engine_sinks_t sinks = {0};
    if (a.journal)
        sinks.journal = (tg_tick_sink_t){.push = journal_ticks, .ctx = a.journal};
    if (a.redis) {
        sinks.ticks = (tg_tick_sink_t){.push = redis_ticks, .ctx = a.redis};
        sinks.alerts = (tg_row_sink_t){.push = redis_alerts, .ctx = a.redis};
    }
    if (a.pg)
        sinks.snapshots = (tg_row_sink_t){.push = pg_rows, .ctx = a.pg};
    /* alert delivery: metrics exported from start even when it is off; a gateway
     * node has no engine, so no alerts of its own to deliver */
    if ((rc = tg_webhook_start(&a.webhook, cfg, a.metrics)) != 0) {
        fprintf(stderr, "tickgate: alerts.webhook_url: cannot start delivery: %s\n",
                strerror(-rc));
        goto out;
    }
    if (a.webhook)
        sinks.deliver = (tg_msg_sink_t){.push = tg_webhook_push, .flush = tg_webhook_flush,
                                        .ctx = a.webhook};
    if (a.engine)
        tg_engine_set_sinks(a.engine, &sinks);
    /* portfolios from PostgreSQL before the first client (bounded: connect_timeout) */
    if (a.pg)
        tg_store_pg_wait_first(a.pg, 5000);
    /* the day state without journal.dir: PostgreSQL's day_state, before the
     * feeds run and before the gateways (restored quotes go out as early messages) */
    if (a.engine && a.pg) {
        tg_daystate_source_t days = {.load = tg_store_pg_daystate_load, .ctx = a.pg};
        tg_engine_load_daystate(a.engine, &days);
    }
    tg_gateway_deps_t deps = {
        .cfg = cfg,
        .engine = a.engine,
        .feeds = a.feeds,
        .nfeeds = a.nfeeds,
        .metrics = a.metrics,
        .jwt = a.jwt,
        .demo_token = cfg->embedded_default ? a.demo_token : NULL,
        .pg = a.pg,
        .redis = a.redis,
        /* with PostgreSQL, API edits go to the system of record; NOTIFY applies them */
        .portfolio_write = a.pg ? tg_store_pg_portfolio_write : NULL,
        .portfolio_write_ctx = a.pg,
        /* the alerts API's history (SPEC §13); also on a gateway node, which
         * reads PostgreSQL without writing it */
        .alerts_read = cfg->postgres.url[0] ? tg_store_pg_alerts_read : NULL,
        .alerts_read_ctx = (void *)cfg->postgres.url,
        .bus = a.bus,
        .bus_pub = a.bus_pub,
    };
    if ((rc = tg_gateway_create(&a.gateway, &deps)) != 0) {
        TG_ERROR("startup_failed", "listen", TG_S(cfg->server.listen), "error",
                 TG_S(strerror(-rc)));
        goto out;
    }
    /* the publisher is one more engine output; it publishes this node's epoch */
    if (a.bus_pub && (rc = tg_engine_add_output(a.engine, tg_bus_pub_ring(a.bus_pub),
                                                tg_bus_pub_wake, a.bus_pub)) != 0)
        goto out;
    if (a.bus_pub && (rc = tg_bus_pub_start(a.bus_pub, tg_gateway_epoch(a.gateway))) != 0)
        goto out;
    if ((rc = tg_gateway_start(a.gateway)) != 0)
        goto out;
    if (a.engine ? (rc = tg_engine_start(a.engine)) != 0 : (rc = tg_bus_sub_start(a.bus)) != 0)
        goto out;
    for (size_t i = 0; i < a.nfeeds; i++)
        if ((rc = tg_feed_start(&a.feeds[i])) != 0)
            goto out;

    TG_INFO("startup", "version", TG_S(TG_VERSION), "listen", TG_S(cfg->server.listen), "port",
            TG_I(tg_gateway_port(a.gateway)), "feeds", TG_I(a.nfeeds), "role",
            TG_S(cfg->node.role), "epoch", TG_S(tg_gateway_epoch(a.gateway)));
    if (cfg->embedded_default) {
        char host[256];
        int port;
        tg_parse_hostport(cfg->server.listen, host, sizeof host, &port);
        printf("tickgate %s: embedded default (synthetic feed, demo portfolios)\n", TG_VERSION);
        printf("dashboard: http://%s:%d/\n", host, tg_gateway_port(a.gateway));
        printf("websocket: ws://%s:%d/ws\n", host, tg_gateway_port(a.gateway));
        printf("demo token (sub demo, admin, 24 h, this run only):\n%s\n", a.demo_token);
        fflush(stdout);
    }

    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&sigs, &si);
        if (sig == SIGHUP) {
            reload(&a);
            continue;
        }
        if (sig == SIGINT || sig == SIGTERM) {
            TG_INFO("shutdown", "signal", TG_S(sig == SIGINT ? "SIGINT" : "SIGTERM"));
            break;
        }
    }
    exit_code = 0;
out:
    if (exit_code != 0 && rc)
        TG_ERROR("startup_failed", "error", TG_S(strerror(rc < 0 ? -rc : rc)));
    /* stop in reverse: clients first (close 1001), then producers, then the engine */
    tg_gateway_shutdown(a.gateway, SHUTDOWN_GRACE_MS);
    for (size_t i = 0; i < a.nfeeds; i++)
        tg_feed_stop(&a.feeds[i]);
    tg_engine_stop(a.engine);
    tg_journal_writer_stop(a.journal); /* the engine was its only producer */
    tg_bus_sub_stop(a.bus);
    /* after the engine: what it published still goes out (bounded) */
    tg_bus_pub_stop(a.bus_pub, BUS_FLUSH_GRACE_MS);
    /* after the engine (no more rows), before it is freed (NOTIFY puts) */
    tg_store_pg_stop(a.pg, PG_FLUSH_GRACE_MS);
    tg_redis_stop(a.redis);
    tg_webhook_stop(a.webhook); /* undelivered events stay in journal.dir */
    tg_gateway_destroy(a.gateway);
    tg_engine_destroy(a.engine);
    tg_bus_sub_destroy(a.bus);
    for (size_t i = 0; i < a.nfeeds; i++)
        tg_feed_destroy(&a.feeds[i]);
    tg_metrics_destroy(a.metrics);
    tg_jwt_verifier_free(a.jwt);
    return exit_code;
}

/* ---- dispatch ---- */

/* The subcommands in src/cli/ (`run`, the default, is the daemon above): each
 * gets the loaded configuration and argv from its own name on. */
typedef int (*cli_fn)(const tg_config_t *cfg, int argc, char **argv);
static const struct {
    const char *name;
    cli_fn fn;
} subcommands[] = {
    {"token", tg_cli_token},
    {"check-config", tg_cli_check_config},
    {"migrate", tg_cli_migrate},
    {"replay", tg_cli_replay},
};

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    /* Global options may come before or after the subcommand: pull --config,
     * --help and --version out of argv wherever they are, leaving the rest. */
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0;
    if (!rest)
        return 1;
    rest[nrest++] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(tg_cli_usage, stdout);
            free(rest);
            return 0;
        }
        if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
            tg_cli_version();
            free(rest);
            return 0;
        }
        if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "tickgate: %s needs a FILE\n", a);
                free(rest);
                return EXIT_USAGE;
            }
            config_path = argv[++i];
            continue;
        }
        if (!strncmp(a, "--config=", 9)) {
            config_path = a + 9;
            continue;
        }
        rest[nrest++] = argv[i];
    }
    const char *sub = nrest > 1 ? rest[1] : NULL;
    if (sub && sub[0] == '-') {
        fprintf(stderr, "tickgate: unknown option %s (see --help)\n", sub);
        free(rest);
        return EXIT_USAGE;
    }
    cli_fn cli = NULL;
    for (size_t i = 0; sub && i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (!strcmp(sub, subcommands[i].name))
            cli = subcommands[i].fn;
    if (sub && !cli && strcmp(sub, "run")) {
        fprintf(stderr, "tickgate: unknown subcommand %s (see --help)\n", sub);
        free(rest);
        return EXIT_USAGE;
    }

    tg_config_t cfg;
    char err[512];
    int rc = tg_config_load(&cfg, config_path, environ, err, sizeof err);
    if (rc) {
        fprintf(stderr, "tickgate: invalid configuration: %s\n", err);
        tg_config_free(&cfg);
        free(rest);
        return EXIT_USAGE;
    }
    tg_log_set_level(cfg.log.level);
    tg_log_set_format(cfg.log.format);

    int code;
    if (!sub || !strcmp(sub, "run")) {
        if (sub && nrest > 2) {
            fprintf(stderr, "tickgate run: unexpected argument %s\n", rest[2]);
            code = EXIT_USAGE;
        } else {
            code = run_daemon(&cfg, config_path);
        }
    } else {
        code = cli(&cfg, nrest - 1, rest + 1);
    }
    tg_config_free(&cfg);
    free(rest);
    return code;
}
