/* validate.h - per-feed tick validation (SPEC §3 "Validation").
 *
 * tg_validate_tick() decides whether a normalized tick is accepted and, if
 * not, the `reason` label of tickgate_ticks_rejected_total. It is a pure
 * function of (validator state, tick, now): no clock reads, no I/O. The state
 * is per feed: last accepted trade price and last src_seq per symbol, plus the
 * rejected prices pending for the "new level" rule.
 *
 * Thread: a validator belongs to its feed thread.
 */
#ifndef TICKGATE_VALIDATE_H
#define TICKGATE_VALIDATE_H

#include <stdbool.h>
#include <stdint.h>

#include "tickgate/config.h"
#include "tickgate/symtab.h"
#include "tickgate/tick.h"

typedef enum tg_reject {
    TG_REJECT_NONE = 0, /* accepted */
    TG_REJECT_BAD_PRICE,
    TG_REJECT_BAD_SIZE,
    TG_REJECT_BAD_SYMBOL,
    TG_REJECT_NOT_IN_UNIVERSE,
    TG_REJECT_FUTURE_TS,
    TG_REJECT_JUMP,
    TG_REJECT_PARSE_ERROR, /* not produced here: the label for format parse errors */
    TG_REJECT_DUPLICATE,
    TG_REJECT_SYMBOL_LIMIT,    /* a new symbol past engine.max_symbols (validator or engine) */
    TG_REJECT_UNKNOWN_MESSAGE, /* not produced here: a ws message of a type the format does not know */
    TG_REJECT__COUNT,
} tg_reject_t;

/** Future timestamps beyond now + this are rejected (SPEC: 5 s). */
#define TG_VALIDATE_FUTURE_NS 5000000000LL

typedef struct tg_validate_conf {
    tg_dec_t max_jump_pct;          /* engine.max_jump_pct in percent (10 = 10 %); 0 = off */
    const tg_strlist_t *universe;   /* engine.universe; NULL or empty = any symbol */
    bool seq_monotonic;             /* tg_format_ops_t.seq_monotonic (false: equal = duplicate) */
    uint32_t max_symbols;           /* bound on per-symbol state; 0 = 100000 */
} tg_validate_conf_t;

typedef struct tg__vsym tg__vsym_t; /* per-symbol state, validate.c */

typedef struct tg_validator {
    tg_validate_conf_t _conf;
    tg_symtab_t _universe; /* empty = any */
    bool _has_universe;
    tg_symtab_t _syms;     /* symbol -> index into _st */
    tg__vsym_t *_st;
    uint32_t _cap;
} tg_validator_t;

/**
 * Prepare a validator (the universe list is copied into a hash table, the
 * conf pointer is not kept). Returns 0, -EINVAL or -ENOMEM. Pair with
 * tg_validator_free().
 */
int tg_validator_init(tg_validator_t *v, const tg_validate_conf_t *conf);

/** Release what the validator owns; NULL is fine. */
void tg_validator_free(tg_validator_t *v);

/**
 * Check one tick received at wall time now_ns; TG_REJECT_NONE means accepted.
 * Order: bad_symbol, not_in_universe, bad_price (trade price <= 0; quote bid
 * or ask < 0, or neither set; no TRADE/QUOTE flag), bad_size (< 0),
 * future_ts (ts or src_ts > now + 5 s), duplicate (src_seq != 0 and, per
 * symbol and per kind trade/quote, <= the last one when seq_monotonic, else
 * equal to it), jump (trades, when max_jump_pct > 0: |p - last| > pct % of
 * the last accepted price, unless this is the third consecutive jump-rejected
 * price and all three lie within 1 % of each other: a new level, accepted).
 * Accepted trades update the last price. When max_symbols symbols already
 * have state, a tick of a new symbol is symbol_limit (it could never become
 * a quote: the engine's table has the same bound).
 */
tg_reject_t tg_validate_tick(tg_validator_t *v, const tg_tick_t *t, int64_t now_ns);

/** The `reason` label ("bad_price", ...); "accepted" for NONE, "?" otherwise. */
const char *tg_reject_name(tg_reject_t r);

#endif
