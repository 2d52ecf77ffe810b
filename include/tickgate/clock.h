/* clock.h - time helpers; all times are int64 nanoseconds. */
#ifndef TICKGATE_CLOCK_H
#define TICKGATE_CLOCK_H

#include <stdint.h>
#include <time.h>

/** Wall clock, ns since the Unix epoch (tick `ts`, `server_time`). */
static inline int64_t tg_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/** Monotonic clock, ns; for timers and durations. */
static inline int64_t tg_mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/**
 * RFC 3339 time ("2024-05-01T12:00:00.123Z", offsets "+02:00") to ns since the
 * epoch; s[0..n), no NUL needed. -EINVAL for anything else, -ERANGE outside
 * 1970..2262. Used by feed formats and the alerts API's since=.
 */
int tg_rfc3339_parse(const char *s, size_t n, int64_t *ns);

/**
 * A point in time as the HTTP API takes it (from/to/since): ns since the Unix
 * epoch (digits only, no sign) or RFC 3339 as above, exactly `n` bytes. 0,
 * -EINVAL (malformed, empty, over 64 bytes) or -ERANGE; *ns untouched on error.
 */
int tg_time_parse(const char *s, size_t n, int64_t *ns);

#endif
