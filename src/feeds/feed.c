/* feed.c - feed registry, thread lifecycle and the emit path into the ring. */
#include "tickgate/feed.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tickgate/clock.h"
#include "tickgate/log.h"

const tg_feed_ops_t *tg_feed_ops_for(tg_feed_type_t type)
{
    switch (type) {
    case TG_FEED_SYNTHETIC:
        return &tg_feed_synthetic_ops;
    default:
        return NULL;
    }
}

static const char *type_name(tg_feed_type_t t)
{
    static const char *const names[] = {"synthetic", "replay", "ws", "tcp", "redis"};
    return (unsigned)t < 5 ? names[t] : "?";
}

int tg_feed_init(tg_feed_t *f, const tg_config_t *cfg, uint16_t index, size_t ring_capacity,
                 tg_metrics_t *metrics, tg_feed_wake_fn wake, void *wake_arg)
{
    memset(f, 0, sizeof *f);
    f->conf = &cfg->feeds[index];
    f->index = index;
    f->wake = wake;
    f->wake_arg = wake_arg;
    f->ops = tg_feed_ops_for(f->conf->type);
    if (!f->ops) {
        TG_ERROR("feed_unsupported", "feed", TG_S(f->conf->name), "type",
                 TG_S(type_name(f->conf->type)));
        return -ENOTSUP;
    }
    char label[160];
    snprintf(label, sizeof label, "feed:%s", f->conf->name);
    int rc = tg_ring_create(&f->ring, label, sizeof(tg_tick_t), ring_capacity, TG_RING_BLOCK);
    if (rc)
        return rc;
    snprintf(label, sizeof label, "feed=\"%s\"", f->conf->name);
    f->m_received = tg_metrics_counter(metrics, "tickgate_ticks_received_total", label,
                                       "Ticks received from the feed, before validation");
    f->m_skipped = tg_metrics_counter(metrics, "tickgate_feed_ticks_skipped_total", label,
                                      "Synthetic ticks skipped because the generator ran late");
    char l2[200];
    snprintf(l2, sizeof l2, "feed=\"%s\",reason=\"parse_error\"", f->conf->name);
    f->m_rejected_parse = tg_metrics_counter(metrics, "tickgate_ticks_rejected_total", l2,
                                             "Ticks rejected by validation, by reason");
    if (!f->m_received || !f->m_skipped || !f->m_rejected_parse) {
        rc = -ENOMEM;
        goto fail_ring;
    }
    rc = f->ops->init(f);
    if (rc)
        goto fail_ring;
    return 0;
fail_ring:
    tg_ring_destroy(f->ring);
    f->ring = NULL;
    return rc;
}

static void *feed_thread(void *arg)
{
    tg_feed_t *f = arg;
    char name[16];
    snprintf(name, sizeof name, "feed-%.10s", f->conf->name);
    pthread_setname_np(pthread_self(), name);
    TG_INFO("feed_connected", "feed", TG_S(f->conf->name), "type", TG_S(f->ops->type));
    int rc = f->ops->run(f);
    if (rc)
        TG_ERROR("feed_disconnected", "feed", TG_S(f->conf->name), "error", TG_S(strerror(-rc)));
    return NULL;
}

int tg_feed_start(tg_feed_t *f)
{
    int rc = pthread_create(&f->thread, NULL, feed_thread, f);
    if (rc)
        return -rc;
    f->started = true;
    return 0;
}

void tg_feed_stop(tg_feed_t *f)
{
    if (!f->started)
        return;
    atomic_store(&f->stop, 1);
    pthread_join(f->thread, NULL);
    f->started = false;
}

void tg_feed_destroy(tg_feed_t *f)
{
    if (!f)
        return;
    tg_feed_stop(f);
    if (f->ops && f->priv)
        f->ops->destroy(f);
    tg_ring_destroy(f->ring);
    f->ring = NULL;
}

void tg_feed_emit(tg_feed_t *f, tg_tick_t *ticks, size_t n)
{
    int64_t now = tg_now_ns();
    for (size_t i = 0; i < n; i++) {
        if (!ticks[i].ts)
            ticks[i].ts = now;
        ticks[i].feed = f->index;
    }
    tg_counter_add(f->m_received, n);
    size_t done = 0;
    while (done < n && !tg_feed_stopping(f)) {
        size_t k = tg_ring_push(f->ring, ticks + done, n - done);
        done += k;
        if (f->wake)
            f->wake(f->wake_arg);
        if (done < n) {
            /* Backpressure: the engine is behind; give it the core briefly. */
            struct timespec pause = {0, 50000};
            nanosleep(&pause, NULL);
        }
    }
    atomic_store_explicit(&f->last_tick_ns, tg_mono_ns(), memory_order_relaxed);
}
