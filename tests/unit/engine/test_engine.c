/* test_engine.c - the engine thread end to end, without a gateway: ticks
 * pushed into a feed ring come out as quote / portfolio / alert messages on an
 * output ring, in order, with per-key seq; a batch holding several ticks of
 * one symbol is valued once (conflation, counted) while price alerts still see
 * every tick; breaker status records become feed_status on `system`; control
 * commands (put/remove portfolio) apply between batches. Threads: the test is
 * the feed thread and the gateway; run under TSan by `make test`. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tg_test.h"
#include "tickgate/clock.h"
#include "tickgate/engine.h"
#include "tickgate/feed.h"
#include "tickgate/portfolio.h"

static const char conf[] =
    "feeds = ({ name = \"main\"; type = \"synthetic\"; symbols = [\"AAA\", \"BBB\"]; });\n"
    "engine = { portfolios_file = \"@PF@\"; };\n"
    "limits = { portfolio_max_hz = 1000; };\n";

static const char portfolios[] =
    "{\"portfolios\":[{\"id\":\"p-1\",\"owner\":\"u-1\",\"shared_with\":[\"u-2\"],\"cash\":\"0\","
    "\"holdings\":[{\"symbol\":\"AAA\",\"quantity\":\"10\",\"cost_basis\":\"1000\","
    "\"target_weight\":\"0.5\"},{\"symbol\":\"BBB\",\"quantity\":\"10\",\"cost_basis\":\"1000\","
    "\"target_weight\":\"0.5\"}],\"alerts\":{\"rebalance_drift\":0,\"loss_limit\":0,"
    "\"gain_target\":0,\"price_above\":{\"AAA\":\"150\"}}}]}";

typedef struct env {
    tg_config_t cfg;
    tg_metrics_t *m;
    tg_feed_t feed;
    tg_engine_t *e;
    tg_ring_t *out;
    char dir[64];
} env_t;

static int setup(env_t *v)
{
    memset(v, 0, sizeof *v);
    strcpy(v->dir, "/tmp/tg-engine-XXXXXX");
    if (!mkdtemp(v->dir))
        return -1;
    char path[128], text[512];
    snprintf(path, sizeof path, "%s/p.json", v->dir);
    FILE *f = fopen(path, "w");
    fputs(portfolios, f);
    fclose(f);
    const char *at = strstr(conf, "@PF@");
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - conf), conf, path, at + 4);
    char err[256];
    if (tg_config_load_string(&v->cfg, text, strlen(text), "test", NULL, err, sizeof err) != 0) {
        fprintf(stderr, "config: %s\n", err);
        return -1;
    }
    if (tg_metrics_create(&v->m) || tg_feed_init(&v->feed, &v->cfg, 0, 1024, v->m, NULL, NULL))
        return -1;
    if (tg_engine_create(&v->e, &v->cfg, &v->feed, 1, v->m, err, sizeof err) != 0) {
        fprintf(stderr, "engine: %s\n", err);
        return -1;
    }
    v->feed.wake = tg_engine_wake;
    v->feed.wake_arg = v->e;
    if (tg_engine_add_output(v->e, &v->out, NULL, NULL))
        return -1;
    return tg_engine_start(v->e);
}

static void teardown(env_t *v)
{
    tg_engine_stop(v->e);
    tg_msg_t *m;
    while (tg_ring_pop(v->out, &m, 1) == 1)
        tg_msg_unref(m);
    tg_engine_destroy(v->e);
    tg_ring_destroy(v->out); /* the consumer side owns the output ring */
    tg_feed_destroy(&v->feed);
    tg_metrics_destroy(v->m);
    tg_config_free(&v->cfg);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", v->dir);
    (void)!system(cmd);
}

static tg_tick_t trade(const char *sym, tg_dec_t price)
{
    tg_tick_t t;
    memset(&t, 0, sizeof t);
    t.flags = TG_TICK_TRADE;
    t.price = price;
    t.size = TG_DEC(1);
    t.ts = tg_now_ns();
    strcpy(t.symbol, sym);
    t.sym_len = (uint8_t)strlen(sym);
    return t;
}

/* Collect messages until `n` of `type` arrived or 2 s passed. */
static int collect(env_t *v, tg_msg_t **got, int cap, int type, int n)
{
    int k = 0, of_type = 0;
    int64_t end = tg_mono_ns() + 2000000000LL;
    while (of_type < n && tg_mono_ns() < end && k < cap) {
        tg_msg_t *m;
        if (tg_ring_pop(v->out, &m, 1) == 1) {
            got[k++] = m;
            of_type += m->type == type;
        } else {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
    return k;
}

static void release(tg_msg_t **got, int n)
{
    for (int i = 0; i < n; i++)
        tg_msg_unref(got[i]);
}

static int count(tg_msg_t **got, int n, int type, const char *needle)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        if (got[i]->type == type && (!needle || memmem(got[i]->json, got[i]->json_len, needle,
                                                       strlen(needle))))
            c++;
    return c;
}

TG_TEST(quotes_in_order_with_seq_and_portfolio_updates)
{
    env_t v;
    TG_CHECK(setup(&v) == 0);
    tg_tick_t t[4] = {trade("AAA", TG_DEC(100)), trade("BBB", TG_DEC(100)),
                      trade("AAA", TG_DEC(101)), trade("AAA", TG_DEC(102))};
    /* one at a time: nothing conflated */
    for (int i = 0; i < 4; i++) {
        tg_ring_push_wait(v.feed.ring, &t[i], 1);
        tg_engine_wake(v.e);
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    tg_msg_t *got[64];
    int n = collect(&v, got, 64, TG_MSG_QUOTE, 4);
    TG_CHECK_EQ_INT(count(got, n, TG_MSG_QUOTE, NULL), 4);
    uint64_t last_a = 0;
    for (int i = 0; i < n; i++)
        if (got[i]->type == TG_MSG_QUOTE && !strcmp(got[i]->key_name, "AAA")) {
            TG_CHECK_EQ_INT(got[i]->seq, last_a + 1);
            last_a = got[i]->seq;
        }
    TG_CHECK_EQ_INT(last_a, 3);
    TG_CHECK(count(got, n, TG_MSG_QUOTE, "\"price\":102,") == 1);
    release(got, n);
    /* the portfolio follows: value = 10*102 + 10*100 = 2020 */
    n = collect(&v, got, 64, TG_MSG_PORTFOLIO, 1);
    int last = -1;
    for (int i = 0; i < n; i++)
        if (got[i]->type == TG_MSG_PORTFOLIO)
            last = i;
    TG_CHECK(last >= 0);
    if (last >= 0) {
        TG_CHECK(memmem(got[last]->json, got[last]->json_len, "\"value\":2020,", 13) != NULL);
        TG_CHECK(tg_msg_acl_has(got[last], "u-1") && tg_msg_acl_has(got[last], "u-2"));
        TG_CHECK(!tg_msg_acl_has(got[last], "u-3"));
    }
    release(got, n);
    teardown(&v);
}

TG_TEST(batch_conflates_valuation_but_price_alerts_see_every_tick)
{
    env_t v;
    TG_CHECK(setup(&v) == 0);
    /* 160 then back to 100 in one batch: valuation sees only 100, the
     * price_above 150 alert must still fire (and then resolve). */
    tg_tick_t t[3] = {trade("AAA", TG_DEC(100)), trade("AAA", TG_DEC(160)),
                      trade("AAA", TG_DEC(100))};
    tg_ring_push_wait(v.feed.ring, t, 3); /* one push: one batch */
    tg_engine_wake(v.e);
    tg_msg_t *got[64];
    int n = collect(&v, got, 64, TG_MSG_ALERT, 2);
    TG_CHECK_EQ_INT(count(got, n, TG_MSG_QUOTE, NULL), 3);
    TG_CHECK_EQ_INT(count(got, n, TG_MSG_ALERT, "\"state\":\"firing\""), 1);
    TG_CHECK_EQ_INT(count(got, n, TG_MSG_ALERT, "\"state\":\"resolved\""), 1);
    release(got, n);
    size_t len;
    char *text = tg_metrics_render(v.m, &len);
    TG_CHECK(text && strstr(text, "tickgate_engine_conflated_total 2"));
    free(text);
    teardown(&v);
}

TG_TEST(breaker_status_becomes_feed_status_and_system_alert)
{
    env_t v;
    TG_CHECK(setup(&v) == 0);
    tg_tick_t st;
    memset(&st, 0, sizeof st);
    st.flags = TG_TICK_STATUS;
    st.ts = tg_now_ns();
    st.price = 2; /* open */
    strcpy(st.symbol, "stale");
    st.sym_len = 5;
    tg_ring_push_wait(v.feed.ring, &st, 1);
    st.price = 0; /* closed */
    strcpy(st.symbol, "recovered");
    st.sym_len = 9;
    tg_ring_push_wait(v.feed.ring, &st, 1);
    tg_engine_wake(v.e);
    tg_msg_t *got[64];
    int n = collect(&v, got, 64, TG_MSG_ALERT, 2);
    TG_CHECK_EQ_INT(count(got, n, TG_MSG_FEED_STATUS, "\"state\":\"open\",\"reason\":\"stale\""), 1);
    TG_CHECK_EQ_INT(count(got, n, TG_MSG_FEED_STATUS, "\"state\":\"closed\""), 1);
    TG_CHECK_EQ_INT(count(got, n, TG_MSG_ALERT, "\"rule\":\"feed_stale\""), 2);
    uint64_t seq = 0;
    for (int i = 0; i < n; i++)
        if (got[i]->channel == TG_CH_SYSTEM) {
            TG_CHECK_EQ_INT(got[i]->seq, seq + 1);
            seq = got[i]->seq;
        }
    TG_CHECK_EQ_INT(seq, 4);
    release(got, n);
    teardown(&v);
}

TG_TEST(control_queue_puts_and_removes_portfolios)
{
    env_t v;
    TG_CHECK(setup(&v) == 0);
    tg_portfolio_spec_t *spec = calloc(1, sizeof *spec);
    char err[256];
    const char *body = "{\"owner\":\"u-9\",\"cash\":\"5\",\"holdings\":[]}";
    TG_CHECK(tg_portfolio_parse_json(body, strlen(body), "p-9", &v.cfg, spec, err, sizeof err) == 0);
    TG_CHECK(tg_engine_put_portfolio(v.e, spec) == 0);
    tg_msg_t *got[64];
    int n = collect(&v, got, 64, TG_MSG_PORTFOLIO, 2);
    int found = 0;
    for (int i = 0; i < n; i++)
        found += got[i]->type == TG_MSG_PORTFOLIO && !strcmp(got[i]->key_name, "p-9");
    TG_CHECK(found >= 1);
    release(got, n);
    TG_CHECK(tg_engine_remove_portfolio(v.e, "p-9") == 0);
    n = collect(&v, got, 64, TG_MSG_PORTFOLIO_REMOVED, 1);
    TG_CHECK_EQ_INT(count(got, n, TG_MSG_PORTFOLIO_REMOVED, NULL), 1);
    release(got, n);
    teardown(&v);
}

int main(void)
{
    return tg_test_run();
}
