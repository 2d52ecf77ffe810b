/* feed_synthetic.c - seeded geometric random walk (the embedded default feed).
 *
 * Pacing mirrors the peer servers (../shared/peers): a 1 ms timer emits every
 * tick due at `rate` since start; when more than 100 ms behind, the excess is
 * skipped and counted, so an overloaded process shows fewer ticks, not a
 * growing backlog. Prices move in whole cents by a random step of up to
 * +-0.05% per tick (integer arithmetic only), floored at 1.00.
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
    if (!s->sym || !s->price)
        goto fail;
    s->rng = (uint64_t)c->seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < n; i++) {
        strncpy(s->sym[i], names[i], TG_SYMBOL_MAX);
        /* start between 20.00 and 520.00, whole cents, from the seed */
        s->price[i] = (tg_dec_t)(2000 + next_rand(&s->rng) % 50000) * (TG_DEC_SCALE / 100);
    }
    f->priv = s;
    return 0;
fail:
    free(s->sym);
    free(s->price);
    free(s);
    return -ENOMEM;
}

static void synth_destroy(tg_feed_t *f)
{
    synth_t *s = f->priv;
    free(s->sym);
    free(s->price);
    free(s);
    f->priv = NULL;
}

static void make_tick(synth_t *s, size_t i, tg_tick_t *t)
{
    const tg_dec_t cent = TG_DEC_SCALE / 100;
    tg_dec_t p = s->price[i];
    /* step in [-5, +5] basis points (+-0.05%), rounded to whole cents */
    int64_t bp = (int64_t)(next_rand(&s->rng) % 11) - 5;
    __int128 delta = (__int128)p * bp / 10000;
    tg_dec_t np = p + (tg_dec_t)(delta / cent) * cent;
    if (np == p)
        np += (bp > 0 ? cent : bp < 0 ? -cent : 0);
    if (np < 100 * cent)
        np = 100 * cent;
    s->price[i] = np;
    memset(t, 0, sizeof *t);
    t->flags = TG_TICK_TRADE | TG_TICK_QUOTE;
    t->price = np;
    t->size = (tg_dec_t)(1 + next_rand(&s->rng) % 500) * TG_DEC_SCALE;
    t->bid = np - cent;
    t->ask = np + cent;
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
