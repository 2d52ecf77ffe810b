/* pg_portfolios.c - portfolios in: load and resync from the portfolios table,
 * LISTEN/NOTIFY changes, restore firing alerts at start.
 */
#include "pg_int.h"

/* ---- portfolios ----------------------------------------------------------- */

static bool known_has(tg_store_pg_t *pg, const char *id, size_t *at)
{
    for (size_t i = 0; i < pg->nknown; i++)
        if (strcmp(pg->known[i], id) == 0) {
            if (at)
                *at = i;
            return true;
        }
    return false;
}

static void known_add(tg_store_pg_t *pg, const char *id)
{
    if (known_has(pg, id, NULL))
        return;
    if (tg_vec_reserve(&pg->known, sizeof *pg->known, &pg->capknown, pg->nknown + 1, 64))
        return;
    char *d = strdup(id);
    if (d)
        pg->known[pg->nknown++] = d;
}

static void known_del(tg_store_pg_t *pg, const char *id)
{
    size_t at;
    if (!known_has(pg, id, &at))
        return;
    free(pg->known[at]);
    pg->known[at] = pg->known[--pg->nknown];
}

static PGresult *query(PGconn *c, const char *sql, const char *id)
{
    const char *params[1] = {id};
    PGresult *r = PQexecParams(c, sql, id ? 1 : 0, NULL, id ? params : NULL, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        TG_WARN("postgres_query_failed", "error", TG_S(PQresultErrorMessage(r)));
        PQclear(r);
        return NULL;
    }
    return r;
}


/*
 * Read portfolios (one id, or all with id NULL) and put each into the engine;
 * the rows become portfolio JSON parsed by the same code as the portfolio file,
 * so the same validation applies. Fills `seen` with the ids loaded. 0 or -EIO.
 */
static int load_portfolios(tg_store_pg_t *pg, const char *id, char ***seen, size_t *nseen)
{
    const char *w1 = id ? " WHERE id = $1" : "";
    const char *w2 = id ? " WHERE portfolio_id = $1" : "";
    char q1[256], q2[256], q3[256];
    snprintf(q1, sizeof q1,
             "SELECT id, owner, cash::text, alerts::text FROM portfolios%s ORDER BY id COLLATE \"C\"",
             w1);
    snprintf(q2, sizeof q2,
             "SELECT portfolio_id, symbol, quantity::text, cost_basis::text, target_weight::text "
             "FROM holdings%s ORDER BY portfolio_id COLLATE \"C\", symbol COLLATE \"C\"",
             w2);
    snprintf(q3, sizeof q3,
             "SELECT portfolio_id, user_id FROM portfolio_shares%s "
             "ORDER BY portfolio_id COLLATE \"C\", user_id COLLATE \"C\"",
             w2);
    PGresult *rp = query(pg->conn, q1, id), *rh = NULL, *rs = NULL;
    if (rp)
        rh = query(pg->conn, q2, id);
    if (rh)
        rs = query(pg->conn, q3, id);
    if (!rs) {
        PQclear(rp);
        PQclear(rh);
        return -EIO;
    }
    int np = PQntuples(rp), nh = PQntuples(rh), ns = PQntuples(rs);
    int ih = 0, is = 0;
    tg_buf_t b = {0};
    for (int i = 0; i < np; i++) {
        const char *pid = PQgetvalue(rp, i, 0);
        b.len = 0;
        tg_buf_puts(&b, "{\"id\":");
        tg_json_put_cstr(&b, pid);
        tg_buf_puts(&b, ",\"owner\":");
        tg_json_put_cstr(&b, PQgetvalue(rp, i, 1));
        tg_buf_puts(&b, ",\"cash\":");
        tg_json_put_cstr(&b, PQgetisnull(rp, i, 2) ? "0" : PQgetvalue(rp, i, 2));
        if (!PQgetisnull(rp, i, 3)) {
            tg_buf_puts(&b, ",\"alerts\":");
            tg_buf_puts(&b, PQgetvalue(rp, i, 3));
        }
        while (is < ns && strcmp(PQgetvalue(rs, is, 0), pid) < 0)
            is++;
        tg_buf_puts(&b, ",\"shared_with\":[");
        for (bool first = true; is < ns && strcmp(PQgetvalue(rs, is, 0), pid) == 0; is++) {
            if (!first)
                tg_buf_puts(&b, ",");
            first = false;
            tg_json_put_cstr(&b, PQgetvalue(rs, is, 1));
        }
        while (ih < nh && strcmp(PQgetvalue(rh, ih, 0), pid) < 0)
            ih++;
        tg_buf_puts(&b, "],\"holdings\":[");
        for (bool first = true; ih < nh && strcmp(PQgetvalue(rh, ih, 0), pid) == 0; ih++) {
            if (!first)
                tg_buf_puts(&b, ",");
            first = false;
            tg_buf_puts(&b, "{\"symbol\":");
            tg_json_put_cstr(&b, PQgetvalue(rh, ih, 1));
            tg_buf_puts(&b, ",\"quantity\":");
            tg_json_put_cstr(&b, PQgetvalue(rh, ih, 2));
            tg_buf_puts(&b, ",\"cost_basis\":");
            tg_json_put_cstr(&b, PQgetisnull(rh, ih, 3) ? "0" : PQgetvalue(rh, ih, 3));
            tg_buf_puts(&b, ",\"target_weight\":");
            tg_json_put_cstr(&b, PQgetisnull(rh, ih, 4) ? "0" : PQgetvalue(rh, ih, 4));
            tg_buf_puts(&b, "}");
        }
        tg_buf_puts(&b, "]}");
        if (b.err)
            break;
        tg_portfolio_spec_t *spec = calloc(1, sizeof *spec);
        char err[256];
        if (!spec)
            break;
        int rc = tg_portfolio_parse_json(b.p, b.len, NULL, pg->cfg, spec, err, sizeof err);
        if (rc) {
            TG_WARN("portfolio_rejected", "portfolio", TG_S(pid), "error", TG_S(err));
            free(spec);
            continue;
        }
        pg->portfolios.put(pg->portfolios.ctx, spec); /* takes spec */
        if (seen) {
            char **ns2 = realloc(*seen, (*nseen + 1) * sizeof **seen);
            if (ns2) {
                *seen = ns2;
                (*seen)[*nseen] = strdup(pid);
                if ((*seen)[*nseen])
                    (*nseen)++;
            }
        }
    }
    tg_buf_free(&b);
    PQclear(rp);
    PQclear(rh);
    PQclear(rs);
    return 0;
}

/* Full sync at (re)connect: put all, remove what disappeared meanwhile. */
int tg__pg_sync_portfolios(tg_store_pg_t *pg)
{
    char **seen = NULL;
    size_t nseen = 0;
    int rc = load_portfolios(pg, NULL, &seen, &nseen);
    if (rc == 0) {
        for (size_t i = 0; i < pg->nknown;) {
            bool still = false;
            for (size_t k = 0; k < nseen && !still; k++)
                still = strcmp(seen[k], pg->known[i]) == 0;
            if (!still) {
                pg->portfolios.remove(pg->portfolios.ctx, pg->known[i]);
                free(pg->known[i]);
                pg->known[i] = pg->known[--pg->nknown];
            } else {
                i++;
            }
        }
        for (size_t k = 0; k < nseen; k++)
            known_add(pg, seen[k]);
        TG_INFO("portfolios_loaded", "source", TG_S("postgres"), "count", TG_I(nseen));
    }
    for (size_t k = 0; k < nseen; k++)
        free(seen[k]);
    free(seen);
    return rc;
}

void tg__pg_on_notify(tg_store_pg_t *pg, const char *id)
{
    char **seen = NULL;
    size_t nseen = 0;
    if (load_portfolios(pg, id, &seen, &nseen) != 0)
        return;
    if (nseen == 0) {
        if (known_has(pg, id, NULL)) {
            pg->portfolios.remove(pg->portfolios.ctx, id);
            known_del(pg, id);
        }
    } else {
        known_add(pg, id);
    }
    for (size_t k = 0; k < nseen; k++)
        free(seen[k]);
    free(seen);
}

/* Firing alerts of the previous run (SPEC §4): once, after the first load. */
void tg__pg_restore_alerts(tg_store_pg_t *pg)
{
    PGresult *r = query(pg->conn,
                        "SELECT id, portfolio_id, alert_type, coalesce(metadata->>'symbol', '') "
                        "FROM portfolio_alerts WHERE resolved_at IS NULL AND portfolio_id IS NOT "
                        "NULL ORDER BY created_at",
                        NULL);
    if (!r)
        return;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++)
        pg->portfolios.restore_alert(pg->portfolios.ctx, PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                                PQgetvalue(r, i, 3), PQgetvalue(r, i, 0));
    if (n)
        TG_INFO("alerts_restored", "count", TG_I(n));
    PQclear(r);
    pg->alerts_restored = true;
}
