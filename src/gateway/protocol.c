/* protocol.c - parsing of client messages (SPEC §5 "Client -> server"). */
#include "tickgate/protocol.h"

#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickgate/bars.h"
#include "tickgate/json.h"

static const char *const channel_names[TG_CH_COUNT] = {"market_data", "portfolio_updates",
                                                       "notifications", "system", "bars"};

const char *tg_channel_name(tg_channel_t c)
{
    return (unsigned)c < TG_CH_COUNT ? channel_names[c] : "?";
}

bool tg_symbol_valid(const char *s, size_t len)
{
    if (len == 0 || len > 31)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              strchr("._:/^=-*", c)))
            return false;
    }
    return true;
}

void tg_cmsg_free(tg_cmsg_t *m)
{
    if (!m)
        return;
    free(m->keys);
    free(m->since);
    free(m->token);
    m->keys = NULL;
    m->since = NULL;
    m->token = NULL;
}

static int fail(tg_proto_err_t *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(tg_proto_err_t *err, const char *code, const char *fmt, ...)
{
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static int read_id(const tg_json_t *j, tg_json_ref_t r, tg_cmsg_id_t *id)
{
    if (r < 0)
        return 0;
    switch (tg_json_type(j, r)) {
    case TG_JSON_NUMBER:
        if (tg_json_i64(j, r, &id->i) != 0)
            return -EINVAL;
        id->kind = TG_ID_INT;
        return 0;
    case TG_JSON_STRING:
        if (tg_json_str(j, r, id->s, sizeof id->s, NULL) != 0)
            return -EINVAL;
        id->kind = TG_ID_STR;
        return 0;
    default:
        return -EINVAL;
    }
}

static int read_keys(const tg_json_t *j, tg_json_ref_t arr, const char *field, tg_cmsg_t *m,
                     tg_proto_err_t *err)
{
    if (tg_json_type(j, arr) != TG_JSON_ARRAY)
        return fail(err, "bad_request", "%s must be an array of strings", field);
    int n = tg_json_size(j, arr);
    if (n > TG_PROTO_MAX_KEYS)
        return fail(err, "bad_request", "%s has more than %d entries", field, TG_PROTO_MAX_KEYS);
    m->keys = calloc(n ? (size_t)n : 1, sizeof *m->keys);
    if (!m->keys)
        return fail(err, "internal", "out of memory");
    int it = 0;
    tg_json_ref_t el;
    while ((el = tg_json_next_elem(j, arr, &it)) >= 0) {
        size_t len = 0;
        if (tg_json_type(j, el) != TG_JSON_STRING ||
            tg_json_str(j, el, m->keys[m->nkeys], TG_KEY_MAX + 1, &len) != 0 || len == 0 ||
            memchr(m->keys[m->nkeys], '\0', len))
            return fail(err, "bad_request", "%s[%zu] must be a non-empty string of at most %d bytes",
                        field, m->nkeys, TG_KEY_MAX);
        m->nkeys++;
    }
    return 0;
}

static int read_since(const tg_json_t *j, tg_json_ref_t obj, tg_cmsg_t *m, tg_proto_err_t *err)
{
    if (tg_json_type(j, obj) != TG_JSON_OBJECT)
        return fail(err, "bad_request", "since must be an object of key -> seq");
    int n = tg_json_size(j, obj);
    if (n > TG_PROTO_MAX_KEYS)
        return fail(err, "bad_request", "since has more than %d entries", TG_PROTO_MAX_KEYS);
    m->since = calloc(n ? (size_t)n : 1, sizeof *m->since);
    if (!m->since)
        return fail(err, "internal", "out of memory");
    int it = 0;
    tg_json_ref_t k, v;
    while ((k = tg_json_next_member(j, obj, &it, &v)) >= 0) {
        tg_since_t *s = &m->since[m->nsince];
        int64_t seq;
        if (tg_json_str(j, k, s->key, sizeof s->key, NULL) != 0 || !s->key[0])
            return fail(err, "bad_request", "since: keys must be non-empty strings");
        if (tg_json_type(j, v) != TG_JSON_NUMBER || tg_json_i64(j, v, &seq) != 0 || seq < 0)
            return fail(err, "bad_request", "since.%s must be a non-negative integer", s->key);
        s->seq = (uint64_t)seq;
        m->nsince++;
    }
    m->has_since = true;
    return 0;
}

/* bars (SPEC §12): "interval" (default 1m) and, on subscribe, "history" 0..1000. */
static int read_bar_fields(const tg_json_t *j, tg_cmsg_t *m, tg_proto_err_t *err)
{
    tg_bar_iv_t iv = TG_BAR_1M;
    tg_json_ref_t r = tg_json_get(j, 0, "interval");
    if (r >= 0) {
        char name[8];
        size_t n = 0;
        if (tg_json_type(j, r) != TG_JSON_STRING ||
            tg_json_str(j, r, name, sizeof name, &n) != 0 || tg_bar_iv_parse(name, n, &iv) != 0)
            return fail(err, "bad_request", "interval must be one of 1s, 1m, 5m, 1h, 1d");
    }
    m->interval = (uint8_t)iv;
    r = tg_json_get(j, 0, "history");
    if (r >= 0) {
        int64_t h;
        if (m->type != TG_CMSG_SUBSCRIBE || tg_json_type(j, r) != TG_JSON_NUMBER ||
            tg_json_i64(j, r, &h) != 0 || h < 0 || h > TG_PROTO_MAX_BAR_HISTORY)
            return fail(err, "bad_request", "history must be an integer 0..%d on subscribe",
                        TG_PROTO_MAX_BAR_HISTORY);
        m->history = (uint32_t)h;
    }
    return 0;
}

static int parse_json(const char *src, size_t len, tg_cmsg_t *m, tg_proto_err_t *err)
{
    tg_json_t j = {0};
    int rc = tg_json_parse(&j, src, len, 4 * TG_PROTO_MAX_KEYS + 64, 8);
    if (rc != 0) {
        rc = fail(err, "bad_request", rc == -E2BIG ? "message too complex" : "malformed JSON");
        goto out;
    }
    if (tg_json_type(&j, 0) != TG_JSON_OBJECT) {
        rc = fail(err, "bad_request", "message must be a JSON object");
        goto out;
    }
    if (read_id(&j, tg_json_get(&j, 0, "id"), &m->id) != 0) {
        rc = fail(err, "bad_request", "id must be an integer or a string of at most 64 bytes");
        goto out;
    }
    tg_json_ref_t t = tg_json_get(&j, 0, "type");
    char type[24];
    if (t < 0 || tg_json_type(&j, t) != TG_JSON_STRING ||
        tg_json_str(&j, t, type, sizeof type, NULL) != 0) {
        rc = fail(err, "bad_request", "type must be a string");
        goto out;
    }
    if (strcmp(type, "ping") == 0) {
        m->type = TG_CMSG_PING;
    } else if (strcmp(type, "auth") == 0) {
        m->type = TG_CMSG_AUTH;
        tg_json_ref_t tok = tg_json_get(&j, 0, "token");
        size_t tl;
        const char *raw = tok >= 0 && tg_json_type(&j, tok) == TG_JSON_STRING
                              ? tg_json_raw(&j, tok, &tl)
                              : NULL;
        if (!raw || tl == 0 || tl > 16384) {
            rc = fail(err, "bad_request", "auth needs a token string");
            goto out;
        }
        m->token = malloc(tl + 1);
        size_t ul = 0;
        /* a \u0000 would let only the prefix be verified: refuse it */
        if (!m->token || tg_json_str(&j, tok, m->token, tl + 1, &ul) != 0 ||
            memchr(m->token, '\0', ul)) {
            rc = fail(err, "bad_request", "auth token is not a valid string");
            goto out;
        }
    } else if (strcmp(type, "subscribe") == 0 || strcmp(type, "unsubscribe") == 0 ||
               strcmp(type, "snapshot") == 0) {
        m->type = type[0] == 's' && type[1] == 'u' ? TG_CMSG_SUBSCRIBE
                  : type[0] == 'u'                 ? TG_CMSG_UNSUBSCRIBE
                                                   : TG_CMSG_SNAPSHOT;
        tg_json_ref_t ch = tg_json_get(&j, 0, "channel");
        char chname[32];
        if (ch < 0 || tg_json_type(&j, ch) != TG_JSON_STRING ||
            tg_json_str(&j, ch, chname, sizeof chname, NULL) != 0) {
            rc = fail(err, ch < 0 ? "bad_request" : "unknown_channel",
                      ch < 0 ? "%s needs a channel" : "unknown channel", type);
            goto out;
        }
        int c = -1;
        for (int i = 0; i < TG_CH_COUNT; i++)
            if (strcmp(chname, channel_names[i]) == 0)
                c = i;
        if (c < 0) {
            rc = fail(err, "unknown_channel", "unknown channel %s", chname);
            goto out;
        }
        m->channel = (tg_channel_t)c;
        if (c == TG_CH_BARS && (rc = read_bar_fields(&j, m, err)) != 0)
            goto out;
        if (c == TG_CH_MARKET_DATA || c == TG_CH_PORTFOLIO || c == TG_CH_BARS) {
            const char *field = c == TG_CH_PORTFOLIO ? "portfolio_ids" : "symbols";
            tg_json_ref_t arr = tg_json_get(&j, 0, field);
            if (arr < 0) {
                rc = fail(err, "bad_request", "%s on %s needs %s", type, chname, field);
                goto out;
            }
            if ((rc = read_keys(&j, arr, field, m, err)) != 0)
                goto out;
            if (m->nkeys == 0) {
                rc = fail(err, "bad_request", "%s must not be empty", field);
                goto out;
            }
        }
        tg_json_ref_t hz = tg_json_get(&j, 0, "max_hz");
        if (hz >= 0 && m->type == TG_CMSG_SUBSCRIBE) {
            int64_t v;
            if (tg_json_i64(&j, hz, &v) != 0 || v < 1 || v > 1000) {
                rc = fail(err, "bad_request", "max_hz must be an integer 1..1000");
                goto out;
            }
            m->max_hz = (uint32_t)v;
        }
        tg_json_ref_t since = tg_json_get(&j, 0, "since");
        if (since >= 0 && m->type == TG_CMSG_SUBSCRIBE) {
            tg_json_ref_t ep = tg_json_get(&j, 0, "epoch");
            if (ep >= 0 && (tg_json_type(&j, ep) != TG_JSON_STRING ||
                            tg_json_str(&j, ep, m->epoch, sizeof m->epoch, NULL) != 0)) {
                rc = fail(err, "bad_request", "epoch must be a string");
                goto out;
            }
            if ((rc = read_since(&j, since, m, err)) != 0)
                goto out;
        }
    } else {
        rc = fail(err, "bad_request", "unknown message type %s", type);
        goto out;
    }
    rc = 0;
out:
    tg_json_free(&j);
    if (rc)
        tg_cmsg_free(m);
    return rc;
}

int tg_proto_parse(const void *data, size_t len, bool binary, tg_cmsg_t *m, tg_proto_err_t *err)
{
    memset(m, 0, sizeof *m);
    err->code = NULL;
    err->message[0] = 0;
    if (!binary)
        return parse_json(data, len, m, err);
    char *json = NULL;
    size_t jlen = 0;
    if (tg_msgpack_to_json(data, len, &json, &jlen) != 0) {
        free(json);
        return fail(err, "bad_request", "malformed MessagePack");
    }
    int rc = parse_json(json, jlen, m, err);
    free(json);
    return rc;
}

/* ---- MessagePack -> JSON ---- */

static uint64_t be(const unsigned char *p, int k);

/* The JSON text goes into the one growable buffer through the one JSON string writer. */
typedef tg_buf_t out_t;

static int out_put(out_t *o, const char *s, size_t n)
{
    tg_buf_put(o, s, n);
    return o->err ? -ENOMEM : 0;
}

static int out_str(out_t *o, const char *s, size_t n)
{
    tg_json_put_str(o, s, n);
    return o->err ? -ENOMEM : 0;
}

static int emit(out_t *o, const msgpack_object *ob, int depth)
{
    char num[48];
    int n;
    if (depth > 32)
        return -EINVAL;
    switch (ob->type) {
    case MSGPACK_OBJECT_NIL:
        return out_put(o, "null", 4);
    case MSGPACK_OBJECT_BOOLEAN:
        return ob->via.boolean ? out_put(o, "true", 4) : out_put(o, "false", 5);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        n = snprintf(num, sizeof num, "%" PRIu64, ob->via.u64);
        return out_put(o, num, (size_t)n);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        n = snprintf(num, sizeof num, "%" PRId64, ob->via.i64);
        return out_put(o, num, (size_t)n);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (ob->via.f64 != ob->via.f64 || ob->via.f64 > 1e300 || ob->via.f64 < -1e300)
            return -EINVAL;
        n = snprintf(num, sizeof num, "%.17g", ob->via.f64);
        return out_put(o, num, (size_t)n);
    case MSGPACK_OBJECT_STR:
        return out_str(o, ob->via.str.ptr, ob->via.str.size);
    case MSGPACK_OBJECT_ARRAY:
        if (out_put(o, "[", 1))
            return -ENOSPC;
        for (uint32_t i = 0; i < ob->via.array.size; i++) {
            if ((i && out_put(o, ",", 1)) || emit(o, &ob->via.array.ptr[i], depth + 1))
                return -EINVAL;
        }
        return out_put(o, "]", 1);
    case MSGPACK_OBJECT_MAP:
        if (out_put(o, "{", 1))
            return -ENOSPC;
        for (uint32_t i = 0; i < ob->via.map.size; i++) {
            const msgpack_object_kv *kv = &ob->via.map.ptr[i];
            if (kv->key.type != MSGPACK_OBJECT_STR)
                return -EINVAL;
            if ((i && out_put(o, ",", 1)) || emit(o, &kv->key, depth + 1) ||
                out_put(o, ":", 1) || emit(o, &kv->val, depth + 1))
                return -EINVAL;
        }
        return out_put(o, "}", 1);
    default: /* BIN, EXT: not part of the protocol */
        return -EINVAL;
    }
}

/*
 * Walk MessagePack bytes without allocating: msgpack-c allocates a container's
 * element array from its declared count before reading the elements, so a
 * 5-byte "array of 4 billion" would make it allocate gigabytes. Every element
 * takes at least one byte, so a count above the bytes left is malformed.
 */
static int mp_scan(const unsigned char *p, size_t len, size_t *pos, int depth)
{
    if (depth > 32 || *pos >= len)
        return -EINVAL;
    unsigned char c = p[(*pos)++];
    uint64_t n = 0, skip = 0;
    int container = 0; /* 1 array, 2 map */
    int lenbytes = 0;  /* big-endian length/count field that follows */
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
        return 0;
    if ((c & 0xf0) == 0x80) {
        n = c & 0x0f;
        container = 2;
    } else if ((c & 0xf0) == 0x90) {
        n = c & 0x0f;
        container = 1;
    } else if ((c & 0xe0) == 0xa0) {
        skip = c & 0x1f;
    } else {
        switch (c) {
        case 0xcc: case 0xd0: skip = 1; break;
        case 0xcd: case 0xd1: case 0xd4: skip = 2; break;
        case 0xd5: skip = 3; break;
        case 0xca: case 0xce: case 0xd2: skip = 4; break;
        case 0xd6: skip = 5; break;
        case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
        case 0xd7: skip = 9; break;
        case 0xd8: skip = 17; break;
        case 0xc4: case 0xd9: lenbytes = 1; break;
        case 0xc5: case 0xda: lenbytes = 2; break;
        case 0xc6: case 0xdb: lenbytes = 4; break;
        case 0xc7: lenbytes = 1; skip = 1; break; /* ext: + type byte */
        case 0xc8: lenbytes = 2; skip = 1; break;
        case 0xc9: lenbytes = 4; skip = 1; break;
        case 0xdc: lenbytes = 2; container = 1; break;
        case 0xdd: lenbytes = 4; container = 1; break;
        case 0xde: lenbytes = 2; container = 2; break;
        case 0xdf: lenbytes = 4; container = 2; break;
        default: return -EINVAL; /* 0xc1: never used */
        }
    }
    if (lenbytes) {
        if (len - *pos < (size_t)lenbytes)
            return -EINVAL;
        uint64_t v = be(p + *pos, lenbytes);
        *pos += (size_t)lenbytes;
        if (container)
            n = v;
        else
            skip += v;
    }
    if (!container) {
        if (skip > len - *pos)
            return -EINVAL;
        *pos += skip;
        return 0;
    }
    if (container == 2)
        n *= 2;
    if (n > len - *pos)
        return -EINVAL;
    for (uint64_t i = 0; i < n; i++)
        if (mp_scan(p, len, pos, depth + 1) != 0)
            return -EINVAL;
    return 0;
}

static uint64_t be(const unsigned char *p, int k)
{
    uint64_t v = 0;
    for (int i = 0; i < k; i++)
        v = v << 8 | p[i];
    return v;
}

int tg_msgpack_to_json(const void *data, size_t len, char **out, size_t *outlen)
{
    *out = NULL;
    size_t pos = 0;
    if (mp_scan(data, len, &pos, 0) != 0 || pos != len)
        return -EINVAL;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    int rc = -EINVAL;
    if (msgpack_unpack_next(&up, data, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len)
        goto done;
    /* JSON is at most ~6x the MessagePack size (escapes of control bytes, digits) */
    const size_t bound = len * 6 + 64;
    out_t o = {0};
    if (!tg_buf_reserve(&o, bound)) {
        rc = -ENOMEM;
        goto done;
    }
    rc = emit(&o, &up.data, 0);
    if (!rc && o.len > bound)
        rc = -ENOSPC;
    if (rc) {
        tg_buf_free(&o);
        goto done;
    }
    *out = o.p;
    *outlen = o.len;
done:
    msgpack_unpacked_destroy(&up);
    return rc;
}
