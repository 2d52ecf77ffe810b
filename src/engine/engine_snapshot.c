/* engine_snapshot.c - periodic portfolio snapshots pushed to the snapshot ring. */
#include "engine_int.h"

/*
 * Every postgres.snapshot_interval_ms: one row per symbol and per portfolio
 * that changed since the last snapshot, all stamped with the snapshot time.
 * Rows the ring cannot take stay dirty and are pushed on the next loop turns
 * with the same time (their figures as of the push): the engine never waits
 * for the writer, and a snapshot larger than the ring still goes out whole.
 * Returns true when nothing is left.
 */
bool tg__engine_take_snapshot(tg_engine_t *e, int64_t ts)
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
        size_t taken = e->sinks.snapshots.push(e->sinks.snapshots.ctx, e->snap_rows, k);
        for (size_t i = first; i < first + taken; i++)
            e->quotes[e->snap_q[i]].snap_dirty = false;
        if (taken < k) {
            done = first + taken;
            break;
        }
    }
    if (done) /* snap_q is NULL until the first quote changes */
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
            /* the holdings come from the last `portfolio` message: tg__engine_publish a
             * pending state now so figures and holdings are one state */
            if (with_holdings && pp->dirty)
                tg__engine_publish_portfolio(e, slot);
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
        size_t taken = k ? e->sinks.snapshots.push(e->sinks.snapshots.ctx, e->snap_rows, k) : 0;
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
