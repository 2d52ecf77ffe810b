/* ring_bench.c - SPSC ring throughput vs a mutex+condvar bounded queue.
 *
 * Moves N 64-byte records from a producer thread to a consumer thread (pinned
 * to CPUs 0 and 1 when possible) through tg_ring_t, then the same work
 * through a classic mutex + two condvars bounded queue, and prints records/s
 * for each, the ratio, and a final machine-readable RESULT line.
 *
 *   ring_bench [records_millions]   (default 50; the mutex runs do a tenth)
 */
#include "tickgate/ring.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REC_SIZE 64
#define QCAP 4096

typedef struct rec {
    uint64_t seq;
    uint64_t pay[7];
} rec_t;
_Static_assert(sizeof(rec_t) == REC_SIZE, "64-byte records");

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void pin(int cpu)
{
#ifdef __linux__
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set); /* best effort */
#else
    (void)cpu;
#endif
}

/* ---- the baseline: bounded queue under one mutex ---- */

typedef struct mq {
    pthread_mutex_t mu;
    pthread_cond_t not_full, not_empty;
    rec_t *buf;
    size_t head, count;
} mq_t;

static size_t mq_push(mq_t *q, const rec_t *src, size_t n)
{
    size_t k;

    pthread_mutex_lock(&q->mu);
    while (q->count == QCAP)
        pthread_cond_wait(&q->not_full, &q->mu);
    k = QCAP - q->count < n ? QCAP - q->count : n;
    for (size_t i = 0; i < k; i++)
        q->buf[(q->head + q->count + i) % QCAP] = src[i];
    q->count += k;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
    return k;
}

static size_t mq_pop(mq_t *q, rec_t *dst, size_t max)
{
    size_t k;

    pthread_mutex_lock(&q->mu);
    while (q->count == 0)
        pthread_cond_wait(&q->not_empty, &q->mu);
    k = q->count < max ? q->count : max;
    for (size_t i = 0; i < k; i++)
        dst[i] = q->buf[(q->head + i) % QCAP];
    q->head = (q->head + k) % QCAP;
    q->count -= k;
    pthread_cond_signal(&q->not_full);
    pthread_mutex_unlock(&q->mu);
    return k;
}

/* ---- one run ---- */

typedef struct run {
    tg_ring_t *ring; /* NULL: use mq */
    mq_t *mq;
    uint64_t n;
    size_t batch;
} run_t;

static void *producer(void *arg)
{
    run_t *r = arg;
    rec_t b[256];

    pin(0);
    for (uint64_t seq = 0; seq < r->n;) {
        size_t k = r->n - seq < r->batch ? (size_t)(r->n - seq) : r->batch;

        for (size_t i = 0; i < k; i++) {
            b[i].seq = seq + i;
            b[i].pay[0] = seq + i;
        }
        if (r->ring) {
            tg_ring_push_wait(r->ring, b, k);
        } else {
            for (size_t done = 0; done < k;)
                done += mq_push(r->mq, b + done, k - done);
        }
        seq += k;
    }
    return NULL;
}

/* Consumer on its own thread too, so the main thread only times. */
static void *consumer(void *arg)
{
    run_t *r = arg;
    rec_t b[256];
    uint64_t next = 0, bad = 0;

    pin(1);
    while (next < r->n) {
        size_t k = r->ring ? tg_ring_pop(r->ring, b, r->batch) : mq_pop(r->mq, b, r->batch);

        if (k == 0) {
            cpu_relax();
            continue;
        }
        for (size_t i = 0; i < k; i++)
            bad += b[i].seq != next + i || b[i].pay[0] != next + i;
        next += k;
    }
    return (void *)(uintptr_t)bad;
}

static double run_once(run_t *r)
{
    pthread_t p, c;
    void *bad;
    double t0 = now_s();

    if (pthread_create(&c, NULL, consumer, r) || pthread_create(&p, NULL, producer, r)) {
        fprintf(stderr, "pthread_create failed\n");
        exit(1);
    }
    pthread_join(p, NULL);
    pthread_join(c, &bad);
    double dt = now_s() - t0;
    if (bad) {
        fprintf(stderr, "ring_bench: %zu records out of order\n", (size_t)(uintptr_t)bad);
        exit(1);
    }
    return (double)r->n / dt;
}

static double bench_ring(uint64_t n, size_t batch)
{
    run_t r = {.n = n, .batch = batch};
    int rc = tg_ring_create(&r.ring, "bench", REC_SIZE, QCAP, TG_RING_BLOCK);

    if (rc < 0) {
        fprintf(stderr, "tg_ring_create: %s\n", strerror(-rc));
        exit(1);
    }
    double mps = run_once(&r);
    tg_ring_destroy(r.ring);
    return mps;
}

static double bench_mutex(uint64_t n, size_t batch)
{
    mq_t q = {.mu = PTHREAD_MUTEX_INITIALIZER,
              .not_full = PTHREAD_COND_INITIALIZER,
              .not_empty = PTHREAD_COND_INITIALIZER};
    run_t r = {.mq = &q, .n = n, .batch = batch};

    q.buf = calloc(QCAP, sizeof *q.buf);
    if (!q.buf)
        exit(1);
    double mps = run_once(&r);
    free(q.buf);
    return mps;
}

int main(int argc, char **argv)
{
    uint64_t n = (uint64_t)((argc > 1 ? atof(argv[1]) : 50.0) * 1e6);
    uint64_t nm = n / 10;

    if (n < 1000)
        n = nm = 1000;
    /* warm-up: page in buffers, wake the CPUs up */
    bench_ring(n / 20 + 1, 32);

    double ring32 = bench_ring(n, 32);
    double ring1 = bench_ring(n / 5, 1);
    double mtx1 = bench_mutex(nm, 1);
    double mtx32 = bench_mutex(nm, 32);

    printf("ring_spsc   batch=32  %8.2f M records/s (64-byte records, %llu records)\n", ring32 / 1e6,
           (unsigned long long)n);
    printf("ring_spsc   batch=1   %8.2f M records/s\n", ring1 / 1e6);
    printf("mutex_queue batch=1   %8.2f M records/s (mutex + condvar, one record per lock)\n",
           mtx1 / 1e6);
    printf("mutex_queue batch=32  %8.2f M records/s (same queue, 32 records per lock)\n",
           mtx32 / 1e6);
    printf("ratio ring/mutex      %8.1fx same batching (32), %.1fx per record (1)\n",
           ring32 / mtx32, ring1 / mtx1);
    printf("RESULT ring_bench ring_b32_mps=%.0f ring_b1_mps=%.0f mutex_b1_mps=%.0f "
           "mutex_b32_mps=%.0f ratio_b32=%.2f ratio_b1=%.2f\n",
           ring32, ring1, mtx1, mtx32, ring32 / mtx32, ring1 / mtx1);
    return 0;
}
