/* alertmanager.h - alerts pushed to Prometheus Alertmanager (alertmanager.c).
 * Webhook thread only; webhook.c owns the HTTP client and calls in here. */
#ifndef TICKGATE_ALERTMANAGER_H
#define TICKGATE_ALERTMANAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AM_BODY_MAX 2048 /* one Alertmanager alert object */

typedef struct am_alert am_alert_t;

/** POST a JSON array to /api/v2/alerts; true when Alertmanager took it (2xx). */
typedef bool (*tg_am_post_fn)(void *ctx, const char *payload, size_t len);

typedef struct tg_am {
    tg_am_post_fn post;
    void *ctx;
    int64_t resend_ns, max_retry_ns;
    char dir[4096];          /* journal.dir/webhook: the firing set on disk; "" = memory only */
    am_alert_t *am;          /* firing alerts, one per label set */
    size_t n_am, cap_am;
    char **am_resolved;      /* resolved payload objects not yet accepted */
    int64_t *am_resolved_ns;
    size_t n_am_resolved, cap_am_resolved;
    int64_t next_ns;         /* next re-send (mono) */
    bool am_states_saved;    /* PostgreSQL keeps alert states: the engine resumes episodes */
    int64_t am_confirm_by;   /* restored entries not fired again by then are resolved */
} tg_am_t;

/**
 * Set up; with dir, read back the firing set kept there (am_firing.c).
 * states_saved: PostgreSQL keeps the engine's alert states across restarts.
 * 0, -errno reading the set, -ENOMEM.
 */
int tg_am_init(tg_am_t *w, const char *dir, bool states_saved, int64_t resend_ns,
               int64_t max_retry_ns, tg_am_post_fn post, void *ctx);
/** One alert event (the engine's JSON): firing joins the set, resolved leaves it. */
void tg_am_event(tg_am_t *w, const char *body, size_t len, int64_t now);
/** Due work: expire old resolutions, end unconfirmed restored alerts, re-send. */
void tg_am_tick(tg_am_t *w, int64_t now);
void tg_am_free(tg_am_t *w);

#endif
