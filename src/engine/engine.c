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
#include "tickgate/symtab.h"

typedef struct quote {
    char symbol[TG_SYMBOL_MAX + 1];
    uint8_t sym_len;
    bool has_price;
    uint16_t source;   /* feed index of the last accepted tick */
    tg_dec_t price, bid, ask, size, volume, day_open;
    int64_t ts, src_ts;
    uint64_t seq;      /* seq of the last quote message for this symbol */
} quote_t;

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

    tg_symtab_t syms; /* symbol -> id, indexes quotes[] */
    quote_t *quotes;
    size_t capquotes;

    pthread_t thread;
    bool started;
    _Atomic int stop;
    _Atomic int running;
    _Atomic uint32_t bell;     /* futex word, bumped by wakers */
    _Atomic int sleeping;

    tg_tick_t batch[512];
    char jbuf[4096];
    unsigned char mbuf[4096];

    tg_counter_t *m_accepted;
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
    }
    quote_t *q = &e->quotes[id];
    if (!q->sym_len) {
        memcpy(q->symbol, sym, len);
        q->sym_len = (uint8_t)len;
        tg_gauge_set(e->m_symbols, (int64_t)tg_symtab_count(&e->syms));
    }
    return q;
}

int tg_engine_create(tg_engine_t **out, const tg_config_t *cfg, tg_feed_t *feeds, size_t nfeeds,
                     tg_metrics_t *metrics)
{
    tg_engine_t *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    e->cfg = cfg;
    e->feeds = feeds;
    e->nfeeds = nfeeds;
    int rc = tg_symtab_init(&e->syms, (uint32_t)cfg->engine.max_symbols);
    if (rc)
        goto fail;
    e->m_accepted = tg_metrics_counter(metrics, "tickgate_ticks_accepted_total", NULL,
                                       "Ticks accepted by the engine");
    e->m_tick_seconds = tg_metrics_histogram(metrics, "tickgate_engine_tick_seconds", NULL,
                                             "Engine time per tick");
    e->m_symbols = tg_metrics_gauge(metrics, "tickgate_symbols", NULL, "Symbols with a quote");
    if (!e->m_accepted || !e->m_tick_seconds || !e->m_symbols) {
        rc = -ENOMEM;
        goto fail;
    }
    *out = e;
    return 0;
fail:
    tg_symtab_free(&e->syms);
    free(e);
    return rc;
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
    if (e->nout == 0)
        tg_msg_unref(m);
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

static void on_tick(tg_engine_t *e, const tg_tick_t *t)
{
    quote_t *q = quote_for(e, t->symbol, t->sym_len);
    if (!q)
        return;
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
    tg_msg_t *m = encode_quote(e, q);
    if (!m) {
        q->seq--;
        return;
    }
    memcpy(m->key_name, q->symbol, (size_t)q->sym_len + 1);
    publish(e, m);
    tg_counter_add(e->m_accepted, 1);
}

static void *engine_thread(void *arg)
{
    tg_engine_t *e = arg;
    pthread_setname_np(pthread_self(), "engine");
    atomic_store(&e->running, 1);
    while (!atomic_load_explicit(&e->stop, memory_order_relaxed)) {
        size_t total = 0;
        for (size_t f = 0; f < e->nfeeds; f++) {
            size_t n = tg_ring_pop(e->feeds[f].ring, e->batch, sizeof e->batch / sizeof e->batch[0]);
            int64_t t0 = tg_mono_ns();
            for (size_t i = 0; i < n; i++)
                on_tick(e, &e->batch[i]);
            if (n)
                tg_histogram_observe_ns(e->m_tick_seconds, (tg_mono_ns() - t0) / (int64_t)n);
            total += n;
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
    tg_symtab_free(&e->syms);
    free(e->quotes);
    free(e);
}
