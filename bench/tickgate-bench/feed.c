/* feed.c - fixed-rate `tcp` feed driver for tickgate-bench (see feed.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "feed.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define FEED_MAX_LAG_S 0.1
#define FEED_MAX_PENDING (4u << 20) /* past this the server is not reading: skip */

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int split_host_port(const char *hp, char *host, size_t hcap, char *port, size_t pcap)
{
    const char *c = strrchr(hp, ':');
    if (!c || c == hp || !c[1])
        return -EINVAL;
    const char *h = hp, *he = c;
    if (*h == '[' && he[-1] == ']') { /* [::1]:9001 */
        h++;
        he--;
    }
    if ((size_t)(he - h) >= hcap || strlen(c + 1) >= pcap)
        return -EINVAL;
    memcpy(host, h, (size_t)(he - h));
    host[he - h] = 0;
    strcpy(port, c + 1);
    return 0;
}

static int connect_once(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai, *a;
    if (getaddrinfo(host, port, &hints, &ai) != 0)
        return -EHOSTUNREACH;
    int fd = -ECONNREFUSED;
    for (a = ai; a; a = a->ai_next) {
        int s = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0)
            continue;
        if (connect(s, a->ai_addr, a->ai_addrlen) == 0) {
            fd = s;
            break;
        }
        fd = -errno;
        close(s);
    }
    freeaddrinfo(ai);
    return fd;
}

int tg_bench_feed_open(tg_bench_feed_t *f, const char *host_port, double rate,
                       const char *symbols, int wait_ms)
{
    char host[256], port[16];
    if (!f || rate <= 0 || split_host_port(host_port, host, sizeof(host), port, sizeof(port)))
        return -EINVAL;
    int kind = f->kind;
    memset(f, 0, sizeof(*f));
    f->kind = kind;
    f->fd = f->timer_fd = -1;
    f->rate = rate;
    f->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)mono_ns();

    /* symbols */
    if (symbols && *symbols) {
        for (const char *p = symbols; p; p = strchr(p, ','), p = p ? p + 1 : NULL)
            f->nsyms++;
    } else {
        f->nsyms = 100;
    }
    f->syms = calloc(f->nsyms, sizeof(char *));
    f->cents = calloc(f->nsyms, sizeof(int64_t));
    f->cap = 65536;
    f->buf = malloc(f->cap);
    if (!f->syms || !f->cents || !f->buf)
        goto fail_free;
    for (size_t i = 0; i < f->nsyms; i++) {
        char tmp[32];
        if (symbols && *symbols) {
            const char *p = symbols;
            for (size_t k = 0; k < i; k++)
                p = strchr(p, ',') + 1;
            size_t l = strcspn(p, ",");
            if (l == 0 || l >= sizeof(tmp))
                goto fail_free;
            memcpy(tmp, p, l);
            tmp[l] = 0;
        } else {
            snprintf(tmp, sizeof(tmp), "S%03zu", i);
        }
        if (!(f->syms[i] = strdup(tmp)))
            goto fail_free;
        f->cents[i] = 10000 + 100 * (int64_t)i;
    }

    /* connect, retrying while the server is coming up */
    int64_t deadline = mono_ns() + (int64_t)wait_ms * 1000000;
    int fd;
    for (;;) {
        fd = connect_once(host, port);
        if (fd >= 0 || mono_ns() >= deadline)
            break;
        usleep(50000);
    }
    if (fd < 0) {
        tg_bench_feed_close(f);
        return fd;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    f->fd = fd;

    f->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec its = {.it_interval = {0, 1000000}, .it_value = {0, 1000000}};
    if (f->timer_fd < 0 || timerfd_settime(f->timer_fd, 0, &its, NULL) < 0) {
        int e = -errno;
        tg_bench_feed_close(f);
        return e;
    }
    f->t0 = mono_ns();
    return 0;

fail_free:
    tg_bench_feed_close(f);
    return -EINVAL;
}

/* Decimal digits of v (>= 0) written backwards ending at *end; returns the start. */
static char *utoa_rev(char *end, uint64_t v)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

static void emit_one(tg_bench_feed_t *f, int64_t now_real)
{
    size_t i = f->rr;
    f->rr = (f->rr + 1) % f->nsyms;
    /* xorshift64: a random walk of -2..+2 cents, floored at 1.00 */
    f->rng ^= f->rng << 13;
    f->rng ^= f->rng >> 7;
    f->rng ^= f->rng << 17;
    int64_t c = f->cents[i] + (int64_t)(f->rng % 5) - 2;
    if (c < 100)
        c = 100;
    f->cents[i] = c;

    char tmp[96], *e = tmp + sizeof(tmp), *p = e;
    *--p = '\n';
    p = utoa_rev(p, (uint64_t)now_real);
    *--p = ' ';
    p = utoa_rev(p, 100); /* size */
    *--p = ' ';
    *--p = (char)('0' + c % 10);
    *--p = (char)('0' + c / 10 % 10);
    *--p = '.';
    p = utoa_rev(p, (uint64_t)(c / 100));
    *--p = ' ';
    size_t sl = strlen(f->syms[i]);
    p -= sl;
    memcpy(p, f->syms[i], sl);
    size_t n = (size_t)(e - p);
    if (f->len + n > f->cap) {
        size_t cap = f->cap * 2;
        char *b = realloc(f->buf, cap);
        if (!b) {
            f->skipped++;
            return;
        }
        f->buf = b;
        f->cap = cap;
    }
    memcpy(f->buf + f->len, p, n);
    f->len += n;
    f->produced++;
}

int tg_bench_feed_flush(tg_bench_feed_t *f)
{
    size_t off = 0;
    while (off < f->len) {
        ssize_t w = send(f->fd, f->buf + off, f->len - off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                f->failed = -errno;
            break;
        }
        off += (size_t)w;
        f->bytes += (uint64_t)w;
    }
    if (off) {
        memmove(f->buf, f->buf + off, f->len - off);
        f->len -= off;
    }
    if (f->failed)
        f->len = 0;
    return f->len > 0;
}

void tg_bench_feed_pump(tg_bench_feed_t *f, int64_t now_mono)
{
    uint64_t exp;
    if (f->timer_fd >= 0 && read(f->timer_fd, &exp, sizeof(exp)) < 0 && errno != EAGAIN)
        return;
    if (f->fd < 0 || f->failed)
        return;
    double elapsed = (double)(now_mono - f->t0) / 1e9;
    int64_t due = (int64_t)(elapsed * f->rate) - (int64_t)(f->produced + f->skipped);
    int64_t max_burst = (int64_t)(f->rate * FEED_MAX_LAG_S + 0.999);
    if (max_burst < 1)
        max_burst = 1;
    if (due > max_burst) {
        f->skipped += (uint64_t)(due - max_burst);
        due = max_burst;
    }
    if (due <= 0)
        return;
    if (f->len > FEED_MAX_PENDING) { /* the server is not reading; don't queue */
        f->skipped += (uint64_t)due;
        return;
    }
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    int64_t now_real = (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
    for (int64_t k = 0; k < due; k++)
        emit_one(f, now_real);
    tg_bench_feed_flush(f);
}

void tg_bench_feed_close(tg_bench_feed_t *f)
{
    if (!f || (!f->syms && !f->buf)) /* zeroed or already closed: nothing of ours is open */
        return;
    if (f->fd >= 0)
        close(f->fd);
    if (f->timer_fd >= 0)
        close(f->timer_fd);
    f->fd = f->timer_fd = -1;
    if (f->syms)
        for (size_t i = 0; i < f->nsyms; i++)
            free(f->syms[i]);
    free(f->syms);
    free(f->cents);
    free(f->buf);
    f->syms = NULL;
    f->cents = NULL;
    f->buf = NULL;
    f->len = 0;
}
