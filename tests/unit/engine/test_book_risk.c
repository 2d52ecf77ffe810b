/* test_book_risk.c - the SPEC §13 risk rules in the book: concentration,
 * volatility and move firing, staying and resolving at exact values (worked
 * out with Python fractions), one id per episode, no evaluation of the value
 * rules while a portfolio is unpriced, resolution on removal, restore. */
#include <errno.h>
#include <string.h>

#include "tg_test.h"
#include "tickgate/book.h"

typedef struct ev {
    tg_alert_rule_t rule;
    tg_alert_state_t state;
    char id[TG_ALERT_ID_LEN + 1];
    char sym[TG_SYMBOL_MAX + 1];
    tg_dec_t value, threshold;
    char msg[160];
    char pf[64];
} ev_t;

#define MAX_EVS 4096
static ev_t evs[MAX_EVS];
static int nev;

static void on_event(void *ud, const tg_book_event_t *e)
{
    (void)ud;
    if (e->type != TG_BOOK_EV_ALERT || nev >= MAX_EVS)
        return;
    ev_t *o = &evs[nev++];
    o->rule = e->alert->rule;
    o->state = e->alert->state;
    strcpy(o->id, e->alert->alert_id);
    strcpy(o->sym, e->alert->symbol);
    o->value = e->alert->value;
    o->threshold = e->alert->threshold;
    strcpy(o->msg, e->alert->message);
    snprintf(o->pf, sizeof o->pf, "%s", e->alert->portfolio_id ? e->alert->portfolio_id : "");
}

static tg_symtab_t syms;
static tg_book_t *book;

static void setup(const char *json)
{
    char err[256] = "";
    nev = 0;
    tg_symtab_init(&syms, 0);
    tg_book_options_t o = {.symtab = &syms, .on_event = on_event, .alert_seed = 7};
    TG_CHECK_EQ_INT(tg_book_create(&o, &book), 0);
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
    tg_dec_t p = 0;
    tg_dec_parse(price, strlen(price), &p);
    tg_book_on_tick(book, (uint32_t)tg_symtab_find(&syms, s, strlen(s)), p, ts);
}

#define OFF "\"rebalance_drift\":null,\"loss_limit\":null,\"gain_target\":null"
#define SEC 1000000000LL

TG_TEST(concentration_fires_stays_resolves)
{
    setup("{\"portfolios\":[{\"id\":\"p-c\",\"owner\":\"u\",\"cash\":\"0\",\"holdings\":["
          "{\"symbol\":\"AAA\",\"quantity\":\"1\",\"cost_basis\":\"100\",\"target_weight\":\"0\"},"
          "{\"symbol\":\"BBB\",\"quantity\":\"1\",\"cost_basis\":\"100\",\"target_weight\":\"0\"}],"
          "\"alerts\":{" OFF ",\"concentration\":0.6}}]}");
    /* unpriced: AAA at 1000 against BBB's cost basis would weigh 0.91 - no alert */
    px("AAA", "1000", 1);
    tg_book_risk_tick(book, 2);
    TG_CHECK_EQ_INT(nev, 0);
    px("AAA", "100", 3);
    px("BBB", "100", 4);
    tg_book_risk_tick(book, 5);
    TG_CHECK_EQ_INT(nev, 0); /* 0.5 */
    px("AAA", "150", 6);     /* 150 / 250 = 0.6 exactly: >= fires */
    TG_CHECK_EQ_INT(nev, 0); /* evaluated once a second, not per tick */
    tg_book_risk_tick(book, 7);
    TG_CHECK_EQ_INT(nev, 1);
    TG_CHECK_EQ_INT(evs[0].rule, TG_ALERT_CONCENTRATION);
    TG_CHECK_EQ_INT(evs[0].state, TG_ALERT_FIRING);
    TG_CHECK_EQ_INT(evs[0].value, 60000000);
    TG_CHECK_EQ_INT(evs[0].threshold, 60000000);
    TG_CHECK_EQ_STR(evs[0].sym, "AAA");
    TG_CHECK_EQ_STR(evs[0].msg, "AAA weight 60.00% \xe2\x89\xa5 60.00%");
    tg_book_risk_tick(book, 8); /* still beyond: no re-fire */
    px("AAA", "120", 9);        /* 120 / 220 = 0.54545455 > 0.54: stays */
    tg_book_risk_tick(book, 10);
    TG_CHECK_EQ_INT(nev, 1);
    px("AAA", "117", 11); /* 117 / 217 = 0.53917051 <= 0.54 (0.6 - 10 %): resolves */
    tg_book_risk_tick(book, 12);
    TG_CHECK_EQ_INT(nev, 2);
    TG_CHECK_EQ_INT(evs[1].state, TG_ALERT_RESOLVED);
    TG_CHECK_EQ_INT(evs[1].value, 53917051);
    TG_CHECK_EQ_STR(evs[1].id, evs[0].id);
    TG_CHECK_EQ_STR(evs[1].msg, "AAA weight 53.92% \xe2\x89\xa4 54.00%, resolved");
    /* BBB now dominates after a crash of AAA: a new episode, a new id */
    px("AAA", "10", 13); /* BBB: 100 / 110 = 0.90909091 */
    tg_book_risk_tick(book, 14);
    TG_CHECK_EQ_INT(nev, 3);
    TG_CHECK_EQ_STR(evs[2].sym, "BBB");
    TG_CHECK_EQ_INT(evs[2].value, 90909091);
    TG_CHECK(strcmp(evs[2].id, evs[0].id) != 0);
    /* removal resolves it */
    TG_CHECK_EQ_INT(tg_book_remove_portfolio(book, "p-c", 15), 0);
    TG_CHECK_EQ_INT(nev, 4);
    TG_CHECK_EQ_INT(evs[3].state, TG_ALERT_RESOLVED);
    TG_CHECK_EQ_STR(evs[3].id, evs[2].id);
    teardown();
}

/* The once-a-second sweep reads the position records symbol by symbol into
 * per-slot maxima: each portfolio gets its own largest holding, and a tie
 * names the first holding of the portfolio, whatever the symbol order. */
TG_TEST(concentration_sweep_keeps_portfolios_apart_and_ties_first)
{
    setup("{\"portfolios\":["
          "{\"id\":\"p-1\",\"owner\":\"u\",\"cash\":\"0\",\"holdings\":["
          "{\"symbol\":\"ZZZ\",\"quantity\":\"1\",\"cost_basis\":\"100\",\"target_weight\":\"0\"},"
          "{\"symbol\":\"AAA\",\"quantity\":\"9\",\"cost_basis\":\"900\",\"target_weight\":\"0\"}],"
          "\"alerts\":{" OFF ",\"concentration\":0.95}},"
          "{\"id\":\"p-2\",\"owner\":\"u\",\"cash\":\"0\",\"holdings\":["
          "{\"symbol\":\"AAA\",\"quantity\":\"1\",\"cost_basis\":\"100\",\"target_weight\":\"0\"},"
          "{\"symbol\":\"ZZZ\",\"quantity\":\"1\",\"cost_basis\":\"100\",\"target_weight\":\"0\"}],"
          "\"alerts\":{" OFF ",\"concentration\":0.5}}]}");
    px("AAA", "100", 1);
    px("ZZZ", "100", 2); /* p-1: AAA 0.9 < 0.95; p-2: 0.5 / 0.5 (tie) */
    tg_book_risk_tick(book, 3);
    TG_CHECK_EQ_INT(nev, 1);
    TG_CHECK_EQ_STR(evs[0].pf, "p-2");
    TG_CHECK_EQ_STR(evs[0].sym, "AAA"); /* its first holding, not the first symbol (ZZZ) */
    TG_CHECK_EQ_INT(evs[0].value, 50000000);
    px("ZZZ", "5", 4); /* p-1: AAA 900 / 905 = 0.99447514 fires; p-2: 100 / 105 stays */
    tg_book_risk_tick(book, 5);
    TG_CHECK_EQ_INT(nev, 2);
    TG_CHECK_EQ_STR(evs[1].pf, "p-1");
    TG_CHECK_EQ_STR(evs[1].sym, "AAA");
    TG_CHECK_EQ_INT(evs[1].value, 99447514);
    teardown();
}

TG_TEST(concentration_of_a_short_book_uses_absolute_weights)
{
    setup("{\"portfolios\":[{\"id\":\"p-s\",\"owner\":\"u\",\"cash\":\"0\",\"holdings\":["
          "{\"symbol\":\"AAA\",\"quantity\":\"2\",\"cost_basis\":\"200\",\"target_weight\":\"0\"},"
          "{\"symbol\":\"BBB\",\"quantity\":\"-3\",\"cost_basis\":\"-300\",\"target_weight\":\"0\"}],"
          "\"alerts\":{" OFF ",\"concentration\":2.5}}]}");
    px("AAA", "100", 1);
    px("BBB", "20", 2); /* V = 200 - 60 = 140: |w| 1.42857143 and 0.42857143 */
    tg_book_risk_tick(book, 3);
    TG_CHECK_EQ_INT(nev, 0);
    px("BBB", "45", 4); /* V = 200 - 135 = 65: |w(AAA)| = 3.07692308 */
    tg_book_risk_tick(book, 5);
    TG_CHECK_EQ_INT(nev, 1);
    TG_CHECK_EQ_STR(evs[0].sym, "AAA");
    TG_CHECK_EQ_INT(evs[0].value, 307692308);
    teardown();
}

TG_TEST(volatility_needs_30_samples_fires_and_resolves)
{
    setup("{\"portfolios\":[{\"id\":\"p-v\",\"owner\":\"u\",\"cash\":\"0\",\"holdings\":["
          "{\"symbol\":\"AAA\",\"quantity\":\"1\",\"cost_basis\":\"100\",\"target_weight\":\"0\"}],"
          "\"alerts\":{" OFF ",\"volatility\":0.05,\"volatility_window_s\":30}}]}");
    /* one sample a second, alternating 100 / 101: returns +0.01 and -0.00990099 */
    for (int i = 0; i < 30; i++) {
        px("AAA", i % 2 ? "101" : "100", i * SEC);
        tg_book_risk_tick(book, i * SEC);
    }
    TG_CHECK_EQ_INT(nev, 0); /* 29 returns: not evaluated yet */
    px("AAA", "100", 30 * SEC);
    tg_book_risk_tick(book, 30 * SEC);
    TG_CHECK_EQ_INT(nev, 1); /* 30 returns: sqrt(Q/n) = 0.05450110 >= 0.05 */
    TG_CHECK_EQ_INT(evs[0].rule, TG_ALERT_VOLATILITY);
    TG_CHECK_EQ_INT(evs[0].value, 5450110);
    TG_CHECK_EQ_STR(evs[0].msg, "volatility 5.45% \xe2\x89\xa5 5.00%");
    /* flat: the swings leave the window one by one; 9 more still read > 0.045 */
    for (int k = 1; k <= 9; k++)
        tg_book_risk_tick(book, (30 + k) * SEC);
    TG_CHECK_EQ_INT(nev, 1);
    tg_book_risk_tick(book, 40 * SEC); /* 0.04450015 <= 0.045: resolved */
    TG_CHECK_EQ_INT(nev, 2);
    TG_CHECK_EQ_INT(evs[1].state, TG_ALERT_RESOLVED);
    TG_CHECK_EQ_INT(evs[1].value, 4450015);
    TG_CHECK_EQ_STR(evs[1].id, evs[0].id);
    teardown();
}

TG_TEST(volatility_restarts_while_unpriced)
{
    setup("{\"portfolios\":[{\"id\":\"p-v\",\"owner\":\"u\",\"cash\":\"0\",\"holdings\":["
          "{\"symbol\":\"AAA\",\"quantity\":\"1\",\"cost_basis\":\"100\",\"target_weight\":\"0\"},"
          "{\"symbol\":\"BBB\",\"quantity\":\"1\",\"cost_basis\":\"100\",\"target_weight\":\"0\"}],"
          "\"alerts\":{" OFF ",\"volatility\":0.05,\"volatility_window_s\":30}}]}");
    /* BBB never quoted: wild swings of AAA against a placeholder never count */
    for (int i = 0; i < 80; i++) {
        px("AAA", i % 2 ? "300" : "100", i * SEC);
        tg_book_risk_tick(book, i * SEC);
    }
    TG_CHECK_EQ_INT(nev, 0);
    teardown();
}

TG_TEST(move_fires_against_window_min_and_max)
{
    setup("{\"portfolios\":[{\"id\":\"p-m\",\"owner\":\"u\",\"cash\":\"0\",\"holdings\":["
          "{\"symbol\":\"AAA\",\"quantity\":\"1\",\"cost_basis\":\"100\",\"target_weight\":\"0\"}],"
          "\"alerts\":{" OFF ",\"move\":{\"BBB\":{\"pct\":0.02,\"window_s\":60}}}}]}");
    px("BBB", "100", 0);
    px("BBB", "101", 10 * SEC);
    TG_CHECK_EQ_INT(nev, 0);
    px("BBB", "102", 20 * SEC); /* +2 % over the window's min: fires at once (per tick) */
    TG_CHECK_EQ_INT(nev, 1);
    TG_CHECK_EQ_INT(evs[0].rule, TG_ALERT_MOVE);
    TG_CHECK_EQ_INT(evs[0].value, 2000000);
    TG_CHECK_EQ_INT(evs[0].threshold, 2000000);
    TG_CHECK_EQ_STR(evs[0].sym, "BBB");
    TG_CHECK_EQ_STR(evs[0].msg, "BBB moved +2.00% in 60 s, |move| \xe2\x89\xa5 2.00%");
    px("BBB", "101.9", 30 * SEC); /* +1.9 % > 1.8 %: stays */
    TG_CHECK_EQ_INT(nev, 1);
    px("BBB", "102", 70 * SEC); /* window [10, 70]: min 101, +0.99 % <= 1.8 %: resolves */
    TG_CHECK_EQ_INT(nev, 2);
    TG_CHECK_EQ_INT(evs[1].state, TG_ALERT_RESOLVED);
    TG_CHECK_EQ_INT(evs[1].value, 990099);
    TG_CHECK_EQ_STR(evs[1].id, evs[0].id);
    px("BBB", "99", 80 * SEC); /* max 102: -2.94117647 %, a fall fires too */
    TG_CHECK_EQ_INT(nev, 3);
    TG_CHECK_EQ_INT(evs[2].value, -2941176);
    TG_CHECK(strcmp(evs[2].id, evs[0].id) != 0);
    TG_CHECK_EQ_STR(evs[2].msg, "BBB moved -2.94% in 60 s, |move| \xe2\x89\xa5 2.00%");
    /* a replacement keeping the watch keeps the episode; removal resolves it */
    const char *put = "{\"owner\":\"u\",\"cash\":\"0\",\"holdings\":[{\"symbol\":\"AAA\","
                      "\"quantity\":\"2\",\"cost_basis\":\"100\",\"target_weight\":\"0\"}],"
                      "\"alerts\":{" OFF ",\"move\":{\"BBB\":{\"pct\":0.02,\"window_s\":60}}}}";
    tg_portfolio_spec_t spec;
    char err[256];
    TG_CHECK_EQ_INT(tg_portfolio_parse_json(put, strlen(put), "p-m", NULL, &spec, err, sizeof err),
                    0);
    TG_CHECK_EQ_INT(tg_book_put_portfolio(book, &spec, 81 * SEC, err, sizeof err), 0);
    tg_portfolio_spec_free(&spec);
    TG_CHECK_EQ_INT(nev, 3);
    TG_CHECK_EQ_INT(tg_book_remove_portfolio(book, "p-m", 82 * SEC), 0);
    TG_CHECK_EQ_INT(nev, 4);
    TG_CHECK_EQ_INT(evs[3].state, TG_ALERT_RESOLVED);
    TG_CHECK_EQ_STR(evs[3].id, evs[2].id);
    teardown();
}

TG_TEST(move_windows_shared_between_portfolios)
{
    /* three watches of BBB over two window lengths: one deque pair per length */
    setup("{\"portfolios\":["
          "{\"id\":\"p-1\",\"owner\":\"u\",\"holdings\":[],\"alerts\":{" OFF ","
          "\"move\":{\"BBB\":{\"pct\":0.02,\"window_s\":60}}}},"
          "{\"id\":\"p-2\",\"owner\":\"u\",\"holdings\":[],\"alerts\":{" OFF ","
          "\"move\":{\"BBB\":{\"pct\":0.02,\"window_s\":10}}}},"
          "{\"id\":\"p-3\",\"owner\":\"u\",\"holdings\":[],\"alerts\":{" OFF ","
          "\"move\":{\"BBB\":{\"pct\":0.01,\"window_s\":60}}}}]}");
    px("BBB", "100", 0);
    px("BBB", "101", 20 * SEC); /* +1 %: p-3 (1 %) fires; the 10 s window sees only 101 */
    TG_CHECK_EQ_INT(nev, 1);
    TG_CHECK_EQ_INT(evs[0].value, 1000000);
    px("BBB", "102", 21 * SEC); /* +2 % over 60 s: p-1 fires; over 10 s only +0.99 % */
    TG_CHECK_EQ_INT(nev, 2);
    TG_CHECK_EQ_INT(evs[1].value, 2000000);
    /* removing p-1 and p-3 frees the 60 s window; p-2's 10 s window goes on */
    TG_CHECK_EQ_INT(tg_book_remove_portfolio(book, "p-1", 22 * SEC), 0);
    TG_CHECK_EQ_INT(tg_book_remove_portfolio(book, "p-3", 22 * SEC), 0);
    TG_CHECK_EQ_INT(nev, 4); /* both resolved by the removal */
    px("BBB", "104.1", 25 * SEC); /* 10 s window [15, 25]: min 101 -> +3.07 % */
    TG_CHECK_EQ_INT(nev, 5);
    TG_CHECK_EQ_INT(evs[4].value, 3069307);
    TG_CHECK_EQ_INT(evs[4].state, TG_ALERT_FIRING);
    teardown();
}

/* A random walk of BBB's price with jumps: the same ticks for every book. */
static void walk(int n)
{
    uint64_t r = 0x9e3779b97f4a7c15ULL;
    long cents = 10000;
    for (int i = 0; i < n; i++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        long step = (long)((r >> 33) % 61) - 30;
        if ((r >> 20) % 50 == 0)
            step *= 8; /* a jump now and then */
        cents += step;
        if (cents < 1000)
            cents = 1000;
        char p[32];
        snprintf(p, sizeof p, "%ld.%02ld", cents / 100, cents % 100);
        px("BBB", p, (int64_t)i * SEC / 2);
    }
}

TG_TEST(move_watches_sharing_windows_equal_each_alone)
{
    /* Differential check of the per-window skip (book_risk.c): eight watches
     * of BBB with mixed thresholds over two shared windows must give, per
     * portfolio, exactly the events each watch gives alone in its own book,
     * where the window's summary is that one watch. */
    static const char *pct[] = {"0.005", "0.01", "0.02", "0.03"};
    char one[8][256], all[2300] = "{\"portfolios\":[";
    for (int i = 0; i < 8; i++) {
        snprintf(one[i], sizeof one[i],
                 "{\"id\":\"p-%d\",\"owner\":\"u\",\"holdings\":[],\"alerts\":{" OFF ","
                 "\"move\":{\"BBB\":{\"pct\":%s,\"window_s\":%d}}}}",
                 i, pct[i % 4], i < 4 ? 10 : 60);
        strcat(all, one[i]);
        strcat(all, i < 7 ? "," : "]}");
    }
    setup(all);
    walk(3000);
    static ev_t joint[MAX_EVS];
    int nj = nev;
    TG_CHECK(nj > 40 && nj < MAX_EVS); /* the walk fires and resolves often */
    memcpy(joint, evs, sizeof evs[0] * (size_t)nj);
    teardown();
    for (int i = 0; i < 8; i++) {
        char alone[300];
        snprintf(alone, sizeof alone, "{\"portfolios\":[%s]}", one[i]);
        setup(alone);
        walk(3000);
        char id[16];
        snprintf(id, sizeof id, "p-%d", i);
        int k = 0, matched = 0;
        for (int j = 0; j < nj; j++) {
            if (strcmp(joint[j].pf, id) != 0)
                continue;
            TG_CHECK(k < nev);
            if (k >= nev)
                break;
            TG_CHECK_EQ_INT(joint[j].state, evs[k].state);
            TG_CHECK_EQ_INT(joint[j].value, evs[k].value);
            TG_CHECK_EQ_INT(joint[j].threshold, evs[k].threshold);
            k++;
            matched++;
        }
        TG_CHECK_EQ_INT(matched, nev);
        TG_CHECK(nev > 0);
        teardown();
    }
}

TG_TEST(restore_and_settings_errors)
{
    setup("{\"portfolios\":[{\"id\":\"p-r\",\"owner\":\"u\",\"cash\":\"0\",\"holdings\":["
          "{\"symbol\":\"AAA\",\"quantity\":\"1\",\"cost_basis\":\"100\",\"target_weight\":\"0\"}],"
          "\"alerts\":{" OFF ",\"concentration\":0.5,"
          "\"move\":{\"AAA\":{\"pct\":0.05,\"window_s\":10}}}}]}");
    TG_CHECK_EQ_INT(tg_book_restore_alert(book, "p-r", TG_ALERT_CONCENTRATION, "", "a-00000000000000c1"),
                    0);
    TG_CHECK_EQ_INT(tg_book_restore_alert(book, "p-r", TG_ALERT_MOVE, "AAA", "a-00000000000000c2"), 0);
    TG_CHECK_EQ_INT(tg_book_restore_alert(book, "p-r", TG_ALERT_MOVE, "ZZZ", "a-00000000000000c3"),
                    -ENOENT);
    TG_CHECK_EQ_INT(tg_book_restore_alert(book, "p-r", TG_ALERT_VOLATILITY, "", "a-00000000000000c4"),
                    -ENOENT); /* not on for this portfolio */
    px("AAA", "100", 1); /* no move: the restored move episode resolves with its id */
    TG_CHECK_EQ_INT(nev, 1);
    TG_CHECK_EQ_INT(evs[0].rule, TG_ALERT_MOVE);
    TG_CHECK_EQ_INT(evs[0].state, TG_ALERT_RESOLVED);
    TG_CHECK_EQ_STR(evs[0].id, "a-00000000000000c2");
    tg_book_risk_tick(book, 2); /* weight 1 >= 0.5: already firing, no second firing */
    TG_CHECK_EQ_INT(nev, 1);
    teardown();

    const char *bad[] = {
        "\"move\":{\"AAA\":{\"pct\":0,\"window_s\":10}}",
        "\"move\":{\"AAA\":{\"pct\":0.1}}",
        "\"move\":{\"AAA\":{\"pct\":0.1,\"window_s\":0}}",
        "\"move\":{\"AAA\":{\"pct\":0.1,\"window_s\":86401}}",
        "\"move\":{\"AAA\":{\"pct\":0.1,\"window_s\":10,\"x\":1}}",
        "\"move\":{\"AAA\":1}",
        "\"move\":[1]",
        "\"concentration\":-0.1",
        "\"volatility\":0.05,\"volatility_window_s\":29",
        "\"volatility_window_s\":1.5",
        NULL};
    for (int i = 0; bad[i]; i++) {
        char json[512], err[256] = "";
        snprintf(json, sizeof json,
                 "{\"portfolios\":[{\"id\":\"p\",\"owner\":\"u\",\"holdings\":[],\"alerts\":{%s}}]}",
                 bad[i]);
        tg_portfolio_spec_t *v = NULL;
        size_t n = 0;
        int rc = tg_portfolios_parse_json(json, strlen(json), NULL, &v, &n, err, sizeof err);
        if (rc != -EINVAL)
            fprintf(stderr, "accepted: %s\n", bad[i]);
        TG_CHECK_EQ_INT(rc, -EINVAL);
        TG_CHECK(strstr(err, "alerts.") != NULL);
        tg_portfolio_specs_free(v, n);
    }
}

int main(void)
{
    return tg_test_run();
}
