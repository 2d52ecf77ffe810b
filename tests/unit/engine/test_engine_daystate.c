/* test_engine_daystate.c - the engine's day state with a tg_daystate_source_t
 * (PostgreSQL's day_state, faked here) and the day_state rows it pushes
 * through the snapshot sink (captured here): start-up without feeds, a load
 * that failed, the session boundary. Threads: the engine thread pushes rows,
 * the test reads them under a lock; run under TSan by `make test`. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine_int.h"
#include "tg_test.h"
#include "tickgate/clock.h"
#include "tickgate/engine.h"
#include "tickgate/feed.h"

static const char conf_nofeed[] =
    "engine = { session_open = \"00:00\"; session_tz = \"UTC\"; };\n";
static const char conf_feed[] =
    "feeds = ({ name = \"main\"; type = \"synthetic\"; symbols = [\"AAA\"]; });\n"
    "engine = { session_open = \"00:00\"; session_tz = \"UTC\"; };\n";

/* the captured day_state rows */
static pthread_mutex_t rows_lock = PTHREAD_MUTEX_INITIALIZER;
static int day_rows;
static int64_t last_session, last_price_ts;

static size_t capture(void *ctx, const tg_snap_row_t *rows, size_t n)
{
    (void)ctx;
    pthread_mutex_lock(&rows_lock);
    for (size_t i = 0; i < n; i++)
        if (rows[i].kind == TG_SNAP_DAY_QUOTE || rows[i].kind == TG_SNAP_DAY_PORTFOLIO) {
            day_rows++;
            last_session = rows[i].d.session_start;
            if (rows[i].kind == TG_SNAP_DAY_QUOTE)
                last_price_ts = rows[i].d.price_ts;
        }
    pthread_mutex_unlock(&rows_lock);
    return n;
}

static int captured(void)
{
    pthread_mutex_lock(&rows_lock);
    int n = day_rows;
    day_rows = 0;
    pthread_mutex_unlock(&rows_lock);
    return n;
}

/* today's rows: AAA opened at 100, 15 traded, last at 110 */
static int load_rows(void *ctx, int64_t session_start, const tg_daystate_cb_t *cb)
{
    (void)ctx;
    (void)session_start;
    cb->on_quote(cb->arg, "AAA", TG_DEC(100), TG_DEC(15));
    cb->on_last(cb->arg, "AAA", TG_DEC(110), tg_now_ns());
    return 1;
}

static int load_fails(void *ctx, int64_t session_start, const tg_daystate_cb_t *cb)
{
    (void)ctx;
    (void)session_start;
    (void)cb;
    return -ECONNREFUSED;
}

static int load_nothing(void *ctx, int64_t session_start, const tg_daystate_cb_t *cb)
{
    (void)ctx;
    (void)session_start;
    (void)cb;
    return 0;
}

typedef struct env {
    tg_config_t cfg;
    tg_metrics_t *m;
    tg_feed_t feed;
    size_t nfeeds;
    tg_engine_t *e;
} env_t;

static int setup(env_t *v, const char *conf, int (*load)(void *, int64_t, const tg_daystate_cb_t *))
{
    memset(v, 0, sizeof *v);
    char err[256];
    if (tg_config_load_string(&v->cfg, conf, strlen(conf), "test", NULL, err, sizeof err) != 0) {
        fprintf(stderr, "config: %s\n", err);
        return -1;
    }
    v->nfeeds = v->cfg.n_feeds;
    if (tg_metrics_create(&v->m) ||
        (v->nfeeds && tg_feed_init(&v->feed, &v->cfg, 0, 1024, v->m, NULL, NULL)))
        return -1;
    if (tg_engine_create(&v->e, &v->cfg, v->nfeeds ? &v->feed : NULL, v->nfeeds, v->m, err,
                         sizeof err) != 0) {
        fprintf(stderr, "engine: %s\n", err);
        return -1;
    }
    if (v->nfeeds) {
        v->feed.wake = tg_engine_wake;
        v->feed.wake_arg = v->e;
    }
    tg_engine_sinks_t sinks = {.snapshots = {.push = capture}};
    tg_engine_set_sinks(v->e, &sinks);
    tg_daystate_source_t src = {.load = load};
    tg_engine_load_daystate(v->e, &src);
    captured();
    return tg_engine_start(v->e);
}

static void teardown(env_t *v)
{
    tg_engine_stop(v->e);
    tg_engine_destroy(v->e);
    if (v->nfeeds)
        tg_feed_destroy(&v->feed);
    tg_metrics_destroy(v->m);
    tg_config_free(&v->cfg);
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void trade(env_t *v, const char *sym, tg_dec_t price)
{
    tg_tick_t t;
    memset(&t, 0, sizeof t);
    t.flags = TG_TICK_TRADE;
    t.price = price;
    t.size = TG_DEC(1);
    t.ts = tg_now_ns();
    strcpy(t.symbol, sym);
    t.sym_len = (uint8_t)strlen(sym);
    tg_ring_push_wait(v->feed.ring, &t, 1);
    tg_engine_wake(v->e);
}

/* Before: the last-price replay published a quote naming e->feeds[0], NULL
 * without feeds: a crash at start-up. */
TG_TEST(no_feeds_with_restored_last_prices_starts)
{
    env_t v;
    TG_CHECK(setup(&v, conf_nofeed, load_rows) == 0);
    pause_ms(50);
    TG_CHECK(tg_engine_running(v.e));
    teardown(&v);
    /* no quote row from a node that replayed no price: it would drop the
     * stored last price */
}

/* Before: a failed load was followed by rows of the restarted figures,
 * overwriting the good rows of today ("newest ts wins"). */
TG_TEST(no_rows_for_the_session_after_a_failed_load)
{
    env_t v;
    TG_CHECK(setup(&v, conf_feed, load_fails) == 0);
    trade(&v, "AAA", TG_DEC(50));
    pause_ms(50);
    teardown(&v); /* the last rows pass */
    TG_CHECK_EQ_INT(captured(), 0);
    /* the same with a load that worked (and found nothing): rows go */
    TG_CHECK(setup(&v, conf_feed, load_nothing) == 0);
    trade(&v, "AAA", TG_DEC(50));
    pause_ms(50);
    teardown(&v);
    TG_CHECK(captured() >= 1);
}

#define DAY_NS (86400LL * 1000000000LL)

/* a baseline for p-late, a portfolio not on the book (yet) */
static int load_baseline(void *ctx, int64_t session_start, const tg_daystate_cb_t *cb)
{
    (void)ctx;
    (void)session_start;
    cb->on_portfolio(cb->arg, "p-late", false, TG_DEC(1000), 0, TG_DEC(900), 1);
    return 1;
}

/* Before: baselines loaded at start stayed in day_pf across the session
 * open, so a portfolio first put on a later day took yesterday's baseline.
 * The load is made to look like yesterday's and check_session to fire at
 * once (before the thread starts: no race). */
TG_TEST(baselines_of_another_session_go_at_the_session_open)
{
    env_t v;
    memset(&v, 0, sizeof v);
    char err[256];
    TG_CHECK(tg_config_load_string(&v.cfg, conf_nofeed, strlen(conf_nofeed), "test", NULL, err,
                                   sizeof err) == 0);
    TG_CHECK(tg_metrics_create(&v.m) == 0);
    TG_CHECK(tg_engine_create(&v.e, &v.cfg, NULL, 0, v.m, err, sizeof err) == 0);
    tg_daystate_source_t src = {.load = load_baseline};
    tg_engine_load_daystate(v.e, &src);
    TG_CHECK_EQ_INT(v.e->n_day_pf, 1);
    v.e->day_pf_session -= DAY_NS;
    v.e->next_session_ns = 0;
    TG_CHECK(tg_engine_start(v.e) == 0);
    pause_ms(50);
    tg_engine_stop(v.e);
    TG_CHECK_EQ_INT(v.e->n_day_pf, 0);
    teardown(&v);
}

/* Before: the rows took their session from the clock, so past the open but
 * before check_session ran they carried yesterday's figures under today's
 * session. Now they carry the session the engine last opened. */
TG_TEST(rows_carry_the_session_the_engine_opened)
{
    env_t v;
    TG_CHECK(setup(&v, conf_feed, load_nothing) == 0);
    tg_engine_stop(v.e); /* the thread is gone: this thread may pass rows */
    int64_t opened = v.e->session_ns;
    TG_CHECK(opened > 0);
    /* the engine still in the day before, as past the open instant before
     * check_session ran: the rows pass is of that day */
    v.e->session_ns = opened - DAY_NS;
    captured();
    TG_CHECK(tg__engine_daystate_rows(v.e));
    TG_CHECK(captured() >= 1); /* a new day for the rows: every portfolio again */
    pthread_mutex_lock(&rows_lock);
    int64_t got = last_session;
    pthread_mutex_unlock(&rows_lock);
    TG_CHECK(got == opened - DAY_NS);
    teardown(&v);
}

/* Before: price_ts was the quote's ts, which a bid/ask update advances: the
 * restored last trade price came back with the time of a later quote. */
TG_TEST(price_ts_is_the_trade_time)
{
    env_t v;
    TG_CHECK(setup(&v, conf_feed, load_nothing) == 0);
    int64_t t0 = tg_now_ns() - 5000000000LL;
    tg_tick_t t[2];
    memset(t, 0, sizeof t);
    t[0].flags = TG_TICK_TRADE;
    t[0].price = TG_DEC(50);
    t[0].size = TG_DEC(1);
    t[0].ts = t0;
    strcpy(t[0].symbol, "AAA");
    t[0].sym_len = 3;
    t[1] = t[0];
    t[1].flags = TG_TICK_QUOTE;
    t[1].bid = TG_DEC(49);
    t[1].ask = TG_DEC(51);
    t[1].ts = t0 + 1000000000LL;
    /* one push: no rows pass between the trade and the quote */
    tg_ring_push_wait(v.feed.ring, t, 2);
    tg_engine_wake(v.e);
    pause_ms(50);
    tg_engine_stop(v.e); /* the last rows pass */
    pthread_mutex_lock(&rows_lock);
    int64_t got = last_price_ts;
    pthread_mutex_unlock(&rows_lock);
    TG_CHECK(got == t0);
    teardown(&v);
}

int main(void)
{
    return tg_test_run();
}
