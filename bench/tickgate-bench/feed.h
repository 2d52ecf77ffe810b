/* feed.h - drives a tickgate `tcp` feed at a fixed rate (--feed-rate R --feed HOST:PORT).
 *
 * Lines "SYMBOL PRICE SIZE TS_NS\n" (SPEC §3), round-robin over the symbols,
 * a random walk in cents. Paced like the synthetic feed and the peers: a 1 ms
 * timer emits every tick due since the start, and more than 100 ms of backlog
 * is skipped and counted, so a server that cannot keep up shows as fewer
 * delivered messages, not as an ever-growing queue in the bench. Runs on one
 * bench thread (the caller's epoll); not thread-safe.
 */
#ifndef TG_BENCH_FEED_H
#define TG_BENCH_FEED_H

#include <stddef.h>
#include <stdint.h>

typedef struct tg_bench_feed {
    int kind;           /* epoll tag, set by the caller; first member on purpose */
    int fd;             /* TCP socket to the feed, non-blocking */
    int timer_fd;       /* 1 ms timerfd */
    double rate;        /* ticks/s */
    char **syms;        /* owned */
    int64_t *cents;     /* price per symbol, in cents */
    size_t nsyms, rr;
    int64_t t0;         /* CLOCK_MONOTONIC ns at start */
    uint64_t produced, skipped, bytes;
    char *buf;          /* pending output (owned) */
    size_t len, cap;
    uint64_t rng;
    int failed;         /* the connection broke: negative errno */
} tg_bench_feed_t;

/**
 * Connect (blocking, retrying for up to `wait_ms`) to host:port and set up
 * the timer. symbols: comma-separated list, or NULL for S000..S099. Returns 0
 * or a negative errno; on error nothing is left open.
 */
int tg_bench_feed_open(tg_bench_feed_t *f, const char *host_port, double rate,
                       const char *symbols, int wait_ms);

/** Emit the ticks due at now_mono and write what the socket takes. Call on each timer tick. */
void tg_bench_feed_pump(tg_bench_feed_t *f, int64_t now_mono);

/** Write pending output (on EPOLLOUT). Returns 1 while output is pending, 0 when empty. */
int tg_bench_feed_flush(tg_bench_feed_t *f);

/** Close and free; accepts a zeroed or already-closed feed. */
void tg_bench_feed_close(tg_bench_feed_t *f);

#endif
