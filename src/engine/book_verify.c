/* book_verify.c - exactness checking: capture the incremental state and
 * compare it with a full recomputation, bit for bit.
 */
#include "book_int.h"

tg_book_state_t *tg_book_state_new(void)
{
    return calloc(1, sizeof(tg_book_state_t));
}

void tg_book_state_free(tg_book_state_t *s)
{
    if (!s)
        return;
    free(s->pf);
    free(s->hv);
    free(s);
}

static int state_reserve(const tg_book_t *b, tg_book_state_t *s)
{
    size_t nv = 0;
    for (uint32_t i = 0; i < b->nslots; i++)
        if (b->cold[i].alive)
            nv += b->cold[i].spec.n_holdings;
    if (b->nslots > s->cap_pf) {
        struct st_pf *pf = realloc(s->pf, b->nslots * sizeof *pf);
        if (!pf)
            return -ENOMEM;
        s->pf = pf;
        s->cap_pf = b->nslots;
    }
    if (nv > s->cap_v) {
        tg_dec_t *hv = realloc(s->hv, nv * sizeof *hv);
        if (!hv)
            return -ENOMEM;
        s->hv = hv;
        s->cap_v = nv;
    }
    s->npf = b->nslots;
    s->nv = nv;
    return 0;
}

int tg_book_capture_state(const tg_book_t *b, tg_book_state_t *s)
{
    if (!b || !s)
        return -EINVAL;
    int rc = state_reserve(b, s);
    if (rc < 0)
        return rc;
    size_t k = 0;
    for (uint32_t i = 0; i < b->nslots; i++) {
        struct st_pf *o = &s->pf[i];
        memset(o, 0, sizeof *o);
        if (!(o->alive = b->cold[i].alive))
            continue;
        const pf_hot_t *p = &b->hot[i];
        o->mv = p->mv;
        o->cash = p->cash;
        o->cost = p->cost;
        o->pending = p->flags & F_OPEN_PENDING;
        o->open = o->pending ? 0 : p->open;
        o->conds = p->flags & tg__book_relevant_conds(p->flags);
        o->gated = (p->flags & F_GATED) ? 1 : 0;
        tg__book_gather_values(b, i, s->hv + k);
        k += b->cold[i].spec.n_holdings;
    }
    return 0;
}

int tg_book_recompute_full(const tg_book_t *b, tg_book_state_t *s)
{
    if (!b || !s)
        return -EINVAL;
    int rc = state_reserve(b, s);
    if (rc < 0)
        return rc;
    size_t k = 0;
    for (uint32_t i = 0; i < b->nslots; i++) {
        struct st_pf *o = &s->pf[i];
        memset(o, 0, sizeof *o);
        if (!(o->alive = b->cold[i].alive))
            continue;
        const pf_cold_t *c = &b->cold[i];
        const pf_hot_t *p = &b->hot[i];
        tg_dec_t *vals = s->hv + k;
        i128 mv = 0;
        int64_t cost = 0;
        uint32_t missing = 0, overflow = 0;
        for (size_t j = 0; j < c->spec.n_holdings; j++) {
            const tg_holding_spec_t *hs = &c->spec.holdings[j];
            const symbook_t *sb = &b->syms[c->h[j].sym];
            vals[j] = sb->has_price ? value_of(hs->quantity, sb->price) : hs->cost_basis;
            missing += !sb->has_price;
            overflow += sb->has_price && value_saturated(vals[j]);
            mv += vals[j];
            cost += hs->cost_basis;
        }
        k += c->spec.n_holdings;
        o->mv = mv;
        o->cash = c->spec.cash;
        o->cost = cost;
        /* the day-open value is history, not a function of prices: take it as is */
        o->pending = p->flags & F_OPEN_PENDING;
        o->open = o->pending ? 0 : p->open;
        i128 V = mv + c->spec.cash;
        uint32_t conds = 0;
        if (p->flags & F_DRIFT_ON) {
            bool fire, clear;
            i128 slack;
            tg__book_drift_eval(c->h, c->spec.n_holdings, vals, V, p->flags & F_DRIFT_FIRING, &fire, &clear,
                       &slack);
            conds |= (fire ? F_DRIFT_FIRE : 0) | (clear ? F_DRIFT_CLEAR : 0);
        }
        pf_hot_t tmp = *p;
        tmp.mv = mv;
        tmp.cost = cost;
        tmp.missing = (uint16_t)missing;
        tmp.overflow = (uint16_t)overflow;
        o->gated = gated_now(&tmp) ? 1 : 0;
        conds |= tg__book_loss_gain_conds(&tmp, c, V, NULL);
        o->conds = conds & tg__book_relevant_conds(p->flags);
    }
    return 0;
}

static void fmt128(i128 v, char *buf, size_t cap)
{
    char tmp[48];
    int n = 0;
    bool neg = v < 0;
    unsigned __int128 u = neg ? -(unsigned __int128)v : (unsigned __int128)v;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    size_t o = 0;
    if (neg && o + 1 < cap)
        buf[o++] = '-';
    while (n && o + 1 < cap)
        buf[o++] = tmp[--n];
    buf[o] = 0;
}

bool tg_book_equal_state(const tg_book_state_t *a, const tg_book_state_t *b, char *err,
                         size_t errlen)
{
    char x[48], y[48];
    if (a->npf != b->npf || a->nv != b->nv) {
        if (err && errlen)
            snprintf(err, errlen, "shape differs: %zu/%zu slots, %zu/%zu holdings", a->npf, b->npf,
                     a->nv, b->nv);
        return false;
    }
    for (size_t i = 0; i < a->npf; i++) {
        const struct st_pf *p = &a->pf[i], *q = &b->pf[i];
        const char *what = NULL;
        i128 u = 0, w = 0;
        if (p->alive != q->alive)
            what = "alive";
        else if (p->mv != q->mv)
            what = "market_value", u = p->mv, w = q->mv;
        else if (p->cash != q->cash)
            what = "cash", u = p->cash, w = q->cash;
        else if (p->cost != q->cost)
            what = "cost_basis", u = p->cost, w = q->cost;
        else if (p->pending != q->pending || p->open != q->open)
            what = "day_open", u = p->open, w = q->open;
        else if (p->conds != q->conds)
            what = "rule conditions", u = p->conds, w = q->conds;
        else if (p->gated != q->gated)
            what = "gated (unpriced/overflow)", u = p->gated, w = q->gated;
        if (what) {
            fmt128(u, x, sizeof x);
            fmt128(w, y, sizeof y);
            if (err && errlen)
                snprintf(err, errlen, "slot %zu: %s: %s != %s", i, what, x, y);
            return false;
        }
    }
    for (size_t i = 0; i < a->nv; i++)
        if (a->hv[i] != b->hv[i]) {
            if (err && errlen)
                snprintf(err, errlen, "holding value #%zu: %lld != %lld", i, (long long)a->hv[i],
                         (long long)b->hv[i]);
            return false;
        }
    return true;
}
