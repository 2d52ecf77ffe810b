/* journal_thread.c - the journal thread: drains the engine's tick ring into the journal (see journal_writer.h). */
#include "tickgate/journal_writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tickgate/journal.h"
#include "tickgate/log.h"

struct tg_journal_writer {
    tg_journal_t *j;
    tg_ring_t *ring;
    tg_metrics_t *metrics;
    pthread_t thread;
    _Atomic int stop;
    tg_gauge_t *m_uring;
    tg_counter_t *m_bytes;
    uint64_t bytes_reported;
    tg_tick_t batch[512];
};

static void report(tg_journal_writer_t *w)
{
    uint64_t b = tg_journal_bytes(w->j);
    tg_counter_add(w->m_bytes, b - w->bytes_reported);
    w->bytes_reported = b;
}

static void *writer_thread(void *arg)
{
    tg_journal_writer_t *w = arg;
    pthread_setname_np(pthread_self(), "journal");
    for (;;) {
        bool stopping = atomic_load(&w->stop);
        size_t n = tg_ring_pop(w->ring, w->batch, sizeof w->batch / sizeof w->batch[0]);
        if (n) {
            if (tg_journal_append(w->j, w->batch, n) != 0)
                TG_WARN("journal_write_failed", "records", TG_I(n));
            continue;
        }
        if (stopping)
            break;
        tg_journal_poll(w->j);
        report(w);
        /* the ring has no doorbell: 1 ms naps keep the journal within its 5 ms budget */
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    tg_journal_flush(w->j);
    report(w);
    return NULL;
}

int tg_journal_writer_start(tg_journal_writer_t **out, const tg_config_t *cfg,
                            tg_metrics_t *metrics)
{
    tg_journal_fsync_t pol;
    if (tg_journal_fsync_parse(cfg->journal.fsync, &pol) != 0)
        return -EINVAL;
    tg_journal_writer_t *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    int rc = tg_journal_open(&w->j, cfg->journal.dir, cfg->journal.segment_bytes,
                             cfg->journal.max_bytes, pol, cfg->journal.fsync_interval_ms,
                             !cfg->server.disable_io_uring);
    if (rc) {
        TG_ERROR("journal_open_failed", "dir", TG_S(cfg->journal.dir), "error",
                 TG_S(strerror(-rc)));
        goto fail;
    }
    rc = tg_ring_create(&w->ring, "journal", sizeof(tg_tick_t), 262144, TG_RING_BLOCK);
    if (rc)
        goto fail_journal;
    w->m_uring = tg_metrics_gauge(metrics, "tickgate_io_uring_enabled", NULL,
                                  "1 when the journal writes through io_uring");
    w->m_bytes = tg_metrics_counter(metrics, "tickgate_journal_bytes_total", NULL,
                                    "Bytes appended to the tick journal");
    if (!w->m_uring || !w->m_bytes) {
        rc = -ENOMEM;
        goto fail_ring;
    }
    tg_gauge_set(w->m_uring, tg_journal_uring_enabled(w->j) ? 1 : 0);
    w->metrics = metrics;
    tg_metrics_watch_ring(metrics, w->ring);
    rc = pthread_create(&w->thread, NULL, writer_thread, w);
    if (rc) {
        rc = -rc;
        goto fail_ring;
    }
    *out = w;
    return 0;
fail_ring:
    tg_ring_destroy(w->ring);
fail_journal:
    tg_journal_close(w->j);
fail:
    free(w);
    return rc;
}

void tg_journal_writer_push(tg_journal_writer_t *w, const tg_tick_t *ticks, size_t n)
{
    size_t done = 0;
    while (done < n) {
        done += tg_ring_push(w->ring, ticks + done, n - done);
        if (done < n) {
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
    }
}

void tg_journal_writer_stop(tg_journal_writer_t *w)
{
    if (!w)
        return;
    atomic_store(&w->stop, 1);
    pthread_join(w->thread, NULL);
    tg_journal_close(w->j);
    tg_metrics_unwatch_ring(w->metrics, w->ring);
    tg_ring_destroy(w->ring);
    free(w);
}
