/* bus_sub.c - a gateway node's bus consumer (SPEC §14, see bus.h).
 *
 * Takes the place of the engine on a gateway node: it reads the bus and
 * pushes the decoded messages (key, seq, ts and both encodings exactly as the
 * ingest engine made them) into one SPSC ring per service thread, so the
 * gateway's hub, history and `since` recovery work as on the ingest node.
 *
 * Stream mode: XREAD BLOCK from the last entry ID read, so a lost connection
 * or a Redis restart leaves no gap (the publisher resends what Redis did not
 * acknowledge; duplicates are dropped here by entry number). At start the
 * consumer reads the stream from its beginning, skipping entries of older
 * epochs, so a new gateway holds the same history as the others.
 * Pub/sub mode: SUBSCRIBE; what is published while the connection is down is
 * lost, so every reconnect tells the service threads that history has a gap.
 *
 * The service threads learn the ingest epoch, and its changes, from a
 * TG_MSG_EPOCH message in their ring (key_name = epoch; aux 1 = same epoch,
 * but messages were lost: forget history).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus_link.h"
#include "tickgate/bus.h"
#include "tickgate/clock.h"
#include "tickgate/log.h"
#include "tickgate/redis_sync.h"

#define MAX_OUTPUTS 64
#define XREAD_BLOCK_MS 100
#define XREAD_COUNT 1024
#define XREAD_COUNT_S "1024"

typedef struct output {
    tg_ring_t *ring;
    tg_bus_wake_fn wake;
    void *arg;
    bool dirty;
} output_t;

struct tg_bus_sub {
    const tg_config_t *cfg;
    bool stream;
    output_t out[MAX_OUTPUTS];
    size_t nout;
    pthread_t thread;
    bool started;
    _Atomic int stop;
    _Atomic int synced;     /* the threads have the ingest epoch (and, on a stream, the backlog) */

    tg__bus_link_t link;
    int64_t asked_ns;       /* XREAD sent at (0 = none in flight) */
    bool subscribed_once;   /* pub/sub: a later SUBSCRIBE means a gap */
    char last_id[64];       /* stream position: last entry ID read */
    size_t batch_n;         /* entries in the XREAD reply being walked */
    char skip_epoch[TG_BUS_EPOCH_MAX + 1]; /* catching up: entries not of this epoch are old */
    char epoch[TG_BUS_EPOCH_MAX + 1];
    uint64_t last_no;

    tg_counter_t *m_received, *m_dups, *m_gaps, *m_rejected;
    tg_histogram_t *m_hop;
};

int tg_bus_sub_add_output(tg_bus_sub_t *b, tg_ring_t **ring, tg_bus_wake_fn wake, void *arg)
{
    if (b->nout >= MAX_OUTPUTS)
        return -ENOSPC;
    char name[32];
    snprintf(name, sizeof name, "gateway:%zu", b->nout);
    /* blocking, like the engine's outputs: a dropped pointer would leak */
    int rc = tg_ring_create(ring, name, sizeof(tg_msg_t *), 65536, TG_RING_BLOCK);
    if (rc)
        return rc;
    b->out[b->nout++] = (output_t){.ring = *ring, .wake = wake, .arg = arg};
    return 0;
}

bool tg_bus_sub_up(const tg_bus_sub_t *b)
{
    return b && atomic_load(&b->link.up);
}

bool tg_bus_sub_synced(const tg_bus_sub_t *b)
{
    return b && atomic_load(&b->synced);
}

/* Hand one message to every service thread (one reference each). */
static void deliver(tg_bus_sub_t *b, tg_msg_t *m)
{
    for (size_t i = 0; i < b->nout; i++) {
        tg_msg_t *ref = i + 1 < b->nout ? tg_msg_ref(m) : m;
        while (tg_ring_push(b->out[i].ring, &ref, 1) == 0) {
            if (b->out[i].wake)
                b->out[i].wake(b->out[i].arg);
            if (atomic_load_explicit(&b->stop, memory_order_relaxed)) {
                tg_msg_unref(ref);
                break;
            }
            struct timespec pause = {0, 20000};
            nanosleep(&pause, NULL);
        }
        b->out[i].dirty = true;
    }
    if (!b->nout)
        tg_msg_unref(m);
}

static void flush_wakes(tg_bus_sub_t *b)
{
    for (size_t i = 0; i < b->nout; i++)
        if (b->out[i].dirty) {
            b->out[i].dirty = false;
            if (b->out[i].wake)
                b->out[i].wake(b->out[i].arg);
        }
}

/* Tell the service threads the epoch; lost = history has a gap. */
static void announce(tg_bus_sub_t *b, bool lost)
{
    tg_msg_t *m = tg_msg_new("", 0, "", 0);
    if (!m)
        return; /* ENOMEM: the next entry retries nothing; history checks per key still hold */
    m->type = TG_MSG_EPOCH;
    m->aux = lost;
    snprintf(m->key_name, sizeof m->key_name, "%s", b->epoch);
    deliver(b, m);
    flush_wakes(b); /* before anything reports synced: the threads see it first */
    if (!b->stream)
        atomic_store(&b->synced, 1);
    if (lost)
        tg_counter_add(b->m_gaps, 1);
}

static void on_payload(tg_bus_sub_t *b, const char *data, size_t len)
{
    tg_bus_entry_t e;
    if (tg_bus_entry_decode(data, len, &e) != 0) {
        tg_counter_add(b->m_rejected, 1);
        return;
    }
    if (e.msg->type == TG_MSG_EPOCH) { /* the publisher's heartbeat */
        if (!b->skip_epoch[0] || strcmp(e.epoch, b->skip_epoch) == 0) {
            b->skip_epoch[0] = 0;
            if (strcmp(e.epoch, b->epoch) != 0) {
                TG_INFO("bus_epoch", "epoch", TG_S(e.epoch), "previous", TG_S(b->epoch));
                memcpy(b->epoch, e.epoch, sizeof b->epoch);
                b->last_no = e.no;
                announce(b, false);
            } else if (e.no > b->last_no) {
                TG_WARN("bus_gap", "epoch", TG_S(e.epoch), "after", TG_I(b->last_no), "got",
                        TG_I(e.no));
                b->last_no = e.no;
                announce(b, true);
            }
        }
        tg_msg_unref(e.msg);
        return;
    }
    if (b->skip_epoch[0]) {
        if (strcmp(e.epoch, b->skip_epoch) != 0) {
            tg_msg_unref(e.msg); /* an older ingest's entry: not this stream's history */
            return;
        }
        b->skip_epoch[0] = 0;
    }
    if (strcmp(e.epoch, b->epoch) != 0) {
        bool first = !b->epoch[0];
        TG_INFO("bus_epoch", "epoch", TG_S(e.epoch), "previous", TG_S(first ? "" : b->epoch));
        memcpy(b->epoch, e.epoch, sizeof b->epoch);
        b->last_no = e.no - 1;
        announce(b, false);
    } else if (e.no <= b->last_no) {
        tg_counter_add(b->m_dups, 1); /* resent after a reconnect: already delivered */
        tg_msg_unref(e.msg);
        return;
    } else if (e.no != b->last_no + 1) {
        TG_WARN("bus_gap", "epoch", TG_S(e.epoch), "after", TG_I(b->last_no), "got", TG_I(e.no));
        announce(b, true);
    }
    b->last_no = e.no;
    tg_counter_add(b->m_received, 1);
    int64_t hop = tg_now_ns() - e.msg->ts;
    if (e.msg->ts && hop >= 0)
        tg_histogram_observe_ns(b->m_hop, hop);
    deliver(b, e.msg);
}

static void set_down(tg_bus_sub_t *b, const char *why)
{
    char reason[128];
    b->asked_ns = 0;
    if (tg__bus_link_down(&b->link, why, reason, sizeof reason))
        TG_WARN("bus_down", "role", TG_S("gateway"), "channel", TG_S(b->cfg->redis.bus_channel),
                "error", TG_S(reason), "position", TG_S(b->last_id));
}

/* First connection, stream mode: read from the start of the newest epoch. */
static void find_start(tg_bus_sub_t *b)
{
    snprintf(b->last_id, sizeof b->last_id, "0-0");
    const char *a[6] = {"XREVRANGE", b->cfg->redis.bus_channel, "+", "-", "COUNT", "1"};
    redisReply *rep = redisCommandArgv(b->link.c, 6, a, NULL);
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1) {
        redisReply *en = rep->element[0];
        if (en->type == REDIS_REPLY_ARRAY && en->elements == 2 &&
            en->element[1]->type == REDIS_REPLY_ARRAY && en->element[1]->elements == 2 &&
            en->element[1]->element[1]->type == REDIS_REPLY_STRING) {
            tg_bus_entry_t e;
            redisReply *v = en->element[1]->element[1];
            if (tg_bus_entry_decode(v->str, (size_t)v->len, &e) == 0) {
                memcpy(b->skip_epoch, e.epoch, sizeof b->skip_epoch);
                tg_msg_unref(e.msg);
            }
        }
    }
    if (rep)
        freeReplyObject(rep);
}

static void try_connect(tg_bus_sub_t *b)
{
    const char *why;
    if (!tg__bus_link_connect(&b->link, &why)) {
        set_down(b, why);
        return;
    }
    if (b->stream) {
        if (!b->last_id[0])
            find_start(b);
    } else {
        const char *a[2] = {"SUBSCRIBE", b->cfg->redis.bus_channel};
        if (tg_redis_sync_send(b->link.c, 2, a, NULL) != 0) {
            set_down(b, "SUBSCRIBE failed");
            return;
        }
        if (b->subscribed_once && b->epoch[0])
            announce(b, true); /* what was published meanwhile is gone */
        b->subscribed_once = true;
    }
    tg__bus_link_up(&b->link);
    TG_INFO("bus_up", "role", TG_S("gateway"), "channel", TG_S(b->cfg->redis.bus_channel), "mode",
            TG_S(b->stream ? "stream" : "pubsub"), "position", TG_S(b->last_id));
}

static void on_stream_entry(void *arg, const redisReply *id, const redisReply *kv)
{
    tg_bus_sub_t *b = arg;
    b->batch_n++;
    if (!id) {
        tg_counter_add(b->m_rejected, 1);
        return;
    }
    if ((size_t)id->len < sizeof b->last_id)
        memcpy(b->last_id, id->str, (size_t)id->len + 1);
    if (kv->elements != 2 || kv->element[1]->type != REDIS_REPLY_STRING) {
        tg_counter_add(b->m_rejected, 1);
        return;
    }
    on_payload(b, kv->element[1]->str, (size_t)kv->element[1]->len);
}

static void on_stream_reply(tg_bus_sub_t *b, redisReply *rep)
{
    b->asked_ns = 0;
    b->batch_n = 0;
    if (rep->type != REDIS_REPLY_ARRAY && rep->type != REDIS_REPLY_NIL) {
        set_down(b, rep->type == REDIS_REPLY_ERROR ? rep->str : "bad XREAD reply");
        return;
    }
    if (rep->type == REDIS_REPLY_ARRAY) /* NIL: BLOCK timed out, nothing new */
        tg_redis_sync_xread_each(rep, on_stream_entry, b);
    /* a short read: caught up with the stream (a new gateway replays it from
     * the start of the epoch first); only then is the node ready for clients */
    if (b->batch_n < XREAD_COUNT && b->epoch[0] && !atomic_load(&b->synced)) {
        flush_wakes(b);
        atomic_store(&b->synced, 1);
        TG_INFO("bus_synced", "epoch", TG_S(b->epoch), "position", TG_S(b->last_id));
    }
}

static void on_pubsub_reply(tg_bus_sub_t *b, redisReply *rep)
{
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
        rep->element[0]->type == REDIS_REPLY_STRING) {
        if (strcmp(rep->element[0]->str, "message") == 0 &&
            rep->element[2]->type == REDIS_REPLY_STRING) {
            on_payload(b, rep->element[2]->str, (size_t)rep->element[2]->len);
            return;
        }
        if (strcmp(rep->element[0]->str, "subscribe") == 0)
            return;
    }
    tg_counter_add(b->m_rejected, 1);
}

static void *sub_thread(void *arg)
{
    tg_bus_sub_t *b = arg;
    const int64_t deadline = (XREAD_BLOCK_MS + 4LL * b->cfg->redis.command_timeout_ms) * 1000000LL;
    while (!atomic_load(&b->stop)) {
        if (!b->link.c) {
            if (tg_mono_ns() >= b->link.next_connect_ns)
                try_connect(b);
            if (!b->link.c) {
                struct timespec ts = {0, 10000000};
                nanosleep(&ts, NULL);
                continue;
            }
        }
        if (b->stream && !b->asked_ns) {
            const char *a[8] = {"XREAD", "COUNT", XREAD_COUNT_S, "BLOCK", "100", "STREAMS",
                                b->cfg->redis.bus_channel, b->last_id};
            if (tg_redis_sync_send(b->link.c, 8, a, NULL) != 0) {
                set_down(b, "XREAD failed");
                continue;
            }
            b->asked_ns = tg_mono_ns();
        }
        struct pollfd p = {.fd = b->link.c->fd, .events = POLLIN};
        int pr = poll(&p, 1, 50);
        if (pr <= 0) {
            if (b->asked_ns && tg_mono_ns() - b->asked_ns > deadline)
                set_down(b, "timeout");
            continue;
        }
        if (redisBufferRead(b->link.c) != REDIS_OK) {
            set_down(b, b->link.c->errstr[0] ? b->link.c->errstr : "connection lost");
            continue;
        }
        void *reply;
        while (b->link.c && redisGetReplyFromReader(b->link.c, &reply) == REDIS_OK && reply) {
            if (b->stream)
                on_stream_reply(b, reply);
            else
                on_pubsub_reply(b, reply);
            freeReplyObject(reply);
        }
        flush_wakes(b);
        if (b->link.c && b->link.c->err)
            set_down(b, "protocol error");
    }
    return NULL;
}

int tg_bus_sub_create(tg_bus_sub_t **out, const tg_config_t *cfg, tg_metrics_t *metrics)
{
    if (!out || !cfg)
        return -EINVAL;
    tg_bus_sub_t *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    b->cfg = cfg;
    int rc = tg__bus_link_init(&b->link, cfg, (uint64_t)tg_now_ns() ^ 0x5bd1e995u);
    if (rc) {
        free(b);
        return rc;
    }
    b->stream = strcmp(cfg->redis.bus_mode, "pubsub") != 0;
    const char *l = "role=\"gateway\"";
    b->m_received = tg_metrics_counter(metrics, "tickgate_bus_received_total", l,
                                       "Messages taken from the cluster bus");
    b->m_dups = tg_metrics_counter(metrics, "tickgate_bus_duplicates_total", l,
                                   "Bus entries dropped as already delivered (resends)");
    b->m_gaps = tg_metrics_counter(metrics, "tickgate_bus_gaps_total", l,
                                   "Times bus messages were lost (history forgotten)");
    b->m_rejected = tg_metrics_counter(metrics, "tickgate_bus_rejected_total", l,
                                       "Malformed bus entries skipped");
    b->link.m_up = tg_metrics_gauge(metrics, "tickgate_bus_up", l,
                               "1 while the node is connected to the cluster bus");
    b->m_hop = tg_metrics_histogram(metrics, "tickgate_bus_hop_seconds", l,
                                    "Feed accept (ts) on the ingest node to bus read here");
    if (!b->m_received || !b->m_dups || !b->m_gaps || !b->m_rejected || !b->link.m_up || !b->m_hop) {
        free(b);
        return -ENOMEM;
    }
    *out = b;
    return 0;
}

int tg_bus_sub_start(tg_bus_sub_t *b)
{
    int rc = pthread_create(&b->thread, NULL, sub_thread, b);
    if (rc)
        return -rc;
    pthread_setname_np(b->thread, "tg-bus-sub");
    b->started = true;
    return 0;
}

void tg_bus_sub_stop(tg_bus_sub_t *b)
{
    if (!b || !b->started)
        return;
    atomic_store(&b->stop, 1);
    pthread_join(b->thread, NULL);
    b->started = false;
}

void tg_bus_sub_destroy(tg_bus_sub_t *b)
{
    if (!b)
        return;
    tg_bus_sub_stop(b);
    tg__bus_link_close(&b->link);
    free(b);
}
