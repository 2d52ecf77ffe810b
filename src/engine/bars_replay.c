/* bars_replay.c - `tickgate replay --bars IV --csv FILE`: bars offline from a journal.
 *
 * The same aggregator as the engine (tg_bars_t), fed the journal's trades in
 * journal order with their recorded ts: the bars printed are exactly the ones
 * the engine built live (bars it finalized by its timer are final here at
 * the symbol's next trade, with the same figures).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickgate/bars.h"
#include "tickgate/replay.h"
#include "tickgate/symtab.h"

typedef struct rctx {
    FILE *f;
    tg_bars_t *bars;
    tg_bar_iv_t iv;
    uint64_t rows;
} rctx_t;

static void put_row(rctx_t *c, const char *sym, const tg_bar_t *b, bool final)
{
    char o[TG_DEC_STRLEN + 1], h[TG_DEC_STRLEN + 1], l[TG_DEC_STRLEN + 1], cl[TG_DEC_STRLEN + 1],
        v[TG_DEC_STRLEN + 1], w[TG_DEC_STRLEN + 1];
    tg_dec_format(b->open, o);
    tg_dec_format(b->high, h);
    tg_dec_format(b->low, l);
    tg_dec_format(b->close, cl);
    tg_dec_format(b->volume, v);
    tg_dec_format(b->vwap, w);
    fprintf(c->f, "%s,%s,%lld,%s,%s,%s,%s,%s,%llu,%s,%s\n", sym, tg_bar_iv_name(c->iv),
            (long long)b->start, o, h, l, cl, v, (unsigned long long)b->trades, w,
            final ? "true" : "false");
    c->rows++;
}

static void on_bar(void *ud, uint32_t sym, tg_bar_iv_t iv, const tg_bar_t *bar, bool final)
{
    rctx_t *c = ud;
    if (iv != c->iv || !final)
        return;
    const char *name = tg_bars_symbol(c->bars, sym);
    if (name)
        put_row(c, name, bar, true);
}

int tg_bars_replay_csv(const char *journal_dir, tg_bar_iv_t iv, int64_t from, int64_t to,
                       const char *tzdir, const char *session_open, const char *session_tz,
                       const char *csv_out,
                       char *err, size_t errlen)
{
    if (!journal_dir || !*journal_dir || !csv_out || (unsigned)iv >= TG_BAR_IV_COUNT) {
        snprintf(err, errlen, "replay --bars: --journal DIR and --csv FILE are required");
        return -EINVAL;
    }
    rctx_t c = {.iv = iv};
    tg_symtab_t syms;
    tg_replay_src_t *src = NULL;
    int rc = tg_symtab_init(&syms, 0);
    if (rc) {
        snprintf(err, errlen, "replay --bars: out of memory");
        return rc;
    }
    tg_bars_options_t o = {.keep = 1, .grace_ns = 0, .session_open = session_open,
                           .session_tz = session_tz, .tzdir = tzdir, .emit = on_bar, .ud = &c};
    if ((rc = tg_bars_create(&c.bars, &o)) != 0) {
        snprintf(err, errlen, "replay --bars: out of memory");
        goto fail_syms;
    }
    if ((rc = tg_replay_open_journal(&src, journal_dir, from, to)) != 0) {
        snprintf(err, errlen, "replay --bars: %s: %s", journal_dir, strerror(-rc));
        goto fail_bars;
    }
    c.f = strcmp(csv_out, "-") == 0 ? stdout : fopen(csv_out, "we");
    if (!c.f) {
        rc = -errno;
        snprintf(err, errlen, "replay --bars: --csv %s: %s", csv_out, strerror(errno));
        goto fail_src;
    }
    fputs("symbol,interval,start,open,high,low,close,volume,trades,vwap,final\n", c.f);
    tg_tick_t t;
    while ((rc = tg_replay_next(src, &t)) == 1) {
        if (!(t.flags & TG_TICK_TRADE) || t.size <= 0)
            continue;
        int32_t id = tg_symtab_intern(&syms, t.symbol, t.sym_len);
        if (id < 0 || tg_bars_add_symbol(c.bars, (uint32_t)id, t.symbol, t.sym_len) != 0)
            continue;
        (void)tg_bars_on_trade(c.bars, (uint32_t)id, t.ts, t.price, t.size);
    }
    if (rc == 0) { /* the bars still open at the end */
        for (uint32_t id = 0; id < tg_symtab_count(&syms); id++) {
            tg_bar_t b;
            if (tg_bars_current(c.bars, id, iv, &b))
                put_row(&c, tg_symtab_name(&syms, id), &b, false);
        }
    } else {
        snprintf(err, errlen, "replay --bars: reading %s: %s", journal_dir, strerror(-rc));
    }
    if (fflush(c.f) != 0 && rc == 0) {
        rc = -EIO;
        snprintf(err, errlen, "replay --bars: writing %s failed", csv_out);
    }
    if (c.f != stdout)
        fclose(c.f);
fail_src:
    tg_replay_close(src);
fail_bars:
    tg_bars_destroy(c.bars);
fail_syms:
    tg_symtab_free(&syms);
    return rc < 0 ? rc : 0;
}
