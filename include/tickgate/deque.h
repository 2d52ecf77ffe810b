/* deque.h - a growable ring (double-ended queue) of one element type.
 *
 * Element i (0 = the front, the oldest) lives at v[(head + i) % cap]: pushing
 * at the back and dropping at the front move no memory. When it is full,
 * tg_deque_grow doubles the capacity (from a first size, up to a bound) and
 * unrolls the elements to start at v[0]; at the bound the owner decides what
 * to drop. One owner thread; no locking (the owner's, if others read it).
 *
 *     TG_DEQUE(tg_msg_t *) hist = {0};
 *     if (tg_deque_grow(&hist, 8, limit) == -ENOSPC) { unref front; tg_deque_pop_front(&hist); }
 *     tg_deque_push(&hist, m);
 *
 * The accessors are macros over the typed struct, so indexing stays inline
 * and typed; only growing is a function (tg__deque_grow, element size given).
 */
#ifndef TICKGATE_DEQUE_H
#define TICKGATE_DEQUE_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/** A deque of `type`; zero-initialised is empty, with nothing allocated. */
#define TG_DEQUE(type)                                                                             \
    struct {                                                                                       \
        type *v;                                                                                   \
        uint32_t head, len, cap;                                                                   \
    }

typedef TG_DEQUE(void) tg_deque_t;

/* head + i for i < cap, wrapped: one compare, no division (cap need not be a power of two). */
static inline uint32_t tg__deque_wrap(uint32_t s, uint32_t cap)
{
    return s >= cap ? s - cap : s;
}

/** Element i (0 = front) as an lvalue; i < len (or i == len after making room). */
#define tg_deque_at(d, i) ((d)->v[tg__deque_wrap((d)->head + (uint32_t)(i), (d)->cap)])
#define tg_deque_front(d) tg_deque_at(d, 0)
#define tg_deque_back(d) tg_deque_at(d, (d)->len - 1)
#define tg_deque_full(d) ((d)->len == (d)->cap)

/** Append x at the back; there must be room (tg_deque_grow returned 0). */
#define tg_deque_push(d, x)                                                                        \
    do {                                                                                           \
        tg_deque_at(d, (d)->len) = (x);                                                            \
        (d)->len++;                                                                                \
    } while (0)

/** Drop the front element (len > 0); the caller has released what it held. */
#define tg_deque_pop_front(d)                                                                      \
    do {                                                                                           \
        (d)->head = tg__deque_wrap((d)->head + 1, (d)->cap);                                       \
        (d)->len--;                                                                                \
    } while (0)

/** Drop the back element (len > 0). */
#define tg_deque_pop_back(d) ((void)(d)->len--)

/**
 * Make room for one more at the back. Not full: 0 at once. Full: the capacity
 * doubles (min_cap the first time), at most max_cap, the elements unrolled to
 * v[0..len): 0. Full at max_cap: -ENOSPC (the caller drops its front, or
 * refuses). Out of memory: -ENOMEM, nothing changed.
 */
#define tg_deque_grow(d, min_cap, max_cap)                                                         \
    (tg_deque_full(d) ? tg__deque_grow((tg_deque_t *)(void *)(d), sizeof *(d)->v, (min_cap),      \
                                       (max_cap))                                                  \
                      : 0)

int tg__deque_grow(tg_deque_t *d, size_t elem, uint32_t min_cap, uint32_t max_cap);

/**
 * Capacity for at least n elements, for a deque sized up front: grows to
 * exactly n (unrolled) when it is smaller. 0, or -ENOMEM with nothing changed.
 */
#define tg_deque_reserve(d, n)                                                                     \
    ((uint32_t)(n) <= (d)->cap ? 0                                                                 \
                               : tg__deque_resize((tg_deque_t *)(void *)(d), sizeof *(d)->v,       \
                                                  (uint32_t)(n)))

/** Move the elements to new storage of ncap (>= len) elements, starting at v[0]. */
int tg__deque_resize(tg_deque_t *d, size_t elem, uint32_t ncap);

/** Free the storage (the elements hold nothing the deque owns); empty afterwards. */
#define tg_deque_free(d)                                                                           \
    do {                                                                                           \
        free((d)->v);                                                                              \
        (d)->v = NULL;                                                                             \
        (d)->head = (d)->len = (d)->cap = 0;                                                       \
    } while (0)

#endif
