/* test_frame.c - the frame builder: JSON Lines with exactly one '\n' between
 * messages (none before the first, none after the last), MessagePack maps back
 * to back, a message that does not fit leaves the frame unchanged. */
#include <string.h>

#include "gateway/gw.h"
#include "tg_test.h"
#include "tickgate/msg.h"

static tg_msg_t *msg(const char *json)
{
    /* a fixmap with one entry {"n": <len>} stands for the MessagePack form */
    unsigned char mp[4] = {0x81, 0xa1, 'n', (unsigned char)(strlen(json) & 0x7f)};
    return tg_msg_new(json, strlen(json), mp, sizeof mp);
}

TG_TEST(json_lines_one_newline_between)
{
    unsigned char f[256];
    size_t len = 0;
    tg_msg_t *a = msg("{\"a\":1}"), *b = msg("{\"b\":2}"), *c = msg("{\"c\":3}");
    TG_CHECK(gw_frame_append(f, sizeof f, &len, a, false));
    TG_CHECK_EQ_INT(len, 7);
    TG_CHECK(gw_frame_append(f, sizeof f, &len, b, false));
    TG_CHECK(gw_frame_append(f, sizeof f, &len, c, false));
    TG_CHECK_EQ_INT(len, 23);
    TG_CHECK(memcmp(f, "{\"a\":1}\n{\"b\":2}\n{\"c\":3}", 23) == 0);
    tg_msg_unref(a);
    tg_msg_unref(b);
    tg_msg_unref(c);
}

TG_TEST(msgpack_back_to_back)
{
    unsigned char f[64];
    size_t len = 0;
    tg_msg_t *a = msg("{}"), *b = msg("{\"x\":1}");
    TG_CHECK(gw_frame_append(f, sizeof f, &len, a, true));
    TG_CHECK(gw_frame_append(f, sizeof f, &len, b, true));
    TG_CHECK_EQ_INT(len, 8);
    static const unsigned char want[8] = {0x81, 0xa1, 'n', 2, 0x81, 0xa1, 'n', 7};
    TG_CHECK(memcmp(f, want, 8) == 0);
    tg_msg_unref(a);
    tg_msg_unref(b);
}

TG_TEST(full_frame_unchanged_then_next_frame_starts_clean)
{
    unsigned char f[16];
    size_t len = 0;
    tg_msg_t *a = msg("{\"a\":1}"), *b = msg("{\"bb\":22}");
    TG_CHECK(gw_frame_append(f, sizeof f, &len, a, false));
    /* 7 + '\n' + 9 = 17 > 16: refused, nothing written, no dangling '\n' */
    TG_CHECK(!gw_frame_append(f, sizeof f, &len, b, false));
    TG_CHECK_EQ_INT(len, 7);
    /* exactly filling the frame is fine */
    len = 0;
    TG_CHECK(gw_frame_append(f, 9, &len, b, false));
    TG_CHECK_EQ_INT(len, 9);
    TG_CHECK(f[0] == '{' && f[8] == '}');
    tg_msg_unref(a);
    tg_msg_unref(b);
}

TG_TEST(many_messages_split_on_newline_give_them_back)
{
    unsigned char f[4096];
    size_t len = 0;
    int n = 0;
    char buf[64];
    for (;; n++) {
        snprintf(buf, sizeof buf, "{\"type\":\"quote\",\"seq\":%d}", n);
        tg_msg_t *m = msg(buf);
        bool ok = gw_frame_append(f, sizeof f, &len, m, false);
        tg_msg_unref(m);
        if (!ok)
            break;
    }
    TG_CHECK(n > 100);
    int lines = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || f[i] == '\n') {
            snprintf(buf, sizeof buf, "{\"type\":\"quote\",\"seq\":%d}", lines);
            TG_CHECK(i - start == strlen(buf) && memcmp(f + start, buf, i - start) == 0);
            lines++;
            start = i + 1;
        }
    }
    TG_CHECK_EQ_INT(lines, n);
}

int main(void)
{
    return tg_test_run();
}
