/* test_bench_scan.c - tickgate-bench's key scanning of JSON and MessagePack
 * messages (type, channel key, ts, seq) against the shapes of SPEC §5. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem in scan.c; CMake defines it tree-wide */
#endif
#include "tg_test.h"

#include "../../../bench/tickgate-bench/scan.c"

#include <msgpack.h>

#define S(lit) lit, sizeof(lit) - 1

TG_TEST(json_quote_from_spec)
{
    tg_bench_msg_t m;
    const char q[] = "{\"type\":\"quote\",\"symbol\":\"AAPL\",\"price\":189.53,\"bid\":189.52,"
                     "\"source\":\"primary\",\"ts\":1763800000123000000,"
                     "\"src_ts\":1763800000121000000,\"seq\":88121}";
    TG_CHECK_EQ_INT(tg_bench_scan_json(S(q), &m), 0);
    TG_CHECK(TG_MSG_IS(&m, "quote"));
    TG_CHECK(m.key && m.key_len == 4 && memcmp(m.key, "AAPL", 4) == 0);
    TG_CHECK(m.has_ts && m.ts == 1763800000123000000LL);
    TG_CHECK(m.has_seq && m.seq == 88121);
}

TG_TEST(json_keys_in_another_order_and_src_ts_first)
{
    tg_bench_msg_t m;
    const char q[] = "{\"seq\":7, \"src_ts\":5, \"ts\": 42,\"symbol\":\"X\",\"type\":\"quote\"}";
    TG_CHECK_EQ_INT(tg_bench_scan_json(S(q), &m), 0);
    TG_CHECK(TG_MSG_IS(&m, "quote"));
    TG_CHECK(m.has_ts && m.ts == 42);
    TG_CHECK(m.has_seq && m.seq == 7);
}

TG_TEST(json_other_types)
{
    tg_bench_msg_t m;
    const char est[] = "{\"type\":\"connection_established\",\"client_id\":\"c-1\","
                       "\"server_time\":1763800000123456789}";
    TG_CHECK_EQ_INT(tg_bench_scan_json(S(est), &m), 0);
    TG_CHECK(TG_MSG_IS(&m, "connection_established"));
    TG_CHECK(!m.has_ts && !m.has_seq && !m.key);
    const char pf[] = "{\"type\":\"portfolio\",\"portfolio_id\":\"p-1\",\"holdings\":[{\"symbol\":"
                      "\"AAPL\"}],\"ts\":9,\"seq\":412}";
    TG_CHECK_EQ_INT(tg_bench_scan_json(S(pf), &m), 0);
    TG_CHECK(m.key && m.key_len == 3 && memcmp(m.key, "p-1", 3) == 0);
    TG_CHECK(m.seq == 412 && m.ts == 9);
    const char al[] = "{\"type\":\"alert\",\"portfolio_id\":\"p-1\",\"ts\":1,\"seq\":33}";
    TG_CHECK_EQ_INT(tg_bench_scan_json(S(al), &m), 0);
    TG_CHECK(m.key && m.key_len == 13 && memcmp(m.key, "notifications", 13) == 0);
    const char bad[] = "{\"symbol\":\"AAPL\"}";
    TG_CHECK_EQ_INT(tg_bench_scan_json(S(bad), &m), -EINVAL);
}

/* Quotes: ts and seq read backwards from the closing brace; anything not of
 * that flat shape falls back to the forward scan with the same answers. */
TG_TEST(json_quote_tail_and_fallback)
{
    tg_bench_msg_t m;
    const char peer[] = "{\"type\":\"quote\",\"symbol\":\"S042\",\"price\":101.25,"
                        "\"size\":100,\"ts\":1763800000123000000,\"seq\":7}";
    tg_bench_msg_t f = {0};
    TG_CHECK(quote_tail(peer, peer + sizeof peer - 1, &f));
    TG_CHECK(f.ts == 1763800000123000000LL && f.seq == 7);
    TG_CHECK_EQ_INT(tg_bench_scan_json(S(peer), &m), 0);
    TG_CHECK(m.key && m.key_len == 4 && memcmp(m.key, "S042", 4) == 0);
    TG_CHECK(m.has_ts && m.ts == 1763800000123000000LL && m.has_seq && m.seq == 7);
    /* trailing blanks are fine */
    const char sp[] = "{\"type\":\"quote\",\"symbol\":\"A\",\"ts\":5,\"seq\":6} \r\n";
    f = (tg_bench_msg_t){0};
    TG_CHECK(quote_tail(sp, sp + sizeof sp - 1, &f) && f.ts == 5 && f.seq == 6);
    /* nested value in the tail: not this shape; the forward scan answers */
    const char nest[] = "{\"type\":\"quote\",\"symbol\":\"A\",\"ts\":5,\"x\":[1],\"seq\":6}";
    f = (tg_bench_msg_t){0};
    TG_CHECK(!quote_tail(nest, nest + sizeof nest - 1, &f));
    TG_CHECK_EQ_INT(tg_bench_scan_json(S(nest), &m), 0);
    TG_CHECK(m.has_ts && m.ts == 5 && m.has_seq && m.seq == 6);
    /* truncated: no closing brace */
    const char cut[] = "{\"type\":\"quote\",\"symbol\":\"AB\",\"ts\":5,\"seq\":6";
    f = (tg_bench_msg_t){0};
    TG_CHECK(!quote_tail(cut, cut + sizeof cut - 1, &f));
    TG_CHECK_EQ_INT(tg_bench_scan_json(S(cut), &m), 0);
    TG_CHECK(m.has_ts && m.ts == 5 && m.has_seq && m.seq == 6);
    /* seq missing from the tail: falls back, no seq */
    const char noseq[] = "{\"type\":\"quote\",\"symbol\":\"AB\",\"ts\":5}";
    TG_CHECK_EQ_INT(tg_bench_scan_json(S(noseq), &m), 0);
    TG_CHECK(m.has_ts && m.ts == 5 && !m.has_seq);
    /* a non-numeric seq is not a seq */
    const char badseq[] = "{\"type\":\"quote\",\"symbol\":\"AB\",\"ts\":5,\"seq\":x}";
    TG_CHECK_EQ_INT(tg_bench_scan_json(S(badseq), &m), 0);
    TG_CHECK(!m.has_seq);
    const char tiny[] = "}";
    f = (tg_bench_msg_t){0};
    TG_CHECK(!quote_tail(tiny, tiny + 1, &f));
}

static size_t pack_quote(msgpack_sbuffer *sb, const char *sym, uint64_t ts, uint64_t seq)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    size_t before = sb->size;
    msgpack_pack_map(&pk, 6);
    msgpack_pack_str_with_body(&pk, "type", 4);
    msgpack_pack_str_with_body(&pk, "quote", 5);
    msgpack_pack_str_with_body(&pk, "symbol", 6);
    msgpack_pack_str_with_body(&pk, sym, strlen(sym));
    msgpack_pack_str_with_body(&pk, "price", 5);
    msgpack_pack_double(&pk, 189.53);
    msgpack_pack_str_with_body(&pk, "extra", 5); /* nested values must be skipped whole */
    msgpack_pack_array(&pk, 2);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "ts", 2);
    msgpack_pack_int64(&pk, -1);
    msgpack_pack_bin_with_body(&pk, "\x01\x02", 2);
    msgpack_pack_str_with_body(&pk, "ts", 2);
    msgpack_pack_uint64(&pk, ts);
    msgpack_pack_str_with_body(&pk, "seq", 3);
    msgpack_pack_uint64(&pk, seq);
    return sb->size - before;
}

TG_TEST(msgpack_concatenated_maps)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    size_t a = pack_quote(&sb, "AAPL", 1763800000123000000ull, 88121);
    size_t b = pack_quote(&sb, "MSFT", 5, 3);
    tg_bench_msg_t m;
    long used = tg_bench_scan_msgpack((const uint8_t *)sb.data, sb.size, &m);
    TG_CHECK_EQ_INT(used, a);
    TG_CHECK(TG_MSG_IS(&m, "quote"));
    TG_CHECK(m.key && m.key_len == 4 && memcmp(m.key, "AAPL", 4) == 0);
    TG_CHECK(m.has_ts && m.ts == 1763800000123000000LL);
    TG_CHECK(m.has_seq && m.seq == 88121);
    used = tg_bench_scan_msgpack((const uint8_t *)sb.data + a, sb.size - a, &m);
    TG_CHECK_EQ_INT(used, b);
    TG_CHECK(m.key && memcmp(m.key, "MSFT", 4) == 0 && m.ts == 5 && m.seq == 3);
    /* truncated map, not a map */
    TG_CHECK_EQ_INT(tg_bench_scan_msgpack((const uint8_t *)sb.data, a - 1, &m), -EINVAL);
    TG_CHECK_EQ_INT(tg_bench_scan_msgpack((const uint8_t *)"\x93\x01\x02\x03", 4, &m), -EINVAL);
    /* a hostile count cannot make us loop past the data */
    TG_CHECK_EQ_INT(tg_bench_scan_msgpack((const uint8_t *)"\xdf\xff\xff\xff\xff", 5, &m),
                    -EINVAL);
    msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
    return tg_test_run();
}
