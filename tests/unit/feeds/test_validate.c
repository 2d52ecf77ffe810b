/* test_validate.c - tick validation: every reject reason, duplicate rules for
 * monotonic and id-only sequences, the jump filter and its new-level rule. */
#include <errno.h>
#include <string.h>

#include "tg_test.h"
#include "tickgate/validate.h"

#define NOW 1763800000000000000LL

static tg_tick_t trade(const char *sym, tg_dec_t price, tg_dec_t size, uint64_t seq)
{
    tg_tick_t t;
    memset(&t, 0, sizeof t);
    t.ts = NOW;
    t.flags = TG_TICK_TRADE;
    t.price = price;
    t.size = size;
    t.src_seq = seq;
    t.sym_len = (uint8_t)strlen(sym);
    memcpy(t.symbol, sym, t.sym_len);
    return t;
}

static tg_tick_t quote(const char *sym, tg_dec_t bid, tg_dec_t ask, uint64_t seq)
{
    tg_tick_t t = trade(sym, 0, 0, seq);
    t.flags = TG_TICK_QUOTE;
    t.bid = bid;
    t.ask = ask;
    return t;
}

static tg_reject_t check(tg_validator_t *v, tg_tick_t t)
{
    return tg_validate_tick(v, &t, NOW);
}

TG_TEST(names)
{
    TG_CHECK_EQ_STR(tg_reject_name(TG_REJECT_BAD_PRICE), "bad_price");
    TG_CHECK_EQ_STR(tg_reject_name(TG_REJECT_BAD_SIZE), "bad_size");
    TG_CHECK_EQ_STR(tg_reject_name(TG_REJECT_BAD_SYMBOL), "bad_symbol");
    TG_CHECK_EQ_STR(tg_reject_name(TG_REJECT_NOT_IN_UNIVERSE), "not_in_universe");
    TG_CHECK_EQ_STR(tg_reject_name(TG_REJECT_FUTURE_TS), "future_ts");
    TG_CHECK_EQ_STR(tg_reject_name(TG_REJECT_JUMP), "jump");
    TG_CHECK_EQ_STR(tg_reject_name(TG_REJECT_PARSE_ERROR), "parse_error");
    TG_CHECK_EQ_STR(tg_reject_name(TG_REJECT_DUPLICATE), "duplicate");
    TG_CHECK_EQ_STR(tg_reject_name(TG_REJECT_NONE), "accepted");
    TG_CHECK_EQ_STR(tg_reject_name(TG_REJECT__COUNT), "?");
}

TG_TEST(basic_rejections)
{
    tg_validator_t v;
    tg_validate_conf_t c = {0};
    TG_CHECK_EQ_INT(tg_validator_init(&v, &c), 0);
    TG_CHECK_EQ_INT(check(&v, trade("AAPL", TG_DEC(189), TG_DEC(1), 0)), TG_REJECT_NONE);
    TG_CHECK_EQ_INT(check(&v, trade("AAPL", 0, TG_DEC(1), 0)), TG_REJECT_BAD_PRICE);
    TG_CHECK_EQ_INT(check(&v, trade("AAPL", -1, TG_DEC(1), 0)), TG_REJECT_BAD_PRICE);
    TG_CHECK_EQ_INT(check(&v, trade("AAPL", 1, -1, 0)), TG_REJECT_BAD_SIZE);
    TG_CHECK_EQ_INT(check(&v, trade("AAPL", 1, 0, 0)), TG_REJECT_NONE); /* size 0 is fine */
    TG_CHECK_EQ_INT(check(&v, quote("AAPL", TG_DEC(1), TG_DEC(2), 0)), TG_REJECT_NONE);
    TG_CHECK_EQ_INT(check(&v, quote("AAPL", TG_DEC(1), 0, 0)), TG_REJECT_NONE); /* one side */
    TG_CHECK_EQ_INT(check(&v, quote("AAPL", 0, 0, 0)), TG_REJECT_BAD_PRICE);
    TG_CHECK_EQ_INT(check(&v, quote("AAPL", -1, TG_DEC(2), 0)), TG_REJECT_BAD_PRICE);
    tg_tick_t t = trade("AAPL", 1, 1, 0);
    t.flags = 0;
    TG_CHECK_EQ_INT(check(&v, t), TG_REJECT_BAD_PRICE);

    TG_CHECK_EQ_INT(check(&v, trade("", 1, 1, 0)), TG_REJECT_BAD_SYMBOL);
    t = trade("AAPL", 1, 1, 0);
    t.sym_len = 40;
    TG_CHECK_EQ_INT(check(&v, t), TG_REJECT_BAD_SYMBOL);
    t = trade("AAPL", 1, 1, 0);
    t.sym_len = 3; /* disagrees with the NUL */
    TG_CHECK_EQ_INT(check(&v, t), TG_REJECT_BAD_SYMBOL);
    t = trade("ABCDEFGHIJKLMNOPQRSTUVWXYZ01234", 1, 1, 0); /* 31 bytes: the maximum */
    TG_CHECK_EQ_INT(check(&v, t), TG_REJECT_NONE);

    t = trade("AAPL", 1, 1, 0);
    t.src_ts = NOW + TG_VALIDATE_FUTURE_NS;
    TG_CHECK_EQ_INT(check(&v, t), TG_REJECT_NONE);
    t.src_ts = NOW + TG_VALIDATE_FUTURE_NS + 1;
    TG_CHECK_EQ_INT(check(&v, t), TG_REJECT_FUTURE_TS);
    t = trade("AAPL", 1, 1, 0);
    t.ts = NOW + 6000000000LL;
    TG_CHECK_EQ_INT(check(&v, t), TG_REJECT_FUTURE_TS);
    tg_validator_free(&v);
    tg_validator_free(NULL);
    TG_CHECK_EQ_INT(tg_validator_init(&v, NULL), -EINVAL);
}

TG_TEST(universe)
{
    char *names[] = {"AAPL", "MSFT"};
    tg_strlist_t u = {names, 2};
    tg_validate_conf_t c = {.universe = &u};
    tg_validator_t v;
    TG_CHECK_EQ_INT(tg_validator_init(&v, &c), 0);
    TG_CHECK_EQ_INT(check(&v, trade("AAPL", 1, 1, 0)), TG_REJECT_NONE);
    TG_CHECK_EQ_INT(check(&v, trade("MSFT", 1, 1, 0)), TG_REJECT_NONE);
    TG_CHECK_EQ_INT(check(&v, trade("GOOG", 1, 1, 0)), TG_REJECT_NOT_IN_UNIVERSE);
    TG_CHECK_EQ_INT(check(&v, trade("AAP", 1, 1, 0)), TG_REJECT_NOT_IN_UNIVERSE);
    tg_validator_free(&v);
    tg_strlist_t empty = {NULL, 0};
    c.universe = &empty;
    TG_CHECK_EQ_INT(tg_validator_init(&v, &c), 0);
    TG_CHECK_EQ_INT(check(&v, trade("GOOG", 1, 1, 0)), TG_REJECT_NONE);
    tg_validator_free(&v);
}

TG_TEST(duplicates_monotonic)
{
    tg_validate_conf_t c = {.seq_monotonic = true};
    tg_validator_t v;
    tg_validator_init(&v, &c);
    TG_CHECK_EQ_INT(check(&v, trade("A", 1, 1, 10)), TG_REJECT_NONE);
    TG_CHECK_EQ_INT(check(&v, trade("A", 1, 1, 10)), TG_REJECT_DUPLICATE);
    TG_CHECK_EQ_INT(check(&v, trade("A", 1, 1, 9)), TG_REJECT_DUPLICATE);
    TG_CHECK_EQ_INT(check(&v, trade("A", 1, 1, 12)), TG_REJECT_NONE); /* gaps are fine */
    TG_CHECK_EQ_INT(check(&v, trade("B", 1, 1, 10)), TG_REJECT_NONE); /* per symbol */
    /* quotes have their own numbering */
    TG_CHECK_EQ_INT(check(&v, quote("A", 1, 2, 5)), TG_REJECT_NONE);
    TG_CHECK_EQ_INT(check(&v, quote("A", 1, 2, 5)), TG_REJECT_DUPLICATE);
    /* no sequence: never a duplicate */
    TG_CHECK_EQ_INT(check(&v, trade("A", 1, 1, 0)), TG_REJECT_NONE);
    TG_CHECK_EQ_INT(check(&v, trade("A", 1, 1, 0)), TG_REJECT_NONE);
    tg_validator_free(&v);

    c.seq_monotonic = false; /* ids: only an exact repeat is a duplicate */
    tg_validator_init(&v, &c);
    TG_CHECK_EQ_INT(check(&v, trade("A", 1, 1, 10)), TG_REJECT_NONE);
    TG_CHECK_EQ_INT(check(&v, trade("A", 1, 1, 10)), TG_REJECT_DUPLICATE);
    TG_CHECK_EQ_INT(check(&v, trade("A", 1, 1, 3)), TG_REJECT_NONE);
    TG_CHECK_EQ_INT(check(&v, trade("A", 1, 1, 10)), TG_REJECT_NONE);
    tg_validator_free(&v);
}

TG_TEST(jump_and_new_level)
{
    tg_validate_conf_t c = {.max_jump_pct = TG_DEC(10)}; /* 10 % */
    tg_validator_t v;
    tg_validator_init(&v, &c);
    TG_CHECK_EQ_INT(check(&v, trade("A", TG_DEC(100), 1, 0)), TG_REJECT_NONE);
    TG_CHECK_EQ_INT(check(&v, trade("A", TG_DEC(110), 1, 0)), TG_REJECT_NONE); /* exactly 10 % */
    TG_CHECK_EQ_INT(check(&v, trade("A", TG_DEC(121) + 1, 1, 0)), TG_REJECT_JUMP);
    TG_CHECK_EQ_INT(check(&v, trade("A", TG_DEC(99) - 1, 1, 0)), TG_REJECT_JUMP);
    TG_CHECK_EQ_INT(check(&v, trade("A", TG_DEC(99), 1, 0)), TG_REJECT_NONE); /* exactly -10 % */
    /* a lone spike, then back: rejected, and the level is unchanged */
    TG_CHECK_EQ_INT(check(&v, trade("A", TG_DEC(500), 1, 0)), TG_REJECT_JUMP);
    TG_CHECK_EQ_INT(check(&v, trade("A", TG_DEC(100), 1, 0)), TG_REJECT_NONE);
    /* three consecutive outliers within 1 % of each other: a new level */
    TG_CHECK_EQ_INT(check(&v, trade("A", TG_DEC(200), 1, 0)), TG_REJECT_JUMP);
    TG_CHECK_EQ_INT(check(&v, trade("A", TG_DEC(201), 1, 0)), TG_REJECT_JUMP);
    TG_CHECK_EQ_INT(check(&v, trade("A", TG_DEC(202), 1, 0)), TG_REJECT_NONE);
    TG_CHECK_EQ_INT(check(&v, trade("A", TG_DEC(203), 1, 0)), TG_REJECT_NONE); /* new base */
    /* outliers that disagree keep being rejected; the window slides */
    TG_CHECK_EQ_INT(check(&v, trade("A", TG_DEC(400), 1, 0)), TG_REJECT_JUMP);
    TG_CHECK_EQ_INT(check(&v, trade("A", TG_DEC(100), 1, 0)), TG_REJECT_JUMP);
    TG_CHECK_EQ_INT(check(&v, trade("A", TG_DEC(101), 1, 0)), TG_REJECT_JUMP);
    TG_CHECK_EQ_INT(check(&v, trade("A", TG_DEC(100) + TG_DEC(1) / 2, 1, 0)), TG_REJECT_NONE);
    /* an accepted price in between breaks the run */
    TG_CHECK_EQ_INT(check(&v, trade("A", TG_DEC(300), 1, 0)), TG_REJECT_JUMP);
    TG_CHECK_EQ_INT(check(&v, trade("A", TG_DEC(300), 1, 0)), TG_REJECT_JUMP);
    TG_CHECK_EQ_INT(check(&v, trade("A", TG_DEC(105), 1, 0)), TG_REJECT_NONE);
    TG_CHECK_EQ_INT(check(&v, trade("A", TG_DEC(300), 1, 0)), TG_REJECT_JUMP);
    /* quotes are not price-filtered; other symbols have their own level */
    TG_CHECK_EQ_INT(check(&v, quote("A", TG_DEC(900), TG_DEC(901), 0)), TG_REJECT_NONE);
    TG_CHECK_EQ_INT(check(&v, trade("B", TG_DEC(900), 1, 0)), TG_REJECT_NONE);
    tg_validator_free(&v);

    /* off */
    c.max_jump_pct = 0;
    tg_validator_init(&v, &c);
    TG_CHECK_EQ_INT(check(&v, trade("A", TG_DEC(1), 1, 0)), TG_REJECT_NONE);
    TG_CHECK_EQ_INT(check(&v, trade("A", TG_DEC(1000000), 1, 0)), TG_REJECT_NONE);
    tg_validator_free(&v);

    /* huge prices do not overflow the comparison */
    c.max_jump_pct = TG_DEC(1000000);
    tg_validator_init(&v, &c);
    TG_CHECK_EQ_INT(check(&v, trade("A", 1, 1, 0)), TG_REJECT_NONE);
    TG_CHECK_EQ_INT(check(&v, trade("A", TG_DEC_MAX, 1, 0)), TG_REJECT_JUMP);
    tg_validator_free(&v);
}

TG_TEST(symbol_state_bound)
{
    tg_validate_conf_t c = {.seq_monotonic = true, .max_symbols = 2};
    tg_validator_t v;
    tg_validator_init(&v, &c);
    TG_CHECK_EQ_INT(check(&v, trade("A", 1, 1, 5)), TG_REJECT_NONE);
    TG_CHECK_EQ_INT(check(&v, trade("B", 1, 1, 5)), TG_REJECT_NONE);
    /* a third symbol could never become a quote (the engine has the same
     * bound): refused as symbol_limit, after the stateless checks */
    TG_CHECK_EQ_INT(check(&v, trade("C", 1, 1, 5)), TG_REJECT_SYMBOL_LIMIT);
    TG_CHECK_EQ_INT(check(&v, trade("C", 1, 1, 6)), TG_REJECT_SYMBOL_LIMIT);
    TG_CHECK_EQ_INT(check(&v, trade("C", 0, 1, 5)), TG_REJECT_BAD_PRICE);
    TG_CHECK_EQ_INT(check(&v, trade("A", 1, 1, 5)), TG_REJECT_DUPLICATE);
    TG_CHECK_EQ_INT(check(&v, trade("B", 1, 1, 6)), TG_REJECT_NONE);
    TG_CHECK(strcmp(tg_reject_name(TG_REJECT_SYMBOL_LIMIT), "symbol_limit") == 0);
    TG_CHECK(strcmp(tg_reject_name(TG_REJECT_UNKNOWN_MESSAGE), "unknown_message") == 0);
    tg_validator_free(&v);
    /* many symbols: the state array grows */
    c.max_symbols = 0;
    tg_validator_init(&v, &c);
    char s[16];
    int bad = 0;
    for (int i = 0; i < 5000; i++) {
        snprintf(s, sizeof s, "S%d", i);
        bad += check(&v, trade(s, 1, 1, 7)) != TG_REJECT_NONE;
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(s, sizeof s, "S%d", i);
        bad += check(&v, trade(s, 1, 1, 7)) != TG_REJECT_DUPLICATE;
    }
    TG_CHECK_EQ_INT(bad, 0);
    tg_validator_free(&v);
}

int main(void)
{
    return tg_test_run();
}
