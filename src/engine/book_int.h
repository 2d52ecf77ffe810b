/* book_int.h - the book's internal layout and exact helpers, shared by book*.c.
 *
 * The portfolio book: exact incremental valuation, drift,
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
#ifndef TG_BOOK_INT_H
#define TG_BOOK_INT_H

#include "tickgate/book.h"
#include "tickgate/risk.h"
#include "tickgate/buf.h"

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

/* A move watch, inline in its symbol's array so a tick reads no cold memory
 * unless the watch changes state: portfolio slot, index in its risk->moves,
 * the shared window it reads, thresholds and a mirror of its fsm's state. */
typedef struct mref {
    uint32_t pf, i;
    uint32_t win;          /* index in the symbol's mwin[] */
    bool firing;
    tg_dec_t pct, clear;
} mref_t;

/* One window length over a symbol's prices, shared by every watch using it
 * (book_risk.c): one deque update per tick however many portfolios watch. */
typedef struct mwin {
    /* summary of the watches reading this window (book_risk.c, rebuilt when
     * symbook_t.mr_stale): with the move below the smallest threshold of the
     * idle ones and above the largest clear level of the firing ones, no
     * watch can change on this tick. First, next to mv's per-tick fields:
     * a tick reads both (cache lines, book_risk.c) */
    tg_dec_t idle_min_pct, firing_max_clear;
    tg_dec_t lo, hi;       /* the window's min and max after the last tick */
    uint32_t nfiring;
    bool live;             /* this tick: some watch of the window must be evaluated */
    uint32_t refs;
    tg_risk_move_t mv;     /* mv.window_ns: the window's length */
} mwin_t;

typedef struct symbook {
    pos_t *pos;
    uint32_t n, cap;
    watch_t *w;
    uint32_t nw, capw;
    mref_t *mr;             /* move watches (book_risk.c) */
    uint32_t nmr, capmr;
    mwin_t *mwin;           /* their distinct windows */
    uint32_t nmwin, capmwin;
    bool mr_stale;          /* a watch was added, removed or changed state */
    bool mflush;            /* a window's held-back ticks are due (tg__book_move_settle) */
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
    F_GATED = 1u << 13,        /* unpriced or overflowed: value rules not evaluated (SPEC §13) */
    F_UNPRICED_FIRING = 1u << 14, /* the `unpriced` alert is firing (mirror of fsm[FSM_UNPRICED]) */
};

typedef struct pf_hot {
    i128 mv;        /* sum of holding values */
    i128 open;      /* value at the session open (meaningless while F_OPEN_PENDING) */
    i128 slack;     /* drift margin at the last full evaluation (see tg__book_drift_eval); < 0 = never skip */
    i128 slack_lg;  /* loss/gain margin at the last full evaluation */
    int64_t budget; /* sum of |d| since the last full evaluation (money units) */
    int64_t cash, cost;
    int64_t K;      /* drift margins move by at most K|d| per tick; loss/gain by 2S|d| */
    int64_t ts;     /* last change */
    const char *id; /* = cold spec.id, so events need no cold access */
    uint16_t missing;  /* holdings whose symbol has no quote yet (<= TG_PORTFOLIO_MAX_HOLDINGS) */
    uint16_t overflow; /* holdings whose value saturated at the tg_dec_t range */
    uint32_t flags;
    /* >= every |holding value|: raised by each tick, exact after a concentration
     * scan. The once-a-second concentration check skips a portfolio this proves
     * below threshold instead of reading every holding's value (a cache miss
     * each: at 100,000 portfolios the sweep was most of the rules' cost). */
    uint64_t top;
} __attribute__((aligned(64))) pf_hot_t;

_Static_assert(sizeof(pf_hot_t) == 128, "hot header is two cache lines");

enum { FSM_DRIFT = 0, FSM_LOSS, FSM_GAIN, FSM_UNPRICED };

/* SPEC §13 risk rules of one portfolio (book_risk.c); cold, NULL when none is on. */
typedef struct move_watch {
    uint32_t sym;
    int window_s;
    tg_dec_t pct, clear;   /* fires at |move| >= pct, resolves at |move| <= clear */
    tg_alert_fsm_t fsm;
} move_watch_t;

typedef struct pf_risk {
    tg_alert_fsm_t conc_fsm, vol_fsm;
    tg_dec_t conc_clear, vol_clear;
    tg_risk_vol_t vol;     /* cap 0 when volatility is off */
    move_watch_t *moves;
    uint32_t n_moves;
} pf_risk_t;

typedef struct pf_cold {
    tg_portfolio_spec_t spec; /* owned copy */
    hold_t *h;                /* spec.n_holdings */
    tg_alert_fsm_t fsm[4];
    int64_t loaded_ts;        /* put time: the `unpriced` alert counts from here */
    tg_dec_t gain_fire, gain_clear; /* pnl_pct >= fire; resolved at <= clear */
    tg_dec_t loss_fire, loss_clear; /* day_change_pct <= fire (-loss_limit); resolved at >= clear */
    pf_risk_t *risk;          /* concentration / volatility / move; NULL = none */
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

    int64_t unpriced_after_ns; /* engine.unpriced_after_s; 0 = the `unpriced` rule is off */
    int64_t unpriced_after_s;
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
        uint32_t gated;
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
static inline i128 ratio8(i128 num, i128 den)
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

/* A holding's value changed to v: keep pf_hot_t.top >= every |holding value|. */
static inline void raise_top(pf_hot_t *p, tg_dec_t v)
{
    uint64_t av = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    if (av > p->top)
        p->top = av;
}

/* A holding value that hit the tg_dec_t range in value_of(): not a real figure. */
static inline bool value_saturated(tg_dec_t v)
{
    return v == TG_DEC_MAX || v == TG_DEC_MIN;
}

static inline bool in_dec_range(i128 v)
{
    return v >= TG_DEC_MIN && v <= TG_DEC_MAX;
}

/* Every money figure of the portfolio (SPEC §4) fits tg_dec_t: value,
 * market value, P&L and, once captured, the day-open value and day change.
 * The sums themselves are __int128 and exact; this says whether what a
 * client would see is the real figure. */
static inline bool money_in_range(const pf_hot_t *p)
{
    i128 V = p->mv + p->cash;
    if (!in_dec_range(p->mv) || !in_dec_range(V) || !in_dec_range(p->mv - p->cost))
        return false;
    return (p->flags & F_OPEN_PENDING) || (in_dec_range(p->open) && in_dec_range(V - p->open));
}

/* SPEC §13: no value-based rule is evaluated while some holding has no quote
 * (its value is a cost-basis placeholder) or some figure overflowed. */
static inline bool gated_now(const pf_hot_t *p)
{
    return p->missing || p->overflow || !money_in_range(p);
}

/* ---- shared between the book_*.c files ---- */

void tg__book_drift_eval(const hold_t *h, size_t n, const tg_dec_t *vals, i128 V, bool need_clear,
                       bool *fire, bool *clear, i128 *slack);
void tg__book_gather_values(const tg_book_t *b, uint32_t slot, tg_dec_t *vals);
uint32_t tg__book_loss_gain_conds(const pf_hot_t *p, const pf_cold_t *c, i128 V,
                                       i128 *slack);
void tg__book_eval_full(tg_book_t *b, uint32_t slot);
uint32_t tg__book_relevant_conds(uint32_t flags);
void tg__book_emit(tg_book_t *b, tg_book_event_type_t type, uint32_t slot, int64_t ts,
                 const tg_alert_event_t *a);
void tg__book_step_rules(tg_book_t *b, uint32_t slot, int64_t ts);
bool tg__book_update_gate(tg_book_t *b, uint32_t slot);
void tg__book_unpriced_event(tg_book_t *b, uint32_t slot, int state, int64_t ts);
int tg__book_ensure_syms(tg_book_t *b, uint32_t n);
void tg__book_price_alert_event(tg_book_t *b, const watch_t *w, uint32_t sym, tg_dec_t price,
                              int state, int64_t ts);
void tg__book_watch_eval(tg_book_t *b, watch_t *w, uint32_t sym, tg_dec_t price, int64_t ts);
uint32_t tg__book_str_hash(const char *s);
int tg__book_idx_reserve(tg_book_t *b);
void tg__book_idx_insert(tg_book_t *b, uint32_t slot);
void tg__book_idx_remove(tg_book_t *b, uint32_t slot);
/* book_risk.c */
int tg__book_risk_prepare(tg_book_t *b, const tg_portfolio_spec_t *spec, char *err,
                          size_t errlen);
void tg__book_risk_install(tg_book_t *b, uint32_t slot, pf_risk_t *old, int64_t ts);
pf_risk_t *tg__book_risk_detach(tg_book_t *b, uint32_t slot, bool keep_windows);
void tg__book_risk_end(tg_book_t *b, uint32_t slot, pf_risk_t *r, int64_t ts);
void tg__book_move_tick(tg_book_t *b, uint32_t sym, tg_dec_t price, int64_t ts);
void tg__book_move_settle(tg_book_t *b, uint32_t sym);
tg_alert_fsm_t *tg__book_risk_fsm(tg_book_t *b, uint32_t slot, tg_alert_rule_t rule,
                                  const char *symbol);
void tg__book_risk_sync(tg_book_t *b, uint32_t slot);

#endif
