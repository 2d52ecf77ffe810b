/* test_limits.c - gateway limits (gateway/limits.c): trusted proxies and the
 * X-Forwarded-For client address (hostile and malformed headers included),
 * the per-IP connection cap, the per-user rate window, notification seqs. */
#include <string.h>

#include "gateway/gw.h"
#include "tg_test.h"

static const char *proxies_v[] = {"10.0.0.1", "192.168.0.0/16", "fd00::/8", "bogus", "1.2.3.4/99"};
static const tg_strlist_t proxies = {.v = (char **)proxies_v, .n = 5};
static const tg_strlist_t none = {0};

static const char *addr(const tg_strlist_t *p, const char *peer, const char *xff)
{
    static char out[64];
    gw_client_addr(p, peer, xff, out, sizeof out);
    return out;
}

TG_TEST(trusted_addresses_and_cidrs)
{
    TG_CHECK(gw_ip_trusted(&proxies, "10.0.0.1"));
    TG_CHECK(!gw_ip_trusted(&proxies, "10.0.0.2"));
    TG_CHECK(gw_ip_trusted(&proxies, "192.168.255.7"));
    TG_CHECK(!gw_ip_trusted(&proxies, "192.169.0.1"));
    TG_CHECK(gw_ip_trusted(&proxies, "fd12::1"));
    TG_CHECK(!gw_ip_trusted(&proxies, "fe80::1"));
    TG_CHECK(gw_ip_trusted(&proxies, "1.2.3.4")); /* /99: out of range means the whole address */
    TG_CHECK(!gw_ip_trusted(&proxies, "1.2.3.5"));
    TG_CHECK(!gw_ip_trusted(&proxies, "bogus"));   /* an unparsable entry matches nothing */
    TG_CHECK(!gw_ip_trusted(&proxies, ""));
    TG_CHECK(!gw_ip_trusted(&proxies, "::ffff:10.0.0.1")); /* other family */
    TG_CHECK(!gw_ip_trusted(&none, "10.0.0.1"));
    static const char *odd_v[] = {"10.0.0.0/12", "0.0.0.0/0"};
    tg_strlist_t odd = {.v = (char **)odd_v, .n = 1};
    TG_CHECK(gw_ip_trusted(&odd, "10.15.255.255")); /* partial-byte mask */
    TG_CHECK(!gw_ip_trusted(&odd, "10.16.0.0"));
    odd.n = 2;
    TG_CHECK(gw_ip_trusted(&odd, "203.0.113.9")); /* /0 trusts every IPv4 peer */
}

TG_TEST(xff_only_from_trusted_peers)
{
    /* an untrusted peer cannot choose its address */
    TG_CHECK_EQ_STR(addr(&proxies, "203.0.113.5", "1.1.1.1"), "203.0.113.5");
    TG_CHECK_EQ_STR(addr(&none, "10.0.0.1", "1.1.1.1"), "10.0.0.1");
    /* trusted peer, no or empty header */
    TG_CHECK_EQ_STR(addr(&proxies, "10.0.0.1", NULL), "10.0.0.1");
    TG_CHECK_EQ_STR(addr(&proxies, "10.0.0.1", ""), "10.0.0.1");
    /* one hop */
    TG_CHECK_EQ_STR(addr(&proxies, "10.0.0.1", "198.51.100.7"), "198.51.100.7");
    TG_CHECK_EQ_STR(addr(&proxies, "10.0.0.1", "2001:db8::5"), "2001:db8::5");
}

TG_TEST(xff_rightmost_untrusted_hop)
{
    /* client, then our own proxies: the rightmost address that is not ours */
    TG_CHECK_EQ_STR(addr(&proxies, "10.0.0.1", "198.51.100.7, 192.168.1.1"), "198.51.100.7");
    TG_CHECK_EQ_STR(addr(&proxies, "10.0.0.1", "6.6.6.6, 198.51.100.7, 192.168.1.1,10.0.0.1"),
                    "198.51.100.7"); /* a spoofed leftmost entry is ignored */
    TG_CHECK_EQ_STR(addr(&proxies, "10.0.0.1", " \t198.51.100.7 \t"), "198.51.100.7");
    /* every hop trusted: the leftmost one */
    TG_CHECK_EQ_STR(addr(&proxies, "10.0.0.1", "192.168.3.3, 10.0.0.1"), "192.168.3.3");
}

TG_TEST(xff_hostile_and_malformed)
{
    /* garbage stops the walk: the last address we could trust stays */
    TG_CHECK_EQ_STR(addr(&proxies, "10.0.0.1", "not-an-ip"), "10.0.0.1");
    TG_CHECK_EQ_STR(addr(&proxies, "10.0.0.1", "198.51.100.7, garbage, 192.168.1.1"),
                    "192.168.1.1");
    TG_CHECK_EQ_STR(addr(&proxies, "10.0.0.1", "198.51.100.7,"), "10.0.0.1"); /* empty item */
    TG_CHECK_EQ_STR(addr(&proxies, "10.0.0.1", ",,,"), "10.0.0.1");
    TG_CHECK_EQ_STR(addr(&proxies, "10.0.0.1", "1.2.3.4:80"), "10.0.0.1");    /* port: not an IP */
    TG_CHECK_EQ_STR(addr(&proxies, "10.0.0.1", "\"1.1.1.1\""), "10.0.0.1");
    TG_CHECK_EQ_STR(addr(&proxies, "10.0.0.1", "999.1.1.1"), "10.0.0.1");
    TG_CHECK_EQ_STR(addr(&proxies, "10.0.0.1", "1.1.1.1\n2.2.2.2"), "10.0.0.1");
    /* oversized: a header far longer than the parse buffer is cut, never overrun */
    static char big[8192];
    size_t n = 0;
    while (n + 16 < sizeof big)
        n += (size_t)snprintf(big + n, sizeof big - n, "192.168.0.1, ");
    snprintf(big + n, sizeof big - n, "198.51.100.9");
    const char *got = addr(&proxies, "10.0.0.1", big);
    TG_CHECK(strcmp(got, "10.0.0.1") == 0 || strncmp(got, "192.168.", 8) == 0);
    /* a small output buffer truncates, NUL-terminated */
    char small[8];
    gw_client_addr(&proxies, "10.0.0.1", "198.51.100.7", small, sizeof small);
    TG_CHECK_EQ_STR(small, "198.51.");
}

TG_TEST(ip_cap)
{
    gw_table_t *t;
    TG_CHECK_EQ_INT(gw_table_create(&t), 0);
    TG_CHECK(gw_ipcap_acquire(t, "1.1.1.1", 2));
    TG_CHECK(gw_ipcap_acquire(t, "1.1.1.1", 2));
    TG_CHECK(!gw_ipcap_acquire(t, "1.1.1.1", 2));
    TG_CHECK(gw_ipcap_acquire(t, "2.2.2.2", 2)); /* per address */
    gw_ipcap_release(t, "1.1.1.1");
    TG_CHECK(gw_ipcap_acquire(t, "1.1.1.1", 2));
    gw_ipcap_release(t, "9.9.9.9"); /* unknown: harmless */
    gw_table_destroy(t);
    gw_table_destroy(NULL);
}

TG_TEST(rate_window)
{
    gw_table_t *t;
    TG_CHECK_EQ_INT(gw_table_create(&t), 0);
    const int64_t W = 60000000000LL;
    int64_t retry = 0;
    for (int i = 0; i < 3; i++)
        TG_CHECK(gw_rate_ok(t, "u", 3, W, 1000 + i, &retry));
    TG_CHECK(!gw_rate_ok(t, "u", 3, W, 2000, &retry));
    TG_CHECK_EQ_INT(retry, W - 1000); /* until the oldest request leaves the window */
    TG_CHECK(gw_rate_ok(t, "other", 3, W, 2000, NULL));
    TG_CHECK(gw_rate_ok(t, "u", 3, W, 1000 + W, NULL)); /* the first one left */
    gw_table_destroy(t);
}

TG_TEST(notification_seq_shared_between_threads)
{
    gw_table_t *t;
    TG_CHECK_EQ_INT(gw_table_create(&t), 0);
    TG_CHECK_EQ_INT(gw_notif_seq(t, "alice", 10), 1);
    TG_CHECK_EQ_INT(gw_notif_seq(t, "alice", 10), 1); /* the second thread asks: same seq */
    TG_CHECK_EQ_INT(gw_notif_seq(t, "alice", 11), 2);
    TG_CHECK_EQ_INT(gw_notif_seq(t, "bob", 11), 1);   /* per user */
    TG_CHECK_EQ_INT(gw_notif_seq(t, "alice", 11), 2);
    gw_table_destroy(t);
}

/* A new ingest epoch (cluster failover) drops the old epoch's numbering and
 * history once, whichever thread sees it first; the others keep what the
 * first recorded since. */
TG_TEST(notification_epoch_change_clears_once)
{
    gw_table_t *t;
    TG_CHECK_EQ_INT(gw_table_create(&t), 0);
    TG_CHECK(!gw_notif_epoch(t, "e-1")); /* the first epoch: nothing to drop */
    TG_CHECK_EQ_INT(gw_notif_seq(t, "alice", 10), 1);
    TG_CHECK_EQ_INT(gw_notif_seq(t, "alice", 11), 2);
    tg_msg_t *m = tg_msg_new("{\"type\":\"alert\"}", 16, "\x81", 1);
    m->seq = 2;
    gw_notif_record(t, "alice", m, 8);
    tg_msg_t **v;
    uint32_t n;
    TG_CHECK_EQ_INT(gw_notif_replay(t, "alice", 1, &v, &n), 0);
    TG_CHECK_EQ_INT(n, 1);
    for (uint32_t i = 0; i < n; i++)
        tg_msg_unref(v[i]);
    free(v);
    TG_CHECK(!gw_notif_epoch(t, "e-1")); /* same epoch again: kept */
    TG_CHECK_EQ_INT(gw_notif_seq(t, "alice", 11), 2);
    TG_CHECK(gw_notif_epoch(t, "e-2"));  /* failover: dropped */
    TG_CHECK_EQ_INT(gw_notif_seq(t, "alice", 1), 1); /* the new engine numbers from 1 */
    TG_CHECK(gw_notif_replay(t, "alice", 1, &v, &n) != 0 || n == 0);
    for (uint32_t i = 0; i < n; i++)
        tg_msg_unref(v[i]);
    free(v);
    TG_CHECK(!gw_notif_epoch(t, "e-2")); /* a second thread: nothing dropped */
    TG_CHECK_EQ_INT(gw_notif_seq(t, "alice", 1), 1);
    tg_msg_unref(m);
    gw_table_destroy(t);
}

int main(void)
{
    return tg_test_run();
}
