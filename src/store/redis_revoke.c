/* redis_revoke.c - instant revocation across nodes (SPEC §13 "Revocation API").
 *
 * The node that takes POST /api/v1/tokens/revoke stores the key every node
 * checks at connect and every 30 s (revoked_token:<sha256>, revoked_sub:<sub>),
 * appends the revocation to the stream tickgate:revocations and PUBLISHes it
 * on the channel of the same name (for other consumers). Every node reads the
 * stream on its one command connection every 500 ms - no second, subscribed
 * connection to keep alive - from the start of the stream, so a node that
 * starts later still knows which subs were revoked when.
 */
#include "redis_int.h"

#include "tickgate/buf.h"
#include "tickgate/json.h"

#define POLL_NS 500000000LL
#define STREAM "tickgate:revocations"

int tg_redis_revoke(tg_redis_t *r, bool sub, const char *key, int64_t at_s, int64_t ttl_s)
{
    if (!r || !key || !*key || strlen(key) > TG_PORTFOLIO_ID_MAX)
        return -EINVAL;
    req_t q = {.kind = 3, .sub = sub, .at_s = at_s, .ttl_s = ttl_s};
    snprintf(q.key, sizeof q.key, "%s", key);
    pthread_mutex_lock(&r->lock);
    bool ok = tg__redis_enqueue(r, &q);
    pthread_mutex_unlock(&r->lock);
    tg__redis_wake(r);
    return ok ? 0 : -EAGAIN;
}

void tg_redis_on_revocation(tg_redis_t *r, tg_redis_revocation_fn fn, void *ud)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->on_revocation = fn;
    r->revocation_ud = ud;
    pthread_mutex_unlock(&r->lock);
}

void tg__redis_send_revoke(tg_redis_t *r, const req_t *q)
{
    char key[TG_PORTFOLIO_ID_MAX + 32], at[24], ttl[24];
    snprintf(at, sizeof at, "%lld", (long long)q->at_s);
    snprintf(ttl, sizeof ttl, "%lld", (long long)(q->ttl_s > 0 ? q->ttl_s : 1));
    snprintf(key, sizeof key, "%s%s", q->sub ? "revoked_sub:" : "revoked_token:", q->key);
    if (q->sub) {
        const char *argv[3] = {"SET", key, at};
        size_t lens[3] = {3, strlen(key), strlen(at)};
        tg__redis_send_argv(r, NULL, 3, argv, lens);
    } else {
        const char *argv[5] = {"SET", key, "1", "EX", ttl};
        size_t lens[5] = {3, strlen(key), 1, 2, strlen(ttl)};
        tg__redis_send_argv(r, NULL, 5, argv, lens);
    }
    const char *kind = q->sub ? "sub" : "token";
    const char *xa[11] = {"XADD", STREAM, "MAXLEN", "~", "10000", "*",
                          "kind", kind, "key", q->key, "at"};
    const char *xargv[12];
    size_t xl[12];
    memcpy(xargv, xa, sizeof xa);
    xargv[11] = at;
    for (int i = 0; i < 12; i++)
        xl[i] = strlen(xargv[i]);
    tg__redis_send_argv(r, NULL, 12, xargv, xl);
    tg_buf_t json = {0};
    tg_buf_printf(&json, "{\"%s\":", q->sub ? "sub" : "token_sha256");
    tg_json_put_cstr(&json, q->key);
    tg_buf_printf(&json, ",\"at\":%s}", at);
    if (!json.err) {
        const char *pargv[3] = {"PUBLISH", STREAM, json.p};
        size_t pl[3] = {7, strlen(STREAM), json.len};
        tg__redis_send_argv(r, NULL, 3, pargv, pl);
    }
    tg_buf_free(&json);
}

void tg__redis_poll_revocations(tg_redis_t *r, int64_t now)
{
    if (!r->connected || !atomic_load(&r->up) || r->revocations_inflight ||
        now < r->next_revocations_ns)
        return;
    pthread_mutex_lock(&r->lock);
    bool wanted = r->on_revocation != NULL;
    pthread_mutex_unlock(&r->lock);
    if (!wanted)
        return;
    r->next_revocations_ns = now + POLL_NS;
    if (!r->revocations_last[0])
        strcpy(r->revocations_last, "0");
    const char *argv[6] = {"XREAD", "COUNT", "1000", "STREAMS", STREAM, r->revocations_last};
    size_t lens[6];
    for (int i = 0; i < 6; i++)
        lens[i] = strlen(argv[i]);
    if (tg__redis_send_argv(r, tg__redis_cb_new(5), 6, argv, lens) == 0)
        r->revocations_inflight = true;
}

/* XREAD reply: [[stream, [[id, [field, value, ...]], ...]]] or nil. */
void tg__redis_on_revocations(tg_redis_t *r, redisReply *rep)
{
    r->revocations_inflight = false;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1)
        return;
    redisReply *s = rep->element[0];
    if (s->type != REDIS_REPLY_ARRAY || s->elements < 2 || s->element[1]->type != REDIS_REPLY_ARRAY)
        return;
    redisReply *entries = s->element[1];
    pthread_mutex_lock(&r->lock);
    tg_redis_revocation_fn fn = r->on_revocation;
    void *ud = r->revocation_ud;
    pthread_mutex_unlock(&r->lock);
    for (size_t i = 0; i < entries->elements; i++) {
        redisReply *e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        copy_trunc(r->revocations_last, sizeof r->revocations_last, e->element[0]->str);
        redisReply *f = e->element[1];
        const char *kind = NULL, *key = NULL;
        int64_t at = 0;
        for (size_t k = 0; k + 1 < f->elements; k += 2) {
            if (f->element[k]->type != REDIS_REPLY_STRING ||
                f->element[k + 1]->type != REDIS_REPLY_STRING)
                continue;
            const char *name = f->element[k]->str, *val = f->element[k + 1]->str;
            if (!strcmp(name, "kind"))
                kind = val;
            else if (!strcmp(name, "key"))
                key = val;
            else if (!strcmp(name, "at"))
                at = strtoll(val, NULL, 10);
        }
        /* foreign or malformed entries are skipped, never trusted blindly */
        if (!kind || !key || !*key || strlen(key) > TG_PORTFOLIO_ID_MAX ||
            (strcmp(kind, "sub") && strcmp(kind, "token")) ||
            (kind[0] == 't' && strlen(key) != 64))
            continue;
        if (fn)
            fn(ud, kind[0] == 's', key, at);
    }
}
