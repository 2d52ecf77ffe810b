/* engine_tick.c - the tick path: per-symbol quote update, feed failover
 * (which feed is primary for a symbol), feed status ticks, batches.
 */
#include "engine_int.h"

/* Update the last quote of a tick's symbol and tg__engine_publish its quote message. */
void tg__engine_on_quote(tg_engine_t *e, const tg_tick_t *t, quote_t *q)
{
    if (t->flags & TG_TICK_TRADE) {
        if (!q->day_open && !e->restoring)
            q->day_open = t->price;
        q->price = t->price;
        q->size = t->size;
        q->trade_ts = t->ts;
        if (!e->restoring) /* the journal tail was counted before the restart */
            (void)tg_dec_add(q->volume, t->size, &q->volume);
        q->has_price = true;
    }
    if (t->flags & TG_TICK_QUOTE) {
        if (t->bid)
            q->bid = t->bid;
        if (t->ask)
            q->ask = t->ask;
        if (!q->has_price && q->bid && q->ask) /* mid until a first trade (SPEC §3) */
            q->price = q->bid + (q->ask - q->bid) / 2;
    }
    q->ts = t->ts;
    q->src_ts = t->src_ts;
    q->source = t->feed;
    q->seq++;
    if (e->sinks.snapshots.push && !q->snap_dirty) {
        q->snap_dirty = true;
        e->snap_q[e->n_snap_q++] = (uint32_t)(q - e->quotes);
    }
    tg_msg_t *m = tg__engine_encode_quote(e, q);
    if (!m) {
        q->seq--;
        return;
    }
    memcpy(m->key_name, q->symbol, (size_t)q->sym_len + 1);
    tg__engine_publish(e, m);
}

/*
 * Failover (SPEC §3): a symbol takes ticks only from the highest-priority
 * feed that has served it and whose breaker is closed; with none closed, from
 * the highest-priority one still delivering. Standby feeds keep flowing into
 * their rings, so a take-over happens on the standby's next tick.
 */
static bool failover_accept(tg_engine_t *e, quote_t *q, uint16_t feed)
{
    if (feed >= 32 || e->nfeeds == 1)
        return true;
    q->served |= 1u << feed;
    int best = -1;
    for (uint32_t m = q->served; m; m &= m - 1) {
        int f = __builtin_ctz(m);
        if (atomic_load_explicit(&e->feeds[f].finished, memory_order_relaxed))
            continue; /* a replay that reached its end serves nothing any more */
        if (tg_feed_state(&e->feeds[f]) == TG_BREAKER_CLOSED &&
            (best < 0 || e->feeds[f].conf->priority < e->feeds[best].conf->priority))
            best = f;
    }
    if (best >= 0)
        return best == feed;
    int64_t now = tg_mono_ns();
    for (uint32_t m = q->served; m; m &= m - 1) {
        int f = __builtin_ctz(m);
        int64_t last = atomic_load_explicit(&e->feeds[f].last_tick_ns, memory_order_relaxed);
        if (now - last < 1000000000LL &&
            (best < 0 || e->feeds[f].conf->priority < e->feeds[best].conf->priority))
            best = f;
    }
    return best < 0 || best == feed;
}

/* A breaker transition (TG_TICK_STATUS): feed_status and a system alert. */
static void on_status(tg_engine_t *e, const tg_tick_t *t)
{
    if (t->feed >= e->nfeeds)
        return;
    const char *feed = e->feeds[t->feed].conf->name;
    tg_breaker_state_t to = (tg_breaker_state_t)t->price;
    char jb[1024];
    unsigned char mb[1024];
    tg_enc_t enc;
    tg_enc_init(&enc, jb, sizeof jb, mb, sizeof mb);
    tg_enc_map(&enc, 6);
    tg_enc_kv_str(&enc, "type", "feed_status");
    tg_enc_kv_str(&enc, "feed", feed);
    tg_enc_kv_str(&enc, "state", tg_breaker_state_name(to));
    tg_enc_kv_str(&enc, "reason", t->symbol);
    tg_enc_kv_i64(&enc, "ts", t->ts);
    tg_enc_kv_u64(&enc, "seq", e->system_seq + 1);
    tg_enc_map_end(&enc);
    tg_msg_t *m = enc.err ? NULL : tg_msg_new(enc.json, enc.jlen, enc.mp, enc.mlen);
    if (m) {
        m->type = TG_MSG_FEED_STATUS;
        m->channel = TG_CH_SYSTEM;
        m->seq = ++e->system_seq;
        m->ts = t->ts;
        strcpy(m->key_name, "system");
        tg__engine_publish(e, m);
    }
    /* feed alerts: breaker_open / feed_stale fire on open, resolve on close */
    char *id = e->feed_alert[t->feed];
    bool firing = to == TG_BREAKER_OPEN && !id[0];
    bool resolved = to == TG_BREAKER_CLOSED && id[0];
    if (!firing && !resolved)
        return;
    if (firing) {
        tg_alert_ids_next(&e->alert_ids, id);
        e->feed_alert_rule[t->feed] = strcmp(t->symbol, "stale") == 0 ? TG_ALERT_FEED_STALE
                                                                       : TG_ALERT_BREAKER_OPEN;
    }
    tg_alert_rule_t rule = e->feed_alert_rule[t->feed];
    char msg[160];
    snprintf(msg, sizeof msg, "feed %s %s (%s)", feed, firing ? "breaker open" : "recovered",
             t->symbol);
    tg_enc_init(&enc, jb, sizeof jb, mb, sizeof mb);
    tg_enc_map(&enc, 9);
    tg_enc_kv_str(&enc, "type", "alert");
    tg_enc_kv_str(&enc, "alert_id", id);
    tg_enc_kv_str(&enc, "feed", feed);
    tg_enc_kv_str(&enc, "rule", tg_alert_rule_name(rule));
    tg_enc_kv_str(&enc, "severity", tg_alert_severity_name(tg_alert_rule_severity(rule)));
    tg_enc_kv_str(&enc, "state", firing ? "firing" : "resolved");
    tg_enc_kv_str(&enc, "message", msg);
    tg_enc_kv_i64(&enc, "ts", t->ts);
    tg_enc_kv_u64(&enc, "seq", e->system_seq + 1);
    tg_enc_map_end(&enc);
    m = enc.err ? NULL : tg_msg_new(enc.json, enc.jlen, enc.mp, enc.mlen);
    if (m) {
        m->type = TG_MSG_ALERT;
        m->channel = TG_CH_SYSTEM;
        m->aux = firing ? TG_ALERT_FIRING : TG_ALERT_RESOLVED;
        m->seq = ++e->system_seq;
        m->ts = t->ts;
        strcpy(m->key_name, "system");
        if (e->sinks.deliver.push)
            e->sinks.deliver.push(e->sinks.deliver.ctx, m);
        tg__engine_publish(e, m);
    }
    /* like portfolio alerts: portfolio_alerts row, tickgate:alerts entry (issue 13 item 10) */
    if (e->sinks.snapshots.push || e->sinks.alerts.push) {
        tg_alert_event_t ev;
        memset(&ev, 0, sizeof ev);
        snprintf(ev.alert_id, sizeof ev.alert_id, "%s", id);
        ev.portfolio_id = "";
        ev.rule = rule;
        ev.severity = tg_alert_rule_severity(rule);
        ev.state = firing ? TG_ALERT_FIRING : TG_ALERT_RESOLVED;
        ev.ts = t->ts;
        snprintf(ev.message, sizeof ev.message, "%s", msg);
        tg__engine_persist_alert(e, NULL, &ev, feed);
    }
    tg_counter_t *c = e->m_alerts[rule][firing ? 0 : 1];
    if (c)
        tg_counter_add(c, 1);
    if (resolved)
        id[0] = 0;
}

/*
 * One batch of ticks from a feed ring. Quotes and price alerts see every
 * tick; portfolio valuation sees only the newest price of each symbol in the
 * batch (SPEC §4 conflation) - batches hold more than one tick of a symbol
 * only when the engine is behind, so at normal load nothing is conflated.
 */
void tg__engine_on_batch(tg_engine_t *e, const tg_tick_t *ticks, size_t n)
{
    /* n <= TG_ENGINE_BATCH: the caller pops into e->batch, which is that long */
    int32_t ids[TG_ENGINE_BATCH]; /* symbol id per tick (-1: not accepted) */
    size_t conflated = 0, accepted = 0;
    for (size_t i = 0; i < n; i++) {
        const tg_tick_t *t = &ticks[i];
        ids[i] = -1;
        if (t->flags & TG_TICK_STATUS) {
            on_status(e, t);
            continue;
        }
        quote_t *q = tg__engine_quote_for(e, t->symbol, t->sym_len);
        if (!q) {
            /* the engine's table is shared by every feed and the portfolios,
             * so it can be full when the feed's own validator is not */
            if (t->feed < e->nfeeds)
                tg_feed_symbol_limit(&e->feeds[t->feed], t->symbol);
            continue;
        }
        if (!failover_accept(e, q, t->feed))
            continue;
        ids[i] = (int32_t)(q - e->quotes);
        tg__engine_on_quote(e, t, q);
        tg__ebars_on_tick(e->bars, (uint32_t)ids[i], t);
        accepted++;
        if (e->sinks.journal.push || e->sinks.ticks.push) {
            e->jbatch[e->njbatch] = *t;
            e->jbatch[e->njbatch++].day_volume = q->volume;
        }
        if (q->has_price || q->price)
            tg_book_on_price_alerts(e->book, (uint32_t)ids[i], q->price, t->ts);
        if (tg_vec_reserve(&e->batch_last, sizeof *e->batch_last, &e->cap_batch_last,
                           (size_t)ids[i] + 1, 256))
            continue;
        if (e->batch_last[ids[i]])
            conflated++;
        e->batch_last[ids[i]] = (uint32_t)i + 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || (size_t)ids[i] >= e->cap_batch_last)
            continue;
        if (e->batch_last[ids[i]] == i + 1) {
            quote_t *q = &e->quotes[ids[i]];
            if (q->price)
                tg_book_on_price(e->book, (uint32_t)ids[i], q->price, ticks[i].ts);
            e->batch_last[ids[i]] = 0;
        }
    }
    /* the move deques' upkeep, prefetched by the alerts pass, after valuation */
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= 0)
            tg_book_on_tick_done(e->book, (uint32_t)ids[i]);
    if (e->njbatch) {
        if (e->sinks.journal.push)
            e->sinks.journal.push(e->sinks.journal.ctx, e->jbatch, e->njbatch);
        if (e->sinks.ticks.push)
            e->sinks.ticks.push(e->sinks.ticks.ctx, e->jbatch, e->njbatch);
        e->njbatch = 0;
    }
    tg_counter_add(e->m_accepted, accepted);
    if (conflated)
        tg_counter_add(e->m_conflated, conflated);
}
