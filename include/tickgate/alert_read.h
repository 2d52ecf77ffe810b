/* alert_read.h - reading alert history back for the alerts API (SPEC §13
 * "Alert API": with PostgreSQL, GET /api/v1/alerts[/active] come from
 * `portfolio_alerts`). The gateway asks through the function pointer
 * tg_gateway_deps_t.alerts_read that main.c wires to the store, so neither
 * names the other; this header is the shape both agree on.
 */
#ifndef TICKGATE_ALERT_READ_H
#define TICKGATE_ALERT_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tickgate/alerts.h"
#include "tickgate/fixed.h"
#include "tickgate/portfolio.h"

/** What to read: the API's filters and who asks. Strings are borrowed. */
typedef struct tg_alert_query {
    const char *portfolio_id; /* "" = any (feed alerts never match one) */
    const char *rule;         /* "" = any; a valid rule name */
    int state;                /* 0 = any, TG_ALERT_FIRING, TG_ALERT_RESOLVED */
    bool active;              /* only alerts not resolved (their firing event) */
    int64_t since;            /* event ts >= since (ns); 0 = any */
    uint32_t limit;           /* 1..1000: the newest `limit` events */
    /* authorization, as the in-memory path: an admin reads everything,
     * feed alerts included; anyone else the portfolio alerts whose row owner
     * is `sub` or whose portfolio is in readable[] (token claim plus the
     * portfolios currently shared with them) */
    bool admin;
    const char *sub;
    const char *const *readable;
    size_t n_readable;
    /* events left out (the caller answers them from memory): alerts whose
     * firing event, and alerts whose resolved event, is not wanted. Left
     * out in SQL, so that `limit` counts only events that are returned. */
    const char *const *skip_firing;
    size_t n_skip_firing;
    const char *const *skip_resolved;
    size_t n_skip_resolved;
} tg_alert_query_t;

/**
 * One alert event read back. A `portfolio_alerts` row is one alert from
 * firing to resolution, so it gives its firing event (ts = created_at) and,
 * once resolved, its resolved event (ts = resolved_at). The row keeps only
 * the firing's value, threshold and message, so a resolved event read back
 * carries those. Times have the column's microsecond precision.
 */
typedef struct tg_alert_row {
    char alert_id[TG_ALERT_ID_LEN + 1];
    char portfolio_id[TG_PORTFOLIO_ID_MAX + 1]; /* "" = a feed (system) alert */
    char feed[64];                              /* feed alerts: the feed's name */
    char symbol[TG_SYMBOL_MAX + 1];             /* price rules: the symbol; else "" */
    tg_alert_rule_t rule;
    tg_alert_severity_t severity;
    tg_alert_state_t state;
    tg_dec_t value, threshold; /* portfolio alerts only */
    char message[160];
    int64_t ts; /* ns since the epoch (a whole number of microseconds) */
} tg_alert_row_t;

/**
 * The reader: up to `cap` events matching q, newest first (ts, then id).
 * Returns the count or a negative errno with a one-line reason in err:
 * an outage (-ECONNREFUSED unreachable, -ETIMEDOUT past its time bound, -EIO
 * failed), or a query PostgreSQL refused while it and the connection are fine
 * (-EINVAL a value it rejects, -EPROTO the statement does not fit its schema).
 * Rows that cannot be read (a value that is no decimal, an unknown rule, a
 * field too long) are skipped and logged, never fatal. Blocks the calling
 * thread for a bounded time (see the implementation).
 */
typedef int (*tg_alert_read_fn)(void *ctx, const tg_alert_query_t *q, tg_alert_row_t *out,
                                size_t cap, char *err, size_t errlen);

#endif
