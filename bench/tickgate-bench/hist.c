/* hist.c - log-linear histogram for tickgate-bench latencies (see hist.h). */
#include "hist.h"

#include <math.h>
#include <string.h>

void tg_bench_hist_init(tg_bench_hist_t *h)
{
    memset(h, 0, sizeof(*h));
}

void tg_bench_hist_bucket_range(uint32_t idx, uint64_t *lo, uint64_t *hi)
{
    if (idx < (1u << TG_HIST_SUB_BITS)) {
        *lo = *hi = idx;
        return;
    }
    uint32_t e = idx / TG_HIST_HALF - 1;
    uint64_t m = idx % TG_HIST_HALF + TG_HIST_HALF;
    *lo = m << e;
    /* the top bucket's upper end would overflow: saturate */
    *hi = (e >= 64 - TG_HIST_SUB_BITS + 1) ? UINT64_MAX : ((m + 1) << e) - 1;
}

void tg_bench_hist_merge(tg_bench_hist_t *dst, const tg_bench_hist_t *src)
{
    if (src->count == 0)
        return;
    for (uint32_t i = 0; i < TG_HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    if (dst->count == 0 || src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->count += src->count;
    dst->negative += src->negative;
    dst->sum += src->sum;
}

int64_t tg_bench_hist_percentile(const tg_bench_hist_t *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p <= 0)
        return h->min;
    if (p >= 100)
        return h->max;
    /* rank of the wanted value, 1-based; ceil so p50 of {1,2} is 1 */
    uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)h->count);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < TG_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t lo, hi;
            tg_bench_hist_bucket_range(i, &lo, &hi);
            int64_t v = hi > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)hi;
            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max;
}

double tg_bench_hist_mean(const tg_bench_hist_t *h)
{
    return h->count ? h->sum / (double)h->count : 0.0;
}
