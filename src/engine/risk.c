/* risk.c - running sums for volatility, monotonic deques for moves (risk.h).
 *
 * Everything is integer arithmetic: the sums are exact, so incremental and
 * recomputed states agree bit for bit, and the square root is an integer
 * Newton iteration (no libm, no rounding mode, same answer everywhere).
 */
#include "tickgate/risk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define S TG_DEC_SCALE
#define RET_CLAMP 100000000000000LL /* |return| <= 10^14 units (10^6) */

typedef __int128 i128;
typedef unsigned __int128 u128;

/* round8(num / den) half-to-even, den != 0, clamped to ±RET_CLAMP. */
static int64_t ret8(i128 num, i128 den)
{
    if (den < 0) {
        num = -num;
        den = -den;
    }
    /* beyond the clamp whatever the rounding: avoid num * S overflowing */
    if ((num < 0 ? -num : num) / den >= RET_CLAMP / S)
        return num < 0 ? -RET_CLAMP : RET_CLAMP;
    i128 n = num * S;
    i128 q = n / den, r = n % den;
    i128 r2 = (r < 0 ? -r : r) * 2;
    if (r2 > den || (r2 == den && (q & 1)))
        q += n < 0 ? -1 : 1;
    return (int64_t)q;
}

unsigned __int128 tg_risk_isqrt(unsigned __int128 x)
{
    if (x < 2)
        return x;
    /* start above the root (2^ceil(bits/2)), then Newton steps decrease
     * monotonically to ⌊√x⌋ */
    int bits = 0;
    for (u128 t = x; t; t >>= 1)
        bits++;
    u128 y = (u128)1 << ((bits + 1) / 2);
    for (;;) {
        u128 z = (y + x / y) >> 1;
        if (z >= y)
            return y;
        y = z;
    }
}

int tg_risk_vol_init(tg_risk_vol_t *v, uint32_t window)
{
    if (!v || window == 0)
        return -EINVAL;
    memset(v, 0, sizeof *v);
    /* the ring itself comes with the first return (tg_risk_vol_sample): a
     * portfolio put allocates its holdings next to the previous portfolio's
     * instead of behind window * 8 bytes of ring that the per-tick path never
     * reads (measured: allocated here, every tick of R2 got 10 % slower) */
    v->cap = window;
    return 0;
}

void tg_risk_vol_free(tg_risk_vol_t *v)
{
    if (!v)
        return;
    free(v->r);
    memset(v, 0, sizeof *v);
}

void tg_risk_vol_reset(tg_risk_vol_t *v)
{
    v->n = v->head = 0;
    v->sum = v->sumsq = 0;
    v->has_last = false;
}

void tg_risk_vol_sample(tg_risk_vol_t *v, __int128 value)
{
    if (!v->cap)
        return;
    if (!v->has_last) {
        v->last = value;
        v->has_last = true;
        return;
    }
    if (!v->r && !(v->r = malloc(v->cap * sizeof *v->r))) {
        v->last = value; /* out of memory: no sample now; the next one spans 1 s */
        return;
    }
    int64_t r = v->last != 0 ? ret8(value - v->last, v->last) : 0;
    v->last = value;
    if (v->n == v->cap) { /* the oldest leaves the window */
        int64_t old = v->r[v->head];
        v->sum -= old;
        v->sumsq -= (i128)old * old;
        v->r[v->head] = r;
        v->head = (v->head + 1) % v->cap;
    } else {
        v->r[(v->head + v->n) % v->cap] = r;
        v->n++;
    }
    v->sum += r;
    v->sumsq += (i128)r * r;
}

/* Q = n·Σr² - (Σr)² >= 0 (Cauchy-Schwarz); fits: n <= 86400, |r| <= 10^14. */
static u128 vol_q(const tg_risk_vol_t *v)
{
    i128 q = (i128)v->n * v->sumsq - v->sum * v->sum;
    return q > 0 ? (u128)q : 0;
}

tg_dec_t tg_risk_vol_value(const tg_risk_vol_t *v)
{
    if (!v->n)
        return 0;
    u128 root = tg_risk_isqrt(vol_q(v) / v->n);
    return root > (u128)TG_DEC_MAX ? TG_DEC_MAX : (tg_dec_t)root;
}

bool tg_risk_vol_ge(const tg_risk_vol_t *v, tg_dec_t level)
{
    if (level <= 0)
        return true;
    if (!v->n)
        return false;
    return vol_q(v) >= (u128)v->n * (u128)level * (u128)level;
}

bool tg_risk_vol_le(const tg_risk_vol_t *v, tg_dec_t level)
{
    if (level < 0)
        return false;
    if (!v->n)
        return true;
    u128 l1 = (u128)level + 1;
    return vol_q(v) < (u128)v->n * l1 * l1;
}

void tg_risk_vol_recompute(const tg_risk_vol_t *v, __int128 *sum, __int128 *sumsq)
{
    i128 s = 0, s2 = 0;
    for (uint32_t i = 0; i < v->n; i++) {
        int64_t r = v->r[(v->head + i) % v->cap];
        s += r;
        s2 += (i128)r * r;
    }
    *sum = s;
    *sumsq = s2;
}

/* ---- move ------------------------------------------------------------------ */

int tg_risk_move_init(tg_risk_move_t *m, int64_t window_ns)
{
    if (!m || window_ns <= 0)
        return -EINVAL;
    memset(m, 0, sizeof *m);
    m->window_ns = window_ns;
    m->last_ts = INT64_MIN;
    m->lo_ts = m->hi_ts = INT64_MIN; /* nothing seen: the first push goes to the deques */
    return 0;
}

void tg_risk_move_free(tg_risk_move_t *m)
{
    if (!m)
        return;
    tg_deque_free(&m->min);
    tg_deque_free(&m->max);
    m->npend = 0;
}

/* Full deque: drop the oldest at the bound, or double. Out of line: rare. */
static __attribute__((noinline)) int dq_make_room(tg_risk_deque_t *d)
{
    int rc = tg_deque_grow(d, 16, TG_RISK_MOVE_MAX_POINTS);
    if (rc == -ENOSPC) { /* bounded: the oldest goes */
        tg_deque_pop_front(d);
        return 0;
    }
    return rc;
}

static inline int dq_push_back(tg_risk_deque_t *d, tg_risk_pt_t pt)
{
    if (__builtin_expect(tg_deque_full(d), 0) && dq_make_room(d) != 0)
        return -ENOMEM;
    tg_deque_push(d, pt);
    return 0;
}

static void dq_evict(tg_risk_deque_t *d, int64_t oldest)
{
    while (d->len && tg_deque_front(d).ts < oldest)
        tg_deque_pop_front(d);
}

/* One point into both deques. A point that can never again be the min (max)
 * of a window is dropped: an older one at a higher (lower) price leaves the
 * window first. */
static int dq_push_point(tg_risk_move_t *m, tg_risk_pt_t pt)
{
    while (m->min.len && tg_deque_back(&m->min).price >= pt.price)
        tg_deque_pop_back(&m->min);
    while (m->max.len && tg_deque_back(&m->max).price <= pt.price)
        tg_deque_pop_back(&m->max);
    if (dq_push_back(&m->min, pt) != 0 || dq_push_back(&m->max, pt) != 0)
        return -ENOMEM;
    return 0;
}

/* Room for k more at the back: doubling (16 first) up to the bound. */
static __attribute__((noinline)) int dq_grow_for(tg_risk_deque_t *d, uint32_t k)
{
    uint64_t nc = d->cap ? d->cap : 16;
    while (nc - d->len < k)
        nc *= 2;
    if (nc > TG_RISK_MOVE_MAX_POINTS)
        nc = TG_RISK_MOVE_MAX_POINTS;
    if (nc - d->len < k)
        return -ENOSPC;
    return tg__deque_resize((tg_deque_t *)(void *)d, sizeof *d->v, (uint32_t)nc);
}

/*
 * The held-back points into the deques, all at once, with the outcome of
 * pushing them one by one: a deque point survives the batch when the batch
 * has nothing at or below (min) / at or above (max) its price, so the pops
 * run once against the batch's min / max; a batch point survives when every
 * later one is strictly above (min) / below (max) it, found by one backward
 * pass; survivors are appended by a branch-free compaction (each point is
 * written, the length advances only for a survivor). A push per tick took a
 * data-dependent branch per point and deque, mispredicted about half the
 * time on a random walk.
 *
 * No eviction is due: the front of each deque is then the window's min
 * (max) point, whose time lo_ts (hi_ts) was inside the window at the last
 * tick, and every other point is newer. Never reaches the bound: the fast
 * path keeps len + npend <= TG_RISK_MOVE_MAX_POINTS - 2.
 */
static int move_flush(tg_risk_move_t *m)
{
    uint32_t k = m->npend;
    const tg_risk_pt_t *p = m->pend;
    bool kmin[TG_RISK_MOVE_PEND], kmax[TG_RISK_MOVE_PEND];
    tg_dec_t smin = INT64_MAX, smax = INT64_MIN;
    m->npend = 0;
    if (!k)
        return 0;
    for (uint32_t i = k; i-- > 0;) {
        tg_dec_t x = p[i].price;
        /* the batch's last point always survives (nothing after it undercuts
         * it), also at TG_DEC_MAX where `x < smin` would drop it */
        kmin[i] = x < smin || i == k - 1;
        kmax[i] = x > smax || i == k - 1;
        smin = x < smin ? x : smin;
        smax = x > smax ? x : smax;
    }
    while (m->min.len && tg_deque_back(&m->min).price >= smin)
        tg_deque_pop_back(&m->min);
    while (m->max.len && tg_deque_back(&m->max).price <= smax)
        tg_deque_pop_back(&m->max);
    if ((m->min.cap - m->min.len < k && dq_grow_for(&m->min, k) != 0) ||
        (m->max.cap - m->max.len < k && dq_grow_for(&m->max, k) != 0))
        return -ENOMEM; /* these points are lost, as a failed push per tick lost it */
    for (uint32_t i = 0; i < k; i++) {
        tg_deque_at(&m->min, m->min.len) = p[i];
        m->min.len += kmin[i];
        tg_deque_at(&m->max, m->max.len) = p[i];
        m->max.len += kmax[i];
    }
    return 0;
}

/* lo/hi and their times from the deques' fronts (after an eviction). */
static void move_fronts(tg_risk_move_t *m)
{
    if (m->min.len) {
        m->lo = tg_deque_front(&m->min).price;
        m->lo_ts = tg_deque_front(&m->min).ts;
    } else {
        m->lo_ts = INT64_MIN;
    }
    if (m->max.len) {
        m->hi = tg_deque_front(&m->max).price;
        m->hi_ts = tg_deque_front(&m->max).ts;
    } else {
        m->hi_ts = INT64_MIN;
    }
}

/* Room in both deques for the held-back points and one more, short of the
 * bound where the oldest would be dropped. */
static inline bool move_room(const tg_risk_move_t *m)
{
    uint32_t lim = TG_RISK_MOVE_MAX_POINTS - 2 - m->npend;
    return m->min.len < lim && m->max.len < lim;
}

int tg_risk_move_push(tg_risk_move_t *m, int64_t ts, tg_dec_t price, tg_dec_t *lo, tg_dec_t *hi)
{
    int64_t prev = m->last_ts;
    if (ts < prev)
        ts = prev;
    m->last_ts = ts;
    tg_risk_pt_t pt = {ts, price};
    /* saturated: ts - window_ns must neither overflow nor reach the "no
     * point yet" sentinel INT64_MIN of lo_ts/hi_ts */
    int64_t oldest = ts < INT64_MIN + 1 + m->window_ns ? INT64_MIN + 1 : ts - m->window_ns;
    int rc = 0;
    /* fast: neither the min nor the max leaves the window on this tick, so
     * the new ones are min(lo, price) and max(hi, price); the deques learn
     * of this point later (risk.h) */
    if (__builtin_expect(m->lo_ts >= oldest && m->hi_ts >= oldest, 1)) {
        if (m->npend == TG_RISK_MOVE_PEND)
            rc = move_flush(m);
        if (__builtin_expect(rc == 0 && move_room(m), 1)) {
            m->pend[m->npend++] = pt;
            /* the deques keep the latest of equal prices (>= and <= pop) */
            if (price <= m->lo) {
                m->lo = price;
                m->lo_ts = ts;
            }
            if (price >= m->hi) {
                m->hi = price;
                m->hi_ts = ts;
            }
            *lo = m->lo;
            *hi = m->hi;
            if (m->npend == TG_RISK_MOVE_PEND) {
                /* the flush reads the deques' backs and writes after them:
                 * fetched now, they are in cache when the caller flushes
                 * after its other work (tg_risk_move_flush) */
                if (m->min.len)
                    __builtin_prefetch(&tg_deque_back(&m->min), 1);
                if (m->max.len)
                    __builtin_prefetch(&tg_deque_back(&m->max), 1);
            }
            return 0;
        }
    }
    /* slow: a min or max expires (or the first point, or near the bound, or
     * out of memory): the deques as a push per tick leaves them */
    if (m->npend && move_flush(m) != 0)
        rc = -ENOMEM;
    if (dq_push_point(m, pt) != 0)
        rc = -ENOMEM;
    dq_evict(&m->min, oldest);
    dq_evict(&m->max, oldest);
    move_fronts(m);
    if (rc != 0) {
        *lo = *hi = price;
        return rc;
    }
    *lo = m->lo;
    *hi = m->hi;
    return 0;
}

int tg_risk_move_flush(tg_risk_move_t *m)
{
    if (!m->npend || move_flush(m) == 0)
        return 0;
    /* points lost: lo/hi as the slow path leaves them, from what is kept */
    dq_evict(&m->min, m->last_ts - m->window_ns);
    dq_evict(&m->max, m->last_ts - m->window_ns);
    move_fronts(m);
    return -ENOMEM;
}

tg_dec_t tg_risk_move_value(tg_dec_t price, tg_dec_t lo, tg_dec_t hi)
{
    int64_t up = lo > 0 ? ret8((i128)price - lo, lo) : 0;
    int64_t down = hi > 0 ? ret8((i128)price - hi, hi) : 0;
    return up >= -down ? up : down;
}

uint32_t tg_risk_move_points(const tg_risk_move_t *m)
{
    return m->min.len + m->max.len + m->npend;
}
