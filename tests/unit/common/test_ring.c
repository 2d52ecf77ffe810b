/* test_ring.c - SPSC ring: single-thread semantics and two-thread stress (BLOCK, DROP_OLDEST). */
#include "tickgate/ring.h"
#include "tg_test.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

/* A 64-byte record whose payload is derived from seq, so torn copies show. */
typedef struct rec {
    uint64_t seq;
    uint64_t pay[7];
} rec_t;

static void rec_make(rec_t *r, uint64_t seq)
{
    r->seq = seq;
    for (int j = 0; j < 7; j++)
        r->pay[j] = seq * 0x9e3779b97f4a7c15ULL ^ (uint64_t)j;
}

static int rec_ok(const rec_t *r)
{
    for (int j = 0; j < 7; j++)
        if (r->pay[j] != (r->seq * 0x9e3779b97f4a7c15ULL ^ (uint64_t)j))
            return 0;
    return 1;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Sanitizers slow everything 5-50x: keep each test well under 10 s. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define TG_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define TG_SANITIZED 1
#endif
#endif
#ifndef TG_SANITIZED
#define TG_SANITIZED 0
#endif

static uint64_t stress_n(uint64_t fast)
{
    return TG_SANITIZED || getenv("TG_SANITIZER") ? fast / 4 : fast;
}

TG_TEST(create_validates)
{
    tg_ring_t *r = NULL;

    TG_CHECK_EQ_INT(tg_ring_create(&r, "x", 0, 8, TG_RING_BLOCK), -EINVAL);
    TG_CHECK_EQ_INT(tg_ring_create(&r, "x", 8, 0, TG_RING_BLOCK), -EINVAL);
    TG_CHECK_EQ_INT(tg_ring_create(&r, NULL, 8, 8, TG_RING_BLOCK), -EINVAL);
    TG_CHECK_EQ_INT(tg_ring_create(NULL, "x", 8, 8, TG_RING_BLOCK), -EINVAL);
    TG_CHECK_EQ_INT(tg_ring_create(&r, "x", 8, 8, (tg_ring_policy_t)7), -EINVAL);
    /* DROP_OLDEST copies whole 8-byte words */
    TG_CHECK_EQ_INT(tg_ring_create(&r, "x", 12, 8, TG_RING_DROP_OLDEST), -EINVAL);
    TG_CHECK(r == NULL);

    TG_CHECK_EQ_INT(tg_ring_create(&r, "feed->engine", 12, 5, TG_RING_BLOCK), 0);
    TG_CHECK_EQ_INT(tg_ring_capacity(r), 8);
    TG_CHECK_EQ_STR(tg_ring_name(r), "feed->engine");
    tg_ring_destroy(r);
    TG_CHECK_EQ_INT(tg_ring_create(&r, "one", 8, 1, TG_RING_DROP_OLDEST), 0);
    TG_CHECK_EQ_INT(tg_ring_capacity(r), 1);
    tg_ring_destroy(r);
    tg_ring_destroy(NULL);
}

TG_TEST(block_full_empty_wrap)
{
    tg_ring_t *r;
    uint32_t in[16], out[16];
    tg_ring_stats_t st;

    TG_CHECK_EQ_INT(tg_ring_create(&r, "b", sizeof(uint32_t), 8, TG_RING_BLOCK), 0);
    TG_CHECK_EQ_INT(tg_ring_pop(r, out, 16), 0);
    for (uint32_t i = 0; i < 16; i++)
        in[i] = i;
    TG_CHECK_EQ_INT(tg_ring_push(r, in, 5), 5);
    TG_CHECK_EQ_INT(tg_ring_push(r, in + 5, 5), 3); /* short: full */
    TG_CHECK_EQ_INT(tg_ring_push(r, in + 8, 1), 0);
    TG_CHECK_EQ_INT(tg_ring_depth(r), 8);
    TG_CHECK_EQ_INT(tg_ring_pop(r, out, 3), 3);
    TG_CHECK(out[0] == 0 && out[1] == 1 && out[2] == 2);
    /* wraps: slots 0..2 reused */
    TG_CHECK_EQ_INT(tg_ring_push(r, in + 8, 8), 3);
    TG_CHECK_EQ_INT(tg_ring_pop(r, out, 16), 8);
    for (uint32_t i = 0; i < 8; i++)
        TG_CHECK_EQ_INT(out[i], i + 3);
    TG_CHECK_EQ_INT(tg_ring_pop(r, out, 16), 0);
    TG_CHECK_EQ_INT(tg_ring_pop(r, out, 0), 0);

    tg_ring_get_stats(r, &st);
    TG_CHECK_EQ_INT(st.depth, 0);
    TG_CHECK_EQ_INT(st.pushed, 11);
    TG_CHECK_EQ_INT(st.dropped, 0);
    TG_CHECK_EQ_INT(st.high_water, 8);
    tg_ring_destroy(r);
}

TG_TEST(block_batches_many_laps)
{
    tg_ring_t *r;
    rec_t in[40], out[40];
    uint64_t seed = 42, next_in = 0, next_out = 0;
    int bad = 0;

    TG_CHECK_EQ_INT(tg_ring_create(&r, "laps", sizeof(rec_t), 32, TG_RING_BLOCK), 0);
    while (next_out < 100000 && !bad) {
        size_t n = 1 + xorshift(&seed) % 40, m = 1 + xorshift(&seed) % 40;
        for (size_t i = 0; i < n; i++)
            rec_make(&in[i], next_in + i);
        size_t k = tg_ring_push(r, in, n);
        TG_CHECK(k <= n);
        next_in += k;
        size_t got = tg_ring_pop(r, out, m);
        TG_CHECK(got <= m);
        for (size_t i = 0; i < got; i++)
            if (out[i].seq != next_out++ || !rec_ok(&out[i]))
                bad = 1;
        TG_CHECK(tg_ring_depth(r) == next_in - next_out);
    }
    TG_CHECK(!bad);
    tg_ring_destroy(r);
}

TG_TEST(drop_oldest_counts)
{
    tg_ring_t *r;
    uint64_t v[64], out[64];
    tg_ring_stats_t st;

    TG_CHECK_EQ_INT(tg_ring_create(&r, "d", sizeof(uint64_t), 8, TG_RING_DROP_OLDEST), 0);
    for (uint64_t i = 0; i < 20; i++)
        TG_CHECK_EQ_INT(tg_ring_push(r, &i, 1), 1);
    tg_ring_get_stats(r, &st);
    TG_CHECK_EQ_INT(st.pushed, 20);
    TG_CHECK_EQ_INT(st.dropped, 12);
    TG_CHECK_EQ_INT(st.depth, 8);
    TG_CHECK_EQ_INT(st.high_water, 8);
    TG_CHECK_EQ_INT(tg_ring_pop(r, out, 3), 3);
    TG_CHECK(out[0] == 12 && out[1] == 13 && out[2] == 14);

    /* 3 free: pushing 5 drops the 2 oldest (15, 16) */
    for (uint64_t i = 0; i < 5; i++)
        v[i] = 100 + i;
    TG_CHECK_EQ_INT(tg_ring_push(r, v, 5), 5);
    tg_ring_get_stats(r, &st);
    TG_CHECK_EQ_INT(st.dropped, 14);
    TG_CHECK_EQ_INT(tg_ring_pop(r, out, 64), 8);
    TG_CHECK(out[0] == 17 && out[1] == 18 && out[2] == 19 && out[3] == 100 && out[7] == 104);

    /* a batch larger than the ring keeps its last 8 */
    for (uint64_t i = 0; i < 30; i++)
        v[i] = 200 + i;
    TG_CHECK_EQ_INT(tg_ring_push(r, v, 30), 30);
    tg_ring_get_stats(r, &st);
    TG_CHECK_EQ_INT(st.dropped, 14 + 22);
    TG_CHECK_EQ_INT(st.pushed, 55);
    TG_CHECK_EQ_INT(tg_ring_pop(r, out, 64), 8);
    for (int i = 0; i < 8; i++)
        TG_CHECK_EQ_INT(out[i], 222 + i);
    TG_CHECK_EQ_INT(tg_ring_pop(r, out, 64), 0);
    tg_ring_get_stats(r, &st);
    TG_CHECK_EQ_INT(st.depth, 0);
    TG_CHECK_EQ_INT(st.pushed - st.dropped, 3 + 8 + 8); /* everything popped */
    tg_ring_destroy(r);
}

TG_TEST(drop_oldest_never_full_no_drops)
{
    tg_ring_t *r;
    rec_t in[7], out[16];
    uint64_t seq = 0, want = 0;
    tg_ring_stats_t st;

    TG_CHECK_EQ_INT(tg_ring_create(&r, "d2", sizeof(rec_t), 16, TG_RING_DROP_OLDEST), 0);
    for (int lap = 0; lap < 1000; lap++) {
        for (int i = 0; i < 7; i++)
            rec_make(&in[i], seq++);
        TG_CHECK_EQ_INT(tg_ring_push(r, in, 7), 7);
        size_t got = tg_ring_pop(r, out, 16);
        TG_CHECK_EQ_INT(got, 7);
        for (size_t i = 0; i < got; i++)
            TG_CHECK(out[i].seq == want++ && rec_ok(&out[i]));
    }
    tg_ring_get_stats(r, &st);
    TG_CHECK_EQ_INT(st.dropped, 0);
    TG_CHECK_EQ_INT(st.pushed, 7000);
    tg_ring_destroy(r);
}

/* ---- two threads ---- */

typedef struct stress {
    tg_ring_t *ring;
    uint64_t n;
    uint64_t stall; /* consumer sleeps once per ~stall pops; 0 = never */
    _Atomic int done;
    /* consumer results */
    uint64_t received;
    uint64_t errors;
} stress_t;

static void *producer_main(void *arg)
{
    stress_t *s = arg;
    rec_t batch[64];
    uint64_t seed = 0x1234567, seq = 0;
    while (seq < s->n) {
        size_t k = 1 + xorshift(&seed) % 64;
        if (k > s->n - seq)
            k = (size_t)(s->n - seq);
        for (size_t i = 0; i < k; i++)
            rec_make(&batch[i], seq + i);
        tg_ring_push_wait(s->ring, batch, k); /* DROP_OLDEST: same as push */
        seq += k;
    }
    atomic_store_explicit(&s->done, 1, memory_order_release);
    return NULL;
}

static void *stats_main(void *arg)
{
    stress_t *s = arg;
    tg_ring_stats_t st;
    uint64_t last_pushed = 0;

    while (!atomic_load_explicit(&s->done, memory_order_acquire)) {
        tg_ring_get_stats(s->ring, &st);
        if (st.depth > tg_ring_capacity(s->ring) || st.pushed < last_pushed)
            s->errors++; /* st_side: written only by this thread */
        last_pushed = st.pushed;
        struct timespec ts = {0, 100 * 1000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* Consumer on the calling thread; DROP_OLDEST allows gaps, BLOCK does not. */
static void consume(stress_t *s, int allow_gaps)
{
    rec_t out[64];
    uint64_t seed = 99, next = 0;
    unsigned empty = 0;
    int finished = 0;

    while (!finished) {
        int done = atomic_load_explicit(&s->done, memory_order_acquire);
        size_t got = tg_ring_pop(s->ring, out, 1 + xorshift(&seed) % 64);
        for (size_t i = 0; i < got; i++) {
            if (!rec_ok(&out[i]) || out[i].seq < next || (!allow_gaps && out[i].seq != next)) {
                if (s->errors++ < 5)
                    fprintf(stderr, "bad record: seq %llu, expected %s%llu, payload %s\n",
                            (unsigned long long)out[i].seq, allow_gaps ? ">= " : "",
                            (unsigned long long)next, rec_ok(&out[i]) ? "ok" : "torn");
            }
            next = out[i].seq + 1;
        }
        s->received += got;
        /* CI may give us one CPU: a consumer spinning on empty would starve the producer */
        if (got)
            empty = 0;
        else if (++empty % 64 == 0)
            sched_yield();
        /* the producer finished before this empty pop: nothing more can come */
        if (got == 0 && done)
            finished = 1;
        /* DROP_OLDEST: sometimes stall so the producer laps us and drops */
        if (allow_gaps && s->stall && xorshift(&seed) % s->stall == 0) {
            struct timespec ts = {0, 20 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}

static void run_stress(tg_ring_policy_t policy, size_t cap, uint64_t n, uint64_t stall)
{
    stress_t s = {.n = n, .stall = stall};
    stress_t st_side = {0};
    pthread_t prod, stats;
    tg_ring_stats_t st;

    TG_CHECK_EQ_INT(tg_ring_create(&s.ring, "stress", sizeof(rec_t), cap, policy), 0);
    atomic_init(&s.done, 0);
    st_side.ring = s.ring;
    atomic_init(&st_side.done, 0);
    TG_CHECK_EQ_INT(pthread_create(&stats, NULL, stats_main, &st_side), 0);
    TG_CHECK_EQ_INT(pthread_create(&prod, NULL, producer_main, &s), 0);
    consume(&s, policy == TG_RING_DROP_OLDEST);
    pthread_join(prod, NULL);
    atomic_store_explicit(&st_side.done, 1, memory_order_release);
    pthread_join(stats, NULL);

    tg_ring_get_stats(s.ring, &st);
    TG_CHECK_EQ_INT(s.errors, 0);
    TG_CHECK_EQ_INT(st_side.errors, 0);
    TG_CHECK_EQ_INT(st.pushed, n);
    TG_CHECK_EQ_INT(st.depth, 0);
    TG_CHECK_EQ_INT(s.received + st.dropped, n);
    TG_CHECK(st.high_water <= cap);
    if (policy == TG_RING_BLOCK) {
        TG_CHECK_EQ_INT(s.received, n);
        TG_CHECK_EQ_INT(st.dropped, 0);
    }
    fprintf(stderr, "  %s cap %zu: n %llu received %llu dropped %llu high_water %llu\n",
            policy == TG_RING_BLOCK ? "BLOCK" : "DROP_OLDEST", cap, (unsigned long long)n,
            (unsigned long long)s.received, (unsigned long long)st.dropped,
            (unsigned long long)st.high_water);
    tg_ring_destroy(s.ring);
}

TG_TEST(stress_block)
{
    run_stress(TG_RING_BLOCK, 1024, stress_n(4000000), 0);
    run_stress(TG_RING_BLOCK, 4, stress_n(400000), 0); /* tiny ring: constant full/empty */
}

TG_TEST(stress_drop_oldest)
{
    /* consumer keeps up mostly: drops happen right in the claim/copy window */
    run_stress(TG_RING_DROP_OLDEST, 256, stress_n(4000000), 0);
    run_stress(TG_RING_DROP_OLDEST, 64, stress_n(2000000), 4096);
    /* producer laps a stalling consumer over and over */
    run_stress(TG_RING_DROP_OLDEST, 8, stress_n(1000000), 256);
}

int main(void)
{
    return tg_test_run();
}
