/* alert_log.c - what a service thread remembers of alerts for the HTTP API
 * when PostgreSQL is not the answer (SPEC §13 "Alert API"): the last
 * GW_ALOG_CAP events (portfolio and system alerts, engine form without the
 * per-user seq) and the set of alerts firing now.
 *
 * Filtering is one pure function (gw_alert_filter_match) so the in-memory path
 * applies exactly the same rules in any combination of parameters.
 * Thread: the owning service thread only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "tickgate/alerts.h"

#define ACTIVE_MAX 65536 /* firing alerts remembered; past it the oldest is forgotten */

/* `"<key>":"` value of an engine alert; the encoder writes keys unescaped, and
 * a `"` inside a string value is always escaped, so the pattern is the key. */
static bool json_field(const tg_msg_t *m, const char *key, char *out, size_t cap)
{
    char pat[40];
    size_t pl = (size_t)snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *j = (const char *)m->json, *end = j + m->json_len;
    const char *p = memmem(j, m->json_len, pat, pl);
    if (!p)
        return false;
    p += pl;
    const char *q = memchr(p, '"', (size_t)(end - p));
    if (!q || (size_t)(q - p) >= cap)
        return false;
    memcpy(out, p, (size_t)(q - p));
    out[q - p] = 0;
    return true;
}

static void active_drop(gw_thread_t *t, uint32_t i)
{
    tg_msg_unref(t->active[i]);
    memmove(t->active + i, t->active + i + 1, (t->n_active - i - 1) * sizeof *t->active);
    memmove(t->active_id + i, t->active_id + i + 1, (t->n_active - i - 1) * sizeof *t->active_id);
    t->n_active--;
}

static void active_update(gw_thread_t *t, tg_msg_t *m)
{
    char id[24];
    if (!json_field(m, "alert_id", id, sizeof id))
        return;
    for (uint32_t i = 0; i < t->n_active; i++)
        if (!strcmp(id, t->active_id[i])) {
            active_drop(t, i);
            break;
        }
    if (m->aux != TG_ALERT_FIRING)
        return;
    if (t->n_active == ACTIVE_MAX)
        active_drop(t, 0);
    if (t->n_active == t->cap_active) {
        uint32_t nc = t->cap_active ? t->cap_active * 2 : 64;
        tg_msg_t **na = realloc(t->active, nc * sizeof *na);
        if (na)
            t->active = na;
        char(*ni)[24] = realloc(t->active_id, nc * sizeof *ni);
        if (ni)
            t->active_id = ni;
        if (!na || !ni)
            return;
        t->cap_active = nc;
    }
    memcpy(t->active_id[t->n_active], id, sizeof id);
    t->active[t->n_active++] = tg_msg_ref(m);
}

void gw_alerts_keep(gw_thread_t *t, tg_msg_t *m)
{
    const uint32_t cap = sizeof t->alog / sizeof t->alog[0];
    if (m->aux == TG_ALERT_ACKED) /* an alert_ack notification is no alert event */
        return;
    if (t->alog_len == cap) {
        tg_msg_unref(t->alog[t->alog_head]);
        t->alog_head = (t->alog_head + 1) % cap;
        t->alog_len--;
    }
    t->alog[(t->alog_head + t->alog_len++) % cap] = tg_msg_ref(m);
    active_update(t, m);
}

void gw_alerts_free(gw_thread_t *t)
{
    const uint32_t cap = sizeof t->alog / sizeof t->alog[0];
    for (uint32_t j = 0; j < t->alog_len; j++)
        tg_msg_unref(t->alog[(t->alog_head + j) % cap]);
    t->alog_len = 0;
    for (uint32_t i = 0; i < t->n_active; i++)
        tg_msg_unref(t->active[i]);
    free(t->active);
    free(t->active_id);
    t->active = NULL;
    t->active_id = NULL;
    t->n_active = t->cap_active = 0;
}

const tg_msg_t *gw_alerts_find(const gw_thread_t *t, const char *alert_id)
{
    const uint32_t cap = sizeof t->alog / sizeof t->alog[0];
    char id[TG_ALERT_ID_LEN + 8];
    for (uint32_t i = t->n_active; i-- > 0;)
        if (!strcmp(t->active_id[i], alert_id))
            return t->active[i];
    for (uint32_t i = t->alog_len; i-- > 0;) {
        const tg_msg_t *m = t->alog[(t->alog_head + i) % cap];
        if (json_field(m, "alert_id", id, sizeof id) && !strcmp(id, alert_id))
            return m;
    }
    return NULL;
}

bool gw_alert_filter_match(const gw_alert_filter_t *f, const tg_msg_t *m, const char *sub,
                           bool admin, char *const *portfolios, size_t n_portfolios)
{
    bool system = m->channel == TG_CH_SYSTEM;
    if (f->state && (int)m->aux != f->state)
        return false;
    if (f->since && m->ts < f->since)
        return false;
    if (f->portfolio_id[0] && (system || strcmp(f->portfolio_id, m->key_name) != 0))
        return false;
    if (f->rule[0]) {
        char rule[32];
        if (!json_field(m, "rule", rule, sizeof rule) || strcmp(rule, f->rule) != 0)
            return false;
    }
    if (admin)
        return true;
    if (system) /* feed alerts: operators only */
        return false;
    if (sub && tg_msg_acl_has(m, sub))
        return true;
    for (size_t j = 0; j < n_portfolios; j++)
        if (strcmp(portfolios[j], m->key_name) == 0)
            return true;
    return false;
}

bool gw_alert_event_id(const tg_msg_t *m, char *id, size_t cap)
{
    return json_field(m, "alert_id", id, cap);
}
