/* interpose.c - the tickgate executable's own recv(), SSL_read() and close().
 *
 * Linked into the daemon only (not the core library, tests or tickgate-bench).
 * A definition in the executable comes first in the dynamic linker's search,
 * so libwebsockets' calls to these land here; each looks up the descriptor in
 * the tap table (wiretap.c) and, for a client connection the gateway opened,
 * reads through the tap; everything else (lws's feed clients, libpq, hiredis,
 * libcurl) goes straight to the next definition: libc's, or the sanitizer's
 * interceptor in an ASan/TSan build. That costs one table load per call.
 *
 * The linker exports these symbols (CMakeLists.txt: --export-dynamic-symbol);
 * the gateway logs at start when the tap is off (gw_tap_enabled). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wiretap.h"

static ssize_t (*next_recv)(int, void *, size_t, int);
static int (*next_ssl_read)(SSL *, void *, int);
static int (*next_close)(int);

__attribute__((constructor)) static void resolve(void)
{
    next_recv = (ssize_t(*)(int, void *, size_t, int))dlsym(RTLD_NEXT, "recv");
    next_ssl_read = (int (*)(SSL *, void *, int))dlsym(RTLD_NEXT, "SSL_read");
    next_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
    if (next_recv && next_ssl_read && next_close)
        gw_tap_enable();
}

static ssize_t plain_read(void *h, void *buf, size_t len)
{
    return next_recv((int)(intptr_t)h, buf, len, 0);
}

static ssize_t tls_read(void *h, void *buf, size_t len)
{
    return next_ssl_read(h, buf, len > INT32_MAX ? INT32_MAX : (int)len);
}

static size_t tls_pending(void *h)
{
    int n = SSL_pending(h);
    return n > 0 ? (size_t)n : 0;
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    gw_tap_t *c;
    if (flags == 0 && (c = gw_tap_of(fd, false)) != NULL) {
        gw_tap_io_t io = {.read = plain_read, .h = (void *)(intptr_t)fd, .tls = false};
        return gw_tap_read(c, &io, buf, len);
    }
    if (!next_recv) /* before the constructor ran */
        return syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
    return next_recv(fd, buf, len, flags);
}

int SSL_read(SSL *ssl, void *buf, int num)
{
    gw_tap_t *c;
    if (num > 0 && next_ssl_read && (c = gw_tap_of(SSL_get_fd(ssl), true)) != NULL) {
        gw_tap_io_t io = {.read = tls_read, .pending = tls_pending, .h = ssl, .tls = true};
        ssize_t n = gw_tap_read(c, &io, buf, (size_t)num);
        return (int)n;
    }
    if (!next_ssl_read) { /* dlsym found no libssl: nothing could call us */
        errno = ENOSYS;
        return -1;
    }
    return next_ssl_read(ssl, buf, num);
}

int close(int fd)
{
    gw_tap_forget(fd); /* before the number can be handed out again */
    if (!next_close)
        return (int)syscall(SYS_close, fd);
    return next_close(fd);
}
