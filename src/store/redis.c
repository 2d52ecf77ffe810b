/* redis.c - the Redis thread: quote cache, alert stream, tick fan-out, lookups.
 *
 * See redis.h for the contract. One thread owns the redisAsyncContext and
 * drives it from its own poll(2) loop through hiredis's event hooks
 * (addRead/addWrite...), like h2o's lib/common/redis.c does with its loop.
 * Commands are pipelined: hiredis appends them to its output buffer and the
 * loop writes when the socket is writable. Deadlines: the loop remembers when
 * the oldest unanswered command was sent (or the last reply came); silence
 * beyond redis.command_timeout_ms while commands are outstanding is "down".
 *
 * Threads: tg_redis_push_* on the engine thread (the rings' only producer),
 * tg_redis_revoked / tg_redis_rate_check / tg_redis_up on any thread (the
 * caches are behind a mutex: control traffic, never the tick path),
 * everything else on the Redis thread.
 */
#include "redis_int.h"

/* ---- the connection --------------------------------------------------------------- */

static void set_down(tg_redis_t *r, const char *why)
{
    if (atomic_load(&r->up) || !r->down_logged) {
        TG_WARN("redis_down", "error", TG_S(why));
        r->down_logged = true;
    }
    atomic_store(&r->up, 0);
    tg_gauge_set(r->m_up, 0);
    r->next_connect_ns = tg_mono_ns() + tg_backoff_next(&r->backoff);
    r->revocations_inflight = false; /* its reply will not come */
    /* pending lookups are asked again after the reconnect */
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        r->revoke[i].pending = false;
    pthread_mutex_unlock(&r->lock);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    tg_redis_t *r = ac->data;
    redisReply *rep = reply;
    cb_t *c = priv;
    if (r->outstanding)
        r->outstanding--;
    r->progress_ns = tg_mono_ns();
    if (!c)
        return;
    if (rep) {
        switch (c->kind) {
        case 1: {
            int8_t v = rep->type == REDIS_REPLY_INTEGER ? (rep->integer ? TG_REDIS_YES : TG_REDIS_NO)
                                                        : TG_REDIS_UNKNOWN;
            bool created;
            int64_t now = tg_mono_ns();
            pthread_mutex_lock(&r->lock);
            revoke_entry_t *e = CACHE_FIND(r->revoke, hex, c->key, now, &created);
            e->pending = false;
            if (v != TG_REDIS_UNKNOWN) {
                /* once tg__redis_revoked, always tg__redis_revoked (a key's TTL may lapse with the token's exp) */
                if (e->verdict != TG_REDIS_YES)
                    e->verdict = v;
                e->checked_ns = now;
            }
            pthread_mutex_unlock(&r->lock);
            break;
        }
        case 2:
            if (rep->type == REDIS_REPLY_ARRAY && rep->elements >= 3 &&
                rep->element[2]->type == REDIS_REPLY_INTEGER) {
                bool created;
                int64_t now = tg_mono_ns();
                pthread_mutex_lock(&r->lock);
                rate_entry_t *e = CACHE_FIND(r->rate, user, c->key, now, &created);
                e->verdict = rep->element[2]->integer > c->limit ? TG_REDIS_YES : TG_REDIS_NO;
                e->answered_ns = now;
                pthread_mutex_unlock(&r->lock);
            }
            break;
        case 3:
            if (rep->type == REDIS_REPLY_ERROR) {
                TG_ERROR("redis_auth_failed", "error", TG_S(rep->str));
                redisAsyncDisconnect(ac);
            }
            break;
        case 5:
            tg__redis_on_revocations(r, rep);
            break;
        case 4:
            if (rep->type != REDIS_REPLY_ERROR) {
                tg_backoff_reset(&r->backoff);
                r->down_logged = false;
                atomic_store(&r->up, 1);
                tg_gauge_set(r->m_up, 1);
                TG_INFO("redis_up", "url_kind", TG_S(r->url.is_unix ? "unix" : "tcp"));
            }
            break;
        }
    }
    free(c);
}

int tg__redis_send_argv(tg_redis_t *r, cb_t *c, int argc, const char **argv, const size_t *lens)
{
    if (!r->ac || !r->connected) {
        free(c);
        return -ENOTCONN;
    }
    if (r->outstanding == 0)
        r->progress_ns = tg_mono_ns();
    if (redisAsyncCommandArgv(r->ac, on_reply, c, argc, argv, lens) != REDIS_OK) {
        free(c);
        return -EIO;
    }
    r->outstanding++;
    return 0;
}

cb_t *tg__redis_cb_new(uint8_t kind)
{
    cb_t *c = calloc(1, sizeof *c);
    if (c)
        c->kind = kind;
    return c;
}

/* hiredis event hooks: remember interest, the loop polls for it */
static void ev_add_read(void *d) { ((tg_redis_t *)d)->want_read = true; }
static void ev_del_read(void *d) { ((tg_redis_t *)d)->want_read = false; }
static void ev_add_write(void *d) { ((tg_redis_t *)d)->want_write = true; }
static void ev_del_write(void *d) { ((tg_redis_t *)d)->want_write = false; }
static void ev_cleanup(void *d)
{
    tg_redis_t *r = d;
    r->want_read = r->want_write = false;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    tg_redis_t *r = ac->data;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback */
        r->ac = NULL;
        r->connected = false;
        set_down(r, ac->errstr[0] ? ac->errstr : "connect failed");
        return;
    }
    r->connected = true;
    if (r->url.pass[0]) {
        const char *argv[3] = {"AUTH", r->url.user[0] ? r->url.user : r->url.pass, r->url.pass};
        size_t lens[3] = {4, strlen(argv[1]), strlen(argv[2])};
        tg__redis_send_argv(r, tg__redis_cb_new(3), r->url.user[0] ? 3 : 2, argv, lens);
    }
    if (r->url.db) {
        char db[16];
        snprintf(db, sizeof db, "%d", r->url.db);
        const char *argv[2] = {"SELECT", db};
        size_t lens[2] = {6, strlen(db)};
        tg__redis_send_argv(r, tg__redis_cb_new(3), 2, argv, lens);
    }
    const char *argv[1] = {"PING"};
    size_t lens[1] = {4};
    tg__redis_send_argv(r, tg__redis_cb_new(4), 1, argv, lens);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    tg_redis_t *r = ac->data;
    r->ac = NULL; /* hiredis frees it */
    r->connected = false;
    r->outstanding = 0;
    if (!atomic_load(&r->stop))
        set_down(r, status == REDIS_OK ? "disconnected" : ac->errstr);
}

static void start_connect(tg_redis_t *r)
{
    redisAsyncContext *ac = r->url.is_unix ? redisAsyncConnectUnix(r->url.path)
                                           : redisAsyncConnect(r->url.host, r->url.port);
    if (!ac || ac->err) {
        set_down(r, ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        return;
    }
    ac->data = r;
    ac->ev.data = r;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    r->ac = ac;
    r->connected = false;
    r->outstanding = 0;
    /* a non-blocking connect completes when the socket turns writable */
    r->want_write = true;
    r->want_read = false;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    r->connect_started_ns = tg_mono_ns();
}

/* Deadline missed: drop the connection (its callbacks run with NULL replies). */
static void abandon(tg_redis_t *r, const char *why)
{
    redisAsyncContext *ac = r->ac;
    r->ac = NULL;
    r->connected = false;
    r->outstanding = 0;
    if (ac) {
        ac->onDisconnect = NULL;
        redisAsyncFree(ac);
    }
    set_down(r, why);
}

static void drain(tg_redis_t *r)
{
    bool live = r->connected && atomic_load(&r->up);
    size_t n;
    while ((n = tg_ring_pop(r->ticks, r->batch, sizeof r->batch / sizeof r->batch[0])) > 0) {
        for (size_t i = 0; i < n; i++) {
            const tg_tick_t *t = &r->batch[i];
            tg__redis_cache_quote(r, t);
            if (r->cfg->redis.publish) {
                if (live && r->outstanding < MAX_OUTSTANDING)
                    tg__redis_publish_tick(r, t);
                else
                    tg_counter_add(r->m_skipped, 1);
            }
        }
    }
    /* alerts wait in their ring while Redis is down or not yet connected (the newest
     * ALERT_RING_CAP kept, older ones counted as dropped): an alert fired in the first
     * milliseconds, before the connection is up, still reaches the stream */
    if (!live)
        return;
    while ((n = tg_ring_pop(r->alerts, r->abatch, sizeof r->abatch / sizeof r->abatch[0])) > 0)
        for (size_t i = 0; i < n; i++)
            tg__redis_xadd_alert(r, &r->abatch[i]);
}

static void *redis_thread(void *arg)
{
    tg_redis_t *r = arg;
    pthread_setname_np(pthread_self(), "redis");
    while (!atomic_load(&r->stop)) {
        int64_t now = tg_mono_ns();
        if (!r->ac && now >= r->next_connect_ns)
            start_connect(r);
        if (r->ac && !r->connected && now - r->connect_started_ns > r->timeout_ns * 4)
            abandon(r, "connect timeout");
        if (r->ac && r->connected && r->outstanding && now - r->progress_ns > r->timeout_ns)
            abandon(r, "command timeout");
        drain(r);
        tg__redis_run_requests(r);
        tg__redis_poll_revocations(r, now);
        if (now >= r->next_quote_ns) {
            r->next_quote_ns = now + QUOTE_FLUSH_NS;
            if (r->connected && atomic_load(&r->up))
                tg__redis_flush_quotes(r); /* while down the set stays dirty for the reconnect */
        }
        struct pollfd p[2] = {{.fd = r->wake_fd, .events = POLLIN}, {.fd = -1}};
        int np = 1;
        if (r->ac) {
            p[1].fd = r->ac->c.fd;
            p[1].events = (short)((r->want_read ? POLLIN : 0) | (r->want_write ? POLLOUT : 0));
            np = 2;
        }
        /* 2 ms: ticks in the ring are published within a couple of ms */
        if (poll(p, (nfds_t)np, 2) > 0) {
            if (p[0].revents & POLLIN) {
                uint64_t v;
                ssize_t rd = read(r->wake_fd, &v, sizeof v);
                (void)rd;
            }
            if (np == 2 && r->ac) {
                short re = p[1].revents;
                if (re & (POLLIN | POLLERR | POLLHUP))
                    redisAsyncHandleRead(r->ac);
                if (r->ac && (re & (POLLOUT | POLLERR)))
                    redisAsyncHandleWrite(r->ac);
            }
        }
    }
    if (r->ac) {
        /* flush what is queued (quotes, alerts) within one deadline */
        drain(r);
        if (r->connected && atomic_load(&r->up))
            tg__redis_flush_quotes(r);
        int64_t end = tg_mono_ns() + r->timeout_ns;
        while (r->ac && r->outstanding && tg_mono_ns() < end) {
            struct pollfd p = {.fd = r->ac->c.fd,
                               .events = (short)((r->want_read ? POLLIN : 0) |
                                                 (r->want_write ? POLLOUT : 0))};
            if (poll(&p, 1, 5) > 0) {
                if (p.revents & (POLLIN | POLLERR | POLLHUP))
                    redisAsyncHandleRead(r->ac);
                if (r->ac && (p.revents & (POLLOUT | POLLERR)))
                    redisAsyncHandleWrite(r->ac);
            }
        }
        if (r->ac) {
            redisAsyncContext *ac = r->ac;
            r->ac = NULL;
            ac->onDisconnect = NULL;
            redisAsyncFree(ac);
        }
    }
    return NULL;
}

int tg_redis_start(tg_redis_t **out, const tg_config_t *cfg, tg_metrics_t *metrics)
{
    if (!out || !cfg || !cfg->redis.url[0])
        return -EINVAL;
    tg_redis_t *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->cfg = cfg;
    tg_backoff_init(&r->backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS, (uint64_t)tg_now_ns());
    int rc = tg_redis_url_parse(cfg->redis.url, &r->url);
    if (rc)
        goto fail;
    r->timeout_ns = (int64_t)(cfg->redis.command_timeout_ms > 0 ? cfg->redis.command_timeout_ms : 250) *
                    1000000LL;
    pthread_mutex_init(&r->lock, NULL);
    r->revoke = calloc(CACHE_SLOTS, sizeof *r->revoke);
    r->rate = calloc(CACHE_SLOTS, sizeof *r->rate);
    r->reqs = calloc(REQ_CAP, sizeof *r->reqs);
    r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    rc = -ENOMEM;
    if (!r->revoke || !r->rate || !r->reqs || r->wake_fd < 0)
        goto fail_mem;
    if ((rc = tg_symtab_init(&r->syms, 0)) != 0)
        goto fail_mem;
    if ((rc = tg_ring_create(&r->ticks, "redis", sizeof(tg_tick_t), TICK_RING_CAP,
                             TG_RING_DROP_OLDEST)) != 0)
        goto fail_syms;
    if ((rc = tg_ring_create(&r->alerts, "redis_alerts", sizeof(tg_snap_row_t), ALERT_RING_CAP,
                             TG_RING_DROP_OLDEST)) != 0)
        goto fail_ticks;
    r->m_up = tg_metrics_gauge(metrics, "tickgate_redis_up", NULL,
                               "1 while Redis is connected and answering in time");
    r->m_skipped = tg_metrics_counter(metrics, "tickgate_redis_publish_skipped_total", NULL,
                                      "Ticks not published to Redis (down or too slow)");
    if (!r->m_up || !r->m_skipped) {
        rc = -ENOMEM;
        goto fail_alerts;
    }
    tg_gauge_set(r->m_up, 0);
    if ((rc = pthread_create(&r->thread, NULL, redis_thread, r)) != 0) {
        rc = -rc;
        goto fail_alerts;
    }
    r->started = true;
    *out = r;
    return 0;
fail_alerts:
    tg_ring_destroy(r->alerts);
fail_ticks:
    tg_ring_destroy(r->ticks);
fail_syms:
    tg_symtab_free(&r->syms);
fail_mem:
    if (r->wake_fd >= 0)
        close(r->wake_fd);
    free(r->revoke);
    free(r->rate);
    free(r->reqs);
    pthread_mutex_destroy(&r->lock);
fail:
    free(r);
    return rc;
}

void tg_redis_stop(tg_redis_t *r)
{
    if (!r)
        return;
    if (r->started) {
        atomic_store(&r->stop, 1);
        tg__redis_wake(r);
        pthread_join(r->thread, NULL);
    }
    tg_ring_destroy(r->alerts);
    tg_ring_destroy(r->ticks);
    tg_symtab_free(&r->syms);
    free(r->q);
    free(r->dirty);
    close(r->wake_fd);
    free(r->revoke);
    free(r->rate);
    free(r->reqs);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
