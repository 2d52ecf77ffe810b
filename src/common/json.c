/* json.c - strict JSON reading on top of jsmn (implements tickgate/json.h).
 *
 * jsmn is fast and allocation-free but lax even with JSMN_STRICT: it accepts
 * "[1 2]", "[1,]", "{"a" 1}", "tru", several top-level values, invalid
 * escapes' neighbours, raw control characters and any byte sequence inside
 * strings, and it cannot tokenize a bare top-level number. So every input is
 * first checked by validate() below — a single iterative pass over the exact
 * RFC 8259 grammar with UTF-8, escape, surrogate, depth and token-count
 * checks — and only a document that passed is handed to jsmn for tokens.
 * Because validate() also counts the tokens exactly, the token array is grown
 * once to the right size (never beyond max_tokens) and jsmn never runs out.
 *
 * jsmn.h is included here and nowhere else: it defines its functions in the
 * header, so a second inclusion would duplicate symbols.
 */
#define JSMN_STRICT       /* primitives only as values; objects cannot be keys */
#define JSMN_PARENT_LINKS /* O(depth) closing-bracket matching instead of O(tokens) */
#define JSMN_STATIC       /* keep jsmn_* private to this file */
#include <jsmn.h>

#include "tickgate/json.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define JSON_DEFAULT_DEPTH 32
#define JSON_DEFAULT_TOKENS 65536
#define JSON_HARD_DEPTH 4096 /* the validator's container stack is a fixed bitmap */
#define JSON_MIN_CAP 32      /* first allocation; most feed messages fit */

/* ------------------------------------------------------------------------ */
/* Validation                                                               */
/* ------------------------------------------------------------------------ */

static inline int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int tg_json_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Four hex digits at p (caller checked there are 4 bytes). -1 if not hex. */
static long hex4(const char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = tg_json_hexval((unsigned char)p[i]);
        if (h < 0)
            return -1;
        v = (v << 4) | h;
    }
    return v;
}

/*
 * Length of the well-formed UTF-8 sequence at s[0..n) whose first byte is
 * >= 0x80, or 0 if it is ill-formed (overlong, surrogate, > U+10FFFF,
 * truncated, stray continuation byte). Table 3-7 of the Unicode standard.
 */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c >= 0xC2 && c <= 0xDF) {
        if (n >= 2 && (s[1] & 0xC0) == 0x80)
            return 2;
        return 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[2] & 0xC0) != 0x80)
            return 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* UTF-16 surrogates */
        return (s[1] >= lo && s[1] <= hi) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* > U+10FFFF */
        return (s[1] >= lo && s[1] <= hi) ? 4 : 0;
    }
    return 0;
}

/* String starting after the opening quote at *pos; leaves *pos after the
 * closing quote. */
static int scan_string(const char *s, size_t len, size_t *pos)
{
    size_t i = *pos;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"') {
            *pos = i + 1;
            return 0;
        }
        if (c < 0x20)
            return -EINVAL; /* raw control characters must be escaped */
        if (c == '\\') {
            if (i + 1 >= len)
                return -EINVAL;
            switch (s[i + 1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                i += 2;
                continue;
            case 'u':
                break;
            default:
                return -EINVAL;
            }
            if (len - i < 6)
                return -EINVAL;
            long u = hex4(s + i + 2);
            if (u < 0)
                return -EINVAL;
            i += 6;
            if (u >= 0xDC00 && u <= 0xDFFF)
                return -EINVAL; /* lone low surrogate */
            if (u >= 0xD800 && u <= 0xDBFF) {
                /* a high surrogate must be followed by an escaped low one */
                if (len - i < 6 || s[i] != '\\' || s[i + 1] != 'u')
                    return -EINVAL;
                long lo = hex4(s + i + 2);
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return -EINVAL;
                i += 6;
            }
            continue;
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_seq((const unsigned char *)s + i, len - i);
        if (n == 0)
            return -EINVAL;
        i += n;
    }
    return -EINVAL; /* truncated */
}

/* [0-9]* from *i on; returns how many digits it passed. */
static size_t skip_digits(const char *s, size_t len, size_t *i)
{
    size_t d = *i;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9')
        (*i)++;
    return *i - d;
}

bool tg_utf8_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_seq((const unsigned char *)s + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(const char *s, size_t len, size_t *pos)
{
    size_t i = *pos;
    if (i < len && s[i] == '-')
        i++;
    if (i >= len)
        return -EINVAL;
    if (s[i] == '0')
        i++;
    else if (s[i] >= '1' && s[i] <= '9')
        skip_digits(s, len, &i);
    else
        return -EINVAL;
    if (i < len && s[i] == '.') {
        i++;
        if (!skip_digits(s, len, &i))
            return -EINVAL;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (!skip_digits(s, len, &i))
            return -EINVAL;
    }
    /* "01", "1x": whatever follows must be a delimiter; the caller checks
     * that, which also rejects a leading zero followed by digits. */
    *pos = i;
    return 0;
}

static int scan_literal(const char *s, size_t len, size_t *pos, const char *lit, size_t n)
{
    if (len - *pos < n || memcmp(s + *pos, lit, n) != 0)
        return -EINVAL;
    *pos += n;
    return 0;
}

typedef struct json_check {
    int ntok;
    int root_primitive; /* top-level number/true/false/null: jsmn cannot tokenize it */
    size_t root_start, root_end;
} json_check_t;

/*
 * The whole grammar, iteratively (a recursive descent would let 100000 '['
 * overflow the stack before the depth check bites). The container stack is a
 * bitmap: 1 = object, 0 = array.
 */
static int validate(const char *s, size_t len, int max_tokens, int max_depth, json_check_t *out)
{
    uint64_t stack[JSON_HARD_DEPTH / 64];
    int depth = 0, ntok = 0, rc;
    size_t pos = 0;

#define SKIP_WS()                                                                                  \
    while (pos < len && is_ws((unsigned char)s[pos]))                                              \
    pos++
#define PUSH(isobj)                                                                                \
    do {                                                                                           \
        if (depth >= max_depth)                                                                    \
            return -E2BIG;                                                                         \
        if (isobj)                                                                                 \
            stack[depth / 64] |= 1ull << (depth % 64);                                             \
        else                                                                                       \
            stack[depth / 64] &= ~(1ull << (depth % 64));                                          \
        depth++;                                                                                   \
    } while (0)
#define TOP_IS_OBJ() ((stack[(depth - 1) / 64] >> ((depth - 1) % 64)) & 1)
#define COUNT()                                                                                    \
    do {                                                                                           \
        if (++ntok > max_tokens)                                                                   \
            return -E2BIG;                                                                         \
    } while (0)

    memset(out, 0, sizeof(*out));
    SKIP_WS();

value:
    SKIP_WS();
    if (pos >= len)
        return -EINVAL;
    switch (s[pos]) {
    case '{':
    case '[': {
        bool obj = s[pos] == '{';
        COUNT();
        PUSH(obj);
        pos++;
        SKIP_WS();
        if (pos < len && s[pos] == (obj ? '}' : ']')) { /* empty */
            pos++;
            depth--;
            goto after;
        }
        if (obj)
            goto key;
        goto value;
    }
    case '"':
        COUNT();
        pos++;
        if ((rc = scan_string(s, len, &pos)) < 0)
            return rc;
        goto after;
    default: {
        size_t start = pos;
        char c = s[pos];
        if (c == '-' || (c >= '0' && c <= '9'))
            rc = scan_number(s, len, &pos);
        else if (c == 't')
            rc = scan_literal(s, len, &pos, "true", 4);
        else if (c == 'f')
            rc = scan_literal(s, len, &pos, "false", 5);
        else if (c == 'n')
            rc = scan_literal(s, len, &pos, "null", 4);
        else
            rc = -EINVAL;
        if (rc < 0)
            return rc;
        COUNT();
        if (depth == 0) {
            out->root_primitive = 1;
            out->root_start = start;
            out->root_end = pos;
        }
        goto after;
    }
    }

key:
    SKIP_WS();
    if (pos >= len || s[pos] != '"')
        return -EINVAL;
    COUNT();
    pos++;
    if ((rc = scan_string(s, len, &pos)) < 0)
        return rc;
    SKIP_WS();
    if (pos >= len || s[pos] != ':')
        return -EINVAL;
    pos++;
    goto value;

after:
    SKIP_WS();
    if (depth == 0) {
        if (pos != len)
            return -EINVAL; /* trailing garbage or a second value */
        out->ntok = ntok;
        return 0;
    }
    if (pos >= len)
        return -EINVAL; /* truncated */
    if (s[pos] == ',') { /* the next member (a key first in an object) */
        pos++;
        if (TOP_IS_OBJ())
            goto key;
        goto value;
    }
    if (s[pos] == (TOP_IS_OBJ() ? '}' : ']')) {
        pos++;
        depth--;
        goto after;
    }
    return -EINVAL;

#undef SKIP_WS
#undef PUSH
#undef TOP_IS_OBJ
#undef COUNT
}

/* ------------------------------------------------------------------------ */
/* Parse                                                                    */
/* ------------------------------------------------------------------------ */

static int grow(tg_json_t *j, int need)
{
    if (need <= j->cap)
        return 0;
    long cap = j->cap > 0 ? j->cap : JSON_MIN_CAP;
    while (cap < need)
        cap *= 2;
    if (cap > j->max_tokens)
        cap = j->max_tokens; /* need <= max_tokens was checked by validate() */
    jsmntok_t *t = realloc(j->tok, (size_t)cap * sizeof(jsmntok_t));
    if (!t)
        return -ENOMEM;
    j->tok = t;
    j->cap = (int)cap;
    return 0;
}

int tg_json_parse(tg_json_t *j, const char *src, size_t len, int max_tokens, int max_depth)
{
    json_check_t chk;
    int rc;

    if (!j || (!src && len) || max_tokens < 0 || max_depth < 0)
        return -EINVAL;
    j->src = src;
    j->len = len;
    j->ntok = 0;
    j->max_tokens = max_tokens ? max_tokens : JSON_DEFAULT_TOKENS;
    j->max_depth = max_depth ? max_depth : JSON_DEFAULT_DEPTH;
    if (j->max_depth > JSON_HARD_DEPTH)
        j->max_depth = JSON_HARD_DEPTH;
    if (len > INT_MAX)
        return -E2BIG; /* jsmn token offsets are int */
    if (!src)
        return -EINVAL;

    rc = validate(src, len, j->max_tokens, j->max_depth, &chk);
    if (rc < 0)
        return rc;
    if ((rc = grow(j, chk.ntok)) < 0)
        return rc;

    jsmntok_t *t = j->tok;
    if (chk.root_primitive) {
        /* jsmn (strict) wants a delimiter after a primitive and reports a bare
         * top-level "42" as incomplete, so the one token is built here. */
        t[0] = (jsmntok_t){.type = JSMN_PRIMITIVE,
                           .start = (int)chk.root_start,
                           .end = (int)chk.root_end,
                           .size = 0,
                           .parent = -1};
        j->ntok = 1;
        return 0;
    }
    jsmn_parser p;
    jsmn_init(&p);
    rc = jsmn_parse(&p, src, len, t, (unsigned)j->cap);
    if (rc != chk.ntok) {
        /* cannot happen for validated input; refuse rather than trust it */
        j->ntok = 0;
        return -EINVAL;
    }
    j->ntok = rc;
    return 0;
}

void tg_json_free(tg_json_t *j)
{
    if (!j)
        return;
    free(j->tok);
    j->tok = NULL;
    j->ntok = 0;
    j->cap = 0;
    j->src = NULL;
    j->len = 0;
}

/* ------------------------------------------------------------------------ */
/* Access                                                                   */
/* ------------------------------------------------------------------------ */

static inline const jsmntok_t *tok_at(const tg_json_t *j, tg_json_ref_t r)
{
    if (!j || r < 0 || r >= j->ntok)
        return NULL;
    return &((const jsmntok_t *)j->tok)[r];
}

tg_json_type_t tg_json_type(const tg_json_t *j, tg_json_ref_t r)
{
    const jsmntok_t *t = tok_at(j, r);
    if (!t)
        return TG_JSON_INVALID;
    switch (t->type) {
    case JSMN_OBJECT:
        return TG_JSON_OBJECT;
    case JSMN_ARRAY:
        return TG_JSON_ARRAY;
    case JSMN_STRING:
        return TG_JSON_STRING;
    case JSMN_PRIMITIVE:
        switch (j->src[t->start]) {
        case 't':
            return TG_JSON_TRUE;
        case 'f':
            return TG_JSON_FALSE;
        case 'n':
            return TG_JSON_NULL;
        default:
            return TG_JSON_NUMBER;
        }
    default:
        return TG_JSON_INVALID;
    }
}

int tg_json_size(const tg_json_t *j, tg_json_ref_t r)
{
    const jsmntok_t *t = tok_at(j, r);
    if (!t || (t->type != JSMN_OBJECT && t->type != JSMN_ARRAY))
        return 0;
    return t->size;
}

/* Index of the first token after r's subtree. Tokens are in document order,
 * so a descendant is exactly a later token that starts before r ends. An
 * object key is a leaf here (its value starts after the key's end). */
static int skip(const tg_json_t *j, int r)
{
    const jsmntok_t *t = j->tok;
    if (t[r].type != JSMN_OBJECT && t[r].type != JSMN_ARRAY)
        return r + 1;
    int end = t[r].end, k = r + 1;
    while (k < j->ntok && t[k].start < end)
        k++;
    return k;
}

tg_json_ref_t tg_json_next_member(const tg_json_t *j, tg_json_ref_t obj, int *it,
                                  tg_json_ref_t *val)
{
    const jsmntok_t *o = tok_at(j, obj);
    if (!o || !it || o->type != JSMN_OBJECT || *it < 0)
        return -1;
    int k = *it == 0 ? obj + 1 : *it;
    const jsmntok_t *t = j->tok;
    if (k <= obj || k + 1 >= j->ntok || t[k].start >= o->end) {
        *it = -1;
        return -1;
    }
    if (val)
        *val = k + 1;
    *it = skip(j, k + 1);
    return k;
}

tg_json_ref_t tg_json_next_elem(const tg_json_t *j, tg_json_ref_t arr, int *it)
{
    const jsmntok_t *a = tok_at(j, arr);
    if (!a || !it || a->type != JSMN_ARRAY || *it < 0)
        return -1;
    int k = *it == 0 ? arr + 1 : *it;
    const jsmntok_t *t = j->tok;
    if (k <= arr || k >= j->ntok || t[k].start >= a->end) {
        *it = -1;
        return -1;
    }
    *it = skip(j, k);
    return k;
}

tg_json_ref_t tg_json_get(const tg_json_t *j, tg_json_ref_t obj, const char *key)
{
    int it = 0;
    tg_json_ref_t k, v;
    if (!key)
        return -1;
    while ((k = tg_json_next_member(j, obj, &it, &v)) >= 0)
        if (tg_json_str_eq(j, k, key))
            return v;
    return -1;
}

tg_json_ref_t tg_json_at(const tg_json_t *j, tg_json_ref_t r, int i)
{
    int it = 0, n = 0;
    tg_json_ref_t e, v;
    const jsmntok_t *t = tok_at(j, r);
    if (!t || i < 0 || i >= t->size)
        return -1;
    if (t->type == JSMN_ARRAY) {
        while ((e = tg_json_next_elem(j, r, &it)) >= 0)
            if (n++ == i)
                return e;
    } else if (t->type == JSMN_OBJECT) {
        while (tg_json_next_member(j, r, &it, &v) >= 0)
            if (n++ == i)
                return v;
    }
    return -1;
}

const char *tg_json_raw(const tg_json_t *j, tg_json_ref_t r, size_t *len)
{
    const jsmntok_t *t = tok_at(j, r);
    if (!t) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = (size_t)(t->end - t->start);
    return j->src + t->start;
}

/*
 * Decode one unit of validated string text at p[*i] (p has n bytes) into
 * out[0..4); returns the byte count or -EINVAL. Input was validated, but the
 * checks stay so a tg_json_t built by hand cannot make this read past n.
 */
static int decode_one(const char *p, size_t n, size_t *i, unsigned char out[4])
{
    unsigned char c = (unsigned char)p[*i];
    if (c != '\\') {
        out[0] = c;
        (*i)++;
        return 1;
    }
    if (*i + 1 >= n)
        return -EINVAL;
    char e = p[*i + 1];
    unsigned char simple = 0;
    switch (e) {
    case '"': simple = '"'; break;
    case '\\': simple = '\\'; break;
    case '/': simple = '/'; break;
    case 'b': simple = '\b'; break;
    case 'f': simple = '\f'; break;
    case 'n': simple = '\n'; break;
    case 'r': simple = '\r'; break;
    case 't': simple = '\t'; break;
    case 'u': break;
    default: return -EINVAL;
    }
    if (e != 'u') {
        out[0] = simple;
        *i += 2;
        return 1;
    }
    if (n - *i < 6)
        return -EINVAL;
    long u = hex4(p + *i + 2);
    if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF))
        return -EINVAL;
    *i += 6;
    if (u >= 0xD800 && u <= 0xDBFF) {
        if (n - *i < 6 || p[*i] != '\\' || p[*i + 1] != 'u')
            return -EINVAL;
        long lo = hex4(p + *i + 2);
        if (lo < 0xDC00 || lo > 0xDFFF)
            return -EINVAL;
        *i += 6;
        u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
    }
    if (u < 0x80) {
        out[0] = (unsigned char)u;
        return 1;
    }
    if (u < 0x800) {
        out[0] = (unsigned char)(0xC0 | (u >> 6));
        out[1] = (unsigned char)(0x80 | (u & 0x3F));
        return 2;
    }
    if (u < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (u >> 12));
        out[1] = (unsigned char)(0x80 | ((u >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (u & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (u >> 18));
    out[1] = (unsigned char)(0x80 | ((u >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((u >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (u & 0x3F));
    return 4;
}

bool tg_json_str_eq(const tg_json_t *j, tg_json_ref_t r, const char *s)
{
    const jsmntok_t *t = tok_at(j, r);
    if (!t || !s || t->type != JSMN_STRING)
        return false;
    const char *p = j->src + t->start;
    size_t n = (size_t)(t->end - t->start);
    if (!memchr(p, '\\', n)) /* the common case: no escapes */
        return strlen(s) == n && memcmp(p, s, n) == 0;
    size_t i = 0, k = 0;
    while (i < n) {
        unsigned char u[4];
        int m = decode_one(p, n, &i, u);
        if (m < 0)
            return false;
        for (int b = 0; b < m; b++, k++)
            if (s[k] == '\0' || (unsigned char)s[k] != u[b])
                return false;
    }
    return s[k] == '\0';
}

int tg_json_str(const tg_json_t *j, tg_json_ref_t r, char *buf, size_t cap, size_t *outlen)
{
    const jsmntok_t *t = tok_at(j, r);
    if (!t || t->type != JSMN_STRING || (!buf && cap))
        return -EINVAL;
    if (cap == 0)
        return -ENOSPC;
    const char *p = j->src + t->start;
    size_t n = (size_t)(t->end - t->start), i = 0, k = 0;
    while (i < n) {
        unsigned char u[4];
        int m = decode_one(p, n, &i, u);
        if (m < 0)
            return -EINVAL;
        if (k + (size_t)m > cap - 1) {
            buf[0] = '\0';
            return -ENOSPC;
        }
        memcpy(buf + k, u, (size_t)m);
        k += (size_t)m;
    }
    buf[k] = '\0';
    if (outlen)
        *outlen = k;
    return 0;
}

int tg_json_dec(const tg_json_t *j, tg_json_ref_t r, tg_dec_t *out)
{
    const jsmntok_t *t = tok_at(j, r);
    if (!t || !out)
        return -EINVAL;
    tg_json_type_t ty = tg_json_type(j, r);
    if (ty != TG_JSON_NUMBER && ty != TG_JSON_STRING)
        return -EINVAL;
    const char *p = j->src + t->start;
    size_t n = (size_t)(t->end - t->start);
    /* A numeric string with escapes ("\u0031") is not a number anyone sends;
     * refusing it keeps this path copy-free. */
    if (ty == TG_JSON_STRING && memchr(p, '\\', n))
        return -EINVAL;
    return tg_dec_parse(p, n, out);
}

int tg_json_i64(const tg_json_t *j, tg_json_ref_t r, int64_t *out)
{
    const jsmntok_t *t = tok_at(j, r);
    if (!t || !out || tg_json_type(j, r) != TG_JSON_NUMBER)
        return -EINVAL;
    const char *p = j->src + t->start;
    size_t n = (size_t)(t->end - t->start), i = 0;
    bool neg = false;
    if (n && p[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i >= n)
        return -EINVAL;
    /* accumulate negatively so INT64_MIN is reachable */
    int64_t v = 0;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -EINVAL; /* fraction or exponent */
        int d = p[i] - '0';
        if (v < (INT64_MIN + d) / 10)
            return -ERANGE;
        v = v * 10 - d;
    }
    if (!neg) {
        if (v == INT64_MIN)
            return -ERANGE;
        v = -v;
    }
    *out = v;
    return 0;
}

int tg_json_bool(const tg_json_t *j, tg_json_ref_t r, bool *out)
{
    tg_json_type_t ty = tg_json_type(j, r);
    if (!out || (ty != TG_JSON_TRUE && ty != TG_JSON_FALSE))
        return -EINVAL;
    *out = ty == TG_JSON_TRUE;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */
/* ------------------------------------------------------------------------ */

int tg_json_escape(const char *s, size_t len, char *buf, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    if ((!s && len) || (!buf && cap))
        return -EINVAL;
#define PUT(str, n)                                                                                \
    do {                                                                                           \
        if (cap - o < (size_t)(n))                                                                 \
            return -ENOSPC;                                                                        \
        memcpy(buf + o, (str), (n));                                                               \
        o += (n);                                                                                  \
    } while (0)

    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        char esc[6];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            PUT(esc, 2);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            const char *short_esc = NULL;
            switch (c) {
            case '\b': short_esc = "\\b"; break;
            case '\f': short_esc = "\\f"; break;
            case '\n': short_esc = "\\n"; break;
            case '\r': short_esc = "\\r"; break;
            case '\t': short_esc = "\\t"; break;
            }
            if (short_esc) {
                PUT(short_esc, 2);
            } else {
                esc[0] = '\\';
                esc[1] = 'u';
                esc[2] = '0';
                esc[3] = '0';
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                PUT(esc, 6);
            }
            i++;
        } else if (c < 0x80) {
            PUT(s + i, 1);
            i++;
        } else {
            size_t n = utf8_seq((const unsigned char *)s + i, len - i);
            if (n == 0) {
                /* invalid UTF-8 from a user must not make our output invalid */
                PUT("\\ufffd", 6);
                i++;
            } else if (n == 3 && c == 0xE2 && (unsigned char)s[i + 1] == 0x80 &&
                       ((unsigned char)s[i + 2] == 0xA8 || (unsigned char)s[i + 2] == 0xA9)) {
                /* U+2028/2029 are valid JSON but end a line in JavaScript */
                PUT((unsigned char)s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
                i += 3;
            } else {
                PUT(s + i, n);
                i += n;
            }
        }
    }
#undef PUT
    if (o > INT_MAX)
        return -ENOSPC;
    return (int)o;
}

void tg_json_put_str(tg_buf_t *b, const char *s, size_t len)
{
    /* worst case: every byte becomes \ufffd (6 bytes) */
    if (len > (SIZE_MAX - 3) / 6 || !tg_buf_reserve(b, len * 6 + 2)) {
        b->err = true;
        return;
    }
    b->p[b->len++] = '"';
    int w = tg_json_escape(s, len, b->p + b->len, b->cap - b->len - 2);
    if (w > 0)
        b->len += (size_t)w;
    b->p[b->len++] = '"';
    b->p[b->len] = 0;
}

void tg_json_put_cstr(tg_buf_t *b, const char *s)
{
    tg_json_put_str(b, s, strlen(s));
}
