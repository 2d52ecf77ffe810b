/* engine_bars.c - bars on the engine thread: messages, rows, journal rebuild (engine_bars.h). */
#include "engine_bars.h"
#include "tickgate/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickgate/clock.h"
#include "tickgate/encode.h"
#include "tickgate/log.h"
#include "tickgate/replay.h"

struct tg_ebars {
    tg_bars_t *bars;
    tg_ebars_publish_fn publish;
    void *engine;
    tg_row_sink_t sink;      /* final bars as rows (PostgreSQL), push NULL: none */
    bool quiet;              /* rebuilding: nothing is published */
    tg_snap_row_t *rows;     /* final bars the writer's ring had no room for, in order */
    size_t nrows, caprows;
    tg_counter_t *m_late;
    uint64_t late_reported;
    char jbuf[1024];
    unsigned char mbuf[1024];
};

/* Hand queued rows to the writer in order; what its ring cannot take waits. */
static void flush_rows(tg_ebars_t *eb)
{
    size_t n = eb->sink.push(eb->sink.ctx, eb->rows, eb->nrows);
    memmove(eb->rows, eb->rows + n, (eb->nrows - n) * sizeof *eb->rows);
    eb->nrows -= n;
}

/* A final bar for the `bars` table (written by the snapshot writer). */
static void queue_row(tg_ebars_t *eb, const char *name, tg_bar_iv_t iv, const tg_bar_t *bar)
{
    tg_snap_row_t r;
    memset(&r, 0, sizeof r);
    r.kind = TG_SNAP_BAR;
    r.ts = bar->start;
    snprintf(r.b.symbol, sizeof r.b.symbol, "%s", name);
    snprintf(r.b.interval, sizeof r.b.interval, "%s", tg_bar_iv_name(iv));
    r.b.open = bar->open;
    r.b.high = bar->high;
    r.b.low = bar->low;
    r.b.close = bar->close;
    r.b.volume = bar->volume;
    r.b.vwap = bar->vwap;
    r.b.trades = bar->trades;
    if (eb->nrows == 0 && eb->sink.push(eb->sink.ctx, &r, 1) == 1)
        return;
    /* writer behind: rare, so growing here is fine */
    if (tg_vec_reserve(&eb->rows, sizeof *eb->rows, &eb->caprows, eb->nrows + 1, 256) < 0) {
        TG_ERROR("bar_row_lost", "symbol", TG_S(name));
        return;
    }
    eb->rows[eb->nrows++] = r;
}

static void emit(void *ud, uint32_t sym, tg_bar_iv_t iv, const tg_bar_t *bar, bool final)
{
    tg_ebars_t *eb = ud;
    if (eb->quiet)
        return;
    const char *name = tg_bars_symbol(eb->bars, sym);
    if (!name)
        return;
    tg_enc_t enc;
    tg_enc_init(&enc, eb->jbuf, sizeof eb->jbuf, eb->mbuf, sizeof eb->mbuf);
    tg_bar_encode(&enc, name, iv, bar, final, true);
    if (enc.err)
        return;
    tg_msg_t *m = tg_msg_new(enc.json, enc.jlen, enc.mp, enc.mlen);
    if (!m)
        return;
    m->type = TG_MSG_BAR;
    m->channel = TG_CH_BARS;
    m->aux = final ? 1 : 0;
    m->seq = bar->seq;
    m->ts = 0; /* not a tick: stays out of tickgate_tick_to_send_seconds */
    snprintf(m->key_name, sizeof m->key_name, "%s@%s", name, tg_bar_iv_name(iv));
    eb->publish(eb->engine, m);
    if (final && eb->sink.push)
        queue_row(eb, name, iv, bar);
}

int tg__ebars_create(tg_ebars_t **out, const tg_config_t *cfg, tg_metrics_t *metrics,
                     tg_ebars_publish_fn publish, void *engine)
{
    tg_ebars_t *eb = calloc(1, sizeof *eb);
    if (!eb)
        return -ENOMEM;
    eb->publish = publish;
    eb->engine = engine;
    tg_bars_options_t o = {
        .keep = (uint32_t)(cfg->engine.bars_keep > 0 ? cfg->engine.bars_keep : 1440),
        .grace_ns = (int64_t)cfg->engine.bar_grace_ms * 1000000LL,
        .partial_gap_ns = 1000000000LL,
        .session_open = cfg->engine.session_open,
        .session_tz = cfg->engine.session_tz,
        .tzdir = cfg->engine.tzdir,
        .emit = emit,
        .ud = eb,
    };
    int rc = tg_bars_create(&eb->bars, &o);
    if (rc) {
        free(eb);
        return rc;
    }
    /* exported from start, at 0 (SPEC §15) */
    eb->m_late = tg_metrics_counter(metrics, "tickgate_bars_late_ticks_total", NULL,
                                    "Trades too late for their bar (per interval missed), not applied");
    if (!eb->m_late) {
        tg__ebars_destroy(eb);
        return -ENOMEM;
    }
    *out = eb;
    return 0;
}

void tg__ebars_destroy(tg_ebars_t *eb)
{
    if (!eb)
        return;
    tg_bars_destroy(eb->bars);
    free(eb->rows);
    free(eb);
}

void tg__ebars_set_rows(tg_ebars_t *eb, tg_row_sink_t rows)
{
    eb->sink = rows;
}

tg_bars_t *tg__ebars_bars(tg_ebars_t *eb)
{
    return eb ? eb->bars : NULL;
}

void tg__ebars_on_tick(tg_ebars_t *eb, uint32_t sym, const tg_tick_t *t)
{
    if (!(t->flags & TG_TICK_TRADE) || t->size <= 0)
        return; /* bid/ask-only updates and zero-size prints make no bar */
    /* first trade of a symbol: name it and reserve its bars (the only allocation) */
    if (!tg_bars_symbol(eb->bars, sym) &&
        tg_bars_add_symbol(eb->bars, sym, t->symbol, t->sym_len) != 0)
        return;
    (void)tg_bars_on_trade(eb->bars, sym, t->ts, t->price, t->size);
}

void tg__ebars_poll(tg_ebars_t *eb, int64_t now)
{
    tg_bars_poll(eb->bars, now);
    if (eb->nrows && eb->sink.push)
        flush_rows(eb);
    uint64_t late = tg_bars_late(eb->bars);
    if (late != eb->late_reported) {
        tg_counter_add(eb->m_late, late - eb->late_reported);
        eb->late_reported = late;
    }
}

long tg__ebars_rebuild(tg_ebars_t *eb, const char *dir, tg_ebars_sym_fn sym_of, void *engine)
{
    int64_t now = tg_now_ns();
    int64_t since = tg_bars_open_since(eb->bars, now);
    tg_replay_src_t *src = NULL;
    int rc = tg_replay_open_journal(&src, dir, since, 0);
    if (rc)
        return rc == -ENOENT ? 0 : rc;
    long n = 0;
    tg_tick_t t;
    eb->quiet = true;
    while ((rc = tg_replay_next(src, &t)) == 1) {
        if (!(t.flags & TG_TICK_TRADE) || t.size <= 0 || t.ts > now)
            continue;
        int32_t sym = sym_of(engine, &t);
        if (sym < 0)
            continue;
        tg__ebars_on_tick(eb, (uint32_t)sym, &t);
        n++;
    }
    eb->quiet = false;
    tg_replay_close(src);
    /* trades before the rebuild's own final bars are not "late" for the metric */
    eb->late_reported = tg_bars_late(eb->bars);
    return rc < 0 ? rc : n;
}
