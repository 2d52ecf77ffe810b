/* ring.h - bounded lock-free single-producer/single-consumer ring.
 *
 * Fixed-size records copied by value. Producer and consumer indices live on
 * separate cache lines and each side caches the other's index, so the common
 * case touches no shared line. Exactly one producer thread and one consumer
 * thread per ring; any thread may read the statistics.
 */
#ifndef TICKGATE_RING_H
#define TICKGATE_RING_H

#include <stddef.h>
#include <stdint.h>

typedef enum tg_ring_policy {
    TG_RING_BLOCK = 0,       /* full ring: push returns short, producer waits (backpressure) */
    TG_RING_DROP_OLDEST = 1, /* full ring: oldest unread records are dropped and counted */
} tg_ring_policy_t;

typedef struct tg_ring tg_ring_t;

typedef struct tg_ring_stats {
    uint64_t depth;      /* records currently queued */
    uint64_t high_water; /* largest depth seen */
    uint64_t dropped;    /* records dropped by TG_RING_DROP_OLDEST, total */
    uint64_t pushed;     /* records accepted, total */
} tg_ring_stats_t;

/**
 * Create a ring of `capacity` records (rounded up to a power of two) of
 * `elem_size` bytes each. `name` is copied (it labels metrics). Caller owns
 * *out and frees it with tg_ring_destroy(). Returns 0, -EINVAL or -ENOMEM.
 */
int tg_ring_create(tg_ring_t **out, const char *name, size_t elem_size, size_t capacity,
                   tg_ring_policy_t policy);

/** Free a ring; NULL is fine. No thread may use it any more. */
void tg_ring_destroy(tg_ring_t *r);

/**
 * Producer: append up to n records. TG_RING_BLOCK returns how many fit (maybe
 * 0); TG_RING_DROP_OLDEST always takes all n, dropping the oldest unread ones.
 */
size_t tg_ring_push(tg_ring_t *r, const void *elems, size_t n);

/** Producer, TG_RING_BLOCK: push all n, waiting (spin, then yield/sleep) while full. */
void tg_ring_push_wait(tg_ring_t *r, const void *elems, size_t n);

/** Consumer: copy out up to max records, oldest first; returns how many. */
size_t tg_ring_pop(tg_ring_t *r, void *out, size_t max);

/** Any thread: records queued now (a snapshot). */
size_t tg_ring_depth(const tg_ring_t *r);

/** Any thread: statistics snapshot. */
void tg_ring_get_stats(const tg_ring_t *r, tg_ring_stats_t *st);

const char *tg_ring_name(const tg_ring_t *r);
size_t tg_ring_capacity(const tg_ring_t *r);

#endif
