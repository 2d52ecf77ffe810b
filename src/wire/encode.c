/* encode.c - dual JSON + MessagePack writer (see encode.h). */
#include "tickgate/encode.h"

#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickgate/json.h"
#include "tickgate/msg.h"

void tg_enc_init(tg_enc_t *e, char *json, size_t jcap, unsigned char *mp, size_t mcap)
{
    memset(e, 0, sizeof *e);
    e->json = json;
    e->jcap = jcap;
    e->mp = mp;
    e->mcap = mcap;
    e->want_json = json != NULL;
    e->want_mp = mp != NULL;
    e->first[0] = 1;
}

static void jput(tg_enc_t *e, const char *s, size_t n)
{
    if (!e->want_json || e->err)
        return;
    if (n > e->jcap - e->jlen) {
        e->err = -ENOSPC;
        return;
    }
    memcpy(e->json + e->jlen, s, n);
    e->jlen += n;
}

static void mput(tg_enc_t *e, const void *s, size_t n)
{
    if (!e->want_mp || e->err)
        return;
    if (n > e->mcap - e->mlen) {
        e->err = -ENOSPC;
        return;
    }
    memcpy(e->mp + e->mlen, s, n);
    e->mlen += n;
}

/* msgpack-c packer writing into our fixed buffer: the library's own inline
 * packing code, with no allocation per message. */
static int mp_write(void *data, const char *buf, size_t len)
{
    mput(data, buf, len);
    return 0;
}

#define PACKER(e)                                                                                  \
    msgpack_packer pk;                                                                             \
    msgpack_packer_init(&pk, (e), mp_write)

/* A value (or key) at the current level: JSON needs a comma before all but the first. */
static void jsep(tg_enc_t *e)
{
    if (!e->want_json)
        return;
    if (e->first[e->depth])
        e->first[e->depth] = 0;
    else
        jput(e, ",", 1);
}

static void open_level(tg_enc_t *e, const char *c)
{
    jput(e, c, 1);
    if (e->depth + 1 >= (int)sizeof e->first) {
        e->err = -E2BIG;
        return;
    }
    e->depth++;
    e->first[e->depth] = 1;
}

/* A value right after a key must not get a comma: keys set this flag. */
static int after_key(tg_enc_t *e)
{
    return e->first[e->depth] == 2;
}

static void value_prefix(tg_enc_t *e)
{
    if (after_key(e))
        e->first[e->depth] = 0;
    else
        jsep(e);
}

void tg_enc_map(tg_enc_t *e, uint32_t n)
{
    value_prefix(e);
    open_level(e, "{");
    if (e->want_mp && !e->err) {
        PACKER(e);
        msgpack_pack_map(&pk, n);
    }
}

void tg_enc_map_end(tg_enc_t *e)
{
    jput(e, "}", 1);
    if (e->depth)
        e->depth--;
}

void tg_enc_array(tg_enc_t *e, uint32_t n)
{
    value_prefix(e);
    open_level(e, "[");
    if (e->want_mp && !e->err) {
        PACKER(e);
        msgpack_pack_array(&pk, n);
    }
}

void tg_enc_array_end(tg_enc_t *e)
{
    jput(e, "]", 1);
    if (e->depth)
        e->depth--;
}

static void jstr(tg_enc_t *e, const char *s, size_t len)
{
    if (!e->want_json || e->err)
        return;
    /* fast path, the common case on the tick path (keys, symbols, feed
     * names): plain printable ASCII needs no escaping */
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
            break;
        i++;
    }
    if (i == len) {
        if (len + 2 > e->jcap - e->jlen) {
            e->err = -ENOSPC;
            return;
        }
        char *o = e->json + e->jlen;
        o[0] = '"';
        memcpy(o + 1, s, len);
        o[len + 1] = '"';
        e->jlen += len + 2;
        return;
    }
    jput(e, "\"", 1);
    int n = tg_json_escape(s, len, e->json + e->jlen, e->jcap - e->jlen);
    if (n < 0) {
        e->err = -ENOSPC;
        return;
    }
    e->jlen += (size_t)n;
    jput(e, "\"", 1);
}

void tg_enc_key(tg_enc_t *e, const char *k)
{
    jsep(e);
    size_t len = strlen(k);
    jstr(e, k, len);
    jput(e, ":", 1);
    e->first[e->depth] = 2;
    if (e->want_mp && !e->err) {
        PACKER(e);
        msgpack_pack_str(&pk, len);
        msgpack_pack_str_body(&pk, k, len);
    }
}

void tg_enc_str(tg_enc_t *e, const char *s, size_t len)
{
    value_prefix(e);
    jstr(e, s, len);
    if (e->want_mp && !e->err) {
        PACKER(e);
        msgpack_pack_str(&pk, len);
        msgpack_pack_str_body(&pk, s, len);
    }
}

void tg_enc_cstr(tg_enc_t *e, const char *s)
{
    tg_enc_str(e, s, strlen(s));
}

void tg_enc_dec(tg_enc_t *e, tg_dec_t v)
{
    value_prefix(e);
    if (e->want_json) {
        char buf[TG_DEC_STRLEN + 1];
        size_t n = tg_dec_format(v, buf);
        jput(e, buf, n);
    }
    if (e->want_mp && !e->err) {
        PACKER(e);
        msgpack_pack_double(&pk, tg_dec_to_double(v));
    }
}

static void jput_u64(tg_enc_t *e, uint64_t x)
{
    /* hand-rolled: this runs for every ts/seq on the tick path */
    char tmp[24];
    int n = sizeof tmp;
    do {
        tmp[--n] = (char)('0' + x % 10);
        x /= 10;
    } while (x);
    jput(e, tmp + n, sizeof tmp - (size_t)n);
}

void tg_enc_i64(tg_enc_t *e, int64_t v)
{
    value_prefix(e);
    if (e->want_json) {
        if (v < 0) {
            jput(e, "-", 1);
            jput_u64(e, v == INT64_MIN ? (uint64_t)INT64_MAX + 1 : (uint64_t)-v);
        } else {
            jput_u64(e, (uint64_t)v);
        }
    }
    if (e->want_mp && !e->err) {
        PACKER(e);
        if (v >= 0)
            msgpack_pack_uint64(&pk, (uint64_t)v);
        else
            msgpack_pack_int64(&pk, v);
    }
}

void tg_enc_u64(tg_enc_t *e, uint64_t v)
{
    value_prefix(e);
    if (e->want_json)
        jput_u64(e, v);
    if (e->want_mp && !e->err) {
        PACKER(e);
        msgpack_pack_uint64(&pk, v);
    }
}

void tg_enc_bool(tg_enc_t *e, bool v)
{
    value_prefix(e);
    jput(e, v ? "true" : "false", v ? 4 : 5);
    if (e->want_mp && !e->err) {
        PACKER(e);
        if (v)
            msgpack_pack_true(&pk);
        else
            msgpack_pack_false(&pk);
    }
}

void tg_enc_null(tg_enc_t *e)
{
    value_prefix(e);
    jput(e, "null", 4);
    if (e->want_mp && !e->err) {
        PACKER(e);
        msgpack_pack_nil(&pk);
    }
}

tg_msg_t *tg_enc_msg_add_u64(const tg_msg_t *m, const char *key, uint64_t v)
{
    if (!m || !key || m->json_len < 2 || m->json[0] != '{' || m->json[m->json_len - 1] != '}' ||
        m->mp_len < 1)
        return NULL;
    size_t klen = strlen(key);
    if (klen > 64)
        return NULL;
    const unsigned char *mp = m->mp;
    uint32_t n;
    size_t hlen;
    if ((mp[0] & 0xf0) == 0x80) {
        n = mp[0] & 0x0f;
        hlen = 1;
    } else if (mp[0] == 0xde && m->mp_len >= 3) {
        n = (uint32_t)mp[1] << 8 | mp[2];
        hlen = 3;
    } else {
        return NULL; /* map32: no message is that wide */
    }
    if (n >= 0xffff)
        return NULL;
    /* the tail: [,]"key":v  and  key v  (+ 16 bytes of slack for the numbers) */
    size_t jcap = m->json_len + 6 * klen + 40, mcap = m->mp_len + klen + 32;
    char *json = malloc(jcap);
    unsigned char *out = malloc(mcap);
    tg_msg_t *um = NULL;
    if (!json || !out)
        goto done;
    memcpy(json, m->json, m->json_len - 1); /* without the closing brace */
    size_t ho = 0;
    if (n + 1 <= 15) {
        out[ho++] = (unsigned char)(0x80 | (n + 1));
    } else {
        out[ho++] = 0xde;
        out[ho++] = (unsigned char)((n + 1) >> 8);
        out[ho++] = (unsigned char)(n + 1);
    }
    memcpy(out + ho, mp + hlen, m->mp_len - hlen);
    size_t mlen = ho + m->mp_len - hlen;
    tg_enc_t e;
    tg_enc_init(&e, json + m->json_len - 1, jcap - (m->json_len - 1), out + mlen, mcap - mlen);
    e.first[0] = n ? 0 : 1; /* a comma unless the object was empty */
    tg_enc_kv_u64(&e, key, v);
    if (e.err)
        goto done;
    size_t jlen = m->json_len - 1 + e.jlen;
    if (jlen + 1 > jcap)
        goto done;
    json[jlen++] = '}';
    um = tg_msg_new_acl(json, jlen, out, mlen + e.mlen, m->acl, m->acl_len);
    if (um) {
        um->type = m->type;
        um->channel = m->channel;
        um->key = m->key;
        um->aux = m->aux;
        um->seq = m->seq;
        um->ts = m->ts;
        memcpy(um->key_name, m->key_name, sizeof um->key_name);
    }
done:
    free(json);
    free(out);
    return um;
}
