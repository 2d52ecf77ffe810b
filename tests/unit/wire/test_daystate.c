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

int main(void)
{
    return tg_test_run();
}
