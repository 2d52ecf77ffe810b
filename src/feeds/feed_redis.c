/* feed_redis.c - `redis` feed: normalized ticks from other tickgate nodes (SPEC §3, §8).
 *
 * Reads redis.url (the same server the `redis.publish` option of an ingest
 * node writes to) with a blocking hiredis context whose socket this thread
 * polls itself, in slices of at most 10 ms so tg_feed_poll() keeps the
 * breaker's timers running:
 *   - `channel` (default "tickgate:ticks"): SUBSCRIBE, one MessagePack tick map
 *     per message;
 *   - `stream` (non-empty): XREAD BLOCK on that stream from the newest entry,
 *     one map per entry in its `tick` field (the first field when absent).
 * Malformed payloads are parse errors (counted, breaker failures); a lost
 * connection is reported to the breaker and re-established with backoff.
 */
#include <errno.h>
#include <stddef.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tickgate/backoff.h"
#include "tickgate/clock.h"
#include "tickgate/feed.h"
#include "tickgate/log.h"
#include "tickgate/redis.h"
#include "tickgate/redis_sync.h"

#define BATCH 256
#define CONNECT_TIMEOUT_MS 500
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define XREAD_BLOCK_MS "100"

typedef struct rfeed {
    tg_redis_url_t url;
    redisContext *c;
    bool stream_mode;
    bool xread_in_flight;
    char last_id[64];
    tg_backoff_t backoff; /* reconnect waits */
    int64_t next_connect_ns;
    tg_tick_t batch[BATCH];
    size_t n;
} rfeed_t;

/* The whole config, for the `redis` section: tg_feed_init() sets
 * f->conf = &cfg->feeds[f->index], so the config is the array's container. */
static int rfeed_init(tg_feed_t *f)
{
    const tg_config_t *cfg = f->cfg;
    rfeed_t *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    tg_backoff_init(&r->backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS, (uint64_t)tg_now_ns() ^ f->index);
    /* the server is redis.url: the bus every node shares; the feed picks the channel */
    if (tg_redis_url_parse(cfg->redis.url, &r->url) != 0) {
        TG_ERROR("feed_unsupported", "feed", TG_S(f->conf->name), "error",
                 TG_S("a redis feed needs redis.url (redis://... or unix:///...)"));
        free(r);
        return -EINVAL;
    }
    r->stream_mode = f->conf->stream && f->conf->stream[0];
    f->priv = r;
    return 0;
}

static void rfeed_destroy(tg_feed_t *f)
{
    rfeed_t *r = f->priv;
    if (r && r->c)
        redisFree(r->c);
    free(r);
    f->priv = NULL;
}

static void flush_batch(tg_feed_t *f, rfeed_t *r)
{
    if (r->n) {
        tg_feed_emit(f, r->batch, r->n);
        r->n = 0;
    }
}

static void on_payload(tg_feed_t *f, rfeed_t *r, const char *data, size_t len)
{
    tg_tick_t *t = &r->batch[r->n];
    if (tg_redis_tick_decode(data, len, t, NULL, 0) != 0) {
        tg_feed_parse_error(f);
        return;
    }
    /* ts is restamped on accept; the origin's provider time stays in src_ts,
     * or the origin's accept time when the provider sent none */
    if (!t->src_ts)
        t->src_ts = t->ts;
    if (++r->n == BATCH)
        flush_batch(f, r);
}

static void drop(tg_feed_t *f, rfeed_t *r, const char *why)
{
    if (r->c) {
        TG_DEBUG("feed_redis_error", "feed", TG_S(f->conf->name), "error", TG_S(why));
        redisFree(r->c);
        r->c = NULL;
        tg_feed_disconnected(f);
    } else {
        tg_feed_connect_error(f);
    }
    r->next_connect_ns = tg_mono_ns() + tg_backoff_next(&r->backoff);
    r->xread_in_flight = false;
}

static void try_connect(tg_feed_t *f, rfeed_t *r, const tg_config_t *cfg)
{
    const char *why = NULL;
    int cmd_ms = cfg->redis.command_timeout_ms > 0 ? cfg->redis.command_timeout_ms : 250;
    r->c = tg_redis_sync_connect(&r->url, CONNECT_TIMEOUT_MS, cmd_ms, &why);
    if (!r->c) {
        drop(f, r, why);
        return;
    }
    if (!r->stream_mode) {
        const char *a[2] = {"SUBSCRIBE", f->conf->channel};
        if (tg_redis_sync_send(r->c, 2, a, NULL) != 0) {
            drop(f, r, "SUBSCRIBE failed");
            return;
        }
    } else if (!r->last_id[0]) {
        snprintf(r->last_id, sizeof r->last_id, "$");
    }
    tg_backoff_reset(&r->backoff);
    TG_INFO("feed_connected", "feed", TG_S(f->conf->name), "redis",
            TG_S(r->stream_mode ? f->conf->stream : f->conf->channel));
}

typedef struct stream_ctx {
    tg_feed_t *f;
    rfeed_t *r;
} stream_ctx_t;

static void on_stream_entry(void *arg, const redisReply *id, const redisReply *kv)
{
    stream_ctx_t *x = arg;
    if (!id) {
        tg_feed_parse_error(x->f);
        return;
    }
    snprintf(x->r->last_id, sizeof x->r->last_id, "%s", id->str);
    const redisReply *val = NULL;
    for (size_t k = 0; k + 1 < kv->elements; k += 2)
        if (kv->element[k]->type == REDIS_REPLY_STRING && strcmp(kv->element[k]->str, "tick") == 0)
            val = kv->element[k + 1];
    if (!val && kv->elements >= 2)
        val = kv->element[1];
    if (!val || val->type != REDIS_REPLY_STRING) {
        tg_feed_parse_error(x->f);
        return;
    }
    on_payload(x->f, x->r, val->str, (size_t)val->len);
}

static void on_stream_reply(tg_feed_t *f, rfeed_t *r, redisReply *rep)
{
    r->xread_in_flight = false;
    if (rep->type == REDIS_REPLY_NIL)
        return; /* BLOCK timed out: nothing new */
    if (rep->type != REDIS_REPLY_ARRAY) {
        tg_feed_parse_error(f);
        return;
    }
    stream_ctx_t x = {f, r};
    tg_redis_sync_xread_each(rep, on_stream_entry, &x);
}

static void on_pubsub_reply(tg_feed_t *f, rfeed_t *r, redisReply *rep)
{
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
        rep->element[0]->type == REDIS_REPLY_STRING) {
        const char *kind = rep->element[0]->str;
        if (strcmp(kind, "message") == 0 && rep->element[2]->type == REDIS_REPLY_STRING) {
            on_payload(f, r, rep->element[2]->str, (size_t)rep->element[2]->len);
            return;
        }
        if (strcmp(kind, "subscribe") == 0) {
            tg_feed_neutral(f);
            return;
        }
    }
    tg_feed_parse_error(f);
}

static int rfeed_run(tg_feed_t *f)
{
    rfeed_t *r = f->priv;
    const tg_config_t *cfg = f->cfg;
    while (!tg_feed_stopping(f)) {
        tg_feed_poll(f);
        if (!r->c) {
            if (tg_mono_ns() >= r->next_connect_ns)
                try_connect(f, r, cfg);
            if (!r->c) {
                struct timespec ts = {0, 10000000};
                nanosleep(&ts, NULL);
                continue;
            }
        }
        if (r->stream_mode && !r->xread_in_flight) {
            const char *a[7] = {"XREAD", "COUNT", "512", "BLOCK", XREAD_BLOCK_MS, "STREAMS",
                                f->conf->stream};
            const char *argv[8];
            memcpy(argv, a, sizeof a);
            argv[7] = r->last_id;
            if (tg_redis_sync_send(r->c, 8, argv, NULL) != 0) {
                drop(f, r, "XREAD failed");
                continue;
            }
            r->xread_in_flight = true;
        }
        struct pollfd p = {.fd = r->c->fd, .events = POLLIN};
        int pr = poll(&p, 1, 10);
        if (pr <= 0)
            continue;
        if (redisBufferRead(r->c) != REDIS_OK) {
            flush_batch(f, r);
            drop(f, r, r->c->errstr[0] ? r->c->errstr : "connection lost");
            continue;
        }
        void *reply;
        while (r->c && redisGetReplyFromReader(r->c, &reply) == REDIS_OK && reply) {
            redisReply *rep = reply;
            if (r->stream_mode)
                on_stream_reply(f, r, rep);
            else
                on_pubsub_reply(f, r, rep);
            freeReplyObject(rep);
        }
        if (r->c && r->c->err) {
            flush_batch(f, r);
            drop(f, r, "protocol error");
            continue;
        }
        flush_batch(f, r);
    }
    return 0;
}

const tg_feed_ops_t tg_feed_redis_ops = {
    .type = "redis",
    .init = rfeed_init,
    .run = rfeed_run,
    .destroy = rfeed_destroy,
};
