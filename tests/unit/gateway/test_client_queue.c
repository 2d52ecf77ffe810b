/* test_client_queue.c - a client's send queue (SPEC §11) without lws: the
 * thread's send hook counts sends and, for the inflight test, writes to a
 * real loopback TCP socket whose peer does not read.
 *   - one send per client per pass, however many messages the pass brought;
 *   - at most max_inflight_bytes unacknowledged in the socket (SIOCOUTQ), the
 *     rest waiting in the client's queue, where quotes conflate per symbol and
 *     replies are kept; once the peer reads, the newest quote goes out;
 *   - max_hz: one message per interval per key, the newest, held back until
 *     the interval ends;
 *   - ticks published while a pass is written reach the clients not yet
 *     written in it; the ones written already get them first in the next. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/gw.h"
#include "tg_test.h"
#include "tickgate/clock.h"
#include "tickgate/config.h"
#include "tickgate/metrics.h"
#include "tickgate/ring.h"

static tg_config_t cfg;
static tg_gateway_t gw;
static gw_thread_t th;
static unsigned nsend;
static char last[1 << 18];
static size_t lastlen;

static int fake_send(gw_client_t *s, unsigned char *p, size_t len)
{
    nsend++;
    lastlen = len < sizeof last ? len : sizeof last;
    memcpy(last, p, lastlen);
    if (s->fd >= 0) {
        ssize_t w = write(s->fd, p, len);
        return w < 0 ? -1 : (int)w;
    }
    return (int)len;
}

static void setup(void)
{
    static bool once;
    if (!once) {
        tg_config_defaults(&cfg);
        once = true;
    }
    memset(&gw, 0, sizeof gw);
    gw.cfg = &cfg;
    static tg_metrics_t *metrics;
    if (!metrics)
        tg_metrics_create(&metrics);
    gw.metrics = metrics;
    memset(&th, 0, sizeof th);
    th.g = &gw;
    th.lim = cfg.limits;
    th.frame_cap = 256 * 1024;
    th.frame = malloc(LWS_PRE + th.frame_cap + GW_FRAME_SLACK);
    th.send = fake_send;
    th.direct_write = true;
    gw_hub_init(&th.hub, 1000, 1 << 24);
    nsend = 0;
}

static void teardown(void)
{
    while (th.clients)
        gw_client_free(th.clients);
    gw_hub_free(&th.hub);
    free(th.frame);
    free(th.writers);
    gw_pass_free(&th);
    free(th.gated);
    free(th.hz);
}

static gw_client_t *client(int fd)
{
    gw_client_t *s = gw_client_new(&th, NULL);
    s->fd = fd;
    s->state = GW_ACTIVE;
    return s;
}

static int sub(gw_client_t *s, const char *sym)
{
    return gw_client_sub(s, gw_fanout_key(&th, TG_CH_MARKET_DATA, sym), true);
}

static tg_msg_t *quote(const char *sym, uint64_t seq, size_t pad)
{
    char j[4096];
    int n = snprintf(j, sizeof j, "{\"type\":\"quote\",\"symbol\":\"%s\",\"seq\":%llu,\"pad\":\"%*s\"}",
                     sym, (unsigned long long)seq, (int)pad, "");
    unsigned char mp[4] = {0x81, 0xa1, 's', (unsigned char)(seq & 0x7f)};
    tg_msg_t *m = tg_msg_new(j, (size_t)n, mp, sizeof mp);
    m->type = TG_MSG_QUOTE;
    m->channel = TG_CH_MARKET_DATA;
    m->seq = seq;
    snprintf(m->key_name, sizeof m->key_name, "%s", sym);
    return m;
}

static void publish(const char *sym, uint64_t seq, size_t pad)
{
    gw_fanout_publish(&th, gw_fanout_key(&th, TG_CH_MARKET_DATA, sym), quote(sym, seq, pad));
}

static int lines_in_last(void)
{
    int n = lastlen ? 1 : 0;
    for (size_t i = 0; i < lastlen; i++)
        n += last[i] == '\n';
    return n;
}

static bool last_has(const char *needle)
{
    return memmem(last, lastlen, needle, strlen(needle)) != NULL;
}

TG_TEST(one_send_per_client_per_pass)
{
    setup();
    gw_client_t *a = client(-1), *b = client(-1);
    const char *syms[] = {"S0", "S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9"};
    for (int i = 0; i < 10; i++) {
        sub(a, syms[i]);
        if (i % 2 == 0)
            sub(b, syms[i]);
    }
    /* a pass: 50 messages published, then each affected client written once */
    for (int r = 0; r < 5; r++)
        for (int i = 0; i < 10; i++)
            publish(syms[i], (uint64_t)(r * 10 + i + 1), 0);
    gw_thread_flush_writers(&th, true);
    TG_CHECK_EQ_INT(nsend, 2);
    TG_CHECK_EQ_INT(a->writes, 1);
    TG_CHECK_EQ_INT(b->writes, 1);
    TG_CHECK_EQ_INT(lines_in_last() > 0, 1);
    /* every message went out, none conflated: the client is not behind */
    TG_CHECK_EQ_INT(th.cnt.sent[TG_CH_MARKET_DATA], 50 + 25);
    TG_CHECK_EQ_INT(th.cnt.conflated[TG_CH_MARKET_DATA], 0);
    TG_CHECK_EQ_INT(a->pending_bytes, 0);
    /* next pass: one message for a only */
    publish("S1", 99, 0);
    gw_thread_flush_writers(&th, true);
    TG_CHECK_EQ_INT(nsend, 3);
    TG_CHECK_EQ_INT(a->writes, 2);
    TG_CHECK_EQ_INT(b->writes, 1);
    TG_CHECK_EQ_INT(lines_in_last(), 1);
    /* a pass with nothing for anyone sends nothing */
    gw_thread_flush_writers(&th, true);
    TG_CHECK_EQ_INT(nsend, 3);
    teardown();
}

/* A loopback TCP connection whose accepting side never reads (tiny buffer). */
static int stalled_pair(int *peer)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 1) != 0 ||
        getsockname(l, (struct sockaddr *)&a, &al) != 0)
        return -1;
    int c = socket(AF_INET, SOCK_STREAM, 0);
    int big = 1 << 20; /* the bound is ours, not the send buffer's */
    setsockopt(c, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    if (connect(c, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    *peer = accept(l, NULL, NULL);
    close(l);
    fcntl(c, F_SETFL, O_NONBLOCK);
    return c;
}

static int outq(int fd)
{
    int q = -1;
    ioctl(fd, SIOCOUTQ, &q);
    return q;
}

TG_TEST(inflight_bound_then_conflation_then_freshest)
{
    setup();
    th.lim.max_inflight_bytes = 16384;
    int peer = -1;
    int fd = stalled_pair(&peer);
    TG_CHECK(fd >= 0 && peer >= 0);
    gw_client_t *s = client(fd);
    sub(s, "AAA");
    sub(s, "BBB");
    /* passes of ~1 KiB quotes until the socket holds the limit */
    uint64_t seq = 0;
    int max_outq = 0;
    for (int pass = 0; pass < 400 && !s->gated; pass++) {
        for (int i = 0; i < 4; i++) {
            publish("AAA", ++seq, 1000);
            publish("BBB", seq, 1000);
        }
        gw_thread_flush_writers(&th, true);
        int q = outq(fd);
        if (q > max_outq)
            max_outq = q;
    }
    TG_CHECK(s->gated);
    TG_CHECK_EQ_INT(s->state, GW_ACTIVE);
    /* never more than the limit unacknowledged (plus one message: a frame's
     * first message always fits) */
    TG_CHECK(max_outq <= 16384 + 1100);
    TG_CHECK(max_outq >= 8192);
    /* beyond it: one pending quote per symbol, the newest; replies are kept */
    unsigned sends = nsend;
    uint64_t conflated = th.cnt.conflated[TG_CH_MARKET_DATA];
    for (int i = 0; i < 50; i++) {
        publish("AAA", ++seq, 1000);
        publish("BBB", seq, 1000);
    }
    gw_client_reply(s, "{\"type\":\"pong\"}", 15, "\x81\xa1t\x01", 4);
    gw_thread_flush_writers(&th, true);
    gw_fanout_pace(&th, tg_mono_ns()); /* still full: stays gated */
    TG_CHECK_EQ_INT(nsend, sends);
    TG_CHECK(th.cnt.conflated[TG_CH_MARKET_DATA] >= conflated + 98);
    TG_CHECK(s->pending_bytes < 2 * 1100 + 64 + 4 * 1100 * 8); /* slots + what the FIFO held */
    TG_CHECK(s->gated);
    /* the peer reads everything: the next pace writes the newest quotes */
    char buf[65536];
    fcntl(peer, F_SETFL, O_NONBLOCK);
    for (int i = 0; i < 200; i++) {
        while (read(peer, buf, sizeof buf) > 0)
            ;
        if (outq(fd) == 0)
            break;
        usleep(2000);
    }
    char want[64];
    bool fresh = false;
    for (int i = 0; i < 20 && !fresh; i++) {
        gw_fanout_pace(&th, tg_mono_ns());
        /* what one frame did not hold goes on writable turns (lws's, here ours) */
        while ((s->clen || s->dlen) && !s->gated)
            TG_CHECK_EQ_INT(gw_client_write(s), 0);
        snprintf(want, sizeof want, "\"symbol\":\"AAA\",\"seq\":%llu,", (unsigned long long)seq);
        fresh = last_has(want);
        while (read(peer, buf, sizeof buf) > 0)
            ;
        usleep(2000);
    }
    TG_CHECK(fresh);
    TG_CHECK(!s->gated);
    TG_CHECK_EQ_INT(s->clen, 0); /* the pong went out too */
    close(peer);
    teardown();
    close(fd);
}

TG_TEST(max_hz_one_per_interval_newest_released_at_interval_end)
{
    setup();
    gw_client_t *s = client(-1);
    int idx = sub(s, "HZ");
    gw_client_set_interval(s, (uint32_t)idx, 100000000); /* max_hz 10 */
    publish("HZ", 1, 0);
    gw_thread_flush_writers(&th, true);
    TG_CHECK_EQ_INT(nsend, 1); /* the first goes at once */
    TG_CHECK(last_has("\"seq\":1,"));
    int64_t due = s->subs[idx].next_ns;
    publish("HZ", 2, 0);
    publish("HZ", 3, 0);
    publish("HZ", 4, 0);
    gw_thread_flush_writers(&th, true);
    TG_CHECK_EQ_INT(nsend, 1); /* held back within the interval */
    TG_CHECK(s->in_hz && th.nhz == 1);
    gw_fanout_pace(&th, due - 1000000); /* 1 ms early: still held */
    TG_CHECK_EQ_INT(nsend, 1);
    gw_fanout_pace(&th, due); /* the interval ends: the newest goes */
    TG_CHECK_EQ_INT(nsend, 2);
    TG_CHECK(last_has("\"seq\":4,"));
    TG_CHECK_EQ_INT(lines_in_last(), 1);
    TG_CHECK_EQ_INT(th.cnt.conflated[TG_CH_MARKET_DATA], 2);
    TG_CHECK_EQ_INT(th.nhz, 0);
    /* a key without max_hz on the same client is not held */
    int other = sub(s, "FREE");
    (void)other;
    publish("FREE", 1, 0);
    publish("FREE", 2, 0);
    gw_thread_flush_writers(&th, true);
    TG_CHECK_EQ_INT(nsend, 3);
    TG_CHECK_EQ_INT(lines_in_last(), 2);
    teardown();
}

/* The frames the fake send saw, for comparing clients of one pass. */
static char frames[4][4096];
static size_t frame_lens[4];
static bool frame_shared[4]; /* sent from the thread's shared pass frame */

static int record_send(gw_client_t *s, unsigned char *p, size_t len)
{
    (void)s;
    if (nsend < 4) {
        frame_lens[nsend] = len < sizeof frames[0] ? len : sizeof frames[0];
        frame_shared[nsend] = th.shared[0].buf && p == th.shared[0].buf + LWS_PRE;
        memcpy(frames[nsend], p, frame_lens[nsend]);
    }
    return fake_send(s, p, len);
}

/* Order of "seq":N values in the last frame, as a string "1,2,3". */
static void seqs_in_last(char *out, size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    for (const char *p = last; (p = memmem(p, lastlen - (size_t)(p - last), "\"seq\":", 6));) {
        p += 6;
        o += (size_t)snprintf(out + o, cap - o, "%s%ld", o ? "," : "", strtol(p, NULL, 10));
    }
}

/* Clients that get the whole pass share one frame, byte for byte the frame
 * their own list gives; a client of part of it gets its own; messages of the
 * pass keep arrival order around a reply queued in the middle. */
TG_TEST(pass_shared_frame_and_order)
{
    setup();
    th.send = record_send;
    gw_client_t *a = client(-1), *b = client(-1), *c = client(-1);
    const char *syms[] = {"P0", "P1", "P2"};
    for (int i = 0; i < 3; i++) {
        sub(a, syms[i]);
        sub(b, syms[i]);
        if (i != 1)
            sub(c, syms[i]);
    }
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 3; i++)
            publish(syms[i], (uint64_t)(r * 3 + i + 1), 0);
    TG_CHECK_EQ_INT(th.npass, 9);
    TG_CHECK_EQ_INT(a->plen, 9);
    TG_CHECK_EQ_INT(c->plen, 6);
    gw_thread_flush_writers(&th, true);
    TG_CHECK_EQ_INT(nsend, 3);
    TG_CHECK_EQ_INT(th.npass, 0); /* the pass ended with the flush */
    TG_CHECK_EQ_INT(a->plen + b->plen + c->plen, 0);
    TG_CHECK_EQ_INT(a->pending_bytes + b->pending_bytes + c->pending_bytes, 0);
    /* clients are written in the order they got news: a, b, c */
    TG_CHECK_EQ_INT(frame_lens[0], frame_lens[1]);
    TG_CHECK(memcmp(frames[0], frames[1], frame_lens[0]) == 0);
    TG_CHECK(frame_lens[2] < frame_lens[0]);
    TG_CHECK(frame_shared[0] && frame_shared[1] && !frame_shared[2]);
    TG_CHECK_EQ_INT(th.cnt.sent[TG_CH_MARKET_DATA], 9 + 9 + 6);
    char got[256];
    seqs_in_last(got, sizeof got); /* c's: its own frame, its keys only */
    TG_CHECK_EQ_STR(got, "1,3,4,6,7,9");
    lastlen = frame_lens[0];
    memcpy(last, frames[0], lastlen);
    seqs_in_last(got, sizeof got);
    TG_CHECK_EQ_STR(got, "1,2,3,4,5,6,7,8,9");
    /* a reply in the middle of a pass goes between the messages around it */
    publish("P0", 10, 0);
    gw_client_reply(a, "{\"type\":\"pong\",\"seq\":0}", 23, "\x81\xa1t\x01", 4);
    publish("P1", 11, 0);
    gw_thread_flush_writers(&th, true);
    lastlen = 0;
    for (unsigned i = 0; i < nsend && i < 4; i++) /* find a's frame: the one with the pong */
        if (memmem(frames[i], frame_lens[i], "pong", 4)) {
            lastlen = frame_lens[i];
            memcpy(last, frames[i], lastlen);
        }
    seqs_in_last(got, sizeof got);
    TG_CHECK_EQ_STR(got, "10,0,11");
    TG_CHECK_EQ_INT(a->clen + a->plen, 0);
    teardown();
}

/* A pass written later (flush without direct writes, or a frame's budget
 * running out) keeps its messages past the end of the pass, in order. */
TG_TEST(pass_outlives_itself_through_ctrl)
{
    setup();
    gw_client_t *a = client(-1);
    sub(a, "Q0");
    sub(a, "Q1");
    for (int i = 1; i <= 6; i++)
        publish(i % 2 ? "Q0" : "Q1", (uint64_t)i, 100);
    gw_thread_flush_writers(&th, false); /* lws would call WRITEABLE later */
    TG_CHECK_EQ_INT(nsend, 0);
    TG_CHECK_EQ_INT(th.npass, 0);
    TG_CHECK_EQ_INT(a->plen, 0);
    TG_CHECK_EQ_INT(a->clen, 6); /* moved to ctrl with references of their own */
    TG_CHECK(a->pending_bytes > 600);
    TG_CHECK_EQ_INT(gw_client_write(a), 0);
    char got[256];
    seqs_in_last(got, sizeof got);
    TG_CHECK_EQ_STR(got, "1,2,3,4,5,6");
    TG_CHECK_EQ_INT(a->pending_bytes, 0);
    /* a frame budget smaller than the pass: part now, the rest next turn */
    th.frame_cap = 300;
    for (int i = 7; i <= 12; i++)
        publish(i % 2 ? "Q0" : "Q1", (uint64_t)i, 100);
    gw_thread_flush_writers(&th, true);
    TG_CHECK_EQ_INT(nsend, 2);
    seqs_in_last(got, sizeof got);
    TG_CHECK_EQ_STR(got, "7,8");
    TG_CHECK_EQ_INT(a->clen, 4);
    while (a->clen)
        TG_CHECK_EQ_INT(gw_client_write(a), 0);
    seqs_in_last(got, sizeof got);
    TG_CHECK_EQ_STR(got, "11,12");
    TG_CHECK_EQ_INT(th.cnt.sent[TG_CH_MARKET_DATA], 12);
    TG_CHECK_EQ_INT(a->pending_bytes, 0);
    th.frame_cap = 256 * 1024;
    teardown();
}

/* Writes that leave messages queued for GW_BEHIND_NS leave the client
 * behind: until its queue is empty again, new quotes conflate per symbol
 * (SPEC §11, freshness over backlog); the queued ones still go first, in
 * order. A shorter backlog (a burst) keeps every message. */
TG_TEST(behind_conflates_until_caught_up)
{
    setup();
    gw_client_t *a = client(-1);
    sub(a, "R0");
    sub(a, "R1");
    th.frame_cap = 300; /* two ~130-byte quotes per frame */
    for (int i = 1; i <= 6; i++)
        publish(i % 2 ? "R0" : "R1", (uint64_t)i, 100);
    gw_thread_flush_writers(&th, true);
    TG_CHECK_EQ_INT(nsend, 1);
    TG_CHECK(!a->behind); /* a backlog only just now: not behind yet */
    TG_CHECK(a->backlog_since_ns != 0);
    TG_CHECK_EQ_INT(a->clen, 4); /* 3..6 wait, in order */
    /* GW_BEHIND_NS later the socket still took only part: behind now */
    a->backlog_since_ns -= GW_BEHIND_NS;
    TG_CHECK_EQ_INT(gw_client_write(a), 0);
    TG_CHECK(a->behind);
    TG_CHECK_EQ_INT(a->clen, 2); /* 3, 4 went; 5, 6 wait */
    /* the next pass: three quotes per symbol, only the newest of each kept */
    for (int i = 7; i <= 12; i++)
        publish(i % 2 ? "R0" : "R1", (uint64_t)i, 100);
    TG_CHECK_EQ_INT(th.cnt.conflated[TG_CH_MARKET_DATA], 4);
    TG_CHECK_EQ_INT(a->clen, 2);
    TG_CHECK_EQ_INT(a->dlen, 2);
    gw_thread_flush_writers(&th, true);
    char got[256], all[512] = "";
    size_t o = 0;
    seqs_in_last(got, sizeof got);
    o += (size_t)snprintf(all + o, sizeof all - o, "%s", got);
    while (a->clen || a->dlen) {
        TG_CHECK_EQ_INT(gw_client_write(a), 0);
        seqs_in_last(got, sizeof got);
        o += (size_t)snprintf(all + o, sizeof all - o, "|%s", got);
    }
    TG_CHECK_EQ_STR(all, "5,6|11,12");
    TG_CHECK(!a->behind);
    /* caught up: every message again */
    th.frame_cap = 256 * 1024;
    for (int i = 13; i <= 16; i++)
        publish(i % 2 ? "R0" : "R1", (uint64_t)i, 100);
    gw_thread_flush_writers(&th, true);
    seqs_in_last(got, sizeof got);
    TG_CHECK_EQ_STR(got, "13,14,15,16");
    TG_CHECK_EQ_INT(th.cnt.conflated[TG_CH_MARKET_DATA], 4);
    teardown();
}

/* Ticks the engine publishes while a pass is being written (drained between
 * chunks): clients not yet written get them in this pass, in order; those
 * written already are carried and get them first in the next pass; a client
 * whose list is the pass from some entry on gets the shared frame. */
static gw_client_t *mid_a;
static char mid_got[8][64];
static gw_client_t *mid_who[8];
static bool mid_shared[8];
static unsigned mid_n;

static int mid_send(gw_client_t *s, unsigned char *p, size_t len)
{
    int rc = fake_send(s, p, len);
    if (mid_n < 8) {
        seqs_in_last(mid_got[mid_n], sizeof mid_got[0]);
        mid_who[mid_n] = s;
        mid_shared[mid_n] = th.shared[0].buf && p == th.shared[0].buf + LWS_PRE;
        mid_n++;
    }
    if (s == mid_a && s->writes == 0) { /* the engine goes on meanwhile */
        tg_msg_t *m[2] = {quote("M0", 2, 0), quote("M1", 3, 0)};
        TG_CHECK_EQ_INT(tg_ring_push(th.in, m, 2), 2);
    }
    return rc;
}

/* The seqs of s's k-th frame ("" when there is none). */
static const char *mid_seqs(gw_client_t *s, int k)
{
    for (unsigned i = 0; i < mid_n; i++)
        if (mid_who[i] == s && k-- == 0)
            return mid_got[i];
    return "";
}

TG_TEST(ticks_during_a_pass_reach_clients_not_yet_written)
{
    setup();
    TG_CHECK_EQ_INT(tg_ring_create(&th.in, "test", sizeof(tg_msg_t *), 64, TG_RING_BLOCK), 0);
    th.pass_chunk = 1; /* a drain after every client */
    th.send = mid_send;
    mid_n = 0;
    gw_client_t *a = client(-1), *b = client(-1), *c = client(-1);
    mid_a = a;
    sub(a, "M0");
    sub(b, "M0");
    sub(c, "M0");
    sub(c, "M1");
    publish("M0", 1, 0);
    gw_thread_flush_writers(&th, true);
    TG_CHECK_EQ_INT(nsend, 3);
    TG_CHECK_EQ_STR(mid_seqs(a, 0), "1");
    TG_CHECK_EQ_STR(mid_seqs(b, 0), "1,2");   /* M1's 3 is not b's: its own frame */
    TG_CHECK_EQ_STR(mid_seqs(c, 0), "1,2,3"); /* the pass from its first entry: shared */
    for (unsigned i = 0; i < 3; i++)
        TG_CHECK_EQ_INT(mid_shared[i], mid_who[i] != b); /* a: the whole pass then */
    /* a is carried with 2, and a flush without direct writes leaves it to the
     * next direct one (no spill through ctrl, nothing sent) */
    TG_CHECK_EQ_INT(th.ncarried, 1);
    TG_CHECK(th.writers[0] == a);
    TG_CHECK_EQ_INT(a->plen, 1);
    TG_CHECK_EQ_INT(b->plen + c->plen, 0);
    gw_client_reply(b, "{\"type\":\"pong\",\"seq\":0}", 23, "\x81\xa1t\x01", 4);
    gw_thread_flush_writers(&th, false);
    TG_CHECK_EQ_INT(nsend, 3);
    TG_CHECK_EQ_INT(a->clen, 0);
    TG_CHECK_EQ_INT(a->plen, 1);
    /* lws may call a carried client's WRITEABLE first: its entries are valid */
    TG_CHECK_EQ_INT(gw_client_write(a), 0);
    TG_CHECK_EQ_INT(nsend, 4);
    TG_CHECK_EQ_STR(mid_seqs(a, 1), "2");
    gw_thread_flush_writers(&th, true);
    TG_CHECK_EQ_INT(nsend, 5); /* b's pong; nothing left for a */
    TG_CHECK_EQ_STR(mid_seqs(b, 1), "0");
    TG_CHECK_EQ_STR(mid_seqs(a, 2), "");
    TG_CHECK_EQ_INT(th.ncarried, 0);
    TG_CHECK_EQ_INT(th.npass, 0);
    TG_CHECK_EQ_INT(a->writes, 2);
    TG_CHECK_EQ_INT(a->plen + a->clen + b->clen, 0);
    TG_CHECK_EQ_INT(a->pending_bytes + b->pending_bytes + c->pending_bytes, 0);
    TG_CHECK_EQ_INT(th.cnt.sent[TG_CH_MARKET_DATA], 1 + 2 + 3 + 1);
    /* the shared frame is keyed by its first entry: x takes the pass from
     * entry 1 on, y all of it; each gets the shared frame of its own tail */
    gw_client_t *x = client(-1), *y = client(-1);
    sub(x, "M0");
    sub(y, "M0");
    sub(y, "M1");
    mid_n = 0;
    publish("M1", 10, 0);
    publish("M0", 11, 0);
    publish("M0", 12, 0);
    TG_CHECK_EQ_INT(x->pidx[0], 1);
    gw_thread_flush_writers(&th, true);
    TG_CHECK_EQ_STR(mid_seqs(x, 0), "11,12");
    TG_CHECK_EQ_STR(mid_seqs(y, 0), "10,11,12");
    for (unsigned i = 0; i < mid_n; i++)
        if (mid_who[i] == x || mid_who[i] == y)
            TG_CHECK(mid_shared[i]);
    tg_ring_destroy(th.in);
    th.in = NULL;
    teardown();
}

int main(void)
{
    return tg_test_run();
}
