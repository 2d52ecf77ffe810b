/* test_webhook.c - pure parts of alert delivery: the HMAC signature (RFC 4231
 * vector), the backoff sequence, status classification and the Alertmanager
 * payload, including hostile alert bodies. */
#include <errno.h>
#include <string.h>

#include "tg_test.h"
#include "tickgate/backoff.h"
#include "tickgate/webhook.h"

TG_TEST(signature_matches_rfc4231)
{
    char sig[80];
    const char *data = "what do ya want for nothing?";
    TG_CHECK_EQ_INT(tg_webhook_signature("Jefe", data, strlen(data), sig, sizeof sig), 0);
    TG_CHECK_EQ_STR(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    TG_CHECK_EQ_INT(tg_webhook_signature("Jefe", data, strlen(data), sig, 71), -EINVAL);
    TG_CHECK_EQ_INT(tg_webhook_signature(NULL, data, 1, sig, sizeof sig), -EINVAL);
    /* empty body still signs */
    TG_CHECK_EQ_INT(tg_webhook_signature("k", "", 0, sig, sizeof sig), 0);
    TG_CHECK_EQ_INT(strlen(sig), 71);
}

TG_TEST(backoff_is_one_second_doubling_to_sixty_with_jitter)
{
    /* the webhook uses the project's backoff with base 1 s and cap 60 s */
    const long long s = 1000000000LL;
    uint64_t rng = 7;
    for (int k = 0; k < 200; k++) {
        long long w1 = tg_backoff_ns(1000, 60000, 1, &rng), w3 = tg_backoff_ns(1000, 60000, 3, &rng);
        long long w9 = tg_backoff_ns(1000, 60000, 9, &rng);
        TG_CHECK(w1 >= s * 8 / 10 && w1 <= s * 12 / 10);
        TG_CHECK(w3 >= s * 32 / 10 && w3 <= s * 48 / 10);
        TG_CHECK(w9 >= s * 48 && w9 <= 60 * s);
    }
}

TG_TEST(status_classes)
{
    TG_CHECK_EQ_INT(tg_webhook_classify(200), TG_WEBHOOK_DELIVERED);
    TG_CHECK_EQ_INT(tg_webhook_classify(204), TG_WEBHOOK_DELIVERED);
    TG_CHECK_EQ_INT(tg_webhook_classify(0), TG_WEBHOOK_RETRY); /* timeout, refused */
    TG_CHECK_EQ_INT(tg_webhook_classify(408), TG_WEBHOOK_RETRY);
    TG_CHECK_EQ_INT(tg_webhook_classify(429), TG_WEBHOOK_RETRY);
    TG_CHECK_EQ_INT(tg_webhook_classify(500), TG_WEBHOOK_RETRY);
    TG_CHECK_EQ_INT(tg_webhook_classify(503), TG_WEBHOOK_RETRY);
    TG_CHECK_EQ_INT(tg_webhook_classify(301), TG_WEBHOOK_RETRY); /* redirects are not followed */
    TG_CHECK_EQ_INT(tg_webhook_classify(400), TG_WEBHOOK_REJECT);
    TG_CHECK_EQ_INT(tg_webhook_classify(401), TG_WEBHOOK_REJECT);
    TG_CHECK_EQ_INT(tg_webhook_classify(404), TG_WEBHOOK_REJECT);
    TG_CHECK_EQ_INT(tg_webhook_classify(422), TG_WEBHOOK_REJECT);
}

TG_TEST(alertmanager_payload)
{
    char out[2048];
    const char *firing = "{\"type\":\"alert\",\"alert_id\":\"a-0011223344556677\",\"portfolio_id\":"
                         "\"p-1\",\"rule\":\"price_above\",\"symbol\":\"AAPL\",\"severity\":"
                         "\"medium\",\"state\":\"firing\",\"value\":200,\"threshold\":150,"
                         "\"message\":\"AAPL 200 \\u2265 150\",\"ts\":1700000000123000000}";
    int n = tg_webhook_am_payload(firing, strlen(firing), 0, out, sizeof out);
    TG_CHECK(n > 0 && (size_t)n == strlen(out));
    TG_CHECK_EQ_STR(out, "[{\"labels\":{\"alertname\":\"price_above\",\"portfolio_id\":\"p-1\","
                         "\"severity\":\"medium\",\"symbol\":\"AAPL\"},\"annotations\":{"
                         "\"message\":\"AAPL 200 \xe2\x89\xa5 150\",\"alert_id\":"
                         "\"a-0011223344556677\"},\"startsAt\":\"2023-11-14T22:13:20.123Z\"}]");
    /* resolved: endsAt = its ts, startsAt = the firing time given */
    const char *resolved = "{\"type\":\"alert\",\"alert_id\":\"a-1\",\"feed\":\"pub\",\"rule\":"
                           "\"breaker_open\",\"severity\":\"high\",\"state\":\"resolved\","
                           "\"message\":\"m\",\"ts\":1700000060000000000,\"seq\":3}";
    n = tg_webhook_am_payload(resolved, strlen(resolved), 1700000000123000000LL, out, sizeof out);
    TG_CHECK(n > 0);
    TG_CHECK_EQ_STR(out, "[{\"labels\":{\"alertname\":\"breaker_open\",\"feed\":\"pub\","
                         "\"severity\":\"high\"},\"annotations\":{\"message\":\"m\",\"alert_id\":"
                         "\"a-1\"},\"startsAt\":\"2023-11-14T22:13:20.123Z\",\"endsAt\":"
                         "\"2023-11-14T22:14:20.000Z\"}]");
    TG_CHECK_EQ_INT(tg_webhook_am_payload(firing, strlen(firing), 0, out, 40), -ENOSPC);
}

TG_TEST(alertmanager_payload_hostile_input)
{
    char out[2048];
    const char *bad[] = {
        "", "{", "[]", "null", "{\"alert_id\":\"a\"}",
        /* no portfolio_id nor feed */
        "{\"alert_id\":\"a\",\"rule\":\"r\",\"state\":\"firing\",\"severity\":\"low\",\"ts\":1}",
        /* wrong types */
        "{\"alert_id\":1,\"rule\":\"r\",\"state\":\"firing\",\"severity\":\"low\",\"ts\":1,"
        "\"feed\":\"f\"}",
        "{\"alert_id\":\"a\",\"rule\":\"r\",\"state\":\"firing\",\"severity\":\"low\",\"ts\":\"1\","
        "\"feed\":\"f\"}",
        /* oversized id */
        "{\"alert_id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
        "\"rule\":\"r\",\"state\":\"firing\",\"severity\":\"low\",\"ts\":1,\"feed\":\"f\"}",
        /* truncated */
        "{\"alert_id\":\"a\",\"rule\":\"r\",\"state\":\"firing\",\"severity\":\"low\",\"ts\":1,\"fe",
        NULL};
    for (int i = 0; bad[i]; i++)
        TG_CHECK(tg_webhook_am_payload(bad[i], strlen(bad[i]), 0, out, sizeof out) < 0);
    TG_CHECK_EQ_INT(tg_webhook_am_payload(NULL, 0, 0, out, sizeof out), -EINVAL);
    /* a deep nest is refused by the parser's depth limit, not a crash */
    char deep[4096];
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = 0;
    TG_CHECK(tg_webhook_am_payload(deep, strlen(deep), 0, out, sizeof out) < 0);
}

int main(void)
{
    return tg_test_run();
}
