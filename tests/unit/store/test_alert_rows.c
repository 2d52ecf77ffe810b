/* test_alert_rows.c - tg_store_alert_row_parse (pg_alerts_read.c): a row of
 * the alerts API's query read defensively. Good rows of both kinds (portfolio,
 * feed) come out whole; every kind of bad input is refused with a reason,
 * never cut, never read past. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tickgate/pg.h"
#include "tg_test.h"

/* columns: id, portfolio_id, alert_type, severity, message, value, threshold,
 * symbol, feed, state, ts_us; NULL = SQL NULL */
static int parse(const char *const v[TG_ALERT_ROW_COLS], tg_alert_row_t *out, char *why)
{
    bool null[TG_ALERT_ROW_COLS];
    for (int i = 0; i < TG_ALERT_ROW_COLS; i++)
        null[i] = v[i] == NULL;
    return tg_store_alert_row_parse(v, null, out, why, 80);
}

static const char *good_pf[TG_ALERT_ROW_COLS] = {
    "a-0123456789abcdef", "p-1", "price_above", "medium", "AAA 200 \xe2\x89\xa5 150", "200",
    "150", "AAA", NULL, "firing", "1763800000123456"};
static const char *good_feed[TG_ALERT_ROW_COLS] = {
    "a-0000000000000001", "", "breaker_open", "high", "feed pub breaker open (stale)", NULL,
    NULL, NULL, "pub", "resolved", "1763800000000001"};

TG_TEST(portfolio_row)
{
    tg_alert_row_t a;
    char why[80] = "";
    TG_CHECK_EQ_INT(parse(good_pf, &a, why), 0);
    TG_CHECK_EQ_STR(a.alert_id, "a-0123456789abcdef");
    TG_CHECK_EQ_STR(a.portfolio_id, "p-1");
    TG_CHECK_EQ_STR(a.symbol, "AAA");
    TG_CHECK_EQ_INT(a.rule, TG_ALERT_PRICE_ABOVE);
    TG_CHECK_EQ_INT(a.severity, TG_ALERT_SEV_MEDIUM);
    TG_CHECK_EQ_INT(a.state, TG_ALERT_FIRING);
    TG_CHECK(a.value == TG_DEC(200) && a.threshold == TG_DEC(150));
    TG_CHECK(a.ts == 1763800000123456000LL);
}

TG_TEST(feed_row)
{
    tg_alert_row_t a;
    char why[80] = "";
    TG_CHECK_EQ_INT(parse(good_feed, &a, why), 0);
    TG_CHECK_EQ_STR(a.feed, "pub");
    TG_CHECK_EQ_STR(a.portfolio_id, "");
    TG_CHECK_EQ_INT(a.rule, TG_ALERT_BREAKER_OPEN);
    TG_CHECK_EQ_INT(a.state, TG_ALERT_RESOLVED);
}

/* one column replaced in an otherwise good row must be refused */
static void refused(const char *const base[TG_ALERT_ROW_COLS], int col, const char *v,
                    const char *reason)
{
    const char *row[TG_ALERT_ROW_COLS];
    memcpy(row, base, sizeof row);
    row[col] = v;
    tg_alert_row_t a;
    char why[80] = "";
    int rc = parse(row, &a, why);
    if (rc != -EINVAL || !strstr(why, reason))
        fprintf(stderr, "column %d = %s: rc %d, why \"%s\" (want \"%s\")\n", col,
                v ? v : "NULL", rc, why, reason);
    TG_CHECK_EQ_INT(rc, -EINVAL);
    TG_CHECK(strstr(why, reason) != NULL);
}

TG_TEST(bad_rows_are_refused_with_a_reason)
{
    char longs[400];
    memset(longs, 'x', sizeof longs - 1);
    longs[sizeof longs - 1] = 0;
    refused(good_pf, 0, NULL, "id");
    refused(good_pf, 0, "", "id");
    refused(good_pf, 0, "a-0123456789abcdef0", "id"); /* one byte past TG_ALERT_ID_LEN */
    refused(good_pf, 1, longs, "portfolio_id");
    refused(good_pf, 2, "no_such_rule", "alert_type");
    refused(good_pf, 2, NULL, "alert_type");
    refused(good_pf, 3, "urgent", "severity");
    refused(good_pf, 4, longs, "message");
    refused(good_pf, 5, NULL, "value");
    refused(good_pf, 5, "abc", "value");
    refused(good_pf, 5, "1e400", "value");
    refused(good_pf, 5, "99999999999999999999999", "value"); /* past the fixed-point range */
    refused(good_pf, 6, "", "threshold");
    refused(good_pf, 7, longs, "symbol");
    refused(good_feed, 8, NULL, "feed");
    refused(good_feed, 8, longs, "feed");
    refused(good_pf, 9, "open", "state");
    refused(good_pf, 9, NULL, "state");
    refused(good_pf, 10, NULL, "timestamp");
    refused(good_pf, 10, "12x", "timestamp");
    refused(good_pf, 10, "-5", "timestamp");
    refused(good_pf, 10, "9223372036854775807", "timestamp"); /* ns would overflow */
    refused(good_pf, 10, "99999999999999999999999", "timestamp");
}

/* Only an outage may cost the thread its reader connection and the API its
 * PostgreSQL answers for a while: a refused argument or a schema that does
 * not fit is told apart by its SQLSTATE class. */
TG_TEST(query_error_classes)
{
    TG_CHECK_EQ_INT(tg_store_pg_query_error("22021"), -EINVAL); /* invalid byte sequence */
    TG_CHECK_EQ_INT(tg_store_pg_query_error("22P02"), -EINVAL); /* invalid text representation */
    TG_CHECK_EQ_INT(tg_store_pg_query_error("42703"), -EPROTO); /* undefined column */
    TG_CHECK_EQ_INT(tg_store_pg_query_error("42P01"), -EPROTO); /* undefined table */
    TG_CHECK_EQ_INT(tg_store_pg_query_error("57014"), -EIO);    /* statement timeout */
    TG_CHECK_EQ_INT(tg_store_pg_query_error("57P01"), -EIO);    /* admin shutdown */
    TG_CHECK_EQ_INT(tg_store_pg_query_error("08006"), -EIO);    /* connection failure */
    TG_CHECK_EQ_INT(tg_store_pg_query_error("53300"), -EIO);    /* too many connections */
    TG_CHECK_EQ_INT(tg_store_pg_query_error(NULL), -EIO);
    TG_CHECK_EQ_INT(tg_store_pg_query_error(""), -EIO);
    TG_CHECK_EQ_INT(tg_store_pg_query_error("22"), -EIO);
}

int main(void)
{
    return tg_test_run();
}
