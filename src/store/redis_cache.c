/* redis_cache.c - revocation and rate-limit lookup caches (any thread, under
 * r->lock) and the engine-side pushes onto the Redis thread's rings.
 */
#include "redis_int.h"

/* ---- lookup caches (any thread, under r->lock) ---------------------------------- */

void tg__redis_wake(tg_redis_t *r)
{
    uint64_t one = 1;
    ssize_t w = write(r->wake_fd, &one, sizeof one);
    (void)w;
}

/* Under r->lock. false when the queue is full (the request is dropped). */
bool tg__redis_enqueue(tg_redis_t *r, const req_t *q)
{
    if (r->req_len == REQ_CAP)
        return false;
    r->reqs[(r->req_head + r->req_len++) % REQ_CAP] = *q;
    return true;
}


tg_redis_verdict_t tg_redis_revoked(tg_redis_t *r, const char *hex)
{
    return tg__redis_revoked(r, hex, REVOKE_TTL_NS, false);
}

tg_redis_verdict_t tg_redis_revoked_fresh(tg_redis_t *r, const char *hex, int64_t max_age_ns)
{
    return tg__redis_revoked(r, hex, max_age_ns, true);
}

tg_redis_verdict_t tg__redis_revoked(tg_redis_t *r, const char *hex, int64_t max_age_ns, bool fresh)
{
    if (!r || !hex || strlen(hex) != 64)
        return TG_REDIS_UNKNOWN;
    int64_t now = tg_mono_ns();
    bool created, queued = false;
    pthread_mutex_lock(&r->lock);
    revoke_entry_t *e = CACHE_FIND(r->revoke, hex, hex, now, &created);
    tg_redis_verdict_t v = (tg_redis_verdict_t)e->verdict;
    bool stale = !e->checked_ns || now - e->checked_ns > max_age_ns;
    if (stale && !e->pending) {
        req_t q = {.kind = 1};
        snprintf(q.key, sizeof q.key, "%s", hex);
        if (tg__redis_enqueue(r, &q))
            e->pending = queued = true;
    }
    /* a stale "not tg__redis_revoked" is no verdict while Redis cannot confirm it; with
     * `fresh` (a new connection) it is none while Redis can either */
    if (stale && v == TG_REDIS_NO && (fresh || !atomic_load(&r->up)))
        v = TG_REDIS_UNKNOWN;
    pthread_mutex_unlock(&r->lock);
    if (queued)
        tg__redis_wake(r);
    return v;
}

tg_redis_verdict_t tg_redis_rate_check(tg_redis_t *r, const char *user, int limit, int window_s)
{
    if (!r || !user || !user[0] || limit <= 0 || window_s <= 0)
        return TG_REDIS_UNKNOWN;
    int64_t now = tg_mono_ns();
    bool created;
    pthread_mutex_lock(&r->lock);
    rate_entry_t *e = CACHE_FIND(r->rate, user, user, now, &created);
    e->limit = limit;
    tg_redis_verdict_t v = (tg_redis_verdict_t)e->verdict;
    if (!e->answered_ns || now - e->answered_ns > (int64_t)window_s * 1000000000LL ||
        !atomic_load(&r->up))
        v = TG_REDIS_UNKNOWN;
    req_t q = {.kind = 2, .limit = limit, .window_s = window_s};
    snprintf(q.key, sizeof q.key, "%s", user);
    bool queued = tg__redis_enqueue(r, &q);
    pthread_mutex_unlock(&r->lock);
    if (queued)
        tg__redis_wake(r);
    return v;
}

bool tg_redis_up(const tg_redis_t *r)
{
    return r && atomic_load(&r->up) != 0;
}

/* ---- engine side ------------------------------------------------------------- */

void tg_redis_push_ticks(tg_redis_t *r, const tg_tick_t *ticks, size_t n)
{
    tg_ring_push(r->ticks, ticks, n); /* drop-oldest: never waits */
}

void tg_redis_push_alert(tg_redis_t *r, const tg_snap_row_t *alert)
{
    tg_ring_push(r->alerts, alert, 1);
}
