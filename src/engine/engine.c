/* engine.c - the engine thread: drain feed rings, update quotes, publish.
 *
 * Data flow per loop: pop a batch of ticks from each feed ring -> per tick,
 * update the symbol's last quote -> encode the quote message once -> push the
 * pointer to every gateway output ring -> wake each gateway once per batch.
 * When all rings are empty the thread sleeps on a futex doorbell that feed
 * threads ring after pushing; a 1 ms timeout drives timers.
 */
#include "tickgate/engine.h"

#include <errno.h>
#include <openssl/rand.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "tickgate/clock.h"
#include "tickgate/encode.h"
#include "tickgate/log.h"
#include "tickgate/embed.h"
#include "tickgate/file.h"
#include "tickgate/journal.h"
#include "tickgate/journal_writer.h"
#include "tickgate/portfolio.h"
#include "tickgate/redis.h"
#include "tickgate/store.h"
#include "tickgate/symtab.h"

#include "engine_bars.h"

typedef struct quote {
    char symbol[TG_SYMBOL_MAX + 1];
    uint8_t sym_len;
    bool has_price;
    uint16_t source;   /* feed index of the last accepted tick */
    tg_dec_t price, bid, ask, size, volume, day_open;
    int64_t ts, src_ts;
    uint64_t seq;      /* seq of the last quote message for this symbol */
    uint32_t served;   /* bit per feed index (< 32) that has delivered this symbol */
    bool snap_dirty;   /* changed since the last PostgreSQL snapshot */
} quote_t;

typedef struct pf_pub {
    uint64_t seq;         /* seq of the last portfolio message of this slot */
    int64_t last_pub_ns;  /* mono time of the last publication (rate limit) */
    bool dirty;           /* figures changed since the last publication */
    bool live;
    bool snap_dirty;      /* changed since the last PostgreSQL snapshot */
    int64_t holdings_ns;  /* mono time holdings were last written to PostgreSQL */
    tg_msg_t *last;       /* with PostgreSQL: ref of the last `portfolio` message */
} pf_pub_t;

typedef struct cmd {
    struct cmd *next;
    tg_engine_cmd_type_t type;
    tg_portfolio_spec_t *spec;
    char id[TG_PORTFOLIO_ID_MAX + 1];
    char rule[32];
    char symbol[TG_SYMBOL_MAX + 1];
    char alert_id[TG_ALERT_ID_LEN + 1];
    char *text;   /* RELOAD: the portfolio file, read by the caller (heap) */
    size_t len;
} cmd_t;

typedef struct output {
    tg_ring_t *ring;
    tg_engine_wake_fn wake;
    void *arg;
    bool dirty; /* pushed since the last wake */
} output_t;

struct tg_engine {
    const tg_config_t *cfg;
    tg_feed_t *feeds;
    size_t nfeeds;
    output_t out[TG_ENGINE_MAX_OUTPUTS];
    size_t nout;

    tg_symtab_t syms; /* symbol -> id, indexes quotes[] and the book's positions */
    quote_t *quotes;
    size_t capquotes;
    uint32_t *batch_last; /* per symbol: index+1 of its newest tick in the batch (conflation) */
    size_t cap_batch_last;

    tg_book_t *book;
    pf_pub_t *pf;         /* per portfolio slot: publication state */
    size_t cap_pf;
    uint32_t *pf_dirty;   /* slots with unpublished changes */
    size_t n_pf_dirty, cap_pf_dirty;
    int64_t pf_min_gap_ns; /* 1 / portfolio_max_hz */
    int64_t next_session_ns;

    /* growable encode scratch (portfolio messages can be large) */
    char *ejson;
    unsigned char *emp;
    size_t ecap;
    tg_holding_view_t *hviews;
    size_t cap_hviews;

    pthread_mutex_t cmd_lock; /* control commands only, never ticks */
    cmd_t *cmd_head, **cmd_tail;
    _Atomic int cmd_pending;

    _Atomic uint32_t degraded_symbols; /* symbols with no closed feed serving them */
    int64_t next_degraded_check_ns;

    pthread_t thread;
    bool started;
    _Atomic int stop;
    _Atomic int running;
    _Atomic uint32_t bell;     /* futex word, bumped by wakers */
    _Atomic int sleeping;

    tg_tick_t batch[512];
    char jbuf[4096];
    unsigned char mbuf[4096];

    uint64_t system_seq;  /* seq of the `system` channel key */
    uint64_t alert_no;    /* portfolio alerts published so far (tg_msg_t.seq of alerts) */
    char feed_alert[TG_MAX_FEEDS][TG_ALERT_ID_LEN + 1]; /* firing breaker/stale alert per feed */
    tg_alert_rule_t feed_alert_rule[TG_MAX_FEEDS];      /* its rule: the resolution repeats it */
    tg_alert_ids_t alert_ids;

    tg_msg_t **early;     /* published before the gateways exist (load, journal restore) */
    size_t nearly, capearly;

    tg_ebars_t *bars;             /* OHLCV bars (SPEC §12) */
    tg_journal_writer_t *journal; /* NULL without journal.dir */
    tg_tick_t jbatch[512];        /* accepted ticks of the current batch, for the journal */
    size_t njbatch;

    /* persistence (NULL when not configured); see take_snapshot() */
    tg_store_pg_t *pg;
    tg_redis_t *redis;
    uint32_t *snap_q;      /* symbol ids with snap_dirty, capacity = capquotes */
    size_t n_snap_q, cap_snap_q;
    uint32_t *snap_p;      /* portfolio slots with snap_dirty, capacity = cap_pf */
    size_t n_snap_p, cap_snap_p;
    tg_snap_row_t *alert_q; /* alert rows the snapshot ring had no room for, in order */
    size_t n_alert_q, cap_alert_q;
    int64_t next_snap_ns;
    int64_t snap_ts;       /* time of the snapshot being pushed */
    bool snap_pending;     /* rows of that snapshot still to push */
    tg_snap_row_t snap_rows[64];

    tg_counter_t *m_accepted;
    tg_counter_t *m_conflated;
    tg_counter_t *m_alerts[TG_ALERT_RULE_COUNT][2];
    tg_histogram_t *m_tick_seconds;
    tg_gauge_t *m_symbols;
};

/* Quote of a symbol, adding it when new; NULL past engine.max_symbols or on ENOMEM. */
static quote_t *quote_for(tg_engine_t *e, const char *sym, size_t len)
{
    int32_t id = tg_symtab_intern(&e->syms, sym, len);
    if (id < 0)
        return NULL;
    if ((size_t)id >= e->capquotes) {
        size_t nc = e->capquotes ? e->capquotes * 2 : 256;
        quote_t *nq = realloc(e->quotes, nc * sizeof *nq);
        if (!nq)
            return NULL;
        memset(nq + e->capquotes, 0, (nc - e->capquotes) * sizeof *nq);
        e->quotes = nq;
        e->capquotes = nc;
        /* the snapshot dirty list holds each symbol at most once */
        uint32_t *ns = realloc(e->snap_q, nc * sizeof *ns);
        if (!ns)
            return NULL;
        e->snap_q = ns;
        e->cap_snap_q = nc;
    }
    quote_t *q = &e->quotes[id];
    if (!q->sym_len) {
        memcpy(q->symbol, sym, len);
        q->sym_len = (uint8_t)len;
        tg_gauge_set(e->m_symbols, (int64_t)tg_symtab_count(&e->syms));
    }
    return q;
}

int tg_engine_add_output(tg_engine_t *e, tg_ring_t **ring, tg_engine_wake_fn wake, void *arg)
{
    if (e->nout >= TG_ENGINE_MAX_OUTPUTS)
        return -ENOSPC;
    char name[32];
    snprintf(name, sizeof name, "gateway:%zu", e->nout);
    /* Blocking policy: a dropped pointer would leak its message; 64 Ki
     * messages of headroom make waiting here a sign of a stuck gateway. */
    int rc = tg_ring_create(ring, name, sizeof(tg_msg_t *), 65536, TG_RING_BLOCK);
    if (rc)
        return rc;
    e->out[e->nout++] = (output_t){.ring = *ring, .wake = wake, .arg = arg};
    return 0;
}

void tg_engine_wake(void *arg)
{
    tg_engine_t *e = arg;
    if (atomic_load_explicit(&e->sleeping, memory_order_seq_cst)) {
        atomic_fetch_add_explicit(&e->bell, 1, memory_order_seq_cst);
        syscall(SYS_futex, &e->bell, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    }
}

bool tg_engine_running(const tg_engine_t *e)
{
    return atomic_load(&e->running) != 0;
}

/* Hand one message to every gateway output (one reference each). */
static void publish(tg_engine_t *e, tg_msg_t *m)
{
    if (e->nout == 0) {
        /* before the gateways exist (portfolio load at start-up): keep it for them */
        if (e->nearly == e->capearly) {
            size_t nc = e->capearly ? e->capearly * 2 : 256;
            tg_msg_t **ne = realloc(e->early, nc * sizeof *ne);
            if (!ne) {
                tg_msg_unref(m);
                return;
            }
            e->early = ne;
            e->capearly = nc;
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

static void flush_wakes(tg_engine_t *e)
{
    for (size_t i = 0; i < e->nout; i++)
        if (e->out[i].dirty) {
            e->out[i].dirty = false;
            if (e->out[i].wake)
                e->out[i].wake(e->out[i].arg);
        }
}

static tg_msg_t *encode_quote(tg_engine_t *e, const quote_t *q)
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
static void publish_portfolio(tg_engine_t *e, uint32_t slot)
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
    if (ensure_scratch(e, 1024 + v.n_holdings * 320) != 0)
        return;
    pf_pub_t *pp = &e->pf[slot];
    uint64_t seq = pp->seq + 1;
    tg_enc_t enc;
    tg_enc_init(&enc, e->ejson, e->ecap, e->emp, e->ecap);
    tg_enc_map(&enc, 15);
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
    if (e->pg) { /* its holdings array becomes portfolio_snapshots.holdings */
        tg_msg_unref(pp->last);
        pp->last = tg_msg_ref(m);
    }
    pp->seq = seq;
    pp->dirty = false;
    pp->last_pub_ns = tg_mono_ns();
    publish(e, m);
}

static int ensure_pf(tg_engine_t *e, uint32_t slot)
{
    if (slot < e->cap_pf)
        return 0;
    size_t nc = (slot + 1) * 2;
    pf_pub_t *np = realloc(e->pf, nc * sizeof *np);
    if (!np)
        return -ENOMEM;
    memset(np + e->cap_pf, 0, (nc - e->cap_pf) * sizeof *np);
    e->pf = np;
    e->cap_pf = nc;
    uint32_t *nd = realloc(e->pf_dirty, nc * sizeof *nd);
    if (!nd)
        return -ENOMEM;
    e->pf_dirty = nd;
    e->cap_pf_dirty = nc;
    uint32_t *ns = realloc(e->snap_p, nc * sizeof *ns);
    if (!ns)
        return -ENOMEM;
    e->snap_p = ns;
    e->cap_snap_p = nc;
    return 0;
}

/* Portfolio changed: publish now if its rate limit allows, else mark it dirty. */
static void portfolio_changed(tg_engine_t *e, uint32_t slot)
{
    if (ensure_pf(e, slot) != 0)
        return;
    pf_pub_t *pp = &e->pf[slot];
    pp->live = true;
    if (e->pg && !pp->snap_dirty && e->n_snap_p < e->cap_snap_p) {
        pp->snap_dirty = true;
        e->snap_p[e->n_snap_p++] = slot;
    }
    if (pp->dirty)
        return;
    pp->dirty = true;
    e->pf_dirty[e->n_pf_dirty++] = slot;
}

/* Publish dirty portfolios whose portfolio_max_hz window has passed. */
static void flush_portfolios(tg_engine_t *e)
{
    int64_t now = tg_mono_ns();
    size_t w = 0;
    for (size_t i = 0; i < e->n_pf_dirty; i++) {
        uint32_t slot = e->pf_dirty[i];
        pf_pub_t *pp = &e->pf[slot];
        if (!pp->dirty || !pp->live)
            continue;
        if (now - pp->last_pub_ns >= e->pf_min_gap_ns)
            publish_portfolio(e, slot);
        else
            e->pf_dirty[w++] = slot; /* conflated: the newest state goes out later */
    }
    e->n_pf_dirty = w;
}

/* Hand alert rows to the writer in order; what the ring cannot take waits here. */
static void flush_alert_rows(tg_engine_t *e)
{
    size_t n = tg_store_pg_push(e->pg, e->alert_q, e->n_alert_q);
    memmove(e->alert_q, e->alert_q + n, (e->n_alert_q - n) * sizeof *e->alert_q);
    e->n_alert_q -= n;
}

/* portfolio_alerts row (PostgreSQL) and tickgate:alerts entry (Redis). */
static void persist_alert(tg_engine_t *e, const tg_portfolio_spec_t *sp, const tg_alert_event_t *a)
{
    tg_snap_row_t r;
    memset(&r, 0, sizeof r);
    r.kind = a->state == TG_ALERT_FIRING ? TG_SNAP_ALERT_FIRING : TG_SNAP_ALERT_RESOLVED;
    r.ts = a->ts ? a->ts : tg_now_ns();
    snprintf(r.a.alert_id, sizeof r.a.alert_id, "%s", a->alert_id);
    snprintf(r.a.portfolio_id, sizeof r.a.portfolio_id, "%s", a->portfolio_id);
    snprintf(r.a.owner, sizeof r.a.owner, "%s", sp && sp->owner ? sp->owner : "");
    snprintf(r.a.symbol, sizeof r.a.symbol, "%s", a->symbol);
    r.a.rule = (uint8_t)a->rule;
    r.a.severity = (uint8_t)a->severity;
    r.a.value = a->value;
    r.a.threshold = a->threshold;
    snprintf(r.a.message, sizeof r.a.message, "%s", a->message);
    if (e->redis)
        tg_redis_push_alert(e->redis, &r);
    if (!e->pg)
        return;
    if (e->n_alert_q == 0 && tg_store_pg_push(e->pg, &r, 1) == 1)
        return;
    /* ring full: alert rows are never dropped, they wait (rare, so allocating is fine) */
    if (e->n_alert_q == e->cap_alert_q) {
        size_t nc = e->cap_alert_q ? e->cap_alert_q * 2 : 64;
        tg_snap_row_t *nq = realloc(e->alert_q, nc * sizeof *nq);
        if (!nq) {
            TG_ERROR("alert_row_lost", "alert_id", TG_S(a->alert_id));
            return;
        }
        e->alert_q = nq;
        e->cap_alert_q = nc;
    }
    e->alert_q[e->n_alert_q++] = r;
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
    char acl[4096];
    size_t acl_len = sp ? portfolio_acl(sp, acl, sizeof acl) : 0;
    tg_msg_t *m = tg_msg_new_acl(enc.json, enc.jlen, enc.mp, enc.mlen, acl, acl_len);
    if (!m)
        return;
    m->type = TG_MSG_ALERT;
    m->channel = TG_CH_NOTIFICATIONS;
    m->aux = a->state;
    m->seq = ++e->alert_no; /* engine-wide alert number: gateway threads agree on it */
    m->ts = a->ts;
    snprintf(m->key_name, sizeof m->key_name, "%s", a->portfolio_id);
    tg_counter_t *c = e->m_alerts[a->rule][a->state == TG_ALERT_FIRING ? 0 : 1];
    if (c)
        tg_counter_add(c, 1);
    TG_INFO("alert", "alert_id", TG_S(a->alert_id), "portfolio", TG_S(a->portfolio_id), "rule",
            TG_S(tg_alert_rule_name(a->rule)), "state", TG_S(tg_alert_state_name(a->state)));
    if (e->pg || e->redis)
        persist_alert(e, sp, a);
    publish(e, m);
}

static void publish_removed(tg_engine_t *e, const char *id)
{
    tg_msg_t *m = tg_msg_new("", 0, "", 0);
    if (!m)
        return;
    m->type = TG_MSG_PORTFOLIO_REMOVED;
    m->channel = TG_CH_PORTFOLIO;
    snprintf(m->key_name, sizeof m->key_name, "%s", id);
    publish(e, m);
}

/* The book's event sink (engine thread). */
static void on_book_event(void *ud, const tg_book_event_t *ev)
{
    tg_engine_t *e = ud;
    switch (ev->type) {
    case TG_BOOK_EV_PORTFOLIO:
        portfolio_changed(e, ev->slot);
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

/*
 * The portfolio source text: engine.portfolios_file, else the bundled demo
 * when PostgreSQL is not the system of record. *text is NULL when there is
 * nothing to load (PostgreSQL); *owned says whether the caller frees it.
 * Any thread: SIGHUP reads the file on the main thread, not the engine's.
 */
static int read_portfolios(const tg_config_t *cfg, char **text, size_t *len, bool *owned,
                           char *err, size_t errlen)
{
    *text = NULL;
    *len = 0;
    *owned = false;
    if (cfg->engine.portfolios_file[0]) {
        int rc = tg_file_read(cfg->engine.portfolios_file, 256u << 20, text, len);
        if (rc) {
            snprintf(err, errlen, "engine.portfolios_file: cannot read %s: %s",
                     cfg->engine.portfolios_file, strerror(-rc));
            return rc == -ENOMEM ? rc : -ENOENT;
        }
        *owned = true;
    } else if (!cfg->postgres.url[0]) {
        const tg_embedded_file_t *demo = tg_embed_find("deploy/demo-portfolios.json");
        if (demo) {
            *text = (char *)demo->data;
            *len = demo->len;
        }
    }
    return 0;
}

/* Replace the book's portfolios with those of `text` (engine thread, or before it starts). */
static int apply_portfolios(tg_engine_t *e, const char *text, size_t len, char *err, size_t errlen)
{
    int rc = tg_book_load_json(e->book, text, len, e->cfg, tg_now_ns(), err, errlen);
    if (rc == 0)
        TG_INFO("portfolios_loaded", "count", TG_I(tg_book_count(e->book)));
    return rc;
}

static int load_portfolios(tg_engine_t *e, char *err, size_t errlen)
{
    char *text;
    size_t len;
    bool owned;
    int rc = read_portfolios(e->cfg, &text, &len, &owned, err, errlen);
    if (rc || !text)
        return rc;
    rc = apply_portfolios(e, text, len, err, errlen);
    if (owned)
        free(text);
    return rc;
}

static void on_quote(tg_engine_t *e, const tg_tick_t *t, quote_t *q);

static void publish_bar(void *engine, tg_msg_t *m)
{
    publish(engine, m);
}

/* Journal rebuild of the bars: the engine's symbol id of a journaled tick. */
static int32_t bar_symbol(void *engine, const tg_tick_t *t)
{
    tg_engine_t *e = engine;
    quote_t *q = quote_for(e, t->symbol, t->sym_len);
    return q ? (int32_t)(q - e->quotes) : -1;
}

tg_bars_t *tg_engine_bars(tg_engine_t *e)
{
    return e ? tg__ebars_bars(e->bars) : NULL;
}

/* Start-up with journal.dir: the last quote of each symbol from the journal tail. */
static void restore_quote(const tg_tick_t *t, void *arg)
{
    tg_engine_t *e = arg;
    if (t->flags & TG_TICK_STATUS)
        return;
    quote_t *q = quote_for(e, t->symbol, t->sym_len);
    if (!q)
        return;
    tg_tick_t copy = *t;
    if (copy.feed >= e->nfeeds)
        copy.feed = 0; /* the feed list may have changed since */
    on_quote(e, &copy, q);
    if (q->price)
        tg_book_on_price(e->book, (uint32_t)(q - e->quotes), q->price, t->ts);
}

static void restore_from_journal(tg_engine_t *e)
{
    if (e->nfeeds == 0)
        return;
    int n = tg_journal_last_quotes(e->cfg->journal.dir, restore_quote, e);
    if (n > 0)
        TG_INFO("journal_restored", "symbols", TG_I(n));
}

int tg_engine_create(tg_engine_t **out, const tg_config_t *cfg, tg_feed_t *feeds, size_t nfeeds,
                     tg_metrics_t *metrics, char *err, size_t errlen)
{
    tg_engine_t *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    e->cfg = cfg;
    e->feeds = feeds;
    e->nfeeds = nfeeds;
    pthread_mutex_init(&e->cmd_lock, NULL);
    e->cmd_tail = &e->cmd_head;
    snprintf(err, errlen, "out of memory");
    int rc = tg_symtab_init(&e->syms, (uint32_t)cfg->engine.max_symbols);
    if (rc)
        goto fail;
    uint64_t seed = 0;
    RAND_bytes((unsigned char *)&seed, sizeof seed);
    tg_book_options_t bo = {.symtab = &e->syms, .on_event = on_book_event, .ud = e,
                            .alert_seed = seed};
    if ((rc = tg_book_create(&bo, &e->book)) != 0)
        goto fail;
    tg_alert_ids_init(&e->alert_ids, seed ^ 0x5bd1e995ULL);
    e->pf_min_gap_ns = 1000000000LL / (cfg->limits.portfolio_max_hz > 0 ? cfg->limits.portfolio_max_hz : 10);
    rc = tg_session_next_open(cfg->engine.session_open, cfg->engine.session_tz, tg_now_ns(),
                              &e->next_session_ns);
    if (rc) {
        snprintf(err, errlen, "engine.session_tz: unknown time zone or bad session_open: %s %s",
                 cfg->engine.session_tz, cfg->engine.session_open);
        goto fail;
    }
    e->m_accepted = tg_metrics_counter(metrics, "tickgate_ticks_accepted_total", NULL,
                                       "Ticks accepted by the engine");
    e->m_conflated = tg_metrics_counter(metrics, "tickgate_engine_conflated_total", NULL,
                                        "Ticks valued only through a newer tick of the same batch");
    e->m_tick_seconds = tg_metrics_histogram(metrics, "tickgate_engine_tick_seconds", NULL,
                                             "Engine time per tick");
    e->m_symbols = tg_metrics_gauge(metrics, "tickgate_symbols", NULL, "Symbols with a quote");
    for (int r = 0; r < TG_ALERT_RULE_COUNT; r++)
        for (int st = 0; st < 2; st++) {
            char label[96];
            snprintf(label, sizeof label, "rule=\"%s\",state=\"%s\"",
                     tg_alert_rule_name((tg_alert_rule_t)r), st ? "resolved" : "firing");
            e->m_alerts[r][st] = tg_metrics_counter(metrics, "tickgate_alerts_total", label,
                                                    "Alert events by rule and state");
        }
    if (!e->m_accepted || !e->m_tick_seconds || !e->m_symbols || !e->m_conflated) {
        rc = -ENOMEM;
        goto fail;
    }
    if ((rc = tg__ebars_create(&e->bars, cfg, metrics, publish_bar, e)) != 0)
        goto fail;
    if ((rc = load_portfolios(e, err, errlen)) != 0)
        goto fail;
    if (cfg->journal.dir[0]) {
        restore_from_journal(e);
        long nb = tg__ebars_rebuild(e->bars, cfg->journal.dir, bar_symbol, e);
        if (nb > 0)
            TG_INFO("bars_restored", "trades", TG_I(nb));
        if ((rc = tg_journal_writer_start(&e->journal, cfg, metrics)) != 0) {
            snprintf(err, errlen, "journal.dir: cannot use %s: %s", cfg->journal.dir,
                     strerror(-rc));
            goto fail;
        }
    }
    *out = e;
    return 0;
fail:
    tg__ebars_destroy(e->bars);
    tg_book_destroy(e->book);
    tg_symtab_free(&e->syms);
    free(e->pf);
    free(e->pf_dirty);
    free(e);
    return rc;
}

/* Update the last quote of a tick's symbol and publish its quote message. */
static void on_quote(tg_engine_t *e, const tg_tick_t *t, quote_t *q)
{
    if (t->flags & TG_TICK_TRADE) {
        if (!q->day_open)
            q->day_open = t->price;
        q->price = t->price;
        q->size = t->size;
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
    if (e->pg && !q->snap_dirty) {
        q->snap_dirty = true;
        e->snap_q[e->n_snap_q++] = (uint32_t)(q - e->quotes);
    }
    tg_msg_t *m = encode_quote(e, q);
    if (!m) {
        q->seq--;
        return;
    }
    memcpy(m->key_name, q->symbol, (size_t)q->sym_len + 1);
    publish(e, m);
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
        publish(e, m);
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
        publish(e, m);
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
static void on_batch(tg_engine_t *e, const tg_tick_t *ticks, size_t n)
{
    int32_t ids[512];
    size_t conflated = 0, accepted = 0;
    for (size_t i = 0; i < n; i++) {
        const tg_tick_t *t = &ticks[i];
        ids[i] = -1;
        if (t->flags & TG_TICK_STATUS) {
            on_status(e, t);
            continue;
        }
        quote_t *q = quote_for(e, t->symbol, t->sym_len);
        if (!q || !failover_accept(e, q, t->feed))
            continue;
        ids[i] = (int32_t)(q - e->quotes);
        on_quote(e, t, q);
        tg__ebars_on_tick(e->bars, (uint32_t)ids[i], t);
        accepted++;
        if (e->journal || e->redis)
            e->jbatch[e->njbatch++] = *t;
        if (q->has_price || q->price)
            tg_book_on_price_alerts(e->book, (uint32_t)ids[i], q->price, t->ts);
        if ((size_t)ids[i] >= e->cap_batch_last) {
            size_t nc = ((size_t)ids[i] + 1) * 2;
            uint32_t *nb = realloc(e->batch_last, nc * sizeof *nb);
            if (!nb)
                continue;
            memset(nb + e->cap_batch_last, 0, (nc - e->cap_batch_last) * sizeof *nb);
            e->batch_last = nb;
            e->cap_batch_last = nc;
        }
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
    if (e->njbatch) {
        if (e->journal)
            tg_journal_writer_push(e->journal, e->jbatch, e->njbatch);
        if (e->redis)
            tg_redis_push_ticks(e->redis, e->jbatch, e->njbatch);
        e->njbatch = 0;
    }
    tg_counter_add(e->m_accepted, accepted);
    if (conflated)
        tg_counter_add(e->m_conflated, conflated);
}

static int submit(tg_engine_t *e, cmd_t *c)
{
    pthread_mutex_lock(&e->cmd_lock);
    *e->cmd_tail = c;
    e->cmd_tail = &c->next;
    atomic_store(&e->cmd_pending, 1);
    pthread_mutex_unlock(&e->cmd_lock);
    tg_engine_wake(e);
    return 0;
}

int tg_engine_put_portfolio(tg_engine_t *e, tg_portfolio_spec_t *spec)
{
    cmd_t *c = calloc(1, sizeof *c);
    if (!c) {
        tg_portfolio_spec_free(spec);
        free(spec);
        return -ENOMEM;
    }
    c->type = TG_ENGINE_PUT_PORTFOLIO;
    c->spec = spec;
    return submit(e, c);
}

int tg_engine_remove_portfolio(tg_engine_t *e, const char *id)
{
    cmd_t *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->type = TG_ENGINE_REMOVE_PORTFOLIO;
    snprintf(c->id, sizeof c->id, "%s", id);
    return submit(e, c);
}

int tg_engine_reload(tg_engine_t *e)
{
    char err[256], *text;
    size_t len;
    bool owned;
    int rc = read_portfolios(e->cfg, &text, &len, &owned, err, sizeof err);
    if (rc) {
        TG_WARN("config_reload_failed", "error", TG_S(err));
        return rc;
    }
    if (!text)
        return 0; /* PostgreSQL is the source: NOTIFY keeps it current */
    if (!owned) { /* the embedded demo: the command owns a copy, like a file's text */
        char *copy = malloc(len + 1);
        if (!copy)
            return -ENOMEM;
        memcpy(copy, text, len);
        copy[len] = 0;
        text = copy;
    }
    cmd_t *c = calloc(1, sizeof *c);
    if (!c) {
        free(text);
        return -ENOMEM;
    }
    c->type = TG_ENGINE_RELOAD;
    c->text = text;
    c->len = len;
    return submit(e, c);
}

int tg_engine_restore_alert(tg_engine_t *e, const char *portfolio_id, const char *rule,
                            const char *symbol, const char *alert_id)
{
    cmd_t *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->type = TG_ENGINE_RESTORE_ALERT;
    snprintf(c->id, sizeof c->id, "%s", portfolio_id);
    snprintf(c->rule, sizeof c->rule, "%s", rule);
    snprintf(c->symbol, sizeof c->symbol, "%s", symbol ? symbol : "");
    snprintf(c->alert_id, sizeof c->alert_id, "%s", alert_id);
    return submit(e, c);
}

/* Apply queued control commands (engine thread). */
static void run_commands(tg_engine_t *e)
{
    pthread_mutex_lock(&e->cmd_lock);
    cmd_t *c = e->cmd_head;
    e->cmd_head = NULL;
    e->cmd_tail = &e->cmd_head;
    atomic_store(&e->cmd_pending, 0);
    pthread_mutex_unlock(&e->cmd_lock);
    char err[256];
    while (c) {
        cmd_t *next = c->next;
        int rc = 0;
        switch (c->type) {
        case TG_ENGINE_PUT_PORTFOLIO:
            rc = tg_book_put_portfolio(e->book, c->spec, tg_now_ns(), err, sizeof err);
            if (rc)
                TG_WARN("portfolio_rejected", "portfolio", TG_S(c->spec->id), "error", TG_S(err));
            else
                TG_INFO("portfolio_put", "portfolio", TG_S(c->spec->id));
            tg_portfolio_spec_free(c->spec);
            free(c->spec);
            break;
        case TG_ENGINE_REMOVE_PORTFOLIO:
            if (tg_book_remove_portfolio(e->book, c->id, tg_now_ns()) == 0)
                TG_INFO("portfolio_removed", "portfolio", TG_S(c->id));
            break;
        case TG_ENGINE_RELOAD:
            rc = apply_portfolios(e, c->text, c->len, err, sizeof err);
            free(c->text);
            if (rc)
                TG_WARN("config_reload_failed", "error", TG_S(err));
            else
                TG_INFO("config_reloaded", "what", TG_S("portfolios"));
            break;
        case TG_ENGINE_RESTORE_ALERT: {
            tg_alert_rule_t rule;
            if (tg_alert_rule_parse(c->rule, &rule) == 0)
                tg_book_restore_alert(e->book, c->id, rule, c->symbol, c->alert_id);
            break;
        }
        }
        free(c);
        c = next;
    }
}

/* Every 250 ms: how many symbols have no closed feed among those serving them
 * (SPEC §6: /health/ready is then `degraded`). */
static void check_degraded(tg_engine_t *e)
{
    int64_t now = tg_mono_ns();
    if (now < e->next_degraded_check_ns)
        return;
    e->next_degraded_check_ns = now + 250000000LL;
    uint32_t closed = 0;
    for (size_t f = 0; f < e->nfeeds && f < 32; f++)
        if (tg_feed_state(&e->feeds[f]) == TG_BREAKER_CLOSED ||
            atomic_load_explicit(&e->feeds[f].finished, memory_order_relaxed))
            closed |= 1u << f; /* a finished replay is done, not failing */
    /* portfolio symbols are interned before any quote exists: quotes[] may be
     * shorter than the symbol table */
    uint32_t n = 0, nsym = tg_symtab_count(&e->syms);
    if (nsym > e->capquotes)
        nsym = (uint32_t)e->capquotes;
    for (uint32_t i = 0; i < nsym; i++) {
        uint32_t served = e->nfeeds == 1 ? (e->quotes[i].sym_len ? 1u : 0u) : e->quotes[i].served;
        if (served && !(served & closed))
            n++;
    }
    atomic_store_explicit(&e->degraded_symbols, n, memory_order_relaxed);
}

uint32_t tg_engine_degraded_symbols(const tg_engine_t *e)
{
    return atomic_load_explicit(&e->degraded_symbols, memory_order_relaxed);
}

/* Session boundary (engine.session_open in session_tz): reset day figures. */
static void check_session(tg_engine_t *e)
{
    int64_t now = tg_now_ns();
    if (now < e->next_session_ns)
        return;
    for (uint32_t i = 0; i < tg_symtab_count(&e->syms) && i < e->capquotes; i++) {
        e->quotes[i].day_open = 0; /* the next trade opens the day */
        e->quotes[i].volume = 0;
    }
    tg_book_session_open(e->book, now);
    if (tg_session_next_open(e->cfg->engine.session_open, e->cfg->engine.session_tz, now,
                             &e->next_session_ns) != 0)
        e->next_session_ns = now + 86400LL * 1000000000LL;
    TG_INFO("session_open", "next_ns", TG_I(e->next_session_ns));
}

/*
 * Every postgres.snapshot_interval_ms: one row per symbol and per portfolio
 * that changed since the last snapshot, all stamped with the snapshot time.
 * Rows the ring cannot take stay dirty and are pushed on the next loop turns
 * with the same time (their figures as of the push): the engine never waits
 * for the writer, and a snapshot larger than the ring still goes out whole.
 * Returns true when nothing is left.
 */
static bool take_snapshot(tg_engine_t *e, int64_t ts)
{
    const int64_t mono = tg_mono_ns();
    const int64_t holdings_gap = (int64_t)e->cfg->postgres.holdings_interval_ms * 1000000LL;
    const size_t cap = sizeof e->snap_rows / sizeof e->snap_rows[0];
    size_t done = 0;
    while (done < e->n_snap_q) {
        size_t k = 0, first = done;
        for (; done < e->n_snap_q && k < cap; done++) {
            quote_t *q = &e->quotes[e->snap_q[done]];
            tg_snap_row_t *r = &e->snap_rows[k++];
            r->kind = TG_SNAP_QUOTE;
            r->ts = ts;
            memcpy(r->q.symbol, q->symbol, sizeof r->q.symbol);
            r->q.price = q->price;
            r->q.bid = q->bid;
            r->q.ask = q->ask;
            r->q.volume = q->volume;
            r->q.source = q->source;
        }
        size_t taken = tg_store_pg_push(e->pg, e->snap_rows, k);
        for (size_t i = first; i < first + taken; i++)
            e->quotes[e->snap_q[i]].snap_dirty = false;
        if (taken < k) {
            done = first + taken;
            break;
        }
    }
    memmove(e->snap_q, e->snap_q + done, (e->n_snap_q - done) * sizeof *e->snap_q);
    e->n_snap_q -= done;

    done = 0;
    while (done < e->n_snap_p) {
        size_t k = 0, first = done;
        uint32_t slots[sizeof e->snap_rows / sizeof e->snap_rows[0]];
        for (; done < e->n_snap_p && k < cap; done++) {
            uint32_t slot = e->snap_p[done];
            pf_pub_t *pp = &e->pf[slot];
            if (!pp->snap_dirty || !pp->live)
                continue;
            const tg_portfolio_spec_t *sp = tg_book_spec(e->book, slot);
            if (!sp)
                continue;
            bool with_holdings = !pp->holdings_ns || mono - pp->holdings_ns >= holdings_gap;
            /* the holdings come from the last `portfolio` message: publish a
             * pending state now so figures and holdings are one state */
            if (with_holdings && pp->dirty)
                publish_portfolio(e, slot);
            if (sp->n_holdings > e->cap_hviews) {
                tg_holding_view_t *hv = realloc(e->hviews, sp->n_holdings * sizeof *hv);
                if (!hv)
                    continue;
                e->hviews = hv;
                e->cap_hviews = sp->n_holdings;
            }
            tg_portfolio_view_t v;
            if (tg_book_portfolio_view(e->book, slot, e->hviews, e->cap_hviews, &v) != 0)
                continue;
            tg_snap_row_t *r = &e->snap_rows[k];
            r->kind = TG_SNAP_PORTFOLIO;
            r->ts = ts;
            snprintf(r->p.id, sizeof r->p.id, "%s", v.id);
            r->p.value = v.value;
            r->p.cost_basis = v.cost_basis;
            r->p.pnl = v.pnl;
            r->p.day_change = v.day_change;
            r->p.max_drift = v.max_drift;
            r->p.holdings = with_holdings && pp->last ? tg_msg_ref(pp->last) : NULL;
            slots[k++] = slot;
        }
        size_t taken = k ? tg_store_pg_push(e->pg, e->snap_rows, k) : 0;
        for (size_t i = 0; i < k; i++) {
            pf_pub_t *pp = &e->pf[slots[i]];
            if (i < taken) {
                pp->snap_dirty = false;
                if (e->snap_rows[i].p.holdings)
                    pp->holdings_ns = mono;
            } else {
                tg_msg_unref(e->snap_rows[i].p.holdings);
            }
        }
        if (taken < k) {
            /* keep the untaken ones listed: find where the first untaken one was */
            size_t keep = first;
            while (keep < done && e->snap_p[keep] != slots[taken])
                keep++;
            done = keep;
            break;
        }
    }
    /* entries skipped (removed portfolios) are simply dropped from the list */
    size_t w = 0;
    for (size_t i = done; i < e->n_snap_p; i++)
        e->snap_p[w++] = e->snap_p[i];
    e->n_snap_p = w;
    return e->n_snap_q == 0 && e->n_snap_p == 0;
}

static void *engine_thread(void *arg)
{
    tg_engine_t *e = arg;
    pthread_setname_np(pthread_self(), "engine");
    atomic_store(&e->running, 1);
    for (size_t i = 0; i < e->nearly; i++)
        publish(e, e->early[i]);
    e->nearly = 0;
    free(e->early);
    e->early = NULL;
    e->capearly = 0;
    /* everyone starts from the current state of every portfolio */
    for (int32_t slot = tg_book_next(e->book, -1); slot >= 0; slot = tg_book_next(e->book, slot))
        portfolio_changed(e, (uint32_t)slot);
    while (!atomic_load_explicit(&e->stop, memory_order_relaxed)) {
        size_t total = 0;
        for (size_t f = 0; f < e->nfeeds; f++) {
            size_t n = tg_ring_pop(e->feeds[f].ring, e->batch, sizeof e->batch / sizeof e->batch[0]);
            if (!n)
                continue;
            int64_t t0 = tg_mono_ns();
            on_batch(e, e->batch, n);
            tg_histogram_observe_ns(e->m_tick_seconds, (tg_mono_ns() - t0) / (int64_t)n);
            total += n;
        }
        if (atomic_load_explicit(&e->cmd_pending, memory_order_relaxed))
            run_commands(e);
        if (e->n_pf_dirty)
            flush_portfolios(e);
        check_session(e);
        check_degraded(e);
        tg__ebars_poll(e->bars, tg_now_ns());
        if (e->pg) {
            if (e->n_alert_q)
                flush_alert_rows(e);
            int64_t now = tg_mono_ns();
            if (now >= e->next_snap_ns) {
                e->next_snap_ns = now + (int64_t)e->cfg->postgres.snapshot_interval_ms * 1000000LL;
                e->snap_ts = tg_now_ns();
                e->snap_pending = true;
            }
            if (e->snap_pending)
                e->snap_pending = !take_snapshot(e, e->snap_ts);
        }
        flush_wakes(e);
        if (total)
            continue;
        /* Idle: announce we sleep, re-check, then wait for a doorbell (or 1 ms). */
        uint32_t bell = atomic_load(&e->bell);
        atomic_store(&e->sleeping, 1);
        bool empty = true;
        for (size_t f = 0; f < e->nfeeds && empty; f++)
            empty = tg_ring_depth(e->feeds[f].ring) == 0;
        if (empty) {
            struct timespec to = {0, 1000000};
            syscall(SYS_futex, &e->bell, FUTEX_WAIT_PRIVATE, bell, &to, NULL, 0);
        }
        atomic_store(&e->sleeping, 0);
    }
    atomic_store(&e->running, 0);
    return NULL;
}

void tg_engine_set_stores(tg_engine_t *e, tg_store_pg_t *pg, tg_redis_t *redis)
{
    e->pg = pg;
    e->redis = redis;
    tg__ebars_set_pg(e->bars, pg);
    if (pg)
        e->next_snap_ns = tg_mono_ns() + (int64_t)e->cfg->postgres.snapshot_interval_ms * 1000000LL;
}

int tg_engine_start(tg_engine_t *e)
{
    int rc = pthread_create(&e->thread, NULL, engine_thread, e);
    if (rc)
        return -rc;
    e->started = true;
    return 0;
}

void tg_engine_stop(tg_engine_t *e)
{
    if (!e || !e->started)
        return;
    atomic_store(&e->stop, 1);
    tg_engine_wake(e);
    pthread_join(e->thread, NULL);
    e->started = false;
}

void tg_engine_destroy(tg_engine_t *e)
{
    if (!e)
        return;
    tg_engine_stop(e);
    for (size_t i = 0; i < e->nearly; i++)
        tg_msg_unref(e->early[i]);
    free(e->early);
    tg_journal_writer_stop(e->journal);
    tg__ebars_destroy(e->bars);
    for (cmd_t *c = e->cmd_head, *n; c; c = n) {
        n = c->next;
        if (c->spec) {
            tg_portfolio_spec_free(c->spec);
            free(c->spec);
        }
        free(c->text);
        free(c);
    }
    pthread_mutex_destroy(&e->cmd_lock);
    for (size_t i = 0; i < e->cap_pf; i++)
        tg_msg_unref(e->pf[i].last);
    free(e->snap_q);
    free(e->snap_p);
    free(e->alert_q);
    tg_book_destroy(e->book);
    tg_symtab_free(&e->syms);
    free(e->quotes);
    free(e->batch_last);
    free(e->pf);
    free(e->pf_dirty);
    free(e->ejson);
    free(e->emp);
    free(e->hviews);
    free(e);
}
