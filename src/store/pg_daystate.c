/* pg_daystate.c - the day state from the day_state table at start-up (SPEC
 * §13): the source behind tg_daystate_source_t that main.c hands the engine
 * when there is PostgreSQL and no journal.dir. The rows are written by the
 * batched writer (tg_snap_row_t TG_SNAP_DAY_*, pg_write.c).
 */
#include "pg_int.h"

#include "tickgate/daystate.h"

/* Rows skipped are logged one by one up to this many, then counted. */
#define SKIP_LOG_MAX 10

static const char load_sql[] =
    "SELECT kind, key, day_open, volume, price, price_ts, pending::int, open, cash, cost, "
    "n_holdings FROM day_state WHERE session_start = $1";

int tg_store_pg_daystate_load(void *ctx, int64_t session_start, const tg_daystate_cb_t *cb)
{
    tg_store_pg_t *pg = ctx;
    if (!pg || !cb)
        return -EINVAL;
    /* a connection of its own: the writer thread owns pg->conn; start-up
     * waits at most connect_timeout + statement_timeout */
    PGconn *c = tg__pg_connect(pg->cfg->postgres.url);
    char err[256] = "";
    if (!c || PQstatus(c) != CONNECTION_OK ||
        !tg__pg_exec_ok(c, "SET statement_timeout = 10000", err, sizeof err)) {
        snprintf(err, sizeof err, "%s", c ? PQerrorMessage(c) : "out of memory");
        for (size_t l = strlen(err); l && (err[l - 1] == '\n' || err[l - 1] == ' ');)
            err[--l] = 0;
        TG_WARN("daystate_unavailable", "source", TG_S("postgres"), "error", TG_S(err));
        PQfinish(c);
        return -ECONNREFUSED;
    }
    char start[24];
    snprintf(start, sizeof start, "%lld", (long long)session_start);
    const char *params[1] = {start};
    PGresult *r = PQexecParams(c, load_sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQnfields(r) != 11) {
        snprintf(err, sizeof err, "%s", PQresultErrorMessage(r));
        for (size_t l = strlen(err); l && (err[l - 1] == '\n' || err[l - 1] == ' ');)
            err[--l] = 0;
        TG_WARN("daystate_unavailable", "source", TG_S("postgres"), "error", TG_S(err));
        PQclear(r);
        PQfinish(c);
        return -EIO;
    }
    int n = 0, skipped = 0, rows = PQntuples(r);
    for (int i = 0; i < rows; i++) {
        const char *v[11];
        for (int f = 0; f < 11; f++)
            v[f] = PQgetisnull(r, i, f) ? NULL : PQgetvalue(r, i, f);
        /* the kind is one letter; the record checks every other field */
        char kind = v[0] && v[0][0] && !v[0][1] ? v[0][0] : 0;
        int rc = kind == 'q'   ? tg_daystate_record('q', v[1], v + 2, 4, cb)
                 : kind == 'p' ? tg_daystate_record('p', v[1], v + 6, 5, cb)
                               : -EINVAL;
        if (rc == 0) {
            n++;
        } else if (++skipped <= SKIP_LOG_MAX) {
            char key[TG_PORTFOLIO_ID_MAX + 1];
            snprintf(key, sizeof key, "%s", v[1] ? v[1] : "");
            TG_WARN("daystate_row_skipped", "kind", TG_S(v[0] ? v[0] : ""), "key", TG_S(key));
        }
    }
    if (skipped > SKIP_LOG_MAX)
        TG_WARN("daystate_rows_skipped", "rows", TG_I(skipped));
    PQclear(r);
    PQfinish(c);
    return n;
}
