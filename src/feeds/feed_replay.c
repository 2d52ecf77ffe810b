/* feed_replay.c - the `replay` feed: recorded ticks from a CSV file or a journal.
 *
 * `path` names a CSV file (`ts_ns,symbol,price,size[,bid,ask]`, optional
 * header) or, when it is a directory, a journal. `speed` paces the ticks at
 * N x real time by their recorded ts (0 = "max": as fast as the engine takes
 * them). Ticks go to tg_feed_emit() in batches of up to 256; the pacer is
 * asked for the delay instead of sleeping in it, so tg_feed_poll() still runs
 * every <= 10 ms while a slow replay waits for its next tick. Malformed CSV
 * lines (journal: corrupt regions) are breaker failures counted as
 * `parse_error`.
 *
 * At the end the feed restarts when `loop` is set; otherwise it sets
 * f->finished and stops driving the breaker altogether: no more
 * tg_feed_poll(), so no timer runs and the breaker stays frozen in its last
 * state. A finished replay is reported `finished` (health), never opened by
 * staleness (that would publish a breaker_open alert for a feed that did
 * exactly what it was asked), and never flaps open/half_open.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tickgate/clock.h"
#include "tickgate/feed.h"
#include "tickgate/log.h"
#include "tickgate/replay.h"

#define REPLAY_BATCH 256
#define POLL_NS      10000000LL   /* tg_feed_poll() at least this often */
#define RETRY_NS     1000000000LL /* wait after an I/O error before reopening */

typedef struct replay {
    bool journal; /* path is a directory */
    tg_replay_src_t *src;
    tg_replay_pacer_t pacer;
    uint64_t bad_seen; /* tg_replay_bad_lines() already reported */
    uint64_t emitted;  /* ticks handed to tg_feed_emit() in this pass */
    size_t n;
    tg_tick_t batch[REPLAY_BATCH];
} replay_t;

static int replay_init(tg_feed_t *f)
{
    const tg_feed_conf_t *c = f->conf;
    struct stat st;
    if (!c->path || !*c->path)
        return -EINVAL;
    /* fail at startup, not silently on the feed thread, for a missing path */
    if (stat(c->path, &st) != 0) {
        int rc = -errno;
        TG_ERROR("replay_open_failed", "feed", TG_S(c->name), "path", TG_S(c->path), "error",
                 TG_S(strerror(-rc)));
        return rc;
    }
    replay_t *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->journal = S_ISDIR(st.st_mode);
    f->priv = r;
    return 0;
}

static void replay_destroy(tg_feed_t *f)
{
    replay_t *r = f->priv;
    if (!r)
        return;
    tg_replay_close(r->src);
    free(r);
    f->priv = NULL;
}

static int replay_open(tg_feed_t *f, replay_t *r)
{
    const char *path = f->conf->path;
    int rc = r->journal ? tg_replay_open_journal(&r->src, path, 0, 0)
                        : tg_replay_open_csv(&r->src, path, 0, 0);
    if (rc) {
        r->src = NULL;
        TG_ERROR("replay_open_failed", "feed", TG_S(f->conf->name), "path", TG_S(path), "error",
                 TG_S(strerror(-rc)));
        return rc;
    }
    /* a fresh pacer per pass: a looped file starts over at its own pace */
    tg_replay_pacer_init(&r->pacer, f->conf->speed);
    r->bad_seen = 0;
    r->emitted = 0;
    return 0;
}

static void flush(tg_feed_t *f, replay_t *r)
{
    if (r->n) {
        tg_feed_emit(f, r->batch, r->n);
        r->emitted += r->n;
        r->n = 0;
    }
}

/* Report lines the source skipped since the last call as parse errors. */
static void report_bad(tg_feed_t *f, replay_t *r)
{
    uint64_t bad = tg_replay_bad_lines(r->src);
    for (; r->bad_seen < bad; r->bad_seen++)
        tg_feed_parse_error(f);
}

/* Sleep up to `ns` (at most one poll period), then run the breaker timers. */
static void nap(tg_feed_t *f, int64_t ns)
{
    if (ns > POLL_NS)
        ns = POLL_NS;
    if (ns > 0) {
        struct timespec ts = {0, (long)ns};
        clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
    }
    tg_feed_poll(f);
}

/* Wait `ns` while polling; false when asked to stop. */
static bool wait_polling(tg_feed_t *f, int64_t ns)
{
    int64_t until = tg_mono_ns() + ns;
    while (!tg_feed_stopping(f)) {
        int64_t left = until - tg_mono_ns();
        if (left <= 0)
            return true;
        nap(f, left);
    }
    return false;
}

/* One pass over the source: 0 at its end, negative errno on an I/O error. */
static int replay_pass(tg_feed_t *f, replay_t *r)
{
    int64_t last_poll = tg_mono_ns();
    while (!tg_feed_stopping(f)) {
        tg_tick_t *t = &r->batch[r->n];
        int rc = tg_replay_next(r->src, t);
        report_bad(f, r);
        if (rc <= 0) {
            flush(f, r);
            return rc;
        }
        /* wait for the tick's turn; what is already due leaves first */
        for (;;) {
            int64_t now = tg_mono_ns();
            int64_t delay = tg_replay_pacer_delay(&r->pacer, t->ts, now);
            if (delay <= 0)
                break;
            if (r->n) {
                /* hand the batch over before sleeping, then move the waiting
                 * tick to the front */
                tg_tick_t keep = *t;
                flush(f, r);
                r->batch[0] = keep;
                t = &r->batch[0];
            }
            nap(f, delay);
            last_poll = tg_mono_ns();
            if (tg_feed_stopping(f))
                return 0;
        }
        if (++r->n == REPLAY_BATCH)
            flush(f, r);
        /* at "max" speed nothing sleeps: keep the timers running anyway */
        int64_t now = tg_mono_ns();
        if (now - last_poll >= POLL_NS) {
            flush(f, r);
            tg_feed_poll(f);
            last_poll = now;
        }
    }
    return 0;
}

static int replay_run(tg_feed_t *f)
{
    replay_t *r = f->priv;
    const tg_feed_conf_t *c = f->conf;
    uint64_t passes = 0;

    while (!tg_feed_stopping(f)) {
        int rc = replay_open(f, r);
        if (rc == 0) {
            TG_INFO("replay_started", "feed", TG_S(c->name), "path", TG_S(c->path), "journal",
                    TG_B(r->journal), "pass", TG_I(passes + 1));
            rc = replay_pass(f, r);
            TG_INFO("replay_pass_done", "feed", TG_S(c->name), "ticks", TG_I(r->emitted), "bad",
                    TG_I(r->bad_seen));
            tg_replay_close(r->src);
            r->src = NULL;
        }
        if (tg_feed_stopping(f))
            break;
        passes++;
        if (rc < 0) {
            /* the file went away or the disk failed: that is a failure, not
             * an end; retry like a lost connection */
            TG_ERROR("replay_io_error", "feed", TG_S(c->name), "error", TG_S(strerror(-rc)));
            tg_feed_disconnected(f);
            if (!wait_polling(f, RETRY_NS))
                break;
            continue;
        }
        if (c->loop) {
            /* an empty file would otherwise spin: pace a tick-less pass */
            if (r->emitted == 0 && !wait_polling(f, POLL_NS))
                break;
            continue;
        }
        atomic_store(&f->finished, 1);
        TG_INFO("feed_finished", "feed", TG_S(c->name), "passes", TG_I(passes));
        /* finished: the breaker is left alone (see the file header) */
        while (!tg_feed_stopping(f)) {
            struct timespec ts = {0, POLL_NS};
            clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
        }
    }
    return 0;
}

const tg_feed_ops_t tg_feed_replay_ops = {
    .type = "replay",
    .init = replay_init,
    .run = replay_run,
    .destroy = replay_destroy,
};
