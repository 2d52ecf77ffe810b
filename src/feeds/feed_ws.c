/* feed_ws.c - the `ws` feed: a WebSocket client to an upstream provider (SPEC §3).
 *
 * The feed thread owns a libwebsockets context of its own (never the
 * gateway's: DNS lookups block in Debian's lws build, SPEC §10) with one
 * client connection to `url` (ws:// or wss://; wss always verifies the peer
 * certificate and host name against OpenSSL's default store, which honours
 * SSL_CERT_FILE / SSL_CERT_DIR: a private CA is trusted that way, there is
 * deliberately no switch that accepts any certificate).
 * After the upgrade every `subscribe` string is sent, in order, with
 * ${api_key} / ${api_secret} replaced; the substituted texts are secrets and
 * are never logged.
 *
 * Each received message (fragments and lws rx chunks reassembled, up to
 * MSG_MAX bytes; larger ones are dropped as one parse error) goes through the
 * configured format's parser; its ticks reach tg_feed_emit() as one batch per
 * message, control elements are neutral events, malformed elements and
 * messages parse errors.
 *
 * Connection events drive the breaker: a failed attempt is a connect error,
 * losing an established connection a disconnect. Reconnects wait for the
 * breaker's own open wait when it is open (exponential with jitter, so the
 * new connection is there when the breaker turns half_open to probe), or an
 * equal backoff computed here while a connect error has not yet opened it.
 * An open breaker keeps a live connection: only the connection's own end
 * triggers a reconnect. A 10 ms lws timer makes lws_service() return so
 * tg_feed_poll() runs on time while the socket is quiet.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "tickgate/backoff.h"
#include "tickgate/buf.h"
#include "tickgate/clock.h"
#include "tickgate/feed.h"
#include "tickgate/feed_format.h"
#include "tickgate/log.h"

#define MSG_MAX           (1u << 20)            /* largest reassembled message */
#define MSG_INIT          (64u * 1024)          /* initial reassembly buffer */
#define BATCH             256                   /* ticks per tg_feed_emit() */
#define POLL_US           10000                 /* breaker timers at least every 10 ms */
#define IDLE_RECONNECT_NS (60LL * 1000000000LL) /* silent this long: assume a dead TCP path */

typedef enum { WS_IDLE, WS_CONNECTING, WS_OPEN } ws_state_t;

typedef struct wsf {
    tg_feed_t *f;
    const tg_format_ops_t *fmt;
    tg_format_sink_t sink;
    /* target, parsed from the url once */
    char *url_copy; /* lws_parse_uri() cuts it into the pointers below */
    const char *host;
    char path[1024];
    int port;
    bool tls;
    /* subscribe texts with secrets substituted (secret: wiped on destroy) */
    char **sub;
    size_t *sub_len;
    size_t nsub, sub_next;
    /* connection */
    struct lws_context *ctx;
    struct lws *wsi;
    ws_state_t state;
    int64_t reconnect_at; /* mono ns */
    int fails;            /* consecutive failed attempts since the last open */
    uint64_t rng;
    int64_t last_rx; /* mono ns of the last received bytes */
    lws_sorted_usec_list_t sul;
    /* reassembly */
    char *msg;
    size_t msg_len, msg_cap;
    bool msg_overflow;
    /* output */
    size_t n;
    tg_tick_t batch[BATCH];
} wsf_t;

/* ---- sink: parser callbacks to breaker events ----------------------------- */

static void flush(wsf_t *w)
{
    if (w->n) {
        tg_feed_emit(w->f, w->batch, w->n);
        w->n = 0;
    }
}

static void sink_tick(tg_format_sink_t *s, const tg_tick_t *t)
{
    wsf_t *w = s->arg;
    w->batch[w->n++] = *t;
    if (w->n == BATCH)
        flush(w);
}

static void sink_control(tg_format_sink_t *s, tg_format_ctl_t kind, const char *text, size_t len)
{
    wsf_t *w = s->arg;
    if (kind == TG_FORMAT_CTL_ERROR) {
        char m[160];
        size_t n = text ? (len < sizeof m - 1 ? len : sizeof m - 1) : 0;
        memcpy(m, text ? text : "", n);
        m[n] = 0;
        TG_WARN("feed_provider_error", "feed", TG_S(w->f->conf->name), "message", TG_S(m));
    }
    if (kind == TG_FORMAT_CTL_UNKNOWN)
        tg_feed_unknown_message(w->f); /* SPEC §15: counted, still liveness */
    else
        tg_feed_neutral(w->f);
}

static void sink_error(tg_format_sink_t *s, int err)
{
    wsf_t *w = s->arg;
    (void)err;
    tg_feed_parse_error(w->f);
}

static void on_message(wsf_t *w, const char *msg, size_t len)
{
    int rc = w->fmt->parse(msg ? msg : "", len, tg_now_ns(), &w->sink);
    if (rc < 0)
        tg_feed_parse_error(w->f);
    else if (rc == 0)
        tg_feed_neutral(w->f); /* an empty batch still proves liveness */
    flush(w);
}

/* ---- secrets --------------------------------------------------------------- */

/* `tmpl` with every ${api_key} / ${api_secret} replaced; heap, caller frees. */
static char *substitute(const char *tmpl, const char *key, const char *secret, size_t *out_len)
{
    static const char k1[] = "${api_key}", k2[] = "${api_secret}";
    size_t cap = strlen(tmpl) + 1, n = 0;
    for (const char *p = tmpl; (p = strstr(p, "${")) != NULL; p += 2)
        cap += strlen(key) + strlen(secret); /* generous upper bound */
    char *o = malloc(cap);
    if (!o)
        return NULL;
    for (const char *p = tmpl; *p;) {
        const char *v = NULL;
        size_t skip = 0;
        if (strncmp(p, k1, sizeof k1 - 1) == 0)
            v = key, skip = sizeof k1 - 1;
        else if (strncmp(p, k2, sizeof k2 - 1) == 0)
            v = secret, skip = sizeof k2 - 1;
        if (v) {
            size_t vl = strlen(v);
            memcpy(o + n, v, vl);
            n += vl;
            p += skip;
        } else {
            o[n++] = *p++;
        }
    }
    o[n] = 0;
    *out_len = n;
    return o;
}

/* ---- connection ------------------------------------------------------------ */
/* Same shape as the breaker's open wait (tg_backoff_ns): open_wait_ms x 2^(fails-1), capped, +-20 %. */
/* Same shape as the breaker's open wait: open_wait_ms x 2^(fails-1), capped, +-20 %. */
static int64_t backoff_ns(wsf_t *w)
{
    const tg_breaker_conf_t *b = &w->f->conf->breaker;
    return tg_backoff_ns(b->open_wait_ms, b->open_wait_max_ms, (uint32_t)w->fails, &w->rng);
}

static void schedule_reconnect(wsf_t *w)
{
    int64_t now = tg_mono_ns();
    w->fails++;
    /* an open breaker already drew a jittered, doubling wait: reconnect when
     * it turns half_open so the probe has a live connection */
    int64_t at = tg_breaker_state(&w->f->breaker) == TG_BREAKER_OPEN
                     ? tg_breaker_next_deadline(&w->f->breaker)
                     : now + backoff_ns(w);
    if (at < now)
        at = now;
    w->reconnect_at = at;
    TG_INFO("feed_reconnect_scheduled", "feed", TG_S(w->f->conf->name), "in_ms",
            TG_I((at - now) / 1000000));
}

static void connect_failed(wsf_t *w, const char *why)
{
    w->state = WS_IDLE;
    w->wsi = NULL;
    if (tg_feed_stopping(w->f))
        return;
    TG_WARN("feed_connect_failed", "feed", TG_S(w->f->conf->name), "host", TG_S(w->host), "port",
            TG_I(w->port), "error", TG_S(why ? why : "?"));
    tg_feed_connect_error(w->f);
    schedule_reconnect(w);
}

static void start_connect(wsf_t *w)
{
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = w->ctx;
    ci.address = w->host;
    ci.port = w->port;
    ci.path = w->path;
    ci.host = w->host;
    ci.origin = w->host;
    ci.ssl_connection = w->tls ? LCCSCF_USE_SSL : 0;
    ci.ietf_version_or_minus_one = -1;
    ci.local_protocol_name = "tickgate-feed";
    ci.pwsi = &w->wsi;
    w->state = WS_CONNECTING;
    w->msg_len = 0;
    w->msg_overflow = false;
    /* the callback may already report the failure from inside this call */
    if (!lws_client_connect_via_info(&ci) && w->state == WS_CONNECTING)
        connect_failed(w, "connect refused by lws");
}

static void on_established(wsf_t *w)
{
    w->state = WS_OPEN;
    w->fails = 0;
    w->sub_next = 0;
    w->last_rx = tg_mono_ns();
    TG_INFO("feed_connected", "feed", TG_S(w->f->conf->name), "host", TG_S(w->host), "port",
            TG_I(w->port), "tls", TG_B(w->tls), "subscribe", TG_I(w->nsub));
    /* the upgrade reply is the first sign of life on this connection */
    tg_feed_neutral(w->f);
    if (w->nsub)
        lws_callback_on_writable(w->wsi);
}

static int send_next_subscribe(wsf_t *w, struct lws *wsi)
{
    if (w->sub_next >= w->nsub)
        return 0;
    size_t len = w->sub_len[w->sub_next];
    unsigned char *buf = malloc(LWS_PRE + len);
    if (!buf)
        return -1;
    memcpy(buf + LWS_PRE, w->sub[w->sub_next], len);
    int n = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT);
    explicit_bzero(buf, LWS_PRE + len);
    free(buf);
    if (n < (int)len)
        return -1;
    w->sub_next++;
    if (w->sub_next < w->nsub)
        lws_callback_on_writable(wsi);
    return 0;
}

static void on_receive(wsf_t *w, struct lws *wsi, const void *in, size_t len)
{
    w->last_rx = tg_mono_ns();
    if (!w->msg_overflow) {
        if (w->msg_len + len > MSG_MAX) {
            w->msg_overflow = true; /* drop the rest of this message */
        } else {
            if (tg_vec_reserve(&w->msg, 1, &w->msg_cap, w->msg_len + len, MSG_INIT) < 0) {
                w->msg_overflow = true;
                goto done;
            }
            memcpy(w->msg + w->msg_len, in, len);
            w->msg_len += len;
        }
    }
done:
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) != 0)
        return; /* more of this message to come */
    if (w->msg_overflow) {
        TG_WARN("feed_message_too_large", "feed", TG_S(w->f->conf->name), "max", TG_I(MSG_MAX));
        tg_feed_parse_error(w->f);
    } else {
        on_message(w, w->msg, w->msg_len);
    }
    w->msg_len = 0;
    w->msg_overflow = false;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    wsf_t *w = ctx ? lws_context_user(ctx) : NULL;
    if (!w)
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (w->state == WS_CONNECTING)
            connect_failed(w, in ? (const char *)in : "connection error");
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        on_established(w);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return send_next_subscribe(w, wsi);
    case LWS_CALLBACK_CLIENT_RECEIVE:
        on_receive(w, wsi, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (w->state == WS_OPEN) {
            w->state = WS_IDLE;
            w->wsi = NULL;
            flush(w);
            if (!tg_feed_stopping(w->f)) {
                TG_WARN("feed_connection_closed", "feed", TG_S(w->f->conf->name));
                tg_feed_disconnected(w->f);
                w->fails = 0;
                schedule_reconnect(w);
            }
        }
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (w->wsi == wsi)
            w->wsi = NULL;
        /* destroyed before it ever opened without an error callback */
        if (w->state == WS_CONNECTING && !tg_feed_stopping(w->f))
            connect_failed(w, "closed during handshake");
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"tickgate-feed", callback, 0, 16384, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Wakes lws_service() so the feed loop runs every POLL_US. */
static void on_sul(lws_sorted_usec_list_t *sul)
{
    wsf_t *w = lws_container_of(sul, wsf_t, sul);
    lws_sul_schedule(w->ctx, 0, &w->sul, on_sul, POLL_US);
}

/* ---- ops --------------------------------------------------------------------- */

static void free_subs(wsf_t *w)
{
    for (size_t i = 0; i < w->nsub; i++) {
        if (w->sub[i]) {
            explicit_bzero(w->sub[i], w->sub_len[i]);
            free(w->sub[i]);
        }
    }
    free(w->sub);
    free(w->sub_len);
    w->sub = NULL;
    w->sub_len = NULL;
    w->nsub = 0;
}

static void ws_destroy(tg_feed_t *f)
{
    wsf_t *w = f->priv;
    if (!w)
        return;
    if (w->ctx)
        lws_context_destroy(w->ctx);
    free_subs(w);
    tg_format_sink_fini(&w->sink);
    free(w->msg);
    free(w->url_copy);
    free(w);
    f->priv = NULL;
}

static int ws_init(tg_feed_t *f)
{
    const tg_feed_conf_t *c = f->conf;
    int rc = -EINVAL;
    wsf_t *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->f = f;
    f->priv = w;
    w->fmt = tg_format_lookup(c->format);
    if (!w->fmt) {
        TG_ERROR("feed_bad_format", "feed", TG_S(c->name), "format", TG_S(c->format));
        goto fail;
    }
    w->sink.on_tick = sink_tick;
    w->sink.on_control = sink_control;
    w->sink.on_error = sink_error;
    w->sink.arg = w;
    w->rng = (uint64_t)tg_now_ns() ^ ((uint64_t)f->index << 40);

    const char *prot = NULL, *ads = NULL, *path = NULL;
    if (!c->url || !(w->url_copy = strdup(c->url))) {
        rc = -ENOMEM;
        goto fail;
    }
    if (lws_parse_uri(w->url_copy, &prot, &ads, &w->port, &path) || !ads || !*ads) {
        TG_ERROR("feed_bad_url", "feed", TG_S(c->name));
        goto fail;
    }
    w->tls = strcmp(prot, "wss") == 0;
    if (!w->tls && strcmp(prot, "ws") != 0) {
        TG_ERROR("feed_bad_url", "feed", TG_S(c->name), "scheme", TG_S(prot));
        goto fail;
    }
    w->host = ads;
    /* lws_parse_uri gives the path without its '/', or "/" when there is none */
    snprintf(w->path, sizeof w->path, "%s%s", path && *path == '/' ? "" : "/", path ? path : "");

    if (c->subscribe.n) {
        w->sub = calloc(c->subscribe.n, sizeof *w->sub);
        w->sub_len = calloc(c->subscribe.n, sizeof *w->sub_len);
        rc = -ENOMEM;
        if (!w->sub || !w->sub_len)
            goto fail;
        w->nsub = c->subscribe.n;
        for (size_t i = 0; i < c->subscribe.n; i++)
            if (!(w->sub[i] = substitute(c->subscribe.v[i], c->api_key ? c->api_key : "",
                                         c->api_secret ? c->api_secret : "", &w->sub_len[i])))
                goto fail;
    }
    return 0;
fail:
    ws_destroy(f);
    return rc;
}

static int ws_run(tg_feed_t *f)
{
    wsf_t *w = f->priv;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.user = w;
    info.timeout_secs = 10; /* handshake time-out */
    info.connect_timeout_secs = 5;
    info.fd_limit_per_thread = 64; /* one client: do not size tables for ulimit -n */
    if (w->tls)
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    w->ctx = lws_create_context(&info);
    if (!w->ctx) {
        TG_ERROR("feed_lws_context_failed", "feed", TG_S(f->conf->name));
        return -ENOMEM;
    }
    lws_sul_schedule(w->ctx, 0, &w->sul, on_sul, POLL_US);
    w->reconnect_at = 0;
    while (!tg_feed_stopping(f)) {
        int64_t now = tg_mono_ns();
        if (w->state == WS_IDLE && now >= w->reconnect_at)
            start_connect(w);
        if (w->state == WS_OPEN && w->wsi && f->conf->breaker.stale_after_ms > 0 &&
            now - w->last_rx > IDLE_RECONNECT_NS) {
            /* the breaker has been open for a minute: the TCP path may be
             * dead without a FIN; start over */
            TG_WARN("feed_idle_reconnect", "feed", TG_S(f->conf->name));
            w->last_rx = now;
            lws_set_timeout(w->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        }
        if (lws_service(w->ctx, 0) < 0)
            break;
        tg_feed_poll(f);
    }
    flush(w);
    lws_sul_cancel(&w->sul);
    lws_context_destroy(w->ctx); /* callbacks see tg_feed_stopping(): no events */
    w->ctx = NULL;
    w->wsi = NULL;
    return 0;
}

const tg_feed_ops_t tg_feed_ws_ops = {
    .type = "ws",
    .init = ws_init,
    .run = ws_run,
    .destroy = ws_destroy,
};
