/* test_daystate.c - the day-state file parser: the lines a restart needs,
 * the header that ties them to one session day, and hostile input (bad
 * decimals, missing fields, NUL bytes, over-long names, no final newline). */
#include <errno.h>
#include <string.h>

#include "tg_test.h"
#include "tickgate/daystate.h"

static char got[2048];

static void on_q(void *arg, const char *symbol, tg_dec_t day_open, tg_dec_t volume)
{
    (void)arg;
    char a[TG_DEC_STRLEN], b[TG_DEC_STRLEN];
    tg_dec_format(day_open, a);
    tg_dec_format(volume, b);
    snprintf(got + strlen(got), sizeof got - strlen(got), "q[%s %s %s]", symbol, a, b);
}

static void on_p(void *arg, const char *id, bool pending, tg_dec_t open, tg_dec_t cash,
                 tg_dec_t cost, uint32_t n)
{
    (void)arg;
    char a[TG_DEC_STRLEN], b[TG_DEC_STRLEN], c[TG_DEC_STRLEN];
    tg_dec_format(open, a);
    tg_dec_format(cash, b);
    tg_dec_format(cost, c);
    snprintf(got + strlen(got), sizeof got - strlen(got), "p[%s %d %s %s %s %u]", id, pending, a,
             b, c, n);
}

static int parse(const char *text, size_t len, int64_t start)
{
    static char buf[16384];
    memcpy(buf, text, len);
    got[0] = 0;
    tg_daystate_cb_t cb = {.on_quote = on_q, .on_portfolio = on_p};
    return tg_daystate_parse(buf, len, start, &cb);
}

#define P(s, start) parse(s, sizeof(s) - 1, start)

TG_TEST(good_file)
{
    TG_CHECK_EQ_INT(P("tickgate-daystate 1 42\nq 100.5 15 AAPL\np 0 1100 0 900 1 p day\n", 42), 2);
    TG_CHECK_EQ_STR(got, "q[AAPL 100.5 15]p[p day 0 1100 0 900 1]");
    /* no final newline */
    TG_CHECK_EQ_INT(P("tickgate-daystate 1 42\nq 1 2 X", 42), 1);
    TG_CHECK_EQ_STR(got, "q[X 1 2]");
}

TG_TEST(other_session_or_no_header)
{
    TG_CHECK_EQ_INT(P("tickgate-daystate 1 41\nq 1 2 X\n", 42), -ESTALE);
    TG_CHECK_EQ_STR(got, "");
    TG_CHECK_EQ_INT(P("q 1 2 X\n", 42), -ESTALE);
    TG_CHECK_EQ_INT(P("tickgate-daystate 2 42\n", 42), -ESTALE);
    TG_CHECK_EQ_INT(P("tickgate-daystate 1 42x\n", 42), -ESTALE);
    TG_CHECK_EQ_INT(P("tickgate-daystate 1 \n", 42), -ESTALE);
    TG_CHECK_EQ_INT(P("", 42), -ESTALE);
}

TG_TEST(hostile_lines_are_skipped)
{
    static const char f[] = "tickgate-daystate 1 7\n"
                            "q 1e99 5 BIG\nq 5 AAPL\nq\nq x y Z\np 1\np 0 1 2 3\n"
                            "p 2 1 2 3 4 bad-pending\np 0 1 2 3 -4 neg\np 0 1 2 3 4\n"
                            "q 1.123456789 1 FRAC\n\0\1\2 binary\nq 3 4 N\0UL\n"
                            "z 1 2 3\nq 1 2 \n"
                            "q 12.5 40 GOOD\n";
    TG_CHECK_EQ_INT(parse(f, sizeof f - 1, 7), 2);
    /* the NUL cuts "N\0UL" to "N" within its own line only */
    TG_CHECK_EQ_STR(got, "q[N 3 4]q[GOOD 12.5 40]");
    /* an over-long name is skipped, the next line still read */
    static char big[12000];
    int n = snprintf(big, sizeof big, "tickgate-daystate 1 7\nq 1 1 ");
    memset(big + n, 'S', 9000);
    memcpy(big + n + 9000, "\nq 2 2 OK\n", 10);
    TG_CHECK_EQ_INT(parse(big, (size_t)n + 9010, 7), 1);
    TG_CHECK_EQ_STR(got, "q[OK 2 2]");
}

/* A PostgreSQL day_state row: the same checks as a line, fields as columns
 * (NULL = SQL NULL). */
static void on_l(void *arg, const char *symbol, tg_dec_t price, int64_t ts)
{
    (void)arg;
    char a[TG_DEC_STRLEN];
    tg_dec_format(price, a);
    snprintf(got + strlen(got), sizeof got - strlen(got), "l[%s %s %lld]", symbol, a,
             (long long)ts);
}

static int rec(char kind, const char *key, const char *const *v, size_t n)
{
    got[0] = 0;
    tg_daystate_cb_t cb = {.on_quote = on_q, .on_portfolio = on_p, .on_last = on_l};
    return tg_daystate_record(kind, key, v, n, &cb);
}

TG_TEST(records_from_rows)
{
    const char *q[] = {"100.50000000", "15.00000000"};
    TG_CHECK_EQ_INT(rec('q', "AAPL", q, 2), 0);
    TG_CHECK_EQ_STR(got, "q[AAPL 100.5 15]");
    const char *p[] = {"1", "0.00000000", "-5.25", "900", "3"};
    TG_CHECK_EQ_INT(rec('p', "p day\ttab", p, 5), 0);
    TG_CHECK_EQ_STR(got, "p[p day\ttab 1 0 -5.25 900 3]");
    /* with the last price (PostgreSQL rows), or both NULL */
    const char *ql[] = {"100.5", "15", "110.00000000", "1764806400123456789"};
    TG_CHECK_EQ_INT(rec('q', "AAPL", ql, 4), 0);
    TG_CHECK_EQ_STR(got, "q[AAPL 100.5 15]l[AAPL 110 1764806400123456789]");
    const char *qn[] = {"100.5", "15", NULL, NULL};
    TG_CHECK_EQ_INT(rec('q', "AAPL", qn, 4), 0);
    TG_CHECK_EQ_STR(got, "q[AAPL 100.5 15]");
    /* no callbacks: still validated */
    TG_CHECK_EQ_INT(tg_daystate_record('q', "X", q, 2, NULL), 0);
}

TG_TEST(bad_records_are_refused)
{
    const char *null_open[] = {NULL, "1"};
    const char *big[] = {"1e99", "1"};
    const char *huge[] = {"92233720368.54775808", "1"};
    const char *frac[] = {"1.123456789", "1"};
    const char *text[] = {"x", "1"};
    const char *empty[] = {"", "1"};
    const char *q[] = {"1", "2"};
    TG_CHECK_EQ_INT(rec('q', "A", null_open, 2), -EINVAL);
    TG_CHECK_EQ_INT(rec('q', "A", big, 2), -EINVAL);
    TG_CHECK_EQ_INT(rec('q', "A", huge, 2), -EINVAL);
    TG_CHECK_EQ_INT(rec('q', "A", frac, 2), -EINVAL);
    TG_CHECK_EQ_INT(rec('q', "A", text, 2), -EINVAL);
    TG_CHECK_EQ_INT(rec('q', "A", empty, 2), -EINVAL);
    TG_CHECK_EQ_INT(rec('q', "", q, 2), -EINVAL);
    TG_CHECK_EQ_INT(rec('q', NULL, q, 2), -EINVAL);
    TG_CHECK_EQ_INT(rec('q', "A", q, 1), -EINVAL);
    TG_CHECK_EQ_INT(rec('q', "A", NULL, 2), -EINVAL);
    TG_CHECK_EQ_INT(rec('z', "A", q, 2), -EINVAL);
    const char *l_nots[] = {"1", "2", "3", NULL};
    const char *l_noprice[] = {"1", "2", NULL, "5"};
    const char *l_zero[] = {"1", "2", "0", "5"};
    const char *l_neg[] = {"1", "2", "-3", "5"};
    const char *l_badts[] = {"1", "2", "3", "-5"};
    const char *l_ts0[] = {"1", "2", "3", "05"};
    const char *l_tsbig[] = {"1", "2", "3", "99999999999999999999"};
    const char *l_tsx[] = {"1", "2", "3", "5x"};
    TG_CHECK_EQ_INT(rec('q', "A", l_nots, 4), -EINVAL);
    TG_CHECK_EQ_INT(rec('q', "A", l_noprice, 4), -EINVAL);
    TG_CHECK_EQ_INT(rec('q', "A", l_zero, 4), -EINVAL);
    TG_CHECK_EQ_INT(rec('q', "A", l_neg, 4), -EINVAL);
    TG_CHECK_EQ_INT(rec('q', "A", l_badts, 4), -EINVAL);
    TG_CHECK_EQ_INT(rec('q', "A", l_ts0, 4), -EINVAL);
    TG_CHECK_EQ_INT(rec('q', "A", l_tsbig, 4), -EINVAL);
    TG_CHECK_EQ_INT(rec('q', "A", l_tsx, 4), -EINVAL);
    TG_CHECK_EQ_INT(rec('q', "A", l_tsx, 3), -EINVAL);
    const char *pend[] = {"t", "1", "2", "3", "4"};
    const char *neg[] = {"0", "1", "2", "3", "-4"};
    const char *plus[] = {"0", "1", "2", "3", "+4"};
    const char *over[] = {"0", "1", "2", "3", "4294967296"};
    const char *nulln[] = {"0", "1", "2", "3", NULL};
    const char *nullc[] = {"0", "1", NULL, "3", "4"};
    TG_CHECK_EQ_INT(rec('p', "P", pend, 5), -EINVAL);
    TG_CHECK_EQ_INT(rec('p', "P", neg, 5), -EINVAL);
    TG_CHECK_EQ_INT(rec('p', "P", plus, 5), -EINVAL);
    TG_CHECK_EQ_INT(rec('p', "P", over, 5), -EINVAL);
    TG_CHECK_EQ_INT(rec('p', "P", nulln, 5), -EINVAL);
    TG_CHECK_EQ_INT(rec('p', "P", nullc, 5), -EINVAL);
    TG_CHECK_EQ_INT(rec('p', "P", pend, 4), -EINVAL);
    TG_CHECK_EQ_STR(got, "");
}

int main(void)
{
    return tg_test_run();
}
