/* test_encode.c - the dual JSON + MessagePack encoder: exact JSON text,
 * MessagePack checked with msgpack-c's own unpacker (an independent decoder),
 * escaping of hostile strings, numbers at their limits, overflow handling. */
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#include "tg_test.h"
#include "tickgate/encode.h"
#include "tickgate/msg.h"

static char jb[4096];
static unsigned char mb[4096];

static void enc_sample(tg_enc_t *e)
{
    tg_enc_init(e, jb, sizeof jb, mb, sizeof mb);
    tg_enc_map(e, 7);
    tg_enc_kv_str(e, "type", "quote");
    tg_enc_kv_dec(e, "price", 18953000000);     /* 189.53 */
    tg_enc_kv_dec(e, "volume", TG_DEC(1200));   /* 1200 */
    tg_enc_kv_dec(e, "pct", -12000);            /* -0.00012 */
    tg_enc_kv_i64(e, "ts", 1763800000123456789);
    tg_enc_key(e, "list");
    tg_enc_array(e, 3);
    tg_enc_bool(e, true);
    tg_enc_null(e);
    tg_enc_i64(e, INT64_MIN);
    tg_enc_array_end(e);
    tg_enc_kv_u64(e, "seq", UINT64_MAX);
    tg_enc_map_end(e);
}

TG_TEST(json_text_is_exact)
{
    tg_enc_t e;
    enc_sample(&e);
    TG_CHECK_EQ_INT(e.err, 0);
    jb[e.jlen] = 0;
    TG_CHECK_EQ_STR(jb, "{\"type\":\"quote\",\"price\":189.53,\"volume\":1200,\"pct\":-0.00012,"
                        "\"ts\":1763800000123456789,\"list\":[true,null,-9223372036854775808],"
                        "\"seq\":18446744073709551615}");
}

TG_TEST(msgpack_decodes_to_the_same_map)
{
    tg_enc_t e;
    enc_sample(&e);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    TG_CHECK(msgpack_unpack_next(&up, (const char *)mb, e.mlen, &off) == MSGPACK_UNPACK_SUCCESS);
    TG_CHECK_EQ_INT(off, e.mlen);
    msgpack_object o = up.data;
    TG_CHECK(o.type == MSGPACK_OBJECT_MAP && o.via.map.size == 7);
    if (o.type == MSGPACK_OBJECT_MAP && o.via.map.size == 7) {
        msgpack_object_kv *kv = o.via.map.ptr;
        TG_CHECK(kv[0].key.via.str.size == 4 && !memcmp(kv[0].key.via.str.ptr, "type", 4));
        TG_CHECK(kv[0].val.type == MSGPACK_OBJECT_STR && kv[0].val.via.str.size == 5);
        TG_CHECK(kv[1].val.type == MSGPACK_OBJECT_FLOAT64 && kv[1].val.via.f64 == 189.53);
        TG_CHECK(kv[2].val.type == MSGPACK_OBJECT_FLOAT64 && kv[2].val.via.f64 == 1200.0);
        TG_CHECK(kv[3].val.type == MSGPACK_OBJECT_FLOAT64 && kv[3].val.via.f64 == -0.00012);
        TG_CHECK(kv[4].val.type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                 kv[4].val.via.u64 == 1763800000123456789ULL);
        TG_CHECK(kv[5].val.type == MSGPACK_OBJECT_ARRAY && kv[5].val.via.array.size == 3);
        if (kv[5].val.type == MSGPACK_OBJECT_ARRAY && kv[5].val.via.array.size == 3) {
            TG_CHECK(kv[5].val.via.array.ptr[0].type == MSGPACK_OBJECT_BOOLEAN);
            TG_CHECK(kv[5].val.via.array.ptr[1].type == MSGPACK_OBJECT_NIL);
            TG_CHECK(kv[5].val.via.array.ptr[2].via.i64 == INT64_MIN);
        }
        TG_CHECK(kv[6].val.type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                 kv[6].val.via.u64 == UINT64_MAX);
    }
    msgpack_unpacked_destroy(&up);
}

TG_TEST(hostile_strings_are_escaped)
{
    tg_enc_t e;
    tg_enc_init(&e, jb, sizeof jb, mb, sizeof mb);
    tg_enc_map(&e, 1);
    tg_enc_kv_str(&e, "m", "a\"b\\c\n\x01\xe2\x89\xa5"); /* quote, backslash, control, ≥ */
    tg_enc_map_end(&e);
    TG_CHECK_EQ_INT(e.err, 0);
    jb[e.jlen] = 0;
    TG_CHECK_EQ_STR(jb, "{\"m\":\"a\\\"b\\\\c\\n\\u0001\xe2\x89\xa5\"}");
    TG_CHECK(!memchr(jb, '\n', e.jlen)); /* JSON Lines: never a raw newline inside */
}

TG_TEST(overflow_sets_err_and_stops)
{
    char small[16];
    unsigned char smallm[8];
    tg_enc_t e;
    tg_enc_init(&e, small, sizeof small, smallm, sizeof smallm);
    tg_enc_map(&e, 2);
    tg_enc_kv_str(&e, "type", "a long enough value");
    tg_enc_kv_i64(&e, "ts", 1);
    tg_enc_map_end(&e);
    TG_CHECK(e.err < 0);
    TG_CHECK(e.jlen <= sizeof small);
    TG_CHECK(e.mlen <= sizeof smallm);
}

TG_TEST(one_encoding_only)
{
    tg_enc_t e;
    tg_enc_init(&e, NULL, 0, mb, sizeof mb);
    tg_enc_map(&e, 1);
    tg_enc_kv_u64(&e, "seq", 7);
    tg_enc_map_end(&e);
    TG_CHECK_EQ_INT(e.err, 0);
    TG_CHECK_EQ_INT(e.jlen, 0);
    TG_CHECK_EQ_INT(e.mlen, 1 + 4 + 1); /* fixmap, fixstr "seq", fixint 7 */
}

TG_TEST(msg_copies_both_encodings_and_acl)
{
    tg_msg_t *m = tg_msg_new_acl("{}", 2, "\x80", 1, "owner\0alice", 11);
    TG_CHECK(m != NULL);
    if (!m)
        return;
    TG_CHECK_EQ_INT(m->json_len, 2);
    TG_CHECK(!memcmp(m->json, "{}", 2) && m->mp[0] == 0x80);
    TG_CHECK(tg_msg_acl_has(m, "owner") && tg_msg_acl_has(m, "alice"));
    TG_CHECK(!tg_msg_acl_has(m, "alic") && !tg_msg_acl_has(m, ""));
    tg_msg_ref(m);
    tg_msg_unref(m);
    tg_msg_unref(m); /* freed: ASan checks */
}

/* ---- tg_enc_msg_add_u64: the per-user field splice ---- */

/* A message holding a map of n members k0..k(n-1) = i. */
static tg_msg_t *map_msg(uint32_t n)
{
    tg_enc_t e;
    tg_enc_init(&e, jb, sizeof jb, mb, sizeof mb);
    tg_enc_map(&e, n);
    for (uint32_t i = 0; i < n; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%u", i);
        tg_enc_kv_i64(&e, k, i);
    }
    tg_enc_map_end(&e);
    TG_CHECK_EQ_INT(e.err, 0);
    tg_msg_t *m = tg_msg_new_acl(jb, e.jlen, mb, e.mlen, "owner\0u2", 8);
    if (m) {
        m->type = TG_MSG_ALERT;
        m->channel = TG_CH_NOTIFICATIONS;
        m->seq = 77;
        m->ts = 123;
        snprintf(m->key_name, sizeof m->key_name, "p-1");
    }
    return m;
}

/* The spliced message: JSON text, and MessagePack decoded by msgpack-c. */
static void check_added(const tg_msg_t *m, uint32_t n, uint64_t seq)
{
    TG_CHECK(m != NULL);
    if (!m)
        return;
    TG_CHECK_EQ_INT(m->type, TG_MSG_ALERT);
    TG_CHECK_EQ_INT(m->seq, 77);
    TG_CHECK_EQ_INT(m->ts, 123);
    TG_CHECK_EQ_STR(m->key_name, "p-1");
    TG_CHECK(tg_msg_acl_has(m, "u2"));
    char want[1024];
    size_t w = 0;
    w += (size_t)snprintf(want + w, sizeof want - w, "{");
    for (uint32_t i = 0; i < n; i++)
        w += (size_t)snprintf(want + w, sizeof want - w, "\"k%u\":%u,", i, i);
    snprintf(want + w, sizeof want - w, "\"seq\":%llu}", (unsigned long long)seq);
    char got[1024];
    TG_CHECK(m->json_len < sizeof got);
    memcpy(got, m->json, m->json_len);
    got[m->json_len] = 0;
    TG_CHECK_EQ_STR(got, want);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    TG_CHECK(msgpack_unpack_next(&up, (const char *)m->mp, m->mp_len, &off) ==
             MSGPACK_UNPACK_SUCCESS);
    TG_CHECK_EQ_INT(off, m->mp_len);
    msgpack_object o = up.data;
    TG_CHECK(o.type == MSGPACK_OBJECT_MAP && o.via.map.size == n + 1);
    if (o.type == MSGPACK_OBJECT_MAP && o.via.map.size == n + 1) {
        for (uint32_t i = 0; i < n; i++)
            TG_CHECK(o.via.map.ptr[i].val.via.u64 == i);
        msgpack_object_kv *kv = &o.via.map.ptr[n];
        TG_CHECK(kv->key.via.str.size == 3 && !memcmp(kv->key.via.str.ptr, "seq", 3));
        TG_CHECK(kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER && kv->val.via.u64 == seq);
    }
    msgpack_unpacked_destroy(&up);
}

TG_TEST(msg_add_u64_splices_both_encodings)
{
    /* empty map, a few members, the fixmap limit (14 -> 15), past it (15 -> map16), map16 */
    static const uint32_t sizes[] = {0, 3, 14, 15, 40};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        tg_msg_t *m = map_msg(sizes[i]);
        tg_msg_t *u = tg_enc_msg_add_u64(m, "seq", 1000 + i);
        check_added(u, sizes[i], 1000 + i);
        /* the original is untouched: encoded bytes are immutable */
        TG_CHECK(m && m->json[m->json_len - 1] == '}' && (sizes[i] > 15 || (m->mp[0] & 0x0f) == sizes[i]));
        tg_msg_unref(u);
        tg_msg_unref(m);
    }
    tg_msg_t *m = map_msg(2);
    tg_msg_t *u = tg_enc_msg_add_u64(m, "seq", UINT64_MAX);
    check_added(u, 2, UINT64_MAX);
    tg_msg_unref(u);
    tg_msg_unref(m);
}

TG_TEST(msg_add_u64_refuses_non_maps)
{
    TG_CHECK(tg_enc_msg_add_u64(NULL, "seq", 1) == NULL);
    tg_msg_t *a = tg_msg_new("[1]", 3, "\x91\x01", 2);
    TG_CHECK(a && tg_enc_msg_add_u64(a, "seq", 1) == NULL);
    tg_msg_unref(a);
    tg_msg_t *b = tg_msg_new("{}", 2, "\x91\x01", 2); /* JSON object, MessagePack array */
    TG_CHECK(b && tg_enc_msg_add_u64(b, "seq", 1) == NULL);
    tg_msg_unref(b);
    tg_msg_t *c = tg_msg_new("{", 1, "\x80", 1);
    TG_CHECK(c && tg_enc_msg_add_u64(c, "seq", 1) == NULL);
    tg_msg_unref(c);
    char longkey[100];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = 0;
    tg_msg_t *d = tg_msg_new("{}", 2, "\x80", 1);
    TG_CHECK(d && tg_enc_msg_add_u64(d, longkey, 1) == NULL);
    tg_msg_unref(d);
}

int main(void)
{
    return tg_test_run();
}
