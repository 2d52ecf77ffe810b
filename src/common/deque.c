/* deque.c - growing a deque (deque.h); everything else is inline there. */
#include "tickgate/deque.h"

#include <errno.h>
#include <string.h>

int tg__deque_grow(tg_deque_t *d, size_t elem, uint32_t min_cap, uint32_t max_cap)
{
    if (d->len < d->cap)
        return 0;
    if (d->cap >= max_cap)
        return -ENOSPC;
    uint64_t nc = d->cap ? (uint64_t)d->cap * 2 : (min_cap ? min_cap : 1);
    if (nc > max_cap)
        nc = max_cap;
    return tg__deque_resize(d, elem, (uint32_t)nc);
}

int tg__deque_resize(tg_deque_t *d, size_t elem, uint32_t ncap)
{
    if (ncap < d->len)
        return -EINVAL;
    if (ncap > SIZE_MAX / elem)
        return -ENOMEM;
    char *nv = malloc((size_t)ncap * elem);
    if (!nv)
        return -ENOMEM;
    /* the elements from head to the end of the old array, then the wrapped rest */
    size_t first = d->len ? d->cap - d->head : 0;
    if (first > d->len)
        first = d->len;
    if (first)
        memcpy(nv, (char *)d->v + (size_t)d->head * elem, first * elem);
    if (d->len > first)
        memcpy(nv + first * elem, d->v, (d->len - first) * elem);
    free(d->v);
    d->v = nv;
    d->head = 0;
    d->cap = ncap;
    return 0;
}
