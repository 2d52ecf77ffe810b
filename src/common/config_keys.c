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

/* Rows leave the trailing `env` out (NULL): only a few keys have an exact env name. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
/* clang-format off */
const cfg_key_t tg__config_main_keys[] = {
    {"server", "listen",          K_HOSTPORT, C(server.listen), "127.0.0.1:8080", 0, 0, NULL, 0, 0},
    {"server", "threads",         K_INT,  C(server.threads), "1", 1, 64, NULL, 0, 0},
    {"server", "tls.cert",        K_STR,  C(server.tls_cert), "", 0, 0, NULL, 0, 0},
    {"server", "tls.key",         K_STR,  C(server.tls_key), "", 0, 0, NULL, 0, 0},
    {"server", "web_root",        K_STR,  C(server.web_root), "", 0, 0, NULL, 0, 0},
    {"server", "compression",     K_BOOL, C(server.compression), "false", 0, 0, NULL, 0, 0},
    {"server", "metrics_listen",  K_HOSTPORT, C(server.metrics_listen), "", 0, 0, NULL, F_EMPTY_OK, 0},
    {"server", "trusted_proxies", K_LIST, C(server.trusted_proxies), "", 0, 0, NULL, F_ADDRS, 0},
    {"server", "disable_io_uring", K_BOOL, C(server.disable_io_uring), "false", 0, 0, NULL, 0, 0, "TICKGATE_DISABLE_IO_URING"},
    {"server", "no_direct_write", K_BOOL, C(server.no_direct_write), "false", 0, 0, NULL, 0, 0, "TG_NO_DIRECT_WRITE"},
    {"server", "send_ts",         K_BOOL, C(server.send_ts), "false", 0, 0, NULL, 0, 0},

    {"auth", "jwt_alg",          K_ENUM, C(auth.jwt_alg), "HS256", 0, 0, jwt_algs, 0, 0},
    {"auth", "jwt_secret",       K_STR,  C(auth.jwt_secret), "", 0, 0, NULL, F_SECRET, 0},
    {"auth", "jwt_public_key",   K_STR,  C(auth.jwt_public_key), "", 0, 0, NULL, 0, 0},
    {"auth", "leeway_s",         K_INT,  C(auth.leeway_s), "5", 0, 3600, NULL, 0, 0},
    {"auth", "auth_timeout_ms",  K_INT,  C(auth.auth_timeout_ms), "5000", 1, 600000, NULL, 0, 0},

    {"limits", "max_message_bytes", K_INT, C(limits.max_message_bytes), "65536", 64, 67108864, NULL, 0, 0},
    {"limits", "msgs_per_s",        K_INT, C(limits.msgs_per_s), "50", 1, 1000000, NULL, 0, 0},
    {"limits", "burst",             K_INT, C(limits.burst), "100", 1, 1000000, NULL, 0, 0},
    {"limits", "max_subscriptions", K_INT, C(limits.max_subscriptions), "1000", 1, 10000000, NULL, 0, 0},
    {"limits", "max_conns_per_ip",  K_INT, C(limits.max_conns_per_ip), "10000", 1, 10000000, NULL, 0, 0},
    {"limits", "max_pending_bytes", K_LL,  C(limits.max_pending_bytes), "4194304", 1024, 1LL << 40, NULL, 0, 0},
    {"limits", "max_inflight_bytes", K_INT, C(limits.max_inflight_bytes), "65536", 4096, 1073741824, NULL, 0, 0},
    {"limits", "max_stall_ms",      K_INT, C(limits.max_stall_ms), "10000", 1, 3600000, NULL, 0, 0},
    {"limits", "history_size",      K_INT, C(limits.history_size), "1000", 0, 100000000, NULL, 0, 0},
    {"limits", "history_max_bytes", K_LL,  C(limits.history_max_bytes), "268435456", 0, 1LL << 44, NULL, 0, 0},
    {"limits", "portfolio_max_hz",  K_INT, C(limits.portfolio_max_hz), "10", 1, 1000, NULL, 0, 0},
    {"limits", "http_per_min",      K_INT, C(limits.http_per_min), "60", 1, 100000000, NULL, 0, 0},

    {"engine", "portfolios_file", K_STR,  C(engine.portfolios_file), "", 0, 0, NULL, 0, 0},
    {"engine", "session_open",    K_STR,  C(engine.session_open), "00:00", 0, 0, NULL, 0, 0},
    {"engine", "session_tz",      K_STR,  C(engine.session_tz), "UTC", 0, 0, NULL, 0, 0},
    {"engine", "max_jump_pct",    K_DEC,  C(engine.max_jump_pct), "0.0", 0, D(1000000), NULL, 0, 0},
    {"engine", "universe",        K_LIST, C(engine.universe), "", 0, 0, NULL, F_SYMBOLS, 0},
    {"engine", "max_symbols",     K_INT,  C(engine.max_symbols), "100000", 1, 100000000, NULL, 0, 0},
    {"engine", "bars_keep",       K_INT,  C(engine.bars_keep), "1440", 1, 1000000, NULL, 0, 0},
    {"engine", "bar_grace_ms",    K_INT,  C(engine.bar_grace_ms), "1000", 0, 3600000, NULL, 0, 0},
    {"engine", "unpriced_after_s", K_INT, C(engine.unpriced_after_s), "60", 0, 31536000, NULL, 0, 0},
    {"engine", "tzdir",           K_STR,  C(engine.tzdir), "/usr/share/zoneinfo", 0, 0, NULL, 0, 0, "TZDIR"},

    {"alerts", "rebalance_drift",  K_DEC, C(alerts.rebalance_drift), "0.05", 0, D(1), NULL, 0, 0},
    {"alerts", "drift_relative",   K_DEC, C(alerts.drift_relative), "0.0", 0, D(1000), NULL, 0, 0},
    {"alerts", "loss_limit",       K_DEC, C(alerts.loss_limit), "0.10", 0, D(1), NULL, 0, 0},
    {"alerts", "gain_target",      K_DEC, C(alerts.gain_target), "0.20", 0, D(1000000), NULL, 0, 0},
    {"alerts", "hysteresis",       K_DEC, C(alerts.hysteresis), "0.10", 0, D(1), NULL, 0, 0},
    {"alerts", "price_hysteresis", K_DEC, C(alerts.price_hysteresis), "0.001", 0, D(1), NULL, 0, 0},
    {"alerts", "concentration",    K_DEC, C(alerts.concentration), "0.0", 0, D(1000), NULL, 0, 0},
    {"alerts", "volatility",       K_DEC, C(alerts.volatility), "0.0", 0, D(1000), NULL, 0, 0},
    {"alerts", "volatility_window_s", K_INT, C(alerts.volatility_window_s), "300", 30, 86400, NULL, 0, 0},
    {"alerts", "webhook_url",      K_STR, C(alerts.webhook_url), "", 0, 0, NULL, F_URLSECRET, 0},
    {"alerts", "webhook_secret",   K_STR, C(alerts.webhook_secret), "", 0, 0, NULL, F_SECRET, 0},
    {"alerts", "webhook_timeout_ms", K_INT, C(alerts.webhook_timeout_ms), "5000", 1, 600000, NULL, 0, 0},
    {"alerts", "webhook_max_retry_s", K_INT, C(alerts.webhook_max_retry_s), "86400", 1, 31536000, NULL, 0, 0},
    {"alerts", "alertmanager_url", K_STR, C(alerts.alertmanager_url), "", 0, 0, NULL, F_URLSECRET, 0},
    {"alerts", "alertmanager_resend_s", K_INT, C(alerts.alertmanager_resend_s), "60", 1, 3600, NULL, 0, 0},

    {"postgres", "url",                  K_STR, C(postgres.url), "", 0, 0, NULL, F_URLSECRET, 0},
    {"postgres", "snapshot_interval_ms", K_INT, C(postgres.snapshot_interval_ms), "1000", 10, 86400000, NULL, 0, 0},
    {"postgres", "holdings_interval_ms", K_INT, C(postgres.holdings_interval_ms), "60000", 10, 86400000, NULL, 0, 0},
    {"postgres", "max_buffer_rows",      K_LL,  C(postgres.max_buffer_rows), "1000000", 1, 1000000000000LL, NULL, 0, 0},
    {"postgres", "retention_days",       K_INT, C(postgres.retention_days), "0", 0, 365000, NULL, 0, 0},

    {"redis", "url",                K_STR,  C(redis.url), "", 0, 0, NULL, F_URLSECRET, 0},
    {"redis", "publish",            K_BOOL, C(redis.publish), "false", 0, 0, NULL, 0, 0},
    {"redis", "publish_channel",    K_STR,  C(redis.publish_channel), "tickgate:ticks", 0, 0, NULL, 0, 0},
    {"redis", "command_timeout_ms", K_INT,  C(redis.command_timeout_ms), "250", 1, 600000, NULL, 0, 0},
    {"redis", "bus_channel",        K_STR,  C(redis.bus_channel), "tickgate:bus", 0, 0, NULL, 0, 0},
    {"redis", "bus_mode",           K_ENUM, C(redis.bus_mode), "stream", 0, 0, bus_modes, 0, 0},
    {"redis", "bus_maxlen",         K_LL,   C(redis.bus_maxlen), "100000", 100, 1000000000, NULL, 0, 0},

    {"node", "role",                K_ENUM, C(node.role), "all", 0, 0, node_roles, 0, 0},

    {"journal", "dir",               K_STR,  C(journal.dir), "", 0, 0, NULL, 0, 0},
    {"journal", "segment_bytes",     K_LL,   C(journal.segment_bytes), "67108864", 4096, 1LL << 40, NULL, 0, 0},
    {"journal", "max_bytes",         K_LL,   C(journal.max_bytes), "0", 0, 1LL << 56, NULL, 0, 0},
    {"journal", "fsync",             K_ENUM, C(journal.fsync), "interval", 0, 0, fsync_modes, 0, 0},
    {"journal", "fsync_interval_ms", K_INT,  C(journal.fsync_interval_ms), "100", 1, 3600000, NULL, 0, 0},

    {"log", "level",  K_ENUM, C(log.level), "info", 0, 0, log_levels, 0, 0},
    {"log", "format", K_ENUM, C(log.format), "json", 0, 0, log_formats, 0, 0},
};

/* Applied to each element of `feeds`; `types` says which feed types accept the key. */
const cfg_key_t tg__config_feed_keys[] = {
    {NULL, "name",       K_STR,      FC(name), NULL, 0, 0, NULL, F_REQUIRED | F_NOENV, T_ALL},
    {NULL, "type",       K_FEEDTYPE, FC(type), NULL, 0, 0, NULL, F_REQUIRED, T_ALL},
    {NULL, "priority",   K_INT,      FC(priority), "0", 0, 1000000, NULL, 0, T_ALL},
    {NULL, "url",        K_STR,      FC(url), "", 0, 0, NULL, F_URLSECRET, T_WS},
    {NULL, "format",     K_ENUM,     FC(format), "", 0, 0, tg_feed_format_names, 0, T_WS},
    {NULL, "api_key",    K_STR,      FC(api_key), "", 0, 0, NULL, F_SECRET, T_WS},
    {NULL, "api_secret", K_STR,      FC(api_secret), "", 0, 0, NULL, F_SECRET, T_WS},
    {NULL, "subscribe",  K_LIST,     FC(subscribe), "", 0, 0, NULL, 0, T_WS},
    {NULL, "rate",       K_INT,      FC(rate), "1000", 1, 100000000, NULL, 0, T_SYN},
    {NULL, "seed",       K_LL,       FC(seed), "42", LLONG_MIN, LLONG_MAX, NULL, 0, T_SYN},
    {NULL, "levels",     K_LIST,     FC(levels), "", 0, 0, NULL, F_LEVELS, T_SYN},
    {NULL, "step_bp",    K_INT,      FC(step_bp), "5", 1, 1000, NULL, 0, T_SYN},
    {NULL, "path",       K_STR,      FC(path), "", 0, 0, NULL, 0, T_REP},
    {NULL, "speed",      K_SPEED,    FC(speed), "1", 0, D(1000000), NULL, F_MIN_EXCL, T_REP},
    {NULL, "loop",       K_BOOL,     FC(loop), "false", 0, 0, NULL, 0, T_REP},
    {NULL, "listen",     K_HOSTPORT, FC(listen), "", 0, 0, NULL, F_EMPTY_OK, T_TCP},
    {NULL, "connect",    K_HOSTPORT, FC(connect), "", 0, 0, NULL, F_EMPTY_OK, T_TCP},
    {NULL, "allow_from", K_LIST,     FC(allow_from), "", 0, 0, NULL, F_ADDRS, T_TCP},
    {NULL, "channel",    K_STR,      FC(channel), "tickgate:ticks", 0, 0, NULL, 0, T_RED},
    {NULL, "stream",     K_STR,      FC(stream), "", 0, 0, NULL, 0, T_RED},
    {NULL, "symbols",    K_LIST,     FC(symbols), "", 0, 0, NULL, F_SYMBOLS, T_ALL},
    {NULL, "symbol_map", K_SYMMAP,   FC(map_from), "", 0, 0, NULL, 0, T_ALL},
    {NULL, "breaker.window",                 K_INT, FC(breaker.window), "20", 1, 100000, NULL, 0, T_ALL},
    {NULL, "breaker.min_calls",              K_INT, FC(breaker.min_calls), "5", 1, 100000, NULL, 0, T_ALL},
    {NULL, "breaker.failure_rate_threshold", K_DEC, FC(breaker.failure_rate_threshold), "0.5", 0, D(1), NULL, F_MIN_EXCL, T_ALL},
    {NULL, "breaker.stale_after_ms",         K_INT, FC(breaker.stale_after_ms), "5000", 0, 86400000, NULL, 0, T_ALL},
    {NULL, "breaker.open_wait_ms",           K_INT, FC(breaker.open_wait_ms), "1000", 1, 86400000, NULL, 0, T_ALL},
    {NULL, "breaker.open_wait_max_ms",       K_INT, FC(breaker.open_wait_max_ms), "30000", 1, 86400000, NULL, 0, T_ALL},
    {NULL, "breaker.half_open_successes",    K_INT, FC(breaker.half_open_successes), "3", 1, 100000, NULL, 0, T_ALL},
    {NULL, "breaker.half_open_max_wait_ms",  K_INT, FC(breaker.half_open_max_wait_ms), "5000", 1, 86400000, NULL, 0, T_ALL},
};
/* clang-format on */
#pragma GCC diagnostic pop

const size_t tg__config_n_main = sizeof tg__config_main_keys / sizeof tg__config_main_keys[0];
const size_t tg__config_n_feed = sizeof tg__config_feed_keys / sizeof tg__config_feed_keys[0];
_Static_assert(sizeof tg__config_feed_keys / sizeof tg__config_feed_keys[0] <= 64, "feed key set masks are uint64_t");
