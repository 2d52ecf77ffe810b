/* config_keys.c - the key tables: every configuration key, declared once
 * (name, kind, field, default, range, allowed values, feed types).
 */
#include "config_int.h"

static const char *const jwt_algs[] = {"HS256", "RS256", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_formats[] = {"json", "text", NULL};
static const char *const fsync_modes[] = {"none", "interval", "always", NULL};
static const char *const node_roles[] = {"all", "ingest", "gateway", NULL};
static const char *const bus_modes[] = {"stream", "pubsub", NULL};
/* The names of feed types (tg_feed_type_t order) and of ws message formats:
 * the one list each. feeds/feed.c names feed types through tg_feed_type_name;
 * feeds/format.c's registry is checked against tg_feed_format_names
 * (tests/unit/feeds/test_formats.c), since config sits below feeds. */
const char *const tg__config_feed_type_names[] = {"synthetic", "replay", "ws", "tcp", "redis", NULL};
const char *const tg_feed_format_names[] = {"finnhub", "alpaca",  "polygon", "coinbase",
                                            "binance", "tickgate", NULL};

const char *tg_feed_type_name(tg_feed_type_t t)
{
    return (unsigned)t < TG_FEED__COUNT ? tg__config_feed_type_names[t] : "?";
}

/* A row names its key once: KEY(section, key, kind, default, ...) stores it in
 * tg_config_t's section.key, FEED(key, kind, default, feed types, ...) in
 * tg_feed_conf_t's key; the _AT forms give the field where its name differs
 * from the key's. The optional rest are the designated fields a key needs
 * (.min/.max, .choices, .flags, .env); what a row leaves out is 0/NULL. */
#define KEY(sec, name, kind_, def_, ...)                                                           \
    {.section = #sec, .key = #name, .kind = kind_, .off = C(sec.name), .def = def_, __VA_ARGS__}
#define KEY_AT(sec, name, field, kind_, def_, ...)                                                 \
    {.section = #sec, .key = name, .kind = kind_, .off = C(field), .def = def_, __VA_ARGS__}
#define FEED(name, kind_, def_, types_, ...)                                                       \
    {.key = #name, .kind = kind_, .off = FC(name), .def = def_, .types = types_, __VA_ARGS__}
#define FEED_AT(name, field, kind_, def_, types_, ...)                                             \
    {.key = name, .kind = kind_, .off = FC(field), .def = def_, .types = types_, __VA_ARGS__}

/* clang-format off */
const cfg_key_t tg__config_main_keys[] = {
    KEY(server, listen, K_HOSTPORT, "127.0.0.1:8080"),
    KEY(server, threads, K_INT, "1", .min = 1, .max = 64),
    KEY_AT(server, "tls.cert", server.tls_cert, K_STR, ""),
    KEY_AT(server, "tls.key", server.tls_key, K_STR, ""),
    KEY(server, web_root, K_STR, ""),
    KEY(server, compression, K_BOOL, "false"),
    KEY(server, metrics_listen, K_HOSTPORT, "", .flags = F_EMPTY_OK),
    KEY(server, trusted_proxies, K_LIST, "", .flags = F_ADDRS),
    KEY(server, disable_io_uring, K_BOOL, "false", .env = "TICKGATE_DISABLE_IO_URING"),
    KEY(server, no_direct_write, K_BOOL, "false", .env = "TG_NO_DIRECT_WRITE"),
    KEY(server, send_ts, K_BOOL, "false"),
    KEY(server, wiretap, K_BOOL, "true", .env = "TICKGATE_WIRETAP"),

    KEY(auth, jwt_alg, K_ENUM, "HS256", .choices = jwt_algs),
    KEY(auth, jwt_secret, K_STR, "", .flags = F_SECRET),
    KEY(auth, jwt_public_key, K_STR, ""),
    KEY(auth, leeway_s, K_INT, "5", .min = 0, .max = 3600),
    KEY(auth, auth_timeout_ms, K_INT, "5000", .min = 1, .max = 600000),

    KEY(limits, max_message_bytes, K_INT, "65536", .min = 64, .max = 67108864),
    KEY(limits, msgs_per_s, K_INT, "50", .min = 1, .max = 1000000),
    KEY(limits, burst, K_INT, "100", .min = 1, .max = 1000000),
    KEY(limits, max_subscriptions, K_INT, "1000", .min = 1, .max = 10000000),
    KEY(limits, max_conns_per_ip, K_INT, "10000", .min = 1, .max = 10000000),
    KEY(limits, max_pending_bytes, K_LL, "4194304", .min = 1024, .max = 1LL << 40),
    KEY(limits, max_inflight_bytes, K_INT, "65536", .min = 4096, .max = 1073741824),
    KEY(limits, max_stall_ms, K_INT, "10000", .min = 1, .max = 3600000),
    KEY(limits, history_size, K_INT, "1000", .min = 0, .max = 100000000),
    KEY(limits, history_max_bytes, K_LL, "268435456", .min = 0, .max = 1LL << 44),
    KEY(limits, portfolio_max_hz, K_INT, "10", .min = 1, .max = 1000),
    KEY(limits, http_per_min, K_INT, "60", .min = 1, .max = 100000000),

    KEY(engine, portfolios_file, K_STR, ""),
    KEY(engine, session_open, K_STR, "00:00"),
    KEY(engine, session_tz, K_STR, "UTC"),
    KEY(engine, max_jump_pct, K_DEC, "0.0", .min = 0, .max = D(1000000)),
    KEY(engine, universe, K_LIST, "", .flags = F_SYMBOLS),
    KEY(engine, max_symbols, K_INT, "100000", .min = 1, .max = 100000000),
    KEY(engine, bars_keep, K_INT, "1440", .min = 1, .max = 1000000),
    KEY(engine, bar_grace_ms, K_INT, "1000", .min = 0, .max = 3600000),
    KEY(engine, unpriced_after_s, K_INT, "60", .min = 0, .max = 31536000),
    KEY(engine, tzdir, K_STR, "/usr/share/zoneinfo", .env = "TZDIR"),

    KEY(alerts, rebalance_drift, K_DEC, "0.05", .min = 0, .max = D(1)),
    KEY(alerts, drift_relative, K_DEC, "0.0", .min = 0, .max = D(1000)),
    KEY(alerts, loss_limit, K_DEC, "0.10", .min = 0, .max = D(1)),
    KEY(alerts, gain_target, K_DEC, "0.20", .min = 0, .max = D(1000000)),
    KEY(alerts, hysteresis, K_DEC, "0.10", .min = 0, .max = D(1)),
    KEY(alerts, price_hysteresis, K_DEC, "0.001", .min = 0, .max = D(1)),
    KEY(alerts, concentration, K_DEC, "0.0", .min = 0, .max = D(1000)),
    KEY(alerts, volatility, K_DEC, "0.0", .min = 0, .max = D(1000)),
    KEY(alerts, volatility_window_s, K_INT, "300", .min = 30, .max = 86400),
    KEY(alerts, webhook_url, K_STR, "", .flags = F_URLSECRET),
    KEY(alerts, webhook_secret, K_STR, "", .flags = F_SECRET),
    KEY(alerts, webhook_timeout_ms, K_INT, "5000", .min = 1, .max = 600000),
    KEY(alerts, webhook_max_retry_s, K_INT, "86400", .min = 1, .max = 31536000),
    KEY(alerts, alertmanager_url, K_STR, "", .flags = F_URLSECRET),
    KEY(alerts, alertmanager_resend_s, K_INT, "60", .min = 1, .max = 3600),

    KEY(postgres, url, K_STR, "", .flags = F_URLSECRET),
    KEY(postgres, snapshot_interval_ms, K_INT, "1000", .min = 10, .max = 86400000),
    KEY(postgres, holdings_interval_ms, K_INT, "60000", .min = 10, .max = 86400000),
    KEY(postgres, max_buffer_rows, K_LL, "1000000", .min = 1, .max = 1000000000000LL),
    KEY(postgres, retention_days, K_INT, "0", .min = 0, .max = 365000),

    KEY(redis, url, K_STR, "", .flags = F_URLSECRET),
    KEY(redis, publish, K_BOOL, "false"),
    KEY(redis, publish_channel, K_STR, "tickgate:ticks"),
    KEY(redis, command_timeout_ms, K_INT, "250", .min = 1, .max = 600000),
    KEY(redis, bus_channel, K_STR, "tickgate:bus"),
    KEY(redis, bus_mode, K_ENUM, "stream", .choices = bus_modes),
    KEY(redis, bus_maxlen, K_LL, "100000", .min = 100, .max = 1000000000),

    KEY(node, role, K_ENUM, "all", .choices = node_roles),

    KEY(journal, dir, K_STR, ""),
    KEY(journal, segment_bytes, K_LL, "67108864", .min = 4096, .max = 1LL << 40),
    KEY(journal, max_bytes, K_LL, "0", .min = 0, .max = 1LL << 56),
    KEY(journal, fsync, K_ENUM, "interval", .choices = fsync_modes),
    KEY(journal, fsync_interval_ms, K_INT, "100", .min = 1, .max = 3600000),

    KEY(log, level, K_ENUM, "info", .choices = log_levels),
    KEY(log, format, K_ENUM, "json", .choices = log_formats),
};

/* Applied to each element of `feeds`; `types` says which feed types accept the key. */
const cfg_key_t tg__config_feed_keys[] = {
    FEED(name, K_STR, NULL, T_ALL, .flags = F_REQUIRED | F_NOENV),
    FEED(type, K_FEEDTYPE, NULL, T_ALL, .flags = F_REQUIRED),
    FEED(priority, K_INT, "0", T_ALL, .min = 0, .max = 1000000),
    FEED(url, K_STR, "", T_WS, .flags = F_URLSECRET),
    FEED(format, K_ENUM, "", T_WS, .choices = tg_feed_format_names),
    FEED(api_key, K_STR, "", T_WS, .flags = F_SECRET),
    FEED(api_secret, K_STR, "", T_WS, .flags = F_SECRET),
    FEED(subscribe, K_LIST, "", T_WS),
    FEED(rate, K_INT, "1000", T_SYN, .min = 1, .max = 100000000),
    FEED(seed, K_LL, "42", T_SYN, .min = LLONG_MIN, .max = LLONG_MAX),
    FEED(levels, K_LIST, "", T_SYN, .flags = F_LEVELS),
    FEED(step_bp, K_INT, "5", T_SYN, .min = 1, .max = 1000),
    FEED(path, K_STR, "", T_REP),
    FEED(speed, K_SPEED, "1", T_REP, .min = 0, .max = D(1000000), .flags = F_MIN_EXCL),
    FEED(loop, K_BOOL, "false", T_REP),
    FEED(listen, K_HOSTPORT, "", T_TCP, .flags = F_EMPTY_OK),
    FEED(connect, K_HOSTPORT, "", T_TCP, .flags = F_EMPTY_OK),
    FEED(allow_from, K_LIST, "", T_TCP, .flags = F_ADDRS),
    FEED(channel, K_STR, "tickgate:ticks", T_RED),
    FEED(stream, K_STR, "", T_RED),
    FEED(symbols, K_LIST, "", T_ALL, .flags = F_SYMBOLS),
    FEED_AT("symbol_map", map_from, K_SYMMAP, "", T_ALL),
    FEED(breaker.window, K_INT, "20", T_ALL, .min = 1, .max = 100000),
    FEED(breaker.min_calls, K_INT, "5", T_ALL, .min = 1, .max = 100000),
    FEED(breaker.failure_rate_threshold, K_DEC, "0.5", T_ALL, .min = 0, .max = D(1), .flags = F_MIN_EXCL),
    FEED(breaker.stale_after_ms, K_INT, "5000", T_ALL, .min = 0, .max = 86400000),
    FEED(breaker.open_wait_ms, K_INT, "1000", T_ALL, .min = 1, .max = 86400000),
    FEED(breaker.open_wait_max_ms, K_INT, "30000", T_ALL, .min = 1, .max = 86400000),
    FEED(breaker.half_open_successes, K_INT, "3", T_ALL, .min = 1, .max = 100000),
    FEED(breaker.half_open_max_wait_ms, K_INT, "5000", T_ALL, .min = 1, .max = 86400000),
};
/* clang-format on */

const size_t tg__config_n_main = sizeof tg__config_main_keys / sizeof tg__config_main_keys[0];
const size_t tg__config_n_feed = sizeof tg__config_feed_keys / sizeof tg__config_feed_keys[0];
_Static_assert(sizeof tg__config_feed_keys / sizeof tg__config_feed_keys[0] <= 64, "feed key set masks are uint64_t");
