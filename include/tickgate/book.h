/* book.h - the book: every live portfolio, exact incremental valuation,
 * drift, day change and portfolio alerts (SPEC §4).
 *
 * A portfolio is described by a tg_portfolio_spec_t (plain data, parsed from
 * JSON by tg_portfolios_parse_json on any thread). The book holds every live
 * portfolio plus, per symbol id, a contiguous array of positions
 * {portfolio slot, holding index, quantity, value}: a price touches only that
 * symbol's array and the 128-byte hot header of each portfolio holding it.
 *
 * Money (holding value, market_value, value, cost_basis, pnl, day_change) is
 * exact: holding value = quantity x price rounded half-to-even to 8 places
 * (tg_dec_mul), sums in __int128. The drift rule is evaluated per valuation by
 * cross-multiplication against the SPEC definition (weights rounded
 * half-to-even to 8 places) without division; a rigorous bound on how far the
 * last tick can have moved each inequality lets most ticks skip the per-holding
 * loop while giving exactly the result of a full evaluation.
 *
 * Threads: a book and everything reached through it belong to one thread (the
 * engine thread). Pure helpers (spec parse/validate/free, session helper) may
 * be called from any thread. No allocation per tick; put/remove/load allocate.
 */
#ifndef TICKGATE_BOOK_H
#define TICKGATE_BOOK_H

#include "tickgate/portfolio.h"

/* ---- the book ------------------------------------------------------------- */

typedef struct tg_book tg_book_t;

typedef enum tg_book_event_type {
    TG_BOOK_EV_PORTFOLIO = 1, /* figures changed (tick, put, session open): publish a `portfolio` */
    TG_BOOK_EV_ALERT,         /* alert fired or resolved: `alert` holds every field */
    TG_BOOK_EV_REMOVED,       /* the portfolio was removed; its slot may be reused later */
} tg_book_event_type_t;

typedef struct tg_book_event {
    tg_book_event_type_t type;
    uint32_t slot;                 /* portfolio slot (see tg_book_find) */
    const char *portfolio_id;      /* borrowed: valid during the callback */
    int64_t ts;                    /* ts passed to the call that caused it */
    const tg_alert_event_t *alert; /* TG_BOOK_EV_ALERT only; borrowed */
} tg_book_event_t;

/**
 * Event sink, called synchronously on the book's thread from inside
 * tg_book_on_price / _price_alerts / _put / _remove / _load_json /
 * _session_open. It must not call back into the book's mutating functions;
 * reading (tg_book_portfolio_view) is fine.
 */
typedef void (*tg_book_event_fn)(void *ud, const tg_book_event_t *ev);

typedef struct tg_book_options {
    tg_symtab_t *symtab;     /* borrowed, required: shared with the engine's quote table */
    tg_book_event_fn on_event; /* may be NULL */
    void *ud;
    uint64_t alert_seed;     /* mixed into alert ids (e.g. random bytes at start) */
    int64_t unpriced_after_s; /* engine.unpriced_after_s: the `unpriced` alert; 0 = off */
} tg_book_options_t;

/** Create an empty book; *out is freed with tg_book_destroy(). 0, -EINVAL or -ENOMEM. */
int tg_book_create(const tg_book_options_t *o, tg_book_t **out);
/** Free the book (not the symtab); NULL is fine. Emits no events. */
void tg_book_destroy(tg_book_t *b);

/**
 * Replace the book's portfolios with those of a portfolio file (startup,
 * SIGHUP): portfolios absent from the file are removed, the others put. All
 * or nothing: on a parse/validation error (-EINVAL, message in err) or when
 * the symbols do not fit in the symtab (-ENOSPC) the book is unchanged.
 */
int tg_book_load_json(tg_book_t *b, const char *text, size_t len, const tg_config_t *cfg,
                      int64_t ts, char *err, size_t errlen);

/**
 * Create or replace one portfolio (spec is copied; the caller keeps it). A
 * replaced portfolio keeps its slot and the state of its alerts (firing
 * alerts keep their id and resolve or continue under the new settings); its
 * day_change restarts from its new value. Validates first (-EINVAL + err);
 * -ENOSPC if a symbol does not fit in the symtab; -ENOMEM.
 */
int tg_book_put_portfolio(tg_book_t *b, const tg_portfolio_spec_t *spec, int64_t ts, char *err,
                          size_t errlen);

/**
 * Remove a portfolio: its firing alerts are emitted as resolved, then
 * TG_BOOK_EV_REMOVED. -ENOENT if unknown.
 */
int tg_book_remove_portfolio(tg_book_t *b, const char *id, int64_t ts);

/** Slot of a live portfolio, or -ENOENT. */
int32_t tg_book_find(const tg_book_t *b, const char *id);
/** Iterate live slots: start with -1; returns the next slot or -1 at the end. */
int32_t tg_book_next(const tg_book_t *b, int32_t prev);
/** Number of live portfolios. */
size_t tg_book_count(const tg_book_t *b);
/** The live spec of a slot (borrowed until the next put/remove/load), or NULL. */
const tg_portfolio_spec_t *tg_book_spec(const tg_book_t *b, uint32_t slot);

/**
 * Valuation for one price of symbol `sym` (a symtab id): reprices every
 * position in that symbol, updates the money figures incrementally, evaluates
 * rebalance_drift / loss_limit / gain_target, emits TG_BOOK_EV_ALERT for
 * transitions and TG_BOOK_EV_PORTFOLIO for each portfolio whose figures
 * changed. A portfolio with a holding still unpriced (valued at its cost
 * basis) or with a figure beyond the tg_dec_t range is gated: those rules
 * neither fire nor resolve until it is priced and in range again (SPEC §13). Price rules are NOT evaluated here (see tg_book_on_price_alerts),
 * so the engine may conflate valuation to the newest price per symbol.
 * No allocation. Unknown/unused symbol ids are ignored.
 */
void tg_book_on_price(tg_book_t *b, uint32_t sym, tg_dec_t price, int64_t ts);

/** price_above / price_below for one tick; call it for every tick, conflated or not. */
void tg_book_on_price_alerts(tg_book_t *b, uint32_t sym, tg_dec_t price, int64_t ts);

/**
 * The deferred part of tg_book_on_price_alerts for `sym` (the `move` rule's
 * deque upkeep, whose memory that call prefetched): call it after the tick's
 * other work. Optional: nothing observable changes, the next tick of the
 * symbol does it otherwise.
 */
void tg_book_on_tick_done(tg_book_t *b, uint32_t sym);

/** The three above for one tick (no conflation). */
void tg_book_on_tick(tg_book_t *b, uint32_t sym, tg_dec_t price, int64_t ts);

/**
 * Session boundary: every portfolio's day-open value becomes its next
 * valuation (until then day_change is 0). A holding priced only later joins
 * the baseline at its first price, so day_change covers the priced holdings
 * (SPEC §13). The engine calls it when tg_session_next_open() is due.
 */
void tg_book_session_open(tg_book_t *b, int64_t ts);

/**
 * Once a second (engine): the SPEC §13 value rules - a volatility sample of
 * every portfolio with `volatility` on, and `concentration` - for portfolios
 * that are priced. `ts` stamps the events. No allocation.
 */
void tg_book_risk_tick(tg_book_t *b, int64_t ts);

/**
 * The `unpriced` rule (SPEC §13): fire for every portfolio that still has a
 * holding without a quote unpriced_after_s after it was put (value = number
 * of such holdings, severity high). It resolves when the last one is priced.
 * The engine calls this about once a second with wall-clock ns.
 */
void tg_book_check_unpriced(tg_book_t *b, int64_t now);

/** A portfolio's day baseline, with what it was taken for (SPEC §13 day state). */
typedef struct tg_book_day {
    bool pending;       /* no valuation since the session open yet */
    tg_dec_t open;      /* the day-open value (placeholders of unpriced holdings included) */
    tg_dec_t cash, cost; /* the portfolio's cash and total cost basis ... */
    uint32_t n_holdings; /* ... and holdings count: a changed portfolio restarts its day */
} tg_book_day_t;

/** The day baseline of a live slot. -ENOENT, or -ERANGE when it overflows tg_dec_t. */
int tg_book_day_state(const tg_book_t *b, uint32_t slot, tg_book_day_t *out);

/**
 * Put a saved day baseline back (start-up after a restart in the same session
 * day): day_change continues instead of restarting from the load. -ENOENT for
 * an unknown id, -ESTALE when cash, cost basis or holdings count differ.
 * Rules are evaluated on the restored figures.
 */
int tg_book_restore_day(tg_book_t *b, const char *id, const tg_book_day_t *d, int64_t ts);

/** Last price seen by tg_book_on_price for a symbol; false when none yet. */
bool tg_book_last_price(const tg_book_t *b, uint32_t sym, tg_dec_t *price);

/**
 * Mark an alert as already firing with a known id (firing alerts reloaded from
 * PostgreSQL after a restart), so it resolves with that id instead of firing
 * again. `symbol` is for price rules ("" otherwise). -ENOENT if the portfolio
 * or the price rule does not exist, -EINVAL for a bad rule or id.
 */
int tg_book_restore_alert(tg_book_t *b, const char *portfolio_id, tg_alert_rule_t rule,
                          const char *symbol, const char *alert_id);

/* ---- materialized figures (the `portfolio` message) ------------------------- */

typedef struct tg_holding_view {
    const char *symbol;        /* borrowed */
    tg_dec_t quantity;
    bool has_price;            /* false: no quote yet, valued at cost_basis */
    tg_dec_t price;            /* last price when has_price */
    tg_dec_t value;
    tg_dec_t cost_basis;
    tg_dec_t weight;           /* value / portfolio value, 8 places half-to-even; 0 when value is 0 */
    tg_dec_t target_weight;
    tg_dec_t drift;            /* weight - target_weight */
} tg_holding_view_t;

typedef struct tg_portfolio_view {
    const char *id, *owner;    /* borrowed until the next put/remove/load */
    char *const *shared_with;
    size_t n_shared_with;
    tg_dec_t value, cash, market_value, cost_basis, pnl, pnl_pct;
    tg_dec_t day_open_value, day_change, day_change_pct, max_drift;
    bool saturated;            /* some money figure exceeded the tg_dec_t range and was clamped */
    bool priced;               /* every holding has a quote (else has_price tells which not) */
    int64_t ts;                /* ts of the last change */
    size_t n_holdings;         /* holdings written (or needed, with -ENOSPC) */
    tg_holding_view_t *holdings;
} tg_portfolio_view_t;

/**
 * Materialize the SPEC §4 figures of one slot into *v, holdings into the
 * caller's array hbuf[hcap] (v->holdings = hbuf). -ENOENT for a dead slot,
 * -ENOSPC when hcap is too small (v->n_holdings says how many are needed).
 */
int tg_book_portfolio_view(const tg_book_t *b, uint32_t slot, tg_holding_view_t *hbuf,
                           size_t hcap, tg_portfolio_view_t *v);

/* ---- exactness checking --------------------------------------------------- */

/** Figures of a whole book, for comparing the incremental state with a recompute. */
typedef struct tg_book_state tg_book_state_t;

tg_book_state_t *tg_book_state_new(void);
void tg_book_state_free(tg_book_state_t *s);
/** Copy the book's incremental state (money figures, rule conditions) into s. 0 or -ENOMEM. */
int tg_book_capture_state(const tg_book_t *b, tg_book_state_t *s);
/**
 * Recompute every figure and rule condition from scratch (specs + last prices)
 * into s, without touching the book. Also the "whole book per tick" baseline.
 */
int tg_book_recompute_full(const tg_book_t *b, tg_book_state_t *s);
/** true when a and b are identical; otherwise false and err names the first difference. */
bool tg_book_equal_state(const tg_book_state_t *a, const tg_book_state_t *b, char *err,
                         size_t errlen);

#endif
