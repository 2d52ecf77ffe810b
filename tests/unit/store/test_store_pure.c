/* test_store_pure.c - pure parts of the persistence code: Redis URL parsing,
 * the MessagePack tick codec, COPY row formatting with exact decimals. */
#include <errno.h>
#include <string.h>

#include "tg_test.h"
#include "tickgate/redis.h"
#include "tickgate/pg.h"

TG_TEST(redis_url_forms)
{
    tg_redis_url_t u;
    TG_CHECK_EQ_INT(tg_redis_url_parse("redis://127.0.0.1", &u), 0);
    TG_CHECK_EQ_STR(u.host, "127.0.0.1");
    TG_CHECK_EQ_INT(u.port, 6379);
    TG_CHECK_EQ_INT(u.db, 0);
    TG_CHECK(!u.pass[0] && !u.user[0] && !u.is_unix);
    TG_CHECK_EQ_INT(tg_redis_url_parse("redis://bob:p%40ss@cache.local:6380/3", &u), 0);
    TG_CHECK_EQ_STR(u.user, "bob");
    TG_CHECK_EQ_STR(u.pass, "p@ss");
    TG_CHECK_EQ_STR(u.host, "cache.local");
    TG_CHECK_EQ_INT(u.port, 6380);
    TG_CHECK_EQ_INT(u.db, 3);
    TG_CHECK_EQ_INT(tg_redis_url_parse("redis://:secret@h/", &u), 0);
    TG_CHECK_EQ_STR(u.pass, "secret");
    TG_CHECK(!u.user[0]);
    TG_CHECK_EQ_INT(tg_redis_url_parse("redis://[::1]:7000", &u), 0);
    TG_CHECK_EQ_STR(u.host, "::1");
    TG_CHECK_EQ_INT(u.port, 7000);
    TG_CHECK_EQ_INT(tg_redis_url_parse("unix:///run/redis.sock", &u), 0);
    TG_CHECK(u.is_unix);
    TG_CHECK_EQ_STR(u.path, "/run/redis.sock");
    TG_CHECK_EQ_INT(tg_redis_url_parse("unix:///run/redis.sock?db=2", &u), 0);
    TG_CHECK_EQ_INT(u.db, 2);
    const char *bad[] = {"", "rediss://h", "http://h", "redis://", "redis://h:0", "redis://h:70000",
                         "redis://h:x", "redis://h/db", "redis://[::1", "unix://rel",
                         "redis://u:%zz@h", "redis://u:%4@h", "unix:///s?x=1", NULL};
    for (int i = 0; bad[i]; i++)
        TG_CHECK(tg_redis_url_parse(bad[i], &u) == -EINVAL);
    TG_CHECK(tg_redis_url_parse(NULL, &u) == -EINVAL);
}

TG_TEST(tick_codec_round_trip_exact)
{
    tg_tick_t t = {0}, o;
    strcpy(t.symbol, "BRK.B");
    t.sym_len = 5;
    t.flags = TG_TICK_TRADE | TG_TICK_QUOTE;
    TG_CHECK_EQ_INT(tg_dec_parse("412.12345678", 12, &t.price), 0);
    t.size = TG_DEC(100);
    TG_CHECK_EQ_INT(tg_dec_parse("0.1", 3, &t.bid), 0);
    t.ask = 0; /* no ask */
    t.ts = 1763800000123456789LL;
    t.src_ts = 1763800000000000000LL;
    unsigned char buf[TG_REDIS_TICK_MAX];
    size_t n = tg_redis_tick_encode(&t, "primary", buf, sizeof buf);
    TG_CHECK(n > 0);
    char src[32];
    TG_CHECK_EQ_INT(tg_redis_tick_decode(buf, n, &o, src, sizeof src), 0);
    TG_CHECK_EQ_STR(o.symbol, "BRK.B");
    TG_CHECK_EQ_INT(o.sym_len, 5);
    TG_CHECK_EQ_INT(o.price, t.price);
    TG_CHECK_EQ_INT(o.size, t.size);
    TG_CHECK_EQ_INT(o.bid, t.bid);
    TG_CHECK_EQ_INT(o.ask, 0);
    TG_CHECK_EQ_INT(o.ts, t.ts);
    TG_CHECK_EQ_INT(o.src_ts, t.src_ts);
    TG_CHECK_EQ_INT(o.flags, TG_TICK_TRADE | TG_TICK_QUOTE);
    TG_CHECK_EQ_STR(src, "primary");
    /* decimals travel as strings: the exact text is in the bytes */
    TG_CHECK(memmem(buf, n, "412.12345678", 12) != NULL);
    /* quote-only tick: price/size nil, no TRADE flag */
    t.flags = TG_TICK_QUOTE;
    n = tg_redis_tick_encode(&t, NULL, buf, sizeof buf);
    TG_CHECK_EQ_INT(tg_redis_tick_decode(buf, n, &o, NULL, 0), 0);
    TG_CHECK_EQ_INT(o.flags, TG_TICK_QUOTE);
    TG_CHECK_EQ_INT(o.price, 0);
    /* too small a buffer */
    TG_CHECK_EQ_INT(tg_redis_tick_encode(&t, "x", buf, 10), 0);
    /* truncations of a valid message never decode */
    n = tg_redis_tick_encode(&t, "x", buf, sizeof buf);
    for (size_t k = 0; k < n; k++)
        TG_CHECK(tg_redis_tick_decode(buf, k, &o, NULL, 0) == -EINVAL);
}

TG_TEST(tick_codec_rejects_hostile)
{
    tg_tick_t o;
    /* {"symbol": 1} ; a fixarray; {"symbol":"A","price":"1.123456789"} (9 places) */
    const unsigned char a[] = {0x81, 0xa6, 's', 'y', 'm', 'b', 'o', 'l', 0x01};
    TG_CHECK(tg_redis_tick_decode(a, sizeof a, &o, NULL, 0) == -EINVAL);
    const unsigned char b[] = {0x91, 0x01};
    TG_CHECK(tg_redis_tick_decode(b, sizeof b, &o, NULL, 0) == -EINVAL);
    const unsigned char c[] = {0x82, 0xa6, 's', 'y', 'm', 'b', 'o', 'l', 0xa1, 'A',
                               0xa5, 'p', 'r', 'i', 'c', 'e', 0xab, '1', '.', '1', '2', '3',
                               '4', '5', '6', '7', '8', '9'};
    TG_CHECK(tg_redis_tick_decode(c, sizeof c, &o, NULL, 0) == -EINVAL);
    /* symbol only: neither price nor bid/ask */
    const unsigned char d[] = {0x81, 0xa6, 's', 'y', 'm', 'b', 'o', 'l', 0xa1, 'A'};
    TG_CHECK(tg_redis_tick_decode(d, sizeof d, &o, NULL, 0) == -EINVAL);
    /* trailing garbage after the map */
    const unsigned char e[] = {0x82, 0xa6, 's', 'y', 'm', 'b', 'o', 'l', 0xa1, 'A',
                               0xa5, 'p', 'r', 'i', 'c', 'e', 0xa1, '1', 0xc0};
    TG_CHECK(tg_redis_tick_decode(e, sizeof e - 1, &o, NULL, 0) == 0);
    TG_CHECK_EQ_INT(o.price, TG_DEC(1));
    TG_CHECK(tg_redis_tick_decode(e, sizeof e, &o, NULL, 0) == -EINVAL);
    /* container counts far beyond the bytes present (msgpack-c would size a
     * huge allocation from them): rejected before unpacking */
    const unsigned char f[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    TG_CHECK(tg_redis_tick_decode(f, sizeof f, &o, NULL, 0) == -EINVAL);
    const unsigned char g[] = {0x81, 0xa6, 's', 'y', 'm', 'b', 'o', 'l', 0xdd, 0x7f, 0xff, 0xff, 0xff};
    TG_CHECK(tg_redis_tick_decode(g, sizeof g, &o, NULL, 0) == -EINVAL);
}

TG_TEST(copy_lines_exact)
{
    char buf[4096];
    tg_snap_row_t r;
    memset(&r, 0, sizeof r);
    r.kind = TG_SNAP_QUOTE;
    r.ts = 1714564800123456789LL; /* 2024-05-01 12:00:00.123456789 UTC */
    strcpy(r.q.symbol, "AAPL");
    TG_CHECK_EQ_INT(tg_dec_parse("189.53", 6, &r.q.price), 0);
    TG_CHECK_EQ_INT(tg_dec_parse("0.00000001", 10, &r.q.ask), 0);
    r.q.volume = TG_DEC(1200300);
    size_t n = tg_store_copy_line(&r, "pri\tmary", buf, sizeof buf);
    buf[n] = 0;
    TG_CHECK_EQ_STR(buf, "AAPL\t2024-05-01 12:00:00.123456+00\t189.53\t\\N\t0.00000001\t1200300"
                         "\tpri\\tmary\n");
    TG_CHECK_EQ_INT(tg_store_copy_line(&r, NULL, buf, 10), 0);

    memset(&r, 0, sizeof r);
    r.kind = TG_SNAP_ALERT_FIRING;
    r.ts = 0;
    strcpy(r.a.alert_id, "a-0123456789abcdef");
    strcpy(r.a.portfolio_id, "p\\1");
    strcpy(r.a.owner, "u-1");
    strcpy(r.a.message, "line\nbreak");
    r.a.rule = TG_ALERT_LOSS_LIMIT;
    r.a.severity = TG_ALERT_SEV_HIGH;
    r.a.value = -TG_DEC(1) / 10 - 1;
    r.a.threshold = -TG_DEC(1) / 10;
    n = tg_store_copy_line(&r, NULL, buf, sizeof buf);
    buf[n] = 0;
    TG_CHECK_EQ_STR(buf, "a-0123456789abcdef\tu-1\tp\\\\1\tloss_limit\thigh\tloss_limit p\\\\1\t"
                         "line\\nbreak\t{\"rule\":\"loss_limit\",\"value\":-0.10000001,"
                         "\"threshold\":-0.1}\t1970-01-01 00:00:00.000000+00\n");

    r.kind = TG_SNAP_ALERT_RESOLVED;
    r.ts = -1; /* before the epoch still formats */
    n = tg_store_copy_line(&r, NULL, buf, sizeof buf);
    buf[n] = 0;
    TG_CHECK_EQ_STR(buf, "a-0123456789abcdef\t1969-12-31 23:59:59.999999+00\n");
}

TG_TEST(copy_line_bar)
{
    tg_snap_row_t r;
    char buf[512];
    memset(&r, 0, sizeof r);
    r.kind = TG_SNAP_BAR;
    r.ts = 1700000040LL * 1000000000LL;
    strcpy(r.b.symbol, "AAPL");
    strcpy(r.b.interval, "1m");
    r.b.open = 18950000000LL;
    r.b.high = 19010000000LL;
    r.b.low = 18920000000LL;
    r.b.close = 18990000000LL;
    r.b.volume = TG_DEC(12000);
    r.b.trades = 42;
    r.b.vwap = 18971234567LL;
    size_t n = tg_store_copy_line(&r, NULL, buf, sizeof buf);
    TG_CHECK(n > 0);
    buf[n] = 0;
    TG_CHECK_EQ_STR(buf, "AAPL\t1m\t2023-11-14 22:14:00.000000+00\t189.5\t190.1\t189.2\t189.9\t"
                         "12000\t42\t189.71234567\n");
    TG_CHECK_EQ_INT(tg_store_copy_line(&r, NULL, buf, 20), 0); /* too small: nothing */
}

TG_TEST(copy_line_day_state)
{
    tg_snap_row_t r;
    char buf[512];
    memset(&r, 0, sizeof r);
    r.kind = TG_SNAP_DAY_QUOTE;
    r.ts = 1700000040LL * 1000000000LL;
    strcpy(r.d.key, "BTC\tUSD");
    r.d.session_start = 1699920000LL * 1000000000LL;
    r.d.day_open = 18950000000LL;
    r.d.volume = TG_DEC(15);
    r.d.cost = TG_DEC(7); /* the other kind's fields stay NULL */
    r.d.price = TG_DEC(190);
    r.d.price_ts = 1700000039000000001LL;
    size_t n = tg_store_copy_line(&r, NULL, buf, sizeof buf);
    TG_CHECK(n > 0);
    buf[n] = 0;
    TG_CHECK_EQ_STR(buf, "q\tBTC\\tUSD\t1699920000000000000\t189.5\t15\t190\t1700000039000000001"
                         "\t\\N\t\\N\t\\N\t\\N\t\\N\t2023-11-14 22:14:00.000000+00\n");
    memset(&r, 0, sizeof r);
    r.kind = TG_SNAP_DAY_PORTFOLIO;
    r.ts = 1700000040LL * 1000000000LL;
    strcpy(r.d.key, "p day\n");
    r.d.session_start = -1;
    r.d.pending = true;
    r.d.cash = -TG_DEC(5) / 2;
    r.d.cost = TG_DEC(900);
    r.d.n_holdings = 4294967295u;
    r.d.volume = TG_DEC(3);
    r.d.price = TG_DEC(4); /* a portfolio row has no price */
    n = tg_store_copy_line(&r, NULL, buf, sizeof buf);
    TG_CHECK(n > 0);
    buf[n] = 0;
    TG_CHECK_EQ_STR(buf, "p\tp day\\n\t-1\t\\N\t\\N\t\\N\t\\N\tt\t0\t-2.5\t900\t4294967295"
                         "\t2023-11-14 22:14:00.000000+00\n");
    r.d.pending = false;
    r.d.open = TG_DEC(1100);
    n = tg_store_copy_line(&r, NULL, buf, sizeof buf);
    buf[n] = 0;
    TG_CHECK_EQ_STR(buf, "p\tp day\\n\t-1\t\\N\t\\N\t\\N\t\\N\tf\t1100\t-2.5\t900\t4294967295"
                         "\t2023-11-14 22:14:00.000000+00\n");
    TG_CHECK_EQ_INT(tg_store_copy_line(&r, NULL, buf, 40), 0); /* too small: nothing */
}

TG_TEST(holdings_extraction)
{
    const char *j = "{\"type\":\"portfolio\",\"portfolio_id\":\"\\\"holdings\\\":[\","
                    "\"holdings\":[{\"symbol\":\"A]\",\"quantity\":1},{\"symbol\":\"B\"}],"
                    "\"ts\":1}";
    size_t s, n;
    TG_CHECK_EQ_INT(tg_store_holdings_json(j, strlen(j), &s, &n), 0);
    char out[128];
    memcpy(out, j + s, n);
    out[n] = 0;
    TG_CHECK_EQ_STR(out, "[{\"symbol\":\"A]\",\"quantity\":1},{\"symbol\":\"B\"}]");
    TG_CHECK(tg_store_holdings_json("{\"holdings\":[1,2", 16, &s, &n) == -ENOENT);
    TG_CHECK(tg_store_holdings_json("{}", 2, &s, &n) == -ENOENT);

    tg_snap_row_t r;
    memset(&r, 0, sizeof r);
    r.kind = TG_SNAP_PORTFOLIO;
    strcpy(r.p.id, "p-1");
    r.p.value = TG_DEC(5);
    r.p.max_drift = 3100000; /* 0.031 */
    char buf[512];
    size_t len = tg_store_copy_line(&r, NULL, buf, sizeof buf);
    buf[len] = 0;
    TG_CHECK_EQ_STR(buf, "p-1\t1970-01-01 00:00:00.000000+00\t5\t0\t0\t0\t0.031\t\\N\n");
}

int main(void)
{
    return tg_test_run();
}
