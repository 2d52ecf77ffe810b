/* test_backoff.c - the one backoff: doubling, cap, jitter spread, clamp. */
#include "tickgate/backoff.h"

#include <stdint.h>

#include "tg_test.h"

#define MS 1000000LL

TG_TEST(doubles_then_caps_with_clamped_jitter)
{
    uint64_t rng = 7;
    for (int rep = 0; rep < 2000; rep++) {
        for (uint32_t a = 1; a <= 8; a++) {
            int64_t w = tg_backoff_ns(100, 2000, a, &rng);
            int64_t nominal = 100LL << (a - 1);
            if (nominal > 2000)
                nominal = 2000;
            int64_t lo = nominal * 800 * MS / 1000, hi = nominal * 1200 * MS / 1000;
            if (hi > 2000 * MS)
                hi = 2000 * MS; /* the cap holds after jitter */
            if (lo < 50 * MS)
                lo = 50 * MS;
            TG_CHECK(w >= lo && w <= hi);
        }
    }
}

TG_TEST(jitter_spreads)
{
    uint64_t rng = 1;
    int64_t mn = INT64_MAX, mx = 0;
    for (int i = 0; i < 5000; i++) {
        int64_t w = tg_backoff_ns(1000, 60000, 1, &rng);
        mn = w < mn ? w : mn;
        mx = w > mx ? w : mx;
    }
    TG_CHECK(mn >= 800 * MS && mn < 820 * MS);
    TG_CHECK(mx <= 1200 * MS && mx > 1180 * MS);
}

TG_TEST(misconfigured_and_zero)
{
    uint64_t rng = 3;
    for (int i = 0; i < 100; i++) {
        int64_t w = tg_backoff_ns(1000, 100, 3, &rng); /* cap < base: base wins */
        TG_CHECK(w >= 500 * MS && w <= 1000 * MS);
    }
    TG_CHECK_EQ_INT(tg_backoff_ns(0, 0, 5, &rng), 0);
    TG_CHECK_EQ_INT(tg_backoff_ns(0, 1000, 5, &rng), 0);
    /* a huge attempt count does not overflow or loop for long */
    int64_t w = tg_backoff_ns(100, 2000, UINT32_MAX, &rng);
    TG_CHECK(w >= 1600 * MS && w <= 2000 * MS);
}

TG_TEST(state_next_and_reset)
{
    tg_backoff_t b;
    tg_backoff_init(&b, 100, 2000, 42);
    int64_t w1 = tg_backoff_next(&b);
    TG_CHECK(w1 >= 80 * MS && w1 <= 120 * MS);
    for (int i = 0; i < 10; i++)
        tg_backoff_next(&b);
    int64_t wn = tg_backoff_next(&b);
    TG_CHECK(wn >= 1600 * MS && wn <= 2000 * MS);
    tg_backoff_reset(&b);
    TG_CHECK_EQ_INT(b.attempt, 0);
    int64_t w2 = tg_backoff_next(&b);
    TG_CHECK(w2 >= 80 * MS && w2 <= 120 * MS);
    /* same seed, same sequence */
    tg_backoff_t x, y;
    tg_backoff_init(&x, 100, 2000, 9);
    tg_backoff_init(&y, 100, 2000, 9);
    for (int i = 0; i < 5; i++)
        TG_CHECK_EQ_INT(tg_backoff_next(&x), tg_backoff_next(&y));
}

int main(void)
{
    return tg_test_run();
}
