/* test_breaker.c - the circuit breaker, transition by transition, with a fake
 * clock (plain int64 ns values) and fixed jitter seeds. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "tg_test.h"
#include "tickgate/breaker.h"

#define MS 1000000LL

static tg_breaker_conf_t defconf(void)
{
    return (tg_breaker_conf_t){
        .window = 20,
        .min_calls = 5,
        .failure_rate_threshold = TG_DEC_SCALE / 2,
        .stale_after_ms = 5000,
        .open_wait_ms = 1000,
        .open_wait_max_ms = 30000,
        .half_open_successes = 3,
        .half_open_max_wait_ms = 5000,
    };
}

static bool is(const tg_breaker_transition_t *tr, tg_breaker_state_t from, tg_breaker_state_t to,
               const char *reason)
{
    return tr->from == from && tr->to == to && tr->reason && strcmp(tr->reason, reason) == 0;
}

/* Drive an open breaker to half_open via tick at its deadline. */
static void to_half_open(tg_breaker_t *b, int64_t *now)
{
    tg_breaker_transition_t tr;
    *now = tg_breaker_next_deadline(b);
    TG_CHECK(tg_breaker_tick(b, *now, &tr));
    TG_CHECK(is(&tr, TG_BREAKER_OPEN, TG_BREAKER_HALF_OPEN, "open_wait_elapsed"));
}

TG_TEST(names_and_init_validation)
{
    TG_CHECK_EQ_STR(tg_breaker_state_name(TG_BREAKER_CLOSED), "closed");
    TG_CHECK_EQ_STR(tg_breaker_state_name(TG_BREAKER_HALF_OPEN), "half_open");
    TG_CHECK_EQ_STR(tg_breaker_state_name(TG_BREAKER_OPEN), "open");
    TG_CHECK_EQ_STR(tg_breaker_state_name((tg_breaker_state_t)7), "?");
    TG_CHECK_EQ_INT(TG_BREAKER_CLOSED, 0);
    TG_CHECK_EQ_INT(TG_BREAKER_HALF_OPEN, 1);
    TG_CHECK_EQ_INT(TG_BREAKER_OPEN, 2);

    tg_breaker_t b;
    tg_breaker_conf_t c = defconf();
    TG_CHECK_EQ_INT(tg_breaker_init(&b, &c, 1, 0), 0);
    TG_CHECK_EQ_INT(tg_breaker_state(&b), TG_BREAKER_CLOSED);
    TG_CHECK_EQ_INT(tg_breaker_init(NULL, &c, 1, 0), -EINVAL);
    TG_CHECK_EQ_INT(tg_breaker_init(&b, NULL, 1, 0), -EINVAL);
    c.window = 0;
    TG_CHECK_EQ_INT(tg_breaker_init(&b, &c, 1, 0), -EINVAL);
    c = defconf();
    c.window = TG_BREAKER_WINDOW_MAX + 1;
    TG_CHECK_EQ_INT(tg_breaker_init(&b, &c, 1, 0), -EINVAL);
    c = defconf();
    c.failure_rate_threshold = 0;
    TG_CHECK_EQ_INT(tg_breaker_init(&b, &c, 1, 0), -EINVAL);
    c.failure_rate_threshold = TG_DEC_SCALE + 1;
    TG_CHECK_EQ_INT(tg_breaker_init(&b, &c, 1, 0), -EINVAL);
    c = defconf();
    c.half_open_successes = 0;
    TG_CHECK_EQ_INT(tg_breaker_init(&b, &c, 1, 0), -EINVAL);
    c = defconf();
    c.open_wait_ms = -1;
    TG_CHECK_EQ_INT(tg_breaker_init(&b, &c, 1, 0), -EINVAL);
    c = defconf();
    c.min_calls = 0;
    TG_CHECK_EQ_INT(tg_breaker_init(&b, &c, 1, 0), -EINVAL);
}

TG_TEST(failure_rate_needs_min_calls)
{
    tg_breaker_t b;
    tg_breaker_conf_t c = defconf();
    tg_breaker_transition_t tr;
    tg_breaker_init(&b, &c, 1, 0);
    /* 4 failures: 100 % but below min_calls */
    for (int i = 0; i < 4; i++)
        TG_CHECK(!tg_breaker_on_failure(&b, i * MS, &tr));
    TG_CHECK_EQ_INT(tg_breaker_state(&b), TG_BREAKER_CLOSED);
    memset(&tr, 0, sizeof tr);
    TG_CHECK(tg_breaker_on_failure(&b, 4 * MS, &tr));
    TG_CHECK(is(&tr, TG_BREAKER_CLOSED, TG_BREAKER_OPEN, "failure_rate"));
    TG_CHECK_EQ_INT(tr.consecutive_opens, 1);
    TG_CHECK(tr.open_wait_ns >= 800 * MS && tr.open_wait_ns <= 1200 * MS);
    TG_CHECK_EQ_INT(tg_breaker_next_deadline(&b), 4 * MS + tr.open_wait_ns);
}

TG_TEST(failure_rate_threshold_exact)
{
    tg_breaker_t b;
    tg_breaker_conf_t c = defconf();
    tg_breaker_transition_t tr;
    tg_breaker_init(&b, &c, 1, 0);
    /* S S S S S F F F F: 4/9 < 50 % */
    for (int i = 0; i < 9; i++) {
        bool t = (i >= 5) ? tg_breaker_on_failure(&b, i, &tr) : tg_breaker_on_success(&b, i, &tr);
        TG_CHECK(!t);
    }
    int calls, fails;
    tg_breaker_window(&b, &calls, &fails);
    TG_CHECK_EQ_INT(calls, 9);
    TG_CHECK_EQ_INT(fails, 4);
    /* 5/10 = 50 % reaches the threshold */
    TG_CHECK(tg_breaker_on_failure(&b, 10, &tr));
    TG_CHECK(is(&tr, TG_BREAKER_CLOSED, TG_BREAKER_OPEN, "failure_rate"));
}

TG_TEST(window_slides)
{
    tg_breaker_t b;
    tg_breaker_conf_t c = defconf();
    c.window = 10;
    c.min_calls = 10;
    tg_breaker_transition_t tr;
    tg_breaker_init(&b, &c, 1, 0);
    /* 4 failures then 100 successes: the failures slide out */
    for (int i = 0; i < 4; i++)
        TG_CHECK(!tg_breaker_on_failure(&b, i, &tr));
    for (int i = 0; i < 100; i++)
        TG_CHECK(!tg_breaker_on_success(&b, i, &tr));
    int calls, fails;
    tg_breaker_window(&b, &calls, &fails);
    TG_CHECK_EQ_INT(calls, 10);
    TG_CHECK_EQ_INT(fails, 0);
    /* now 4 failures in a full window of 10 = 40 %: still closed */
    for (int i = 0; i < 4; i++)
        TG_CHECK(!tg_breaker_on_failure(&b, i, &tr));
    tg_breaker_window(&b, &calls, &fails);
    TG_CHECK_EQ_INT(fails, 4);
    /* the 5th failure pushes out a success: 5/10 trips it */
    TG_CHECK(tg_breaker_on_failure(&b, 5, &tr));
    TG_CHECK(is(&tr, TG_BREAKER_CLOSED, TG_BREAKER_OPEN, "failure_rate"));

    /* min_calls larger than the window is clamped to the window */
    c = defconf();
    c.window = 3;
    c.min_calls = 50;
    tg_breaker_init(&b, &c, 1, 0);
    TG_CHECK(!tg_breaker_on_failure(&b, 0, &tr));
    TG_CHECK(!tg_breaker_on_failure(&b, 0, &tr));
    TG_CHECK(tg_breaker_on_failure(&b, 0, &tr));

    /* a window of exactly one outcome */
    c = defconf();
    c.window = 1;
    c.min_calls = 1;
    tg_breaker_init(&b, &c, 1, 0);
    TG_CHECK(!tg_breaker_on_success(&b, 0, &tr));
    TG_CHECK(tg_breaker_on_failure(&b, 0, &tr));
}

TG_TEST(window_full_size)
{
    /* the largest window, to exercise every word of the bitmap */
    tg_breaker_t b;
    tg_breaker_conf_t c = defconf();
    c.window = TG_BREAKER_WINDOW_MAX;
    c.min_calls = TG_BREAKER_WINDOW_MAX;
    tg_breaker_transition_t tr;
    tg_breaker_init(&b, &c, 1, 0);
    for (int i = 0; i < 3 * TG_BREAKER_WINDOW_MAX; i++)
        TG_CHECK(!tg_breaker_on_event(&b, (i % 3 == 0) ? TG_BREAKER_EV_FAILURE : TG_BREAKER_EV_SUCCESS, i, &tr));
    int calls, fails;
    tg_breaker_window(&b, &calls, &fails);
    TG_CHECK_EQ_INT(calls, TG_BREAKER_WINDOW_MAX);
    TG_CHECK_EQ_INT(fails, 3333); /* i%3==0 for i in 20000..29999 */
}

TG_TEST(neutral_is_liveness_only)
{
    tg_breaker_t b;
    tg_breaker_conf_t c = defconf();
    tg_breaker_transition_t tr;
    tg_breaker_init(&b, &c, 1, 0);
    /* many neutrals: no outcomes recorded, no trip */
    for (int i = 0; i < 100; i++)
        TG_CHECK(!tg_breaker_on_neutral(&b, i * MS, &tr));
    int calls, fails;
    tg_breaker_window(&b, &calls, &fails);
    TG_CHECK_EQ_INT(calls, 0);
    /* neutrals interleaved with failures do not dilute the rate */
    for (int i = 0; i < 4; i++) {
        TG_CHECK(!tg_breaker_on_failure(&b, 100 * MS, &tr));
        TG_CHECK(!tg_breaker_on_neutral(&b, 100 * MS, &tr));
    }
    TG_CHECK(tg_breaker_on_failure(&b, 100 * MS, &tr));
    TG_CHECK(is(&tr, TG_BREAKER_CLOSED, TG_BREAKER_OPEN, "failure_rate"));

    /* neutrals reset the stale timer */
    tg_breaker_init(&b, &c, 1, 0);
    int64_t now = 0;
    for (int i = 0; i < 10; i++) {
        now += 4999 * MS;
        TG_CHECK(!tg_breaker_tick(&b, now, &tr));
        TG_CHECK(!tg_breaker_on_neutral(&b, now, &tr));
    }
    TG_CHECK_EQ_INT(tg_breaker_state(&b), TG_BREAKER_CLOSED);
    TG_CHECK_EQ_INT(tg_breaker_next_deadline(&b), now + 5000 * MS);
    TG_CHECK(tg_breaker_tick(&b, now + 5000 * MS, &tr));
    TG_CHECK(is(&tr, TG_BREAKER_CLOSED, TG_BREAKER_OPEN, "stale"));
}

TG_TEST(stale_opens_at_once_and_zero_disables)
{
    tg_breaker_t b;
    tg_breaker_conf_t c = defconf();
    tg_breaker_transition_t tr;
    tg_breaker_init(&b, &c, 1, 1000 * MS);
    TG_CHECK(!tg_breaker_tick(&b, 5999 * MS, &tr));
    TG_CHECK(tg_breaker_tick(&b, 6000 * MS, &tr));
    TG_CHECK(is(&tr, TG_BREAKER_CLOSED, TG_BREAKER_OPEN, "stale"));
    /* failures are received messages: they keep it from going stale */
    tg_breaker_init(&b, &c, 1, 0);
    TG_CHECK(!tg_breaker_on_failure(&b, 4000 * MS, &tr));
    TG_CHECK(!tg_breaker_tick(&b, 8000 * MS, &tr));
    /* connect errors are not: the timer keeps running from the last message */
    TG_CHECK(!tg_breaker_on_event(&b, TG_BREAKER_EV_CONNECT_ERROR, 8500 * MS, &tr));
    TG_CHECK(tg_breaker_tick(&b, 9000 * MS, &tr));
    TG_CHECK(is(&tr, TG_BREAKER_CLOSED, TG_BREAKER_OPEN, "stale"));

    c.stale_after_ms = 0;
    tg_breaker_init(&b, &c, 1, 0);
    TG_CHECK(!tg_breaker_tick(&b, INT64_MAX / 2, &tr));
    TG_CHECK_EQ_INT(tg_breaker_state(&b), TG_BREAKER_CLOSED);
    TG_CHECK(tg_breaker_next_deadline(&b) == INT64_MAX);
}

TG_TEST(disconnect_opens_at_once)
{
    tg_breaker_t b;
    tg_breaker_conf_t c = defconf();
    tg_breaker_transition_t tr;
    tg_breaker_init(&b, &c, 1, 0);
    for (int i = 0; i < 50; i++)
        tg_breaker_on_success(&b, i, &tr);
    TG_CHECK(tg_breaker_on_event(&b, TG_BREAKER_EV_DISCONNECT, 100, &tr));
    TG_CHECK(is(&tr, TG_BREAKER_CLOSED, TG_BREAKER_OPEN, "disconnect"));
    /* further events while open change nothing */
    TG_CHECK(!tg_breaker_on_event(&b, TG_BREAKER_EV_DISCONNECT, 200, &tr));
    TG_CHECK(!tg_breaker_on_failure(&b, 200, &tr));
    TG_CHECK(!tg_breaker_on_success(&b, 200, &tr));
    TG_CHECK(!tg_breaker_on_event(&b, TG_BREAKER_EV_CONNECT_ERROR, 200, &tr));
    TG_CHECK_EQ_INT(tg_breaker_state(&b), TG_BREAKER_OPEN);
}

TG_TEST(connect_errors_count_as_failures)
{
    tg_breaker_t b;
    tg_breaker_conf_t c = defconf();
    tg_breaker_transition_t tr;
    tg_breaker_init(&b, &c, 1, 0);
    for (int i = 0; i < 4; i++)
        TG_CHECK(!tg_breaker_on_event(&b, TG_BREAKER_EV_CONNECT_ERROR, i, &tr));
    TG_CHECK(tg_breaker_on_event(&b, TG_BREAKER_EV_CONNECT_ERROR, 5, &tr));
    TG_CHECK(is(&tr, TG_BREAKER_CLOSED, TG_BREAKER_OPEN, "connect_error"));
}

TG_TEST(half_open_recovers_after_n_successes)
{
    tg_breaker_t b;
    tg_breaker_conf_t c = defconf();
    tg_breaker_transition_t tr;
    int64_t now = 0;
    tg_breaker_init(&b, &c, 7, 0);
    TG_CHECK(tg_breaker_on_event(&b, TG_BREAKER_EV_DISCONNECT, now, &tr));
    int64_t until = tg_breaker_next_deadline(&b);
    TG_CHECK(!tg_breaker_tick(&b, until - 1, &tr));
    TG_CHECK_EQ_INT(tg_breaker_state(&b), TG_BREAKER_OPEN);
    to_half_open(&b, &now);
    TG_CHECK_EQ_INT(now, until);
    TG_CHECK(!tg_breaker_on_success(&b, now + 1, &tr));
    TG_CHECK(!tg_breaker_on_neutral(&b, now + 2, &tr)); /* neutral is not a probe */
    TG_CHECK(!tg_breaker_on_success(&b, now + 3, &tr));
    TG_CHECK_EQ_INT(tg_breaker_state(&b), TG_BREAKER_HALF_OPEN);
    TG_CHECK(tg_breaker_on_success(&b, now + 4, &tr));
    TG_CHECK(is(&tr, TG_BREAKER_HALF_OPEN, TG_BREAKER_CLOSED, "recovered"));
    /* closed again with a fresh window */
    int calls, fails;
    tg_breaker_window(&b, &calls, &fails);
    TG_CHECK_EQ_INT(calls, 0);
    TG_CHECK_EQ_INT(fails, 0);
}

TG_TEST(half_open_failure_reopens)
{
    static const struct {
        tg_breaker_event_t ev;
        const char *reason;
    } cases[] = {
        {TG_BREAKER_EV_FAILURE, "probe_failed"},
        {TG_BREAKER_EV_CONNECT_ERROR, "connect_error"},
        {TG_BREAKER_EV_DISCONNECT, "disconnect"},
    };
    for (size_t i = 0; i < 3; i++) {
        tg_breaker_t b;
        tg_breaker_conf_t c = defconf();
        tg_breaker_transition_t tr;
        int64_t now = 0;
        tg_breaker_init(&b, &c, 7, 0);
        tg_breaker_on_event(&b, TG_BREAKER_EV_DISCONNECT, 0, &tr);
        to_half_open(&b, &now);
        TG_CHECK(!tg_breaker_on_success(&b, now, &tr));
        TG_CHECK(!tg_breaker_on_success(&b, now, &tr));
        TG_CHECK(tg_breaker_on_event(&b, cases[i].ev, now + 1, &tr));
        TG_CHECK(is(&tr, TG_BREAKER_HALF_OPEN, TG_BREAKER_OPEN, cases[i].reason));
        TG_CHECK_EQ_INT(tr.consecutive_opens, 2);
        /* the earlier probe successes do not carry over */
        to_half_open(&b, &now);
        TG_CHECK(!tg_breaker_on_success(&b, now, &tr));
        TG_CHECK_EQ_INT(tg_breaker_state(&b), TG_BREAKER_HALF_OPEN);
    }
}

TG_TEST(half_open_timeout_and_stale)
{
    tg_breaker_t b;
    tg_breaker_conf_t c = defconf();
    tg_breaker_transition_t tr;
    int64_t now = 0;
    /* successes too slow: the bound re-opens it */
    c.stale_after_ms = 0;
    tg_breaker_init(&b, &c, 3, 0);
    tg_breaker_on_event(&b, TG_BREAKER_EV_DISCONNECT, 0, &tr);
    to_half_open(&b, &now);
    int64_t ho = now;
    TG_CHECK_EQ_INT(tg_breaker_next_deadline(&b), ho + 5000 * MS);
    tg_breaker_on_success(&b, ho + 1000 * MS, &tr);
    tg_breaker_on_success(&b, ho + 2000 * MS, &tr);
    TG_CHECK(!tg_breaker_tick(&b, ho + 4999 * MS, &tr));
    TG_CHECK(tg_breaker_tick(&b, ho + 5000 * MS, &tr));
    TG_CHECK(is(&tr, TG_BREAKER_HALF_OPEN, TG_BREAKER_OPEN, "half_open_timeout"));

    /* staleness shorter than the bound: stale wins, measured from the half_open
     * entry (time spent open does not count) */
    c = defconf();
    c.stale_after_ms = 2000;
    tg_breaker_init(&b, &c, 3, 0);
    tg_breaker_on_event(&b, TG_BREAKER_EV_DISCONNECT, 0, &tr);
    now = 0;
    to_half_open(&b, &now);
    ho = now;
    TG_CHECK_EQ_INT(tg_breaker_next_deadline(&b), ho + 2000 * MS);
    TG_CHECK(!tg_breaker_tick(&b, ho + 1999 * MS, &tr));
    TG_CHECK(tg_breaker_tick(&b, ho + 2000 * MS, &tr));
    TG_CHECK(is(&tr, TG_BREAKER_HALF_OPEN, TG_BREAKER_OPEN, "stale"));

    /* half_open_max_wait_ms = 0: no sticking at all */
    c = defconf();
    c.half_open_max_wait_ms = 0;
    tg_breaker_init(&b, &c, 3, 0);
    tg_breaker_on_event(&b, TG_BREAKER_EV_DISCONNECT, 0, &tr);
    now = 0;
    to_half_open(&b, &now);
    TG_CHECK(tg_breaker_tick(&b, now, &tr));
    TG_CHECK(is(&tr, TG_BREAKER_HALF_OPEN, TG_BREAKER_OPEN, "half_open_timeout"));
}

/* Open/re-open n times and collect the waits. */
static void collect_waits(const tg_breaker_conf_t *c, uint64_t seed, int n, int64_t *waits)
{
    tg_breaker_t b;
    tg_breaker_transition_t tr;
    int64_t now = 0;
    tg_breaker_init(&b, c, seed, 0);
    tg_breaker_on_event(&b, TG_BREAKER_EV_DISCONNECT, 0, &tr);
    waits[0] = tr.open_wait_ns;
    for (int i = 1; i < n; i++) {
        to_half_open(&b, &now);
        tg_breaker_on_failure(&b, now, &tr);
        TG_CHECK_EQ_INT(tr.consecutive_opens, i + 1);
        waits[i] = tr.open_wait_ns;
    }
}

TG_TEST(backoff_doubles_and_caps)
{
    tg_breaker_conf_t c = defconf();
    int64_t w[10];
    /* expected bases: 1,2,4,8,16,30,30,... s; each within ±20 %, never above the cap */
    static const int64_t base[10] = {1000, 2000, 4000, 8000, 16000, 30000, 30000,
                                     30000, 30000, 30000};
    for (uint64_t seed = 0; seed < 200; seed++) {
        collect_waits(&c, seed, 10, w);
        for (int i = 0; i < 10; i++) {
            int64_t lo = base[i] * 800 * 1000, hi = base[i] * 1200 * 1000;
            if (hi > 30000 * MS)
                hi = 30000 * MS;
            if (w[i] < lo || w[i] > hi)
                fprintf(stderr, "  seed %llu open %d: wait %lld\n", (unsigned long long)seed, i,
                        (long long)w[i]);
            TG_CHECK(w[i] >= lo && w[i] <= hi);
        }
    }
    /* the count resets after recovery */
    tg_breaker_t b;
    tg_breaker_transition_t tr;
    int64_t now = 0;
    tg_breaker_init(&b, &c, 9, 0);
    tg_breaker_on_event(&b, TG_BREAKER_EV_DISCONNECT, 0, &tr);
    to_half_open(&b, &now);
    tg_breaker_on_failure(&b, now, &tr);
    TG_CHECK_EQ_INT(tr.consecutive_opens, 2);
    to_half_open(&b, &now);
    for (int i = 0; i < 3; i++)
        tg_breaker_on_success(&b, now, &tr);
    TG_CHECK_EQ_INT(tg_breaker_state(&b), TG_BREAKER_CLOSED);
    TG_CHECK(tg_breaker_on_event(&b, TG_BREAKER_EV_DISCONNECT, now, &tr));
    TG_CHECK_EQ_INT(tr.consecutive_opens, 1);
    TG_CHECK(tr.open_wait_ns >= 800 * MS && tr.open_wait_ns <= 1200 * MS);
}

TG_TEST(jitter_bounds_and_spread)
{
    /* jitter is spread over ±20 % and reproducible per seed */
    tg_breaker_conf_t c = defconf();
    int64_t w[1], mn = INT64_MAX, mx = 0;
    for (uint64_t seed = 0; seed < 2000; seed++) {
        collect_waits(&c, seed, 1, w);
        if (w[0] < mn)
            mn = w[0];
        if (w[0] > mx)
            mx = w[0];
    }
    TG_CHECK(mn >= 800 * MS && mn < 820 * MS);
    TG_CHECK(mx <= 1200 * MS && mx > 1180 * MS);
    int64_t a[5], b2[5];
    collect_waits(&c, 42, 5, a);
    collect_waits(&c, 42, 5, b2);
    TG_CHECK(memcmp(a, b2, sizeof a) == 0);

    /* never below open_wait_ms/2, even when the cap is smaller than that */
    c.open_wait_ms = 1000;
    c.open_wait_max_ms = 100; /* misconfigured: cap < base, base wins */
    for (uint64_t seed = 0; seed < 100; seed++) {
        collect_waits(&c, seed, 3, a);
        for (int i = 0; i < 3; i++)
            TG_CHECK(a[i] >= 500 * MS && a[i] <= 1000 * MS);
    }
    /* zero wait: half_open at the very next tick */
    c = defconf();
    c.open_wait_ms = 0;
    c.open_wait_max_ms = 0;
    collect_waits(&c, 1, 3, a);
    TG_CHECK(a[0] == 0 && a[1] == 0 && a[2] == 0);
}

TG_TEST(null_transition_pointer)
{
    tg_breaker_t b;
    tg_breaker_conf_t c = defconf();
    tg_breaker_init(&b, &c, 1, 0);
    TG_CHECK(tg_breaker_on_event(&b, TG_BREAKER_EV_DISCONNECT, 0, NULL));
    TG_CHECK(tg_breaker_tick(&b, tg_breaker_next_deadline(&b), NULL));
    TG_CHECK_EQ_INT(tg_breaker_state(&b), TG_BREAKER_HALF_OPEN);
}

int main(void)
{
    return tg_test_run();
}
