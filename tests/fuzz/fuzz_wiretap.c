/* fuzz_wiretap.c - libFuzzer target for src/gateway/wiretap.c, the read in
 * front of lws: request heads and frame headers from a hostile client.
 *
 * The first byte picks how the input arrives; the rest is the stream. It is
 * read through a tap the way lws reads (64 KiB at a time), arriving in pieces
 * of the chosen size. Checked: no read returns more than asked; the output
 * is never longer than the input plus stand-ins; after an HTTP verdict the
 * tap only drops (after 1002 masked frames still pass); a verdict stands;
 * and gw_tap_check_head on the whole input answers 0, 400 or 431. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/wiretap.h"

static const char *const SUBS[] = {"tickgate", "tickgate.json.v1", "tickgate.msgpack.v1", NULL};

typedef struct mem {
    const uint8_t *p;
    size_t n, avail, pos;
} mem_t;

static ssize_t mem_read(void *h, void *buf, size_t len)
{
    mem_t *m = h;
    size_t k = m->avail - m->pos;
    if (!k) {
        if (m->avail == m->n)
            return 0;
        errno = EAGAIN;
        return -1;
    }
    if (k > len)
        k = len;
    memcpy(buf, m->p + m->pos, k);
    m->pos += k;
    return (ssize_t)k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t piece = 1 + (size_t)data[0] * 37;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    gw_tap_head_t v;
    gw_tap_check_head((const char *)p, n, SUBS, &v);
    if (v.status != 0 && v.status != 400 && v.status != 431)
        abort();
    static unsigned char buf[64 * 1024 - 16];
    mem_t m = {.p = p, .n = n};
    gw_tap_io_t io = {.read = mem_read, .h = &m, .tls = data[0] & 1};
    gw_tap_t *c = gw_tap_new(io.tls);
    if (!c)
        return 0;
    size_t out = 0;
    int standins = 0;
    while (m.avail < n || m.pos < n) {
        m.avail = m.avail + piece < n ? m.avail + piece : n;
        for (int guard = 0; guard < 1000; guard++) {
            int before = gw_tap_status(c, NULL, NULL);
            ssize_t r = gw_tap_read(c, &io, buf, sizeof buf);
            if (r > (ssize_t)sizeof buf)
                abort();
            if (r <= 0)
                break;
            int now = gw_tap_status(c, NULL, NULL);
            if (before && before < 1000)
                abort(); /* after an HTTP verdict: nothing more reaches lws */
            if (now && now < 1000)
                standins++;
            if (before && now != before)
                abort(); /* a verdict stands */
            out += (size_t)r;
        }
        if (m.avail == n && m.pos == n)
            break;
        if (m.avail == n)
            break; /* what is left was held back or dropped */
    }
    if (out > n + (size_t)standins * (sizeof("GET " GW_TAP_STANDIN_PATH " HTTP/1.1\r\n\r\n") - 1))
        abort();
    gw_tap_free(c);
    return 0;
}
