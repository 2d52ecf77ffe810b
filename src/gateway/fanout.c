/* fanout.c - engine messages to subscribers: drain the engine ring of a
 * service thread, record each message on its key (hub.c), offer it to every
 * subscriber (client.c: queue or conflate), then write to the clients with news. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "tickgate/buf.h"
#include "tickgate/clock.h"
#include "tickgate/encode.h"
#include "tickgate/log.h"

/* ---- engine messages into the hub ---- */

/* Alerts: one stream per user; the seq is that user's, so it is appended here. */
gw_key_t *gw_fanout_key(gw_thread_t *t, int channel, const char *name)
{
    bool created;
    gw_key_t *k = gw_hub_get(&t->hub, channel, name, &created);
    /* a new symbol: every "*" subscriber gets it too */
    if (k && created && channel == TG_CH_MARKET_DATA)
        for (uint32_t i = 0; i < t->hub.nwild; i++)
        {
            gw_client_t *s = t->hub.wild[i];
            int idx = gw_client_sub(s, k, false);
            if (idx >= 0 && !s->subs[idx].explicit_)
                gw_client_set_interval(s, (uint32_t)idx, s->wild_interval_ns);
        }
    return k;
}

void gw_fanout_publish(gw_thread_t *t, gw_key_t *k, tg_msg_t *m)
{
    gw_hub_record(&t->hub, k, m);
    uint32_t pass_idx = GW_NO_PASS; /* taken into the pass by its first client */
    for (uint32_t i = 0; i < k->nsubs; i++)
        gw_client_offer(k->subs[i].s, k->subs[i].sub, m, &pass_idx);
}

/* ---- the pass ---- */

uint32_t gw_pass_add(gw_thread_t *t, tg_msg_t *m)
{
    if (t->npass >= GW_NO_PASS - 1 ||
        tg_vec_reserve(&t->pass, sizeof *t->pass, &t->cappass, t->npass + 1, 1024) < 0)
        return GW_NO_PASS;
    t->pass[t->npass] = tg_msg_ref(m);
    t->shared[0].state = t->shared[1].state = 0; /* a frame built before is short now */
    return (uint32_t)t->npass++;
}

/*
 * Under load every client subscribed to the same symbols gets the same
 * messages in a pass: one frame, built once, then one send per client. The
 * frame is pass entries [from, end) in pass order, exactly what the list of a
 * client that takes all of them would have produced. Clients written in the
 * same chunk of the last pass share `from`; a client with another one while
 * the frame waits in the io_uring submission builds its own frame (the queued
 * sends point into this buffer).
 */
gw_shared_frame_t *gw_pass_frame(gw_thread_t *t, bool msgpack, uint32_t from)
{
    gw_shared_frame_t *sh = &t->shared[msgpack ? 1 : 0];
    if (sh->state != 0 && sh->from == from)
        return sh->state == 1 ? sh : NULL;
    if (sh->queued)
        return NULL;
    sh->state = -1;
    sh->from = from;
    if (!sh->buf || sh->cap < t->frame_cap) {
        free(sh->buf);
        sh->cap = 0;
        if (!(sh->buf = malloc(LWS_PRE + t->frame_cap + GW_FRAME_SLACK)))
            return NULL;
        sh->cap = t->frame_cap;
    }
    sh->len = 0;
    sh->bytes = 0;
    sh->oldest_ts = 0;
    memset(sh->sent, 0, sizeof sh->sent);
    for (size_t i = from; i < t->npass; i++) {
        const tg_msg_t *m = t->pass[i];
        if (!gw_frame_append(sh->buf + LWS_PRE, t->frame_cap, &sh->len, m, msgpack))
            return NULL;
        sh->bytes += gw_msg_bytes(m, msgpack);
        sh->sent[m->channel]++;
        if (m->ts && (!sh->oldest_ts || m->ts < sh->oldest_ts))
            sh->oldest_ts = m->ts;
    }
    sh->state = 1;
    return sh;
}

/* Release pass entries before keep_from; carried lists are renumbered. */
static void pass_drop(gw_thread_t *t, size_t keep_from)
{
    if (keep_from > t->npass)
        keep_from = t->npass;
    /* the carried writers' lists hold entries from keep_from on only (they
     * came from drains between chunks); anything else would be a bug, and
     * goes through ctrl with references of its own rather than dangle */
    for (uint32_t i = 0; i < t->ncarried; i++) {
        gw_client_t *s = t->writers[i];
        if (!s || !s->plen)
            continue;
        if (s->pidx[0] < keep_from) {
            gw_client_pass_spill(s);
            continue;
        }
        for (size_t k = 0; k < s->plen; k++)
            s->pidx[k] -= (uint32_t)keep_from;
    }
    for (size_t i = 0; i < keep_from; i++)
        tg_msg_unref(t->pass[i]);
    t->npass -= keep_from;
    if (t->npass)
        memmove(t->pass, t->pass + keep_from, t->npass * sizeof *t->pass);
    t->shared[0].state = t->shared[1].state = 0;
}

void gw_pass_end(gw_thread_t *t, size_t keep_from)
{
    pass_drop(t, keep_from);
#ifndef NDEBUG
    /* every list into the pass is a carried writer's (checked in the test builds) */
    size_t listed = 0, carried = 0;
    for (gw_client_t *s = t->clients; s; s = s->next)
        listed += s->plen ? 1 : 0;
    for (uint32_t i = 0; i < t->ncarried; i++)
        carried += t->writers[i] && t->writers[i]->plen ? 1 : 0;
    if (listed != carried) {
        TG_ERROR("pass_lists_dangling", "component", TG_S("gateway"), "listed", TG_I(listed),
                 "carried", TG_I(carried));
        abort();
    }
#endif
}

void gw_pass_free(gw_thread_t *t)
{
    t->ncarried = 0; /* writers[] may be gone already (thread teardown) */
    pass_drop(t, t->npass);
    free(t->pass);
    t->pass = NULL;
    t->cappass = 0;
    for (int i = 0; i < 2; i++) {
        free(t->shared[i].buf);
        t->shared[i].buf = NULL;
    }
}

void gw_fanout_publish_ctrl(gw_thread_t *t, gw_key_t *k, tg_msg_t *m)
{
    gw_hub_record(&t->hub, k, m);
    for (uint32_t i = 0; i < k->nsubs; i++)
        gw_client_push_ctrl(k->subs[i].s, tg_msg_ref(m));
}

tg_msg_t *gw_notif_msg(tg_msg_t *m, uint64_t seq, const char *stream)
{
    /* the per-user seq goes through the encoder: encoded bytes stay immutable */
    tg_msg_t *um = tg_enc_msg_add_u64(m, "seq", seq);
    if (!um)
        return NULL; /* not a map (a bug) or ENOMEM */
    um->channel = TG_CH_NOTIFICATIONS;
    um->seq = seq;
    snprintf(um->key_name, sizeof um->key_name, "%s", stream);
    return um;
}

static void publish_alert(gw_thread_t *t, tg_msg_t *m)
{
    gw_hub_t *h = &t->hub;
    gw_alerts_keep(t, m); /* for GET /api/v1/alerts */
    gw_cluster_notif_keep(t, m); /* readers who never subscribed here */
    const char *pid = m->key_name;
    for (uint32_t i = 0; i < h->nnotif; i++) {
        gw_key_t *k = h->notif[i];
        bool may = k->admin || tg_msg_acl_has(m, k->name);
        for (const char *p = k->extra; !may && p && p < k->extra + k->extra_len; p += strlen(p) + 1)
            may = strcmp(p, pid) == 0;
        if (!may)
            continue;
        uint64_t seq = gw_cluster_notif_seq(t, k, m);
        if (!seq)
            continue;
        tg_msg_t *um = gw_notif_msg(m, seq, k->name);
        if (!um)
            continue;
        gw_notif_record(t->g->notif_seq, k->name, um, t->hub.history_size);
        if (k->last && k->last->seq >= seq) { /* delivered already (a replay) */
            tg_msg_unref(um);
            continue;
        }
        /* alerts are never conflated: they go to every subscriber's ctrl FIFO */
        gw_fanout_publish_ctrl(t, k, um);
    }
    tg_msg_unref(m);
}

/* Everything the engine published so far into the hub and the clients' queues. */
static size_t drain_ring(gw_thread_t *t)
{
    size_t n, total = 0;
    while ((n = tg_ring_pop(t->in, t->batch, sizeof t->batch / sizeof t->batch[0])) > 0) {
        total += n;
        for (size_t i = 0; i < n; i++) {
            tg_msg_t *m = t->batch[i];
            if (m->type == TG_MSG_ALERT && m->channel == TG_CH_NOTIFICATIONS) {
                publish_alert(t, m);
                continue;
            }
            if (m->type == TG_MSG_EPOCH) { /* gateway node: from the bus (cluster.c) */
                gw_cluster_on_epoch(t, m);
                continue;
            }
            if (m->type == TG_MSG_PORTFOLIO_REMOVED) {
                gw_key_t *k = gw_hub_find(&t->hub, m->channel, m->key_name);
                if (k) { /* gone: the API stops listing it, subscribers keep the key */
                    tg_msg_unref(k->last);
                    k->last = NULL;
                }
                tg_msg_unref(m);
                continue;
            }
            gw_key_t *k = gw_fanout_key(t, m->channel, m->key_name);
            if (!k) {
                tg_msg_unref(m);
                continue;
            }
            if (m->type == TG_MSG_ALERT) /* feed alerts: the API lists them for admins */
                gw_alerts_keep(t, m);
            if (m->channel == TG_CH_SYSTEM || m->channel == TG_CH_BARS)
                gw_fanout_publish_ctrl(t, k, m); /* never conflated, in order (SPEC §11) */
            else
                gw_fanout_publish(t, k, m);
        }
    }
    return total;
}

void gw_fanout_drain(gw_thread_t *t)
{
    drain_ring(t);
    gw_thread_flush_writers(t, true);
}

/*
 * After a drain, write to each client with news at once instead of asking lws
 * for a writable callback: that round trip (POLLOUT on, poll, dispatch, POLLOUT
 * off) costs as much as the send itself, and a tick reaches the last of 1,000
 * clients only after all of them. Safe when lws holds nothing unsent for the
 * connection (lws_partial_buffered); a short write is kept by lws, which then
 * asks for a writable callback itself, and closes go through the normal path.
 *
 * The writers go out in chunks of GW_PASS_CHUNK, one io_uring submission each,
 * and the engine ring is drained again between chunks: a tick published while
 * the pass is written reaches the clients listed in it and not yet written,
 * so its wait is at most one pass (the time until the writes come round to
 * its client), not the rest of this pass plus its place in the next. Clients
 * written before such a drain, and clients it lists first, are carried: they
 * stay listed, with the entries it added, and the next loop turn (woken at
 * once) writes them first.
 */
static void write_one(gw_thread_t *t, gw_client_t *s, bool live)
{
    s->want_write = false;
    /* never for permessage-deflate: the extension may still hold compressed
     * bytes of the last frame (it drains them in its own writable turns), and
     * a second lws_write before that aborts lws (assertion !priv->tx.avail_in) */
    if (live && !s->deflate && s->state == GW_ACTIVE &&
        (!s->wsi || !lws_partial_buffered(s->wsi))) {
        if (gw_client_write(s) != 0)
            gw_client_close(s, 1011, "write failed");
        return;
    }
    gw_client_pass_spill(s); /* written later, after this pass's messages are gone */
    if (s->wsi)
        lws_callback_on_writable(s->wsi);
}

void gw_thread_flush_writers(gw_thread_t *t, bool direct)
{
    if (!direct && t->ncarried) {
        /* carried writers hold entries of the pass: they and whatever was
         * queued now go in the direct flush of the next loop turn, which the
         * flush that carried them asked for (lws_cancel_service below); that
         * flush also arms the pace timer */
        return;
    }
    bool live = direct && t->direct_write;
    uint32_t n0 = t->nwriters;
    uint32_t chunk = t->pass_chunk ? t->pass_chunk : GW_PASS_CHUNK;
    /* the entries the drains between chunks add are kept for the carried */
    size_t keep_from = t->npass;
    t->ncarried = 0;
    t->in_pass_flush = live && t->usend_on;
    for (uint32_t i = 0; i < n0; i++) {
        if (live && t->in && i && i % chunk == 0) {
            if (t->nusq)
                gw_usend_flush(t); /* this chunk to the sockets first */
            t->late_msgs += drain_ring(t);
        }
        gw_client_t *s = t->writers[i];
        if (s)
            write_one(t, s, live);
    }
    if (t->nusq)
        gw_usend_flush(t); /* before the pass ends: shared frames are sent from it */
    t->in_pass_flush = false;
    t->shared[0].queued = t->shared[1].queued = false;
    /* writers listed by the drains between chunks go to the next pass */
    t->ncarried = t->nwriters - n0;
    if (t->ncarried)
        memmove(t->writers, t->writers + n0, t->ncarried * sizeof *t->writers);
    t->nwriters = t->ncarried;
    gw_pass_end(t, keep_from);
    if (t->ncarried && t->ctx)
        lws_cancel_service(t->ctx);
    gw_fanout_arm_pace(t);
}

/*
 * The pace timer: clients gated at max_inflight_bytes try again (the peer's
 * acknowledgements raise no event we could wait for; 1 ms is well under the
 * latency budget), and max_hz messages held back go out when their interval
 * ends. Both then write in one pass like a drain.
 */
static void on_pace(lws_sorted_usec_list_t *sul)
{
    gw_thread_t *t = lws_container_of(sul, gw_thread_t, sul_pace);
    t->pace_at = 0;
    gw_fanout_pace(t, tg_mono_ns());
}

void gw_fanout_pace(gw_thread_t *t, int64_t now)
{
    t->gate_min = 0;
    for (uint32_t i = 0; i < t->ngated;) {
        gw_client_t *s = t->gated[i];
        if (s->gate_retry_ns > now) {
            if (!t->gate_min || s->gate_retry_ns < t->gate_min)
                t->gate_min = s->gate_retry_ns;
            i++;
            continue;
        }
        t->gated[i] = t->gated[--t->ngated];
        s->gated = false;
        gw_client_want_write(s);
    }
    t->hz_min = 0;
    for (uint32_t i = 0; i < t->nhz;) {
        gw_client_t *s = t->hz[i];
        int64_t next = gw_client_release_held(s, now);
        if (next == 0) {
            s->in_hz = false;
            t->hz[i] = t->hz[--t->nhz];
            continue;
        }
        if (!t->hz_min || next < t->hz_min)
            t->hz_min = next;
        i++;
    }
    gw_thread_flush_writers(t, true);
}

void gw_fanout_arm_pace(gw_thread_t *t)
{
    if (!t->ngated && !t->nhz)
        return;
    int64_t now = tg_mono_ns(), at = 0;
    if (t->ngated)
        at = t->gate_min ? t->gate_min : now + 1000000;
    if (t->nhz && (!at || (t->hz_min && t->hz_min < at)))
        at = t->hz_min ? t->hz_min : now + 1000000;
    if (t->pace_at && t->pace_at <= at)
        return; /* already armed, as early */
    if (!t->ctx) /* unit tests drive gw_fanout_pace themselves */
        return;
    t->pace_at = at;
    lws_usec_t us = at > now ? (lws_usec_t)((at - now) / 1000) : 0;
    lws_sul_schedule(t->ctx, 0, &t->sul_pace, on_pace, us);
}
