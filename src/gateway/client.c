/* client.c - one WebSocket client: subscriptions, send queues, framing.
 *
 * Two queues per client. Subscriptions with something unsent sit in a FIFO
 * of sub indices, each holding only its newest message: a newer quote or
 * portfolio state replaces an unsent older one (conflation, counted), so a
 * slow reader costs memory proportional to its subscriptions, not to time.
 * Everything that must never be dropped (replies, alerts, recovery replays)
 * goes to the ctrl FIFO, drained first. A client that keeps up takes every
 * message of a pass in order, as indices into the thread's pass (fanout.c)
 * rather than references; whatever a pass's write leaves of that list moves
 * to the ctrl FIFO. On WRITEABLE the pending messages are copied into one
 * frame (JSON Lines or concatenated MessagePack) and written with a single
 * lws_write(): the syscall per frame, not formatting, is the cost.
 */
#include <errno.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "tickgate/buf.h"
#include "tickgate/clock.h"
#include "tickgate/log.h"

gw_client_t *gw_client_new(gw_thread_t *t, struct lws *wsi)
{
    gw_client_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->t = t;
    s->wsi = wsi;
    s->fd = wsi ? lws_get_socket_fd(wsi) : -1;
    s->last_progress_ns = tg_mono_ns();
    s->ack_progress_ns = s->last_progress_ns;
    s->next_stall_check_ns = s->last_progress_ns + (int64_t)(t->next_client % 250) * 1000000LL;
    snprintf(s->client_id, sizeof s->client_id, "c-%d-%llu", t->idx,
             (unsigned long long)++t->next_client);
    s->next = t->clients;
    if (t->clients)
        t->clients->prev = s;
    t->clients = s;
    t->nclients++;
    return s;
}

void gw_client_free(gw_client_t *s)
{
    if (!s)
        return;
    gw_thread_t *t = s->t;
    for (uint32_t i = 0; i < s->nsubs; i++)
        if (s->subs[i].key)
            gw_client_unsub(s, i);
    if (s->wildcard)
        gw_hub_del_wild(&t->hub, s);
    for (uint32_t i = 0; i < s->clen; i++)
        tg_msg_unref(s->ctrl[(s->chead + i) % s->ccap]);
    if (s->prev)
        s->prev->next = s->next;
    else
        t->clients = s->next;
    if (s->next)
        s->next->prev = s->prev;
    t->nclients--;
    for (uint32_t i = 0; i < t->nwriters; i++)
        if (t->writers[i] == s)
            t->writers[i] = NULL;
    if (s->gated)
        gw_list_remove(t->gated, &t->ngated, s);
    if (s->in_hz)
        gw_list_remove(t->hz, &t->nhz, s);
    tg_jwt_claims_free(&s->claims);
    free(s->pidx);
    for (int i = 0; i < s->nheld; i++)
        free(s->held[i].data);
    free(s->subs);
    free(s->dirty);
    free(s->ctrl);
    free(s->rx);
    free(s->zbuf);
    free(s);
}

int gw_client_find_sub(gw_client_t *s, gw_key_t *k)
{
    for (uint32_t i = 0; i < k->nsubs; i++)
        if (k->subs[i].s == s)
            return (int)k->subs[i].sub;
    return -1;
}

int gw_client_sub(gw_client_t *s, gw_key_t *k, bool explicit_)
{
    int existing = gw_client_find_sub(s, k);
    if (existing >= 0) {
        if (explicit_)
            s->subs[existing].explicit_ = 1;
        return existing;
    }
    uint32_t idx = s->nsubs;
    if (s->nfree) {
        /* reuse a free slot, but not one still listed in the dirty FIFO */
        for (idx = 0; idx < s->nsubs && (s->subs[idx].key || s->subs[idx].queued); idx++)
            ;
    }
    if (idx == s->nsubs) {
        if (s->nsubs == s->capsubs) {
            uint32_t nc = s->capsubs ? s->capsubs * 2 : 8;
            gw_sub_t *ns = realloc(s->subs, nc * sizeof *ns);
            uint32_t *nd = realloc(s->dirty, nc * sizeof *nd);
            if (!ns || !nd) {
                if (ns)
                    s->subs = ns;
                if (nd)
                    s->dirty = nd;
                return -ENOMEM;
            }
            /* the dirty FIFO is a ring of capacity dcap: unroll it into the new array */
            if (s->dlen && s->dhead + s->dlen > s->dcap) {
                uint32_t first = s->dcap - s->dhead;
                memmove(nd + s->dcap, nd, (s->dlen - first) * sizeof *nd);
            }
            s->subs = ns;
            s->dirty = nd;
            s->capsubs = nc;
            s->dcap = nc;
        }
        s->nsubs++;
    } else {
        s->nfree--;
    }
    gw_sub_t *sub = &s->subs[idx];
    memset(sub, 0, sizeof *sub);
    sub->key = k;
    sub->explicit_ = explicit_;
    if (gw_hub_add_sub(&s->t->hub, k, s, idx) != 0) {
        sub->key = NULL;
        s->nfree++;
        return -ENOMEM;
    }
    return (int)idx;
}

static void drop_pending(gw_client_t *s, gw_sub_t *sub)
{
    if (sub->pending) {
        s->pending_bytes -= gw_msg_bytes(sub->pending, s->msgpack);
        tg_msg_unref(sub->pending);
        sub->pending = NULL;
        s->nparked--;
    }
}

void gw_client_set_interval(gw_client_t *s, uint32_t idx, int64_t interval_ns)
{
    s->subs[idx].interval_ns = interval_ns;
    if (interval_ns)
        s->hz_subs = true; /* sticky: offer then always looks at the subscription */
}

void gw_client_unsub(gw_client_t *s, uint32_t idx)
{
    gw_sub_t *sub = &s->subs[idx];
    if (!sub->key)
        return;
    drop_pending(s, sub);
    gw_hub_del_sub(sub->key, sub->pos);
    sub->key = NULL; /* a stale dirty-FIFO entry is skipped when drained */
    s->nfree++;
}

void gw_list_remove(gw_client_t **v, uint32_t *n, gw_client_t *s)
{
    for (uint32_t i = 0; i < *n; i++)
        if (v[i] == s) {
            v[i] = v[--*n];
            return;
        }
}

static bool list_add(gw_client_t ***v, uint32_t *n, uint32_t *cap, gw_client_t *s)
{
    if (tg_vec_reserve32(v, sizeof **v, cap, (size_t)*n + 1, 64) < 0)
        return false;
    (*v)[(*n)++] = s;
    return true;
}

static void ask_writable(gw_client_t *s)
{
    if (s->wsi)
        lws_callback_on_writable(s->wsi);
}

/* Append to the ctrl ring (growing it); no write request, no limit check. */
static bool ctrl_append(gw_client_t *s, tg_msg_t *m)
{
    if (s->clen == s->ccap) {
        uint32_t nc = s->ccap ? s->ccap * 2 : 16;
        tg_msg_t **n = malloc(nc * sizeof *n);
        if (!n)
            return false;
        for (uint32_t i = 0; i < s->clen; i++)
            n[i] = s->ctrl[(s->chead + i) % s->ccap];
        free(s->ctrl);
        s->ctrl = n;
        s->ccap = nc;
        s->chead = 0;
    }
    if (s->pending_bytes == 0 && s->clen == 0)
        s->last_progress_ns = tg_mono_ns();
    s->ctrl[(s->chead + s->clen) % s->ccap] = m;
    s->clen++;
    s->pending_bytes += gw_msg_bytes(m, s->msgpack);
    return true;
}

void gw_client_pass_spill(gw_client_t *s)
{
    gw_thread_t *t = s->t;
    size_t n = s->plen;
    s->plen = 0;
    for (size_t i = 0; i < n; i++) {
        tg_msg_t *m = t->pass[s->pidx[i]];
        s->pending_bytes -= gw_msg_bytes(m, s->msgpack);
        if (s->state == GW_CLOSING)
            continue;
        if (!ctrl_append(s, tg_msg_ref(m))) {
            tg_msg_unref(m);
            gw_client_close(s, 1011, "out of memory");
        }
    }
}

/* A client that takes this pass's messages in order: an index, not a reference. */
static bool pass_append(gw_client_t *s, uint32_t pi, const tg_msg_t *m)
{
    if (tg_vec_reserve(&s->pidx, sizeof *s->pidx, &s->pcap, s->plen + 1, 16) < 0)
        return false;
    if (s->pending_bytes == 0 && s->clen == 0)
        s->last_progress_ns = tg_mono_ns();
    s->pidx[s->plen++] = pi;
    s->pending_bytes += gw_msg_bytes(m, s->msgpack);
    return true;
}

void gw_client_want_write(gw_client_t *s)
{
    if (s->want_write)
        return;
    gw_thread_t *t = s->t;
    if (tg_vec_reserve32(&t->writers, sizeof *t->writers, &t->capwriters,
                         (size_t)t->nwriters + 1, 256) < 0) {
        gw_client_pass_spill(s); /* the pass ends before lws asks */
        ask_writable(s);
        return;
    }
    s->want_write = true;
    t->writers[t->nwriters++] = s;
}

static void check_pending_limit(gw_client_t *s)
{
    if (s->pending_bytes > (uint64_t)s->t->lim.max_pending_bytes &&
        s->state != GW_CLOSING)
        gw_client_close(s, 4008, "slow consumer");
}

/* Put m in sub's slot, replacing (conflating) an unsent older one. */
static void park(gw_client_t *s, gw_sub_t *sub, tg_msg_t *m)
{
    if (sub->pending) {
        s->t->cnt.conflated[m->channel]++;
        drop_pending(s, sub);
    }
    sub->pending = tg_msg_ref(m);
    s->nparked++;
    s->pending_bytes += gw_msg_bytes(m, s->msgpack);
}

static void enqueue_slot(gw_client_t *s, gw_sub_t *sub, uint32_t idx)
{
    if (sub->queued)
        return;
    if (s->pending_bytes == 0 && s->clen == 0)
        s->last_progress_ns = tg_mono_ns(); /* stall clock starts when data waits */
    s->dirty[(s->dhead + s->dlen) % s->dcap] = idx;
    s->dlen++;
    sub->queued = 1;
}

/* Take m through the pass (the ordered list of a client that keeps up);
 * false when it cannot (out of memory): the caller uses the ctrl FIFO. */
static bool offer_pass(gw_client_t *s, tg_msg_t *m, uint32_t *pass_idx)
{
    if (*pass_idx == GW_NO_PASS)
        *pass_idx = gw_pass_add(s->t, m);
    if (*pass_idx == GW_NO_PASS || !pass_append(s, *pass_idx, m))
        return false;
    check_pending_limit(s);
    gw_client_want_write(s);
    return true;
}

/*
 * A new message for subscription idx. Three ways, SPEC §11:
 * - max_hz: at most one per interval per key; inside the interval only the
 *   newest is kept (held), and the pace timer releases it when the interval ends;
 * - a client whose socket holds max_inflight_bytes unacknowledged (gated),
 *   whose writes have left messages waiting for the socket for GW_BEHIND_NS
 *   (behind), or with 64 KiB already queued: the key's slot keeps only the
 *   newest (quotes per symbol, portfolio states per portfolio), so it gets
 *   fewer, fresher ones;
 * - otherwise every message, in arrival order, through the ordered FIFO.
 */
void gw_client_offer(gw_client_t *s, uint32_t idx, tg_msg_t *m, uint32_t *pass_idx)
{
    if (s->state != GW_ACTIVE)
        return;
    /* the common case decided from the client alone: keeping up, no max_hz,
     * nothing parked. Reading the subscription costs a cache miss per client
     * per message at 1,000 clients (most of this function's time, measured) */
    if (pass_idx && !s->hz_subs && !s->nparked && !s->gated && !s->behind &&
        s->pending_bytes < GW_CONFLATE_AFTER_BYTES && offer_pass(s, m, pass_idx))
        return;
    gw_sub_t *sub = &s->subs[idx];
    if (sub->interval_ns) {
        if (!sub->queued) {
            int64_t now = tg_mono_ns();
            if (sub->held || now < sub->next_ns) {
                park(s, sub, m);
                if (!sub->held) {
                    sub->held = 1;
                    if (!s->t->hz_min || sub->next_ns < s->t->hz_min)
                        s->t->hz_min = sub->next_ns;
                    if (!s->in_hz && list_add(&s->t->hz, &s->t->nhz, &s->t->caphz, s))
                        s->in_hz = true;
                }
                check_pending_limit(s);
                return;
            }
            sub->next_ns = now + sub->interval_ns;
        }
        /* queued: the one allowed in this interval is not written yet, so
         * replacing it keeps the rate */
    } else if (!s->gated && !s->behind && s->pending_bytes < GW_CONFLATE_AFTER_BYTES) {
        /* not slow, just not written yet (the loop is busy): every message,
         * in arrival order across keys, through the ordered FIFO; an older
         * one still parked in the key's slot goes first */
        if (sub->pending) {
            tg_msg_t *old = sub->pending;
            sub->pending = NULL;
            s->nparked--;
            s->pending_bytes -= gw_msg_bytes(old, s->msgpack);
            gw_client_push_ctrl(s, old);
        } else if (pass_idx && offer_pass(s, m, pass_idx)) {
            return;
        }
        gw_client_push_ctrl(s, tg_msg_ref(m));
        return;
    }
    park(s, sub, m);
    enqueue_slot(s, sub, idx);
    check_pending_limit(s);
    gw_client_want_write(s);
}

int64_t gw_client_release_held(gw_client_t *s, int64_t now)
{
    int64_t next = 0;
    bool released = false;
    for (uint32_t i = 0; i < s->nsubs; i++) {
        gw_sub_t *sub = &s->subs[i];
        if (!sub->held)
            continue;
        if (!sub->key || !sub->pending) {
            sub->held = 0;
            continue;
        }
        if (now < sub->next_ns) {
            if (!next || sub->next_ns < next)
                next = sub->next_ns;
            continue;
        }
        sub->held = 0;
        sub->next_ns = now + sub->interval_ns;
        enqueue_slot(s, sub, i);
        released = true;
    }
    if (released)
        gw_client_want_write(s);
    return next;
}

void gw_client_push_ctrl(gw_client_t *s, tg_msg_t *m)
{
    if (s->state == GW_CLOSING) {
        tg_msg_unref(m);
        return;
    }
    if (s->plen)
        gw_client_pass_spill(s); /* arrival order: this pass's earlier messages first */
    if (!ctrl_append(s, m)) {
        tg_msg_unref(m);
        gw_client_close(s, 1011, "out of memory");
        return;
    }
    check_pending_limit(s);
    gw_client_want_write(s);
}

void gw_client_reply(gw_client_t *s, const char *json, size_t jlen, const void *mp, size_t mlen)
{
    tg_msg_t *m = tg_msg_new(json, jlen, mp, mlen);
    if (!m) {
        gw_client_close(s, 1011, "out of memory");
        return;
    }
    m->type = TG_MSG_REPLY;
    m->channel = TG_CH_SYSTEM; /* replies count under the system channel */
    gw_client_push_ctrl(s, m);
}

void gw_client_close(gw_client_t *s, int code, const char *reason)
{
    if (s->state == GW_CLOSING)
        return;
    s->state = GW_CLOSING;
    s->close_code = code;
    gw_count_close(s->t, code); /* decided now, whether or not its frame gets out */
    snprintf(s->close_reason, sizeof s->close_reason, "%s", reason ? reason : "");
    /* no more data after a close decision; replies already queued (the one
     * `error` explaining the close) still go out first, except to a slow
     * consumer, whose queue is the problem */
    for (uint32_t i = 0; i < s->nsubs; i++)
        if (s->subs[i].key)
            drop_pending(s, &s->subs[i]);
    s->dlen = 0;
    for (size_t i = 0; i < s->plen; i++)
        s->pending_bytes -= gw_msg_bytes(s->t->pass[s->pidx[i]], s->msgpack);
    s->plen = 0;
    for (uint32_t i = 0; i < s->clen; i++) {
        tg_msg_t *m = s->ctrl[(s->chead + i) % s->ccap];
        bool keep = code != 4008 && m->type == TG_MSG_REPLY;
        if (!keep) {
            s->pending_bytes -= gw_msg_bytes(m, s->msgpack);
            tg_msg_unref(m);
            s->ctrl[(s->chead + i) % s->ccap] = NULL;
        }
    }
    /* compact the kept replies */
    uint32_t w = 0;
    for (uint32_t i = 0; i < s->clen; i++) {
        tg_msg_t *m = s->ctrl[(s->chead + i) % s->ccap];
        if (m)
            s->ctrl[(s->chead + w++) % s->ccap] = m;
    }
    s->clen = w;
    ask_writable(s);
    /* a peer that never reads again must not keep the socket forever */
    if (s->wsi)
        lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
}

/*
 * Append one message to a frame of cap bytes at f: JSON Lines (a '\n' between
 * messages, none after the last) or MessagePack maps back to back. False if
 * it does not fit (the frame is then unchanged).
 */
bool gw_frame_append(unsigned char *f, size_t cap, size_t *len, const tg_msg_t *m, bool msgpack)
{
    const unsigned char *p = msgpack ? m->mp : m->json;
    size_t n = gw_msg_bytes(m, msgpack);
    size_t sep = (!msgpack && *len) ? 1 : 0;
    if (n == 0 || *len + sep + n > cap)
        return n == 0; /* an empty message adds nothing */
    if (sep)
        f[(*len)++] = '\n';
    memcpy(f + *len, p, n);
    *len += n;
    return true;
}

/* A frame holds at most `budget` bytes, except that its first message always fits. */
static bool frame_add(gw_client_t *s, size_t *len, const tg_msg_t *m, size_t budget)
{
    gw_thread_t *t = s->t;
    return gw_frame_append(t->frame + LWS_PRE, *len ? budget : t->frame_cap, len, m, s->msgpack);
}

/* Bytes on the wire for a payload of len (server frames are not masked). */
static size_t wire_len(size_t len)
{
    return len + (len < 126 ? 2 : len < 65536 ? 4 : 10);
}

/*
 * server.send_ts: the frame's first message gets "out_ts" (ns, now) as its
 * first field. The frame buffer has GW_FRAME_SLACK bytes past frame_cap for it.
 * JSON: {"out_ts":N, + the rest; MessagePack: the map header counts one more
 * entry (fixmap, or map16 from 15 entries on) and the pair follows it.
 */
static void stamp_out_ts(unsigned char *f, size_t *len, bool msgpack, int64_t now)
{
    unsigned char ins[48];
    size_t n, at = 1;
    if (!msgpack) {
        if (*len < 2 || f[0] != '{')
            return;
        n = (size_t)snprintf((char *)ins, sizeof ins, "\"out_ts\":%lld%s", (long long)now,
                             f[1] == '}' ? "" : ",");
    } else {
        unsigned char h = f[0];
        if (h >= 0x80 && h < 0x8f) {
            f[0]++;
        } else if (h == 0x8f) { /* fixmap full: becomes map16 of 16 */
            memmove(f + 3, f + 1, *len - 1);
            f[0] = 0xde;
            f[1] = 0;
            f[2] = 16;
            *len += 2;
            at = 3;
        } else if (h == 0xde && *len >= 3) {
            unsigned cnt = ((unsigned)f[1] << 8 | f[2]) + 1;
            if (cnt > 0xffff)
                return;
            f[1] = (unsigned char)(cnt >> 8);
            f[2] = (unsigned char)cnt;
            at = 3;
        } else {
            return;
        }
        ins[0] = 0xa6;
        memcpy(ins + 1, "out_ts", 6);
        ins[7] = 0xcf;
        for (int i = 0; i < 8; i++)
            ins[8 + i] = (unsigned char)((uint64_t)now >> (56 - 8 * i));
        n = 16;
    }
    memmove(f + at + n, f + at, *len - at);
    memcpy(f + at, ins, n);
    *len += n;
}

int gw_client_lws_send(gw_client_t *s, unsigned char *payload, size_t len)
{
    return lws_write(s->wsi, payload, len, s->msgpack ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
}

/*
 * SPEC §11: at most max_inflight_bytes not yet acknowledged by the peer in the
 * socket; the rest waits here, where it conflates. Bytes in flight are at most
 * what was written since the kernel last said how much was acknowledged, so
 * SIOCOUTQ is asked only when that bound could pass the limit (compressed
 * clients: always, their wire bytes are not their payload bytes). Returns the
 * room left, 0 when the client must wait.
 */
static size_t inflight_room(gw_client_t *s)
{
    uint64_t lim = (uint64_t)s->t->lim.max_inflight_bytes; /* SIGHUP may change it */
    uint64_t infl = s->sent_bytes - s->acked_known;
    if ((s->deflate || infl + s->pending_bytes > lim) && s->fd >= 0) {
        int outq = 0;
        if (ioctl(s->fd, SIOCOUTQ, &outq) == 0 && outq >= 0) {
            if (s->deflate)
                return (uint64_t)outq >= lim ? 0 : (size_t)(lim - (uint64_t)outq);
            s->acked_known = s->sent_bytes - (uint64_t)outq;
            infl = (uint64_t)outq;
        }
    }
    return infl >= lim ? 0 : (size_t)(lim - infl);
}

/* The frame in f (LWS_PRE before it) to the socket, accounted. -1: close. */
static int send_frame(gw_client_t *s, unsigned char *f, size_t len, int64_t oldest_ts)
{
    gw_thread_t *t = s->t;
    unsigned char *buf = f;
    if (s->deflate) {
        /* the extension deflates from our buffer over several writable
         * turns (4 KiB of output each): the thread's scratch frame is
         * rewritten for the next client meanwhile, so a compressed
         * client's frame lives in its own buffer until the next turn */
        if (s->zcap < LWS_PRE + len) {
            unsigned char *nz = realloc(s->zbuf, LWS_PRE + len);
            if (!nz)
                return -1;
            s->zbuf = nz;
            s->zcap = LWS_PRE + len;
        }
        memcpy(s->zbuf + LWS_PRE, f + LWS_PRE, len);
        buf = s->zbuf;
    }
    if (gw_usend_can(s) && gw_usend_queue(s, f + LWS_PRE, len, f != t->frame, oldest_ts) == 0) {
        /* goes out with the pass's other frames, in one submission, which
         * also observes tick_to_send when the kernel has it */
        s->sent_bytes += wire_len(len);
        s->writes++;
        return 0;
    }
    int w = t->send(s, buf + LWS_PRE, len);
    if (w < (int)len)
        return -1;
    t->lws_sends++;
    s->sent_bytes += wire_len(len);
    s->writes++;
    if (oldest_ts && t->g->m_tick_to_send)
        tg_histogram_observe_ns(t->g->m_tick_to_send, tg_now_ns() - oldest_ts);
    return 0;
}

/*
 * The pass from some entry on is this client's news, nothing older waits, and
 * the frame fits what the socket may take: the thread's shared frame, one send. Not
 * with send_ts (the stamp is per frame and time) or permessage-deflate.
 * Returns 1 when sent, 0 when the client's own frame must be built, -1 close.
 */
static int write_shared(gw_client_t *s, size_t budget)
{
    gw_thread_t *t = s->t;
    /* the list is the pass from its first entry on (entries only increase) */
    if (!s->plen || s->pidx[0] + s->plen != t->npass || s->clen || s->dlen || s->deflate ||
        t->g->cfg->server.send_ts)
        return 0;
    gw_shared_frame_t *sh = gw_pass_frame(t, s->msgpack, s->pidx[0]);
    if (!sh || sh->len > budget)
        return 0;
    size_t nusq = t->nusq;
    if (send_frame(s, sh->buf, sh->len, sh->oldest_ts) != 0)
        return -1;
    if (t->nusq > nusq) /* queued, not sent: the submission sends from it */
        sh->queued = true;
    for (int c = 0; c < TG_CH_COUNT; c++)
        t->cnt.sent[c] += sh->sent[c];
    s->pending_bytes -= sh->bytes;
    s->plen = 0;
    return 1;
}

static int write_frame(gw_client_t *s)
{
    gw_thread_t *t = s->t;
    s->last_progress_ns = tg_mono_ns();
    if (s->state == GW_CLOSING && s->clen == 0) {
        lws_close_reason(s->wsi, (enum lws_close_status)s->close_code,
                         (unsigned char *)s->close_reason, strlen(s->close_reason));
        return -1;
    }
    if (s->deflate && lws_send_pipe_choked(s->wsi)) {
        lws_callback_on_writable(s->wsi); /* one frame per writable turn, when it fits */
        return 0;
    }
    size_t budget = t->frame_cap;
    if (s->state == GW_ACTIVE) {
        if (s->gated)
            return 0; /* waits for the pace timer's next look (no SIOCOUTQ per pass) */
        budget = inflight_room(s);
        if (budget == 0) {
            /* full: wait (conflating) until the peer acknowledges; the pace
             * timer looks again in 1 ms, then 2, 4, 8 while it stays full, so
             * a thousand stuck clients cost a few ioctls per ms, not a spin */
            int64_t b = s->gate_backoff_ns ? s->gate_backoff_ns * 2 : 1000000;
            s->gate_backoff_ns = b > 8000000 ? 8000000 : b;
            s->gate_retry_ns = tg_mono_ns() + s->gate_backoff_ns;
            if (list_add(&t->gated, &t->ngated, &t->capgated, s)) {
                s->gated = true;
                if (!t->gate_min || s->gate_retry_ns < t->gate_min)
                    t->gate_min = s->gate_retry_ns;
            }
            return 0;
        }
        s->gate_backoff_ns = 0;
        if (budget > t->frame_cap)
            budget = t->frame_cap;
        int sh = write_shared(s, budget);
        if (sh != 0)
            return sh < 0 ? -1 : 0;
    }
    size_t len = 0, pi = 0;
    int64_t oldest_ts = 0;
    /* ctrl first: replies and snapshots precede live data of the same key */
    while (s->clen) {
        tg_msg_t *m = s->ctrl[s->chead];
        if (!frame_add(s, &len, m, budget)) {
            if (len == 0) { /* larger than a frame: cannot happen with the caps in use */
                gw_client_close(s, 1011, "message too large");
                return 0;
            }
            goto send;
        }
        s->chead = (s->chead + 1) % s->ccap;
        s->clen--;
        s->pending_bytes -= gw_msg_bytes(m, s->msgpack);
        if (m->ts && m->type != TG_MSG_REPLY && (!oldest_ts || m->ts < oldest_ts))
            oldest_ts = m->ts;
        t->cnt.sent[m->channel]++;
        tg_msg_unref(m);
    }
    /* then this pass's messages, in order (what does not fit moves to ctrl) */
    for (; pi < s->plen; pi++) {
        const tg_msg_t *m = t->pass[s->pidx[pi]];
        if (!frame_add(s, &len, m, budget))
            goto send;
        s->pending_bytes -= gw_msg_bytes(m, s->msgpack);
        if (m->ts && (!oldest_ts || m->ts < oldest_ts))
            oldest_ts = m->ts;
        t->cnt.sent[m->channel]++;
    }
    while (s->dlen) {
        uint32_t idx = s->dirty[s->dhead];
        gw_sub_t *sub = &s->subs[idx];
        if (sub->key && sub->pending) {
            tg_msg_t *m = sub->pending;
            if (!frame_add(s, &len, m, budget))
                goto send;
            if (!oldest_ts || (m->ts && m->ts < oldest_ts))
                oldest_ts = m->ts;
            s->pending_bytes -= gw_msg_bytes(m, s->msgpack);
            t->cnt.sent[m->channel]++;
            tg_msg_unref(m);
            sub->pending = NULL;
            s->nparked--;
        }
        sub->queued = 0;
        s->dhead = (s->dhead + 1) % s->dcap;
        s->dlen--;
    }
send:
    if (pi) { /* the written part of the pass list goes; the rest moves to ctrl below */
        memmove(s->pidx, s->pidx + pi, (s->plen - pi) * sizeof *s->pidx);
        s->plen -= pi;
    }
    if (len) {
        if (t->g->cfg->server.send_ts)
            stamp_out_ts(t->frame + LWS_PRE, &len, s->msgpack, tg_now_ns());
        if (send_frame(s, t->frame, len, oldest_ts) != 0)
            return -1;
    }
    return 0;
}

int gw_client_write(gw_client_t *s)
{
    int rc = write_frame(s);
    if (s->plen)
        gw_client_pass_spill(s); /* the pass ends with this flush */
    /* SPEC §11: what the socket could not take waits here; once that has
     * lasted GW_BEHIND_NS, what comes next conflates per key until the queue
     * is empty again: under overload fewer, fresher messages instead of an
     * ever older FIFO, while a burst (a replay) still goes out whole */
    if (s->state == GW_ACTIVE) {
        if (s->clen || s->dlen) {
            int64_t now = tg_mono_ns();
            if (!s->backlog_since_ns)
                s->backlog_since_ns = now;
            s->behind = now - s->backlog_since_ns >= GW_BEHIND_NS;
        } else {
            s->backlog_since_ns = 0;
            s->behind = false;
        }
    }
    /* more than one frame's worth: the rest on the next writable turn */
    if (rc == 0 && (s->clen || s->dlen || s->state == GW_CLOSING) &&
        !(s->state == GW_ACTIVE && s->gated))
        ask_writable(s);
    return rc;
}

/*
 * Slow consumers (SPEC §5). "Its socket accepts nothing" is judged by what
 * the peer acknowledged, not by writable events: the kernel keeps taking data
 * into its send buffer long after the peer stopped reading. Bytes acked are
 * estimated as bytes written minus bytes still unsent in the kernel (SIOCOUTQ);
 * no growth for max_stall_ms while data waits -> 4008. Pending bytes are ours
 * plus the kernel's unsent ones. Checked every 250 ms per client, staggered.
 */
void gw_client_check_stall(gw_client_t *s, int64_t now)
{
    const struct tg_limits *lim = &s->t->lim;
    s->next_stall_check_ns = now + 250000000LL;
    int outq = 0;
    if (s->fd < 0 || ioctl(s->fd, SIOCOUTQ, &outq) != 0 || outq < 0)
        outq = 0;
    int64_t acked = (int64_t)s->sent_bytes - outq;
    bool waiting = outq > 0 || s->clen || s->dlen || s->plen;
    if (!waiting || acked > s->acked_est) {
        s->acked_est = acked;
        s->ack_progress_ns = now;
    }
    if (s->pending_bytes + (uint64_t)outq > (uint64_t)lim->max_pending_bytes ||
        (waiting && now - s->ack_progress_ns > (int64_t)lim->max_stall_ms * 1000000LL))
        gw_client_close(s, 4008, "slow consumer");
}
