/* sink.h - the small interfaces between the engine and the stores.
 *
 * The engine never names the store and the store never calls the engine:
 * main.c wires the store's functions into these structs (a function pointer
 * plus its context, like tg_feed_ops). Rows and ticks pass by value.
 */
#ifndef TICKGATE_SINK_H
#define TICKGATE_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tickgate/alerts.h"
#include "tickgate/daystate.h"
#include "tickgate/fixed.h"
#include "tickgate/msg.h"
#include "tickgate/portfolio.h"
#include "tickgate/tick.h"

typedef enum tg_snap_kind {
    TG_SNAP_QUOTE = 1,      /* quote_snapshots */
    TG_SNAP_PORTFOLIO,      /* portfolio_snapshots */
    TG_SNAP_ALERT_FIRING,   /* portfolio_alerts insert */
    TG_SNAP_ALERT_RESOLVED, /* portfolio_alerts.resolved_at update */
    TG_SNAP_ALERT_ACK,      /* portfolio_alerts.is_read = true (POST .../ack) */
    TG_SNAP_BAR,            /* bars (a final bar; ts = its start) */
    TG_SNAP_DAY_QUOTE,      /* day_state: a quote's day_open and volume (upsert) */
    TG_SNAP_DAY_PORTFOLIO,  /* day_state: a portfolio's day baseline (upsert) */
} tg_snap_kind_t;

/**
 * One row handed from the engine to the writer, by value through the ring.
 * Plain data except `holdings`: a reference to the portfolio's last `portfolio`
 * message whose "holdings" array becomes the jsonb column (NULL = column NULL);
 * the reference passes to the writer with the row.
 */
typedef struct tg_snap_row {
    uint8_t kind; /* tg_snap_kind_t */
    int64_t ts;   /* ns since the epoch: snapshot time, alert time */
    union {
        struct {
            char symbol[TG_SYMBOL_MAX + 1];
            tg_dec_t price, bid, ask, volume; /* 0 bid/ask = NULL */
            uint16_t source;                  /* feed index */
        } q;
        struct {
            char id[TG_PORTFOLIO_ID_MAX + 1];
            tg_dec_t value, cost_basis, pnl, day_change, max_drift;
            tg_msg_t *holdings;
        } p;
        struct {
            char alert_id[TG_ALERT_ID_LEN + 1];
            char portfolio_id[TG_PORTFOLIO_ID_MAX + 1];
            char owner[TG_PORTFOLIO_ID_MAX + 1];
            char symbol[TG_SYMBOL_MAX + 1];
            char feed[64];          /* feed alerts (portfolio_id ""): the feed's name */
            uint8_t rule, severity; /* tg_alert_rule_t, tg_alert_severity_t */
            tg_dec_t value, threshold;
            char message[160];
        } a;
        struct {
            char symbol[TG_SYMBOL_MAX + 1];
            char interval[4]; /* "1s", "1m", "5m", "1h", "1d" */
            tg_dec_t open, high, low, close, volume, vwap;
            uint64_t trades;
        } b;
        struct {
            char key[TG_PORTFOLIO_ID_MAX + 1]; /* the symbol, or the portfolio id */
            int64_t session_start;             /* ns: the session day the figures are of */
            tg_dec_t day_open, volume;         /* TG_SNAP_DAY_QUOTE ... */
            tg_dec_t price;                    /* its last trade price, 0 = none (NULL) */
            int64_t price_ts;                  /* ns: that trade's time */
            tg_dec_t open, cash, cost;         /* TG_SNAP_DAY_PORTFOLIO (tg_book_day_t) */
            uint32_t n_holdings;
            bool pending;
        } d;
    };
} tg_snap_row_t;

/**
 * Accepted ticks, in arrival order (the journal, the Redis tick fan-out).
 * Engine thread only. push == NULL: not configured.
 */
typedef struct tg_tick_sink {
    void (*push)(void *ctx, const tg_tick_t *ticks, size_t n);
    void *ctx;
} tg_tick_sink_t;

/**
 * Snapshot and alert rows. Engine thread only, never blocks: push takes what
 * fits and returns how many rows it took (the engine keeps the rest for its
 * next loop turn); taken rows' `holdings` references pass to the sink.
 * push == NULL: not configured.
 */
typedef struct tg_row_sink {
    size_t (*push)(void *ctx, const tg_snap_row_t *rows, size_t n);
    void *ctx;
} tg_row_sink_t;

/**
 * Alert events as published (the `alert` message, portfolio and system
 * alerts): the webhook / Alertmanager delivery thread. Engine thread only,
 * never blocks: `push` borrows the message (it takes a reference to keep it);
 * `flush` runs once per engine loop pass to move what it had to keep aside.
 * push == NULL: not configured.
 */
typedef struct tg_msg_sink {
    void (*push)(void *ctx, tg_msg_t *m);
    void (*flush)(void *ctx);
    void *ctx;
} tg_msg_sink_t;

/**
 * Where a portfolio source (PostgreSQL) hands what it loads: main.c wires the
 * engine's command queue here. Called on the source's own thread; put takes
 * ownership of spec (heap, freed with tg_portfolio_spec_free + free).
 */
typedef struct tg_portfolio_sink {
    int (*put)(void *ctx, tg_portfolio_spec_t *spec);
    int (*remove)(void *ctx, const char *id);
    int (*restore_alert)(void *ctx, const char *portfolio_id, const char *rule,
                         const char *symbol, const char *alert_id);
    void *ctx;
} tg_portfolio_sink_t;

/**
 * A store that keeps the day state (SPEC §13; PostgreSQL's day_state table):
 * load hands each saved record of the session day that started at
 * `session_start` (ns since the epoch) to cb, skipping (and logging)
 * malformed ones. Returns how many it delivered, or a negative errno when it
 * could not read (the day then starts now). Main thread, once, before the
 * engine thread runs; may block for a bounded time (connect and statement
 * timeouts). load == NULL: not configured.
 */
typedef struct tg_daystate_source {
    int (*load)(void *ctx, int64_t session_start, const tg_daystate_cb_t *cb);
    void *ctx;
} tg_daystate_source_t;

#endif
