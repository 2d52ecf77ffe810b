/* pg_portfolio_write.c - PUT/DELETE /api/v1/portfolios/{id} with PostgreSQL as
 * the system of record (SPEC §15): the portfolio, its holdings and shares are
 * written in one transaction and the call returns after the commit. The
 * tables' NOTIFY trigger then brings the change into the engine of every node
 * (this one included), exactly as an edit made in SQL would.
 *
 * Called on a gateway service thread through tg_gateway_deps_t (wired in
 * main.c). It blocks that thread for one short transaction on its own
 * connection (not the writer thread's), serialized by a mutex: portfolio
 * edits are rare control traffic. connect_timeout and statement_timeout
 * bound the wait when PostgreSQL is away.
 */
#include "pg_int.h"

/* The body's "alerts" object as text ("{}" when absent): stored as given, so
 * every rule setting the parser knows (now or later) survives a reload. */
static char *alerts_text(const char *body, size_t len)
{
    tg_json_t j;
    memset(&j, 0, sizeof j);
    char *out = NULL;
    if (body && tg_json_parse(&j, body, len, 1 << 20, 64) == 0) {
        tg_json_ref_t a = tg_json_get(&j, 0, "alerts");
        size_t n = 0;
        const char *raw = a >= 0 && tg_json_type(&j, a) == TG_JSON_OBJECT ? tg_json_raw(&j, a, &n)
                                                                             : NULL;
        if (raw && (out = malloc(n + 1))) {
            memcpy(out, raw, n);
            out[n] = 0;
        }
    }
    tg_json_free(&j);
    return out ? out : strdup("{}");
}

static bool exec_params(PGconn *c, const char *sql, int n, const char *const *v, char *err,
                        size_t errlen)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, v, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok && err && errlen)
        snprintf(err, errlen, "postgres: %s", PQerrorMessage(c));
    PQclear(r);
    return ok;
}

static int write_tx(PGconn *c, const char *id, const tg_portfolio_spec_t *spec, const char *body,
                    size_t blen, char *err, size_t errlen)
{
    char cash[TG_DEC_STRLEN], q[TG_DEC_STRLEN], cb[TG_DEC_STRLEN], tw[TG_DEC_STRLEN];
    int rc = -EIO;
    if (!tg__pg_exec_ok(c, "BEGIN", err, errlen))
        return -EIO;
    if (!spec) {
        const char *v[] = {id};
        PGresult *r = PQexecParams(c, "DELETE FROM portfolios WHERE id = $1", 1, NULL, v, NULL,
                                   NULL, 0);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        bool none = ok && strcmp(PQcmdTuples(r), "0") == 0;
        if (!ok)
            snprintf(err, errlen, "postgres: %s", PQerrorMessage(c));
        PQclear(r);
        if (!ok)
            goto rollback;
        if (none) {
            rc = -ENOENT;
            goto rollback;
        }
    } else {
        char *alerts = alerts_text(body, blen);
        if (!alerts) {
            rc = -ENOMEM;
            goto rollback;
        }
        tg_dec_format(spec->cash, cash);
        const char *v[] = {id, spec->owner, cash, alerts};
        bool ok = exec_params(c,
                              "INSERT INTO portfolios (id, owner, cash, alerts, updated_at) "
                              "VALUES ($1, $2, $3::numeric, $4::jsonb, now()) ON CONFLICT (id) DO "
                              "UPDATE SET owner = EXCLUDED.owner, cash = EXCLUDED.cash, "
                              "alerts = EXCLUDED.alerts, updated_at = now()",
                              4, v, err, errlen) &&
                  exec_params(c, "DELETE FROM holdings WHERE portfolio_id = $1", 1, v, err,
                              errlen) &&
                  exec_params(c, "DELETE FROM portfolio_shares WHERE portfolio_id = $1", 1, v,
                              err, errlen);
        free(alerts);
        for (size_t i = 0; ok && i < spec->n_holdings; i++) {
            const tg_holding_spec_t *h = &spec->holdings[i];
            tg_dec_format(h->quantity, q);
            tg_dec_format(h->cost_basis, cb);
            tg_dec_format(h->target_weight, tw);
            const char *hv[] = {id, h->symbol, q, cb, tw};
            ok = exec_params(c,
                             "INSERT INTO holdings (portfolio_id, symbol, quantity, cost_basis, "
                             "target_weight) VALUES ($1, $2, $3::numeric, $4::numeric, $5::numeric)",
                             5, hv, err, errlen);
        }
        for (size_t i = 0; ok && i < spec->n_shared_with; i++) {
            const char *sv[] = {id, spec->shared_with[i]};
            ok = exec_params(c,
                             "INSERT INTO portfolio_shares (portfolio_id, user_id) VALUES ($1, $2) "
                             "ON CONFLICT DO NOTHING",
                             2, sv, err, errlen);
        }
        if (!ok)
            goto rollback;
    }
    if (!tg__pg_exec_ok(c, "COMMIT", err, errlen))
        return -EIO;
    return 0;
rollback:
    tg__pg_exec_ok(c, "ROLLBACK", NULL, 0);
    return rc;
}

int tg_store_pg_portfolio_write(void *ctx, const char *id, const tg_portfolio_spec_t *spec,
                                const char *body, size_t blen, char *err, size_t errlen)
{
    tg_store_pg_t *pg = ctx;
    if (!pg || !id)
        return -EINVAL;
    pthread_mutex_lock(&pg->api_lock);
    int rc = -ECONNREFUSED;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!pg->api_conn || PQstatus(pg->api_conn) != CONNECTION_OK) {
            if (pg->api_conn)
                PQfinish(pg->api_conn);
            pg->api_conn = tg__pg_connect(pg->cfg->postgres.url);
            if (!pg->api_conn || PQstatus(pg->api_conn) != CONNECTION_OK) {
                snprintf(err, errlen, "postgres: unreachable");
                rc = -ECONNREFUSED;
                continue;
            }
            tg__pg_exec_ok(pg->api_conn, "SET statement_timeout = 5000", NULL, 0);
        }
        rc = write_tx(pg->api_conn, id, spec, body, blen, err, errlen);
        /* a connection dropped since the last edit: reconnect once and retry */
        if (rc == -EIO && PQstatus(pg->api_conn) != CONNECTION_OK)
            continue;
        break;
    }
    pthread_mutex_unlock(&pg->api_lock);
    return rc;
}
