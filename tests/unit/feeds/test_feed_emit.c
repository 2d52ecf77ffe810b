/* test_feed_emit.c - the emit path every adapter shares (tg_feed_emit in
 * feeds/feed.c): accept time and feed index stamped, symbol_map renames,
 * the `symbols` filter drops (neutral), validation rejects and counts by
 * reason, and only valid ticks reach the engine's ring, in order. */
#include <stdatomic.h>
#include <string.h>

#include "tickgate/clock.h"
#include "tickgate/config.h"
#include "tickgate/feed.h"
#include "tickgate/metrics.h"
#include "tickgate/ring.h"
#include "tg_test.h"

typedef struct rig {
    tg_config_t cfg;
    tg_metrics_t *m;
    tg_feed_t f;
} rig_t;

static int rig_init(rig_t *r, const char *extra)
{
    char conf[1024], err[256];
    memset(r, 0, sizeof *r);
    snprintf(conf, sizeof conf,
             "feeds = ({ name = \"a\"; type = \"synthetic\"; }, "
             "{ name = \"b\"; type = \"synthetic\"; %s });\n",
             extra);
    if (tg_config_load_string(&r->cfg, conf, strlen(conf), "test", NULL, err, sizeof err)) {
        fprintf(stderr, "config: %s\n", err);
        return -1;
    }
    if (tg_metrics_create(&r->m))
        return -1;
    /* feed index 1: the stamp must say which feed a tick came from */
    return tg_feed_init(&r->f, &r->cfg, 1, 1024, r->m, NULL, NULL);
}

static void rig_fini(rig_t *r)
{
    tg_feed_destroy(&r->f);
    tg_metrics_destroy(r->m);
    tg_config_free(&r->cfg);
}

static tg_tick_t tick(const char *sym, tg_dec_t price)
{
    tg_tick_t t;
    memset(&t, 0, sizeof t);
    t.sym_len = (uint8_t)strlen(sym);
    memcpy(t.symbol, sym, t.sym_len + 1);
    t.price = price;
    t.size = TG_DEC(1);
    t.flags = TG_TICK_TRADE;
    return t;
}

/* Ticks the engine would see (status records skipped). */
static size_t drain(rig_t *r, tg_tick_t *out, size_t cap)
{
    tg_tick_t buf[64];
    size_t got = 0, n;
    while ((n = tg_ring_pop(r->f.ring, buf, 64)) > 0)
        for (size_t i = 0; i < n; i++)
            if (!(buf[i].flags & TG_TICK_STATUS) && got < cap)
                out[got++] = buf[i];
    return got;
}

TG_TEST(stamps_and_pushes_in_order)
{
    rig_t r;
    TG_CHECK_EQ_INT(rig_init(&r, ""), 0);
    tg_tick_t in[3] = {tick("AAA", TG_DEC(10)), tick("BBB", TG_DEC(20)), tick("AAA", TG_DEC(11))};
    int64_t before = tg_now_ns();
    tg_feed_emit(&r.f, in, 3);
    int64_t after = tg_now_ns();
    tg_tick_t out[8];
    TG_CHECK_EQ_INT(drain(&r, out, 8), 3);
    TG_CHECK_EQ_STR(out[0].symbol, "AAA");
    TG_CHECK_EQ_STR(out[1].symbol, "BBB");
    TG_CHECK_EQ_INT(out[2].price, TG_DEC(11));
    for (int i = 0; i < 3; i++) {
        TG_CHECK_EQ_INT(out[i].feed, 1);
        TG_CHECK(out[i].ts >= before && out[i].ts <= after);
    }
    TG_CHECK_EQ_INT(atomic_load(&r.f.m_received->v), 3);
    TG_CHECK(atomic_load(&r.f.last_tick_ns) > 0);
    tg_feed_emit(&r.f, in, 0); /* nothing: nothing pushed */
    TG_CHECK_EQ_INT(drain(&r, out, 8), 0);
    rig_fini(&r);
}

TG_TEST(symbol_map_then_filter)
{
    rig_t r;
    TG_CHECK_EQ_INT(rig_init(&r, "symbols = [\"BTCUSD\", \"ETHUSD\"]; "
                                 "symbol_map = ( [\"X:BTC\", \"BTCUSD\"], [\"X:ETH\", \"ETHUSD\"] );"),
                    0);
    tg_tick_t in[4] = {tick("X:BTC", TG_DEC(50000)), tick("DOGE", TG_DEC(1)),
                       tick("ETHUSD", TG_DEC(3000)), tick("X:SOL", TG_DEC(100))};
    tg_feed_emit(&r.f, in, 4);
    tg_tick_t out[8];
    TG_CHECK_EQ_INT(drain(&r, out, 8), 2);
    TG_CHECK_EQ_STR(out[0].symbol, "BTCUSD"); /* renamed, then let through */
    TG_CHECK_EQ_INT(out[0].sym_len, 6);
    TG_CHECK_EQ_STR(out[1].symbol, "ETHUSD");
    /* filtered ticks are neither rejected nor failures */
    for (int k = 1; k < TG_REJECT__COUNT; k++) /* [0] is "accepted": no series */
        if (r.f.m_rejected[k])
            TG_CHECK_EQ_INT(atomic_load(&r.f.m_rejected[k]->v), 0);
    TG_CHECK_EQ_INT(tg_feed_state(&r.f), TG_BREAKER_CLOSED);
    rig_fini(&r);
}

TG_TEST(rejects_counted_by_reason_and_dropped)
{
    rig_t r;
    TG_CHECK_EQ_INT(rig_init(&r, ""), 0);
    tg_tick_t in[4] = {tick("OK", TG_DEC(5)), tick("NEG", -TG_DEC(5)), tick("OK2", TG_DEC(6)),
                       tick("ZERO", 0)};
    in[3].flags = TG_TICK_TRADE;
    tg_tick_t badsize = tick("SZ", TG_DEC(5));
    badsize.size = -1;
    tg_feed_emit(&r.f, in, 4);
    tg_feed_emit(&r.f, &badsize, 1);
    tg_tick_t out[8];
    size_t n = drain(&r, out, 8);
    TG_CHECK_EQ_INT(n, 2);
    if (n == 2) {
        TG_CHECK_EQ_STR(out[0].symbol, "OK");
        TG_CHECK_EQ_STR(out[1].symbol, "OK2"); /* compacted in place, order kept */
    }
    TG_CHECK(atomic_load(&r.f.m_rejected[TG_REJECT_BAD_PRICE]->v) >= 1);
    TG_CHECK_EQ_INT(atomic_load(&r.f.m_rejected[TG_REJECT_BAD_SIZE]->v), 1);
    TG_CHECK_EQ_INT(atomic_load(&r.f.m_received->v), 5);
    rig_fini(&r);
}

int main(void)
{
    return tg_test_run();
}
