/* backoff.c - exponential backoff with jitter and clamp (see backoff.h). */
#include "tickgate/backoff.h"

#define NS_PER_MS 1000000LL

uint64_t tg_splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int64_t tg_backoff_ns(int64_t base_ms, int64_t max_ms, uint32_t attempt, uint64_t *rng)
{
    if (base_ms <= 0)
        return 0; /* no wait configured: retry at once */
    int64_t cap = max_ms < base_ms ? base_ms : max_ms;
    int64_t w = base_ms;
    for (uint32_t i = 1; i < attempt && w < cap; i++)
        w *= 2;
    if (w > cap)
        w = cap;
    int64_t j = (int64_t)(tg_splitmix64(rng) % (2 * TG_BACKOFF_JITTER_PERMILLE + 1)) -
                TG_BACKOFF_JITTER_PERMILLE;
    int64_t ns = w * (1000 + j) * (NS_PER_MS / 1000);
    int64_t lo = base_ms * NS_PER_MS / 2, hi = cap * NS_PER_MS;
    if (ns < lo)
        ns = lo;
    if (ns > hi)
        ns = hi;
    return ns;
}

void tg_backoff_init(tg_backoff_t *b, int64_t base_ms, int64_t max_ms, uint64_t seed)
{
    *b = (tg_backoff_t){.base_ms = base_ms, .max_ms = max_ms, .rng = seed};
}

int64_t tg_backoff_next(tg_backoff_t *b)
{
    if (b->attempt < UINT32_MAX)
        b->attempt++;
    return tg_backoff_ns(b->base_ms, b->max_ms, b->attempt, &b->rng);
}

void tg_backoff_reset(tg_backoff_t *b)
{
    b->attempt = 0;
}
