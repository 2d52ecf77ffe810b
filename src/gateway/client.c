/* client.c - one WebSocket client: subscriptions, send queues, framing.
 *
 * Two queues per client. Subscriptions with something unsent sit in a FIFO
 * of sub indices, each holding only its newest message: a newer quote or
 * portfolio state replaces an unsent older one (conflation, counted), so a
 * slow reader costs memory proportional to its subscriptions, not to time.
 * Everything that must never be dropped (replies, alerts, recovery replays)
 * goes to the ctrl FIFO, drained first. On WRITEABLE the pending messages are
 * copied into one frame (JSON Lines or concatenated MessagePack) and written
 * with a single lws_write(): the syscall per frame, not formatting, is the cost.
 */
#include <errno.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "tickgate/clock.h"
#include "tickgate/log.h"

gw_client_t *gw_client_new(gw_thread_t *t, struct lws *wsi)
{
    gw_client_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->t = t;
    s->wsi = wsi;
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
    tg_jwt_claims_free(&s->claims);
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
        s->pending_bytes -= s->msgpack ? sub->pending->mp_len : sub->pending->json_len;
        tg_msg_unref(sub->pending);
        sub->pending = NULL;
    }
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

void gw_client_want_write(gw_client_t *s)
{
    if (s->want_write)
        return;
    gw_thread_t *t = s->t;
    if (t->nwriters == t->capwriters) {
        uint32_t nc = t->capwriters ? t->capwriters * 2 : 256;
        gw_client_t **nw = realloc(t->writers, nc * sizeof *nw);
        if (!nw) {
            lws_callback_on_writable(s->wsi);
            return;
        }
        t->writers = nw;
        t->capwriters = nc;
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

void gw_client_offer(gw_client_t *s, uint32_t idx, tg_msg_t *m)
{
    if (s->state != GW_ACTIVE)
        return;
    gw_sub_t *sub = &s->subs[idx];
    if (s->pending_bytes < GW_CONFLATE_AFTER_BYTES) {
        /* not slow, just not written yet (the loop is busy): every message,
         * in arrival order across keys, through the ordered FIFO; an older
         * one still parked in the key's slot goes first */
        if (sub->pending) {
            tg_msg_t *old = sub->pending;
            sub->pending = NULL;
            s->pending_bytes -= s->msgpack ? old->mp_len : old->json_len;
            gw_client_push_ctrl(s, old);
        }
        gw_client_push_ctrl(s, tg_msg_ref(m));
        return;
    }
    if (sub->pending) {
        s->t->cnt.conflated[m->channel]++;
        drop_pending(s, sub);
    } else if (!sub->queued) {
        if (s->pending_bytes == 0 && s->clen == 0)
            s->last_progress_ns = tg_mono_ns(); /* stall clock starts when data waits */
        s->dirty[(s->dhead + s->dlen) % s->dcap] = idx;
        s->dlen++;
        sub->queued = 1;
    }
    sub->pending = tg_msg_ref(m);
    s->pending_bytes += s->msgpack ? m->mp_len : m->json_len;
    check_pending_limit(s);
    gw_client_want_write(s);
}

void gw_client_push_ctrl(gw_client_t *s, tg_msg_t *m)
{
    if (s->state == GW_CLOSING) {
        tg_msg_unref(m);
        return;
    }
    if (s->clen == s->ccap) {
        uint32_t nc = s->ccap ? s->ccap * 2 : 16;
        tg_msg_t **n = malloc(nc * sizeof *n);
        if (!n) {
            tg_msg_unref(m);
            gw_client_close(s, 1011, "out of memory");
            return;
        }
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
    s->pending_bytes += s->msgpack ? m->mp_len : m->json_len;
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
    for (uint32_t i = 0; i < s->clen; i++) {
        tg_msg_t *m = s->ctrl[(s->chead + i) % s->ccap];
        bool keep = code != 4008 && m->type == TG_MSG_REPLY;
        if (!keep) {
            s->pending_bytes -= s->msgpack ? m->mp_len : m->json_len;
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
    lws_callback_on_writable(s->wsi);
    /* a peer that never reads again must not keep the socket forever */
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
    size_t n = msgpack ? m->mp_len : m->json_len;
    size_t sep = (!msgpack && *len) ? 1 : 0;
    if (n == 0 || *len + sep + n > cap)
        return n == 0; /* an empty message adds nothing */
    if (sep)
        f[(*len)++] = '\n';
    memcpy(f + *len, p, n);
    *len += n;
    return true;
}

static bool frame_add(gw_client_t *s, size_t *len, const tg_msg_t *m)
{
    gw_thread_t *t = s->t;
    return gw_frame_append(t->frame + LWS_PRE, t->frame_cap, len, m, s->msgpack);
}

int gw_client_write(gw_client_t *s)
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
    size_t len = 0;
    uint32_t nmsg = 0;
    int64_t oldest_ts = 0;
    /* ctrl first: replies and snapshots precede live data of the same key */
    while (s->clen) {
        tg_msg_t *m = s->ctrl[s->chead];
        if (!frame_add(s, &len, m)) {
            if (len == 0) { /* larger than a frame: cannot happen with the caps in use */
                gw_client_close(s, 1011, "message too large");
                return 0;
            }
            goto send;
        }
        s->chead = (s->chead + 1) % s->ccap;
        s->clen--;
        s->pending_bytes -= s->msgpack ? m->mp_len : m->json_len;
        if (m->ts && m->type != TG_MSG_REPLY && (!oldest_ts || m->ts < oldest_ts))
            oldest_ts = m->ts;
        t->cnt.sent[m->channel]++;
        nmsg++;
        tg_msg_unref(m);
    }
    while (s->dlen) {
        uint32_t idx = s->dirty[s->dhead];
        gw_sub_t *sub = &s->subs[idx];
        if (sub->key && sub->pending) {
            tg_msg_t *m = sub->pending;
            if (!frame_add(s, &len, m))
                goto send;
            if (!oldest_ts || (m->ts && m->ts < oldest_ts))
                oldest_ts = m->ts;
            s->pending_bytes -= s->msgpack ? m->mp_len : m->json_len;
            t->cnt.sent[m->channel]++;
            nmsg++;
            tg_msg_unref(m);
            sub->pending = NULL;
        }
        sub->queued = 0;
        s->dhead = (s->dhead + 1) % s->dcap;
        s->dlen--;
    }
send:
    if (len) {
        unsigned char *buf = t->frame;
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
            memcpy(s->zbuf + LWS_PRE, t->frame + LWS_PRE, len);
            buf = s->zbuf;
        }
        int w = lws_write(s->wsi, buf + LWS_PRE, len,
                          s->msgpack ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
        if (w < (int)len)
            return -1;
        s->sent_bytes += len;
        if (oldest_ts)
            tg_histogram_observe_ns(t->g->m_tick_to_send, tg_now_ns() - oldest_ts);
    }
    if (s->clen || s->dlen || s->state == GW_CLOSING)
        lws_callback_on_writable(s->wsi);
    return 0;
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
    if (ioctl(lws_get_socket_fd(s->wsi), SIOCOUTQ, &outq) != 0 || outq < 0)
        outq = 0;
    int64_t acked = (int64_t)s->sent_bytes - outq;
    bool waiting = outq > 0 || s->clen || s->dlen;
    if (!waiting || acked > s->acked_est) {
        s->acked_est = acked;
        s->ack_progress_ns = now;
    }
    if (s->pending_bytes + (uint64_t)outq > (uint64_t)lim->max_pending_bytes ||
        (waiting && now - s->ack_progress_ns > (int64_t)lim->max_stall_ms * 1000000LL))
        gw_client_close(s, 4008, "slow consumer");
}
