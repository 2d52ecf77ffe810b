/* hist.h - tickgate-bench's log-linear latency histogram (HdrHistogram-like).
 *
 * Fixed memory (one flat array of counters, no allocation per record), values
 * are non-negative int64 (nanoseconds in practice). Values below 2^TG_HIST_SUB_BITS
 * are counted exactly; above, each power of two is split into
 * 2^(TG_HIST_SUB_BITS-1) linear sub-buckets, so any reported value is within
 * 1/2^(TG_HIST_SUB_BITS-1) (0.8 %) of a recorded one. Not thread-safe: each
 * bench thread records into its own histogram and they are merged at the end.
 */
#ifndef TG_BENCH_HIST_H
#define TG_BENCH_HIST_H

#include <stdint.h>

#define TG_HIST_SUB_BITS 8
#define TG_HIST_HALF (1u << (TG_HIST_SUB_BITS - 1))
/* exponents 1..(64 - SUB_BITS) above the exact range, each with HALF buckets */
#define TG_HIST_BUCKETS ((64 - TG_HIST_SUB_BITS + 2) * TG_HIST_HALF)

typedef struct tg_bench_hist {
    uint64_t count;    /* values recorded (negatives included, as 0) */
    uint64_t negative; /* values < 0 seen (clock skew between hosts); recorded as 0 */
    int64_t min, max;  /* exact extremes of the recorded (clamped) values */
    double sum;        /* for the mean; double so it never overflows */
    uint64_t counts[TG_HIST_BUCKETS];
} tg_bench_hist_t;

/** Reset to empty. The caller owns the memory (about 58 KiB; put it in a thread struct). */
void tg_bench_hist_init(tg_bench_hist_t *h);

/** Bucket index of v (v >= 0). Exposed for the unit test. */
static inline uint32_t tg_bench_hist_index(uint64_t v)
{
    if (v < (1ull << TG_HIST_SUB_BITS))
        return (uint32_t)v;
    int msb = 63 - __builtin_clzll(v);
    int e = msb - TG_HIST_SUB_BITS + 1; /* >= 1 */
    return (uint32_t)e * TG_HIST_HALF + (uint32_t)(v >> e);
}

/** Record one value; O(1), no branches beyond the range checks. */
static inline void tg_bench_hist_record(tg_bench_hist_t *h, int64_t v)
{
    if (v < 0) {
        h->negative++;
        v = 0;
    }
    h->counts[tg_bench_hist_index((uint64_t)v)]++;
    if (h->count == 0 || v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->count++;
    h->sum += (double)v;
}

/** Lowest and highest value that fall into bucket idx. */
void tg_bench_hist_bucket_range(uint32_t idx, uint64_t *lo, uint64_t *hi);

/** Add src's counts into dst. */
void tg_bench_hist_merge(tg_bench_hist_t *dst, const tg_bench_hist_t *src);

/**
 * Value at percentile p (0..100): the highest value equivalent to the bucket
 * holding the ceil(p/100 * count)-th smallest value, clamped to [min, max] so
 * p100 is the exact max. 0 for an empty histogram.
 */
int64_t tg_bench_hist_percentile(const tg_bench_hist_t *h, double p);

/** Arithmetic mean, 0 when empty. */
double tg_bench_hist_mean(const tg_bench_hist_t *h);

#endif
