/* redis_ops.c - what the Redis thread sends: tick publish, quote hashes,
 * the alert stream, revocation and rate-limit requests.
 */
#include "redis_int.h"

/* ---- work ------------------------------------------------------------------------- */

void tg__redis_publish_tick(tg_redis_t *r, const tg_tick_t *t)
{
    char buf[TG_REDIS_TICK_MAX];
    const char *src = t->feed < r->cfg->n_feeds ? r->cfg->feeds[t->feed].name : NULL;
    size_t n = tg_redis_tick_encode(t, src, buf, sizeof buf);
    if (!n)
        return;
    const char *argv[3] = {"PUBLISH", r->cfg->redis.publish_channel, buf};
    size_t lens[3] = {7, strlen(r->cfg->redis.publish_channel), n};
    tg__redis_send_argv(r, NULL, 3, argv, lens);
}

void tg__redis_cache_quote(tg_redis_t *r, const tg_tick_t *t)
{
    int32_t id = tg_symtab_intern(&r->syms, t->symbol, t->sym_len);
    if (id < 0)
        return;
    if ((size_t)id >= r->capq || r->capdirty < r->capq) {
        if (tg_vec_reserve(&r->q, sizeof *r->q, &r->capq, (size_t)id + 1, 256) ||
            tg_vec_reserve(&r->dirty, sizeof *r->dirty, &r->capdirty, r->capq, 256))
            return;
    }
    qentry_t *e = &r->q[id];
    /* a quote-only tick keeps the last trade; a trade keeps the last bid/ask */
    if (t->flags & TG_TICK_TRADE) {
        e->last.price = t->price;
        e->last.size = t->size;
        e->last.day_volume = t->day_volume;
    }
    if (t->flags & TG_TICK_QUOTE) {
        if (t->bid)
            e->last.bid = t->bid;
        if (t->ask)
            e->last.ask = t->ask;
    }
    e->last.flags |= t->flags;
    e->last.ts = t->ts;
    e->last.src_ts = t->src_ts;
    e->last.feed = t->feed;
    memcpy(e->last.symbol, t->symbol, sizeof e->last.symbol);
    e->last.sym_len = t->sym_len;
    if (!e->dirty) {
        e->dirty = true;
        r->dirty[r->ndirty++] = (uint32_t)id;
    }
}

void tg__redis_flush_quotes(tg_redis_t *r)
{
    for (size_t i = 0; i < r->ndirty; i++) {
        qentry_t *e = &r->q[r->dirty[i]];
        e->dirty = false;
        char key[16 + TG_SYMBOL_MAX + 1];
        snprintf(key, sizeof key, "tickgate:quote:%s", e->last.symbol);
        char v[7][TG_DEC_STRLEN + 24];
        const char *argv[18];
        size_t lens[18];
        int n = 0, k = 0;
        argv[n++] = "HSET";
        argv[n++] = key;
#define FIELD(name, fmtcall)                                                                       \
    do {                                                                                           \
        argv[n++] = name;                                                                          \
        fmtcall;                                                                                   \
        argv[n++] = v[k++];                                                                        \
    } while (0)
        if (e->last.flags & TG_TICK_TRADE) {
            FIELD("price", tg_dec_format(e->last.price, v[k]));
            FIELD("size", tg_dec_format(e->last.size, v[k]));
            FIELD("volume", tg_dec_format(e->last.day_volume, v[k])); /* the day's, as in `quote` */
        }
        if (e->last.bid)
            FIELD("bid", tg_dec_format(e->last.bid, v[k]));
        if (e->last.ask)
            FIELD("ask", tg_dec_format(e->last.ask, v[k]));
        FIELD("ts", snprintf(v[k], sizeof v[k], "%lld", (long long)e->last.ts));
#undef FIELD
        if (e->last.feed < r->cfg->n_feeds) {
            argv[n++] = "source";
            argv[n++] = r->cfg->feeds[e->last.feed].name;
        }
        for (int j = 0; j < n; j++)
            lens[j] = strlen(argv[j]);
        tg__redis_send_argv(r, NULL, n, argv, lens);
        const char *ex[3] = {"EXPIRE", key, QUOTE_TTL_S};
        size_t exl[3] = {6, strlen(key), 2};
        tg__redis_send_argv(r, NULL, 3, ex, exl);
    }
    r->ndirty = 0;
}

void tg__redis_xadd_alert(tg_redis_t *r, const tg_snap_row_t *a)
{
    char value[TG_DEC_STRLEN + 1], thr[TG_DEC_STRLEN + 1], ts[24];
    tg_dec_format(a->a.value, value);
    tg_dec_format(a->a.threshold, thr);
    snprintf(ts, sizeof ts, "%lld", (long long)a->ts);
    const char *argv[26] = {"XADD",     "tickgate:alerts",
                            "MAXLEN",   "~",
                            "10000",    "*",
                            "alert_id", a->a.alert_id,
                            a->a.portfolio_id[0] ? "portfolio_id" : "feed",
                            a->a.portfolio_id[0] ? a->a.portfolio_id : a->a.feed,
                            "rule",     tg_alert_rule_name((tg_alert_rule_t)a->a.rule),
                            "severity", tg_alert_severity_name((tg_alert_severity_t)a->a.severity),
                            "state",    a->kind == TG_SNAP_ALERT_FIRING ? "firing" : "resolved",
                            "value",    value,
                            "threshold", thr,
                            "message",  a->a.message,
                            "ts",       ts};
    int n = 24;
    if (a->a.symbol[0]) {
        argv[n++] = "symbol";
        argv[n++] = a->a.symbol;
    }
    size_t lens[26];
    for (int i = 0; i < n; i++)
        lens[i] = strlen(argv[i]);
    tg__redis_send_argv(r, NULL, n, argv, lens);
}

void tg__redis_run_requests(tg_redis_t *r)
{
    for (;;) {
        req_t q;
        pthread_mutex_lock(&r->lock);
        bool have = r->req_len > 0;
        if (have) {
            q = r->reqs[r->req_head];
            r->req_head = (r->req_head + 1) % REQ_CAP;
            r->req_len--;
        }
        pthread_mutex_unlock(&r->lock);
        if (!have)
            return;
        if (!r->connected || !atomic_load(&r->up)) {
            if (q.kind == 3)
                TG_WARN("revocation_not_shared", "reason", TG_S("redis down; this node only"));
            if (q.kind == 1) { /* asked again on the next call after the reconnect */
                bool created;
                pthread_mutex_lock(&r->lock);
                revoke_entry_t *e = CACHE_FIND(r->revoke, hex, q.key, tg_mono_ns(), &created);
                e->pending = false;
                pthread_mutex_unlock(&r->lock);
            }
            continue;
        }
        if (q.kind == 3) {
            tg__redis_send_revoke(r, &q);
        } else if (q.kind == 1) {
            char key[96];
            snprintf(key, sizeof key, "revoked_token:%.64s", q.key);
            const char *argv[2] = {"EXISTS", key};
            size_t lens[2] = {6, strlen(key)};
            cb_t *c = tg__redis_cb_new(1);
            if (c)
                snprintf(c->key, sizeof c->key, "%s", q.key);
            tg__redis_send_argv(r, c, 2, argv, lens);
        } else {
            char key[TG_PORTFOLIO_ID_MAX + 16], now_ms[24], min[24], member[48], ttl[24];
            int64_t now = tg_now_ns() / 1000000;
            snprintf(key, sizeof key, "tickgate:rl:%s", q.key);
            snprintf(now_ms, sizeof now_ms, "%lld", (long long)now);
            snprintf(min, sizeof min, "(%lld", (long long)(now - (int64_t)q.window_s * 1000));
            snprintf(member, sizeof member, "%lld-%llu", (long long)now,
                     (unsigned long long)++r->rate_seq);
            snprintf(ttl, sizeof ttl, "%lld", (long long)q.window_s * 1000);
            const char *multi[1] = {"MULTI"};
            size_t ml[1] = {5};
            tg__redis_send_argv(r, NULL, 1, multi, ml);
            const char *rem[4] = {"ZREMRANGEBYSCORE", key, "-inf", min};
            size_t reml[4] = {16, strlen(key), 4, strlen(min)};
            tg__redis_send_argv(r, NULL, 4, rem, reml);
            const char *add[4] = {"ZADD", key, now_ms, member};
            size_t addl[4] = {4, strlen(key), strlen(now_ms), strlen(member)};
            tg__redis_send_argv(r, NULL, 4, add, addl);
            const char *card[2] = {"ZCARD", key};
            size_t cardl[2] = {5, strlen(key)};
            tg__redis_send_argv(r, NULL, 2, card, cardl);
            const char *exp[3] = {"PEXPIRE", key, ttl};
            size_t expl[3] = {7, strlen(key), strlen(ttl)};
            tg__redis_send_argv(r, NULL, 3, exp, expl);
            const char *exec[1] = {"EXEC"};
            size_t el[1] = {4};
            cb_t *c = tg__redis_cb_new(2);
            if (c) {
                snprintf(c->key, sizeof c->key, "%s", q.key);
                c->limit = q.limit;
            }
            tg__redis_send_argv(r, c, 1, exec, el);
        }
    }
}
