/* test_feed_tcp.c - the `tcp` feed: line parsing, reassembly, and both I/O
 * backends (io_uring, and the epoll fallback forced by server.disable_io_uring)
 * driven through a real tg_feed_t whose ring the test drains.
 *
 * The adapter's .c is included to reach its statics (h2o style); its ops table
 * is renamed so it does not clash with the copy in tickgate_core.
 */
#define tg_feed_tcp_ops tg_feed_tcp_ops_under_test
#include "feeds/feed_tcp.c"
#undef tg_feed_tcp_ops

#include <stdio.h>

#include "tg_test.h"
#include "tickgate/config.h"
#include "tickgate/metrics.h"

static int64_t dec(const char *s)
{
    tg_dec_t d = 0;
    tg_dec_parse(s, strlen(s), &d);
    return d;
}

static int parse(const char *s, tg_tick_t *t)
{
    return parse_line(s, strlen(s), t);
}

TG_TEST(parse_line_fields)
{
    tg_tick_t t;
    TG_CHECK_EQ_INT(parse("AAPL 189.53 100", &t), 1);
    TG_CHECK_EQ_STR(t.symbol, "AAPL");
    TG_CHECK_EQ_INT(t.sym_len, 4);
    TG_CHECK_EQ_INT(t.price, dec("189.53"));
    TG_CHECK_EQ_INT(t.size, dec("100"));
    TG_CHECK_EQ_INT(t.src_ts, 0);
    TG_CHECK_EQ_INT(t.flags, TG_TICK_TRADE);

    TG_CHECK_EQ_INT(parse("\tMSFT  0.00000001\t2.5 1763800000123456789\r", &t), 1);
    TG_CHECK_EQ_STR(t.symbol, "MSFT");
    TG_CHECK_EQ_INT(t.price, 1);
    TG_CHECK_EQ_INT(t.size, dec("2.5"));
    TG_CHECK_EQ_INT(t.src_ts, 1763800000123456789LL);

    TG_CHECK_EQ_INT(parse("", &t), 0);
    TG_CHECK_EQ_INT(parse("  \r", &t), 0);
}

TG_TEST(parse_line_malformed)
{
    tg_tick_t t;
    TG_CHECK_EQ_INT(parse("AAPL", &t), -EINVAL);
    TG_CHECK_EQ_INT(parse("AAPL 1.5", &t), -EINVAL);
    TG_CHECK_EQ_INT(parse("AAPL x 1", &t), -EINVAL);
    TG_CHECK_EQ_INT(parse("AAPL 1.5 y", &t), -EINVAL);
    TG_CHECK_EQ_INT(parse("AAPL 1.5 1 12a", &t), -EINVAL);
    TG_CHECK_EQ_INT(parse("AAPL 1.5 1 99999999999999999999", &t), -EINVAL); /* > int64 */
    TG_CHECK_EQ_INT(parse("AAPL 1.5 1 1 extra", &t), -EINVAL);
    TG_CHECK_EQ_INT(parse("AAPL 1.123456789 1", &t), -EINVAL); /* not exact in 8 places */
    TG_CHECK_EQ_INT(parse("AAPL 1.2.3 1", &t), -EINVAL);
    /* a too-long symbol parses with sym_len 0: validation says bad_symbol */
    TG_CHECK_EQ_INT(parse("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456 1 1", &t), 1);
    TG_CHECK_EQ_INT(t.sym_len, 0);
    /* control bytes (NUL included) in a symbol: sym_len 0 too (found by fuzz_tcp_line) */
    TG_CHECK_EQ_INT(parse_line("MS\0FT 1 1", 9, &t), 1);
    TG_CHECK_EQ_INT(t.sym_len, 0);
    TG_CHECK_EQ_STR(t.symbol, "");
    TG_CHECK_EQ_INT(parse("MS\001FT 1 1", &t), 1);
    TG_CHECK_EQ_INT(t.sym_len, 0);
    /* negative prices are numbers: validation says bad_price */
    TG_CHECK_EQ_INT(parse("AAPL -1 1", &t), 1);
    TG_CHECK(t.price < 0);
}

/* ---- the adapter on a real feed ---- */

typedef struct rig {
    tg_config_t cfg;
    tg_metrics_t *m;
    tg_feed_t f;
    int port;
} rig_t;

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

static int rig_start(rig_t *r, bool disable_uring)
{
    char conf[512], err[256];
    memset(r, 0, sizeof *r);
    r->port = free_port();
    snprintf(conf, sizeof conf,
             "feeds = ({ name = \"pub\"; type = \"tcp\"; listen = \"127.0.0.1:%d\";"
             " breaker = { stale_after_ms = 0; }; });\n",
             r->port);
    if (tg_config_load_string(&r->cfg, conf, strlen(conf), "test", NULL, err, sizeof err)) {
        fprintf(stderr, "config: %s\n", err);
        return -1;
    }
    r->cfg.server.disable_io_uring = disable_uring;
    if (tg_metrics_create(&r->m))
        return -1;
    if (tg_feed_init(&r->f, &r->cfg, 0, 65536, r->m, NULL, NULL))
        return -1;
    r->f.ops = &tg_feed_tcp_ops_under_test; /* run this file's copy */
    return tg_feed_start(&r->f);
}

static void rig_stop(rig_t *r)
{
    tg_feed_destroy(&r->f);
    tg_metrics_destroy(r->m);
    tg_config_free(&r->cfg);
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < 200; i++) {
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
            return fd;
        usleep(10000);
    }
    close(fd);
    return -1;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* Drain ticks (not status records) from the ring until `want` or 5 s. */
static size_t drain(rig_t *r, tg_tick_t *out, size_t want)
{
    size_t got = 0;
    int64_t end = tg_mono_ns() + 5000000000LL;
    tg_tick_t buf[256];
    while (got < want && tg_mono_ns() < end) {
        size_t n = tg_ring_pop(r->f.ring, buf, 256);
        for (size_t i = 0; i < n; i++)
            if (!(buf[i].flags & TG_TICK_STATUS) && got < want)
                out[got++] = buf[i];
        if (!n)
            usleep(1000);
    }
    return got;
}

static void burst(bool disable_uring)
{
    rig_t r;
    TG_CHECK_EQ_INT(rig_start(&r, disable_uring), 0);
    int fd = connect_to(r.port);
    TG_CHECK(fd >= 0);
    if (fd < 0) {
        rig_stop(&r);
        return;
    }
    enum { N = 20000 };
    size_t cap = (size_t)N * 48 + 8192, len = 0;
    char *text = malloc(cap);
    for (int i = 0; i < N; i++)
        len +=
            (size_t)snprintf(text + len, cap - len, "S%02d %d.%04d %d %lld\n", i % 40, 100 + i % 13,
                             i % 10000, 1 + i % 97, (long long)(tg_now_ns() - 1000000000LL));
    /* garbage interleaved at the end: malformed, overlong (complete and split) */
    len += (size_t)snprintf(text + len, cap - len, "BAD x y\n");
    memset(text + len, 'Z', 300);
    len += 300;
    text[len++] = '\n';
    memset(text + len, 'Y', 3000);
    len += 3000;
    len += (size_t)snprintf(text + len, cap - len, " 1 1\nLAST 7.25 3\n");
    /* odd chunks so lines straddle reads */
    for (size_t o = 0; o < len; o += 1237)
        send_all(fd, text + o, len - o < 1237 ? len - o : 1237);
    tg_tick_t *ticks = malloc(sizeof(tg_tick_t) * (N + 1));
    size_t got = drain(&r, ticks, N + 1);
    TG_CHECK_EQ_INT(got, N + 1);
    bool order_ok = true;
    for (size_t i = 0; i + 1 < got && i < N; i++) {
        char sym[8];
        snprintf(sym, sizeof sym, "S%02d", (int)(i % 40));
        order_ok &= strcmp(ticks[i].symbol, sym) == 0 &&
                    ticks[i].size == (tg_dec_t)(1 + i % 97) * TG_DEC_SCALE;
    }
    TG_CHECK(order_ok);
    if (got == N + 1)
        TG_CHECK_EQ_STR(ticks[N].symbol, "LAST");
    /* the parse errors are counted on the feed thread before LAST was pushed */
    TG_CHECK_EQ_INT(atomic_load(&r.f.m_rejected[TG_REJECT_PARSE_ERROR]->v), 3);
    tcpf_t *s = r.f.priv;
    TG_CHECK_EQ_INT(atomic_load(&s->m_uring->v), disable_uring ? 0 : s->uring);
    if (!disable_uring && !s->uring)
        fprintf(stderr, "note: io_uring unavailable here, the epoll path ran twice\n");

    /* the last publisher leaving is a disconnect: the breaker opens */
    close(fd);
    int64_t end = tg_mono_ns() + 2000000000LL;
    while (tg_feed_state(&r.f) != TG_BREAKER_OPEN && tg_mono_ns() < end)
        usleep(1000);
    TG_CHECK_EQ_INT(tg_feed_state(&r.f), TG_BREAKER_OPEN);
    free(ticks);
    free(text);
    rig_stop(&r);
}

TG_TEST(burst_io_uring)
{
    burst(false);
}

TG_TEST(burst_epoll_fallback)
{
    burst(true);
}

int main(void)
{
    return tg_test_run();
}
