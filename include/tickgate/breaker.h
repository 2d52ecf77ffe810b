/* breaker.h - per-feed circuit breaker (SPEC §3 "Circuit breaker").
 *
 * A pure state machine with resilience4j semantics: no threads, no I/O, no
 * clock reads. The caller passes the time (int64 ns, any monotonic base) into
 * every call and owns the jitter seed, so tests drive it with a fake clock and
 * get reproducible backoff. Functions that may change the state return true
 * and fill a tg_breaker_transition_t; the caller logs, counts and publishes it.
 *
 * Timed transitions (staleness, open wait elapsed, half_open time-out) happen
 * only in tg_breaker_tick(); event functions never look at timers. A feed loop
 * calls tg_breaker_tick() on each iteration (at the latest at
 * tg_breaker_next_deadline()) and before applying the events it just read.
 *
 * Thread: one breaker belongs to one feed thread. Other threads (failover,
 * metrics) read the state through their own published copy, not this struct.
 */
#ifndef TICKGATE_BREAKER_H
#define TICKGATE_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

#include "tickgate/config.h"

/** States; the values are the `tickgate_breaker_state` gauge values. */
typedef enum tg_breaker_state {
    TG_BREAKER_CLOSED = 0,
    TG_BREAKER_HALF_OPEN = 1,
    TG_BREAKER_OPEN = 2,
} tg_breaker_state_t;

/** What happened on the feed (SPEC §3: every message is an event). */
typedef enum tg_breaker_event {
    TG_BREAKER_EV_SUCCESS = 0,    /* a valid tick */
    TG_BREAKER_EV_FAILURE,        /* parse error or rejected tick (liveness too) */
    TG_BREAKER_EV_NEUTRAL,        /* control message / filtered tick: liveness only */
    TG_BREAKER_EV_CONNECT_ERROR,  /* a connection attempt failed: counts as a failure */
    TG_BREAKER_EV_DISCONNECT,     /* connection lost: opens at once */
} tg_breaker_event_t;

/** Largest supported `window` (matches the config range). */
#define TG_BREAKER_WINDOW_MAX 10000

/** A state change, for the caller to log/count/publish. */
typedef struct tg_breaker_transition {
    tg_breaker_state_t from, to;
    /** Static string: "failure_rate", "stale", "disconnect", "connect_error",
     * "half_open_timeout", "probe_failed", "recovered", "open_wait_elapsed". */
    const char *reason;
    /** When `to` is open: the jittered wait before half_open, else 0. */
    int64_t open_wait_ns;
    /** Consecutive opens since the breaker was last closed (1 = first open). */
    int consecutive_opens;
} tg_breaker_transition_t;

/**
 * Breaker state. Fields are private (read them through the functions below);
 * the struct is public so the caller can embed it without allocation.
 */
typedef struct tg_breaker {
    tg_breaker_conf_t _conf;
    tg_breaker_state_t _state;
    int64_t _since_ns;        /* entered the current state */
    int64_t _live_ns;         /* last message (or half_open entry): staleness base */
    int64_t _open_until_ns;   /* open: when half_open is due */
    int _opens;               /* consecutive opens since last closed */
    int _probe_ok;            /* half_open: successes so far */
    uint64_t _rng;            /* jitter PRNG state (splitmix64) */
    /* count window of the last `window` outcomes, 1 bit each, 1 = failure */
    int _win_n, _win_pos, _win_fail;
    uint64_t _win[(TG_BREAKER_WINDOW_MAX + 63) / 64];
} tg_breaker_t;

/**
 * Initialize closed at `now_ns` (the staleness timer starts now). `seed`
 * drives the jitter (any value; equal seeds give equal backoff sequences).
 * The conf is copied. -EINVAL when window is outside 1..TG_BREAKER_WINDOW_MAX,
 * min_calls < 1, the threshold outside (0, 1], half_open_successes < 1 or any
 * time is negative. min_calls > window is clamped to window (as resilience4j).
 */
int tg_breaker_init(tg_breaker_t *b, const tg_breaker_conf_t *conf, uint64_t seed,
                    int64_t now_ns);

/**
 * Apply one event at `now_ns`. Returns true and fills *tr (may be NULL) when
 * the state changed. Closed: success/failure/connect_error enter the window
 * and the breaker opens when at least min_calls outcomes are in it and
 * failures/outcomes >= threshold ("failure_rate", or "connect_error" when a
 * connect error tipped it); disconnect opens at once ("disconnect"). Half-open:
 * a success counts toward half_open_successes ("recovered" closes, window
 * cleared); a failure opens ("probe_failed"), as do a connect error and a
 * disconnect (their own reasons). Open: only liveness is recorded.
 */
bool tg_breaker_on_event(tg_breaker_t *b, tg_breaker_event_t ev, int64_t now_ns,
                         tg_breaker_transition_t *tr);

/**
 * Check the timers at `now_ns`: closed/half_open with stale_after_ms > 0 and
 * nothing received for that long opens ("stale"); open whose wait elapsed
 * goes half_open ("open_wait_elapsed", the stale timer restarts then);
 * half_open for half_open_max_wait_ms opens ("half_open_timeout").
 */
bool tg_breaker_tick(tg_breaker_t *b, int64_t now_ns, tg_breaker_transition_t *tr);

/** Earliest time at which tg_breaker_tick() could change the state; INT64_MAX if none. */
int64_t tg_breaker_next_deadline(const tg_breaker_t *b);

static inline tg_breaker_state_t tg_breaker_state(const tg_breaker_t *b)
{
    return b->_state;
}

/** Failures / outcomes in the current window, as counts (for metrics and tests). */
void tg_breaker_window(const tg_breaker_t *b, int *calls, int *failures);

/** "closed", "half_open", "open" (metric labels, logs, system channel); "?" otherwise. */
const char *tg_breaker_state_name(tg_breaker_state_t s);

static inline bool tg_breaker_on_success(tg_breaker_t *b, int64_t now, tg_breaker_transition_t *tr)
{
    return tg_breaker_on_event(b, TG_BREAKER_EV_SUCCESS, now, tr);
}
static inline bool tg_breaker_on_failure(tg_breaker_t *b, int64_t now, tg_breaker_transition_t *tr)
{
    return tg_breaker_on_event(b, TG_BREAKER_EV_FAILURE, now, tr);
}
static inline bool tg_breaker_on_neutral(tg_breaker_t *b, int64_t now, tg_breaker_transition_t *tr)
{
    return tg_breaker_on_event(b, TG_BREAKER_EV_NEUTRAL, now, tr);
}

#endif
