/* config.h - the effective configuration (SPEC §2 "Configuration file").
 *
 * Every key is declared once in the table in src/common/config_keys.c (name, type,
 * default, range, env name, secret flag); that table drives defaults, libconfig
 * parsing, TICKGATE_<SECTION>_<KEY> overrides and check-config printing.
 * Decimal keys are tg_dec_t (rounded half-to-even to 8 places). Strings are
 * heap copies owned by the config; tg_config_free() releases them.
 * A config is built on the main thread, then read-only everywhere.
 */
#ifndef TICKGATE_CONFIG_H
#define TICKGATE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "tickgate/fixed.h"

#define TG_MAX_FEEDS 32

typedef struct tg_strlist {
    char **v; /* n heap strings */
    size_t n;
} tg_strlist_t;

typedef struct tg_breaker_conf {
    int window;                      /* 20, 1..10000 */
    int min_calls;                   /* 5, 1..10000 */
    tg_dec_t failure_rate_threshold; /* 0.5, (0, 1] */
    int stale_after_ms;              /* 5000, 0 = off */
    int open_wait_ms;                /* 1000 */
    int open_wait_max_ms;            /* 30000 */
    int half_open_successes;         /* 3 */
    int half_open_max_wait_ms;       /* 5000 */
} tg_breaker_conf_t;

typedef enum tg_feed_type {
    TG_FEED_SYNTHETIC = 0,
    TG_FEED_REPLAY,
    TG_FEED_WS,
    TG_FEED_TCP,
    TG_FEED_REDIS,
    TG_FEED__COUNT
} tg_feed_type_t;

/** "synthetic", "replay", "ws", "tcp", "redis" (the config's names); "?" out of range. */
const char *tg_feed_type_name(tg_feed_type_t t);
/** The ws message format names the config accepts, NULL-terminated (feeds/format.c has one parser each). */
extern const char *const tg_feed_format_names[];

typedef struct tg_feed_conf {
    char *name;
    tg_feed_type_t type;
    int priority;              /* lower = preferred */
    tg_strlist_t symbols;      /* [] = whatever the feed sends */
    tg_strlist_t map_from;     /* symbol_map: provider name ... */
    tg_strlist_t map_to;       /* ... -> our name (same length as map_from) */
    tg_breaker_conf_t breaker;
    /* synthetic */
    int rate;                  /* ticks/s, 1000 */
    long long seed;            /* 42 */
    tg_strlist_t levels;       /* "SYMBOL=PRICE" start levels over tg_default_levels */
    int step_bp;               /* largest step per tick in basis points, 5 */
    /* replay */
    char *path;
    tg_dec_t speed;            /* 1 = real time; 0 = "max" */
    bool loop;
    /* ws */
    char *url;
    char *format;              /* finnhub|alpaca|polygon|coinbase|binance|tickgate */
    char *api_key;             /* secret */
    char *api_secret;          /* secret */
    tg_strlist_t subscribe;
    /* tcp */
    char *listen;              /* host:port, or "" */
    char *connect;             /* host:port, or "" */
    tg_strlist_t allow_from;   /* listen: peer addresses/CIDRs allowed; [] = any */
    /* redis */
    char *channel;             /* "tickgate:ticks" */
    char *stream;              /* "" = use pub/sub channel */
} tg_feed_conf_t;

typedef struct tg_config {
    struct {
        char *listen;          /* "127.0.0.1:8080" */
        int threads;           /* 1, 1..64 */
        char *tls_cert, *tls_key;
        char *web_root;
        bool compression;
        char *metrics_listen;
        tg_strlist_t trusted_proxies;
        bool disable_io_uring; /* false; env TICKGATE_DISABLE_IO_URING: journal, tcp feeds use the fallback */
        bool no_direct_write;  /* false; env TG_NO_DIRECT_WRITE: benchmark A/B switch */
        bool send_ts;          /* false: out_ts on each frame's first message */
        bool wiretap;          /* true; env TICKGATE_WIRETAP: check client input before lws (wiretap.c) */
    } server;
    struct {
        char *jwt_alg;         /* "HS256" | "RS256" */
        char *jwt_secret;      /* secret */
        char *jwt_public_key;
        int leeway_s;          /* 5 */
        int auth_timeout_ms;   /* 5000 */
    } auth;
    struct tg_limits {         /* SIGHUP reloads it (tg_gateway_set_limits) */
        int max_message_bytes; /* 65536 */
        int msgs_per_s;        /* 50 */
        int burst;             /* 100 */
        int max_subscriptions; /* 1000 */
        int max_conns_per_ip;  /* 10000 */
        long long max_pending_bytes; /* 4194304 */
        int max_inflight_bytes; /* 65536: unacknowledged bytes per socket (SIOCOUTQ) */
        int max_stall_ms;      /* 10000 */
        int history_size;      /* 1000 */
        long long history_max_bytes; /* 268435456 */
        int portfolio_max_hz;  /* 10 */
        int http_per_min;      /* 60 */
    } limits;
    tg_feed_conf_t feeds[TG_MAX_FEEDS];
    size_t n_feeds;
    struct {
        char *portfolios_file;
        char *session_open;    /* "HH:MM" */
        char *session_tz;      /* IANA name */
        tg_dec_t max_jump_pct; /* 0 = off */
        tg_strlist_t universe;
        int max_symbols;       /* 100000 */
        int bars_keep;         /* 1440: final bars kept per symbol and interval (SPEC §12) */
        int bar_grace_ms;      /* 1000: a bar is final this long after its end */
        int unpriced_after_s;  /* 60; 0 = no `unpriced` alert */
        char *tzdir;           /* "/usr/share/zoneinfo"; env TZDIR */
    } engine;
    struct {
        tg_dec_t rebalance_drift, drift_relative, loss_limit, gain_target, hysteresis,
            price_hysteresis;
        tg_dec_t concentration, volatility; /* 0 = off (SPEC §13) */
        int volatility_window_s;            /* 300 */
        char *webhook_url;                  /* secret inside (password) */
        char *webhook_secret;               /* secret: HMAC key of X-Tickgate-Signature */
        int webhook_timeout_ms;             /* 5000 */
        int webhook_max_retry_s;            /* 86400 */
        char *alertmanager_url;             /* secret inside (password) */
        int alertmanager_resend_s;          /* 60: Alertmanager re-send while firing */
    } alerts;
    struct {
        char *url;             /* secret inside (password) */
        int snapshot_interval_ms, holdings_interval_ms;
        long long max_buffer_rows;
        int retention_days;
    } postgres;
    struct {
        char *url;             /* secret inside (password) */
        bool publish;
        char *publish_channel;
        int command_timeout_ms;
        char *bus_channel;     /* "tickgate:bus": cluster bus (SPEC §14) */
        char *bus_mode;        /* stream | pubsub */
        long long bus_maxlen;  /* XADD MAXLEN ~ */
    } redis;
    struct {
        char *role;            /* all | ingest | gateway */
    } node;
    struct {
        char *dir;
        long long segment_bytes, max_bytes;
        char *fsync;           /* none|interval|always */
        int fsync_interval_ms;
    } journal;
    struct {
        char *level;           /* debug|info|warn|error */
        char *format;          /* json|text */
    } log;

    bool embedded_default;     /* no --config: SPEC §2 embedded default */
} tg_config_t;

/**
 * Fill *cfg with the SPEC defaults (no feeds). Returns 0 or -ENOMEM.
 * Must be paired with tg_config_free().
 */
int tg_config_defaults(tg_config_t *cfg);

/**
 * Build the effective configuration: defaults, then the file at `path` (NULL
 * = embedded default: one synthetic feed over the bundled universe), then
 * TICKGATE_* variables from `envp`. On error returns -EINVAL (or -ENOENT for a
 * missing file) and writes one line into err naming the key and the reason,
 * e.g. "limits.burst: out of range (1..1000000): 0".
 */
int tg_config_load(tg_config_t *cfg, const char *path, char *const *envp, char *err,
                   size_t errlen);

/**
 * Like tg_config_load() but parses `len` bytes of libconfig text (no @include
 * base directory); `name` stands for the file name in error messages. For
 * tests and the fuzzer.
 */
int tg_config_load_string(tg_config_t *cfg, const char *text, size_t len, const char *name,
                          char *const *envp, char *err, size_t errlen);

/** Print the effective config in libconfig syntax with secrets masked ("***"). */
void tg_config_print(const tg_config_t *cfg, FILE *out);

/** Release everything the config owns; NULL is fine. */
void tg_config_free(tg_config_t *cfg);

/** Parse "host:port" (IPv4/IPv6/name). 0, or -EINVAL. host gets at most hostlen-1 bytes. */
int tg_parse_hostport(const char *s, char *host, size_t hostlen, int *port);

/**
 * Parse a TTL: digits with an optional unit s, m, h or d ("90", "30s", "15m",
 * "24h", "2d"); no sign, spaces or fractions. Returns 0 and *out seconds,
 * -EINVAL if malformed, -ERANGE if it overflows int64.
 */
int tg_parse_duration_s(const char *s, int64_t *out);

/** The bundled symbol universe of the embedded default (>= 50 symbols). */
extern const char *const tg_default_universe[];
extern const size_t tg_default_universe_len;

/** A reference price: the synthetic feed starts `symbol` at `price` (exact decimal text). */
typedef struct tg_level {
    const char *symbol, *price;
} tg_level_t;

/** Start levels of the bundled universe (a feed's `levels` override them). */
extern const tg_level_t tg_default_levels[];
extern const size_t tg_default_levels_len;

#endif
