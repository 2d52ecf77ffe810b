/* risk.h - the state over time behind two SPEC §13 rules, in exact integers.
 *
 * volatility: the population standard deviation of the portfolio value's
 * 1-second simple returns over the last N samples, times √N ("the realized
 * move over the window"). Each return is round8((V_t - V_{t-1}) / V_{t-1}),
 * an integer r in 10^-8 units, kept in a ring with running sums Σr and Σr²
 * (__int128, exact), so a sample costs O(1) and the state after any sequence
 * of samples equals a recomputation over the ring. With n samples and
 * Q = n·Σr² - (Σr)² (an exact integer >= 0), σ·√n = √(Q/n). No floating
 * point anywhere: the rule compares without a square root
 * (√(Q/n) >= θ  <=>  Q >= n·θ², θ an integer in 10^-8 units), and the
 * reported value is ⌊√⌊Q/n⌋⌋ = ⌊√(Q/n)⌋, computed by an integer Newton
 * iteration, so value >= θ exactly when the rule's condition holds.
 *
 * move: the price change of a symbol within the last window_s seconds,
 * against the window's minimum (rising) and maximum (falling), kept in two
 * monotonic deques: O(1) amortised per tick.
 *
 * Plain data owned by one thread (the engine's); no global state.
 */
#ifndef TICKGATE_RISK_H
#define TICKGATE_RISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tickgate/deque.h"
#include "tickgate/fixed.h"

#define TG_RISK_VOL_MIN_SAMPLES 30 /* SPEC §13: the rule needs >= 30 samples */

typedef struct tg_risk_vol {
    int64_t *r;            /* ring of the last `cap` returns (10^-8 units) */
    uint32_t cap, n, head; /* head = index of the oldest */
    __int128 sum, sumsq;
    __int128 last;         /* the previous sample's value */
    bool has_last;
} tg_risk_vol_t;

/** Keep the last `window` returns (volatility_window_s samples). 0, -EINVAL, -ENOMEM. */
int tg_risk_vol_init(tg_risk_vol_t *v, uint32_t window);
/** Free the ring; NULL and a zeroed struct are fine. */
void tg_risk_vol_free(tg_risk_vol_t *v);
/** Forget every sample (the portfolio became unpriced or was replaced). */
void tg_risk_vol_reset(tg_risk_vol_t *v);
/**
 * One sample (once a second): the portfolio value now, in 10^-8 units. The
 * first sample after init/reset only sets the base. A previous value of 0
 * gives a return of 0; returns are clamped to ±10^14 (±10^6 = 100,000,000 %)
 * so the sums cannot overflow for any window up to 86,400 samples.
 */
void tg_risk_vol_sample(tg_risk_vol_t *v, __int128 value);
/** Returns held now (the rule needs TG_RISK_VOL_MIN_SAMPLES). */
static inline uint32_t tg_risk_vol_samples(const tg_risk_vol_t *v)
{
    return v->n;
}
/** ⌊√(Q/n)⌋ in 10^-8 units (0 without samples; TG_DEC_MAX if beyond the range). */
tg_dec_t tg_risk_vol_value(const tg_risk_vol_t *v);
/** value >= level, exactly (Q >= n·level²). */
bool tg_risk_vol_ge(const tg_risk_vol_t *v, tg_dec_t level);
/** value <= level, exactly (Q < n·(level+1)²). */
bool tg_risk_vol_le(const tg_risk_vol_t *v, tg_dec_t level);
/** Recompute Σr, Σr² from the ring (tests: equals the running sums). */
void tg_risk_vol_recompute(const tg_risk_vol_t *v, __int128 *sum, __int128 *sumsq);

/** ⌊√x⌋ for x >= 0, integer Newton iteration; deterministic on every platform. */
unsigned __int128 tg_risk_isqrt(unsigned __int128 x);

typedef struct tg_risk_pt {
    int64_t ts;
    tg_dec_t price;
} tg_risk_pt_t;

/** Points, oldest first (a growable ring, deque.h). */
typedef TG_DEQUE(tg_risk_pt_t) tg_risk_deque_t;

#define TG_RISK_MOVE_MAX_POINTS (1u << 20) /* per deque; beyond it the oldest go first */
#define TG_RISK_MOVE_PEND 16               /* ticks held back before the deques see them */

/*
 * The window's min and max are kept inline with the time of their points,
 * so a tick that neither expires one of them nor passes beyond them learns
 * them without reading the deques: it only appends itself to pend[]. The
 * deques take the held-back ticks TG_RISK_MOVE_PEND at a time, or at once
 * when a min or max expires (a deque after any number of pushes holds every
 * point that no later point undercuts (min) or tops (max) and that is
 * inside the window, whatever the order of pushes and evictions, so a
 * deferred push leaves the same deque). Near TG_RISK_MOVE_MAX_POINTS, where
 * that no longer holds (the oldest is dropped), every tick goes to the
 * deques at once, as before.
 */
typedef struct tg_risk_move {
    /* what a tick reads first, together (one or two cache lines) */
    int64_t window_ns;
    int64_t last_ts;
    tg_dec_t lo, hi;       /* the window's min and max after the last push */
    int64_t lo_ts, hi_ts;  /* their points' times (the deques' fronts once flushed) */
    uint32_t npend;
    tg_risk_pt_t pend[TG_RISK_MOVE_PEND]; /* pushed, not yet in min/max */
    tg_risk_deque_t min, max; /* increasing / decreasing prices, oldest first */
} tg_risk_move_t;

/** window_ns > 0. 0 or -EINVAL. Allocates on the first push. */
int tg_risk_move_init(tg_risk_move_t *m, int64_t window_ns);
void tg_risk_move_free(tg_risk_move_t *m);
/**
 * Add one tick; *lo and *hi get the window's minimum and maximum price (the
 * tick itself included). Ticks older than the last are taken at the last ts
 * (deques stay ordered). 0 or -ENOMEM (then *lo = *hi = price).
 * The rule compares without dividing (book_risk.c); the figure is
 * tg_risk_move_value, computed when an event needs it.
 */
int tg_risk_move_push(tg_risk_move_t *m, int64_t ts, tg_dec_t price, tg_dec_t *lo, tg_dec_t *hi);
/**
 * Hand the held-back ticks to the deques now. Optional (the push after a
 * full buffer does it), for a caller with other work between a push and
 * this call: the push that fills the buffer prefetches what this reads.
 * 0, or -ENOMEM (the held-back ticks are lost; lo/hi from what is kept).
 */
int tg_risk_move_flush(tg_risk_move_t *m);
/** The buffer is full: tg_risk_move_flush has work to do. */
static inline bool tg_risk_move_flush_due(const tg_risk_move_t *m)
{
    return m->npend == TG_RISK_MOVE_PEND;
}
/**
 * The move of `price` in a window [lo, hi]: rising = round8((p - lo) / lo),
 * falling = round8((p - hi) / hi); the one larger in magnitude (rising on a
 * tie), so a rise is positive and a fall negative; 0 for prices <= 0.
 */
tg_dec_t tg_risk_move_value(tg_dec_t price, tg_dec_t lo, tg_dec_t hi);
/** Points held now, the held-back ones included (tests: the deques stay small on random walks). */
uint32_t tg_risk_move_points(const tg_risk_move_t *m);

#endif
