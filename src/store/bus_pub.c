/* bus_pub.c - the ingest node's bus publisher (SPEC §14, see bus.h).
 *
 * The engine treats the publisher as one more gateway output: it pushes every
 * message into our SPSC ring and moves on. This thread moves the messages into
 * its own queue at once (so the ring never fills and the engine never waits
 * on Redis), numbers them (entry no within the epoch), and pipelines one XADD
 * (or PUBLISH) per message, at most WINDOW unanswered. A reply acknowledges
 * the oldest message in flight. When the connection drops, everything not
 * acknowledged is sent again after the reconnect: the consumer drops what it
 * already has by entry number, so a Redis outage loses nothing it can keep.
 * Past QUEUE_MAX buffered messages new ones are dropped and counted;
 * consumers see the jump in entry numbers and per-key seq.
 */
#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bus_link.h"
#include "tickgate/bus.h"
#include "tickgate/clock.h"
#include "tickgate/log.h"
#include "tickgate/redis_sync.h"

#define WINDOW 1024          /* commands in flight */
#define QUEUE_MAX (1u << 20) /* messages buffered while Redis is away */
#define POP_BATCH 512
#define HEARTBEAT_NS 1000000000LL /* idle: tell gateways the epoch and the last entry no */

typedef struct pend {
    tg_msg_t *m;
    uint64_t no;
} pend_t;

struct tg_bus_pub {
    const tg_config_t *cfg;
    char epoch[TG_BUS_EPOCH_MAX + 1];
    char maxlen[24];
    bool stream;
    tg_ring_t *ring;
    int wake_fd;
    _Atomic int sleeping;
    pthread_t thread;
    bool started;
    _Atomic int stop;
    int64_t stop_deadline_ns;

    tg__bus_link_t link;
    int64_t progress_ns;  /* last reply, or when the pipeline went from idle to busy */
    int64_t timeout_ns;

    pend_t *q;            /* ring buffer of QUEUE_MAX */
    size_t qhead, qlen, nsent;
    uint64_t next_no;
    int64_t last_queued_ns;
    msgpack_sbuffer sb;
    tg_msg_t *batch[POP_BATCH];

    tg_counter_t *m_published, *m_dropped, *m_errors;
    tg_gauge_t *m_backlog;
};

tg_ring_t **tg_bus_pub_ring(tg_bus_pub_t *p)
{
    return &p->ring;
}

void tg_bus_pub_wake(void *arg)
{
    tg_bus_pub_t *p = arg;
    if (atomic_exchange_explicit(&p->sleeping, 0, memory_order_seq_cst)) {
        uint64_t one = 1;
        ssize_t w = write(p->wake_fd, &one, sizeof one);
        (void)w; /* a full counter still wakes the reader */
    }
}

bool tg_bus_pub_up(const tg_bus_pub_t *p)
{
    return p && atomic_load(&p->link.up);
}

static pend_t *at(tg_bus_pub_t *p, size_t i)
{
    return &p->q[(p->qhead + i) % QUEUE_MAX];
}

static void set_down(tg_bus_pub_t *p, const char *why)
{
    char reason[128];
    p->nsent = 0; /* everything unacknowledged goes again */
    if (tg__bus_link_down(&p->link, why, reason, sizeof reason))
        TG_WARN("bus_down", "role", TG_S("ingest"), "channel", TG_S(p->cfg->redis.bus_channel),
                "error", TG_S(reason), "backlog", TG_I(p->qlen));
}

static void try_connect(tg_bus_pub_t *p)
{
    const char *why;
    if (!tg__bus_link_connect(&p->link, &why)) {
        set_down(p, why);
        return;
    }
    p->nsent = 0;
    tg__bus_link_up(&p->link);
    TG_INFO("bus_up", "role", TG_S("ingest"), "channel", TG_S(p->cfg->redis.bus_channel), "mode",
            TG_S(p->stream ? "stream" : "pubsub"), "epoch", TG_S(p->epoch), "backlog",
            TG_I(p->qlen));
}

/* Engine ring -> our queue (numbered). Never waits. */
static size_t take(tg_bus_pub_t *p)
{
    size_t n, total = 0;
    while ((n = tg_ring_pop(p->ring, p->batch, POP_BATCH)) > 0) {
        for (size_t i = 0; i < n; i++) {
            tg_msg_t *m = p->batch[i];
            if (m->type == TG_MSG_REPLY || m->type == TG_MSG_EPOCH) {
                tg_msg_unref(m);
                continue;
            }
            if (p->qlen == QUEUE_MAX) {
                /* full (Redis away for long): this one is lost; the entry
                 * number still advances so consumers see the gap */
                tg_msg_unref(m);
                p->next_no++;
                tg_counter_add(p->m_dropped, 1);
                continue;
            }
            *at(p, p->qlen++) = (pend_t){m, ++p->next_no};
            p->last_queued_ns = tg_mono_ns();
        }
        total += n;
    }
    tg_gauge_set(p->m_backlog, (int64_t)p->qlen);
    return total;
}

/* Idle: a gateway that starts now (or missed the last entries) learns the
 * epoch and the last entry number from this. It takes no number itself. */
static void heartbeat(tg_bus_pub_t *p, int64_t now)
{
    p->last_queued_ns = now;
    tg_msg_t *m = tg_msg_new("", 0, "", 0);
    if (!m)
        return;
    m->type = TG_MSG_EPOCH;
    m->ts = tg_now_ns();
    *at(p, p->qlen++) = (pend_t){m, p->next_no};
}

/* Pipeline what is queued and not yet in flight. */
static void send_more(tg_bus_pub_t *p)
{
    const char *key = p->cfg->redis.bus_channel;
    size_t appended = 0;
    while (p->link.c && p->nsent < p->qlen && p->nsent < WINDOW) {
        pend_t *e = at(p, p->nsent);
        msgpack_sbuffer_clear(&p->sb);
        if (tg_bus_entry_encode(e->m, p->epoch, e->no, &p->sb) != 0) {
            /* cannot happen for engine messages; never stall the queue on one */
            tg_counter_add(p->m_errors, 1);
            if (p->nsent == 0) {
                tg_msg_unref(e->m);
                p->qhead = (p->qhead + 1) % QUEUE_MAX;
                p->qlen--;
                continue;
            }
            break;
        }
        int rc;
        if (p->stream) {
            const char *argv[7] = {"XADD", key, "MAXLEN", "~", p->maxlen, "*", "e"};
            const char *a[8];
            size_t lens[8];
            memcpy(a, argv, sizeof argv);
            for (int i = 0; i < 7; i++)
                lens[i] = strlen(a[i]);
            a[7] = p->sb.data;
            lens[7] = p->sb.size;
            rc = redisAppendCommandArgv(p->link.c, 8, a, lens);
        } else {
            const char *a[3] = {"PUBLISH", key, p->sb.data};
            size_t lens[3] = {7, strlen(key), p->sb.size};
            rc = redisAppendCommandArgv(p->link.c, 3, a, lens);
        }
        if (rc != REDIS_OK) {
            set_down(p, "append failed");
            return;
        }
        if (p->nsent == 0)
            p->progress_ns = tg_mono_ns();
        p->nsent++;
        appended++;
    }
    if (appended && tg_redis_sync_flush(p->link.c) != 0)
        set_down(p, p->link.c->errstr[0] ? p->link.c->errstr : "write failed");
}

static void read_replies(tg_bus_pub_t *p)
{
    if (redisBufferRead(p->link.c) != REDIS_OK) {
        set_down(p, p->link.c->errstr[0] ? p->link.c->errstr : "connection lost");
        return;
    }
    void *reply;
    while (p->link.c && redisGetReplyFromReader(p->link.c, &reply) == REDIS_OK && reply) {
        redisReply *rep = reply;
        if (p->nsent == 0) { /* a reply nobody asked for: the stream is out of step */
            freeReplyObject(rep);
            set_down(p, "unexpected reply");
            return;
        }
        if (rep->type == REDIS_REPLY_ERROR) {
            /* e.g. WRONGTYPE or OOM: resending would fail the same way */
            tg_counter_add(p->m_errors, 1);
            TG_WARN("bus_publish_failed", "channel", TG_S(p->cfg->redis.bus_channel), "error",
                    TG_S(rep->str));
        } else if (at(p, 0)->m->type != TG_MSG_EPOCH) {
            tg_counter_add(p->m_published, 1);
        }
        freeReplyObject(rep);
        tg_msg_unref(at(p, 0)->m);
        p->qhead = (p->qhead + 1) % QUEUE_MAX;
        p->qlen--;
        p->nsent--;
        p->progress_ns = tg_mono_ns();
    }
    if (p->link.c && p->link.c->err)
        set_down(p, "protocol error");
    tg_gauge_set(p->m_backlog, (int64_t)p->qlen);
}

static void *pub_thread(void *arg)
{
    tg_bus_pub_t *p = arg;
    for (;;) {
        take(p);
        if (atomic_load(&p->stop) &&
            ((p->qlen == 0 && tg_ring_depth(p->ring) == 0) || tg_mono_ns() >= p->stop_deadline_ns))
            break;
        int64_t now = tg_mono_ns();
        if (!p->link.c && now >= p->link.next_connect_ns)
            try_connect(p);
        if (p->link.c && p->qlen == 0 && now - p->last_queued_ns >= HEARTBEAT_NS)
            heartbeat(p, now);
        if (p->link.c)
            send_more(p);
        if (p->link.c && p->nsent && now - p->progress_ns > p->timeout_ns)
            set_down(p, "timeout");
        struct pollfd fds[2] = {{.fd = p->wake_fd, .events = POLLIN},
                                {.fd = p->link.c ? p->link.c->fd : -1, .events = POLLIN}};
        atomic_store_explicit(&p->sleeping, 1, memory_order_seq_cst);
        int timeout = 100;
        if (tg_ring_depth(p->ring) > 0 || (p->link.c && p->nsent < p->qlen && p->nsent < WINDOW))
            timeout = 0;
        else if (!p->link.c)
            timeout = 10;
        int pr = poll(fds, 2, timeout);
        atomic_store_explicit(&p->sleeping, 0, memory_order_relaxed);
        if (pr > 0 && (fds[0].revents & POLLIN)) {
            uint64_t v;
            ssize_t r = read(p->wake_fd, &v, sizeof v);
            (void)r;
        }
        if (pr > 0 && p->link.c && (fds[1].revents & (POLLIN | POLLERR | POLLHUP)))
            read_replies(p);
    }
    return NULL;
}

int tg_bus_pub_create(tg_bus_pub_t **out, const tg_config_t *cfg, tg_metrics_t *metrics)
{
    if (!out || !cfg)
        return -EINVAL;
    tg_bus_pub_t *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->cfg = cfg;
    int rc = tg__bus_link_init(&p->link, cfg, (uint64_t)tg_now_ns());
    if (rc)
        goto fail_free;
    snprintf(p->maxlen, sizeof p->maxlen, "%lld", cfg->redis.bus_maxlen);
    p->stream = strcmp(cfg->redis.bus_mode, "pubsub") != 0;
    /* a slow reply is not a dead server: several command deadlines */
    p->timeout_ns = (int64_t)cfg->redis.command_timeout_ms * 4 * 1000000LL;
    p->q = malloc(QUEUE_MAX * sizeof *p->q);
    if (!p->q) {
        rc = -ENOMEM;
        goto fail_free;
    }
    p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->wake_fd < 0) {
        rc = -errno;
        goto fail_q;
    }
    msgpack_sbuffer_init(&p->sb);
    const char *l = "role=\"ingest\"";
    p->m_published = tg_metrics_counter(metrics, "tickgate_bus_published_total", l,
                                        "Messages published on the cluster bus");
    p->m_dropped = tg_metrics_counter(metrics, "tickgate_bus_dropped_total", l,
                                      "Bus messages dropped (publisher backlog full)");
    p->m_errors = tg_metrics_counter(metrics, "tickgate_bus_errors_total", l,
                                     "Bus messages Redis refused");
    p->m_backlog = tg_metrics_gauge(metrics, "tickgate_bus_backlog", l,
                                    "Bus messages waiting to be published or acknowledged");
    p->link.m_up = tg_metrics_gauge(metrics, "tickgate_bus_up", l,
                               "1 while the node is connected to the cluster bus");
    if (!p->m_published || !p->m_dropped || !p->m_errors || !p->m_backlog || !p->link.m_up) {
        rc = -ENOMEM;
        goto fail_sb;
    }
    *out = p;
    return 0;
fail_sb:
    msgpack_sbuffer_destroy(&p->sb);
    close(p->wake_fd);
fail_q:
    free(p->q);
fail_free:
    free(p);
    return rc;
}

int tg_bus_pub_start(tg_bus_pub_t *p, const char *epoch)
{
    if (!p->ring || !epoch || !epoch[0] || strlen(epoch) > TG_BUS_EPOCH_MAX)
        return -EINVAL; /* not registered as an engine output, or a bad epoch */
    snprintf(p->epoch, sizeof p->epoch, "%s", epoch);
    int rc = pthread_create(&p->thread, NULL, pub_thread, p);
    if (rc)
        return -rc;
    pthread_setname_np(p->thread, "tg-bus-pub");
    p->started = true;
    return 0;
}

void tg_bus_pub_stop(tg_bus_pub_t *p, int grace_ms)
{
    if (!p)
        return;
    if (p->started) {
        p->stop_deadline_ns = tg_mono_ns() + (int64_t)grace_ms * 1000000LL;
        atomic_store(&p->stop, 1);
        tg_bus_pub_wake(p);
        uint64_t one = 1;
        ssize_t w = write(p->wake_fd, &one, sizeof one);
        (void)w;
        pthread_join(p->thread, NULL);
    }
    for (size_t i = 0; i < p->qlen; i++)
        tg_msg_unref(at(p, i)->m);
    tg_msg_t *m;
    while (p->ring && tg_ring_pop(p->ring, &m, 1) == 1)
        tg_msg_unref(m);
    tg_ring_destroy(p->ring); /* the consumer frees it, as gateway threads do */
    tg__bus_link_close(&p->link);
    msgpack_sbuffer_destroy(&p->sb);
    close(p->wake_fd);
    free(p->q);
    free(p);
}
