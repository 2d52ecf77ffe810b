/* cluster.c - what a service thread does with the ingest epoch (SPEC §14).
 *
 * On a gateway node the bus consumer (bus_sub.c) puts a TG_MSG_EPOCH into
 * every service thread's ring, in stream order, when it learns the ingest
 * epoch and whenever messages were lost. Each thread keeps its own copy of
 * the epoch (t->epoch), changed only here, between two messages of the
 * stream, so `connection_established.epoch` and the `since` epoch check
 * always match the history this thread holds.
 *   - first epoch: adopted; nothing to undo (clients that connected before
 *     got the node's own epoch and will recover with complete:false);
 *   - another epoch (failover to a standby ingest): seqs start over, so
 *     history and states are forgotten and clients are closed with 1012
 *     (service restart): they reconnect, and their old epoch gets
 *     complete:false plus current state, as after a restart;
 *   - same epoch, messages lost (pub/sub outage, publisher overflow):
 *     history is forgotten and each subscriber gets `recovered`
 *     complete:false plus the current state of each key it reads.
 */
#include <stdio.h>
#include <string.h>

#include "gw.h"

/*
 * Notifications seq. A single node (role all) numbers each user's stream as
 * its alerts reach the user's key (gw_notif_seq). In a cluster that would
 * differ per node (a gateway numbers only users it has seen), so there the
 * numbers come with the message from the ingest engine: a reader in the
 * portfolio's ACL gets its own count (m->rseq), and a stream that can read
 * beyond its ACL entries (admins, tokens with a `portfolios` claim) uses the
 * engine-wide alert number m->seq, contiguous for admins, who read every
 * alert. Both are the same on every node, so `since` resumes anywhere.
 */
uint64_t gw_cluster_notif_seq(gw_thread_t *t, const gw_key_t *k, const tg_msg_t *m)
{
    if (strcmp(t->g->cfg->node.role, "all") == 0)
        return gw_notif_seq(t->g->notif_seq, k->name, m->seq);
    if (k->admin || k->extra_len)
        return m->seq;
    int i = tg_msg_acl_index(m, k->name);
    return i >= 0 && (uint32_t)i < m->nrseq ? m->rseq[i] : 0;
}

static void keep(gw_thread_t *t, tg_msg_t *m, uint64_t seq, const char *stream)
{
    tg_msg_t *um = gw_notif_msg(m, seq, stream);
    if (um) {
        gw_notif_record(t->g->notif_seq, stream, um, t->hub.history_size);
        tg_msg_unref(um);
    }
}

/* Cluster: keep alert m in the notifications history of every ACL reader,
 * whether or not the reader has ever subscribed on this node, so a client
 * that comes from another node resumes here with `since` (SPEC §14). */
void gw_cluster_notif_keep(gw_thread_t *t, tg_msg_t *m)
{
    if (strcmp(t->g->cfg->node.role, "all") == 0)
        return;
    /* admins read every alert under the engine-wide number: one history for
     * all of them, kept on every node, so an admin resumes anywhere too */
    keep(t, m, m->seq, GW_ADMIN_STREAM);
    uint32_t i = 0;
    for (const char *p = m->acl, *end = m->acl + m->acl_len; p < end && i < m->nrseq;
         p += strlen(p) + 1, i++)
        keep(t, m, m->rseq[i], p);
}

const char *gw_cluster_notif_stream(const gw_thread_t *t, const gw_client_t *s)
{
    if (strcmp(t->g->cfg->node.role, "all") != 0 && s->claims.admin)
        return GW_ADMIN_STREAM;
    return s->claims.sub;
}

const char *tg_gateway_epoch(const tg_gateway_t *g)
{
    return g->epoch;
}

static void tell_lost(gw_client_t *s)
{
    for (uint32_t i = 0; i < s->nsubs; i++) {
        gw_key_t *k = s->subs[i].key;
        if (!k || (k->channel != TG_CH_MARKET_DATA && k->channel != TG_CH_PORTFOLIO))
            continue;
        gw_send_recovered(s, (tg_channel_t)k->channel, k->name, k->last ? k->last->seq : 0,
                          false);
        if (k->last)
            gw_client_push_ctrl(s, tg_msg_ref(k->last));
    }
}

void gw_cluster_on_epoch(gw_thread_t *t, tg_msg_t *m)
{
    bool changed = strcmp(t->epoch, m->key_name) != 0;
    bool failover = changed && t->epoch_from_bus;
    bool lost = m->aux != 0;
    if (changed) { /* the consumer keeps epochs within TG_BUS_EPOCH_MAX */
        size_t n = strnlen(m->key_name, sizeof t->epoch - 1);
        memcpy(t->epoch, m->key_name, n);
        t->epoch[n] = 0;
    }
    t->epoch_from_bus = true;
    /* the first epoch recorded, or a failover: another engine numbers from 1 */
    gw_notif_epoch(t->g->notif_seq, t->epoch);
    if (failover) {
        gw_hub_forget(&t->hub, true);
        for (gw_client_t *s = t->clients; s; s = s->next)
            gw_client_close(s, 1012, "ingest epoch changed");
    } else if (lost) {
        gw_hub_forget(&t->hub, false);
        for (gw_client_t *s = t->clients; s; s = s->next)
            if (s->state == GW_ACTIVE)
                tell_lost(s);
    }
    tg_msg_unref(m);
}
