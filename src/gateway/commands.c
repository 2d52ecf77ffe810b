/* commands.c - what a client asks for: subscribe (with `since` recovery),
 * unsubscribe, snapshot, ping, auth; access control per portfolio and the
 * per-connection message rate limit. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "tickgate/bars.h"
#include "tickgate/clock.h"
#include "tickgate/encode.h"
#include "tickgate/json.h"

/* ---- access control ---- */

static bool extra_has(const tg_jwt_claims_t *c, const char *id)
{
    for (size_t i = 0; i < c->n_portfolios; i++)
        if (strcmp(c->portfolios[i], id) == 0)
            return true;
    return false;
}

/* May the session's user read portfolio key k (whose last message carries the ACL)? */
static bool may_read_portfolio(const gw_client_t *s, const gw_key_t *k)
{
    if (s->claims.admin || extra_has(&s->claims, k->name))
        return true;
    return k->last && tg_msg_acl_has(k->last, s->claims.sub);
}

/* ---- subscribe / unsubscribe / snapshot ---- */

/* A confirmation's fields (type, channel, interval of bars, the keys, id) after
 * its map header: the caller encodes them into the reply buffer, or on the heap. */
static void confirm_fields(tg_enc_t *e, const char *type, const tg_cmsg_t *m,
                           char (*keys)[TG_KEY_MAX + 1], size_t nkeys)
{
    tg_enc_kv_str(e, "type", type);
    tg_enc_kv_str(e, "channel", tg_channel_name(m->channel));
    if (m->channel == TG_CH_BARS)
        tg_enc_kv_str(e, "interval", tg_bar_iv_name((tg_bar_iv_t)m->interval));
    if (m->channel == TG_CH_MARKET_DATA || m->channel == TG_CH_PORTFOLIO ||
        m->channel == TG_CH_BARS) {
        tg_enc_key(e, m->channel == TG_CH_PORTFOLIO ? "portfolio_ids" : "symbols");
        tg_enc_array(e, (uint32_t)nkeys);
        for (size_t i = 0; i < nkeys; i++)
            tg_enc_cstr(e, keys[i]);
        tg_enc_array_end(e);
    }
    gw_enc_id(e, &m->id);
}

static void confirm(gw_client_t *s, const char *type, const tg_cmsg_t *m, char (*keys)[TG_KEY_MAX + 1],
                    size_t nkeys)
{
    gw_reply_t r;
    bool has_keys = m->channel == TG_CH_MARKET_DATA || m->channel == TG_CH_PORTFOLIO ||
                    m->channel == TG_CH_BARS;
    uint32_t nfields = 2 + (has_keys ? 1 : 0) + (m->channel == TG_CH_BARS ? 1 : 0) +
                       gw_id_fields(&m->id);
    gw_reply_begin(&r, nfields);
    confirm_fields(&r.e, type, m, keys, nkeys);
    if (r.e.err) { /* too many keys for the fixed reply buffer: build it on the heap */
        size_t cap = 256 + nkeys * (TG_KEY_MAX * 6 + 8);
        char *j = malloc(cap);
        unsigned char *mp = malloc(cap);
        if (j && mp) {
            tg_enc_init(&r.e, j, cap, mp, cap);
            tg_enc_map(&r.e, nfields);
            confirm_fields(&r.e, type, m, keys, nkeys);
            tg_enc_map_end(&r.e);
            if (!r.e.err)
                gw_client_reply(s, r.e.json, r.e.jlen, r.e.mp, r.e.mlen);
        }
        free(j);
        free(mp);
        return;
    }
    gw_reply_send(s, &r);
}

void gw_send_recovered(gw_client_t *s, tg_channel_t ch, const char *key, uint64_t from,
                       bool complete)
{
    gw_reply_t r;
    gw_reply_begin(&r, 5);
    tg_enc_kv_str(&r.e, "type", "recovered");
    tg_enc_kv_str(&r.e, "channel", tg_channel_name(ch));
    tg_enc_kv_str(&r.e, "key", key);
    tg_enc_kv_u64(&r.e, "from_seq", from);
    tg_enc_key(&r.e, "complete");
    tg_enc_bool(&r.e, complete);
    gw_reply_send(s, &r);
}

/* Send the current state of k, or replay it from `since` when asked. */
static void send_state(gw_client_t *s, gw_key_t *k, const tg_cmsg_t *m, const char *client_key)
{
    const tg_since_t *since = NULL;
    for (size_t i = 0; m->has_since && i < m->nsince; i++)
        if (strcmp(m->since[i].key, client_key) == 0)
            since = &m->since[i];
    if (since) {
        bool same_epoch = strcmp(m->epoch, s->t->epoch) == 0;
        tg_msg_t **msgs;
        uint32_t n;
        if (same_epoch && m->channel == TG_CH_NOTIFICATIONS) {
            /* one history per user for all threads (SPEC §11): this thread
             * may never have seen the user before */
            if (gw_notif_replay(s->t->g->notif_seq, gw_cluster_notif_stream(s->t, s), since->seq,
                                &msgs, &n) == 0) {
                for (uint32_t i = 0; i < n; i++) {
                    if (i + 1 == n && (!k->last || k->last->seq < msgs[i]->seq)) {
                        tg_msg_unref(k->last); /* later live alerts start after it */
                        k->last = tg_msg_ref(msgs[i]);
                    }
                    gw_client_push_ctrl(s, msgs[i]);
                }
                free(msgs);
                gw_send_recovered(s, m->channel, client_key, since->seq, true);
                return;
            }
        } else if (same_epoch && gw_hub_replay(k, since->seq, &msgs, &n) == 0) {
            for (uint32_t i = 0; i < n; i++)
                gw_client_push_ctrl(s, tg_msg_ref(msgs[i]));
            free(msgs);
            gw_send_recovered(s, m->channel, client_key, since->seq, true);
            return;
        }
        if (k->last)
            gw_client_push_ctrl(s, tg_msg_ref(k->last));
        gw_send_recovered(s, m->channel, client_key, since->seq, false);
        return;
    }
    if (k->last && m->channel != TG_CH_NOTIFICATIONS && m->channel != TG_CH_SYSTEM)
        gw_client_push_ctrl(s, tg_msg_ref(k->last));
}

static bool key_allowed(gw_client_t *s, const tg_cmsg_t *m, const char *key, gw_key_t **out,
                        bool create)
{
    gw_hub_t *h = &s->t->hub;
    const tg_config_t *cfg = s->t->g->cfg;
    char msg[160];
    if (m->channel == TG_CH_MARKET_DATA || m->channel == TG_CH_BARS) {
        if (!tg_symbol_valid(key, strlen(key)) || (m->channel == TG_CH_BARS && strchr(key, '*'))) {
            snprintf(msg, sizeof msg, "invalid symbol %.40s", key);
            gw_send_error(s, "unknown_symbol", msg, &m->id);
            return false;
        }
        if (cfg->engine.universe.n) {
            bool found = false;
            for (size_t i = 0; i < cfg->engine.universe.n && !found; i++)
                found = strcmp(cfg->engine.universe.v[i], key) == 0;
            if (!found) {
                snprintf(msg, sizeof msg, "symbol %s is not in the universe", key);
                gw_send_error(s, "unknown_symbol", msg, &m->id);
                return false;
            }
        }
        char bkey[TG_KEY_MAX + 1];
        if (m->channel == TG_CH_BARS) { /* channel key SYMBOL@INTERVAL (SPEC §12) */
            gw_bars_key(key, m->interval, bkey, sizeof bkey);
            key = bkey;
        }
        *out = create ? gw_fanout_key(s->t, m->channel, key) : gw_hub_find(h, m->channel, key);
        if (!*out && create) {
            gw_send_error(s, "internal", "cannot track more symbols", &m->id);
            return false;
        }
        return true;
    }
    /* portfolio_updates */
    gw_key_t *k = gw_hub_find(h, TG_CH_PORTFOLIO, key);
    if (!k || !k->last) {
        /* unknown and forbidden look the same to a non-admin: no probing */
        snprintf(msg, sizeof msg, s->claims.admin ? "unknown portfolio %.64s" : "portfolio %.64s is not yours", key);
        gw_send_error(s, s->claims.admin ? "bad_request" : "forbidden", msg, &m->id);
        return false;
    }
    if (!may_read_portfolio(s, k)) {
        snprintf(msg, sizeof msg, "portfolio %.64s is not yours", key);
        gw_send_error(s, "forbidden", msg, &m->id);
        return false;
    }
    *out = k;
    return true;
}

static void handle_subscribe(gw_client_t *s, tg_cmsg_t *m)
{
    gw_thread_t *t = s->t;
    uint32_t max = (uint32_t)t->lim.max_subscriptions;

    if (m->channel == TG_CH_NOTIFICATIONS || m->channel == TG_CH_SYSTEM) {
        if (m->channel == TG_CH_SYSTEM && !s->claims.admin) {
            gw_send_error(s, "forbidden", "the system channel needs the admin role", &m->id);
            return;
        }
        bool *flag = m->channel == TG_CH_SYSTEM ? &s->system : &s->notifications;
        if (!*flag && s->nexplicit >= max) {
            gw_send_error(s, "too_many_subscriptions", "subscription limit reached", &m->id);
            return;
        }
        const char *name = m->channel == TG_CH_SYSTEM ? "system" : s->claims.sub;
        gw_key_t *k = gw_fanout_key(t, m->channel, name);
        if (!k || gw_client_sub(s, k, true) < 0) {
            gw_send_error(s, "internal", "out of memory", &m->id);
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

    /* max_hz: a conflation interval per (client, key), for market data (and
     * any keyed channel but portfolios, which have portfolio_max_hz) */
    if (m->max_hz && m->channel == TG_CH_PORTFOLIO) {
        gw_send_error(s, "bad_request", "max_hz is for market_data", &m->id);
        return;
    }
    int64_t interval = m->max_hz ? 1000000000LL / m->max_hz : 0;

    /* market_data / portfolio_updates: per key */
    char (*ok)[TG_KEY_MAX + 1] = calloc(m->nkeys ? m->nkeys : 1, sizeof *ok);
    gw_key_t **keys = calloc(m->nkeys ? m->nkeys : 1, sizeof *keys);
    size_t nok = 0;
    if (!ok || !keys) {
        gw_send_error(s, "internal", "out of memory", &m->id);
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
                    gw_send_error(s, "too_many_subscriptions", "subscription limit reached", &m->id);
                    continue;
                }
                if (gw_hub_add_wild(&t->hub, s) != 0) {
                    gw_send_error(s, "internal", "out of memory", &m->id);
                    continue;
                }
                s->wildcard = true;
                s->nexplicit++;
                gw_hub_t *h = &t->hub;
                for (uint32_t b = 0; b < h->nbuckets; b++)
                    for (gw_key_t *k = h->buckets[b]; k; k = k->next)
                        if (k->channel == TG_CH_MARKET_DATA) {
                            int wi = gw_client_sub(s, k, false);
                            if (wi >= 0 && !s->subs[wi].explicit_)
                                gw_client_set_interval(s, (uint32_t)wi, interval);
                        }
            }
            s->wild_interval_ns = interval;
            memcpy(ok[nok++], key, 2);
            continue;
        }
        gw_key_t *k = NULL;
        if (!key_allowed(s, m, key, &k, true))
            continue;
        int existing = gw_client_find_sub(s, k);
        bool counted = existing >= 0 && s->subs[existing].explicit_;
        if (!counted && s->nexplicit >= max) {
            gw_send_error(s, "too_many_subscriptions", "subscription limit reached", &m->id);
            continue;
        }
        int idx = gw_client_sub(s, k, true);
        if (idx < 0) {
            gw_send_error(s, "internal", "out of memory", &m->id);
            continue;
        }
        if (!counted)
            s->nexplicit++;
        gw_client_set_interval(s, (uint32_t)idx, interval); /* a new subscribe sets the rate anew */
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

static void handle_unsubscribe(gw_client_t *s, tg_cmsg_t *m)
{
    gw_thread_t *t = s->t;
    if (m->channel == TG_CH_NOTIFICATIONS || m->channel == TG_CH_SYSTEM) {
        bool *flag = m->channel == TG_CH_SYSTEM ? &s->system : &s->notifications;
        const char *name = m->channel == TG_CH_SYSTEM ? "system" : s->claims.sub;
        gw_key_t *k = gw_hub_find(&t->hub, m->channel, name);
        int idx = k ? gw_client_find_sub(s, k) : -1;
        if (idx >= 0)
            gw_client_unsub(s, (uint32_t)idx);
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
                        gw_client_unsub(s, j);
            }
            continue;
        }
        char bkey[TG_KEY_MAX + 1];
        if (m->channel == TG_CH_BARS) {
            gw_bars_key(key, m->interval, bkey, sizeof bkey);
            key = bkey;
        }
        gw_key_t *k = gw_hub_find(&t->hub, m->channel, key);
        int idx = k ? gw_client_find_sub(s, k) : -1;
        if (idx < 0 || !s->subs[idx].explicit_)
            continue;
        s->nexplicit--;
        if (s->wildcard && m->channel == TG_CH_MARKET_DATA)
            s->subs[idx].explicit_ = 0; /* still covered by "*" */
        else
            gw_client_unsub(s, (uint32_t)idx);
    }
    confirm(s, "unsubscription_confirmed", m, m->keys, m->nkeys);
}

static void handle_snapshot(gw_client_t *s, tg_cmsg_t *m)
{
    if (m->channel != TG_CH_MARKET_DATA && m->channel != TG_CH_PORTFOLIO) {
        gw_send_error(s, "bad_request", "snapshot is for market_data and portfolio_updates",
                   &m->id);
        return;
    }
    /* collect readable keys first: the reply declares its array size up front */
    gw_key_t **ks = calloc(m->nkeys ? m->nkeys : 1, sizeof *ks);
    size_t n = 0, bytes = 0;
    if (!ks) {
        gw_send_error(s, "internal", "out of memory", &m->id);
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
        gw_send_error(s, "internal", "out of memory", &m->id);
        goto out;
    }
    /* Embed the already-encoded messages: JSON by text, MessagePack by bytes. */
    size_t jl = 0, ml = 0;
    const char *field = m->channel == TG_CH_MARKET_DATA ? "quotes" : "portfolios";
    jl += (size_t)snprintf(j, cap, "{\"type\":\"snapshot\",\"channel\":\"%s\",\"%s\":[",
                           tg_channel_name(m->channel), field);
    tg_enc_t e;
    tg_enc_init(&e, NULL, 0, mp, cap);
    tg_enc_map(&e, 3 + gw_id_fields(&m->id));
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
    gw_enc_id(&e, &m->id);
    if (m->id.kind == TG_ID_STR) {
        /* string ids need escaping: rebuild the JSON tail through the encoder */
        char tmp[160];
        int w = tg_json_escape(m->id.s, strlen(m->id.s), tmp, sizeof tmp);
        jl--; /* drop '}' */
        jl += (size_t)snprintf(j + jl, cap - jl, ",\"id\":\"%.*s\"}", w > 0 ? w : 0, tmp);
    }
    if (!e.err)
        gw_client_reply(s, j, jl, mp, e.mlen);
    else
        gw_send_error(s, "internal", "snapshot too large", &m->id);
out:
    free(ks);
    free(j);
    free(mp);
}

static void handle_ping(gw_client_t *s, tg_cmsg_t *m)
{
    gw_reply_t r;
    gw_reply_begin(&r, 2 + gw_id_fields(&m->id));
    tg_enc_kv_str(&r.e, "type", "pong");
    gw_reply_id(&r, &m->id);
    tg_enc_kv_i64(&r.e, "server_time", tg_now_ns());
    gw_reply_send(s, &r);
}

/* Token bucket: msgs_per_s with burst; >10 rate_limited in 10 s closes 1008. */
static void handle_auth(gw_client_t *s, tg_cmsg_t *m)
{
    bool reauth = s->state == GW_ACTIVE;
    int rc = gw_auth_verify(s, m->token, strlen(m->token), reauth);
    if (rc == 0) {
        gw_auth_activate(s, reauth);
    } else if (reauth && rc == -EACCES) {
        gw_send_error(s, "unauthorized", "re-authentication must keep the same sub", &m->id);
    } else {
        gw_send_error(s, "unauthorized", "invalid token", &m->id);
        gw_client_close(s, 1008, "unauthorized");
    }
}

/* One handler per command type, indexed by tg_cmsg_type_t. */
static void (*const handlers[])(gw_client_t *s, tg_cmsg_t *m) = {
    [TG_CMSG_AUTH] = handle_auth,
    [TG_CMSG_SUBSCRIBE] = handle_subscribe,
    [TG_CMSG_UNSUBSCRIBE] = handle_unsubscribe,
    [TG_CMSG_SNAPSHOT] = handle_snapshot,
    [TG_CMSG_PING] = handle_ping,
};

static bool rate_ok(gw_client_t *s)
{
    const struct tg_limits *lim = &s->t->lim;
    int64_t now = tg_mono_ns();
    if (!s->tokens_at_ns) {
        s->tokens = lim->burst;
        s->tokens_at_ns = now;
    }
    s->tokens += (double)(now - s->tokens_at_ns) / 1e9 * lim->msgs_per_s;
    if (s->tokens > lim->burst)
        s->tokens = lim->burst;
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
    gw_send_error(s, "rate_limited", "too many messages", NULL);
    if (total > 10) /* the error above still goes out before the close */
        gw_client_close(s, 1008, "rate limit abuse");
    return false;
}

void gw_on_client_message(gw_client_t *s, const void *data, size_t len, bool binary)
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
            gw_send_error(s, "rate_limited", "too many messages before authentication completed",
                       NULL);
        }
        return;
    }
    if (s->state == GW_ACTIVE && !rate_ok(s))
        return;
    int rc = tg_proto_parse(data, len, binary, &m, &err);
    if (s->state == GW_AWAIT_AUTH && (rc != 0 || m.type != TG_CMSG_AUTH)) {
        gw_send_error(s, "unauthorized", "authenticate first", &m.id);
        gw_client_close(s, 1008, "unauthorized");
        goto out;
    }
    if (rc != 0) {
        gw_send_error(s, err.code, err.message, &m.id);
        return;
    }
    handlers[m.type](s, &m); /* tg_proto_parse gives only the types above */
out:
    tg_cmsg_free(&m);
}

void gw_commands_release_held(gw_client_t *s)
{
    for (int i = 0; i < s->nheld; i++) {
        gw_on_client_message(s, s->held[i].data, s->held[i].len, s->held[i].binary);
        free(s->held[i].data);
    }
    s->nheld = 0;
}
