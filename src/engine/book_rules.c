/* book_rules.c - the book's tick path: valuation, drift, loss/gain and price
 * alert rules evaluated per price (SPEC §4; the drift rule is explained in book_int.h).
 */
#include "book_int.h"

#include "tickgate/log.h"

/* ---- drift evaluation ----------------------------------------------------- */

/* Evaluate the drift rule on explicit holding values: *fire (some holding is
 * beyond its band) and *clear (every holding is within its resolve band).
 * The slack is for the one condition the state machine needs next
 * (`need_clear` when the alert is firing): for a condition that holds as an
 * AND (or fails as an OR) every inequality must keep its sign, so the slack is
 * the smallest |margin|; when it fails as an AND (holds as an OR) one witness
 * keeping its sign is enough, so it is the witness's largest margin. -1 when
 * V <= 0, where skipping is not allowed. */
void tg__book_drift_eval(const hold_t *h, size_t n, const tg_dec_t *vals, i128 V, bool need_clear,
                       bool *fire, bool *clear, i128 *slack)
{
    bool f = false, c = true;
    const i128 big = ((i128)1) << 125;
    i128 all_fire = big, wit_fire = -1, all_clear = big, wit_clear = -1;

    if (V == 0) {
        /* every weight is defined as 0 */
        for (size_t i = 0; i < n; i++) {
            if (h[i].bounds & HB_FIRE)
                f |= 0 >= h[i].fhi || 0 <= h[i].flo;
            if (h[i].bounds & HB_CLEAR)
                c &= h[i].clo <= 0 && 0 <= h[i].chi;
        }
        *fire = f;
        *clear = c;
        *slack = -1;
        return;
    }
    i128 sign = V < 0 ? -1 : 1;
    i128 VV = V * sign;
    for (size_t i = 0; i < n; i++) {
        i128 v2 = 2 * (i128)vals[i] * S * sign;
        if (h[i].bounds & HB_FIRE) {
            i128 m1 = v2 - (2 * (i128)h[i].fhi - 1) * VV;
            i128 m2 = v2 - (2 * (i128)h[i].flo + 1) * VV;
            bool hi = m1 > 0 || (m1 == 0 && !(h[i].fhi & 1));
            bool lo = m2 < 0 || (m2 == 0 && !(h[i].flo & 1));
            i128 a1 = abs128(m1), a2 = abs128(m2);
            if (a1 < all_fire)
                all_fire = a1;
            if (a2 < all_fire)
                all_fire = a2;
            if (hi && a1 > wit_fire)
                wit_fire = a1;
            if (lo && a2 > wit_fire)
                wit_fire = a2;
            f |= hi || lo;
        }
        if (h[i].bounds & HB_CLEAR) {
            i128 m3 = v2 - (2 * (i128)h[i].chi + 1) * VV;
            i128 m4 = v2 - (2 * (i128)h[i].clo - 1) * VV;
            bool in_hi = m3 < 0 || (m3 == 0 && !(h[i].chi & 1));
            bool in_lo = m4 > 0 || (m4 == 0 && !(h[i].clo & 1));
            i128 a3 = abs128(m3), a4 = abs128(m4);
            if (a3 < all_clear)
                all_clear = a3;
            if (a4 < all_clear)
                all_clear = a4;
            if (!in_hi && a3 > wit_clear)
                wit_clear = a3;
            if (!in_lo && a4 > wit_clear)
                wit_clear = a4;
            c &= in_hi && in_lo;
        }
    }
    *fire = f;
    *clear = c;
    if (V < 0)
        *slack = -1;
    else if (need_clear)
        *slack = c ? all_clear : wit_clear;
    else
        *slack = f ? wit_fire : all_fire;
}

void tg__book_gather_values(const tg_book_t *b, uint32_t slot, tg_dec_t *vals)
{
    const pf_cold_t *c = &b->cold[slot];
    for (size_t i = 0; i < c->spec.n_holdings; i++)
        vals[i] = b->syms[c->h[i].sym].pos[c->h[i].pos].value;
}

static void drift_full(tg_book_t *b, uint32_t slot)
{
    pf_hot_t *p = &b->hot[slot];
    const pf_cold_t *c = &b->cold[slot];
    bool fire, clear;
    i128 slack;

    tg__book_gather_values(b, slot, b->scratch);
    tg__book_drift_eval(c->h, c->spec.n_holdings, b->scratch, p->mv + p->cash, p->flags & F_DRIFT_FIRING,
               &fire, &clear, &slack);
    p->flags = (p->flags & ~(F_DRIFT_FIRE | F_DRIFT_CLEAR)) | (fire ? F_DRIFT_FIRE : 0) |
               (clear ? F_DRIFT_CLEAR : 0);
    p->slack = slack;
}

#define SLACK_BIG (((i128)1) << 125)
#define BUDGET_MAX (((int64_t)1) << 62)

/* |margin| of round8(num/den) against a comparison constant C (den > 0 after
 * normalizing): how far the comparison is from flipping. A ratio with a zero
 * denominator is constant 0 and never flips. */
static inline i128 ratio_margin(i128 num, i128 den, i128 C)
{
    if (den == 0)
        return SLACK_BIG;
    if (den < 0) {
        num = -num;
        den = -den;
    }
    return abs128(2 * num * S - C * den);
}

/* Loss and gain conditions from the money figures, only the one each state
 * machine needs (fire when quiet, clear when firing), and the smallest margin
 * among them: both margins move by exactly 2S|d| when a holding moves by d
 * (pnl and day change move by d, cost and the day-open value do not). */
uint32_t tg__book_loss_gain_conds(const pf_hot_t *p, const pf_cold_t *c, i128 V,
                                       i128 *slack)
{
    uint32_t f = 0;
    i128 sl = SLACK_BIG, m;
    if (p->flags & F_GAIN_ON) {
        i128 pnl = p->mv - p->cost;
        if (!(p->flags & F_GAIN_FIRING)) {
            if (ratio_ge(pnl, p->cost, c->gain_fire))
                f |= F_GAIN_FIRE;
            m = ratio_margin(pnl, p->cost, 2 * (i128)c->gain_fire - 1);
        } else {
            if (ratio_le(pnl, p->cost, c->gain_clear))
                f |= F_GAIN_CLEAR;
            m = ratio_margin(pnl, p->cost, 2 * (i128)c->gain_clear + 1);
        }
        if (m < sl)
            sl = m;
    }
    /* while the day-open value is pending, day_change is constant 0 */
    if ((p->flags & F_LOSS_ON) && !(p->flags & F_OPEN_PENDING)) {
        i128 dc = V - p->open;
        if (!(p->flags & F_LOSS_FIRING)) {
            if (ratio_le(dc, p->open, c->loss_fire))
                f |= F_LOSS_FIRE;
            m = ratio_margin(dc, p->open, 2 * (i128)c->loss_fire + 1);
        } else {
            if (ratio_ge(dc, p->open, c->loss_clear))
                f |= F_LOSS_CLEAR;
            m = ratio_margin(dc, p->open, 2 * (i128)c->loss_clear - 1);
        }
        if (m < sl)
            sl = m;
    } else if ((p->flags & F_LOSS_ON)) {
        if (!(p->flags & F_LOSS_FIRING)) {
            if (0 <= c->loss_fire)
                f |= F_LOSS_FIRE;
        } else if (0 >= c->loss_clear) {
            f |= F_LOSS_CLEAR;
        }
    }
    if (slack)
        *slack = sl;
    return f;
}

/* Full evaluation of every rule condition and of the slacks that let later
 * ticks skip it; resets the budget. */
void tg__book_eval_full(tg_book_t *b, uint32_t slot)
{
    pf_hot_t *p = &b->hot[slot];
    i128 sl;
    if (p->flags & F_DRIFT_ON)
        drift_full(b, slot);
    else
        p->slack = SLACK_BIG;
    p->flags = (p->flags & ~(F_LOSS_FIRE | F_LOSS_CLEAR | F_GAIN_FIRE | F_GAIN_CLEAR)) |
               tg__book_loss_gain_conds(p, &b->cold[slot], p->mv + p->cash, &sl);
    p->slack_lg = sl;
    p->budget = 0;
}

/* The conditions the state machines read, for comparing states. */
uint32_t tg__book_relevant_conds(uint32_t flags)
{
    uint32_t m = 0;
    if (flags & F_GATED)
        return 0; /* no machine reads them while the portfolio is gated */
    if (flags & F_DRIFT_ON)
        m |= (flags & F_DRIFT_FIRING) ? F_DRIFT_CLEAR : F_DRIFT_FIRE;
    if (flags & F_LOSS_ON)
        m |= (flags & F_LOSS_FIRING) ? F_LOSS_CLEAR : F_LOSS_FIRE;
    if (flags & F_GAIN_ON)
        m |= (flags & F_GAIN_FIRING) ? F_GAIN_CLEAR : F_GAIN_FIRE;
    return m;
}

/* ---- events --------------------------------------------------------------- */

void tg__book_emit(tg_book_t *b, tg_book_event_type_t type, uint32_t slot, int64_t ts,
                 const tg_alert_event_t *a)
{
    if (!b->on_event)
        return;
    tg_book_event_t ev = {.type = type, .slot = slot, .portfolio_id = b->hot[slot].id,
                          .ts = ts, .alert = a};
    b->on_event(b->ud, &ev);
}

/* max |drift| and, for the relative band, the largest |drift| / target over
 * holdings with a target (rounded to 8 places) and which holding has it. */
static tg_dec_t max_drift_of(const tg_book_t *b, uint32_t slot, int *rel_i, tg_dec_t *rel_v)
{
    const pf_hot_t *p = &b->hot[slot];
    const pf_cold_t *c = &b->cold[slot];
    i128 V = p->mv + p->cash;
    i128 md = 0, best = -1;
    bool sat = false;

    *rel_i = -1;
    *rel_v = 0;
    for (size_t i = 0; i < c->spec.n_holdings; i++) {
        const tg_holding_spec_t *hs = &c->spec.holdings[i];
        i128 w = ratio8(b->syms[c->h[i].sym].pos[c->h[i].pos].value, V);
        i128 d = abs128(clamp_dec(w, &sat) - (i128)hs->target_weight);
        if (d > md)
            md = d;
        if (hs->target_weight > 0) {
            i128 rv = ratio8(d, hs->target_weight);
            if (rv > best) {
                best = rv;
                *rel_i = (int)i;
            }
        }
    }
    if (*rel_i >= 0)
        *rel_v = clamp_dec(best, &sat);
    return clamp_dec(md, &sat);
}

static void alert_event(tg_book_t *b, uint32_t slot, int fsm_i, int state, int64_t ts)
{
    const pf_hot_t *p = &b->hot[slot];
    pf_cold_t *c = &b->cold[slot];
    const tg_alert_settings_t *a = &c->spec.alerts;
    tg_alert_event_t ev;
    i128 V = p->mv + p->cash;
    tg_dec_t level = 0;
    bool relative = false, sat = false;

    memset(&ev, 0, sizeof ev);
    memcpy(ev.alert_id, c->fsm[fsm_i].id, sizeof ev.alert_id);
    ev.portfolio_id = c->spec.id;
    ev.state = (tg_alert_state_t)state;
    ev.ts = ts;
    switch (fsm_i) {
    case FSM_DRIFT: {
        int ri;
        tg_dec_t rv;
        tg_dec_t md = max_drift_of(b, slot, &ri, &rv);
        ev.rule = TG_ALERT_REBALANCE_DRIFT;
        if (state == TG_ALERT_FIRING)
            /* report the band that fired: the absolute one when it did */
            c->drift_rel = a->drift_relative > 0 && ri >= 0 &&
                           !(a->rebalance_drift > 0 && md >= a->rebalance_drift);
        relative = c->drift_rel && ri >= 0;
        if (relative) {
            ev.value = rv;
            ev.threshold = a->drift_relative;
            snprintf(ev.symbol, sizeof ev.symbol, "%s", c->spec.holdings[ri].symbol);
        } else {
            ev.value = md;
            ev.threshold = a->rebalance_drift;
        }
        tg_alert_resolve_level(TG_ALERT_REBALANCE_DRIFT, ev.threshold, a->hysteresis, &level);
        break;
    }
    case FSM_LOSS: {
        i128 open = (p->flags & F_OPEN_PENDING) ? V : p->open;
        ev.rule = TG_ALERT_LOSS_LIMIT;
        ev.value = clamp_dec(ratio8(V - open, open), &sat);
        ev.threshold = c->loss_fire;
        level = c->loss_clear;
        break;
    }
    default:
        ev.rule = TG_ALERT_GAIN_TARGET;
        ev.value = clamp_dec(ratio8(p->mv - p->cost, p->cost), &sat);
        ev.threshold = c->gain_fire;
        level = c->gain_clear;
        break;
    }
    ev.severity = tg_alert_rule_severity(ev.rule);
    tg_alert_format_message(&ev, level, relative);
    tg__book_emit(b, TG_BOOK_EV_ALERT, slot, ts, &ev);
}

/* Run the three portfolio rules' state machines on the current conditions. */
void tg__book_step_rules(tg_book_t *b, uint32_t slot, int64_t ts)
{
    static const uint32_t on[3] = {F_DRIFT_ON, F_LOSS_ON, F_GAIN_ON};
    static const uint32_t fire[3] = {F_DRIFT_FIRE, F_LOSS_FIRE, F_GAIN_FIRE};
    static const uint32_t clear[3] = {F_DRIFT_CLEAR, F_LOSS_CLEAR, F_GAIN_CLEAR};
    static const uint32_t firing[3] = {F_DRIFT_FIRING, F_LOSS_FIRING, F_GAIN_FIRING};
    pf_hot_t *p = &b->hot[slot];
    const uint32_t before = p->flags;

    for (int i = 0; i < 3; i++) {
        bool is_firing = p->flags & firing[i];
        bool enabled = p->flags & on[i];
        /* gated (SPEC §13): an enabled rule neither fires nor resolves on a
         * placeholder or overflowed figure; a disabled one still resolves */
        if (enabled && (p->flags & F_GATED))
            continue;
        /* a disabled rule never fires, and a firing one resolves at once */
        bool beyond = enabled && (p->flags & fire[i]);
        bool cleared = !enabled || (p->flags & clear[i]);
        if (is_firing ? !cleared : !beyond)
            continue;
        int t = tg_alert_fsm_step(&b->cold[slot].fsm[i], beyond, cleared, &b->ids);
        if (t == TG_ALERT_FIRING)
            p->flags |= firing[i];
        else if (t == TG_ALERT_RESOLVED)
            p->flags &= ~firing[i];
        if (t)
            alert_event(b, slot, i, t, ts);
    }
    /* the cached conditions were for the side each machine was on: refresh
     * them for the side it is on now (the drift slack too) */
    if (p->flags != before)
        tg__book_eval_full(b, slot);
}

/* Recompute F_GATED from the hot figures; true when it changed. Leaving the
 * gate needs a full evaluation (the caller's); entering it because of an
 * overflow is logged, once per episode, with the portfolio named. */
bool tg__book_update_gate(tg_book_t *b, uint32_t slot)
{
    pf_hot_t *p = &b->hot[slot];
    bool g = gated_now(p), was = p->flags & F_GATED;
    if (g == was)
        return false;
    if (g) {
        p->flags |= F_GATED;
        if (p->overflow || !money_in_range(p))
            TG_WARN("portfolio_overflow", "portfolio", TG_S(p->id), "error",
                    TG_S("a holding value or total exceeds +-92233720368.54775807: figures are "
                         "clamped and flagged, value rules paused until it fits again"));
    } else {
        p->flags &= ~F_GATED;
        p->budget = 0;
    }
    return true;
}

/* The `unpriced` alert (SPEC §13): value = holdings without a quote. */
void tg__book_unpriced_event(tg_book_t *b, uint32_t slot, int state, int64_t ts)
{
    pf_hot_t *p = &b->hot[slot];
    pf_cold_t *c = &b->cold[slot];
    tg_alert_event_t ev;

    if (state == TG_ALERT_FIRING) {
        c->fsm[FSM_UNPRICED].firing = true;
        tg_alert_ids_next(&b->ids, c->fsm[FSM_UNPRICED].id);
        p->flags |= F_UNPRICED_FIRING;
    } else {
        c->fsm[FSM_UNPRICED].firing = false;
        p->flags &= ~F_UNPRICED_FIRING;
    }
    memset(&ev, 0, sizeof ev);
    memcpy(ev.alert_id, c->fsm[FSM_UNPRICED].id, sizeof ev.alert_id);
    ev.portfolio_id = c->spec.id;
    ev.rule = TG_ALERT_UNPRICED;
    ev.severity = tg_alert_rule_severity(TG_ALERT_UNPRICED);
    ev.state = (tg_alert_state_t)state;
    ev.value = TG_DEC(p->missing);
    ev.threshold = TG_DEC(b->unpriced_after_s);
    ev.ts = ts;
    /* the first symbol still without a quote, so the message can name one */
    for (size_t i = 0; i < c->spec.n_holdings && state == TG_ALERT_FIRING; i++)
        if (!b->syms[c->h[i].sym].has_price) {
            snprintf(ev.symbol, sizeof ev.symbol, "%s", c->spec.holdings[i].symbol);
            break;
        }
    tg_alert_format_message(&ev, 0, false);
    tg__book_emit(b, TG_BOOK_EV_ALERT, slot, ts, &ev);
}

void tg_book_check_unpriced(tg_book_t *b, int64_t now)
{
    if (!b || b->unpriced_after_ns <= 0)
        return;
    for (uint32_t s = 0; s < b->nslots; s++) {
        const pf_hot_t *p = &b->hot[s];
        if (p->missing && !(p->flags & F_UNPRICED_FIRING) && b->cold[s].alive &&
            now - b->cold[s].loaded_ts >= b->unpriced_after_ns)
            tg__book_unpriced_event(b, s, TG_ALERT_FIRING, now);
    }
}

/* ---- the tick path -------------------------------------------------------- */

int tg__book_ensure_syms(tg_book_t *b, uint32_t n)
{
    size_t cap = b->nsyms;
    int rc = tg_vec_reserve(&b->syms, sizeof *b->syms, &cap, n, 64);
    if (rc == 0)
        b->nsyms = (uint32_t)cap; /* n <= the symbol table's capacity (uint32_t) */
    return rc;
}

void tg_book_on_price(tg_book_t *b, uint32_t sym, tg_dec_t price, int64_t ts)
{
    if (!b || sym >= tg_symtab_count(b->syms_tab))
        return;
    /* first sight of a symbol id: a one-time growth, not per tick */
    if (sym >= b->nsyms && tg__book_ensure_syms(b, sym + 1) < 0)
        return;
    symbook_t *sb = &b->syms[sym];
    bool first = !sb->has_price;
    sb->price = price;
    sb->has_price = true;

    pos_t *pv = sb->pos;
    uint32_t n = sb->n;
    for (uint32_t k = 0; k < n; k++) {
        if (k + 4 < n)
            __builtin_prefetch(&b->hot[pv[k + 4].pf]);
        pos_t *ps = &pv[k];
        pf_hot_t *p = &b->hot[ps->pf];
        tg_dec_t nv = value_of(ps->qty, price);
        i128 d = (i128)nv - ps->value;
        if (first)
            p->missing--;
        if (d == 0 && !first && !(p->flags & F_OPEN_PENDING))
            continue;
        if (value_saturated(ps->value) != value_saturated(nv))
            p->overflow += value_saturated(nv) ? 1 : -1;
        ps->value = nv;
        raise_top(p, nv);
        p->mv += d;
        p->ts = ts;
        i128 V = p->mv + p->cash;
        bool full = false;
        if (p->flags & F_OPEN_PENDING) {
            /* the first valuation at or after the session open */
            p->open = V;
            p->flags &= ~F_OPEN_PENDING;
            full = true;
        } else if (first) {
            /* day_change counts only priced holdings (SPEC §13): a holding's
             * day baseline is its value at its first price, so its placeholder
             * leaves the day-open value as it leaves the value */
            p->open += d;
            full = true;
        }
        if (tg__book_update_gate(b, ps->pf))
            full = true;
        if (first && p->missing == 0 && (p->flags & F_UNPRICED_FIRING))
            tg__book_unpriced_event(b, ps->pf, TG_ALERT_RESOLVED, ts);
        if (p->flags & F_GATED) {
            full = false; /* nothing to evaluate; update_gate re-evaluates on the way out */
        } else if (!full) {
            /* skip the rules while no margin can have flipped (book_int.h) */
            i128 ad = abs128(d);
            if (ad >= BUDGET_MAX - p->budget) {
                full = true;
            } else {
                p->budget += (int64_t)ad;
                if ((p->flags & F_DRIFT_ON) && (V <= 0 || p->slack < 0))
                    full = true;
                else
                    full = !((i128)p->budget * p->K < p->slack &&
                             (i128)p->budget * (2 * S) < p->slack_lg);
            }
        }
        if (full) {
            tg__book_eval_full(b, ps->pf);
            tg__book_step_rules(b, ps->pf, ts);
        }
        tg__book_emit(b, TG_BOOK_EV_PORTFOLIO, ps->pf, ts, NULL);
    }
}

void tg__book_price_alert_event(tg_book_t *b, const watch_t *w, uint32_t sym, tg_dec_t price,
                              int state, int64_t ts)
{
    tg_alert_event_t ev;

    memset(&ev, 0, sizeof ev);
    memcpy(ev.alert_id, w->fsm.id, sizeof ev.alert_id);
    ev.portfolio_id = b->cold[w->pf].spec.id;
    snprintf(ev.symbol, sizeof ev.symbol, "%s", tg_symtab_name(b->syms_tab, sym));
    ev.rule = w->rule;
    ev.severity = tg_alert_rule_severity(w->rule);
    ev.state = (tg_alert_state_t)state;
    ev.value = price;
    ev.threshold = w->level;
    ev.ts = ts;
    tg_alert_format_message(&ev, w->clear, false);
    tg__book_emit(b, TG_BOOK_EV_ALERT, w->pf, ts, &ev);
}

void tg__book_watch_eval(tg_book_t *b, watch_t *w, uint32_t sym, tg_dec_t price, int64_t ts)
{
    bool beyond, cleared;
    if (w->rule == TG_ALERT_PRICE_ABOVE) {
        beyond = price >= w->level;
        cleared = price <= w->clear;
    } else {
        beyond = price <= w->level;
        cleared = price >= w->clear;
    }
    if (w->fsm.firing ? !cleared : !beyond)
        return;
    int t = tg_alert_fsm_step(&w->fsm, beyond, cleared, &b->ids);
    if (t)
        tg__book_price_alert_event(b, w, sym, price, t, ts);
}

void tg_book_on_price_alerts(tg_book_t *b, uint32_t sym, tg_dec_t price, int64_t ts)
{
    if (!b || sym >= b->nsyms)
        return;
    symbook_t *sb = &b->syms[sym];
    for (uint32_t k = 0; k < sb->nw; k++)
        tg__book_watch_eval(b, &sb->w[k], sym, price, ts);
    if (sb->nmr)
        tg__book_move_tick(b, sym, price, ts);
}

void tg_book_on_tick_done(tg_book_t *b, uint32_t sym)
{
    if (b && sym < b->nsyms && b->syms[sym].mflush)
        tg__book_move_settle(b, sym);
}

void tg_book_on_tick(tg_book_t *b, uint32_t sym, tg_dec_t price, int64_t ts)
{
    tg_book_on_price_alerts(b, sym, price, ts);
    tg_book_on_price(b, sym, price, ts);
    tg_book_on_tick_done(b, sym);
}

void tg_book_session_open(tg_book_t *b, int64_t ts)
{
    if (!b)
        return;
    for (uint32_t s = 0; s < b->nslots; s++) {
        if (!b->cold[s].alive)
            continue;
        pf_hot_t *p = &b->hot[s];
        p->flags |= F_OPEN_PENDING;
        tg__book_update_gate(b, s);
        /* day_change is now 0: re-evaluate loss_limit on that */
        tg__book_eval_full(b, s);
        p->ts = ts;
        tg__book_step_rules(b, s, ts);
        tg__book_emit(b, TG_BOOK_EV_PORTFOLIO, s, ts, NULL);
    }
}

bool tg_book_last_price(const tg_book_t *b, uint32_t sym, tg_dec_t *price)
{
    if (!b || sym >= b->nsyms || !b->syms[sym].has_price)
        return false;
    if (price)
        *price = b->syms[sym].price;
    return true;
}
