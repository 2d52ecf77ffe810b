/* engine.c - the engine thread: drain feed rings, update quotes, publish.
 *
 * Data flow per loop: pop a batch of ticks from each feed ring -> per tick,
 * update the symbol's last quote -> encode the quote message once -> push the
 * pointer to every gateway output ring -> wake each gateway once per batch.
 * When all rings are empty the thread sleeps on a futex doorbell that feed
 * threads ring after pushing; a 1 ms timeout drives timers.
 */
#include "engine_int.h"

/* Quote of a symbol, adding it when new; NULL past engine.max_symbols or on ENOMEM. */
quote_t *tg__engine_quote_for(tg_engine_t *e, const char *sym, size_t len)
{
    int32_t id = tg_symtab_intern(&e->syms, sym, len);
    if (id < 0)
        return NULL;
    /* the snapshot dirty list holds each symbol at most once: same capacity */
    if ((size_t)id >= e->capquotes || e->cap_snap_q < e->capquotes) {
        if (tg_vec_reserve(&e->quotes, sizeof *e->quotes, &e->capquotes, (size_t)id + 1, 256) ||
            tg_vec_reserve(&e->snap_q, sizeof *e->snap_q, &e->cap_snap_q, e->capquotes, 256))
            return NULL;
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


/* Start-up with journal.dir: the last quote of each symbol from the journal tail. */
static void restore_quote(const tg_tick_t *t, void *arg)
{
    tg_engine_t *e = arg;
    if (t->flags & TG_TICK_STATUS)
        return;
    quote_t *q = tg__engine_quote_for(e, t->symbol, t->sym_len);
    if (!q)
        return;
    tg_tick_t copy = *t;
    if (copy.feed >= e->nfeeds)
        copy.feed = 0; /* the feed list may have changed since */
    tg__engine_on_quote(e, &copy, q);
    if (q->price)
        tg_book_on_price(e->book, (uint32_t)(q - e->quotes), q->price, t->ts);
}

static void publish_bar(void *engine, tg_msg_t *m)
{
    tg__engine_publish(engine, m);
}

/* Journal rebuild of the bars: the engine's symbol id of a journaled tick. */
static int32_t bar_symbol(void *engine, const tg_tick_t *t)
{
    tg_engine_t *e = engine;
    quote_t *q = tg__engine_quote_for(e, t->symbol, t->sym_len);
    return q ? (int32_t)(q - e->quotes) : -1;
}

tg_bars_t *tg_engine_bars(tg_engine_t *e)
{
    return e ? tg__ebars_bars(e->bars) : NULL;
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
    e->own = *cfg;
    e->cfg = &e->own;
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
    tg_book_options_t bo = {.symtab = &e->syms, .on_event = tg__engine_on_book_event, .ud = e,
                            .alert_seed = seed,
                            .unpriced_after_s = cfg->engine.unpriced_after_s};
    if ((rc = tg_book_create(&bo, &e->book)) != 0)
        goto fail;
    tg_alert_ids_init(&e->alert_ids, seed ^ 0x5bd1e995ULL);
    e->pf_min_gap_ns = 1000000000LL / (cfg->limits.portfolio_max_hz > 0 ? cfg->limits.portfolio_max_hz : 10);
    rc = tg_session_next_open(cfg->engine.tzdir, cfg->engine.session_open, cfg->engine.session_tz, tg_now_ns(),
                              &e->next_session_ns);
    if (rc) {
        snprintf(err, errlen, "engine.session_tz: unknown time zone or bad session_open: %s %s",
                 cfg->engine.session_tz, cfg->engine.session_open);
        goto fail;
    }
    if (tg__engine_session_start(e, tg_now_ns(), &e->session_ns) != 0)
        e->session_ns = 0;
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
    if ((rc = tg__engine_load_portfolios(e, err, errlen)) != 0)
        goto fail;
    if (cfg->journal.dir[0]) {
        tg__engine_daystate_load(e);
        e->restoring = true;
        restore_from_journal(e);
        long nb = tg__ebars_rebuild(e->bars, cfg->journal.dir, bar_symbol, e);
        if (nb > 0)
            TG_INFO("bars_restored", "trades", TG_I(nb));
        e->restoring = false;
        tg__engine_daystate_apply(e);
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


/* Every 250 ms: how many symbols have no closed feed among those serving them
 * (SPEC §6: /health/ready is then `degraded`). */
static void check_degraded(tg_engine_t *e)
{
    int64_t now = tg_mono_ns();
    if (now < e->next_degraded_check_ns)
        return;
    e->next_degraded_check_ns = now + 250000000LL;
    /* same cadence for the `unpriced` rule: its unit is seconds */
    tg_book_check_unpriced(e->book, tg_now_ns());
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
    /* the session just opened: the instant this check waited for, unless the
     * clock went past more than one open */
    int64_t start;
    if (tg__engine_session_start(e, now, &start) != 0)
        start = e->next_session_ns;
    tg__engine_daystate_session(e, start);
    if (tg_session_next_open(e->cfg->engine.tzdir, e->cfg->engine.session_open, e->cfg->engine.session_tz, now,
                             &e->next_session_ns) != 0)
        e->next_session_ns = now + 86400LL * 1000000000LL;
    TG_INFO("session_open", "next_ns", TG_I(e->next_session_ns));
}

static void *engine_thread(void *arg)
{
    tg_engine_t *e = arg;
    pthread_setname_np(pthread_self(), "engine");
    atomic_store(&e->running, 1);
    for (size_t i = 0; i < e->nearly; i++)
        tg__engine_publish(e, e->early[i]);
    e->nearly = 0;
    free(e->early);
    e->early = NULL;
    e->capearly = 0;
    tg__engine_daystate_start(e); /* PostgreSQL's day state, before the first tick */
    /* everyone starts from the current state of every portfolio */
    for (int32_t slot = tg_book_next(e->book, -1); slot >= 0; slot = tg_book_next(e->book, slot))
        tg__engine_portfolio_changed(e, (uint32_t)slot);
    while (!atomic_load_explicit(&e->stop, memory_order_relaxed)) {
        size_t total = 0;
        for (size_t f = 0; f < e->nfeeds; f++) {
            size_t n = tg_ring_pop(e->feeds[f].ring, e->batch, sizeof e->batch / sizeof e->batch[0]);
            if (!n)
                continue;
            int64_t t0 = tg_mono_ns();
            tg__engine_on_batch(e, e->batch, n);
            tg_histogram_observe_ns(e->m_tick_seconds, (tg_mono_ns() - t0) / (int64_t)n);
            total += n;
        }
        if (atomic_load_explicit(&e->cmd_pending, memory_order_relaxed))
            tg__engine_run_commands(e);
        if (e->n_pf_dirty)
            tg__engine_flush_portfolios(e);
        check_session(e);
        check_degraded(e);
        tg__ebars_poll(e->bars, tg_now_ns());
        tg__engine_daystate_tick(e, tg_mono_ns());
        int64_t mono = tg_mono_ns();
        if (mono >= e->next_risk_ns) {
            /* a steady 1-second cadence (volatility samples are 1-second returns) */
            e->next_risk_ns = e->next_risk_ns && mono - e->next_risk_ns < 1000000000LL
                                  ? e->next_risk_ns + 1000000000LL
                                  : mono + 1000000000LL;
            tg_book_risk_tick(e->book, tg_now_ns());
        }
        if (e->sinks.snapshots.push) {
            if (e->n_alert_q)
                tg__engine_flush_alert_rows(e);
            int64_t now = tg_mono_ns();
            if (now >= e->next_snap_ns) {
                e->next_snap_ns = now + (int64_t)e->cfg->postgres.snapshot_interval_ms * 1000000LL;
                e->snap_ts = tg_now_ns();
                e->snap_pending = true;
            }
            if (e->snap_pending)
                e->snap_pending = !tg__engine_take_snapshot(e, e->snap_ts);
        }
        if (e->sinks.deliver.flush)
            e->sinks.deliver.flush(e->sinks.deliver.ctx);
        tg__engine_flush_wakes(e);
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

void tg_engine_set_sinks(tg_engine_t *e, const tg_engine_sinks_t *sinks)
{
    e->sinks = *sinks;
    tg__ebars_set_rows(e->bars, sinks->snapshots);
    if (sinks->snapshots.push)
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
    /* the last day_state rows, while the PostgreSQL writer still runs (main.c
     * stops it after the engine): the thread is gone, so this thread is the
     * sink's only producer now */
    if (!e->cfg->journal.dir[0] && e->sinks.snapshots.push && !tg__engine_daystate_rows(e))
        TG_WARN("daystate_rows_left", "reason", TG_S("snapshot ring full at shutdown"));
}

void tg_engine_destroy(tg_engine_t *e)
{
    if (!e)
        return;
    tg_engine_stop(e);
    if (e->cfg->journal.dir[0] && e->book)
        tg__engine_daystate_save(e); /* the thread is gone: the last state of the day */
    tg__engine_daystate_free(e);
    tg__readers_free(&e->readers);
    for (size_t i = 0; i < e->nearly; i++)
        tg_msg_unref(e->early[i]);
    free(e->early);
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
