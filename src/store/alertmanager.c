/* alertmanager.c - alerts pushed to Prometheus Alertmanager (SPEC §13).
 *
 * POST /api/v2/alerts with labels, annotations, startsAt (and endsAt when
 * resolved); every firing alert is re-sent each alertmanager_resend_s, so
 * Alertmanager does not time it out, and a resolution it refused is sent again
 * until it takes it or webhook_max_retry_s passes. Alerts are identified by
 * their label set, as Alertmanager does. With journal.dir the firing set is
 * kept on disk (am_firing.c) and survives restarts. The HTTP client is the
 * webhook's (webhook.c), through the post callback.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alertmanager.h"
#include "am_firing.h"
#include "tickgate/buf.h"
#include "tickgate/clock.h"
#include "tickgate/encode.h"
#include "tickgate/json.h"
#include "tickgate/log.h"
#include "tickgate/webhook.h"

struct am_alert {
    char key[768]; /* its labels object: Alertmanager's identity of an alert */
    char id[64];   /* the episode's alert_id: its resolution is matched by it first */
    bool restored; /* read back from am_firing.log, not yet fired again since the start */
    char *body; /* the firing alert JSON, owned */
    size_t len;
    int64_t starts_ns;
};


static void fmt_rfc3339(int64_t ns, char *buf, size_t cap)
{
    time_t s = (time_t)(ns / 1000000000LL);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ns % 1000000000LL / 1000000));
}

/* One Alertmanager alert object (no brackets) into out[cap]; length or negative errno. */
static int am_object(const char *json, size_t len, int64_t starts_ns, char *out, size_t cap)
{
    tg_json_t j = {0};
    char rule[64], id[64], state[16], sev[16], pid[256] = "", feed[128] = "", sym[64] = "";
    char msg[512] = "", t0[64], t1[64];
    int64_t ts = 0;
    int rc = -EINVAL;

    if (tg_json_parse(&j, json, len, 256, 4) != 0 || tg_json_type(&j, 0) != TG_JSON_OBJECT)
        goto fail;
    if (tg_json_str(&j, tg_json_get(&j, 0, "rule"), rule, sizeof rule, NULL) ||
        tg_json_str(&j, tg_json_get(&j, 0, "alert_id"), id, sizeof id, NULL) ||
        tg_json_str(&j, tg_json_get(&j, 0, "state"), state, sizeof state, NULL) ||
        tg_json_str(&j, tg_json_get(&j, 0, "severity"), sev, sizeof sev, NULL) ||
        tg_json_i64(&j, tg_json_get(&j, 0, "ts"), &ts))
        goto fail;
    /* portfolio alerts name the portfolio, system alerts the feed */
    if (tg_json_str(&j, tg_json_get(&j, 0, "portfolio_id"), pid, sizeof pid, NULL) &&
        tg_json_str(&j, tg_json_get(&j, 0, "feed"), feed, sizeof feed, NULL))
        goto fail;
    tg_json_str(&j, tg_json_get(&j, 0, "symbol"), sym, sizeof sym, NULL);
    tg_json_str(&j, tg_json_get(&j, 0, "message"), msg, sizeof msg, NULL);
    bool resolved = strcmp(state, "resolved") == 0;

    fmt_rfc3339(starts_ns ? starts_ns : ts, t0, sizeof t0);
    fmt_rfc3339(ts, t1, sizeof t1);
    tg_enc_t enc;
    tg_enc_init(&enc, out, cap, NULL, 0);
    tg_enc_map(&enc, resolved ? 4 : 3);
    tg_enc_key(&enc, "labels");
    tg_enc_map(&enc, sym[0] ? 4 : 3);
    tg_enc_kv_str(&enc, "alertname", rule);
    if (pid[0])
        tg_enc_kv_str(&enc, "portfolio_id", pid);
    else
        tg_enc_kv_str(&enc, "feed", feed);
    tg_enc_kv_str(&enc, "severity", sev);
    if (sym[0])
        tg_enc_kv_str(&enc, "symbol", sym);
    tg_enc_map_end(&enc);
    tg_enc_key(&enc, "annotations");
    tg_enc_map(&enc, 2);
    tg_enc_kv_str(&enc, "message", msg);
    tg_enc_kv_str(&enc, "alert_id", id);
    tg_enc_map_end(&enc);
    tg_enc_kv_str(&enc, "startsAt", t0);
    if (resolved)
        tg_enc_kv_str(&enc, "endsAt", t1);
    tg_enc_map_end(&enc);
    if (enc.err || enc.jlen >= cap) {
        rc = -ENOSPC;
        goto fail;
    }
    out[enc.jlen] = 0;
    rc = (int)enc.jlen;
fail:
    tg_json_free(&j);
    return rc;
}

int tg_webhook_am_payload(const char *alert_json, size_t len, int64_t starts_ns, char *out,
                          size_t cap)
{
    if (!alert_json || !out || cap < 3)
        return -EINVAL;
    int n = am_object(alert_json, len, starts_ns, out + 1, cap - 2);
    if (n < 0)
        return n;
    out[0] = '[';
    out[n + 1] = ']';
    out[n + 2] = 0;
    return n + 2;
}

/* Resend every firing alert and the resolved ones not yet accepted, in one POST. */
static void am_resend(tg_am_t *w)
{
    if (!w->n_am && !w->n_am_resolved)
        return;
    /* '[' + per alert: ',' + an object of at most AM_BODY_MAX bytes + ']' + NUL */
    size_t cap = 3 + (w->n_am + w->n_am_resolved) * (AM_BODY_MAX + 2);
    char *p = malloc(cap);
    if (!p)
        return;
    size_t n = 0;
    p[n++] = '[';
    for (size_t i = 0; i < w->n_am; i++) {
        int k = am_object(w->am[i].body, w->am[i].len, w->am[i].starts_ns, p + n + (n > 1),
                          AM_BODY_MAX);
        if (k < 0)
            continue;
        if (n > 1)
            p[n++] = ',';
        n += (size_t)k;
    }
    for (size_t i = 0; i < w->n_am_resolved; i++) {
        size_t k = strlen(w->am_resolved[i]);
        if (n > 1)
            p[n++] = ',';
        memcpy(p + n, w->am_resolved[i], k);
        n += k;
    }
    p[n++] = ']';
    p[n] = 0;
    if (n > 2 && w->post(w->ctx, p, n)) { /* Alertmanager has the resolutions now */
        for (size_t i = 0; i < w->n_am_resolved; i++)
            free(w->am_resolved[i]);
        w->n_am_resolved = 0;
    }
    free(p);
}

static void am_keep_resolved(tg_am_t *w, const char *obj, int64_t now)
{
    if (w->n_am_resolved == w->cap_am_resolved) {
        size_t nc = w->cap_am_resolved ? w->cap_am_resolved * 2 : 16;
        char **np = realloc(w->am_resolved, nc * sizeof *np);
        int64_t *nt = realloc(w->am_resolved_ns, nc * sizeof *nt);
        if (np)
            w->am_resolved = np;
        if (nt)
            w->am_resolved_ns = nt;
        if (!np || !nt)
            return;
        w->cap_am_resolved = nc;
    }
    char *c = strdup(obj);
    if (!c)
        return;
    w->am_resolved_ns[w->n_am_resolved] = now;
    w->am_resolved[w->n_am_resolved++] = c;
}

/* Post a resolution ([{...}], n bytes); one Alertmanager refused is kept for the re-sends. */
static void am_post_resolution(tg_am_t *w, char *obj, int n, int64_t now)
{
    if (n <= 2 || w->post(w->ctx, obj, (size_t)n))
        return;
    obj[n - 1] = 0; /* kept as the object alone: [{...}] -> {...} */
    am_keep_resolved(w, obj + 1, now);
}

/* Drop the kept resolutions set to NULL, keeping the others in order. */
static void am_resolved_compact(tg_am_t *w)
{
    size_t k = 0;
    for (size_t i = 0; i < w->n_am_resolved; i++)
        if (w->am_resolved[i]) {
            w->am_resolved[k] = w->am_resolved[i];
            w->am_resolved_ns[k++] = w->am_resolved_ns[i];
        }
    w->n_am_resolved = k;
}

/*
 * Alertmanager identifies an alert by its label set, not by our alert_id: a
 * restart without saved alert states fires the same condition again under a
 * new id, and that is the same alert there. The set is keyed the same way.
 */
static int am_key(const char *body, size_t len, char *key, size_t cap)
{
    char obj[AM_BODY_MAX + 2];
    int n = tg_webhook_am_payload(body, len, 0, obj, sizeof obj);
    const char *a = n > 0 ? strstr(obj, ",\"annotations\":") : NULL;
    if (!a || (size_t)(a - obj) >= cap) /* quotes inside values are escaped: no false match */
        return -EINVAL;
    memcpy(key, obj, (size_t)(a - obj));
    key[a - obj] = 0;
    return 0;
}

static void alert_id_of(const char *body, size_t len, char *id, size_t cap)
{
    tg_json_t j = {0};
    id[0] = 0;
    if (tg_json_parse(&j, body, len, 256, 4) != 0 ||
        tg_json_str(&j, tg_json_get(&j, 0, "alert_id"), id, cap, NULL) != 0)
        id[0] = 0;
    tg_json_free(&j);
}

/*
 * The resolution of a kept alert, from its firing body: the labels
 * Alertmanager knows it by (a resolution event may carry other ones: an
 * unpriced alert names a symbol only while firing, a concentration alert
 * its largest holding at the time), its first startsAt, endsAt = ends_ns.
 * The JSON array's length, or negative.
 */
static int am_resolution(const am_alert_t *a, int64_t ends_ns, char *out, size_t cap)
{
    char t1[64];
    int n = tg_webhook_am_payload(a->body, a->len, a->starts_ns, out, cap);
    if (n <= 2)
        return -EINVAL;
    fmt_rfc3339(ends_ns, t1, sizeof t1);
    /* [{...}] -> [{...,"endsAt":"..."}] */
    int m = snprintf(out + n - 2, cap - (size_t)n + 2, ",\"endsAt\":\"%s\"}]", t1);
    if (m < 0 || (size_t)(n - 2 + m) >= cap)
        return -ENOSPC;
    return n - 2 + m;
}

/* Kept resolutions of this label set are older than a new firing of it:
 * sent after it, Alertmanager would end the live alert (SPEC §13). */
static void am_drop_resolved(tg_am_t *w, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < w->n_am_resolved; i++)
        /* a kept resolution is the object without brackets: {"labels":{…},"annotations"… */
        if (strncmp(w->am_resolved[i], key + 1, kl - 1) == 0 &&
            strncmp(w->am_resolved[i] + kl - 1, ",\"annotations\":", 15) == 0) {
            free(w->am_resolved[i]);
            w->am_resolved[i] = NULL;
        }
    am_resolved_compact(w);
}

/* Entry i leaves the set (the last one takes its place). */
static void am_remove(tg_am_t *w, size_t i)
{
    free(w->am[i].body);
    w->am[i] = w->am[--w->n_am];
}

/* A firing alert into the set (the caller checked it is not there). */
static int am_add(tg_am_t *w, const char *key, const char *body, size_t len, int64_t starts)
{
    if (tg_vec_reserve(&w->am, sizeof *w->am, &w->cap_am, w->n_am + 1, 16) < 0)
        return -ENOMEM;
    am_alert_t *a = &w->am[w->n_am];
    if (!(a->body = strndup(body, len))) /* our JSON: no NUL inside */
        return -ENOMEM;
    a->len = len;
    a->starts_ns = starts;
    snprintf(a->key, sizeof a->key, "%s", key);
    alert_id_of(body, len, a->id, sizeof a->id);
    w->n_am++;
    return 0;
}

/* The set changed: rewrite it under journal.dir (am_firing.c) so a restart keeps re-sending. */
static void am_save(tg_am_t *w)
{
    if (!w->dir[0])
        return;
    tg_am_firing_t *v = calloc(w->n_am ? w->n_am : 1, sizeof *v);
    int rc = v ? 0 : -ENOMEM;
    for (size_t i = 0; v && i < w->n_am; i++)
        v[i] = (tg_am_firing_t){.body = w->am[i].body, .len = w->am[i].len,
                                .starts_ns = w->am[i].starts_ns};
    if (!rc)
        rc = tg_am_firing_save(w->dir, v, w->n_am);
    free(v);
    if (rc)
        TG_WARN("alertmanager_state_write_failed", "dir", TG_S(w->dir), "error",
                TG_S(strerror(-rc)));
}

static int am_load_one(void *arg, int64_t starts, const char *body, size_t len)
{
    tg_am_t *w = arg;
    char key[sizeof w->am[0].key];
    if (am_key(body, len, key, sizeof key) != 0)
        return 0; /* not an alert event: skip it */
    for (size_t i = 0; i < w->n_am; i++)
        if (strcmp(w->am[i].key, key) == 0)
            return 0;
    if (am_add(w, key, body, len, starts) != 0)
        return -ENOMEM;
    w->am[w->n_am - 1].restored = true;
    return 0;
}

void tg_am_event(tg_am_t *w, const char *body, size_t len, int64_t now)
{
    char key[sizeof w->am[0].key], id[64], state[16], obj[AM_BODY_MAX + 64];
    tg_json_t j = {0};
    int64_t ts = 0;
    int rc = tg_json_parse(&j, body, len, 256, 4);
    if (rc == 0)
        rc = tg_json_str(&j, tg_json_get(&j, 0, "state"), state, sizeof state, NULL) ||
             tg_json_i64(&j, tg_json_get(&j, 0, "ts"), &ts);
    tg_json_free(&j);
    if (rc || am_key(body, len, key, sizeof key) != 0)
        return;
    alert_id_of(body, len, id, sizeof id);
    /* the episode by its id first; by its labels for one kept across a
     * restart without saved alert states (fired again under a new id) */
    size_t i = 0;
    while (i < w->n_am && !(id[0] && strcmp(w->am[i].id, id) == 0))
        i++;
    if (i == w->n_am)
        for (i = 0; i < w->n_am && strcmp(w->am[i].key, key) != 0;)
            i++;
    if (strcmp(state, "firing") == 0) {
        am_drop_resolved(w, key);
        if (i == w->n_am) {
            if (am_add(w, key, body, len, ts) != 0)
                return;
            am_save(w);
        } else {
            w->am[i].restored = false; /* confirmed by the engine */
            if (w->am[i].len != len || memcmp(w->am[i].body, body, len) != 0) {
                /* the same alert fired again (a new episode id after a restart):
                 * re-sends carry the current event, startsAt stays the first */
                char *nb = strndup(body, len);
                if (nb) {
                    free(w->am[i].body);
                    w->am[i].body = nb;
                    w->am[i].len = len;
                    snprintf(w->am[i].key, sizeof w->am[i].key, "%s", key);
                    snprintf(w->am[i].id, sizeof w->am[i].id, "%s", id);
                    am_save(w);
                }
            }
        }
        /* i is the entry (a new one was added at i == the old count) */
        const am_alert_t *a = &w->am[i];
        int n = tg_webhook_am_payload(a->body, a->len, a->starts_ns, obj, sizeof obj);
        if (n > 0)
            w->post(w->ctx, obj, (size_t)n); /* a failure is repaired by the next resend */
        return;
    }
    int n;
    if (i < w->n_am) {
        /* resolved under the labels it fired with */
        n = am_resolution(&w->am[i], ts, obj, sizeof obj);
        am_remove(w, i);
        am_save(w);
    } else {
        n = tg_webhook_am_payload(body, len, ts, obj, sizeof obj);
    }
    am_post_resolution(w, obj, n, now);
}

/*
 * Without PostgreSQL the engine does not keep alert states across a restart:
 * it fires again what still holds when the restored quotes are valued, under
 * new ids (the same labels: confirmed above), and says nothing of what ended
 * while it was down. A restored entry the engine has not fired again by
 * am_confirm_by is therefore over: Alertmanager gets its resolution now
 * instead of a re-send forever. (With PostgreSQL, episodes resume with their
 * ids and end with a resolved event of their own.)
 */
static void am_confirm_restored(tg_am_t *w, int64_t now)
{
    if (w->am_states_saved || !w->am_confirm_by || now < w->am_confirm_by)
        return;
    w->am_confirm_by = 0;
    bool changed = false;
    for (size_t i = 0; i < w->n_am;) {
        am_alert_t *a = &w->am[i];
        if (!a->restored) {
            i++;
            continue;
        }
        char obj[AM_BODY_MAX + 64];
        am_post_resolution(w, obj, am_resolution(a, tg_now_ns(), obj, sizeof obj), now);
        TG_INFO("alertmanager_restored_alert_ended", "labels", TG_S(a->key));
        am_remove(w, i);
        changed = true;
    }
    if (changed)
        am_save(w);
}

/* Resolutions nobody accepted within webhook_max_retry_s are given up. */
static void am_expire(tg_am_t *w, int64_t now)
{
    for (size_t i = 0; i < w->n_am_resolved; i++)
        if (now - w->am_resolved_ns[i] > w->max_retry_ns) {
            free(w->am_resolved[i]);
            w->am_resolved[i] = NULL;
        }
    am_resolved_compact(w);
}

/* ---- the thread ------------------------------------------------------------------ */


void tg_am_tick(tg_am_t *w, int64_t now)
{
    if (now < w->next_ns)
        return;
    am_expire(w, now);
    am_confirm_restored(w, now);
    am_resend(w);
    w->next_ns = now + w->resend_ns;
}

int tg_am_init(tg_am_t *w, const char *dir, bool states_saved, int64_t resend_ns,
               int64_t max_retry_ns, tg_am_post_fn post, void *ctx)
{
    memset(w, 0, sizeof *w);
    w->post = post;
    w->ctx = ctx;
    w->resend_ns = resend_ns;
    w->max_retry_ns = max_retry_ns;
    w->am_states_saved = states_saved;
    w->next_ns = tg_mono_ns() + resend_ns;
    snprintf(w->dir, sizeof w->dir, "%s", dir ? dir : "");
    if (!w->dir[0])
        return 0;
    size_t skipped = 0;
    int rc = tg_am_firing_load(w->dir, am_load_one, w, &skipped);
    if (rc)
        return rc;
    if (skipped)
        TG_WARN("alertmanager_state_lines_skipped", "dir", TG_S(w->dir), "lines",
                TG_I((int64_t)skipped));
    if (w->n_am) {
        TG_INFO("alertmanager_firing_restored", "alerts", TG_I((int64_t)w->n_am));
        int64_t grace = 2 * resend_ns > 5000000000LL ? 2 * resend_ns : 5000000000LL;
        w->am_confirm_by = tg_mono_ns() + grace;
    }
    return 0;
}

void tg_am_free(tg_am_t *w)
{
    for (size_t i = 0; i < w->n_am; i++)
        free(w->am[i].body);
    free(w->am);
    for (size_t i = 0; i < w->n_am_resolved; i++)
        free(w->am_resolved[i]);
    free(w->am_resolved);
    free(w->am_resolved_ns);
    memset(w, 0, sizeof *w);
}
