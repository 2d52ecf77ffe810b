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
 * usage: engine_bench [R1|R2|all] [ticks_r1] [ticks_r2]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tickgate/clock.h"
#include "tickgate/book.h"

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

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

typedef struct result {
    double ticks_per_s, ns_per_holding, p50_ns, p99_ns;
} result_t;

static void run(const char *name, int npf, int nh, int nsym, long long nticks, long long nbase)
{
    tg_symtab_t t;
    tg_book_t *b;
    char err[256];
    uint32_t *ids = malloc(sizeof *ids * (size_t)nsym);
    tg_dec_t *price = malloc(sizeof *price * (size_t)nsym);
    long long *held = calloc((size_t)nsym, sizeof *held);

    tg_symtab_init(&t, 0);
    tg_book_options_t o = {.symtab = &t, .on_event = on_event, .alert_seed = 1};
    tg_book_create(&o, &b);
    for (int i = 0; i < nsym; i++) {
        char s[16];
        snprintf(s, sizeof s, "S%05d", i);
        ids[i] = (uint32_t)tg_symtab_intern(&t, s, strlen(s));
        price[i] = (tg_dec_t)(20 + rnd() % 500) * TG_DEC_SCALE + (tg_dec_t)(rnd() % 100) * 1000000;
    }

    int64_t t0 = tg_mono_ns();
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
                    dup |= strcmp(hs[k].symbol, tg_symtab_name(&t, ids[sym])) == 0;
            } while (dup);
            strcpy(hs[h].symbol, tg_symtab_name(&t, ids[sym]));
            hs[h].quantity = (tg_dec_t)(1 + rnd() % 500) * TG_DEC_SCALE;
            hs[h].cost_basis = hs[h].quantity / TG_DEC_SCALE * price[sym];
            hs[h].target_weight = 4500000; /* 0.045 x 20 = 0.9, cash 10% */
            held[sym]++;
        }
        s.holdings = hs;
        s.n_holdings = (size_t)nh;
        tg_alert_settings_defaults(&s.alerts, NULL);
        if (tg_book_put_portfolio(b, &s, 0, err, sizeof err) < 0) {
            fprintf(stderr, "put: %s\n", err);
            exit(1);
        }
    }
    for (int i = 0; i < nsym; i++)
        tg_book_on_tick(b, ids[i], price[i], 0);
    double build_s = (double)(tg_mono_ns() - t0) / 1e9;

    /* the tick stream, generated up front so the timing is the book's alone */
    long long n = nticks > nbase ? nticks : nbase;
    uint32_t *tsym = malloc(sizeof *tsym * (size_t)n);
    tg_dec_t *tpx = malloc(sizeof *tpx * (size_t)n);
    long long touched = 0;
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
        if (i < nticks)
            touched += held[s];
    }

    /* throughput pass */
    n_events = 0;
    int64_t a = tg_mono_ns();
    for (long long i = 0; i < nticks; i++)
        tg_book_on_tick(b, ids[tsym[i]], tpx[i], i);
    int64_t el = tg_mono_ns() - a;
    result_t inc = {.ticks_per_s = (double)nticks * 1e9 / (double)el,
                    .ns_per_holding = (double)el / (double)touched};
    long long inc_events = n_events;

    /* latency pass: each tick timed (adds ~20-40 ns of clock reads per tick) */
    long long nl = nticks < 1000000 ? nticks : 1000000;
    int64_t *lat = malloc(sizeof *lat * (size_t)nl);
    for (long long i = 0; i < nl; i++) {
        int64_t s0 = tg_mono_ns();
        tg_book_on_tick(b, ids[tsym[i]], tpx[i] + 1, i);
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

    printf("%s: %d portfolios x %d holdings over %d symbols (build %.2f s), "
           "avg %.1f positions per tick\n",
           name, npf, nh, nsym, build_s, (double)touched / (double)nticks);
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
    free(hs);
    free(held);
    free(price);
    free(ids);
    tg_book_destroy(b);
    tg_symtab_free(&t);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "all";
    long long t1 = argc > 2 ? atoll(argv[2]) : 5000000;
    long long t2 = argc > 3 ? atoll(argv[3]) : 500000;
    if (!strcmp(which, "R1") || !strcmp(which, "all"))
        run("R1", 1000, 20, 500, t1, 2000);
    if (!strcmp(which, "R2") || !strcmp(which, "all"))
        run("R2", 100000, 20, 5000, t2, 20);
    return 0;
}
