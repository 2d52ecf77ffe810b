/* test_unpriced.c - SPEC §13 unpriced portfolios and issue 13 item 14 money
 * overflow: no value rule fires or resolves on a cost-basis placeholder or a
 * saturated figure, day_change covers the priced holdings, the `unpriced`
 * alert fires after unpriced_after_s and resolves with the last quote, and
 * the incremental state still equals a full recomputation throughout. */
#include <errno.h>
#include <string.h>

#include "tg_test.h"
#include "tickgate/book.h"

typedef struct ev {
    tg_alert_rule_t rule;
    tg_alert_state_t state;
    tg_alert_severity_t sev;
    char id[TG_ALERT_ID_LEN + 1];
    tg_dec_t value, threshold;
    char sym[TG_SYMBOL_MAX + 1];
    char msg[160];
} ev_t;

static ev_t evs[64];
static int nev;

static void on_event(void *ud, const tg_book_event_t *e)
{
    (void)ud;
    if (e->type != TG_BOOK_EV_ALERT || nev >= 64)
        return;
    ev_t *o = &evs[nev++];
    o->rule = e->alert->rule;
    o->state = e->alert->state;
    o->sev = e->alert->severity;
    strcpy(o->id, e->alert->alert_id);
    o->value = e->alert->value;
    o->threshold = e->alert->threshold;
    strcpy(o->sym, e->alert->symbol);
    strcpy(o->msg, e->alert->message);
}

static tg_symtab_t syms;
static tg_book_t *book;

static tg_dec_t D(const char *s)
{
    tg_dec_t v = 0;
    tg_dec_parse(s, strlen(s), &v);
    return v;
}

static void setup(const char *json, int64_t after_s)
{
    char err[256] = "";
    nev = 0;
    tg_symtab_init(&syms, 0);
    tg_book_options_t o = {.symtab = &syms, .on_event = on_event, .alert_seed = 7,
                           .unpriced_after_s = after_s};
    tg_book_create(&o, &book);
    int rc = tg_book_load_json(book, json, strlen(json), NULL, 0, err, sizeof err);
    if (rc)
        fprintf(stderr, "load: %s\n", err);
    TG_CHECK_EQ_INT(rc, 0);
}

static void teardown(void)
{
    tg_book_destroy(book);
    tg_symtab_free(&syms);
}

static void px(const char *s, const char *price, int64_t ts)
{
    tg_book_on_tick(book, (uint32_t)tg_symtab_find(&syms, s, strlen(s)), D(price), ts);
}

static void exact(void)
{
    tg_book_state_t *inc = tg_book_state_new(), *full = tg_book_state_new();
    char err[256] = "";
    TG_CHECK_EQ_INT(tg_book_capture_state(book, inc), 0);
    TG_CHECK_EQ_INT(tg_book_recompute_full(book, full), 0);
    bool eq = tg_book_equal_state(inc, full, err, sizeof err);
    if (!eq)
        fprintf(stderr, "  %s\n", err);
    TG_CHECK(eq);
    tg_book_state_free(inc);
    tg_book_state_free(full);
}

static tg_portfolio_view_t view(const char *id, tg_holding_view_t *h)
{
    tg_portfolio_view_t v;
    memset(&v, 0, sizeof v);
    TG_CHECK_EQ_INT(tg_book_portfolio_view(book, (uint32_t)tg_book_find(book, id), h, 8, &v), 0);
    return v;
}

/* A at cost 100 for 1, B at cost 100 for 1: every rule on, tight thresholds. */
static const char *TWO =
    "{\"portfolios\":[{\"id\":\"p\",\"owner\":\"u\",\"cash\":\"0\",\"holdings\":["
    "{\"symbol\":\"A\",\"quantity\":\"1\",\"cost_basis\":\"100\",\"target_weight\":\"0.5\"},"
    "{\"symbol\":\"B\",\"quantity\":\"1\",\"cost_basis\":\"100\",\"target_weight\":\"0.5\"}],"
    "\"alerts\":{\"rebalance_drift\":0.05,\"loss_limit\":0.05,\"gain_target\":0.05}}]}";

TG_TEST(no_value_rule_while_unpriced)
{
    setup(TWO, 60);
    tg_holding_view_t h[8];
    /* A triples: with B's placeholder, pnl 100 %, A's weight 0.75 - both
     * beyond their thresholds, and none may fire */
    px("A", "300", 1);
    TG_CHECK_EQ_INT(nev, 0);
    tg_portfolio_view_t v = view("p", h);
    TG_CHECK(!v.priced);
    TG_CHECK(h[0].has_price && !h[1].has_price);
    exact();
    /* down 50 %: loss_limit would fire on the priced holding, it may not */
    px("A", "150", 2);
    TG_CHECK_EQ_INT(nev, 0);
    /* B's first quote prices the portfolio: now the rules run on real figures */
    px("B", "100", 3);
    v = view("p", h);
    TG_CHECK(v.priced);
    TG_CHECK_EQ_INT(v.pnl_pct, D("0.25"));
    /* drift 150/250 - 0.5 = 0.1 >= 0.05 and pnl 25 % >= 5 % */
    int drift = 0, gain = 0, loss = 0;
    for (int i = 0; i < nev; i++) {
        drift += evs[i].rule == TG_ALERT_REBALANCE_DRIFT && evs[i].state == TG_ALERT_FIRING;
        gain += evs[i].rule == TG_ALERT_GAIN_TARGET && evs[i].state == TG_ALERT_FIRING;
        loss += evs[i].rule == TG_ALERT_LOSS_LIMIT;
    }
    TG_CHECK_EQ_INT(drift, 1);
    TG_CHECK_EQ_INT(gain, 1);
    /* day_change covered A only (300 -> 150 = -150 on a 300 baseline ... see
     * day_change_over_priced_holdings); B joined at its first price: -50 %, fires */
    TG_CHECK_EQ_INT(loss, 1);
    exact();
    teardown();
}

TG_TEST(day_change_over_priced_holdings)
{
    /* loss/gain off so only the figures are under test */
    setup("{\"portfolios\":[{\"id\":\"p\",\"owner\":\"u\",\"cash\":\"1000\",\"holdings\":["
          "{\"symbol\":\"A\",\"quantity\":\"10\",\"cost_basis\":\"1000\"},"
          "{\"symbol\":\"B\",\"quantity\":\"10\",\"cost_basis\":\"1000\"}],"
          "\"alerts\":{\"rebalance_drift\":null,\"loss_limit\":null,\"gain_target\":null}}]}",
          0);
    tg_holding_view_t h[8];
    px("A", "100", 1); /* A's baseline: 1000 */
    tg_portfolio_view_t v = view("p", h);
    TG_CHECK_EQ_INT(v.day_change, 0);
    px("A", "90", 2); /* A -100; B never quoted: before the fix day_change stayed 0 */
    v = view("p", h);
    TG_CHECK_EQ_INT(v.day_change, D("-100"));
    /* day_open_value: cash 1000 + A 1000 + B's placeholder 1000 */
    TG_CHECK_EQ_INT(v.day_open_value, D("3000"));
    TG_CHECK_EQ_INT(v.day_change_pct, D("-0.03333333"));
    px("B", "50", 3); /* B joins at its first price: contributes 0 today */
    v = view("p", h);
    TG_CHECK_EQ_INT(v.day_change, D("-100"));
    TG_CHECK_EQ_INT(v.value, D("2400"));
    px("B", "55", 4);
    v = view("p", h);
    TG_CHECK_EQ_INT(v.day_change, D("-50"));
    exact();
    /* the session boundary: the next valuation is the new baseline */
    tg_book_session_open(book, 5);
    px("A", "91", 6);
    v = view("p", h);
    TG_CHECK_EQ_INT(v.day_change, 0);
    px("A", "92", 7);
    v = view("p", h);
    TG_CHECK_EQ_INT(v.day_change, D("10"));
    exact();
    teardown();
}

TG_TEST(unpriced_alert_after_timeout_then_resolved)
{
    const int64_t s = 1000000000LL;
    setup(TWO, 60);
    px("A", "100", 1);
    tg_book_check_unpriced(book, 59 * s);
    TG_CHECK_EQ_INT(nev, 0);
    tg_book_check_unpriced(book, 60 * s);
    TG_CHECK_EQ_INT(nev, 1);
    if (nev == 1) {
        TG_CHECK_EQ_INT(evs[0].rule, TG_ALERT_UNPRICED);
        TG_CHECK_EQ_INT(evs[0].state, TG_ALERT_FIRING);
        TG_CHECK_EQ_INT(evs[0].sev, TG_ALERT_SEV_HIGH);
        TG_CHECK_EQ_INT(evs[0].value, D("1"));
        TG_CHECK_EQ_INT(evs[0].threshold, D("60"));
        TG_CHECK_EQ_STR(evs[0].sym, "B");
        TG_CHECK_EQ_STR(evs[0].msg, "1 holding without a quote for 60 s: B");
        TG_CHECK_EQ_STR(tg_alert_rule_name(evs[0].rule), "unpriced");
    }
    /* no re-fire while it stays unpriced */
    tg_book_check_unpriced(book, 120 * s);
    TG_CHECK_EQ_INT(nev, 1);
    px("B", "100", 121 * s);
    TG_CHECK_EQ_INT(nev, 2);
    if (nev == 2) {
        TG_CHECK_EQ_INT(evs[1].rule, TG_ALERT_UNPRICED);
        TG_CHECK_EQ_INT(evs[1].state, TG_ALERT_RESOLVED);
        TG_CHECK_EQ_STR(evs[1].id, evs[0].id);
    }
    teardown();

    /* two never-quoted holdings; removal resolves the episode */
    setup(TWO, 60);
    tg_book_check_unpriced(book, 61 * s);
    TG_CHECK_EQ_INT(nev, 1);
    TG_CHECK_EQ_INT(evs[0].value, D("2"));
    TG_CHECK_EQ_INT(tg_book_remove_portfolio(book, "p", 62 * s), 0);
    TG_CHECK_EQ_INT(nev, 2);
    TG_CHECK_EQ_INT(evs[1].state, TG_ALERT_RESOLVED);
    teardown();

    /* 0 turns the rule off */
    setup(TWO, 0);
    tg_book_check_unpriced(book, 1000 * s);
    TG_CHECK_EQ_INT(nev, 0);
    teardown();
}

TG_TEST(put_while_unpriced_fires_nothing)
{
    setup(TWO, 60);
    px("A", "300", 1);
    px("B", "300", 2); /* gain 200 % fires */
    TG_CHECK_EQ_INT(nev, 1);
    TG_CHECK_EQ_INT(evs[0].rule, TG_ALERT_GAIN_TARGET);
    /* replace with a new unpriced holding: the firing alert neither resolves
     * on the placeholder figures nor does anything fire */
    tg_portfolio_spec_t spec;
    char err[256];
    const char *body = "{\"owner\":\"u\",\"holdings\":["
                       "{\"symbol\":\"A\",\"quantity\":\"1\",\"cost_basis\":\"300\",\"target_weight\":\"1\"},"
                       "{\"symbol\":\"C\",\"quantity\":\"1\",\"cost_basis\":\"1\"}],"
                       "\"alerts\":{\"rebalance_drift\":0.05,\"loss_limit\":0.05,\"gain_target\":0.05}}";
    TG_CHECK_EQ_INT(tg_portfolio_parse_json(body, strlen(body), "p", NULL, &spec, err, sizeof err), 0);
    TG_CHECK_EQ_INT(tg_book_put_portfolio(book, &spec, 3, err, sizeof err), 0);
    tg_portfolio_spec_free(&spec);
    TG_CHECK_EQ_INT(nev, 1);
    exact();
    px("C", "1", 4); /* priced: pnl 0 resolves the gain alert with its id */
    TG_CHECK_EQ_INT(nev, 2);
    TG_CHECK_EQ_INT(evs[1].rule, TG_ALERT_GAIN_TARGET);
    TG_CHECK_EQ_INT(evs[1].state, TG_ALERT_RESOLVED);
    TG_CHECK_EQ_STR(evs[1].id, evs[0].id);
    teardown();
}

TG_TEST(money_overflow_fires_nothing)
{
    /* issue 13 item 14: 1,000,000 x 92,233,720,368.54775807 saturated the
     * holding value and pnl_pct read 4.6e10: gain_target fired on it */
    setup("{\"portfolios\":[{\"id\":\"big\",\"owner\":\"u\",\"cash\":\"0\",\"holdings\":["
          "{\"symbol\":\"X\",\"quantity\":\"1000000\",\"cost_basis\":\"2000000\",\"target_weight\":\"1\"}],"
          "\"alerts\":{\"gain_target\":0.2,\"loss_limit\":0.1}}]}",
          60);
    tg_holding_view_t h[8];
    px("X", "2", 1);
    TG_CHECK_EQ_INT(nev, 0);
    px("X", "92233720368.54775807", 2);
    TG_CHECK_EQ_INT(nev, 0);
    tg_portfolio_view_t v = view("big", h);
    TG_CHECK(v.saturated);
    TG_CHECK(v.priced);
    exact();
    /* back in range: the rules run again on real figures (pnl +20 %) */
    px("X", "2.4", 4);
    v = view("big", h);
    TG_CHECK(!v.saturated);
    TG_CHECK_EQ_INT(nev, 1);
    TG_CHECK_EQ_INT(evs[0].rule, TG_ALERT_GAIN_TARGET);
    TG_CHECK_EQ_INT(evs[0].value, D("0.2"));
    exact();
    teardown();

    /* every holding in range, their sum not: the figures a client would see
     * are clamped, so rules pause too */
    setup("{\"portfolios\":[{\"id\":\"sum\",\"owner\":\"u\",\"cash\":\"0\",\"holdings\":["
          "{\"symbol\":\"X\",\"quantity\":\"1000000\",\"cost_basis\":\"50000000000\",\"target_weight\":\"0.5\"},"
          "{\"symbol\":\"Y\",\"quantity\":\"1000000\",\"cost_basis\":\"40000000000\",\"target_weight\":\"0.5\"}],"
          "\"alerts\":{\"gain_target\":0.02,\"loss_limit\":null,\"rebalance_drift\":null}}]}",
          60);
    px("X", "50000", 1);
    px("Y", "40000", 2);
    TG_CHECK_EQ_INT(nev, 0);
    px("X", "53000", 3); /* 93e9 > 92.23e9: P&L 3.3 % >= 2 %, but gated */
    TG_CHECK_EQ_INT(nev, 0);
    v = view("sum", h);
    TG_CHECK(v.saturated);
    exact();
    px("X", "52200", 4); /* 92.2e9 fits: P&L 2.44 % fires now */
    TG_CHECK_EQ_INT(nev, 1);
    TG_CHECK_EQ_INT(evs[0].rule, TG_ALERT_GAIN_TARGET);
    v = view("sum", h);
    TG_CHECK(!v.saturated);
    exact();
    teardown();
}

int main(void)
{
    return tg_test_run();
}
