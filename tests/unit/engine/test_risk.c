/* test_risk.c - volatility running sums and move deques (risk.h): exact
 * values worked out by hand (Python fractions), and incremental state equal
 * to a brute-force recomputation over long random runs. */
#include <errno.h>
#include <string.h>

#include "tg_test.h"
#include "tickgate/risk.h"

#define U TG_DEC_SCALE

TG_TEST(isqrt_is_floor_sqrt)
{
    for (unsigned long long x = 0; x < 200000; x++) {
        unsigned __int128 y = tg_risk_isqrt(x);
        TG_CHECK(y * y <= x && (y + 1) * (y + 1) > x);
    }
    unsigned __int128 big[] = {((unsigned __int128)1 << 126), ((unsigned __int128)1 << 127) - 1,
                               (unsigned __int128)999999999999ULL * 999999999999ULL,
                               (unsigned __int128)999999999999ULL * 999999999999ULL - 1};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        unsigned __int128 x = big[i], y = tg_risk_isqrt(x);
        TG_CHECK(y * y <= x && (y + 1) * (y + 1) > x);
    }
    TG_CHECK(tg_risk_isqrt((unsigned __int128)999999999999ULL * 999999999999ULL) ==
             999999999999ULL);
}

TG_TEST(volatility_exact_values)
{
    tg_risk_vol_t v;
    TG_CHECK_EQ_INT(tg_risk_vol_init(&v, 30), 0);
    /* 31 values alternating 100 / 101: returns +0.01 and round8(-1/101) = -0.00990099 */
    for (int i = 0; i <= 30; i++)
        tg_risk_vol_sample(&v, (i % 2 ? 101 : 100) * (__int128)U);
    TG_CHECK_EQ_INT(tg_risk_vol_samples(&v), 30);
    TG_CHECK(v.sum == 148515);
    TG_CHECK(v.sumsq == (__int128)29704440447015LL);
    /* Q = 891111156705225, Q/n = 29703705223507, sqrt -> 5450110 (5.45 %) */
    TG_CHECK_EQ_INT(tg_risk_vol_value(&v), 5450110);
    TG_CHECK(tg_risk_vol_ge(&v, 5450110) && !tg_risk_vol_ge(&v, 5450111));
    TG_CHECK(tg_risk_vol_le(&v, 5450110) && !tg_risk_vol_le(&v, 5450109));
    /* a flat value (the last was 100): returns 0 push the swings out one by one */
    for (int i = 0; i < 29; i++)
        tg_risk_vol_sample(&v, 100 * (__int128)U);
    TG_CHECK(tg_risk_vol_value(&v) > 0); /* one swing left */
    tg_risk_vol_sample(&v, 100 * (__int128)U);
    TG_CHECK_EQ_INT(tg_risk_vol_value(&v), 0);
    TG_CHECK(v.sum == 0 && v.sumsq == 0);
    /* reset forgets everything; the next sample is only a base */
    tg_risk_vol_reset(&v);
    tg_risk_vol_sample(&v, 5 * (__int128)U);
    TG_CHECK_EQ_INT(tg_risk_vol_samples(&v), 0);
    tg_risk_vol_sample(&v, 10 * (__int128)U);
    TG_CHECK_EQ_INT(tg_risk_vol_samples(&v), 1);
    TG_CHECK(v.sum == U); /* +100 % */
    /* from 0 the return is 0, and a huge jump is clamped, never overflowing */
    tg_risk_vol_reset(&v);
    tg_risk_vol_sample(&v, 0);
    tg_risk_vol_sample(&v, 7);
    TG_CHECK(v.sum == 0);
    tg_risk_vol_sample(&v, (__int128)1 << 100);
    TG_CHECK(v.sum == 100000000000000LL);
    tg_risk_vol_free(&v);
    tg_risk_vol_free(&v); /* twice is fine */
    TG_CHECK_EQ_INT(tg_risk_vol_init(&v, 0), -EINVAL);
}

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

TG_TEST(volatility_incremental_equals_recompute)
{
    tg_risk_vol_t v;
    TG_CHECK_EQ_INT(tg_risk_vol_init(&v, 300), 0);
    __int128 value = 1000000 * (__int128)U;
    int bad = 0;
    for (int i = 0; i < 200000; i++) {
        value += (__int128)(int64_t)(rnd() % 2000001) - 1000000;
        if (i % 50000 == 7)
            value = -value; /* short portfolios have negative values too */
        tg_risk_vol_sample(&v, value);
        if (i % 997 == 0) {
            __int128 s, s2;
            tg_risk_vol_recompute(&v, &s, &s2);
            bad += s != v.sum || s2 != v.sumsq;
        }
    }
    TG_CHECK_EQ_INT(bad, 0);
    TG_CHECK_EQ_INT(tg_risk_vol_samples(&v), 300);
    tg_risk_vol_free(&v);
}

TG_TEST(move_exact_values)
{
    tg_risk_move_t m;
    tg_dec_t mv, lo, hi;
    const int64_t s = 1000000000LL;
    TG_CHECK_EQ_INT(tg_risk_move_init(&m, 60 * s), 0);
    TG_CHECK_EQ_INT(tg_risk_move_push(&m, 0, 100 * U, &lo, &hi), 0);
    TG_CHECK(lo == 100 * U && hi == 100 * U);
    TG_CHECK_EQ_INT(tg_risk_move_value(100 * U, lo, hi), 0);
    tg_risk_move_push(&m, 10 * s, 101 * U, &lo, &hi);
    mv = tg_risk_move_value(101 * U, lo, hi);
    TG_CHECK_EQ_INT(mv, 1000000); /* +1 % vs the min 100 */
    tg_risk_move_push(&m, 20 * s, 102 * U, &lo, &hi);
    mv = tg_risk_move_value(102 * U, lo, hi);
    TG_CHECK_EQ_INT(mv, 2000000); /* +2 % */
    /* t = 70: the window is [10, 70], min 101 -> round8(1/101) = 0.00990099 */
    tg_risk_move_push(&m, 70 * s, 102 * U, &lo, &hi);
    mv = tg_risk_move_value(102 * U, lo, hi);
    TG_CHECK_EQ_INT(mv, 990099);
    /* t = 80: [20, 80], max 102 -> round8(-3/102) = -0.02941176 */
    tg_risk_move_push(&m, 80 * s, 99 * U, &lo, &hi);
    mv = tg_risk_move_value(99 * U, lo, hi);
    TG_CHECK_EQ_INT(mv, -2941176);
    /* the edge of the window is inclusive: t = 140 still sees t = 80 */
    tg_risk_move_push(&m, 140 * s, 99 * U, &lo, &hi);
    mv = tg_risk_move_value(99 * U, lo, hi);
    TG_CHECK_EQ_INT(mv, 0); /* 102 at 70 has left; max 99 */
    /* an older tick is taken at the last ts */
    tg_risk_move_push(&m, 1, 9900000000LL + 99000000, &lo, &hi);
    mv = tg_risk_move_value(9900000000LL + 99000000, lo, hi); /* 99.99 */
    TG_CHECK_EQ_INT(mv, 1000000); /* +1 % vs 99 */
    tg_risk_move_free(&m);
    TG_CHECK_EQ_INT(tg_risk_move_init(&m, 0), -EINVAL);
}

TG_TEST(move_deques_equal_brute_force)
{
    enum { N = 60000 };
    static int64_t ts[N];
    static tg_dec_t px[N];
    tg_risk_move_t m;
    const int64_t w = 5000000000LL;
    TG_CHECK_EQ_INT(tg_risk_move_init(&m, w), 0);
    int64_t t = 0;
    tg_dec_t p = 100 * U;
    int bad = 0;
    uint32_t most = 0;
    for (int i = 0; i < N; i++) {
        t += (int64_t)(rnd() % 20000000); /* 0-20 ms apart */
        p += (tg_dec_t)(rnd() % 2000001) - 1000000;
        if (p < U)
            p = U;
        ts[i] = t;
        px[i] = p;
        tg_dec_t mv, lo, hi;
        tg_risk_move_push(&m, t, p, &lo, &hi);
        mv = tg_risk_move_value(p, lo, hi);
        if (tg_risk_move_points(&m) > most)
            most = tg_risk_move_points(&m);
        if (i % 101)
            continue;
        lo = p;
        hi = p;
        for (int j = i; j >= 0 && ts[j] >= t - w; j--) {
            if (px[j] < lo)
                lo = px[j];
            if (px[j] > hi)
                hi = px[j];
        }
        /* same rounding as risk.c, done in long double-free integer steps */
        __int128 n1 = ((__int128)p - lo) * U, n2 = ((__int128)p - hi) * U;
        __int128 q1 = n1 / lo, r1 = n1 % lo, q2 = n2 / hi, r2 = n2 % hi;
        if (2 * r1 > lo || (2 * r1 == lo && (q1 & 1)))
            q1++;
        if (-2 * r2 > hi || (-2 * r2 == hi && (q2 & 1)))
            q2--;
        tg_dec_t want = q1 >= -q2 ? (tg_dec_t)q1 : (tg_dec_t)q2;
        bad += want != mv;
    }
    TG_CHECK_EQ_INT(bad, 0);
    TG_CHECK(most < 2000); /* a random walk keeps the deques short */
    tg_risk_move_free(&m);
}

/* The deques as they were before ticks were held back (one push, then the
 * eviction, per tick): the reference the held-back path must equal on every
 * tick, the drop of the oldest at TG_RISK_MOVE_MAX_POINTS included. */
typedef struct {
    int64_t w, last;
    tg_risk_deque_t min, max;
} ref_move_t;

static void ref_room(tg_risk_deque_t *d)
{
    if (tg_deque_grow(d, 16, TG_RISK_MOVE_MAX_POINTS) == -ENOSPC)
        tg_deque_pop_front(d);
}

static void ref_push(ref_move_t *r, int64_t ts, tg_dec_t p, tg_dec_t *lo, tg_dec_t *hi)
{
    if (ts < r->last)
        ts = r->last;
    r->last = ts;
    tg_risk_pt_t pt = {ts, p};
    while (r->min.len && tg_deque_back(&r->min).price >= p)
        tg_deque_pop_back(&r->min);
    while (r->max.len && tg_deque_back(&r->max).price <= p)
        tg_deque_pop_back(&r->max);
    ref_room(&r->min);
    tg_deque_push(&r->min, pt);
    ref_room(&r->max);
    tg_deque_push(&r->max, pt);
    while (tg_deque_front(&r->min).ts < ts - r->w)
        tg_deque_pop_front(&r->min);
    while (tg_deque_front(&r->max).ts < ts - r->w)
        tg_deque_pop_front(&r->max);
    *lo = tg_deque_front(&r->min).price;
    *hi = tg_deque_front(&r->max).price;
}

/* lo/hi of every tick equal the window's min and max by brute force and the
 * per-tick reference, over runs made to hit each branch of the held-back
 * path: repeated prices (ties decide which point is the min), ticks out of
 * order (taken at the last ts), bursts at one ts, windows shorter than the
 * gaps (a min or max expires every few ticks) and longer than the run. */
TG_TEST(move_held_back_ticks_equal_brute_force_every_tick)
{
    enum { N = 40000 };
    static int64_t ts[N];
    static tg_dec_t px[N];
    const int64_t windows[] = {1, 3000, 50000, 400000, 1000000000LL};
    int bad = 0, fast = 0;
    for (size_t wi = 0; wi < sizeof windows / sizeof windows[0]; wi++) {
        for (int mode = 0; mode < 3; mode++) {
            tg_risk_move_t m;
            ref_move_t r = {.w = windows[wi], .last = INT64_MIN};
            TG_CHECK_EQ_INT(tg_risk_move_init(&m, windows[wi]), 0);
            int64_t t = 1000;
            tg_dec_t p = 100 * U;
            for (int i = 0; i < N; i++) {
                uint64_t x = rnd();
                if (x % 7 == 0)
                    t -= (int64_t)(rnd() % 5000); /* out of order: taken at the last ts */
                else if (x % 7 != 1)
                    t += (int64_t)(rnd() % 10000); /* 1 in 7 at the same ts */
                if (mode == 0)
                    p += (tg_dec_t)(rnd() % 5) - 2; /* many repeats */
                else if (mode == 1)
                    p += (tg_dec_t)(rnd() % 2001) - 1000;
                else /* long runs one way */
                    p += (i / 500) % 2 ? (tg_dec_t)(rnd() % 3) : -(tg_dec_t)(rnd() % 3);
                if (p < U)
                    p = U;
                tg_dec_t lo, hi, rlo, rhi;
                uint32_t before = m.npend;
                TG_CHECK_EQ_INT(tg_risk_move_push(&m, t, p, &lo, &hi), 0);
                fast += m.npend > before;
                ref_push(&r, t, p, &rlo, &rhi);
                /* a caller may flush after any push (the book: when it is due) */
                if ((x >> 8) % 5 == 0 || (tg_risk_move_flush_due(&m) && (x >> 8) % 2))
                    TG_CHECK_EQ_INT(tg_risk_move_flush(&m), 0);
                ts[i] = r.last;
                px[i] = p;
                tg_dec_t blo = p, bhi = p;
                for (int j = i; j >= 0 && ts[j] >= r.last - windows[wi]; j--) {
                    blo = px[j] < blo ? px[j] : blo;
                    bhi = px[j] > bhi ? px[j] : bhi;
                }
                bad += lo != blo || hi != bhi || lo != rlo || hi != rhi;
                /* nothing held back: the deques are the per-tick ones, point for point */
                if (m.npend == 0) {
                    bad += m.min.len != r.min.len || m.max.len != r.max.len;
                    for (uint32_t j = 0; j < m.min.len && j < r.min.len; j++)
                        bad += memcmp(&tg_deque_at(&m.min, j), &tg_deque_at(&r.min, j),
                                      sizeof(tg_risk_pt_t)) != 0;
                    for (uint32_t j = 0; j < m.max.len && j < r.max.len; j++)
                        bad += memcmp(&tg_deque_at(&m.max, j), &tg_deque_at(&r.max, j),
                                      sizeof(tg_risk_pt_t)) != 0;
                }
            }
            tg_risk_move_free(&m);
            tg_deque_free(&r.min);
            tg_deque_free(&r.max);
        }
    }
    TG_CHECK_EQ_INT(bad, 0);
    TG_CHECK(fast > N); /* the held-back path ran (not only the per-tick one) */
}

/* At the deques' bound the oldest point is dropped, which the held-back path
 * cannot see from lo/hi: near it every tick goes to the deques, and lo/hi
 * equal the per-tick reference through the drops and back. */
TG_TEST(move_at_the_deque_bound_equals_per_tick)
{
    const int n = (int)TG_RISK_MOVE_MAX_POINTS + 3000;
    tg_risk_move_t m;
    ref_move_t r = {.w = INT64_MAX / 4, .last = INT64_MIN};
    TG_CHECK_EQ_INT(tg_risk_move_init(&m, r.w), 0);
    int bad = 0;
    tg_dec_t p = 10 * U;
    for (int i = 0; i < 2 * n; i++) {
        /* rising for n ticks (every point stays in the min deque), then falling
         * (the max deque) */
        p += i < n ? 1 : -1;
        tg_dec_t lo, hi, rlo, rhi;
        TG_CHECK_EQ_INT(tg_risk_move_push(&m, i, p, &lo, &hi), 0);
        ref_push(&r, i, p, &rlo, &rhi);
        bad += lo != rlo || hi != rhi;
    }
    TG_CHECK_EQ_INT(bad, 0);
    TG_CHECK(r.min.len == TG_RISK_MOVE_MAX_POINTS || r.max.len == TG_RISK_MOVE_MAX_POINTS);
    tg_risk_move_free(&m);
    tg_deque_free(&r.min);
    tg_deque_free(&r.max);
}

/* ---- review (issue 16): the held-back path against the per-tick reference ---- */

/* The deques equal the reference's point for point (call with nothing held back). */
static int deques_differ(const tg_risk_move_t *m, const ref_move_t *r)
{
    int bad = m->min.len != r->min.len || m->max.len != r->max.len;
    for (uint32_t j = 0; j < m->min.len && j < r->min.len; j++)
        bad +=
            memcmp(&tg_deque_at(&m->min, j), &tg_deque_at(&r->min, j), sizeof(tg_risk_pt_t)) != 0;
    for (uint32_t j = 0; j < m->max.len && j < r->max.len; j++)
        bad +=
            memcmp(&tg_deque_at(&m->max, j), &tg_deque_at(&r->max, j), sizeof(tg_risk_pt_t)) != 0;
    return bad;
}

/* One run: a push per (ts, price), with an optional flush after it, checked
 * against the reference on every tick; 0 when equal throughout. `bad_deq`
 * counts deque differences separately from lo/hi differences (`bad_lohi`). */
static void run_pair(int64_t w, const int64_t *ts, const tg_dec_t *px, const uint8_t *fl, int n,
                     int *bad_lohi, int *bad_deq, int *fast)
{
    tg_risk_move_t m;
    ref_move_t r = {.w = w, .last = INT64_MIN};
    TG_CHECK_EQ_INT(tg_risk_move_init(&m, w), 0);
    for (int i = 0; i < n; i++) {
        tg_dec_t lo, hi, rlo, rhi;
        uint32_t before = m.npend;
        TG_CHECK_EQ_INT(tg_risk_move_push(&m, ts[i], px[i], &lo, &hi), 0);
        *fast += m.npend > before;
        ref_push(&r, ts[i], px[i], &rlo, &rhi);
        *bad_lohi += lo != rlo || hi != rhi;
        if (fl[i] == 1 || (fl[i] == 2 && tg_risk_move_flush_due(&m)))
            TG_CHECK_EQ_INT(tg_risk_move_flush(&m), 0);
        if (m.npend == 0) {
            *bad_deq += deques_differ(&m, &r);
            *bad_deq += tg_risk_move_points(&m) != r.min.len + r.max.len;
        }
    }
    TG_CHECK_EQ_INT(tg_risk_move_flush(&m), 0);
    *bad_deq += deques_differ(&m, &r);
    tg_risk_move_free(&m);
    tg_deque_free(&r.min);
    tg_deque_free(&r.max);
}

/* Timestamps made to hit the held-back path's edges, in segments: bursts of
 * exactly TG_RISK_MOVE_PEND - 1, PEND, PEND + 1 and 2 * PEND ticks at one ts
 * (the buffer exactly full, then one more); steps of exactly the window (the
 * held lo/hi at the window's first ns, then one ns past it), w - 1, w + 1;
 * gaps far beyond the window (feed gap, session rollover); jumps far back
 * (taken at the last ts); plateaus and two-value alternations of the price
 * (ties decide which point is the min/max), monotone runs of PEND +- 1. */
TG_TEST(review_move_adversarial_timestamps_equal_per_tick)
{
    enum { N = 30000 };
    static int64_t ts[N];
    static tg_dec_t px[N];
    static uint8_t fl[N];
    const int64_t windows[] = {1, 2, 16, 1000, 1000000, 3600LL * 1000000000LL};
    const int64_t starts[] = {0, -4000000000000000000LL, 1700000000000000000LL};
    int bad_lohi = 0, bad_deq = 0, fast = 0;
    for (size_t wi = 0; wi < sizeof windows / sizeof windows[0]; wi++) {
        for (size_t si = 0; si < sizeof starts / sizeof starts[0]; si++) {
            const int64_t w = windows[wi];
            int64_t t = starts[si];
            tg_dec_t p = 100 * U;
            int i = 0;
            while (i < N) {
                int seg = 1 + (int)(rnd() % 40), tmode = (int)(rnd() % 6), pmode = (int)(rnd() % 6);
                static const int bursts[] = {TG_RISK_MOVE_PEND - 1, TG_RISK_MOVE_PEND,
                                             TG_RISK_MOVE_PEND + 1, 2 * TG_RISK_MOVE_PEND, 1};
                int burst = bursts[rnd() % 5];
                tg_dec_t a = p, b = p + (tg_dec_t)(rnd() % 3) + 1;
                for (int j = 0; j < seg && i < N; j++, i++) {
                    switch (tmode) {
                    case 0: /* bursts at one ts */
                        if (j % burst == 0)
                            t += 1 + (int64_t)(rnd() % 3);
                        break;
                    case 1: /* exactly the window, or one ns either side */
                        t += w + (int64_t)(rnd() % 3) - 1;
                        break;
                    case 2: /* fractions of the window: points expire at its first ns */
                        t += w / (1 + (int64_t)(rnd() % 4)) + (w < 4 ? 1 : 0);
                        break;
                    case 3: /* a gap far beyond the window, now and then */
                        t += j == 0 ? w * 7 + 1000000000000LL : (int64_t)(rnd() % 3);
                        break;
                    case 4: /* far back (taken at the last ts), or nearly the window back */
                        t -= rnd() % 2 ? w * 3 + 12345 : w - 1;
                        break;
                    default:
                        t += (int64_t)(rnd() % (uint64_t)(w + 1));
                    }
                    switch (pmode) {
                    case 0: /* plateau */
                        break;
                    case 1: /* two values alternating: ties at both ends */
                        p = j % 2 ? a : b;
                        break;
                    case 2: /* monotone up for PEND +- 1 ticks */
                        p += 1;
                        break;
                    case 3:
                        p -= 1;
                        break;
                    case 4:
                        p += (tg_dec_t)(rnd() % 2001) - 1000;
                        break;
                    default:
                        p += (tg_dec_t)(rnd() % 5) - 2;
                    }
                    if (p < U)
                        p = U;
                    ts[i] = t;
                    px[i] = p;
                    uint64_t x = rnd() % 16;
                    fl[i] = x == 0 ? 1 : x < 8 ? 2 : 0; /* flush: now, when due, or never */
                }
            }
            run_pair(w, ts, px, fl, N, &bad_lohi, &bad_deq, &fast);
        }
    }
    TG_CHECK_EQ_INT(bad_lohi, 0);
    TG_CHECK_EQ_INT(bad_deq, 0);
    TG_CHECK(fast > N); /* the held-back path ran */
}

/* Same, never flushed from outside (the book without tg_book_on_tick_done:
 * the push after a full buffer flushes), and flushed after every push. */
TG_TEST(review_move_flush_never_or_always_equal_per_tick)
{
    enum { N = 20000 };
    static int64_t ts[N];
    static tg_dec_t px[N];
    static uint8_t fl[N];
    const int64_t windows[] = {1, 5000, 100000, 1000000000LL};
    int bad_lohi = 0, bad_deq = 0, fast = 0;
    for (int mode = 0; mode < 2; mode++) {
        for (size_t wi = 0; wi < sizeof windows / sizeof windows[0]; wi++) {
            int64_t t = 1;
            tg_dec_t p = 50 * U;
            for (int i = 0; i < N; i++) {
                uint64_t x = rnd();
                t += x % 5 == 0    ? 0
                     : x % 11 == 0 ? -(int64_t)(rnd() % 20000)
                                   : (int64_t)(rnd() % 4000);
                p += (tg_dec_t)(rnd() % 7) - 3;
                ts[i] = t;
                px[i] = p;
                fl[i] = (uint8_t)mode; /* 0: never; 1: after every push */
            }
            run_pair(windows[wi], ts, px, fl, N, &bad_lohi, &bad_deq, &fast);
        }
    }
    TG_CHECK_EQ_INT(bad_lohi, 0);
    TG_CHECK_EQ_INT(bad_deq, 0);
    TG_CHECK(fast > N);
}

/* Prices at the ends of tg_dec_t (and around 0): the compares and the flush's
 * sentinels (smin starts at INT64_MAX, smax at INT64_MIN). lo/hi per tick. */
static void extreme_prices(tg_dec_t *px, int64_t *ts, uint8_t *fl, int n, int plateau)
{
    static const tg_dec_t vals[] = {TG_DEC_MAX, TG_DEC_MIN, TG_DEC_MAX - 1, TG_DEC_MIN + 1, 0,
                                    -1,         1,          100 * U};
    int64_t t = 0;
    tg_dec_t p = vals[0];
    for (int i = 0; i < n; i++) {
        if (!plateau || i % (3 * TG_RISK_MOVE_PEND) == 0)
            p = vals[rnd() % 8];
        t += (int64_t)(rnd() % 3);
        ts[i] = t;
        px[i] = p;
        fl[i] = (uint8_t)(rnd() % 3);
    }
}

/* Extreme-price runs (plateaus and not) through two windows; counts the
 * ticks whose lo/hi and whose deques differ from the per-tick reference. */
static void extreme_runs(int *bad_lohi, int *bad_deq)
{
    enum { N = 20000 };
    static int64_t ts[N];
    static tg_dec_t px[N];
    static uint8_t fl[N];
    int fast = 0;
    for (int plateau = 0; plateau < 2; plateau++) {
        extreme_prices(px, ts, fl, N, plateau);
        run_pair(40, ts, px, fl, N, bad_lohi, bad_deq, &fast);
        run_pair(1000000, ts, px, fl, N, bad_lohi, bad_deq, &fast);
    }
}

TG_TEST(review_move_extreme_prices_lo_hi_equal_per_tick)
{
    int bad_lohi = 0, bad_deq = 0;
    extreme_runs(&bad_lohi, &bad_deq);
    TG_CHECK_EQ_INT(bad_lohi, 0);
    (void)bad_deq; /* review_move_extreme_prices_deques_equal_per_tick */
}

/* The deques themselves after a flush of a batch of INT64_MAX (INT64_MIN)
 * prices: the batch's last point must be kept, as a push per tick keeps it. */
TG_TEST(review_move_extreme_prices_deques_equal_per_tick)
{
    int bad_lohi = 0, bad_deq = 0;
    extreme_runs(&bad_lohi, &bad_deq);
    TG_CHECK_EQ_INT(bad_deq, 0);
}

/* The first point at a time so low that its window starts at INT64_MIN (the
 * "nothing seen" lo_ts/hi_ts): it must still be its own min and max. */
TG_TEST(review_move_first_point_window_at_int64_min)
{
    const int64_t w = 1000;
    tg_risk_move_t m;
    TG_CHECK_EQ_INT(tg_risk_move_init(&m, w), 0);
    tg_dec_t lo = -7, hi = -7;
    TG_CHECK_EQ_INT(tg_risk_move_push(&m, INT64_MIN + w, 100 * U, &lo, &hi), 0);
    TG_CHECK_EQ_INT(lo, 100 * U);
    TG_CHECK_EQ_INT(hi, 100 * U);
    TG_CHECK_EQ_INT(tg_risk_move_push(&m, INT64_MIN + w + 1, 101 * U, &lo, &hi), 0);
    TG_CHECK_EQ_INT(lo, 100 * U);
    TG_CHECK_EQ_INT(hi, 101 * U);
    tg_risk_move_free(&m);
}

/* Minimal case of the flush's sentinel: a held-back batch at TG_DEC_MAX (a
 * price a feed can send: 92233720368.54775807). The per-tick push keeps the
 * batch's last point in the min deque (nothing later undercuts it); the flush
 * starts smin at INT64_MAX and keeps a point only when x < smin. */
TG_TEST(review_move_flush_keeps_a_batch_at_dec_max)
{
    tg_risk_move_t m;
    ref_move_t r = {.w = 1000, .last = INT64_MIN};
    TG_CHECK_EQ_INT(tg_risk_move_init(&m, 1000), 0);
    tg_dec_t lo, hi;
    TG_CHECK_EQ_INT(tg_risk_move_push(&m, 0, U, &lo, &hi), 0);
    ref_push(&r, 0, U, &lo, &hi);
    for (int i = 1; i <= TG_RISK_MOVE_PEND; i++) {
        TG_CHECK_EQ_INT(tg_risk_move_push(&m, i, TG_DEC_MAX, &lo, &hi), 0);
        ref_push(&r, i, TG_DEC_MAX, &lo, &hi);
    }
    TG_CHECK_EQ_INT(tg_risk_move_flush(&m), 0);
    /* reference min deque: (0, 1.0), (16, DEC_MAX) */
    TG_CHECK_EQ_INT(r.min.len, 2);
    TG_CHECK_EQ_INT(m.min.len, r.min.len);
    TG_CHECK_EQ_INT(deques_differ(&m, &r), 0);
    TG_CHECK_EQ_INT(tg_risk_move_points(&m), r.min.len + r.max.len);
    tg_risk_move_free(&m);
    tg_deque_free(&r.min);
    tg_deque_free(&r.max);
}

int main(void)
{
    return tg_test_run();
}
