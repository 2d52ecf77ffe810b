/* test_protocol.c - the client-message parser (protocol.c, SPEC §5 "Client -> server"):
 * every message type, ids, since maps, MessagePack input, every error path. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tickgate/protocol.h"
#include "tg_test.h"

static int P(const char *s, tg_cmsg_t *m, tg_proto_err_t *e)
{
    return tg_proto_parse(s, strlen(s), false, m, e);
}

/* expect an error with the given code; returns the id kind that was read */
static void expect_err(const char *json, const char *code)
{
    tg_cmsg_t m;
    tg_proto_err_t e;
    int rc = P(json, &m, &e);
    TG_CHECK_EQ_INT(rc, -EINVAL);
    TG_CHECK_EQ_STR(e.code, code);
    TG_CHECK(e.message[0] != 0);
    if (rc == 0)
        tg_cmsg_free(&m);
    if (rc != -EINVAL || !e.code || strcmp(e.code, code))
        fprintf(stderr, "  input: %s\n", json);
}

TG_TEST(auth)
{
    tg_cmsg_t m;
    tg_proto_err_t e;
    TG_CHECK_EQ_INT(P("{\"type\":\"auth\",\"token\":\"a.b.c\"}", &m, &e), 0);
    TG_CHECK_EQ_INT(m.type, TG_CMSG_AUTH);
    TG_CHECK_EQ_STR(m.token, "a.b.c");
    TG_CHECK_EQ_INT(m.id.kind, TG_ID_NONE);
    tg_cmsg_free(&m);
    expect_err("{\"type\":\"auth\"}", "bad_request");
    expect_err("{\"type\":\"auth\",\"token\":\"\"}", "bad_request");
    expect_err("{\"type\":\"auth\",\"token\":5}", "bad_request");
}

TG_TEST(auth_token_with_nul_is_refused)
{
    /* found by fuzz_protocol: "\u0000" inside the token is accepted and the server
     * then authenticates strlen(token) bytes, i.e. a prefix (or nothing) */
    expect_err("{\"type\":\"auth\",\"token\":\"a.b.c\\u0000junk\"}", "bad_request");
}

TG_TEST(subscribe_market_data)
{
    tg_cmsg_t m;
    tg_proto_err_t e;
    TG_CHECK_EQ_INT(P("{\"type\":\"subscribe\",\"channel\":\"market_data\",\"symbols\":[\"AAPL\",\"MSFT\"],\"id\":1}", &m, &e), 0);
    TG_CHECK_EQ_INT(m.type, TG_CMSG_SUBSCRIBE);
    TG_CHECK_EQ_INT(m.channel, TG_CH_MARKET_DATA);
    TG_CHECK_EQ_INT(m.nkeys, 2);
    TG_CHECK_EQ_STR(m.keys[0], "AAPL");
    TG_CHECK_EQ_STR(m.keys[1], "MSFT");
    TG_CHECK_EQ_INT(m.id.kind, TG_ID_INT);
    TG_CHECK_EQ_INT(m.id.i, 1);
    TG_CHECK(!m.has_since);
    tg_cmsg_free(&m);
}

TG_TEST(subscribe_other_channels)
{
    tg_cmsg_t m;
    tg_proto_err_t e;
    TG_CHECK_EQ_INT(P("{\"type\":\"subscribe\",\"channel\":\"portfolio_updates\",\"portfolio_ids\":[\"p-1\"],\"id\":\"two\"}", &m, &e), 0);
    TG_CHECK_EQ_INT(m.channel, TG_CH_PORTFOLIO);
    TG_CHECK_EQ_INT(m.nkeys, 1);
    TG_CHECK_EQ_STR(m.keys[0], "p-1");
    TG_CHECK_EQ_INT(m.id.kind, TG_ID_STR);
    TG_CHECK_EQ_STR(m.id.s, "two");
    tg_cmsg_free(&m);
    TG_CHECK_EQ_INT(P("{\"type\":\"subscribe\",\"channel\":\"notifications\",\"id\":3}", &m, &e), 0);
    TG_CHECK_EQ_INT(m.channel, TG_CH_NOTIFICATIONS);
    TG_CHECK_EQ_INT(m.nkeys, 0);
    tg_cmsg_free(&m);
    TG_CHECK_EQ_INT(P("{\"type\":\"subscribe\",\"channel\":\"system\"}", &m, &e), 0);
    TG_CHECK_EQ_INT(m.channel, TG_CH_SYSTEM);
    tg_cmsg_free(&m);
}

TG_TEST(since_and_epoch)
{
    tg_cmsg_t m;
    tg_proto_err_t e;
    TG_CHECK_EQ_INT(P("{\"type\":\"subscribe\",\"channel\":\"market_data\",\"symbols\":[\"AAPL\",\"MSFT\"],"
                      "\"epoch\":\"e-5f3a\",\"since\":{\"AAPL\":1234,\"MSFT\":99}}", &m, &e), 0);
    TG_CHECK(m.has_since);
    TG_CHECK_EQ_STR(m.epoch, "e-5f3a");
    TG_CHECK_EQ_INT(m.nsince, 2);
    TG_CHECK_EQ_STR(m.since[0].key, "AAPL");
    TG_CHECK_EQ_INT(m.since[0].seq, 1234);
    TG_CHECK_EQ_STR(m.since[1].key, "MSFT");
    TG_CHECK_EQ_INT(m.since[1].seq, 99);
    tg_cmsg_free(&m);
    TG_CHECK_EQ_INT(P("{\"type\":\"subscribe\",\"channel\":\"notifications\",\"since\":{\"notifications\":0}}", &m, &e), 0);
    TG_CHECK(m.has_since);
    TG_CHECK_EQ_INT(m.nsince, 1);
    TG_CHECK_EQ_INT(m.since[0].seq, 0);
    tg_cmsg_free(&m);
    expect_err("{\"type\":\"subscribe\",\"channel\":\"market_data\",\"symbols\":[\"A\"],\"since\":[1]}", "bad_request");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"market_data\",\"symbols\":[\"A\"],\"since\":{\"A\":-1}}", "bad_request");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"market_data\",\"symbols\":[\"A\"],\"since\":{\"A\":\"1\"}}", "bad_request");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"market_data\",\"symbols\":[\"A\"],\"since\":{\"A\":1.5}}", "bad_request");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"market_data\",\"symbols\":[\"A\"],\"since\":{\"\":1}}", "bad_request");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"market_data\",\"symbols\":[\"A\"],\"epoch\":5,\"since\":{\"A\":1}}", "bad_request");
}

TG_TEST(unsubscribe_snapshot_ping)
{
    tg_cmsg_t m;
    tg_proto_err_t e;
    TG_CHECK_EQ_INT(P("{\"type\":\"unsubscribe\",\"channel\":\"market_data\",\"symbols\":[\"MSFT\"],\"id\":5}", &m, &e), 0);
    TG_CHECK_EQ_INT(m.type, TG_CMSG_UNSUBSCRIBE);
    TG_CHECK_EQ_INT(m.nkeys, 1);
    tg_cmsg_free(&m);
    TG_CHECK_EQ_INT(P("{\"type\":\"snapshot\",\"channel\":\"market_data\",\"symbols\":[\"AAPL\"],\"id\":6}", &m, &e), 0);
    TG_CHECK_EQ_INT(m.type, TG_CMSG_SNAPSHOT);
    TG_CHECK_EQ_INT(m.id.i, 6);
    tg_cmsg_free(&m);
    TG_CHECK_EQ_INT(P("{\"type\":\"ping\",\"id\":7}", &m, &e), 0);
    TG_CHECK_EQ_INT(m.type, TG_CMSG_PING);
    TG_CHECK_EQ_INT(m.id.i, 7);
    tg_cmsg_free(&m);
    TG_CHECK_EQ_INT(P("{\"type\":\"ping\",\"id\":-9223372036854775808}", &m, &e), 0);
    TG_CHECK(m.id.i == INT64_MIN);
    tg_cmsg_free(&m);
    /* unknown members are ignored */
    TG_CHECK_EQ_INT(P("{\"type\":\"ping\",\"extra\":{\"a\":[1,2]}}", &m, &e), 0);
    tg_cmsg_free(&m);
}

TG_TEST(ids)
{
    tg_cmsg_t m;
    tg_proto_err_t e;
    char id64[100];
    snprintf(id64, sizeof id64, "{\"type\":\"ping\",\"id\":\"%064d\"}", 0);
    TG_CHECK_EQ_INT(P(id64, &m, &e), 0);
    TG_CHECK_EQ_INT(strlen(m.id.s), 64);
    tg_cmsg_free(&m);
    snprintf(id64, sizeof id64, "{\"type\":\"ping\",\"id\":\"%065d\"}", 0);
    expect_err(id64, "bad_request");
    expect_err("{\"type\":\"ping\",\"id\":1.5}", "bad_request");
    expect_err("{\"type\":\"ping\",\"id\":[1]}", "bad_request");
    expect_err("{\"type\":\"ping\",\"id\":null}", "bad_request");
    expect_err("{\"type\":\"ping\",\"id\":99999999999999999999}", "bad_request");
    /* the id is still reported when a later field is wrong, so errors can echo it */
    TG_CHECK_EQ_INT(P("{\"type\":\"subscribe\",\"channel\":\"market_data\",\"symbols\":5,\"id\":44}", &m, &e), -EINVAL);
    TG_CHECK_EQ_INT(m.id.kind, TG_ID_INT);
    TG_CHECK_EQ_INT(m.id.i, 44);
    TG_CHECK(m.keys == NULL && m.since == NULL && m.token == NULL);
}

TG_TEST(error_paths)
{
    expect_err("", "bad_request");
    expect_err("{", "bad_request");
    expect_err("[]", "bad_request");
    expect_err("null", "bad_request");
    expect_err("\"ping\"", "bad_request");
    expect_err("{\"type\":1}", "bad_request");
    expect_err("{}", "bad_request");
    expect_err("{\"type\":\"dance\"}", "bad_request");
    expect_err("{\"type\":\"subscribe\"}", "bad_request");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"weather\"}", "unknown_channel");
    expect_err("{\"type\":\"subscribe\",\"channel\":5}", "unknown_channel");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"market_data\"}", "bad_request");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"portfolio_updates\",\"symbols\":[\"x\"]}", "bad_request");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"market_data\",\"symbols\":[]}", "bad_request");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"market_data\",\"symbols\":[1]}", "bad_request");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"market_data\",\"symbols\":[\"\"]}", "bad_request");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"market_data\",\"symbols\":[\"a\\u0000b\"]}", "bad_request");
    char big[200];
    snprintf(big, sizeof big, "{\"type\":\"subscribe\",\"channel\":\"market_data\",\"symbols\":[\"%064d\"]}", 0);
    expect_err(big, "bad_request");
    expect_err("{\"type\":\"ping\"} trailing", "bad_request");
}

TG_TEST(hostile_sizes)
{
    /* 10001 keys: over TG_PROTO_MAX_KEYS */
    size_t cap = 64 + 10001 * 4;
    char *s = malloc(cap);
    size_t o = (size_t)snprintf(s, cap, "{\"type\":\"subscribe\",\"channel\":\"market_data\",\"symbols\":[");
    for (int i = 0; i < 10001; i++)
        o += (size_t)snprintf(s + o, cap - o, "%s\"A\"", i ? "," : "");
    o += (size_t)snprintf(s + o, cap - o, "]}");
    tg_cmsg_t m;
    tg_proto_err_t e;
    TG_CHECK_EQ_INT(tg_proto_parse(s, o, false, &m, &e), -EINVAL);
    TG_CHECK_EQ_STR(e.code, "bad_request");
    free(s);
    /* 10k-deep nesting */
    cap = 20000 + 64;
    s = malloc(cap);
    o = (size_t)snprintf(s, cap, "{\"type\":\"ping\",\"x\":");
    for (int i = 0; i < 10000; i++)
        s[o++] = '[';
    s[o] = 0;
    TG_CHECK_EQ_INT(tg_proto_parse(s, o, false, &m, &e), -EINVAL);
    TG_CHECK_EQ_STR(e.code, "bad_request");
    free(s);
}

/* tiny MessagePack writer for the tests */
static size_t mp_str(unsigned char *p, const char *s)
{
    size_t n = strlen(s);
    p[0] = (unsigned char)(0xa0 | n);
    memcpy(p + 1, s, n);
    return n + 1;
}

TG_TEST(msgpack_messages)
{
    unsigned char b[128];
    size_t o = 0;
    b[o++] = 0x83;
    o += mp_str(b + o, "type");
    o += mp_str(b + o, "subscribe");
    o += mp_str(b + o, "channel");
    o += mp_str(b + o, "market_data");
    o += mp_str(b + o, "symbols");
    b[o++] = 0x91;
    o += mp_str(b + o, "AAPL");
    tg_cmsg_t m;
    tg_proto_err_t e;
    TG_CHECK_EQ_INT(tg_proto_parse(b, o, true, &m, &e), 0);
    TG_CHECK_EQ_INT(m.type, TG_CMSG_SUBSCRIBE);
    TG_CHECK_EQ_INT(m.nkeys, 1);
    TG_CHECK_EQ_STR(m.keys[0], "AAPL");
    tg_cmsg_free(&m);
    /* ping with uint64 id = 2^63 (out of int64 range) -> bad_request */
    unsigned char p2[] = {0x82, 0xa4, 't', 'y', 'p', 'e', 0xa4, 'p', 'i', 'n', 'g', 0xa2, 'i', 'd',
                          0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0};
    TG_CHECK_EQ_INT(tg_proto_parse(p2, sizeof p2, true, &m, &e), -EINVAL);
    /* negative int id */
    unsigned char p3[] = {0x82, 0xa4, 't', 'y', 'p', 'e', 0xa4, 'p', 'i', 'n', 'g', 0xa2, 'i', 'd', 0xff};
    TG_CHECK_EQ_INT(tg_proto_parse(p3, sizeof p3, true, &m, &e), 0);
    TG_CHECK_EQ_INT(m.id.i, -1);
    tg_cmsg_free(&m);
}

TG_TEST(msgpack_malformed)
{
    tg_cmsg_t m;
    tg_proto_err_t e;
    static const unsigned char never[] = {0xc1};
    static const unsigned char trunc[] = {0x82, 0xa4, 't', 'y'};
    static const unsigned char trailing[] = {0x81, 0xa4, 't', 'y', 'p', 'e', 0xa4, 'p', 'i', 'n', 'g', 0x00};
    static const unsigned char intkey[] = {0x81, 0x01, 0xa4, 'p', 'i', 'n', 'g'};
    static const unsigned char bin[] = {0x81, 0xa4, 't', 'y', 'p', 'e', 0xc4, 0x04, 'p', 'i', 'n', 'g'};
    static const unsigned char huge[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    const struct { const unsigned char *p; size_t n; } cases[] = {
        {never, sizeof never}, {trunc, sizeof trunc}, {trailing, sizeof trailing},
        {intkey, sizeof intkey}, {bin, sizeof bin}, {huge, sizeof huge}, {never, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TG_CHECK_EQ_INT(tg_proto_parse(cases[i].p, cases[i].n, true, &m, &e), -EINVAL);
        TG_CHECK_EQ_STR(e.code, "bad_request");
    }
    unsigned char deep[40];
    memset(deep, 0x91, sizeof deep);
    deep[sizeof deep - 1] = 0xc0;
    char *json = NULL;
    size_t jl;
    TG_CHECK_EQ_INT(tg_msgpack_to_json(deep, sizeof deep, &json, &jl), -EINVAL);
    free(json);
}

TG_TEST(msgpack_to_json)
{
    static const unsigned char in[] = {0x84, 0xa1, 'a', 0xc3, 0xa1, 'b', 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0,
                                       0xa1, 'c', 0xa2, '"', '\n', 0xa1, 'd', 0x92, 0xc0, 0xd0, 0x80};
    char *json = NULL;
    size_t jl = 0;
    TG_CHECK_EQ_INT(tg_msgpack_to_json(in, sizeof in, &json, &jl), 0);
    TG_CHECK(json && jl == strlen("{\"a\":true,\"b\":1.5,\"c\":\"\\\"\\n\",\"d\":[null,-128]}"));
    if (json)
        TG_CHECK(memcmp(json, "{\"a\":true,\"b\":1.5,\"c\":\"\\\"\\n\",\"d\":[null,-128]}", jl) == 0);
    free(json);
}

TG_TEST(symbol_rule)
{
    TG_CHECK(tg_symbol_valid("AAPL", 4));
    TG_CHECK(tg_symbol_valid("BINANCE:BTCUSDT", 15));
    TG_CHECK(tg_symbol_valid("^GSPC", 5));
    TG_CHECK(!tg_symbol_valid("", 0));
    TG_CHECK(!tg_symbol_valid("A B", 3));
    TG_CHECK(!tg_symbol_valid("0123456789012345678901234567890123", 32));
    TG_CHECK_EQ_STR(tg_channel_name(TG_CH_MARKET_DATA), "market_data");
    TG_CHECK_EQ_STR(tg_channel_name(TG_CH_SYSTEM), "system");
}

TG_TEST(subscribe_bars)
{
    tg_cmsg_t m;
    tg_proto_err_t e;
    TG_CHECK_EQ_INT(P("{\"type\":\"subscribe\",\"channel\":\"bars\",\"symbols\":[\"AAPL\"],\"interval\":\"1s\",\"history\":1000,\"id\":9}", &m, &e), 0);
    TG_CHECK_EQ_INT(m.channel, TG_CH_BARS);
    TG_CHECK_EQ_INT(m.interval, 0); /* TG_BAR_1S */
    TG_CHECK_EQ_INT(m.history, 1000);
    TG_CHECK_EQ_INT(m.nkeys, 1);
    TG_CHECK_EQ_STR(m.keys[0], "AAPL");
    tg_cmsg_free(&m);
    /* defaults: 1m, no history */
    TG_CHECK_EQ_INT(P("{\"type\":\"subscribe\",\"channel\":\"bars\",\"symbols\":[\"AAPL\"]}", &m, &e), 0);
    TG_CHECK_EQ_INT(m.interval, 1);
    TG_CHECK_EQ_INT(m.history, 0);
    tg_cmsg_free(&m);
    TG_CHECK_EQ_INT(P("{\"type\":\"subscribe\",\"channel\":\"bars\",\"symbols\":[\"A\"],\"interval\":\"1d\",\"epoch\":\"e-1\",\"since\":{\"A@1d\":7}}", &m, &e), 0);
    TG_CHECK_EQ_INT(m.interval, 4);
    TG_CHECK_EQ_INT(m.nsince, 1);
    TG_CHECK_EQ_STR(m.since[0].key, "A@1d");
    tg_cmsg_free(&m);
    TG_CHECK_EQ_INT(P("{\"type\":\"unsubscribe\",\"channel\":\"bars\",\"symbols\":[\"A\"],\"interval\":\"5m\"}", &m, &e), 0);
    TG_CHECK_EQ_INT(m.interval, 2);
    tg_cmsg_free(&m);
    /* hostile and malformed */
    expect_err("{\"type\":\"subscribe\",\"channel\":\"bars\"}", "bad_request");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"bars\",\"symbols\":[]}", "bad_request");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"bars\",\"symbols\":[\"A\"],\"interval\":\"2m\"}", "bad_request");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"bars\",\"symbols\":[\"A\"],\"interval\":\"1M\"}", "bad_request");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"bars\",\"symbols\":[\"A\"],\"interval\":\"\"}", "bad_request");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"bars\",\"symbols\":[\"A\"],\"interval\":\"1m\\u0000\"}", "bad_request");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"bars\",\"symbols\":[\"A\"],\"interval\":\"1mmmmmmmmmmmmmmmmmmmmmmmmmmm\"}", "bad_request");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"bars\",\"symbols\":[\"A\"],\"interval\":60}", "bad_request");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"bars\",\"symbols\":[\"A\"],\"interval\":null}", "bad_request");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"bars\",\"symbols\":[\"A\"],\"history\":1001}", "bad_request");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"bars\",\"symbols\":[\"A\"],\"history\":-1}", "bad_request");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"bars\",\"symbols\":[\"A\"],\"history\":1.5}", "bad_request");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"bars\",\"symbols\":[\"A\"],\"history\":\"10\"}", "bad_request");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"bars\",\"symbols\":[\"A\"],\"history\":99999999999999999999999}", "bad_request");
    expect_err("{\"type\":\"unsubscribe\",\"channel\":\"bars\",\"symbols\":[\"A\"],\"history\":3}", "bad_request");
    expect_err("{\"type\":\"subscribe\",\"channel\":\"Bars\",\"symbols\":[\"A\"]}", "unknown_channel");
}

int main(void)
{
    return tg_test_run();
}
