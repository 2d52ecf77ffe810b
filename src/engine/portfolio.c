/* portfolio.c - the portfolio book: exact incremental valuation, drift,
 * day change and portfolio alerts (SPEC §4, include/tickgate/portfolio.h).
 *
 * Layout, chosen so a tick touches little memory (R2 = 100k portfolios does not
 * fit in any cache):
 *   - per symbol id, a contiguous array of positions {slot, holding, qty, value};
 *     the holding's current value lives in the position itself;
 *   - per portfolio slot, a 128-byte hot header (sums, day-open value, rule
 *     thresholds and state bits): the only random access per position;
 *   - everything else (ids, specs, per-holding drift bounds, alert ids) is cold
 *     and read only on full drift evaluations, transitions and views.
 *
 * Drift rule without division. With S = 10^8 and V > 0, the SPEC weight is
 * round8(v/V) = round(vS/V) half-to-even, so for an 8-place grid value g:
 *   round8(v/V) >= g  <=>  m = 2vS - (2g-1)V > 0, or m == 0 and g even
 *   round8(v/V) <= g  <=>  m = 2vS - (2g+1)V < 0, or m == 0 and g even
 * The rule "|round8(v_i/V) - t_i| >= T_i" is two such inequalities per holding.
 * A tick moving holding j by d moves every margin by at most K|d| (K = max of
 * |C| and |2S - C| over the portfolio's constants C), so after a full
 * evaluation we keep slack = min |m| and skip the per-holding loop while the
 * accumulated K|d| stays below it: no margin can have changed sign or reached
 * zero, so the outcome is exactly what a full evaluation would give.
 */
#include "tickgate/portfolio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S TG_DEC_SCALE

typedef __int128 i128;

/* ---- internal layout ------------------------------------------------------ */

typedef struct pos {
    uint32_t pf;     /* portfolio slot */
    uint32_t h;      /* holding index in the portfolio */
    tg_dec_t qty;
    tg_dec_t value;  /* current holding value (cost_basis until the first quote) */
} pos_t;

typedef struct watch {
    uint32_t pf;
    tg_alert_rule_t rule; /* TG_ALERT_PRICE_ABOVE / _BELOW */
    tg_dec_t level, clear;
    tg_alert_fsm_t fsm;
} watch_t;

typedef struct symbook {
    pos_t *pos;
    uint32_t n, cap;
    watch_t *w;
    uint32_t nw, capw;
    tg_dec_t price;
    bool has_price;
} symbook_t;

enum {
    HB_FIRE = 1, /* holding has firing bounds (fhi/flo) */
    HB_CLEAR = 2 /* holding has resolve bounds (chi/clo) */
};

typedef struct hold {
    uint32_t sym, pos;          /* symbol id, index in syms[sym].pos */
    tg_dec_t fhi, flo, chi, clo; /* bounds on round8(weight): fire >= fhi or <= flo; clear inside [clo, chi] */
    uint8_t bounds;              /* HB_* */
} hold_t;

enum {
    F_DRIFT_ON = 1u << 0,
    F_LOSS_ON = 1u << 1,
    F_GAIN_ON = 1u << 2,
    F_DRIFT_FIRE = 1u << 3, /* conditions from the last evaluation */
    F_DRIFT_CLEAR = 1u << 4,
    F_LOSS_FIRE = 1u << 5,
    F_LOSS_CLEAR = 1u << 6,
    F_GAIN_FIRE = 1u << 7,
    F_GAIN_CLEAR = 1u << 8,
    F_DRIFT_FIRING = 1u << 9, /* alert states (mirrors of the cold fsm) */
    F_LOSS_FIRING = 1u << 10,
    F_GAIN_FIRING = 1u << 11,
    F_OPEN_PENDING = 1u << 12, /* day-open value not captured yet */
};

typedef struct pf_hot {
    i128 mv;        /* sum of holding values */
    i128 open;      /* value at the session open (meaningless while F_OPEN_PENDING) */
    i128 slack;     /* drift margin at the last full evaluation (see drift_eval); < 0 = never skip */
    i128 slack_lg;  /* loss/gain margin at the last full evaluation */
    int64_t budget; /* sum of |d| since the last full evaluation (money units) */
    int64_t cash, cost;
    int64_t K;      /* drift margins move by at most K|d| per tick; loss/gain by 2S|d| */
    int64_t ts;     /* last change */
    const char *id; /* = cold spec.id, so events need no cold access */
    uint32_t missing; /* holdings whose symbol has no quote yet */
    uint32_t flags;
} __attribute__((aligned(64))) pf_hot_t;

_Static_assert(sizeof(pf_hot_t) == 128, "hot header is two cache lines");

enum { FSM_DRIFT = 0, FSM_LOSS, FSM_GAIN };

typedef struct pf_cold {
    tg_portfolio_spec_t spec; /* owned copy */
    hold_t *h;                /* spec.n_holdings */
    tg_alert_fsm_t fsm[3];
    tg_dec_t gain_fire, gain_clear; /* pnl_pct >= fire; resolved at <= clear */
    tg_dec_t loss_fire, loss_clear; /* day_change_pct <= fire (-loss_limit); resolved at >= clear */
    bool drift_rel;           /* the current drift episode fired on the relative band */
    bool alive;
    uint32_t id_hash;
} pf_cold_t;

struct tg_book {
    tg_symtab_t *syms_tab;
    tg_book_event_fn on_event;
    void *ud;
    tg_alert_ids_t ids;

    symbook_t *syms;
    uint32_t nsyms;

    pf_hot_t *hot;
    pf_cold_t *cold;
    uint32_t nslots, capslots;
    uint32_t *free_slots;
    uint32_t nfree;
    size_t live;

    uint32_t *idx;  /* id hash index: slot + 1, 0 empty, IDX_TOMB removed */
    uint32_t idx_mask, idx_used;

    tg_dec_t *scratch; /* holding values for a full drift evaluation */
    size_t scratch_cap;
};

#define IDX_TOMB UINT32_MAX

struct tg_book_state {
    size_t npf, cap_pf, nv, cap_v;
    struct st_pf {
        bool alive;
        i128 mv, open;
        int64_t cash, cost;
        uint32_t conds;
        uint32_t pending;
    } *pf;
    tg_dec_t *hv;
};

/* ---- exact helpers -------------------------------------------------------- */

/* Holding value: quantity x price half-to-even (tg_dec_mul). Beyond the
 * tg_dec_t range it saturates; both incremental and full paths use this one
 * function, so exactness between them holds regardless. */
static inline tg_dec_t value_of(tg_dec_t qty, tg_dec_t price)
{
    tg_dec_t v;
    if (__builtin_expect(tg_dec_mul(qty, price, &v) == 0, 1))
        return v;
    return ((qty < 0) != (price < 0)) ? TG_DEC_MIN : TG_DEC_MAX;
}

/* round8(num/den) >= g, exactly, without division (den == 0: the ratio is 0). */
static inline bool ratio_ge(i128 num, i128 den, tg_dec_t g)
{
    if (den == 0)
        return 0 >= g;
    if (den < 0) {
        num = -num;
        den = -den;
    }
    i128 m = 2 * num * S - (2 * (i128)g - 1) * den;
    return m > 0 || (m == 0 && !(g & 1));
}

/* round8(num/den) <= g, exactly, without division. */
static inline bool ratio_le(i128 num, i128 den, tg_dec_t g)
{
    if (den == 0)
        return 0 <= g;
    if (den < 0) {
        num = -num;
        den = -den;
    }
    i128 m = 2 * num * S - (2 * (i128)g + 1) * den;
    return m < 0 || (m == 0 && !(g & 1));
}

/* round8(num/den) half-to-even as i128 (0 when den == 0). Materialization
 * only: operands are __int128 sums, which tg_dec_div cannot take. */
static i128 ratio8(i128 num, i128 den)
{
    if (den == 0)
        return 0;
    if (den < 0) {
        num = -num;
        den = -den;
    }
    i128 n = num * S;
    i128 q = n / den, r = n % den;
    i128 r2 = (r < 0 ? -r : r) * 2;
    if (r2 > den || (r2 == den && (q & 1)))
        q += n < 0 ? -1 : 1;
    return q;
}

static inline tg_dec_t clamp_dec(i128 v, bool *sat)
{
    if (v > TG_DEC_MAX) {
        *sat = true;
        return TG_DEC_MAX;
    }
    if (v < TG_DEC_MIN) {
        *sat = true;
        return TG_DEC_MIN;
    }
    return (tg_dec_t)v;
}

static inline i128 abs128(i128 v)
{
    return v < 0 ? -v : v;
}

/* ---- drift evaluation ----------------------------------------------------- */

/* Evaluate the drift rule on explicit holding values: *fire (some holding is
 * beyond its band) and *clear (every holding is within its resolve band).
 * The slack is for the one condition the state machine needs next
 * (`need_clear` when the alert is firing): for a condition that holds as an
 * AND (or fails as an OR) every inequality must keep its sign, so the slack is
 * the smallest |margin|; when it fails as an AND (holds as an OR) one witness
 * keeping its sign is enough, so it is the witness's largest margin. -1 when
 * V <= 0, where skipping is not allowed. */
static void drift_eval(const hold_t *h, size_t n, const tg_dec_t *vals, i128 V, bool need_clear,
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

static void gather_values(const tg_book_t *b, uint32_t slot, tg_dec_t *vals)
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

    gather_values(b, slot, b->scratch);
    drift_eval(c->h, c->spec.n_holdings, b->scratch, p->mv + p->cash, p->flags & F_DRIFT_FIRING,
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
static inline uint32_t loss_gain_conds(const pf_hot_t *p, const pf_cold_t *c, i128 V,
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
static void eval_full(tg_book_t *b, uint32_t slot)
{
    pf_hot_t *p = &b->hot[slot];
    i128 sl;
    if (p->flags & F_DRIFT_ON)
        drift_full(b, slot);
    else
        p->slack = SLACK_BIG;
    p->flags = (p->flags & ~(F_LOSS_FIRE | F_LOSS_CLEAR | F_GAIN_FIRE | F_GAIN_CLEAR)) |
               loss_gain_conds(p, &b->cold[slot], p->mv + p->cash, &sl);
    p->slack_lg = sl;
    p->budget = 0;
}

/* The conditions the state machines read, for comparing states. */
static uint32_t relevant_conds(uint32_t flags)
{
    uint32_t m = 0;
    if (flags & F_DRIFT_ON)
        m |= (flags & F_DRIFT_FIRING) ? F_DRIFT_CLEAR : F_DRIFT_FIRE;
    if (flags & F_LOSS_ON)
        m |= (flags & F_LOSS_FIRING) ? F_LOSS_CLEAR : F_LOSS_FIRE;
    if (flags & F_GAIN_ON)
        m |= (flags & F_GAIN_FIRING) ? F_GAIN_CLEAR : F_GAIN_FIRE;
    return m;
}

/* ---- events --------------------------------------------------------------- */

static void emit(tg_book_t *b, tg_book_event_type_t type, uint32_t slot, int64_t ts,
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
    emit(b, TG_BOOK_EV_ALERT, slot, ts, &ev);
}

/* Run the three portfolio rules' state machines on the current conditions. */
static void step_rules(tg_book_t *b, uint32_t slot, int64_t ts)
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
        eval_full(b, slot);
}

/* ---- the tick path -------------------------------------------------------- */

static int ensure_syms(tg_book_t *b, uint32_t n)
{
    if (n <= b->nsyms)
        return 0;
    uint32_t cap = b->nsyms ? b->nsyms : 64;
    while (cap < n)
        cap *= 2;
    symbook_t *s = realloc(b->syms, (size_t)cap * sizeof *s);
    if (!s)
        return -ENOMEM;
    memset(s + b->nsyms, 0, (size_t)(cap - b->nsyms) * sizeof *s);
    b->syms = s;
    b->nsyms = cap;
    return 0;
}

void tg_book_on_price(tg_book_t *b, uint32_t sym, tg_dec_t price, int64_t ts)
{
    if (!b || sym >= tg_symtab_count(b->syms_tab))
        return;
    /* first sight of a symbol id: a one-time growth, not per tick */
    if (sym >= b->nsyms && ensure_syms(b, sym + 1) < 0)
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
        if (d == 0 && !(first && p->missing == 0 && (p->flags & F_OPEN_PENDING)))
            continue;
        ps->value = nv;
        p->mv += d;
        p->ts = ts;
        i128 V = p->mv + p->cash;
        bool full = false;
        if ((p->flags & F_OPEN_PENDING) && p->missing == 0) {
            p->open = V;
            p->flags &= ~F_OPEN_PENDING;
            full = true;
        } else {
            /* skip the rules while no margin can have flipped (file header) */
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
            eval_full(b, ps->pf);
            step_rules(b, ps->pf, ts);
        }
        emit(b, TG_BOOK_EV_PORTFOLIO, ps->pf, ts, NULL);
    }
}

static void price_alert_event(tg_book_t *b, const watch_t *w, uint32_t sym, tg_dec_t price,
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
    emit(b, TG_BOOK_EV_ALERT, w->pf, ts, &ev);
}

static void watch_eval(tg_book_t *b, watch_t *w, uint32_t sym, tg_dec_t price, int64_t ts)
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
        price_alert_event(b, w, sym, price, t, ts);
}

void tg_book_on_price_alerts(tg_book_t *b, uint32_t sym, tg_dec_t price, int64_t ts)
{
    if (!b || sym >= b->nsyms)
        return;
    symbook_t *sb = &b->syms[sym];
    for (uint32_t k = 0; k < sb->nw; k++)
        watch_eval(b, &sb->w[k], sym, price, ts);
}

void tg_book_on_tick(tg_book_t *b, uint32_t sym, tg_dec_t price, int64_t ts)
{
    tg_book_on_price_alerts(b, sym, price, ts);
    tg_book_on_price(b, sym, price, ts);
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
        /* day_change is now 0: re-evaluate loss_limit on that */
        eval_full(b, s);
        p->ts = ts;
        step_rules(b, s, ts);
        emit(b, TG_BOOK_EV_PORTFOLIO, s, ts, NULL);
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

void tg__book_set_price(tg_book_t *b, uint32_t sym, tg_dec_t price);

/* Bench/test only: record a price without valuing (the "recompute the whole
 * book per tick" baseline prices this way, then calls tg_book_recompute_full). */
void tg__book_set_price(tg_book_t *b, uint32_t sym, tg_dec_t price)
{
    if (sym < b->nsyms) {
        b->syms[sym].price = price;
        b->syms[sym].has_price = true;
    }
}

/* ---- id index ------------------------------------------------------------- */

static uint32_t str_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 32;
    return (uint32_t)h;
}

static int idx_rebuild(tg_book_t *b, uint32_t nslots_idx)
{
    uint32_t *idx = calloc(nslots_idx, sizeof *idx);
    if (!idx)
        return -ENOMEM;
    for (uint32_t s = 0; s < b->nslots; s++) {
        if (!b->cold[s].alive)
            continue;
        uint32_t i = b->cold[s].id_hash & (nslots_idx - 1);
        while (idx[i])
            i = (i + 1) & (nslots_idx - 1);
        idx[i] = s + 1;
    }
    free(b->idx);
    b->idx = idx;
    b->idx_mask = nslots_idx - 1;
    b->idx_used = (uint32_t)b->live;
    return 0;
}

int32_t tg_book_find(const tg_book_t *b, const char *id)
{
    if (!b || !id || !b->idx)
        return -ENOENT;
    uint32_t h = str_hash(id);
    for (uint32_t i = h & b->idx_mask;; i = (i + 1) & b->idx_mask) {
        uint32_t v = b->idx[i];
        if (v == 0)
            return -ENOENT;
        if (v == IDX_TOMB)
            continue;
        const pf_cold_t *c = &b->cold[v - 1];
        if (c->id_hash == h && strcmp(c->spec.id, id) == 0)
            return (int32_t)(v - 1);
    }
}

/* Make room in the index for one more id (called before any mutation). */
static int idx_reserve(tg_book_t *b)
{
    uint32_t size = b->idx ? b->idx_mask + 1 : 0;
    if (b->idx && (uint64_t)(b->idx_used + 1) * 2 <= size)
        return 0;
    uint32_t want = 64;
    while ((uint64_t)(b->live + 1) * 4 > want)
        want *= 2;
    return idx_rebuild(b, want);
}

static void idx_insert(tg_book_t *b, uint32_t slot)
{
    uint32_t i = b->cold[slot].id_hash & b->idx_mask;
    while (b->idx[i] && b->idx[i] != IDX_TOMB)
        i = (i + 1) & b->idx_mask;
    if (b->idx[i] == 0)
        b->idx_used++;
    b->idx[i] = slot + 1;
}

static void idx_remove(tg_book_t *b, uint32_t slot)
{
    uint32_t i = b->cold[slot].id_hash & b->idx_mask;
    while (b->idx[i] != slot + 1)
        i = (i + 1) & b->idx_mask;
    b->idx[i] = IDX_TOMB;
}

/* ---- lifecycle ------------------------------------------------------------ */

int tg_book_create(const tg_book_options_t *o, tg_book_t **out)
{
    if (!o || !o->symtab || !out)
        return -EINVAL;
    tg_book_t *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    b->syms_tab = o->symtab;
    b->on_event = o->on_event;
    b->ud = o->ud;
    tg_alert_ids_init(&b->ids, o->alert_seed);
    if (idx_rebuild(b, 64) < 0)
        goto fail_free_book;
    *out = b;
    return 0;

fail_free_book:
    free(b);
    return -ENOMEM;
}

void tg_book_destroy(tg_book_t *b)
{
    if (!b)
        return;
    for (uint32_t i = 0; i < b->nsyms; i++) {
        free(b->syms[i].pos);
        free(b->syms[i].w);
    }
    for (uint32_t s = 0; s < b->nslots; s++) {
        tg_portfolio_spec_free(&b->cold[s].spec);
        free(b->cold[s].h);
    }
    free(b->syms);
    free(b->hot);
    free(b->cold);
    free(b->free_slots);
    free(b->idx);
    free(b->scratch);
    free(b);
}

int32_t tg_book_next(const tg_book_t *b, int32_t prev)
{
    if (!b)
        return -1;
    for (uint32_t s = (uint32_t)(prev + 1); s < b->nslots; s++)
        if (b->cold[s].alive)
            return (int32_t)s;
    return -1;
}

size_t tg_book_count(const tg_book_t *b)
{
    return b ? b->live : 0;
}

const tg_portfolio_spec_t *tg_book_spec(const tg_book_t *b, uint32_t slot)
{
    if (!b || slot >= b->nslots || !b->cold[slot].alive)
        return NULL;
    return &b->cold[slot].spec;
}

/* ---- put / remove --------------------------------------------------------- */

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

static int reserve_pos(symbook_t *sb, uint32_t extra)
{
    if (sb->n + extra <= sb->cap)
        return 0;
    uint32_t cap = sb->cap ? sb->cap * 2 : 4;
    while (cap < sb->n + extra)
        cap *= 2;
    pos_t *p = realloc(sb->pos, (size_t)cap * sizeof *p);
    if (!p)
        return -ENOMEM;
    sb->pos = p;
    sb->cap = cap;
    return 0;
}

static int reserve_watch(symbook_t *sb, uint32_t extra)
{
    if (sb->nw + extra <= sb->capw)
        return 0;
    uint32_t cap = sb->capw ? sb->capw * 2 : 4;
    while (cap < sb->nw + extra)
        cap *= 2;
    watch_t *w = realloc(sb->w, (size_t)cap * sizeof *w);
    if (!w)
        return -ENOMEM;
    sb->w = w;
    sb->capw = cap;
    return 0;
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
    rc = ensure_syms(b, tg_symtab_count(b->syms_tab));
    if (rc < 0)
        goto fail_free_hsym;
    for (size_t i = 0; i < nh + nw; i++) {
        rc = i < nh ? reserve_pos(&b->syms[hsym[i]], 1) : reserve_watch(&b->syms[hsym[i]], 1);
        if (rc < 0)
            goto fail_free_hsym;
    }
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
        if ((rc = idx_reserve(b)) < 0)
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
    if (!is_new) {
        pf_cold_t *c = &b->cold[slot];
        remove_positions(b, (uint32_t)slot);
        nsaved = remove_watches(b, (uint32_t)slot, saved, saved_sym);
        tg_portfolio_spec_free(&c->spec);
        free(c->h);
        fsm_flags = b->hot[slot].flags & (F_DRIFT_FIRING | F_LOSS_FIRING | F_GAIN_FIRING);
    } else {
        slot = b->nfree ? (int32_t)b->free_slots[--b->nfree] : (int32_t)b->nslots++;
        pf_cold_t *c = &b->cold[slot];
        memset(c, 0, sizeof *c);
        c->alive = true;
        c->id_hash = str_hash(copy.id);
        b->live++;
    }
    pf_cold_t *c = &b->cold[slot];
    pf_hot_t *p = &b->hot[slot];
    c->spec = copy;
    c->h = holds;
    holds = NULL;
    if (is_new)
        idx_insert(b, (uint32_t)slot);

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
        p->cost += hs->cost_basis; /* validated to fit */
        if (!sb->has_price)
            p->missing++;
    }
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
    i128 V = p->mv + p->cash;
    if (p->missing)
        flags |= F_OPEN_PENDING;
    else
        p->open = V;
    p->flags = flags;
    p->id = copy.id;
    p->ts = ts;
    eval_full(b, (uint32_t)slot);

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
            price_alert_event(b, &saved[k], saved_sym[k], b->syms[saved_sym[k]].price,
                              TG_ALERT_RESOLVED, ts);
        }
    step_rules(b, (uint32_t)slot, ts);
    for (size_t i = nh; i < nh + nw; i++) {
        symbook_t *sb = &b->syms[hsym[i]];
        if (sb->has_price)
            for (uint32_t k = 0; k < sb->nw; k++)
                if (sb->w[k].pf == (uint32_t)slot)
                    watch_eval(b, &sb->w[k], (uint32_t)hsym[i], sb->price, ts);
    }
    emit(b, TG_BOOK_EV_PORTFOLIO, (uint32_t)slot, ts, NULL);
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
    step_rules(b, (uint32_t)slot, ts);
    size_t nw = c->spec.alerts.n_price_above + c->spec.alerts.n_price_below;
    watch_t *saved = calloc(nw + 1, sizeof *saved);
    uint32_t *saved_sym = calloc(nw + 1, sizeof *saved_sym);
    size_t ns = remove_watches(b, (uint32_t)slot, saved, saved_sym);
    if (saved && saved_sym)
        for (size_t k = 0; k < ns; k++)
            if (saved[k].fsm.firing)
                price_alert_event(b, &saved[k], saved_sym[k], b->syms[saved_sym[k]].price,
                                  TG_ALERT_RESOLVED, ts);
    free(saved);
    free(saved_sym);
    remove_positions(b, (uint32_t)slot);
    emit(b, TG_BOOK_EV_REMOVED, (uint32_t)slot, ts, NULL);

    idx_remove(b, (uint32_t)slot);
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
    default:
        return -EINVAL;
    }
    f->firing = true;
    snprintf(f->id, sizeof f->id, "%s", alert_id);
    pf_hot_t *p = &b->hot[slot];
    p->flags |= bit;
    eval_full(b, (uint32_t)slot);
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
    v->saturated = sat;
    return 0;
}

/* ---- exactness ------------------------------------------------------------ */

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
        o->conds = p->flags & relevant_conds(p->flags);
        gather_values(b, i, s->hv + k);
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
        uint32_t missing = 0;
        for (size_t j = 0; j < c->spec.n_holdings; j++) {
            const tg_holding_spec_t *hs = &c->spec.holdings[j];
            const symbook_t *sb = &b->syms[c->h[j].sym];
            vals[j] = sb->has_price ? value_of(hs->quantity, sb->price) : hs->cost_basis;
            missing += !sb->has_price;
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
        (void)missing;
        i128 V = mv + c->spec.cash;
        uint32_t conds = 0;
        if (p->flags & F_DRIFT_ON) {
            bool fire, clear;
            i128 slack;
            drift_eval(c->h, c->spec.n_holdings, vals, V, p->flags & F_DRIFT_FIRING, &fire, &clear,
                       &slack);
            conds |= (fire ? F_DRIFT_FIRE : 0) | (clear ? F_DRIFT_CLEAR : 0);
        }
        pf_hot_t tmp = *p;
        tmp.mv = mv;
        tmp.cost = cost;
        conds |= loss_gain_conds(&tmp, c, V, NULL);
        o->conds = conds & relevant_conds(p->flags);
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
