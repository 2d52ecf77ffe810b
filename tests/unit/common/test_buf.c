/* test_buf.c - the growable byte buffer and array growth (buf.h). */
#include "tickgate/buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg_test.h"

TG_TEST(append_and_terminate)
{
    tg_buf_t b = {0};
    tg_buf_puts(&b, "abc");
    tg_buf_putc(&b, '-');
    tg_buf_put(&b, "x\0y", 3);
    TG_CHECK_EQ_INT(b.len, 7);
    TG_CHECK(!b.err);
    TG_CHECK(memcmp(b.p, "abc-x\0y", 8) == 0); /* the NUL after y too */
    tg_buf_reset(&b);
    TG_CHECK_EQ_INT(b.len, 0);
    TG_CHECK_EQ_STR(b.p, "");
    tg_buf_put(&b, "", 0);
    TG_CHECK_EQ_STR(b.p, "");
    tg_buf_free(&b);
    TG_CHECK(b.p == NULL && b.len == 0 && b.cap == 0);
    tg_buf_free(NULL);
}

TG_TEST(grows_across_many_doublings)
{
    tg_buf_t b = {0};
    for (int i = 0; i < 100000; i++)
        tg_buf_putc(&b, (char)('a' + i % 26));
    TG_CHECK_EQ_INT(b.len, 100000);
    TG_CHECK(b.cap > b.len);
    int bad = 0;
    for (int i = 0; i < 100000; i++)
        bad += b.p[i] != (char)('a' + i % 26);
    TG_CHECK_EQ_INT(bad, 0);
    TG_CHECK_EQ_INT(b.p[100000], 0);
    tg_buf_free(&b);
}

TG_TEST(printf_exact_at_the_boundary)
{
    tg_buf_t b = {0};
    tg_buf_printf(&b, "%d:%s", 42, "x");
    TG_CHECK_EQ_STR(b.p, "42:x");
    /* a string that ends exactly at the capacity and one just past it */
    char big[TG_BUF_MIN * 3];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = 0;
    tg_buf_reset(&b);
    tg_buf_printf(&b, "%s", big);
    TG_CHECK_EQ_INT(b.len, sizeof big - 1);
    TG_CHECK_EQ_STR(b.p, big);
    size_t cap = b.cap;
    tg_buf_reset(&b);
    char fit[1024];
    size_t n = cap - 1 < sizeof fit - 1 ? cap - 1 : sizeof fit - 1;
    memset(fit, 'z', n);
    fit[n] = 0;
    tg_buf_printf(&b, "%s", fit);
    TG_CHECK_EQ_INT(b.len, n);
    TG_CHECK_EQ_STR(b.p, fit);
    tg_buf_free(&b);
}

TG_TEST(error_is_sticky)
{
    tg_buf_t b = {0};
    tg_buf_puts(&b, "ok");
    TG_CHECK(!tg_buf_reserve(&b, SIZE_MAX - 1)); /* would overflow len + more + 1 */
    TG_CHECK(b.err);
    tg_buf_puts(&b, "ignored");
    TG_CHECK_EQ_INT(b.len, 2);
    size_t len = 99;
    TG_CHECK(tg_buf_steal(&b, &len) == NULL); /* incomplete contents are not handed out */
    TG_CHECK_EQ_INT(len, 0);
    TG_CHECK(b.p == NULL && !b.err);
}

TG_TEST(steal)
{
    tg_buf_t b = {0};
    size_t len = 7;
    TG_CHECK(tg_buf_steal(&b, &len) == NULL);
    TG_CHECK_EQ_INT(len, 0);
    tg_buf_puts(&b, "hello");
    char *p = tg_buf_steal(&b, &len);
    TG_CHECK(p != NULL);
    TG_CHECK_EQ_INT(len, 5);
    TG_CHECK_EQ_STR(p, "hello");
    TG_CHECK(b.p == NULL && b.len == 0);
    free(p);
}

TG_TEST(vec_reserve)
{
    int *v = NULL;
    size_t cap = 0;
    TG_CHECK_EQ_INT(tg_vec_reserve(&v, sizeof *v, &cap, 0, 8), 0);
    TG_CHECK(v == NULL && cap == 0);
    TG_CHECK_EQ_INT(tg_vec_reserve(&v, sizeof *v, &cap, 1, 8), 0);
    TG_CHECK_EQ_INT(cap, 8);
    for (size_t i = 0; i < cap; i++)
        TG_CHECK_EQ_INT(v[i], 0);
    v[7] = 5;
    TG_CHECK_EQ_INT(tg_vec_reserve(&v, sizeof *v, &cap, 9, 8), 0);
    TG_CHECK_EQ_INT(cap, 16);
    TG_CHECK_EQ_INT(v[7], 5);
    TG_CHECK_EQ_INT(v[15], 0); /* new elements zeroed */
    TG_CHECK_EQ_INT(tg_vec_reserve(&v, sizeof *v, &cap, 100, 8), 0);
    TG_CHECK_EQ_INT(cap, 128);
    int *keep = v;
    TG_CHECK_EQ_INT(tg_vec_reserve(&v, sizeof *v, &cap, SIZE_MAX / 2, 8), -EOVERFLOW);
    TG_CHECK(v == keep && cap == 128);
    free(v);
}

int main(void)
{
    return tg_test_run();
}
