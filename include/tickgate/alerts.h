/* alerts.h - alert rules, hysteresis state machine, ids and event records.
 *
 * SPEC §4 "Alert rules". The rule evaluation itself lives with the data it
 * reads (book_rules.c evaluates drift/loss/gain per valuation and price rules
 * per tick); this module holds what every rule shares: names, severities,
 * the firing -> resolved state machine with its stable per-episode alert_id,
 * hysteresis levels and the human message text.
 *
 * Everything here is plain data and pure functions except tg_alert_ids_t,
 * which is owned by one thread (the engine thread). No global state.
 */
#ifndef TICKGATE_ALERTS_H
#define TICKGATE_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tickgate/fixed.h"
#include "tickgate/tick.h"

typedef enum tg_alert_rule {
    TG_ALERT_REBALANCE_DRIFT = 0,
    TG_ALERT_LOSS_LIMIT,
    TG_ALERT_GAIN_TARGET,
    TG_ALERT_PRICE_ABOVE,
    TG_ALERT_PRICE_BELOW,
    TG_ALERT_FEED_STALE,   /* system rules: raised by the feed layer, listed for names */
    TG_ALERT_BREAKER_OPEN,
    TG_ALERT_UNPRICED,     /* a holding without a quote engine.unpriced_after_s after the put */
    TG_ALERT_CONCENTRATION, /* SPEC §13 risk rules */
    TG_ALERT_VOLATILITY,
    TG_ALERT_MOVE,
    TG_ALERT_RULE_COUNT
} tg_alert_rule_t;

typedef enum tg_alert_severity {
    TG_ALERT_SEV_LOW = 0,
    TG_ALERT_SEV_MEDIUM,
    TG_ALERT_SEV_HIGH,
} tg_alert_severity_t;

typedef enum tg_alert_state {
    TG_ALERT_FIRING = 1,
    TG_ALERT_RESOLVED = 2,
    TG_ALERT_ACKED = 3, /* not a state of the alert: tg_msg_t.aux of an `alert_ack` message */
} tg_alert_state_t;

/** "rebalance_drift", "loss_limit", ... (SPEC names); "?" when out of range. */
const char *tg_alert_rule_name(tg_alert_rule_t r);
/** Rule by SPEC name; -EINVAL when unknown. */
int tg_alert_rule_parse(const char *name, tg_alert_rule_t *out);
/** SPEC severity: loss_limit/feed_stale/breaker_open high, gain_target low, others medium. */
tg_alert_severity_t tg_alert_rule_severity(tg_alert_rule_t r);
/** "low" | "medium" | "high". */
const char *tg_alert_severity_name(tg_alert_severity_t s);
/** "firing" | "resolved". */
const char *tg_alert_state_name(tg_alert_state_t s);
/** Above-type rules fire at value >= threshold (rebalance_drift, gain_target, price_above,
 * concentration, volatility, move - the last on |value|). */
bool tg_alert_rule_is_above(tg_alert_rule_t r);

/**
 * Level at which a firing alert resolves (SPEC §4): above-type
 * threshold - h*|threshold|, below-type threshold + h*|threshold|, the
 * product rounded half-to-even to 8 places. `threshold` is the compared
 * figure's threshold as signed (loss_limit 0.10 is compared at -0.10).
 * Returns 0 or -ERANGE.
 */
int tg_alert_resolve_level(tg_alert_rule_t r, tg_dec_t threshold, tg_dec_t h, tg_dec_t *out);

/** "a-" + 16 hex digits. */
#define TG_ALERT_ID_LEN 18

/**
 * Alert id generator: ids are a 64-bit counter mixed (splitmix64) with a
 * per-process seed, so ids from different runs do not collide in the
 * portfolio_alerts table. One generator per engine; not thread-safe.
 */
typedef struct tg_alert_ids {
    uint64_t seed;
    uint64_t counter;
} tg_alert_ids_t;

void tg_alert_ids_init(tg_alert_ids_t *g, uint64_t seed);
/** Write the next id, NUL-terminated, into out[TG_ALERT_ID_LEN + 1]. */
void tg_alert_ids_next(tg_alert_ids_t *g, char *out);

/**
 * One rule instance's state: quiet, or firing with the id of the current
 * episode. Embedded by value in the portfolio book.
 */
typedef struct tg_alert_fsm {
    bool firing;
    char id[TG_ALERT_ID_LEN + 1];
} tg_alert_fsm_t;

/**
 * Advance the state machine with this evaluation's conditions: `beyond` (the
 * firing condition holds) and `cleared` (the hysteresis resolve condition
 * holds). Returns TG_ALERT_FIRING when a new episode starts (a fresh id is
 * drawn), TG_ALERT_RESOLVED when the episode ends (the id is kept in the fsm
 * until the next firing so the resolved event can carry it), 0 otherwise.
 * A firing alert never fires again while it stays beyond (no re-fire), and
 * between the two levels nothing changes (no flapping).
 */
int tg_alert_fsm_step(tg_alert_fsm_t *f, bool beyond, bool cleared, tg_alert_ids_t *ids);

/** Alert event as delivered to the engine thread (SPEC §5 `alert`, minus seq). */
typedef struct tg_alert_event {
    char alert_id[TG_ALERT_ID_LEN + 1];
    const char *portfolio_id;   /* borrowed: valid during the callback only */
    char symbol[TG_SYMBOL_MAX + 1]; /* price rules and relative drift: the symbol; else "" */
    tg_alert_rule_t rule;
    tg_alert_severity_t severity;
    tg_alert_state_t state;
    tg_dec_t value;             /* the figure compared: max_drift, day_change_pct, pnl_pct, price,
                                 * max |weight|, realized volatility, signed move */
    int window_s;               /* move: its window (for the message) */
    tg_dec_t threshold;         /* as compared: loss_limit 0.10 appears as -0.1 */
    int64_t ts;                 /* ts of the tick (or change) that caused it */
    char message[160];          /* e.g. "max drift 5.12% ≥ 5.00%" (UTF-8) */
} tg_alert_event_t;

/**
 * Fill ev->message from rule, state, value, threshold and symbol:
 * "max drift 5.12% ≥ 5.00%", "day change -10.20% ≤ -10.00%",
 * "P&L 20.50% ≥ 20.00%", "AAPL 200.5 ≥ 200"; resolved events compare
 * against the resolve level ("max drift 4.40% ≤ 4.50%, resolved").
 * `level` is the resolve level for resolved events (ignored when firing).
 */
void tg_alert_format_message(tg_alert_event_t *ev, tg_dec_t level, bool relative);

#endif
