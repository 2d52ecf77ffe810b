/* redis_codec.c - pure helpers: redis:// URL parsing and the tick
 * MessagePack codec used on the tick fan-out channel (the Redis thread
 * encodes, the `redis` feed decodes).
 */
#include "tickgate/redis.h"

#include "tickgate/json.h"

#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- URL ------------------------------------------------------------------ */

/* %-decode s[0..n) into out[cap]; -EINVAL on bad escapes or overflow. */
static int pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -EINVAL;
            int h = tg_json_hexval((unsigned char)s[i + 1]), l = tg_json_hexval((unsigned char)s[i + 2]);
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
