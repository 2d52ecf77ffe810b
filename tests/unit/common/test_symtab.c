/* test_symtab.c - symbol table: dense ids, lookups, limits, growth. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tg_test.h"
#include "tickgate/symtab.h"

TG_TEST(dense_ids_and_lookup)
{
    tg_symtab_t t;
    TG_CHECK_EQ_INT(tg_symtab_init(&t, 0), 0);
    TG_CHECK_EQ_INT(tg_symtab_intern(&t, "AAPL", 4), 0);
    TG_CHECK_EQ_INT(tg_symtab_intern(&t, "MSFT", 4), 1);
    TG_CHECK_EQ_INT(tg_symtab_intern(&t, "AAPL", 4), 0);
    TG_CHECK_EQ_INT(tg_symtab_count(&t), 2);
    TG_CHECK_EQ_INT(tg_symtab_find(&t, "MSFT", 4), 1);
    TG_CHECK_EQ_INT(tg_symtab_find(&t, "MSF", 3), -ENOENT);
    TG_CHECK_EQ_INT(tg_symtab_find(&t, "MSFTX", 4), 1); /* len-bounded, no NUL needed */
    TG_CHECK_EQ_STR(tg_symtab_name(&t, 0), "AAPL");
    TG_CHECK(tg_symtab_name(&t, 2) == NULL);
    tg_symtab_free(&t);
    tg_symtab_free(NULL);
}

TG_TEST(rejects_bad_names)
{
    tg_symtab_t t;
    TG_CHECK_EQ_INT(tg_symtab_init(&t, 0), 0);
    TG_CHECK_EQ_INT(tg_symtab_intern(&t, "", 0), -EINVAL);
    TG_CHECK_EQ_INT(tg_symtab_intern(&t, "A\0B", 3), -EINVAL);
    char longname[40];
    memset(longname, 'X', sizeof longname);
    TG_CHECK_EQ_INT(tg_symtab_intern(&t, longname, TG_SYMBOL_MAX + 1), -EINVAL);
    TG_CHECK_EQ_INT(tg_symtab_intern(&t, longname, TG_SYMBOL_MAX), 0);
    TG_CHECK_EQ_INT(tg_symtab_find(&t, longname, TG_SYMBOL_MAX), 0);
    TG_CHECK_EQ_INT((int)strlen(tg_symtab_name(&t, 0)), TG_SYMBOL_MAX);
    tg_symtab_free(&t);
}

TG_TEST(max_symbols_limit)
{
    tg_symtab_t t;
    TG_CHECK_EQ_INT(tg_symtab_init(&t, 2), 0);
    TG_CHECK_EQ_INT(tg_symtab_intern(&t, "A", 1), 0);
    TG_CHECK_EQ_INT(tg_symtab_intern(&t, "B", 1), 1);
    TG_CHECK_EQ_INT(tg_symtab_intern(&t, "C", 1), -ENOSPC);
    TG_CHECK_EQ_INT(tg_symtab_intern(&t, "B", 1), 1); /* existing names still resolve */
    tg_symtab_free(&t);
}

TG_TEST(growth_keeps_every_id)
{
    tg_symtab_t t;
    char name[32];
    const int n = 100000;
    TG_CHECK_EQ_INT(tg_symtab_init(&t, 0), 0);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        int len = snprintf(name, sizeof name, "S%d", i * 7919);
        if (tg_symtab_intern(&t, name, (size_t)len) != i)
            bad++;
    }
    TG_CHECK_EQ_INT(bad, 0);
    TG_CHECK_EQ_INT(tg_symtab_count(&t), n);
    for (int i = 0; i < n; i++) {
        int len = snprintf(name, sizeof name, "S%d", i * 7919);
        if (tg_symtab_find(&t, name, (size_t)len) != i || strcmp(tg_symtab_name(&t, (uint32_t)i), name))
            bad++;
        len = snprintf(name, sizeof name, "T%d", i);
        if (tg_symtab_find(&t, name, (size_t)len) != -ENOENT)
            bad++;
    }
    TG_CHECK_EQ_INT(bad, 0);
    /* load factor stays <= 1/2 */
    TG_CHECK(t._mask + 1 >= 2u * t.n);
    tg_symtab_free(&t);
}

int main(void)
{
    return tg_test_run();
}
