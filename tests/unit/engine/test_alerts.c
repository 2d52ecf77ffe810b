/* test_alerts.c - alert rules driven back and forth across their thresholds:
 * the exact event sequence (no flapping, no re-fire while beyond), stable ids
 * per episode, exact hysteresis boundaries, the relative drift band,
 * per-portfolio overrides, restore after restart, resolve on removal. */
#include <errno.h>
#include <string.h>

#include "tg_test.h"
#include "tickgate/book.h"

typedef struct ev {
    tg_alert_rule_t rule;
    tg_alert_state_t state;
    tg_alert_severity_t sev;
    char id[TG_ALERT_ID_LEN + 1];
    char pid[32];
    char sym[TG_SYMBOL_MAX + 1];
    tg_dec_t value, threshold;
    int64_t ts;
    char msg[160];
} ev_t;

static ev_t evs[256];
static int nev;

static void on_event(void *ud, const tg_book_event_t *e)
{
    (void)ud;
    if (e->type != TG_BOOK_EV_ALERT || nev >= 256)
        return;
    ev_t *o = &evs[nev++];
    o->rule = e->alert->rule;
    o->state = e->alert->state;
    o->sev = e->alert->severity;
    strcpy(o->id, e->alert->alert_id);
    snprintf(o->pid, sizeof o->pid, "%s", e->alert->portfolio_id);
    strcpy(o->sym, e->alert->symbol);
    o->value = e->alert->value;
    o->threshold = e->alert->threshold;
    o->ts = e->alert->ts;
    strcpy(o->msg, e->alert->message);
}

static tg_symtab_t syms;
static tg_book_t *book;

static void setup(const char *json)
{
    char err[256] = "";
    nev = 0;
    tg_symtab_init(&syms, 0);
    tg_book_options_t o = {.symtab = &syms, .on_event = on_event, .alert_seed = 42};
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
    tg_dec_t p;
    tg_dec_parse(price, strlen(price), &p);
    tg_book_on_tick(book, (uint32_t)tg_symtab_find(&syms, s, strlen(s)), p, ts);
}

#define D(s) dec_of(s)
static tg_dec_t dec_of(const char *s)
{
    tg_dec_t v = 0;
    tg_dec_parse(s, strlen(s), &v);
    return v;
}

TG_TEST(drift_hysteresis_exact_boundaries)
{
    /* one holding (target 0.5) and cash 819: weight = p / (p + 819), so
     * p = 1001 gives exactly 0.55 (drift 0.05) and p = 981 exactly 0.545 */
    setup("{\"portfolios\":[{\"id\":\"d\",\"owner\":\"u\",\"cash\":819,"
          "\"holdings\":[{\"symbol\":\"A\",\"quantity\":1,\"cost_basis\":819,\"target_weight\":0.5}],"
          "\"alerts\":{\"rebalance_drift\":0.05,\"hysteresis\":0.1,\"loss_limit\":null,\"gain_target\":null}}]}");
    TG_CHECK_EQ_INT(nev, 0);
    px("A", "1000", 1); /* drift 0.04975 */
    TG_CHECK_EQ_INT(nev, 0);
    px("A", "1001", 2); /* drift 0.05 exactly: fires */
    TG_CHECK_EQ_INT(nev, 1);
    px("A", "1100", 3); /* still beyond: no re-fire */
    px("A", "990", 4);  /* between 0.045 and 0.05 */
    px("A", "1001", 5); /* beyond again while firing */
    px("A", "982", 6);  /* 0.04525: not resolved yet */
    TG_CHECK_EQ_INT(nev, 1);
    px("A", "981", 7); /* 0.045 exactly: resolves */
    TG_CHECK_EQ_INT(nev, 2);
    px("A", "1000", 8); /* below the threshold: quiet */
    px("A", "1001", 9); /* a new episode */
    TG_CHECK_EQ_INT(nev, 3);
    if (nev == 3) {
        TG_CHECK_EQ_INT(evs[0].rule, TG_ALERT_REBALANCE_DRIFT);
        TG_CHECK_EQ_INT(evs[0].state, TG_ALERT_FIRING);
        TG_CHECK_EQ_INT(evs[0].sev, TG_ALERT_SEV_MEDIUM);
        TG_CHECK_EQ_INT(evs[0].value, D("0.05"));
        TG_CHECK_EQ_INT(evs[0].threshold, D("0.05"));
        TG_CHECK_EQ_INT(evs[0].ts, 2);
        TG_CHECK_EQ_STR(evs[0].pid, "d");
        TG_CHECK_EQ_STR(evs[0].msg, "max drift 5.00% ≥ 5.00%");
        TG_CHECK_EQ_INT(evs[1].state, TG_ALERT_RESOLVED);
        TG_CHECK_EQ_STR(evs[1].id, evs[0].id);
        TG_CHECK_EQ_INT(evs[1].value, D("0.045"));
        TG_CHECK_EQ_INT(evs[1].ts, 7);
        TG_CHECK_EQ_STR(evs[1].msg, "max drift 4.50% ≤ 4.50%, resolved");
        TG_CHECK_EQ_INT(evs[2].state, TG_ALERT_FIRING);
        TG_CHECK(strcmp(evs[2].id, evs[0].id) != 0);
        TG_CHECK_EQ_INT((int)strlen(evs[0].id), TG_ALERT_ID_LEN);
        TG_CHECK(strncmp(evs[0].id, "a-", 2) == 0);
    }
    /* removing the portfolio resolves its firing alert */
    TG_CHECK_EQ_INT(tg_book_remove_portfolio(book, "d", 10), 0);
    TG_CHECK_EQ_INT(nev, 4);
    TG_CHECK_EQ_INT(evs[3].state, TG_ALERT_RESOLVED);
    TG_CHECK_EQ_STR(evs[3].id, evs[2].id);
    teardown();
}

TG_TEST(loss_limit_against_day_open)
{
    setup("{\"portfolios\":[{\"id\":\"l\",\"owner\":\"u\","
          "\"holdings\":[{\"symbol\":\"X\",\"quantity\":1,\"cost_basis\":100}],"
          "\"alerts\":{\"rebalance_drift\":null,\"gain_target\":null,\"loss_limit\":0.1}}]}");
    px("X", "100", 1); /* first full valuation: the day-open value */
    px("X", "91", 2);
    TG_CHECK_EQ_INT(nev, 0);
    px("X", "90", 3); /* -10% exactly */
    TG_CHECK_EQ_INT(nev, 1);
    px("X", "85", 4);
    px("X", "90.99", 5); /* -9.01%: resolves only at >= -9% */
    TG_CHECK_EQ_INT(nev, 1);
    px("X", "91", 6);
    TG_CHECK_EQ_INT(nev, 2);
    px("X", "90.5", 7); /* between: quiet */
    TG_CHECK_EQ_INT(nev, 2);
    if (nev == 2) {
        TG_CHECK_EQ_INT(evs[0].rule, TG_ALERT_LOSS_LIMIT);
        TG_CHECK_EQ_INT(evs[0].sev, TG_ALERT_SEV_HIGH);
        TG_CHECK_EQ_INT(evs[0].value, D("-0.1"));
        TG_CHECK_EQ_INT(evs[0].threshold, D("-0.1"));
        TG_CHECK_EQ_STR(evs[0].msg, "day change -10.00% ≤ -10.00%");
        TG_CHECK_EQ_INT(evs[1].state, TG_ALERT_RESOLVED);
        TG_CHECK_EQ_INT(evs[1].value, D("-0.09"));
        TG_CHECK_EQ_STR(evs[1].id, evs[0].id);
        TG_CHECK_EQ_STR(evs[1].msg, "day change -9.00% ≥ -9.00%, resolved");
    }
    px("X", "80", 8); /* fires again */
    TG_CHECK_EQ_INT(nev, 3);
    /* a new session: day change restarts at 0, the alert resolves at once */
    tg_book_session_open(book, 9);
    TG_CHECK_EQ_INT(nev, 4);
    TG_CHECK_EQ_INT(evs[3].state, TG_ALERT_RESOLVED);
    TG_CHECK_EQ_INT(evs[3].value, 0);
    px("X", "75", 10); /* the open is 75 now */
    px("X", "68", 11); /* -9.33% */
    TG_CHECK_EQ_INT(nev, 4);
    px("X", "67.5", 12); /* -10% */
    TG_CHECK_EQ_INT(nev, 5);
    teardown();
}

TG_TEST(gain_target_and_config_override)
{
    setup("{\"portfolios\":[{\"id\":\"g\",\"owner\":\"u\","
          "\"holdings\":[{\"symbol\":\"Y\",\"quantity\":1,\"cost_basis\":100}],"
          "\"alerts\":{\"rebalance_drift\":null,\"loss_limit\":null}}]}"); /* gain 0.20 default */
    px("Y", "119.99", 1);
    TG_CHECK_EQ_INT(nev, 0);
    px("Y", "120", 2);
    px("Y", "125", 3);
    px("Y", "118.01", 4);
    TG_CHECK_EQ_INT(nev, 1);
    px("Y", "118", 5); /* 0.18 = 0.20 - 0.1 x 0.20 */
    TG_CHECK_EQ_INT(nev, 2);
    if (nev == 2) {
        TG_CHECK_EQ_INT(evs[0].rule, TG_ALERT_GAIN_TARGET);
        TG_CHECK_EQ_INT(evs[0].sev, TG_ALERT_SEV_LOW);
        TG_CHECK_EQ_STR(evs[0].msg, "P&L 20.00% ≥ 20.00%");
        TG_CHECK_EQ_STR(evs[1].msg, "P&L 18.00% ≤ 18.00%, resolved");
    }
    /* live override through a replace: the episode continues under new settings */
    px("Y", "121", 6);
    TG_CHECK_EQ_INT(nev, 3);
    tg_portfolio_spec_t s;
    char err[256];
    const char *body = "{\"owner\":\"u\",\"holdings\":[{\"symbol\":\"Y\",\"quantity\":1,\"cost_basis\":100}],"
                       "\"alerts\":{\"rebalance_drift\":null,\"loss_limit\":null,\"gain_target\":0.15}}";
    TG_CHECK_EQ_INT(tg_portfolio_parse_json(body, strlen(body), "g", NULL, &s, err, sizeof err), 0);
    TG_CHECK_EQ_INT(tg_book_put_portfolio(book, &s, 7, err, sizeof err), 0);
    TG_CHECK_EQ_INT(nev, 3); /* still firing, same episode */
    px("Y", "114", 8);       /* 0.14 > 0.135 */
    TG_CHECK_EQ_INT(nev, 3);
    px("Y", "113.5", 9);     /* 0.135 */
    TG_CHECK_EQ_INT(nev, 4);
    TG_CHECK_EQ_STR(evs[3].id, evs[2].id);
    TG_CHECK_EQ_INT(evs[3].threshold, D("0.15"));
    /* turning the rule off resolves a firing alert */
    px("Y", "200", 10);
    TG_CHECK_EQ_INT(nev, 5);
    tg_portfolio_spec_free(&s);
    const char *off = "{\"owner\":\"u\",\"holdings\":[{\"symbol\":\"Y\",\"quantity\":1,\"cost_basis\":100}],"
                      "\"alerts\":{\"rebalance_drift\":null,\"loss_limit\":null,\"gain_target\":null}}";
    tg_portfolio_parse_json(off, strlen(off), "g", NULL, &s, err, sizeof err);
    tg_book_put_portfolio(book, &s, 11, err, sizeof err);
    TG_CHECK_EQ_INT(nev, 6);
    TG_CHECK_EQ_INT(evs[5].state, TG_ALERT_RESOLVED);
    TG_CHECK_EQ_STR(evs[5].id, evs[4].id);
    tg_portfolio_spec_free(&s);
    teardown();
}

TG_TEST(price_rules_see_every_tick)
{
    setup("{\"portfolios\":[{\"id\":\"p\",\"owner\":\"u\",\"holdings\":[{\"symbol\":\"Z\",\"quantity\":1}],"
          "\"alerts\":{\"rebalance_drift\":null,\"loss_limit\":null,\"gain_target\":null,"
          "\"price_above\":{\"Z\":\"150\"},\"price_below\":{\"Z\":\"100\"}}}]}");
    uint32_t z = (uint32_t)tg_symtab_find(&syms, "Z", 1);
    const char *seq[] = {"149.99", "150", "151", "149.86", "149.85", "150", "100", "100.09", "100.1"};
    for (int i = 0; i < 9; i++)
        /* price alerts only: as under conflation, where valuation skips ticks */
        tg_book_on_price_alerts(book, z, D(seq[i]), i + 1);
    TG_CHECK_EQ_INT(nev, 6);
    if (nev == 6) {
        TG_CHECK_EQ_INT(evs[0].rule, TG_ALERT_PRICE_ABOVE);
        TG_CHECK_EQ_INT(evs[0].state, TG_ALERT_FIRING);
        TG_CHECK_EQ_INT(evs[0].ts, 2);
        TG_CHECK_EQ_STR(evs[0].sym, "Z");
        TG_CHECK_EQ_STR(evs[0].msg, "Z 150 ≥ 150");
        TG_CHECK_EQ_INT(evs[1].state, TG_ALERT_RESOLVED);
        TG_CHECK_EQ_INT(evs[1].ts, 5);
        TG_CHECK_EQ_STR(evs[1].id, evs[0].id);
        TG_CHECK_EQ_STR(evs[1].msg, "Z 149.85 ≤ 149.85, resolved");
        TG_CHECK_EQ_INT(evs[2].state, TG_ALERT_FIRING);
        TG_CHECK(strcmp(evs[2].id, evs[0].id) != 0);
        TG_CHECK_EQ_INT(evs[3].rule, TG_ALERT_PRICE_ABOVE);
        TG_CHECK_EQ_INT(evs[3].state, TG_ALERT_RESOLVED);
        TG_CHECK_EQ_INT(evs[4].rule, TG_ALERT_PRICE_BELOW);
        TG_CHECK_EQ_INT(evs[4].state, TG_ALERT_FIRING);
        TG_CHECK_EQ_INT(evs[4].value, D("100"));
        TG_CHECK_EQ_INT(evs[5].rule, TG_ALERT_PRICE_BELOW);
        TG_CHECK_EQ_INT(evs[5].state, TG_ALERT_RESOLVED);
        TG_CHECK_EQ_INT(evs[5].ts, 9);
        TG_CHECK_EQ_STR(evs[5].msg, "Z 100.1 ≥ 100.1, resolved");
        TG_CHECK_EQ_INT(evs[5].sev, TG_ALERT_SEV_MEDIUM);
    }
    /* valuation alone never evaluates price rules */
    tg_book_on_price(book, z, D("500"), 10);
    TG_CHECK_EQ_INT(nev, 6);
    teardown();
}

TG_TEST(relative_drift_band)
{
    /* targets 0.2 / 0.8; absolute band 0.5 (out of reach); relative 0.25:
     * A fires at |drift| >= 0.05 (25% of 0.2), resolves at <= 0.045 */
    setup("{\"portfolios\":[{\"id\":\"r\",\"owner\":\"u\",\"holdings\":["
          "{\"symbol\":\"A\",\"quantity\":1,\"cost_basis\":200,\"target_weight\":0.2},"
          "{\"symbol\":\"B\",\"quantity\":1,\"cost_basis\":800,\"target_weight\":0.8}],"
          "\"alerts\":{\"rebalance_drift\":0.5,\"drift_relative\":0.25,\"loss_limit\":null,\"gain_target\":null}}]}");
    px("A", "200", 1); /* B has no quote yet: no rule runs on its placeholder */
    TG_CHECK_EQ_INT(nev, 0);
    px("B", "600", 1); /* wA = 200/800 = 0.25: drift 0.05 = 25% of target */
    TG_CHECK_EQ_INT(nev, 1);
    px("A", "196", 2); /* 196/796 = 0.2462: between */
    TG_CHECK_EQ_INT(nev, 1);
    px("A", "194", 3); /* 194/794 = 0.24433: |d| 0.04433 <= 0.045 */
    TG_CHECK_EQ_INT(nev, 2);
    px("A", "100", 4); /* 100/700: drift -0.05714 = 28.57% of target */
    TG_CHECK_EQ_INT(nev, 3);
    if (nev == 3) {
        TG_CHECK_EQ_STR(evs[0].sym, "A");
        TG_CHECK_EQ_INT(evs[0].value, D("0.25"));
        TG_CHECK_EQ_INT(evs[0].threshold, D("0.25"));
        TG_CHECK_EQ_STR(evs[0].msg, "A drift 25.00% of target ≥ 25.00%");
        TG_CHECK_EQ_INT(evs[1].state, TG_ALERT_RESOLVED);
        TG_CHECK_EQ_STR(evs[1].id, evs[0].id);
        TG_CHECK_EQ_STR(evs[2].msg, "A drift 28.57% of target ≥ 25.00%");
    }
    teardown();
}

TG_TEST(restore_firing_alert_after_restart)
{
    setup("{\"portfolios\":[{\"id\":\"d\",\"owner\":\"u\",\"cash\":819,"
          "\"holdings\":[{\"symbol\":\"A\",\"quantity\":1,\"cost_basis\":819,\"target_weight\":0.5}],"
          "\"alerts\":{\"loss_limit\":null,\"gain_target\":null,\"price_above\":{\"A\":2000}}}]}");
    TG_CHECK_EQ_INT(tg_book_restore_alert(book, "d", TG_ALERT_REBALANCE_DRIFT, "", "a-0000000000000abc"), 0);
    TG_CHECK_EQ_INT(tg_book_restore_alert(book, "d", TG_ALERT_PRICE_ABOVE, "A", "a-0000000000000def"), 0);
    TG_CHECK_EQ_INT(tg_book_restore_alert(book, "nope", TG_ALERT_LOSS_LIMIT, "", "a-1"), -ENOENT);
    TG_CHECK_EQ_INT(tg_book_restore_alert(book, "d", TG_ALERT_PRICE_BELOW, "A", "a-1"), -ENOENT);
    px("A", "1001", 1); /* beyond: already firing, no duplicate */
    TG_CHECK_EQ_INT(nev, 1); /* only price_above resolves (1001 <= 1998) */
    TG_CHECK_EQ_STR(evs[0].id, "a-0000000000000def");
    px("A", "819", 2);
    TG_CHECK_EQ_INT(nev, 2);
    TG_CHECK_EQ_STR(evs[1].id, "a-0000000000000abc");
    TG_CHECK_EQ_INT(evs[1].state, TG_ALERT_RESOLVED);
    teardown();
}

TG_TEST(ids_and_levels)
{
    tg_alert_ids_t g1, g2;
    char a[TG_ALERT_ID_LEN + 1], b[TG_ALERT_ID_LEN + 1];
    tg_alert_ids_init(&g1, 1);
    tg_alert_ids_init(&g2, 2);
    tg_alert_ids_next(&g1, a);
    tg_alert_ids_next(&g2, b);
    TG_CHECK(strcmp(a, b) != 0);
    tg_dec_t lvl;
    TG_CHECK_EQ_INT(tg_alert_resolve_level(TG_ALERT_REBALANCE_DRIFT, D("0.05"), D("0.1"), &lvl), 0);
    TG_CHECK_EQ_INT(lvl, D("0.045"));
    TG_CHECK_EQ_INT(tg_alert_resolve_level(TG_ALERT_LOSS_LIMIT, D("-0.1"), D("0.1"), &lvl), 0);
    TG_CHECK_EQ_INT(lvl, D("-0.09"));
    TG_CHECK_EQ_INT(tg_alert_resolve_level(TG_ALERT_PRICE_ABOVE, D("150"), D("0.001"), &lvl), 0);
    TG_CHECK_EQ_INT(lvl, D("149.85"));
    TG_CHECK_EQ_INT(tg_alert_resolve_level(TG_ALERT_PRICE_BELOW, D("300"), D("0.001"), &lvl), 0);
    TG_CHECK_EQ_INT(lvl, D("300.3"));
    tg_alert_rule_t r;
    TG_CHECK_EQ_INT(tg_alert_rule_parse("gain_target", &r), 0);
    TG_CHECK_EQ_INT(r, TG_ALERT_GAIN_TARGET);
    TG_CHECK_EQ_INT(tg_alert_rule_parse("nope", &r), -EINVAL);
    TG_CHECK_EQ_STR(tg_alert_severity_name(tg_alert_rule_severity(TG_ALERT_BREAKER_OPEN)), "high");
    TG_CHECK_EQ_STR(tg_alert_rule_name(TG_ALERT_FEED_STALE), "feed_stale");
}

int main(void)
{
    return tg_test_run();
}
