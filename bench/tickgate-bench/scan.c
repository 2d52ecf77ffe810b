/* scan.c - key scanning of JSON and MessagePack messages (see scan.h for why). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include "scan.h"

#include <errno.h>
#include <string.h>

/* Integer after a "key": needle; skips blanks. Returns false when none. */
static bool json_int_at(const char *v, const char *end, int64_t *out)
{
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    bool neg = false;
    if (v < end && *v == '-') {
        neg = true;
        v++;
    }
    if (v >= end || *v < '0' || *v > '9')
        return false;
    uint64_t x = 0;
    while (v < end && *v >= '0' && *v <= '9')
        x = x * 10 + (uint64_t)(*v++ - '0');
    *out = neg ? -(int64_t)x : (int64_t)x;
    return true;
}

/* String value after a "key": needle: sets *s and *len (no unescaping: keys are plain). */
static bool json_str_at(const char *v, const char *end, const char **s, uint32_t *len)
{
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    if (v >= end || *v != '"')
        return false;
    v++;
    const char *q = memchr(v, '"', (size_t)(end - v));
    if (!q)
        return false;
    *s = v;
    *len = (uint32_t)(q - v);
    return true;
}

static const char *find_key(const char *from, const char *end, const char *needle, size_t nl)
{
    if (from >= end)
        return NULL;
    const char *k = memmem(from, (size_t)(end - from), needle, nl);
    return k ? k + nl : NULL;
}
#define FIND(from, end, lit) find_key((from), (end), (lit), sizeof(lit) - 1)

/*
 * A quote is a flat object whose "ts" and "seq" come last (tickgate: ...,"ts",
 * "src_ts","seq"; the peers: ...,"ts","seq"). Looking for them backwards from
 * the closing brace reads ~40 bytes instead of memmem over ~150 from the
 * front, which was a quarter of the bench's CPU at 2 M quotes/s and made the
 * client the bottleneck. Only keys that start right after a ',' count (no
 * string value can then fake one); false when either is not found in the tail,
 * and the caller's forward scan decides.
 */
static bool quote_tail(const char *lo, const char *end, tg_bench_msg_t *m)
{
    const char *p = end;
    while (p > lo && (p[-1] == ' ' || p[-1] == '\n' || p[-1] == '\r'))
        p--;
    if (p <= lo || p[-1] != '}')
        return false;
    p--;
    bool ts = false, seq = false;
    int keys = 0;
    /* p: one past the current value's end; walk back key by key */
    for (const char *q = p - 1; q > lo && keys < 6 && !(ts && seq); q--) {
        if (*q == '{' || *q == '[' || *q == ']')
            return false; /* nested: not the flat shape this is for */
        if (*q != ':' || q[-1] != '"')
            continue;
        /* a key ends at q-1; it starts after the previous '"' preceded by ',' */
        const char *ke = q - 1, *ks = ke;
        while (ks > lo && ks[-1] != '"')
            ks--;
        if (ks - 1 <= lo || ks[-2] != ',')
            return false;
        size_t kl = (size_t)(ke - ks);
        int64_t x;
        if (kl == 2 && ks[0] == 't' && ks[1] == 's') {
            if (!(m->has_ts = json_int_at(q + 1, p, &m->ts)))
                return false;
            ts = true;
        } else if (kl == 3 && ks[0] == 's' && ks[1] == 'e' && ks[2] == 'q') {
            if (!json_int_at(q + 1, p, &x))
                return false;
            m->has_seq = seq = true;
            m->seq = (uint64_t)x;
        }
        p = ks - 2; /* the ',' before this key ends the previous value */
        q = p;
        keys++;
    }
    return ts && seq;
}

int tg_bench_scan_json(const char *p, size_t n, tg_bench_msg_t *m)
{
    const char *end = p + n, *v;
    m->type = m->key = NULL;
    m->type_len = m->key_len = 0;
    m->has_ts = m->has_seq = false;
    /* tickgate and the peers put "type" first: avoid even the memmem */
    if (n > 9 && memcmp(p, "{\"type\":", 8) == 0)
        v = p + 8;
    else
        v = FIND(p, end, "\"type\":");
    if (!v || !json_str_at(v, end, &m->type, &m->type_len))
        return -EINVAL;
    const char *after = m->type + m->type_len;
    if (TG_MSG_IS(m, "quote")) {
        /* "symbol" right after "type" (tickgate and the peers): no memmem,
         * whose per-call setup costs more than this whole message's scan */
        if (end - after > 11 && memcmp(after, "\",\"symbol\":", 11) == 0)
            v = after + 11;
        else
            v = FIND(after, end, "\"symbol\":");
        if (v)
            json_str_at(v, end, &m->key, &m->key_len);
        if (quote_tail(after, end, m))
            return 0;
    } else if (TG_MSG_IS(m, "portfolio")) {
        v = FIND(p, end, "\"portfolio_id\":");
        if (v)
            json_str_at(v, end, &m->key, &m->key_len);
    } else if (TG_MSG_IS(m, "alert")) { /* seq runs per user's notifications */
        m->key = "notifications";
        m->key_len = 13;
    } else if (TG_MSG_IS(m, "feed_status")) {
        m->key = "system";
        m->key_len = 6;
    }
    v = FIND(after, end, "\"ts\":");
    if (!v) /* keys out of the usual order */
        v = FIND(p, end, "\"ts\":");
    if (v)
        m->has_ts = json_int_at(v, end, &m->ts);
    const char *s = FIND(v ? v : p, end, "\"seq\":");
    if (!s && v)
        s = FIND(p, end, "\"seq\":");
    int64_t seq;
    if (s && json_int_at(s, end, &seq)) {
        m->has_seq = true;
        m->seq = (uint64_t)seq;
    }
    return 0;
}

/* ---- MessagePack ---------------------------------------------------------- */

static inline uint64_t be(const uint8_t *p, int n)
{
    uint64_t x = 0;
    for (int i = 0; i < n; i++)
        x = x << 8 | p[i];
    return x;
}

/*
 * Size of the item header at p and what it contains: *payload bytes follow
 * the header, *children items follow (2 per map entry). Returns the header
 * size, or 0 when truncated/invalid.
 */
static size_t mp_head(const uint8_t *p, const uint8_t *end, uint64_t *payload, uint64_t *children)
{
    if (p >= end)
        return 0;
    size_t avail = (size_t)(end - p);
    uint8_t b = p[0];
    *payload = 0;
    *children = 0;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return 1;
    if (b <= 0x8f) {
        *children = 2u * (b & 0x0f);
        return 1;
    }
    if (b <= 0x9f) {
        *children = b & 0x0f;
        return 1;
    }
    if (b <= 0xbf) {
        *payload = b & 0x1f;
        return 1;
    }
    static const uint8_t fixed[0xdf - 0xc4 + 1] = {
        /* c4..df: header bytes; 0 = special */
        [0xca - 0xc4] = 5, [0xcb - 0xc4] = 9, [0xcc - 0xc4] = 2, [0xcd - 0xc4] = 3,
        [0xce - 0xc4] = 5, [0xcf - 0xc4] = 9, [0xd0 - 0xc4] = 2, [0xd1 - 0xc4] = 3,
        [0xd2 - 0xc4] = 5, [0xd3 - 0xc4] = 9, [0xd4 - 0xc4] = 3, [0xd5 - 0xc4] = 4,
        [0xd6 - 0xc4] = 6, [0xd7 - 0xc4] = 10, [0xd8 - 0xc4] = 18,
    };
    if (b >= 0xc4 && b <= 0xdf && fixed[b - 0xc4])
        return fixed[b - 0xc4] <= avail ? fixed[b - 0xc4] : 0;
    size_t h;
    switch (b) {
    case 0xc4: case 0xd9: h = 2; if (avail < h) return 0; *payload = p[1]; return h;
    case 0xc5: case 0xda: h = 3; if (avail < h) return 0; *payload = be(p + 1, 2); return h;
    case 0xc6: case 0xdb: h = 5; if (avail < h) return 0; *payload = be(p + 1, 4); return h;
    case 0xc7: h = 3; if (avail < h) return 0; *payload = p[1]; return h;
    case 0xc8: h = 4; if (avail < h) return 0; *payload = be(p + 1, 2); return h;
    case 0xc9: h = 6; if (avail < h) return 0; *payload = be(p + 1, 4); return h;
    case 0xdc: h = 3; if (avail < h) return 0; *children = be(p + 1, 2); return h;
    case 0xdd: h = 5; if (avail < h) return 0; *children = be(p + 1, 4); return h;
    case 0xde: h = 3; if (avail < h) return 0; *children = 2 * be(p + 1, 2); return h;
    case 0xdf: h = 5; if (avail < h) return 0; *children = 2 * be(p + 1, 4); return h;
    default: return 0; /* 0xc1 is never used */
    }
}

/* Skip one complete item (with all its children) without recursion. */
static const uint8_t *mp_skip(const uint8_t *p, const uint8_t *end)
{
    uint64_t remaining = 1;
    while (remaining) {
        uint64_t payload, children;
        size_t h = mp_head(p, end, &payload, &children);
        if (!h || payload > (uint64_t)(end - p) - h)
            return NULL;
        p += h + payload;
        remaining = remaining - 1 + children;
        if (remaining > (uint64_t)(end - p)) /* every item needs at least one byte */
            return NULL;
    }
    return p;
}

/* String item at p: sets *s and *len, returns the end, NULL when not a string. */
static const uint8_t *mp_str(const uint8_t *p, const uint8_t *end, const char **s, uint32_t *len)
{
    if (p >= end)
        return NULL;
    uint8_t b = *p;
    if (!((b >= 0xa0 && b <= 0xbf) || b == 0xd9 || b == 0xda || b == 0xdb))
        return NULL;
    uint64_t payload, children;
    size_t h = mp_head(p, end, &payload, &children);
    if (!h || payload > (uint64_t)(end - p) - h)
        return NULL;
    *s = (const char *)p + h;
    *len = (uint32_t)payload;
    return p + h + payload;
}

/* Integer item at p (any int encoding). */
static bool mp_int(const uint8_t *p, const uint8_t *end, int64_t *out)
{
    if (p >= end)
        return false;
    uint8_t b = *p;
    size_t avail = (size_t)(end - p);
    if (b <= 0x7f) { *out = b; return true; }
    if (b >= 0xe0) { *out = (int8_t)b; return true; }
    int n;
    bool sgn;
    switch (b) {
    case 0xcc: n = 1; sgn = false; break;
    case 0xcd: n = 2; sgn = false; break;
    case 0xce: n = 4; sgn = false; break;
    case 0xcf: n = 8; sgn = false; break;
    case 0xd0: n = 1; sgn = true; break;
    case 0xd1: n = 2; sgn = true; break;
    case 0xd2: n = 4; sgn = true; break;
    case 0xd3: n = 8; sgn = true; break;
    default: return false;
    }
    if (avail < (size_t)n + 1)
        return false;
    uint64_t x = be(p + 1, n);
    if (sgn && n < 8 && (x >> (8 * n - 1)))
        x |= ~0ull << (8 * n); /* sign-extend */
    *out = (int64_t)x;
    return true;
}

long tg_bench_scan_msgpack(const uint8_t *p, size_t n, tg_bench_msg_t *m)
{
    const uint8_t *start = p, *end = p + n;
    m->type = m->key = NULL;
    m->type_len = m->key_len = 0;
    m->has_ts = m->has_seq = false;
    uint64_t payload, children;
    if (p >= end || !((*p >= 0x80 && *p <= 0x8f) || *p == 0xde || *p == 0xdf))
        return -EINVAL;
    size_t h = mp_head(p, end, &payload, &children);
    if (!h)
        return -EINVAL;
    p += h;
    for (uint64_t i = 0; i < children / 2; i++) {
        const char *k;
        uint32_t kl;
        const uint8_t *v = mp_str(p, end, &k, &kl);
        if (!v) { /* non-string key: skip key and value */
            if (!(p = mp_skip(p, end)) || !(p = mp_skip(p, end)))
                return -EINVAL;
            continue;
        }
        int64_t x;
        if (kl == 4 && memcmp(k, "type", 4) == 0) {
            mp_str(v, end, &m->type, &m->type_len);
        } else if (kl == 2 && memcmp(k, "ts", 2) == 0) {
            m->has_ts = mp_int(v, end, &m->ts);
        } else if (kl == 3 && memcmp(k, "seq", 3) == 0) {
            if ((m->has_seq = mp_int(v, end, &x)))
                m->seq = (uint64_t)x;
        } else if ((kl == 6 && memcmp(k, "symbol", 6) == 0) ||
                   (kl == 12 && memcmp(k, "portfolio_id", 12) == 0)) {
            mp_str(v, end, &m->key, &m->key_len);
        }
        if (!(p = mp_skip(v, end)))
            return -EINVAL;
    }
    if (m->type && TG_MSG_IS(m, "feed_status")) {
        m->key = "system";
        m->key_len = 6;
    } else if (m->type && TG_MSG_IS(m, "alert")) {
        m->key = "notifications";
        m->key_len = 13;
    }
    return (long)(p - start);
}
