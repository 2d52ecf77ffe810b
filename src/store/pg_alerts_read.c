/* pg_alerts_read.c - reading `portfolio_alerts` for the alerts API (SPEC §13):
 * who may acknowledge an alert the gateway no longer holds in memory.
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
    PGconn *c = tg__pg_reader_conn(url);
    if (!c) {
        snprintf(err, errlen, "cannot connect");
        return -ECONNREFUSED;
    }
    const char *params[1] = {alert_id};
    PGresult *r = PQexecParams(c,
                               "SELECT coalesce(portfolio_id, ''), coalesce(user_id, '') "
                               "FROM portfolio_alerts WHERE id = $1",
                               1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
        PQclear(r);
        tg__pg_reader_drop();
        return -EIO;
    }
    int found = PQntuples(r) > 0;
    if (found) {
        snprintf(portfolio_id, pcap, "%s", PQgetvalue(r, 0, 0));
        snprintf(user_id, ucap, "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return found;
}
