/* test_config.c - configuration loading (SPEC §2): good files, every error
 * class with its exact message, environment overrides, decimals, masking.
 *
 * Config files are written into a mkdtemp directory removed at the end.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tickgate/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg_test.h"

#ifndef TG_SOURCE_DIR
#define TG_SOURCE_DIR "."
#endif

static char g_dir[64];

static const char *tmpdir(void)
{
    if (!g_dir[0]) {
        strcpy(g_dir, "/tmp/tg_config_XXXXXX");
        if (!mkdtemp(g_dir)) {
            perror("mkdtemp");
            exit(1);
        }
    }
    return g_dir;
}

/* Write `text` to <tmpdir>/<name> and return the path in buf. */
static const char *write_conf(char *buf, size_t n, const char *name, const char *text)
{
    snprintf(buf, n, "%s/%s", tmpdir(), name);
    FILE *f = fopen(buf, "w");
    if (!f) {
        perror(buf);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
    return buf;
}

static int load_text(tg_config_t *cfg, const char *text, char **envp, char *err, size_t errlen)
{
    char path[256];
    write_conf(path, sizeof path, "t.conf", text);
    int rc = tg_config_load(cfg, path, envp, err, errlen);
    unlink(path);
    return rc;
}

static char *no_env[] = {NULL};

/* Expect `text` (with `envp`) to fail with exactly `want` as the message. */
#define EXPECT_ERR(text, envp, want)                                                               \
    do {                                                                                           \
        tg_config_t _c;                                                                            \
        char _e[512] = "";                                                                         \
        int _rc = load_text(&_c, (text), (envp), _e, sizeof _e);                                   \
        TG_CHECK_EQ_INT(_rc, -EINVAL);                                                             \
        TG_CHECK_EQ_STR(_e, (want));                                                               \
        tg_config_free(&_c);                                                                       \
    } while (0)

/* Same, with the message's "<path>" part replaced by the temp file path. */
#define EXPECT_FILE_ERR(text, suffix)                                                              \
    do {                                                                                           \
        char _want[512];                                                                           \
        snprintf(_want, sizeof _want, "%s/t.conf%s", tmpdir(), (suffix));                          \
        EXPECT_ERR((text), no_env, _want);                                                         \
    } while (0)

#define OK_LOAD(cfg, text, envp)                                                                   \
    do {                                                                                           \
        char _e[512] = "";                                                                         \
        int _rc = load_text((cfg), (text), (envp), _e, sizeof _e);                                 \
        TG_CHECK_EQ_INT(_rc, 0);                                                                   \
        if (_rc)                                                                                   \
            fprintf(stderr, "  unexpected error: %s\n", _e);                                       \
    } while (0)

static char *print_to_string(const tg_config_t *cfg)
{
    char *s = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&s, &n);
    if (!m)
        return NULL;
    tg_config_print(cfg, m);
    fclose(m);
    return s;
}

/* ---- good configurations ----------------------------------------------- */

static void check_defaults(const tg_config_t *c)
{
    TG_CHECK_EQ_STR(c->server.listen, "127.0.0.1:8080");
    TG_CHECK_EQ_INT(c->server.threads, 1);
    TG_CHECK_EQ_STR(c->server.tls_cert, "");
    TG_CHECK_EQ_STR(c->server.tls_key, "");
    TG_CHECK(!c->server.compression);
    TG_CHECK_EQ_INT(c->server.trusted_proxies.n, 0);
    TG_CHECK_EQ_STR(c->auth.jwt_alg, "HS256");
    TG_CHECK_EQ_STR(c->auth.jwt_secret, "");
    TG_CHECK_EQ_INT(c->auth.leeway_s, 5);
    TG_CHECK_EQ_INT(c->auth.auth_timeout_ms, 5000);
    TG_CHECK_EQ_INT(c->limits.max_message_bytes, 65536);
    TG_CHECK_EQ_INT(c->limits.msgs_per_s, 50);
    TG_CHECK_EQ_INT(c->limits.burst, 100);
    TG_CHECK_EQ_INT(c->limits.max_subscriptions, 1000);
    TG_CHECK_EQ_INT(c->limits.max_conns_per_ip, 10000);
    TG_CHECK_EQ_INT(c->limits.max_pending_bytes, 4194304);
    TG_CHECK_EQ_INT(c->limits.max_stall_ms, 10000);
    TG_CHECK_EQ_INT(c->limits.history_size, 1000);
    TG_CHECK_EQ_INT(c->limits.history_max_bytes, 268435456);
    TG_CHECK_EQ_INT(c->limits.portfolio_max_hz, 10);
    TG_CHECK_EQ_INT(c->limits.http_per_min, 60);
    TG_CHECK_EQ_STR(c->engine.portfolios_file, "");
    TG_CHECK_EQ_STR(c->engine.session_open, "00:00");
    TG_CHECK_EQ_STR(c->engine.session_tz, "UTC");
    TG_CHECK_EQ_INT(c->engine.max_jump_pct, 0);
    TG_CHECK_EQ_INT(c->engine.universe.n, 0);
    TG_CHECK_EQ_INT(c->engine.max_symbols, 100000);
    TG_CHECK_EQ_INT(c->engine.bars_keep, 1440);
    TG_CHECK_EQ_INT(c->engine.bar_grace_ms, 1000);
    TG_CHECK_EQ_INT(c->alerts.rebalance_drift, 5000000);
    TG_CHECK_EQ_INT(c->alerts.drift_relative, 0);
    TG_CHECK_EQ_INT(c->alerts.loss_limit, 10000000);
    TG_CHECK_EQ_INT(c->alerts.gain_target, 20000000);
    TG_CHECK_EQ_INT(c->alerts.hysteresis, 10000000);
    TG_CHECK_EQ_INT(c->alerts.price_hysteresis, 100000);
    TG_CHECK_EQ_STR(c->alerts.webhook_url, "");
    TG_CHECK_EQ_STR(c->postgres.url, "");
    TG_CHECK_EQ_INT(c->postgres.snapshot_interval_ms, 1000);
    TG_CHECK_EQ_INT(c->postgres.holdings_interval_ms, 60000);
    TG_CHECK_EQ_INT(c->postgres.max_buffer_rows, 1000000);
    TG_CHECK_EQ_INT(c->postgres.retention_days, 0);
    TG_CHECK_EQ_STR(c->redis.url, "");
    TG_CHECK(!c->redis.publish);
    TG_CHECK_EQ_STR(c->redis.publish_channel, "tickgate:ticks");
    TG_CHECK_EQ_INT(c->redis.command_timeout_ms, 250);
    TG_CHECK_EQ_STR(c->journal.dir, "");
    TG_CHECK_EQ_INT(c->journal.segment_bytes, 67108864);
    TG_CHECK_EQ_INT(c->journal.max_bytes, 0);
    TG_CHECK_EQ_STR(c->journal.fsync, "interval");
    TG_CHECK_EQ_INT(c->journal.fsync_interval_ms, 100);
    TG_CHECK_EQ_STR(c->log.level, "info");
    TG_CHECK_EQ_STR(c->log.format, "json");
}

static void check_breaker_defaults(const tg_breaker_conf_t *b)
{
    TG_CHECK_EQ_INT(b->window, 20);
    TG_CHECK_EQ_INT(b->min_calls, 5);
    TG_CHECK_EQ_INT(b->failure_rate_threshold, 50000000);
    TG_CHECK_EQ_INT(b->stale_after_ms, 5000);
    TG_CHECK_EQ_INT(b->open_wait_ms, 1000);
    TG_CHECK_EQ_INT(b->open_wait_max_ms, 30000);
    TG_CHECK_EQ_INT(b->half_open_successes, 3);
    TG_CHECK_EQ_INT(b->half_open_max_wait_ms, 5000);
}

TG_TEST(defaults_match_spec)
{
    tg_config_t c;
    TG_CHECK_EQ_INT(tg_config_defaults(&c), 0);
    check_defaults(&c);
    TG_CHECK_EQ_INT(c.n_feeds, 0);
    TG_CHECK(!c.embedded_default);
    tg_config_free(&c);
    tg_config_free(&c); /* idempotent */
    tg_config_free(NULL);
}

TG_TEST(embedded_default)
{
    tg_config_t c;
    char err[256];
    TG_CHECK_EQ_INT(tg_config_load(&c, NULL, no_env, err, sizeof err), 0);
    TG_CHECK(c.embedded_default);
    check_defaults(&c);
    TG_CHECK_EQ_INT(c.n_feeds, 1);
    TG_CHECK_EQ_STR(c.feeds[0].name, "synthetic");
    TG_CHECK_EQ_INT(c.feeds[0].type, TG_FEED_SYNTHETIC);
    TG_CHECK_EQ_INT(c.feeds[0].priority, 0);
    TG_CHECK_EQ_INT(c.feeds[0].rate, 1000);
    TG_CHECK_EQ_INT(c.feeds[0].seed, 42);
    check_breaker_defaults(&c.feeds[0].breaker);
    TG_CHECK(tg_default_universe_len >= 50);
    TG_CHECK_EQ_INT(c.feeds[0].symbols.n, tg_default_universe_len);
    for (size_t i = 0; i < tg_default_universe_len; i++) {
        TG_CHECK(strlen(tg_default_universe[i]) >= 1 && strlen(tg_default_universe[i]) <= 31);
        for (size_t j = 0; j < i; j++)
            TG_CHECK(strcmp(tg_default_universe[i], tg_default_universe[j]) != 0);
    }
    TG_CHECK_EQ_STR(c.feeds[0].symbols.v[0], "AAPL");
    tg_config_free(&c);

    /* environment overrides still apply */
    char *env[] = {"TICKGATE_FEEDS_SYNTHETIC_RATE=5", "TICKGATE_SERVER_LISTEN=0.0.0.0:9000", NULL};
    TG_CHECK_EQ_INT(tg_config_load(&c, NULL, env, err, sizeof err), 0);
    TG_CHECK_EQ_INT(c.feeds[0].rate, 5);
    TG_CHECK_EQ_STR(c.server.listen, "0.0.0.0:9000");
    tg_config_free(&c);
}

TG_TEST(empty_file)
{
    tg_config_t c;
    OK_LOAD(&c, "", no_env);
    check_defaults(&c);
    TG_CHECK_EQ_INT(c.n_feeds, 0);
    TG_CHECK(!c.embedded_default);
    tg_config_free(&c);
    OK_LOAD(&c, "# only a comment\n\n", no_env);
    tg_config_free(&c);
}

TG_TEST(minimal_file)
{
    tg_config_t c;
    OK_LOAD(&c,
            "server = { listen = \"[::1]:9000\"; };\n"
            "feeds = ( { name = \"s\"; type = \"synthetic\"; } );\n",
            no_env);
    TG_CHECK_EQ_STR(c.server.listen, "[::1]:9000");
    TG_CHECK_EQ_INT(c.server.threads, 1);
    TG_CHECK_EQ_INT(c.n_feeds, 1);
    TG_CHECK_EQ_STR(c.feeds[0].name, "s");
    TG_CHECK_EQ_INT(c.feeds[0].rate, 1000);
    TG_CHECK_EQ_INT(c.feeds[0].seed, 42);
    TG_CHECK_EQ_INT(c.feeds[0].symbols.n, 0);
    check_breaker_defaults(&c.feeds[0].breaker);
    tg_config_free(&c);
}

TG_TEST(deploy_example_loads)
{
    tg_config_t c;
    char err[512] = "";
    int rc = tg_config_load(&c, TG_SOURCE_DIR "/deploy/tickgate.conf", no_env, err, sizeof err);
    TG_CHECK_EQ_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "  %s\n", err);
        return;
    }
    check_defaults(&c);
    TG_CHECK_EQ_INT(c.n_feeds, 5);
    const tg_feed_conf_t *ws = &c.feeds[0];
    TG_CHECK_EQ_STR(ws->name, "primary");
    TG_CHECK_EQ_INT(ws->type, TG_FEED_WS);
    TG_CHECK_EQ_STR(ws->url, "wss://example.invalid/stream");
    TG_CHECK_EQ_STR(ws->format, "finnhub");
    TG_CHECK_EQ_INT(ws->subscribe.n, 1);
    TG_CHECK_EQ_STR(ws->subscribe.v[0], "{\"type\":\"subscribe\",\"symbol\":\"AAPL\"}");
    TG_CHECK_EQ_INT(ws->symbols.n, 2);
    TG_CHECK_EQ_INT(ws->map_from.n, 1);
    TG_CHECK_EQ_INT(ws->map_to.n, 1);
    TG_CHECK_EQ_STR(ws->map_from.v[0], "BINANCE:BTCUSDT");
    TG_CHECK_EQ_STR(ws->map_to.v[0], "BTCUSDT");
    check_breaker_defaults(&ws->breaker);
    TG_CHECK_EQ_INT(c.feeds[1].type, TG_FEED_SYNTHETIC);
    TG_CHECK_EQ_INT(c.feeds[1].priority, 1);
    TG_CHECK_EQ_INT(c.feeds[2].type, TG_FEED_REPLAY);
    TG_CHECK_EQ_STR(c.feeds[2].path, "ticks.csv");
    TG_CHECK_EQ_INT(c.feeds[2].speed, 0); /* "max" */
    TG_CHECK(!c.feeds[2].loop);
    TG_CHECK_EQ_INT(c.feeds[3].type, TG_FEED_TCP);
    TG_CHECK_EQ_STR(c.feeds[3].listen, "127.0.0.1:9001");
    TG_CHECK_EQ_STR(c.feeds[3].connect, "");
    TG_CHECK_EQ_INT(c.feeds[4].type, TG_FEED_REDIS);
    TG_CHECK_EQ_STR(c.feeds[4].channel, "tickgate:ticks");

    /* the printout reads back to the same configuration */
    char *p1 = print_to_string(&c);
    tg_config_free(&c);
    TG_CHECK(p1 != NULL);
    if (!p1)
        return;
    tg_config_t c2;
    OK_LOAD(&c2, p1, no_env);
    char *p2 = print_to_string(&c2);
    TG_CHECK_EQ_STR(p1, p2);
    tg_config_free(&c2);
    free(p1);
    free(p2);
}

TG_TEST(every_value_set)
{
    tg_config_t c;
    OK_LOAD(&c,
            "server = { listen = \"localhost:9001\"; threads = 4;\n"
            "  tls = { cert = \"/c.pem\"; key = \"/k.pem\"; }; web_root = \"/www\";\n"
            "  compression = true; metrics_listen = \"0.0.0.0:9100\";\n"
            "  trusted_proxies = [ \"10.0.0.0/8\", \"::1\", \"192.168.1.1\" ]; };\n"
            "auth = { jwt_alg = \"RS256\"; jwt_public_key = \"/pub.pem\"; leeway_s = 0; };\n"
            "limits = { history_max_bytes = 8589934592; max_pending_bytes = 8589934592L; };\n"
            "engine = { session_open = \"09:30\"; session_tz = \"America/New_York\";\n"
            "  universe = [ \"AAPL\", \"BRK.B\" ]; max_jump_pct = 10; };\n"
            "postgres = { url = \"postgres://u:p@h/db\"; retention_days = 30; };\n"
            "redis = { url = \"unix:///run/redis.sock\"; publish = true; };\n"
            "journal = { dir = \"/var/lib/tg\"; fsync = \"always\"; max_bytes = 0x100000000; };\n"
            "log = { level = \"debug\"; format = \"text\"; };\n"
            "feeds = ( { name = \"t\"; type = \"tcp\"; connect = \"feed.example:7000\"; },\n"
            "          { name = \"r\"; type = \"replay\"; path = \"/x.csv\"; speed = 2.5; loop = true; },\n"
            "          { name = \"b\"; type = \"redis\"; stream = \"ticks\"; channel = \"\"; } );\n",
            no_env);
    TG_CHECK_EQ_STR(c.server.listen, "localhost:9001");
    TG_CHECK_EQ_INT(c.server.threads, 4);
    TG_CHECK_EQ_STR(c.server.tls_cert, "/c.pem");
    TG_CHECK_EQ_STR(c.server.tls_key, "/k.pem");
    TG_CHECK(c.server.compression);
    TG_CHECK_EQ_INT(c.server.trusted_proxies.n, 3);
    TG_CHECK_EQ_STR(c.auth.jwt_alg, "RS256");
    TG_CHECK_EQ_INT(c.auth.leeway_s, 0);
    TG_CHECK_EQ_INT(c.limits.history_max_bytes, 8589934592LL);
    TG_CHECK_EQ_INT(c.limits.max_pending_bytes, 8589934592LL);
    TG_CHECK_EQ_INT(c.engine.max_jump_pct, TG_DEC(10));
    TG_CHECK_EQ_STR(c.engine.universe.v[1], "BRK.B");
    TG_CHECK(c.redis.publish);
    TG_CHECK_EQ_INT(c.journal.max_bytes, 4294967296LL);
    TG_CHECK_EQ_STR(c.log.level, "debug");
    TG_CHECK_EQ_STR(c.feeds[0].connect, "feed.example:7000");
    TG_CHECK_EQ_INT(c.feeds[1].speed, 250000000);
    TG_CHECK(c.feeds[1].loop);
    TG_CHECK_EQ_STR(c.feeds[2].stream, "ticks");
    tg_config_free(&c);
}

/* ---- errors ------------------------------------------------------------ */

TG_TEST(errors_unknown_keys)
{
    EXPECT_ERR("server = { listn = \"x:1\"; };", no_env, "server.listn: unknown key");
    EXPECT_ERR("servr = { };", no_env, "servr: unknown section");
    EXPECT_ERR("server = { tls = { crt = \"x\"; }; };", no_env, "server.tls.crt: unknown key");
    EXPECT_ERR("feeds = ( { name = \"a\"; type = \"synthetic\"; foo = 1; } );", no_env,
               "feeds[0].foo: unknown key");
    EXPECT_ERR("feeds = ( { name = \"a\"; type = \"synthetic\"; breaker = { windw = 1; }; } );",
               no_env, "feeds[0].breaker.windw: unknown key");
    /* a key of another feed type */
    EXPECT_ERR("feeds = ( { name = \"a\"; type = \"synthetic\"; url = \"ws://x/\"; } );", no_env,
               "feeds[0].url: not valid for a synthetic feed");
    EXPECT_ERR("feeds = ( { name = \"a\"; type = \"ws\"; url = \"ws://x/\"; format = \"finnhub\";"
               " rate = 5; } );",
               no_env, "feeds[0].rate: not valid for a ws feed");
}

TG_TEST(errors_wrong_types)
{
    EXPECT_ERR("feeds = ( { name = \"a\"; type = \"synthetic\"; },"
               " { name = \"b\"; type = \"synthetic\"; rate = \"fast\"; } );",
               no_env, "feeds[1].rate: wrong type (expected integer)");
    EXPECT_ERR("server = 1;", no_env, "server: wrong type (expected group)");
    EXPECT_ERR("server = { tls = \"x\"; };", no_env, "server.tls: wrong type (expected group)");
    EXPECT_ERR("server = { compression = 1; };", no_env,
               "server.compression: wrong type (expected boolean)");
    EXPECT_ERR("server = { web_root = 5; };", no_env, "server.web_root: wrong type (expected string)");
    EXPECT_ERR("server = { threads = 2.0; };", no_env,
               "server.threads: wrong type (expected integer)");
    EXPECT_ERR("alerts = { loss_limit = \"0.1\"; };", no_env,
               "alerts.loss_limit: wrong type (expected number)");
    EXPECT_ERR("engine = { universe = \"AAPL\"; };", no_env,
               "engine.universe: wrong type (expected array of strings)");
    EXPECT_ERR("server = { trusted_proxies = [ 1 ]; };", no_env,
               "server.trusted_proxies[0]: wrong type (expected string)");
    EXPECT_ERR("feeds = 1;", no_env, "feeds: wrong type (expected list of groups)");
    EXPECT_ERR("feeds = ( 1 );", no_env, "feeds[0]: wrong type (expected group)");
    EXPECT_ERR("feeds = ( { name = \"a\"; type = \"synthetic\"; symbol_map = ( [ \"A\" ] ); } );",
               no_env, "feeds[0].symbol_map[0]: wrong type (expected a pair of strings)");
    EXPECT_ERR("feeds = ( { name = \"a\"; type = \"synthetic\"; symbol_map = \"A\"; } );", no_env,
               "feeds[0].symbol_map: wrong type (expected list of [from, to] pairs)");
    EXPECT_ERR("feeds = ( { name = 1; type = \"synthetic\"; } );", no_env,
               "feeds[0].name: wrong type (expected string)");
}

TG_TEST(errors_out_of_range)
{
    EXPECT_ERR("limits = { burst = 0; };", no_env, "limits.burst: out of range (1..1000000): 0");
    EXPECT_ERR("limits = { burst = 1000001; };", no_env,
               "limits.burst: out of range (1..1000000): 1000001");
    /* libconfig 1.5 would read this as 0 without the loader's help */
    EXPECT_ERR("limits = { burst = 4294967296; };", no_env,
               "limits.burst: out of range (1..1000000): 4294967296");
    EXPECT_ERR("server = { threads = -1; };", no_env, "server.threads: out of range (1..64): -1");
    EXPECT_ERR("alerts = { loss_limit = 1.5; };", no_env,
               "alerts.loss_limit: out of range (0..1): 1.5");
    EXPECT_ERR("alerts = { loss_limit = -0.1; };", no_env,
               "alerts.loss_limit: out of range (0..1): -0.1");
    EXPECT_ERR("feeds = ( { name = \"a\"; type = \"synthetic\"; breaker = {"
               " failure_rate_threshold = 0; }; } );",
               no_env, "feeds[0].breaker.failure_rate_threshold: out of range (>0..1): 0");
    EXPECT_ERR("feeds = ( { name = \"a\"; type = \"synthetic\"; rate = 0; } );", no_env,
               "feeds[0].rate: out of range (1..100000000): 0");
    EXPECT_ERR("feeds = ( { name = \"a\"; type = \"replay\"; path = \"x\"; speed = 0; } );", no_env,
               "feeds[0].speed: out of range (>0..1000000): 0");
    EXPECT_ERR("feeds = ( { name = \"a\"; type = \"replay\"; path = \"x\"; speed = -2.5; } );",
               no_env, "feeds[0].speed: out of range (>0..1000000): -2.5");
    EXPECT_ERR("alerts = { loss_limit = 1e300; };", no_env, "alerts.loss_limit: out of range: 1e+300");
    EXPECT_FILE_ERR("limits = { burst = 99999999999999999999; };", ":1: integer out of range");
}

TG_TEST(errors_bad_enums)
{
    EXPECT_ERR("auth = { jwt_alg = \"HS512\"; };", no_env,
               "auth.jwt_alg: bad value (expected HS256|RS256): \"HS512\"");
    EXPECT_ERR("log = { level = \"verbose\"; };", no_env,
               "log.level: bad value (expected debug|info|warn|error): \"verbose\"");
    EXPECT_ERR("log = { format = \"xml\"; };", no_env,
               "log.format: bad value (expected json|text): \"xml\"");
    EXPECT_ERR("journal = { fsync = \"sometimes\"; };", no_env,
               "journal.fsync: bad value (expected none|interval|always): \"sometimes\"");
    EXPECT_ERR("feeds = ( { name = \"a\"; type = \"kafka\"; } );", no_env,
               "feeds[0].type: bad value (expected synthetic|replay|ws|tcp|redis): \"kafka\"");
    EXPECT_ERR("feeds = ( { name = \"a\"; type = \"ws\"; url = \"wss://x/\"; format = \"bloomberg\"; } );",
               no_env,
               "feeds[0].format: bad value (expected "
               "finnhub|alpaca|polygon|coinbase|binance|tickgate): \"bloomberg\"");
    EXPECT_ERR("feeds = ( { name = \"a\"; type = \"replay\"; path = \"x\"; speed = \"fast\"; } );",
               no_env, "feeds[0].speed: bad value (expected \"max\" or a positive number): \"fast\"");
    EXPECT_ERR("engine = { universe = [ \"AAPL\", \"\" ]; };", no_env,
               "engine.universe[1]: bad symbol (1..31 bytes, no spaces): \"\"");
    EXPECT_ERR("server = { trusted_proxies = [ \"10.0.0.0/33\" ]; };", no_env,
               "server.trusted_proxies[0]: bad value (expected IP address or CIDR): \"10.0.0.0/33\"");
    /* a control character in a value stays on one line of error text */
    EXPECT_ERR("log = { level = \"a\\nb\"; };", no_env,
               "log.level: bad value (expected debug|info|warn|error): \"a\\x0ab\"");
}

TG_TEST(errors_feeds)
{
    EXPECT_ERR("feeds = ( { name = \"a\"; type = \"synthetic\"; },"
               " { name = \"a\"; type = \"synthetic\"; } );",
               no_env, "feeds[1].name: duplicate feed name \"a\"");
    EXPECT_ERR("feeds = ( { type = \"synthetic\"; } );", no_env, "feeds[0].name: missing (required)");
    EXPECT_ERR("feeds = ( { name = \"a\"; } );", no_env, "feeds[0].type: missing (required)");
    EXPECT_ERR("feeds = ( { name = \"a b\"; type = \"synthetic\"; } );", no_env,
               "feeds[0].name: bad value (1..64 of [A-Za-z0-9_.-]): \"a b\"");
    EXPECT_ERR("feeds = ( { name = \"a\"; type = \"replay\"; } );", no_env,
               "feeds[0].path: required for a replay feed");
    EXPECT_ERR("feeds = ( { name = \"a\"; type = \"ws\"; format = \"finnhub\"; } );", no_env,
               "feeds[0].url: required for a ws feed");
    EXPECT_ERR("feeds = ( { name = \"a\"; type = \"ws\"; url = \"http://x/\"; format = \"finnhub\"; } );",
               no_env, "feeds[0].url: must start with ws:// or wss://");
    EXPECT_ERR("feeds = ( { name = \"a\"; type = \"ws\"; url = \"wss://x/\"; } );", no_env,
               "feeds[0].format: required for a ws feed");
    EXPECT_ERR("feeds = ( { name = \"a\"; type = \"tcp\"; } );", no_env,
               "feeds[0]: a tcp feed needs exactly one of listen and connect");
    EXPECT_ERR("feeds = ( { name = \"a\"; type = \"tcp\"; listen = \"127.0.0.1:1\";"
               " connect = \"h:2\"; } );",
               no_env, "feeds[0]: a tcp feed needs exactly one of listen and connect");
    EXPECT_ERR("feeds = ( { name = \"a\"; type = \"tcp\"; listen = \"127.0.0.1\"; } );", no_env,
               "feeds[0].listen: bad value (expected host:port): \"127.0.0.1\"");
    EXPECT_ERR("feeds = ( { name = \"a\"; type = \"synthetic\"; breaker = { window = 4; }; } );",
               no_env, "feeds[0].breaker.min_calls: must be <= breaker.window (4): 5");
    EXPECT_ERR("feeds = ( { name = \"a\"; type = \"synthetic\"; breaker = { open_wait_ms = 60000; }; } );",
               no_env,
               "feeds[0].breaker.open_wait_max_ms: must be >= breaker.open_wait_ms (60000): 30000");

    char many[8192] = "feeds = (";
    for (int i = 0; i <= TG_MAX_FEEDS; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many),
                 "%s{ name = \"f%d\"; type = \"synthetic\"; }", i ? "," : "", i);
    strcat(many, ");");
    EXPECT_ERR(many, no_env, "feeds[32]: too many feeds (max 32)");
}

TG_TEST(errors_cross_field)
{
    EXPECT_ERR("server = { tls = { cert = \"/c.pem\"; }; };", no_env,
               "server.tls: cert and key must both be set or both be empty");
    EXPECT_ERR("auth = { jwt_alg = \"RS256\"; };", no_env,
               "auth.jwt_public_key: required when jwt_alg is RS256");
    EXPECT_ERR("redis = { url = \"rediss://:pw@h:6380\"; };", no_env,
               "redis.url: rediss:// (TLS) is not supported: hiredis 0.14 has no TLS");
    EXPECT_ERR("redis = { url = \"http://h\"; };", no_env,
               "redis.url: must start with redis:// or unix:///");
    EXPECT_ERR("redis = { publish = true; };", no_env, "redis.publish: needs redis.url");
    EXPECT_ERR("engine = { session_open = \"24:00\"; };", no_env,
               "engine.session_open: bad value (expected HH:MM): \"24:00\"");
    EXPECT_ERR("engine = { session_open = \"9:30\"; };", no_env,
               "engine.session_open: bad value (expected HH:MM): \"9:30\"");
    EXPECT_ERR("engine = { session_open = \"09:60\"; };", no_env,
               "engine.session_open: bad value (expected HH:MM): \"09:60\"");
    EXPECT_ERR("server = { listen = \"localhost\"; };", no_env,
               "server.listen: bad value (expected host:port): \"localhost\"");
    EXPECT_ERR("server = { listen = \"\"; };", no_env,
               "server.listen: bad value (expected host:port): \"\"");
    EXPECT_ERR("server = { metrics_listen = \"h:0\"; };", no_env,
               "server.metrics_listen: bad value (expected host:port): \"h:0\"");
    EXPECT_ERR("alerts = { webhook_url = \"ftp://x\"; };", no_env,
               "alerts.webhook_url: must start with http:// or https://");
}

/* SPEC §14: node.role and the cluster bus keys. */
TG_TEST(node_role_and_bus)
{
    tg_config_t c;
    char err[512] = "";
    TG_CHECK_EQ_INT(load_text(&c, "", no_env, err, sizeof err), 0);
    TG_CHECK_EQ_STR(c.node.role, "all");
    TG_CHECK_EQ_STR(c.redis.bus_channel, "tickgate:bus");
    TG_CHECK_EQ_STR(c.redis.bus_mode, "stream");
    TG_CHECK_EQ_INT(c.redis.bus_maxlen, 100000);
    tg_config_free(&c);
    TG_CHECK_EQ_INT(load_text(&c, "node = { role = \"gateway\"; };\n"
                                  "redis = { url = \"redis://h\"; bus_mode = \"pubsub\"; "
                                  "bus_channel = \"b\"; bus_maxlen = 500; };",
                              no_env, err, sizeof err), 0);
    TG_CHECK_EQ_STR(c.node.role, "gateway");
    TG_CHECK_EQ_STR(c.redis.bus_mode, "pubsub");
    TG_CHECK_EQ_STR(c.redis.bus_channel, "b");
    TG_CHECK_EQ_INT(c.redis.bus_maxlen, 500);
    TG_CHECK_EQ_INT(c.n_feeds, 0);
    tg_config_free(&c);
    char *env[] = {"TICKGATE_NODE_ROLE=ingest", "TICKGATE_REDIS_URL=redis://h", NULL};
    TG_CHECK_EQ_INT(load_text(&c, "", env, err, sizeof err), 0);
    TG_CHECK_EQ_STR(c.node.role, "ingest");
    tg_config_free(&c);
    EXPECT_ERR("node = { role = \"edge\"; };", no_env,
               "node.role: bad value (expected all|ingest|gateway): \"edge\"");
    EXPECT_ERR("node = { role = \"gateway\"; };", no_env,
               "node.role: gateway needs redis.url (the cluster bus)");
    EXPECT_ERR("node = { role = \"ingest\"; };", no_env,
               "node.role: ingest needs redis.url (the cluster bus)");
    EXPECT_ERR("node = { role = \"gateway\"; }; redis = { url = \"redis://h\"; };\n"
               "feeds = ( { name = \"s\"; type = \"synthetic\"; } );", no_env,
               "node.role: a gateway node runs no feeds (remove `feeds`)");
    EXPECT_ERR("redis = { bus_mode = \"kafka\"; };", no_env,
               "redis.bus_mode: bad value (expected stream|pubsub): \"kafka\"");
    EXPECT_ERR("redis = { bus_channel = \"\"; };", no_env, "redis.bus_channel: must not be empty");
}

TG_TEST(errors_files)
{
    tg_config_t c;
    char err[512];
    int rc = tg_config_load(&c, "/nonexistent-dir/x.conf", no_env, err, sizeof err);
    TG_CHECK_EQ_INT(rc, -ENOENT);
    TG_CHECK_EQ_STR(err, "/nonexistent-dir/x.conf: cannot open: No such file or directory");
    tg_config_free(&c);

    EXPECT_FILE_ERR("server = {\n  listen = ;\n};\n", ":2: syntax error");
    EXPECT_FILE_ERR("log = { level = \"info\"; level = \"debug\"; };", ":1: duplicate setting name");

    /* a NUL byte would silently cut the file short in libconfig */
    rc = tg_config_load_string(&c, "log = {};\0junk", 14, "mem", no_env, err, sizeof err);
    TG_CHECK_EQ_INT(rc, -EINVAL);
    TG_CHECK_EQ_STR(err, "mem: contains a NUL byte");
    tg_config_free(&c);

    rc = tg_config_load_string(&c, "limits = { burst = 7; };", 24, "mem", no_env, err, sizeof err);
    TG_CHECK_EQ_INT(rc, 0);
    TG_CHECK_EQ_INT(c.limits.burst, 7);
    tg_config_free(&c);
}

/* ---- numbers ----------------------------------------------------------- */

TG_TEST(float_accepts_integer)
{
    tg_config_t c;
    OK_LOAD(&c,
            "alerts = { loss_limit = 1; gain_target = 3; };\n"
            "engine = { max_jump_pct = 5; };\n"
            "feeds = ( { name = \"a\"; type = \"replay\"; path = \"x\"; speed = 2;"
            " breaker = { failure_rate_threshold = 1; }; } );\n",
            no_env);
    TG_CHECK_EQ_INT(c.alerts.loss_limit, TG_DEC(1));
    TG_CHECK_EQ_INT(c.alerts.gain_target, TG_DEC(3));
    TG_CHECK_EQ_INT(c.engine.max_jump_pct, TG_DEC(5));
    TG_CHECK_EQ_INT(c.feeds[0].speed, TG_DEC(2));
    TG_CHECK_EQ_INT(c.feeds[0].breaker.failure_rate_threshold, TG_DEC(1));
    tg_config_free(&c);
}

TG_TEST(decimal_rounding_half_even)
{
    tg_config_t c;
    OK_LOAD(&c,
            "alerts = { rebalance_drift = 0.1; loss_limit = 0.123456785;"
            " hysteresis = 0.123456775; price_hysteresis = 0.000000015;"
            " drift_relative = 0.000000025; gain_target = 1.999999999; };\n",
            no_env);
    TG_CHECK_EQ_INT(c.alerts.rebalance_drift, 10000000);  /* 0.1 exactly, not 0.1000000000000000055 */
    TG_CHECK_EQ_INT(c.alerts.loss_limit, 12345678);       /* ...785 -> even 8 */
    TG_CHECK_EQ_INT(c.alerts.hysteresis, 12345678);       /* ...775 -> even 8 */
    TG_CHECK_EQ_INT(c.alerts.price_hysteresis, 2);        /* 1.5e-8 -> 2e-8 */
    TG_CHECK_EQ_INT(c.alerts.drift_relative, 2);          /* 2.5e-8 -> 2e-8 */
    TG_CHECK_EQ_INT(c.alerts.gain_target, 200000000);     /* carries into the integer part */
    tg_config_free(&c);

    char *env[] = {"TICKGATE_ALERTS_LOSS_LIMIT=0.000000035", "TICKGATE_ALERTS_HYSTERESIS=0.5", NULL};
    OK_LOAD(&c, "", env);
    TG_CHECK_EQ_INT(c.alerts.loss_limit, 4);
    TG_CHECK_EQ_INT(c.alerts.hysteresis, 50000000);
    tg_config_free(&c);
}

/* ---- environment ------------------------------------------------------- */

static const char *ws_feed =
    "feeds = ( { name = \"primary\"; type = \"ws\"; url = \"wss://x.invalid/s\";"
    " format = \"finnhub\"; },\n"
    "          { name = \"file-2\"; type = \"replay\"; path = \"a.csv\"; } );\n"
    "limits = { burst = 5; };\n";

TG_TEST(env_overrides)
{
    tg_config_t c;
    char *env[] = {
        "PATH=/usr/bin",
        "TICKGATE_POSTGRES_URL=postgres://u:pw@db/tick",
        "TICKGATE_AUTH_JWT_SECRET=envsecret",
        "TICKGATE_LIMITS_BURST=7",
        "TICKGATE_SERVER_TLS_CERT=/c.pem",
        "TICKGATE_SERVER_TLS_KEY=/k.pem",
        "TICKGATE_SERVER_COMPRESSION=yes",
        "TICKGATE_SERVER_TRUSTED_PROXIES=10.0.0.1, 10.1.0.0/16",
        "TICKGATE_ENGINE_UNIVERSE=AAPL, MSFT ,SPY",
        "TICKGATE_LIMITS_HISTORY_MAX_BYTES=17179869184",
        "TICKGATE_ALERTS_LOSS_LIMIT=0.25",
        "TICKGATE_FEEDS_PRIMARY_API_KEY=key123",
        "TICKGATE_FEEDS_PRIMARY_BREAKER_WINDOW=40",
        "TICKGATE_FEEDS_PRIMARY_BREAKER_FAILURE_RATE_THRESHOLD=1",
        "TICKGATE_FEEDS_PRIMARY_SUBSCRIBE={\"type\":\"subscribe\",\"symbol\":\"AAPL\"},"
        "{\"type\":\"subscribe\",\"symbol\":\"MSFT\"}",
        "TICKGATE_FEEDS_PRIMARY_SYMBOL_MAP=BINANCE:BTCUSDT=BTCUSDT,X:ETH=ETHUSD",
        "TICKGATE_FEEDS_PRIMARY_SYMBOLS=",
        "TICKGATE_FEEDS_FILE_2_SPEED=max",
        "TICKGATE_FEEDS_FILE_2_LOOP=true",
        NULL,
    };
    OK_LOAD(&c, ws_feed, env);
    TG_CHECK_EQ_STR(c.postgres.url, "postgres://u:pw@db/tick");
    TG_CHECK_EQ_STR(c.auth.jwt_secret, "envsecret");
    TG_CHECK_EQ_INT(c.limits.burst, 7); /* env after file */
    TG_CHECK_EQ_STR(c.server.tls_cert, "/c.pem");
    TG_CHECK_EQ_STR(c.server.tls_key, "/k.pem");
    TG_CHECK(c.server.compression);
    TG_CHECK_EQ_INT(c.server.trusted_proxies.n, 2);
    TG_CHECK_EQ_INT(c.engine.universe.n, 3);
    if (c.engine.universe.n == 3) {
        TG_CHECK_EQ_STR(c.engine.universe.v[0], "AAPL");
        TG_CHECK_EQ_STR(c.engine.universe.v[1], "MSFT");
        TG_CHECK_EQ_STR(c.engine.universe.v[2], "SPY");
    }
    TG_CHECK_EQ_INT(c.limits.history_max_bytes, 17179869184LL);
    TG_CHECK_EQ_INT(c.alerts.loss_limit, 25000000);
    TG_CHECK_EQ_STR(c.feeds[0].api_key, "key123");
    TG_CHECK_EQ_INT(c.feeds[0].breaker.window, 40);
    TG_CHECK_EQ_INT(c.feeds[0].breaker.failure_rate_threshold, TG_DEC(1));
    TG_CHECK_EQ_INT(c.feeds[0].subscribe.n, 2);
    if (c.feeds[0].subscribe.n == 2)
        TG_CHECK_EQ_STR(c.feeds[0].subscribe.v[1], "{\"type\":\"subscribe\",\"symbol\":\"MSFT\"}");
    TG_CHECK_EQ_INT(c.feeds[0].map_from.n, 2);
    if (c.feeds[0].map_from.n == 2) {
        TG_CHECK_EQ_STR(c.feeds[0].map_from.v[0], "BINANCE:BTCUSDT");
        TG_CHECK_EQ_STR(c.feeds[0].map_to.v[0], "BTCUSDT");
        TG_CHECK_EQ_STR(c.feeds[0].map_to.v[1], "ETHUSD");
    }
    TG_CHECK_EQ_INT(c.feeds[0].symbols.n, 0);
    TG_CHECK_EQ_INT(c.feeds[1].speed, 0);
    TG_CHECK(c.feeds[1].loop);
    tg_config_free(&c);
}

/* Process switches with their own environment names go through the key table too. */
TG_TEST(env_exact_names)
{
    tg_config_t c;
    OK_LOAD(&c, ws_feed, NULL);
    TG_CHECK(!c.server.disable_io_uring);
    TG_CHECK(!c.server.no_direct_write);
    TG_CHECK_EQ_STR(c.engine.tzdir, "/usr/share/zoneinfo");
    tg_config_free(&c);

    char *env[] = {"TICKGATE_DISABLE_IO_URING=1", "TG_NO_DIRECT_WRITE=1", "TZDIR=/opt/zoneinfo",
                   "TZDIRX=/ignored", NULL};
    OK_LOAD(&c, ws_feed, env);
    TG_CHECK(c.server.disable_io_uring);
    TG_CHECK(c.server.no_direct_write);
    TG_CHECK_EQ_STR(c.engine.tzdir, "/opt/zoneinfo");
    tg_config_free(&c);

    char *derived[] = {"TICKGATE_SERVER_DISABLE_IO_URING=true", NULL};
    OK_LOAD(&c, ws_feed, derived);
    TG_CHECK(c.server.disable_io_uring);
    tg_config_free(&c);

    char *bad[] = {"TICKGATE_DISABLE_IO_URING=perhaps", NULL};
    EXPECT_ERR(ws_feed, bad,
               "TICKGATE_DISABLE_IO_URING: wrong type (expected boolean): \"perhaps\"");
}

TG_TEST(env_errors)
{
    char *e1[] = {"TICKGATE_LIMITS_BURST=0", NULL};
    EXPECT_ERR(ws_feed, e1, "TICKGATE_LIMITS_BURST: out of range (1..1000000): 0");
    char *e2[] = {"TICKGATE_LIMITS_BURST=12abc", NULL};
    EXPECT_ERR(ws_feed, e2, "TICKGATE_LIMITS_BURST: wrong type (expected integer): \"12abc\"");
    char *e3[] = {"TICKGATE_SERVER_COMPRESSION=maybe", NULL};
    EXPECT_ERR(ws_feed, e3, "TICKGATE_SERVER_COMPRESSION: wrong type (expected boolean): \"maybe\"");
    char *e4[] = {"TICKGATE_LOG_LEVEL=loud", NULL};
    EXPECT_ERR(ws_feed, e4, "TICKGATE_LOG_LEVEL: bad value (expected debug|info|warn|error): \"loud\"");
    char *e5[] = {"TICKGATE_SERVER_LISTN=x:1", NULL};
    EXPECT_ERR(ws_feed, e5, "TICKGATE_SERVER_LISTN: unknown variable");
    char *e6[] = {"TICKGATE_FEEDS_NOPE_RATE=5", NULL};
    EXPECT_ERR(ws_feed, e6, "TICKGATE_FEEDS_NOPE_RATE: unknown variable");
    char *e7[] = {"TICKGATE_FEEDS_PRIMARY_NAME=other", NULL};
    EXPECT_ERR(ws_feed, e7, "TICKGATE_FEEDS_PRIMARY_NAME: unknown variable");
    char *e8[] = {"TICKGATE_FEEDS_PRIMARY_RATE=5", NULL};
    EXPECT_ERR(ws_feed, e8, "feeds[0].rate: not valid for a ws feed");
    char *e9[] = {"TICKGATE_ENGINE_UNIVERSE=AAPL,,MSFT", NULL};
    EXPECT_ERR(ws_feed, e9, "TICKGATE_ENGINE_UNIVERSE: empty list element");
    char *e10[] = {"TICKGATE_ALERTS_LOSS_LIMIT=lots", NULL};
    EXPECT_ERR(ws_feed, e10, "TICKGATE_ALERTS_LOSS_LIMIT: wrong type (expected number): \"lots\"");
    char *e11[] = {"TICKGATE_REDIS_URL=rediss://:pw@h", NULL};
    EXPECT_ERR(ws_feed, e11, "redis.url: rediss:// (TLS) is not supported: hiredis 0.14 has no TLS");
    char *e12[] = {"TICKGATE_FEEDS_PRIMARY_SYMBOL_MAP=NOEQUALS", NULL};
    EXPECT_ERR(ws_feed, e12,
               "TICKGATE_FEEDS_PRIMARY_SYMBOL_MAP[0]: bad value (expected FROM=TO): \"NOEQUALS\"");
    char *e13[] = {"TICKGATE_FEEDS_FILE_2_SPEED=0", NULL};
    EXPECT_ERR(ws_feed, e13, "TICKGATE_FEEDS_FILE_2_SPEED: out of range (>0..1000000): 0");
    char *e14[] = {"TICKGATE_LIMITS_BURST=99999999999999999999", NULL};
    EXPECT_ERR(ws_feed, e14,
               "TICKGATE_LIMITS_BURST: out of range (1..1000000): 99999999999999999999");
    char *e15[] = {"TICKGATE_SERVER_TLS_CERT=/only-cert.pem", NULL};
    EXPECT_ERR(ws_feed, e15, "server.tls: cert and key must both be set or both be empty");
}

/* ---- secrets ----------------------------------------------------------- */

TG_TEST(print_masks_secrets)
{
    static const char *const secrets[] = {"jwtS3cret", "AKEY123", "ASEC456", "pgpass99",
                                          "rpass77",   "hookpw",  "envsecret", "kvpass"};
    tg_config_t c;
    char *env[] = {"TICKGATE_FEEDS_PRIMARY_API_SECRET=envsecret", NULL};
    OK_LOAD(&c,
            "auth = { jwt_secret = \"jwtS3cret\"; };\n"
            "postgres = { url = \"postgres://user:pgpass99@db:5432/tick?sslmode=disable\"; };\n"
            "redis = { url = \"redis://:rpass77@localhost:6379/0\"; };\n"
            "alerts = { webhook_url = \"https://u:hookpw@hooks.example/x\"; };\n"
            "feeds = ( { name = \"primary\"; type = \"ws\"; url = \"wss://x.invalid/s\";"
            " format = \"finnhub\"; api_key = \"AKEY123\"; api_secret = \"ASEC456\";"
            " subscribe = [ \"{\\\"key\\\":\\\"${api_key}\\\"}\" ]; } );\n",
            env);
    char *out = print_to_string(&c);
    TG_CHECK(out != NULL);
    if (!out)
        goto out_free;
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        if (strstr(out, secrets[i])) {
            fprintf(stderr, "  secret %s printed\n", secrets[i]);
            TG_CHECK(!"secret printed");
        }
    TG_CHECK(strstr(out, "jwt_secret = \"***\";") != NULL);
    TG_CHECK(strstr(out, "api_key = \"***\";") != NULL);
    TG_CHECK(strstr(out, "api_secret = \"***\";") != NULL);
    TG_CHECK(strstr(out, "\"postgres://user:***@db:5432/tick?sslmode=disable\"") != NULL);
    TG_CHECK(strstr(out, "\"redis://:***@localhost:6379/0\"") != NULL);
    TG_CHECK(strstr(out, "${api_key}") != NULL); /* the placeholder is not a secret */

    /* the masked printout is still a valid configuration */
    tg_config_t c2;
    OK_LOAD(&c2, out, no_env);
    tg_config_free(&c2);
    free(out);
    tg_config_free(&c);

    /* empty secrets print as "", key=value conninfo passwords are masked too */
    OK_LOAD(&c, "postgres = { url = \"host=db user=u password=kvpass dbname=t\"; };", no_env);
    out = print_to_string(&c);
    TG_CHECK(out && !strstr(out, "kvpass"));
    TG_CHECK(out && strstr(out, "password=*** dbname=t"));
    TG_CHECK(out && strstr(out, "jwt_secret = \"\";"));
    free(out);
out_free:
    tg_config_free(&c);

    /* provider tokens in a ws url's query are masked; ${api_key} placeholders are kept */
    OK_LOAD(&c,
            "feeds = ( { name = \"a\"; type = \"ws\"; format = \"finnhub\";"
            " url = \"wss://ws.finnhub.io/?token=tok999&x=1\"; },"
            " { name = \"b\"; type = \"ws\"; format = \"polygon\";"
            " url = \"wss://p.example/?apiKey=${api_key}\"; } );",
            no_env);
    out = print_to_string(&c);
    TG_CHECK(out && !strstr(out, "tok999"));
    TG_CHECK(out && strstr(out, "\"wss://ws.finnhub.io/?token=***&x=1\""));
    TG_CHECK(out && strstr(out, "\"wss://p.example/?apiKey=${api_key}\""));
    free(out);
    tg_config_free(&c);

    /* an empty password (found by fuzz_config: it used to loop) */
    OK_LOAD(&c, "postgres = { url = \"postgres://u:@h/db\"; };", no_env);
    out = print_to_string(&c);
    TG_CHECK(out && strstr(out, "\"postgres://u:***@h/db\""));
    free(out);
    tg_config_free(&c);

    /* and an error message never carries a secret either */
    char err[512];
    char *e2[] = {"TICKGATE_REDIS_URL=ftp://u:rpass77@h", NULL};
    TG_CHECK_EQ_INT(load_text(&c, "", e2, err, sizeof err), -EINVAL);
    TG_CHECK(!strstr(err, "rpass77"));
    tg_config_free(&c);
}

/* ---- host:port --------------------------------------------------------- */

TG_TEST(parse_hostport)
{
    char host[64];
    int port = 0;
    TG_CHECK_EQ_INT(tg_parse_hostport("127.0.0.1:8080", host, sizeof host, &port), 0);
    TG_CHECK_EQ_STR(host, "127.0.0.1");
    TG_CHECK_EQ_INT(port, 8080);
    TG_CHECK_EQ_INT(tg_parse_hostport("[::1]:80", host, sizeof host, &port), 0);
    TG_CHECK_EQ_STR(host, "::1");
    TG_CHECK_EQ_INT(port, 80);
    TG_CHECK_EQ_INT(tg_parse_hostport("localhost:9001", host, sizeof host, &port), 0);
    TG_CHECK_EQ_STR(host, "localhost");
    TG_CHECK_EQ_INT(port, 9001);
    TG_CHECK_EQ_INT(tg_parse_hostport("h:65535", NULL, 0, NULL), 0);
    TG_CHECK_EQ_INT(tg_parse_hostport("h:1", NULL, 0, NULL), 0);

    static const char *const bad[] = {
        "",          "localhost", ":80",      "h:",        "h:0",     "h:65536", "h:123456",
        "h:-1",      "h:+80",     "h:80x",    "::1:80",    "[::1]",   "[::1]80", "[zz]:80",
        "[]:80",     "a b:80",    "h:80 ",    "[::1]:0",   NULL,
    };
    for (size_t i = 0; bad[i]; i++) {
        int rc = tg_parse_hostport(bad[i], host, sizeof host, &port);
        if (rc != -EINVAL)
            fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
        TG_CHECK_EQ_INT(rc, -EINVAL);
    }
    TG_CHECK_EQ_INT(tg_parse_hostport(NULL, host, sizeof host, &port), -EINVAL);
    char tiny[4];
    TG_CHECK_EQ_INT(tg_parse_hostport("localhost:1", tiny, sizeof tiny, &port), -EINVAL);
}

int main(void)
{
    int rc = tg_test_run();
    if (g_dir[0] && rmdir(g_dir) != 0) {
        perror(g_dir); /* a file left behind: some test did not clean up */
        rc = 1;
    }
    return rc;
}
