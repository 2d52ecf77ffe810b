/* engine_bench.c - portfolio book throughput: incremental valuation per tick
 * versus recomputing the whole book per tick (issue 3).
 *
 *   R1 = 1,000 portfolios x 20 holdings over 500 symbols
 *   R2 = 100,000 portfolios x 20 holdings over 5,000 symbols
 * Uniform random ticks (random walk, +-0.1% steps), no conflation, every
 * tick goes through tg_book_on_tick (price alerts + valuation + drift, loss,
 * gain rules + events to a counting callback). Reports ticks/s, ns per
 * affected holding, p50/p99 per-tick latency, and the same for the baseline
 * (tg_book_recompute_full after each price) run for fewer ticks.
 *
 * With a fourth argument `bars`, the throughput pass also runs with OHLCV bars
 * on (issue 15): every tick is a trade that also goes through tg_bars_on_trade
 * (five intervals), with tg_bars_poll every 1,000 ticks and a counting emit
 * callback (partial bars at most once a second of bar time, finals as
 * intervals end; ts advances 1 us per tick). Passes alternate off/on five
 * times on the same ticks; the best and the median of each are reported (the
 * machine is shared: the best is the least disturbed).
 *
 * With a 4th argument `rules`, each scenario runs twice back to back: as
 * above, then with every SPEC §13 risk rule on every portfolio (concentration,
 * volatility over 300 s, a move watch on two of its symbols), the engine's
 * once-a-second tg_book_risk_tick included (called whenever a wall-clock
 * second has passed, as the engine does). Tick ts advance 1 µs per tick.
 *
 * usage: engine_bench [R1|R2|all] [ticks_r1] [ticks_r2] [bars|rules|rules-first|rules-ab]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tickgate/bars.h"
#include "tickgate/book.h"
#include "tickgate/clock.h"

void tg__book_set_price(tg_book_t *b, uint32_t sym, tg_dec_t price);

static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static long long n_events;
static void on_event(void *ud, const tg_book_event_t *ev)
{
    (void)ud;
    (void)ev;
    n_events++;
}

static bool with_bars;
static long long n_bars;
static void on_bar(void *ud, uint32_t sym, tg_bar_iv_t iv, const tg_bar_t *bar, bool final)
{
    (void)ud;
    (void)sym;
    (void)iv;
    (void)bar;
    (void)final;
    n_bars++;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One throughput pass over the first nticks ticks, bars on or off; ticks/s. */
static double pass(tg_book_t *b, tg_bars_t *bars, const uint32_t *ids, const uint32_t *tsym,
                   const tg_dec_t *tpx, long long nticks, int64_t *bar_ts)
{
    int64_t a = tg_mono_ns();
    for (long long i = 0; i < nticks; i++) {
        tg_book_on_tick(b, ids[tsym[i]], tpx[i], i);
        if (bars) {
            int64_t ts = (*bar_ts += 1000);
            tg_bars_on_trade(bars, ids[tsym[i]], ts, tpx[i], TG_DEC(100));
            if (i % 1000 == 0)
                tg_bars_poll(bars, ts);
        }
    }
    return (double)nticks * 1e9 / (double)(tg_mono_ns() - a);
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

typedef struct result {
    double ticks_per_s, ns_per_holding, p50_ns, p99_ns;
} result_t;

static bool with_rules;

/* the engine calls tg_book_risk_tick once a wall-clock second */
static inline void risk_clock(tg_book_t *b, int64_t *next, int64_t ts)
{
    if (!with_rules)
        return;
    int64_t now = tg_mono_ns();
    if (now >= *next) {
        *next = now + 1000000000LL;
        tg_book_risk_tick(b, ts);
    }
}

/* n ticks of a random walk (+-0.1 % a tick) over nsym symbols from price[],
 * which follows them; the arrays are the caller's to free. */
static void gen_ticks(int nsym, tg_dec_t *price, long long n, uint32_t **tsym_out,
                      tg_dec_t **tpx_out)
{
    uint32_t *tsym = malloc(sizeof *tsym * (size_t)n);
    tg_dec_t *tpx = malloc(sizeof *tpx * (size_t)n);
    if (!tsym || !tpx) {
        fprintf(stderr, "ticks: out of memory\n");
        exit(1);
    }
    for (long long i = 0; i < n; i++) {
        int s = (int)(rnd() % (uint64_t)nsym);
        tg_dec_t p = price[s];
        int64_t bp = (int64_t)(rnd() % 21) - 10; /* +-0.1% */
        p += p * bp / 10000 + (int64_t)(rnd() % 3) - 1;
        if (p < TG_DEC_SCALE)
            p = TG_DEC_SCALE;
        price[s] = p;
        tsym[i] = (uint32_t)s;
        tpx[i] = p;
    }
    *tsym_out = tsym;
    *tpx_out = tpx;
}

/* A book of npf portfolios x nh holdings over nsym symbols, the same for the
 * same rng state; with_rules decides whether every risk rule is on. ids and
 * price are filled the first time (nsym symbols interned in t). */
static tg_book_t *build(tg_symtab_t *tp, int npf, int nh, int nsym, uint32_t *ids,
                        tg_dec_t *price, long long *held)
{
    tg_symtab_t *t_ = tp;
    tg_book_t *b;
    char err[256];
    tg_book_options_t o = {.symtab = t_, .on_event = on_event, .alert_seed = 1};
    tg_book_create(&o, &b);
    for (int i = 0; i < nsym; i++) {
        char s[16];
        snprintf(s, sizeof s, "S%05d", i);
        ids[i] = (uint32_t)tg_symtab_intern(t_, s, strlen(s));
        price[i] = (tg_dec_t)(20 + rnd() % 500) * TG_DEC_SCALE + (tg_dec_t)(rnd() % 100) * 1000000;
    }

    tg_holding_spec_t *hs = calloc((size_t)nh, sizeof *hs);
    for (int p = 0; p < npf; p++) {
        char id[24];
        tg_portfolio_spec_t s;
        memset(&s, 0, sizeof s);
        snprintf(id, sizeof id, "p-%d", p);
        s.id = id;
        s.owner = "bench";
        s.cash = TG_DEC(10000);
        for (int h = 0; h < nh; h++) {
            int sym;
            bool dup;
            do {
                sym = (int)(rnd() % (uint64_t)nsym);
                dup = false;
                for (int k = 0; k < h; k++)
                    dup |= strcmp(hs[k].symbol, tg_symtab_name(t_, ids[sym])) == 0;
            } while (dup);
            strcpy(hs[h].symbol, tg_symtab_name(t_, ids[sym]));
            hs[h].quantity = (tg_dec_t)(1 + rnd() % 500) * TG_DEC_SCALE;
            hs[h].cost_basis = hs[h].quantity / TG_DEC_SCALE * price[sym];
            hs[h].target_weight = 4500000; /* 0.045 x 20 = 0.9, cash 10% */
            held[sym]++;
        }
        s.holdings = hs;
        s.n_holdings = (size_t)nh;
        tg_alert_settings_defaults(&s.alerts, NULL);
        tg_move_spec_t mv[2];
        if (with_rules) {
            s.alerts.concentration = 30000000; /* 0.3 */
            s.alerts.volatility = 5000000;     /* 0.05 */
            s.alerts.volatility_window_s = 300;
            for (int k = 0; k < 2; k++) {
                snprintf(mv[k].symbol, sizeof mv[k].symbol, "%s", hs[k].symbol);
                mv[k].pct = 1000000; /* 1 % */
                mv[k].window_s = 60;
            }
            s.alerts.move = mv;
            s.alerts.n_move = 2;
        }
        if (tg_book_put_portfolio(b, &s, 0, err, sizeof err) < 0) {
            fprintf(stderr, "put: %s\n", err);
            exit(1);
        }
    }
    for (int i = 0; i < nsym; i++)
        tg_book_on_tick(b, ids[i], price[i], 0);
    free(hs);
    return b;
}

static void run(const char *name, int npf, int nh, int nsym, long long nticks, long long nbase)
{
    tg_symtab_t t;
    tg_book_t *b;
    uint32_t *ids = malloc(sizeof *ids * (size_t)nsym);
    tg_dec_t *price = malloc(sizeof *price * (size_t)nsym);
    long long *held = calloc((size_t)nsym, sizeof *held);

    tg_symtab_init(&t, 0);
    int64_t t0 = tg_mono_ns();
    b = build(&t, npf, nh, nsym, ids, price, held);
    double build_s = (double)(tg_mono_ns() - t0) / 1e9;

    /* the tick stream, generated up front so the timing is the book's alone */
    long long n = nticks > nbase ? nticks : nbase;
    uint32_t *tsym;
    tg_dec_t *tpx;
    gen_ticks(nsym, price, n, &tsym, &tpx);
    long long touched = 0;
    for (long long i = 0; i < nticks; i++)
        touched += held[tsym[i]];

    /* the daemon's first two risk seconds set each volatility base and
     * allocate its ring (once per portfolio, at start): not part of a tick */
    if (with_rules) {
        tg_book_risk_tick(b, 0);
        tg_book_risk_tick(b, 1000000000LL);
    }
    /* throughput pass */
    n_events = 0;
    int64_t a = tg_mono_ns(), next_risk = a + 1000000000LL;
    for (long long i = 0; i < nticks; i++) {
        tg_book_on_tick(b, ids[tsym[i]], tpx[i], i * 1000);
        risk_clock(b, &next_risk, i * 1000);
    }
    int64_t el = tg_mono_ns() - a;
    result_t inc = {.ticks_per_s = (double)nticks * 1e9 / (double)el,
                    .ns_per_holding = (double)el / (double)touched};
    long long inc_events = n_events;

    if (with_bars) {
        tg_bars_t *bars = NULL;
        tg_bars_options_t bo = {.keep = 1440, .grace_ns = 1000000000LL, .session_open = "00:00",
                                .session_tz = "UTC", .emit = on_bar};
        if (tg_bars_create(&bars, &bo) != 0 || tg_bars_reserve(bars, (uint32_t)nsym) != 0) {
            fprintf(stderr, "bars: out of memory\n");
            exit(1);
        }
        for (int i = 0; i < nsym; i++) /* named up front, as the engine does at first sight */
            tg_bars_add_symbol(bars, ids[i], tg_symtab_name(&t, ids[i]),
                               strlen(tg_symtab_name(&t, ids[i])));
        int64_t bar_ts = 1700000000LL * 1000000000LL;
        double off[5], on[5];
        for (int r = 0; r < 5; r++) {
            off[r] = pass(b, NULL, ids, tsym, tpx, nticks, &bar_ts);
            on[r] = pass(b, bars, ids, tsym, tpx, nticks, &bar_ts);
        }
        /* the bars alone on the same trades: their own cost per tick, less
         * exposed to the neighbours than a ratio of two noisy rates */
        double alone = 1e300;
        for (int r = 0; r < 5; r++) {
            int64_t a0 = tg_mono_ns();
            for (long long i = 0; i < nticks; i++) {
                int64_t ts = (bar_ts += 1000);
                tg_bars_on_trade(bars, ids[tsym[i]], ts, tpx[i], TG_DEC(100));
                if (i % 1000 == 0)
                    tg_bars_poll(bars, ts);
            }
            double ns = (double)(tg_mono_ns() - a0) / (double)nticks;
            alone = ns < alone ? ns : alone;
        }
        qsort(off, 5, sizeof off[0], cmpd);
        qsort(on, 5, sizeof on[0], cmpd);
        printf("%s bars: best off %.0f on %.0f ticks/s (on/off %.3f); median off %.0f on %.0f "
               "(on/off %.3f); 5 alternating passes, %lld bar events, %llu late; bars alone "
               "%.1f ns/trade = %.1f %% of a best-off tick\n",
               name, off[4], on[4], on[4] / off[4], off[2], on[2], on[2] / off[2], n_bars,
               (unsigned long long)tg_bars_late(bars), alone, alone * off[4] / 1e7);
        fflush(stdout);
        tg_bars_destroy(bars);
    }

    /* latency pass: each tick timed (adds ~20-40 ns of clock reads per tick) */
    long long nl = nticks < 1000000 ? nticks : 1000000;
    int64_t *lat = malloc(sizeof *lat * (size_t)nl);
    for (long long i = 0; i < nl; i++) {
        int64_t s0 = tg_mono_ns();
        tg_book_on_tick(b, ids[tsym[i]], tpx[i] + 1, (nticks + i) * 1000);
        risk_clock(b, &next_risk, (nticks + i) * 1000);
        lat[i] = tg_mono_ns() - s0;
    }
    qsort(lat, (size_t)nl, sizeof *lat, cmp64);
    inc.p50_ns = (double)lat[nl / 2];
    inc.p99_ns = (double)lat[nl * 99 / 100];

    /* baseline: record the price, recompute the whole book */
    tg_book_state_t *st = tg_book_state_new();
    int64_t *blat = malloc(sizeof *blat * (size_t)nbase);
    long long btouched = 0;
    a = tg_mono_ns();
    for (long long i = 0; i < nbase; i++) {
        int64_t s0 = tg_mono_ns();
        tg__book_set_price(b, ids[tsym[i]], tpx[i]);
        tg_book_recompute_full(b, st);
        blat[i] = tg_mono_ns() - s0;
        btouched += (long long)npf * nh;
    }
    int64_t bel = tg_mono_ns() - a;
    qsort(blat, (size_t)nbase, sizeof *blat, cmp64);
    result_t base = {.ticks_per_s = (double)nbase * 1e9 / (double)bel,
                     .ns_per_holding = (double)bel / (double)btouched,
                     .p50_ns = (double)blat[nbase / 2],
                     .p99_ns = (double)blat[nbase * 99 / 100]};

    printf("%s%s: %d portfolios x %d holdings over %d symbols (build %.2f s), "
           "avg %.1f positions per tick\n",
           name, with_rules ? " + risk rules" : "", npf, nh, nsym, build_s,
           (double)touched / (double)nticks);
    printf("  incremental: %lld ticks  %12.0f ticks/s  %7.2f ns/affected holding  "
           "p50 %8.0f ns  p99 %8.0f ns  (%lld events)\n",
           nticks, inc.ticks_per_s, inc.ns_per_holding, inc.p50_ns, inc.p99_ns, inc_events);
    printf("  full recompute: %lld ticks  %9.1f ticks/s  %7.2f ns/holding  p50 %10.0f ns  "
           "p99 %10.0f ns\n",
           nbase, base.ticks_per_s, base.ns_per_holding, base.p50_ns, base.p99_ns);
    printf("  ratio incremental / full: %.0fx\n", inc.ticks_per_s / base.ticks_per_s);
    fflush(stdout);

    free(blat);
    free(lat);
    tg_book_state_free(st);
    free(tsym);
    free(tpx);
    free(held);
    free(price);
    free(ids);
    tg_book_destroy(b);
    tg_symtab_free(&t);
}

/* CPU time of this thread: a pass preempted by another process on a shared
 * machine is not charged for the time it did not run. */
static int64_t thread_cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

#define AB_PAIRS 9

/*
 * Rules A/B (issue 16's goal): two books built from the same random state,
 * one without and one with every risk rule on every portfolio, then
 * AB_PAIRS pairs of passes over the same ticks, off then on (the engine's
 * once-a-second risk sweep included on the rules side). Each pass is timed
 * in thread CPU time, and each pair gives one on/off ratio: a neighbour
 * slowing the machine for a while slows both passes of a pair alike, which
 * separate runs do not guarantee. Prints the median ratio and its range, and
 * best-of for each side.
 */
static void rules_ab(const char *name, int npf, int nh, int nsym, long long nticks)
{
    tg_symtab_t t;
    tg_symtab_init(&t, 0);
    uint32_t *ids = malloc(sizeof *ids * (size_t)nsym);
    tg_dec_t *price = malloc(sizeof *price * (size_t)nsym);
    long long *held = calloc((size_t)nsym, sizeof *held);
    uint64_t seed = rng;
    with_rules = false;
    tg_book_t *off = build(&t, npf, nh, nsym, ids, price, held);
    rng = seed;
    with_rules = true;
    tg_book_t *on = build(&t, npf, nh, nsym, ids, price, held);
    tg_book_risk_tick(on, 0); /* volatility bases and rings, as at the daemon's start */
    tg_book_risk_tick(on, 1000000000LL);
    uint32_t *tsym;
    tg_dec_t *tpx;
    gen_ticks(nsym, price, nticks, &tsym, &tpx);
    double r_off[AB_PAIRS], r_on[AB_PAIRS], ratio[AB_PAIRS];
    /* TG_AB_ONLY=on|off runs one side only (its passes still timed): for a
     * profile of one side (perf record), not for the ratio */
    const char *only = getenv("TG_AB_ONLY");
    for (int r = 0; r < 2 * AB_PAIRS; r++) {
        /* both sides read the clock per tick, as the engine loop does; only
         * the rules side has a risk sweep to run when a second has passed */
        bool rules = r % 2 == 1;
        if (only && strcmp(only, rules ? "on" : "off") != 0) {
            (rules ? r_on : r_off)[r / 2] = 1;
            if (rules)
                ratio[r / 2] = 1;
            continue;
        }
        tg_book_t *b = rules ? on : off;
        int64_t c0 = thread_cpu_ns(), next = tg_mono_ns() + 1000000000LL;
        int64_t ts0 = 2000000000LL + (int64_t)(r / 2) * nticks * 1000; /* time moves on */
        for (long long i = 0; i < nticks; i++) {
            int64_t ts = ts0 + i * 1000;
            tg_book_on_tick(b, ids[tsym[i]], tpx[i], ts);
            int64_t now = tg_mono_ns();
            if (now >= next) {
                next = now + 1000000000LL;
                if (rules)
                    tg_book_risk_tick(b, ts);
            }
        }
        (rules ? r_on : r_off)[r / 2] = (double)nticks * 1e9 / (double)(thread_cpu_ns() - c0);
        if (rules)
            ratio[r / 2] = r_on[r / 2] / r_off[r / 2];
    }
    qsort(r_off, AB_PAIRS, sizeof r_off[0], cmpd);
    qsort(r_on, AB_PAIRS, sizeof r_on[0], cmpd);
    qsort(ratio, AB_PAIRS, sizeof ratio[0], cmpd);
    printf("%s rules A/B: on/off median of %d pairs %.3f (range %.3f-%.3f); best off %.0f "
           "on %.0f ticks/s (%.3f); %lld ticks per pass, thread CPU time\n",
           name, AB_PAIRS, ratio[AB_PAIRS / 2], ratio[0], ratio[AB_PAIRS - 1],
           r_off[AB_PAIRS - 1], r_on[AB_PAIRS - 1], r_on[AB_PAIRS - 1] / r_off[AB_PAIRS - 1],
           nticks);
    fflush(stdout);
    free(tsym);
    free(tpx);
    tg_book_destroy(off);
    tg_book_destroy(on);
    free(held);
    free(price);
    free(ids);
    tg_symtab_free(&t);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "all";
    long long t1 = argc > 2 ? atoll(argv[2]) : 5000000;
    long long t2 = argc > 3 ? atoll(argv[3]) : 500000;
    if (argc > 4 && !strcmp(argv[4], "rules-ab")) {
        if (!strcmp(which, "R1") || !strcmp(which, "all"))
            rules_ab("R1", 1000, 20, 500, t1);
        if (!strcmp(which, "R2") || !strcmp(which, "all"))
            rules_ab("R2", 100000, 20, 5000, t2);
        return 0;
    }
    with_bars = argc > 4 && !strcmp(argv[4], "bars");
    /* "rules-first": the rules pass first, so that whatever the second pass of a
     * process costs (allocator, caches; the untouched full recompute shows it)
     * falls on the other side: run both orders and compare */
    bool first = argc > 4 && !strcmp(argv[4], "rules-first");
    bool compare = first || (argc > 4 && !strcmp(argv[4], "rules"));
    for (int pass = 0; pass < (compare ? 2 : 1); pass++) {
        with_rules = first ? pass == 0 : pass == 1;
        if (!strcmp(which, "R1") || !strcmp(which, "all"))
            run("R1", 1000, 20, 500, t1, 2000);
    }
    for (int pass = 0; pass < (compare ? 2 : 1); pass++) {
        with_rules = first ? pass == 0 : pass == 1;
        if (!strcmp(which, "R2") || !strcmp(which, "all"))
            run("R2", 100000, 20, 5000, t2, 20);
    }
    return 0;
}
