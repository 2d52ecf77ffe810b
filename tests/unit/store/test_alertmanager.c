/* test_alertmanager.c - the Alertmanager set (alertmanager.c) without HTTP:
 * a resolution whose labels differ from its firing (unpriced names a symbol
 * only while firing) still ends the alert under the labels it fired with; a
 * kept resolution is dropped when the same labels fire again; a refused
 * resolution is kept for the re-send. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/alertmanager.h"
#include "tg_test.h"

static char posts[16][4096];
static int nposts;
static bool accept = true;

static bool post(void *ctx, const char *payload, size_t len)
{
    (void)ctx;
    if (nposts < 16) {
        size_t n = len < sizeof posts[0] - 1 ? len : sizeof posts[0] - 1;
        memcpy(posts[nposts], payload, n);
        posts[nposts][n] = 0;
    }
    nposts++;
    return accept;
}

static const char *ev(char *buf, size_t cap, const char *id, const char *state, const char *sym,
                      long long ts)
{
    snprintf(buf, cap,
             "{\"type\":\"alert\",\"alert_id\":\"%s\",\"portfolio_id\":\"p-1\",\"rule\":\"unpriced\","
             "%s%s%s\"severity\":\"high\",\"state\":\"%s\",\"message\":\"m\",\"value\":1,"
             "\"threshold\":2,\"ts\":%lld}",
             id, sym ? "\"symbol\":\"" : "", sym ? sym : "", sym ? "\"," : "", state, ts);
    return buf;
}

TG_TEST(resolution_uses_the_firing_labels)
{
    tg_am_t am;
    TG_CHECK_EQ_INT(tg_am_init(&am, "", false, 60000000000LL, 3600000000000LL, post, NULL), 0);
    char b[1024];
    nposts = 0;
    ev(b, sizeof b, "a-1", "firing", "XYZ", 1763800000000000000LL);
    tg_am_event(&am, b, strlen(b), 1);
    TG_CHECK_EQ_INT(am.n_am, 1);
    TG_CHECK(strstr(posts[0], "\"symbol\":\"XYZ\"") != NULL);
    /* resolved without the symbol: matched by alert_id, sent with the firing labels */
    ev(b, sizeof b, "a-1", "resolved", NULL, 1763800001000000000LL);
    tg_am_event(&am, b, strlen(b), 2);
    TG_CHECK_EQ_INT(am.n_am, 0);
    TG_CHECK_EQ_INT(nposts, 2);
    TG_CHECK(strstr(posts[1], "\"symbol\":\"XYZ\"") != NULL);
    TG_CHECK(strstr(posts[1], "\"endsAt\":\"2025-11-22T08:26:41") != NULL);
    TG_CHECK(strstr(posts[1], "\"startsAt\":\"2025-11-22T08:26:40") != NULL);
    tg_am_free(&am);
}

TG_TEST(kept_resolution_dropped_when_the_labels_fire_again)
{
    tg_am_t am;
    TG_CHECK_EQ_INT(tg_am_init(&am, "", false, 60000000000LL, 3600000000000LL, post, NULL), 0);
    char b[1024];
    nposts = 0;
    ev(b, sizeof b, "a-1", "firing", "XYZ", 1763800000000000000LL);
    tg_am_event(&am, b, strlen(b), 1);
    accept = false; /* Alertmanager down: the resolution is kept */
    ev(b, sizeof b, "a-1", "resolved", "XYZ", 1763800001000000000LL);
    tg_am_event(&am, b, strlen(b), 2);
    TG_CHECK_EQ_INT(am.n_am_resolved, 1);
    /* the same labels fire again before it was taken: the old end must not
     * follow the new start in a re-send */
    ev(b, sizeof b, "a-2", "firing", "XYZ", 1763800002000000000LL);
    tg_am_event(&am, b, strlen(b), 3);
    TG_CHECK_EQ_INT(am.n_am_resolved, 0);
    TG_CHECK_EQ_INT(am.n_am, 1);
    accept = true;
    /* another label set's kept resolution stays */
    accept = false;
    ev(b, sizeof b, "a-3", "firing", "QQQ", 1763800003000000000LL);
    tg_am_event(&am, b, strlen(b), 4);
    ev(b, sizeof b, "a-3", "resolved", "QQQ", 1763800004000000000LL);
    tg_am_event(&am, b, strlen(b), 5);
    ev(b, sizeof b, "a-4", "firing", "XYZ", 1763800005000000000LL); /* a-2 still firing: same set */
    tg_am_event(&am, b, strlen(b), 6);
    TG_CHECK_EQ_INT(am.n_am_resolved, 1);
    accept = true;
    tg_am_free(&am);
}

int main(void)
{
    return tg_test_run();
}
