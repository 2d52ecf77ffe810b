/* feed_synthetic.c - seeded geometric random walk (the embedded default feed).
 *
 * Pacing mirrors the peer servers (../shared/peers): a 1 ms timer emits every
 * tick due at `rate` since start; when more than 100 ms behind, the excess is
 * skipped and counted, so an overloaded process shows fewer ticks, not a
 * growing backlog.
 *
 * Each symbol starts at its reference level (the feed's `levels`, else the
 * bundled table tg_default_levels, else a seeded level in 20..520) and moves
 * by a random step of up to +-`step_bp` basis points per tick (integer
 * arithmetic only) in whole price units: cents, or for a symbol starting below
 * 100.00 the power of ten nearest below 1 bp of it (0.001 at 38, 0.00001 at
 * 0.15), so cheap symbols do not jump a cent per tick. Floor: 100 units.
 * tests/integration/tgkit.py mirrors this walk exactly; change both together.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tickgate/clock.h"
#include "tickgate/feed.h"

typedef struct synth {
    size_t nsym;
    char (*sym)[TG_SYMBOL_MAX + 1];
    tg_dec_t *price;
    tg_dec_t *unit; /* price granularity per symbol */
    int64_t step_bp;
    uint64_t rng;
    tg_tick_t batch[256];
} synth_t;

static uint64_t next_rand(uint64_t *s)
{
    /* xorshift64*: deterministic per seed, cheap, good enough for a demo walk */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Start level of `sym`: the feed's "SYM=PRICE" entries (validated by the
 * config loader), then the bundled table; false when neither has it. */
static bool start_level(const tg_feed_conf_t *c, const char *sym, tg_dec_t *out)
{
    size_t n = strlen(sym);
    for (size_t i = 0; i < c->levels.n; i++) {
        const char *e = c->levels.v[i];
        if (strncmp(e, sym, n) == 0 && e[n] == '=' && tg_dec_parse(e + n + 1, strlen(e + n + 1), out) == 0)
            return true;
    }
    for (size_t i = 0; i < tg_default_levels_len; i++)
        if (strcmp(tg_default_levels[i].symbol, sym) == 0)
            return tg_dec_parse(tg_default_levels[i].price, strlen(tg_default_levels[i].price),
                                out) == 0;
    return false;
}

/* Price unit for a walk starting at p: a cent, or below 100.00 the largest
 * power of ten not above 1 bp of p (at least 10^-8). */
static tg_dec_t unit_for(tg_dec_t p)
{
    tg_dec_t u = TG_DEC_SCALE / 100;
    while (u > 1 && u > p / 10000)
        u /= 10;
    return u;
}

static int synth_init(tg_feed_t *f)
{
    const tg_feed_conf_t *c = f->conf;
    synth_t *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    const char *const *names = (const char *const *)c->symbols.v;
    size_t n = c->symbols.n;
    if (n == 0) {
        names = tg_default_universe;
        n = tg_default_universe_len;
    }
    s->nsym = n;
    s->sym = calloc(n, sizeof *s->sym);
    s->price = calloc(n, sizeof *s->price);
    s->unit = calloc(n, sizeof *s->unit);
    if (!s->sym || !s->price || !s->unit)
        goto fail;
    s->rng = (uint64_t)c->seed * 0x9E3779B97F4A7C15ULL + 1;
    s->step_bp = c->step_bp > 0 ? c->step_bp : 5;
    for (size_t i = 0; i < n; i++) {
        strncpy(s->sym[i], names[i], TG_SYMBOL_MAX);
        /* drawn for every symbol, so a level table does not shift the others' walks */
        tg_dec_t seeded = (tg_dec_t)(2000 + next_rand(&s->rng) % 50000) * (TG_DEC_SCALE / 100);
        tg_dec_t p;
        if (!start_level(c, s->sym[i], &p))
            p = seeded; /* between 20.00 and 520.00, whole cents */
        s->unit[i] = unit_for(p);
        s->price[i] = p / s->unit[i] * s->unit[i];
        if (s->price[i] < 100 * s->unit[i])
            s->price[i] = 100 * s->unit[i];
    }
    f->priv = s;
    return 0;
fail:
    free(s->sym);
    free(s->price);
    free(s->unit);
    free(s);
    return -ENOMEM;
}

static void synth_destroy(tg_feed_t *f)
{
    synth_t *s = f->priv;
    free(s->sym);
    free(s->price);
    free(s->unit);
    free(s);
    f->priv = NULL;
}

static void make_tick(synth_t *s, size_t i, tg_tick_t *t)
{
    const tg_dec_t unit = s->unit[i];
    tg_dec_t p = s->price[i];
    /* step in [-step_bp, +step_bp] basis points, truncated to whole units */
    int64_t bp = (int64_t)(next_rand(&s->rng) % (uint64_t)(2 * s->step_bp + 1)) - s->step_bp;
    __int128 delta = (__int128)p * bp / 10000;
    tg_dec_t np = p + (tg_dec_t)(delta / unit) * unit;
    if (np == p)
        np += (bp > 0 ? unit : bp < 0 ? -unit : 0);
    if (np < 100 * unit)
        np = 100 * unit;
    s->price[i] = np;
    memset(t, 0, sizeof *t);
    t->flags = TG_TICK_TRADE | TG_TICK_QUOTE;
    t->price = np;
    t->size = (tg_dec_t)(1 + next_rand(&s->rng) % 500) * TG_DEC_SCALE;
    t->bid = np - unit;
    t->ask = np + unit;
    size_t len = strlen(s->sym[i]);
    memcpy(t->symbol, s->sym[i], len + 1);
    t->sym_len = (uint8_t)len;
}

static int synth_run(tg_feed_t *f)
{
    synth_t *s = f->priv;
    const int64_t rate = f->conf->rate > 0 ? f->conf->rate : 1000;
    const int64_t start = tg_mono_ns();
    int64_t produced = 0, skipped = 0;
    size_t next_sym = 0;
    struct timespec tick = {0, 1000000};
    while (!tg_feed_stopping(f)) {
        int64_t elapsed = tg_mono_ns() - start;
        int64_t due = (int64_t)((__int128)elapsed * rate / 1000000000LL) - skipped;
        int64_t behind = due - produced;
        if (behind > rate / 10 + 1) { /* more than 100 ms late: skip the excess */
            int64_t skip = behind - (rate / 10 + 1);
            skipped += skip;
            tg_counter_add(f->m_skipped, (uint64_t)skip);
            behind -= skip;
        }
        while (behind > 0 && !tg_feed_stopping(f)) {
            size_t k = behind < 256 ? (size_t)behind : 256;
            for (size_t j = 0; j < k; j++) {
                make_tick(s, next_sym, &s->batch[j]);
                next_sym = (next_sym + 1) % s->nsym;
            }
            tg_feed_emit(f, s->batch, k);
            produced += (int64_t)k;
            behind -= (int64_t)k;
        }
        tg_feed_poll(f);
        clock_nanosleep(CLOCK_MONOTONIC, 0, &tick, NULL);
    }
    return 0;
}

const tg_feed_ops_t tg_feed_synthetic_ops = {
    .type = "synthetic",
    .init = synth_init,
    .run = synth_run,
    .destroy = synth_destroy,
};
