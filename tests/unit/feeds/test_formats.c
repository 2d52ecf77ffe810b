/* test_formats.c - provider format parsers against the fixture files in
 * tests/fixtures/feeds/<format>/: every good_* file parses without errors,
 * every bad_* file is rejected as a whole or has rejected elements, hostile_*
 * files never crash; the documented shapes give exactly the expected ticks. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "feeds/format_internal.h"
#include "tickgate/config.h"

#include "tg_test.h"
#include "tickgate/clock.h"
#include "tickgate/feed_format.h"

#define NOW 1763800000999000000LL
#define D(x) ((tg_dec_t)(x))

typedef struct rec {
    tg_format_sink_t sink; /* first: callbacks cast back to rec */
    tg_tick_t ticks[64];
    int nticks;
    tg_format_ctl_t ctl[64];
    char ctl_text[64][64];
    int nctl;
    int errs[64];
    int nerr;
} rec_t;

static void on_tick(tg_format_sink_t *s, const tg_tick_t *t)
{
    rec_t *r = (rec_t *)s;
    if (r->nticks < 64)
        r->ticks[r->nticks] = *t;
    r->nticks++;
}

static void on_control(tg_format_sink_t *s, tg_format_ctl_t kind, const char *text, size_t len)
{
    rec_t *r = (rec_t *)s;
    if (r->nctl < 64) {
        r->ctl[r->nctl] = kind;
        size_t n = text ? (len < 63 ? len : 63) : 0;
        if (n)
            memcpy(r->ctl_text[r->nctl], text, n);
        r->ctl_text[r->nctl][n] = '\0';
    }
    r->nctl++;
}

static void on_error(tg_format_sink_t *s, int err)
{
    rec_t *r = (rec_t *)s;
    if (r->nerr < 64)
        r->errs[r->nerr] = err;
    r->nerr++;
}

static void rec_reset(rec_t *r)
{
    tg_json_t keep = r->sink._json; /* keep the scratch parser: reuse is the point */
    memset(r, 0, sizeof(*r));
    r->sink.on_tick = on_tick;
    r->sink.on_control = on_control;
    r->sink.on_error = on_error;
    r->sink._json = keep;
}

static char *load(const char *format, const char *file, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/fixtures/feeds/%s/%s", TG_SOURCE_DIR, format, file);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "  cannot open %s\n", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    /* exact-size buffer, no NUL: ASan catches any read past the message */
    char *buf = malloc(n > 0 ? (size_t)n : 1);
    if (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static rec_t R;

/* Parse fixture format/file into R; returns parse()'s result. */
static int run(const char *format, const char *file)
{
    const tg_format_ops_t *ops = tg_format_lookup(format);
    size_t len = 0;
    rec_reset(&R);
    TG_CHECK(ops != NULL);
    char *msg = load(format, file, &len);
    TG_CHECK(msg != NULL);
    if (!ops || !msg) {
        free(msg);
        return -9999;
    }
    int rc = ops->parse(msg, len, NOW, &R.sink);
    free(msg);
    return rc;
}

static void check_tick(const tg_tick_t *t, const char *sym, uint8_t flags, tg_dec_t price,
                       tg_dec_t size, tg_dec_t bid, tg_dec_t ask, int64_t src_ts, uint64_t seq)
{
    TG_CHECK_EQ_STR(t->symbol, sym);
    TG_CHECK_EQ_INT(t->sym_len, strlen(sym));
    TG_CHECK_EQ_INT(t->flags, flags);
    TG_CHECK_EQ_INT(t->price, price);
    TG_CHECK_EQ_INT(t->size, size);
    TG_CHECK_EQ_INT(t->bid, bid);
    TG_CHECK_EQ_INT(t->ask, ask);
    TG_CHECK_EQ_INT(t->src_ts, src_ts);
    TG_CHECK_EQ_INT(t->src_seq, seq);
    TG_CHECK_EQ_INT(t->ts, NOW);
    TG_CHECK_EQ_INT(t->feed, 0);
}

TG_TEST(registry)
{
    static const char *names[] = {"finnhub", "alpaca", "polygon", "coinbase", "binance",
                                  "tickgate"};
    for (size_t i = 0; i < 6; i++) {
        const tg_format_ops_t *o = tg_format_lookup(names[i]);
        TG_CHECK(o && strcmp(o->name, names[i]) == 0 && o->parse);
        TG_CHECK(tg_format_at(i) != NULL);
    }
    TG_CHECK(tg_format_at(6) == NULL);
    TG_CHECK(tg_format_lookup("Finnhub") == NULL);
    TG_CHECK(tg_format_lookup("") == NULL);
    TG_CHECK(tg_format_lookup(NULL) == NULL);
    TG_CHECK(!tg_format_lookup("alpaca")->seq_monotonic);
    TG_CHECK(tg_format_lookup("polygon")->seq_monotonic);
}

/* The config's list of format names and the parser registry are the same set, in order. */
TG_TEST(registry_matches_config_names)
{
    size_t n = 0;
    for (; tg_feed_format_names[n]; n++) {
        const tg_format_ops_t *o = tg_format_at(n);
        TG_CHECK(o != NULL);
        if (o)
            TG_CHECK_EQ_STR(o->name, tg_feed_format_names[n]);
    }
    TG_CHECK(n > 0);
    TG_CHECK(tg_format_at(n) == NULL);
}

/* Every fixture: good_* clean, bad_* rejected somewhere, hostile_* survive. */
TG_TEST(all_fixtures_classified)
{
    static const char *fmts[] = {"finnhub", "alpaca", "polygon", "coinbase", "binance",
                                 "tickgate"};
    int files = 0;
    for (size_t i = 0; i < 6; i++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/tests/fixtures/feeds/%s", TG_SOURCE_DIR, fmts[i]);
        DIR *d = opendir(dir);
        TG_CHECK(d != NULL);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            int rc = run(fmts[i], e->d_name);
            files++;
            if (strncmp(e->d_name, "good_", 5) == 0) {
                if (rc <= 0 || R.nerr)
                    fprintf(stderr, "  %s/%s: rc %d errors %d\n", fmts[i], e->d_name, rc, R.nerr);
                TG_CHECK(rc > 0 && R.nerr == 0);
                TG_CHECK_EQ_INT(rc, R.nticks + R.nctl);
            } else if (strncmp(e->d_name, "bad_", 4) == 0) {
                if (!(rc < 0 || R.nerr > 0))
                    fprintf(stderr, "  %s/%s: accepted (rc %d)\n", fmts[i], e->d_name, rc);
                TG_CHECK(rc < 0 || R.nerr > 0);
                if (rc < 0)
                    TG_CHECK(R.nticks == 0 && R.nctl == 0 && R.nerr == 0);
                else
                    TG_CHECK_EQ_INT(rc, R.nticks + R.nctl + R.nerr);
            } else {
                TG_CHECK(strncmp(e->d_name, "hostile_", 8) == 0);
            }
        }
        closedir(d);
    }
    TG_CHECK(files >= 40);
}

TG_TEST(finnhub)
{
    TG_CHECK_EQ_INT(run("finnhub", "good_trades.json"), 2);
    TG_CHECK_EQ_INT(R.nticks, 2);
    check_tick(&R.ticks[0], "BINANCE:BTCUSDT", TG_TICK_TRADE, D(729689000000), D(1146700), 0, 0,
               1575526691134000000LL, 0);
    check_tick(&R.ticks[1], "AAPL", TG_TICK_TRADE, D(18953000000), TG_DEC(100), 0, 0,
               1700000000123000000LL, 0);
    TG_CHECK_EQ_INT(run("finnhub", "good_ping.json"), 1);
    TG_CHECK(R.nctl == 1 && R.ctl[0] == TG_FORMAT_CTL_HEARTBEAT);
    TG_CHECK_EQ_INT(run("finnhub", "good_error.json"), 1);
    TG_CHECK(R.nctl == 1 && R.ctl[0] == TG_FORMAT_CTL_ERROR);
    TG_CHECK_EQ_STR(R.ctl_text[0], "Subscribing to too many symbols");
    TG_CHECK_EQ_INT(run("finnhub", "good_unknown.json"), 1);
    TG_CHECK(R.nctl == 1 && R.ctl[0] == TG_FORMAT_CTL_UNKNOWN);

    TG_CHECK_EQ_INT(run("finnhub", "bad_elements.json"), 6);
    TG_CHECK_EQ_INT(R.nerr, 5);
    TG_CHECK_EQ_INT(R.nticks, 1);
    check_tick(&R.ticks[0], "MSFT", TG_TICK_TRADE, TG_DEC(2), TG_DEC(3), 0, 0,
               1700000000000000000LL, 0);
    TG_CHECK_EQ_INT(R.errs[4], -EDOM); /* 1.123456789: 9 places, never rounded */
    TG_CHECK_EQ_INT(run("finnhub", "bad_float_noise.json"), 1);
    TG_CHECK_EQ_INT(R.errs[0], -EDOM);
    TG_CHECK_EQ_INT(run("finnhub", "bad_truncated.json"), -EINVAL);
    TG_CHECK_EQ_INT(run("finnhub", "bad_no_data.json"), -EINVAL);
    TG_CHECK_EQ_INT(run("finnhub", "bad_no_type.json"), -EINVAL);
    TG_CHECK_EQ_INT(run("finnhub", "hostile_trailing.json"), -EINVAL);
    TG_CHECK_EQ_INT(run("finnhub", "hostile_deep.json"), -E2BIG);
}

TG_TEST(alpaca)
{
    TG_CHECK_EQ_INT(run("alpaca", "good_trades.json"), 2);
    check_tick(&R.ticks[0], "AAPL", TG_TICK_TRADE, D(12655000000), TG_DEC(1), 0, 0,
               1614009104208000000LL, 96921);
    check_tick(&R.ticks[1], "BTC/USD", TG_TICK_TRADE, D(4301250000000), D(210000), 0, 0,
               1704207845123456789LL, 52983525029461ULL);
    TG_CHECK_EQ_INT(run("alpaca", "good_quote.json"), 1);
    check_tick(&R.ticks[0], "AMD", TG_TICK_QUOTE, 0, 0, D(8766000000), D(8768000000),
               1614009105335689322LL, 0);
    TG_CHECK_EQ_INT(run("alpaca", "good_control.json"), 4);
    TG_CHECK_EQ_INT(R.nctl, 4);
    TG_CHECK(R.ctl[0] == TG_FORMAT_CTL_STATUS && R.ctl[1] == TG_FORMAT_CTL_STATUS &&
             R.ctl[2] == TG_FORMAT_CTL_SUBSCRIPTION && R.ctl[3] == TG_FORMAT_CTL_UNKNOWN);
    TG_CHECK_EQ_STR(R.ctl_text[1], "authenticated");
    TG_CHECK_EQ_INT(run("alpaca", "good_error.json"), 1);
    TG_CHECK(R.ctl[0] == TG_FORMAT_CTL_ERROR);
    TG_CHECK_EQ_STR(R.ctl_text[0], "connection limit exceeded");

    TG_CHECK_EQ_INT(run("alpaca", "bad_mixed.json"), 6);
    TG_CHECK_EQ_INT(R.nticks, 1);
    TG_CHECK_EQ_INT(R.nerr, 5);
    TG_CHECK_EQ_INT(run("alpaca", "bad_truncated.json"), -EINVAL);
    TG_CHECK_EQ_INT(run("alpaca", "bad_scalar.json"), -EINVAL);
    /* unusable symbols arrive empty, for validation to reject as bad_symbol */
    TG_CHECK_EQ_INT(run("alpaca", "hostile_longsym.json"), 3);
    TG_CHECK_EQ_INT(R.nticks, 3);
    for (int i = 0; i < 3; i++)
        TG_CHECK(R.ticks[i].sym_len == 0 && R.ticks[i].symbol[0] == '\0');
}

TG_TEST(polygon)
{
    TG_CHECK_EQ_INT(run("polygon", "good_trades.json"), 2);
    check_tick(&R.ticks[0], "MSFT", TG_TICK_TRADE, D(11412500000), TG_DEC(100), 0, 0,
               1536036818784000000LL, 3681328);
    check_tick(&R.ticks[1], "AAPL", TG_TICK_TRADE, D(18953000000), TG_DEC(25), 0, 0,
               1700000000123000000LL, 3681329);
    TG_CHECK_EQ_INT(run("polygon", "good_quote.json"), 1);
    check_tick(&R.ticks[0], "MSFT", TG_TICK_QUOTE, 0, 0, D(11412500000), D(11412800000),
               1536036818784000000LL, 50385480);
    TG_CHECK_EQ_INT(run("polygon", "good_status.json"), 5);
    TG_CHECK(R.ctl[0] == TG_FORMAT_CTL_STATUS && R.ctl[1] == TG_FORMAT_CTL_STATUS &&
             R.ctl[2] == TG_FORMAT_CTL_SUBSCRIPTION && R.ctl[3] == TG_FORMAT_CTL_ERROR &&
             R.ctl[4] == TG_FORMAT_CTL_UNKNOWN);
    TG_CHECK_EQ_STR(R.ctl_text[0], "Connected Successfully");
    TG_CHECK_EQ_INT(run("polygon", "bad_mixed.json"), 5);
    TG_CHECK_EQ_INT(R.nticks, 1);
    TG_CHECK_EQ_INT(R.nerr, 4);
    TG_CHECK_EQ_INT(R.errs[3], -ERANGE); /* ms beyond the int64 ns range */
    TG_CHECK_EQ_INT(run("polygon", "bad_truncated.json"), -EINVAL);
    TG_CHECK_EQ_INT(run("polygon", "bad_garbage.json"), -EINVAL);
}

TG_TEST(coinbase)
{
    TG_CHECK_EQ_INT(run("coinbase", "good_ticker.json"), 1);
    check_tick(&R.ticks[0], "ETH-USD", TG_TICK_TRADE | TG_TICK_QUOTE, D(128522000000),
               D(1143969870), D(128504000000), D(128527000000), 1666222102061769000LL,
               37475248783ULL);
    TG_CHECK_EQ_INT(run("coinbase", "good_match.json"), 1);
    check_tick(&R.ticks[0], "BTC-USD", TG_TICK_TRADE, D(40023000000), D(523512000), 0, 0,
               1415348367028459000LL, 50);
    TG_CHECK_EQ_INT(run("coinbase", "good_subscriptions.json"), 1);
    TG_CHECK(R.ctl[0] == TG_FORMAT_CTL_SUBSCRIPTION);
    TG_CHECK_EQ_INT(run("coinbase", "good_heartbeat.json"), 1);
    TG_CHECK(R.ctl[0] == TG_FORMAT_CTL_HEARTBEAT);
    TG_CHECK_EQ_INT(run("coinbase", "good_error.json"), 1);
    TG_CHECK(R.ctl[0] == TG_FORMAT_CTL_ERROR);
    TG_CHECK_EQ_STR(R.ctl_text[0], "Failed to subscribe");
    TG_CHECK_EQ_INT(run("coinbase", "good_l2update.json"), 1);
    TG_CHECK(R.ctl[0] == TG_FORMAT_CTL_UNKNOWN);
    TG_CHECK_EQ_INT(run("coinbase", "bad_ticker_float.json"), -EDOM);
    TG_CHECK_EQ_INT(run("coinbase", "bad_match_nosize.json"), -EINVAL);
    TG_CHECK_EQ_INT(run("coinbase", "bad_time.json"), -EINVAL);
    TG_CHECK_EQ_INT(run("coinbase", "bad_array.json"), -EINVAL);
    TG_CHECK_EQ_INT(run("coinbase", "bad_truncated.json"), -EINVAL);
    TG_CHECK_EQ_INT(run("coinbase", "hostile_utf8.json"), -EINVAL);
}

TG_TEST(binance)
{
    TG_CHECK_EQ_INT(run("binance", "good_trade.json"), 1);
    check_tick(&R.ticks[0], "BNBBTC", TG_TICK_TRADE, D(100000), TG_DEC(100), 0, 0,
               1672515782136000000LL, 12345);
    TG_CHECK_EQ_INT(run("binance", "good_combined.json"), 1);
    check_tick(&R.ticks[0], "BTCUSDT", TG_TICK_TRADE, D(4300001000000), D(123000), 0, 0,
               1672515782135000000LL, 3000000001ULL);
    TG_CHECK_EQ_INT(run("binance", "good_bookticker.json"), 1);
    check_tick(&R.ticks[0], "BNBUSDT", TG_TICK_QUOTE, 0, 0, D(2535190000), D(2536520000), 0,
               400900217);
    TG_CHECK_EQ_INT(run("binance", "good_combined_book.json"), 1);
    check_tick(&R.ticks[0], "BNBUSDT", TG_TICK_QUOTE, 0, 0, D(2535200000), D(2536500000), 0,
               400900218);
    TG_CHECK_EQ_INT(run("binance", "good_result.json"), 1);
    TG_CHECK(R.ctl[0] == TG_FORMAT_CTL_SUBSCRIPTION);
    TG_CHECK_EQ_INT(run("binance", "good_error.json"), 1);
    TG_CHECK(R.ctl[0] == TG_FORMAT_CTL_ERROR);
    TG_CHECK_EQ_STR(R.ctl_text[0], "Invalid request: unknown variable");
    TG_CHECK_EQ_INT(run("binance", "good_aggtrade.json"), 1);
    TG_CHECK(R.ctl[0] == TG_FORMAT_CTL_UNKNOWN);
    TG_CHECK_EQ_INT(run("binance", "bad_trade_noprice.json"), -EINVAL);
    TG_CHECK_EQ_INT(run("binance", "bad_book_junk.json"), -EINVAL);
    TG_CHECK_EQ_INT(run("binance", "bad_combined_data.json"), -EINVAL);
    TG_CHECK_EQ_INT(run("binance", "bad_truncated.json"), -EINVAL);
    TG_CHECK_EQ_INT(run("binance", "bad_bigint.json"), -ERANGE);
}

TG_TEST(tickgate)
{
    TG_CHECK_EQ_INT(run("tickgate", "good_quote.json"), 1);
    check_tick(&R.ticks[0], "AAPL", TG_TICK_TRADE | TG_TICK_QUOTE, D(18953000000), TG_DEC(100),
               D(18952000000), D(18954000000), 1763800000123000000LL, 88121);
    TG_CHECK_EQ_INT(run("tickgate", "good_batch.jsonl"), 3);
    TG_CHECK_EQ_INT(R.nticks, 2);
    check_tick(&R.ticks[0], "AAPL", TG_TICK_TRADE, D(18953000000), TG_DEC(100), 0, 0,
               1763800000123000000LL, 1);
    check_tick(&R.ticks[1], "MSFT", TG_TICK_QUOTE, 0, 0, D(41010000000), D(41020000000),
               1763800000124000000LL, 7);
    TG_CHECK(R.nctl == 1 && R.ctl[0] == TG_FORMAT_CTL_HEARTBEAT);
    TG_CHECK_EQ_INT(run("tickgate", "good_control.json"), 1);
    TG_CHECK(R.ctl[0] == TG_FORMAT_CTL_STATUS);
    TG_CHECK_EQ_INT(run("tickgate", "bad_batch.jsonl"), 3);
    TG_CHECK_EQ_INT(R.nticks, 1);
    TG_CHECK_EQ_INT(R.nerr, 2);
    TG_CHECK_EQ_INT(run("tickgate", "bad_quote_nothing.json"), -EINVAL);
    TG_CHECK_EQ_INT(run("tickgate", "bad_truncated.json"), -EINVAL);
    TG_CHECK_EQ_INT(run("tickgate", "bad_seq.json"), -EINVAL);

    /* a trailing newline or blank lines are not messages */
    const char *m = "{\"type\":\"pong\"}\n\n{\"type\":\"pong\"}\n";
    rec_reset(&R);
    TG_CHECK_EQ_INT(tg_format_tickgate.parse(m, strlen(m), NOW, &R.sink), 2);
    TG_CHECK_EQ_INT(R.nerr, 0);
    rec_reset(&R);
    TG_CHECK_EQ_INT(tg_format_tickgate.parse("", 0, NOW, &R.sink), -EINVAL);
    TG_CHECK_EQ_INT(tg_format_tickgate.parse("\n", 1, NOW, &R.sink), 0);
}

TG_TEST(every_format_rejects_junk_and_truncation)
{
    /* every proper prefix of a good message is malformed as a whole, for every
     * format: nothing half-parsed ever reaches the sink */
    static const struct {
        const char *fmt, *file;
    } good[] = {
        {"finnhub", "good_trades.json"},   {"alpaca", "good_trades.json"},
        {"polygon", "good_quote.json"},    {"coinbase", "good_ticker.json"},
        {"binance", "good_combined.json"}, {"tickgate", "good_quote.json"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        size_t len = 0;
        char *msg = load(good[i].fmt, good[i].file, &len);
        const tg_format_ops_t *ops = tg_format_lookup(good[i].fmt);
        if (!msg || !ops)
            continue;
        int leaked = 0;
        for (size_t n = 0; n < len; n++) {
            char *p = malloc(n ? n : 1);
            memcpy(p, msg, n);
            rec_reset(&R);
            int rc = ops->parse(p, n, NOW, &R.sink);
            if (rc >= 0 || R.nticks || R.nctl || R.nerr)
                leaked++;
            free(p);
        }
        TG_CHECK_EQ_INT(leaked, 0);
        free(msg);
    }
    /* sinks without callbacks are fine */
    tg_format_sink_t bare = {0};
    const char *m = "[{\"T\":\"t\",\"S\":\"A\",\"p\":1},{\"T\":\"x\"},{\"T\":1}]";
    TG_CHECK_EQ_INT(tg_format_alpaca.parse(m, strlen(m), NOW, &bare), 3);
    tg_format_sink_fini(&bare);
    tg_format_sink_fini(NULL);
}

TG_TEST(rfc3339)
{
    static const struct {
        const char *s;
        int rc;
        int64_t ns;
    } cases[] = {
        {"1970-01-01T00:00:00Z", 0, 0},
        {"1970-01-01T00:00:01.5Z", 0, 1500000000},
        {"2021-02-22T15:51:44.208Z", 0, 1614009104208000000LL},
        {"2021-02-22t15:51:44.208z", 0, 1614009104208000000LL},
        {"2021-02-22T16:51:44.208+01:00", 0, 1614009104208000000LL},
        {"2021-02-22T10:21:44.208-05:30", 0, 1614009104208000000LL},
        {"2024-02-29T00:00:00Z", 0, 1709164800000000000LL},
        {"2000-02-29T00:00:00Z", 0, 951782400000000000LL},
        {"2262-04-11T23:47:16.854775807Z", 0, INT64_MAX},
        {"2262-04-11T23:47:16.854775808Z", -ERANGE, 0},
        {"2024-01-02T15:04:05.123456789Z", 0, 1704207845123456789LL},
        {"2016-12-31T23:59:60Z", 0, 1483228800000000000LL},
        {"2262-04-11T23:47:17Z", -ERANGE, 0},
        {"1969-12-31T23:59:59Z", -ERANGE, 0},
        {"1970-01-01T00:30:00+01:00", -ERANGE, 0},
        {"2023-02-29T00:00:00Z", -EINVAL, 0},
        {"1900-02-29T00:00:00Z", -EINVAL, 0},
        {"2021-13-01T00:00:00Z", -EINVAL, 0},
        {"2021-04-31T00:00:00Z", -EINVAL, 0},
        {"2021-01-01T24:00:00Z", -EINVAL, 0},
        {"2021-01-01T00:60:00Z", -EINVAL, 0},
        {"2021-01-01T00:00:61Z", -EINVAL, 0},
        {"2021-01-01T00:00:00", -EINVAL, 0},
        {"2021-01-01 00:00:00Z", -EINVAL, 0},
        {"2021-01-01T00:00:00.Z", -EINVAL, 0},
        {"2021-01-01T00:00:00.1234567890Z", -EINVAL, 0},
        {"2021-01-01T00:00:00Zjunk", -EINVAL, 0},
        {"2021-01-01T00:00:00+0100", -EINVAL, 0},
        {"2021-01-01T00:00:00+01:0", -EINVAL, 0},
        {"2021-1-01T00:00:00Z", -EINVAL, 0},
        {"", -EINVAL, 0},
        {"1614009104208", -EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ns = -1;
        int rc = tg_rfc3339_parse(cases[i].s, strlen(cases[i].s), &ns);
        if (rc != cases[i].rc || (rc == 0 && ns != cases[i].ns))
            fprintf(stderr, "  rfc3339 %s: rc %d ns %lld\n", cases[i].s, rc, (long long)ns);
        TG_CHECK_EQ_INT(rc, cases[i].rc);
        if (cases[i].rc == 0)
            TG_CHECK_EQ_INT(ns, cases[i].ns);
    }
}

TG_TEST(parse_time_ns_or_rfc3339)
{
    int64_t ns = 0;
    TG_CHECK_EQ_INT(tg_time_parse("1700000000123456789", 19, &ns), 0);
    TG_CHECK_EQ_INT(ns, 1700000000123456789LL);
    TG_CHECK_EQ_INT(tg_time_parse("0", 1, &ns), 0);
    TG_CHECK_EQ_INT(ns, 0);
    TG_CHECK_EQ_INT(tg_time_parse("2023-11-14T22:13:20Z", 20, &ns), 0);
    TG_CHECK_EQ_INT(ns, 1700000000LL * 1000000000LL);
    TG_CHECK_EQ_INT(tg_time_parse("2023-11-14T23:13:20.5+01:00", 27, &ns), 0);
    TG_CHECK_EQ_INT(ns, 1700000000LL * 1000000000LL + 500000000);
    const char *bad[] = {"", "-1", "+5", "12a", "1e9", "1.5", " 1", "1 ", "2023-11-14",
                         "2023-11-14T22:13:20", "2023-13-01T00:00:00Z", "2023-11-14T22:13:20Zjunk",
                         "2023-11-14 22:13:20Z", "0x10"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ns = 42;
        TG_CHECK(tg_time_parse(bad[i], strlen(bad[i]), &ns) < 0);
        TG_CHECK_EQ_INT(ns, 42); /* untouched */
    }
    TG_CHECK_EQ_INT(tg_time_parse("9223372036854775808", 19, &ns), -ERANGE);
    TG_CHECK_EQ_INT(tg_time_parse("99999999999999999999999", 23, &ns), -ERANGE);
    TG_CHECK_EQ_INT(tg_time_parse(NULL, 3, &ns), -EINVAL);
    char longs[100];
    memset(longs, '1', sizeof longs);
    TG_CHECK_EQ_INT(tg_time_parse(longs, sizeof longs, &ns), -EINVAL);
}

int main(void)
{
    int rc = tg_test_run();
    tg_format_sink_fini(&R.sink);
    return rc;
}
