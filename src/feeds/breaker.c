/* breaker.c - per-feed circuit breaker state machine (include/tickgate/breaker.h).
 *
 * Pure: the time comes in as arguments and the jitter PRNG lives in the
 * struct, so every path is testable with a fake clock. The count window is a
 * ring of bits (1 = failure) with a running failure count, so recording an
 * outcome and evaluating the rate are O(1).
 */
#include "tickgate/breaker.h"

#include <errno.h>
#include <string.h>

#include "tickgate/backoff.h"

#define NS_PER_MS 1000000LL

const char *tg_breaker_state_name(tg_breaker_state_t s)
{
    switch (s) {
    case TG_BREAKER_CLOSED:
        return "closed";
    case TG_BREAKER_HALF_OPEN:
        return "half_open";
    case TG_BREAKER_OPEN:
        return "open";
    }
    return "?";
}

static void window_clear(tg_breaker_t *b)
{
    b->_win_n = b->_win_pos = b->_win_fail = 0;
    memset(b->_win, 0, sizeof(b->_win));
}

static void window_add(tg_breaker_t *b, bool failed)
{
    int p = b->_win_pos;
    uint64_t bit = 1ull << (p % 64);
    if (b->_win_n == b->_conf.window) {
        /* full: the oldest outcome sits where the new one goes */
        if (b->_win[p / 64] & bit)
            b->_win_fail--;
    } else {
        b->_win_n++;
    }
    if (failed) {
        b->_win[p / 64] |= bit;
        b->_win_fail++;
    } else {
        b->_win[p / 64] &= ~bit;
    }
    b->_win_pos = (p + 1) % b->_conf.window;
}

static bool window_tripped(const tg_breaker_t *b)
{
    if (b->_win_n < b->_conf.min_calls)
        return false;
    /* failures/calls >= threshold, without division: threshold is 10^8-scaled */
    return (__int128)b->_win_fail * TG_DEC_SCALE >=
           (__int128)b->_conf.failure_rate_threshold * b->_win_n;
}

void tg_breaker_window(const tg_breaker_t *b, int *calls, int *failures)
{
    if (calls)
        *calls = b->_win_n;
    if (failures)
        *failures = b->_win_fail;
}

/* open_wait_ms doubled per consecutive open (1st open = the base), capped at
 * open_wait_max_ms, then ±20 % jitter so feeds that failed together do not
 * reconnect in lockstep; never below open_wait_ms/2 nor above the cap. */
static int64_t open_wait_ns(tg_breaker_t *b)
{
    return tg_backoff_ns(b->_conf.open_wait_ms, b->_conf.open_wait_max_ms, (uint32_t)b->_opens,
                         &b->_rng);
}

static bool set_state(tg_breaker_t *b, tg_breaker_state_t to, const char *reason, int64_t now,
                      tg_breaker_transition_t *tr)
{
    tg_breaker_state_t from = b->_state;
    int64_t wait = 0;

    b->_state = to;
    b->_since_ns = now;
    switch (to) {
    case TG_BREAKER_OPEN:
        b->_opens++;
        wait = open_wait_ns(b);
        b->_open_until_ns = now + wait;
        break;
    case TG_BREAKER_HALF_OPEN:
        b->_probe_ok = 0;
        /* the probe gets a full staleness period of its own; the time spent
         * open (possibly reconnecting) must not count against it */
        b->_live_ns = now;
        break;
    case TG_BREAKER_CLOSED:
        b->_opens = 0;
        window_clear(b); /* resilience4j: a fresh window after recovery */
        break;
    }
    if (tr) {
        tr->from = from;
        tr->to = to;
        tr->reason = reason;
        tr->open_wait_ns = wait;
        tr->consecutive_opens = b->_opens;
    }
    return true;
}

int tg_breaker_init(tg_breaker_t *b, const tg_breaker_conf_t *conf, uint64_t seed, int64_t now_ns)
{
    if (!b || !conf)
        return -EINVAL;
    if (conf->window < 1 || conf->window > TG_BREAKER_WINDOW_MAX || conf->min_calls < 1 ||
        conf->failure_rate_threshold <= 0 || conf->failure_rate_threshold > TG_DEC_SCALE ||
        conf->half_open_successes < 1 || conf->stale_after_ms < 0 || conf->open_wait_ms < 0 ||
        conf->open_wait_max_ms < 0 || conf->half_open_max_wait_ms < 0)
        return -EINVAL;
    memset(b, 0, sizeof(*b));
    b->_conf = *conf;
    if (b->_conf.min_calls > b->_conf.window)
        b->_conf.min_calls = b->_conf.window;
    b->_state = TG_BREAKER_CLOSED;
    b->_since_ns = now_ns;
    b->_live_ns = now_ns;
    b->_rng = seed;
    return 0;
}

bool tg_breaker_on_event(tg_breaker_t *b, tg_breaker_event_t ev, int64_t now_ns,
                         tg_breaker_transition_t *tr)
{
    /* anything received proves the connection is alive; connect errors and
     * disconnects are the absence of messages, so they do not */
    if (ev == TG_BREAKER_EV_SUCCESS || ev == TG_BREAKER_EV_FAILURE || ev == TG_BREAKER_EV_NEUTRAL)
        if (now_ns > b->_live_ns)
            b->_live_ns = now_ns;

    switch (b->_state) {
    case TG_BREAKER_CLOSED:
        switch (ev) {
        case TG_BREAKER_EV_NEUTRAL:
            return false;
        case TG_BREAKER_EV_DISCONNECT:
            return set_state(b, TG_BREAKER_OPEN, "disconnect", now_ns, tr);
        case TG_BREAKER_EV_SUCCESS:
            window_add(b, false);
            return false; /* a success can only lower the rate */
        case TG_BREAKER_EV_FAILURE:
        case TG_BREAKER_EV_CONNECT_ERROR:
            window_add(b, true);
            if (!window_tripped(b))
                return false;
            return set_state(b, TG_BREAKER_OPEN,
                             ev == TG_BREAKER_EV_CONNECT_ERROR ? "connect_error" : "failure_rate",
                             now_ns, tr);
        }
        return false;
    case TG_BREAKER_HALF_OPEN:
        switch (ev) {
        case TG_BREAKER_EV_NEUTRAL:
            return false;
        case TG_BREAKER_EV_SUCCESS:
            if (++b->_probe_ok < b->_conf.half_open_successes)
                return false;
            return set_state(b, TG_BREAKER_CLOSED, "recovered", now_ns, tr);
        case TG_BREAKER_EV_FAILURE:
            return set_state(b, TG_BREAKER_OPEN, "probe_failed", now_ns, tr);
        case TG_BREAKER_EV_CONNECT_ERROR:
            return set_state(b, TG_BREAKER_OPEN, "connect_error", now_ns, tr);
        case TG_BREAKER_EV_DISCONNECT:
            return set_state(b, TG_BREAKER_OPEN, "disconnect", now_ns, tr);
        }
        return false;
    case TG_BREAKER_OPEN:
        /* open is purely time-based; outcomes are not recorded (resilience4j
         * rejects calls while open) */
        return false;
    }
    return false;
}

bool tg_breaker_tick(tg_breaker_t *b, int64_t now_ns, tg_breaker_transition_t *tr)
{
    int64_t stale = (int64_t)b->_conf.stale_after_ms * NS_PER_MS;

    switch (b->_state) {
    case TG_BREAKER_CLOSED:
        if (stale > 0 && now_ns - b->_live_ns >= stale)
            return set_state(b, TG_BREAKER_OPEN, "stale", now_ns, tr);
        return false;
    case TG_BREAKER_OPEN:
        if (now_ns >= b->_open_until_ns)
            return set_state(b, TG_BREAKER_HALF_OPEN, "open_wait_elapsed", now_ns, tr);
        return false;
    case TG_BREAKER_HALF_OPEN:
        /* the time-out first: it is the bound that keeps half_open from sticking */
        if (now_ns - b->_since_ns >= (int64_t)b->_conf.half_open_max_wait_ms * NS_PER_MS)
            return set_state(b, TG_BREAKER_OPEN, "half_open_timeout", now_ns, tr);
        if (stale > 0 && now_ns - b->_live_ns >= stale)
            return set_state(b, TG_BREAKER_OPEN, "stale", now_ns, tr);
        return false;
    }
    return false;
}

int64_t tg_breaker_next_deadline(const tg_breaker_t *b)
{
    int64_t stale = (int64_t)b->_conf.stale_after_ms * NS_PER_MS;
    int64_t d;

    switch (b->_state) {
    case TG_BREAKER_CLOSED:
        return stale > 0 ? b->_live_ns + stale : INT64_MAX;
    case TG_BREAKER_OPEN:
        return b->_open_until_ns;
    case TG_BREAKER_HALF_OPEN:
        d = b->_since_ns + (int64_t)b->_conf.half_open_max_wait_ms * NS_PER_MS;
        if (stale > 0 && b->_live_ns + stale < d)
            d = b->_live_ns + stale;
        return d;
    }
    return INT64_MAX;
}
