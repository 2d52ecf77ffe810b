/* webhook.c - the alert delivery thread: webhook (at least once, in order,
 * kept on disk) and Alertmanager (re-sent while firing). See webhook.h.
 *
 * The engine pushes message references into an SPSC ring; the thread turns
 * each into a queued event (appended to journal.dir/webhook/queue.log first,
 * when a journal directory is set) and delivers the head of the queue. Only
 * the head is ever in flight: that is what makes delivery ordered, and a
 * failing receiver holds back the events behind it rather than reordering.
 * libcurl does HTTP and TLS; OpenSSL's HMAC signs the body.
 */
#include "tickgate/webhook.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alertmanager.h"
#include "tickgate/backoff.h"
#include "tickgate/buf.h"
#include "tickgate/clock.h"
#include "tickgate/deque.h"
#include "tickgate/encode.h"
#include "tickgate/file.h"
#include "tickgate/json.h"
#include "tickgate/log.h"
#include "tickgate/ring.h"

#define RING_CAP 4096
#define BACKOFF_BASE_MS 1000          /* SPEC §13: 1 s doubling ... */
#define BACKOFF_MAX_MS 60000          /* ... at most 60 s (the project's backoff adds ±20 % jitter) */
#define DELIVERY_MAX 64               /* "<alert_id>:<state>" */
#define LOG_MAX_BYTES (1u << 30)      /* queue.log read back at start */
#define COMPACT_BYTES (16 << 20)      /* delivered prefix of queue.log rewritten past this */

typedef struct wh_event {
    char delivery[DELIVERY_MAX];
    char *body; /* the alert JSON, owned */
    size_t len;
    off_t end;  /* offset in queue.log just past this event's line */
} wh_event_t;

struct tg_webhook {
    /* configuration (copied at start) */
    char *url, *secret, *am_url;
    long timeout_ms;
    int64_t max_retry_ns, am_resend_ns;
    char dir[4096]; /* journal.dir/webhook, "" = in memory only */

    /* engine -> thread */
    tg_ring_t *ring;    /* tg_msg_t*, the engine is the only producer */
    tg_msg_t **over;    /* producer side: what the ring could not take, in order */
    size_t n_over, cap_over;
    int efd;            /* eventfd: doorbell and stop */
    _Atomic int stop;
    pthread_t thread;
    bool started;

    /* thread state: the webhook queue */
    TG_DEQUE(wh_event_t) q;      /* undelivered events, oldest (the one in flight) first */
    unsigned fails;              /* failed attempts of the head */
    tg_backoff_t backoff;        /* the head's retry waits (reset per event) */
    int64_t first_ns, next_ns;   /* first attempt of the head, next attempt (mono) */
    int log_fd;                  /* queue.log, -1 without a directory */
    off_t log_end;

    /* thread state: Alertmanager (alertmanager.c) */
    tg_am_t am;

    CURL *curl;

    tg_counter_t *m_delivered, *m_retried, *m_rejected, *m_expired;
    tg_gauge_t *m_backlog;
};

/* ---- pure helpers --------------------------------------------------------- */

int tg_webhook_signature(const char *secret, const void *body, size_t len, char *out, size_t cap)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    static const char hex[] = "0123456789abcdef";

    if (!secret || !out || cap < 7 + 64 + 1)
        return -EINVAL;
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), body, len, md, &mdlen) || mdlen != 32)
        return -EIO;
    memcpy(out, "sha256=", 7);
    for (unsigned i = 0; i < mdlen; i++) {
        out[7 + 2 * i] = hex[md[i] >> 4];
        out[7 + 2 * i + 1] = hex[md[i] & 15];
    }
    out[7 + 2 * mdlen] = 0;
    return 0;
}

tg_webhook_verdict_t tg_webhook_classify(long status)
{
    if (status >= 200 && status < 300)
        return TG_WEBHOOK_DELIVERED;
    if (status == 0 || status == 408 || status == 429 || status >= 500 || status < 200)
        return TG_WEBHOOK_RETRY; /* 0: no response (timeout, refused); 1xx/3xx: not an answer */
    if (status >= 400)
        return TG_WEBHOOK_REJECT;
    return TG_WEBHOOK_RETRY;
}

/* RFC 3339 UTC with milliseconds, as Alertmanager parses it. */
static int delivery_of(const char *json, size_t len, char *out, size_t cap)
{
    tg_json_t j = {0};
    char id[32], state[16];
    int rc = -EINVAL;
    if (tg_json_parse(&j, json, len, 256, 4) == 0 &&
        tg_json_str(&j, tg_json_get(&j, 0, "alert_id"), id, sizeof id, NULL) == 0 &&
        tg_json_str(&j, tg_json_get(&j, 0, "state"), state, sizeof state, NULL) == 0) {
        snprintf(out, cap, "%s:%s", id, state);
        rc = 0;
    }
    tg_json_free(&j);
    return rc;
}

/* ---- HTTP ------------------------------------------------------------------ */

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    return size * n;
}

/* Shutdown must not wait for a hanging receiver: abort the transfer in flight
 * (libcurl calls this about once a second, or sooner). The event stays queued. */
static int xfer_abort(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                      curl_off_t ulnow)
{
    return atomic_load(&((tg_webhook_t *)ud)->stop) ? 1 : 0;
}

/* POST body to url; the HTTP status, or 0 when no response came (timeout, refused). */
static long http_post(tg_webhook_t *w, const char *url, const char *body, size_t len,
                      const char *delivery)
{
    struct curl_slist *h = NULL;
    char line[160];
    long status = 0;

    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
    if (delivery) {
        snprintf(line, sizeof line, "X-Tickgate-Delivery: %s", delivery);
        h = curl_slist_append(h, line);
        char sig[80];
        if (w->secret[0] && tg_webhook_signature(w->secret, body, len, sig, sizeof sig) == 0) {
            snprintf(line, sizeof line, "X-Tickgate-Signature: %s", sig);
            h = curl_slist_append(h, line);
        }
    }
    curl_easy_reset(w->curl);
    curl_easy_setopt(w->curl, CURLOPT_URL, url);
    curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(w->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(w->curl, CURLOPT_POST, 1L);
    curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(w->curl, CURLOPT_TIMEOUT_MS, w->timeout_ms);
    curl_easy_setopt(w->curl, CURLOPT_CONNECTTIMEOUT_MS, w->timeout_ms);
    curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(w->curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(w->curl, CURLOPT_XFERINFOFUNCTION, xfer_abort);
    curl_easy_setopt(w->curl, CURLOPT_XFERINFODATA, w);
    curl_easy_setopt(w->curl, CURLOPT_USERAGENT, "tickgate/" TG_VERSION);
    CURLcode cc = curl_easy_perform(w->curl);
    if (cc == CURLE_OK)
        curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
    else /* the URL may carry a password: name the error, never the URL */
        TG_DEBUG("webhook_http_error", "error", TG_S(curl_easy_strerror(cc)));
    curl_slist_free_all(h);
    return status;
}

/* ---- the on-disk queue ------------------------------------------------------ */

static int write_pos(tg_webhook_t *w, off_t pos)
{
    char path[4200], tmp[4200], txt[32];
    snprintf(path, sizeof path, "%s/queue.pos", w->dir);
    snprintf(tmp, sizeof tmp, "%s/queue.pos.tmp", w->dir);
    int n = snprintf(txt, sizeof txt, "%lld\n", (long long)pos);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int rc = write(fd, txt, (size_t)n) == n && fdatasync(fd) == 0 ? 0 : -EIO;
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    return rc;
}

static int q_push(tg_webhook_t *w, const char *delivery, const char *body, size_t len, off_t end)
{
    if (tg_deque_grow(&w->q, 64, UINT32_MAX) != 0)
        return -ENOMEM;
    wh_event_t *ev = &tg_deque_at(&w->q, w->q.len);
    ev->body = malloc(len + 1);
    if (!ev->body)
        return -ENOMEM;
    memcpy(ev->body, body, len);
    ev->body[len] = 0;
    ev->len = len;
    ev->end = end;
    snprintf(ev->delivery, sizeof ev->delivery, "%s", delivery);
    w->q.len++;
    return 0;
}

/*
 * A queue that never runs empty (a steady alert stream) would grow queue.log
 * for ever: past COMPACT_BYTES of delivered prefix the undelivered tail is
 * copied to a new file that replaces the old one. queue.pos goes to 0 before
 * the rename: a crash in between re-sends the old file's delivered prefix
 * (duplicates, which at-least-once allows), never skips an event.
 */
static void compact(tg_webhook_t *w, off_t done)
{
    char path[4200], tmp[4200];
    snprintf(path, sizeof path, "%s/queue.log", w->dir);
    snprintf(tmp, sizeof tmp, "%s/queue.log.tmp", w->dir);
    size_t n = (size_t)(w->log_end - done);
    char *buf = malloc(n ? n : 1);
    int fd = buf ? open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
    bool ok = fd >= 0 && pread(w->log_fd, buf, n, done) == (ssize_t)n &&
              write(fd, buf, n) == (ssize_t)n && fdatasync(fd) == 0;
    free(buf);
    if (ok && write_pos(w, 0) != 0)
        ok = false;
    if (!ok || rename(tmp, path) != 0) {
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        return; /* keep appending to the old file; retried at the next delivery */
    }
    close(w->log_fd);
    w->log_fd = fd;
    w->log_end -= done;
    for (uint32_t i = 0; i < w->q.len; i++)
        tg_deque_at(&w->q, i).end -= done;
}

/* The head is done (delivered, rejected or expired): drop it and move queue.pos. */
static void q_pop(tg_webhook_t *w)
{
    wh_event_t *ev = &tg_deque_front(&w->q);
    off_t end = ev->end;
    free(ev->body);
    tg_deque_pop_front(&w->q);
    tg_gauge_set(w->m_backlog, (int64_t)(w->q.len + tg_ring_depth(w->ring)));
    w->fails = 0;
    w->first_ns = 0;
    w->next_ns = 0;
    tg_backoff_reset(&w->backoff);
    if (w->log_fd < 0)
        return;
    if (w->q.len == 0) {
        /* all delivered: start the file over (truncate first, so a crash in
         * between finds queue.pos past the end, which means "nothing left") */
        if (ftruncate(w->log_fd, 0) == 0) {
            w->log_end = 0;
            end = 0;
        }
    }
    if (write_pos(w, end) != 0)
        TG_WARN("webhook_queue_error", "op", TG_S("write queue.pos"));
    if (w->q.len && end > COMPACT_BYTES)
        compact(w, end);
}

/* Append one event to queue.log (when a directory is set) and to the queue. */
static void enqueue(tg_webhook_t *w, const char *body, size_t len)
{
    char delivery[DELIVERY_MAX];
    if (delivery_of(body, len, delivery, sizeof delivery) != 0)
        return; /* not an alert: the engine only pushes alerts */
    off_t end = 0;
    if (w->log_fd >= 0) {
        /* one line per event: "<delivery>\t<body>\n"; JSON from our encoder
         * holds no raw newline or tab */
        size_t dl = strlen(delivery);
        char *line = malloc(dl + len + 2);
        if (line) {
            memcpy(line, delivery, dl);
            line[dl] = '\t';
            memcpy(line + dl + 1, body, len);
            line[dl + 1 + len] = '\n';
            ssize_t n = pwrite(w->log_fd, line, dl + len + 2, w->log_end);
            if (n == (ssize_t)(dl + len + 2))
                w->log_end += n;
            else
                TG_WARN("webhook_queue_error", "op", TG_S("append queue.log"));
            free(line);
        }
        end = w->log_end;
    }
    if (q_push(w, delivery, body, len, end) != 0)
        TG_ERROR("webhook_event_lost", "delivery", TG_S(delivery));
}

/* At start: reopen queue.log and queue what lies past queue.pos. */
static int load_queue(tg_webhook_t *w)
{
    char path[4200];
    char *text = NULL;
    size_t len = 0;
    long long pos = 0;

    snprintf(path, sizeof path, "%s/queue.pos", w->dir);
    if (tg_file_read(path, 64, &text, &len) == 0) {
        pos = atoll(text);
        free(text);
        text = NULL;
    }
    snprintf(path, sizeof path, "%s/queue.log", w->dir);
    w->log_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (w->log_fd < 0)
        return -errno;
    int rc = tg_file_read(path, LOG_MAX_BYTES, &text, &len);
    if (rc)
        return rc;
    if (pos < 0 || (size_t)pos > len)
        pos = (long long)len; /* truncated after full delivery */
    size_t off = (size_t)pos, good = off;
    while (off < len) {
        char *nl = memchr(text + off, '\n', len - off);
        if (!nl)
            break; /* torn last line (crash mid-append): dropped below */
        char *tab = memchr(text + off, '\t', (size_t)(nl - (text + off)));
        size_t next = (size_t)(nl - text) + 1;
        if (tab && tab - (text + off) < DELIVERY_MAX) {
            char delivery[DELIVERY_MAX];
            memcpy(delivery, text + off, (size_t)(tab - (text + off)));
            delivery[tab - (text + off)] = 0;
            if (q_push(w, delivery, tab + 1, (size_t)(nl - tab - 1), (off_t)next) != 0) {
                free(text);
                return -ENOMEM;
            }
        }
        off = good = next;
    }
    free(text);
    if (good < len && ftruncate(w->log_fd, (off_t)good) != 0)
        TG_WARN("webhook_queue_error", "op", TG_S("truncate torn queue.log"));
    w->log_end = (off_t)good;
    if (w->q.len)
        TG_INFO("webhook_queue_restored", "events", TG_I(w->q.len));
    return 0;
}

/* ---- delivery ----------------------------------------------------------------- */

static void deliver_head(tg_webhook_t *w, int64_t now)
{
    wh_event_t *ev = &tg_deque_front(&w->q);
    if (!w->first_ns)
        w->first_ns = now;
    long status = http_post(w, w->url, ev->body, ev->len, ev->delivery);
    switch (tg_webhook_classify(status)) {
    /* the backlog gauge moves (q_pop) before the counter: whoever sees the
     * count sees the backlog that goes with it */
    case TG_WEBHOOK_DELIVERED:
        q_pop(w);
        tg_counter_add(w->m_delivered, 1);
        return;
    case TG_WEBHOOK_REJECT:
        TG_WARN("webhook_rejected", "delivery", TG_S(ev->delivery), "status", TG_I(status));
        q_pop(w);
        tg_counter_add(w->m_rejected, 1);
        return;
    case TG_WEBHOOK_RETRY:
        break;
    }
    if (atomic_load(&w->stop))
        return; /* aborted by the shutdown: delivered after the next start */
    now = tg_mono_ns();
    w->fails++;
    int64_t wait = tg_backoff_next(&w->backoff);
    if (now + wait - w->first_ns > w->max_retry_ns) {
        TG_WARN("webhook_expired", "delivery", TG_S(ev->delivery), "attempts", TG_I(w->fails),
                "status", TG_I(status));
        q_pop(w);
        tg_counter_add(w->m_expired, 1);
        return;
    }
    tg_counter_add(w->m_retried, 1);
    if (w->fails == 1)
        TG_WARN("webhook_retrying", "delivery", TG_S(ev->delivery), "status", TG_I(status));
    w->next_ns = now + wait;
}

/* ---- Alertmanager --------------------------------------------------------------- */

static bool am_post(void *ctx, const char *payload, size_t len)
{
    tg_webhook_t *w = ctx;
    char url[4200];
    snprintf(url, sizeof url, "%s/api/v2/alerts", w->am_url);
    long status = http_post(w, url, payload, len, NULL);
    bool ok = status >= 200 && status < 300;
    if (!ok)
        TG_WARN("alertmanager_error", "status", TG_I(status));
    return ok;
}

static void drain_ring(tg_webhook_t *w)
{
    tg_msg_t *ms[64];
    size_t n;
    bool appended = false;
    while ((n = tg_ring_pop(w->ring, ms, 64)) > 0) {
        for (size_t i = 0; i < n; i++) {
            const char *body = (const char *)ms[i]->json;
            if (w->url[0]) {
                enqueue(w, body, ms[i]->json_len);
                appended = true;
            }
            if (w->am_url[0])
                tg_am_event(&w->am, body, ms[i]->json_len, tg_mono_ns());
            tg_msg_unref(ms[i]);
        }
    }
    /* durable before the first attempt: a crash after it cannot lose the event */
    if (appended && w->log_fd >= 0)
        fdatasync(w->log_fd);
}

static void *webhook_thread(void *arg)
{
    tg_webhook_t *w = arg;
    pthread_setname_np(pthread_self(), "webhook");
    while (!atomic_load(&w->stop)) {
        drain_ring(w);
        int64_t now = tg_mono_ns();
        if (w->q.len && now >= w->next_ns)
            deliver_head(w, now);
        tg_gauge_set(w->m_backlog, (int64_t)(w->q.len + tg_ring_depth(w->ring)));
        now = tg_mono_ns();
        if (w->am_url[0])
            tg_am_tick(&w->am, now);
        /* sleep until the doorbell, the next attempt or the next resend */
        int64_t wake = now + 1000000000LL;
        if (w->q.len && w->next_ns < wake)
            wake = w->next_ns;
        if (w->am_url[0] && w->am.next_ns < wake)
            wake = w->am.next_ns;
        int ms = wake > now ? (int)((wake - now + 999999) / 1000000) : 0;
        if (ms > 0) {
            struct pollfd pfd = {.fd = w->efd, .events = POLLIN};
            if (poll(&pfd, 1, ms) > 0) {
                uint64_t v;
                if (read(w->efd, &v, sizeof v) < 0)
                    (void)0; /* EAGAIN: another wake consumed it */
            }
        }
    }
    drain_ring(w); /* onto disk: delivered after the next start */
    return NULL;
}

/* ---- engine side ------------------------------------------------------------------ */

void tg_webhook_flush(void *webhook)
{
    tg_webhook_t *w = webhook;
    if (!w || !w->n_over)
        return;
    size_t n = tg_ring_push(w->ring, w->over, w->n_over);
    memmove(w->over, w->over + n, (w->n_over - n) * sizeof *w->over);
    w->n_over -= n;
    if (n) {
        uint64_t one = 1;
        if (write(w->efd, &one, sizeof one) < 0)
            (void)0; /* counter saturated: the thread is awake anyway */
    }
}

void tg_webhook_push(void *webhook, tg_msg_t *m)
{
    tg_webhook_t *w = webhook;
    if (!w || !m)
        return;
    tg_msg_ref(m);
    tg_webhook_flush(w);
    if (w->n_over == 0 && tg_ring_push(w->ring, &m, 1) == 1) {
        uint64_t one = 1;
        if (write(w->efd, &one, sizeof one) < 0)
            (void)0;
        return;
    }
    /* ring full (receiver down for long): keep order, never wait */
    if (tg_vec_reserve(&w->over, sizeof *w->over, &w->cap_over, w->n_over + 1, 256) < 0) {
        TG_ERROR("webhook_event_lost", "reason", TG_S("out of memory"));
        tg_msg_unref(m);
        return;
    }
    w->over[w->n_over++] = m;
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static void destroy(tg_webhook_t *w)
{
    if (!w)
        return;
    tg_msg_t *m;
    while (w->ring && tg_ring_pop(w->ring, &m, 1) == 1)
        tg_msg_unref(m);
    for (size_t i = 0; i < w->n_over; i++)
        tg_msg_unref(w->over[i]);
    free(w->over);
    tg_ring_destroy(w->ring);
    for (uint32_t i = 0; i < w->q.len; i++)
        free(tg_deque_at(&w->q, i).body);
    tg_deque_free(&w->q);
    tg_am_free(&w->am);
    if (w->curl)
        curl_easy_cleanup(w->curl);
    if (w->log_fd >= 0)
        close(w->log_fd);
    if (w->efd >= 0)
        close(w->efd);
    free(w->url);
    free(w->secret);
    free(w->am_url);
    free(w);
}

int tg_webhook_start(tg_webhook_t **out, const tg_config_t *cfg, tg_metrics_t *metrics)
{
    const char *help = "Webhook deliveries by result (delivered, retried, rejected, expired)";
    tg_counter_t *c[4];
    static const char *const results[4] = {"delivered", "retried", "rejected", "expired"};
    int rc;

    if (!out || !cfg || !metrics)
        return -EINVAL;
    *out = NULL;
    for (int i = 0; i < 4; i++) {
        char label[48];
        snprintf(label, sizeof label, "result=\"%s\"", results[i]);
        c[i] = tg_metrics_counter(metrics, "tickgate_webhook_sent_total", label, help);
    }
    tg_gauge_t *backlog = tg_metrics_gauge(metrics, "tickgate_webhook_backlog", NULL,
                                           "Alert events waiting for webhook delivery");
    if (!c[0] || !c[1] || !c[2] || !c[3] || !backlog)
        return -ENOMEM;
    if (!cfg->alerts.webhook_url[0] && !cfg->alerts.alertmanager_url[0])
        return 0;

    tg_webhook_t *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->log_fd = -1;
    w->efd = -1;
    w->m_delivered = c[0];
    w->m_retried = c[1];
    w->m_rejected = c[2];
    w->m_expired = c[3];
    w->m_backlog = backlog;
    w->url = strdup(cfg->alerts.webhook_url);
    w->secret = strdup(cfg->alerts.webhook_secret);
    w->am_url = strdup(cfg->alerts.alertmanager_url);
    rc = -ENOMEM;
    if (!w->url || !w->secret || !w->am_url)
        goto fail;
    size_t al = strlen(w->am_url);
    while (al && w->am_url[al - 1] == '/') /* "http://am:9093/" + "/api/v2/alerts" */
        w->am_url[--al] = 0;
    w->timeout_ms = cfg->alerts.webhook_timeout_ms;
    tg_backoff_init(&w->backoff, BACKOFF_BASE_MS, BACKOFF_MAX_MS, (uint64_t)tg_now_ns());
    w->max_retry_ns = (int64_t)cfg->alerts.webhook_max_retry_s * 1000000000LL;
    w->am_resend_ns = (int64_t)cfg->alerts.alertmanager_resend_s * 1000000000LL;
    if ((rc = tg_ring_create(&w->ring, "webhook", sizeof(tg_msg_t *), RING_CAP, TG_RING_BLOCK)))
        goto fail;
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->efd < 0) {
        rc = -errno;
        goto fail;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(w->curl = curl_easy_init())) {
        rc = -ENOMEM;
        goto fail;
    }
    if (cfg->journal.dir[0] && (w->url[0] || w->am_url[0])) {
        snprintf(w->dir, sizeof w->dir, "%s/webhook", cfg->journal.dir);
        mkdir(cfg->journal.dir, 0700);
        if (mkdir(w->dir, 0700) != 0 && errno != EEXIST) {
            rc = -errno;
            goto fail;
        }
        if (w->url[0] && (rc = load_queue(w)) != 0)
            goto fail;
        tg_gauge_set(w->m_backlog, (int64_t)w->q.len);
    }
    if (w->am_url[0] &&
        (rc = tg_am_init(&w->am, w->dir, cfg->postgres.url[0] != 0, w->am_resend_ns,
                         w->max_retry_ns, am_post, w)) != 0) {
        /* the kept set is a cache of what the engine says again: never fatal */
        TG_WARN("alertmanager_state_unreadable", "dir", TG_S(w->dir), "error",
                TG_S(strerror(-rc)));
        tg_am_free(&w->am);
        rc = tg_am_init(&w->am, "", cfg->postgres.url[0] != 0, w->am_resend_ns,
                        w->max_retry_ns, am_post, w);
        if (rc)
            goto fail;
        snprintf(w->am.dir, sizeof w->am.dir, "%s", w->dir); /* still written */
    }
    if ((rc = -pthread_create(&w->thread, NULL, webhook_thread, w)) != 0)
        goto fail;
    w->started = true;
    *out = w;
    return 0;
fail:
    destroy(w);
    return rc;
}

void tg_webhook_stop(tg_webhook_t *w)
{
    if (!w)
        return;
    if (w->started) {
        atomic_store(&w->stop, 1);
        uint64_t one = 1;
        if (write(w->efd, &one, sizeof one) < 0)
            (void)0;
        pthread_join(w->thread, NULL);
        /* the engine has stopped: what it had kept aside goes to disk too */
        for (size_t i = 0; i < w->n_over; i++) {
            if (w->url[0])
                enqueue(w, (const char *)w->over[i]->json, w->over[i]->json_len);
            tg_msg_unref(w->over[i]);
        }
        w->n_over = 0;
        if (w->log_fd >= 0)
            fdatasync(w->log_fd);
    }
    destroy(w);
}
