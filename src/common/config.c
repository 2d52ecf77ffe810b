/* config.c - the configuration (SPEC §2): defaults, libconfig file, TICKGATE_*
 * environment overrides, validation and check-config printing.
 *
 * Every key is declared exactly once, in main_keys[] (sections) or feed_keys[]
 * (each element of the `feeds` list). Those tables drive everything: defaults
 * are the table's default text parsed like an environment value, the file
 * walker looks up each setting it meets in the table (so unknown keys are
 * found for free), environment names are derived from section and key, and
 * the printer walks the same tables. Adding a key = one table line plus the
 * field in config.h.
 */
#include "tickgate/config.h"
#include "tickgate/file.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the key tables ---------------------------------------------------- */

typedef enum {
    K_STR,      /* char * */
    K_ENUM,     /* char *, one of key->choices */
    K_HOSTPORT, /* char *, "host:port" (or "" with F_EMPTY_OK) */
    K_INT,      /* int */
    K_LL,       /* long long */
    K_BOOL,     /* bool */
    K_DEC,      /* tg_dec_t; the file may give a float or an integer */
    K_LIST,     /* tg_strlist_t; env: comma-separated */
    K_FEEDTYPE, /* tg_feed_type_t */
    K_SPEED,    /* tg_dec_t: "max" (stored as 0) or a positive number */
    K_SYMMAP,   /* map_from/map_to pair of tg_strlist_t; env: "FROM=TO,..." */
} cfg_kind_t;

enum {
    F_SECRET = 1u << 0,    /* whole value is a secret: printed as "***" */
    F_URLSECRET = 1u << 1, /* password inside the URL is a secret */
    F_EMPTY_OK = 1u << 2,  /* K_HOSTPORT: "" allowed */
    F_MIN_EXCL = 1u << 3,  /* K_DEC: min itself is out of range */
    F_SYMBOLS = 1u << 4,   /* K_LIST: elements are symbols */
    F_NOENV = 1u << 5,     /* not settable from the environment */
    F_REQUIRED = 1u << 6,  /* feed key that must be present */
    F_ADDRS = 1u << 7,     /* K_LIST: elements are IP addresses or CIDRs */
};

#define T_SYN (1u << TG_FEED_SYNTHETIC)
#define T_REP (1u << TG_FEED_REPLAY)
#define T_WS (1u << TG_FEED_WS)
#define T_TCP (1u << TG_FEED_TCP)
#define T_RED (1u << TG_FEED_REDIS)
#define T_ALL (T_SYN | T_REP | T_WS | T_TCP | T_RED)

typedef struct cfg_key {
    const char *section;         /* "server", …; NULL in feed_keys[] */
    const char *key;             /* dotted inside a nested group: "tls.cert" */
    cfg_kind_t kind;
    size_t off;                  /* into tg_config_t, or tg_feed_conf_t */
    const char *def;             /* default, as environment text; NULL = none */
    long long min, max;          /* K_INT, K_LL; tg_dec_t units for K_DEC/K_SPEED */
    const char *const *choices;  /* K_ENUM */
    unsigned flags;
    unsigned types;              /* feed_keys[]: feed types the key applies to */
} cfg_key_t;

#define D(x) ((long long)((x) * (double)TG_DEC_SCALE)) /* exact for the constants below */
#define C(f) offsetof(tg_config_t, f)
#define FC(f) offsetof(tg_feed_conf_t, f)

static const char *const jwt_algs[] = {"HS256", "RS256", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_formats[] = {"json", "text", NULL};
static const char *const fsync_modes[] = {"none", "interval", "always", NULL};
static const char *const ws_formats[] = {"finnhub", "alpaca",  "polygon", "coinbase",
                                         "binance", "tickgate", NULL};
static const char *const feed_type_names[] = {"synthetic", "replay", "ws", "tcp", "redis", NULL};

/* clang-format off */
static const cfg_key_t main_keys[] = {
    {"server", "listen",          K_HOSTPORT, C(server.listen), "127.0.0.1:8080", 0, 0, NULL, 0, 0},
    {"server", "threads",         K_INT,  C(server.threads), "1", 1, 64, NULL, 0, 0},
    {"server", "tls.cert",        K_STR,  C(server.tls_cert), "", 0, 0, NULL, 0, 0},
    {"server", "tls.key",         K_STR,  C(server.tls_key), "", 0, 0, NULL, 0, 0},
    {"server", "web_root",        K_STR,  C(server.web_root), "", 0, 0, NULL, 0, 0},
    {"server", "compression",     K_BOOL, C(server.compression), "false", 0, 0, NULL, 0, 0},
    {"server", "metrics_listen",  K_HOSTPORT, C(server.metrics_listen), "", 0, 0, NULL, F_EMPTY_OK, 0},
    {"server", "trusted_proxies", K_LIST, C(server.trusted_proxies), "", 0, 0, NULL, F_ADDRS, 0},

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

    {"alerts", "rebalance_drift",  K_DEC, C(alerts.rebalance_drift), "0.05", 0, D(1), NULL, 0, 0},
    {"alerts", "drift_relative",   K_DEC, C(alerts.drift_relative), "0.0", 0, D(1000), NULL, 0, 0},
    {"alerts", "loss_limit",       K_DEC, C(alerts.loss_limit), "0.10", 0, D(1), NULL, 0, 0},
    {"alerts", "gain_target",      K_DEC, C(alerts.gain_target), "0.20", 0, D(1000000), NULL, 0, 0},
    {"alerts", "hysteresis",       K_DEC, C(alerts.hysteresis), "0.10", 0, D(1), NULL, 0, 0},
    {"alerts", "price_hysteresis", K_DEC, C(alerts.price_hysteresis), "0.001", 0, D(1), NULL, 0, 0},
    {"alerts", "webhook_url",      K_STR, C(alerts.webhook_url), "", 0, 0, NULL, F_URLSECRET, 0},

    {"postgres", "url",                  K_STR, C(postgres.url), "", 0, 0, NULL, F_URLSECRET, 0},
    {"postgres", "snapshot_interval_ms", K_INT, C(postgres.snapshot_interval_ms), "1000", 10, 86400000, NULL, 0, 0},
    {"postgres", "holdings_interval_ms", K_INT, C(postgres.holdings_interval_ms), "60000", 10, 86400000, NULL, 0, 0},
    {"postgres", "max_buffer_rows",      K_LL,  C(postgres.max_buffer_rows), "1000000", 1, 1000000000000LL, NULL, 0, 0},
    {"postgres", "retention_days",       K_INT, C(postgres.retention_days), "0", 0, 365000, NULL, 0, 0},

    {"redis", "url",                K_STR,  C(redis.url), "", 0, 0, NULL, F_URLSECRET, 0},
    {"redis", "publish",            K_BOOL, C(redis.publish), "false", 0, 0, NULL, 0, 0},
    {"redis", "publish_channel",    K_STR,  C(redis.publish_channel), "tickgate:ticks", 0, 0, NULL, 0, 0},
    {"redis", "command_timeout_ms", K_INT,  C(redis.command_timeout_ms), "250", 1, 600000, NULL, 0, 0},

    {"journal", "dir",               K_STR,  C(journal.dir), "", 0, 0, NULL, 0, 0},
    {"journal", "segment_bytes",     K_LL,   C(journal.segment_bytes), "67108864", 4096, 1LL << 40, NULL, 0, 0},
    {"journal", "max_bytes",         K_LL,   C(journal.max_bytes), "0", 0, 1LL << 56, NULL, 0, 0},
    {"journal", "fsync",             K_ENUM, C(journal.fsync), "interval", 0, 0, fsync_modes, 0, 0},
    {"journal", "fsync_interval_ms", K_INT,  C(journal.fsync_interval_ms), "100", 1, 3600000, NULL, 0, 0},

    {"log", "level",  K_ENUM, C(log.level), "info", 0, 0, log_levels, 0, 0},
    {"log", "format", K_ENUM, C(log.format), "json", 0, 0, log_formats, 0, 0},
};

/* Applied to each element of `feeds`; `types` says which feed types accept the key. */
static const cfg_key_t feed_keys[] = {
    {NULL, "name",       K_STR,      FC(name), NULL, 0, 0, NULL, F_REQUIRED | F_NOENV, T_ALL},
    {NULL, "type",       K_FEEDTYPE, FC(type), NULL, 0, 0, NULL, F_REQUIRED, T_ALL},
    {NULL, "priority",   K_INT,      FC(priority), "0", 0, 1000000, NULL, 0, T_ALL},
    {NULL, "url",        K_STR,      FC(url), "", 0, 0, NULL, F_URLSECRET, T_WS},
    {NULL, "format",     K_ENUM,     FC(format), "", 0, 0, ws_formats, 0, T_WS},
    {NULL, "api_key",    K_STR,      FC(api_key), "", 0, 0, NULL, F_SECRET, T_WS},
    {NULL, "api_secret", K_STR,      FC(api_secret), "", 0, 0, NULL, F_SECRET, T_WS},
    {NULL, "subscribe",  K_LIST,     FC(subscribe), "", 0, 0, NULL, 0, T_WS},
    {NULL, "rate",       K_INT,      FC(rate), "1000", 1, 100000000, NULL, 0, T_SYN},
    {NULL, "seed",       K_LL,       FC(seed), "42", LLONG_MIN, LLONG_MAX, NULL, 0, T_SYN},
    {NULL, "path",       K_STR,      FC(path), "", 0, 0, NULL, 0, T_REP},
    {NULL, "speed",      K_SPEED,    FC(speed), "1", 0, D(1000000), NULL, F_MIN_EXCL, T_REP},
    {NULL, "loop",       K_BOOL,     FC(loop), "false", 0, 0, NULL, 0, T_REP},
    {NULL, "listen",     K_HOSTPORT, FC(listen), "", 0, 0, NULL, F_EMPTY_OK, T_TCP},
    {NULL, "connect",    K_HOSTPORT, FC(connect), "", 0, 0, NULL, F_EMPTY_OK, T_TCP},
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

#define N_MAIN (sizeof main_keys / sizeof main_keys[0])
#define N_FEED (sizeof feed_keys / sizeof feed_keys[0])
_Static_assert(N_FEED <= 64, "feed key set masks are uint64_t");

#define SYMBOL_MAX 31 /* SPEC §3: longer symbols are rejected */
#define NAME_MAX_LEN 128

/* ---- load state and errors --------------------------------------------- */

typedef struct load_ctx {
    char *err;
    size_t errlen;
    uint64_t feed_set[TG_MAX_FEEDS]; /* which feed_keys[] each feed set explicitly */
} load_ctx_t;

__attribute__((format(printf, 3, 4))) static int fail(load_ctx_t *ctx, int rc, const char *fmt,
                                                      ...)
{
    if (ctx->err && ctx->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->err, ctx->errlen, fmt, ap);
        va_end(ap);
        /* one line, whatever a value or libconfig said */
        for (char *p = ctx->err; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
    }
    return rc;
}

/* A printable, bounded, quoted copy of a user value for an error message. */
static const char *quote(const char *s, char *buf, size_t n)
{
    size_t j = 0;
    buf[j++] = '"';
    for (size_t i = 0; s[i] && j + 6 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
            j += (size_t)snprintf(buf + j, n - j, "\\x%02x", c);
        else
            buf[j++] = (char)c;
        if (i == 63 && s[i + 1]) {
            j += (size_t)snprintf(buf + j, n - j, "...");
            break;
        }
    }
    buf[j++] = '"';
    buf[j] = 0;
    return buf;
}

/* ---- small value helpers ----------------------------------------------- */

static int set_str(char **dst, const char *s)
{
    char *c = strdup(s);
    if (!c)
        return -ENOMEM;
    free(*dst);
    *dst = c;
    return 0;
}

static void list_clear(tg_strlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* Takes ownership of `s` (freed on failure). */
static int list_push(tg_strlist_t *l, char *s)
{
    char **v = realloc(l->v, (l->n + 1) * sizeof *v);
    if (!v) {
        free(s);
        return -ENOMEM;
    }
    l->v = v;
    l->v[l->n++] = s;
    return 0;
}

static int list_push_copy(tg_strlist_t *l, const char *s)
{
    char *c = strdup(s);
    return c ? list_push(l, c) : -ENOMEM;
}

static const char *dec_str(tg_dec_t v, char *buf)
{
    tg_dec_format(v, buf);
    return buf;
}

static bool valid_symbol(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SYMBOL_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
            return false;
    return true;
}

static bool valid_addr(const char *s)
{
    char ip[INET6_ADDRSTRLEN + 1];
    unsigned char bin[16];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof ip)
        return false;
    memcpy(ip, s, n);
    ip[n] = 0;
    int maxbits = inet_pton(AF_INET, ip, bin) == 1 ? 32 : inet_pton(AF_INET6, ip, bin) == 1 ? 128 : -1;
    if (maxbits < 0)
        return false;
    if (!slash)
        return true;
    const char *p = slash + 1;
    if (!*p || strlen(p) > 3)
        return false;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q))
            return false;
    return atoi(p) <= maxbits;
}

int tg_parse_hostport(const char *s, char *host, size_t hostlen, int *port)
{
    if (!s)
        return -EINVAL;
    const char *h, *he, *p;
    if (s[0] == '[') {
        char ip6[INET6_ADDRSTRLEN + 1];
        unsigned char bin[16];
        h = s + 1;
        he = strchr(h, ']');
        if (!he || he[1] != ':' || he == h || (size_t)(he - h) >= sizeof ip6)
            return -EINVAL;
        memcpy(ip6, h, (size_t)(he - h));
        ip6[he - h] = 0;
        if (inet_pton(AF_INET6, ip6, bin) != 1)
            return -EINVAL;
        p = he + 2;
    } else {
        he = strrchr(s, ':');
        if (!he || he == s || (size_t)(he - s) > 253)
            return -EINVAL;
        h = s;
        for (const char *q = h; q < he; q++)
            if (!isalnum((unsigned char)*q) && *q != '.' && *q != '-' && *q != '_')
                return -EINVAL; /* also refuses an unbracketed IPv6 address */
        p = he + 1;
    }
    size_t pn = strlen(p);
    if (pn == 0 || pn > 5)
        return -EINVAL;
    long v = 0;
    for (size_t i = 0; i < pn; i++) {
        if (!isdigit((unsigned char)p[i]))
            return -EINVAL;
        v = v * 10 + (p[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -EINVAL;
    if (host) {
        if ((size_t)(he - h) >= hostlen)
            return -EINVAL;
        memcpy(host, h, (size_t)(he - h));
        host[he - h] = 0;
    }
    if (port)
        *port = (int)v;
    return 0;
}

/* ---- storing a validated value ----------------------------------------- */

static const char *kind_name(const cfg_key_t *k)
{
    switch (k->kind) {
    case K_INT:
    case K_LL:
        return "integer";
    case K_BOOL:
        return "boolean";
    case K_DEC:
        return "number";
    case K_LIST:
        return "array of strings";
    case K_SPEED:
        return "\"max\" or a number";
    case K_SYMMAP:
        return "list of [from, to] pairs";
    default:
        return "string";
    }
}

static int store_int(load_ctx_t *ctx, const cfg_key_t *k, void *base, const char *name,
                     long long v)
{
    if (v < k->min || v > k->max)
        return fail(ctx, -EINVAL, "%s: out of range (%lld..%lld): %lld", name, k->min, k->max, v);
    if (k->kind == K_INT)
        *(int *)((char *)base + k->off) = (int)v;
    else
        *(long long *)((char *)base + k->off) = v;
    return 0;
}

static int store_dec(load_ctx_t *ctx, const cfg_key_t *k, void *base, const char *name,
                     tg_dec_t v)
{
    char a[TG_DEC_STRLEN + 1], b[TG_DEC_STRLEN + 1], c[TG_DEC_STRLEN + 1];
    if (v < k->min || v > k->max || ((k->flags & F_MIN_EXCL) && v == k->min))
        return fail(ctx, -EINVAL, "%s: out of range (%s%s..%s): %s", name,
                    (k->flags & F_MIN_EXCL) ? ">" : "", dec_str(k->min, a), dec_str(k->max, b),
                    dec_str(v, c));
    *(tg_dec_t *)((char *)base + k->off) = v;
    return 0;
}

/* Validate a string for the string-ish kinds, then store it. */
static int store_string(load_ctx_t *ctx, const cfg_key_t *k, void *base, const char *name,
                        const char *s)
{
    char q[160];
    if (k->kind == K_ENUM && !(*s == 0 && k->types)) { /* a feed's format may stay "" */
        bool ok = false;
        char list[128] = "";
        for (const char *const *c = k->choices; *c; c++) {
            ok |= strcmp(*c, s) == 0;
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", c == k->choices ? "" : "|",
                     *c);
        }
        if (!ok)
            return fail(ctx, -EINVAL, "%s: bad value (expected %s): %s", name, list,
                        quote(s, q, sizeof q));
    }
    if (k->kind == K_HOSTPORT && !(*s == 0 && (k->flags & F_EMPTY_OK)) &&
        tg_parse_hostport(s, NULL, 0, NULL) != 0)
        return fail(ctx, -EINVAL, "%s: bad value (expected host:port): %s", name,
                    quote(s, q, sizeof q));
    if (k->kind == K_FEEDTYPE) {
        for (int i = 0; feed_type_names[i]; i++)
            if (strcmp(feed_type_names[i], s) == 0) {
                *(tg_feed_type_t *)((char *)base + k->off) = (tg_feed_type_t)i;
                return 0;
            }
        return fail(ctx, -EINVAL, "%s: bad value (expected synthetic|replay|ws|tcp|redis): %s",
                    name, quote(s, q, sizeof q));
    }
    if (strlen(s) > 65536)
        return fail(ctx, -EINVAL, "%s: too long (max 65536 bytes)", name);
    return set_str((char **)((char *)base + k->off), s) ? fail(ctx, -ENOMEM, "%s: out of memory", name)
                                                         : 0;
}

static int check_list_elem(load_ctx_t *ctx, const cfg_key_t *k, const char *name, size_t i,
                           const char *s)
{
    char q[160];
    if ((k->flags & F_SYMBOLS) && !valid_symbol(s))
        return fail(ctx, -EINVAL, "%s[%zu]: bad symbol (1..%d bytes, no spaces): %s", name, i,
                    SYMBOL_MAX, quote(s, q, sizeof q));
    if ((k->flags & F_ADDRS) && !valid_addr(s))
        return fail(ctx, -EINVAL, "%s[%zu]: bad value (expected IP address or CIDR): %s", name, i,
                    quote(s, q, sizeof q));
    return 0;
}

/* ---- values from libconfig --------------------------------------------- */

static int wrong_type(load_ctx_t *ctx, const char *name, const char *expected)
{
    return fail(ctx, -EINVAL, "%s: wrong type (expected %s)", name, expected);
}

static bool is_int_setting(const config_setting_t *s)
{
    int t = config_setting_type(s);
    return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

static int dec_from_setting(load_ctx_t *ctx, const cfg_key_t *k, const config_setting_t *s,
                            const char *name, tg_dec_t *out)
{
    if (is_int_setting(s)) { /* float keys accept integers: exact, no double detour */
        long long v = config_setting_get_int64(s);
        if (v > TG_DEC_MAX / TG_DEC_SCALE || v < TG_DEC_MIN / TG_DEC_SCALE)
            return fail(ctx, -EINVAL, "%s: out of range: %lld", name, v);
        *out = TG_DEC(v);
        return 0;
    }
    if (config_setting_type(s) != CONFIG_TYPE_FLOAT)
        return wrong_type(ctx, name, kind_name(k));
    double d = config_setting_get_float(s);
    if (tg_dec_from_double(d, out) != 0)
        return fail(ctx, -EINVAL, "%s: out of range: %g", name, d);
    return 0;
}

static int apply_setting(load_ctx_t *ctx, const cfg_key_t *k, void *base,
                         const config_setting_t *s, const char *name)
{
    char sub[2 * NAME_MAX_LEN + 32];
    int t = config_setting_type(s), rc;
    switch (k->kind) {
    case K_STR:
    case K_ENUM:
    case K_HOSTPORT:
    case K_FEEDTYPE:
        if (t != CONFIG_TYPE_STRING)
            return wrong_type(ctx, name, "string");
        return store_string(ctx, k, base, name, config_setting_get_string(s));
    case K_INT:
    case K_LL:
        if (!is_int_setting(s))
            return wrong_type(ctx, name, "integer");
        return store_int(ctx, k, base, name, config_setting_get_int64(s));
    case K_BOOL:
        if (t != CONFIG_TYPE_BOOL)
            return wrong_type(ctx, name, "boolean");
        *(bool *)((char *)base + k->off) = config_setting_get_bool(s);
        return 0;
    case K_DEC: {
        tg_dec_t v;
        if ((rc = dec_from_setting(ctx, k, s, name, &v)))
            return rc;
        return store_dec(ctx, k, base, name, v);
    }
    case K_SPEED: {
        tg_dec_t v;
        if (t == CONFIG_TYPE_STRING) {
            char q[160];
            if (strcmp(config_setting_get_string(s), "max") != 0)
                return fail(ctx, -EINVAL, "%s: bad value (expected \"max\" or a positive number): %s",
                            name, quote(config_setting_get_string(s), q, sizeof q));
            *(tg_dec_t *)((char *)base + k->off) = 0;
            return 0;
        }
        if ((rc = dec_from_setting(ctx, k, s, name, &v)))
            return rc;
        return store_dec(ctx, k, base, name, v);
    }
    case K_LIST: {
        if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
            return wrong_type(ctx, name, "array of strings");
        tg_strlist_t *l = (tg_strlist_t *)((char *)base + k->off);
        list_clear(l);
        int n = config_setting_length(s);
        for (int i = 0; i < n; i++) {
            const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
            snprintf(sub, sizeof sub, "%s[%d]", name, i);
            if (config_setting_type(e) != CONFIG_TYPE_STRING)
                return wrong_type(ctx, sub, "string");
            const char *v = config_setting_get_string(e);
            if ((rc = check_list_elem(ctx, k, name, (size_t)i, v)))
                return rc;
            if (list_push_copy(l, v))
                return fail(ctx, -ENOMEM, "%s: out of memory", name);
        }
        return 0;
    }
    case K_SYMMAP: {
        tg_feed_conf_t *f = base;
        if (t != CONFIG_TYPE_LIST && !(t == CONFIG_TYPE_ARRAY && config_setting_length(s) == 0))
            return wrong_type(ctx, name, kind_name(k));
        list_clear(&f->map_from);
        list_clear(&f->map_to);
        int n = config_setting_length(s);
        for (int i = 0; i < n; i++) {
            const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
            int et = config_setting_type(e);
            snprintf(sub, sizeof sub, "%s[%d]", name, i);
            if ((et != CONFIG_TYPE_ARRAY && et != CONFIG_TYPE_LIST) || config_setting_length(e) != 2 ||
                config_setting_type(config_setting_get_elem(e, 0)) != CONFIG_TYPE_STRING ||
                config_setting_type(config_setting_get_elem(e, 1)) != CONFIG_TYPE_STRING)
                return wrong_type(ctx, sub, "a pair of strings");
            const char *from = config_setting_get_string(config_setting_get_elem(e, 0));
            const char *to = config_setting_get_string(config_setting_get_elem(e, 1));
            char q[160];
            if (!*from || !valid_symbol(to))
                return fail(ctx, -EINVAL, "%s: bad symbol pair: %s", sub, quote(to, q, sizeof q));
            if (list_push_copy(&f->map_from, from) || list_push_copy(&f->map_to, to))
                return fail(ctx, -ENOMEM, "%s: out of memory", name);
        }
        return 0;
    }
    }
    return fail(ctx, -EINVAL, "%s: internal error (kind)", name);
}

/* ---- values from text (environment, and the tables' defaults) ---------- */

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

/* Split a comma-separated value into trimmed elements. Commas inside quotes,
 * brackets or braces do not split, so JSON subscribe messages survive. */
static int split_list(load_ctx_t *ctx, const char *name, const char *text, tg_strlist_t *out)
{
    char *buf = strdup(text);
    if (!buf)
        return fail(ctx, -ENOMEM, "%s: out of memory", name);
    int rc = 0;
    if (*trim(buf) == 0)
        goto out_free; /* "" = empty list */
    int depth = 0;
    bool in_str = false;
    char *start = buf;
    for (char *p = buf;; p++) {
        if (in_str) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                in_str = false;
            else if (!*p)
                goto elem; /* unterminated quote: take the rest */
            continue;
        }
        if (*p == '"')
            in_str = true;
        else if (*p == '{' || *p == '[')
            depth++;
        else if ((*p == '}' || *p == ']') && depth > 0)
            depth--;
        else if ((*p == ',' && depth == 0) || !*p) {
        elem:;
            bool last = !*p;
            *p = 0;
            char *e = trim(start);
            if (!*e) {
                rc = fail(ctx, -EINVAL, "%s: empty list element", name);
                goto out_free;
            }
            if (list_push_copy(out, e)) {
                rc = fail(ctx, -ENOMEM, "%s: out of memory", name);
                goto out_free;
            }
            if (last)
                break;
            start = p + 1;
        }
    }
out_free:
    free(buf);
    return rc;
}

static int parse_bool_text(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return *out = true, 0;
        if (strcasecmp(s, no[i]) == 0)
            return *out = false, 0;
    }
    return -EINVAL;
}

static int apply_text(load_ctx_t *ctx, const cfg_key_t *k, void *base, const char *text,
                      const char *name)
{
    char q[160];
    int rc;
    switch (k->kind) {
    case K_STR:
    case K_ENUM:
    case K_HOSTPORT:
    case K_FEEDTYPE:
        return store_string(ctx, k, base, name, text);
    case K_INT:
    case K_LL: {
        char *end;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (!*text || isspace((unsigned char)*text) || *end)
            return fail(ctx, -EINVAL, "%s: wrong type (expected integer): %s", name,
                        quote(text, q, sizeof q));
        if (errno == ERANGE)
            return fail(ctx, -EINVAL, "%s: out of range (%lld..%lld): %s", name, k->min, k->max,
                        text);
        return store_int(ctx, k, base, name, v);
    }
    case K_BOOL: {
        bool b;
        if (parse_bool_text(text, &b))
            return fail(ctx, -EINVAL, "%s: wrong type (expected boolean): %s", name,
                        quote(text, q, sizeof q));
        *(bool *)((char *)base + k->off) = b;
        return 0;
    }
    case K_DEC:
    case K_SPEED: {
        tg_dec_t v;
        if (k->kind == K_SPEED && strcmp(text, "max") == 0) {
            *(tg_dec_t *)((char *)base + k->off) = 0;
            return 0;
        }
        rc = tg_dec_parse_round(text, strlen(text), &v);
        if (rc == -ERANGE)
            return fail(ctx, -EINVAL, "%s: out of range: %s", name, quote(text, q, sizeof q));
        if (rc)
            return fail(ctx, -EINVAL, "%s: wrong type (expected %s): %s", name, kind_name(k),
                        quote(text, q, sizeof q));
        return store_dec(ctx, k, base, name, v);
    }
    case K_LIST: {
        tg_strlist_t l = {0};
        if ((rc = split_list(ctx, name, text, &l)))
            goto fail_list;
        for (size_t i = 0; i < l.n; i++)
            if ((rc = check_list_elem(ctx, k, name, i, l.v[i])))
                goto fail_list;
        tg_strlist_t *dst = (tg_strlist_t *)((char *)base + k->off);
        list_clear(dst);
        *dst = l;
        return 0;
    fail_list:
        list_clear(&l);
        return rc;
    }
    case K_SYMMAP: {
        tg_feed_conf_t *f = base;
        tg_strlist_t l = {0}, from = {0}, to = {0};
        if ((rc = split_list(ctx, name, text, &l)))
            goto fail_map;
        for (size_t i = 0; i < l.n; i++) {
            char *eq = strrchr(l.v[i], '=');
            if (!eq || eq == l.v[i] || !valid_symbol(eq + 1)) {
                rc = fail(ctx, -EINVAL, "%s[%zu]: bad value (expected FROM=TO): %s", name, i,
                          quote(l.v[i], q, sizeof q));
                goto fail_map;
            }
            *eq = 0;
            if (list_push_copy(&from, l.v[i]) || list_push_copy(&to, eq + 1)) {
                rc = fail(ctx, -ENOMEM, "%s: out of memory", name);
                goto fail_map;
            }
        }
        list_clear(&l);
        list_clear(&f->map_from);
        list_clear(&f->map_to);
        f->map_from = from;
        f->map_to = to;
        return 0;
    fail_map:
        list_clear(&l);
        list_clear(&from);
        list_clear(&to);
        return rc;
    }
    }
    return fail(ctx, -EINVAL, "%s: internal error (kind)", name);
}

/* ---- defaults and freeing ---------------------------------------------- */

static int apply_defaults(const cfg_key_t *tab, size_t n, void *base)
{
    char err[256];
    load_ctx_t ctx = {.err = err, .errlen = sizeof err};
    for (size_t i = 0; i < n; i++) {
        if (!tab[i].def)
            continue;
        int rc = apply_text(&ctx, &tab[i], base, tab[i].def, tab[i].key);
        if (rc)
            return rc;
    }
    return 0;
}

static void free_fields(const cfg_key_t *tab, size_t n, void *base)
{
    for (size_t i = 0; i < n; i++) {
        char *p = (char *)base + tab[i].off;
        switch (tab[i].kind) {
        case K_STR:
        case K_ENUM:
        case K_HOSTPORT:
            free(*(char **)p);
            *(char **)p = NULL;
            break;
        case K_LIST:
            list_clear((tg_strlist_t *)p);
            break;
        case K_SYMMAP:
            list_clear(&((tg_feed_conf_t *)base)->map_from);
            list_clear(&((tg_feed_conf_t *)base)->map_to);
            break;
        default:
            break;
        }
    }
}

void tg_config_free(tg_config_t *cfg)
{
    if (!cfg)
        return;
    free_fields(main_keys, N_MAIN, cfg);
    for (size_t i = 0; i < cfg->n_feeds && i < TG_MAX_FEEDS; i++)
        free_fields(feed_keys, N_FEED, &cfg->feeds[i]);
    memset(cfg, 0, sizeof *cfg);
}

int tg_config_defaults(tg_config_t *cfg)
{
    if (!cfg)
        return -EINVAL;
    memset(cfg, 0, sizeof *cfg);
    int rc = apply_defaults(main_keys, N_MAIN, cfg);
    if (rc)
        tg_config_free(cfg);
    return rc;
}

/* Append a feed with the feed table's defaults; its name/type are the caller's. */
static int feed_add(load_ctx_t *ctx, tg_config_t *cfg, const char *where, tg_feed_conf_t **out)
{
    if (cfg->n_feeds >= TG_MAX_FEEDS)
        return fail(ctx, -EINVAL, "%s: too many feeds (max %d)", where, TG_MAX_FEEDS);
    tg_feed_conf_t *f = &cfg->feeds[cfg->n_feeds++];
    memset(f, 0, sizeof *f);
    ctx->feed_set[cfg->n_feeds - 1] = 0;
    if (apply_defaults(feed_keys, N_FEED, f))
        return fail(ctx, -ENOMEM, "%s: out of memory", where);
    *out = f;
    return 0;
}

/* ---- the file ---------------------------------------------------------- */

static const cfg_key_t *find_key(const cfg_key_t *tab, size_t n, const char *section,
                                 const char *key, size_t *idx)
{
    for (size_t i = 0; i < n; i++)
        if ((!section || strcmp(tab[i].section, section) == 0) && strcmp(tab[i].key, key) == 0) {
            if (idx)
                *idx = i;
            return &tab[i];
        }
    return NULL;
}

static bool is_group_prefix(const cfg_key_t *tab, size_t n, const char *section, const char *pfx)
{
    size_t pn = strlen(pfx);
    for (size_t i = 0; i < n; i++)
        if ((!section || strcmp(tab[i].section, section) == 0) &&
            strncmp(tab[i].key, pfx, pn) == 0 && tab[i].key[pn] == '.')
            return true;
    return false;
}

/* Apply every setting of group `g` (at display path `path`, table prefix
 * `nest`) through the table; whatever the table does not know is an error. */
static int walk_group(load_ctx_t *ctx, const config_setting_t *g, const cfg_key_t *tab, size_t n,
                      const char *section, void *base, const char *path, const char *nest,
                      uint64_t *set)
{
    int len = config_setting_length(g);
    for (int i = 0; i < len; i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        char key[NAME_MAX_LEN], name[2 * NAME_MAX_LEN];
        snprintf(key, sizeof key, "%s%s", nest, config_setting_name(s));
        snprintf(name, sizeof name, "%s.%s", path, key);
        size_t idx;
        const cfg_key_t *k = find_key(tab, n, section, key, &idx);
        int rc;
        if (k) {
            if ((rc = apply_setting(ctx, k, base, s, name)))
                return rc;
            if (set)
                *set |= 1ull << idx;
        } else if (is_group_prefix(tab, n, section, key)) {
            if (config_setting_type(s) != CONFIG_TYPE_GROUP)
                return wrong_type(ctx, name, "group");
            char sub[NAME_MAX_LEN + 1];
            snprintf(sub, sizeof sub, "%s.", key);
            if ((rc = walk_group(ctx, s, tab, n, section, base, path, sub, set)))
                return rc;
        } else {
            return fail(ctx, -EINVAL, "%s: unknown key", name);
        }
    }
    return 0;
}

static int parse_feeds(load_ctx_t *ctx, tg_config_t *cfg, const config_setting_t *s)
{
    int t = config_setting_type(s);
    if (t != CONFIG_TYPE_LIST && !(t == CONFIG_TYPE_ARRAY && config_setting_length(s) == 0))
        return wrong_type(ctx, "feeds", "list of groups");
    int n = config_setting_length(s);
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
        char path[32];
        snprintf(path, sizeof path, "feeds[%d]", i);
        if (config_setting_type(g) != CONFIG_TYPE_GROUP)
            return wrong_type(ctx, path, "group");
        tg_feed_conf_t *f = NULL;
        int rc = feed_add(ctx, cfg, path, &f);
        if (rc)
            return rc;
        uint64_t *set = &ctx->feed_set[cfg->n_feeds - 1];
        if ((rc = walk_group(ctx, g, feed_keys, N_FEED, NULL, f, path, "", set)))
            return rc;
        for (size_t k = 0; k < N_FEED; k++)
            if ((feed_keys[k].flags & F_REQUIRED) && !(*set & (1ull << k)))
                return fail(ctx, -EINVAL, "%s.%s: missing (required)", path, feed_keys[k].key);
    }
    return 0;
}

static bool is_section(const char *name)
{
    for (size_t i = 0; i < N_MAIN; i++)
        if (strcmp(main_keys[i].section, name) == 0)
            return true;
    return false;
}

static int parse_root(load_ctx_t *ctx, tg_config_t *cfg, const config_setting_t *root)
{
    int n = config_setting_length(root);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *name = config_setting_name(s);
        int rc;
        if (strcmp(name, "feeds") == 0) {
            rc = parse_feeds(ctx, cfg, s);
        } else if (is_section(name)) {
            if (config_setting_type(s) != CONFIG_TYPE_GROUP)
                return wrong_type(ctx, name, "group");
            rc = walk_group(ctx, s, main_keys, N_MAIN, name, cfg, name, "", NULL);
        } else {
            return fail(ctx, -EINVAL, "%s: unknown section", name);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* libconfig 1.5 silently truncates an integer literal that does not fit in
 * 32 bits unless it carries an `L` suffix (`4294967296` reads as 0). Copy the
 * text adding that suffix where needed, so 64-bit keys take plain numbers and
 * an overflow is an out-of-range error instead of a wrong value. Literals past
 * int64 are refused here (-ERANGE, *line set). */
static int widen_ints(const char *s, size_t n, char **out, int *line)
{
    char *o = malloc(2 * n + 1);
    if (!o)
        return -ENOMEM;
    size_t i = 0, j = 0;
    *line = 1;
#define IDCH(c) (isalnum((unsigned char)(c)) || (c) == '_' || (c) == '*' || (c) == '-')
    while (i < n) {
        char c = s[i];
        if (c == '\n') {
            (*line)++;
            o[j++] = s[i++];
        } else if (c == '"') {
            o[j++] = s[i++];
            while (i < n && s[i] != '"') {
                if (s[i] == '\n')
                    (*line)++;
                if (s[i] == '\\' && i + 1 < n)
                    o[j++] = s[i++];
                o[j++] = s[i++];
            }
            if (i < n)
                o[j++] = s[i++];
        } else if (c == '#' || (c == '/' && i + 1 < n && s[i + 1] == '/')) {
            while (i < n && s[i] != '\n')
                o[j++] = s[i++];
        } else if (c == '/' && i + 1 < n && s[i + 1] == '*') {
            o[j++] = s[i++];
            o[j++] = s[i++];
            while (i < n) {
                if (s[i] == '*' && i + 1 < n && s[i + 1] == '/') {
                    o[j++] = s[i++];
                    o[j++] = s[i++];
                    break;
                }
                if (s[i] == '\n')
                    (*line)++;
                o[j++] = s[i++];
            }
        } else if (isalpha((unsigned char)c) || c == '*' || c == '_' || c == '@') {
            o[j++] = s[i++];
            while (i < n && IDCH(s[i]))
                o[j++] = s[i++];
        } else if (isdigit((unsigned char)c) ||
                   ((c == '-' || c == '+') && i + 1 < n && isdigit((unsigned char)s[i + 1]))) {
            size_t st = i;
            bool neg = c == '-';
            if (c == '-' || c == '+')
                i++;
            bool hex = s[i] == '0' && i + 1 < n && (s[i + 1] == 'x' || s[i + 1] == 'X');
            unsigned __int128 v = 0;
            bool big = false;
            if (hex) {
                i += 2;
                while (i < n && isxdigit((unsigned char)s[i])) {
                    int d = isdigit((unsigned char)s[i]) ? s[i] - '0' : (tolower(s[i]) - 'a' + 10);
                    v = v * 16 + (unsigned)d;
                    big |= v > UINT64_MAX;
                    i++;
                }
            } else {
                while (i < n && isdigit((unsigned char)s[i])) {
                    v = v * 10 + (unsigned)(s[i] - '0');
                    big |= v > UINT64_MAX;
                    i++;
                }
                if (i < n && (s[i] == '.' || s[i] == 'e' || s[i] == 'E')) { /* a float */
                    while (i < n && (isdigit((unsigned char)s[i]) || s[i] == '.' || s[i] == 'e' ||
                                     s[i] == 'E' || s[i] == '-' || s[i] == '+'))
                        i++;
                    memcpy(o + j, s + st, i - st);
                    j += i - st;
                    continue;
                }
            }
            if (big || v > (unsigned __int128)INT64_MAX + (neg ? 1 : 0)) {
                free(o);
                return -ERANGE;
            }
            memcpy(o + j, s + st, i - st);
            j += i - st;
            bool fits32 = neg ? v <= (unsigned __int128)INT32_MAX + 1 : v <= INT32_MAX;
            if (!fits32 && !(i < n && s[i] == 'L'))
                o[j++] = 'L';
        } else {
            o[j++] = s[i++];
        }
    }
#undef IDCH
    o[j] = 0;
    *out = o;
    return 0;
}

static int parse_text(load_ctx_t *ctx, tg_config_t *cfg, const char *text, size_t len,
                      const char *fname, const char *incdir)
{
    char *wide = NULL;
    int line = 0, rc;
    if (memchr(text, 0, len))
        return fail(ctx, -EINVAL, "%s: contains a NUL byte", fname);
    rc = widen_ints(text, len, &wide, &line);
    if (rc == -ERANGE)
        return fail(ctx, -EINVAL, "%s:%d: integer out of range", fname, line);
    if (rc)
        return fail(ctx, rc, "%s: out of memory", fname);
    config_t lc;
    config_init(&lc);
    if (incdir)
        config_set_include_dir(&lc, incdir);
    if (config_read_string(&lc, wide) != CONFIG_TRUE) {
        const char *f = config_error_file(&lc);
        rc = fail(ctx, -EINVAL, "%s:%d: %s", f ? f : fname, config_error_line(&lc),
                  config_error_text(&lc) ? config_error_text(&lc) : "syntax error");
        goto out_destroy;
    }
    rc = parse_root(ctx, cfg, config_root_setting(&lc));
out_destroy:
    config_destroy(&lc);
    free(wide);
    return rc;
}

static int read_file(load_ctx_t *ctx, const char *path, char **out, size_t *outlen)
{
    int rc = tg_file_read(path, 64u << 20, out, outlen);
    if (rc == -EFBIG)
        return fail(ctx, -EINVAL, "%s: too large (max 64 MiB)", path);
    if (rc == -ENOMEM)
        return fail(ctx, -ENOMEM, "%s: out of memory", path);
    if (rc == -ENOENT || rc == -EACCES || rc == -EISDIR || rc == -ENOTDIR)
        return fail(ctx, rc, "%s: cannot open: %s", path, strerror(-rc));
    if (rc)
        return fail(ctx, -EINVAL, "%s: cannot read: %s", path, strerror(-rc));
    return 0;
}

/* ---- environment ------------------------------------------------------- */

/* TICKGATE_ name part: upper-cased, anything but [A-Z0-9] becomes '_'. */
static void env_part(char *dst, size_t n, const char *s)
{
    size_t j = 0;
    for (; *s && j + 1 < n; s++)
        dst[j++] = isalnum((unsigned char)*s) ? (char)toupper((unsigned char)*s) : '_';
    dst[j] = 0;
}

static int apply_env_var(load_ctx_t *ctx, tg_config_t *cfg, const char *var, const char *val)
{
    char want[3 * NAME_MAX_LEN], a[NAME_MAX_LEN], b[NAME_MAX_LEN];
    for (size_t i = 0; i < N_MAIN; i++) {
        env_part(a, sizeof a, main_keys[i].section);
        env_part(b, sizeof b, main_keys[i].key);
        snprintf(want, sizeof want, "TICKGATE_%s_%s", a, b);
        if (strcmp(want, var) == 0)
            return apply_text(ctx, &main_keys[i], cfg, val, var);
    }
    static const char pfx[] = "TICKGATE_FEEDS_";
    if (strncmp(var, pfx, sizeof pfx - 1) == 0) {
        /* Prefer the longest feed name that matches, so feeds "a" and "a_b" never clash. */
        const cfg_key_t *best = NULL;
        size_t best_feed = 0, best_len = 0, best_idx = 0;
        for (size_t f = 0; f < cfg->n_feeds; f++) {
            env_part(a, sizeof a, cfg->feeds[f].name ? cfg->feeds[f].name : "");
            size_t an = strlen(a);
            const char *rest = var + sizeof pfx - 1;
            if (!an || strncmp(rest, a, an) != 0 || rest[an] != '_' || an < best_len)
                continue;
            for (size_t k = 0; k < N_FEED; k++) {
                if (feed_keys[k].flags & F_NOENV)
                    continue;
                env_part(b, sizeof b, feed_keys[k].key);
                if (strcmp(rest + an + 1, b) == 0) {
                    best = &feed_keys[k];
                    best_feed = f;
                    best_len = an;
                    best_idx = k;
                }
            }
        }
        if (best) {
            ctx->feed_set[best_feed] |= 1ull << best_idx;
            return apply_text(ctx, best, &cfg->feeds[best_feed], val, var);
        }
    }
    return fail(ctx, -EINVAL, "%s: unknown variable", var);
}

static int apply_env(load_ctx_t *ctx, tg_config_t *cfg, char *const *envp)
{
    for (char *const *e = envp; e && *e; e++) {
        if (strncmp(*e, "TICKGATE_", 9) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        char var[2 * NAME_MAX_LEN];
        size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
        if (n >= sizeof var)
            n = sizeof var - 1;
        memcpy(var, *e, n);
        var[n] = 0;
        /* process switches that are not configuration keys */
        if (!strcmp(var, "TICKGATE_DISABLE_IO_URING"))
            continue;
        if (!eq)
            return fail(ctx, -EINVAL, "%s: unknown variable", var);
        int rc = apply_env_var(ctx, cfg, var, eq + 1);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- cross-field checks ------------------------------------------------ */

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static int validate_feed(load_ctx_t *ctx, const tg_config_t *cfg, size_t i)
{
    const tg_feed_conf_t *f = &cfg->feeds[i];
    const char *tn = feed_type_names[f->type];
    char q[160];
    for (size_t k = 0; k < N_FEED; k++)
        if ((ctx->feed_set[i] & (1ull << k)) && !(feed_keys[k].types & (1u << f->type)))
            return fail(ctx, -EINVAL, "feeds[%zu].%s: not valid for a %s feed", i, feed_keys[k].key,
                        tn);
    const char *n = f->name;
    size_t nl = strlen(n);
    bool name_ok = nl >= 1 && nl <= 64;
    for (size_t j = 0; j < nl; j++)
        name_ok &= isalnum((unsigned char)n[j]) || n[j] == '_' || n[j] == '-' || n[j] == '.';
    if (!name_ok)
        return fail(ctx, -EINVAL, "feeds[%zu].name: bad value (1..64 of [A-Za-z0-9_.-]): %s", i,
                    quote(n, q, sizeof q));
    for (size_t j = 0; j < i; j++) {
        char a[NAME_MAX_LEN], b[NAME_MAX_LEN];
        env_part(a, sizeof a, cfg->feeds[j].name);
        env_part(b, sizeof b, n);
        if (strcmp(a, b) == 0) /* equal names, or names that share one env prefix */
            return fail(ctx, -EINVAL, "feeds[%zu].name: duplicate feed name %s", i,
                        quote(n, q, sizeof q));
    }
    const tg_breaker_conf_t *br = &f->breaker;
    if (br->min_calls > br->window)
        return fail(ctx, -EINVAL, "feeds[%zu].breaker.min_calls: must be <= breaker.window (%d): %d",
                    i, br->window, br->min_calls);
    if (br->open_wait_ms > br->open_wait_max_ms)
        return fail(ctx, -EINVAL,
                    "feeds[%zu].breaker.open_wait_max_ms: must be >= breaker.open_wait_ms (%d): %d",
                    i, br->open_wait_ms, br->open_wait_max_ms);
    switch (f->type) {
    case TG_FEED_REPLAY:
        if (!*f->path)
            return fail(ctx, -EINVAL, "feeds[%zu].path: required for a replay feed", i);
        break;
    case TG_FEED_WS:
        if (!*f->url)
            return fail(ctx, -EINVAL, "feeds[%zu].url: required for a ws feed", i);
        if (!has_prefix(f->url, "ws://") && !has_prefix(f->url, "wss://"))
            return fail(ctx, -EINVAL, "feeds[%zu].url: must start with ws:// or wss://", i);
        if (!*f->format)
            return fail(ctx, -EINVAL, "feeds[%zu].format: required for a ws feed", i);
        break;
    case TG_FEED_TCP:
        if (!*f->listen == !*f->connect)
            return fail(ctx, -EINVAL,
                        "feeds[%zu]: a tcp feed needs exactly one of listen and connect", i);
        break;
    case TG_FEED_REDIS:
        if (!*f->channel && !*f->stream)
            return fail(ctx, -EINVAL, "feeds[%zu].channel: required for a redis feed", i);
        break;
    default:
        break;
    }
    return 0;
}

static int validate(load_ctx_t *ctx, const tg_config_t *cfg)
{
    char q[160];
    if (!*cfg->server.tls_cert != !*cfg->server.tls_key)
        return fail(ctx, -EINVAL, "server.tls: cert and key must both be set or both be empty");
    if (strcmp(cfg->auth.jwt_alg, "RS256") == 0 && !*cfg->auth.jwt_public_key)
        return fail(ctx, -EINVAL, "auth.jwt_public_key: required when jwt_alg is RS256");
    const char *ru = cfg->redis.url;
    if (has_prefix(ru, "rediss://"))
        return fail(ctx, -EINVAL,
                    "redis.url: rediss:// (TLS) is not supported: hiredis 0.14 has no TLS");
    if (*ru && !has_prefix(ru, "redis://") && !has_prefix(ru, "unix:///"))
        return fail(ctx, -EINVAL, "redis.url: must start with redis:// or unix:///");
    if (cfg->redis.publish && !*ru)
        return fail(ctx, -EINVAL, "redis.publish: needs redis.url");
    const char *pu = cfg->postgres.url;
    if (*pu && has_prefix(pu, "postgres") && !has_prefix(pu, "postgres://") &&
        !has_prefix(pu, "postgresql://"))
        return fail(ctx, -EINVAL, "postgres.url: must be postgres://… or a key=value string");
    const char *wu = cfg->alerts.webhook_url;
    if (*wu && !has_prefix(wu, "http://") && !has_prefix(wu, "https://"))
        return fail(ctx, -EINVAL, "alerts.webhook_url: must start with http:// or https://");
    const char *so = cfg->engine.session_open;
    if (strlen(so) != 5 || !isdigit((unsigned char)so[0]) || !isdigit((unsigned char)so[1]) ||
        so[2] != ':' || !isdigit((unsigned char)so[3]) || !isdigit((unsigned char)so[4]) ||
        (so[0] - '0') * 10 + (so[1] - '0') > 23 || so[3] > '5')
        return fail(ctx, -EINVAL, "engine.session_open: bad value (expected HH:MM): %s",
                    quote(so, q, sizeof q));
    const char *tz = cfg->engine.session_tz;
    bool tz_ok = *tz && *tz != '/' && !strstr(tz, "..") && strlen(tz) < 64;
    for (const char *p = tz; *p; p++)
        tz_ok &= isalnum((unsigned char)*p) || strchr("/_+-", *p) != NULL;
    if (!tz_ok)
        return fail(ctx, -EINVAL, "engine.session_tz: bad value (expected an IANA zone name): %s",
                    quote(tz, q, sizeof q));
    for (size_t i = 0; i < cfg->n_feeds; i++) {
        int rc = validate_feed(ctx, cfg, i);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- load -------------------------------------------------------------- */

static int add_embedded_feed(load_ctx_t *ctx, tg_config_t *cfg)
{
    tg_feed_conf_t *f = NULL;
    int rc = feed_add(ctx, cfg, "feeds[0]", &f);
    if (rc)
        return rc;
    f->type = TG_FEED_SYNTHETIC;
    if (set_str(&f->name, "synthetic"))
        return fail(ctx, -ENOMEM, "feeds[0]: out of memory");
    for (size_t i = 0; i < tg_default_universe_len; i++)
        if (list_push_copy(&f->symbols, tg_default_universe[i]))
            return fail(ctx, -ENOMEM, "feeds[0]: out of memory");
    return 0;
}

static int load(tg_config_t *cfg, const char *text, size_t len, const char *fname,
                const char *path, char *const *envp, char *err, size_t errlen)
{
    load_ctx_t ctx = {.err = err, .errlen = errlen};
    if (err && errlen)
        err[0] = 0;
    if (!cfg)
        return fail(&ctx, -EINVAL, "config: no config given");
    int rc = tg_config_defaults(cfg);
    if (rc) {
        fail(&ctx, rc, "config: out of memory");
        goto fail_free;
    }
    if (path) {
        char *buf = NULL, *dir = NULL;
        size_t n = 0;
        if ((rc = read_file(&ctx, path, &buf, &n)))
            goto fail_free;
        /* @include resolves next to the file, not in the working directory */
        const char *slash = strrchr(path, '/');
        if (slash && (dir = strndup(path, (size_t)(slash - path + 1))) == NULL) {
            free(buf);
            rc = fail(&ctx, -ENOMEM, "%s: out of memory", path);
            goto fail_free;
        }
        rc = parse_text(&ctx, cfg, buf, n, path, dir);
        free(dir);
        free(buf);
        if (rc)
            goto fail_free;
    } else if (text) {
        if ((rc = parse_text(&ctx, cfg, text, len, fname, NULL)))
            goto fail_free;
    } else {
        cfg->embedded_default = true;
        if ((rc = add_embedded_feed(&ctx, cfg)))
            goto fail_free;
    }
    if ((rc = apply_env(&ctx, cfg, envp)))
        goto fail_free;
    if ((rc = validate(&ctx, cfg)))
        goto fail_free;
    return 0;
fail_free:
    tg_config_free(cfg);
    return rc;
}

int tg_config_load(tg_config_t *cfg, const char *path, char *const *envp, char *err,
                   size_t errlen)
{
    return load(cfg, NULL, 0, NULL, path, envp, err, errlen);
}

int tg_config_load_string(tg_config_t *cfg, const char *text, size_t len, const char *name,
                          char *const *envp, char *err, size_t errlen)
{
    if (!text) {
        if (err && errlen)
            snprintf(err, errlen, "config: no text given");
        if (cfg)
            memset(cfg, 0, sizeof *cfg);
        return -EINVAL;
    }
    return load(cfg, text, len, name ? name : "<string>", NULL, envp, err, errlen);
}

/* ---- printing ---------------------------------------------------------- */

static void print_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        case '\f':
            fputs("\\f", out);
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(out, "\\x%02x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

/* Length of "name=" when p starts a parameter whose value is a credential
 * (libpq's password=, a provider's ?token=…/apikey=… in a ws url), else 0. */
static size_t secret_param(const char *url, const char *p)
{
    static const char *const names[] = {"password=", "passwd=", "token=", "access_token=",
                                        "apikey=",   "key=",    "secret=", "auth=", NULL};
    if (p != url && isalnum((unsigned char)p[-1]))
        return 0;
    for (size_t i = 0; names[i]; i++)
        if (strncasecmp(p, names[i], strlen(names[i])) == 0)
            return strlen(names[i]);
    return 0;
}

/* Copy of `url` with the userinfo password and any credential parameter replaced
 * by "***"; NULL on allocation failure (the caller then masks everything). */
static char *mask_url(const char *url)
{
    size_t n = strlen(url);
    char *o = malloc(4 * n + 8);
    if (!o)
        return NULL;
    size_t j = 0;
    const char *auth = strstr(url, "://");
    const char *pw = NULL, *pw_end = NULL;
    if (auth) {
        auth += 3;
        size_t alen = strcspn(auth, "/?#");
        const char *at = NULL;
        for (const char *p = auth; p < auth + alen; p++)
            if (*p == '@')
                at = p;
        if (at) {
            const char *colon = memchr(auth, ':', (size_t)(at - auth));
            if (colon) {
                pw = colon + 1;
                pw_end = at;
            }
        }
    }
    for (const char *p = url; *p;) {
        if (p == pw) {
            memcpy(o + j, "***", 3);
            j += 3;
            p = pw_end;
            pw = NULL; /* "u:@h" has pw == pw_end: mask once, never loop */
            continue;
        }
        size_t kl = secret_param(url, p);
        if (kl) {
            memcpy(o + j, p, kl);
            j += kl;
            p += kl;
            if (p[0] == '$' && p[1] == '{')
                continue; /* a ${api_key} reference is not itself a secret */
            if (*p == '\'') {
                for (p++; *p && *p != '\''; p++)
                    if (*p == '\\' && p[1])
                        p++;
                if (*p)
                    p++;
            } else {
                p += strcspn(p, " &;#");
            }
            memcpy(o + j, "***", 3);
            j += 3;
            continue;
        }
        o[j++] = *p++;
    }
    o[j] = 0;
    return o;
}

static void print_value(FILE *out, const cfg_key_t *k, const void *base)
{
    const char *p = (const char *)base + k->off;
    char buf[TG_DEC_STRLEN + 1];
    switch (k->kind) {
    case K_STR:
    case K_ENUM:
    case K_HOSTPORT: {
        const char *s = *(char *const *)p ? *(char *const *)p : "";
        if ((k->flags & F_SECRET) && *s) {
            print_str(out, "***");
        } else if (k->flags & F_URLSECRET) {
            char *m = mask_url(s);
            print_str(out, m ? m : (*s ? "***" : ""));
            free(m);
        } else {
            print_str(out, s);
        }
        break;
    }
    case K_FEEDTYPE:
        print_str(out, feed_type_names[*(const tg_feed_type_t *)p]);
        break;
    case K_INT:
        fprintf(out, "%d", *(const int *)p);
        break;
    case K_LL: {
        long long v = *(const long long *)p;
        fprintf(out, "%lld%s", v, v > INT32_MAX || v < INT32_MIN ? "L" : "");
        break;
    }
    case K_BOOL:
        fputs(*(const bool *)p ? "true" : "false", out);
        break;
    case K_DEC:
    case K_SPEED: {
        tg_dec_t v = *(const tg_dec_t *)p;
        if (k->kind == K_SPEED && v == 0) {
            fputs("\"max\"", out);
            break;
        }
        tg_dec_format(v, buf);
        /* keep it a libconfig float so the printout reads back with the same type */
        fprintf(out, "%s%s", buf, strchr(buf, '.') ? "" : ".0");
        break;
    }
    case K_LIST: {
        const tg_strlist_t *l = (const tg_strlist_t *)p;
        fputs("[", out);
        for (size_t i = 0; i < l->n; i++) {
            fputs(i ? ", " : " ", out);
            print_str(out, l->v[i]);
        }
        fputs(l->n ? " ]" : "]", out);
        break;
    }
    case K_SYMMAP: {
        const tg_feed_conf_t *f = base;
        fputs("(", out);
        for (size_t i = 0; i < f->map_from.n && i < f->map_to.n; i++) {
            fputs(i ? ", [ " : " [ ", out);
            print_str(out, f->map_from.v[i]);
            fputs(", ", out);
            print_str(out, f->map_to.v[i]);
            fputs(" ]", out);
        }
        fputs(f->map_from.n ? " )" : ")", out);
        break;
    }
    }
}

/* Print the keys of one section (or of one feed of type `ftype`, when
 * section is NULL), opening a nested group for each dotted prefix. */
static void print_keys(FILE *out, const cfg_key_t *tab, size_t n, const char *section,
                       const void *base, int ftype, const char *ind)
{
    const char *open = NULL; /* the nested group currently open */
    size_t open_len = 0;
    for (size_t i = 0; i < n; i++) {
        const cfg_key_t *k = &tab[i];
        if (section && strcmp(k->section, section) != 0)
            continue;
        if (ftype >= 0 && !(k->types & (1u << ftype)))
            continue;
        const char *dot = strchr(k->key, '.');
        if (open && (!dot || (size_t)(dot - k->key) != open_len ||
                     strncmp(k->key, open, open_len) != 0)) {
            fprintf(out, "%s};\n", ind);
            open = NULL;
        }
        if (dot && !open) {
            open = k->key;
            open_len = (size_t)(dot - k->key);
            fprintf(out, "%s%.*s = {\n", ind, (int)open_len, k->key);
        }
        fprintf(out, "%s%s%s = ", ind, open ? "  " : "", dot ? dot + 1 : k->key);
        print_value(out, k, base);
        fputs(";\n", out);
    }
    if (open)
        fprintf(out, "%s};\n", ind);
}

void tg_config_print(const tg_config_t *cfg, FILE *out)
{
    if (!cfg || !out)
        return;
    if (cfg->embedded_default)
        fputs("# embedded default (no --config)\n", out);
    const char *last = NULL;
    for (size_t i = 0; i < N_MAIN; i++) {
        const char *sec = main_keys[i].section;
        if (last && strcmp(last, sec) == 0)
            continue;
        last = sec;
        fprintf(out, "%s = {\n", sec);
        print_keys(out, main_keys, N_MAIN, sec, cfg, -1, "  ");
        fputs("};\n", out);
        if (strcmp(sec, "limits") == 0) { /* feeds sit where SPEC §2 puts them */
            fputs("feeds = (", out);
            for (size_t f = 0; f < cfg->n_feeds; f++) {
                fputs(f ? ",\n  {\n" : "\n  {\n", out);
                print_keys(out, feed_keys, N_FEED, NULL, &cfg->feeds[f], (int)cfg->feeds[f].type,
                           "    ");
                fputs("  }", out);
            }
            fputs(cfg->n_feeds ? "\n);\n" : ");\n", out);
        }
    }
}
