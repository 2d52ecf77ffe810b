/* engine_publish.c - the engine's output: encode quotes, portfolios and alerts
 * once and push them to every gateway output ring; book events land here.
 */
#include "engine_int.h"

/* Hand one message to every gateway output (one reference each). */
void tg__engine_publish(tg_engine_t *e, tg_msg_t *m)
{
    if (e->nout == 0) {
        /* before the gateways exist (portfolio load at start-up): keep it for them */
        if (tg_vec_reserve(&e->early, sizeof *e->early, &e->capearly, e->nearly + 1, 256)) {
            tg_msg_unref(m);
            return;
        }
        e->early[e->nearly++] = m;
        return;
    }
    for (size_t i = 0; i < e->nout; i++) {
        tg_msg_t *ref = i + 1 < e->nout ? tg_msg_ref(m) : m;
        while (tg_ring_push(e->out[i].ring, &ref, 1) == 0) {
            if (e->out[i].wake)
                e->out[i].wake(e->out[i].arg);
            if (atomic_load_explicit(&e->stop, memory_order_relaxed)) {
                tg_msg_unref(ref);
                break;
            }
            struct timespec pause = {0, 20000};
            nanosleep(&pause, NULL);
        }
        e->out[i].dirty = true;
    }
}

void tg__engine_flush_wakes(tg_engine_t *e)
{
    for (size_t i = 0; i < e->nout; i++)
        if (e->out[i].dirty) {
            e->out[i].dirty = false;
            if (e->out[i].wake)
                e->out[i].wake(e->out[i].arg);
        }
}

tg_msg_t *tg__engine_encode_quote(tg_engine_t *e, const quote_t *q)
{
    tg_enc_t enc;
    tg_enc_init(&enc, e->jbuf, sizeof e->jbuf, e->mbuf, sizeof e->mbuf);
    uint32_t n = 5; /* type, symbol, source, ts, seq */
    n += q->has_price ? 3 : 0;
    n += q->bid ? 1 : 0;
    n += q->ask ? 1 : 0;
    n += q->day_open ? 2 : 0;
    n += q->src_ts ? 1 : 0;
    tg_enc_map(&enc, n);
    tg_enc_kv_str(&enc, "type", "quote");
    tg_enc_key(&enc, "symbol");
    tg_enc_str(&enc, q->symbol, q->sym_len);
    if (q->has_price)
        tg_enc_kv_dec(&enc, "price", q->price);
    if (q->bid)
        tg_enc_kv_dec(&enc, "bid", q->bid);
    if (q->ask)
        tg_enc_kv_dec(&enc, "ask", q->ask);
    if (q->has_price) {
        tg_enc_kv_dec(&enc, "size", q->size);
        tg_enc_kv_dec(&enc, "volume", q->volume);
    }
    if (q->day_open) {
        tg_dec_t pct = 0;
        if (tg_dec_div(q->price - q->day_open, q->day_open, &pct) != 0)
            pct = 0;
        tg_enc_kv_dec(&enc, "day_open", q->day_open);
        tg_enc_kv_dec(&enc, "day_change_pct", pct);
    }
    tg_enc_kv_str(&enc, "source", e->feeds[q->source].conf->name);
    tg_enc_kv_i64(&enc, "ts", q->ts);
    if (q->src_ts)
        tg_enc_kv_i64(&enc, "src_ts", q->src_ts);
    tg_enc_kv_u64(&enc, "seq", q->seq);
    tg_enc_map_end(&enc);
    if (enc.err)
        return NULL;
    tg_msg_t *m = tg_msg_new(enc.json, enc.jlen, enc.mp, enc.mlen);
    if (!m)
        return NULL;
    m->type = TG_MSG_QUOTE;
    m->channel = TG_CH_MARKET_DATA;
    m->seq = q->seq;
    m->ts = q->ts;
    return m;
}
/* ---- portfolios: publication, alerts ---- */

static int ensure_scratch(tg_engine_t *e, size_t need)
{
    if (need <= e->ecap)
        return 0;
    size_t nc = need * 2;
    char *j = realloc(e->ejson, nc);
    if (!j)
        return -ENOMEM;
    e->ejson = j;
    unsigned char *m = realloc(e->emp, nc);
    if (!m)
        return -ENOMEM;
    e->emp = m;
    e->ecap = nc;
    return 0;
}

/* Readers of a portfolio, "owner\0user\0...", for the gateway's access checks. */
static size_t portfolio_acl(const tg_portfolio_spec_t *sp, char *buf, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i <= sp->n_shared_with; i++) {
        const char *u = i == 0 ? sp->owner : sp->shared_with[i - 1];
        size_t l = strlen(u) + 1;
        if (n + l > cap)
            break;
        memcpy(buf + n, u, l);
        n += l;
    }
    return n;
}

/* Encode the `portfolio` message of a slot (SPEC §5) and hand it to the gateways. */
void tg__engine_publish_portfolio(tg_engine_t *e, uint32_t slot)
{
    const tg_portfolio_spec_t *sp = tg_book_spec(e->book, slot);
    if (!sp)
        return;
    if (sp->n_holdings > e->cap_hviews) {
        tg_holding_view_t *hv = realloc(e->hviews, sp->n_holdings * sizeof *hv);
        if (!hv)
            return;
        e->hviews = hv;
        e->cap_hviews = sp->n_holdings;
    }
    tg_portfolio_view_t v;
    if (tg_book_portfolio_view(e->book, slot, e->hviews, e->cap_hviews, &v) != 0)
        return;
    if (ensure_scratch(e, 1024 + v.n_holdings * 360) != 0)
        return;
    pf_pub_t *pp = &e->pf[slot];
    uint64_t seq = pp->seq + 1;
    tg_enc_t enc;
    tg_enc_init(&enc, e->ejson, e->ecap, e->emp, e->ecap);
    /* SPEC §13: priced, and which holdings are not; overflow when a figure
     * exceeded the tg_dec_t range (it is clamped and rules are paused) */
    size_t n_unpriced = 0;
    for (size_t i = 0; i < v.n_holdings; i++)
        n_unpriced += !v.holdings[i].has_price;
    tg_enc_map(&enc, 16 + (n_unpriced ? 1 : 0) + (v.saturated ? 1 : 0));
    tg_enc_kv_str(&enc, "type", "portfolio");
    tg_enc_kv_str(&enc, "portfolio_id", v.id);
    tg_enc_kv_dec(&enc, "value", v.value);
    tg_enc_kv_dec(&enc, "cash", v.cash);
    tg_enc_kv_dec(&enc, "cost_basis", v.cost_basis);
    tg_enc_kv_dec(&enc, "pnl", v.pnl);
    tg_enc_kv_dec(&enc, "pnl_pct", v.pnl_pct);
    tg_enc_kv_dec(&enc, "day_change", v.day_change);
    tg_enc_kv_dec(&enc, "day_change_pct", v.day_change_pct);
    tg_enc_kv_dec(&enc, "max_drift", v.max_drift);
    tg_enc_key(&enc, "priced");
    tg_enc_bool(&enc, v.priced);
    if (n_unpriced) {
        tg_enc_key(&enc, "unpriced");
        tg_enc_array(&enc, (uint32_t)n_unpriced);
        for (size_t i = 0; i < v.n_holdings; i++)
            if (!v.holdings[i].has_price)
                tg_enc_cstr(&enc, v.holdings[i].symbol);
        tg_enc_array_end(&enc);
    }
    if (v.saturated) {
        tg_enc_key(&enc, "overflow");
        tg_enc_bool(&enc, true);
    }
    tg_enc_key(&enc, "holdings");
    tg_enc_array(&enc, (uint32_t)v.n_holdings);
    for (size_t i = 0; i < v.n_holdings; i++) {
        const tg_holding_view_t *h = &v.holdings[i];
        tg_enc_map(&enc, h->has_price ? 7 : 6);
        tg_enc_kv_str(&enc, "symbol", h->symbol);
        tg_enc_kv_dec(&enc, "quantity", h->quantity);
        if (h->has_price)
            tg_enc_kv_dec(&enc, "price", h->price);
        tg_enc_kv_dec(&enc, "value", h->value);
        tg_enc_kv_dec(&enc, "weight", h->weight);
        tg_enc_kv_dec(&enc, "target_weight", h->target_weight);
        tg_enc_kv_dec(&enc, "drift", h->drift);
        tg_enc_map_end(&enc);
    }
    tg_enc_array_end(&enc);
    tg_enc_kv_i64(&enc, "ts", v.ts);
    tg_enc_kv_u64(&enc, "seq", seq);
    tg_enc_key(&enc, "owner");
    tg_enc_cstr(&enc, v.owner);
    /* the drift bands in force, so a dashboard can mark holdings past them */
    tg_enc_key(&enc, "alerts");
    tg_enc_map(&enc, 2);
    tg_enc_kv_dec(&enc, "rebalance_drift", sp->alerts.rebalance_drift);
    tg_enc_kv_dec(&enc, "drift_relative", sp->alerts.drift_relative);
    tg_enc_map_end(&enc);
    tg_enc_map_end(&enc);
    if (enc.err)
        return;
    char acl[4096];
    size_t acl_len = portfolio_acl(sp, acl, sizeof acl);
    tg_msg_t *m = tg_msg_new_acl(enc.json, enc.jlen, enc.mp, enc.mlen, acl, acl_len);
    if (!m)
        return;
    m->type = TG_MSG_PORTFOLIO;
    m->channel = TG_CH_PORTFOLIO;
    m->seq = seq;
    m->ts = v.ts;
    snprintf(m->key_name, sizeof m->key_name, "%s", v.id);
    if (e->sinks.snapshots.push) { /* its holdings array becomes portfolio_snapshots.holdings */
        tg_msg_unref(pp->last);
        pp->last = tg_msg_ref(m);
    }
    pp->seq = seq;
    pp->dirty = false;
    pp->last_pub_ns = tg_mono_ns();
    tg__engine_publish(e, m);
}

static int ensure_pf(tg_engine_t *e, uint32_t slot)
{
    if (slot < e->cap_pf)
        return 0;
    /* The slot lists hold at most one entry per portfolio, so they grow with
     * pf under the same policy; pf last, so that slot < cap_pf above also
     * means the lists have room. */
    int rc;
    if ((rc = tg_vec_reserve(&e->pf_dirty, sizeof *e->pf_dirty, &e->cap_pf_dirty, (size_t)slot + 1, 16)) < 0 ||
        (rc = tg_vec_reserve(&e->snap_p, sizeof *e->snap_p, &e->cap_snap_p, (size_t)slot + 1, 16)) < 0 ||
        (rc = tg_vec_reserve(&e->pf, sizeof *e->pf, &e->cap_pf, (size_t)slot + 1, 16)) < 0)
        return rc;
    return 0;
}

/* Portfolio changed: tg__engine_publish now if its rate limit allows, else mark it dirty. */
void tg__engine_portfolio_changed(tg_engine_t *e, uint32_t slot)
{
    if (ensure_pf(e, slot) != 0)
        return;
    pf_pub_t *pp = &e->pf[slot];
    pp->live = true;
    if (e->sinks.snapshots.push && !pp->snap_dirty && e->n_snap_p < e->cap_snap_p) {
        pp->snap_dirty = true;
        e->snap_p[e->n_snap_p++] = slot;
    }
    if (pp->dirty)
        return;
    pp->dirty = true;
    e->pf_dirty[e->n_pf_dirty++] = slot;
}

/* Publish dirty portfolios whose portfolio_max_hz window has passed. */
void tg__engine_flush_portfolios(tg_engine_t *e)
{
    int64_t now = tg_mono_ns();
    size_t w = 0;
    for (size_t i = 0; i < e->n_pf_dirty; i++) {
        uint32_t slot = e->pf_dirty[i];
        pf_pub_t *pp = &e->pf[slot];
        if (!pp->dirty || !pp->live)
            continue;
        if (now - pp->last_pub_ns >= e->pf_min_gap_ns)
            tg__engine_publish_portfolio(e, slot);
        else
            e->pf_dirty[w++] = slot; /* conflated: the newest state goes out later */
    }
    e->n_pf_dirty = w;
}

/* Hand alert rows to the writer in order; what the ring cannot take waits here. */
void tg__engine_flush_alert_rows(tg_engine_t *e)
{
    size_t n = e->sinks.snapshots.push(e->sinks.snapshots.ctx, e->alert_q, e->n_alert_q);
    if (n) /* alert_q is NULL until the first row waited */
        memmove(e->alert_q, e->alert_q + n, (e->n_alert_q - n) * sizeof *e->alert_q);
    e->n_alert_q -= n;
}

/* Queue a row for the writer in order behind any waiting alert rows (never dropped). */

/*
 * An encoded alert or ack as a notifications message: readers are the
 * portfolio's (admins always; a feed alert's: admins only), numbered with the
 * engine-wide alert number that the gateway threads agree on (each user's
 * seq is spliced in by the gateway).
 */
static tg_msg_t *notification_msg(tg_engine_t *e, const tg_portfolio_spec_t *sp,
                                  const tg_enc_t *enc, int aux, int64_t ts, const char *key)
{
    char acl[4096];
    size_t acl_len = sp ? portfolio_acl(sp, acl, sizeof acl) : 0;
    /* each reader's notifications seq, numbered here once (readers.c) */
    uint64_t rseq[TG_MSG_RSEQ_MAX];
    size_t nr = tg__readers_number(&e->readers, acl, acl_len, rseq, TG_MSG_RSEQ_MAX);
    tg_msg_t *m =
        tg_msg_new_acl_seq(enc->json, enc->jlen, enc->mp, enc->mlen, acl, acl_len, rseq, nr);
    if (!m)
        return NULL;
    m->type = TG_MSG_ALERT;
    m->channel = TG_CH_NOTIFICATIONS;
    m->aux = aux;
    m->seq = ++e->alert_no;
    m->ts = ts;
    snprintf(m->key_name, sizeof m->key_name, "%s", key);
    return m;
}

static void push_alert_row(tg_engine_t *e, const tg_snap_row_t *r)
{
    if (e->n_alert_q == 0 && e->sinks.snapshots.push(e->sinks.snapshots.ctx, r, 1) == 1)
        return;
    /* ring full: alert rows are never dropped, they wait (rare, so allocating is fine) */
    if (tg_vec_reserve(&e->alert_q, sizeof *e->alert_q, &e->cap_alert_q, e->n_alert_q + 1, 64)) {
        TG_ERROR("alert_row_lost", "alert_id", TG_S(r->a.alert_id));
        return;
    }
    e->alert_q[e->n_alert_q++] = *r;
}

/* portfolio_alerts row (PostgreSQL) and tickgate:alerts entry (Redis). */
void tg__engine_persist_alert(tg_engine_t *e, const tg_portfolio_spec_t *sp,
                              const tg_alert_event_t *a, const char *feed)
{
    tg_snap_row_t r;
    memset(&r, 0, sizeof r);
    r.kind = a->state == TG_ALERT_FIRING ? TG_SNAP_ALERT_FIRING : TG_SNAP_ALERT_RESOLVED;
    r.ts = a->ts ? a->ts : tg_now_ns();
    snprintf(r.a.alert_id, sizeof r.a.alert_id, "%s", a->alert_id);
    snprintf(r.a.portfolio_id, sizeof r.a.portfolio_id, "%s", a->portfolio_id);
    snprintf(r.a.owner, sizeof r.a.owner, "%s", sp && sp->owner ? sp->owner : "");
    snprintf(r.a.symbol, sizeof r.a.symbol, "%s", a->symbol);
    snprintf(r.a.feed, sizeof r.a.feed, "%s", feed ? feed : "");
    r.a.rule = (uint8_t)a->rule;
    r.a.severity = (uint8_t)a->severity;
    r.a.value = a->value;
    r.a.threshold = a->threshold;
    snprintf(r.a.message, sizeof r.a.message, "%s", a->message);
    if (e->sinks.alerts.push)
        e->sinks.alerts.push(e->sinks.alerts.ctx, &r, 1);
    if (e->sinks.snapshots.push)
        push_alert_row(e, &r);
}

void tg__engine_publish_ack(tg_engine_t *e, const char *portfolio_id, const char *alert_id,
                            const char *by)
{
    int64_t now = tg_now_ns();
    if (e->sinks.snapshots.push) {
        tg_snap_row_t r;
        memset(&r, 0, sizeof r);
        r.kind = TG_SNAP_ALERT_ACK;
        r.ts = now;
        snprintf(r.a.alert_id, sizeof r.a.alert_id, "%s", alert_id);
        push_alert_row(e, &r);
    }
    const tg_portfolio_spec_t *sp = NULL;
    if (portfolio_id[0]) {
        int32_t slot = tg_book_find(e->book, portfolio_id);
        sp = slot >= 0 ? tg_book_spec(e->book, (uint32_t)slot) : NULL;
    }
    char jb[1024];
    unsigned char mb[1024];
    tg_enc_t enc;
    tg_enc_init(&enc, jb, sizeof jb, mb, sizeof mb);
    tg_enc_map(&enc, portfolio_id[0] ? 5 : 4);
    tg_enc_kv_str(&enc, "type", "alert_ack");
    tg_enc_kv_str(&enc, "alert_id", alert_id);
    if (portfolio_id[0])
        tg_enc_kv_str(&enc, "portfolio_id", portfolio_id);
    tg_enc_kv_str(&enc, "by", by);
    tg_enc_kv_i64(&enc, "ts", now);
    tg_enc_map_end(&enc);
    if (enc.err)
        return;
    /* numbered like alerts: the gateways splice each user's seq */
    tg_msg_t *m = notification_msg(e, sp, &enc, TG_ALERT_ACKED, now,
                                   portfolio_id[0] ? portfolio_id : "system");
    if (!m)
        return;
    TG_INFO("alert_ack", "alert_id", TG_S(alert_id), "by", TG_S(by));
    tg__engine_publish(e, m);
}

static void publish_alert(tg_engine_t *e, uint32_t slot, const tg_alert_event_t *a)
{
    const tg_portfolio_spec_t *sp = tg_book_spec(e->book, slot);
    char jb[2048];
    unsigned char mb[2048];
    tg_enc_t enc;
    tg_enc_init(&enc, jb, sizeof jb, mb, sizeof mb);
    /* no seq: each user's notifications stream numbers alerts (gateway) */
    tg_enc_map(&enc, a->symbol[0] ? 11 : 10);
    tg_enc_kv_str(&enc, "type", "alert");
    tg_enc_kv_str(&enc, "alert_id", a->alert_id);
    tg_enc_kv_str(&enc, "portfolio_id", a->portfolio_id);
    tg_enc_kv_str(&enc, "rule", tg_alert_rule_name(a->rule));
    if (a->symbol[0])
        tg_enc_kv_str(&enc, "symbol", a->symbol);
    tg_enc_kv_str(&enc, "severity", tg_alert_severity_name(a->severity));
    tg_enc_kv_str(&enc, "state", tg_alert_state_name(a->state));
    tg_enc_kv_dec(&enc, "value", a->value);
    tg_enc_kv_dec(&enc, "threshold", a->threshold);
    tg_enc_kv_str(&enc, "message", a->message);
    tg_enc_kv_i64(&enc, "ts", a->ts);
    tg_enc_map_end(&enc);
    if (enc.err)
        return;
    tg_msg_t *m = notification_msg(e, sp, &enc, a->state, a->ts, a->portfolio_id);
    if (!m)
        return;
    tg_counter_t *c = e->m_alerts[a->rule][a->state == TG_ALERT_FIRING ? 0 : 1];
    if (c)
        tg_counter_add(c, 1);
    TG_INFO("alert", "alert_id", TG_S(a->alert_id), "portfolio", TG_S(a->portfolio_id), "rule",
            TG_S(tg_alert_rule_name(a->rule)), "state", TG_S(tg_alert_state_name(a->state)));
    if (e->sinks.snapshots.push || e->sinks.alerts.push)
        tg__engine_persist_alert(e, sp, a, NULL);
    if (e->sinks.deliver.push)
        e->sinks.deliver.push(e->sinks.deliver.ctx, m);
    tg__engine_publish(e, m);
}

static void publish_removed(tg_engine_t *e, const char *id)
{
    tg_msg_t *m = tg_msg_new("", 0, "", 0);
    if (!m)
        return;
    m->type = TG_MSG_PORTFOLIO_REMOVED;
    m->channel = TG_CH_PORTFOLIO;
    snprintf(m->key_name, sizeof m->key_name, "%s", id);
    tg__engine_publish(e, m);
}

/* The book's event sink (engine thread). */
void tg__engine_on_book_event(void *ud, const tg_book_event_t *ev)
{
    tg_engine_t *e = ud;
    switch (ev->type) {
    case TG_BOOK_EV_PORTFOLIO:
        tg__engine_portfolio_changed(e, ev->slot);
        break;
    case TG_BOOK_EV_ALERT:
        publish_alert(e, ev->slot, ev->alert);
        break;
    case TG_BOOK_EV_REMOVED:
        if (ev->slot < e->cap_pf) {
            tg_msg_unref(e->pf[ev->slot].last);
            memset(&e->pf[ev->slot], 0, sizeof e->pf[ev->slot]);
        }
        if (e->nout) /* at load time there is nobody to tell */
            publish_removed(e, ev->portfolio_id);
        break;
    }
}
