/* journal_bench.c - tick journal append rate per fsync policy, io_uring vs fallback.
 *
 *   journal_bench [DIR] [TICKS]     (DIR default $TMPDIR or /tmp, TICKS default 2000000)
 *
 * Appends TICKS ticks in batches of 256 (the engine appends what one loop
 * iteration accepted), with the default segment size (64 MiB). Under
 * `always` the owner flushes after every batch, as an engine requiring
 * durability per batch would; that run uses TICKS/20 ticks. Reports
 * records/s and MB/s including the final close (flush + fdatasync), and the
 * p99/max time one tg_journal_append() call blocked the caller.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tickgate/clock.h"
#include "tickgate/journal.h"
#include "tickgate/log.h"

/* false: the pwrite()/fdatasync() fallback (server.disable_io_uring) */
static bool g_uring = true;

#define BATCH 256

static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[4096];
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, de->d_name) < sizeof p)
            unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int run(const char *base, bool uring, tg_journal_fsync_t pol, const char *pname, long ticks)
{
    char dir[4096];
    if ((size_t)snprintf(dir, sizeof dir, "%s/tg-journal-bench-XXXXXX", base) >= sizeof dir ||
        !mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    g_uring = uring; /* false = server.disable_io_uring */

    static const char *const syms[] = {"AAPL", "MSFT", "NVDA", "BTCUSDT", "ETHUSDT", "SPY"};
    tg_tick_t batch[BATCH];
    long nb = (ticks + BATCH - 1) / BATCH;
    int64_t *lat = calloc((size_t)nb, sizeof(*lat));
    tg_journal_t *j;
    int ret = tg_journal_open(&j, dir, 67108864LL, 0, pol, 100, g_uring);
    if (ret < 0 || !lat) {
        fprintf(stderr, "tg_journal_open: %s\n", strerror(-ret));
        return 1;
    }
    bool on = tg_journal_uring_enabled(j);

    int64_t t0 = tg_mono_ns(), ts = tg_now_ns();
    long done = 0;
    for (long b = 0; b < nb; b++) {
        int n = 0;
        for (; n < BATCH && done < ticks; n++, done++) {
            tg_tick_t *t = &batch[n];
            memset(t, 0, sizeof(*t));
            t->ts = ts + done;
            t->price = 18953000000LL + (done % 1000) * 1000000;
            t->size = 100000000LL * (done % 50 + 1);
            t->flags = 1;
            snprintf(t->symbol, sizeof t->symbol, "%s", syms[done % 6]);
            t->sym_len = (uint8_t)strlen(t->symbol);
        }
        int64_t a = tg_mono_ns();
        ret = tg_journal_append(j, batch, (size_t)n);
        lat[b] = tg_mono_ns() - a;
        if (ret == 0 && pol == TG_JOURNAL_FSYNC_ALWAYS)
            ret = tg_journal_flush(j);
        if (ret < 0) {
            fprintf(stderr, "append: %s\n", strerror(-ret));
            return 1;
        }
    }
    uint64_t bytes = tg_journal_bytes(j);
    ret = tg_journal_close(j);
    double s = (double)(tg_mono_ns() - t0) / 1e9;
    qsort(lat, (size_t)nb, sizeof(*lat), cmp_i64);
    printf("%-9s %-8s %9ld ticks %12.0f rec/s %8.1f MB/s  append p99 %7.1f us  max %8.1f us%s\n",
           on ? "io_uring" : "fallback", pname, ticks, (double)ticks / s, (double)bytes / s / 1e6,
           (double)lat[nb * 99 / 100] / 1e3, (double)lat[nb - 1] / 1e3,
           ret ? " (close failed)" : "");
    free(lat);
    rm_dir(dir);
    return ret ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    long ticks = argc > 2 ? atol(argv[2]) : 2000000;
    static const struct {
        tg_journal_fsync_t p;
        const char *name;
        int div;
    } pols[] = {{TG_JOURNAL_FSYNC_NONE, "none", 1},
                {TG_JOURNAL_FSYNC_INTERVAL, "interval", 1},
                {TG_JOURNAL_FSYNC_ALWAYS, "always", 20}};
    int rc = 0;

    tg_log_set_level("error");
    printf("journal_bench: dir %s, batch %d, segment 64 MiB, interval 100 ms\n", base, BATCH);
    for (int u = 1; u >= 0; u--)
        for (size_t i = 0; i < sizeof pols / sizeof pols[0]; i++)
            rc |= run(base, u, pols[i].p, pols[i].name, ticks / pols[i].div);
    return rc;
}
