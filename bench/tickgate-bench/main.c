/* main.c - tickgate-bench: N WebSocket subscribers against a tickgate (SPEC §9).
 *
 * One epoll loop per thread (--threads 1|2) drives thousands of non-blocking
 * client connections through connect → (TLS) → upgrade → connection_established
 * → subscribe → streaming. The WebSocket client is our own (ws.c, see there
 * for why not libwebsockets); messages are scanned, not parsed (scan.c).
 *
 * Timeline: connections start over --ramp seconds; once all of them are
 * subscribed (or failed, or the connect phase timed out) the measurement
 * window of --duration seconds opens; only what arrives inside the window is
 * counted. Then every connection is closed with 1000 and the report printed.
 *
 * Threads share nothing but the read-only options and a few atomics (phase,
 * window bounds, ready/failed counts); each keeps its own statistics, merged
 * after join.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "feed.h"
#include "hist.h"
#include "scan.h"
#include "token.h"
#include "ws.h"

#define MAX_THREADS 2
#define RBUF_SIZE (256u << 10)     /* per-thread read buffer */
#define CARRY_KEEP (16u << 10)     /* carry buffers above this are freed when emptied */
#define MAX_MSG (16u << 20)        /* largest frame/message accepted */
#define MAX_SEQ_KEYS 4096          /* per-connection seq tracking cap */
#define MAX_CODES 16               /* distinct close codes tracked */
#define CLOSE_GRACE_NS 1000000000LL

enum { TAG_CONN = 0, TAG_FEED = 1, TAG_FEED_TIMER = 2 };

enum phase { PH_CONNECT, PH_MEASURE, PH_STOP };

enum cstate {
    C_IDLE,        /* not started yet */
    C_CONNECTING,  /* TCP connect in flight */
    C_TLS,         /* TLS handshake */
    C_UPGRADE,     /* request sent, waiting for 101 */
    C_WAIT_EST,    /* waiting for connection_established */
    C_WAIT_SUB,    /* subscribe sent, waiting for confirmations */
    C_READY,       /* streaming */
    C_STALLED,     /* subscribed, deliberately not reading */
    C_DRAIN,       /* a stalled one at the end: reading its backlog to find a close frame */
    C_CLOSING,     /* we sent close, waiting for the server's */
    C_DONE,        /* closed after success */
    C_FAILED,      /* never became ready, or dropped */
};

/* ---- options (read-only after parsing) ----------------------------------- */

static struct {
    const char *url;
    bool tls;
    char host[256], port[16], host_hdr[300], target[4096];
    struct sockaddr_storage addr;
    socklen_t addrlen;
    bool loopback;
    int connections, threads, stall, source_ips, max_inflight, rcvbuf;
    double ramp, duration, connect_timeout, feed_rate;
    const char *token, *secret, *symbols, *portfolios, *feed, *feed_symbols, *ca, *bars;
    bool all, json, quiet, msgpack, latency;
    char sub_msgs[3][8192]; /* subscribe messages (market_data, portfolio_updates, bars) */
    size_t sub_len[3];
    int nsubs;
} O;

static SSL_CTX *g_ssl;
static _Atomic int g_phase = PH_CONNECT;
static _Atomic int64_t g_win_start = INT64_MAX, g_win_end = INT64_MAX;
static _Atomic int g_sigint;
static int64_t g_t0; /* mono ns at start of connecting */

/* ---- per-thread state ---------------------------------------------------- */

typedef struct seq_ent {
    uint64_t h;    /* key hash, 0 = empty */
    uint64_t last; /* last seq seen */
} seq_ent_t;

typedef struct code_tab {
    uint16_t code[MAX_CODES];
    uint32_t n[MAX_CODES];
    int used;
} code_tab_t;

struct thr;

typedef struct conn {
    int kind; /* TAG_CONN; must be first (epoll tag) */
    int fd;
    uint32_t idx;
    uint8_t state;
    bool stall, want_out, close_sent, got_close;
    uint16_t close_code;
    int pending_replies;
    SSL *ssl;
    struct thr *t;
    int64_t t_start;
    uint8_t *carry; /* bytes of an incomplete frame or response */
    uint32_t carry_len, carry_cap;
    size_t need;
    uint8_t *wbuf; /* unsent output */
    uint32_t wlen, wcap;
    tg_bench_ws_dec_t dec;
    seq_ent_t *seq;
    uint16_t seq_cap, seq_n;
    char accept[29];
} conn_t;

typedef struct stats {
    uint64_t msgs, bytes, frames, warm_msgs, stalled_msgs_ignored, no_ts, bad_msgs;
    uint64_t seq_gaps, seq_missing, seq_backwards;
    uint64_t pings, sub_errors;
    uint32_t ok, fail_connect, fail_timeout, fail_tls, fail_upgrade, fail_proto, fail_closed;
    uint32_t dropped, stalled_closed, stalled_open, stalled;
    int last_http_status;
    int64_t first_ready, last_ready; /* mono ns */
    code_tab_t codes, stall_codes, setup_codes;
    tg_bench_hist_t lat, conn;
    tg_bench_hist_t out; /* frame handed to the socket (server.send_ts "out_ts") to read */
} stats_t;

typedef struct thr {
    int id, ep;
    pthread_t tid;
    conn_t *conns; /* owned slice: global indexes id, id+nthreads, ... */
    uint32_t n, next, inflight, max_inflight;
    uint8_t *rbuf;
    uint64_t rng;
    int64_t now_mono, now_real; /* stamped after each read */
    tg_bench_feed_t *feed;
    _Atomic uint32_t n_ready, n_failed;
    _Atomic uint32_t n_ended; /* connections over for good (done or failed) */
    stats_t st;
} thr_t;

static thr_t g_thr[MAX_THREADS];
static tg_bench_feed_t g_feed;

static void conn_fail(conn_t *c, uint32_t *counter);
static void conn_finish(conn_t *c, int code);

/* ---- small helpers ------------------------------------------------------- */

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int64_t real_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
    if (O.quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tickgate-bench: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void code_add(code_tab_t *t, int code)
{
    for (int i = 0; i < t->used; i++)
        if (t->code[i] == code) {
            t->n[i]++;
            return;
        }
    if (t->used < MAX_CODES) {
        t->code[t->used] = (uint16_t)code;
        t->n[t->used++] = 1;
    }
}

static void code_merge(code_tab_t *d, const code_tab_t *s)
{
    for (int i = 0; i < s->used; i++)
        for (uint32_t k = 0; k < s->n[i]; k++)
            code_add(d, s->code[i]);
}

static void ep_set(conn_t *c, uint32_t ev, int op)
{
    struct epoll_event e = {.events = ev, .data.ptr = c};
    epoll_ctl(c->t->ep, op, c->fd, &e);
}

/* Events a connection wants in its state. */
static void conn_arm(conn_t *c)
{
    uint32_t ev;
    if (c->state == C_CONNECTING)
        ev = EPOLLOUT;
    else if (c->state == C_STALLED)
        ev = EPOLLRDHUP; /* not reading; only learn when the server gives up on us */
    else
        ev = EPOLLIN | EPOLLRDHUP;
    if (c->want_out)
        ev |= EPOLLOUT;
    ep_set(c, ev, EPOLL_CTL_MOD);
}

/* ---- I/O ----------------------------------------------------------------- */

/* read: > 0 bytes, 0 EOF, -EAGAIN, or another negative errno. */
static ssize_t io_read(conn_t *c, void *buf, size_t n)
{
    if (c->ssl) {
        ERR_clear_error();
        int r = SSL_read(c->ssl, buf, (int)(n > INT32_MAX ? INT32_MAX : n));
        if (r > 0)
            return r;
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return -EAGAIN;
        if (e == SSL_ERROR_ZERO_RETURN)
            return 0;
        return -EIO;
    }
    for (;;) {
        ssize_t r = recv(c->fd, buf, n, 0);
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return -errno;
    }
}

static ssize_t io_write(conn_t *c, const void *buf, size_t n)
{
    if (c->ssl) {
        ERR_clear_error();
        int r = SSL_write(c->ssl, buf, (int)n);
        if (r > 0)
            return r;
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return -EAGAIN;
        return -EIO;
    }
    for (;;) {
        ssize_t r = send(c->fd, buf, n, MSG_NOSIGNAL);
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return -errno;
    }
}

/* Write what the socket takes of wbuf. Returns 0 or a negative errno (connection broken). */
static int conn_flush(conn_t *c)
{
    uint32_t off = 0;
    while (off < c->wlen) {
        ssize_t w = io_write(c, c->wbuf + off, c->wlen - off);
        if (w == -EAGAIN)
            break;
        if (w < 0)
            return (int)w;
        off += (uint32_t)w;
    }
    memmove(c->wbuf, c->wbuf + off, c->wlen - off);
    c->wlen -= off;
    bool want = c->wlen > 0;
    if (want != c->want_out) {
        c->want_out = want;
        conn_arm(c);
    }
    return 0;
}

/* Queue bytes and try to send them now. Client traffic is tiny (upgrade,
 * subscribe, pong, close), so a copy into wbuf costs nothing. */
static int conn_send(conn_t *c, const void *p, size_t n)
{
    if (c->wlen + n > c->wcap) {
        uint32_t cap = c->wcap ? c->wcap : 512;
        while (cap < c->wlen + n)
            cap *= 2;
        uint8_t *b = realloc(c->wbuf, cap);
        if (!b)
            return -ENOMEM;
        c->wbuf = b;
        c->wcap = cap;
    }
    memcpy(c->wbuf + c->wlen, p, n);
    c->wlen += (uint32_t)n;
    return conn_flush(c);
}

static int conn_send_frame(conn_t *c, int opcode, const void *p, size_t n)
{
    uint8_t frame[8192 + 16];
    uint64_t r = rng_next(&c->t->rng);
    uint8_t key[4];
    memcpy(key, &r, 4);
    ssize_t fl = tg_bench_ws_build(frame, sizeof(frame), opcode, p, n, key);
    if (fl < 0)
        return (int)fl;
    return conn_send(c, frame, (size_t)fl);
}

static int conn_send_close(conn_t *c, int code)
{
    if (c->close_sent)
        return 0;
    c->close_sent = true;
    uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    return conn_send_frame(c, TG_WS_OP_CLOSE, p, 2);
}

/* ---- seq tracking -------------------------------------------------------- */

static uint64_t key_hash(const char *k, uint32_t n)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a: keys are short symbols */
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)k[i]) * 0x100000001b3ull;
    return h ? h : 1;
}

static seq_ent_t *seq_slot(conn_t *c, uint64_t h)
{
    if (c->seq_n * 2 >= c->seq_cap) {
        if (c->seq_n >= MAX_SEQ_KEYS)
            return NULL;
        uint16_t cap = c->seq_cap ? (uint16_t)(c->seq_cap * 2) : 16;
        seq_ent_t *n = calloc(cap, sizeof(*n));
        if (!n)
            return NULL;
        for (uint16_t i = 0; i < c->seq_cap; i++) {
            if (!c->seq[i].h)
                continue;
            uint16_t j = (uint16_t)(c->seq[i].h & (cap - 1u));
            while (n[j].h)
                j = (uint16_t)((j + 1) & (cap - 1u));
            n[j] = c->seq[i];
        }
        free(c->seq);
        c->seq = n;
        c->seq_cap = cap;
    }
    uint16_t j = (uint16_t)(h & (c->seq_cap - 1u));
    while (c->seq[j].h && c->seq[j].h != h)
        j = (uint16_t)((j + 1) & (c->seq_cap - 1u));
    if (!c->seq[j].h) {
        c->seq[j].h = h;
        c->seq[j].last = 0;
        c->seq_n++;
    }
    return &c->seq[j];
}

static void seq_check(conn_t *c, const tg_bench_msg_t *m, stats_t *st)
{
    seq_ent_t *e = seq_slot(c, key_hash(m->key, m->key_len));
    if (!e)
        return;
    if (e->last && m->seq > e->last + 1) {
        st->seq_gaps++;
        st->seq_missing += m->seq - e->last - 1;
    } else if (e->last && m->seq <= e->last) {
        st->seq_backwards++;
    }
    e->last = m->seq;
}

/* ---- protocol ------------------------------------------------------------ */

static void conn_ready(conn_t *c)
{
    thr_t *t = c->t;
    if (c->stall) {
        c->state = C_STALLED;
        t->st.stalled++;
        conn_arm(c);
    } else {
        c->state = C_READY;
    }
    if (!t->st.first_ready)
        t->st.first_ready = t->now_mono;
    t->st.last_ready = t->now_mono;
    t->inflight--;
    atomic_fetch_add_explicit(&t->n_ready, 1, memory_order_relaxed);
}

static void on_message(conn_t *c, const tg_bench_msg_t *m)
{
    thr_t *t = c->t;
    stats_t *st = &t->st;
    switch (c->state) {
    case C_WAIT_EST:
        if (TG_MSG_IS(m, "connection_established")) {
            tg_bench_hist_record(&st->conn, t->now_mono - c->t_start);
            c->state = C_WAIT_SUB;
            c->pending_replies = O.nsubs;
            for (int i = 0; i < O.nsubs; i++)
                if (conn_send_frame(c, TG_WS_OP_TEXT, O.sub_msgs[i], O.sub_len[i]) < 0) {
                    conn_fail(c, &st->fail_proto);
                    return;
                }
        } else if (TG_MSG_IS(m, "error")) {
            st->last_http_status = 0;
            conn_fail(c, &st->fail_upgrade); /* auth refused */
        }
        return;
    case C_WAIT_SUB:
        if (TG_MSG_IS(m, "subscription_confirmed")) {
            if (--c->pending_replies <= 0)
                conn_ready(c);
            return;
        }
        if (TG_MSG_IS(m, "error")) {
            st->sub_errors++;
            if (--c->pending_replies <= 0)
                conn_ready(c);
            return;
        }
        break; /* snapshot quotes may come first; count them like any other */
    case C_READY:
        break;
    default:
        return;
    }
    int64_t ws = atomic_load_explicit(&g_win_start, memory_order_relaxed);
    int64_t we = atomic_load_explicit(&g_win_end, memory_order_relaxed);
    if (t->now_mono < ws || t->now_mono >= we) {
        st->warm_msgs++;
        return;
    }
    st->msgs++;
    if (m->has_ts) {
        if (O.latency)
            tg_bench_hist_record(&st->lat, t->now_real - m->ts);
    } else {
        st->no_ts++;
    }
    if (m->has_seq && m->key)
        seq_check(c, m, st);
}

/* A complete data message (one WebSocket frame, or several reassembled). */
static void on_data(void *ctx, int opcode, uint8_t *p, size_t n, unsigned frames)
{
    conn_t *c = ctx;
    stats_t *st = &c->t->st;
    if (c->state == C_STALLED || c->state == C_CLOSING || c->state >= C_DONE)
        return; /* stalled clients drain only to find a close frame */
    int64_t ws = atomic_load_explicit(&g_win_start, memory_order_relaxed);
    int64_t we = atomic_load_explicit(&g_win_end, memory_order_relaxed);
    if (c->state == C_READY && c->t->now_mono >= ws && c->t->now_mono < we)
        st->frames += frames;
    tg_bench_msg_t m;
    if (opcode == TG_WS_OP_TEXT) {
        /* JSON Lines: one or more messages separated by '\n' (SPEC §5 Framing) */
        const char *s = (const char *)p, *end = s + n;
        /* tickgate with server.send_ts: the frame's first message starts with
         * {"out_ts":N, the time it was handed to the socket. ts -> out_ts is
         * the server's queueing, out_ts -> now the socket and this client. */
        if (O.latency && c->state == C_READY && n > 11 && !memcmp(p, "{\"out_ts\":", 10) &&
            c->t->now_mono >= ws && c->t->now_mono < we) {
            int64_t v = 0;
            for (size_t i = 10; i < n && p[i] >= '0' && p[i] <= '9'; i++)
                v = v * 10 + (p[i] - '0');
            if (v)
                tg_bench_hist_record(&st->out, c->t->now_real - v);
        }
        while (s < end) {
            const char *nl = memchr(s, '\n', (size_t)(end - s));
            const char *e = nl ? nl : end;
            if (e > s) {
                if (tg_bench_scan_json(s, (size_t)(e - s), &m) == 0)
                    on_message(c, &m);
                else
                    st->bad_msgs++;
                if (c->state >= C_STALLED)
                    return;
            }
            s = e + 1;
        }
    } else {
        /* MessagePack maps back to back */
        size_t off = 0;
        while (off < n) {
            long used = tg_bench_scan_msgpack(p + off, n - off, &m);
            if (used <= 0) {
                st->bad_msgs++;
                break;
            }
            on_message(c, &m);
            if (c->state >= C_STALLED)
                return;
            off += (size_t)used;
        }
    }
}

static int on_control(void *ctx, int opcode, uint8_t *p, size_t n)
{
    conn_t *c = ctx;
    if (opcode == TG_WS_OP_PING) {
        c->t->st.pings++;
        /* stalled and draining clients send nothing: bytes the server no longer
         * reads would make its close() a RST that destroys the close frame */
        if (c->state != C_STALLED && c->state != C_DRAIN)
            conn_send_frame(c, TG_WS_OP_PONG, p, n);
        return 0;
    }
    if (opcode == TG_WS_OP_CLOSE) {
        int code = tg_bench_ws_close_code(p, n);
        c->got_close = true;
        c->close_code = (uint16_t)(code < 0 ? 1002 : code);
        conn_send_close(c, code < 0 ? 1002 : (code == TG_WS_CLOSE_NO_STATUS ? 1000 : code));
        return 1;
    }
    return 0; /* pong */
}

static const tg_bench_ws_cb_t g_cb = {.on_data = on_data, .on_control = on_control};

/* Handle bytes buf[0..len): the upgrade response, then frames. Returns bytes consumed or < 0. */
static ssize_t conn_process(conn_t *c, uint8_t *buf, size_t len)
{
    size_t off = 0;
    if (c->state == C_UPGRADE) {
        int status = 0;
        int h = tg_bench_ws_response((const char *)buf, len, c->accept, &status, NULL, 0);
        if (h == 0) {
            c->need = len + 1;
            return 0;
        }
        if (h < 0) {
            if (status)
                c->t->st.last_http_status = status;
            conn_fail(c, &c->t->st.fail_upgrade);
            return -1;
        }
        off = (size_t)h;
        c->state = C_WAIT_EST;
    }
    size_t need = 0;
    ssize_t r = tg_bench_ws_decode(&c->dec, buf + off, len - off, &need, &g_cb, c);
    if (r < 0) {
        conn_fail(c, &c->t->st.fail_proto);
        return -1;
    }
    c->need = need;
    if (c->got_close) {
        conn_finish(c, c->close_code);
        return -1;
    }
    return (ssize_t)off + r;
}

static int carry_reserve(conn_t *c, size_t want)
{
    if (want <= c->carry_cap)
        return 0;
    if (want > MAX_MSG + 64)
        return -EMSGSIZE;
    size_t cap = c->carry_cap ? c->carry_cap : 4096;
    while (cap < want)
        cap *= 2;
    uint8_t *b = realloc(c->carry, cap);
    if (!b)
        return -ENOMEM;
    c->carry = b;
    c->carry_cap = (uint32_t)cap;
    return 0;
}

/*
 * Read and process until the socket is drained (bounded, for fairness among
 * connections: level-triggered epoll brings us back). Whole frames are
 * handled straight from the thread's buffer; only an incomplete tail is
 * copied into the connection's carry buffer, and the next read then lands
 * behind it.
 */
static void conn_read(conn_t *c)
{
    thr_t *t = c->t;
    for (int iter = 0; iter < 8; iter++) {
        uint8_t *b;
        size_t have = 0, cap;
        if (c->carry_len) {
            size_t want = c->carry_len + 16384;
            if (c->need > want)
                want = c->need;
            if (carry_reserve(c, want) < 0) {
                conn_fail(c, &t->st.fail_proto);
                return;
            }
            b = c->carry;
            have = c->carry_len;
            cap = c->carry_cap;
        } else {
            b = t->rbuf;
            cap = RBUF_SIZE;
        }
        ssize_t n = io_read(c, b + have, cap - have);
        if (n == -EAGAIN)
            return;
        if (n <= 0) {
            conn_finish(c, TG_WS_CLOSE_ABNORMAL);
            return;
        }
        t->now_mono = mono_ns();
        t->now_real = real_ns();
        if (t->now_mono >= atomic_load_explicit(&g_win_start, memory_order_relaxed) &&
            t->now_mono < atomic_load_explicit(&g_win_end, memory_order_relaxed) &&
            c->state == C_READY)
            t->st.bytes += (uint64_t)n;
        size_t total = have + (size_t)n;
        ssize_t used = conn_process(c, b, total);
        if (used < 0)
            return; /* connection finished or failed */
        size_t rem = total - (size_t)used;
        if (b == t->rbuf) {
            if (rem) {
                size_t want = rem > c->need ? rem : c->need;
                if (carry_reserve(c, want) < 0) {
                    conn_fail(c, &t->st.fail_proto);
                    return;
                }
                memcpy(c->carry, b + used, rem);
            }
        } else if (used) {
            memmove(c->carry, c->carry + used, rem);
        }
        c->carry_len = (uint32_t)rem;
        if (!rem && c->carry_cap > CARRY_KEEP) {
            free(c->carry);
            c->carry = NULL;
            c->carry_cap = 0;
        }
        if (c->state == C_STALLED)
            return;
        /* a short plain read means the socket is empty: skip the EAGAIN syscall */
        if (!c->ssl && (size_t)n < cap - have)
            return;
    }
}

/* ---- connection lifecycle ------------------------------------------------ */

static void conn_release(conn_t *c)
{
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        epoll_ctl(c->t->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    free(c->carry);
    free(c->wbuf);
    free(c->seq);
    tg_bench_ws_dec_free(&c->dec);
    c->carry = c->wbuf = NULL;
    c->seq = NULL;
    c->carry_len = c->carry_cap = c->wlen = c->wcap = 0;
    c->seq_cap = c->seq_n = 0;
}

/* Failed to become ready (counted under *counter), or protocol error on a ready one. */
static void conn_fail(conn_t *c, uint32_t *counter)
{
    thr_t *t = c->t;
    if (c->state >= C_DONE)
        return;
    bool was_ready = c->state == C_READY || c->state == C_STALLED || c->state == C_DRAIN ||
                     c->state == C_CLOSING;
    if (!was_ready) {
        (*counter)++;
        if (c->state != C_IDLE)
            t->inflight--;
        atomic_fetch_add_explicit(&t->n_failed, 1, memory_order_relaxed);
    } else if (c->state == C_READY) {
        t->st.dropped++;
    }
    c->state = C_FAILED;
    atomic_fetch_add_explicit(&t->n_ended, 1, memory_order_relaxed);
    conn_release(c);
}

/* The connection ended (close frame with `code`, or 1006 without one). */
static void conn_finish(conn_t *c, int code)
{
    thr_t *t = c->t;
    switch (c->state) {
    case C_CLOSING: /* the end we asked for */
        t->st.ok++;
        c->state = C_DONE;
        break;
    case C_STALLED:
    case C_DRAIN:
        t->st.stalled_closed++;
        code_add(&t->st.stall_codes, code);
        c->state = C_DONE;
        break;
    case C_READY:
        if (atomic_load(&g_phase) == PH_STOP) {
            t->st.ok++;
            c->state = C_DONE;
        } else {
            code_add(&t->st.codes, code);
            t->st.dropped++;
            c->state = C_FAILED;
        }
        break;
    default:
        if (c->state < C_DONE) {
            code_add(&t->st.setup_codes, code);
            conn_fail(c, &t->st.fail_closed);
            return;
        }
        conn_release(c); /* over already: counted when it ended */
        return;
    }
    atomic_fetch_add_explicit(&t->n_ended, 1, memory_order_relaxed);
    conn_release(c);
}

static void conn_upgrade(conn_t *c)
{
    char req[4608];
    uint8_t nonce[16];
    for (int i = 0; i < 2; i++) {
        uint64_t r = rng_next(&c->t->rng);
        memcpy(nonce + 8 * i, &r, 8);
    }
    ssize_t n = tg_bench_ws_request(req, sizeof(req), O.host_hdr, O.target,
                                    O.msgpack ? "tickgate.msgpack.v1" : NULL, nonce, c->accept);
    c->state = C_UPGRADE;
    conn_arm(c);
    if (n < 0 || conn_send(c, req, (size_t)n) < 0)
        conn_fail(c, &c->t->st.fail_connect);
}

static void conn_tls_step(conn_t *c)
{
    ERR_clear_error();
    int r = SSL_connect(c->ssl);
    if (r == 1) {
        conn_upgrade(c);
        return;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        uint32_t ev = e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
        ep_set(c, ev, EPOLL_CTL_MOD);
        return;
    }
    if (!O.quiet && c->t->st.fail_tls == 0) {
        char buf[256];
        ERR_error_string_n(ERR_peek_last_error(), buf, sizeof(buf));
        logmsg("TLS handshake failed: %s", buf);
    }
    conn_fail(c, &c->t->st.fail_tls);
}

static void conn_connected(conn_t *c)
{
    if (!O.tls) {
        conn_upgrade(c);
        return;
    }
    c->ssl = SSL_new(g_ssl);
    if (!c->ssl) {
        conn_fail(c, &c->t->st.fail_tls);
        return;
    }
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, O.host);
    if (O.ca) {
        /* an IP literal is checked against the certificate's IP SANs, a name against DNS */
        struct in6_addr a6;
        if (inet_pton(AF_INET, O.host, &a6) == 1 || inet_pton(AF_INET6, O.host, &a6) == 1)
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), O.host);
        else
            SSL_set1_host(c->ssl, O.host);
    }
    c->state = C_TLS;
    conn_tls_step(c);
}

static void conn_start(conn_t *c)
{
    thr_t *t = c->t;
    c->t_start = mono_ns();
    c->fd = socket(O.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        if (!t->st.fail_connect)
            logmsg("socket: %s", strerror(errno));
        conn_fail(c, &t->st.fail_connect);
        return;
    }
    t->inflight++;
    c->state = C_CONNECTING;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (O.rcvbuf > 0)
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &O.rcvbuf, sizeof(O.rcvbuf));
    if (O.source_ips > 0 && O.addr.ss_family == AF_INET) {
        /* spread over 127.0.0.2.. so each source address gets its own
         * ephemeral port range; NO_PORT defers the port choice to connect() */
        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        struct sockaddr_in sa = {.sin_family = AF_INET};
        sa.sin_addr.s_addr = htonl(0x7f000002u + c->idx % (uint32_t)O.source_ips);
        if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            if (!t->st.fail_connect)
                logmsg("bind %s: %s", inet_ntoa(sa.sin_addr), strerror(errno));
            conn_fail(c, &t->st.fail_connect);
            return;
        }
    }
    struct epoll_event e = {.events = EPOLLOUT, .data.ptr = c};
    epoll_ctl(t->ep, EPOLL_CTL_ADD, c->fd, &e);
    if (connect(c->fd, (struct sockaddr *)&O.addr, O.addrlen) == 0) {
        conn_connected(c);
    } else if (errno != EINPROGRESS) {
        if (!t->st.fail_connect)
            logmsg("connect: %s", strerror(errno));
        conn_fail(c, &t->st.fail_connect);
    }
}

static void conn_event(conn_t *c, uint32_t ev)
{
    thr_t *t = c->t;
    switch (c->state) {
    case C_CONNECTING: {
        int err = 0;
        socklen_t l = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err || (ev & (EPOLLERR | EPOLLHUP))) {
            if (!t->st.fail_connect)
                logmsg("connect: %s", strerror(err ? err : ECONNREFUSED));
            conn_fail(c, &t->st.fail_connect);
            return;
        }
        conn_connected(c);
        return;
    }
    case C_TLS:
        conn_tls_step(c);
        return;
    case C_STALLED:
        if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
            /* FIN already here (little was pending): read through to the close frame */
            c->state = C_DRAIN;
            conn_arm(c);
            conn_read(c);
        }
        if (c->fd >= 0 && (ev & EPOLLOUT) && conn_flush(c) < 0)
            conn_finish(c, TG_WS_CLOSE_ABNORMAL);
        return;
    default:
        break;
    }
    if (ev & EPOLLOUT) {
        if (conn_flush(c) < 0) {
            conn_finish(c, TG_WS_CLOSE_ABNORMAL);
            return;
        }
    }
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        conn_read(c);
}

/* ---- the loop ------------------------------------------------------------ */

static void coordinator(int64_t now)
{
    int ph = atomic_load(&g_phase);
    if (ph == PH_CONNECT) {
        uint32_t done = 0;
        for (int i = 0; i < O.threads; i++)
            done += atomic_load_explicit(&g_thr[i].n_ready, memory_order_relaxed) +
                    atomic_load_explicit(&g_thr[i].n_failed, memory_order_relaxed);
        int64_t deadline = g_t0 + (int64_t)((O.ramp + O.connect_timeout) * 1e9);
        if (done >= (uint32_t)O.connections || now >= deadline || atomic_load(&g_sigint)) {
            atomic_store(&g_win_end, now + (int64_t)(O.duration * 1e9));
            atomic_store(&g_win_start, now);
            atomic_store(&g_phase, PH_MEASURE);
            logmsg("%u/%d connections ready after %.2f s; measuring for %g s", done,
                   O.connections, (double)(now - g_t0) / 1e9, O.duration);
        }
    } else if (ph == PH_MEASURE) {
        /* every connection is over (the server closed them all, e.g. on its
         * shutdown): nothing is left to measure, so the window ends now */
        uint32_t ended = 0;
        for (int i = 0; i < O.threads; i++)
            ended += atomic_load_explicit(&g_thr[i].n_ended, memory_order_relaxed);
        if (ended >= (uint32_t)O.connections && now < atomic_load(&g_win_end)) {
            atomic_store(&g_win_end, now);
            logmsg("every connection ended; the window closes early");
        }
        if (now >= atomic_load(&g_win_end) || atomic_load(&g_sigint)) {
            if (now < atomic_load(&g_win_end))
                atomic_store(&g_win_end, now);
            atomic_store(&g_phase, PH_STOP);
        }
    }
}

/*
 * End of the window. A stalled client cannot see a close frame (or even the
 * FIN) behind data it never read, so stalled ones now read their backlog,
 * discarding it, for up to the grace period: a close frame or EOF found
 * there means the server gave up on them; still open at the end, it did not.
 */
static void thr_stop_all(thr_t *t)
{
    for (uint32_t i = 0; i < t->n; i++) {
        conn_t *c = &t->conns[i];
        if (c->state == C_STALLED) {
            c->state = C_DRAIN;
            conn_arm(c);
        } else if (c->state == C_READY) {
            c->state = C_CLOSING;
            if (conn_send_close(c, 1000) < 0)
                conn_finish(c, TG_WS_CLOSE_ABNORMAL);
        } else if (c->state < C_READY && c->state != C_IDLE) {
            conn_fail(c, &t->st.fail_timeout);
        }
    }
}

static void *thr_main(void *arg)
{
    thr_t *t = arg;
    struct epoll_event evs[512];
    int64_t last_scan = 0, stop_at = 0;
    bool stopping = false;
    for (;;) {
        int64_t now = mono_ns();
        t->now_mono = now;
        if (t->id == 0)
            coordinator(now);
        int ph = atomic_load(&g_phase);

        if (ph == PH_STOP && !stopping) {
            stopping = true;
            stop_at = now + CLOSE_GRACE_NS;
            thr_stop_all(t);
        }
        if (stopping) {
            bool open = false;
            for (uint32_t i = 0; i < t->n && !open; i++)
                open = t->conns[i].state == C_CLOSING || t->conns[i].state == C_DRAIN;
            if (!open || now >= stop_at) {
                for (uint32_t i = 0; i < t->n; i++) {
                    conn_t *c = &t->conns[i];
                    if (c->state == C_DRAIN)
                        t->st.stalled_open++; /* never closed by the server */
                    if (c->state == C_CLOSING || c->state == C_DRAIN) {
                        t->st.ok++; /* closing: the server was just slow to answer */
                        c->state = C_DONE;
                        conn_release(c);
                    }
                }
                break;
            }
        }

        /* start the connections that are due (ramp), bounded in flight */
        if (!stopping) {
            int started = 0;
            while (t->next < t->n && t->inflight < t->max_inflight && started < 256) {
                conn_t *c = &t->conns[t->next];
                int64_t due = g_t0 + (int64_t)(O.ramp * 1e9 * c->idx / O.connections);
                if (due > now)
                    break;
                t->next++;
                started++;
                conn_start(c);
            }
        }

        /* connect timeouts, scanned every 50 ms */
        if (now - last_scan > 50000000LL && ph == PH_CONNECT) {
            last_scan = now;
            int64_t lim = (int64_t)(O.connect_timeout * 1e9);
            for (uint32_t i = 0; i < t->next; i++) {
                conn_t *c = &t->conns[i];
                if (c->state > C_IDLE && c->state < C_READY && now - c->t_start > lim)
                    conn_fail(c, &t->st.fail_timeout);
            }
        }

        int timeout = 10;
        if (t->feed || (t->next < t->n && !stopping))
            timeout = 1;
        int n = epoll_wait(t->ep, evs, 512, timeout);
        for (int i = 0; i < n; i++) {
            int kind = *(int *)evs[i].data.ptr;
            if (kind == TAG_CONN) {
                conn_t *c = evs[i].data.ptr;
                if (c->fd >= 0)
                    conn_event(c, evs[i].events);
            } else if (kind == TAG_FEED_TIMER) {
                tg_bench_feed_pump(t->feed, mono_ns());
            } else if (kind == TAG_FEED) {
                tg_bench_feed_flush(t->feed);
            }
        }
        if (t->feed && t->feed->fd >= 0) {
            /* poll for writability only while output is pending */
            static bool armed;
            bool want = t->feed->len > 0;
            if (want != armed) {
                struct epoll_event e = {.events = want ? EPOLLOUT : 0, .data.ptr = t->feed};
                epoll_ctl(t->ep, EPOLL_CTL_MOD, t->feed->fd, &e);
                armed = want;
            }
        }
    }
    return NULL;
}

/* ---- options ------------------------------------------------------------- */

static void usage_exit(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage_exit(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tickgate-bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see --help)\n");
    va_end(ap);
    exit(2);
}

static void help(void)
{
    printf(
        "usage: tickgate-bench --url ws[s]://HOST:PORT/ws [options]\n"
        "  --connections N      WebSocket clients (default 100)\n"
        "  --ramp S             spread the connects over S seconds (default 0)\n"
        "  --duration S         measurement window once all are subscribed (default 10)\n"
        "  --threads 1|2        event-loop threads (default 1)\n"
        "  --token T            JWT sent as ?token=\n"
        "  --secret S           mint an HS256 token (sub bench, roles [admin], 1 h)\n"
        "  --symbols A,B | --all | --portfolios p-1,p-2   subscriptions (default --all)\n"
        "  --bars 1s|1m|5m|1h|1d  also subscribe to bars of --symbols (else the feed symbols)\n"
        "  --format json|msgpack  msgpack asks for subprotocol tickgate.msgpack.v1\n"
        "  --stall N            N clients stop reading once subscribed\n"
        "  --feed HOST:PORT --feed-rate R   drive a tcp feed at R ticks/s\n"
        "  --feed-symbols A,B   feed symbols (default S000..S099)\n"
        "  --source-ips N       bind to 127.0.0.2.. (N addresses); default: automatic\n"
        "  --max-inflight N     connection handshakes in flight (default 512)\n"
        "  --connect-timeout S  per connection (default 10)\n"
        "  --rcvbuf BYTES       SO_RCVBUF of each client socket\n"
        "  --ca FILE            verify the server certificate against FILE (wss)\n"
        "  --latency-from ts|none  latency source (default ts: each message's ts)\n"
        "  --json               print one JSON object instead of the table\n"
        "  --quiet              no progress lines on stderr\n"
        "exit: 0 ok, 1 connections failed or dropped, 2 usage\n");
    exit(0);
}

static double num_arg(const char *name, const char *v, double lo, double hi)
{
    char *e;
    double d = strtod(v, &e);
    if (e == v || *e || !isfinite(d) || d < lo || d > hi)
        usage_exit("--%s: expected a number in [%g, %g], got \"%s\"", name, lo, hi, v);
    return d;
}

/* Append s as JSON string array items: "a","b" from a comma list. */
static size_t json_list(char *out, size_t cap, const char *csv)
{
    size_t o = 0;
    const char *p = csv;
    while (*p) {
        size_t l = strcspn(p, ",");
        if (l == 0 || memchr(p, '"', l) || memchr(p, '\\', l))
            usage_exit("bad list item in \"%s\"", csv);
        if (o + l + 4 >= cap)
            usage_exit("list too long: \"%.40s...\"", csv);
        if (o)
            out[o++] = ',';
        out[o++] = '"';
        memcpy(out + o, p, l);
        o += l;
        out[o++] = '"';
        p += l;
        if (*p == ',')
            p++;
    }
    out[o] = 0;
    return o;
}

static void parse_url(void)
{
    const char *u = O.url, *p = NULL;
    if (strncmp(u, "ws://", 5) == 0) {
        p = u + 5;
    } else if (strncmp(u, "wss://", 6) == 0) {
        p = u + 6;
        O.tls = true;
    } else {
        usage_exit("--url must start with ws:// or wss://");
    }
    const char *path = strchr(p, '/');
    const char *hp_end = path ? path : p + strlen(p);
    const char *colon = NULL;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(hp_end - p));
        if (!rb)
            usage_exit("--url: bad IPv6 literal");
        if ((size_t)(rb - p - 1) >= sizeof(O.host))
            usage_exit("--url: host too long");
        memcpy(O.host, p + 1, (size_t)(rb - p - 1));
        O.host[rb - p - 1] = 0;
        if (rb + 1 < hp_end && rb[1] == ':')
            colon = rb + 1;
    } else {
        colon = memchr(p, ':', (size_t)(hp_end - p));
        const char *he = colon ? colon : hp_end;
        if (he == p || (size_t)(he - p) >= sizeof(O.host))
            usage_exit("--url: missing or too long host");
        memcpy(O.host, p, (size_t)(he - p));
        O.host[he - p] = 0;
    }
    if (colon) {
        size_t pl = (size_t)(hp_end - colon - 1);
        if (pl == 0 || pl >= sizeof(O.port))
            usage_exit("--url: bad port");
        memcpy(O.port, colon + 1, pl);
        O.port[pl] = 0;
    } else {
        strcpy(O.port, O.tls ? "443" : "80");
    }
    snprintf(O.host_hdr, sizeof(O.host_hdr), "%.*s", (int)(hp_end - p), p);
    const char *tpath = path && *path ? path : "/ws";
    char tok[4096] = "";
    if (O.token) {
        /* tokens are base64url + dots: nothing to percent-encode */
        snprintf(tok, sizeof(tok), "%stoken=%s", strchr(tpath, '?') ? "&" : "?", O.token);
    }
    if ((size_t)snprintf(O.target, sizeof(O.target), "%s%s", tpath, tok) >= sizeof(O.target))
        usage_exit("--url/--token too long");

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    int rc = getaddrinfo(O.host, O.port, &hints, &ai);
    if (rc)
        usage_exit("cannot resolve %s: %s", O.host, gai_strerror(rc));
    memcpy(&O.addr, ai->ai_addr, ai->ai_addrlen);
    O.addrlen = ai->ai_addrlen;
    if (ai->ai_family == AF_INET)
        O.loopback = (ntohl(((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr) >> 24) == 127;
    freeaddrinfo(ai);
}

static void parse_opts(int argc, char **argv)
{
    static const struct option lo[] = {
        {"url", 1, 0, 'u'},          {"connections", 1, 0, 'c'}, {"ramp", 1, 0, 'r'},
        {"duration", 1, 0, 'd'},     {"threads", 1, 0, 't'},     {"token", 1, 0, 'T'},
        {"secret", 1, 0, 'S'},       {"symbols", 1, 0, 's'},     {"all", 0, 0, 'a'},
        {"portfolios", 1, 0, 'p'},   {"format", 1, 0, 'f'},      {"stall", 1, 0, 'x'},
        {"feed", 1, 0, 'F'},         {"feed-rate", 1, 0, 'R'},   {"feed-symbols", 1, 0, 'Y'},
        {"json", 0, 0, 'j'},         {"source-ips", 1, 0, 'i'},  {"latency-from", 1, 0, 'L'},
        {"max-inflight", 1, 0, 'm'}, {"connect-timeout", 1, 0, 'C'}, {"rcvbuf", 1, 0, 'b'},
        {"ca", 1, 0, 'A'},           {"quiet", 0, 0, 'q'},       {"help", 0, 0, 'h'},
        {"bars", 1, 0, 'B'},
        {0, 0, 0, 0}};
    O.connections = 100;
    O.threads = 1;
    O.duration = 10;
    O.connect_timeout = 10;
    O.max_inflight = 512;
    O.source_ips = -1;
    O.latency = true;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'u': O.url = optarg; break;
        case 'c': O.connections = (int)num_arg("connections", optarg, 1, 1000000); break;
        case 'r': O.ramp = num_arg("ramp", optarg, 0, 3600); break;
        case 'd': O.duration = num_arg("duration", optarg, 0.001, 86400); break;
        case 't': O.threads = (int)num_arg("threads", optarg, 1, MAX_THREADS); break;
        case 'T': O.token = optarg; break;
        case 'S': O.secret = optarg; break;
        case 's': O.symbols = optarg; break;
        case 'a': O.all = true; break;
        case 'p': O.portfolios = optarg; break;
        case 'f':
            if (strcmp(optarg, "json") && strcmp(optarg, "msgpack"))
                usage_exit("--format must be json or msgpack");
            O.msgpack = strcmp(optarg, "msgpack") == 0;
            break;
        case 'x': O.stall = (int)num_arg("stall", optarg, 0, 1000000); break;
        case 'F': O.feed = optarg; break;
        case 'R': O.feed_rate = num_arg("feed-rate", optarg, 0.001, 1e8); break;
        case 'Y': O.feed_symbols = optarg; break;
        case 'j': O.json = true; break;
        case 'i': O.source_ips = (int)num_arg("source-ips", optarg, 0, 1 << 22); break;
        case 'L':
            if (strcmp(optarg, "ts") && strcmp(optarg, "none"))
                usage_exit("--latency-from must be ts or none");
            O.latency = strcmp(optarg, "ts") == 0;
            break;
        case 'm': O.max_inflight = (int)num_arg("max-inflight", optarg, 1, 1000000); break;
        case 'C': O.connect_timeout = num_arg("connect-timeout", optarg, 0.01, 3600); break;
        case 'b': O.rcvbuf = (int)num_arg("rcvbuf", optarg, 1, 1 << 30); break;
        case 'A': O.ca = optarg; break;
        case 'q': O.quiet = true; break;
        case 'B':
            if (strcmp(optarg, "1s") && strcmp(optarg, "1m") && strcmp(optarg, "5m") &&
                strcmp(optarg, "1h") && strcmp(optarg, "1d"))
                usage_exit("--bars must be 1s, 1m, 5m, 1h or 1d");
            O.bars = optarg;
            break;
        case 'h': help(); break;
        default:
            usage_exit("unknown or incomplete option \"%s\"", argv[optind - 1]);
        }
    }
    if (optind < argc)
        usage_exit("unexpected argument \"%s\"", argv[optind]);
    if (!O.url)
        usage_exit("--url is required");
    if (O.token && O.secret)
        usage_exit("--token and --secret are exclusive");
    if (O.stall > O.connections)
        usage_exit("--stall %d exceeds --connections %d", O.stall, O.connections);
    if (!!O.feed != (O.feed_rate > 0))
        usage_exit("--feed and --feed-rate go together");
    if (O.all && O.symbols)
        usage_exit("--all and --symbols are exclusive");
    if (O.bars && !O.symbols && !O.feed)
        usage_exit("--bars needs --symbols or --feed (bars have no \"*\")");
    if (!O.all && !O.symbols && !O.portfolios && !O.bars)
        O.all = true;

    static char minted[2048];
    if (O.secret) {
        int n = tg_bench_token_mint(O.secret, "bench", time(NULL), 3600, minted, sizeof(minted));
        if (n < 0)
            usage_exit("cannot mint a token: %s", strerror(-n));
        O.token = minted;
    }
    parse_url();

    char list[7000];
    if (O.all || O.symbols) {
        json_list(list, sizeof(list), O.all ? "*" : O.symbols);
        O.sub_len[O.nsubs] = (size_t)snprintf(
            O.sub_msgs[O.nsubs], sizeof(O.sub_msgs[0]),
            "{\"type\":\"subscribe\",\"channel\":\"market_data\",\"symbols\":[%s],\"id\":1}", list);
        O.nsubs++;
    }
    if (O.portfolios) {
        json_list(list, sizeof(list), O.portfolios);
        O.sub_len[O.nsubs] = (size_t)snprintf(
            O.sub_msgs[O.nsubs], sizeof(O.sub_msgs[0]),
            "{\"type\":\"subscribe\",\"channel\":\"portfolio_updates\",\"portfolio_ids\":[%s],"
            "\"id\":2}",
            list);
        O.nsubs++;
    }

    if (O.bars) {
        char fallback[700];
        const char *syms = O.symbols ? O.symbols : O.feed_symbols;
        if (!syms) { /* the feed's default symbols, S000..S099 */
            size_t o = 0;
            for (int i = 0; i < 100; i++)
                o += (size_t)snprintf(fallback + o, sizeof(fallback) - o, "%sS%03d", i ? "," : "", i);
            syms = fallback;
        }
        json_list(list, sizeof(list), syms);
        O.sub_len[O.nsubs] = (size_t)snprintf(
            O.sub_msgs[O.nsubs], sizeof(O.sub_msgs[0]),
            "{\"type\":\"subscribe\",\"channel\":\"bars\",\"symbols\":[%s],\"interval\":\"%s\","
            "\"id\":3}",
            list, O.bars);
        O.nsubs++;
    }

    /* more connections than one source address has ephemeral ports: spread */
    if (O.source_ips < 0) {
        O.source_ips = 0;
        int lo_p = 32768, hi_p = 60999;
        FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
        if (f) {
            if (fscanf(f, "%d %d", &lo_p, &hi_p) != 2)
                lo_p = 32768, hi_p = 60999;
            fclose(f);
        }
        int usable = (hi_p - lo_p + 1) * 8 / 10;
        if (O.loopback && O.addr.ss_family == AF_INET && O.connections > usable)
            O.source_ips = (O.connections + usable - 1) / usable;
    } else if (O.source_ips > 0 && !O.loopback) {
        usage_exit("--source-ips needs a 127.0.0.0/8 server address");
    }

    /* one fd per connection, plus a few */
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rlim_t want = (rlim_t)O.connections + 64;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < want)
            usage_exit("--connections %d needs %lu open files, the limit is %lu", O.connections,
                       (unsigned long)want, (unsigned long)rl.rlim_max);
    }
}

/* ---- report -------------------------------------------------------------- */

static void codes_json(FILE *o, const code_tab_t *t)
{
    fputc('{', o);
    for (int i = 0; i < t->used; i++)
        fprintf(o, "%s\"%u\":%u", i ? "," : "", t->code[i], t->n[i]);
    fputc('}', o);
}

static void codes_text(char *out, size_t cap, const code_tab_t *t)
{
    size_t o = 0;
    out[0] = 0;
    for (int i = 0; i < t->used && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%u×%u", i ? " " : "", t->code[i], t->n[i]);
    if (!t->used)
        snprintf(out, cap, "-");
}

static int report(const stats_t *s, double win_s, uint32_t failed)
{
    uint32_t ready = (uint32_t)s->conn.count;
    double conn_span = s->last_ready > s->first_ready
                           ? (double)(s->last_ready - g_t0) / 1e9
                           : (s->last_ready ? (double)(s->last_ready - g_t0) / 1e9 : 0);
    double cps = conn_span > 0 ? ready / conn_span : 0;
    double mps = win_s > 0 ? (double)s->msgs / win_s : 0;
    double bps = win_s > 0 ? (double)s->bytes / win_s : 0;
    double fps = win_s > 0 ? (double)s->frames / win_s : 0;
    double mpf = s->frames ? (double)s->msgs / (double)s->frames : 0;
    int readers = (int)ready - (int)s->stalled;
    double per_conn = readers > 0 ? mps / readers : 0;
    const tg_bench_hist_t *l = &s->lat;
#define US(v) ((double)(v) / 1e3)
#define MS(v) ((double)(v) / 1e6)
    int rc = (failed || s->dropped) ? 1 : 0;
    if (O.json) {
        FILE *o = stdout;
        fprintf(o, "{\"url\":\"%s\",\"format\":\"%s\",\"threads\":%d,\"connections\":%d,", O.url,
                O.msgpack ? "msgpack" : "json", O.threads, O.connections);
        fprintf(o, "\"ready\":%u,\"failed\":%u,\"dropped\":%u,\"stalled\":%u,", ready, failed,
                s->dropped, s->stalled);
        fprintf(o,
                "\"fail_reasons\":{\"connect\":%u,\"timeout\":%u,\"tls\":%u,\"upgrade\":%u,"
                "\"protocol\":%u,\"closed\":%u},\"last_http_status\":%d,",
                s->fail_connect, s->fail_timeout, s->fail_tls, s->fail_upgrade, s->fail_proto,
                s->fail_closed, s->last_http_status);
        fprintf(o,
                "\"connect_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},\"connects_per_s\":%.1f,",
                MS(tg_bench_hist_percentile(&s->conn, 50)),
                MS(tg_bench_hist_percentile(&s->conn, 99)), MS(s->conn.max), cps);
        fprintf(o,
                "\"duration_s\":%.3f,\"msgs\":%llu,\"msgs_per_s\":%.0f,\"msgs_per_s_per_conn\":%.1f,"
                "\"bytes_per_s\":%.0f,\"frames_per_s\":%.0f,\"msgs_per_frame\":%.3f,",
                win_s, (unsigned long long)s->msgs, mps, per_conn, bps, fps, mpf);
        fprintf(o,
                "\"latency_us\":{\"samples\":%llu,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,"
                "\"p999\":%.1f,\"max\":%.1f,\"mean\":%.1f,\"negative\":%llu},",
                (unsigned long long)l->count, US(tg_bench_hist_percentile(l, 50)),
                US(tg_bench_hist_percentile(l, 90)), US(tg_bench_hist_percentile(l, 99)),
                US(tg_bench_hist_percentile(l, 99.9)), US(l->max), tg_bench_hist_mean(l) / 1e3,
                (unsigned long long)l->negative);
        if (s->out.count)
            fprintf(o, "\"handoff_latency_us\":{\"samples\":%llu,\"p50\":%.1f,\"p99\":%.1f},",
                    (unsigned long long)s->out.count, US(tg_bench_hist_percentile(&s->out, 50)),
                    US(tg_bench_hist_percentile(&s->out, 99)));
        fprintf(o,
                "\"seq\":{\"gaps\":%llu,\"missing\":%llu,\"backwards\":%llu},\"no_ts\":%llu,"
                "\"bad_msgs\":%llu,\"sub_errors\":%llu,\"pings\":%llu,",
                (unsigned long long)s->seq_gaps, (unsigned long long)s->seq_missing,
                (unsigned long long)s->seq_backwards, (unsigned long long)s->no_ts,
                (unsigned long long)s->bad_msgs, (unsigned long long)s->sub_errors,
                (unsigned long long)s->pings);
        fprintf(o, "\"close_codes\":");
        codes_json(o, &s->codes);
        fprintf(o, ",\"setup_close_codes\":");
        codes_json(o, &s->setup_codes);
        fprintf(o, ",\"stalled_closed\":%u,\"stalled_open\":%u,\"stalled_close_codes\":",
                s->stalled_closed, s->stalled_open);
        codes_json(o, &s->stall_codes);
        if (O.feed)
            fprintf(o, ",\"feed\":{\"rate\":%g,\"produced\":%llu,\"skipped\":%llu,\"error\":%d}",
                    O.feed_rate, (unsigned long long)g_feed.produced,
                    (unsigned long long)g_feed.skipped, g_feed.failed);
        fprintf(o, ",\"exit\":%d}\n", rc);
        return rc;
    }
    char c1[256], c2[256], c3[256];
    codes_text(c1, sizeof(c1), &s->codes);
    codes_text(c2, sizeof(c2), &s->stall_codes);
    codes_text(c3, sizeof(c3), &s->setup_codes);
    printf("tickgate-bench  %s  format=%s threads=%d\n", O.url, O.msgpack ? "msgpack" : "json",
           O.threads);
    printf("  connections   %u ready / %d  (failed %u: connect %u timeout %u tls %u upgrade %u"
           " protocol %u closed %u; dropped %u)\n",
           ready, O.connections, failed, s->fail_connect, s->fail_timeout, s->fail_tls,
           s->fail_upgrade, s->fail_proto, s->fail_closed, s->dropped);
    if (s->last_http_status)
        printf("  last status   HTTP %d\n", s->last_http_status);
    printf("  connect time  p50 %.2f ms  p99 %.2f ms  max %.2f ms  (%.0f connects/s)\n",
           MS(tg_bench_hist_percentile(&s->conn, 50)), MS(tg_bench_hist_percentile(&s->conn, 99)),
           MS(s->conn.max), cps);
    printf("  window        %.2f s\n", win_s);
    printf("  messages      %llu  (%.0f msgs/s, %.1f per conn/s)\n", (unsigned long long)s->msgs,
           mps, per_conn);
    printf("  bytes         %.2f MB/s\n", bps / 1e6);
    printf("  frames        %.0f frames/s, %.2f msgs/frame\n", fps, mpf);
    printf("  latency (ts)  p50 %.1f us  p90 %.1f us  p99 %.1f us  p99.9 %.1f us  max %.1f us"
           "  (%llu samples%s)\n",
           US(tg_bench_hist_percentile(l, 50)), US(tg_bench_hist_percentile(l, 90)),
           US(tg_bench_hist_percentile(l, 99)), US(tg_bench_hist_percentile(l, 99.9)),
           US(l->max), (unsigned long long)l->count, l->negative ? ", some negative: clock skew?" : "");
    if (s->out.count)
        printf("  from out_ts   p50 %.1f us  p99 %.1f us  (%llu frames: handed to the socket -> "
               "read here)\n",
               US(tg_bench_hist_percentile(&s->out, 50)), US(tg_bench_hist_percentile(&s->out, 99)),
               (unsigned long long)s->out.count);
    printf("  seq           %llu gaps (%llu missing), %llu backwards  [informational]\n",
           (unsigned long long)s->seq_gaps, (unsigned long long)s->seq_missing,
           (unsigned long long)s->seq_backwards);
    printf("  close codes   during run: %s; during setup: %s\n", c1, c3);
    if (s->stalled)
        printf("  stalled       %u: closed by the server %u (%s), still open %u\n", s->stalled,
               s->stalled_closed, c2, s->stalled_open);
    if (O.feed)
        printf("  feed          %g ticks/s: produced %llu, skipped %llu%s\n", O.feed_rate,
               (unsigned long long)g_feed.produced, (unsigned long long)g_feed.skipped,
               g_feed.failed ? " (connection lost)" : "");
    return rc;
}

static void on_sigint(int sig)
{
    (void)sig;
    atomic_store(&g_sigint, 1);
}

int main(int argc, char **argv)
{
    parse_opts(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);

    if (O.tls) {
        g_ssl = SSL_CTX_new(TLS_client_method());
        if (!g_ssl)
            usage_exit("cannot create a TLS context");
        /* partial writes + moving buffer: our wbuf is compacted between retries */
        SSL_CTX_set_mode(g_ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
        if (O.ca) {
            if (SSL_CTX_load_verify_locations(g_ssl, O.ca, NULL) != 1)
                usage_exit("--ca %s: cannot load", O.ca);
            SSL_CTX_set_verify(g_ssl, SSL_VERIFY_PEER, NULL);
        } else {
            /* a load generator, like wrk and h2load: no verification unless --ca */
            SSL_CTX_set_verify(g_ssl, SSL_VERIFY_NONE, NULL);
        }
    }

    conn_t *conns = calloc((size_t)O.connections, sizeof(conn_t));
    if (!conns) {
        fprintf(stderr, "tickgate-bench: out of memory\n");
        return 1;
    }
    /* stalled clients spread evenly over the index range */
    for (int i = 0; i < O.connections; i++)
        conns[i].stall = O.stall > 0 && (int)((int64_t)(i + 1) * O.stall / O.connections) !=
                                            (int)((int64_t)i * O.stall / O.connections);

    for (int k = 0; k < O.threads; k++) {
        thr_t *t = &g_thr[k];
        t->id = k;
        t->ep = epoll_create1(EPOLL_CLOEXEC);
        t->rbuf = malloc(RBUF_SIZE);
        t->rng = 0x2545f4914f6cdd1dull ^ (uint64_t)real_ns() ^ ((uint64_t)k << 32);
        t->max_inflight = (uint32_t)(O.max_inflight / O.threads > 0 ? O.max_inflight / O.threads : 1);
        t->n = (uint32_t)((O.connections - k + O.threads - 1) / O.threads);
        t->conns = calloc(t->n ? t->n : 1, sizeof(conn_t));
        if (t->ep < 0 || !t->rbuf || !t->conns) {
            fprintf(stderr, "tickgate-bench: out of memory\n");
            return 1;
        }
        tg_bench_hist_init(&t->st.lat);
        tg_bench_hist_init(&t->st.out);
        tg_bench_hist_init(&t->st.conn);
        for (uint32_t j = 0; j < t->n; j++) {
            conn_t *c = &t->conns[j];
            c->idx = j * (uint32_t)O.threads + (uint32_t)k;
            c->stall = conns[c->idx].stall;
            c->kind = TAG_CONN;
            c->fd = -1;
            c->t = t;
            c->dec.max_msg = MAX_MSG;
        }
    }
    free(conns);

    if (O.feed) {
        g_feed.kind = TAG_FEED;
        int rc = tg_bench_feed_open(&g_feed, O.feed, O.feed_rate, O.feed_symbols, 5000);
        if (rc < 0) {
            fprintf(stderr, "tickgate-bench: feed %s: %s\n", O.feed, strerror(-rc));
            return rc == -EINVAL ? 2 : 1;
        }
        static int timer_tag = TAG_FEED_TIMER;
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = &timer_tag};
        epoll_ctl(g_thr[0].ep, EPOLL_CTL_ADD, g_feed.timer_fd, &e);
        struct epoll_event e2 = {.events = 0, .data.ptr = &g_feed};
        epoll_ctl(g_thr[0].ep, EPOLL_CTL_ADD, g_feed.fd, &e2);
        g_thr[0].feed = &g_feed;
        logmsg("feed %s at %g ticks/s", O.feed, O.feed_rate);
    }

    logmsg("%d connections to %s (%s%s), ramp %g s, %d thread(s)%s", O.connections, O.url,
           O.msgpack ? "msgpack" : "json", O.tls ? ", TLS" : "", O.ramp, O.threads,
           O.source_ips ? ", spread over source addresses" : "");
    g_t0 = mono_ns();
    for (int k = 1; k < O.threads; k++)
        pthread_create(&g_thr[k].tid, NULL, thr_main, &g_thr[k]);
    thr_main(&g_thr[0]);
    for (int k = 1; k < O.threads; k++)
        pthread_join(g_thr[k].tid, NULL);

    stats_t *s = &g_thr[0].st;
    uint32_t failed = atomic_load(&g_thr[0].n_failed);
    for (int k = 1; k < O.threads; k++) {
        stats_t *o = &g_thr[k].st;
        failed += atomic_load(&g_thr[k].n_failed);
        s->msgs += o->msgs;
        s->bytes += o->bytes;
        s->frames += o->frames;
        s->warm_msgs += o->warm_msgs;
        s->no_ts += o->no_ts;
        s->bad_msgs += o->bad_msgs;
        s->seq_gaps += o->seq_gaps;
        s->seq_missing += o->seq_missing;
        s->seq_backwards += o->seq_backwards;
        s->pings += o->pings;
        s->sub_errors += o->sub_errors;
        s->ok += o->ok;
        s->fail_connect += o->fail_connect;
        s->fail_timeout += o->fail_timeout;
        s->fail_tls += o->fail_tls;
        s->fail_upgrade += o->fail_upgrade;
        s->fail_proto += o->fail_proto;
        s->fail_closed += o->fail_closed;
        s->dropped += o->dropped;
        s->stalled += o->stalled;
        s->stalled_closed += o->stalled_closed;
        s->stalled_open += o->stalled_open;
        if (o->last_http_status)
            s->last_http_status = o->last_http_status;
        if (o->first_ready && (!s->first_ready || o->first_ready < s->first_ready))
            s->first_ready = o->first_ready;
        if (o->last_ready > s->last_ready)
            s->last_ready = o->last_ready;
        code_merge(&s->codes, &o->codes);
        code_merge(&s->stall_codes, &o->stall_codes);
        code_merge(&s->setup_codes, &o->setup_codes);
        tg_bench_hist_merge(&s->lat, &o->lat);
        tg_bench_hist_merge(&s->out, &o->out);
        tg_bench_hist_merge(&s->conn, &o->conn);
    }
    int64_t ws = atomic_load(&g_win_start), we = atomic_load(&g_win_end);
    double win_s = ws < we && ws != INT64_MAX ? (double)(we - ws) / 1e9 : 0;
    int rc = report(s, win_s, failed);
    tg_bench_feed_close(&g_feed);
    for (int k = 0; k < O.threads; k++) {
        close(g_thr[k].ep);
        free(g_thr[k].rbuf);
        free(g_thr[k].conns);
    }
    if (g_ssl)
        SSL_CTX_free(g_ssl);
    return rc;
}
