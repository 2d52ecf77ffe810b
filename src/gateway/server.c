/* server.c - libwebsockets contexts, the one callback switch, the protocol.
 *
 * Each service thread runs its own lws context (Debian's lws has no SMP).
 * The engine wakes a thread with lws_cancel_service(); the thread then drains
 * its engine ring into the hub (EVENT_WAIT_CANCELLED), which queues messages
 * on subscribed sessions; sessions write coalesced frames on WRITEABLE.
 * A 100 ms timer enforces auth timeouts, token expiry, stalls and flushes
 * per-thread counters into the shared metrics.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw.h"
#include "tickgate/bars.h"
#include "tickgate/clock.h"
#include "tickgate/encode.h"
#include "tickgate/json.h"
#include "tickgate/log.h"
#include "tickgate/redis.h"

_Static_assert(LWS_PRE <= TG_MSG_PRE, "TG_MSG_PRE must cover LWS_PRE");

#define TIMER_US (100 * 1000)

static gw_thread_t *thread_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* ---- replies built for one client ---- */

typedef struct reply {
    tg_enc_t e;
    char j[2048];
    unsigned char m[2048];
} reply_t;

static void reply_begin(reply_t *r, uint32_t nfields)
{
    tg_enc_init(&r->e, r->j, sizeof r->j, r->m, sizeof r->m);
    tg_enc_map(&r->e, nfields);
}

static void enc_id(tg_enc_t *e, const tg_cmsg_id_t *id)
{
    if (id->kind == TG_ID_INT)
        tg_enc_kv_i64(e, "id", id->i);
    else if (id->kind == TG_ID_STR)
        tg_enc_kv_str(e, "id", id->s);
}

static void reply_id(reply_t *r, const tg_cmsg_id_t *id)
{
    enc_id(&r->e, id);
}

static uint32_t id_fields(const tg_cmsg_id_t *id)
{
    return id->kind == TG_ID_NONE ? 0 : 1;
}

static void reply_send(gw_session_t *s, reply_t *r)
{
    tg_enc_map_end(&r->e);
    if (r->e.err) {
        gw_session_close(s, 1011, "reply too large");
        return;
    }
    gw_session_reply(s, r->e.json, r->e.jlen, r->e.mp, r->e.mlen);
}

static void send_error(gw_session_t *s, const char *code, const char *message,
                       const tg_cmsg_id_t *id)
{
    reply_t r;
    static const tg_cmsg_id_t none = {0};
    if (!id)
        id = &none;
    reply_begin(&r, 3 + id_fields(id));
    tg_enc_kv_str(&r.e, "type", "error");
    tg_enc_kv_str(&r.e, "code", code);
    tg_enc_kv_str(&r.e, "message", message);
    reply_id(&r, id);
    reply_send(s, &r);
}

static void send_established(gw_session_t *s)
{
    reply_t r;
    reply_begin(&r, 6);
    tg_enc_kv_str(&r.e, "type", "connection_established");
    tg_enc_kv_str(&r.e, "client_id", s->client_id);
    tg_enc_kv_str(&r.e, "user_id", s->claims.sub);
    tg_enc_kv_i64(&r.e, "protocol", 1);
    tg_enc_kv_str(&r.e, "epoch", s->t->g->epoch);
    tg_enc_kv_i64(&r.e, "server_time", tg_now_ns());
    reply_send(s, &r);
}

/* ---- authentication ---- */

static void count_auth_failure(gw_thread_t *t, const char *reason)
{
    char label[64];
    snprintf(label, sizeof label, "reason=\"%s\"", reason);
    tg_counter_t *ctr = tg_metrics_counter(t->g->metrics, "tickgate_auth_failures_total", label,
                                           "Authentication failures by reason");
    if (ctr)
        tg_counter_add(ctr, 1);
}

static int authenticate(gw_session_t *s, const char *token, size_t len, bool reauth)
{
    gw_thread_t *t = s->t;
    tg_jwt_claims_t c;
    int rc = tg_jwt_verify(t->g->d.jwt, token, len, time(NULL), &c);
    if (rc != 0) {
        const char *reason = tg_jwt_reason(rc);
        count_auth_failure(t, reason);
        TG_DEBUG("auth_failed", "client", TG_S(s->client_id), "reason", TG_S(reason));
        tg_jwt_claims_free(&c);
        return rc == TG_JWT_EEXPIRED ? -ETIMEDOUT : -EPERM;
    }
    if (reauth && strcmp(c.sub, s->claims.sub) != 0) {
        tg_jwt_claims_free(&c);
        return -EACCES;
    }
    tg_jwt_claims_free(&s->claims);
    s->claims = c;
    s->deadline_s = tg_jwt_deadline(t->g->d.jwt, &s->claims);
    tg_jwt_sha256_hex(token, len, s->token_hash);
    return 0;
}


#define REVOCATION_RECHECK_NS (30LL * 1000000000LL)

/*
 * Verified token -> active, unless Redis says it is revoked. Without Redis
 * there is nothing to ask. With Redis, the cached verdict answers at once;
 * when there is none yet the session waits (GW_AWAIT_REVOCATION, nothing sent)
 * for the lookup, at most command_timeout_ms: then Redis counts as down and
 * the last known state (not revoked) applies, with a warning.
 */
static void send_established(gw_session_t *s);
static void check_revocation(gw_session_t *s, int64_t now);

/* Fast poll while some session waits for its revocation verdict. */
static void on_revoke_poll(lws_sorted_usec_list_t *sul)
{
    gw_thread_t *t = lws_container_of(sul, gw_thread_t, sul_revoke);
    int64_t now = tg_mono_ns();
    bool waiting = false;
    for (gw_session_t *s = t->sessions; s; s = s->next)
        if (s->state == GW_AWAIT_REVOCATION) {
            check_revocation(s, now);
            waiting |= s->state == GW_AWAIT_REVOCATION;
        }
    gw_thread_flush_writers(t, false);
    t->revoke_poll_armed = waiting;
    if (waiting)
        lws_sul_schedule(t->ctx, 0, &t->sul_revoke, on_revoke_poll, 2000);
}

static void activate(gw_session_t *s, bool reauth)
{
    gw_thread_t *t = s->t;
    tg_redis_t *redis = t->g->d.redis;
    int64_t now = tg_mono_ns();
    /* at connect and re-auth: only a verdict from now on counts (ask Redis) */
    s->revocation_asked_ns = now;
    tg_redis_verdict_t v = redis ? tg_redis_revoked_fresh(redis, s->token_hash, 0) : TG_REDIS_NO;
    if (v == TG_REDIS_UNKNOWN && reauth) {
        /* re-auth keeps the connection; the timer re-checks in 200 ms */
        s->next_revocation_check_ns = now + 200000000LL;
        return;
    }
    if (v == TG_REDIS_YES) {
        count_auth_failure(t, "revoked");
        send_error(s, "token_revoked", "token revoked", NULL);
        gw_session_close(s, reauth ? 4001 : 1008, "token revoked");
        return;
    }
    s->next_revocation_check_ns = now + REVOCATION_RECHECK_NS;
    if (v == TG_REDIS_UNKNOWN && !reauth) {
        s->state = GW_AWAIT_REVOCATION;
        s->revocation_deadline_ns =
            now + (int64_t)t->g->cfg->redis.command_timeout_ms * 1000000LL + 20000000LL;
        if (!t->revoke_poll_armed) { /* look for the answer every 2 ms, not 100 */
            t->revoke_poll_armed = true;
            lws_sul_schedule(t->ctx, 0, &t->sul_revoke, on_revoke_poll, 2000);
        }
        return;
    }
    if (!reauth) {
        s->state = GW_ACTIVE;
        send_established(s);
    }
}

/* Timer: sessions waiting for a verdict, and the 30 s re-check of open ones. */
static void check_revocation(gw_session_t *s, int64_t now)
{
    tg_redis_t *redis = s->t->g->d.redis;
    if (!redis)
        return;
    if (s->state == GW_AWAIT_REVOCATION) {
        tg_redis_verdict_t v =
            tg_redis_revoked_fresh(redis, s->token_hash, now - s->revocation_asked_ns + 1);
        if (v == TG_REDIS_YES) {
            count_auth_failure(s->t, "revoked");
            send_error(s, "token_revoked", "token revoked", NULL);
            gw_session_close(s, 1008, "token revoked");
        } else if (v == TG_REDIS_NO || now > s->revocation_deadline_ns) {
            if (v != TG_REDIS_NO)
                TG_WARN("revocation_unknown", "client", TG_S(s->client_id), "reason",
                        TG_S("redis did not answer in time; last known state applies"));
            s->state = GW_ACTIVE;
            send_established(s);
            for (int i = 0; i < s->nheld; i++) {
                gw_on_client_message(s, s->held[i].data, s->held[i].len, s->held[i].binary);
                free(s->held[i].data);
            }
            s->nheld = 0;
        }
        return;
    }
    if (s->state == GW_ACTIVE && now >= s->next_revocation_check_ns) {
        tg_redis_verdict_t v = tg_redis_revoked(redis, s->token_hash);
        if (v == TG_REDIS_YES) {
            count_auth_failure(s->t, "revoked");
            send_error(s, "token_revoked", "token revoked", NULL);
            gw_session_close(s, 4001, "token revoked");
        } else {
            /* UNKNOWN queued a lookup: look again shortly for its answer */
            s->next_revocation_check_ns =
                now + (v == TG_REDIS_NO ? REVOCATION_RECHECK_NS : 200000000LL);
        }
    }
}

/* ---- access control ---- */

static bool extra_has(const tg_jwt_claims_t *c, const char *id)
{
    for (size_t i = 0; i < c->n_portfolios; i++)
        if (strcmp(c->portfolios[i], id) == 0)
            return true;
    return false;
}

/* May the session's user read portfolio key k (whose last message carries the ACL)? */
static bool may_read_portfolio(const gw_session_t *s, const gw_key_t *k)
{
    if (s->claims.admin || extra_has(&s->claims, k->name))
        return true;
    return k->last && tg_msg_acl_has(k->last, s->claims.sub);
}

/* ---- subscribe / unsubscribe / snapshot ---- */

static void confirm(gw_session_t *s, const char *type, const tg_cmsg_t *m, char (*keys)[TG_KEY_MAX + 1],
                    size_t nkeys)
{
    reply_t r;
    bool has_keys = m->channel == TG_CH_MARKET_DATA || m->channel == TG_CH_PORTFOLIO ||
                    m->channel == TG_CH_BARS;
    bool bars = m->channel == TG_CH_BARS;
    reply_begin(&r, 2 + (has_keys ? 1 : 0) + (bars ? 1 : 0) + id_fields(&m->id));
    tg_enc_kv_str(&r.e, "type", type);
    tg_enc_kv_str(&r.e, "channel", tg_channel_name(m->channel));
    if (bars)
        tg_enc_kv_str(&r.e, "interval", tg_bar_iv_name((tg_bar_iv_t)m->interval));
    if (has_keys) {
        tg_enc_key(&r.e, m->channel == TG_CH_PORTFOLIO ? "portfolio_ids" : "symbols");
        tg_enc_array(&r.e, (uint32_t)nkeys);
        for (size_t i = 0; i < nkeys; i++)
            tg_enc_cstr(&r.e, keys[i]);
        tg_enc_array_end(&r.e);
    }
    reply_id(&r, &m->id);
    if (r.e.err) { /* too many keys for the fixed reply buffer: build it on the heap */
        size_t cap = 256 + nkeys * (TG_KEY_MAX * 6 + 8);
        char *j = malloc(cap);
        unsigned char *mp = malloc(cap);
        if (j && mp) {
            tg_enc_init(&r.e, j, cap, mp, cap);
            tg_enc_map(&r.e, 3 + (bars ? 1 : 0) + id_fields(&m->id));
            tg_enc_kv_str(&r.e, "type", type);
            tg_enc_kv_str(&r.e, "channel", tg_channel_name(m->channel));
            if (bars)
                tg_enc_kv_str(&r.e, "interval", tg_bar_iv_name((tg_bar_iv_t)m->interval));
            tg_enc_key(&r.e, m->channel == TG_CH_PORTFOLIO ? "portfolio_ids" : "symbols");
            tg_enc_array(&r.e, (uint32_t)nkeys);
            for (size_t i = 0; i < nkeys; i++)
                tg_enc_cstr(&r.e, keys[i]);
            tg_enc_array_end(&r.e);
            reply_id(&r, &m->id);
            tg_enc_map_end(&r.e);
            if (!r.e.err)
                gw_session_reply(s, r.e.json, r.e.jlen, r.e.mp, r.e.mlen);
        }
        free(j);
        free(mp);
        return;
    }
    reply_send(s, &r);
}

static void send_recovered(gw_session_t *s, tg_channel_t ch, const char *key, uint64_t from,
                           bool complete)
{
    reply_t r;
    reply_begin(&r, 5);
    tg_enc_kv_str(&r.e, "type", "recovered");
    tg_enc_kv_str(&r.e, "channel", tg_channel_name(ch));
    tg_enc_kv_str(&r.e, "key", key);
    tg_enc_kv_u64(&r.e, "from_seq", from);
    tg_enc_key(&r.e, "complete");
    tg_enc_bool(&r.e, complete);
    reply_send(s, &r);
}

/* Send the current state of k, or replay it from `since` when asked. */
static void send_state(gw_session_t *s, gw_key_t *k, const tg_cmsg_t *m, const char *client_key)
{
    const tg_since_t *since = NULL;
    for (size_t i = 0; m->has_since && i < m->nsince; i++)
        if (strcmp(m->since[i].key, client_key) == 0)
            since = &m->since[i];
    if (since) {
        bool same_epoch = strcmp(m->epoch, s->t->g->epoch) == 0;
        tg_msg_t **msgs;
        uint32_t n;
        if (same_epoch && gw_hub_replay(k, since->seq, &msgs, &n) == 0) {
            for (uint32_t i = 0; i < n; i++)
                gw_session_push_ctrl(s, tg_msg_ref(msgs[i]));
            free(msgs);
            send_recovered(s, m->channel, client_key, since->seq, true);
            return;
        }
        if (k->last)
            gw_session_push_ctrl(s, tg_msg_ref(k->last));
        send_recovered(s, m->channel, client_key, since->seq, false);
        return;
    }
    if (k->last && m->channel != TG_CH_NOTIFICATIONS && m->channel != TG_CH_SYSTEM)
        gw_session_push_ctrl(s, tg_msg_ref(k->last));
}

static bool key_allowed(gw_session_t *s, const tg_cmsg_t *m, const char *key, gw_key_t **out,
                        bool create)
{
    gw_hub_t *h = &s->t->hub;
    const tg_config_t *cfg = s->t->g->cfg;
    char msg[160];
    if (m->channel == TG_CH_MARKET_DATA || m->channel == TG_CH_BARS) {
        if (!tg_symbol_valid(key, strlen(key)) || (m->channel == TG_CH_BARS && strchr(key, '*'))) {
            snprintf(msg, sizeof msg, "invalid symbol %.40s", key);
            send_error(s, "unknown_symbol", msg, &m->id);
            return false;
        }
        if (cfg->engine.universe.n) {
            bool found = false;
            for (size_t i = 0; i < cfg->engine.universe.n && !found; i++)
                found = strcmp(cfg->engine.universe.v[i], key) == 0;
            if (!found) {
                snprintf(msg, sizeof msg, "symbol %s is not in the universe", key);
                send_error(s, "unknown_symbol", msg, &m->id);
                return false;
            }
        }
        char bkey[TG_KEY_MAX + 1];
        if (m->channel == TG_CH_BARS) { /* channel key SYMBOL@INTERVAL (SPEC §12) */
            gw_bars_key(key, m->interval, bkey, sizeof bkey);
            key = bkey;
        }
        *out = create ? gw_hub_get(h, m->channel, key) : gw_hub_find(h, m->channel, key);
        if (!*out && create) {
            send_error(s, "internal", "cannot track more symbols", &m->id);
            return false;
        }
        return true;
    }
    /* portfolio_updates */
    gw_key_t *k = gw_hub_find(h, TG_CH_PORTFOLIO, key);
    if (!k || !k->last) {
        /* unknown and forbidden look the same to a non-admin: no probing */
        snprintf(msg, sizeof msg, s->claims.admin ? "unknown portfolio %.64s" : "portfolio %.64s is not yours", key);
        send_error(s, s->claims.admin ? "bad_request" : "forbidden", msg, &m->id);
        return false;
    }
    if (!may_read_portfolio(s, k)) {
        snprintf(msg, sizeof msg, "portfolio %.64s is not yours", key);
        send_error(s, "forbidden", msg, &m->id);
        return false;
    }
    *out = k;
    return true;
}

static void handle_subscribe(gw_session_t *s, tg_cmsg_t *m)
{
    gw_thread_t *t = s->t;
    const tg_config_t *cfg = t->g->cfg;
    uint32_t max = (uint32_t)cfg->limits.max_subscriptions;

    if (m->channel == TG_CH_NOTIFICATIONS || m->channel == TG_CH_SYSTEM) {
        if (m->channel == TG_CH_SYSTEM && !s->claims.admin) {
            send_error(s, "forbidden", "the system channel needs the admin role", &m->id);
            return;
        }
        bool *flag = m->channel == TG_CH_SYSTEM ? &s->system : &s->notifications;
        if (!*flag && s->nexplicit >= max) {
            send_error(s, "too_many_subscriptions", "subscription limit reached", &m->id);
            return;
        }
        const char *name = m->channel == TG_CH_SYSTEM ? "system" : s->claims.sub;
        gw_key_t *k = gw_hub_get(&t->hub, m->channel, name);
        if (!k || gw_session_sub(s, k, true) < 0) {
            send_error(s, "internal", "out of memory", &m->id);
            return;
        }
        if (m->channel == TG_CH_NOTIFICATIONS) {
            /* the user's stream remembers what the user may read, for alerts
             * arriving while no connection of the user is open */
            k->admin = s->claims.admin;
            size_t need = 0;
            for (size_t i = 0; i < s->claims.n_portfolios; i++)
                need += strlen(s->claims.portfolios[i]) + 1;
            char *x = need ? malloc(need) : NULL;
            if (x || !need) {
                size_t o = 0;
                for (size_t i = 0; i < s->claims.n_portfolios; i++) {
                    size_t l = strlen(s->claims.portfolios[i]) + 1;
                    memcpy(x + o, s->claims.portfolios[i], l);
                    o += l;
                }
                free(k->extra);
                k->extra = x;
                k->extra_len = need;
            }
        }
        if (!*flag)
            s->nexplicit++;
        *flag = true;
        confirm(s, "subscription_confirmed", m, NULL, 0);
        send_state(s, k, m, m->channel == TG_CH_SYSTEM ? "system" : "notifications");
        return;
    }

    /* market_data / portfolio_updates: per key */
    char (*ok)[TG_KEY_MAX + 1] = calloc(m->nkeys ? m->nkeys : 1, sizeof *ok);
    gw_key_t **keys = calloc(m->nkeys ? m->nkeys : 1, sizeof *keys);
    size_t nok = 0;
    if (!ok || !keys) {
        send_error(s, "internal", "out of memory", &m->id);
        goto out;
    }
    for (size_t i = 0; i < m->nkeys; i++) {
        const char *key = m->keys[i];
        bool dup = false;
        for (size_t j = 0; j < nok && !dup; j++)
            dup = strcmp(ok[j], key) == 0;
        if (dup)
            continue;
        if (m->channel == TG_CH_MARKET_DATA && strcmp(key, "*") == 0) {
            if (!s->wildcard) {
                if (s->nexplicit >= max) {
                    send_error(s, "too_many_subscriptions", "subscription limit reached", &m->id);
                    continue;
                }
                if (gw_hub_add_wild(&t->hub, s) != 0) {
                    send_error(s, "internal", "out of memory", &m->id);
                    continue;
                }
                s->wildcard = true;
                s->nexplicit++;
                gw_hub_t *h = &t->hub;
                for (uint32_t b = 0; b < h->nbuckets; b++)
                    for (gw_key_t *k = h->buckets[b]; k; k = k->next)
                        if (k->channel == TG_CH_MARKET_DATA)
                            gw_session_sub(s, k, false);
            }
            memcpy(ok[nok++], key, 2);
            continue;
        }
        gw_key_t *k = NULL;
        if (!key_allowed(s, m, key, &k, true))
            continue;
        int existing = gw_session_find_sub(s, k);
        bool counted = existing >= 0 && s->subs[existing].explicit_;
        if (!counted && s->nexplicit >= max) {
            send_error(s, "too_many_subscriptions", "subscription limit reached", &m->id);
            continue;
        }
        int idx = gw_session_sub(s, k, true);
        if (idx < 0) {
            send_error(s, "internal", "out of memory", &m->id);
            continue;
        }
        if (!counted)
            s->nexplicit++;
        keys[nok] = existing >= 0 ? NULL : k; /* already subscribed: no second state */
        strcpy(ok[nok++], key);
    }
    if (nok)
        confirm(s, "subscription_confirmed", m, ok, nok);
    for (size_t i = 0; i < nok; i++) {
        if (strcmp(ok[i], "*") == 0) {
            gw_hub_t *h = &t->hub;
            for (uint32_t b = 0; b < h->nbuckets; b++)
                for (gw_key_t *k = h->buckets[b]; k; k = k->next)
                    if (k->channel == TG_CH_MARKET_DATA && k->last)
                        send_state(s, k, m, k->name);
        } else if (keys[i] && m->channel == TG_CH_BARS) {
            if (!gw_bars_send_history(s, keys[i], m))
                send_state(s, keys[i], m, keys[i]->name);
        } else if (keys[i]) {
            send_state(s, keys[i], m, ok[i]);
        }
    }
out:
    free(ok);
    free(keys);
}

static void handle_unsubscribe(gw_session_t *s, tg_cmsg_t *m)
{
    gw_thread_t *t = s->t;
    if (m->channel == TG_CH_NOTIFICATIONS || m->channel == TG_CH_SYSTEM) {
        bool *flag = m->channel == TG_CH_SYSTEM ? &s->system : &s->notifications;
        const char *name = m->channel == TG_CH_SYSTEM ? "system" : s->claims.sub;
        gw_key_t *k = gw_hub_find(&t->hub, m->channel, name);
        int idx = k ? gw_session_find_sub(s, k) : -1;
        if (idx >= 0)
            gw_session_unsub(s, (uint32_t)idx);
        if (*flag)
            s->nexplicit--;
        *flag = false;
        confirm(s, "unsubscription_confirmed", m, NULL, 0);
        return;
    }
    for (size_t i = 0; i < m->nkeys; i++) {
        const char *key = m->keys[i];
        if (m->channel == TG_CH_MARKET_DATA && strcmp(key, "*") == 0) {
            if (s->wildcard) {
                gw_hub_del_wild(&t->hub, s);
                s->wildcard = false;
                s->nexplicit--;
                for (uint32_t j = 0; j < s->nsubs; j++)
                    if (s->subs[j].key && s->subs[j].key->channel == TG_CH_MARKET_DATA &&
                        !s->subs[j].explicit_)
                        gw_session_unsub(s, j);
            }
            continue;
        }
        char bkey[TG_KEY_MAX + 1];
        if (m->channel == TG_CH_BARS) {
            gw_bars_key(key, m->interval, bkey, sizeof bkey);
            key = bkey;
        }
        gw_key_t *k = gw_hub_find(&t->hub, m->channel, key);
        int idx = k ? gw_session_find_sub(s, k) : -1;
        if (idx < 0 || !s->subs[idx].explicit_)
            continue;
        s->nexplicit--;
        if (s->wildcard && m->channel == TG_CH_MARKET_DATA)
            s->subs[idx].explicit_ = 0; /* still covered by "*" */
        else
            gw_session_unsub(s, (uint32_t)idx);
    }
    confirm(s, "unsubscription_confirmed", m, m->keys, m->nkeys);
}

static void handle_snapshot(gw_session_t *s, tg_cmsg_t *m)
{
    if (m->channel != TG_CH_MARKET_DATA && m->channel != TG_CH_PORTFOLIO) {
        send_error(s, "bad_request", "snapshot is for market_data and portfolio_updates",
                   &m->id);
        return;
    }
    /* collect readable keys first: the reply declares its array size up front */
    gw_key_t **ks = calloc(m->nkeys ? m->nkeys : 1, sizeof *ks);
    size_t n = 0, bytes = 0;
    if (!ks) {
        send_error(s, "internal", "out of memory", &m->id);
        return;
    }
    for (size_t i = 0; i < m->nkeys; i++) {
        gw_key_t *k = NULL;
        if (!key_allowed(s, m, m->keys[i], &k, false))
            continue;
        if (k && k->last) {
            ks[n++] = k;
            bytes += k->last->json_len + k->last->mp_len;
        }
    }
    size_t cap = 512 + bytes;
    char *j = malloc(cap);
    unsigned char *mp = malloc(cap);
    if (!j || !mp) {
        send_error(s, "internal", "out of memory", &m->id);
        goto out;
    }
    /* Embed the already-encoded messages: JSON by text, MessagePack by bytes. */
    size_t jl = 0, ml = 0;
    const char *field = m->channel == TG_CH_MARKET_DATA ? "quotes" : "portfolios";
    jl += (size_t)snprintf(j, cap, "{\"type\":\"snapshot\",\"channel\":\"%s\",\"%s\":[",
                           tg_channel_name(m->channel), field);
    tg_enc_t e;
    tg_enc_init(&e, NULL, 0, mp, cap);
    tg_enc_map(&e, 3 + id_fields(&m->id));
    tg_enc_kv_str(&e, "type", "snapshot");
    tg_enc_kv_str(&e, "channel", tg_channel_name(m->channel));
    tg_enc_key(&e, field);
    tg_enc_array(&e, (uint32_t)n);
    ml = e.mlen;
    for (size_t i = 0; i < n; i++) {
        if (i)
            j[jl++] = ',';
        memcpy(j + jl, ks[i]->last->json, ks[i]->last->json_len);
        jl += ks[i]->last->json_len;
        memcpy(mp + ml, ks[i]->last->mp, ks[i]->last->mp_len);
        ml += ks[i]->last->mp_len;
    }
    j[jl++] = ']';
    if (m->id.kind == TG_ID_INT)
        jl += (size_t)snprintf(j + jl, cap - jl, ",\"id\":%" PRId64, m->id.i);
    j[jl++] = '}';
    e.mlen = ml;
    tg_enc_array_end(&e);
    enc_id(&e, &m->id);
    if (m->id.kind == TG_ID_STR) {
        /* string ids need escaping: rebuild the JSON tail through the encoder */
        char tmp[160];
        int w = tg_json_escape(m->id.s, strlen(m->id.s), tmp, sizeof tmp);
        jl--; /* drop '}' */
        jl += (size_t)snprintf(j + jl, cap - jl, ",\"id\":\"%.*s\"}", w > 0 ? w : 0, tmp);
    }
    if (!e.err)
        gw_session_reply(s, j, jl, mp, e.mlen);
    else
        send_error(s, "internal", "snapshot too large", &m->id);
out:
    free(ks);
    free(j);
    free(mp);
}

static void handle_ping(gw_session_t *s, tg_cmsg_t *m)
{
    reply_t r;
    reply_begin(&r, 2 + id_fields(&m->id));
    tg_enc_kv_str(&r.e, "type", "pong");
    reply_id(&r, &m->id);
    tg_enc_kv_i64(&r.e, "server_time", tg_now_ns());
    reply_send(s, &r);
}

/* Token bucket: msgs_per_s with burst; >10 rate_limited in 10 s closes 1008. */
static bool rate_ok(gw_session_t *s)
{
    const tg_config_t *cfg = s->t->g->cfg;
    int64_t now = tg_mono_ns();
    if (!s->tokens_at_ns) {
        s->tokens = cfg->limits.burst;
        s->tokens_at_ns = now;
    }
    s->tokens += (double)(now - s->tokens_at_ns) / 1e9 * cfg->limits.msgs_per_s;
    if (s->tokens > cfg->limits.burst)
        s->tokens = cfg->limits.burst;
    s->tokens_at_ns = now;
    if (s->tokens >= 1.0) {
        s->tokens -= 1.0;
        return true;
    }
    int64_t sec = now / 1000000000LL;
    if (sec - s->rl_window_start_s >= 10) {
        memset(s->rate_limited_hits, 0, sizeof s->rate_limited_hits);
        s->rl_window_start_s = sec;
    } else {
        for (int64_t x = s->rl_window_start_s; x < sec - 9; x++)
            s->rate_limited_hits[x % 10] = 0;
    }
    s->rate_limited_hits[sec % 10]++;
    int total = 0;
    for (int i = 0; i < 10; i++)
        total += s->rate_limited_hits[i];
    send_error(s, "rate_limited", "too many messages", NULL);
    if (total > 10) /* the error above still goes out before the close */
        gw_session_close(s, 1008, "rate limit abuse");
    return false;
}

void gw_on_client_message(gw_session_t *s, const void *data, size_t len, bool binary)
{
    tg_cmsg_t m;
    tg_proto_err_t err;
    if (s->state == GW_CLOSING)
        return;
    if (s->state == GW_AWAIT_REVOCATION) {
        /* keep it until the revocation verdict (a few ms); past 8, refuse */
        if (s->nheld < (int)(sizeof s->held / sizeof s->held[0]) &&
            (s->held[s->nheld].data = malloc(len ? len : 1)) != NULL) {
            memcpy(s->held[s->nheld].data, data, len);
            s->held[s->nheld].len = len;
            s->held[s->nheld].binary = binary;
            s->nheld++;
        } else {
            send_error(s, "rate_limited", "too many messages before authentication completed",
                       NULL);
        }
        return;
    }
    if (s->state == GW_ACTIVE && !rate_ok(s))
        return;
    if (tg_proto_parse(data, len, binary, &m, &err) != 0) {
        if (s->state == GW_AWAIT_AUTH) {
            send_error(s, "unauthorized", "authenticate first", &m.id);
            gw_session_close(s, 1008, "unauthorized");
            return;
        }
        send_error(s, err.code, err.message, &m.id);
        return;
    }
    if (s->state == GW_AWAIT_AUTH && m.type != TG_CMSG_AUTH) {
        send_error(s, "unauthorized", "authenticate first", &m.id);
        gw_session_close(s, 1008, "unauthorized");
        goto out;
    }
    switch (m.type) {
    case TG_CMSG_AUTH: {
        bool reauth = s->state == GW_ACTIVE;
        int rc = authenticate(s, m.token, strlen(m.token), reauth);
        if (rc != 0) {
            if (reauth && rc == -EACCES) {
                send_error(s, "unauthorized", "re-authentication must keep the same sub", &m.id);
            } else {
                send_error(s, "unauthorized", "invalid token", &m.id);
                gw_session_close(s, 1008, "unauthorized");
            }
            break;
        }
        activate(s, reauth);
        break;
    }
    case TG_CMSG_SUBSCRIBE:
        handle_subscribe(s, &m);
        break;
    case TG_CMSG_UNSUBSCRIBE:
        handle_unsubscribe(s, &m);
        break;
    case TG_CMSG_SNAPSHOT:
        handle_snapshot(s, &m);
        break;
    case TG_CMSG_PING:
        handle_ping(s, &m);
        break;
    }
out:
    tg_cmsg_free(&m);
}

static bool fd_ip_acquire(gw_thread_t *t, int fd, const struct sockaddr_storage *sa);
static void fd_ip_release(gw_thread_t *t, int fd);

/* ---- engine messages into the hub ---- */

/* Alerts: one stream per user; the seq is that user's, so it is appended here. */
static void publish_alert(gw_thread_t *t, tg_msg_t *m)
{
    gw_hub_t *h = &t->hub;
    /* keep the last events for GET /api/v1/alerts */
    const uint32_t cap = sizeof t->alog / sizeof t->alog[0];
    if (t->alog_len == cap) {
        tg_msg_unref(t->alog[t->alog_head]);
        t->alog_head = (t->alog_head + 1) % cap;
        t->alog_len--;
    }
    t->alog[(t->alog_head + t->alog_len++) % cap] = tg_msg_ref(m);
    const char *pid = m->key_name;
    for (uint32_t i = 0; i < h->nnotif; i++) {
        gw_key_t *k = h->notif[i];
        bool may = k->admin || tg_msg_acl_has(m, k->name);
        for (const char *p = k->extra; !may && p && p < k->extra + k->extra_len; p += strlen(p) + 1)
            may = strcmp(p, pid) == 0;
        if (!may)
            continue;
        uint64_t seq = gw_notif_seq(t->g->notif_seq, k->name, m->seq);
        if (!seq)
            continue;
        char jb[2048];
        unsigned char mb[2048];
        if (m->json_len + 40 > sizeof jb || m->mp_len + 20 > sizeof mb || !m->json_len ||
            (m->mp[0] & 0xf0) != 0x80 || (m->mp[0] & 0x0f) == 0x0f)
            continue; /* engine alerts are small fixmaps; anything else is a bug */
        memcpy(jb, m->json, m->json_len - 1);
        size_t jl = m->json_len - 1 + (size_t)snprintf(jb + m->json_len - 1, 40, ",\"seq\":%" PRIu64 "}", seq);
        memcpy(mb, m->mp, m->mp_len);
        mb[0]++; /* one more map entry */
        tg_enc_t e;
        tg_enc_init(&e, NULL, 0, mb + m->mp_len, sizeof mb - m->mp_len);
        e.first[0] = 2;
        tg_enc_kv_u64(&e, "seq", seq);
        tg_msg_t *um = tg_msg_new_acl(jb, jl, mb, m->mp_len + e.mlen, m->acl, m->acl_len);
        if (!um)
            continue;
        um->type = m->type;
        um->channel = TG_CH_NOTIFICATIONS;
        um->seq = seq;
        um->ts = m->ts;
        memcpy(um->key_name, k->name, sizeof um->key_name);
        /* alerts are never conflated: they go to every subscriber's ctrl FIFO */
        gw_hub_publish_ctrl(t, k, um);
    }
    tg_msg_unref(m);
}

static void adopt_pending(gw_thread_t *t)
{
    pthread_mutex_lock(&t->adopt_lock);
    uint32_t n = t->adopt_n;
    int fds[256];
    if (n > 256)
        n = 256;
    memcpy(fds, t->adopt_q, n * sizeof *fds);
    memmove(t->adopt_q, t->adopt_q + n, (t->adopt_n - n) * sizeof *fds);
    t->adopt_n -= n;
    bool more = t->adopt_n > 0;
    atomic_store(&t->adopt_waiting, more);
    pthread_mutex_unlock(&t->adopt_lock);
    for (uint32_t i = 0; i < n; i++) {
        struct sockaddr_storage sa;
        socklen_t sl = sizeof sa;
        if (t->closing || getpeername(fds[i], (struct sockaddr *)&sa, &sl) != 0 ||
            !fd_ip_acquire(t, fds[i], &sa)) {
            close(fds[i]);
            continue;
        }
        if (!lws_adopt_socket_vhost(t->vhost, fds[i])) {
            fd_ip_release(t, fds[i]);
            close(fds[i]);
        }
    }
    if (more)
        lws_cancel_service(t->ctx);
}

static void drain_engine(gw_thread_t *t)
{
    size_t n;
    if (atomic_load_explicit(&t->adopt_waiting, memory_order_relaxed))
        adopt_pending(t);
    if (atomic_load(&t->shutdown_req) && !t->closing) {
        t->closing = true;
        for (gw_session_t *s = t->sessions; s; s = s->next)
            gw_session_close(s, 1001, "server shutdown");
    }
    while ((n = tg_ring_pop(t->in, t->batch, sizeof t->batch / sizeof t->batch[0])) > 0) {
        for (size_t i = 0; i < n; i++) {
            tg_msg_t *m = t->batch[i];
            if (m->type == TG_MSG_ALERT && m->channel == TG_CH_NOTIFICATIONS) {
                publish_alert(t, m);
                continue;
            }
            if (m->type == TG_MSG_PORTFOLIO_REMOVED) {
                gw_key_t *k = gw_hub_find(&t->hub, m->channel, m->key_name);
                if (k) { /* gone: the API stops listing it, subscribers keep the key */
                    tg_msg_unref(k->last);
                    k->last = NULL;
                }
                tg_msg_unref(m);
                continue;
            }
            gw_key_t *k = gw_hub_get(&t->hub, m->channel, m->key_name);
            if (!k) {
                tg_msg_unref(m);
                continue;
            }
            if (m->channel == TG_CH_SYSTEM || m->channel == TG_CH_BARS)
                gw_hub_publish_ctrl(t, k, m); /* never conflated, in order (SPEC §11) */
            else
                gw_hub_publish(t, k, m);
        }
    }
    gw_thread_flush_writers(t, true);
}

/* ---- periodic work ---- */

/*
 * Slow consumers (SPEC §5). "Its socket accepts nothing" is judged by what
 * the peer acknowledged, not by writable events: the kernel keeps taking data
 * into its send buffer long after the peer stopped reading. Bytes acked are
 * estimated as bytes written minus bytes still unsent in the kernel (SIOCOUTQ);
 * no growth for max_stall_ms while data waits -> 4008. Pending bytes are ours
 * plus the kernel's unsent ones. Checked every 250 ms per client, staggered.
 */
static void check_stall(gw_session_t *s, int64_t now)
{
    const tg_config_t *cfg = s->t->g->cfg;
    s->next_stall_check_ns = now + 250000000LL;
    int outq = 0;
    if (ioctl(lws_get_socket_fd(s->wsi), SIOCOUTQ, &outq) != 0 || outq < 0)
        outq = 0;
    int64_t acked = (int64_t)s->sent_bytes - outq;
    bool waiting = outq > 0 || s->clen || s->dlen;
    if (!waiting || acked > s->acked_est) {
        s->acked_est = acked;
        s->ack_progress_ns = now;
    }
    if (s->pending_bytes + (uint64_t)outq > (uint64_t)cfg->limits.max_pending_bytes ||
        (waiting && now - s->ack_progress_ns > (int64_t)cfg->limits.max_stall_ms * 1000000LL))
        gw_session_close(s, 4008, "slow consumer");
}

static void flush_counters(gw_thread_t *t)
{
    for (int c = 0; c < TG_CH_COUNT; c++) {
        tg_counter_add(t->g->m_sent[c], t->cnt.sent[c] - t->cnt_flushed.sent[c]);
        tg_counter_add(t->g->m_conflated[c], t->cnt.conflated[c] - t->cnt_flushed.conflated[c]);
    }
    t->cnt_flushed = t->cnt;
}

static void on_timer(lws_sorted_usec_list_t *sul)
{
    gw_thread_t *t = lws_container_of(sul, gw_thread_t, sul_timer);
    int64_t now = tg_mono_ns();
    int64_t now_s = time(NULL);
    for (gw_session_t *s = t->sessions; s; s = s->next) {
        check_revocation(s, now);
        if (s->state == GW_AWAIT_AUTH && now > s->auth_deadline_ns) {
            send_error(s, "unauthorized", "no authentication within the timeout", NULL);
            gw_session_close(s, 1008, "auth timeout");
        } else if (s->state == GW_ACTIVE && now_s >= s->deadline_s) {
            send_error(s, "token_expired", "token expired", NULL);
            gw_session_close(s, 4001, "token expired");
        } else if (s->state == GW_ACTIVE && now >= s->next_stall_check_ns) {
            check_stall(s, now);
        }
    }
    flush_counters(t);
    lws_sul_schedule(t->ctx, 0, &t->sul_timer, on_timer, TIMER_US);
}

/* ---- the callback ---- */

static void count_close(gw_thread_t *t, int code)
{
    char label[32];
    snprintf(label, sizeof label, "code=\"%d\"", code);
    tg_counter_t *c = tg_metrics_counter(t->g->metrics, "tickgate_clients_closed_total", label,
                                         "Client connections closed, by close code");
    if (c)
        tg_counter_add(c, 1);
}

/*
 * Connections per IP. lws tells us the address when it accepts (FILTER_NETWORK_
 * CONNECTION) but not reliably at destruction, so the address is remembered by
 * fd; a slot still held when its fd is handed out again belonged to a closed
 * connection and is released first.
 */
static bool fd_ip_acquire(gw_thread_t *t, int fd, const struct sockaddr_storage *sa)
{
    char ip[48] = "";
    if (sa->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof ip);
    else if (sa->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof ip);
    if (!ip[0] || fd < 0)
        return true;
    /* a trusted proxy carries many clients: they are counted by their
     * X-Forwarded-For address at the handshake instead */
    if (gw_ip_trusted(&t->g->cfg->server.trusted_proxies, ip))
        return true;
    if (fd >= t->nfdip) {
        int n = fd * 2 + 64;
        char(*nf)[48] = realloc(t->fdip, (size_t)n * sizeof *nf);
        if (!nf)
            return false;
        memset(nf + t->nfdip, 0, (size_t)(n - t->nfdip) * sizeof *nf);
        t->fdip = nf;
        t->nfdip = n;
    }
    if (t->fdip[fd][0])
        gw_ipcap_release(t->g->ipcap, t->fdip[fd]);
    t->fdip[fd][0] = 0;
    if (!gw_ipcap_acquire(t->g->ipcap, ip, (uint32_t)t->g->cfg->limits.max_conns_per_ip)) {
        char label[80];
        snprintf(label, sizeof label, "reason=\"ip_cap\"");
        tg_counter_t *c = tg_metrics_counter(t->g->metrics, "tickgate_connections_refused_total",
                                             label, "Connections refused before the handshake");
        if (c)
            tg_counter_add(c, 1);
        return false;
    }
    memcpy(t->fdip[fd], ip, sizeof ip);
    return true;
}

static void fd_ip_release(gw_thread_t *t, int fd)
{
    if (fd >= 0 && fd < t->nfdip && t->fdip[fd][0]) {
        gw_ipcap_release(t->g->ipcap, t->fdip[fd]);
        t->fdip[fd][0] = 0;
    }
}

static int find_token(struct lws *wsi, char *buf, size_t cap)
{
    const char *v = lws_get_urlarg_by_name(wsi, "token=", buf, (int)cap);
    if (v && *v) {
        memmove(buf, v, strlen(v) + 1);
        return (int)strlen(buf);
    }
    int n = lws_hdr_copy(wsi, buf, (int)cap, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n > 7 && strncasecmp(buf, "Bearer ", 7) == 0) {
        memmove(buf, buf + 7, (size_t)n - 6);
        return n - 7;
    }
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    gw_session_t **ps = user;
    gw_thread_t *t;
    switch (reason) {
    case LWS_CALLBACK_PROTOCOL_INIT:
        t = thread_of(wsi);
        if (t && !t->sul_timer.cb)
            lws_sul_schedule(t->ctx, 0, &t->sul_timer, on_timer, TIMER_US);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        t = thread_of(wsi);
        if (t)
            drain_engine(t);
        return 0;
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION: {
        /* per-IP cap, before a byte is read; the IP is remembered by fd */
        t = thread_of(wsi);
        const struct lws_filter_network_conn_args *fa = user;
        if (!t || !fa || t->closing)
            return -1;
        return fd_ip_acquire(t, (int)fa->accept_fd, &fa->cli_addr) ? 0 : -1;
    }
    case LWS_CALLBACK_WSI_DESTROY:
        t = thread_of(wsi);
        if (t)
            fd_ip_release(t, lws_get_socket_fd(wsi));
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        char uri[64];
        if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 || strcmp(uri, "/ws") != 0)
            return -1;
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED: {
        t = thread_of(wsi);
        if (t->closing)
            return -1;
        gw_session_t *s = gw_session_new(t, wsi);
        if (!s)
            return -1;
        *ps = s;
        const struct lws_protocols *p = lws_get_protocol(wsi);
        char fmt[16];
        const char *f = lws_get_urlarg_by_name(wsi, "format=", fmt, sizeof fmt);
        s->msgpack = (p && strcmp(p->name, "tickgate.msgpack.v1") == 0) ||
                     (f && strcmp(f, "msgpack") == 0);
        tg_gauge_add(t->g->m_clients, 1); /* CLOSED takes it back, whatever happens next */
        char peer[64] = "", xff[1024] = "";
        lws_get_peer_simple(wsi, peer, sizeof peer);
        if (lws_hdr_copy(wsi, xff, sizeof xff, WSI_TOKEN_X_FORWARDED_FOR) < 0)
            xff[0] = 0;
        gw_client_addr(&t->g->cfg->server.trusted_proxies, peer, xff, s->peer, sizeof s->peer);
        if (strcmp(peer, s->peer) != 0) { /* behind a trusted proxy: cap the real client */
            if (!gw_ipcap_acquire(t->g->ipcap, s->peer,
                                  (uint32_t)t->g->cfg->limits.max_conns_per_ip)) {
                send_error(s, "rate_limited", "too many connections from your address", NULL);
                gw_session_close(s, 1008, "per-IP connection cap");
                gw_thread_flush_writers(t, false);
                return 0;
            }
            s->ip_counted = true;
        }
        /* a fixed send buffer: the kernel must not absorb megabytes for a
         * client that stopped reading (autotuning grows it to tcp_wmem max),
         * or the stall and pending limits would only see it much later */
        int sndbuf = GW_SNDBUF_BYTES;
        setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        char tok[TG_JWT_MAX_TOKEN + 16];
        int n = find_token(wsi, tok, sizeof tok);
        if (n > 0) {
            if (authenticate(s, tok, (size_t)n, false) != 0) {
                send_error(s, "unauthorized", "invalid token", NULL);
                gw_session_close(s, 1008, "unauthorized");
                return 0;
            }
            activate(s, false);
        } else {
            s->state = GW_AWAIT_AUTH;
            s->auth_deadline_ns = tg_mono_ns() + (int64_t)t->g->cfg->auth.auth_timeout_ms * 1000000LL;
        }
        gw_thread_flush_writers(t, false);
        return 0;
    }
    case LWS_CALLBACK_RECEIVE: {
        gw_session_t *s = *ps;
        if (!s)
            return -1;
        t = s->t;
        size_t max = (size_t)t->g->cfg->limits.max_message_bytes;
        bool final = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
        if (s->rxlen + len > max) {
            s->rxlen = 0;
            lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)"too large", 9);
            count_close(t, 1009);
            return -1;
        }
        if (final && s->rxlen == 0) {
            gw_on_client_message(s, in, len, lws_frame_is_binary(wsi));
        } else {
            if (s->rxlen + len > s->rxcap) {
                size_t nc = s->rxlen + len > 4096 ? max : 4096;
                char *nr = realloc(s->rx, nc);
                if (!nr)
                    return -1;
                s->rx = nr;
                s->rxcap = nc;
            }
            memcpy(s->rx + s->rxlen, in, len);
            s->rxlen += len;
            if (final) {
                gw_on_client_message(s, s->rx, s->rxlen, lws_frame_is_binary(wsi));
                s->rxlen = 0;
                if (s->rxcap > 4096) { /* don't keep a 64 KiB buffer per idle client */
                    free(s->rx);
                    s->rx = NULL;
                    s->rxcap = 0;
                }
            }
        }
        gw_thread_flush_writers(t, false);
        return 0;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE: {
        gw_session_t *s = *ps;
        if (!s)
            return -1;
        if (s->state == GW_CLOSING && s->clen == 0)
            count_close(s->t, s->close_code);
        return gw_session_write(s);
    }
    case LWS_CALLBACK_CLOSED: {
        gw_session_t *s = *ps;
        if (s) {
            t = s->t;
            TG_DEBUG("client_closed", "client", TG_S(s->client_id), "code", TG_I(s->close_code));
            tg_gauge_add(t->g->m_clients, -1);
            if (s->ip_counted)
                gw_ipcap_release(t->g->ipcap, s->peer);
            gw_session_free(s);
            *ps = NULL;
        }
        return 0;
    }
    default:
        break;
    }
    t = thread_of(wsi);
    if (t)
        return gw_http(wsi, t, user, reason, in, len);
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ---- threads ---- */

static const struct lws_protocols protocols[] = {
    /* protocol 0 serves HTTP and WebSocket upgrades without a subprotocol */
    {"tickgate", callback, sizeof(void *), 4096, 0, NULL, 0},
    {"tickgate.json.v1", callback, sizeof(void *), 4096, 1, NULL, 0},
    {"tickgate.msgpack.v1", callback, sizeof(void *), 4096, 2, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* server.compression: permessage-deflate for clients that offer it; lws
 * compresses per connection, so clients without it keep the shared frames. */
static const struct lws_extension deflate_exts[] = {
    {"permessage-deflate", lws_extension_callback_pm_deflate,
     "permessage-deflate; client_no_context_takeover; client_max_window_bits"},
    {NULL, NULL, NULL},
};

/* SPEC §5: ping idle connections every 20 s, drop those silent 10 s after. */
static const lws_retry_bo_t idle_policy = {
    .secs_since_valid_ping = 20,
    .secs_since_valid_hangup = 30,
};

static void engine_wake(void *arg)
{
    gw_thread_t *t = arg;
    if (t->ctx)
        lws_cancel_service(t->ctx);
}

static void *service_thread(void *arg)
{
    gw_thread_t *t = arg;
    char name[16];
    snprintf(name, sizeof name, "gw-%d", t->idx);
    pthread_setname_np(pthread_self(), name);
    while (!atomic_load(&t->g->stop)) {
        if (lws_service(t->ctx, 0) < 0)
            break;
    }
    return NULL;
}

/*
 * server.threads > 1: Debian's lws has no SMP and sets SO_REUSEPORT only for
 * its own multi-thread mode, so one listener is ours. An acceptor thread
 * accepts and deals sockets round-robin to the service threads, which adopt
 * them into their own contexts (lws_adopt_socket_vhost) on their own thread.
 */
static int open_listener(const char *host, int port, int *out_port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    if (getaddrinfo(host, ps, &hints, &res) != 0 || !res)
        return -EINVAL;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 4096) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -e;
    }
    freeaddrinfo(res);
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    *out_port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                               : ((struct sockaddr_in *)&sa)->sin_port);
    return fd;
}

static void *acceptor_thread(void *arg)
{
    tg_gateway_t *g = arg;
    pthread_setname_np(pthread_self(), "gw-accept");
    int next = 0;
    while (!atomic_load(&g->accept_stop)) {
        struct pollfd pfd = {.fd = g->listen_fd, .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        int fd = accept4(g->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        gw_thread_t *t = &g->threads[next];
        next = (next + 1) % g->nthreads;
        if (atomic_load(&t->shutdown_req)) {
            close(fd);
            continue;
        }
        pthread_mutex_lock(&t->adopt_lock);
        if (t->adopt_n == t->adopt_cap) {
            uint32_t nc = t->adopt_cap ? t->adopt_cap * 2 : 64;
            int *nq = realloc(t->adopt_q, nc * sizeof *nq);
            if (!nq) {
                pthread_mutex_unlock(&t->adopt_lock);
                close(fd);
                continue;
            }
            t->adopt_q = nq;
            t->adopt_cap = nc;
        }
        t->adopt_q[t->adopt_n++] = fd;
        atomic_store(&t->adopt_waiting, 1);
        pthread_mutex_unlock(&t->adopt_lock);
        lws_cancel_service(t->ctx);
    }
    return NULL;
}

int tg_gateway_create(tg_gateway_t **out, const tg_gateway_deps_t *deps)
{
    const tg_config_t *cfg = deps->cfg;
    tg_gateway_t *g = calloc(1, sizeof *g);
    if (!g)
        return -ENOMEM;
    g->d = *deps;
    g->cfg = cfg;
    g->listen_fd = -1;
    g->metrics = deps->metrics;
    snprintf(g->epoch, sizeof g->epoch, "e-%llx", (unsigned long long)(tg_now_ns() / 1000) & 0xffffffffffULL);
    g->m_clients = tg_metrics_gauge(g->metrics, "tickgate_clients_connected", NULL,
                                    "WebSocket clients connected");
    g->m_tick_to_send = tg_metrics_histogram(g->metrics, "tickgate_tick_to_send_seconds", NULL,
                                             "Feed accept to frame handed to the socket");
    for (int c = 0; c < TG_CH_COUNT; c++) {
        char label[48];
        snprintf(label, sizeof label, "channel=\"%s\"", tg_channel_name((tg_channel_t)c));
        g->m_sent[c] = tg_metrics_counter(g->metrics, "tickgate_messages_sent_total", label,
                                          "Messages written to clients, by channel");
        g->m_conflated[c] = tg_metrics_counter(g->metrics, "tickgate_messages_conflated_total",
                                               label, "Unsent messages replaced by newer ones");
    }
    char host[256];
    int port;
    int rc = gw_table_create(&g->ipcap);
    if (rc || (rc = gw_table_create(&g->http_rate)) != 0 ||
        (rc = gw_table_create(&g->notif_seq)) != 0)
        goto fail;
    rc = tg_parse_hostport(cfg->server.listen, host, sizeof host, &port);
    if (rc)
        goto fail;
    g->nthreads = cfg->server.threads > 0 ? cfg->server.threads : 1;
    g->threads = calloc((size_t)g->nthreads, sizeof *g->threads);
    if (!g->threads) {
        rc = -ENOMEM;
        goto fail;
    }
    for (int i = 0; i < g->nthreads; i++)
        pthread_mutex_init(&g->threads[i].adopt_lock, NULL);
    if (g->nthreads > 1) {
        int bound = 0;
        g->listen_fd = open_listener(host, port, &bound);
        if (g->listen_fd < 0) {
            rc = g->listen_fd;
            g->listen_fd = -1;
            TG_ERROR("listen_failed", "listen", TG_S(cfg->server.listen), "error",
                     TG_S(strerror(-rc)));
            goto fail;
        }
        g->port = bound;
    }
    lws_set_log_level(LLL_ERR, NULL);
    for (int i = 0; i < g->nthreads; i++) {
        gw_thread_t *t = &g->threads[i];
        t->g = g;
        t->idx = i;
        t->frame_cap = 256 * 1024;
        t->direct_write = !getenv("TG_NO_DIRECT_WRITE"); /* A/B switch for the benchmarks */
        t->frame = malloc(LWS_PRE + t->frame_cap);
        if (!t->frame) {
            rc = -ENOMEM;
            goto fail;
        }
        rc = gw_hub_init(&t->hub, (uint32_t)cfg->limits.history_size,
                         (uint64_t)cfg->limits.history_max_bytes);
        if (rc)
            goto fail;
        rc = tg_engine_add_output(deps->engine, &t->in, engine_wake, t);
        if (rc || (rc = tg_metrics_watch_ring(g->metrics, t->in)) != 0)
            goto fail;
        struct lws_context_creation_info info;
        memset(&info, 0, sizeof info);
        info.port = g->nthreads > 1 ? CONTEXT_PORT_NO_LISTEN_SERVER : port;
        info.iface = g->nthreads > 1 ? NULL : host;
        info.protocols = protocols;
        info.user = t;
        info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DISABLE_IPV6;
        if (strchr(host, ':'))
            info.options &= ~(uint64_t)LWS_SERVER_OPTION_DISABLE_IPV6;
        if (cfg->server.compression)
            info.extensions = deflate_exts;
        info.retry_and_idle_policy = &idle_policy; /* ping idle clients at 20 s, drop at 30 s */
        info.timeout_secs = 10;
        info.pt_serv_buf_size = 64 * 1024;
        info.max_http_header_data = 16384; /* room for a token in the query or header */
        if (cfg->server.tls_cert[0]) {
            info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
            info.ssl_cert_filepath = cfg->server.tls_cert;
            info.ssl_private_key_filepath = cfg->server.tls_key;
            info.ssl_options_set = SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
        }
        t->ctx = lws_create_context(&info);
        if (!t->ctx) {
            TG_ERROR("listen_failed", "listen", TG_S(cfg->server.listen));
            rc = -EADDRINUSE;
            goto fail;
        }
        t->vhost = lws_get_vhost_by_name(t->ctx, "default");
        if (i == 0 && g->nthreads == 1) {
            g->port = port;
            if (t->vhost && port == 0)
                g->port = lws_get_vhost_listen_port(t->vhost);
        }
        if (i == 0 && cfg->server.metrics_listen[0]) {
            /* /metrics on its own (private) address: a second vhost of thread 0 */
            char mhost[256];
            int mport;
            if ((rc = tg_parse_hostport(cfg->server.metrics_listen, mhost, sizeof mhost, &mport)))
                goto fail;
            struct lws_context_creation_info mi;
            memset(&mi, 0, sizeof mi);
            mi.port = mport;
            mi.iface = mhost;
            mi.protocols = protocols;
            mi.vhost_name = "metrics";
            mi.options = strchr(mhost, ':') ? 0 : LWS_SERVER_OPTION_DISABLE_IPV6;
            g->metrics_vhost = lws_create_vhost(t->ctx, &mi);
            if (!g->metrics_vhost) {
                TG_ERROR("listen_failed", "listen", TG_S(cfg->server.metrics_listen));
                rc = -EADDRINUSE;
                goto fail;
            }
        }
    }
    *out = g;
    return 0;
fail:
    tg_gateway_destroy(g);
    return rc;
}

int tg_gateway_port(const tg_gateway_t *g)
{
    return g->port;
}

int tg_gateway_start(tg_gateway_t *g)
{
    for (int i = 0; i < g->nthreads; i++) {
        int rc = pthread_create(&g->threads[i].thread, NULL, service_thread, &g->threads[i]);
        if (rc)
            return -rc;
        g->threads[i].started = true;
    }
    if (g->listen_fd >= 0) {
        int rc = pthread_create(&g->acceptor, NULL, acceptor_thread, g);
        if (rc)
            return -rc;
        g->acceptor_started = true;
    }
    return 0;
}

void tg_gateway_shutdown(tg_gateway_t *g, int grace_ms)
{
    if (!g)
        return;
    /* stop accepting first */
    atomic_store(&g->accept_stop, 1);
    if (g->acceptor_started) {
        pthread_join(g->acceptor, NULL);
        g->acceptor_started = false;
    }
    if (g->listen_fd >= 0) {
        close(g->listen_fd);
        g->listen_fd = -1;
    }
    /* each service thread closes its own sessions (1001) when it sees the request */
    for (int i = 0; i < g->nthreads; i++) {
        gw_thread_t *t = &g->threads[i];
        atomic_store(&t->shutdown_req, 1);
        if (t->started)
            lws_cancel_service(t->ctx);
    }
    int64_t end = tg_mono_ns() + (int64_t)grace_ms * 1000000LL;
    for (;;) {
        uint32_t open = 0;
        for (int i = 0; i < g->nthreads; i++)
            if (g->threads[i].started)
                open += atomic_load(&g->threads[i].nsessions);
        if (!open || tg_mono_ns() > end)
            break;
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&g->stop, 1);
    for (int i = 0; i < g->nthreads; i++) {
        gw_thread_t *t = &g->threads[i];
        if (t->started) {
            lws_cancel_service(t->ctx);
            pthread_join(t->thread, NULL);
            t->started = false;
        }
    }
}

void tg_gateway_destroy(tg_gateway_t *g)
{
    if (!g)
        return;
    for (int i = 0; g->threads && i < g->nthreads; i++) {
        gw_thread_t *t = &g->threads[i];
        if (t->ctx)
            lws_context_destroy(t->ctx); /* closes sessions: CLOSED frees them */
        gw_hub_free(&t->hub);
        if (t->in) {
            tg_msg_t *m;
            while (tg_ring_pop(t->in, &m, 1) == 1)
                tg_msg_unref(m);
            tg_metrics_unwatch_ring(g->metrics, t->in);
            tg_ring_destroy(t->in);
        }
        for (uint32_t j = 0; j < t->alog_len; j++)
            tg_msg_unref(t->alog[(t->alog_head + j) % (sizeof t->alog / sizeof t->alog[0])]);
        free(t->writers);
        free(t->frame);
        free(t->fdip);
        for (uint32_t j = 0; j < t->adopt_n; j++)
            close(t->adopt_q[j]);
        free(t->adopt_q);
        pthread_mutex_destroy(&t->adopt_lock);
    }
    free(g->threads);
    if (g->listen_fd >= 0)
        close(g->listen_fd);
    gw_table_destroy(g->ipcap);
    gw_table_destroy(g->http_rate);
    gw_table_destroy(g->notif_seq);
    free(g);
}
