/* feed.c - feed registry, thread lifecycle, and the emit path into the ring.
 *
 * Every adapter hands its normalized ticks to tg_feed_emit(): rename
 * (symbol_map), filter (the feed's `symbols`), validate (SPEC §3), feed the
 * breaker, push into the SPSC ring. Breaker transitions travel down the same
 * ring as TG_TICK_STATUS records so the engine publishes them in order, and
 * are mirrored in an atomic the engine reads for failover.
 */
#include "tickgate/feed.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tickgate/clock.h"
#include "tickgate/feed_format.h"
#include "tickgate/log.h"

const tg_feed_ops_t *tg_feed_ops_for(tg_feed_type_t type)
{
    switch (type) {
    case TG_FEED_SYNTHETIC:
        return &tg_feed_synthetic_ops;
    case TG_FEED_REPLAY:
        return &tg_feed_replay_ops;
    case TG_FEED_WS:
        return &tg_feed_ws_ops;
    case TG_FEED_TCP:
        return &tg_feed_tcp_ops;
    case TG_FEED_REDIS:
        return &tg_feed_redis_ops;
    default:
        return NULL;
    }
}

static int init_tables(tg_feed_t *f, const tg_config_t *cfg)
{
    const tg_feed_conf_t *c = f->conf;
    int rc = tg_symtab_init(&f->filter, 0);
    if (rc)
        return rc;
    rc = tg_symtab_init(&f->map, 0);
    if (rc)
        return rc;
    for (size_t i = 0; i < c->symbols.n; i++)
        if (tg_symtab_intern(&f->filter, c->symbols.v[i], strlen(c->symbols.v[i])) < 0)
            return -EINVAL;
    f->has_filter = c->symbols.n > 0;
    for (size_t i = 0; i < c->map_from.n; i++)
        if (tg_symtab_intern(&f->map, c->map_from.v[i], strlen(c->map_from.v[i])) != (int32_t)i)
            return -EINVAL; /* duplicate "from" */
    f->has_map = c->map_from.n > 0;
    /* engine.max_jump_pct is a fraction like every *_pct figure (0.1 = 10 %);
     * the validator takes percent */
    tg_validate_conf_t vc = {
        .max_jump_pct = cfg->engine.max_jump_pct * 100,
        .universe = &cfg->engine.universe,
        /* duplicates by provider sequence: strictly increasing, except for
         * formats whose ids are unique but unordered (Alpaca) */
        .seq_monotonic = !(c->type == TG_FEED_WS && tg_format_lookup(c->format) &&
                           !tg_format_lookup(c->format)->seq_monotonic),
        .max_symbols = (uint32_t)cfg->engine.max_symbols,
    };
    return tg_validator_init(&f->validator, &vc);
}

int tg_feed_init(tg_feed_t *f, const tg_config_t *cfg, uint16_t index, size_t ring_capacity,
                 tg_metrics_t *metrics, tg_feed_wake_fn wake, void *wake_arg)
{
    memset(f, 0, sizeof *f);
    f->conf = &cfg->feeds[index];
    f->cfg = cfg;
    f->index = index;
    f->wake = wake;
    f->wake_arg = wake_arg;
    f->metrics = metrics;
    f->ops = tg_feed_ops_for(f->conf->type);
    if (!f->ops) {
        TG_ERROR("feed_unsupported", "feed", TG_S(f->conf->name), "type",
                 TG_S(tg_feed_type_name(f->conf->type)));
        return -ENOTSUP;
    }
    char label[200];
    snprintf(label, sizeof label, "feed:%s", f->conf->name);
    int rc = tg_ring_create(&f->ring, label, sizeof(tg_tick_t), ring_capacity, TG_RING_BLOCK);
    if (rc)
        return rc;
    if ((rc = init_tables(f, cfg)) != 0)
        goto fail;
    tg_breaker_init(&f->breaker, &f->conf->breaker, (uint64_t)index * 7919 + (uint64_t)tg_now_ns(),
                    tg_mono_ns());
    atomic_init(&f->breaker_state, TG_BREAKER_CLOSED);

    const char *name = f->conf->name;
    snprintf(label, sizeof label, "feed=\"%s\"", name);
    f->m_received = tg_metrics_counter(metrics, "tickgate_ticks_received_total", label,
                                       "Ticks received from the feed, before validation");
    f->m_skipped = tg_metrics_counter(metrics, "tickgate_feed_ticks_skipped_total", label,
                                      "Synthetic ticks skipped because the generator ran late");
    f->m_state = tg_metrics_gauge(metrics, "tickgate_breaker_state", label,
                                  "Breaker state per feed: 0 closed, 1 half_open, 2 open");
    rc = -ENOMEM;
    if (!f->m_received || !f->m_skipped || !f->m_state)
        goto fail;
    for (int r = 1; r < TG_REJECT__COUNT; r++) {
        snprintf(label, sizeof label, "feed=\"%s\",reason=\"%s\"", name,
                 tg_reject_name((tg_reject_t)r));
        f->m_rejected[r] = tg_metrics_counter(metrics, "tickgate_ticks_rejected_total", label,
                                              "Ticks rejected by validation, by reason");
        if (!f->m_rejected[r])
            goto fail;
    }
    for (int st = 0; st < 3; st++) {
        snprintf(label, sizeof label, "feed=\"%s\",to=\"%s\"", name,
                 tg_breaker_state_name((tg_breaker_state_t)st));
        f->m_transitions[st] = tg_metrics_counter(metrics, "tickgate_breaker_transitions_total",
                                                  label, "Breaker transitions by target state");
        if (!f->m_transitions[st])
            goto fail;
    }
    if ((rc = tg_metrics_watch_ring(metrics, f->ring)) != 0)
        goto fail;
    rc = f->ops->init(f);
    if (rc)
        goto fail;
    return 0;
fail:
    tg_metrics_unwatch_ring(metrics, f->ring);
    tg_validator_free(&f->validator);
    tg_symtab_free(&f->filter);
    tg_symtab_free(&f->map);
    tg_ring_destroy(f->ring);
    f->ring = NULL;
    return rc;
}

static void *feed_thread(void *arg)
{
    tg_feed_t *f = arg;
    char name[16];
    snprintf(name, sizeof name, "feed-%.10s", f->conf->name);
    pthread_setname_np(pthread_self(), name);
    int rc = f->ops->run(f);
    if (rc)
        TG_ERROR("feed_disconnected", "feed", TG_S(f->conf->name), "error", TG_S(strerror(-rc)));
    return NULL;
}

int tg_feed_start(tg_feed_t *f)
{
    int rc = pthread_create(&f->thread, NULL, feed_thread, f);
    if (rc)
        return -rc;
    f->started = true;
    return 0;
}

void tg_feed_stop(tg_feed_t *f)
{
    if (!f->started)
        return;
    atomic_store(&f->stop, 1);
    pthread_join(f->thread, NULL);
    f->started = false;
}

void tg_feed_destroy(tg_feed_t *f)
{
    if (!f)
        return;
    tg_feed_stop(f);
    if (f->ops && f->priv)
        f->ops->destroy(f);
    tg_metrics_unwatch_ring(f->metrics, f->ring);
    tg_validator_free(&f->validator);
    tg_symtab_free(&f->filter);
    tg_symtab_free(&f->map);
    tg_ring_destroy(f->ring);
    f->ring = NULL;
}

/* Push records, waiting while the engine is behind (feed rings backpressure). */
static void push(tg_feed_t *f, const tg_tick_t *t, size_t n)
{
    size_t done = 0;
    while (done < n && !tg_feed_stopping(f)) {
        done += tg_ring_push(f->ring, t + done, n - done);
        if (f->wake)
            f->wake(f->wake_arg);
        if (done < n) {
            struct timespec pause = {0, 50000};
            nanosleep(&pause, NULL);
        }
    }
}

static void on_transition(tg_feed_t *f, const tg_breaker_transition_t *tr)
{
    atomic_store_explicit(&f->breaker_state, tr->to, memory_order_relaxed);
    tg_gauge_set(f->m_state, tr->to);
    tg_counter_add(f->m_transitions[tr->to], 1);
    TG_WARN("breaker_transition", "feed", TG_S(f->conf->name), "from",
            TG_S(tg_breaker_state_name(tr->from)), "to", TG_S(tg_breaker_state_name(tr->to)),
            "reason", TG_S(tr->reason), "open_wait_ms", TG_I(tr->open_wait_ns / 1000000));
    tg_tick_t st;
    memset(&st, 0, sizeof st);
    st.flags = TG_TICK_STATUS;
    st.ts = tg_now_ns();
    st.feed = f->index;
    st.price = tr->to;
    snprintf(st.symbol, sizeof st.symbol, "%s", tr->reason);
    st.sym_len = (uint8_t)strlen(st.symbol);
    push(f, &st, 1);
}

static void breaker_event(tg_feed_t *f, tg_breaker_event_t ev)
{
    tg_breaker_transition_t tr;
    if (tg_breaker_on_event(&f->breaker, ev, tg_mono_ns(), &tr))
        on_transition(f, &tr);
}

void tg_feed_poll(tg_feed_t *f)
{
    tg_breaker_transition_t tr;
    int64_t now = tg_mono_ns();
    while (tg_breaker_tick(&f->breaker, now, &tr))
        on_transition(f, &tr);
}

void tg_feed_neutral(tg_feed_t *f)
{
    breaker_event(f, TG_BREAKER_EV_NEUTRAL);
}

void tg_feed_unknown_message(tg_feed_t *f)
{
    tg_counter_add(f->m_rejected[TG_REJECT_UNKNOWN_MESSAGE], 1);
    breaker_event(f, TG_BREAKER_EV_NEUTRAL);
}

void tg_feed_parse_error(tg_feed_t *f)
{
    tg_counter_add(f->m_rejected[TG_REJECT_PARSE_ERROR], 1);
    breaker_event(f, TG_BREAKER_EV_FAILURE);
}

void tg_feed_connect_error(tg_feed_t *f)
{
    breaker_event(f, TG_BREAKER_EV_CONNECT_ERROR);
}

void tg_feed_disconnected(tg_feed_t *f)
{
    TG_WARN("feed_disconnected", "feed", TG_S(f->conf->name));
    breaker_event(f, TG_BREAKER_EV_DISCONNECT);
}

void tg_feed_symbol_limit(tg_feed_t *f, const char *symbol)
{
    tg_counter_add(f->m_rejected[TG_REJECT_SYMBOL_LIMIT], 1);
    if (atomic_exchange(&f->symbol_limit_logged, 1) == 0)
        TG_WARN("symbol_limit", "feed", TG_S(f->conf->name), "symbol", TG_S(symbol),
                "max_symbols", TG_I(f->validator._conf.max_symbols),
                "note", TG_S("further new symbols are refused and counted, not logged"));
}

void tg_feed_emit(tg_feed_t *f, tg_tick_t *ticks, size_t n)
{
    int64_t now = tg_now_ns();
    size_t w = 0;
    tg_counter_add(f->m_received, n);
    for (size_t i = 0; i < n; i++) {
        tg_tick_t *t = &ticks[i];
        t->ts = now;
        t->feed = f->index;
        if (f->has_map) {
            int32_t k = tg_symtab_find(&f->map, t->symbol, t->sym_len);
            if (k >= 0) {
                const char *to = f->conf->map_to.v[k];
                size_t len = strlen(to);
                memcpy(t->symbol, to, len + 1);
                t->sym_len = (uint8_t)len;
            }
        }
        if (f->has_filter && tg_symtab_find(&f->filter, t->symbol, t->sym_len) < 0) {
            breaker_event(f, TG_BREAKER_EV_NEUTRAL); /* filtered: liveness only */
            continue;
        }
        tg_reject_t r = tg_validate_tick(&f->validator, t, now);
        if (r != TG_REJECT_NONE) {
            if (r == TG_REJECT_SYMBOL_LIMIT)
                tg_feed_symbol_limit(f, t->symbol);
            else
                tg_counter_add(f->m_rejected[r], 1);
            /* a symbol outside the universe or past the limit says nothing about
             * the feed's health: the known symbols still flow */
            breaker_event(f, r == TG_REJECT_NOT_IN_UNIVERSE || r == TG_REJECT_SYMBOL_LIMIT
                                 ? TG_BREAKER_EV_NEUTRAL
                                 : TG_BREAKER_EV_FAILURE);
            continue;
        }
        breaker_event(f, TG_BREAKER_EV_SUCCESS);
        if (w != i)
            ticks[w] = *t;
        w++;
    }
    if (w)
        push(f, ticks, w);
    atomic_store_explicit(&f->last_tick_ns, tg_mono_ns(), memory_order_relaxed);
}
