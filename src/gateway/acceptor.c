/* acceptor.c - admission of connections: the per-IP connection cap (by fd,
 * before a byte is read) and, with server.threads > 1, our own listener and the
 * acceptor thread that deals sockets to the service threads. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw.h"
#include "wiretap.h"
#include "tickgate/buf.h"


/*
 * Connections per IP. lws tells us the address when it accepts (FILTER_NETWORK_
 * CONNECTION) but not reliably at destruction, so the address is remembered by
 * fd; a slot still held when its fd is handed out again belonged to a closed
 * connection and is released first.
 */
bool gw_fd_ip_acquire(gw_thread_t *t, int fd, const struct sockaddr_storage *sa)
{
    char ip[48] = "";
    if (sa->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof ip);
    else if (sa->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof ip);
    if (!ip[0] || fd < 0)
        return true;
    /* a trusted proxy carries many clients: they are counted by their
     * X-Forwarded-For address at the handshake instead */
    if (gw_ip_trusted(&t->g->cfg->server.trusted_proxies, ip))
        return true;
    if (fd >= t->nfdip) {
        int n = fd * 2 + 64;
        char(*nf)[48] = realloc(t->fdip, (size_t)n * sizeof *nf);
        if (!nf)
            return false;
        memset(nf + t->nfdip, 0, (size_t)(n - t->nfdip) * sizeof *nf);
        t->fdip = nf;
        t->nfdip = n;
    }
    if (t->fdip[fd][0])
        gw_ipcap_release(t->g->ipcap, t->fdip[fd]);
    t->fdip[fd][0] = 0;
    if (!gw_ipcap_acquire(t->g->ipcap, ip, (uint32_t)t->lim.max_conns_per_ip)) {
        char label[80];
        snprintf(label, sizeof label, "reason=\"ip_cap\"");
        tg_counter_t *c = tg_metrics_counter(t->g->metrics, "tickgate_connections_refused_total",
                                             label, "Connections refused before the handshake");
        if (c)
            tg_counter_add(c, 1);
        return false;
    }
    memcpy(t->fdip[fd], ip, sizeof ip);
    return true;
}

void gw_fd_ip_release(gw_thread_t *t, int fd)
{
    if (fd >= 0 && fd < t->nfdip && t->fdip[fd][0]) {
        gw_ipcap_release(t->g->ipcap, t->fdip[fd]);
        t->fdip[fd][0] = 0;
    }
}


/*
 * server.threads > 1: Debian's lws has no SMP and sets SO_REUSEPORT only for
 * its own multi-thread mode, so one listener is ours. An acceptor thread
 * accepts and deals sockets round-robin to the service threads, which adopt
 * them into their own contexts (lws_adopt_socket_vhost) on their own thread.
 */
int gw_open_listener(const char *host, int port, int *out_port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    if (getaddrinfo(host, ps, &hints, &res) != 0 || !res)
        return -EINVAL;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 4096) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -e;
    }
    freeaddrinfo(res);
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    *out_port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                               : ((struct sockaddr_in *)&sa)->sin_port);
    return fd;
}

void *gw_acceptor_thread(void *arg)
{
    tg_gateway_t *g = arg;
    pthread_setname_np(pthread_self(), "gw-accept");
    int next = 0;
    while (!atomic_load(&g->accept_stop)) {
        struct pollfd pfd = {.fd = g->listen_fd, .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        int fd = accept4(g->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        gw_thread_t *t = &g->threads[next];
        next = (next + 1) % g->nthreads;
        if (atomic_load(&t->shutdown_req)) {
            close(fd);
            continue;
        }
        pthread_mutex_lock(&t->adopt_lock);
        if (tg_vec_reserve32(&t->adopt_q, sizeof *t->adopt_q, &t->adopt_cap, t->adopt_n + 1,
                             64) < 0) {
            pthread_mutex_unlock(&t->adopt_lock);
            close(fd);
            continue;
        }
        t->adopt_q[t->adopt_n++] = fd;
        atomic_store(&t->adopt_waiting, 1);
        pthread_mutex_unlock(&t->adopt_lock);
        lws_cancel_service(t->ctx);
    }
    return NULL;
}

void gw_adopt_pending(gw_thread_t *t)
{
    pthread_mutex_lock(&t->adopt_lock);
    uint32_t n = t->adopt_n;
    int fds[256];
    if (n > 256)
        n = 256;
    memcpy(fds, t->adopt_q, n * sizeof *fds);
    memmove(t->adopt_q, t->adopt_q + n, (t->adopt_n - n) * sizeof *fds);
    t->adopt_n -= n;
    bool more = t->adopt_n > 0;
    atomic_store(&t->adopt_waiting, more);
    pthread_mutex_unlock(&t->adopt_lock);
    for (uint32_t i = 0; i < n; i++) {
        struct sockaddr_storage sa;
        socklen_t sl = sizeof sa;
        if (t->closing || getpeername(fds[i], (struct sockaddr *)&sa, &sl) != 0 ||
            !gw_fd_ip_acquire(t, fds[i], &sa)) {
            close(fds[i]);
            continue;
        }
        if (t->g->cfg->server.wiretap) /* wiretap.c */
            gw_tap_open(fds[i], t->g->cfg->server.tls_cert[0] != 0);
        /* on failure lws has closed the socket itself (and released its
         * slot through WSI_DESTROY once it had a wsi; a slot left behind is
         * released when the number comes back): closing it again here could
         * close a connection just accepted under the same number */
        (void)lws_adopt_socket_vhost(t->vhost, fds[i]);
    }
    if (more)
        lws_cancel_service(t->ctx);
}
