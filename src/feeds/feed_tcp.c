/* feed_tcp.c - the `tcp` feed: newline-delimited ticks over TCP (SPEC §3).
 *
 * Each line is `SYMBOL PRICE SIZE [TS_NS]` (fields separated by spaces or
 * tabs, an optional trailing '\r'); numbers go straight to fixed-point
 * (tg_dec_parse). A malformed line, or one longer than LINE_MAX bytes, is a
 * parse error and skipped; an empty line is a keepalive (liveness only).
 *
 * As a server (`listen`) any number of publishers may connect; "no publisher
 * connected" is a disconnect for the breaker, so losing the last one reports
 * tg_feed_disconnected() (at start, staleness covers "nobody came"). As a
 * client (`connect`) the feed reconnects with exponential backoff and jitter
 * (open_wait_ms doubling up to open_wait_max_ms, like the breaker's own open
 * wait), reporting connect errors and disconnects.
 *
 * I/O runs on io_uring (accept / connect + link timeout / recv into one
 * buffer per connection, io_uring_wait_cqe_timeout so tg_feed_poll() runs at
 * least every 10 ms). When io_uring is unavailable (queue init fails, or
 * TICKGATE_DISABLE_IO_URING=1) the same state machine runs on epoll; the
 * choice is logged (`io_uring_unavailable`, once) and exported as the gauge
 * tickgate_io_uring_enabled{feed}.
 *
 * Thread: everything here runs on the feed thread, except tcp_init (main
 * thread), which binds the listener so a taken port fails at startup.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tickgate/backoff.h"
#include "tickgate/buf.h"
#include "tickgate/clock.h"
#include "tickgate/feed.h"
#include "tickgate/log.h"
#include "tickgate/netaddr.h"

#define LINE_MAX_BYTES    256   /* longer lines are malformed (without '\n') */
#define RECV_BYTES        16384 /* per connection read size */
#define BATCH             256   /* ticks per tg_feed_emit() */
#define RING_DEPTH        256
#define POLL_NS           10000000LL /* breaker timers at least this often */
#define CONNECT_TIMEOUT_S 3
#define MAX_CONNS         (1u << 20)

enum { OP_ACCEPT = 1, OP_RECV, OP_CONNECT, OP_LTIMEOUT };

typedef struct conn {
    int fd;
    uint32_t gen;  /* bumps on reuse, so a stale completion is recognised */
    bool pending;  /* an io_uring recv is in flight into buf */
    bool skipping; /* inside an overlong line: drop up to the next '\n' */
    size_t have;   /* bytes of an unfinished line kept at buf[0..have) */
    char buf[LINE_MAX_BYTES + 1 + RECV_BYTES];
} conn_t;

typedef struct tcpf {
    bool server;
    bool uring;
    struct io_uring ring;
    int epfd;
    int lfd; /* listener (server) */
    bool accept_pending;
    /* client */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char host[256];
    int port;
    int cfd_slot; /* slot of the connection being set up, -1 = none */
    bool connect_pending;
    int64_t connect_started;
    int64_t reconnect_at; /* mono ns; 0 = connect now */
    int fails;            /* consecutive failed attempts, for the backoff */
    uint64_t rng;
    struct __kernel_timespec connect_to;
    /* connections, slot = index; NULL = free */
    conn_t **conns;
    uint32_t nslots, nconns;
    int inflight; /* io_uring ops submitted, not yet completed */
    uint32_t gen_next;
    /* output */
    size_t n;
    tg_tick_t batch[BATCH];
    tg_gauge_t *m_uring;
    tg_counter_t *m_refused; /* publishers closed for allow_from */
} tcpf_t;

static uint64_t ud_make(unsigned op, uint32_t slot, uint32_t gen)
{
    return (uint64_t)op << 56 | (uint64_t)(slot & 0xffffffu) << 32 | gen;
}
static unsigned ud_op(uint64_t ud)
{
    return (unsigned)(ud >> 56);
}
static uint32_t ud_slot(uint64_t ud)
{
    return (uint32_t)(ud >> 32) & 0xffffffu;
}
static uint32_t ud_gen(uint64_t ud)
{
    return (uint32_t)ud;
}

/* ---- line parsing -------------------------------------------------------- */

static bool is_sep(char c)
{
    return c == ' ' || c == '\t';
}

/* Next field of [*p, end): returns its start and length, advances *p. */
static const char *field(const char **p, const char *end, size_t *len)
{
    const char *s = *p;
    while (s < end && is_sep(*s))
        s++;
    const char *e = s;
    while (e < end && !is_sep(*e))
        e++;
    *p = e;
    *len = (size_t)(e - s);
    return s;
}

/*
 * Parse one line (without '\n') into *t. Returns 1 = tick, 0 = empty line,
 * -EINVAL = malformed. A symbol longer than TG_SYMBOL_MAX or with bytes that
 * are not printable ASCII arrives with sym_len 0, so validation rejects it as
 * bad_symbol rather than parse_error (as the ws formats do).
 */
static int parse_line(const char *s, size_t len, tg_tick_t *t)
{
    const char *end = s + len, *p = s;
    size_t n;
    if (len && end[-1] == '\r')
        end--;
    memset(t, 0, sizeof *t);
    const char *sym = field(&p, end, &n);
    if (n == 0)
        return p == end ? 0 : -EINVAL;
    bool plain = n <= TG_SYMBOL_MAX;
    for (size_t i = 0; i < n && plain; i++)
        plain = sym[i] > ' ' && sym[i] < 0x7f; /* no NUL/control bytes inside a C string */
    if (plain) {
        memcpy(t->symbol, sym, n);
        t->symbol[n] = 0;
        t->sym_len = (uint8_t)n;
    }
    const char *f = field(&p, end, &n);
    if (n == 0 || tg_dec_parse(f, n, &t->price) != 0)
        return -EINVAL;
    f = field(&p, end, &n);
    if (n == 0 || tg_dec_parse(f, n, &t->size) != 0)
        return -EINVAL;
    f = field(&p, end, &n);
    if (n) {
        int64_t v = 0;
        if (n > 19)
            return -EINVAL;
        for (size_t i = 0; i < n; i++) {
            if (f[i] < '0' || f[i] > '9')
                return -EINVAL;
            if (v > (INT64_MAX - (f[i] - '0')) / 10)
                return -EINVAL;
            v = v * 10 + (f[i] - '0');
        }
        t->src_ts = v;
        field(&p, end, &n);
        if (n)
            return -EINVAL; /* a fifth field */
    }
    t->flags = TG_TICK_TRADE;
    return 1;
}

static void flush(tg_feed_t *f, tcpf_t *s)
{
    if (s->n) {
        tg_feed_emit(f, s->batch, s->n);
        s->n = 0;
    }
}

static void on_line(tg_feed_t *f, tcpf_t *s, const char *line, size_t len)
{
    int rc = parse_line(line, len, &s->batch[s->n]);
    if (rc == 1) {
        if (++s->n == BATCH)
            flush(f, s);
    } else if (rc == 0) {
        tg_feed_neutral(f);
    } else {
        tg_feed_parse_error(f);
    }
}

/*
 * `n` new bytes arrived at c->buf + c->have: hand over every complete line and
 * keep the unfinished tail at the front of the buffer for the next read.
 */
static void on_bytes(tg_feed_t *f, tcpf_t *s, conn_t *c, size_t n)
{
    char *buf = c->buf, *end = buf + c->have + n;
    char *p = buf;              /* start of the current line */
    char *scan = buf + c->have; /* the kept tail has no '\n' */
    char *nl;
    while ((nl = memchr(scan, '\n', (size_t)(end - scan))) != NULL) {
        if (c->skipping)
            c->skipping = false; /* the overlong line ends here */
        else if ((size_t)(nl - p) > LINE_MAX_BYTES)
            tg_feed_parse_error(f);
        else
            on_line(f, s, p, (size_t)(nl - p));
        p = scan = nl + 1;
    }
    size_t tail = (size_t)(end - p);
    if (c->skipping) {
        c->have = 0;
    } else if (tail > LINE_MAX_BYTES) {
        /* overlong already: count it now, drop the rest of it as it comes */
        tg_feed_parse_error(f);
        c->skipping = true;
        c->have = 0;
    } else {
        memmove(buf, p, tail);
        c->have = tail;
    }
}

/* ---- connections ---------------------------------------------------------- */

static int conn_add(tcpf_t *s, int fd)
{
    uint32_t i;
    for (i = 0; i < s->nslots; i++)
        if (!s->conns[i])
            break;
    if (i == s->nslots) {
        /* slots double from 8, so MAX_CONNS (a power of two) is the last size */
        if (s->nslots >= MAX_CONNS)
            return -EMFILE;
        int rc = tg_vec_reserve32(&s->conns, sizeof *s->conns, &s->nslots, (size_t)s->nslots + 1, 8);
        if (rc < 0)
            return rc;
    }
    conn_t *c = malloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    c->fd = fd;
    c->gen = ++s->gen_next;
    c->pending = false;
    c->skipping = false;
    c->have = 0;
    s->conns[i] = c;
    s->nconns++;
    return (int)i;
}

/* Backoff before the next connect: the breaker's open wait shape (tg_backoff_ns). */
static int64_t backoff_ns(tg_feed_t *f, tcpf_t *s)
{
    return tg_backoff_ns(f->conf->breaker.open_wait_ms, f->conf->breaker.open_wait_max_ms,
                         (uint32_t)s->fails, &s->rng);
}

static void schedule_reconnect(tg_feed_t *f, tcpf_t *s)
{
    s->fails++;
    int64_t wait = backoff_ns(f, s);
    s->reconnect_at = tg_mono_ns() + wait;
    TG_INFO("feed_reconnect_scheduled", "feed", TG_S(f->conf->name), "in_ms", TG_I(wait / 1000000));
}

/* A connection ended (EOF or error). */
static void conn_close(tg_feed_t *f, tcpf_t *s, uint32_t slot, int err)
{
    conn_t *c = s->conns[slot];
    if (s->uring == false && s->epfd >= 0)
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
    s->conns[slot] = NULL;
    s->nconns--;
    flush(f, s);
    if (s->server) {
        TG_INFO("tcp_publisher_gone", "feed", TG_S(f->conf->name), "error",
                TG_S(err ? strerror(-err) : "eof"), "publishers", TG_I(s->nconns));
        if (s->nconns == 0)
            tg_feed_disconnected(f);
    } else {
        tg_feed_disconnected(f);
        schedule_reconnect(f, s);
    }
}

/* ---- io_uring backend ------------------------------------------------------ */

/* Like the liburing examples: if the SQ is full, submit and try again. */
static struct io_uring_sqe *get_sqe(tcpf_t *s)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
    if (!sqe) {
        io_uring_submit(&s->ring);
        sqe = io_uring_get_sqe(&s->ring);
    }
    return sqe;
}

static void uring_arm_accept(tcpf_t *s)
{
    struct io_uring_sqe *sqe = get_sqe(s);
    if (!sqe)
        return;
    io_uring_prep_accept(sqe, s->lfd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, ud_make(OP_ACCEPT, 0, 0));
    s->accept_pending = true;
    s->inflight++;
}

static void uring_arm_recv(tcpf_t *s, uint32_t slot)
{
    conn_t *c = s->conns[slot];
    struct io_uring_sqe *sqe = get_sqe(s);
    if (!sqe)
        return;
    io_uring_prep_recv(sqe, c->fd, c->buf + c->have, RECV_BYTES, 0);
    io_uring_sqe_set_data64(sqe, ud_make(OP_RECV, slot, c->gen));
    c->pending = true;
    s->inflight++;
}

/* ---- epoll backend --------------------------------------------------------- */

static int ep_add(tcpf_t *s, int fd, uint32_t events, uint64_t ud)
{
    struct epoll_event ev = {.events = events, .data.u64 = ud};
    return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* ---- shared setup ---------------------------------------------------------- */

static void set_nodelay_nonblock(int fd, bool nonblock)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (nonblock)
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* allow_from (empty = anyone who can reach the port): checked before a byte is
 * read, so a refused process cannot publish even one tick. */
static bool publisher_allowed(tg_feed_t *f, tcpf_t *s, int fd)
{
    const tg_strlist_t *allow = &f->conf->allow_from;
    if (allow->n == 0)
        return true;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "";
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof ip);
        else if (ss.ss_family == AF_INET6) {
            const struct in6_addr *a6 = &((struct sockaddr_in6 *)&ss)->sin6_addr;
            if (IN6_IS_ADDR_V4MAPPED(a6)) /* a dual-stack listener: match as IPv4 */
                inet_ntop(AF_INET, &a6->s6_addr[12], ip, sizeof ip);
            else
                inet_ntop(AF_INET6, a6, ip, sizeof ip);
        }
    }
    if (ip[0] && tg_addr_in_list(allow, ip))
        return true;
    tg_counter_add(s->m_refused, 1);
    TG_WARN("tcp_publisher_refused", "feed", TG_S(f->conf->name), "peer", TG_S(ip),
            "reason", TG_S("not in allow_from"));
    return false;
}

static void publisher_connected(tg_feed_t *f, tcpf_t *s, int fd)
{
    if (!publisher_allowed(f, s, fd)) {
        close(fd);
        return;
    }
    set_nodelay_nonblock(fd, !s->uring);
    int slot = conn_add(s, fd);
    if (slot < 0) {
        TG_WARN("tcp_accept_dropped", "feed", TG_S(f->conf->name), "error", TG_S(strerror(-slot)));
        close(fd);
        return;
    }
    conn_t *c = s->conns[slot];
    TG_INFO("tcp_publisher_connected", "feed", TG_S(f->conf->name), "publishers", TG_I(s->nconns));
    if (s->uring) {
        uring_arm_recv(s, (uint32_t)slot);
    } else if (ep_add(s, fd, EPOLLIN | EPOLLRDHUP, ud_make(OP_RECV, (uint32_t)slot, c->gen))) {
        conn_close(f, s, (uint32_t)slot, -errno);
    }
}

static int resolve(tcpf_t *s)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    int rc = getaddrinfo(s->host, port, &hints, &ai);
    if (rc || !ai)
        return -EHOSTUNREACH;
    memcpy(&s->addr, ai->ai_addr, ai->ai_addrlen);
    s->addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

/* Client: start a connection attempt (asynchronous on both backends). */
static void start_connect(tg_feed_t *f, tcpf_t *s)
{
    int rc = resolve(s);
    if (rc)
        goto fail;
    int fd = socket(s->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = -errno;
        goto fail;
    }
    int slot = conn_add(s, fd);
    if (slot < 0) {
        close(fd);
        rc = slot;
        goto fail;
    }
    s->cfd_slot = slot;
    s->connect_started = tg_mono_ns();
    conn_t *c = s->conns[slot];
    if (s->uring) {
        struct io_uring_sqe *sqe = get_sqe(s);
        if (!sqe) {
            rc = -EBUSY;
            goto fail_slot;
        }
        io_uring_prep_connect(sqe, fd, (struct sockaddr *)&s->addr, s->addrlen);
        io_uring_sqe_set_data64(sqe, ud_make(OP_CONNECT, (uint32_t)slot, c->gen));
        io_uring_sqe_set_flags(sqe, IOSQE_IO_LINK);
        s->connect_to.tv_sec = CONNECT_TIMEOUT_S;
        s->connect_to.tv_nsec = 0;
        s->inflight++;
        /* without its time-out the connect still completes (the kernel's
         * own SYN retries bound it), just later */
        if ((sqe = get_sqe(s)) != NULL) {
            io_uring_prep_link_timeout(sqe, &s->connect_to, 0);
            io_uring_sqe_set_data64(sqe, ud_make(OP_LTIMEOUT, 0, 0));
            s->inflight++;
        } else {
            io_uring_submit(&s->ring);
        }
        s->connect_pending = true;
        return;
    }
    set_nodelay_nonblock(fd, true);
    if (connect(fd, (struct sockaddr *)&s->addr, s->addrlen) == 0 || errno == EINPROGRESS) {
        if (ep_add(s, fd, EPOLLOUT, ud_make(OP_CONNECT, (uint32_t)slot, c->gen)) == 0) {
            s->connect_pending = true;
            return;
        }
    }
    rc = -errno;
fail_slot:
    s->conns[slot] = NULL;
    s->nconns--;
    free(c);
    close(fd);
    s->cfd_slot = -1;
fail:
    TG_WARN("feed_connect_failed", "feed", TG_S(f->conf->name), "host", TG_S(s->host), "port",
            TG_I(s->port), "error", TG_S(strerror(-rc)));
    tg_feed_connect_error(f);
    schedule_reconnect(f, s);
}

/* Client: the attempt in slot `slot` finished with `res` (0 or -errno). */
static void connect_done(tg_feed_t *f, tcpf_t *s, uint32_t slot, int res)
{
    conn_t *c = s->conns[slot];
    s->connect_pending = false;
    s->cfd_slot = -1;
    if (res < 0) {
        if (!s->uring)
            epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        free(c);
        s->conns[slot] = NULL;
        s->nconns--;
        TG_WARN("feed_connect_failed", "feed", TG_S(f->conf->name), "host", TG_S(s->host), "port",
                TG_I(s->port), "error", TG_S(strerror(-res)));
        tg_feed_connect_error(f);
        schedule_reconnect(f, s);
        return;
    }
    s->fails = 0;
    TG_INFO("feed_connected", "feed", TG_S(f->conf->name), "host", TG_S(s->host), "port",
            TG_I(s->port), "io_uring", TG_B(s->uring));
    if (s->uring) {
        set_nodelay_nonblock(c->fd, false);
        uring_arm_recv(s, slot);
    } else {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP,
                                 .data.u64 = ud_make(OP_RECV, slot, c->gen)};
        epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    }
}

/* ---- completions ----------------------------------------------------------- */

static void uring_complete(tg_feed_t *f, tcpf_t *s, uint64_t ud, int res)
{
    unsigned op = ud_op(ud);
    uint32_t slot = ud_slot(ud);
    s->inflight--;
    switch (op) {
    case OP_ACCEPT:
        s->accept_pending = false;
        if (res >= 0)
            publisher_connected(f, s, res);
        else if (res != -EINTR && res != -ECONNABORTED && res != -EAGAIN)
            TG_WARN("tcp_accept_failed", "feed", TG_S(f->conf->name), "error",
                    TG_S(strerror(-res)));
        if (!tg_feed_stopping(f))
            uring_arm_accept(s);
        break;
    case OP_CONNECT:
        if (slot < s->nslots && s->conns[slot] && s->conns[slot]->gen == ud_gen(ud))
            connect_done(f, s, slot, res == -ECANCELED ? -ETIMEDOUT : res);
        break;
    case OP_RECV: {
        if (slot >= s->nslots || !s->conns[slot] || s->conns[slot]->gen != ud_gen(ud))
            break;
        conn_t *c = s->conns[slot];
        c->pending = false;
        if (res > 0) {
            on_bytes(f, s, c, (size_t)res);
            if (!tg_feed_stopping(f))
                uring_arm_recv(s, slot);
        } else if (res == -EINTR || res == -EAGAIN) {
            uring_arm_recv(s, slot);
        } else {
            conn_close(f, s, slot, res);
        }
        break;
    }
    default: /* OP_LTIMEOUT: the connect's own completion reports the outcome */
        break;
    }
}

static void uring_loop_once(tg_feed_t *f, tcpf_t *s, int64_t wait_ns)
{
    struct io_uring_cqe *cqe;
    struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = wait_ns};
    io_uring_submit(&s->ring);
    int rc = io_uring_wait_cqe_timeout(&s->ring, &cqe, &ts);
    if (rc < 0)
        return; /* -ETIME: nothing arrived; the caller polls the breaker */
    unsigned head, seen = 0;
    /* completions may arm new SQEs (never reap inside the loop), so collect
     * first and advance once, as the liburing examples do */
    io_uring_for_each_cqe(&s->ring, head, cqe)
    {
        uring_complete(f, s, cqe->user_data, cqe->res);
        seen++;
    }
    io_uring_cq_advance(&s->ring, seen);
}

static void epoll_loop_once(tg_feed_t *f, tcpf_t *s, int64_t wait_ns)
{
    struct epoll_event evs[64];
    int ms = (int)((wait_ns + 999999) / 1000000);
    int n = epoll_wait(s->epfd, evs, 64, ms);
    for (int i = 0; i < n; i++) {
        uint64_t ud = evs[i].data.u64;
        uint32_t slot = ud_slot(ud);
        switch (ud_op(ud)) {
        case OP_ACCEPT:
            for (int k = 0; k < 64; k++) { /* level-triggered: take what is queued */
                int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0)
                    break;
                publisher_connected(f, s, fd);
            }
            break;
        case OP_CONNECT: {
            if (slot >= s->nslots || !s->conns[slot] || s->conns[slot]->gen != ud_gen(ud))
                break;
            int err = 0;
            socklen_t el = sizeof err;
            getsockopt(s->conns[slot]->fd, SOL_SOCKET, SO_ERROR, &err, &el);
            connect_done(f, s, slot, -err);
            break;
        }
        case OP_RECV: {
            if (slot >= s->nslots || !s->conns[slot] || s->conns[slot]->gen != ud_gen(ud))
                break;
            conn_t *c = s->conns[slot];
            /* bounded reads per wakeup so one publisher cannot starve the timers */
            for (int k = 0; k < 16; k++) {
                ssize_t r = recv(c->fd, c->buf + c->have, RECV_BYTES, 0);
                if (r > 0) {
                    on_bytes(f, s, c, (size_t)r);
                    continue;
                }
                if (r < 0 && (errno == EAGAIN || errno == EINTR))
                    break;
                conn_close(f, s, slot, r == 0 ? 0 : -errno);
                break;
            }
            break;
        }
        }
    }
}

/* ---- ops ------------------------------------------------------------------- */

static int listen_on(tcpf_t *s)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    if (getaddrinfo(s->host, port, &hints, &ai) || !ai)
        return -EADDRNOTAVAIL;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = 0;
    if (fd < 0) {
        rc = -errno;
        goto fail_free;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 128)) {
        rc = -errno;
        goto fail_close;
    }
    freeaddrinfo(ai);
    s->lfd = fd;
    return 0;
fail_close:
    close(fd);
fail_free:
    freeaddrinfo(ai);
    return rc;
}

static int tcp_init(tg_feed_t *f)
{
    const tg_feed_conf_t *c = f->conf;
    tcpf_t *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->lfd = s->epfd = -1;
    s->cfd_slot = -1;
    s->server = c->listen && *c->listen;
    s->rng = (uint64_t)tg_now_ns() ^ ((uint64_t)f->index << 32);
    const char *hp = s->server ? c->listen : c->connect;
    int rc = tg_parse_hostport(hp, s->host, sizeof s->host, &s->port);
    if (rc)
        goto fail_free;
    if (s->server && (rc = listen_on(s)) != 0) {
        TG_ERROR("tcp_listen_failed", "feed", TG_S(c->name), "listen", TG_S(hp), "error",
                 TG_S(strerror(-rc)));
        goto fail_free;
    }
    char label[160];
    snprintf(label, sizeof label, "feed=\"%s\"", c->name);
    s->m_uring =
        tg_metrics_gauge(f->metrics, "tickgate_io_uring_enabled", label,
                         "1 when the component reads with io_uring, 0 on the epoll fallback");
    s->m_refused = tg_metrics_counter(f->metrics, "tickgate_tcp_refused_total", label,
                                      "Publishers closed because their address is not in allow_from");
    rc = -ENOMEM;
    if (!s->m_uring || !s->m_refused)
        goto fail_close;
    f->priv = s;
    return 0;
fail_close:
    if (s->lfd >= 0)
        close(s->lfd);
fail_free:
    free(s);
    return rc;
}

static int backend_init(tg_feed_t *f, tcpf_t *s)
{
    const char *why = "disabled by server.disable_io_uring";
    if (!f->cfg->server.disable_io_uring) {
        int rc = io_uring_queue_init(RING_DEPTH, &s->ring, 0);
        if (rc == 0)
            s->uring = true;
        else
            why = strerror(-rc);
    }
    tg_gauge_set(s->m_uring, s->uring);
    if (s->uring)
        return 0;
    TG_WARN("io_uring_unavailable", "component", TG_S("feed"), "feed", TG_S(f->conf->name),
            "reason", TG_S(why));
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->epfd < 0)
        return -errno;
    return 0;
}

static int tcp_run(tg_feed_t *f)
{
    tcpf_t *s = f->priv;
    int rc = backend_init(f, s);
    if (rc)
        return rc;
    if (s->server) {
        if (s->uring) {
            uring_arm_accept(s);
        } else {
            fcntl(s->lfd, F_SETFL, fcntl(s->lfd, F_GETFL) | O_NONBLOCK);
            if ((rc = ep_add(s, s->lfd, EPOLLIN, ud_make(OP_ACCEPT, 0, 0))) != 0)
                return rc;
        }
        TG_INFO("tcp_listening", "feed", TG_S(f->conf->name), "listen", TG_S(f->conf->listen),
                "io_uring", TG_B(s->uring));
    }
    while (!tg_feed_stopping(f)) {
        int64_t now = tg_mono_ns();
        if (!s->server && s->nconns == 0 && !s->connect_pending && now >= s->reconnect_at)
            start_connect(f, s);
        /* epoll: the connect time-out is ours to enforce */
        if (!s->uring && s->connect_pending &&
            now - s->connect_started > CONNECT_TIMEOUT_S * 1000000000LL)
            connect_done(f, s, (uint32_t)s->cfd_slot, -ETIMEDOUT);
        int64_t wait = POLL_NS;
        if (!s->server && s->nconns == 0 && !s->connect_pending && s->reconnect_at - now < wait)
            wait = s->reconnect_at - now > 0 ? s->reconnect_at - now : 0;
        if (s->uring)
            uring_loop_once(f, s, wait);
        else
            epoll_loop_once(f, s, wait);
        flush(f, s);
        tg_feed_poll(f);
    }
    return 0;
}

static void tcp_destroy(tg_feed_t *f)
{
    tcpf_t *s = f->priv;
    if (!s)
        return;
    /* shut the sockets so every op in flight completes, and reap them before
     * the buffers they write into go away */
    if (s->lfd >= 0)
        shutdown(s->lfd, SHUT_RDWR);
    for (uint32_t i = 0; i < s->nslots; i++)
        if (s->conns[i])
            shutdown(s->conns[i]->fd, SHUT_RDWR);
    if (s->uring) {
        int64_t end = tg_mono_ns() + 500000000LL;
        io_uring_submit(&s->ring);
        while (s->inflight > 0 && tg_mono_ns() < end) {
            struct io_uring_cqe *cqe;
            struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = POLL_NS};
            if (io_uring_wait_cqe_timeout(&s->ring, &cqe, &ts) == 0) {
                s->inflight--;
                io_uring_cqe_seen(&s->ring, cqe);
            }
        }
        io_uring_queue_exit(&s->ring);
    }
    if (s->epfd >= 0)
        close(s->epfd);
    for (uint32_t i = 0; i < s->nslots; i++)
        if (s->conns[i]) {
            close(s->conns[i]->fd);
            free(s->conns[i]);
        }
    free(s->conns);
    if (s->lfd >= 0)
        close(s->lfd);
    free(s);
    f->priv = NULL;
}

const tg_feed_ops_t tg_feed_tcp_ops = {
    .type = "tcp",
    .init = tcp_init,
    .run = tcp_run,
    .destroy = tcp_destroy,
};
