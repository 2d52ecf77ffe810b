/* test_bench_hist.c - tickgate-bench's log-linear histogram: bucket geometry
 * and percentiles on distributions whose percentiles are known. */
#include "tg_test.h"

#include "../../../bench/tickgate-bench/hist.c"

#include <stdint.h>

static tg_bench_hist_t h, h2; /* 58 KiB each: not on the stack */

/* |got - want| <= tol * want */
static int near(int64_t got, int64_t want, double tol)
{
    double d = (double)got - (double)want;
    if (d < 0)
        d = -d;
    return d <= tol * (double)want;
}

TG_TEST(empty_histogram_reports_zero)
{
    tg_bench_hist_init(&h);
    TG_CHECK_EQ_INT(tg_bench_hist_percentile(&h, 50), 0);
    TG_CHECK_EQ_INT(tg_bench_hist_percentile(&h, 99.9), 0);
    TG_CHECK(tg_bench_hist_mean(&h) == 0.0);
}

TG_TEST(small_values_are_exact)
{
    tg_bench_hist_init(&h);
    for (int v = 1; v <= 100; v++)
        tg_bench_hist_record(&h, v);
    TG_CHECK_EQ_INT(tg_bench_hist_percentile(&h, 50), 50);
    TG_CHECK_EQ_INT(tg_bench_hist_percentile(&h, 90), 90);
    TG_CHECK_EQ_INT(tg_bench_hist_percentile(&h, 99), 99);
    TG_CHECK_EQ_INT(tg_bench_hist_percentile(&h, 100), 100);
    TG_CHECK_EQ_INT(tg_bench_hist_percentile(&h, 0), 1);
    TG_CHECK_EQ_INT(h.count, 100);
    TG_CHECK(tg_bench_hist_mean(&h) == 50.5);
}

TG_TEST(bucket_geometry_bounds_relative_error)
{
    /* every value lies in its bucket, buckets are contiguous, width <= lo/128 */
    uint64_t prev_hi = 0;
    for (uint32_t i = 0; i < tg_bench_hist_index((uint64_t)INT64_MAX) + 1; i++) {
        uint64_t lo, hi;
        tg_bench_hist_bucket_range(i, &lo, &hi);
        if (i > 0 && lo != prev_hi + 1) {
            TG_CHECK(lo == prev_hi + 1);
            break;
        }
        if (lo >= 256 && (double)(hi - lo) > (double)lo / TG_HIST_HALF) {
            TG_CHECK((double)(hi - lo) <= (double)lo / TG_HIST_HALF);
            break;
        }
        prev_hi = hi;
    }
    TG_CHECK(tg_bench_hist_index((uint64_t)INT64_MAX) < TG_HIST_BUCKETS);
    uint64_t x = 88172645463325252ull;
    for (int k = 0; k < 100000; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint64_t v = x >> (1 + k % 63);
        uint64_t lo, hi;
        uint32_t i = tg_bench_hist_index(v);
        tg_bench_hist_bucket_range(i, &lo, &hi);
        if (!(lo <= v && v <= hi)) {
            TG_CHECK(lo <= v && v <= hi);
            break;
        }
    }
}

TG_TEST(uniform_distribution_percentiles_within_one_percent)
{
    tg_bench_hist_init(&h);
    for (int64_t v = 1; v <= 1000000; v++)
        tg_bench_hist_record(&h, v);
    TG_CHECK(near(tg_bench_hist_percentile(&h, 50), 500000, 0.01));
    TG_CHECK(near(tg_bench_hist_percentile(&h, 90), 900000, 0.01));
    TG_CHECK(near(tg_bench_hist_percentile(&h, 99), 990000, 0.01));
    TG_CHECK(near(tg_bench_hist_percentile(&h, 99.9), 999000, 0.01));
    TG_CHECK_EQ_INT(tg_bench_hist_percentile(&h, 100), 1000000);
    TG_CHECK_EQ_INT(h.min, 1);
    TG_CHECK_EQ_INT(h.max, 1000000);
    /* the reported value is never below the true one (highest equivalent value) */
    TG_CHECK(tg_bench_hist_percentile(&h, 50) >= 500000);
}

TG_TEST(bimodal_latencies_split_at_the_right_rank)
{
    /* 99 % at 100 us, 1 % at 10 ms (in ns) */
    tg_bench_hist_init(&h);
    for (int i = 0; i < 99000; i++)
        tg_bench_hist_record(&h, 100000);
    for (int i = 0; i < 1000; i++)
        tg_bench_hist_record(&h, 10000000);
    TG_CHECK(near(tg_bench_hist_percentile(&h, 50), 100000, 0.008));
    TG_CHECK(near(tg_bench_hist_percentile(&h, 99), 100000, 0.008));
    TG_CHECK(near(tg_bench_hist_percentile(&h, 99.9), 10000000, 0.008));
    TG_CHECK_EQ_INT(tg_bench_hist_percentile(&h, 100), 10000000);
}

TG_TEST(exponential_distribution_percentiles)
{
    /* inverse CDF: value at quantile q of Exp(mean 1 ms) is -ln(1-q) ms */
    tg_bench_hist_init(&h);
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double q = (i + 0.5) / n;
        tg_bench_hist_record(&h, (int64_t)(-log(1 - q) * 1e6));
    }
    TG_CHECK(near(tg_bench_hist_percentile(&h, 50), (int64_t)(log(2) * 1e6), 0.01));
    TG_CHECK(near(tg_bench_hist_percentile(&h, 99), (int64_t)(log(100) * 1e6), 0.01));
    TG_CHECK(near(tg_bench_hist_percentile(&h, 99.9), (int64_t)(log(1000) * 1e6), 0.01));
    TG_CHECK(near((int64_t)tg_bench_hist_mean(&h), 1000000, 0.01));
}

TG_TEST(negative_values_clamp_to_zero_and_are_counted)
{
    tg_bench_hist_init(&h);
    tg_bench_hist_record(&h, -5);
    tg_bench_hist_record(&h, 10);
    TG_CHECK_EQ_INT(h.negative, 1);
    TG_CHECK_EQ_INT(h.min, 0);
    TG_CHECK_EQ_INT(tg_bench_hist_percentile(&h, 50), 0);
}

TG_TEST(huge_values_do_not_overflow)
{
    tg_bench_hist_init(&h);
    tg_bench_hist_record(&h, INT64_MAX);
    tg_bench_hist_record(&h, 1);
    TG_CHECK_EQ_INT(tg_bench_hist_percentile(&h, 100), INT64_MAX);
    TG_CHECK(tg_bench_hist_percentile(&h, 99) > 0);
}

TG_TEST(merge_equals_recording_everything_in_one)
{
    tg_bench_hist_init(&h);
    tg_bench_hist_init(&h2);
    static tg_bench_hist_t all;
    tg_bench_hist_init(&all);
    for (int64_t v = 0; v < 50000; v++) {
        tg_bench_hist_record(v % 3 ? &h : &h2, v * 37);
        tg_bench_hist_record(&all, v * 37);
    }
    tg_bench_hist_merge(&h, &h2);
    TG_CHECK_EQ_INT(h.count, all.count);
    TG_CHECK_EQ_INT(h.min, all.min);
    TG_CHECK_EQ_INT(h.max, all.max);
    TG_CHECK(memcmp(h.counts, all.counts, sizeof(h.counts)) == 0);
    TG_CHECK_EQ_INT(tg_bench_hist_percentile(&h, 99.9), tg_bench_hist_percentile(&all, 99.9));
}

int main(void)
{
    return tg_test_run();
}
