/* usend.c - a pass's frames to the sockets in one io_uring submission (SPEC §11).
 *
 * After a drain every client with news is written once. Through lws that is
 * one send() per client; here the frames of the whole pass are queued as
 * IORING_OP_SEND entries and submitted with one io_uring_enter, which also
 * waits for their completions (sends on loopback and on a socket with room
 * complete inline; MSG_DONTWAIT turns a full socket into -EAGAIN instead of a
 * wait). The WebSocket header is ours: a server frame is FIN + opcode, the
 * length, no mask (RFC 6455 §5.2), written into the LWS_PRE room before the
 * payload. lws keeps everything else: handshakes, HTTP, control frames,
 * close, TLS and permessage-deflate connections (never sent from here). A
 * short or refused send hands the rest of the frame to lws as raw bytes
 * (lws_write LWS_WRITE_HTTP: no framing), which buffers it and finishes it on
 * the connection's writable turns, before anything else is written to it.
 *
 * Frames built in the thread's scratch buffer are copied into the pass arena
 * first (the scratch is rewritten for the next client); the pass's shared
 * frame is sent as is to every client that gets it. server.disable_io_uring
 * (TICKGATE_DISABLE_IO_URING=1), or a kernel or seccomp profile that refuses
 * io_uring, leaves every send to lws_write.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gw.h"
#include "tickgate/buf.h"
#include "tickgate/clock.h"
#include "tickgate/log.h"
#include "tickgate/metrics.h"

#define USEND_DEPTH 256 /* entries per submission; a larger pass submits in chunks */

int gw_usend_init(gw_thread_t *t, bool disabled)
{
    t->usend_on = false;
    if (disabled)
        return 0;
    int rc = io_uring_queue_init(USEND_DEPTH, &t->uring, 0);
    if (rc < 0) {
        TG_WARN("io_uring_unavailable", "component", TG_S("gateway"), "error", TG_S(strerror(-rc)));
        return rc;
    }
    /* a ring that cannot send (old kernels, some sandboxes) is no ring for us */
    struct io_uring_probe *probe = io_uring_get_probe_ring(&t->uring);
    bool can_send = probe && io_uring_opcode_supported(probe, IORING_OP_SEND);
    if (probe)
        io_uring_free_probe(probe);
    if (!can_send) {
        TG_WARN("io_uring_unavailable", "component", TG_S("gateway"), "error",
                TG_S("IORING_OP_SEND not supported"));
        io_uring_queue_exit(&t->uring);
        return -EOPNOTSUPP;
    }
    t->usend_on = true;
    return 0;
}

void gw_usend_free(gw_thread_t *t)
{
    if (t->usend_on)
        io_uring_queue_exit(&t->uring);
    t->usend_on = false;
    free(t->usq);
    free(t->arena);
    t->usq = NULL;
    t->arena = NULL;
    t->nusq = t->capusq = t->arena_len = t->arena_cap = 0;
}

/* RFC 6455 §5.2 server frame header for len bytes, ending right before p. */
static size_t ws_header(unsigned char *p, size_t len, bool binary)
{
    size_t h = len < 126 ? 2 : len < 65536 ? 4 : 10;
    unsigned char *o = p - h;
    o[0] = 0x80 | (binary ? 0x2 : 0x1);
    if (len < 126) {
        o[1] = (unsigned char)len;
    } else if (len < 65536) {
        o[1] = 126;
        o[2] = (unsigned char)(len >> 8);
        o[3] = (unsigned char)len;
    } else {
        o[1] = 127;
        for (int i = 0; i < 8; i++)
            o[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    }
    return h;
}

bool gw_usend_can(const gw_client_t *s)
{
    const gw_thread_t *t = s->t;
    return t->usend_on && t->in_pass_flush && s->wsi && s->fd >= 0 && !s->deflate &&
           !lws_is_ssl(s->wsi) && s->state == GW_ACTIVE;
}

/*
 * Queue payload p[0..len) (LWS_PRE room before it) for s. `stable`: p stays
 * valid until the pass's submission (the shared frame); otherwise it is copied
 * into the arena (entries keep offsets, so the arena may grow meanwhile).
 * Returns 0, or -ENOMEM (the caller then uses lws_write).
 */
int gw_usend_queue(gw_client_t *s, unsigned char *p, size_t len, bool stable,
                   int64_t oldest_ts)
{
    gw_thread_t *t = s->t;
    if (tg_vec_reserve(&t->usq, sizeof *t->usq, &t->capusq, t->nusq + 1, 256) < 0)
        return -ENOMEM;
    gw_usend_t *e = &t->usq[t->nusq];
    if (stable) {
        size_t h = ws_header(p, len, s->msgpack);
        e->buf = p - h;
        e->off = SIZE_MAX;
        e->len = len + h;
    } else {
        size_t need = (10 + len + 15) & ~(size_t)15; /* header room + payload, aligned */
        if (tg_vec_reserve(&t->arena, 1, &t->arena_cap, t->arena_len + need, 1 << 20) < 0)
            return -ENOMEM;
        unsigned char *d = t->arena + t->arena_len + 10;
        memcpy(d, p, len);
        size_t h = ws_header(d, len, s->msgpack);
        e->buf = NULL;
        e->off = t->arena_len + 10 - h;
        e->len = len + h;
        t->arena_len += need;
    }
    e->s = s;
    e->oldest_ts = oldest_ts;
    t->nusq++;
    return 0;
}

static const unsigned char *entry_bytes(const gw_thread_t *t, const gw_usend_t *e)
{
    return e->off == SIZE_MAX ? e->buf : t->arena + e->off;
}

/* What the kernel did not take of a frame: lws sends it before anything else
 * on that connection (raw bytes: the header is already out, or in this rest). */
static void hand_to_lws(gw_thread_t *t, gw_usend_t *e, size_t done)
{
    gw_client_t *s = e->s;
    if (s->state == GW_CLOSING && done == 0)
        return; /* nothing of it went out: the close frame follows cleanly */
    size_t rest = e->len - done; /* part went out: finish the frame before the close */
    unsigned char *tmp = malloc(LWS_PRE + rest); /* lws_write wants LWS_PRE room */
    if (!tmp) {
        gw_client_close(s, 1011, "out of memory");
        return;
    }
    memcpy(tmp + LWS_PRE, entry_bytes(t, e) + done, rest);
    if (lws_write(s->wsi, tmp + LWS_PRE, rest, LWS_WRITE_HTTP) < (int)rest)
        gw_client_close(s, 1011, "write failed");
    free(tmp);
    t->usend_handed++;
}

/* The ring failed: stop using it; lws sends from here on. */
static void usend_off(gw_thread_t *t, int err)
{
    TG_WARN("io_uring_send_failed", "component", TG_S("gateway"), "error", TG_S(strerror(-err)));
    io_uring_queue_exit(&t->uring);
    t->usend_on = false;
}

void gw_usend_flush(gw_thread_t *t)
{
    size_t done = 0;
    while (done < t->nusq) {
        if (!t->usend_on) { /* failed earlier in this pass */
            hand_to_lws(t, &t->usq[done++], 0);
            continue;
        }
        unsigned n = 0;
        while (done + n < t->nusq && n < USEND_DEPTH) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(&t->uring);
            if (!sqe)
                break;
            gw_usend_t *e = &t->usq[done + n];
            io_uring_prep_send(sqe, e->s->fd, entry_bytes(t, e), e->len, MSG_DONTWAIT | MSG_NOSIGNAL);
            io_uring_sqe_set_data64(sqe, (uint64_t)(done + n));
            n++;
        }
        if (n == 0) { /* no SQE at all: the ring is unusable */
            usend_off(t, -EBUSY);
            continue;
        }
        int rc = io_uring_submit_and_wait(&t->uring, n);
        int sent[USEND_DEPTH]; /* per entry of the chunk: bytes the kernel took, -1 unknown */
        for (unsigned k = 0; k < n; k++)
            sent[k] = -1;
        unsigned reaped = 0, submitted = rc > 0 ? (unsigned)rc : 0;
        bool ring_failed = rc < 0 || submitted < n;
        while (reaped < submitted) {
            struct io_uring_cqe *cqe;
            int wr = io_uring_wait_cqe(&t->uring, &cqe);
            if (wr < 0) {
                ring_failed = true;
                break;
            }
            uint64_t i = io_uring_cqe_get_data64(cqe);
            int res = cqe->res;
            io_uring_cqe_seen(&t->uring, cqe);
            reaped++;
            if (i < done || i >= done + n)
                continue;
            gw_usend_t *e = &t->usq[i];
            if (res == -EINVAL || res == -EOPNOTSUPP || res == -ENOSYS) {
                ring_failed = true; /* the ring cannot send here: lws sends it */
                sent[i - done] = 0;
                continue;
            }
            if (res >= 0 || res == -EAGAIN || res == -EINTR)
                sent[i - done] = res > 0 ? res : 0;
            else if (e->s->state != GW_CLOSING) {
                sent[i - done] = (int)e->len; /* nothing more to send: closing */
                gw_client_close(e->s, 1011, "write failed");
            }
        }
        int64_t now = tg_now_ns(); /* the chunk's frames are in the kernel (or with lws) now */
        for (unsigned k = 0; k < n; k++) {
            gw_usend_t *e = &t->usq[done + k];
            int took = sent[k] < 0 ? 0 : sent[k]; /* not reaped: never submitted */
            if ((size_t)took == e->len) {
                if (sent[k] >= 0 && e->s->state != GW_CLOSING)
                    t->usend_sent++;
            } else {
                hand_to_lws(t, e, (size_t)took);
            }
            if (e->oldest_ts && t->g->m_tick_to_send)
                tg_histogram_observe_ns(t->g->m_tick_to_send, now - e->oldest_ts);
        }
        if (ring_failed)
            usend_off(t, rc < 0 ? rc : -EIO);
        done += n;
    }
    t->nusq = 0;
    t->arena_len = 0;
    t->shared[0].queued = t->shared[1].queued = false;
}
