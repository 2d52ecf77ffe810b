/* metrics.h - lock-free counters, gauges and histograms for /metrics.
 *
 * Every metric lives in a tg_metrics_t owned by the app context. Updates are
 * relaxed atomic adds from any thread; tg_metrics_render() formats the
 * Prometheus text exposition on the gateway thread. Metrics are registered at
 * start-up (main thread) or lazily under the registry lock (labels discovered at
 * run time, e.g. a new close code); the hot path only touches the atomics.
 */
#ifndef TICKGATE_METRICS_H
#define TICKGATE_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define TG_HIST_BUCKETS 16

typedef struct tg_counter {
    _Atomic uint64_t v;
} tg_counter_t;

typedef struct tg_gauge {
    _Atomic int64_t v;
} tg_gauge_t;

/** Histogram of durations in seconds; bucket bounds fixed at registration. */
typedef struct tg_histogram {
    double bounds[TG_HIST_BUCKETS]; /* upper bounds, seconds, ascending */
    int nbounds;
    _Atomic uint64_t counts[TG_HIST_BUCKETS + 1]; /* last = +Inf */
    _Atomic uint64_t sum_ns;
    _Atomic uint64_t count;
} tg_histogram_t;

typedef struct tg_metrics tg_metrics_t;

int tg_metrics_create(tg_metrics_t **out);
void tg_metrics_destroy(tg_metrics_t *m);

/**
 * Find or create a series. `name` is the metric name, `labels` the label set
 * text without braces (`feed="primary",reason="jump"`) or NULL, `help` the HELP
 * line (used the first time a name is seen). The returned pointer is stable for
 * the life of the registry; callers cache it and update without locks.
 */
tg_counter_t *tg_metrics_counter(tg_metrics_t *m, const char *name, const char *labels,
                                 const char *help);
tg_gauge_t *tg_metrics_gauge(tg_metrics_t *m, const char *name, const char *labels,
                             const char *help);
tg_histogram_t *tg_metrics_histogram(tg_metrics_t *m, const char *name, const char *labels,
                                     const char *help);

static inline void tg_counter_add(tg_counter_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}
static inline void tg_gauge_set(tg_gauge_t *g, int64_t v)
{
    atomic_store_explicit(&g->v, v, memory_order_relaxed);
}
static inline void tg_gauge_add(tg_gauge_t *g, int64_t v)
{
    atomic_fetch_add_explicit(&g->v, v, memory_order_relaxed);
}
void tg_histogram_observe_ns(tg_histogram_t *h, int64_t ns);

struct tg_ring;
/**
 * Export a ring's depth (`tickgate_ring_depth{ring}`), high-water mark and
 * drops (`tickgate_ring_dropped_total{ring}`), read from the ring's atomic
 * statistics when /metrics is rendered. The ring must outlive the registry's
 * renders (call tg_metrics_unwatch_ring before destroying it). Any thread.
 */
int tg_metrics_watch_ring(tg_metrics_t *m, const struct tg_ring *ring);
void tg_metrics_unwatch_ring(tg_metrics_t *m, const struct tg_ring *ring);

/** Render the Prometheus text format into a malloc'd buffer (caller frees). */
char *tg_metrics_render(tg_metrics_t *m, size_t *len);

#endif
