/* test_am_firing.c - the Alertmanager firing set on disk: round trip, absent
 * file, torn and foreign lines skipped and counted, a callback's stop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../../src/store/am_firing.h"
#include "tg_test.h"

typedef struct got {
    int n;
    int64_t starts[8];
    char body[8][128];
} got_t;

static int collect(void *arg, int64_t starts, const char *body, size_t len)
{
    got_t *g = arg;
    if (g->n == 8 || len >= sizeof g->body[0])
        return -E2BIG;
    g->starts[g->n] = starts;
    memcpy(g->body[g->n], body, len);
    g->body[g->n][len] = 0;
    g->n++;
    return 0;
}

static void tmpdir(char *d, size_t cap)
{
    snprintf(d, cap, "/tmp/tg-amf-XXXXXX");
    TG_CHECK(mkdtemp(d) != NULL);
}

static void write_file(const char *dir, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/am_firing.log", dir);
    FILE *f = fopen(p, "w");
    TG_CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
}

static void cleanup(const char *dir)
{
    char p[256];
    snprintf(p, sizeof p, "%s/am_firing.log", dir);
    unlink(p);
    rmdir(dir);
}

TG_TEST(round_trip_and_absent_file)
{
    char dir[64];
    tmpdir(dir, sizeof dir);
    got_t g = {0};
    size_t skipped = 9;
    TG_CHECK_EQ_INT(tg_am_firing_load(dir, collect, &g, &skipped), 0); /* absent: empty */
    TG_CHECK_EQ_INT(g.n, 0);
    TG_CHECK_EQ_INT(skipped, 0);
    const char *a = "{\"alert_id\":\"a-1\",\"state\":\"firing\"}", *b = "{\"alert_id\":\"a-2\"}";
    tg_am_firing_t v[2] = {{a, strlen(a), 1763800000123456789LL}, {b, strlen(b), 5}};
    TG_CHECK_EQ_INT(tg_am_firing_save(dir, v, 2), 0);
    TG_CHECK_EQ_INT(tg_am_firing_load(dir, collect, &g, &skipped), 0);
    TG_CHECK_EQ_INT(g.n, 2);
    TG_CHECK(g.starts[0] == 1763800000123456789LL && g.starts[1] == 5);
    TG_CHECK_EQ_STR(g.body[0], a);
    TG_CHECK_EQ_STR(g.body[1], b);
    /* the empty set empties the file */
    TG_CHECK_EQ_INT(tg_am_firing_save(dir, v, 0), 0);
    g.n = 0;
    TG_CHECK_EQ_INT(tg_am_firing_load(dir, collect, &g, &skipped), 0);
    TG_CHECK_EQ_INT(g.n, 0);
    cleanup(dir);
}

TG_TEST(torn_and_foreign_lines_are_skipped)
{
    char dir[64];
    tmpdir(dir, sizeof dir);
    write_file(dir, "not a number {\"x\":1}\n"
                    "-5 {\"neg\":1}\n"
                    "12x {\"bad\":1}\n"
                    "7 no-json\n"
                    "8 \n"
                    "\n"
                    "42 {\"ok\":1}\n"
                    "99 {\"torn\":");
    got_t g = {0};
    size_t skipped = 0;
    TG_CHECK_EQ_INT(tg_am_firing_load(dir, collect, &g, &skipped), 0);
    TG_CHECK_EQ_INT(g.n, 1);
    TG_CHECK(g.starts[0] == 42);
    TG_CHECK_EQ_STR(g.body[0], "{\"ok\":1}");
    TG_CHECK_EQ_INT(skipped, 7);
    cleanup(dir);
}

TG_TEST(callback_stops_the_load)
{
    char dir[64];
    tmpdir(dir, sizeof dir);
    write_file(dir, "1 {\"a\":1}\n2 {\"b\":2}\n");
    got_t g = {0};
    g.n = 8; /* full: the first callback refuses */
    size_t skipped = 0;
    TG_CHECK_EQ_INT(tg_am_firing_load(dir, collect, &g, &skipped), -E2BIG);
    TG_CHECK_EQ_INT(tg_am_firing_save("/nonexistent-dir-tg", NULL, 0) < 0, 1);
    cleanup(dir);
}

int main(void)
{
    return tg_test_run();
}
