/* hub.c - channel keys of one service thread: last state, history, subscribers.
 *
 * Every message the engine publishes lands on a key (channel + name). The key
 * keeps the message as its current state, appends it to its history ring
 * (`since` recovery); fanout.c then offers it to each subscriber, which either
 * queues it or conflates it with an unsent older one (client.c). History of
 * all keys together stays under history_max_bytes: a global FIFO in
 * insertion order evicts the oldest messages first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "tickgate/buf.h"

static uint32_t hash_key(int channel, const char *name)
{
    uint32_t h = 2166136261u ^ (uint32_t)channel;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h;
}

int gw_hub_init(gw_hub_t *h, uint32_t history_size, uint64_t max_bytes)
{
    memset(h, 0, sizeof *h);
    h->nbuckets = 4096;
    h->buckets = calloc(h->nbuckets, sizeof *h->buckets);
    if (!h->buckets)
        return -ENOMEM;
    h->history_size = history_size;
    h->hist_max_bytes = max_bytes;
    return 0;
}

static void key_free(gw_key_t *k)
{
    /* (hist_bytes is not adjusted: keys are freed only with the whole hub) */
    tg_msg_unref(k->last);
    for (uint32_t i = 0; i < k->hist.len; i++)
        tg_msg_unref(tg_deque_at(&k->hist, i));
    tg_deque_free(&k->hist);
    free(k->subs);
    free(k->extra);
    free(k);
}

void gw_hub_free(gw_hub_t *h)
{
    if (!h->buckets)
        return;
    for (uint32_t b = 0; b < h->nbuckets; b++)
        for (gw_key_t *k = h->buckets[b], *n; k; k = n) {
            n = k->next;
            key_free(k);
        }
    free(h->buckets);
    free(h->fifo);
    free(h->notif);
    free(h->wild);
    memset(h, 0, sizeof *h);
}

static int rehash(gw_hub_t *h)
{
    uint32_t nb = h->nbuckets * 2;
    gw_key_t **b = calloc(nb, sizeof *b);
    if (!b)
        return -ENOMEM;
    for (uint32_t i = 0; i < h->nbuckets; i++)
        for (gw_key_t *k = h->buckets[i], *n; k; k = n) {
            n = k->next;
            uint32_t j = hash_key(k->channel, k->name) & (nb - 1);
            k->next = b[j];
            b[j] = k;
        }
    free(h->buckets);
    h->buckets = b;
    h->nbuckets = nb;
    return 0;
}

gw_key_t *gw_hub_find(gw_hub_t *h, int channel, const char *name)
{
    uint32_t j = hash_key(channel, name) & (h->nbuckets - 1);
    for (gw_key_t *k = h->buckets[j]; k; k = k->next)
        if (k->channel == channel && strcmp(k->name, name) == 0)
            return k;
    return NULL;
}

gw_key_t *gw_hub_get(gw_hub_t *h, int channel, const char *name, bool *created)
{
    gw_key_t *k = gw_hub_find(h, channel, name);
    if (created)
        *created = false;
    if (k)
        return k;
    size_t len = strlen(name);
    if (len > TG_KEY_MAX)
        return NULL;
    if (h->nkeys >= h->nbuckets && rehash(h) != 0)
        return NULL;
    k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->channel = (uint8_t)channel;
    memcpy(k->name, name, len + 1);
    uint32_t j = hash_key(channel, name) & (h->nbuckets - 1);
    k->next = h->buckets[j];
    h->buckets[j] = k;
    h->nkeys++;
    if (channel == TG_CH_NOTIFICATIONS) {
        if (tg_vec_reserve32(&h->notif, sizeof *h->notif, &h->capnotif, (size_t)h->nnotif + 1,
                             16) == 0)
            h->notif[h->nnotif++] = k;
    }
    if (created)
        *created = true;
    return k;
}

static uint64_t msg_bytes(const tg_msg_t *m)
{
    return sizeof *m + 2 * TG_MSG_PRE + m->json_len + m->mp_len + m->acl_len;
}

/* Drop the oldest history message of k (it must be the globally oldest of k). */
static void hist_pop(gw_hub_t *h, gw_key_t *k)
{
    tg_msg_t *old = tg_deque_front(&k->hist);
    h->hist_bytes -= msg_bytes(old);
    tg_msg_unref(old);
    tg_deque_pop_front(&k->hist);
}

static int fifo_push(gw_hub_t *h, gw_key_t *k, uint64_t seq)
{
    size_t len = h->ftail - h->fhead;
    if (len == h->fcap) {
        /* Full: rebuild without stale entries (messages that already left their
         * key's ring through history_size), then size for twice what is left. */
        size_t live = 0;
        for (size_t i = 0; i < len; i++) {
            gw_hist_ent_t e = h->fifo[(h->fhead + i) % h->fcap];
            if (e.key->hist.len && tg_deque_front(&e.key->hist)->seq <= e.seq)
                live++;
        }
        size_t nc = live * 2 > 4096 ? live * 2 : 4096;
        gw_hist_ent_t *nf = malloc(nc * sizeof *nf);
        if (!nf)
            return -ENOMEM;
        size_t w = 0;
        for (size_t i = 0; i < len; i++) {
            gw_hist_ent_t e = h->fifo[(h->fhead + i) % h->fcap];
            if (e.key->hist.len && tg_deque_front(&e.key->hist)->seq <= e.seq)
                nf[w++] = e;
        }
        free(h->fifo);
        h->fifo = nf;
        h->fcap = nc;
        h->fhead = 0;
        h->ftail = w;
    }
    h->fifo[h->ftail % h->fcap] = (gw_hist_ent_t){k, seq};
    h->ftail++;
    return 0;
}

/* Grow k's ring towards history_size, doubling from 8: a key that only ever
 * sees a few messages (one of 100k symbols a hostile publisher invented)
 * costs a few pointers, not history_size of them. The capacity is counted in
 * hist_bytes, so history_max_bytes bounds the rings too. */
static int hist_grow(gw_hub_t *h, gw_key_t *k)
{
    uint32_t cap = k->hist.cap;
    int rc = tg_deque_grow(&k->hist, 8, h->history_size);
    h->hist_bytes += (uint64_t)(k->hist.cap - cap) * sizeof *k->hist.v;
    return rc;
}

static void history_add(gw_hub_t *h, gw_key_t *k, tg_msg_t *m)
{
    if (!h->history_size)
        return;
    if (hist_grow(h, k) == -ENOMEM) /* full at history_size (-ENOSPC): the oldest goes below */
        return;
    if (k->hist.len && tg_deque_back(&k->hist)->seq + 1 != m->seq) {
        /* a gap (should not happen): history must stay contiguous for recovery */
        while (k->hist.len)
            hist_pop(h, k);
    }
    if (tg_deque_full(&k->hist))
        hist_pop(h, k);
    tg_deque_push(&k->hist, tg_msg_ref(m));
    h->hist_bytes += msg_bytes(m);
    if (fifo_push(h, k, m->seq) != 0)
        return;
    while (h->hist_bytes > h->hist_max_bytes && h->ftail > h->fhead) {
        gw_hist_ent_t e = h->fifo[h->fhead % h->fcap];
        h->fhead++;
        gw_key_t *ek = e.key;
        if (ek->hist.len && tg_deque_front(&ek->hist)->seq == e.seq)
            hist_pop(h, ek);
    }
}

void gw_hub_record(gw_hub_t *h, gw_key_t *k, tg_msg_t *m)
{
    history_add(h, k, m);
    tg_msg_unref(k->last);
    k->last = m; /* the engine's reference becomes the key's */
}

int gw_hub_replay(gw_key_t *k, uint64_t since, tg_msg_t ***out, uint32_t *n)
{
    *out = NULL;
    *n = 0;
    if (!k->last)
        return since == 0 ? 0 : -1;
    if (since >= k->last->seq)
        return 0; /* nothing missed */
    if (!k->hist.len)
        return -1;
    uint64_t first = tg_deque_front(&k->hist)->seq;
    if (since + 1 < first)
        return -1;
    uint32_t skip = (uint32_t)(since + 1 - first);
    *n = k->hist.len - skip;
    *out = malloc(*n * sizeof **out);
    if (!*out) {
        *n = 0;
        return -1;
    }
    for (uint32_t i = 0; i < *n; i++)
        (*out)[i] = tg_deque_at(&k->hist, skip + i);
    return 0;
}

int gw_hub_add_sub(gw_hub_t *h, gw_key_t *k, gw_client_t *s, uint32_t sub)
{
    (void)h;
    if (tg_vec_reserve32(&k->subs, sizeof *k->subs, &k->capsubs, (size_t)k->nsubs + 1, 8) < 0)
        return -ENOMEM;
    s->subs[sub].pos = k->nsubs;
    k->subs[k->nsubs++] = (gw_subref_t){s, sub};
    return 0;
}

void gw_hub_del_sub(gw_key_t *k, uint32_t pos)
{
    k->nsubs--;
    if (pos != k->nsubs) {
        k->subs[pos] = k->subs[k->nsubs];
        gw_subref_t *moved = &k->subs[pos];
        moved->s->subs[moved->sub].pos = pos;
    }
}

int gw_hub_add_wild(gw_hub_t *h, gw_client_t *s)
{
    if (tg_vec_reserve32(&h->wild, sizeof *h->wild, &h->capwild, (size_t)h->nwild + 1, 16) < 0)
        return -ENOMEM;
    h->wild[h->nwild++] = s;
    return 0;
}

void gw_hub_del_wild(gw_hub_t *h, gw_client_t *s)
{
    for (uint32_t i = 0; i < h->nwild; i++)
        if (h->wild[i] == s) {
            h->wild[i] = h->wild[--h->nwild];
            return;
        }
}

void gw_hub_forget(gw_hub_t *h, bool states)
{
    for (uint32_t b = 0; b < h->nbuckets; b++)
        for (gw_key_t *k = h->buckets[b]; k; k = k->next) {
            while (k->hist.len)
                hist_pop(h, k);
            if (states) {
                tg_msg_unref(k->last);
                k->last = NULL;
            }
        }
    h->fhead = h->ftail = 0; /* every FIFO entry pointed at forgotten history */
}
