/* encode_bench.c - cost of encoding one quote message, both encodings at once
 * (what the engine does once per tick), JSON only, and a portfolio message of
 * 20 holdings; plus the fixed-point formatter alone. Single thread. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tickgate/clock.h"
#include "tickgate/encode.h"
#include "tickgate/fixed.h"

static volatile size_t sink;

static double bench_quote(int n, bool json, bool mp)
{
    char jb[1024];
    unsigned char mb[1024];
    int64_t t0 = tg_mono_ns();
    for (int i = 0; i < n; i++) {
        tg_enc_t e;
        tg_enc_init(&e, json ? jb : NULL, sizeof jb, mp ? mb : NULL, sizeof mb);
        tg_dec_t p = 18953000000 + i % 1000 * 1000000;
        tg_enc_map(&e, 13);
        tg_enc_kv_str(&e, "type", "quote");
        tg_enc_kv_str(&e, "symbol", "AAPL");
        tg_enc_kv_dec(&e, "price", p);
        tg_enc_kv_dec(&e, "bid", p - 1000000);
        tg_enc_kv_dec(&e, "ask", p + 1000000);
        tg_enc_kv_dec(&e, "size", TG_DEC(100));
        tg_enc_kv_dec(&e, "volume", TG_DEC(1200300) + i);
        tg_enc_kv_dec(&e, "day_open", 18710000000);
        tg_enc_kv_dec(&e, "day_change_pct", 1298771);
        tg_enc_kv_str(&e, "source", "primary");
        tg_enc_kv_i64(&e, "ts", 1763800000123000000 + i);
        tg_enc_kv_i64(&e, "src_ts", 1763800000121000000 + i);
        tg_enc_kv_u64(&e, "seq", (uint64_t)i);
        tg_enc_map_end(&e);
        sink += e.jlen + e.mlen;
    }
    return (double)(tg_mono_ns() - t0) / n;
}

static double bench_portfolio(int n)
{
    char jb[8192];
    unsigned char mb[8192];
    int64_t t0 = tg_mono_ns();
    for (int i = 0; i < n; i++) {
        tg_enc_t e;
        tg_enc_init(&e, jb, sizeof jb, mb, sizeof mb);
        tg_enc_map(&e, 4);
        tg_enc_kv_str(&e, "type", "portfolio");
        tg_enc_kv_dec(&e, "value", 25123417000000 + i);
        tg_enc_key(&e, "holdings");
        tg_enc_array(&e, 20);
        for (int h = 0; h < 20; h++) {
            tg_enc_map(&e, 7);
            tg_enc_kv_str(&e, "symbol", "MSFT");
            tg_enc_kv_dec(&e, "quantity", TG_DEC(100));
            tg_enc_kv_dec(&e, "price", 18953000000 + h);
            tg_enc_kv_dec(&e, "value", 1895300000000 + h);
            tg_enc_kv_dec(&e, "weight", 7543958);
            tg_enc_kv_dec(&e, "target_weight", 8000000);
            tg_enc_kv_dec(&e, "drift", -456042);
            tg_enc_map_end(&e);
        }
        tg_enc_array_end(&e);
        tg_enc_kv_u64(&e, "seq", (uint64_t)i);
        tg_enc_map_end(&e);
        sink += e.jlen + e.mlen;
    }
    return (double)(tg_mono_ns() - t0) / n;
}

static double bench_format(int n)
{
    char buf[TG_DEC_STRLEN + 1];
    int64_t t0 = tg_mono_ns();
    for (int i = 0; i < n; i++)
        sink += tg_dec_format(18953000000 + (tg_dec_t)i * 7, buf);
    return (double)(tg_mono_ns() - t0) / n;
}

int main(void)
{
    const int n = 2000000;
    bench_quote(n / 10, true, true); /* warm up */
    double both = bench_quote(n, true, true);
    double json = bench_quote(n, true, false);
    double mp = bench_quote(n, false, true);
    double pf = bench_portfolio(n / 20);
    double fmt = bench_format(n);
    printf("quote json+msgpack  %7.1f ns/msg  (%.2f M msgs/s)\n", both, 1e3 / both);
    printf("quote json only     %7.1f ns/msg  (%.2f M msgs/s)\n", json, 1e3 / json);
    printf("quote msgpack only  %7.1f ns/msg  (%.2f M msgs/s)\n", mp, 1e3 / mp);
    printf("portfolio 20 hold.  %7.1f ns/msg  (both encodings)\n", pf);
    printf("tg_dec_format       %7.1f ns/value\n", fmt);
    printf("RESULT encode_bench quote_both_ns=%.1f quote_json_ns=%.1f quote_mp_ns=%.1f "
           "portfolio20_ns=%.1f dec_format_ns=%.1f\n",
           both, json, mp, pf, fmt);
    return sink == 0;
}
