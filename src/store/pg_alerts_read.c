/* pg_alerts_read.c - reading `portfolio_alerts` for the alerts API (SPEC §13):
 * who may acknowledge an alert the gateway no longer holds in memory, and the
 * alert history behind GET /api/v1/alerts[/active] (tg_alert_read_fn).
 * Runs on a gateway service thread, on that thread's reading connection.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "pg_int.h"
#include "tickgate/pg.h"

int tg_store_pg_alert_owner(const char *url, const char *alert_id, char *portfolio_id,
                            size_t pcap, char *user_id, size_t ucap, char *err, size_t errlen)
{
    if (!url || !url[0] || !alert_id || !pcap || !ucap) {
        snprintf(err, errlen, "bad arguments");
        return -EINVAL;
    }
    portfolio_id[0] = user_id[0] = 0;
    PGconn *c = tg__pg_reader_conn(url, err, errlen);
    if (!c)
        return -ECONNREFUSED;
    const char *params[1] = {alert_id};
    PGresult *r = PQexecParams(c,
                               "SELECT coalesce(portfolio_id, ''), coalesce(user_id, '') "
                               "FROM portfolio_alerts WHERE id = $1",
                               1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
        /* a refusal by a working server keeps the connection (bars and the
         * alerts API share it); only an outage drops it */
        int rc = PQresultStatus(r) == PGRES_FATAL_ERROR && PQstatus(c) == CONNECTION_OK
                     ? tg_store_pg_query_error(PQresultErrorField(r, PG_DIAG_SQLSTATE))
                     : -EIO;
        PQclear(r);
        if (rc == -EIO)
            tg__pg_reader_drop();
        return rc;
    }
    int found = PQntuples(r) > 0;
    if (found) {
        snprintf(portfolio_id, pcap, "%s", PQgetvalue(r, 0, 0));
        snprintf(user_id, ucap, "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return found;
}

/* ---- GET /api/v1/alerts[/active] from portfolio_alerts (SPEC §13) ---------- */

/*
 * How long a service thread may wait for the answer. The thread serves every
 * client it owns, so a slow PostgreSQL must not hold it: past this the
 * connection is dropped (the server's statement_timeout, 5 s on the reader
 * connection, ends the query there) and the gateway answers from memory.
 * With connect_timeout (2 s) the worst case is about 4 s, after which the
 * gateway leaves PostgreSQL alone for a while (http_alerts.c).
 */
#define ALERTS_QUERY_MS 2000

/*
 * One row per alert episode (firing -> resolved) becomes its events: the
 * firing event at created_at and, once resolved, the resolved event at
 * resolved_at, so the answer has the shape of the in-memory event log. The
 * filters and the authorization run in SQL so that LIMIT counts only what
 * the caller may see. Each half takes its newest `limit` through its own
 * index (004_alerts_api.sql), then the union is cut again. `since` is
 * compared in whole microseconds rounded up (ts_us >= ceil(since_ns / 1000)
 * is ts_us * 1000 >= since_ns exactly).
 *   $1 admin  $2 sub  $3 readable portfolios (JSON array)  $4 portfolio_id
 *   $5 rule  $6 state ('', firing, resolved)  $7 active  $8 since (us)  $9 limit
 *   $10 $11 the alerts whose firing / resolved event to leave out (JSON arrays):
 *   left out before LIMIT, so that it counts only events the caller gets
 */
#define ALERTS_COLS                                                                                \
    "id, coalesce(portfolio_id, ''), alert_type, severity, coalesce(message, ''), "                \
    "metadata->>'value', metadata->>'threshold', metadata->>'symbol', metadata->>'feed'"
#define ALERTS_WHERE                                                                               \
    "($1::boolean OR (portfolio_id IS NOT NULL AND (user_id = $2 OR portfolio_id IN "              \
    "(SELECT jsonb_array_elements_text($3::jsonb))))) "                                            \
    "AND ($4 = '' OR portfolio_id = $4) AND ($5 = '' OR alert_type = $5) "
#define ALERTS_SKIP(ids) "id NOT IN (SELECT jsonb_array_elements_text(" ids "::jsonb)) AND "
#define ALERTS_SINCE(col) col " >= 'epoch'::timestamptz + $8::bigint * interval '1 microsecond' "
static const char alerts_sql[] =
    "SELECT * FROM ("
    "(SELECT " ALERTS_COLS ", 'firing' AS state, "
    "(EXTRACT(EPOCH FROM created_at) * 1000000)::bigint AS ts_us FROM portfolio_alerts WHERE "
    ALERTS_WHERE "AND $6 <> 'resolved' AND (NOT $7::boolean OR resolved_at IS NULL) AND "
    ALERTS_SKIP("$10") ALERTS_SINCE("created_at") "ORDER BY created_at DESC, id DESC LIMIT $9::bigint) "
    "UNION ALL "
    "(SELECT " ALERTS_COLS ", 'resolved', (EXTRACT(EPOCH FROM resolved_at) * 1000000)::bigint "
    "FROM portfolio_alerts WHERE " ALERTS_WHERE "AND $6 <> 'firing' AND NOT $7::boolean AND "
    "resolved_at IS NOT NULL AND " ALERTS_SKIP("$11") ALERTS_SINCE("resolved_at")
    "ORDER BY resolved_at DESC, id DESC LIMIT $9::bigint)"
    ") e ORDER BY ts_us DESC, 1 DESC LIMIT $9::bigint";

/* Bounded copy of a field; false when it does not fit (never cut: a cut
 * UTF-8 sequence would make the JSON answer invalid). */
static bool field_copy(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap)
        return false;
    memcpy(dst, s, n + 1);
    return true;
}

int tg_store_alert_row_parse(const char *const f[TG_ALERT_ROW_COLS],
                             const bool null[TG_ALERT_ROW_COLS], tg_alert_row_t *out, char *why,
                             size_t wlen)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < TG_ALERT_ROW_COLS; i++)
        if (!f[i] && !null[i]) { /* a NULL pointer for a non-NULL column: caller bug */
            snprintf(why, wlen, "column %d missing", i);
            return -EINVAL;
        }
#define BAD(...)                                                                                   \
    do {                                                                                           \
        snprintf(why, wlen, __VA_ARGS__);                                                          \
        return -EINVAL;                                                                            \
    } while (0)
    /* columns: 0 id, 1 portfolio_id, 2 alert_type, 3 severity, 4 message, 5 value,
     * 6 threshold, 7 symbol, 8 feed, 9 state, 10 ts (microseconds) */
    if (null[0] || !f[0][0] || !field_copy(out->alert_id, sizeof out->alert_id, f[0]))
        BAD("bad id");
    if (null[1] || !field_copy(out->portfolio_id, sizeof out->portfolio_id, f[1]))
        BAD("portfolio_id too long");
    tg_alert_rule_t rule;
    if (null[2] || tg_alert_rule_parse(f[2], &rule) != 0)
        BAD("unknown alert_type");
    out->rule = rule;
    int sev = -1;
    for (int s = TG_ALERT_SEV_LOW; !null[3] && s <= TG_ALERT_SEV_HIGH; s++)
        if (!strcmp(f[3], tg_alert_severity_name((tg_alert_severity_t)s)))
            sev = s;
    if (sev < 0)
        BAD("unknown severity");
    out->severity = (tg_alert_severity_t)sev;
    if (null[4] || !field_copy(out->message, sizeof out->message, f[4]))
        BAD("message too long");
    if (!null[7] && !field_copy(out->symbol, sizeof out->symbol, f[7]))
        BAD("metadata.symbol too long");
    if (out->portfolio_id[0]) {
        /* a portfolio alert's message carries value and threshold */
        if (null[5] || tg_dec_parse_round(f[5], strlen(f[5]), &out->value) != 0)
            BAD("metadata.value is no decimal");
        if (null[6] || tg_dec_parse_round(f[6], strlen(f[6]), &out->threshold) != 0)
            BAD("metadata.threshold is no decimal");
    } else if (null[8] || !f[8][0] || !field_copy(out->feed, sizeof out->feed, f[8])) {
        BAD("feed alert without metadata.feed"); /* a feed alert's message names its feed */
    }
    if (null[9])
        BAD("no state");
    else if (!strcmp(f[9], "firing"))
        out->state = TG_ALERT_FIRING;
    else if (!strcmp(f[9], "resolved"))
        out->state = TG_ALERT_RESOLVED;
    else
        BAD("unknown state");
    char *end;
    errno = 0;
    long long us = null[10] ? 0 : strtoll(f[10], &end, 10);
    if (null[10] || errno || end == f[10] || *end || us <= 0 || us > INT64_MAX / 1000)
        BAD("bad timestamp");
    out->ts = (int64_t)us * 1000;
    return 0;
#undef BAD
}

int tg_store_pg_query_error(const char *sqlstate)
{
    if (!sqlstate || strlen(sqlstate) != 5)
        return -EIO;
    if (!strncmp(sqlstate, "22", 2))
        return -EINVAL;
    if (!strncmp(sqlstate, "42", 2))
        return -EPROTO;
    return -EIO;
}

/* Send the query and wait at most ALERTS_QUERY_MS for its result; NULL with
 * err set on failure or timeout (the connection is dropped then). */
static PGresult *query_bounded(PGconn *c, const char *const *params, int n, int *rc, char *err,
                               size_t errlen)
{
    int64_t deadline = tg_mono_ns() + (int64_t)ALERTS_QUERY_MS * 1000000;
    if (!PQsendQueryParams(c, alerts_sql, n, NULL, params, NULL, NULL, 0)) {
        snprintf(err, errlen, "%s", PQerrorMessage(c));
        *rc = -EIO;
        return NULL;
    }
    PGresult *res = NULL, *r;
    for (;;) {
        while (!PQisBusy(c)) {
            r = PQgetResult(c);
            if (!r) { /* the query is over */
                if (!res) {
                    snprintf(err, errlen, "no result");
                    *rc = -EIO;
                }
                return res;
            }
            if (res) /* keep the first result (there is one statement) */
                PQclear(r);
            else
                res = r;
        }
        int64_t left = (deadline - tg_mono_ns()) / 1000000;
        struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
        int pr = left > 0 ? poll(&p, 1, (int)left) : 0;
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0) {
            snprintf(err, errlen, pr == 0 ? "no answer within %d ms" : "poll failed",
                     ALERTS_QUERY_MS);
            *rc = pr == 0 ? -ETIMEDOUT : -EIO;
            PQclear(res);
            return NULL;
        }
        if (!PQconsumeInput(c)) {
            snprintf(err, errlen, "%s", PQerrorMessage(c));
            *rc = -EIO;
            PQclear(res);
            return NULL;
        }
    }
}

/* A NUL-terminated JSON array of strings (b->err on no memory). */
static void json_array(tg_buf_t *b, const char *const *v, size_t n)
{
    tg_buf_puts(b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            tg_buf_puts(b, ",");
        tg_json_put_cstr(b, v[i]);
    }
    tg_buf_puts(b, "]");
    tg_buf_putc(b, 0);
}

int tg_store_pg_alerts_read(void *ctx, const tg_alert_query_t *q, tg_alert_row_t *out,
                            size_t cap, char *err, size_t errlen)
{
    const char *url = ctx;
    if (!url || !url[0] || !q || !out || cap == 0 || q->limit == 0) {
        snprintf(err, errlen, "bad arguments");
        return -EINVAL;
    }
    PGconn *c = tg__pg_reader_conn(url, err, errlen);
    if (!c)
        return -ECONNREFUSED;
    /* the readable portfolios and the events to leave out as JSON array
     * parameters: no quoting by hand */
    tg_buf_t rd = {0}, sf = {0}, sr = {0};
    json_array(&rd, q->readable, q->n_readable);
    json_array(&sf, q->skip_firing, q->n_skip_firing);
    json_array(&sr, q->skip_resolved, q->n_skip_resolved);
    if (rd.err || sf.err || sr.err) {
        tg_buf_free(&rd);
        tg_buf_free(&sf);
        tg_buf_free(&sr);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    char since[24], lim[16];
    int64_t s_us = q->since > 0 ? (q->since + 999) / 1000 : 0;
    snprintf(since, sizeof since, "%lld", (long long)s_us);
    snprintf(lim, sizeof lim, "%u", q->limit < cap ? q->limit : (unsigned)cap);
    const char *state = q->state == TG_ALERT_FIRING     ? "firing"
                        : q->state == TG_ALERT_RESOLVED ? "resolved"
                                                        : "";
    const char *params[11] = {q->admin ? "t" : "f",
                              q->sub ? q->sub : "",
                              rd.p,
                              q->portfolio_id ? q->portfolio_id : "",
                              q->rule ? q->rule : "",
                              state,
                              q->active ? "t" : "f",
                              since,
                              lim,
                              sf.p,
                              sr.p};
    int rc = 0;
    PGresult *r = query_bounded(c, params, 11, &rc, err, errlen);
    tg_buf_free(&rd);
    tg_buf_free(&sf);
    tg_buf_free(&sr);
    if (r && PQresultStatus(r) == PGRES_FATAL_ERROR && PQstatus(c) == CONNECTION_OK) {
        /* refused by a working server (an argument it rejects, a schema that
         * does not fit): not an outage, so the connection, which bars and
         * acks share, stays; only the rest is one */
        rc = tg_store_pg_query_error(PQresultErrorField(r, PG_DIAG_SQLSTATE));
        if (rc != -EIO) {
            snprintf(err, errlen, "%s", PQresultErrorMessage(r));
            err[strcspn(err, "\n")] = 0;
            PQclear(r);
            return rc;
        }
    }
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQnfields(r) != TG_ALERT_ROW_COLS) {
        if (r) {
            snprintf(err, errlen, "%s", PQresultErrorMessage(r));
            rc = -EIO;
        }
        PQclear(r);
        tg__pg_reader_drop(); /* a broken or abandoned connection is reopened next time */
        return rc;
    }
    int rows = PQntuples(r);
    size_t n = 0, bad = 0;
    for (int i = 0; i < rows && n < cap; i++) {
        const char *f[TG_ALERT_ROW_COLS];
        bool null[TG_ALERT_ROW_COLS];
        for (int k = 0; k < TG_ALERT_ROW_COLS; k++) {
            null[k] = PQgetisnull(r, i, k);
            f[k] = null[k] ? NULL : PQgetvalue(r, i, k);
        }
        char why[80];
        if (tg_store_alert_row_parse(f, null, &out[n], why, sizeof why) == 0) {
            n++;
            continue;
        }
        /* one bad row (edited by hand, another writer) must not hide the rest */
        if (bad++ == 0)
            TG_WARN("alert_row_invalid", "table", TG_S("portfolio_alerts"), "id",
                    TG_S(null[0] ? "" : f[0]), "reason", TG_S(why));
    }
    PQclear(r);
    return (int)n;
}
