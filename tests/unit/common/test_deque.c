/* test_deque.c - the growable ring (deque.h): growth unrolls in order, the
 * bound, and a random walk against a plain array model. */
#include "tickgate/deque.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tg_test.h"

typedef TG_DEQUE(int) ints_t;

TG_TEST(empty_allocates_nothing)
{
    ints_t d = {0};
    TG_CHECK(d.v == NULL && d.len == 0 && d.cap == 0);
    TG_CHECK(tg_deque_full(&d)); /* 0 of 0: the first push must grow */
    tg_deque_free(&d);
    TG_CHECK(d.v == NULL && d.cap == 0);
}

TG_TEST(grows_from_min_cap_by_doubling_and_keeps_order_across_the_wrap)
{
    ints_t d = {0};
    TG_CHECK_EQ_INT(tg_deque_grow(&d, 4, 1000), 0);
    TG_CHECK_EQ_INT(d.cap, 4);
    for (int i = 0; i < 4; i++)
        tg_deque_push(&d, i);
    /* drop two, push two: the ring wraps (head 2, elements at 2,3,0,1) */
    tg_deque_pop_front(&d);
    tg_deque_pop_front(&d);
    TG_CHECK_EQ_INT(tg_deque_grow(&d, 4, 1000), 0); /* not full: no change */
    TG_CHECK_EQ_INT(d.cap, 4);
    tg_deque_push(&d, 4);
    tg_deque_push(&d, 5);
    TG_CHECK_EQ_INT(d.head, 2);
    TG_CHECK(tg_deque_full(&d));
    TG_CHECK_EQ_INT(tg_deque_grow(&d, 4, 1000), 0);
    TG_CHECK_EQ_INT(d.cap, 8);
    TG_CHECK_EQ_INT(d.head, 0); /* unrolled */
    TG_CHECK_EQ_INT(d.len, 4);
    for (int i = 0; i < 4; i++)
        TG_CHECK_EQ_INT(d.v[i], i + 2);
    TG_CHECK_EQ_INT(tg_deque_front(&d), 2);
    TG_CHECK_EQ_INT(tg_deque_back(&d), 5);
    tg_deque_pop_back(&d);
    TG_CHECK_EQ_INT(tg_deque_back(&d), 4);
    tg_deque_free(&d);
}

TG_TEST(stops_at_max_cap_with_enospc)
{
    ints_t d = {0};
    int dropped = 0;
    for (int i = 0; i < 100; i++) {
        int rc = tg_deque_grow(&d, 8, 20); /* 8, 16, then 20: the bound need not be 2^n */
        if (rc == -ENOSPC) {
            tg_deque_pop_front(&d);
            dropped++;
        } else {
            TG_CHECK_EQ_INT(rc, 0);
        }
        tg_deque_push(&d, i);
    }
    TG_CHECK_EQ_INT(d.cap, 20);
    TG_CHECK_EQ_INT(d.len, 20);
    TG_CHECK_EQ_INT(dropped, 80);
    for (uint32_t i = 0; i < d.len; i++)
        TG_CHECK_EQ_INT(tg_deque_at(&d, i), 80 + (int)i);
    tg_deque_free(&d);
}

TG_TEST(max_cap_zero_refuses)
{
    ints_t d = {0};
    TG_CHECK_EQ_INT(tg_deque_grow(&d, 8, 0), -ENOSPC);
    TG_CHECK(d.v == NULL);
}

TG_TEST(reserve_sizes_exactly_and_unrolls)
{
    ints_t d = {0};
    TG_CHECK_EQ_INT(tg_deque_reserve(&d, 5), 0);
    TG_CHECK_EQ_INT(d.cap, 5);
    for (int i = 0; i < 5; i++)
        tg_deque_push(&d, i);
    tg_deque_pop_front(&d);
    tg_deque_pop_front(&d);
    tg_deque_push(&d, 5); /* wrapped: head 2 */
    TG_CHECK_EQ_INT(tg_deque_reserve(&d, 3), 0); /* already enough: no change */
    TG_CHECK_EQ_INT(d.cap, 5);
    TG_CHECK_EQ_INT(d.head, 2);
    TG_CHECK_EQ_INT(tg_deque_reserve(&d, 7), 0);
    TG_CHECK_EQ_INT(d.cap, 7);
    TG_CHECK_EQ_INT(d.head, 0);
    TG_CHECK_EQ_INT(d.len, 4);
    for (int i = 0; i < 4; i++)
        TG_CHECK_EQ_INT(d.v[i], i + 2);
    tg_deque_free(&d);
}

/* a struct element, and a random walk of pushes and pops at both ends
 * against a plain array that shifts */
typedef struct {
    uint64_t a;
    char tag[13];
} rec_t;

TG_TEST(random_walk_matches_model)
{
    TG_DEQUE(rec_t) d = {0};
    enum { MAXC = 300 };
    rec_t model[MAXC];
    uint32_t n = 0, grows = 0;
    uint64_t seed = 12345, next = 0;
    int bad = 0;
    for (int step = 0; step < 200000; step++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        unsigned op = (unsigned)(seed >> 60);
        if (op < 9) { /* push */
            uint32_t cap = d.cap;
            int rc = tg_deque_grow(&d, 3, MAXC);
            if (rc == -ENOSPC) {
                tg_deque_pop_front(&d);
                memmove(model, model + 1, (--n) * sizeof *model);
            } else if (rc != 0) {
                bad++;
                break;
            }
            grows += d.cap != cap;
            rec_t r = {next, ""};
            snprintf(r.tag, sizeof r.tag, "#%llu", (unsigned long long)next);
            next++;
            tg_deque_push(&d, r);
            model[n++] = r;
        } else if (op < 13 && n) {
            tg_deque_pop_front(&d);
            memmove(model, model + 1, (--n) * sizeof *model);
        } else if (n) {
            tg_deque_pop_back(&d);
            n--;
        }
        if (d.len != n) {
            bad++;
            break;
        }
        if ((step & 63) == 0)
            for (uint32_t i = 0; i < n; i++)
                bad += tg_deque_at(&d, i).a != model[i].a ||
                       strcmp(tg_deque_at(&d, i).tag, model[i].tag) != 0;
    }
    TG_CHECK_EQ_INT(bad, 0);
    TG_CHECK(grows >= 7); /* 3, 6, ..., 192, 300 */
    TG_CHECK_EQ_INT(d.cap, MAXC);
    tg_deque_free(&d);
}

int main(void)
{
    return tg_test_run();
}
