/* pg_bars.c - reading the `bars` table for GET /api/v1/bars (SPEC §12).
 *
 * The writer thread owns its connection; readers (gateway service threads)
 * each keep one of their own, opened on first use and closed when the thread
 * exits, so an API request never waits for the writer's batches. A failed
 * query drops the connection; the next request reconnects.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickgate/bars.h"
#include "tickgate/pg.h"
#include "pg_int.h"

static pthread_key_t conn_key;
static pthread_once_t conn_once = PTHREAD_ONCE_INIT;

static void conn_close(void *c)
{
    PQfinish(c);
}

static void conn_key_init(void)
{
    (void)pthread_key_create(&conn_key, conn_close);
}

static void quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

PGconn *tg__pg_reader_conn(const char *url, char *err, size_t errlen)
{
    pthread_once(&conn_once, conn_key_init);
    PGconn *c = pthread_getspecific(conn_key);
    if (c && PQstatus(c) == CONNECTION_OK)
        return c;
    if (c) {
        PQfinish(c);
        pthread_setspecific(conn_key, NULL);
    }
    const char *keys[] = {"dbname", "connect_timeout", "options", NULL};
    const char *vals[] = {url, "2", "-c statement_timeout=5000", NULL};
    c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        PQfinish(c); /* accepts NULL */
        snprintf(err, errlen, "cannot connect");
        return NULL;
    }
    PQsetNoticeProcessor(c, quiet_notice, NULL);
    pthread_setspecific(conn_key, c);
    return c;
}

void tg__pg_reader_drop(void)
{
    pthread_once(&conn_once, conn_key_init);
    PGconn *c = pthread_getspecific(conn_key);
    if (c)
        PQfinish(c);
    pthread_setspecific(conn_key, NULL);
}

int tg_store_pg_bars(const char *url, const char *symbol, const char *interval, int64_t from,
                     int64_t to, struct tg_bar *out, size_t cap, char *err, size_t errlen)
{
    if (!url || !url[0] || !symbol || !interval || cap == 0 || cap > 1000000) {
        snprintf(err, errlen, "bad arguments");
        return -EINVAL;
    }
    PGconn *c = tg__pg_reader_conn(url, err, errlen);
    if (!c)
        return -ECONNREFUSED;
    char fts[48] = "", tts[48] = "", lim[24];
    if (from > 0)
        tg_store_format_ts(from, fts, sizeof fts);
    if (to > 0)
        tg_store_format_ts(to, tts, sizeof tts);
    snprintf(lim, sizeof lim, "%zu", cap);
    /* without `from` the newest rows (then reversed), else the oldest from there */
    const char *sql =
        from > 0
            ? "SELECT (EXTRACT(EPOCH FROM start) * 1000000)::bigint, open, high, low, close, "
              "volume, trades, vwap FROM bars WHERE symbol = $1 AND \"interval\" = $2 "
              "AND start >= $3::timestamptz AND ($4 = '' OR start <= $4::timestamptz) "
              "ORDER BY start ASC LIMIT $5::bigint"
            : "SELECT (EXTRACT(EPOCH FROM start) * 1000000)::bigint, open, high, low, close, "
              "volume, trades, vwap FROM bars WHERE symbol = $1 AND \"interval\" = $2 "
              "AND ($3 = '' OR start >= $3::timestamptz) AND ($4 = '' OR start <= $4::timestamptz) "
              "ORDER BY start DESC LIMIT $5::bigint";
    const char *params[5] = {symbol, interval, fts, tts, lim};
    PGresult *r = PQexecParams(c, sql, 5, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
        PQclear(r);
        tg__pg_reader_drop(); /* a broken connection is reopened by the next request */
        return -EIO;
    }
    int n = PQntuples(r);
    if ((size_t)n > cap)
        n = (int)cap;
    int rc = n;
    for (int i = 0; i < n; i++) {
        int at = from > 0 ? i : n - 1 - i;
        tg_bar_t *b = &out[at];
        memset(b, 0, sizeof *b);
        b->start = strtoll(PQgetvalue(r, i, 0), NULL, 10) * 1000;
        tg_dec_t *f[] = {&b->open, &b->high, &b->low, &b->close, &b->volume};
        for (int k = 0; k < 5; k++) {
            const char *v = PQgetvalue(r, i, 1 + k);
            if (tg_dec_parse_round(v, strlen(v), f[k]) != 0)
                rc = -EIO;
        }
        b->trades = strtoull(PQgetvalue(r, i, 6), NULL, 10);
        const char *v = PQgetvalue(r, i, 7);
        if (tg_dec_parse_round(v, strlen(v), &b->vwap) != 0)
            rc = -EIO;
    }
    PQclear(r);
    if (rc < 0)
        snprintf(err, errlen, "unexpected numeric value in bars");
    return rc;
}
