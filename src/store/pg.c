/* pg.c - the PostgreSQL thread: migrate, portfolios in, snapshots and alerts out.
 *
 * See pg.h for the contract. Internals:
 *
 *   engine --ring (tg_snap_row_t)--> this thread --> backlog --> COPY batches
 *
 * The backlog is a FIFO of segments, each a block of COPY text lines tagged
 * with their table ('Q' quote_snapshots, 'P' portfolio_snapshots, 'B' bars,
 * 'D' day_state, 'A' portfolio_alerts insert, 'R' alert resolution, 'K' ack). A segment is in memory or,
 * past postgres.max_buffer_rows with journal.dir set, in a spill file under
 * journal.dir/pg-spill/; either way it keeps its place in the FIFO, so the
 * backlog is written in order when PostgreSQL comes back. A batch (one
 * transaction) COPYs the head segments into temporary staging tables and
 * moves them with INSERT ... SELECT ... ON CONFLICT DO NOTHING: a batch
 * retried after a failure (lost COMMIT reply, restart) never duplicates.
 *
 * Everything below runs on the writer thread except tg_store_pg_push
 * (engine thread), tg_store_pg_up (any thread) and the pure helpers.
 */
#include "pg_int.h"

/* ---- connection ----------------------------------------------------------- */

static void quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg; /* NOTICEs ("... already exists, skipping") are not operator news */
}

PGconn *tg__pg_connect(const char *url)
{
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {url, "3", "tickgate", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c)
        PQsetNoticeProcessor(c, quiet_notice, NULL);
    return c;
}

bool tg__pg_exec_ok(PGconn *c, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok && err)
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
    PQclear(r);
    return ok;
}

void tg__pg_conn_lost(tg_store_pg_t *pg, const char *why)
{
    /* `why` may be PQerrorMessage(pg->conn): copy it before PQfinish frees it */
    char msg[256];
    snprintf(msg, sizeof msg, "%s", why ? why : "");
    if (pg->conn) {
        PQfinish(pg->conn);
        pg->conn = NULL;
    }
    if (atomic_load(&pg->up) || !pg->down_logged) {
        size_t l = strlen(msg);
        while (l && (msg[l - 1] == '\n' || msg[l - 1] == ' '))
            msg[--l] = 0;
        TG_WARN("postgres_down", "error", TG_S(msg));
        pg->down_logged = true;
    }
    atomic_store(&pg->up, 0);
    tg_gauge_set(pg->m_up, 0);
    pg->next_connect_ns = tg_mono_ns() + tg_backoff_next(&pg->backoff);
}

static const char staging_sql[] =
    "CREATE TEMP TABLE IF NOT EXISTS tg_stage_q (symbol text, ts timestamptz, price numeric, "
    "bid numeric, ask numeric, volume numeric, source text) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS tg_stage_p (portfolio_id text, ts timestamptz, value numeric, "
    "cost_basis numeric, pnl numeric, day_change numeric, max_drift numeric, holdings jsonb) "
    "ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS tg_stage_a (id text, user_id text, portfolio_id text, "
    "alert_type text, severity text, title text, message text, metadata jsonb, "
    "created_at timestamptz) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS tg_stage_r (id text, resolved_at timestamptz) "
    "ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS tg_stage_b (symbol text, iv text, start timestamptz, "
    "open numeric, high numeric, low numeric, close numeric, volume numeric, trades bigint, "
    "vwap numeric) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS tg_stage_k (id text) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS tg_stage_d (kind text, key text, session_start bigint, "
    "day_open numeric, volume numeric, price numeric, price_ts bigint, pending boolean, open numeric, cash numeric, "
    "cost numeric, n_holdings integer, ts timestamptz) ON COMMIT DELETE ROWS;";

static void try_connect(tg_store_pg_t *pg)
{
    PGconn *c = tg__pg_connect(pg->cfg->postgres.url);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        pg->conn = c;
        tg__pg_conn_lost(pg, c ? PQerrorMessage(c) : "out of memory");
        return;
    }
    pg->conn = c;
    char err[512];
    /* day_state only without journal.dir (with it the file is the day
     * state): a binary upgraded before `tickgate migrate` still connects */
    PGresult *r = PQexec(c, pg->cfg->journal.dir[0]
                                ? "SELECT to_regclass('portfolio_alerts') IS NOT NULL AND "
                                  "to_regclass('quote_snapshots') IS NOT NULL AND "
                                  "to_regclass('bars') IS NOT NULL"
                                : "SELECT to_regclass('portfolio_alerts') IS NOT NULL AND "
                                  "to_regclass('quote_snapshots') IS NOT NULL AND "
                                  "to_regclass('bars') IS NOT NULL AND "
                                  "to_regclass('day_state') IS NOT NULL");
    bool schema = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                  PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!schema) {
        tg__pg_conn_lost(pg, "schema missing: run `tickgate migrate`");
        return;
    }
    if (!tg__pg_exec_ok(c, "SET TIME ZONE 'UTC'", err, sizeof err) ||
        !tg__pg_exec_ok(c, staging_sql, err, sizeof err) ||
        !tg__pg_exec_ok(c, "LISTEN tickgate_portfolios", err, sizeof err) || tg__pg_sync_portfolios(pg) != 0) {
        tg__pg_conn_lost(pg, PQerrorMessage(c));
        return;
    }
    if (!pg->alerts_restored)
        tg__pg_restore_alerts(pg);
    tg_backoff_reset(&pg->backoff);
    pg->down_logged = false;
    atomic_store(&pg->up, 1);
    tg_gauge_set(pg->m_up, 1);
    TG_INFO("postgres_up", "backlog", TG_I(pg->total_rows + pg->cur.rows));
    pg->ever_up = true;
}

static void poll_notifies(tg_store_pg_t *pg)
{
    if (!PQconsumeInput(pg->conn)) {
        tg__pg_conn_lost(pg, PQerrorMessage(pg->conn));
        return;
    }
    PGnotify *n;
    while (pg->conn && (n = PQnotifies(pg->conn)) != NULL) {
        TG_DEBUG("portfolio_notify", "portfolio", TG_S(n->extra));
        tg__pg_on_notify(pg, n->extra);
        PQfreemem(n);
    }
}

static size_t drain_ring(tg_store_pg_t *pg)
{
    size_t total = 0, n;
    while ((n = tg_ring_pop(pg->ring, pg->batch, sizeof pg->batch / sizeof pg->batch[0])) > 0) {
        for (size_t i = 0; i < n; i++) {
            tg__pg_add_row(pg, &pg->batch[i]);
            if (pg->cur.rows >= SEG_MAX_ROWS || pg->cur.len >= SEG_MAX_BYTES)
                tg__pg_seal(pg);
        }
        total += n;
    }
    if (total)
        tg__pg_update_backlog(pg);
    return total;
}

static void *pg_thread(void *arg)
{
    tg_store_pg_t *pg = arg;
    pthread_setname_np(pthread_self(), "postgres");
    int64_t stop_deadline = 0;
    for (;;) {
        bool stopping = atomic_load(&pg->stop);
        int64_t now = tg_mono_ns();
        drain_ring(pg);
        if (stopping && !stop_deadline)
            stop_deadline = now + (int64_t)pg->grace_ms * 1000000LL;
        if (!pg->conn && now >= pg->next_connect_ns && !(stopping && !pg->ever_up)) {
            try_connect(pg);
            atomic_store(&pg->attempted, 1);
        }
        if (pg->conn)
            poll_notifies(pg);
        bool pending = pg->head || pg->cur.rows;
        if (pg->conn && pending && (now - pg->last_write_ns >= WRITE_GAP_NS || stopping)) {
            tg__pg_seal(pg);
            /* several batches per round while catching up, but keep notifies flowing */
            int64_t budget = now + 200000000LL;
            while (pg->conn && pg->head && tg_mono_ns() < budget)
                if (tg__pg_write_batch(pg) != 0)
                    break;
            pg->last_write_ns = tg_mono_ns();
        }
        if (pg->conn)
            tg__pg_retention(pg, tg_now_ns());
        if (stopping && (!(pg->head || pg->cur.rows) || now >= stop_deadline || !pg->conn))
            break;
        if (pg->conn) {
            struct pollfd pfd = {.fd = PQsocket(pg->conn), .events = POLLIN};
            poll(&pfd, 1, 5);
        } else {
            struct timespec ts = {0, 5000000};
            nanosleep(&ts, NULL);
        }
    }
    /* what could not be written survives in spill files when journal.dir is set */
    drain_ring(pg);
    tg__pg_seal(pg);
    uint64_t lost = 0;
    for (seg_t *s = pg->head; s; s = s->next)
        if (s->data && !s->file_id) {
            if (pg->spill_dir[0] && tg__pg_spill_write(pg, s) == 0)
                continue;
            lost += s->rows;
        }
    if (pg->total_rows)
        TG_WARN("snapshot_backlog_at_exit", "rows", TG_I(pg->total_rows), "lost", TG_I(lost));
    return NULL;
}

/* ---- public ----------------------------------------------------------------- */

int tg_store_pg_start(tg_store_pg_t **out, const tg_config_t *cfg,
                      const tg_portfolio_sink_t *portfolios, tg_metrics_t *metrics)
{
    if (!out || !cfg || !cfg->postgres.url[0] || !portfolios || !portfolios->put ||
        !portfolios->remove || !portfolios->restore_alert)
        return -EINVAL;
    tg_store_pg_t *pg = calloc(1, sizeof *pg);
    if (!pg)
        return -ENOMEM;
    pg->cfg = cfg;
    tg_backoff_init(&pg->backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS, (uint64_t)tg_now_ns());
    pg->portfolios = *portfolios;
    pthread_mutex_init(&pg->api_lock, NULL);
    int rc = tg_ring_create(&pg->ring, "snapshots", sizeof(tg_snap_row_t), RING_CAP,
                            TG_RING_BLOCK);
    if (rc)
        goto fail;
    for (int t = 0; t < T_R; t++) {
        char label[64];
        snprintf(label, sizeof label, "table=\"%s\"", table_names[t]);
        pg->m_rows[t] = tg_metrics_counter(metrics, "tickgate_snapshot_rows_total", label,
                                           "Rows written to PostgreSQL, by table");
    }
    pg->m_rows[T_R] = pg->m_rows[T_K] = pg->m_rows[T_A];
    pg->m_dropped = tg_metrics_counter(metrics, "tickgate_snapshot_dropped_total", NULL,
                                       "Snapshot rows dropped past postgres.max_buffer_rows");
    pg->m_backlog = tg_metrics_gauge(metrics, "tickgate_snapshot_backlog", NULL,
                                     "Rows waiting to be written to PostgreSQL");
    pg->m_up = tg_metrics_gauge(metrics, "tickgate_postgres_up", NULL,
                                "1 while PostgreSQL is connected");
    if (!pg->m_rows[T_Q] || !pg->m_rows[T_P] || !pg->m_rows[T_A] || !pg->m_dropped ||
        !pg->m_backlog || !pg->m_up) {
        rc = -ENOMEM;
        goto fail_ring;
    }
    if (cfg->journal.dir[0]) {
        snprintf(pg->spill_dir, sizeof pg->spill_dir, "%s/pg-spill", cfg->journal.dir);
        mkdir(cfg->journal.dir, 0700);
        if (mkdir(pg->spill_dir, 0700) != 0 && errno != EEXIST) {
            TG_WARN("snapshot_spill_unavailable", "dir", TG_S(pg->spill_dir), "error",
                    TG_S(strerror(errno)));
            pg->spill_dir[0] = 0;
        } else {
            tg__pg_spill_scan(pg);
        }
    }
    rc = pthread_create(&pg->thread, NULL, pg_thread, pg);
    if (rc) {
        rc = -rc;
        goto fail_ring;
    }
    pg->started = true;
    *out = pg;
    return 0;
fail_ring:
    tg_ring_destroy(pg->ring);
fail:
    pthread_mutex_destroy(&pg->api_lock);
    free(pg);
    return rc;
}

size_t tg_store_pg_push(tg_store_pg_t *pg, const tg_snap_row_t *rows, size_t n)
{
    return tg_ring_push(pg->ring, rows, n);
}

bool tg_store_pg_wait_first(tg_store_pg_t *pg, int timeout_ms)
{
    int64_t end = tg_mono_ns() + (int64_t)timeout_ms * 1000000LL;
    while (!atomic_load(&pg->attempted) && tg_mono_ns() < end) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return atomic_load(&pg->up) != 0;
}

bool tg_store_pg_up(const tg_store_pg_t *pg)
{
    return pg && atomic_load(&pg->up) != 0;
}

void tg_store_pg_stop(tg_store_pg_t *pg, int grace_ms)
{
    if (!pg)
        return;
    if (pg->started) {
        pg->grace_ms = grace_ms;
        atomic_store(&pg->stop, 1);
        pthread_join(pg->thread, NULL);
    }
    /* rows still in the ring were pushed after the thread's last drain */
    tg_snap_row_t r;
    while (tg_ring_pop(pg->ring, &r, 1))
        if (r.kind == TG_SNAP_PORTFOLIO)
            tg_msg_unref(r.p.holdings);
    if (pg->conn)
        PQfinish(pg->conn);
    if (pg->api_conn)
        PQfinish(pg->api_conn);
    pthread_mutex_destroy(&pg->api_lock);
    for (seg_t *s = pg->head, *n; s; s = n) {
        n = s->next;
        tg__pg_seg_free(s);
    }
    free(pg->cur.data);
    for (size_t i = 0; i < pg->nknown; i++)
        free(pg->known[i]);
    free(pg->known);
    tg_ring_destroy(pg->ring);
    free(pg);
}
