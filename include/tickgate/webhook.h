/* webhook.h - alert delivery to an HTTP webhook and to Prometheus Alertmanager
 * (SPEC §13 "Webhook", "Alertmanager").
 *
 * One delivery thread owns a libcurl handle. The engine hands every alert
 * event (portfolio and system alerts, the `alert` message it publishes) over
 * an SPSC ring and never waits: a slow or dead receiver only grows the
 * delivery backlog. The thread then
 *   - POSTs each event to alerts.webhook_url in order (one FIFO for all
 *     portfolios, so order per portfolio holds a fortiori), at least once:
 *     2xx = delivered; timeouts, connection errors, 408, 429 and 5xx are
 *     retried with the project's backoff (tg_backoff_t: 1 s doubling, at
 *     most 60 s, ±20 % jitter so nodes do not retry in lockstep) until
 *     alerts.webhook_max_retry_s has passed since the first attempt; other
 *     4xx are dropped and counted. With journal.dir, events are appended to
 *     journal.dir/webhook/queue.log before the first attempt and the offset
 *     of the first undelivered one is kept in queue.pos, so they survive a
 *     restart (a response lost in a crash means one duplicate, never a gap);
 *   - POSTs to alerts.alertmanager_url + /api/v2/alerts: firing alerts at
 *     once and again every alerts.alertmanager_resend_s (60 s) while they
 *     fire, a resolved one once with endsAt = its resolve time.
 * Metrics: tickgate_webhook_sent_total{result="delivered"|"retried"|
 * "rejected"|"expired"}, tickgate_webhook_backlog, exported from start.
 */
#ifndef TICKGATE_WEBHOOK_H
#define TICKGATE_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "tickgate/config.h"
#include "tickgate/metrics.h"
#include "tickgate/msg.h"

typedef struct tg_webhook tg_webhook_t;

/**
 * Register the metrics (at 0) and, when alerts.webhook_url or
 * alerts.alertmanager_url is set, start the delivery thread (it reloads the
 * undelivered events of journal.dir first). *out is NULL when neither is set.
 * Main thread; caller owns *out (tg_webhook_stop). 0 or negative errno.
 */
int tg_webhook_start(tg_webhook_t **out, const tg_config_t *cfg, tg_metrics_t *metrics);

/**
 * Engine thread (the only producer): hand over one alert message (its JSON is
 * the body). Takes a reference of its own; never blocks and never drops: what
 * the ring cannot take waits in a producer-side list until tg_webhook_flush.
 */
void tg_webhook_push(void *webhook, tg_msg_t *m);

/** Engine thread: move events waiting in the producer-side list into the ring. */
void tg_webhook_flush(void *webhook);

/**
 * Stop the thread: events still queued stay in journal.dir (delivered after
 * the next start) or are lost without it. NULL is fine. Main thread, after
 * the engine has stopped.
 */
void tg_webhook_stop(tg_webhook_t *w);

/* ---- pure helpers (unit-tested) ---------------------------------------- */

/**
 * "sha256=" + lowercase hex of HMAC-SHA256(secret, body) into out[cap]
 * (cap >= 72). 0, -EINVAL or -EIO.
 */
int tg_webhook_signature(const char *secret, const void *body, size_t len, char *out,
                         size_t cap);

/** What an HTTP status (0 = no response: timeout, connection error) means for delivery. */
typedef enum tg_webhook_verdict {
    TG_WEBHOOK_DELIVERED = 0,
    TG_WEBHOOK_RETRY,
    TG_WEBHOOK_REJECT,
} tg_webhook_verdict_t;

tg_webhook_verdict_t tg_webhook_classify(long status);

/**
 * Alertmanager payload for one `alert` JSON object: a JSON array with one
 * alert, labels alertname/portfolio_id (or feed)/severity/symbol,
 * annotations message/alert_id, startsAt = `starts_ns`, and endsAt = the
 * alert's ts when it is resolved. Writes NUL-terminated text into out[cap];
 * returns its length, -EINVAL for a body that is not an alert, -ENOSPC.
 */
int tg_webhook_am_payload(const char *alert_json, size_t len, int64_t starts_ns, char *out,
                          size_t cap);

#endif
