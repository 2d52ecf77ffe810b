/* test_encode.c - the dual JSON + MessagePack encoder: exact JSON text,
 * MessagePack checked with msgpack-c's own unpacker (an independent decoder),
 * escaping of hostile strings, numbers at their limits, overflow handling. */
#include <msgpack.h>
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

int main(void)
{
    return tg_test_run();
}
