/* test_readers.c - each user's notifications seq numbered by the engine
 * (readers.c): per user 1, 2, 3, ... whatever the interleaving, across table
 * growth, and an ACL (NUL-separated users) numbered in its order. */
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h"
#include "tg_test.h"

TG_TEST(per_user_sequences)
{
    tg__readers_t r = {0};
    TG_CHECK_EQ_INT(tg__readers_next(&r, "alice"), 1);
    TG_CHECK_EQ_INT(tg__readers_next(&r, "bob"), 1);
    TG_CHECK_EQ_INT(tg__readers_next(&r, "alice"), 2);
    TG_CHECK_EQ_INT(tg__readers_next(&r, "alice"), 3);
    TG_CHECK_EQ_INT(tg__readers_next(&r, "bob"), 2);
    /* many users: the table grows, every count survives */
    char name[32];
    for (int round = 1; round <= 3; round++)
        for (int u = 0; u < 1000; u++) {
            snprintf(name, sizeof name, "user-%d", u);
            TG_CHECK_EQ_INT(tg__readers_next(&r, name), round);
        }
    TG_CHECK_EQ_INT(tg__readers_next(&r, "alice"), 4);
    TG_CHECK_EQ_INT(r.count, 1002);
    tg__readers_free(&r);
}

TG_TEST(acl_numbered_in_order)
{
    tg__readers_t r = {0};
    const char acl[] = "owner\0friend\0";
    uint64_t out[4];
    TG_CHECK_EQ_INT(tg__readers_number(&r, acl, sizeof acl - 1, out, 4), 2);
    TG_CHECK(out[0] == 1 && out[1] == 1);
    TG_CHECK_EQ_INT(tg__readers_next(&r, "friend"), 2); /* another alert only friend reads */
    TG_CHECK_EQ_INT(tg__readers_number(&r, acl, sizeof acl - 1, out, 4), 2);
    TG_CHECK(out[0] == 2 && out[1] == 3);
    /* at most cap readers numbered */
    TG_CHECK_EQ_INT(tg__readers_number(&r, acl, sizeof acl - 1, out, 1), 1);
    TG_CHECK(out[0] == 3);
    TG_CHECK_EQ_INT(tg__readers_number(&r, "", 0, out, 4), 0);
    tg__readers_free(&r);
}

int main(void)
{
    return tg_test_run();
}
