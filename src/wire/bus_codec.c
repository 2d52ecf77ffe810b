/* bus_codec.c - one cluster bus entry: a tg_msg_t and its place in the stream.
 *
 * An entry is a MessagePack array of 14 elements in a fixed order:
 *   [version 2, epoch str, entry no, type, channel, key id, aux, seq, ts,
 *    key name str, acl bin, json bin, msgpack bin, reader seqs bin]
 * The reader seqs (alerts) are big-endian uint64, one per ACL reader in ACL
 * order: each reader's notifications seq, numbered by the ingest engine.
 * A fixed array rather than a map: the decoder below reads exactly this shape
 * without a generic unpacker, so a hostile entry can neither make it allocate
 * by a declared count nor hand it an object of another type. Both encodings
 * travel as the engine made them, so gateways send the same bytes.
 * A TG_MSG_EPOCH entry is the publisher's heartbeat: no payload, and `no` is
 * the last entry number it published (0 before the first).
 */
#include <errno.h>
#include <msgpack.h>
#include <string.h>

#include "tickgate/bus.h"

#define BUS_VERSION 2
#define BUS_FIELDS 14

int tg_bus_entry_encode(const tg_msg_t *m, const char *epoch, uint64_t no, msgpack_sbuffer *sb)
{
    if (!m || !epoch || !sb || m->type == TG_MSG_REPLY ||
        (m->type == TG_MSG_EPOCH && (m->json_len || m->mp_len)))
        return -EINVAL;
    size_t elen = strlen(epoch), klen = strnlen(m->key_name, sizeof m->key_name);
    if (!elen || elen > TG_BUS_EPOCH_MAX || klen == sizeof m->key_name)
        return -EINVAL;
    size_t before = sb->size;
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    int rc = 0;
    rc |= msgpack_pack_array(&pk, BUS_FIELDS);
    rc |= msgpack_pack_uint8(&pk, BUS_VERSION);
    rc |= msgpack_pack_str_with_body(&pk, epoch, elen);
    rc |= msgpack_pack_uint64(&pk, no);
    rc |= msgpack_pack_uint8(&pk, m->type);
    rc |= msgpack_pack_uint8(&pk, m->channel);
    rc |= msgpack_pack_uint32(&pk, m->key);
    rc |= msgpack_pack_uint32(&pk, m->aux);
    rc |= msgpack_pack_uint64(&pk, m->seq);
    rc |= msgpack_pack_int64(&pk, m->ts);
    rc |= msgpack_pack_str_with_body(&pk, m->key_name, klen);
    rc |= msgpack_pack_bin_with_body(&pk, m->acl ? m->acl : "", m->acl_len);
    rc |= msgpack_pack_bin_with_body(&pk, m->json, m->json_len);
    rc |= msgpack_pack_bin_with_body(&pk, m->mp, m->mp_len);
    uint8_t rs[8 * TG_MSG_RSEQ_MAX];
    size_t nr = m->rseq ? m->nrseq : 0;
    if (nr > sizeof rs / 8)
        nr = 0; /* more readers than an alert's ACL holds: a bug; send none */
    for (size_t i = 0; i < nr; i++)
        for (int b = 0; b < 8; b++)
            rs[i * 8 + (size_t)b] = (uint8_t)(m->rseq[i] >> (56 - 8 * b));
    rc |= msgpack_pack_bin_with_body(&pk, rs, nr * 8);
    if (rc) {
        sb->size = before;
        return -ENOMEM;
    }
    return 0;
}

/* ---- strict reader ---------------------------------------------------------- */

typedef struct rd {
    const uint8_t *p;
    size_t n, off;
    bool bad;
} rd_t;

static uint64_t rd_be(rd_t *r, size_t w)
{
    if (r->bad || w > r->n - r->off) {
        r->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < w; i++)
        v = v << 8 | r->p[r->off + i];
    r->off += w;
    return v;
}

static uint8_t rd_byte(rd_t *r)
{
    return (uint8_t)rd_be(r, 1);
}

/* Any MessagePack integer; *neg set when it is below zero. */
static uint64_t rd_int(rd_t *r, bool *neg)
{
    *neg = false;
    uint8_t b = rd_byte(r);
    if (r->bad)
        return 0;
    if (b <= 0x7f)
        return b;
    if (b >= 0xe0) {
        *neg = true;
        return (uint64_t)(int64_t)(int8_t)b;
    }
    switch (b) {
    case 0xcc: return rd_be(r, 1);
    case 0xcd: return rd_be(r, 2);
    case 0xce: return rd_be(r, 4);
    case 0xcf: return rd_be(r, 8);
    case 0xd0: { int8_t v = (int8_t)rd_be(r, 1); *neg = v < 0; return (uint64_t)(int64_t)v; }
    case 0xd1: { int16_t v = (int16_t)rd_be(r, 2); *neg = v < 0; return (uint64_t)(int64_t)v; }
    case 0xd2: { int32_t v = (int32_t)rd_be(r, 4); *neg = v < 0; return (uint64_t)(int64_t)v; }
    case 0xd3: { int64_t v = (int64_t)rd_be(r, 8); *neg = v < 0; return (uint64_t)v; }
    default: r->bad = true; return 0;
    }
}

static uint64_t rd_uint(rd_t *r, uint64_t max)
{
    bool neg;
    uint64_t v = rd_int(r, &neg);
    if (neg || v > max)
        r->bad = true;
    return r->bad ? 0 : v;
}

/* A str (want_bin false) or bin body: pointer into the input, length <= max. */
static const uint8_t *rd_blob(rd_t *r, bool want_bin, size_t max, size_t *len)
{
    uint8_t b = rd_byte(r);
    uint64_t n = 0;
    *len = 0;
    if (r->bad)
        return NULL;
    if (!want_bin && (b & 0xe0) == 0xa0)
        n = b & 0x1f;
    else if (b == (want_bin ? 0xc4 : 0xd9))
        n = rd_be(r, 1);
    else if (b == (want_bin ? 0xc5 : 0xda))
        n = rd_be(r, 2);
    else if (b == (want_bin ? 0xc6 : 0xdb))
        n = rd_be(r, 4);
    else
        r->bad = true;
    if (r->bad || n > max || n > r->n - r->off) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *s = r->p + r->off;
    r->off += (size_t)n;
    *len = (size_t)n;
    return s;
}

/* A message's MessagePack encoding is one map (fixmap, map16 or map32). */
static bool is_map(const uint8_t *p, size_t n)
{
    return n && ((p[0] & 0xf0) == 0x80 || p[0] == 0xde || p[0] == 0xdf);
}

int tg_bus_entry_decode(const void *data, size_t len, tg_bus_entry_t *out)
{
    if (!data || !out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    if (len > TG_BUS_ENTRY_MAX)
        return -EINVAL;
    rd_t r = {.p = data, .n = len};
    if (rd_byte(&r) != (0x90 | BUS_FIELDS) || rd_uint(&r, 255) != BUS_VERSION)
        return -EINVAL;
    size_t elen, klen, alen, jlen, mlen;
    const uint8_t *ep = rd_blob(&r, false, TG_BUS_EPOCH_MAX, &elen);
    uint64_t no = rd_uint(&r, UINT64_MAX);
    uint64_t type = rd_uint(&r, 31); /* types added later (bars, …) pass through */
    uint64_t channel = rd_uint(&r, TG_CH_COUNT - 1);
    uint64_t key = rd_uint(&r, UINT32_MAX);
    uint64_t aux = rd_uint(&r, UINT32_MAX);
    uint64_t seq = rd_uint(&r, UINT64_MAX);
    bool neg;
    int64_t ts = (int64_t)rd_int(&r, &neg);
    const uint8_t *kp = rd_blob(&r, false, TG_BUS_KEY_MAX, &klen);
    const uint8_t *ap = rd_blob(&r, true, TG_BUS_ENTRY_MAX, &alen);
    const uint8_t *jp = rd_blob(&r, true, TG_BUS_ENTRY_MAX, &jlen);
    const uint8_t *mp = rd_blob(&r, true, TG_BUS_ENTRY_MAX, &mlen);
    size_t rlen;
    const uint8_t *rp = rd_blob(&r, true, 8 * TG_MSG_RSEQ_MAX, &rlen);
    if (r.bad || r.off != len || !elen || ts < 0 || type == TG_MSG_REPLY)
        return -EINVAL;
    if (!no && type != TG_MSG_EPOCH)
        return -EINVAL; /* entry numbers start at 1; a heartbeat may say 0 */
    /* names are C strings for the gateway; JSON Lines framing forbids newlines */
    if (memchr(ep, 0, elen) || (klen && memchr(kp, 0, klen)) || (jlen && memchr(jp, '\n', jlen)))
        return -EINVAL;
    for (size_t i = 0; i < elen; i++)
        if (ep[i] <= ' ' || ep[i] >= 0x7f || ep[i] == '"' || ep[i] == '\\')
            return -EINVAL;
    if (type == TG_MSG_EPOCH) {
        if (jlen || mlen || alen)
            return -EINVAL; /* a heartbeat carries nothing */
    } else if (type != TG_MSG_PORTFOLIO_REMOVED) {
        /* a message clients see: one JSON object and one MessagePack map */
        if (jlen < 2 || jp[0] != '{' || jp[jlen - 1] != '}' || !is_map(mp, mlen) || !klen)
            return -EINVAL;
    } else if (!klen) {
        return -EINVAL;
    }
    if (alen && ap[alen - 1] != 0)
        return -EINVAL; /* the reader list is NUL-terminated ids (msg.h) */
    size_t nacl = 0;
    for (size_t i = 0; i < alen; i++)
        nacl += ap[i] == 0;
    if (rlen % 8 || rlen / 8 > nacl)
        return -EINVAL; /* at most one seq per reader */
    uint64_t rseq[TG_MSG_RSEQ_MAX];
    for (size_t i = 0; i < rlen / 8; i++) {
        rseq[i] = 0;
        for (size_t b = 0; b < 8; b++)
            rseq[i] = rseq[i] << 8 | rp[i * 8 + b];
    }
    tg_msg_t *m = tg_msg_new_acl_seq(jp, jlen, mp, mlen, (const char *)ap, alen, rseq, rlen / 8);
    if (!m)
        return -ENOMEM;
    m->type = (uint8_t)type;
    m->channel = (uint8_t)channel;
    m->key = (uint32_t)key;
    m->aux = (uint32_t)aux;
    m->seq = seq;
    m->ts = ts;
    memcpy(m->key_name, kp, klen);
    m->key_name[klen] = 0;
    memcpy(out->epoch, ep, elen);
    out->epoch[elen] = 0;
    out->no = no;
    out->msg = m;
    return 0;
}
