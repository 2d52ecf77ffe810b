/* limits.c - limits shared by all service threads: connections per IP and
 * the per-user HTTP API rate limit (in-process sliding window).
 *
 * Both are touched only at connect/close and per HTTP API request, never per
 * message, so one mutex per table is cheap and keeps the threads consistent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "tickgate/netaddr.h"

/* how many recent alerts a user's seq assignment remembers: a service
 * thread lagging further behind the first one would number anew */
#define NOTIF_MEMORY 256

typedef struct ent {
    struct ent *next;
    char key[TG_JWT_MAX_STR + 1];
    uint32_t count;    /* ipcap: open connections */
    int64_t *stamps;   /* rate: ring of the last `limit` request times (ns) */
    uint32_t head, n;
    /* notifications: the user's seq, and which alert got which seq lately */
    uint64_t last_seq;
    uint64_t (*memo)[2];   /* NOTIF_MEMORY x {alert_no, seq}, allocated on first use */
    /* notifications history shared by the threads: slot seq % hcap holds the
     * message of that seq (whichever thread recorded it first), so a thread
     * recording late or out of order still fills the right slot */
    tg_msg_t **hist;
    uint32_t hcap;
    uint64_t hmax;         /* highest seq recorded */
} ent_t;

struct gw_table {
    pthread_mutex_t lock;
    ent_t *b[1024];
    char epoch[64];    /* notifications: the ingest epoch the entries belong to */
};

static uint32_t hkey(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h & 1023;
}

int gw_table_create(gw_table_t **out)
{
    gw_table_t *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    pthread_mutex_init(&t->lock, NULL);
    *out = t;
    return 0;
}

void gw_table_destroy(gw_table_t *t)
{
    if (!t)
        return;
    for (int i = 0; i < 1024; i++)
        for (ent_t *e = t->b[i], *n; e; e = n) {
            n = e->next;
            free(e->stamps);
            free(e->memo);
            for (uint32_t j = 0; e->hist && j < e->hcap; j++)
                tg_msg_unref(e->hist[j]);
            free(e->hist);
            free(e);
        }
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static ent_t *find(gw_table_t *t, const char *key, bool create)
{
    uint32_t h = hkey(key);
    for (ent_t *e = t->b[h]; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    if (!create)
        return NULL;
    ent_t *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    strncpy(e->key, key, sizeof e->key - 1);
    e->next = t->b[h];
    t->b[h] = e;
    return e;
}

static void drop(gw_table_t *t, ent_t *victim)
{
    uint32_t h = hkey(victim->key);
    for (ent_t **pp = &t->b[h]; *pp; pp = &(*pp)->next)
        if (*pp == victim) {
            *pp = victim->next;
            free(victim->stamps);
            free(victim->memo);
            free(victim);
            return;
        }
}

bool gw_ipcap_acquire(gw_table_t *t, const char *ip, uint32_t max)
{
    pthread_mutex_lock(&t->lock);
    ent_t *e = find(t, ip, true);
    bool ok = e && e->count < max;
    if (ok)
        e->count++;
    pthread_mutex_unlock(&t->lock);
    return ok;
}

void gw_ipcap_release(gw_table_t *t, const char *ip)
{
    pthread_mutex_lock(&t->lock);
    ent_t *e = find(t, ip, false);
    if (e && e->count && --e->count == 0)
        drop(t, e);
    pthread_mutex_unlock(&t->lock);
}

bool gw_rate_ok(gw_table_t *t, const char *user, uint32_t limit, int64_t window_ns, int64_t now,
                int64_t *retry_after_ns)
{
    bool ok = false;
    pthread_mutex_lock(&t->lock);
    ent_t *e = find(t, user, true);
    if (!e)
        goto out;
    if (!e->stamps) {
        e->stamps = calloc(limit, sizeof *e->stamps);
        if (!e->stamps)
            goto out;
    }
    /* forget requests that left the window */
    while (e->n && now - e->stamps[e->head] >= window_ns) {
        e->head = (e->head + 1) % limit;
        e->n--;
    }
    if (e->n < limit) {
        e->stamps[(e->head + e->n) % limit] = now;
        e->n++;
        ok = true;
    } else if (retry_after_ns) {
        *retry_after_ns = window_ns - (now - e->stamps[e->head]);
    }
out:
    pthread_mutex_unlock(&t->lock);
    return ok;
}

/* ---- trusted proxies (server.trusted_proxies: addresses or CIDRs) ---- */

bool gw_ip_trusted(const tg_strlist_t *proxies, const char *ip)
{
    return tg_addr_in_list(proxies, ip);
}

void gw_client_addr(const tg_strlist_t *proxies, const char *peer, const char *xff, char *out,
                    size_t cap)
{
    snprintf(out, cap, "%s", peer);
    if (!xff || !*xff || !gw_ip_trusted(proxies, peer))
        return;
    /* rightmost address that is not a trusted proxy: the one our proxies saw */
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", xff);
    for (;;) {
        char *comma = strrchr(buf, ',');
        char *item = comma ? comma + 1 : buf;
        while (*item == ' ' || *item == '\t')
            item++;
        char *end = item + strlen(item);
        while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = 0;
        unsigned char tmp[16];
        bool valid = inet_pton(AF_INET, item, tmp) == 1 || inet_pton(AF_INET6, item, tmp) == 1;
        if (!valid)
            return; /* garbage: keep the last address we could trust */
        snprintf(out, cap, "%s", item);
        if (!gw_ip_trusted(proxies, item) || !comma)
            return;
        *comma = 0;
    }
}

uint64_t gw_notif_seq(gw_table_t *t, const char *user, uint64_t alert_no)
{
    uint64_t seq = 0;
    pthread_mutex_lock(&t->lock);
    ent_t *e = find(t, user, true);
    if (e && !e->memo)
        e->memo = calloc(NOTIF_MEMORY, sizeof *e->memo);
    if (e && e->memo) {
        for (int i = 0; i < NOTIF_MEMORY && !seq; i++)
            if (e->memo[i][0] == alert_no && e->memo[i][1])
                seq = e->memo[i][1];
        if (!seq) {
            seq = ++e->last_seq;
            uint32_t slot = (uint32_t)(seq % NOTIF_MEMORY);
            e->memo[slot][0] = alert_no;
            e->memo[slot][1] = seq;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return seq;
}

bool gw_notif_epoch(gw_table_t *t, const char *epoch)
{
    bool cleared = false;
    pthread_mutex_lock(&t->lock);
    /* every service thread sees the epoch message; the first one clears, the
     * others find the table already in the new epoch (and must not wipe what
     * the first has recorded since) */
    if (strncmp(t->epoch, epoch, sizeof t->epoch - 1) != 0) {
        if (t->epoch[0]) {
            for (size_t i = 0; i < sizeof t->b / sizeof t->b[0]; i++)
                for (ent_t *e = t->b[i]; e; e = e->next) {
                    e->last_seq = 0;
                    if (e->memo)
                        memset(e->memo, 0, NOTIF_MEMORY * sizeof *e->memo);
                    for (uint32_t k = 0; e->hist && k < e->hcap; k++) {
                        tg_msg_unref(e->hist[k]);
                        e->hist[k] = NULL;
                    }
                    e->hmax = 0;
                }
            cleared = true;
        }
        snprintf(t->epoch, sizeof t->epoch, "%s", epoch);
    }
    pthread_mutex_unlock(&t->lock);
    return cleared;
}

void gw_notif_record(gw_table_t *t, const char *user, tg_msg_t *m, uint32_t cap)
{
    if (!cap || !m->seq)
        return;
    pthread_mutex_lock(&t->lock); /* alerts only, never per tick */
    ent_t *e = find(t, user, true);
    if (e && !e->hist && (e->hist = calloc(cap, sizeof *e->hist)) != NULL)
        e->hcap = cap;
    if (e && e->hist) {
        tg_msg_t **slot = &e->hist[m->seq % e->hcap];
        if (!*slot || (*slot)->seq < m->seq) {
            tg_msg_unref(*slot);
            *slot = tg_msg_ref(m);
            if (m->seq > e->hmax)
                e->hmax = m->seq;
        }
    }
    pthread_mutex_unlock(&t->lock);
}

int gw_notif_replay(gw_table_t *t, const char *user, uint64_t since, tg_msg_t ***out,
                    uint32_t *n)
{
    int rc = 0;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&t->lock);
    ent_t *e = find(t, user, false);
    uint64_t upto = e ? e->hmax : 0;
    if (since >= upto)
        goto out; /* nothing missed */
    if (!e->hist || upto - since > e->hcap) {
        rc = -1;
        goto out;
    }
    *out = malloc((size_t)(upto - since) * sizeof **out);
    if (!*out) {
        rc = -1;
        goto out;
    }
    for (uint64_t q = since + 1; q <= upto; q++) {
        tg_msg_t *m = e->hist[q % e->hcap];
        if (!m || m->seq != q) { /* evicted, or not recorded (yet) */
            rc = -1;
            break;
        }
        (*out)[(*n)++] = tg_msg_ref(m);
    }
out:
    pthread_mutex_unlock(&t->lock);
    if (rc) {
        for (uint32_t i = 0; i < *n; i++)
            tg_msg_unref((*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}
