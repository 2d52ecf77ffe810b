/* test_conformance.c - RFC 6455 checks tickgate makes because lws 4.1.6 does
 * not: the close codes a peer may send (§7.4) and the Sec-WebSocket-Key shape
 * (§4.2.1: base64 of 16 bytes), with malformed, truncated, oversized and
 * hostile input. */
#include <string.h>

#include "gateway/gw.h"
#include "tg_test.h"

TG_TEST(close_codes)
{
    static const int ok[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4000, 4001, 4008, 4999};
    static const int bad[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535, -1};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        TG_CHECK(gw_close_code_valid(ok[i]));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        TG_CHECK(!gw_close_code_valid(bad[i]));
}

static bool key(const char *k)
{
    return gw_ws_key_valid(k, (int)strlen(k));
}

TG_TEST(ws_key)
{
    TG_CHECK(key("dGhlIHNhbXBsZSBub25jZQ==")); /* RFC 6455 §1.3 */
    TG_CHECK(key("AAAAAAAAAAAAAAAAAAAAAA=="));
    TG_CHECK(key("/////////////////////w=="));
    TG_CHECK(!key(""));
    TG_CHECK(!key("dGhlIHNhbXBsZSBub25jZQ"));    /* truncated: no padding */
    TG_CHECK(!key("dGhlIHNhbXBsZSBub25jZQ="));   /* one '=' */
    TG_CHECK(!key("dGhlIHNhbXBsZSBub25jZQ==="));  /* oversized */
    TG_CHECK(!key("dGhlIHNhbXBsZSBub25jZR=="));  /* 17th byte bits set: not 16 bytes */
    TG_CHECK(!key("!!!!!!!!!!!!!!!!!!!!!!=="));  /* not base64 */
    TG_CHECK(!key("dGhlIHNhbXBsZSBub2 5jZQ=="));
    TG_CHECK(!key("dGhlIHNhbXBsZSBub25j=Q=="));
    TG_CHECK(!gw_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ==", 23)); /* length says otherwise */
    char nul[25] = "dGhlIHNhbXBsZSBub25jZQ==";
    nul[5] = 0; /* an embedded NUL is not base64 */
    TG_CHECK(!gw_ws_key_valid(nul, 24));
}

int main(void)
{
    return tg_test_run();
}
