/* portfolio.h - portfolio descriptions (plain data): parse, validate, copy,
 * free (SPEC §4). Pure, any thread; the book that values them is book.h.
 */
#ifndef TICKGATE_PORTFOLIO_H
#define TICKGATE_PORTFOLIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tickgate/alerts.h"
#include "tickgate/config.h"
#include "tickgate/fixed.h"
#include "tickgate/symtab.h"
#include "tickgate/tick.h"

#define TG_PORTFOLIO_ID_MAX 128 /* bytes of id / owner / shared_with entries */
#define TG_PORTFOLIO_MAX_HOLDINGS 10000

/* ---- portfolio description (plain data) ---------------------------------- */

typedef struct tg_holding_spec {
    char symbol[TG_SYMBOL_MAX + 1];
    tg_dec_t quantity;      /* negative = short */
    tg_dec_t cost_basis;    /* total, not per unit */
    tg_dec_t target_weight; /* 0..1 */
} tg_holding_spec_t;

typedef struct tg_price_level {
    char symbol[TG_SYMBOL_MAX + 1];
    tg_dec_t level;
} tg_price_level_t;

/** `move` rule of one symbol (SPEC §13): |change| >= pct within window_s. */
typedef struct tg_move_spec {
    char symbol[TG_SYMBOL_MAX + 1];
    tg_dec_t pct;  /* > 0 */
    int window_s;  /* 1..86400 */
} tg_move_spec_t;

/**
 * Effective alert settings of one portfolio: config `alerts` defaults with the
 * portfolio's overrides applied. A threshold of 0 turns that rule off for the
 * portfolio (JSON `null` too); drift_relative 0 = relative band off.
 */
typedef struct tg_alert_settings {
    tg_dec_t rebalance_drift, drift_relative, loss_limit, gain_target;
    tg_dec_t hysteresis, price_hysteresis;
    tg_price_level_t *price_above; /* heap, owned by the spec */
    size_t n_price_above;
    tg_price_level_t *price_below;
    size_t n_price_below;
    tg_dec_t concentration, volatility; /* SPEC §13; 0 = off */
    int volatility_window_s;            /* samples (seconds) of the volatility window */
    tg_move_spec_t *move;               /* heap, owned by the spec */
    size_t n_move;
} tg_alert_settings_t;

/** One portfolio. Every pointer is a heap allocation owned by the spec. */
typedef struct tg_portfolio_spec {
    char *id;
    char *owner;
    char **shared_with;
    size_t n_shared_with;
    tg_dec_t cash;
    tg_holding_spec_t *holdings;
    size_t n_holdings;
    tg_alert_settings_t alerts;
} tg_portfolio_spec_t;

/** Alert settings from the config's `alerts` section (cfg NULL = SPEC defaults), no price rules. */
void tg_alert_settings_defaults(tg_alert_settings_t *a, const tg_config_t *cfg);

/** Free what the spec owns and zero it; NULL is fine. Any thread. */
void tg_portfolio_spec_free(tg_portfolio_spec_t *s);
/** Free an array of n specs and the array; NULL is fine. */
void tg_portfolio_specs_free(tg_portfolio_spec_t *v, size_t n);
/** Deep copy src into *dst (dst is overwritten, not freed). 0 or -ENOMEM. */
int tg_portfolio_spec_copy(tg_portfolio_spec_t *dst, const tg_portfolio_spec_t *src);

/**
 * Check one spec: id/owner present and short enough, symbols valid and not
 * duplicated, target weights in 0..1 summing to <= 1, cost bases summing
 * within range, alert thresholds >= 0, hysteresis in 0..1. On error returns
 * -EINVAL and writes e.g. "portfolio p-1: holdings[2].target_weight: negative".
 */
int tg_portfolio_spec_validate(const tg_portfolio_spec_t *s, char *err, size_t errlen);

/**
 * Parse a portfolio file ({"portfolios":[...]}, SPEC §4) into a new array of
 * validated specs (*out, *n; free with tg_portfolio_specs_free). Decimals are
 * exact (strings or numbers); unknown fields, bad decimals, duplicate ids and
 * everything tg_portfolio_spec_validate checks are errors naming the portfolio
 * and field. cfg supplies alert defaults (NULL = SPEC defaults). Any thread.
 */
int tg_portfolios_parse_json(const char *text, size_t len, const tg_config_t *cfg,
                             tg_portfolio_spec_t **out, size_t *n, char *err, size_t errlen);

/**
 * Parse one portfolio object (the body of PUT /api/v1/portfolios/{id}). `id`
 * (from the URL) is used when the body has none; a body id that differs is an
 * error. Fills *out (free with tg_portfolio_spec_free). Any thread.
 */
int tg_portfolio_parse_json(const char *text, size_t len, const char *id, const tg_config_t *cfg,
                            tg_portfolio_spec_t *out, char *err, size_t errlen);

#endif
