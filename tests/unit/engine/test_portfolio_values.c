/* test_portfolio_values.c - SPEC §4 money and ratio definitions on
 * hand-computed examples (exact rational arithmetic, rounded half-to-even):
 * no quote yet, shorts, zero cost basis, cash only, day change, session
 * boundary helper, live put/remove. */
#include <errno.h>
#include <string.h>

#include "tg_test.h"
#include "tickgate/book.h"
#include "tickgate/trading_day.h"

typedef struct rec {
    int portfolio, alerts, removed;
} rec_t;

static void on_event(void *ud, const tg_book_event_t *ev)
{
    rec_t *r = ud;
    if (ev->type == TG_BOOK_EV_PORTFOLIO)
        r->portfolio++;
    else if (ev->type == TG_BOOK_EV_ALERT)
        r->alerts++;
    else
        r->removed++;
}

static const char *BOOK =
    "{\"portfolios\":[{\"id\":\"p-1\",\"owner\":\"u-1\",\"cash\":\"1200\","
    "\"holdings\":["
    "{\"symbol\":\"AAPL\",\"quantity\":\"100\",\"cost_basis\":\"15000\",\"target_weight\":\"0.08\"},"
    "{\"symbol\":\"MSFT\",\"quantity\":\"10\",\"cost_basis\":\"3000\",\"target_weight\":\"0.5\"},"
    "{\"symbol\":\"TSLA\",\"quantity\":\"-10\",\"cost_basis\":\"-2400\",\"target_weight\":\"0\"},"
    "{\"symbol\":\"GIFT\",\"quantity\":\"5\",\"cost_basis\":\"0\",\"target_weight\":\"0.1\"}],"
    "\"alerts\":{\"rebalance_drift\":null,\"loss_limit\":null,\"gain_target\":null}},"
    "{\"id\":\"p-cash\",\"owner\":\"u-2\",\"cash\":\"1000.5\"},"
    "{\"id\":\"p-zero\",\"owner\":\"u-2\",\"holdings\":[{\"symbol\":\"GIFT\",\"quantity\":\"5\"}]}]}";

static uint32_t sym(tg_symtab_t *t, const char *s)
{
    return (uint32_t)tg_symtab_find(t, s, strlen(s));
}

static void exact(tg_book_t *b)
{
    tg_book_state_t *inc = tg_book_state_new(), *full = tg_book_state_new();
    char err[256] = "";
    TG_CHECK_EQ_INT(tg_book_capture_state(b, inc), 0);
    TG_CHECK_EQ_INT(tg_book_recompute_full(b, full), 0);
    bool eq = tg_book_equal_state(inc, full, err, sizeof err);
    if (!eq)
        fprintf(stderr, "  %s\n", err);
    TG_CHECK(eq);
    tg_book_state_free(inc);
    tg_book_state_free(full);
}

TG_TEST(hand_computed_figures)
{
    tg_symtab_t t;
    tg_book_t *b;
    rec_t r = {0};
    char err[256] = "";
    tg_holding_view_t hv[8];
    tg_portfolio_view_t v;

    tg_symtab_init(&t, 0);
    tg_book_options_t o = {.symtab = &t, .on_event = on_event, .ud = &r, .alert_seed = 1};
    TG_CHECK_EQ_INT(tg_book_create(&o, &b), 0);
    TG_CHECK_EQ_INT(tg_book_load_json(b, BOOK, strlen(BOOK), NULL, 1, err, sizeof err), 0);
    TG_CHECK_EQ_STR(err, "");
    TG_CHECK_EQ_INT(tg_book_count(b), 3);
    int32_t p1 = tg_book_find(b, "p-1");
    TG_CHECK(p1 >= 0);

    /* no quotes: every holding valued at its cost basis */
    TG_CHECK_EQ_INT(tg_book_portfolio_view(b, (uint32_t)p1, hv, 8, &v), 0);
    TG_CHECK_EQ_INT(v.market_value, 1560000000000);
    TG_CHECK_EQ_INT(v.value, 1680000000000);
    TG_CHECK_EQ_INT(v.cost_basis, 1560000000000);
    TG_CHECK_EQ_INT(v.pnl, 0);
    TG_CHECK_EQ_INT(v.pnl_pct, 0);
    TG_CHECK_EQ_INT(hv[0].weight, 89285714);
    TG_CHECK_EQ_INT(hv[1].weight, 17857143);
    TG_CHECK_EQ_INT(hv[2].weight, -14285714);
    TG_CHECK_EQ_INT(hv[3].drift, -10000000);
    TG_CHECK_EQ_INT(v.max_drift, 81285714);
    TG_CHECK(!hv[0].has_price);
    TG_CHECK_EQ_INT(v.day_change, 0);
    TG_CHECK_EQ_INT(tg_book_portfolio_view(b, (uint32_t)p1, hv, 2, &v), -ENOSPC);
    TG_CHECK_EQ_INT(v.n_holdings, 4);

    /* one quote */
    tg_book_on_tick(b, sym(&t, "AAPL"), 18953000000, 2);
    exact(b);
    tg_book_portfolio_view(b, (uint32_t)p1, hv, 8, &v);
    TG_CHECK_EQ_INT(v.market_value, 1955300000000);
    TG_CHECK_EQ_INT(v.value, 2075300000000);
    TG_CHECK_EQ_INT(v.pnl, 395300000000);
    TG_CHECK_EQ_INT(v.pnl_pct, 25339744);
    TG_CHECK_EQ_INT(hv[0].value, 1895300000000);
    TG_CHECK_EQ_INT(hv[0].price, 18953000000);
    TG_CHECK(hv[0].has_price);
    TG_CHECK_EQ_INT(hv[0].weight, 91326555);
    TG_CHECK_EQ_INT(hv[0].drift, 83326555);
    TG_CHECK_EQ_INT(hv[1].drift, -35544259);
    TG_CHECK_EQ_INT(hv[2].weight, -11564593);
    TG_CHECK_EQ_INT(v.max_drift, 83326555);
    TG_CHECK_EQ_INT(v.ts, 2);

    /* all quoted: the short is worth -2501.25 against -2400 of proceeds */
    tg_book_on_tick(b, sym(&t, "MSFT"), 41217000000, 3);
    tg_book_on_tick(b, sym(&t, "TSLA"), 25012500000, 4);
    tg_book_on_tick(b, sym(&t, "GIFT"), 3333333300, 5);
    exact(b);
    tg_book_portfolio_view(b, (uint32_t)p1, hv, 8, &v);
    TG_CHECK_EQ_INT(hv[2].value, -250125000000);
    TG_CHECK_EQ_INT(hv[3].value, 16666666500);
    TG_CHECK_EQ_INT(v.market_value, 2074011666500);
    TG_CHECK_EQ_INT(v.value, 2194011666500);
    TG_CHECK_EQ_INT(v.pnl, 514011666500);
    TG_CHECK_EQ_INT(v.pnl_pct, 32949466);
    TG_CHECK_EQ_INT(hv[0].weight, 86385138);
    TG_CHECK_EQ_INT(hv[1].weight, 18786135);
    TG_CHECK_EQ_INT(hv[2].weight, -11400350);
    TG_CHECK_EQ_INT(hv[3].weight, 759643);
    TG_CHECK_EQ_INT(v.max_drift, 78385138);
    /* the day-open value was captured when the last holding got its quote */
    TG_CHECK_EQ_INT(v.day_open_value, 2194011666500);
    TG_CHECK_EQ_INT(v.day_change, 0);

    /* day change against that open */
    tg_book_on_tick(b, sym(&t, "MSFT"), 40001000000, 6);
    tg_book_portfolio_view(b, (uint32_t)p1, hv, 8, &v);
    TG_CHECK_EQ_INT(v.value, 2181851666500);
    TG_CHECK_EQ_INT(v.day_change, -12160000000);
    TG_CHECK_EQ_INT(v.day_change_pct, -554236);
    TG_CHECK_EQ_INT(v.pnl_pct, 32169979);
    TG_CHECK_EQ_INT(v.max_drift, 78866584);

    /* session boundary: day change restarts at the next valuation */
    tg_book_session_open(b, 7);
    tg_book_portfolio_view(b, (uint32_t)p1, hv, 8, &v);
    TG_CHECK_EQ_INT(v.day_change, 0);
    tg_book_on_tick(b, sym(&t, "MSFT"), 40002000000, 8);
    tg_book_portfolio_view(b, (uint32_t)p1, hv, 8, &v);
    TG_CHECK_EQ_INT(v.day_open_value, 2181861666500); /* first valuation after the open */
    TG_CHECK_EQ_INT(v.day_change, 0);
    tg_book_on_tick(b, sym(&t, "MSFT"), 40000000000, 9);
    tg_book_portfolio_view(b, (uint32_t)p1, hv, 8, &v);
    TG_CHECK_EQ_INT(v.day_change, -20000000);
    exact(b);

    /* cash only */
    int32_t pc = tg_book_find(b, "p-cash");
    TG_CHECK_EQ_INT(tg_book_portfolio_view(b, (uint32_t)pc, NULL, 0, &v), 0);
    TG_CHECK_EQ_INT(v.value, 100050000000);
    TG_CHECK_EQ_INT(v.market_value, 0);
    TG_CHECK_EQ_INT(v.pnl, 0);
    TG_CHECK_EQ_INT(v.pnl_pct, 0);
    TG_CHECK_EQ_INT(v.max_drift, 0);
    TG_CHECK_EQ_INT(v.n_holdings, 0);

    /* zero cost basis: pnl is the whole value, pnl_pct is 0 by definition */
    int32_t pz = tg_book_find(b, "p-zero");
    TG_CHECK_EQ_INT(tg_book_portfolio_view(b, (uint32_t)pz, hv, 8, &v), 0);
    TG_CHECK_EQ_INT(v.pnl, 16666666500);
    TG_CHECK_EQ_INT(v.pnl_pct, 0);
    TG_CHECK_EQ_INT(hv[0].weight, TG_DEC_SCALE);

    TG_CHECK(r.portfolio > 0);
    TG_CHECK_EQ_INT(tg_book_remove_portfolio(b, "p-zero", 10), 0);
    TG_CHECK_EQ_INT(tg_book_remove_portfolio(b, "p-zero", 10), -ENOENT);
    TG_CHECK_EQ_INT(r.removed, 1);
    TG_CHECK_EQ_INT(tg_book_find(b, "p-zero"), -ENOENT);
    exact(b);
    tg_book_destroy(b);
    tg_symtab_free(&t);
}

TG_TEST(holding_value_rounds_half_to_even)
{
    tg_symtab_t t;
    tg_book_t *b;
    tg_holding_view_t hv[2];
    tg_portfolio_view_t v;
    char err[256];
    const char *j = "{\"portfolios\":[{\"id\":\"r\",\"owner\":\"u\",\"holdings\":["
                    "{\"symbol\":\"X\",\"quantity\":\"0.5\"},{\"symbol\":\"Y\",\"quantity\":\"1.5\"}]}]}";
    tg_symtab_init(&t, 0);
    tg_book_options_t o = {.symtab = &t};
    tg_book_create(&o, &b);
    TG_CHECK_EQ_INT(tg_book_load_json(b, j, strlen(j), NULL, 0, err, sizeof err), 0);
    tg_book_on_price(b, sym(&t, "X"), 5, 1); /* 0.5 x 0.00000005 = 0.000000025 -> 0.00000002 */
    tg_book_on_price(b, sym(&t, "Y"), 1, 1); /* 1.5 x 0.00000001 = 0.000000015 -> 0.00000002 */
    tg_book_portfolio_view(b, 0, hv, 2, &v);
    TG_CHECK_EQ_INT(hv[0].value, 2);
    TG_CHECK_EQ_INT(hv[1].value, 2);
    tg_book_on_price(b, sym(&t, "X"), 7, 1); /* 0.000000035 -> 0.00000004 */
    tg_book_portfolio_view(b, 0, hv, 2, &v);
    TG_CHECK_EQ_INT(hv[0].value, 4);
    TG_CHECK_EQ_INT(v.market_value, 6);
    TG_CHECK_EQ_INT(hv[0].weight, 66666667);
    exact(b);
    tg_book_destroy(b);
    tg_symtab_free(&t);
}

TG_TEST(load_is_all_or_nothing_and_replaces)
{
    tg_symtab_t t;
    tg_book_t *b;
    char err[256] = "";
    tg_symtab_init(&t, 3);
    tg_book_options_t o = {.symtab = &t};
    tg_book_create(&o, &b);
    const char *a = "{\"portfolios\":[{\"id\":\"a\",\"owner\":\"u\",\"holdings\":[{\"symbol\":\"X\",\"quantity\":1}]},"
                    "{\"id\":\"b\",\"owner\":\"u\"}]}";
    TG_CHECK_EQ_INT(tg_book_load_json(b, a, strlen(a), NULL, 0, err, sizeof err), 0);
    const char *bad = "{\"portfolios\":[{\"id\":\"a\",\"owner\":\"u\",\"cash\":\"x\"}]}";
    TG_CHECK_EQ_INT(tg_book_load_json(b, bad, strlen(bad), NULL, 0, err, sizeof err), -EINVAL);
    TG_CHECK_EQ_STR(err, "portfolio a: cash: bad decimal");
    TG_CHECK_EQ_INT(tg_book_count(b), 2);
    const char *many = "{\"portfolios\":[{\"id\":\"c\",\"owner\":\"u\",\"holdings\":["
                       "{\"symbol\":\"P\",\"quantity\":1},{\"symbol\":\"Q\",\"quantity\":1},"
                       "{\"symbol\":\"R\",\"quantity\":1}]}]}";
    TG_CHECK_EQ_INT(tg_book_load_json(b, many, strlen(many), NULL, 0, err, sizeof err), -ENOSPC);
    TG_CHECK_EQ_INT(tg_book_count(b), 2);
    const char *c = "{\"portfolios\":[{\"id\":\"b\",\"owner\":\"u\",\"cash\":7}]}";
    TG_CHECK_EQ_INT(tg_book_load_json(b, c, strlen(c), NULL, 0, err, sizeof err), 0);
    TG_CHECK_EQ_INT(tg_book_count(b), 1);
    TG_CHECK_EQ_INT(tg_book_find(b, "a"), -ENOENT);
    int32_t s = tg_book_find(b, "b");
    TG_CHECK(s >= 0);
    TG_CHECK_EQ_INT(tg_book_spec(b, (uint32_t)s)->cash, TG_DEC(7));
    exact(b);
    tg_book_destroy(b);
    tg_book_destroy(NULL);
    tg_symtab_free(&t);
}

TG_TEST(session_next_open)
{
    int64_t out = 0;
    const int64_t NS = 1000000000LL;
    /* Friday 2024-03-08 12:00 UTC -> 09:30 EST = 14:30 UTC the same day */
    TG_CHECK_EQ_INT(tg_session_next_open(NULL, "09:30", "America/New_York", 1709899200 * NS, &out), 0);
    TG_CHECK_EQ_INT(out, 1709908200 * NS);
    /* after the spring-forward on 2024-03-10: 09:30 EDT = 13:30 UTC next day */
    TG_CHECK_EQ_INT(tg_session_next_open(NULL, "09:30", "America/New_York", 1710082800 * NS, &out), 0);
    TG_CHECK_EQ_INT(out, 1710163800 * NS);
    /* fall-back day 2024-11-03: 01:00 EDT now, 09:30 EST later that day */
    TG_CHECK_EQ_INT(tg_session_next_open(NULL, "09:30", "America/New_York", 1730610000 * NS, &out), 0);
    TG_CHECK_EQ_INT(out, 1730644200 * NS);
    /* 02:30 does not exist on 2024-03-10: taken with the offset before the gap */
    TG_CHECK_EQ_INT(tg_session_next_open(NULL, "02:30", "America/New_York", 1710046800 * NS, &out), 0);
    TG_CHECK_EQ_INT(out, 1710055800 * NS);
    /* strictly after now */
    TG_CHECK_EQ_INT(tg_session_next_open(NULL, "00:00", "UTC", 1704067200 * NS, &out), 0);
    TG_CHECK_EQ_INT(out, 1704153600 * NS);
    TG_CHECK_EQ_INT(tg_session_next_open(NULL, "24:00", "UTC", 0, &out), -EINVAL);
    TG_CHECK_EQ_INT(tg_session_next_open(NULL, "9:30", "UTC", 0, &out), -EINVAL);
    TG_CHECK_EQ_INT(tg_session_next_open(NULL, "09:30", "../etc/passwd", 0, &out), -EINVAL);
    TG_CHECK_EQ_INT(tg_session_next_open(NULL, "09:30", "Mars/Olympus", 0, &out), -ENOENT);
}

int main(void)
{
    return tg_test_run();
}
