/* book_risk.c - the SPEC §13 risk rules of the book: concentration and
 * volatility (evaluated once a second by tg_book_risk_tick), move (every tick,
 * like the price rules). Same state machine, hysteresis and ids as the §4
 * rules (alerts.h).
 *
 * concentration: max |weight| = max_i |round8(v_i / V)| = round8(max_i |v_i| / |V|)
 * (half-to-even rounding is symmetric and monotonic), so the sweep finds the
 * largest |holding value| and divides once. Exact, like the drift rule, but
 * sampled once a second rather than per tick: it is a posture check, and the
 * per-tick budget stays with the drift rule.
 * volatility: one sample of the portfolio value per second into
 * tg_risk_vol_t (risk.h: exact running sums, comparisons without sqrt).
 * move: a tg_risk_move_t (two monotonic deques) per (portfolio, symbol).
 *
 * Value-based rules (concentration, volatility) are not evaluated while a
 * portfolio is unpriced (see pf_priced); the volatility window restarts then.
 */
#include "book_int.h"
#include "tickgate/buf.h"

#include "tickgate/log.h"

/* Whether the value-based rules may run: every holding has a quote, so no
 * figure rests on a cost-basis placeholder (SPEC §13 "Unpriced portfolios"),
 * and no figure overflowed (book_int.h gated_now). */
static bool pf_priced(const pf_hot_t *p)
{
    return p->missing == 0 && !(p->flags & F_GATED);
}

static void risk_free(pf_risk_t *r)
{
    if (!r)
        return;
    tg_risk_vol_free(&r->vol);
    free(r->moves);
    free(r);
}

static void risk_event(tg_book_t *b, uint32_t slot, tg_alert_rule_t rule, const tg_alert_fsm_t *f,
                       int state, tg_dec_t value, tg_dec_t threshold, tg_dec_t level,
                       const char *symbol, int window_s, int64_t ts)
{
    tg_alert_event_t ev;
    memset(&ev, 0, sizeof ev);
    memcpy(ev.alert_id, f->id, sizeof ev.alert_id);
    ev.portfolio_id = b->cold[slot].spec.id;
    if (symbol)
        snprintf(ev.symbol, sizeof ev.symbol, "%s", symbol);
    ev.rule = rule;
    ev.severity = tg_alert_rule_severity(rule);
    ev.state = (tg_alert_state_t)state;
    ev.value = value;
    ev.threshold = threshold;
    ev.window_s = window_s;
    ev.ts = ts;
    tg_alert_format_message(&ev, level, false);
    tg__book_emit(b, TG_BOOK_EV_ALERT, slot, ts, &ev);
}

int tg__book_risk_prepare(tg_book_t *b, const tg_portfolio_spec_t *spec, char *err,
                          size_t errlen)
{
    const tg_alert_settings_t *a = &spec->alerts;
    for (size_t i = 0; i < a->n_move; i++) {
        const char *sy = a->move[i].symbol;
        int32_t id = tg_symtab_intern(b->syms_tab, sy, strlen(sy));
        if (id < 0) {
            if (err && errlen)
                snprintf(err, errlen, "portfolio %s: symbol %s: %s", spec->id, sy,
                         id == -ENOSPC ? "too many symbols (engine.max_symbols)" : "invalid");
            return id;
        }
    }
    int rc = tg__book_ensure_syms(b, tg_symtab_count(b->syms_tab));
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < a->n_move; i++) {
        symbook_t *sb =
            &b->syms[tg_symtab_find(b->syms_tab, a->move[i].symbol, strlen(a->move[i].symbol))];
        if (tg_vec_reserve32(&sb->mr, sizeof *sb->mr, &sb->capmr, (size_t)sb->nmr + 1, 4) < 0 ||
            tg_vec_reserve32(&sb->mwin, sizeof *sb->mwin, &sb->capmwin, (size_t)sb->nmwin + 1,
                             2) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* Free window wi of sb (no watch reads it) and move the last one into its place. */
static void mwin_drop(symbook_t *sb, uint32_t wi)
{
    tg_risk_move_free(&sb->mwin[wi].mv);
    uint32_t last = --sb->nmwin;
    if (wi != last) {
        sb->mwin[wi] = sb->mwin[last];
        for (uint32_t j = 0; j < sb->nmr; j++)
            if (sb->mr[j].win == last)
                sb->mr[j].win = wi;
    }
    sb->mr_stale = true;
}

/* keep_windows: a replacement (PUT, reload) follows, so a window left without
 * watches stays until tg__book_risk_install has run: a watch of the same
 * symbol and length in the new spec takes it over with its history, instead
 * of starting an empty window that misses a move already under way. */
pf_risk_t *tg__book_risk_detach(tg_book_t *b, uint32_t slot, bool keep_windows)
{
    pf_risk_t *r = b->cold[slot].risk;
    b->cold[slot].risk = NULL;
    if (!r)
        return NULL;
    for (uint32_t i = 0; i < r->n_moves; i++) {
        symbook_t *sb = &b->syms[r->moves[i].sym];
        for (uint32_t k = 0; k < sb->nmr; k++) {
            if (sb->mr[k].pf != slot || sb->mr[k].i != i)
                continue;
            uint32_t wi = sb->mr[k].win;
            sb->mr[k] = sb->mr[--sb->nmr];
            sb->mr_stale = true;
            if (--sb->mwin[wi].refs == 0 && !keep_windows) /* the last watch of this window */
                mwin_drop(sb, wi);
            break;
        }
    }
    return r;
}

/* Firing alerts of a detached risk state resolve (portfolio removed, or the
 * rule is gone after a replacement); then it is freed. */
void tg__book_risk_end(tg_book_t *b, uint32_t slot, pf_risk_t *r, int64_t ts)
{
    if (!r)
        return;
    if (r->conc_fsm.firing)
        risk_event(b, slot, TG_ALERT_CONCENTRATION, &r->conc_fsm, TG_ALERT_RESOLVED, 0, 0, 0,
                   NULL, 0, ts);
    if (r->vol_fsm.firing)
        risk_event(b, slot, TG_ALERT_VOLATILITY, &r->vol_fsm, TG_ALERT_RESOLVED,
                   tg_risk_vol_value(&r->vol), 0, 0, NULL, 0, ts);
    for (uint32_t i = 0; i < r->n_moves; i++)
        if (r->moves[i].fsm.firing)
            risk_event(b, slot, TG_ALERT_MOVE, &r->moves[i].fsm, TG_ALERT_RESOLVED, 0,
                       r->moves[i].pct, r->moves[i].clear,
                       tg_symtab_name(b->syms_tab, r->moves[i].sym), r->moves[i].window_s, ts);
    risk_free(r);
}

void tg__book_risk_install(tg_book_t *b, uint32_t slot, pf_risk_t *old, int64_t ts)
{
    pf_cold_t *c = &b->cold[slot];
    const tg_alert_settings_t *a = &c->spec.alerts;
    pf_risk_t *r = NULL;

    if (a->concentration > 0 || a->volatility > 0 || a->n_move) {
        r = calloc(1, sizeof *r);
        if (r && a->n_move && !(r->moves = calloc(a->n_move, sizeof *r->moves))) {
            free(r);
            r = NULL;
        }
        if (r && a->volatility > 0 &&
            tg_risk_vol_init(&r->vol, (uint32_t)a->volatility_window_s) != 0) {
            risk_free(r);
            r = NULL;
        }
        if (!r) /* allocation at a put; the portfolio itself is in place */
            TG_ERROR("risk_rules_off", "portfolio", TG_S(c->spec.id), "error",
                     TG_S("out of memory"));
    }
    if (r) {
        tg_alert_resolve_level(TG_ALERT_CONCENTRATION, a->concentration, a->hysteresis,
                               &r->conc_clear);
        tg_alert_resolve_level(TG_ALERT_VOLATILITY, a->volatility, a->hysteresis, &r->vol_clear);
        /* carry the episodes over a replacement (same id), like the §4 rules */
        if (old && a->concentration > 0) {
            r->conc_fsm = old->conc_fsm;
            old->conc_fsm.firing = false;
        }
        if (old && a->volatility > 0) {
            r->vol_fsm = old->vol_fsm;
            old->vol_fsm.firing = false;
        }
        for (size_t i = 0; i < a->n_move; i++) {
            move_watch_t *w = &r->moves[i];
            const tg_move_spec_t *ms = &a->move[i];
            w->sym = (uint32_t)tg_symtab_find(b->syms_tab, ms->symbol, strlen(ms->symbol));
            w->window_s = ms->window_s;
            w->pct = ms->pct;
            tg_alert_resolve_level(TG_ALERT_MOVE, ms->pct, a->hysteresis, &w->clear);
            for (uint32_t k = 0; old && k < old->n_moves; k++)
                if (old->moves[k].sym == w->sym && old->moves[k].fsm.firing) {
                    w->fsm = old->moves[k].fsm;
                    old->moves[k].fsm.firing = false;
                }
            /* the symbol's window of this length, shared (capacity reserved by _prepare) */
            symbook_t *sb = &b->syms[w->sym];
            int64_t wns = (int64_t)ms->window_s * 1000000000LL;
            uint32_t wi = 0;
            while (wi < sb->nmwin && sb->mwin[wi].mv.window_ns != wns)
                wi++;
            if (wi == sb->nmwin) {
                mwin_t *mw = &sb->mwin[sb->nmwin++];
                memset(mw, 0, sizeof *mw);
                mw->lo = mw->hi = sb->price;
                tg_risk_move_init(&mw->mv, wns);
            }
            sb->mwin[wi].refs++;
            sb->mr_stale = true;
            sb->mr[sb->nmr++] = (mref_t){.pf = slot, .i = (uint32_t)i, .win = wi,
                                         .firing = w->fsm.firing, .pct = w->pct,
                                         .clear = w->clear};
            r->n_moves++;
        }
    }
    c->risk = r;
    /* the windows the old spec left (detach with keep_windows) that no watch took over */
    for (uint32_t k = 0; old && k < old->n_moves; k++) {
        symbook_t *sb = &b->syms[old->moves[k].sym];
        for (uint32_t wi = sb->nmwin; wi-- > 0;)
            if (sb->mwin[wi].refs == 0)
                mwin_drop(sb, wi);
    }
    tg__book_risk_end(b, slot, old, ts);
}

tg_alert_fsm_t *tg__book_risk_fsm(tg_book_t *b, uint32_t slot, tg_alert_rule_t rule,
                                  const char *symbol)
{
    pf_risk_t *r = b->cold[slot].risk;
    if (!r)
        return NULL;
    const tg_alert_settings_t *a = &b->cold[slot].spec.alerts;
    if (rule == TG_ALERT_CONCENTRATION)
        return a->concentration > 0 ? &r->conc_fsm : NULL;
    if (rule == TG_ALERT_VOLATILITY)
        return a->volatility > 0 ? &r->vol_fsm : NULL;
    for (uint32_t i = 0; symbol && i < r->n_moves; i++)
        if (!strcmp(tg_symtab_name(b->syms_tab, r->moves[i].sym), symbol))
            return &r->moves[i].fsm;
    return NULL;
}

/* ---- per tick: move ---------------------------------------------------------- */

/* Rebuild each window's summary from its watches: O(watches of the symbol),
 * once after a change, never per tick. */
static void move_summary(symbook_t *sb)
{
    for (uint32_t k = 0; k < sb->nmwin; k++) {
        sb->mwin[k].idle_min_pct = INT64_MAX;
        sb->mwin[k].firing_max_clear = INT64_MIN;
        sb->mwin[k].nfiring = 0;
    }
    for (uint32_t k = 0; k < sb->nmr; k++) {
        const mref_t *m = &sb->mr[k];
        mwin_t *mw = &sb->mwin[m->win];
        if (m->firing) {
            mw->nfiring++;
            if (m->clear > mw->firing_max_clear)
                mw->firing_max_clear = m->clear;
        } else if (m->pct < mw->idle_min_pct) {
            mw->idle_min_pct = m->pct;
        }
    }
    sb->mr_stale = false;
}

void tg__book_move_tick(tg_book_t *b, uint32_t sym, tg_dec_t price, int64_t ts)
{
    symbook_t *sb = &b->syms[sym];
    if (sb->mr_stale)
        move_summary(sb);
    bool any = false;
    for (uint32_t k = 0; k < sb->nmwin; k++) {
        mwin_t *mw = &sb->mwin[k];
        if (tg_risk_move_push(&mw->mv, ts, price, &mw->lo, &mw->hi) != 0)
            mw->lo = mw->hi = price; /* out of memory: no move seen on this tick */
        sb->mflush |= tg_risk_move_flush_due(&mw->mv);
        /* ratio_ge falls and ratio_le rises as the threshold grows: a move below
         * the smallest idle threshold is below every one of them, and one above
         * the largest clear level of the firing watches clears none of them, so
         * the window's watches are skipped on two tests for all of them */
        tg_dec_t lo = mw->lo, hi = mw->hi, g = mw->idle_min_pct, c = mw->firing_max_clear;
        mw->live = (lo > 0 && ratio_ge((i128)price - lo, lo, g)) ||
                   (hi > 0 && ratio_ge((i128)hi - price, hi, g)) ||
                   (mw->nfiring && (lo <= 0 || ratio_le((i128)price - lo, lo, c)) &&
                    (hi <= 0 || ratio_le((i128)hi - price, hi, c)));
        any |= mw->live;
    }
    if (!any)
        return;
    for (uint32_t k = 0; k < sb->nmr; k++) {
        mref_t *m = &sb->mr[k];
        if (!sb->mwin[m->win].live)
            continue;
        tg_dec_t lo = sb->mwin[m->win].lo, hi = sb->mwin[m->win].hi;
        /* |move| = max(round8((p - lo) / lo), round8((hi - p) / hi)), compared by
         * cross-multiplication: no division and no cold memory on the tick path */
        bool beyond, cleared;
        if (!m->firing) {
            beyond = (lo > 0 && ratio_ge((i128)price - lo, lo, m->pct)) ||
                     (hi > 0 && ratio_ge((i128)hi - price, hi, m->pct));
            if (!beyond)
                continue;
            cleared = false;
        } else {
            cleared = (lo <= 0 || ratio_le((i128)price - lo, lo, m->clear)) &&
                      (hi <= 0 || ratio_le((i128)hi - price, hi, m->clear));
            if (!cleared)
                continue;
            beyond = false;
        }
        move_watch_t *w = &b->cold[m->pf].risk->moves[m->i];
        int t = tg_alert_fsm_step(&w->fsm, beyond, cleared, &b->ids);
        if (m->firing != w->fsm.firing)
            sb->mr_stale = true;
        m->firing = w->fsm.firing;
        if (t)
            risk_event(b, m->pf, TG_ALERT_MOVE, &w->fsm, t, tg_risk_move_value(price, lo, hi),
                       w->pct, w->clear, tg_symtab_name(b->syms_tab, sym), w->window_s, ts);
    }
}

/* The deque work of the windows whose held-back ticks are due, after the
 * rest of the tick (tg_book_on_tick, the engine's batch): what it reads was
 * prefetched by the push that filled the buffer. Nothing observable: the
 * next push would do it. */
void tg__book_move_settle(tg_book_t *b, uint32_t sym)
{
    symbook_t *sb = &b->syms[sym];
    sb->mflush = false;
    for (uint32_t k = 0; k < sb->nmwin; k++)
        if (tg_risk_move_flush_due(&sb->mwin[k].mv))
            tg_risk_move_flush(&sb->mwin[k].mv);
}

/* After tg_book_restore_alert changed a move episode: refresh the inline mirrors. */
void tg__book_risk_sync(tg_book_t *b, uint32_t slot)
{
    pf_risk_t *r = b->cold[slot].risk;
    for (uint32_t i = 0; r && i < r->n_moves; i++) {
        symbook_t *sb = &b->syms[r->moves[i].sym];
        for (uint32_t k = 0; k < sb->nmr; k++)
            if (sb->mr[k].pf == slot && sb->mr[k].i == i)
                sb->mr[k].firing = r->moves[i].fsm.firing;
        sb->mr_stale = true;
    }
}

/* ---- once a second: concentration, volatility --------------------------------- */

/*
 * Cannot be at or beyond th: ratio8(top, V) <= top*S/V + 1/2 <= hint*S/V + 1/2,
 * so hint*S < (th - 1)*V means the rounded weight is below th. Only with
 * operands that keep the products far inside i128; otherwise "maybe".
 */
static bool conc_surely_below(uint64_t hint, i128 V, tg_dec_t th)
{
    if (th <= 1 || th > ((tg_dec_t)1 << 40) || V <= 0 || V > ((i128)1 << 80))
        return false;
    return (i128)hint * S < (i128)(th - 1) * V;
}

static void concentration_eval(tg_book_t *b, uint32_t slot, pf_risk_t *r, int64_t ts)
{
    pf_hot_t *p = &b->hot[slot];
    const pf_cold_t *c = &b->cold[slot];
    i128 V = abs128(p->mv + p->cash), top = -1;
    if (!r->conc_fsm.firing && conc_surely_below(p->top, V, c->spec.alerts.concentration))
        return; /* quiet and provably below: nothing to read */
    size_t at = 0;
    for (size_t i = 0; i < c->spec.n_holdings; i++) {
        i128 v = abs128(b->syms[c->h[i].sym].pos[c->h[i].pos].value);
        if (v > top) {
            top = v;
            at = i;
        }
    }
    if (top < 0)
        return;
    p->top = top > (i128)UINT64_MAX ? UINT64_MAX : (uint64_t)top; /* exact again */
    bool sat = false;
    tg_dec_t w = clamp_dec(ratio8(top, V), &sat); /* 0 when V == 0 (SPEC: weight 0) */
    tg_dec_t th = c->spec.alerts.concentration;
    bool beyond = w >= th, cleared = w <= r->conc_clear;
    if (r->conc_fsm.firing ? !cleared : !beyond)
        return;
    int t = tg_alert_fsm_step(&r->conc_fsm, beyond, cleared, &b->ids);
    if (t)
        risk_event(b, slot, TG_ALERT_CONCENTRATION, &r->conc_fsm, t, w, th, r->conc_clear,
                   c->spec.holdings[at].symbol, 0, ts);
}

static void volatility_eval(tg_book_t *b, uint32_t slot, pf_risk_t *r, int64_t ts)
{
    tg_risk_vol_sample(&r->vol, b->hot[slot].mv + b->hot[slot].cash);
    if (tg_risk_vol_samples(&r->vol) < TG_RISK_VOL_MIN_SAMPLES)
        return;
    tg_dec_t th = b->cold[slot].spec.alerts.volatility;
    bool beyond = tg_risk_vol_ge(&r->vol, th), cleared = tg_risk_vol_le(&r->vol, r->vol_clear);
    if (r->vol_fsm.firing ? !cleared : !beyond)
        return;
    int t = tg_alert_fsm_step(&r->vol_fsm, beyond, cleared, &b->ids);
    if (t)
        risk_event(b, slot, TG_ALERT_VOLATILITY, &r->vol_fsm, t, tg_risk_vol_value(&r->vol), th,
                   r->vol_clear, NULL, 0, ts);
}

void tg_book_risk_tick(tg_book_t *b, int64_t ts)
{
    if (!b)
        return;
    for (uint32_t s = 0; s < b->nslots; s++) {
        pf_risk_t *r = b->cold[s].risk;
        if (!r || !b->cold[s].alive)
            continue;
        const tg_alert_settings_t *a = &b->cold[s].spec.alerts;
        if (!pf_priced(&b->hot[s])) {
            tg_risk_vol_reset(&r->vol); /* returns of placeholders mean nothing */
            continue;
        }
        if (a->concentration > 0)
            concentration_eval(b, s, r, ts);
        if (a->volatility > 0)
            volatility_eval(b, s, r, ts);
    }
}
