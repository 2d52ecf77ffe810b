/* backoff.h - the one retry backoff: exponential, capped, jittered, clamped.
 *
 * Every reconnect (feeds, PostgreSQL, Redis) and the breaker's open wait use
 * it, so they all spread out the same way: peers that failed together do not
 * retry in lockstep, and no wait ever exceeds the configured cap.
 * Threads: a tg_backoff_t (and an rng word) belongs to one thread.
 */
#ifndef TICKGATE_BACKOFF_H
#define TICKGATE_BACKOFF_H

#include <stdint.h>

#define TG_BACKOFF_JITTER_PERMILLE 200 /* ±20 % */

/**
 * The wait before retry number `attempt` (1 = the first): base_ms doubled per
 * attempt, capped at max_ms (max_ms < base_ms counts as base_ms), then
 * ±TG_BACKOFF_JITTER_PERMILLE, then clamped to [base_ms/2, cap]. *rng is the
 * caller's jitter state (any seed). Returns nanoseconds; 0 when base_ms <= 0.
 */
int64_t tg_backoff_ns(int64_t base_ms, int64_t max_ms, uint32_t attempt, uint64_t *rng);

/** A retry loop's state: tg_backoff_next after each failure, tg_backoff_reset on success. */
typedef struct tg_backoff {
    int64_t base_ms, max_ms;
    uint32_t attempt; /* failures since the last success */
    uint64_t rng;
} tg_backoff_t;

void tg_backoff_init(tg_backoff_t *b, int64_t base_ms, int64_t max_ms, uint64_t seed);
/** One more failure: the wait before the next try, in ns. */
int64_t tg_backoff_next(tg_backoff_t *b);
void tg_backoff_reset(tg_backoff_t *b);

/** splitmix64: a small, fast, well-mixed generator step (jitter, ids). */
uint64_t tg_splitmix64(uint64_t *state);

#endif
