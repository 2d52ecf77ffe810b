/* test_portfolio_json.c - portfolio JSON parsing and validation: every error
 * names the portfolio and the field. */
#include <errno.h>
#include <string.h>

#include "tg_test.h"
#include "tickgate/embed.h"
#include "tickgate/portfolio.h"

static int parse(const char *json, char *err, size_t errlen)
{
    tg_portfolio_spec_t *v = NULL;
    size_t n = 0;
    err[0] = 0;
    int rc = tg_portfolios_parse_json(json, strlen(json), NULL, &v, &n, err, errlen);
    tg_portfolio_specs_free(v, n);
    return rc;
}

#define EXPECT_ERR(json, msg)                                                                      \
    do {                                                                                           \
        char e_[256];                                                                              \
        TG_CHECK_EQ_INT(parse(json, e_, sizeof e_), -EINVAL);                                      \
        TG_CHECK_EQ_STR(e_, msg);                                                                  \
    } while (0)

#define P(body) "{\"portfolios\":[{\"id\":\"p-1\",\"owner\":\"u-1\"" body "}]}"

TG_TEST(parses_spec_example)
{
    const char *json =
        "{\"portfolios\":[{\"id\":\"p-1\",\"owner\":\"u-1\",\"shared_with\":[\"u-2\"],"
        "\"cash\":\"1200.00\",\"holdings\":[{\"symbol\":\"AAPL\",\"quantity\":\"100\","
        "\"cost_basis\":\"15000.00\",\"target_weight\":\"0.08\"}],"
        "\"alerts\":{\"rebalance_drift\":0.05,\"loss_limit\":0.10,\"gain_target\":0.20,"
        "\"price_above\":{\"AAPL\":\"200\"},\"price_below\":{\"MSFT\":\"300\"}}}]}";
    tg_portfolio_spec_t *v = NULL;
    size_t n = 0;
    char err[256] = "";
    TG_CHECK_EQ_INT(tg_portfolios_parse_json(json, strlen(json), NULL, &v, &n, err, sizeof err), 0);
    TG_CHECK_EQ_STR(err, "");
    TG_CHECK_EQ_INT(n, 1);
    if (n != 1)
        return;
    TG_CHECK_EQ_STR(v[0].id, "p-1");
    TG_CHECK_EQ_STR(v[0].owner, "u-1");
    TG_CHECK_EQ_INT(v[0].n_shared_with, 1);
    TG_CHECK_EQ_STR(v[0].shared_with[0], "u-2");
    TG_CHECK_EQ_INT(v[0].cash, TG_DEC(1200));
    TG_CHECK_EQ_INT(v[0].n_holdings, 1);
    TG_CHECK_EQ_STR(v[0].holdings[0].symbol, "AAPL");
    TG_CHECK_EQ_INT(v[0].holdings[0].quantity, TG_DEC(100));
    TG_CHECK_EQ_INT(v[0].holdings[0].cost_basis, TG_DEC(15000));
    TG_CHECK_EQ_INT(v[0].holdings[0].target_weight, 8000000);
    TG_CHECK_EQ_INT(v[0].alerts.rebalance_drift, 5000000);
    TG_CHECK_EQ_INT(v[0].alerts.loss_limit, 10000000);
    TG_CHECK_EQ_INT(v[0].alerts.gain_target, 20000000);
    TG_CHECK_EQ_INT(v[0].alerts.hysteresis, 10000000);      /* default */
    TG_CHECK_EQ_INT(v[0].alerts.price_hysteresis, 100000);  /* default */
    TG_CHECK_EQ_INT(v[0].alerts.n_price_above, 1);
    TG_CHECK_EQ_STR(v[0].alerts.price_above[0].symbol, "AAPL");
    TG_CHECK_EQ_INT(v[0].alerts.price_above[0].level, TG_DEC(200));
    TG_CHECK_EQ_INT(v[0].alerts.n_price_below, 1);
    TG_CHECK_EQ_INT(v[0].alerts.price_below[0].level, TG_DEC(300));
    tg_portfolio_spec_t copy;
    TG_CHECK_EQ_INT(tg_portfolio_spec_copy(&copy, &v[0]), 0);
    TG_CHECK_EQ_STR(copy.alerts.price_below[0].symbol, "MSFT");
    tg_portfolio_spec_free(&copy);
    tg_portfolios_parse_json(NULL, 0, NULL, NULL, NULL, NULL, 0);
    tg_portfolio_specs_free(v, n);
}

TG_TEST(config_defaults_and_overrides)
{
    tg_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.alerts.rebalance_drift = 3000000;
    cfg.alerts.drift_relative = 25000000;
    cfg.alerts.loss_limit = 7000000;
    cfg.alerts.gain_target = 9000000;
    cfg.alerts.hysteresis = 20000000;
    cfg.alerts.price_hysteresis = 200000;
    const char *json = P(",\"alerts\":{\"loss_limit\":\"0.2\",\"gain_target\":null}");
    tg_portfolio_spec_t *v = NULL;
    size_t n = 0;
    char err[256] = "";
    TG_CHECK_EQ_INT(tg_portfolios_parse_json(json, strlen(json), &cfg, &v, &n, err, sizeof err), 0);
    if (n == 1) {
        TG_CHECK_EQ_INT(v[0].alerts.rebalance_drift, 3000000);
        TG_CHECK_EQ_INT(v[0].alerts.drift_relative, 25000000);
        TG_CHECK_EQ_INT(v[0].alerts.loss_limit, 20000000);
        TG_CHECK_EQ_INT(v[0].alerts.gain_target, 0); /* null = off */
        TG_CHECK_EQ_INT(v[0].alerts.hysteresis, 20000000);
        TG_CHECK_EQ_INT(v[0].alerts.price_hysteresis, 200000);
        TG_CHECK_EQ_INT(v[0].n_holdings, 0);
        TG_CHECK_EQ_INT(v[0].cash, 0);
    }
    tg_portfolio_specs_free(v, n);
}

TG_TEST(each_validation_error)
{
    EXPECT_ERR(P(",\"holdings\":[{\"symbol\":\"A\",\"quantity\":1},{\"symbol\":\"B\",\"quantity\":1},"
                 "{\"symbol\":\"C\",\"quantity\":1,\"target_weight\":\"-0.1\"}]"),
               "portfolio p-1: holdings[2].target_weight: negative");
    EXPECT_ERR(P(",\"holdings\":[{\"symbol\":\"A\",\"quantity\":1,\"target_weight\":\"0.6\"},"
                 "{\"symbol\":\"B\",\"quantity\":1,\"target_weight\":\"0.45\"}]"),
               "portfolio p-1: holdings: target weights sum to 1.05 (more than 1)");
    EXPECT_ERR(P(",\"holdings\":[{\"symbol\":\"A\",\"quantity\":1,\"target_weight\":\"1.5\"}]"),
               "portfolio p-1: holdings[0].target_weight: greater than 1");
    EXPECT_ERR(P(",\"holdings\":[{\"symbol\":\"AAPL\",\"quantity\":1},{\"symbol\":\"AAPL\",\"quantity\":2}]"),
               "portfolio p-1: holdings[1].symbol: duplicate \"AAPL\"");
    EXPECT_ERR(P(",\"colour\":\"red\""), "portfolio p-1: colour: unknown field");
    EXPECT_ERR(P(",\"holdings\":[{\"symbol\":\"A\",\"quantity\":1,\"price\":2}]"),
               "portfolio p-1: holdings[0].price: unknown field");
    EXPECT_ERR(P(",\"alerts\":{\"loss_limt\":0.1}"), "portfolio p-1: alerts.loss_limt: unknown field");
    EXPECT_ERR(P(",\"cash\":\"12.3.4\""), "portfolio p-1: cash: bad decimal");
    EXPECT_ERR(P(",\"cash\":\"0.123456789\""),
               "portfolio p-1: cash: bad decimal (more than 8 decimal places)");
    EXPECT_ERR(P(",\"cash\":\"1e20\""), "portfolio p-1: cash: bad decimal (out of range: at most +-92233720368.54775807)");
    EXPECT_ERR(P(",\"holdings\":[{\"symbol\":\"A\",\"quantity\":\"x\"}]"),
               "portfolio p-1: holdings[0].quantity: bad decimal");
    EXPECT_ERR(P(",\"holdings\":[{\"symbol\":\"A\"}]"), "portfolio p-1: holdings[0].quantity: missing");
    EXPECT_ERR(P(",\"holdings\":[{\"quantity\":1}]"), "portfolio p-1: holdings[0].symbol: missing");
    EXPECT_ERR(P(",\"holdings\":[{\"symbol\":\"THIS_SYMBOL_IS_WAY_TOO_LONG_FOR_US\",\"quantity\":1}]"),
               "portfolio p-1: holdings[0].symbol: longer than 31 bytes");
    EXPECT_ERR(P(",\"holdings\":[{\"symbol\":\"A B\",\"quantity\":1}]"),
               "portfolio p-1: holdings[0].symbol: invalid \"A B\"");
    EXPECT_ERR(P(",\"alerts\":{\"loss_limit\":-0.1}"), "portfolio p-1: alerts.loss_limit: negative");
    EXPECT_ERR(P(",\"alerts\":{\"hysteresis\":1.5}"), "portfolio p-1: alerts.hysteresis: more than 1");
    EXPECT_ERR(P(",\"alerts\":{\"price_above\":{\"AAPL\":\"abc\"}}"),
               "portfolio p-1: alerts.price_above.AAPL: bad decimal");
    EXPECT_ERR(P(",\"alerts\":{\"price_above\":{\"AAPL\":1,\"AAPL\":2}}"),
               "portfolio p-1: alerts.price_above.AAPL: duplicate symbol");
    EXPECT_ERR(P(",\"cash\":1,\"cash\":2"), "portfolio p-1: cash: duplicate field");
    EXPECT_ERR(P(",\"shared_with\":\"u-2\""), "portfolio p-1: shared_with: not an array");
    EXPECT_ERR(P(",\"holdings\":{}"), "portfolio p-1: holdings: not an array");
    EXPECT_ERR("{\"portfolios\":[{\"id\":\"p-1\",\"owner\":\"u\"},{\"id\":\"p-1\",\"owner\":\"v\"}]}",
               "portfolio p-1: id: duplicate (portfolios[0] and [1])");
    EXPECT_ERR("{\"portfolios\":[{\"owner\":\"u\"},{\"id\":\"p-2\"}]}", "portfolios[0]: id: missing");
    EXPECT_ERR("{\"portfolios\":[{\"id\":\"p-2\"}]}", "portfolio p-2: owner: missing");
    EXPECT_ERR("{\"portfolio\":[]}", "portfolios: portfolio: unknown field");
    EXPECT_ERR("{}", "portfolios: missing");
    EXPECT_ERR("{\"portfolios\":[", "portfolios: malformed JSON");
}

TG_TEST(put_body_uses_url_id)
{
    tg_portfolio_spec_t s;
    char err[256] = "";
    const char *body = "{\"owner\":\"u-1\",\"cash\":5,\"holdings\":[]}";
    TG_CHECK_EQ_INT(tg_portfolio_parse_json(body, strlen(body), "p-9", NULL, &s, err, sizeof err), 0);
    TG_CHECK_EQ_STR(s.id, "p-9");
    TG_CHECK_EQ_INT(s.cash, TG_DEC(5));
    tg_portfolio_spec_free(&s);
    const char *body2 = "{\"id\":\"p-8\",\"owner\":\"u-1\"}";
    TG_CHECK_EQ_INT(tg_portfolio_parse_json(body2, strlen(body2), "p-9", NULL, &s, err, sizeof err),
                    -EINVAL);
    TG_CHECK_EQ_STR(err, "portfolio p-9: id: \"p-8\" differs from the URL's \"p-9\"");
    const char *body3 = "{\"owner\":\"u-1\",\"holdings\":[{\"symbol\":\"A\",\"quantity\":1,\"target_weight\":-1}]}";
    TG_CHECK_EQ_INT(tg_portfolio_parse_json(body3, strlen(body3), "p-9", NULL, &s, err, sizeof err),
                    -EINVAL);
    TG_CHECK_EQ_STR(err, "portfolio p-9: holdings[0].target_weight: negative");
}

TG_TEST(bundled_demo_file_is_valid)
{
    /* the file embedded into the binary must always load */
    FILE *f = fopen(TG_SOURCE_DIR "/deploy/demo-portfolios.json", "rb");
    TG_CHECK(f != NULL);
    if (!f)
        return;
    static char buf[65536];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    tg_portfolio_spec_t *v = NULL;
    size_t n = 0;
    char err[256] = "";
    TG_CHECK_EQ_INT(tg_portfolios_parse_json(buf, len, NULL, &v, &n, err, sizeof err), 0);
    TG_CHECK_EQ_STR(err, "");
    TG_CHECK(n >= 3 && n <= 5);
    int demo = 0, shared = 0, foreign = 0;
    for (size_t i = 0; i < n; i++) {
        demo += strcmp(v[i].owner, "demo") == 0;
        foreign += strcmp(v[i].owner, "demo") != 0;
        shared += v[i].n_shared_with > 0;
    }
    TG_CHECK(demo >= 2);
    TG_CHECK(shared >= 1);
    TG_CHECK(foreign >= 1);
    tg_portfolio_specs_free(v, n);
}

int main(void)
{
    return tg_test_run();
}
