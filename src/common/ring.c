/* ring.c - bounded lock-free SPSC ring with backpressure or drop-oldest (see ring.h).
 *
 * Indices are free-running 64-bit counters (never wrap in practice); a slot
 * is index & mask. Producer-written and consumer-written fields sit on
 * separate 128-byte blocks (two lines: adjacent-line prefetch would otherwise
 * reintroduce false sharing), and each side keeps a private cache of the
 * other's index so the common case reads no line the other side writes.
 *
 * TG_RING_BLOCK is the classic Lamport ring: the consumer copies then
 * publishes head (release), the producer copies then publishes tail
 * (release); slot data is plain memcpy, ordered by those release/acquire
 * pairs.
 *
 * TG_RING_DROP_OLDEST lets the producer overwrite unread records, so slots
 * can be read and written at the same time. To keep that well-defined (and
 * TSan-clean) slot words are copied with 8-byte atomics (release stores,
 * acquire loads: plain moves on x86; no fences, which GCC's TSan rejects), and:
 *   - head is shared: the consumer claims [h, h+k) by CAS on head *before*
 *     copying, the producer drops by CAS'ing head forward when full; each
 *     index is thus either claimed by the consumer or dropped, never both;
 *   - the producer announces `wseq` = end of the batch it is about to write,
 *     then writes the slots (release), then publishes tail;
 *   - after copying (acquire), the consumer reads wseq (a seqlock check): if
 *     the producer has started writing index >= h+cap, the claimed records
 *     below wseq-cap may be torn, so they are discarded and counted as
 *     dropped. Release/acquire on the slot words guarantees that any word the
 *     consumer read from an overwrite is covered by the wseq it sees.
 * So received + dropped == pushed exactly, and neither side ever waits.
 */
#include "tickgate/ring.h"

#include <errno.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Two cache lines: x86's adjacent-line prefetcher pairs 64-byte lines. */
#define RING_ALIGN 128
/* Keeps capacity * elem_size and the index arithmetic far from overflow. */
#define RING_MAX_CAPACITY (1ULL << 32)

struct tg_ring {
    /* Written by the producer. */
    alignas(RING_ALIGN) _Atomic uint64_t tail; /* next index to publish; == pushed */
    _Atomic uint64_t wseq;                     /* DROP_OLDEST: end of the batch being written */
    _Atomic uint64_t p_dropped;                /* records dropped by the producer's head CAS */
    _Atomic uint64_t p_high_water;
    uint64_t p_head_cache; /* producer-private view of head */

    /* Written by the consumer (and, in DROP_OLDEST, head by the producer when full). */
    alignas(RING_ALIGN) _Atomic uint64_t head; /* next index to read */
    _Atomic uint64_t c_dropped;                /* claimed records found overwritten */
    _Atomic uint64_t c_high_water;
    uint64_t c_tail_cache; /* consumer-private view of tail */
    bool c_lagging;        /* DROP_OLDEST: last claim lost records to the producer */

    /* Read-only after create. */
    alignas(RING_ALIGN) unsigned char *buf;
    size_t elem_size;
    size_t words; /* elem_size / 8, DROP_OLDEST only */
    uint64_t cap;
    uint64_t mask;
    tg_ring_policy_t policy;
    char *name;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Single-writer max: only the owning side stores, anyone may load. */
static inline void hw_note(_Atomic uint64_t *hw, uint64_t depth)
{
    if (depth > atomic_load_explicit(hw, memory_order_relaxed))
        atomic_store_explicit(hw, depth, memory_order_relaxed);
}

int tg_ring_create(tg_ring_t **out, const char *name, size_t elem_size, size_t capacity,
                   tg_ring_policy_t policy)
{
    tg_ring_t *r;
    uint64_t cap = 1;
    size_t bytes;

    if (!out || !name || elem_size == 0 || capacity == 0 || capacity > RING_MAX_CAPACITY)
        return -EINVAL;
    if (policy != TG_RING_BLOCK && policy != TG_RING_DROP_OLDEST)
        return -EINVAL;
    /* Word-wise atomic copies need whole words (all our records are). */
    if (policy == TG_RING_DROP_OLDEST && elem_size % sizeof(uint64_t) != 0)
        return -EINVAL;
    while (cap < capacity)
        cap <<= 1;
    if (elem_size > SIZE_MAX / cap - RING_ALIGN)
        return -ENOMEM;
    bytes = (cap * elem_size + RING_ALIGN - 1) / RING_ALIGN * RING_ALIGN;

    r = aligned_alloc(RING_ALIGN, (sizeof *r + RING_ALIGN - 1) / RING_ALIGN * RING_ALIGN);
    if (!r)
        return -ENOMEM;
    memset(r, 0, sizeof *r);
    r->name = strdup(name);
    if (!r->name)
        goto fail_free_ring;
    r->buf = aligned_alloc(RING_ALIGN, bytes);
    if (!r->buf)
        goto fail_free_name;
    memset(r->buf, 0, bytes);
    r->elem_size = elem_size;
    r->words = elem_size / sizeof(uint64_t);
    r->cap = cap;
    r->mask = cap - 1;
    r->policy = policy;
    atomic_init(&r->tail, 0);
    atomic_init(&r->wseq, 0);
    atomic_init(&r->p_dropped, 0);
    atomic_init(&r->p_high_water, 0);
    atomic_init(&r->head, 0);
    atomic_init(&r->c_dropped, 0);
    atomic_init(&r->c_high_water, 0);
    *out = r;
    return 0;

fail_free_name:
    free(r->name);
fail_free_ring:
    free(r);
    return -ENOMEM;
}

void tg_ring_destroy(tg_ring_t *r)
{
    if (!r)
        return;
    free(r->buf);
    free(r->name);
    free(r);
}

/* ---- slot copies: two contiguous spans around the wrap point ---- */

static void copy_in_plain(tg_ring_t *r, uint64_t idx, const unsigned char *src, uint64_t n)
{
    uint64_t off = idx & r->mask, first = r->cap - off < n ? r->cap - off : n;

    memcpy(r->buf + off * r->elem_size, src, first * r->elem_size);
    if (n > first)
        memcpy(r->buf, src + first * r->elem_size, (n - first) * r->elem_size);
}

static void copy_out_plain(const tg_ring_t *r, uint64_t idx, unsigned char *dst, uint64_t n)
{
    uint64_t off = idx & r->mask, first = r->cap - off < n ? r->cap - off : n;

    memcpy(dst, r->buf + off * r->elem_size, first * r->elem_size);
    if (n > first)
        memcpy(dst + first * r->elem_size, r->buf, (n - first) * r->elem_size);
}

static void words_store(_Atomic uint64_t *slot, const unsigned char *src, size_t nwords)
{
    for (size_t i = 0; i < nwords; i++) {
        uint64_t w;

        memcpy(&w, src + i * sizeof w, sizeof w); /* caller's buffer may be unaligned */
        atomic_store_explicit(&slot[i], w, memory_order_release);
    }
}

static void words_load(const _Atomic uint64_t *slot, unsigned char *dst, size_t nwords)
{
    for (size_t i = 0; i < nwords; i++) {
        uint64_t w = atomic_load_explicit((_Atomic uint64_t *)&slot[i], memory_order_acquire);

        memcpy(dst + i * sizeof w, &w, sizeof w);
    }
}

static void copy_in_atomic(tg_ring_t *r, uint64_t idx, const unsigned char *src, uint64_t n)
{
    uint64_t off = idx & r->mask, first = r->cap - off < n ? r->cap - off : n;
    _Atomic uint64_t *base = (_Atomic uint64_t *)(void *)r->buf;

    words_store(base + off * r->words, src, first * r->words);
    if (n > first)
        words_store(base, src + first * r->elem_size, (n - first) * r->words);
}

static void copy_out_atomic(const tg_ring_t *r, uint64_t idx, unsigned char *dst, uint64_t n)
{
    uint64_t off = idx & r->mask, first = r->cap - off < n ? r->cap - off : n;
    const _Atomic uint64_t *base = (const _Atomic uint64_t *)(void *)r->buf;

    words_load(base + off * r->words, dst, first * r->words);
    if (n > first)
        words_load(base, dst + first * r->elem_size, (n - first) * r->words);
}

/* ---- TG_RING_BLOCK ---- */

static size_t push_block(tg_ring_t *r, const unsigned char *src, size_t n)
{
    uint64_t w = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t room = r->cap - (w - r->p_head_cache);

    if (room < n) {
        /* acquire: the consumer finished reading those slots before moving head */
        r->p_head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        room = r->cap - (w - r->p_head_cache);
        hw_note(&r->p_high_water, w - r->p_head_cache + (room < n ? room : n));
    }
    if (n > room)
        n = (size_t)room;
    if (n == 0)
        return 0;
    copy_in_plain(r, w, src, n);
    atomic_store_explicit(&r->tail, w + n, memory_order_release);
    return n;
}

static size_t pop_block(tg_ring_t *r, unsigned char *dst, size_t max)
{
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t avail = r->c_tail_cache - h;

    if (avail < max) { /* the cached view may be short of what was published since */
        r->c_tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        avail = r->c_tail_cache - h;
        hw_note(&r->c_high_water, avail);
    }
    if (avail > max)
        avail = max;
    if (avail == 0)
        return 0;
    copy_out_plain(r, h, dst, avail);
    atomic_store_explicit(&r->head, h + avail, memory_order_release);
    return (size_t)avail;
}

/* ---- TG_RING_DROP_OLDEST ---- */

/* n <= cap */
static void push_drop_chunk(tg_ring_t *r, const unsigned char *src, uint64_t n)
{
    uint64_t w = atomic_load_explicit(&r->tail, memory_order_relaxed);

    if (w + n - r->p_head_cache > r->cap) {
        r->p_head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        while (w + n - r->p_head_cache > r->cap) {
            uint64_t old = r->p_head_cache, nh = w + n - r->cap;

            /* Fails only when the consumer claimed meanwhile: recheck room. */
            if (atomic_compare_exchange_weak_explicit(&r->head, &r->p_head_cache, nh,
                                                      memory_order_acq_rel,
                                                      memory_order_acquire)) {
                atomic_fetch_add_explicit(&r->p_dropped, nh - old, memory_order_relaxed);
                r->p_head_cache = nh;
            }
        }
        hw_note(&r->p_high_water, w + n - r->p_head_cache);
    }
    /* Seqlock-style announce. The slot stores below are release stores, so a
     * consumer that reads any of them (with an acquire load) also sees this. */
    atomic_store_explicit(&r->wseq, w + n, memory_order_relaxed);
    copy_in_atomic(r, w, src, n);
    atomic_store_explicit(&r->tail, w + n, memory_order_release);
}

static size_t pop_drop(tg_ring_t *r, unsigned char *dst, size_t max)
{
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);

    if (max == 0)
        return 0;
    for (;;) {
        uint64_t k, ws, lost;

        /* Claim [h, h+k) before copying; a failed CAS reloads h (producer dropped). */
        for (;;) {
            uint64_t avail = r->c_tail_cache > h ? r->c_tail_cache - h : 0;
            uint64_t keep = r->cap > 1 ? r->cap / 2 : 1, skip = 0;

            if (avail < max) {
                r->c_tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
                avail = r->c_tail_cache > h ? r->c_tail_cache - h : 0;
                /* h may be stale (producer dropped past it): depth never exceeds cap */
                hw_note(&r->c_high_water, avail < r->cap ? avail : r->cap);
                if (avail == 0)
                    return 0;
            }
            /* Once we have lost a claim, the producer is lapping us: the oldest
             * records are doomed anyway, so start half a ring behind tail and
             * let the producer push cap/2 more before it can reach our copy.
             * Otherwise a consumer of a full ring could starve indefinitely. */
            if (r->c_lagging && avail > keep)
                skip = avail - keep;
            k = avail - skip < max ? avail - skip : max;
            if (atomic_compare_exchange_weak_explicit(&r->head, &h, h + skip + k,
                                                      memory_order_acq_rel,
                                                      memory_order_relaxed)) {
                if (skip)
                    atomic_fetch_add_explicit(&r->c_dropped, skip, memory_order_relaxed);
                h += skip;
                break;
            }
        }
        /* Acquire slot loads: if we read a word of an overwrite, the wseq
         * announcing it is visible to the load after them. */
        copy_out_atomic(r, h, dst, k);
        ws = atomic_load_explicit(&r->wseq, memory_order_relaxed);
        if (ws <= h + r->cap) {
            r->c_lagging = false;
            return (size_t)k;
        }
        r->c_lagging = true;
        lost = ws - r->cap - h;
        if (lost > k)
            lost = k;
        atomic_fetch_add_explicit(&r->c_dropped, lost, memory_order_relaxed);
        if (lost < k) {
            memmove(dst, dst + lost * r->elem_size, (k - lost) * r->elem_size);
            return (size_t)(k - lost);
        }
        h += k; /* everything claimed was overwritten: try again from our new head */
    }
}

/* ---- public ---- */

size_t tg_ring_push(tg_ring_t *r, const void *elems, size_t n)
{
    const unsigned char *src = elems;

    if (r->policy == TG_RING_BLOCK)
        return push_block(r, src, n);
    /* More than cap at once: the earlier part is dropped as it is overtaken. */
    for (size_t done = 0; done < n;) {
        uint64_t k = n - done < r->cap ? n - done : r->cap;

        push_drop_chunk(r, src + done * r->elem_size, k);
        done += k;
    }
    return n;
}

void tg_ring_push_wait(tg_ring_t *r, const void *elems, size_t n)
{
    const unsigned char *src = elems;
    unsigned idle = 0;

    while (n) {
        size_t k = tg_ring_push(r, src, n);

        if (k) {
            src += k * r->elem_size;
            n -= k;
            idle = 0;
            continue;
        }
        /* Backoff: spin while the consumer is probably mid-batch, then give the
         * CPU away (it may be the consumer's), then sleep so a stalled
         * consumer does not cost a core. */
        if (idle < 128) {
            cpu_relax();
        } else if (idle < 192) {
            sched_yield();
        } else {
            struct timespec ts = {0, 50 * 1000};

            nanosleep(&ts, NULL);
        }
        if (idle < UINT32_MAX)
            idle++;
    }
}

size_t tg_ring_pop(tg_ring_t *r, void *out, size_t max)
{
    if (r->policy == TG_RING_BLOCK)
        return pop_block(r, out, max);
    return pop_drop(r, out, max);
}

size_t tg_ring_depth(const tg_ring_t *r)
{
    /* head first: tail only grows, so the difference is never negative */
    uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
    uint64_t d = t > h ? t - h : 0;

    return (size_t)(d > r->cap ? r->cap : d);
}

void tg_ring_get_stats(const tg_ring_t *r, tg_ring_stats_t *st)
{
    uint64_t hp = atomic_load_explicit(&r->p_high_water, memory_order_relaxed);
    uint64_t hc = atomic_load_explicit(&r->c_high_water, memory_order_relaxed);

    st->depth = tg_ring_depth(r);
    st->high_water = hp > hc ? hp : hc;
    if (st->high_water < st->depth)
        st->high_water = st->depth;
    st->dropped = atomic_load_explicit(&r->p_dropped, memory_order_relaxed) +
                  atomic_load_explicit(&r->c_dropped, memory_order_relaxed);
    st->pushed = atomic_load_explicit(&r->tail, memory_order_relaxed);
}

const char *tg_ring_name(const tg_ring_t *r)
{
    return r->name;
}

size_t tg_ring_capacity(const tg_ring_t *r)
{
    return (size_t)r->cap;
}
