/* webhook_am.h - the Alertmanager firing set of webhook.c and its file (store-internal). */
#ifndef TG_STORE_WEBHOOK_AM_H
#define TG_STORE_WEBHOOK_AM_H

#include <stddef.h>
#include <stdint.h>

#include "tickgate/sink.h"

typedef struct am_alert {
    char id[64];
    char *body; /* the firing alert JSON, owned */
    size_t len;
    int64_t starts_ns;
} am_alert_t;

/* Append one firing alert (body copied) to the growable array. 0 or -ENOMEM. */
int tg__am_add(am_alert_t **am, size_t *n_am, size_t *cap_am, const char *id, const char *body,
               size_t len, int64_t starts);
/* Rewrite `path` with the set (tmp + rename); a failure is logged. */
void tg__am_save(const char *path, const am_alert_t *am, size_t n_am);
/* Append the set saved at `path` (absent file: nothing); malformed lines skipped. */
void tg__am_load(const char *path, am_alert_t **am, size_t *n_am, size_t *cap_am);
/*
 * Hand the kept portfolio alerts to `restore` (NULL: keep all) so the engine
 * resolves them under their id; feed alerts and refused ones are dropped
 * (the engine fires again what still holds, under a new id).
 */
void tg__am_restore(am_alert_t *am, size_t *n_am, const tg_portfolio_sink_t *restore);
/* The alert's condition (rule, portfolio, symbol, feed) as one comparable string. */
void tg__am_key(const char *body, size_t len, char *out, size_t cap);

#endif
