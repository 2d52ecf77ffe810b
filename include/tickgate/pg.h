/* pg.h - PostgreSQL: schema migration, portfolios, snapshots and alerts (SPEC §7).
 *
 * tg_store_pg_t owns one thread and one libpq connection. It
 *   - loads the portfolios (+ holdings + shares) and the unresolved alerts at
 *     (re)connect and hands them to the engine's control queue;
 *   - LISTENs on tickgate_portfolios and re-reads a portfolio on NOTIFY;
 *   - writes the rows the engine hands over through an SPSC ring (engine =
 *     the only producer, never blocked: tg_store_pg_push takes what fits)
 *     in batches: COPY into temporary staging tables, then
 *     INSERT ... SELECT ... ON CONFLICT DO NOTHING, one transaction per batch;
 *   - survives outages: rows wait in memory (postgres.max_buffer_rows), then
 *     in spill files under journal.dir/pg-spill/ (kept across restarts), and
 *     are written in order once PostgreSQL is back; without journal.dir the
 *     oldest snapshot rows beyond the buffer are dropped and counted, alert
 *     rows never.
 */
#ifndef TICKGATE_PG_H
#define TICKGATE_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tickgate/alert_read.h"
#include "tickgate/alerts.h"
#include "tickgate/config.h"
#include "tickgate/fixed.h"
#include "tickgate/metrics.h"
#include "tickgate/msg.h"
#include "tickgate/portfolio.h"
#include "tickgate/sink.h"

typedef struct tg_store_pg tg_store_pg_t;

/**
 * Start the writer thread for cfg->postgres.url (must be non-empty). It
 * connects in the background (start never fails for want of a server), and
 * hands portfolios and restored alerts to `portfolios` (copied; main.c wires
 * the engine's commands there; called on the writer thread, before or after
 * the engine starts). Main thread; caller owns *out.
 */
int tg_store_pg_start(tg_store_pg_t **out, const tg_config_t *cfg,
                      const tg_portfolio_sink_t *portfolios, tg_metrics_t *metrics);

/**
 * Engine thread: hand over up to n rows; returns how many were taken (the
 * ring is full otherwise: the engine keeps the rest for later). Never blocks.
 * Taken rows' holdings references belong to the writer.
 */
size_t tg_store_pg_push(tg_store_pg_t *pg, const tg_snap_row_t *rows, size_t n);

/**
 * Main thread, at start: wait (at most timeout_ms) until the first connection
 * attempt is over, so the portfolios are queued to the engine before clients
 * arrive. Returns whether PostgreSQL is up; when it is not, tickgate serves
 * anyway and loads the portfolios once it connects.
 */
bool tg_store_pg_wait_first(tg_store_pg_t *pg, int timeout_ms);

/**
 * PUT/DELETE /api/v1/portfolios/{id} with PostgreSQL (SPEC §15): write the
 * portfolio (spec NULL = delete) with its holdings and shares in one
 * transaction; `body` is the request JSON whose "alerts" object is stored as
 * given. Returns after the COMMIT: 0, -ENOENT (delete of an unknown id),
 * -ECONNREFUSED or -EIO with a one-line reason in err. ctx is the
 * tg_store_pg_t. Any thread; blocks for one short transaction.
 */
int tg_store_pg_portfolio_write(void *ctx, const char *id, const tg_portfolio_spec_t *spec,
                                const char *body, size_t blen, char *err, size_t errlen);

/** Any thread: true while the connection is up and the schema usable. */
bool tg_store_pg_up(const tg_store_pg_t *pg);

/**
 * Stop: drain the ring, try to write the backlog for up to `grace_ms`, spill
 * what is left to journal.dir (if set), close and join. NULL is fine.
 */
void tg_store_pg_stop(tg_store_pg_t *pg, int grace_ms);

/**
 * `tickgate migrate`: apply the embedded deploy/sql/NNN_*.sql files not yet
 * recorded in schema_migrations, in one transaction, printing one line per
 * file to `out`. 0, or negative errno with a one-line reason in err
 * (-EINVAL: empty url; -ECONNREFUSED: unreachable; -EIO: SQL failed).
 */
int tg_store_pg_migrate(const char *url, FILE *out, char *err, size_t errlen);

/**
 * The day state source (tg_daystate_source_t.load; ctx is the
 * tg_store_pg_t): the day_state rows of the session day that started at
 * session_start, each checked by tg_daystate_record; a malformed row is
 * logged and skipped. Opens a connection of its own (connect_timeout 3 s,
 * statement_timeout 10 s). Returns the rows delivered, or -ECONNREFUSED /
 * -EIO (logged) when PostgreSQL cannot be read. Main thread, at start-up.
 */
int tg_store_pg_daystate_load(void *ctx, int64_t session_start, const tg_daystate_cb_t *cb);

struct tg_bar;

/**
 * GET /api/v1/bars from the `bars` table: final bars of `symbol` at
 * `interval` ("1m", ...) with from <= start <= to (to <= 0: no bound), oldest
 * first, at most `cap`: with from <= 0 the newest `cap`, else the oldest
 * from `from`. Uses a connection of the calling thread (opened on first use,
 * reopened after a failure, closed at thread exit), so any thread may call
 * it; it blocks for the query (connect_timeout 2 s, statement_timeout 5 s).
 * Returns the count or a negative errno (err names the reason).
 */
int tg_store_pg_bars(const char *url, const char *symbol, const char *interval, int64_t from,
                     int64_t to, struct tg_bar *out, size_t cap, char *err, size_t errlen);

/**
 * POST /api/v1/alerts/{id}/ack for an alert the gateway no longer holds in
 * memory (older than its ring, or from before a restart): the owner and
 * portfolio of row `alert_id` of `portfolio_alerts` ("" for a feed alert).
 * Same connection and blocking as tg_store_pg_bars. Returns 1 found, 0 no
 * such row, or a negative errno (err names the reason): -EINVAL / -EPROTO
 * when the server refused the query (tg_store_pg_query_error), else an outage.
 */
int tg_store_pg_alert_owner(const char *url, const char *alert_id, char *portfolio_id,
                            size_t pcap, char *user_id, size_t ucap, char *err, size_t errlen);

/**
 * GET /api/v1/alerts[/active] with PostgreSQL (SPEC §13): the events of
 * `portfolio_alerts` matching q, newest first (tg_alert_read_fn, ctx = the
 * postgres.url string; main.c hands it to the gateway). Same per-thread
 * connection as tg_store_pg_bars, but the wait for the answer is bounded
 * (ALERTS_QUERY_MS in pg_alerts_read.c): a slow server costs a service thread
 * at most connect_timeout plus that bound. Bad rows are skipped and logged.
 */
int tg_store_pg_alerts_read(void *ctx, const tg_alert_query_t *q, tg_alert_row_t *out,
                            size_t cap, char *err, size_t errlen);

/* ---- pure helpers (unit-tested) ---------------------------------------- */

/**
 * Append one COPY text-format line (fields tab-separated, "\N" for NULL,
 * ending in '\n') for a row to buf[cap]. `source` names the feed of a quote
 * row (NULL = NULL). Returns the length, or 0 when cap is too small.
 */
size_t tg_store_copy_line(const tg_snap_row_t *r, const char *source, char *buf, size_t cap);

/** Format ns since the epoch as a timestamptz literal "2024-05-01 12:00:00.123456+00". */
size_t tg_store_format_ts(int64_t ns, char *buf, size_t cap);

/**
 * Find the "holdings" array in a `portfolio` message's JSON text: *start and
 * *len cover "[...]". -ENOENT when absent or unbalanced.
 */
int tg_store_holdings_json(const char *json, size_t len, size_t *start, size_t *out_len);

/** Columns of the alerts query, in order (pg_alerts_read.c). */
#define TG_ALERT_ROW_COLS 11
/**
 * One row of that query (text values; NULL where null[i]) into *out:
 * 0 or -EINVAL with the reason in why (a field too long, an unknown rule,
 * severity or state, a value that is no decimal, a bad time). Never reads
 * past a field; never cuts one.
 */
int tg_store_alert_row_parse(const char *const f[TG_ALERT_ROW_COLS],
                             const bool null[TG_ALERT_ROW_COLS], tg_alert_row_t *out, char *why,
                             size_t wlen);

/**
 * What a query the server answered with an error (SQLSTATE, NULL when none)
 * means for the alerts API: -EINVAL for class 22 (data exception: a value
 * the request passed that PostgreSQL refuses), -EPROTO for class 42 (the
 * statement does not fit the schema: a migration missing), -EIO for anything
 * else. Only -EIO is an outage; the first two say nothing about the server
 * or the connection.
 */
int tg_store_pg_query_error(const char *sqlstate);

#endif
