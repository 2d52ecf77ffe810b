/* test_book_risk.c - the SPEC §13 risk rules in the book: concentration,
 * volatility and move firing, staying and resolving at exact values (worked
 * out with Python fractions), one id per episode, no evaluation of the value
 * rules while a portfolio is unpriced, resolution on removal, restore. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tg_test.h"
#include "tickgate/book.h"
#include "tickgate/risk.h"

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

static void put_json(const char *id, const char *json, int64_t ts)
{
    tg_portfolio_spec_t spec;
    char err[256] = "";
    TG_CHECK_EQ_INT(tg_portfolio_parse_json(json, strlen(json), id, NULL, &spec, err, sizeof err),
                    0);
    TG_CHECK_EQ_INT(tg_book_put_portfolio(book, &spec, ts, err, sizeof err), 0);
    tg_portfolio_spec_free(&spec);
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
    put_json("p-m", put, 81 * SEC);
    TG_CHECK_EQ_INT(nev, 3);
    TG_CHECK_EQ_INT(tg_book_remove_portfolio(book, "p-m", 82 * SEC), 0);
    TG_CHECK_EQ_INT(nev, 4);
    TG_CHECK_EQ_INT(evs[3].state, TG_ALERT_RESOLVED);
    TG_CHECK_EQ_STR(evs[3].id, evs[2].id);
    teardown();
}

/* A PUT (or reload) of the only portfolio watching a window keeps the window's
 * history when the new spec watches the same symbol over the same length: a
 * move under way before the edit still fires. Another length starts afresh. */
TG_TEST(move_window_history_survives_a_replacement)
{
    setup("{\"portfolios\":[{\"id\":\"p-m\",\"owner\":\"u\",\"holdings\":[],\"alerts\":{" OFF
          ",\"move\":{\"BBB\":{\"pct\":0.05,\"window_s\":60}}}}]}");
    px("BBB", "100", 0);
    px("BBB", "104", 10 * SEC); /* +4 % */
    TG_CHECK_EQ_INT(nev, 0);
    /* same watch, other threshold (still 5 %) and a holding: the window stays */
    put_json("p-m",
             "{\"owner\":\"u\",\"holdings\":[{\"symbol\":\"AAA\",\"quantity\":\"1\","
             "\"cost_basis\":\"1\",\"target_weight\":\"0\"}],\"alerts\":{" OFF
             ",\"move\":{\"BBB\":{\"pct\":0.05,\"window_s\":60}}}}",
             11 * SEC);
    TG_CHECK_EQ_INT(nev, 0);
    px("BBB", "105", 20 * SEC); /* +5 % over the window's min, 100 (before the PUT) */
    TG_CHECK_EQ_INT(nev, 1);
    TG_CHECK_EQ_INT(evs[0].state, TG_ALERT_FIRING);
    TG_CHECK_EQ_INT(evs[0].value, 5000000);
    /* a 30 s window is a new one: its history starts with the next tick */
    put_json("p-m",
             "{\"owner\":\"u\",\"holdings\":[],\"alerts\":{" OFF
             ",\"move\":{\"BBB\":{\"pct\":0.05,\"window_s\":30}}}}",
             21 * SEC);
    TG_CHECK_EQ_INT(nev, 1);    /* the symbol's episode carries over to the new watch */
    px("BBB", "106", 22 * SEC); /* 0 % (106 alone), not +6 % over 100: resolves */
    TG_CHECK_EQ_INT(nev, 2);
    TG_CHECK_EQ_INT(evs[1].state, TG_ALERT_RESOLVED);
    TG_CHECK_EQ_INT(evs[1].value, 0);
    px("BBB", "99", 23 * SEC); /* -6.60377358 % from 106 */
    TG_CHECK_EQ_INT(nev, 3);
    TG_CHECK_EQ_INT(evs[2].state, TG_ALERT_FIRING);
    TG_CHECK_EQ_INT(evs[2].value, -6603774);
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

/* ---- review (issue 16): move watches churned while ticks are held back ---- */

typedef struct rev_ev {
    int tick; /* index of the tick that caused it; -1 outside a tick */
    tg_alert_state_t state;
    tg_dec_t value, threshold;
    char id[TG_ALERT_ID_LEN + 1];
    char pf[16];
} rev_ev_t;

typedef struct rev_log {
    int n;
    rev_ev_t e[MAX_EVS];
} rev_log_t;

static int rev_tick = -1;

static void rev_on_event(void *ud, const tg_book_event_t *e)
{
    rev_log_t *l = ud;
    if (e->type != TG_BOOK_EV_ALERT || e->alert->rule != TG_ALERT_MOVE || l->n >= MAX_EVS)
        return;
    rev_ev_t *o = &l->e[l->n++];
    o->tick = rev_tick;
    o->state = e->alert->state;
    o->value = e->alert->value;
    o->threshold = e->alert->threshold;
    strcpy(o->id, e->alert->alert_id);
    snprintf(o->pf, sizeof o->pf, "%s", e->alert->portfolio_id ? e->alert->portfolio_id : "");
}

typedef struct rev_book {
    tg_symtab_t syms;
    tg_book_t *b;
    rev_log_t log;
} rev_book_t;

#define REV_P12                                                                                    \
    "{\"id\":\"p-1\",\"owner\":\"u\",\"holdings\":[],\"alerts\":{" OFF ","                         \
    "\"move\":{\"BBB\":{\"pct\":0.004,\"window_s\":60}}}},"                                        \
    "{\"id\":\"p-2\",\"owner\":\"u\",\"holdings\":[],\"alerts\":{" OFF ","                         \
    "\"move\":{\"BBB\":{\"pct\":0.002,\"window_s\":10},\"CCC\":{\"pct\":0.002,\"window_s\":10}}}}"

static void rev_open(rev_book_t *rb, const char *json)
{
    char err[256] = "";
    memset(&rb->log, 0, sizeof rb->log);
    tg_symtab_init(&rb->syms, 0);
    tg_book_options_t o = {
        .symtab = &rb->syms, .on_event = rev_on_event, .ud = &rb->log, .alert_seed = 7};
    TG_CHECK_EQ_INT(tg_book_create(&o, &rb->b), 0);
    int rc = tg_book_load_json(rb->b, json, strlen(json), NULL, 0, err, sizeof err);
    if (rc)
        fprintf(stderr, "load: %s\n", err);
    TG_CHECK_EQ_INT(rc, 0);
}

static void rev_close(rev_book_t *rb)
{
    tg_book_destroy(rb->b);
    tg_symtab_free(&rb->syms);
}

/* p-3's watch of BBB: window 10, 30 or 60 s (30: its own window, kept by a
 * put or reload that keeps 30 s, else started afresh), or absent. */
static void rev_p3_json(char *out, size_t cap, int win, const char *pct)
{
    snprintf(out, cap,
             "{\"owner\":\"u\",\"holdings\":[],\"alerts\":{" OFF ","
             "\"move\":{\"BBB\":{\"pct\":%s,\"window_s\":%d}}}}",
             pct, win);
}

static void rev_put_p3(rev_book_t *rb, int win, const char *pct, int64_t ts)
{
    char j[512], err[256];
    rev_p3_json(j, sizeof j, win, pct);
    tg_portfolio_spec_t spec;
    TG_CHECK_EQ_INT(tg_portfolio_parse_json(j, strlen(j), "p-3", NULL, &spec, err, sizeof err), 0);
    TG_CHECK_EQ_INT(tg_book_put_portfolio(rb->b, &spec, ts, err, sizeof err), 0);
    tg_portfolio_spec_free(&spec);
}

/* SIGHUP: the whole file again, p-1 and p-2 unchanged, p-3 as given. */
static void rev_reload(rev_book_t *rb, int win, const char *pct)
{
    char j[2048], err[256] = "";
    if (win)
        snprintf(j, sizeof j,
                 "{\"portfolios\":[" REV_P12 ",{\"id\":\"p-3\",\"owner\":\"u\",\"holdings\":[],"
                 "\"alerts\":{" OFF ",\"move\":{\"BBB\":{\"pct\":%s,\"window_s\":%d}}}}]}",
                 pct, win);
    else
        snprintf(j, sizeof j, "{\"portfolios\":[" REV_P12 "]}");
    TG_CHECK_EQ_INT(tg_book_load_json(rb->b, j, strlen(j), NULL, 0, err, sizeof err), 0);
}

enum { REV_N = 12000 };
static int64_t rev_ts[REV_N];
static tg_dec_t rev_px[REV_N];
static uint8_t rev_sym[REV_N];          /* 0: BBB, 1: CCC */
static int rev_op[REV_N];               /* p-3 before the tick: 0 none, else op code */
static bool rev_reloads;                /* op 6: reload the whole file (SIGHUP), else a PUT */

static void rev_make_stream(void)
{
    uint64_t r = 0x243f6a8885a308d3ULL;
#define REV_RND() (r = r * 6364136223846793005ULL + 1442695040888963407ULL, r >> 33)
    int64_t t = 1700000000LL * SEC;
    long cents[2] = {10000, 5000};
    for (int i = 0; i < REV_N;) {
        int kind = (int)(REV_RND() % 6), len = 1 + (int)(REV_RND() % 40);
        int burst = (int)(REV_RND() % 2) ? TG_RISK_MOVE_PEND : TG_RISK_MOVE_PEND + 1;
        for (int j = 0; j < len && i < REV_N; j++, i++) {
            if (kind == 0) /* bursts of exactly PEND (PEND + 1) ticks at one ts */
                t += j % burst == 0 ? SEC / 3 : 0;
            else if (kind == 1) /* a feed gap or rollover longer than every window */
                t += j == 0 ? 100 * SEC : SEC / 10;
            else if (kind == 2) /* back in time: taken at the window's last ts */
                t -= j == 0 ? 30 * SEC : 0;
            else if (kind == 3) /* exactly the short window apart */
                t += 10 * SEC;
            else
                t += (int64_t)(REV_RND() % (2 * SEC));
            int s = (int)(REV_RND() % 5 == 0);
            long step = (long)(REV_RND() % 41) - 20;
            if (kind == 4)
                step = 0; /* plateau: ties for the min and max */
            if (REV_RND() % 60 == 0)
                step *= 10;
            cents[s] += step;
            if (cents[s] < 1000)
                cents[s] = 1000;
            rev_ts[i] = t;
            rev_px[i] = (tg_dec_t)cents[s] * (TG_DEC_SCALE / 100);
            rev_sym[i] = (uint8_t)s;
            rev_op[i] = REV_RND() % 97 == 0 ? 1 + (int)(REV_RND() % 8) : 0;
        }
    }
#undef REV_RND
}

/* mode 0: tg_book_on_tick (settles every due window); 1: the alerts and the
 * price without tg_book_on_tick_done (the next push flushes). churn: p-3. */
static void rev_run(rev_book_t *rb, int mode, bool churn, int *p3_win, int *p3_start)
{
    uint32_t bbb = (uint32_t)tg_symtab_find(&rb->syms, "BBB", 3);
    uint32_t ccc = (uint32_t)tg_symtab_find(&rb->syms, "CCC", 3);
    static const int wins[] = {10, 30, 60};
    int win = churn ? 30 : 0;
    for (int i = 0; i < REV_N; i++) {
        if (churn && rev_op[i]) {
            int op = rev_op[i], nw = wins[op % 3];
            if (op == 6) /* reloads vary the length too (op % 3 alone would fix it at 10 s) */
                nw = wins[i % 3];
            const char *pct = op % 2 ? "0.003" : "0.01";
            rev_tick = -1;
            if (op == 7) {
                tg_book_remove_portfolio(rb->b, "p-3", rev_ts[i]);
                nw = 0;
            } else if (op == 6 && rev_reloads) {
                /* a reload puts p-1 and p-2 again: their windows keep their
                 * history (the new spec watches the same symbol and length) */
                rev_reload(rb, nw, pct);
            } else {
                rev_put_p3(rb, nw, pct, rev_ts[i]);
            }
            /* p-3's 30 s window is its alone: put again with 30 s it keeps its
             * history; after another length or a removal it starts afresh */
            if (p3_win) {
                p3_start[i] = nw == 30 && win == 30 ? (i ? p3_start[i - 1] : 0) : i;
                p3_win[i] = nw;
            }
            win = nw;
        } else if (p3_win) {
            p3_win[i] = win;
            p3_start[i] = i ? p3_start[i - 1] : 0;
        }
        rev_tick = i;
        uint32_t sym = rev_sym[i] ? ccc : bbb;
        if (mode == 0) {
            tg_book_on_tick(rb->b, sym, rev_px[i], rev_ts[i]);
        } else {
            tg_book_on_price_alerts(rb->b, sym, rev_px[i], rev_ts[i]);
            tg_book_on_price(rb->b, sym, rev_px[i], rev_ts[i]);
        }
        rev_tick = -1;
    }
}

/* The value of the move of tick i of `sym` over a window of w seconds whose
 * history begins at tick `from` (times taken at the window's last ts). */
static tg_dec_t rev_brute(int i, int from, int w)
{
    int64_t last = INT64_MIN, tsn[REV_N];
    for (int j = from; j <= i; j++) {
        if (rev_sym[j] != rev_sym[i])
            continue;
        last = rev_ts[j] > last ? rev_ts[j] : last;
        tsn[j] = last;
    }
    tg_dec_t lo = rev_px[i], hi = rev_px[i];
    for (int j = i; j >= from; j--) {
        if (rev_sym[j] != rev_sym[i])
            continue;
        if (tsn[j] < last - (int64_t)w * SEC)
            break;
        lo = rev_px[j] < lo ? rev_px[j] : lo;
        hi = rev_px[j] > hi ? rev_px[j] : hi;
    }
    return tg_risk_move_value(rev_px[i], lo, hi);
}

static int rev_ev_cmp(const void *pa, const void *pb)
{
    const rev_ev_t *x = pa, *y = pb;
    if (x->tick != y->tick)
        return x->tick < y->tick ? -1 : 1;
    int r = strcmp(x->pf, y->pf);
    if (r)
        return r;
    if (x->state != y->state)
        return x->state < y->state ? -1 : 1;
    return x->value < y->value ? -1 : x->value > y->value;
}

/*
 * p-1 (BBB 60 s) and p-2 (BBB and CCC 10 s) stay; p-3 is put with other
 * windows, reloaded (SIGHUP), removed and added again between ticks, so
 * windows are created, shared, freed and moved in the symbol's array while
 * ticks are held back. Ticks come in bursts of exactly the buffer's size at
 * one ts, after gaps longer than every window, back in time and exactly the
 * short window apart. Checked: (1) the events with tg_book_on_tick equal
 * those without the deferred flush, ids included; (2) p-1's and p-2's events
 * equal those of a book without p-3; (3) every event of a tick carries the
 * move against the window's min/max by brute force.
 */
static void rev_churn(bool reloads)
{
    rev_reloads = reloads;
    static const char *init =
        "{\"portfolios\":[" REV_P12 ",{\"id\":\"p-3\",\"owner\":\"u\",\"holdings\":[],"
        "\"alerts\":{" OFF ",\"move\":{\"BBB\":{\"pct\":0.003,\"window_s\":30}}}}]}";
    static rev_book_t a, b, c;
    static int p3_win[REV_N], p3_start[REV_N];
    rev_make_stream();
    rev_open(&a, init);
    rev_open(&b, init);
    rev_open(&c, "{\"portfolios\":[" REV_P12 "]}");
    rev_run(&a, 0, true, p3_win, p3_start);
    rev_run(&b, 1, true, NULL, NULL);
    rev_run(&c, 0, false, NULL, NULL);
    /* (1) */
    TG_CHECK_EQ_INT(a.log.n, b.log.n);
    int bad1 = 0;
    for (int k = 0; k < a.log.n && k < b.log.n; k++)
        bad1 += a.log.e[k].tick != b.log.e[k].tick || a.log.e[k].state != b.log.e[k].state ||
                a.log.e[k].value != b.log.e[k].value || strcmp(a.log.e[k].id, b.log.e[k].id) ||
                strcmp(a.log.e[k].pf, b.log.e[k].pf);
    TG_CHECK_EQ_INT(bad1, 0);
    /* (2) p-1's and p-2's events equal those of a book without p-3, reloads
     * included (a reload puts p-1 and p-2 again: their windows and episodes
     * carry over). Within one tick the order across portfolios is free (a put
     * reorders the symbol's watches), so both sides are sorted by (tick, pf). */
    {
        static rev_ev_t x[MAX_EVS];
        int nx = 0, bad2 = 0;
        for (int k = 0; k < a.log.n; k++)
            if (strcmp(a.log.e[k].pf, "p-3"))
                x[nx++] = a.log.e[k];
        qsort(x, (size_t)nx, sizeof *x, rev_ev_cmp);
        qsort(c.log.e, (size_t)c.log.n, sizeof *c.log.e, rev_ev_cmp);
        TG_CHECK_EQ_INT(nx, c.log.n);
        for (int k = 0; k < nx && k < c.log.n; k++) {
            int d = x[k].tick != c.log.e[k].tick || x[k].state != c.log.e[k].state ||
                    x[k].value != c.log.e[k].value || strcmp(x[k].pf, c.log.e[k].pf);
            if (d && bad2 < 5)
                fprintf(stderr,
                        "(2) event %d: churn %s tick %d state %d value %lld; "
                        "alone %s tick %d state %d value %lld\n",
                        k, x[k].pf, x[k].tick, (int)x[k].state, (long long)x[k].value,
                        c.log.e[k].pf, c.log.e[k].tick, (int)c.log.e[k].state,
                        (long long)c.log.e[k].value);
            bad2 += d;
        }
        TG_CHECK_EQ_INT(bad2, 0);
        TG_CHECK(nx > 40); /* the walk fires and resolves often */
    }
    /* (3) */
    int bad3 = 0, n3 = 0, fresh = 0;
    for (int k = 0; k < a.log.n; k++) {
        const rev_ev_t *e = &a.log.e[k];
        if (e->tick < 0)
            continue;
        /* p-1's (60 s) and p-2's (10 s) windows keep their history from the
         * first tick on (reloads included); p-3 reads one of them, or its own
         * 30 s window, whose history begins at the put that created it */
        int w, from = 0;
        if (!strcmp(e->pf, "p-1")) {
            w = 60;
        } else if (!strcmp(e->pf, "p-2")) {
            w = 10;
        } else {
            w = p3_win[e->tick];
            if (w == 30) {
                from = p3_start[e->tick];
                fresh++;
            }
        }
        tg_dec_t want = rev_brute(e->tick, from, w);
        if (e->value != want) {
            if (bad3 < 5)
                fprintf(stderr, "event %d (%s, tick %d, state %d): value %lld, brute force %lld\n",
                        k, e->pf, e->tick, (int)e->state, (long long)e->value, (long long)want);
            bad3++;
        }
        n3++;
    }
    TG_CHECK_EQ_INT(bad3, 0);
    TG_CHECK(n3 > 40);
    TG_CHECK(fresh > 0);
    rev_close(&a);
    rev_close(&b);
    rev_close(&c);
}

TG_TEST(review_move_watch_churn_while_ticks_held_back)
{
    rev_churn(false);
}

/* The same with SIGHUP reloads among the changes (p-1 and p-2 put again). */
TG_TEST(review_move_watch_churn_with_reloads_while_ticks_held_back)
{
    rev_churn(true);
}

/* Restart: the firing move episodes restored (day state) before the first
 * tick, then the same stream; with and without the deferred flush the events
 * are equal (the restored ids resolve or stay the same way), and every
 * tick's value is the brute-force one (the windows begin at the restart). */
TG_TEST(review_move_restored_episodes_then_held_back_ticks)
{
    static rev_book_t a, b;
    rev_make_stream();
    rev_open(&a, "{\"portfolios\":[" REV_P12 "]}");
    rev_open(&b, "{\"portfolios\":[" REV_P12 "]}");
    rev_book_t *bk[2] = {&a, &b};
    for (int i = 0; i < 2; i++) {
        TG_CHECK_EQ_INT(tg_book_restore_alert(bk[i]->b, "p-1", TG_ALERT_MOVE, "BBB", "r-1"), 0);
        TG_CHECK_EQ_INT(tg_book_restore_alert(bk[i]->b, "p-2", TG_ALERT_MOVE, "CCC", "r-2"), 0);
    }
    rev_run(&a, 0, false, NULL, NULL);
    rev_run(&b, 1, false, NULL, NULL);
    TG_CHECK_EQ_INT(a.log.n, b.log.n);
    int bad = 0, restored = 0;
    for (int k = 0; k < a.log.n && k < b.log.n; k++) {
        const rev_ev_t *e = &a.log.e[k];
        bad += e->tick != b.log.e[k].tick || e->state != b.log.e[k].state ||
               e->value != b.log.e[k].value || strcmp(e->id, b.log.e[k].id) ||
               strcmp(e->pf, b.log.e[k].pf);
        restored += !strcmp(e->id, "r-1") || !strcmp(e->id, "r-2");
        if (e->tick >= 0)
            bad += e->value != rev_brute(e->tick, 0, !strcmp(e->pf, "p-1") ? 60 : 10);
    }
    TG_CHECK_EQ_INT(bad, 0);
    TG_CHECK_EQ_INT(restored, 2); /* each restored episode resolves once, with its id */
    TG_CHECK(a.log.n > 40);
    rev_close(&a);
    rev_close(&b);
}

int main(void)
{
    return tg_test_run();
}
