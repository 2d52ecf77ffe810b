/* test_portfolio_exact.c - exactness property (SPEC §4): after any sequence of
 * ticks and portfolio changes, the incremental state equals a from-scratch
 * recomputation exactly. Millions of random ticks (fewer under sanitizers,
 * env TG_SANITIZER), random puts/replaces/removes and session opens
 * interleaved, compared after every batch and, for a prefix, after every tick. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_test.h"
#include "tickgate/book.h"

#define NSYM 120
#define NPF 300

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
    uint64_t x = rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static int64_t rnd_range(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static char names[NSYM][16];
static tg_dec_t prices[NSYM];
static long long n_alerts, n_updates;

static void on_event(void *ud, const tg_book_event_t *ev)
{
    (void)ud;
    if (ev->type == TG_BOOK_EV_ALERT)
        n_alerts++;
    else if (ev->type == TG_BOOK_EV_PORTFOLIO)
        n_updates++;
}

/* A random valid portfolio: weights summing <= 1, tight thresholds so the
 * rules flip often, shorts and odd quantities included. */
static void random_spec(tg_portfolio_spec_t *s, int id, tg_holding_spec_t *hbuf,
                        tg_price_level_t *lv)
{
    static char idbuf[NPF][16];
    static char owner[] = "u";
    memset(s, 0, sizeof *s);
    snprintf(idbuf[id], sizeof idbuf[id], "p-%d", id);
    s->id = idbuf[id];
    s->owner = owner;
    s->cash = rnd() % 4 == 0 ? 0 : rnd_range(-TG_DEC(1000), TG_DEC(100000));
    size_t nh = (size_t)rnd_range(0, 20);
    int64_t wleft = TG_DEC_SCALE;
    size_t k = 0;
    for (size_t i = 0; i < nh; i++) {
        int sidx = (int)(rnd() % NSYM);
        bool dup = false;
        for (size_t j = 0; j < k; j++)
            dup |= strcmp(hbuf[j].symbol, names[sidx]) == 0;
        if (dup)
            continue;
        tg_holding_spec_t *h = &hbuf[k++];
        memset(h, 0, sizeof *h);
        strcpy(h->symbol, names[sidx]);
        h->quantity = rnd() % 10 == 0 ? -rnd_range(1, TG_DEC(500)) : rnd_range(1, TG_DEC(1000));
        h->cost_basis = rnd() % 8 == 0 ? 0 : rnd_range(-TG_DEC(1000), TG_DEC(50000));
        int64_t w = rnd() % 5 == 0 ? 0 : rnd_range(0, wleft / 3);
        h->target_weight = w;
        wleft -= w;
    }
    s->holdings = hbuf;
    s->n_holdings = k;
    tg_alert_settings_defaults(&s->alerts, NULL);
    s->alerts.rebalance_drift = rnd() % 6 == 0 ? 0 : rnd_range(100000, 10000000);
    s->alerts.drift_relative = rnd() % 2 ? 0 : rnd_range(1000000, 50000000);
    s->alerts.loss_limit = rnd() % 6 == 0 ? 0 : rnd_range(100000, 5000000);
    s->alerts.gain_target = rnd() % 6 == 0 ? 0 : rnd_range(100000, 50000000);
    s->alerts.hysteresis = rnd_range(0, 50000000);
    if (k && rnd() % 2) {
        strcpy(lv[0].symbol, hbuf[0].symbol);
        lv[0].level = rnd_range(TG_DEC(1), TG_DEC(500));
        s->alerts.price_above = &lv[0];
        s->alerts.n_price_above = 1;
        strcpy(lv[1].symbol, hbuf[0].symbol);
        lv[1].level = rnd_range(TG_DEC(1), TG_DEC(500));
        s->alerts.price_below = &lv[1];
        s->alerts.n_price_below = 1;
    }
}

static bool check(tg_book_t *b, tg_book_state_t *inc, tg_book_state_t *full, long long tick)
{
    char err[256] = "";
    tg_book_capture_state(b, inc);
    tg_book_recompute_full(b, full);
    if (!tg_book_equal_state(inc, full, err, sizeof err)) {
        fprintf(stderr, "after tick %lld: %s\n", tick, err);
        return false;
    }
    return true;
}

static tg_dec_t next_price(int s)
{
    tg_dec_t p = prices[s];
    switch (rnd() % 16) {
    case 0: /* big jump */
        p = rnd_range(1, TG_DEC(1000));
        break;
    case 1: /* tiny price, many fractional digits */
        p = rnd_range(1, 1000000);
        break;
    default: { /* random walk, up to +-1% */
        int64_t bp = rnd_range(-100, 100);
        p += (tg_dec_t)((__int128)p * bp / 10000) + rnd_range(-3, 3);
        if (p <= 0)
            p = rnd_range(1, TG_DEC(10));
        break;
    }
    }
    prices[s] = p;
    return p;
}

TG_TEST(incremental_equals_full_recompute)
{
    tg_symtab_t t;
    tg_book_t *b;
    tg_holding_spec_t hbuf[20];
    tg_price_level_t lv[2];
    char err[256] = "";
    const bool san = getenv("TG_SANITIZER") != NULL;
    const long long total = san ? 200000 : 2000000;
    const long long per_tick_checks = san ? 5000 : 20000;
    const int batch = 1000;

    tg_symtab_init(&t, 0);
    tg_book_options_t o = {.symtab = &t, .on_event = on_event, .alert_seed = 7};
    TG_CHECK_EQ_INT(tg_book_create(&o, &b), 0);
    tg_book_state_t *inc = tg_book_state_new(), *full = tg_book_state_new();
    uint32_t ids[NSYM];
    for (int i = 0; i < NSYM; i++) {
        snprintf(names[i], sizeof names[i], "S%03d", i);
        ids[i] = (uint32_t)tg_symtab_intern(&t, names[i], strlen(names[i]));
        prices[i] = rnd_range(TG_DEC(5), TG_DEC(500));
    }
    for (int i = 0; i < NPF; i++) {
        tg_portfolio_spec_t s;
        random_spec(&s, i, hbuf, lv);
        int rc = tg_book_put_portfolio(b, &s, 0, err, sizeof err);
        if (rc)
            fprintf(stderr, "put: %s\n", err);
        TG_CHECK_EQ_INT(rc, 0);
    }
    TG_CHECK(check(b, inc, full, 0));

    bool ok = true;
    long long failures = 0, changes = 0;
    for (long long tick = 1; tick <= total && ok; tick++) {
        int s = (int)(rnd() % NSYM);
        tg_book_on_tick(b, ids[s], next_price(s), tick);
        if (tick <= per_tick_checks && !check(b, inc, full, tick))
            ok = false, failures++;
        if (tick % 97 == 0) {
            /* a live change: replace (holdings added/removed, cash), create, or remove */
            int id = (int)(rnd() % NPF);
            char idb[16];
            snprintf(idb, sizeof idb, "p-%d", id);
            if (rnd() % 4 == 0) {
                tg_book_remove_portfolio(b, idb, tick);
            } else {
                tg_portfolio_spec_t sp;
                random_spec(&sp, id, hbuf, lv);
                if (tg_book_put_portfolio(b, &sp, tick, err, sizeof err) != 0) {
                    fprintf(stderr, "put: %s\n", err);
                    ok = false, failures++;
                }
            }
            changes++;
        }
        if (tick % 50000 == 0)
            tg_book_session_open(b, tick);
        if (tick % batch == 0 && !check(b, inc, full, tick))
            ok = false, failures++;
    }
    TG_CHECK_EQ_INT(failures, 0);
    TG_CHECK(changes > 1000);
    TG_CHECK(n_alerts > 100);      /* the rules really did flip */
    fprintf(stderr, "  %lld ticks, %lld changes, %lld portfolio events, %lld alert events\n", total,
            changes, n_updates, n_alerts);
    tg_book_state_free(inc);
    tg_book_state_free(full);
    tg_book_destroy(b);
    tg_symtab_free(&t);
}

int main(void)
{
    return tg_test_run();
}
