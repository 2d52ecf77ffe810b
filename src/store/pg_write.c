/* pg_write.c - snapshots and alerts out: COPY the backlog head into staging
 * tables and move it in one transaction; retention.
 */
#include "pg_int.h"

/* ---- writing ---------------------------------------------------------------- */

static const char *const copy_sql[T_COUNT] = {
    "COPY tg_stage_q FROM STDIN",
    "COPY tg_stage_p FROM STDIN",
    "COPY tg_stage_b FROM STDIN",
    "COPY tg_stage_d FROM STDIN",
    "COPY tg_stage_a FROM STDIN",
    "COPY tg_stage_r FROM STDIN",
    "COPY tg_stage_k FROM STDIN",
};

static const char *const move_sql[T_COUNT] = {
    "INSERT INTO quote_snapshots (symbol, ts, price, bid, ask, volume, source) "
    "SELECT symbol, ts, price, bid, ask, volume, source FROM tg_stage_q ON CONFLICT DO NOTHING",
    "INSERT INTO portfolio_snapshots (portfolio_id, ts, value, cost_basis, pnl, day_change, "
    "max_drift, holdings) SELECT portfolio_id, ts, value, cost_basis, pnl, day_change, max_drift, "
    "holdings FROM tg_stage_p ON CONFLICT DO NOTHING",
    "INSERT INTO bars (symbol, \"interval\", start, open, high, low, close, volume, trades, vwap) "
    "SELECT symbol, iv, start, open, high, low, close, volume, trades, vwap FROM tg_stage_b "
    "ON CONFLICT DO NOTHING",
    /* one row per key and batch (ON CONFLICT DO UPDATE refuses to touch a row
     * twice), the newest; an older row never overwrites a newer one */
    "INSERT INTO day_state (kind, key, session_start, day_open, volume, price, price_ts, "
    "pending, open, cash, cost, n_holdings, ts) SELECT DISTINCT ON (kind, key) kind, key, "
    "session_start, day_open, volume, price, price_ts, pending, open, cash, cost, n_holdings, "
    "ts FROM tg_stage_d ORDER BY kind, key, ts DESC ON CONFLICT (kind, key) DO UPDATE SET "
    "session_start = EXCLUDED.session_start, day_open = EXCLUDED.day_open, "
    "volume = EXCLUDED.volume, price = EXCLUDED.price, price_ts = EXCLUDED.price_ts, pending = EXCLUDED.pending, open = EXCLUDED.open, "
    "cash = EXCLUDED.cash, cost = EXCLUDED.cost, n_holdings = EXCLUDED.n_holdings, "
    "ts = EXCLUDED.ts WHERE day_state.ts <= EXCLUDED.ts",
    "INSERT INTO portfolio_alerts (id, user_id, portfolio_id, alert_type, severity, title, "
    "message, metadata, created_at) SELECT id, user_id, portfolio_id, alert_type, severity, "
    "title, message, metadata, created_at FROM tg_stage_a ON CONFLICT DO NOTHING",
    "UPDATE portfolio_alerts a SET resolved_at = r.resolved_at FROM tg_stage_r r "
    "WHERE a.id = r.id AND a.resolved_at IS NULL",
    "UPDATE portfolio_alerts a SET is_read = true FROM tg_stage_k k WHERE a.id = k.id",
};

/* COPY the lines of table t from segments [from, to) into its staging table. */
static int copy_table(tg_store_pg_t *pg, int t, seg_t *from, seg_t *to, uint64_t *count)
{
    PGconn *c = pg->conn;
    PGresult *r = PQexec(c, copy_sql[t]);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        PQclear(r);
        return -EIO;
    }
    PQclear(r);
    /* one call per line: libpq buffers and sends in 8 KiB chunks anyway */
    for (seg_t *s = from; s != to; s = s->next) {
        for (size_t i = 0; s->data && i < s->len;) {
            char *nl = memchr(s->data + i, '\n', s->len - i);
            size_t l = nl ? (size_t)(nl - (s->data + i)) + 1 : s->len - i;
            if (tg__pg_tag_index(s->data[i]) == t) {
                if (PQputCopyData(c, s->data + i + 1, (int)(l - 1)) != 1)
                    return -EIO;
                (*count)++;
            }
            i += l;
        }
    }
    if (PQputCopyEnd(c, NULL) != 1)
        return -EIO;
    r = PQgetResult(c);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    while ((r = PQgetResult(c)) != NULL)
        PQclear(r);
    return ok ? 0 : -EIO;
}

/* Write the head of the backlog (up to BATCH_MAX_ROWS) in one transaction. */
int tg__pg_write_batch(tg_store_pg_t *pg)
{
    seg_t *end = pg->head;
    uint64_t rows = 0;
    bool has[T_COUNT] = {0};
    while (end && (rows == 0 || rows + end->rows <= BATCH_MAX_ROWS)) {
        if (!end->data && tg__pg_spill_load(pg, end) != 0) {
            TG_ERROR("snapshot_spill_unreadable", "file", TG_I(end->file_id));
            end->rows = 0; /* skipped below */
        } else if (!end->data) {
            break;
        }
        for (size_t i = 0; end->data && i < end->len;) {
            int t = tg__pg_tag_index(end->data[i]);
            if (t >= 0)
                has[t] = true;
            char *nl = memchr(end->data + i, '\n', end->len - i);
            i = nl ? (size_t)(nl - end->data) + 1 : end->len;
        }
        rows += end->rows;
        end = end->next;
    }
    char err[512] = "";
    uint64_t counts[T_COUNT] = {0};
    int64_t t0 = tg_mono_ns();
    if (!tg__pg_exec_ok(pg->conn, "BEGIN", err, sizeof err))
        goto fail;
    for (int t = 0; t < T_COUNT; t++)
        if (has[t] && copy_table(pg, t, pg->head, end, &counts[t]) != 0)
            goto fail_rollback;
    for (int t = 0; t < T_COUNT; t++)
        if (has[t] && !tg__pg_exec_ok(pg->conn, move_sql[t], err, sizeof err))
            goto fail_rollback;
    if (!tg__pg_exec_ok(pg->conn, "COMMIT", err, sizeof err))
        goto fail;
    for (int t = 0; t < T_R; t++)
        if (counts[t])
            tg_counter_add(pg->m_rows[t], counts[t]);
    TG_DEBUG("snapshot_batch", "rows", TG_I(rows), "us", TG_I((tg_mono_ns() - t0) / 1000));
    while (pg->head != end) {
        seg_t *s = pg->head;
        pg->head = s->next;
        if (!pg->head)
            pg->tail = NULL;
        pg->total_rows -= s->rows;
        if (s->file_id)
            tg__pg_spill_unlink(pg, s);
        else
            pg->mem_rows -= s->rows;
        tg__pg_seg_free(s);
    }
    tg__pg_update_backlog(pg);
    return 0;
fail_rollback:
    if (!err[0])
        snprintf(err, sizeof err, "%s", PQerrorMessage(pg->conn));
    tg__pg_exec_ok(pg->conn, "ROLLBACK", NULL, 0);
fail:
    /* loaded spill segments go back to disk-only to keep memory bounded */
    for (seg_t *s = pg->head; s != end; s = s->next)
        if (s->file_id && s->data) {
            free(s->data);
            s->data = NULL;
            s->len = s->cap = 0;
        }
    if (PQstatus(pg->conn) != CONNECTION_OK)
        tg__pg_conn_lost(pg, err[0] ? err : PQerrorMessage(pg->conn));
    else
        TG_ERROR("snapshot_write_failed", "error", TG_S(err));
    return -EIO;
}

void tg__pg_retention(tg_store_pg_t *pg, int64_t now)
{
    int days = pg->cfg->postgres.retention_days;
    if (days <= 0 || now < pg->next_retention_ns)
        return;
    pg->next_retention_ns = now + DAY_NS;
    char sql[256], err[256];
    /* day_state too: rows of symbols and portfolios gone for that long
     * (only without journal.dir: with it the table is unused, maybe absent) */
    static const char *const tables[] = {"quote_snapshots", "portfolio_snapshots", "day_state"};
    for (int i = 0; i < (pg->cfg->journal.dir[0] ? 2 : 3); i++) {
        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE ts < now() - interval '%d days'",
                 tables[i], days);
        if (!tg__pg_exec_ok(pg->conn, sql, err, sizeof err))
            TG_WARN("snapshot_retention_failed", "error", TG_S(err));
    }
    TG_INFO("snapshot_retention", "days", TG_I(days));
}
