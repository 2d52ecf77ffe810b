/* metrics.c - the metric registry and Prometheus text rendering. */
#include "tickgate/metrics.h"

#include "tickgate/ring.h"
#include "tickgate/buf.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { KIND_COUNTER, KIND_GAUGE, KIND_HIST } kind_t;

typedef struct series {
    struct series *next;
    kind_t kind;
    char *name;
    char *labels;
    char *help;
    union {
        tg_counter_t c;
        tg_gauge_t g;
        tg_histogram_t h;
    } u;
} series_t;

typedef struct watched {
    struct watched *next;
    const tg_ring_t *ring;
    tg_gauge_t *depth, *hwm;
    tg_counter_t *dropped;
} watched_t;

struct tg_metrics {
    pthread_mutex_t lock; /* registration and rendering only, never updates */
    series_t *head, *tail;
    watched_t *rings;     /* sampled at render time */
};

int tg_metrics_create(tg_metrics_t **out)
{
    tg_metrics_t *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    pthread_mutex_init(&m->lock, NULL);
    *out = m;
    return 0;
}

void tg_metrics_destroy(tg_metrics_t *m)
{
    if (!m)
        return;
    for (watched_t *w = m->rings, *n; w; w = n) {
        n = w->next;
        free(w);
    }
    for (series_t *s = m->head, *n; s; s = n) {
        n = s->next;
        free(s->name);
        free(s->labels);
        free(s->help);
        free(s);
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static const double default_bounds[] = {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
                                        0.001,   0.0025,   0.005,   0.01,   0.025,   0.05,
                                        0.1,     0.25,     0.5,     1.0};

static void *find_or_add(tg_metrics_t *m, kind_t kind, const char *name, const char *labels,
                         const char *help)
{
    void *ret = NULL;
    pthread_mutex_lock(&m->lock);
    for (series_t *s = m->head; s; s = s->next)
        if (s->kind == kind && strcmp(s->name, name) == 0 &&
            strcmp(s->labels, labels ? labels : "") == 0) {
            ret = &s->u;
            goto out;
        }
    series_t *s = calloc(1, sizeof *s);
    if (!s)
        goto out;
    s->kind = kind;
    s->name = strdup(name);
    s->labels = strdup(labels ? labels : "");
    s->help = strdup(help ? help : "");
    if (!s->name || !s->labels || !s->help) {
        free(s->name);
        free(s->labels);
        free(s->help);
        free(s);
        goto out;
    }
    if (kind == KIND_HIST) {
        s->u.h.nbounds = TG_HIST_BUCKETS;
        memcpy(s->u.h.bounds, default_bounds, sizeof default_bounds);
    }
    /* Keep series of one name together so HELP/TYPE print once. */
    series_t **pp = &m->head, *last_same = NULL;
    for (series_t *it = m->head; it; it = it->next)
        if (strcmp(it->name, name) == 0)
            last_same = it;
    if (last_same) {
        s->next = last_same->next;
        last_same->next = s;
    } else {
        while (*pp)
            pp = &(*pp)->next;
        *pp = s;
    }
    ret = &s->u;
out:
    pthread_mutex_unlock(&m->lock);
    return ret;
}

tg_counter_t *tg_metrics_counter(tg_metrics_t *m, const char *name, const char *labels,
                                 const char *help)
{
    return find_or_add(m, KIND_COUNTER, name, labels, help);
}

tg_gauge_t *tg_metrics_gauge(tg_metrics_t *m, const char *name, const char *labels,
                             const char *help)
{
    return find_or_add(m, KIND_GAUGE, name, labels, help);
}

tg_histogram_t *tg_metrics_histogram(tg_metrics_t *m, const char *name, const char *labels,
                                     const char *help)
{
    return find_or_add(m, KIND_HIST, name, labels, help);
}

void tg_histogram_observe_ns(tg_histogram_t *h, int64_t ns)
{
    if (ns < 0)
        ns = 0;
    double s = (double)ns / 1e9;
    int i = 0;
    while (i < h->nbounds && s > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, (uint64_t)ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

static const char *kind_name(kind_t k)
{
    return k == KIND_COUNTER ? "counter" : k == KIND_GAUGE ? "gauge" : "histogram";
}

int tg_metrics_watch_ring(tg_metrics_t *m, const tg_ring_t *ring)
{
    char label[160];
    snprintf(label, sizeof label, "ring=\"%s\"", tg_ring_name(ring));
    watched_t *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->ring = ring;
    w->depth = tg_metrics_gauge(m, "tickgate_ring_depth", label, "Records queued in a ring");
    w->hwm = tg_metrics_gauge(m, "tickgate_ring_high_water", label,
                              "Largest depth a ring has reached");
    w->dropped = tg_metrics_counter(m, "tickgate_ring_dropped_total", label,
                                    "Records dropped by a drop_oldest ring (never silent)");
    if (!w->depth || !w->hwm || !w->dropped) {
        free(w);
        return -ENOMEM;
    }
    pthread_mutex_lock(&m->lock);
    w->next = m->rings;
    m->rings = w;
    pthread_mutex_unlock(&m->lock);
    return 0;
}

void tg_metrics_unwatch_ring(tg_metrics_t *m, const tg_ring_t *ring)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    for (watched_t **pp = &m->rings; *pp; pp = &(*pp)->next)
        if ((*pp)->ring == ring) {
            watched_t *w = *pp;
            *pp = w->next;
            free(w);
            break;
        }
    pthread_mutex_unlock(&m->lock);
}

static void sample_rings(tg_metrics_t *m)
{
    for (watched_t *w = m->rings; w; w = w->next) {
        tg_ring_stats_t st;
        tg_ring_get_stats(w->ring, &st);
        tg_gauge_set(w->depth, (int64_t)st.depth);
        tg_gauge_set(w->hwm, (int64_t)st.high_water);
        atomic_store_explicit(&w->dropped->v, st.dropped, memory_order_relaxed);
    }
}

char *tg_metrics_render(tg_metrics_t *m, size_t *len)
{
    tg_buf_t b = {0};
    if (!tg_buf_reserve(&b, 16384))
        return NULL;
    pthread_mutex_lock(&m->lock);
    sample_rings(m);
    const char *prev = "";
    for (series_t *s = m->head; s; s = s->next) {
        if (strcmp(prev, s->name) != 0) {
            tg_buf_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", s->name, s->help, s->name,
                      kind_name(s->kind));
            prev = s->name;
        }
        const char *lb = s->labels;
        switch (s->kind) {
        case KIND_COUNTER:
            tg_buf_printf(&b, "%s%s%s%s %llu\n", s->name, *lb ? "{" : "", lb, *lb ? "}" : "",
                      (unsigned long long)atomic_load(&s->u.c.v));
            break;
        case KIND_GAUGE:
            tg_buf_printf(&b, "%s%s%s%s %lld\n", s->name, *lb ? "{" : "", lb, *lb ? "}" : "",
                      (long long)atomic_load(&s->u.g.v));
            break;
        case KIND_HIST: {
            uint64_t cum = 0;
            for (int i = 0; i <= s->u.h.nbounds; i++) {
                cum += atomic_load(&s->u.h.counts[i]);
                if (i < s->u.h.nbounds)
                    tg_buf_printf(&b, "%s_bucket{%s%sle=\"%g\"} %llu\n", s->name, lb, *lb ? "," : "",
                              s->u.h.bounds[i], (unsigned long long)cum);
                else
                    tg_buf_printf(&b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", s->name, lb,
                              *lb ? "," : "", (unsigned long long)cum);
            }
            tg_buf_printf(&b, "%s_sum%s%s%s %.9f\n", s->name, *lb ? "{" : "", lb, *lb ? "}" : "",
                      (double)atomic_load(&s->u.h.sum_ns) / 1e9);
            tg_buf_printf(&b, "%s_count%s%s%s %llu\n", s->name, *lb ? "{" : "", lb, *lb ? "}" : "",
                      (unsigned long long)atomic_load(&s->u.h.count));
            break;
        }
        }
    }
    pthread_mutex_unlock(&m->lock);
    return tg_buf_steal(&b, len);
}
