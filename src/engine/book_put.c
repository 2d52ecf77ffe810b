/* book_put.c - changing the book: put/remove/load portfolios, restore alerts,
 * and the read-only portfolio view.
 */
#include "book_int.h"

static int grow_slots(tg_book_t *b)
{
    uint32_t cap = b->capslots ? b->capslots * 2 : 16;
    pf_hot_t *hot = aligned_alloc(64, (size_t)cap * sizeof *hot);
    if (!hot)
        return -ENOMEM;
    pf_cold_t *cold = realloc(b->cold, (size_t)cap * sizeof *cold);
    if (!cold) {
        free(hot);
        return -ENOMEM;
    }
    b->cold = cold;
    uint32_t *fs = realloc(b->free_slots, (size_t)cap * sizeof *fs);
    if (!fs) {
        free(hot);
        return -ENOMEM;
    }
    b->free_slots = fs;
    if (b->nslots)
        memcpy(hot, b->hot, (size_t)b->nslots * sizeof *hot);
    free(b->hot);
    b->hot = hot;
    b->capslots = cap;
    return 0;
}

/* Room for `extra` more positions / price watches of one symbol. */
static int reserve_pos(symbook_t *sb, uint32_t extra)
{
    size_t cap = sb->cap;
    int rc = tg_vec_reserve(&sb->pos, sizeof *sb->pos, &cap, (size_t)sb->n + extra, 4);
    if (rc == 0)
        sb->cap = (uint32_t)cap; /* positions of a symbol <= portfolios x holdings: fits */
    return rc;
}

static int reserve_watch(symbook_t *sb, uint32_t extra)
{
    size_t cap = sb->capw;
    int rc = tg_vec_reserve(&sb->w, sizeof *sb->w, &cap, (size_t)sb->nw + extra, 4);
    if (rc == 0)
        sb->capw = (uint32_t)cap;
    return rc;
}

static void remove_positions(tg_book_t *b, uint32_t slot)
{
    pf_cold_t *c = &b->cold[slot];
    for (size_t i = 0; i < c->spec.n_holdings; i++) {
        symbook_t *sb = &b->syms[c->h[i].sym];
        uint32_t at = c->h[i].pos, last = sb->n - 1;
        if (at != last) {
            sb->pos[at] = sb->pos[last];
            b->cold[sb->pos[at].pf].h[sb->pos[at].h].pos = at;
        }
        sb->n--;
    }
}

/* Remove the slot's price watches, saving their states into saved[] (may be NULL). */
static size_t remove_watches(tg_book_t *b, uint32_t slot, watch_t *saved, uint32_t *saved_sym)
{
    const tg_alert_settings_t *a = &b->cold[slot].spec.alerts;
    size_t ns = 0;
    for (int kind = 0; kind < 2; kind++) {
        const tg_price_level_t *lv = kind ? a->price_below : a->price_above;
        size_t n = kind ? a->n_price_below : a->n_price_above;
        for (size_t i = 0; i < n; i++) {
            int32_t sym = tg_symtab_find(b->syms_tab, lv[i].symbol, strlen(lv[i].symbol));
            if (sym < 0 || (uint32_t)sym >= b->nsyms)
                continue;
            symbook_t *sb = &b->syms[sym];
            for (uint32_t k = 0; k < sb->nw; k++) {
                if (sb->w[k].pf != slot ||
                    sb->w[k].rule != (kind ? TG_ALERT_PRICE_BELOW : TG_ALERT_PRICE_ABOVE))
                    continue;
                if (saved) {
                    saved[ns] = sb->w[k];
                    saved_sym[ns] = (uint32_t)sym;
                    ns++;
                }
                sb->w[k] = sb->w[--sb->nw];
                break;
            }
        }
    }
    return ns;
}

/* Drift bounds of one holding from the settings (see the file header). */
static void holding_bounds(hold_t *h, const tg_holding_spec_t *hs, const tg_alert_settings_t *a)
{
    tg_dec_t t = hs->target_weight;
    bool have = false;
    tg_dec_t T = 0, R = 0;

    h->bounds = 0;
    if (a->rebalance_drift > 0) {
        tg_dec_t lvl;
        T = a->rebalance_drift;
        R = tg_alert_resolve_level(TG_ALERT_REBALANCE_DRIFT, T, a->hysteresis, &lvl) == 0 ? lvl : 0;
        have = true;
    }
    if (a->drift_relative > 0 && t > 0) {
        /* |d| / t >= r  <=>  |d| >= ceil(r t / S) since d is a whole number of units */
        i128 rt = (i128)a->drift_relative * t;
        tg_dec_t Tr = (tg_dec_t)((rt + S - 1) / S);
        tg_dec_t rl = 0;
        tg_alert_resolve_level(TG_ALERT_REBALANCE_DRIFT, a->drift_relative, a->hysteresis, &rl);
        /* |d| / t <= r'  <=>  |d| <= floor(r' t / S); r' < 0 never resolves */
        i128 rlt = (i128)rl * t;
        tg_dec_t Rr = rl < 0 ? -1 : (tg_dec_t)(rlt / S);
        if (!have || Tr < T)
            T = Tr;
        if (!have || Rr < R)
            R = Rr;
        have = true;
    }
    if (!have)
        return;
    h->fhi = t + T;
    h->flo = t - T;
    h->bounds = HB_FIRE;
    if (R >= 0) {
        h->chi = t + R;
        h->clo = t - R;
        h->bounds |= HB_CLEAR;
    } else {
        /* no value is within a negative band: force "not cleared" with an empty interval */
        h->chi = t - 1;
        h->clo = t + 1;
        h->bounds |= HB_CLEAR;
    }
}

static int64_t bound_k(const hold_t *h, size_t n)
{
    i128 k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!h[i].bounds)
            continue;
        i128 cs[4] = {2 * (i128)h[i].fhi - 1, 2 * (i128)h[i].flo + 1, 2 * (i128)h[i].chi + 1,
                      2 * (i128)h[i].clo - 1};
        for (int j = 0; j < 4; j++) {
            i128 a = abs128(cs[j]), c = abs128(2 * (i128)S - cs[j]);
            if (a > k)
                k = a;
            if (c > k)
                k = c;
        }
    }
    return (int64_t)k;
}

int tg_book_put_portfolio(tg_book_t *b, const tg_portfolio_spec_t *spec, int64_t ts, char *err,
                          size_t errlen)
{
    int rc;
    tg_portfolio_spec_t copy;
    hold_t *holds = NULL;
    watch_t *saved = NULL;
    uint32_t *saved_sym = NULL;
    int32_t *hsym = NULL;

    if (!b || !spec)
        return -EINVAL;
    rc = tg_portfolio_spec_validate(spec, err, errlen);
    if (rc < 0)
        return rc;

    /* 1. everything that can fail, before touching the book */
    size_t nh = spec->n_holdings;
    size_t nw = spec->alerts.n_price_above + spec->alerts.n_price_below;
    hsym = calloc(nh + nw + 1, sizeof *hsym);
    if (!hsym)
        return -ENOMEM;
    for (size_t i = 0; i < nh + nw; i++) {
        const char *sy = i < nh ? spec->holdings[i].symbol
                         : i < nh + spec->alerts.n_price_above
                             ? spec->alerts.price_above[i - nh].symbol
                             : spec->alerts.price_below[i - nh - spec->alerts.n_price_above].symbol;
        hsym[i] = tg_symtab_intern(b->syms_tab, sy, strlen(sy));
        if (hsym[i] < 0) {
            rc = hsym[i];
            if (err && errlen)
                snprintf(err, errlen, "portfolio %s: symbol %s: %s", spec->id, sy,
                         rc == -ENOSPC ? "too many symbols (engine.max_symbols)" : "invalid");
            goto fail_free_hsym;
        }
    }
    rc = tg__book_ensure_syms(b, tg_symtab_count(b->syms_tab));
    if (rc < 0)
        goto fail_free_hsym;
    for (size_t i = 0; i < nh + nw; i++) {
        rc = i < nh ? reserve_pos(&b->syms[hsym[i]], 1) : reserve_watch(&b->syms[hsym[i]], 1);
        if (rc < 0)
            goto fail_free_hsym;
    }
    if ((rc = tg__book_risk_prepare(b, spec, err, errlen)) < 0)
        goto fail_free_hsym;
    if (nh > b->scratch_cap) {
        tg_dec_t *sc = realloc(b->scratch, nh * sizeof *sc);
        if (!sc) {
            rc = -ENOMEM;
            goto fail_free_hsym;
        }
        b->scratch = sc;
        b->scratch_cap = nh;
    }
    int32_t slot = tg_book_find(b, spec->id);
    if (slot < 0) {
        if (!b->nfree && b->nslots == b->capslots && (rc = grow_slots(b)) < 0)
            goto fail_free_hsym;
        if ((rc = tg__book_idx_reserve(b)) < 0)
            goto fail_free_hsym;
    }
    holds = calloc(nh ? nh : 1, sizeof *holds);
    saved = calloc(nw + 1 + (slot >= 0 ? b->cold[slot].spec.alerts.n_price_above +
                                             b->cold[slot].spec.alerts.n_price_below
                                       : 0),
                   sizeof *saved);
    saved_sym = calloc(nw + 1 + (slot >= 0 ? b->cold[slot].spec.alerts.n_price_above +
                                                 b->cold[slot].spec.alerts.n_price_below
                                           : 0),
                       sizeof *saved_sym);
    if (!holds || !saved || !saved_sym) {
        rc = -ENOMEM;
        goto fail_free_all;
    }
    rc = tg_portfolio_spec_copy(&copy, spec);
    if (rc < 0)
        goto fail_free_all;

    /* 2. install: nothing below fails */
    size_t nsaved = 0;
    uint32_t fsm_flags = 0;
    bool is_new = slot < 0;
    pf_risk_t *old_risk = NULL;
    if (!is_new) {
        pf_cold_t *c = &b->cold[slot];
        old_risk = tg__book_risk_detach(b, (uint32_t)slot, true);
        remove_positions(b, (uint32_t)slot);
        nsaved = remove_watches(b, (uint32_t)slot, saved, saved_sym);
        tg_portfolio_spec_free(&c->spec);
        free(c->h);
        fsm_flags = b->hot[slot].flags &
                    (F_DRIFT_FIRING | F_LOSS_FIRING | F_GAIN_FIRING | F_UNPRICED_FIRING);
    } else {
        slot = b->nfree ? (int32_t)b->free_slots[--b->nfree] : (int32_t)b->nslots++;
        pf_cold_t *c = &b->cold[slot];
        memset(c, 0, sizeof *c);
        c->alive = true;
        c->id_hash = tg__book_str_hash(copy.id);
        b->live++;
    }
    pf_cold_t *c = &b->cold[slot];
    pf_hot_t *p = &b->hot[slot];
    c->spec = copy;
    c->h = holds;
    holds = NULL;
    if (is_new)
        tg__book_idx_insert(b, (uint32_t)slot);

    memset(p, 0, sizeof *p);
    p->cash = copy.cash;
    const tg_alert_settings_t *a = &copy.alerts;
    for (size_t i = 0; i < nh; i++) {
        const tg_holding_spec_t *hs = &copy.holdings[i];
        symbook_t *sb = &b->syms[hsym[i]];
        hold_t *h = &c->h[i];
        h->sym = (uint32_t)hsym[i];
        h->pos = sb->n;
        holding_bounds(h, hs, a);
        tg_dec_t v = sb->has_price ? value_of(hs->quantity, sb->price) : hs->cost_basis;
        sb->pos[sb->n++] = (pos_t){.pf = (uint32_t)slot, .h = (uint32_t)i, .qty = hs->quantity,
                                   .value = v};
        p->mv += v;
        raise_top(p, v);
        p->cost += hs->cost_basis; /* validated to fit */
        if (!sb->has_price)
            p->missing++;
        else if (value_saturated(v))
            p->overflow++;
    }
    c->loaded_ts = ts;
    p->K = bound_k(c->h, nh);
    uint32_t flags = fsm_flags;
    for (size_t i = 0; i < nh; i++)
        if (c->h[i].bounds)
            flags |= F_DRIFT_ON;
    if (a->gain_target > 0) {
        flags |= F_GAIN_ON;
        c->gain_fire = a->gain_target;
        tg_alert_resolve_level(TG_ALERT_GAIN_TARGET, a->gain_target, a->hysteresis, &c->gain_clear);
    }
    if (a->loss_limit > 0) {
        flags |= F_LOSS_ON;
        c->loss_fire = -a->loss_limit;
        tg_alert_resolve_level(TG_ALERT_LOSS_LIMIT, -a->loss_limit, a->hysteresis, &c->loss_clear);
    }
    /* the day restarts from this value; placeholders of unpriced holdings are
     * in both, so day_change covers the priced holdings only (SPEC §13) */
    p->open = p->mv + p->cash;
    p->flags = flags;
    p->id = copy.id;
    p->ts = ts;
    tg__book_update_gate(b, (uint32_t)slot);
    tg__book_eval_full(b, (uint32_t)slot);

    /* price watches, carrying over the state of the same (rule, symbol) */
    for (size_t i = nh; i < nh + nw; i++) {
        bool above = i < nh + a->n_price_above;
        const tg_price_level_t *lv =
            above ? &a->price_above[i - nh] : &a->price_below[i - nh - a->n_price_above];
        tg_alert_rule_t rule = above ? TG_ALERT_PRICE_ABOVE : TG_ALERT_PRICE_BELOW;
        symbook_t *sb = &b->syms[hsym[i]];
        watch_t w = {.pf = (uint32_t)slot, .rule = rule, .level = lv->level};
        if (tg_alert_resolve_level(rule, lv->level, a->price_hysteresis, &w.clear) < 0)
            w.clear = lv->level;
        for (size_t k = 0; k < nsaved; k++)
            if (saved_sym[k] == (uint32_t)hsym[i] && saved[k].rule == rule) {
                w.fsm = saved[k].fsm;
                saved[k].fsm.firing = false;
            }
        sb->w[sb->nw++] = w;
    }
    /* watches that disappeared with the replacement resolve now */
    for (size_t k = 0; k < nsaved; k++)
        if (saved[k].fsm.firing) {
            saved[k].fsm.firing = false;
            tg__book_price_alert_event(b, &saved[k], saved_sym[k], b->syms[saved_sym[k]].price,
                              TG_ALERT_RESOLVED, ts);
        }
    tg__book_step_rules(b, (uint32_t)slot, ts);
    if (!p->missing && (p->flags & F_UNPRICED_FIRING))
        tg__book_unpriced_event(b, (uint32_t)slot, TG_ALERT_RESOLVED, ts);
    tg__book_risk_install(b, (uint32_t)slot, old_risk, ts);
    for (size_t i = nh; i < nh + nw; i++) {
        symbook_t *sb = &b->syms[hsym[i]];
        if (sb->has_price)
            for (uint32_t k = 0; k < sb->nw; k++)
                if (sb->w[k].pf == (uint32_t)slot)
                    tg__book_watch_eval(b, &sb->w[k], (uint32_t)hsym[i], sb->price, ts);
    }
    tg__book_emit(b, TG_BOOK_EV_PORTFOLIO, (uint32_t)slot, ts, NULL);
    free(saved);
    free(saved_sym);
    free(hsym);
    return 0;

fail_free_all:
    free(holds);
    free(saved);
    free(saved_sym);
fail_free_hsym:
    free(hsym);
    return rc;
}

int tg_book_remove_portfolio(tg_book_t *b, const char *id, int64_t ts)
{
    if (!b || !id)
        return -EINVAL;
    int32_t slot = tg_book_find(b, id);
    if (slot < 0)
        return -ENOENT;
    pf_cold_t *c = &b->cold[slot];
    pf_hot_t *p = &b->hot[slot];

    /* firing alerts end with their portfolio: turn every rule off and step */
    p->flags &= ~(F_DRIFT_ON | F_LOSS_ON | F_GAIN_ON);
    tg__book_step_rules(b, (uint32_t)slot, ts);
    if (p->flags & F_UNPRICED_FIRING)
        tg__book_unpriced_event(b, (uint32_t)slot, TG_ALERT_RESOLVED, ts);
    size_t nw = c->spec.alerts.n_price_above + c->spec.alerts.n_price_below;
    watch_t *saved = calloc(nw + 1, sizeof *saved);
    uint32_t *saved_sym = calloc(nw + 1, sizeof *saved_sym);
    size_t ns = remove_watches(b, (uint32_t)slot, saved, saved_sym);
    if (saved && saved_sym)
        for (size_t k = 0; k < ns; k++)
            if (saved[k].fsm.firing)
                tg__book_price_alert_event(b, &saved[k], saved_sym[k], b->syms[saved_sym[k]].price,
                                  TG_ALERT_RESOLVED, ts);
    free(saved);
    free(saved_sym);
    tg__book_risk_end(b, (uint32_t)slot, tg__book_risk_detach(b, (uint32_t)slot, false), ts);
    remove_positions(b, (uint32_t)slot);
    tg__book_emit(b, TG_BOOK_EV_REMOVED, (uint32_t)slot, ts, NULL);

    tg__book_idx_remove(b, (uint32_t)slot);
    tg_portfolio_spec_free(&c->spec);
    free(c->h);
    memset(c, 0, sizeof *c);
    memset(p, 0, sizeof *p);
    b->free_slots[b->nfree++] = (uint32_t)slot;
    b->live--;
    return 0;
}

int tg_book_load_json(tg_book_t *b, const char *text, size_t len, const tg_config_t *cfg,
                      int64_t ts, char *err, size_t errlen)
{
    tg_portfolio_spec_t *v = NULL;
    bool *keep = NULL;
    size_t n = 0;
    int rc;

    if (!b || !text)
        return -EINVAL;
    rc = tg_portfolios_parse_json(text, len, cfg, &v, &n, err, errlen);
    if (rc < 0)
        return rc;
    /* intern every symbol first so -ENOSPC leaves the book unchanged */
    for (size_t i = 0; i < n; i++) {
        const tg_portfolio_spec_t *s = &v[i];
        for (size_t j = 0; j < s->n_holdings + s->alerts.n_price_above + s->alerts.n_price_below;
             j++) {
            const char *sy = j < s->n_holdings ? s->holdings[j].symbol
                             : j < s->n_holdings + s->alerts.n_price_above
                                 ? s->alerts.price_above[j - s->n_holdings].symbol
                                 : s->alerts.price_below[j - s->n_holdings - s->alerts.n_price_above]
                                       .symbol;
            int32_t id = tg_symtab_intern(b->syms_tab, sy, strlen(sy));
            if (id < 0) {
                if (err && errlen)
                    snprintf(err, errlen, "portfolio %s: symbol %s: %s", s->id, sy,
                             id == -ENOSPC ? "too many symbols (engine.max_symbols)" : "invalid");
                rc = id;
                goto out;
            }
        }
    }
    /* remove what the file no longer has */
    keep = calloc(b->nslots + 1, sizeof *keep);
    if (!keep) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int32_t s = tg_book_find(b, v[i].id);
        if (s >= 0)
            keep[s] = true;
    }
    for (int32_t s = tg_book_next(b, -1); s >= 0; s = tg_book_next(b, s))
        if (!keep[s])
            tg_book_remove_portfolio(b, b->cold[s].spec.id, ts);
    for (size_t i = 0; i < n; i++) {
        rc = tg_book_put_portfolio(b, &v[i], ts, err, errlen);
        if (rc < 0)
            goto out;
    }
    rc = 0;
out:
    free(keep);
    tg_portfolio_specs_free(v, n);
    return rc;
}

int tg_book_restore_alert(tg_book_t *b, const char *portfolio_id, tg_alert_rule_t rule,
                          const char *symbol, const char *alert_id)
{
    if (!b || !portfolio_id || !alert_id || strlen(alert_id) > TG_ALERT_ID_LEN || !*alert_id)
        return -EINVAL;
    int32_t slot = tg_book_find(b, portfolio_id);
    if (slot < 0)
        return -ENOENT;
    tg_alert_fsm_t *f = NULL;
    uint32_t bit = 0;
    switch (rule) {
    case TG_ALERT_REBALANCE_DRIFT:
        f = &b->cold[slot].fsm[FSM_DRIFT];
        bit = F_DRIFT_FIRING;
        break;
    case TG_ALERT_LOSS_LIMIT:
        f = &b->cold[slot].fsm[FSM_LOSS];
        bit = F_LOSS_FIRING;
        break;
    case TG_ALERT_GAIN_TARGET:
        f = &b->cold[slot].fsm[FSM_GAIN];
        bit = F_GAIN_FIRING;
        break;
    case TG_ALERT_UNPRICED:
        f = &b->cold[slot].fsm[FSM_UNPRICED];
        bit = F_UNPRICED_FIRING;
        break;
    case TG_ALERT_PRICE_ABOVE:
    case TG_ALERT_PRICE_BELOW: {
        int32_t sym = symbol ? tg_symtab_find(b->syms_tab, symbol, strlen(symbol)) : -ENOENT;
        if (sym < 0 || (uint32_t)sym >= b->nsyms)
            return -ENOENT;
        symbook_t *sb = &b->syms[sym];
        for (uint32_t k = 0; k < sb->nw; k++)
            if (sb->w[k].pf == (uint32_t)slot && sb->w[k].rule == rule)
                f = &sb->w[k].fsm;
        if (!f)
            return -ENOENT;
        break;
    }
    case TG_ALERT_CONCENTRATION:
    case TG_ALERT_VOLATILITY:
    case TG_ALERT_MOVE:
        if (!(f = tg__book_risk_fsm(b, (uint32_t)slot, rule, symbol)))
            return -ENOENT;
        break;
    default:
        return -EINVAL;
    }
    f->firing = true;
    snprintf(f->id, sizeof f->id, "%s", alert_id);
    tg__book_risk_sync(b, (uint32_t)slot);
    pf_hot_t *p = &b->hot[slot];
    p->flags |= bit;
    tg__book_eval_full(b, (uint32_t)slot);
    /* quotes may have come before the restore: an episode that is over ends */
    if (rule == TG_ALERT_UNPRICED && !p->missing)
        tg__book_unpriced_event(b, (uint32_t)slot, TG_ALERT_RESOLVED, p->ts);
    return 0;
}

/* ---- views ---------------------------------------------------------------- */

int tg_book_portfolio_view(const tg_book_t *b, uint32_t slot, tg_holding_view_t *hbuf,
                           size_t hcap, tg_portfolio_view_t *v)
{
    if (!b || !v)
        return -EINVAL;
    if (slot >= b->nslots || !b->cold[slot].alive)
        return -ENOENT;
    const pf_cold_t *c = &b->cold[slot];
    const pf_hot_t *p = &b->hot[slot];
    size_t nh = c->spec.n_holdings;
    bool sat = false;

    memset(v, 0, sizeof *v);
    v->id = c->spec.id;
    v->owner = c->spec.owner;
    v->shared_with = c->spec.shared_with;
    v->n_shared_with = c->spec.n_shared_with;
    v->n_holdings = nh;
    v->ts = p->ts;
    if (nh > hcap || (nh && !hbuf))
        return -ENOSPC;
    v->holdings = hbuf;

    i128 V = p->mv + p->cash;
    i128 open = (p->flags & F_OPEN_PENDING) ? V : p->open;
    v->value = clamp_dec(V, &sat);
    v->cash = p->cash;
    v->market_value = clamp_dec(p->mv, &sat);
    v->cost_basis = p->cost;
    v->pnl = clamp_dec(p->mv - p->cost, &sat);
    v->pnl_pct = clamp_dec(ratio8(p->mv - p->cost, p->cost), &sat);
    v->day_open_value = clamp_dec(open, &sat);
    v->day_change = clamp_dec(V - open, &sat);
    v->day_change_pct = clamp_dec(ratio8(V - open, open), &sat);
    tg_dec_t md = 0;
    for (size_t i = 0; i < nh; i++) {
        const tg_holding_spec_t *hs = &c->spec.holdings[i];
        const symbook_t *sb = &b->syms[c->h[i].sym];
        tg_holding_view_t *h = &hbuf[i];
        h->symbol = hs->symbol;
        h->quantity = hs->quantity;
        h->has_price = sb->has_price;
        h->price = sb->has_price ? sb->price : 0;
        h->value = sb->pos[c->h[i].pos].value;
        h->cost_basis = hs->cost_basis;
        h->weight = clamp_dec(ratio8(h->value, V), &sat);
        h->target_weight = hs->target_weight;
        h->drift = clamp_dec((i128)h->weight - hs->target_weight, &sat);
        tg_dec_t ad = h->drift < 0 ? -h->drift : h->drift;
        if (ad > md)
            md = ad;
    }
    v->max_drift = md;
    v->saturated = sat || p->overflow;
    v->priced = p->missing == 0;
    return 0;
}

/* ---- exactness ------------------------------------------------------------ */
