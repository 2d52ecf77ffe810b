/* redis.c - the Redis thread: quote cache, alert stream, tick fan-out, lookups.
 *
 * See redis.h for the contract. One thread owns the redisAsyncContext and
 * drives it from its own poll(2) loop through hiredis's event hooks
 * (addRead/addWrite...), like h2o's lib/common/redis.c does with its loop.
 * Commands are pipelined: hiredis appends them to its output buffer and the
 * loop writes when the socket is writable. Deadlines: the loop remembers when
 * the oldest unanswered command was sent (or the last reply came); silence
 * beyond redis.command_timeout_ms while commands are outstanding is "down".
 *
 * Threads: tg_redis_push_* on the engine thread (the rings' only producer),
 * tg_redis_revoked / tg_redis_rate_check / tg_redis_up on any thread (the
 * caches are behind a mutex: control traffic, never the tick path),
 * everything else on the Redis thread.
 */
#include "tickgate/redis.h"

#include <errno.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <msgpack.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tickgate/clock.h"
#include "tickgate/log.h"
#include "tickgate/ring.h"
#include "tickgate/symtab.h"

#define TICK_RING_CAP 65536
#define ALERT_RING_CAP 4096
#define QUOTE_FLUSH_NS 1000000000LL  /* quote hashes once per second (TTL 60 s) */
#define QUOTE_TTL_S "60"
#define MAX_OUTSTANDING 200000       /* past this, ticks are not published (Redis too slow) */
#define CACHE_SLOTS 4096             /* per lookup cache; power of two */
#define CACHE_PROBE 16
#define REVOKE_TTL_NS (30LL * 1000000000LL)
#define REQ_CAP 4096
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

/* ---- URL ------------------------------------------------------------------ */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* %-decode s[0..n) into out[cap]; -EINVAL on bad escapes or overflow. */
static int pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -EINVAL;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0)
                return -EINVAL;
            c = (char)(h * 16 + l);
            i += 2;
        }
        if (w + 1 >= cap)
            return -EINVAL;
        out[w++] = c;
    }
    out[w] = 0;
    return 0;
}

static int parse_int(const char *s, size_t n, int lo, int hi, int *out)
{
    if (n == 0 || n > 9)
        return -EINVAL;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return -EINVAL;
    *out = v;
    return 0;
}

int tg_redis_url_parse(const char *url, tg_redis_url_t *u)
{
    if (!url || !u)
        return -EINVAL;
    memset(u, 0, sizeof *u);
    u->port = 6379;
    if (strncmp(url, "unix://", 7) == 0) {
        const char *p = url + 7, *q = strchr(p, '?');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (n == 0 || p[0] != '/' || n >= sizeof u->path)
            return -EINVAL;
        memcpy(u->path, p, n);
        u->is_unix = true;
        if (q) {
            if (strncmp(q, "?db=", 4) != 0 || parse_int(q + 4, strlen(q + 4), 0, 1000000, &u->db))
                return -EINVAL;
        }
        return 0;
    }
    if (strncmp(url, "redis://", 8) != 0)
        return -EINVAL;
    const char *p = url + 8;
    const char *end = p + strcspn(p, "/?#");
    const char *at = NULL;
    for (const char *k = p; k < end; k++)
        if (*k == '@')
            at = k; /* the last '@': passwords may contain %40 only, but be lenient */
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            if (pct_decode(p, (size_t)(colon - p), u->user, sizeof u->user) ||
                pct_decode(colon + 1, (size_t)(at - colon - 1), u->pass, sizeof u->pass))
                return -EINVAL;
        } else if (pct_decode(p, (size_t)(at - p), u->pass, sizeof u->pass)) {
            /* redis://password@host (a lone userinfo is the password, as redis-cli reads it) */
            return -EINVAL;
        }
        p = at + 1;
    }
    const char *hs = p, *he;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb)
            return -EINVAL;
        hs = p + 1;
        he = rb;
        p = rb + 1;
    } else {
        he = memchr(p, ':', (size_t)(end - p));
        if (!he)
            he = end;
        p = he;
    }
    if (he == hs || (size_t)(he - hs) >= sizeof u->host)
        return -EINVAL;
    memcpy(u->host, hs, (size_t)(he - hs));
    if (p < end && *p == ':') {
        if (parse_int(p + 1, (size_t)(end - p - 1), 1, 65535, &u->port))
            return -EINVAL;
    } else if (p != end) {
        return -EINVAL;
    }
    if (*end == '/') {
        const char *d = end + 1;
        size_t n = strcspn(d, "?#");
        if (n && parse_int(d, n, 0, 1000000, &u->db))
            return -EINVAL;
        if (d[n])
            return -EINVAL;
    } else if (*end) {
        return -EINVAL;
    }
    return 0;
}

/* ---- tick codec (MessagePack) ------------------------------------------------- */

typedef struct fixbuf {
    char *p;
    size_t len, cap;
    bool full;
} fixbuf_t;

static int fixbuf_write(void *data, const char *buf, size_t len)
{
    fixbuf_t *b = data;
    if (b->full || b->len + len > b->cap) {
        b->full = true;
        return -1;
    }
    memcpy(b->p + b->len, buf, len);
    b->len += len;
    return 0;
}

static void pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pack_dec_or_nil(msgpack_packer *pk, bool present, tg_dec_t v)
{
    if (!present) {
        msgpack_pack_nil(pk);
        return;
    }
    char b[TG_DEC_STRLEN + 1];
    pack_str(pk, b, tg_dec_format(v, b));
}

size_t tg_redis_tick_encode(const tg_tick_t *t, const char *source, void *buf, size_t cap)
{
    fixbuf_t fb = {.p = buf, .cap = cap};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &fb, fixbuf_write);
    bool trade = t->flags & TG_TICK_TRADE;
    bool quote = t->flags & TG_TICK_QUOTE;
    msgpack_pack_map(&pk, 8);
    pack_str(&pk, "symbol", 6);
    pack_str(&pk, t->symbol, strnlen(t->symbol, TG_SYMBOL_MAX));
    pack_str(&pk, "price", 5);
    pack_dec_or_nil(&pk, trade, t->price);
    pack_str(&pk, "size", 4);
    pack_dec_or_nil(&pk, trade, t->size);
    pack_str(&pk, "bid", 3);
    pack_dec_or_nil(&pk, quote && t->bid, t->bid);
    pack_str(&pk, "ask", 3);
    pack_dec_or_nil(&pk, quote && t->ask, t->ask);
    pack_str(&pk, "ts", 2);
    msgpack_pack_int64(&pk, t->ts);
    pack_str(&pk, "src_ts", 6);
    if (t->src_ts)
        msgpack_pack_int64(&pk, t->src_ts);
    else
        msgpack_pack_nil(&pk);
    pack_str(&pk, "source", 6);
    if (source)
        pack_str(&pk, source, strnlen(source, 64));
    else
        msgpack_pack_nil(&pk);
    return fb.full ? 0 : fb.len;
}

static bool key_is(const msgpack_object *k, const char *name)
{
    size_t n = strlen(name);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
           memcmp(k->via.str.ptr, name, n) == 0;
}

/* A decimal string, or nil (absent). -EINVAL otherwise. */
static int obj_dec(const msgpack_object *o, bool *present, tg_dec_t *out)
{
    *present = false;
    if (o->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (o->type != MSGPACK_OBJECT_STR || tg_dec_parse(o->via.str.ptr, o->via.str.size, out) != 0)
        return -EINVAL;
    *present = true;
    return 0;
}

static int obj_i64(const msgpack_object *o, int64_t *out)
{
    if (o->type == MSGPACK_OBJECT_NIL) {
        *out = 0;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > INT64_MAX)
            return -EINVAL;
        *out = (int64_t)o->via.u64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return 0;
    }
    return -EINVAL;
}

static int decode_map(const msgpack_object *root, tg_tick_t *out, char *source, size_t source_cap)
{
    if (root->type != MSGPACK_OBJECT_MAP)
        return -EINVAL;
    bool has_price = false, has_size = false, has_bid = false, has_ask = false, has_sym = false;
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object *k = &root->via.map.ptr[i].key, *v = &root->via.map.ptr[i].val;
        int rc = 0;
        if (key_is(k, "symbol")) {
            if (v->type != MSGPACK_OBJECT_STR || v->via.str.size == 0 ||
                v->via.str.size > TG_SYMBOL_MAX || memchr(v->via.str.ptr, 0, v->via.str.size))
                return -EINVAL;
            memcpy(out->symbol, v->via.str.ptr, v->via.str.size);
            out->symbol[v->via.str.size] = 0;
            out->sym_len = (uint8_t)v->via.str.size;
            has_sym = true;
        } else if (key_is(k, "price")) {
            rc = obj_dec(v, &has_price, &out->price);
        } else if (key_is(k, "size")) {
            rc = obj_dec(v, &has_size, &out->size);
        } else if (key_is(k, "bid")) {
            rc = obj_dec(v, &has_bid, &out->bid);
        } else if (key_is(k, "ask")) {
            rc = obj_dec(v, &has_ask, &out->ask);
        } else if (key_is(k, "ts")) {
            rc = obj_i64(v, &out->ts);
        } else if (key_is(k, "src_ts")) {
            rc = obj_i64(v, &out->src_ts);
        } else if (key_is(k, "source")) {
            if (v->type == MSGPACK_OBJECT_STR) {
                if (source && source_cap) {
                    size_t n = v->via.str.size < source_cap - 1 ? v->via.str.size : source_cap - 1;
                    memcpy(source, v->via.str.ptr, n);
                    source[n] = 0;
                }
            } else if (v->type != MSGPACK_OBJECT_NIL) {
                return -EINVAL;
            }
        }
        if (rc)
            return rc;
    }
    /* a zero bid/ask is "none" in tg_tick_t, as the encoder writes it (nil) */
    has_bid = has_bid && out->bid != 0;
    has_ask = has_ask && out->ask != 0;
    if (!has_sym || (!has_price && !has_bid && !has_ask))
        return -EINVAL;
    if (has_price)
        out->flags |= TG_TICK_TRADE;
    if (has_bid || has_ask)
        out->flags |= TG_TICK_QUOTE;
    if (!has_bid)
        out->bid = 0;
    if (!has_ask)
        out->ask = 0;
    (void)has_size;
    return 0;
}

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/*
 * Walk one MessagePack object without allocating; returns the bytes it spans
 * or -1. msgpack-c sizes its zone from a container's declared count before
 * reading the elements, so a 6-byte map32 header claiming 2^32 pairs would
 * make it try a huge allocation (found by fuzz_redis_tick): every count is
 * checked here against the bytes left (an element takes at least one byte).
 */
static int64_t mp_span(const uint8_t *p, size_t n, int depth)
{
    if (n == 0 || depth > 16)
        return -1;
    uint8_t b = p[0];
    uint64_t len = 0, count = 0;
    int hdr = 1;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return 1;
    if ((b & 0xf0) == 0x80 || (b & 0xf0) == 0x90) {
        count = (uint64_t)(b & 0x0f) * ((b & 0xf0) == 0x80 ? 2 : 1);
    } else if ((b & 0xe0) == 0xa0) {
        len = b & 0x1f;
    } else {
        static const int8_t fixed[] = {/* 0xc4.. */ -1, -1, -1, -1, -1, -1, 5, 9, 2, 3, 5, 9,
                                       2, 3, 5, 9, 3, 4, 6, 10, 18, -1, -1, -1, -1, -1, -1, -1};
        if (b == 0xc1)
            return -1;
        int f = fixed[b - 0xc4];
        if (f > 0)
            return (size_t)f <= n ? f : -1;
        int lb;
        switch (b) {
        case 0xc4: case 0xd9: lb = 1; break;
        case 0xc5: case 0xda: case 0xdc: case 0xde: lb = 2; break;
        case 0xc6: case 0xdb: case 0xdd: case 0xdf: lb = 4; break;
        case 0xc7: lb = 1; break;
        case 0xc8: lb = 2; break;
        case 0xc9: lb = 4; break;
        default: return -1;
        }
        if ((size_t)(1 + lb) > n)
            return -1;
        uint64_t v = be(p + 1, lb);
        hdr = 1 + lb;
        if (b >= 0xc7 && b <= 0xc9)
            hdr++, len = v; /* ext: type byte */
        else if (b == 0xdc || b == 0xdd)
            count = v;
        else if (b == 0xde || b == 0xdf)
            count = v * 2;
        else
            len = v;
    }
    if ((size_t)hdr > n || len > n - (size_t)hdr || count > n - (size_t)hdr)
        return -1;
    size_t off = (size_t)hdr + (size_t)len;
    for (uint64_t i = 0; i < count; i++) {
        int64_t s = mp_span(p + off, n - off, depth + 1);
        if (s < 0)
            return -1;
        off += (size_t)s;
    }
    return (int64_t)off;
}

int tg_redis_tick_decode(const void *data, size_t len, tg_tick_t *out, char *source,
                         size_t source_cap)
{
    if (!data || !out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    if (source && source_cap)
        source[0] = 0;
    if (mp_span(data, len, 0) != (int64_t)len)
        return -EINVAL;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rc = -EINVAL;
    if (msgpack_unpack_next(&u, data, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len)
        rc = decode_map(&u.data, out, source, source_cap);
    msgpack_unpacked_destroy(&u);
    if (rc)
        memset(out, 0, sizeof *out);
    return rc;
}

/* ---- lookup caches (any thread, under r->lock) ---------------------------------- */

typedef struct revoke_entry {
    char hex[65];
    int8_t verdict;      /* tg_redis_verdict_t */
    bool pending;
    int64_t checked_ns;  /* mono time of the last answer */
    int64_t used_ns;
} revoke_entry_t;

typedef struct rate_entry {
    char user[TG_PORTFOLIO_ID_MAX + 1];
    int8_t verdict;
    int limit;
    int64_t answered_ns;
    int64_t used_ns;
} rate_entry_t;

typedef struct req {
    uint8_t kind; /* 1 revoke lookup, 2 rate hit */
    int limit, window_s;
    char key[TG_PORTFOLIO_ID_MAX + 1];
} req_t;

typedef struct qentry {
    tg_tick_t last;
    bool dirty;
} qentry_t;

struct tg_redis {
    const tg_config_t *cfg;
    tg_redis_url_t url;
    tg_ring_t *ticks, *alerts;
    pthread_t thread;
    bool started;
    _Atomic int stop;
    _Atomic int up;
    int wake_fd;

    redisAsyncContext *ac;
    bool want_read, want_write, connected;
    int64_t connect_started_ns, next_connect_ns;
    int backoff_ms;
    bool down_logged;
    uint64_t outstanding;
    int64_t progress_ns;
    int64_t timeout_ns;

    tg_symtab_t syms;
    qentry_t *q;
    size_t capq;
    uint32_t *dirty;
    size_t ndirty;
    int64_t next_quote_ns;

    pthread_mutex_t lock; /* caches and request queue */
    revoke_entry_t *revoke;
    rate_entry_t *rate;
    req_t *reqs;
    size_t req_head, req_len;
    uint64_t rate_seq;

    tg_tick_t batch[512];
    tg_snap_row_t abatch[64];
    tg_gauge_t *m_up;
    tg_counter_t *m_skipped;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void copy_trunc(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* Slot for key in a cache of CACHE_SLOTS entries (found, free, or the least recently used). */
#define CACHE_FIND(table, field, keyv, now, created)                                              \
    ({                                                                                             \
        uint64_t h_ = hash_str(keyv);                                                              \
        __typeof__(&(table)[0]) best_ = NULL;                                                      \
        *(created) = false;                                                                        \
        for (int i_ = 0; i_ < CACHE_PROBE; i_++) {                                                 \
            __typeof__(&(table)[0]) e_ = &(table)[(h_ + (uint64_t)i_) & (CACHE_SLOTS - 1)];        \
            if (strcmp(e_->field, keyv) == 0) {                                                    \
                best_ = e_;                                                                        \
                break;                                                                             \
            }                                                                                      \
            if (!best_ || (best_->field[0] && (!e_->field[0] || e_->used_ns < best_->used_ns)))    \
                best_ = e_;                                                                        \
        }                                                                                          \
        if (strcmp(best_->field, keyv) != 0) {                                                     \
            memset(best_, 0, sizeof *best_);                                                       \
            copy_trunc(best_->field, sizeof best_->field, keyv);                                   \
            best_->verdict = TG_REDIS_UNKNOWN;                                                     \
            *(created) = true;                                                                     \
        }                                                                                          \
        best_->used_ns = (now);                                                                    \
        best_;                                                                                     \
    })

static void wake(tg_redis_t *r)
{
    uint64_t one = 1;
    ssize_t w = write(r->wake_fd, &one, sizeof one);
    (void)w;
}

/* Under r->lock. false when the queue is full (the request is dropped). */
static bool enqueue(tg_redis_t *r, const req_t *q)
{
    if (r->req_len == REQ_CAP)
        return false;
    r->reqs[(r->req_head + r->req_len++) % REQ_CAP] = *q;
    return true;
}

static tg_redis_verdict_t revoked(tg_redis_t *r, const char *hex, int64_t max_age_ns, bool fresh);

tg_redis_verdict_t tg_redis_revoked(tg_redis_t *r, const char *hex)
{
    return revoked(r, hex, REVOKE_TTL_NS, false);
}

tg_redis_verdict_t tg_redis_revoked_fresh(tg_redis_t *r, const char *hex, int64_t max_age_ns)
{
    return revoked(r, hex, max_age_ns, true);
}

static tg_redis_verdict_t revoked(tg_redis_t *r, const char *hex, int64_t max_age_ns, bool fresh)
{
    if (!r || !hex || strlen(hex) != 64)
        return TG_REDIS_UNKNOWN;
    int64_t now = tg_mono_ns();
    bool created, queued = false;
    pthread_mutex_lock(&r->lock);
    revoke_entry_t *e = CACHE_FIND(r->revoke, hex, hex, now, &created);
    tg_redis_verdict_t v = (tg_redis_verdict_t)e->verdict;
    bool stale = !e->checked_ns || now - e->checked_ns > max_age_ns;
    if (stale && !e->pending) {
        req_t q = {.kind = 1};
        snprintf(q.key, sizeof q.key, "%s", hex);
        if (enqueue(r, &q))
            e->pending = queued = true;
    }
    /* a stale "not revoked" is no verdict while Redis cannot confirm it; with
     * `fresh` (a new connection) it is none while Redis can either */
    if (stale && v == TG_REDIS_NO && (fresh || !atomic_load(&r->up)))
        v = TG_REDIS_UNKNOWN;
    pthread_mutex_unlock(&r->lock);
    if (queued)
        wake(r);
    return v;
}

tg_redis_verdict_t tg_redis_rate_check(tg_redis_t *r, const char *user, int limit, int window_s)
{
    if (!r || !user || !user[0] || limit <= 0 || window_s <= 0)
        return TG_REDIS_UNKNOWN;
    int64_t now = tg_mono_ns();
    bool created;
    pthread_mutex_lock(&r->lock);
    rate_entry_t *e = CACHE_FIND(r->rate, user, user, now, &created);
    e->limit = limit;
    tg_redis_verdict_t v = (tg_redis_verdict_t)e->verdict;
    if (!e->answered_ns || now - e->answered_ns > (int64_t)window_s * 1000000000LL ||
        !atomic_load(&r->up))
        v = TG_REDIS_UNKNOWN;
    req_t q = {.kind = 2, .limit = limit, .window_s = window_s};
    snprintf(q.key, sizeof q.key, "%s", user);
    bool queued = enqueue(r, &q);
    pthread_mutex_unlock(&r->lock);
    if (queued)
        wake(r);
    return v;
}

bool tg_redis_up(const tg_redis_t *r)
{
    return r && atomic_load(&r->up) != 0;
}

/* ---- engine side ------------------------------------------------------------- */

void tg_redis_push_ticks(tg_redis_t *r, const tg_tick_t *ticks, size_t n)
{
    tg_ring_push(r->ticks, ticks, n); /* drop-oldest: never waits */
}

void tg_redis_push_alert(tg_redis_t *r, const tg_snap_row_t *alert)
{
    tg_ring_push(r->alerts, alert, 1);
}

/* ---- the connection --------------------------------------------------------------- */

typedef struct cb {
    uint8_t kind; /* 0 plain, 1 revoke, 2 rate (EXEC), 3 auth/select, 4 hello ping */
    int limit;
    char key[TG_PORTFOLIO_ID_MAX + 1];
} cb_t;

static void set_down(tg_redis_t *r, const char *why)
{
    if (atomic_load(&r->up) || !r->down_logged) {
        TG_WARN("redis_down", "error", TG_S(why));
        r->down_logged = true;
    }
    atomic_store(&r->up, 0);
    tg_gauge_set(r->m_up, 0);
    r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (r->backoff_ms > BACKOFF_MAX_MS)
        r->backoff_ms = BACKOFF_MAX_MS;
    r->next_connect_ns = tg_mono_ns() + (int64_t)r->backoff_ms * 1000000LL;
    /* pending lookups are asked again after the reconnect */
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        r->revoke[i].pending = false;
    pthread_mutex_unlock(&r->lock);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    tg_redis_t *r = ac->data;
    redisReply *rep = reply;
    cb_t *c = priv;
    if (r->outstanding)
        r->outstanding--;
    r->progress_ns = tg_mono_ns();
    if (!c)
        return;
    if (rep) {
        switch (c->kind) {
        case 1: {
            int8_t v = rep->type == REDIS_REPLY_INTEGER ? (rep->integer ? TG_REDIS_YES : TG_REDIS_NO)
                                                        : TG_REDIS_UNKNOWN;
            bool created;
            int64_t now = tg_mono_ns();
            pthread_mutex_lock(&r->lock);
            revoke_entry_t *e = CACHE_FIND(r->revoke, hex, c->key, now, &created);
            e->pending = false;
            if (v != TG_REDIS_UNKNOWN) {
                /* once revoked, always revoked (a key's TTL may lapse with the token's exp) */
                if (e->verdict != TG_REDIS_YES)
                    e->verdict = v;
                e->checked_ns = now;
            }
            pthread_mutex_unlock(&r->lock);
            break;
        }
        case 2:
            if (rep->type == REDIS_REPLY_ARRAY && rep->elements >= 3 &&
                rep->element[2]->type == REDIS_REPLY_INTEGER) {
                bool created;
                int64_t now = tg_mono_ns();
                pthread_mutex_lock(&r->lock);
                rate_entry_t *e = CACHE_FIND(r->rate, user, c->key, now, &created);
                e->verdict = rep->element[2]->integer > c->limit ? TG_REDIS_YES : TG_REDIS_NO;
                e->answered_ns = now;
                pthread_mutex_unlock(&r->lock);
            }
            break;
        case 3:
            if (rep->type == REDIS_REPLY_ERROR) {
                TG_ERROR("redis_auth_failed", "error", TG_S(rep->str));
                redisAsyncDisconnect(ac);
            }
            break;
        case 4:
            if (rep->type != REDIS_REPLY_ERROR) {
                r->backoff_ms = 0;
                r->down_logged = false;
                atomic_store(&r->up, 1);
                tg_gauge_set(r->m_up, 1);
                TG_INFO("redis_up", "url_kind", TG_S(r->url.is_unix ? "unix" : "tcp"));
            }
            break;
        }
    }
    free(c);
}

static int send_argv(tg_redis_t *r, cb_t *c, int argc, const char **argv, const size_t *lens)
{
    if (!r->ac || !r->connected) {
        free(c);
        return -ENOTCONN;
    }
    if (r->outstanding == 0)
        r->progress_ns = tg_mono_ns();
    if (redisAsyncCommandArgv(r->ac, on_reply, c, argc, argv, lens) != REDIS_OK) {
        free(c);
        return -EIO;
    }
    r->outstanding++;
    return 0;
}

static cb_t *cb_new(uint8_t kind)
{
    cb_t *c = calloc(1, sizeof *c);
    if (c)
        c->kind = kind;
    return c;
}

/* hiredis event hooks: remember interest, the loop polls for it */
static void ev_add_read(void *d) { ((tg_redis_t *)d)->want_read = true; }
static void ev_del_read(void *d) { ((tg_redis_t *)d)->want_read = false; }
static void ev_add_write(void *d) { ((tg_redis_t *)d)->want_write = true; }
static void ev_del_write(void *d) { ((tg_redis_t *)d)->want_write = false; }
static void ev_cleanup(void *d)
{
    tg_redis_t *r = d;
    r->want_read = r->want_write = false;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    tg_redis_t *r = ac->data;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback */
        r->ac = NULL;
        r->connected = false;
        set_down(r, ac->errstr[0] ? ac->errstr : "connect failed");
        return;
    }
    r->connected = true;
    if (r->url.pass[0]) {
        const char *argv[3] = {"AUTH", r->url.user[0] ? r->url.user : r->url.pass, r->url.pass};
        size_t lens[3] = {4, strlen(argv[1]), strlen(argv[2])};
        send_argv(r, cb_new(3), r->url.user[0] ? 3 : 2, argv, lens);
    }
    if (r->url.db) {
        char db[16];
        snprintf(db, sizeof db, "%d", r->url.db);
        const char *argv[2] = {"SELECT", db};
        size_t lens[2] = {6, strlen(db)};
        send_argv(r, cb_new(3), 2, argv, lens);
    }
    const char *argv[1] = {"PING"};
    size_t lens[1] = {4};
    send_argv(r, cb_new(4), 1, argv, lens);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    tg_redis_t *r = ac->data;
    r->ac = NULL; /* hiredis frees it */
    r->connected = false;
    r->outstanding = 0;
    if (!atomic_load(&r->stop))
        set_down(r, status == REDIS_OK ? "disconnected" : ac->errstr);
}

static void start_connect(tg_redis_t *r)
{
    redisAsyncContext *ac = r->url.is_unix ? redisAsyncConnectUnix(r->url.path)
                                           : redisAsyncConnect(r->url.host, r->url.port);
    if (!ac || ac->err) {
        set_down(r, ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        return;
    }
    ac->data = r;
    ac->ev.data = r;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    r->ac = ac;
    r->connected = false;
    r->outstanding = 0;
    /* a non-blocking connect completes when the socket turns writable */
    r->want_write = true;
    r->want_read = false;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    r->connect_started_ns = tg_mono_ns();
}

/* Deadline missed: drop the connection (its callbacks run with NULL replies). */
static void abandon(tg_redis_t *r, const char *why)
{
    redisAsyncContext *ac = r->ac;
    r->ac = NULL;
    r->connected = false;
    r->outstanding = 0;
    if (ac) {
        ac->onDisconnect = NULL;
        redisAsyncFree(ac);
    }
    set_down(r, why);
}

/* ---- work ------------------------------------------------------------------------- */

static void publish_tick(tg_redis_t *r, const tg_tick_t *t)
{
    char buf[TG_REDIS_TICK_MAX];
    const char *src = t->feed < r->cfg->n_feeds ? r->cfg->feeds[t->feed].name : NULL;
    size_t n = tg_redis_tick_encode(t, src, buf, sizeof buf);
    if (!n)
        return;
    const char *argv[3] = {"PUBLISH", r->cfg->redis.publish_channel, buf};
    size_t lens[3] = {7, strlen(r->cfg->redis.publish_channel), n};
    send_argv(r, NULL, 3, argv, lens);
}

static void cache_quote(tg_redis_t *r, const tg_tick_t *t)
{
    int32_t id = tg_symtab_intern(&r->syms, t->symbol, t->sym_len);
    if (id < 0)
        return;
    if ((size_t)id >= r->capq) {
        size_t nc = r->capq ? r->capq * 2 : 256;
        while (nc <= (size_t)id)
            nc *= 2;
        qentry_t *nq = realloc(r->q, nc * sizeof *nq);
        if (!nq)
            return;
        memset(nq + r->capq, 0, (nc - r->capq) * sizeof *nq);
        r->q = nq;
        uint32_t *nd = realloc(r->dirty, nc * sizeof *nd);
        if (!nd)
            return;
        r->dirty = nd;
        r->capq = nc;
    }
    qentry_t *e = &r->q[id];
    /* a quote-only tick keeps the last trade; a trade keeps the last bid/ask */
    if (t->flags & TG_TICK_TRADE) {
        e->last.price = t->price;
        e->last.size = t->size;
    }
    if (t->flags & TG_TICK_QUOTE) {
        if (t->bid)
            e->last.bid = t->bid;
        if (t->ask)
            e->last.ask = t->ask;
    }
    e->last.flags |= t->flags;
    e->last.ts = t->ts;
    e->last.src_ts = t->src_ts;
    e->last.feed = t->feed;
    memcpy(e->last.symbol, t->symbol, sizeof e->last.symbol);
    e->last.sym_len = t->sym_len;
    if (!e->dirty) {
        e->dirty = true;
        r->dirty[r->ndirty++] = (uint32_t)id;
    }
}

static void flush_quotes(tg_redis_t *r)
{
    for (size_t i = 0; i < r->ndirty; i++) {
        qentry_t *e = &r->q[r->dirty[i]];
        e->dirty = false;
        char key[16 + TG_SYMBOL_MAX + 1];
        snprintf(key, sizeof key, "tickgate:quote:%s", e->last.symbol);
        char v[6][TG_DEC_STRLEN + 24];
        const char *argv[16];
        size_t lens[16];
        int n = 0, k = 0;
        argv[n++] = "HSET";
        argv[n++] = key;
#define FIELD(name, fmtcall)                                                                       \
    do {                                                                                           \
        argv[n++] = name;                                                                          \
        fmtcall;                                                                                   \
        argv[n++] = v[k++];                                                                        \
    } while (0)
        if (e->last.flags & TG_TICK_TRADE) {
            FIELD("price", tg_dec_format(e->last.price, v[k]));
            FIELD("size", tg_dec_format(e->last.size, v[k]));
        }
        if (e->last.bid)
            FIELD("bid", tg_dec_format(e->last.bid, v[k]));
        if (e->last.ask)
            FIELD("ask", tg_dec_format(e->last.ask, v[k]));
        FIELD("ts", snprintf(v[k], sizeof v[k], "%lld", (long long)e->last.ts));
#undef FIELD
        if (e->last.feed < r->cfg->n_feeds) {
            argv[n++] = "source";
            argv[n++] = r->cfg->feeds[e->last.feed].name;
        }
        for (int j = 0; j < n; j++)
            lens[j] = strlen(argv[j]);
        send_argv(r, NULL, n, argv, lens);
        const char *ex[3] = {"EXPIRE", key, QUOTE_TTL_S};
        size_t exl[3] = {6, strlen(key), 2};
        send_argv(r, NULL, 3, ex, exl);
    }
    r->ndirty = 0;
}

static void xadd_alert(tg_redis_t *r, const tg_snap_row_t *a)
{
    char value[TG_DEC_STRLEN + 1], thr[TG_DEC_STRLEN + 1], ts[24];
    tg_dec_format(a->a.value, value);
    tg_dec_format(a->a.threshold, thr);
    snprintf(ts, sizeof ts, "%lld", (long long)a->ts);
    const char *argv[26] = {"XADD",     "tickgate:alerts",
                            "MAXLEN",   "~",
                            "10000",    "*",
                            "alert_id", a->a.alert_id,
                            "portfolio_id", a->a.portfolio_id,
                            "rule",     tg_alert_rule_name((tg_alert_rule_t)a->a.rule),
                            "severity", tg_alert_severity_name((tg_alert_severity_t)a->a.severity),
                            "state",    a->kind == TG_SNAP_ALERT_FIRING ? "firing" : "resolved",
                            "value",    value,
                            "threshold", thr,
                            "message",  a->a.message,
                            "ts",       ts};
    int n = 24;
    if (a->a.symbol[0]) {
        argv[n++] = "symbol";
        argv[n++] = a->a.symbol;
    }
    size_t lens[26];
    for (int i = 0; i < n; i++)
        lens[i] = strlen(argv[i]);
    send_argv(r, NULL, n, argv, lens);
}

static void run_requests(tg_redis_t *r)
{
    for (;;) {
        req_t q;
        pthread_mutex_lock(&r->lock);
        bool have = r->req_len > 0;
        if (have) {
            q = r->reqs[r->req_head];
            r->req_head = (r->req_head + 1) % REQ_CAP;
            r->req_len--;
        }
        pthread_mutex_unlock(&r->lock);
        if (!have)
            return;
        if (!r->connected || !atomic_load(&r->up)) {
            if (q.kind == 1) { /* asked again on the next call after the reconnect */
                bool created;
                pthread_mutex_lock(&r->lock);
                revoke_entry_t *e = CACHE_FIND(r->revoke, hex, q.key, tg_mono_ns(), &created);
                e->pending = false;
                pthread_mutex_unlock(&r->lock);
            }
            continue;
        }
        if (q.kind == 1) {
            char key[96];
            snprintf(key, sizeof key, "revoked_token:%.64s", q.key);
            const char *argv[2] = {"EXISTS", key};
            size_t lens[2] = {6, strlen(key)};
            cb_t *c = cb_new(1);
            if (c)
                snprintf(c->key, sizeof c->key, "%s", q.key);
            send_argv(r, c, 2, argv, lens);
        } else {
            char key[TG_PORTFOLIO_ID_MAX + 16], now_ms[24], min[24], member[48], ttl[24];
            int64_t now = tg_now_ns() / 1000000;
            snprintf(key, sizeof key, "tickgate:rl:%s", q.key);
            snprintf(now_ms, sizeof now_ms, "%lld", (long long)now);
            snprintf(min, sizeof min, "(%lld", (long long)(now - (int64_t)q.window_s * 1000));
            snprintf(member, sizeof member, "%lld-%llu", (long long)now,
                     (unsigned long long)++r->rate_seq);
            snprintf(ttl, sizeof ttl, "%lld", (long long)q.window_s * 1000);
            const char *multi[1] = {"MULTI"};
            size_t ml[1] = {5};
            send_argv(r, NULL, 1, multi, ml);
            const char *rem[4] = {"ZREMRANGEBYSCORE", key, "-inf", min};
            size_t reml[4] = {16, strlen(key), 4, strlen(min)};
            send_argv(r, NULL, 4, rem, reml);
            const char *add[4] = {"ZADD", key, now_ms, member};
            size_t addl[4] = {4, strlen(key), strlen(now_ms), strlen(member)};
            send_argv(r, NULL, 4, add, addl);
            const char *card[2] = {"ZCARD", key};
            size_t cardl[2] = {5, strlen(key)};
            send_argv(r, NULL, 2, card, cardl);
            const char *exp[3] = {"PEXPIRE", key, ttl};
            size_t expl[3] = {7, strlen(key), strlen(ttl)};
            send_argv(r, NULL, 3, exp, expl);
            const char *exec[1] = {"EXEC"};
            size_t el[1] = {4};
            cb_t *c = cb_new(2);
            if (c) {
                snprintf(c->key, sizeof c->key, "%s", q.key);
                c->limit = q.limit;
            }
            send_argv(r, c, 1, exec, el);
        }
    }
}

static void drain(tg_redis_t *r)
{
    bool live = r->connected && atomic_load(&r->up);
    size_t n;
    while ((n = tg_ring_pop(r->ticks, r->batch, sizeof r->batch / sizeof r->batch[0])) > 0) {
        for (size_t i = 0; i < n; i++) {
            const tg_tick_t *t = &r->batch[i];
            cache_quote(r, t);
            if (r->cfg->redis.publish) {
                if (live && r->outstanding < MAX_OUTSTANDING)
                    publish_tick(r, t);
                else
                    tg_counter_add(r->m_skipped, 1);
            }
        }
    }
    while ((n = tg_ring_pop(r->alerts, r->abatch, sizeof r->abatch / sizeof r->abatch[0])) > 0)
        for (size_t i = 0; i < n && live; i++)
            xadd_alert(r, &r->abatch[i]);
}

static void *redis_thread(void *arg)
{
    tg_redis_t *r = arg;
    pthread_setname_np(pthread_self(), "redis");
    while (!atomic_load(&r->stop)) {
        int64_t now = tg_mono_ns();
        if (!r->ac && now >= r->next_connect_ns)
            start_connect(r);
        if (r->ac && !r->connected && now - r->connect_started_ns > r->timeout_ns * 4)
            abandon(r, "connect timeout");
        if (r->ac && r->connected && r->outstanding && now - r->progress_ns > r->timeout_ns)
            abandon(r, "command timeout");
        drain(r);
        run_requests(r);
        if (now >= r->next_quote_ns) {
            r->next_quote_ns = now + QUOTE_FLUSH_NS;
            if (r->connected && atomic_load(&r->up))
                flush_quotes(r); /* while down the set stays dirty for the reconnect */
        }
        struct pollfd p[2] = {{.fd = r->wake_fd, .events = POLLIN}, {.fd = -1}};
        int np = 1;
        if (r->ac) {
            p[1].fd = r->ac->c.fd;
            p[1].events = (short)((r->want_read ? POLLIN : 0) | (r->want_write ? POLLOUT : 0));
            np = 2;
        }
        /* 2 ms: ticks in the ring are published within a couple of ms */
        if (poll(p, (nfds_t)np, 2) > 0) {
            if (p[0].revents & POLLIN) {
                uint64_t v;
                ssize_t rd = read(r->wake_fd, &v, sizeof v);
                (void)rd;
            }
            if (np == 2 && r->ac) {
                short re = p[1].revents;
                if (re & (POLLIN | POLLERR | POLLHUP))
                    redisAsyncHandleRead(r->ac);
                if (r->ac && (re & (POLLOUT | POLLERR)))
                    redisAsyncHandleWrite(r->ac);
            }
        }
    }
    if (r->ac) {
        /* flush what is queued (quotes, alerts) within one deadline */
        drain(r);
        if (r->connected && atomic_load(&r->up))
            flush_quotes(r);
        int64_t end = tg_mono_ns() + r->timeout_ns;
        while (r->ac && r->outstanding && tg_mono_ns() < end) {
            struct pollfd p = {.fd = r->ac->c.fd,
                               .events = (short)((r->want_read ? POLLIN : 0) |
                                                 (r->want_write ? POLLOUT : 0))};
            if (poll(&p, 1, 5) > 0) {
                if (p.revents & (POLLIN | POLLERR | POLLHUP))
                    redisAsyncHandleRead(r->ac);
                if (r->ac && (p.revents & (POLLOUT | POLLERR)))
                    redisAsyncHandleWrite(r->ac);
            }
        }
        if (r->ac) {
            redisAsyncContext *ac = r->ac;
            r->ac = NULL;
            ac->onDisconnect = NULL;
            redisAsyncFree(ac);
        }
    }
    return NULL;
}

int tg_redis_start(tg_redis_t **out, const tg_config_t *cfg, tg_metrics_t *metrics)
{
    if (!out || !cfg || !cfg->redis.url[0])
        return -EINVAL;
    tg_redis_t *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->cfg = cfg;
    int rc = tg_redis_url_parse(cfg->redis.url, &r->url);
    if (rc)
        goto fail;
    r->timeout_ns = (int64_t)(cfg->redis.command_timeout_ms > 0 ? cfg->redis.command_timeout_ms : 250) *
                    1000000LL;
    pthread_mutex_init(&r->lock, NULL);
    r->revoke = calloc(CACHE_SLOTS, sizeof *r->revoke);
    r->rate = calloc(CACHE_SLOTS, sizeof *r->rate);
    r->reqs = calloc(REQ_CAP, sizeof *r->reqs);
    r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    rc = -ENOMEM;
    if (!r->revoke || !r->rate || !r->reqs || r->wake_fd < 0)
        goto fail_mem;
    if ((rc = tg_symtab_init(&r->syms, 0)) != 0)
        goto fail_mem;
    if ((rc = tg_ring_create(&r->ticks, "redis", sizeof(tg_tick_t), TICK_RING_CAP,
                             TG_RING_DROP_OLDEST)) != 0)
        goto fail_syms;
    if ((rc = tg_ring_create(&r->alerts, "redis_alerts", sizeof(tg_snap_row_t), ALERT_RING_CAP,
                             TG_RING_DROP_OLDEST)) != 0)
        goto fail_ticks;
    r->m_up = tg_metrics_gauge(metrics, "tickgate_redis_up", NULL,
                               "1 while Redis is connected and answering in time");
    r->m_skipped = tg_metrics_counter(metrics, "tickgate_redis_publish_skipped_total", NULL,
                                      "Ticks not published to Redis (down or too slow)");
    if (!r->m_up || !r->m_skipped) {
        rc = -ENOMEM;
        goto fail_alerts;
    }
    tg_gauge_set(r->m_up, 0);
    if ((rc = pthread_create(&r->thread, NULL, redis_thread, r)) != 0) {
        rc = -rc;
        goto fail_alerts;
    }
    r->started = true;
    *out = r;
    return 0;
fail_alerts:
    tg_ring_destroy(r->alerts);
fail_ticks:
    tg_ring_destroy(r->ticks);
fail_syms:
    tg_symtab_free(&r->syms);
fail_mem:
    if (r->wake_fd >= 0)
        close(r->wake_fd);
    free(r->revoke);
    free(r->rate);
    free(r->reqs);
    pthread_mutex_destroy(&r->lock);
fail:
    free(r);
    return rc;
}

void tg_redis_stop(tg_redis_t *r)
{
    if (!r)
        return;
    if (r->started) {
        atomic_store(&r->stop, 1);
        wake(r);
        pthread_join(r->thread, NULL);
    }
    tg_ring_destroy(r->alerts);
    tg_ring_destroy(r->ticks);
    tg_symtab_free(&r->syms);
    free(r->q);
    free(r->dirty);
    close(r->wake_fd);
    free(r->revoke);
    free(r->rate);
    free(r->reqs);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
