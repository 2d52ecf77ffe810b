/* engine.h - the engine thread: feed rings in, last quotes and portfolio
 * figures, encoded messages out to the gateway threads.
 *
 * One engine thread consumes every feed's SPSC ring, keeps the last quote per
 * symbol, applies failover (which feed a symbol takes ticks from), updates
 * portfolios incrementally, evaluates alerts, and publishes each resulting
 * message once (tg_msg_t, both encodings) into one SPSC ring per gateway
 * thread, waking that thread through its callback. Everything here is owned
 * by the engine thread except where a function says "any thread".
 */
#ifndef TICKGATE_ENGINE_H
#define TICKGATE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tickgate/config.h"
#include "tickgate/feed.h"
#include "tickgate/metrics.h"
#include "tickgate/msg.h"
#include "tickgate/portfolio.h"
#include "tickgate/ring.h"
#include "tickgate/sink.h"

typedef struct tg_engine tg_engine_t;

/** Wake a consumer of an output ring (e.g. lws_cancel_service). Any thread. */
typedef void (*tg_engine_wake_fn)(void *arg);

#define TG_ENGINE_MAX_OUTPUTS 64

/**
 * Create the engine over `feeds` (n of them, already initialized; the engine
 * becomes the consumer of their rings) and load the portfolios
 * (engine.portfolios_file, or the bundled demo when postgres.url is empty).
 * Main thread; caller owns *out. On error returns -errno and writes one line
 * into err naming the key or portfolio at fault (-EINVAL/-ENOENT: bad input).
 */
int tg_engine_create(tg_engine_t **out, const tg_config_t *cfg, tg_feed_t *feeds, size_t nfeeds,
                     tg_metrics_t *metrics, char *err, size_t errlen);

/**
 * Add an output (one per gateway thread) before tg_engine_start: the engine
 * produces tg_msg_t* into *ring (created here, consumer = that gateway thread,
 * which owns one reference of every pointer it pops).
 */
int tg_engine_add_output(tg_engine_t *e, tg_ring_t **ring, tg_engine_wake_fn wake, void *arg);

/**
 * Where the engine hands what it persists; main.c wires the stores' functions
 * here (the engine never names a store). Every push runs on the engine thread.
 */
typedef struct tg_engine_sinks {
    tg_tick_sink_t journal;  /* every accepted tick (journal.dir); may wait, never drops */
    tg_tick_sink_t ticks;    /* every accepted tick (Redis fan-out) */
    tg_row_sink_t snapshots; /* snapshot and alert rows (PostgreSQL); set = snapshots on */
    tg_row_sink_t alerts;    /* alert rows (Redis alert stream); the count returned is ignored */
    tg_msg_sink_t deliver;   /* alert events (webhook, Alertmanager) */
} tg_engine_sinks_t;

/** Before tg_engine_start: copy the sinks (their contexts must outlive the engine thread). */
void tg_engine_set_sinks(tg_engine_t *e, const tg_engine_sinks_t *sinks);

/**
 * Day state across restarts without journal.dir (SPEC §13): read what `src`
 * (PostgreSQL's day_state) kept of the current session day - each quote's
 * day_open, volume and last price, each portfolio's day baseline (applied
 * now, or at the portfolio's first put). With journal.dir set this does
 * nothing: journal.dir/daystate is the day state then. After
 * tg_engine_set_sinks (with a snapshot sink, the engine also writes the
 * rows) and before tg_engine_start; main thread; blocks while src loads.
 */
void tg_engine_load_daystate(tg_engine_t *e, const tg_daystate_source_t *src);

/**
 * The portfolio sink that queues portfolios and restored alerts to this
 * engine's command queue (tg_engine_put_portfolio and friends): what main.c
 * hands the PostgreSQL source.
 */
tg_portfolio_sink_t tg_engine_portfolio_sink(tg_engine_t *e);

int tg_engine_start(tg_engine_t *e);
/** Stop and join the thread; pending messages stay in the output rings. */
void tg_engine_stop(tg_engine_t *e);
void tg_engine_destroy(tg_engine_t *e);

/** Feed threads: wake the engine after pushing ticks. Any thread. */
void tg_engine_wake(void *engine);

/** Commands other threads send the engine (HTTP API, PostgreSQL NOTIFY, SIGHUP). */
typedef enum tg_engine_cmd_type {
    TG_ENGINE_PUT_PORTFOLIO = 1, /* spec: create or replace */
    TG_ENGINE_REMOVE_PORTFOLIO,  /* id */
    TG_ENGINE_RELOAD,            /* re-read engine.portfolios_file (SIGHUP) */
    TG_ENGINE_RESTORE_ALERT,     /* id = portfolio id, rule, symbol, alert_id */
    TG_ENGINE_ACK_ALERT,         /* id = portfolio id ("" = feed alert), alert_id, by */
} tg_engine_cmd_type_t;

/**
 * Submit a command; the engine applies it on its thread between batches
 * (a mutex-protected queue: control traffic, never the tick path). Takes
 * ownership of `spec` (freed by the engine). Any thread. 0 or -ENOMEM.
 */
int tg_engine_put_portfolio(tg_engine_t *e, tg_portfolio_spec_t *spec);
int tg_engine_remove_portfolio(tg_engine_t *e, const char *id);
/**
 * SIGHUP: re-read the portfolios file; with `fresh` (the re-read config) also
 * take its alerts thresholds (defaults of portfolios that set none) and
 * limits.portfolio_max_hz, on the engine thread with the portfolios.
 */
int tg_engine_reload(tg_engine_t *e, const tg_config_t *fresh);
int tg_engine_restore_alert(tg_engine_t *e, const char *portfolio_id, const char *rule,
                            const char *symbol, const char *alert_id);

/**
 * POST /api/v1/alerts/{id}/ack (the caller checked access): the engine marks
 * the alert read in PostgreSQL (is_read) and publishes
 * {"type":"alert_ack","alert_id":…,"by":…} on the notifications of everyone
 * who may read the portfolio (admins only for a feed alert). Any thread.
 */
int tg_engine_ack_alert(tg_engine_t *e, const char *portfolio_id, const char *alert_id,
                        const char *by);

/** Any thread: symbols that no closed feed serves right now (0 = all covered). */
uint32_t tg_engine_degraded_symbols(const tg_engine_t *e);

typedef struct tg_bars tg_bars_t;

/**
 * The engine's bars (SPEC §12): tg_bars_find/tg_bars_query may be called from
 * any thread (the REST API, subscribe history). Borrowed; lives as long as e.
 */
tg_bars_t *tg_engine_bars(tg_engine_t *e);

/** Any thread: true once the engine thread runs its loop. */
bool tg_engine_running(const tg_engine_t *e);

#endif
