/* server.c - libwebsockets contexts, the one callback switch, the threads.
 *
 * Each service thread runs its own lws context (Debian's lws has no SMP).
 * The engine wakes a thread with lws_cancel_service(); the thread then drains
 * its engine ring into the hub (EVENT_WAIT_CANCELLED, fanout.c), which queues
 * messages on subscribed clients; clients write coalesced frames (client.c).
 * Client messages go to commands.c, authentication to auth.c.
 * A 100 ms timer enforces auth timeouts, token expiry, stalls and flushes
 * per-thread counters into the shared metrics.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw.h"
#include "wiretap.h"
#include "tickgate/bus.h"
#include "tickgate/clock.h"
#include "tickgate/log.h"
#include "tickgate/redis.h"

_Static_assert(LWS_PRE <= TG_MSG_PRE, "TG_MSG_PRE must cover LWS_PRE");

#define TIMER_US (100 * 1000)

static gw_thread_t *thread_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}


/* Fast poll while some client waits for its revocation verdict. */
static void on_revoke_poll(lws_sorted_usec_list_t *sul)
{
    gw_thread_t *t = lws_container_of(sul, gw_thread_t, sul_revoke);
    int64_t now = tg_mono_ns();
    bool waiting = false;
    for (gw_client_t *s = t->clients; s; s = s->next)
        if (s->state == GW_AWAIT_REVOCATION || s->revocation_rechecking) {
            if (gw_auth_check_revocation(s, now))
                gw_commands_release_held(s);
            waiting |= s->state == GW_AWAIT_REVOCATION || s->revocation_rechecking;
        }
    gw_thread_flush_writers(t, false);
    t->revoke_poll_armed = waiting;
    if (waiting)
        lws_sul_schedule(t->ctx, 0, &t->sul_revoke, on_revoke_poll, 2000);
}

/* After a client event: a client now awaits its revocation verdict, so look
 * for the answer every 2 ms, not 100. */
static void arm_revoke_poll(gw_thread_t *t)
{
    if (t->revoke_poll_wanted && !t->revoke_poll_armed) {
        t->revoke_poll_armed = true;
        lws_sul_schedule(t->ctx, 0, &t->sul_revoke, on_revoke_poll, 2000);
    }
    t->revoke_poll_wanted = false;
}

/* ---- periodic work ---- */

static void flush_counters(gw_thread_t *t)
{
    for (int c = 0; c < TG_CH_COUNT; c++) {
        tg_counter_add(t->g->m_sent[c], t->cnt.sent[c] - t->cnt_flushed.sent[c]);
        tg_counter_add(t->g->m_conflated[c], t->cnt.conflated[c] - t->cnt_flushed.conflated[c]);
    }
    t->cnt_flushed = t->cnt;
    tg_counter_add(t->g->m_frames[0], t->usend_sent - t->usend_sent_flushed);
    tg_counter_add(t->g->m_frames[1], t->lws_sends - t->lws_sends_flushed);
    tg_counter_add(t->g->m_frames[2], t->usend_handed - t->usend_handed_flushed);
    t->usend_sent_flushed = t->usend_sent;
    t->lws_sends_flushed = t->lws_sends;
    t->usend_handed_flushed = t->usend_handed;
    tg_counter_add(t->g->m_late, t->late_msgs - t->late_msgs_flushed);
    t->late_msgs_flushed = t->late_msgs;
}

static void on_timer(lws_sorted_usec_list_t *sul)
{
    gw_thread_t *t = lws_container_of(sul, gw_thread_t, sul_timer);
    int64_t now = tg_mono_ns();
    int64_t now_s = time(NULL);
    /* new revocations: close what they cover at once (SPEC §13: within 2 s) */
    uint64_t gen = atomic_load(&t->g->revocations.gen);
    bool sweep = gen != t->revoke_gen;
    t->revoke_gen = gen;
    for (gw_client_t *s = t->clients; s; s = s->next) {
        gw_close_check_linger(s, now);
        if (s->state != GW_CLOSING &&
            gw_frame_too_large(s->wsi, s->rxlen, (size_t)t->lim.max_message_bytes)) {
            /* a frame header alone announced it: lws calls back only with payload */
            s->rxlen = 0;
            gw_send_error(s, "message_too_large", "message too large", NULL);
            gw_client_close(s, 1009, "message too large");
            continue;
        }
        if (sweep && (s->state == GW_ACTIVE || s->state == GW_AWAIT_REVOCATION) &&
            gw_revoke_match(&t->g->revocations, s->token_hash, &s->claims)) {
            gw_count_auth_failure(t, "revoked");
            gw_send_error(s, "token_revoked", "token revoked", NULL);
            gw_client_close(s, 4001, "token revoked");
            continue;
        }
        if (gw_auth_check_revocation(s, now))
            gw_commands_release_held(s);
        if (s->state == GW_AWAIT_AUTH && now > s->auth_deadline_ns) {
            gw_send_error(s, "unauthorized", "no authentication within the timeout", NULL);
            gw_client_close(s, 1008, "auth timeout");
        } else if (s->state == GW_ACTIVE && now_s >= s->deadline_s) {
            gw_send_error(s, "token_expired", "token expired", NULL);
            gw_client_close(s, 4001, "token expired");
        } else if (s->state == GW_ACTIVE && now >= s->next_stall_check_ns) {
            gw_client_check_stall(s, now);
        }
    }
    flush_counters(t);
    arm_revoke_poll(t); /* a 30 s revocation re-check may wait for its answer */
    lws_sul_schedule(t->ctx, 0, &t->sul_timer, on_timer, TIMER_US);
}

/* ---- the callback ---- */

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    gw_client_t **ps = user;
    gw_thread_t *t;
    switch (reason) {
    case LWS_CALLBACK_PROTOCOL_INIT:
        t = thread_of(wsi);
        if (t && !t->sul_timer.cb)
            lws_sul_schedule(t->ctx, 0, &t->sul_timer, on_timer, TIMER_US);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        t = thread_of(wsi);
        if (!t)
            return 0;
        if (atomic_load_explicit(&t->adopt_waiting, memory_order_relaxed))
            gw_adopt_pending(t);
        if (atomic_load_explicit(&t->lim_waiting, memory_order_acquire))
            gw_thread_take_limits(t); /* SIGHUP */
        if (atomic_load(&t->shutdown_req) && !t->closing) {
            t->closing = true;
            for (gw_client_t *s = t->clients; s; s = s->next)
                gw_client_close(s, 1001, "server shutdown");
        }
        gw_fanout_drain(t);
        return 0;
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION: {
        /* per-IP cap, before a byte is read; the IP is remembered by fd */
        t = thread_of(wsi);
        const struct lws_filter_network_conn_args *fa = user;
        if (!t || !fa || t->closing)
            return -1;
        if (!gw_fd_ip_acquire(t, (int)fa->accept_fd, &fa->cli_addr))
            return -1;
        /* what lws reads from it is checked first (wiretap.c); the metrics
         * vhost is plain whatever the main one is */
        if (t->g->cfg->server.wiretap)
            gw_tap_open((int)fa->accept_fd,
                        t->g->cfg->server.tls_cert[0] && lws_get_vhost(wsi) == t->vhost);
        return 0;
    }
    case LWS_CALLBACK_RAW_ADOPT:
    case LWS_CALLBACK_RAW_RX:
    case LWS_CALLBACK_RAW_WRITEABLE:
    case LWS_CALLBACK_RAW_CLOSE:
        return gw_conformance_raw(wsi, reason, user);
    case LWS_CALLBACK_WSI_DESTROY:
        t = thread_of(wsi);
        if (t)
            gw_fd_ip_release(t, lws_get_socket_fd(wsi));
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        char uri[64];
        if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 || strcmp(uri, "/ws") != 0)
            uri[0] = 0; /* 404 */
        return gw_conformance_upgrade(wsi, uri[0] != 0); /* 431, 404, RFC 6455 version and key: 426/400 */
    }
    case LWS_CALLBACK_ESTABLISHED: {
        t = thread_of(wsi);
        if (t->closing)
            return -1;
        gw_client_t *s = gw_client_new(t, wsi);
        if (!s)
            return -1;
        *ps = s;
        /* a bad frame may have come with the handshake */
        int tap_code = gw_tap_bind(lws_get_socket_fd(wsi), wsi);
        const struct lws_protocols *p = lws_get_protocol(wsi);
        char fmt[16];
        const char *f = lws_get_urlarg_by_name(wsi, "format=", fmt, sizeof fmt);
        s->msgpack = (p && strcmp(p->name, "tickgate.msgpack.v1") == 0) ||
                     (f && strcmp(f, "msgpack") == 0);
        /* lws accepts permessage-deflate whenever it is enabled and offered */
        /* fail safe: a header we cannot read whole (several long offers)
         * counts as deflate, so such a client never gets frames written
         * around the extension (direct or io_uring writes) */
        char exts[1024];
        int elen = lws_hdr_total_length(wsi, WSI_TOKEN_EXTENSIONS);
        s->deflate = t->g->cfg->server.compression && elen > 0 &&
                     (elen >= (int)sizeof exts ||
                      lws_hdr_copy(wsi, exts, sizeof exts, WSI_TOKEN_EXTENSIONS) <= 0 ||
                      strcasestr(exts, "permessage-deflate"));
        tg_gauge_add(t->g->m_clients, 1); /* CLOSED takes it back, whatever happens next */
        if (tap_code) {
            gw_client_close(s, tap_code, "unmasked client frame");
            return 0;
        }
        char peer[64] = "", xff[1024] = "";
        lws_get_peer_simple(wsi, peer, sizeof peer);
        if (lws_hdr_copy(wsi, xff, sizeof xff, WSI_TOKEN_X_FORWARDED_FOR) < 0)
            xff[0] = 0;
        gw_client_addr(&t->g->cfg->server.trusted_proxies, peer, xff, s->peer, sizeof s->peer);
        if (strcmp(peer, s->peer) != 0) { /* behind a trusted proxy: cap the real client */
            if (!gw_ipcap_acquire(t->g->ipcap, s->peer,
                                  (uint32_t)t->lim.max_conns_per_ip)) {
                gw_send_error(s, "rate_limited", "too many connections from your address", NULL);
                gw_client_close(s, 1008, "per-IP connection cap");
                gw_thread_flush_writers(t, false);
                return 0;
            }
            s->ip_counted = true;
        }
        /* a fixed send buffer: the kernel must not absorb megabytes for a
         * client that stopped reading (autotuning grows it to tcp_wmem max),
         * or the stall and pending limits would only see it much later */
        int sndbuf = GW_SNDBUF_BYTES;
        setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        char tok[TG_JWT_MAX_TOKEN + 16];
        int n = gw_auth_find_token(wsi, tok, sizeof tok);
        if (n > 0) {
            if (gw_auth_verify(s, tok, (size_t)n, false) != 0) {
                gw_send_error(s, "unauthorized", "invalid token", NULL);
                gw_client_close(s, 1008, "unauthorized");
                return 0;
            }
            gw_auth_activate(s, false);
        } else {
            s->state = GW_AWAIT_AUTH;
            s->auth_deadline_ns = tg_mono_ns() + (int64_t)t->g->cfg->auth.auth_timeout_ms * 1000000LL;
        }
        arm_revoke_poll(t);
        gw_thread_flush_writers(t, false);
        return 0;
    }
    case LWS_CALLBACK_RECEIVE: {
        gw_client_t *s = *ps;
        if (!s)
            return -1;
        t = s->t;
        if (s->state == GW_CLOSING)
            return 0; /* closing (lingering): input is read and dropped */
        size_t max = (size_t)t->lim.max_message_bytes;
        bool final = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
        if (gw_frame_too_large(wsi, s->rxlen + len, max)) {
            /* at once, also when only the frame header announced it */
            s->rxlen = 0;
            gw_send_error(s, "message_too_large", "message too large", NULL);
            gw_client_close(s, 1009, "message too large");
            gw_thread_flush_writers(t, false);
            return 0;
        }
        if (final && s->rxlen == 0) {
            gw_on_client_message(s, in, len, lws_frame_is_binary(wsi));
        } else {
            if (s->rxlen + len > s->rxcap) {
                size_t nc = s->rxlen + len > 4096 ? max : 4096;
                char *nr = realloc(s->rx, nc);
                if (!nr)
                    return -1;
                s->rx = nr;
                s->rxcap = nc;
            }
            memcpy(s->rx + s->rxlen, in, len);
            s->rxlen += len;
            if (final) {
                gw_on_client_message(s, s->rx, s->rxlen, lws_frame_is_binary(wsi));
                s->rxlen = 0;
                if (s->rxcap > 4096) { /* don't keep a 64 KiB buffer per idle client */
                    free(s->rx);
                    s->rx = NULL;
                    s->rxcap = 0;
                }
            }
        }
        arm_revoke_poll(t);
        gw_thread_flush_writers(t, false);
        return 0;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE: {
        gw_client_t *s = *ps;
        if (!s)
            return -1;
        if (s->state == GW_CLOSING && s->clen == 0)
            return gw_close_writeable(s); /* close frame, then the lingering drain */
        int rc = gw_client_write(s);
        gw_fanout_arm_pace(s->t); /* it may have reached max_inflight_bytes */
        return rc;
    }
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        return gw_close_peer(wsi, *ps, in, len);
    case LWS_CALLBACK_CLOSED: {
        gw_client_t *s = *ps;
        gw_tap_bind(lws_get_socket_fd(wsi), NULL);
        if (s) {
            t = s->t;
            TG_DEBUG("client_closed", "client", TG_S(s->client_id), "code", TG_I(s->close_code));
            tg_gauge_add(t->g->m_clients, -1);
            if (s->ip_counted)
                gw_ipcap_release(t->g->ipcap, s->peer);
            gw_client_free(s);
            *ps = NULL;
        }
        return 0;
    }
    default:
        break;
    }
    t = thread_of(wsi);
    if (t)
        return gw_http(wsi, t, user, reason, in, len);
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ---- threads ---- */

/*
 * tx_packet_size: the most one lws_write hands the kernel at once. Left at 0,
 * lws uses rx_buffer_size (4 KiB) and keeps the rest of a larger frame in its
 * own buffer list (a malloc and a copy), draining it 4 KiB per POLLOUT turn:
 * at 2,000 ticks/s x 1,000 clients the coalesced frames of a pass then sat in
 * user space for hundreds of ms while the sockets were nearly empty, and the
 * direct write after a drain was skipped for every client lws still held
 * bytes for. Now a whole frame (frame_cap plus header and out_ts slack) goes
 * to send() in one call.
 */
#define GW_TX_PACKET (256 * 1024 + GW_FRAME_SLACK + 16)
static const struct lws_protocols protocols[] = {
    /* protocol 0 serves HTTP and WebSocket upgrades without a subprotocol */
    {"tickgate", callback, sizeof(void *), 4096, 0, NULL, GW_TX_PACKET},
    {"tickgate.json.v1", callback, sizeof(void *), 4096, 1, NULL, GW_TX_PACKET},
    {"tickgate.msgpack.v1", callback, sizeof(void *), 4096, 2, NULL, GW_TX_PACKET},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* server.compression: permessage-deflate for clients that offer it; lws
 * compresses per connection, so clients without it keep the shared frames. */
static const struct lws_extension deflate_exts[] = {
    {"permessage-deflate", lws_extension_callback_pm_deflate,
     "permessage-deflate; client_no_context_takeover; client_max_window_bits"},
    {NULL, NULL, NULL},
};

/* SPEC §5: ping idle connections every 20 s, drop those silent 10 s after. */
static const lws_retry_bo_t idle_policy = {
    .secs_since_valid_ping = 20,
    .secs_since_valid_hangup = 30,
};

static void engine_wake(void *arg)
{
    gw_thread_t *t = arg;
    if (t->ctx)
        lws_cancel_service(t->ctx);
}

static void *service_thread(void *arg)
{
    gw_thread_t *t = arg;
    char name[16];
    snprintf(name, sizeof name, "gw-%d", t->idx);
    pthread_setname_np(pthread_self(), name);
    while (!atomic_load(&t->g->stop)) {
        if (lws_service(t->ctx, 0) < 0)
            break;
    }
    return NULL;
}

/* wiretap.c found a client frame we refuse (unmasked) while lws was reading
 * for this session's connection: close it with that code. */
static void on_tap_verdict(struct lws *wsi, int code, const char *why)
{
    gw_client_t **ps = lws_wsi_user(wsi);
    if (ps && *ps)
        gw_client_close(*ps, code, why);
}

int tg_gateway_create(tg_gateway_t **out, const tg_gateway_deps_t *deps)
{
    const tg_config_t *cfg = deps->cfg;
    tg_gateway_t *g = calloc(1, sizeof *g);
    if (!g)
        return -ENOMEM;
    g->d = *deps;
    g->cfg = cfg;
    g->listen_fd = -1;
    g->metrics = deps->metrics;
    snprintf(g->epoch, sizeof g->epoch, "e-%llx", (unsigned long long)(tg_now_ns() / 1000) & 0xffffffffffULL);
    g->m_clients = tg_metrics_gauge(g->metrics, "tickgate_clients_connected", NULL,
                                    "WebSocket clients connected");
    g->m_tick_to_send = tg_metrics_histogram(g->metrics, "tickgate_tick_to_send_seconds", NULL,
                                             "Feed accept to frame handed to the socket");
    for (int c = 0; c < TG_CH_COUNT; c++) {
        char label[48];
        snprintf(label, sizeof label, "channel=\"%s\"", tg_channel_name((tg_channel_t)c));
        g->m_sent[c] = tg_metrics_counter(g->metrics, "tickgate_messages_sent_total", label,
                                          "Messages written to clients, by channel");
        g->m_conflated[c] = tg_metrics_counter(g->metrics, "tickgate_messages_conflated_total",
                                               label, "Unsent messages replaced by newer ones");
    }
    static const char *paths[3] = {"path=\"io_uring\"", "path=\"lws\"", "path=\"io_uring_rest\""};
    for (int i = 0; i < 3; i++)
        g->m_frames[i] = tg_metrics_counter(g->metrics, "tickgate_ws_frames_total", paths[i],
                                            "Data frames written to clients, by path: one io_uring "
                                            "submission per pass, lws_write, or the rest of a short "
                                            "io_uring send finished by lws");
    g->m_late = tg_metrics_counter(g->metrics, "tickgate_pass_late_messages_total", NULL,
                                   "Engine messages drained between the chunks of a pass being "
                                   "written (taken into it for the clients not yet written)");
    gw_close_export_metrics(g); /* close codes and auth failure reasons at 0 */
    for (size_t i = 0; protocols[i].name && i + 1 < sizeof g->subprotocols / sizeof g->subprotocols[0]; i++)
        g->subprotocols[i] = protocols[i].name;
    gw_tap_init(on_tap_verdict, g->subprotocols);
    if (cfg->server.wiretap && !gw_tap_enabled())
        TG_WARN("wiretap_off", "why", TG_S("no recv/SSL_read interposer in this program: "
                                           "unmasked frames and lws-refused requests are not "
                                           "checked"));
    char host[256];
    int port;
    int rc = gw_table_create(&g->ipcap);
    if (rc || (rc = gw_table_create(&g->http_rate)) != 0 ||
        (rc = gw_table_create(&g->notif_seq)) != 0 ||
        (rc = gw_revoke_init(&g->revocations)) != 0)
        goto fail;
    g->revocations_init = true;
    rc = tg_parse_hostport(cfg->server.listen, host, sizeof host, &port);
    if (rc)
        goto fail;
    g->nthreads = cfg->server.threads > 0 ? cfg->server.threads : 1;
    g->threads = calloc((size_t)g->nthreads, sizeof *g->threads);
    if (!g->threads) {
        rc = -ENOMEM;
        goto fail;
    }
    for (int i = 0; i < g->nthreads; i++) {
        pthread_mutex_init(&g->threads[i].adopt_lock, NULL);
        pthread_mutex_init(&g->threads[i].lim_lock, NULL);
    }
    if (g->nthreads > 1) {
        int bound = 0;
        g->listen_fd = gw_open_listener(host, port, &bound);
        if (g->listen_fd < 0) {
            rc = g->listen_fd;
            g->listen_fd = -1;
            TG_ERROR("listen_failed", "listen", TG_S(cfg->server.listen), "error",
                     TG_S(strerror(-rc)));
            goto fail;
        }
        g->port = bound;
    }
    lws_set_log_level(LLL_ERR, NULL);
    for (int i = 0; i < g->nthreads; i++) {
        gw_thread_t *t = &g->threads[i];
        t->g = g;
        t->idx = i;
        t->lim = cfg->limits;
        t->frame_cap = 256 * 1024; /* GW_TX_PACKET covers it */
        t->send = gw_client_lws_send;
        t->direct_write = !g->cfg->server.no_direct_write; /* TG_NO_DIRECT_WRITE: benchmark A/B */
        t->frame = malloc(LWS_PRE + t->frame_cap + GW_FRAME_SLACK);
        if (!t->frame) {
            rc = -ENOMEM;
            goto fail;
        }
        /* a refused ring (kernel, seccomp) leaves the sends to lws_write */
        gw_usend_init(t, cfg->server.disable_io_uring || !t->direct_write);
        rc = gw_hub_init(&t->hub, (uint32_t)cfg->limits.history_size,
                         (uint64_t)cfg->limits.history_max_bytes);
        if (rc)
            goto fail;
        memcpy(t->epoch, g->epoch, sizeof t->epoch);
        rc = deps->engine ? tg_engine_add_output(deps->engine, &t->in, engine_wake, t)
                          : tg_bus_sub_add_output(deps->bus, &t->in, engine_wake, t);
        if (rc || (rc = tg_metrics_watch_ring(g->metrics, t->in)) != 0)
            goto fail;
        struct lws_context_creation_info info;
        memset(&info, 0, sizeof info);
        info.port = g->nthreads > 1 ? CONTEXT_PORT_NO_LISTEN_SERVER : port;
        info.iface = g->nthreads > 1 ? NULL : host;
        info.protocols = protocols;
        info.user = t;
        /* FALLBACK: an unknown method reaches gw_conformance_raw (501 JSON),
         * not lws's HTML 403 */
        info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DISABLE_IPV6 |
                       LWS_SERVER_OPTION_FALLBACK_TO_APPLY_LISTEN_ACCEPT_CONFIG;
        if (strchr(host, ':'))
            info.options &= ~(uint64_t)LWS_SERVER_OPTION_DISABLE_IPV6;
        if (cfg->server.compression)
            info.extensions = deflate_exts;
        info.retry_and_idle_policy = &idle_policy; /* ping idle clients at 20 s, drop at 30 s */
        info.timeout_secs = 10;
        info.pt_serv_buf_size = 64 * 1024;
        info.max_http_header_data = GW_LWS_HEADER_BUF; /* our 431 limit is below it */
        if (cfg->server.tls_cert[0]) {
            info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
            info.ssl_cert_filepath = cfg->server.tls_cert;
            info.ssl_private_key_filepath = cfg->server.tls_key;
            info.ssl_options_set = SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
            /* HTTP/1.1 only: lws offers h2 by default, and an h2 connection
             * would go past the checks in wiretap.c (and gains nothing for
             * WebSocket fan-out) */
            info.alpn = "http/1.1";
        }
        t->ctx = lws_create_context(&info);
        if (!t->ctx) {
            TG_ERROR("listen_failed", "listen", TG_S(cfg->server.listen));
            rc = -EADDRINUSE;
            goto fail;
        }
        t->vhost = lws_get_vhost_by_name(t->ctx, "default");
        if (i == 0 && g->nthreads == 1) {
            g->port = port;
            if (t->vhost && port == 0)
                g->port = lws_get_vhost_listen_port(t->vhost);
        }
        if (i == 0 && cfg->server.metrics_listen[0]) {
            /* /metrics on its own (private) address: a second vhost of thread 0 */
            char mhost[256];
            int mport;
            if ((rc = tg_parse_hostport(cfg->server.metrics_listen, mhost, sizeof mhost, &mport)))
                goto fail;
            struct lws_context_creation_info mi;
            memset(&mi, 0, sizeof mi);
            mi.port = mport;
            mi.iface = mhost;
            mi.protocols = protocols;
            mi.vhost_name = "metrics";
            mi.options = LWS_SERVER_OPTION_FALLBACK_TO_APPLY_LISTEN_ACCEPT_CONFIG |
                         (strchr(mhost, ':') ? 0 : LWS_SERVER_OPTION_DISABLE_IPV6);
            g->metrics_vhost = lws_create_vhost(t->ctx, &mi);
            if (!g->metrics_vhost) {
                TG_ERROR("listen_failed", "listen", TG_S(cfg->server.metrics_listen));
                rc = -EADDRINUSE;
                goto fail;
            }
        }
    }
    /* last, once nothing can fail: every node's revocations from the Redis
     * stream. main.c stops Redis before destroying the gateway, so the
     * callback never outlives it. */
    if (deps->redis)
        tg_redis_on_revocation(deps->redis, gw_revoke_from_redis, g);
    *out = g;
    return 0;
fail:
    tg_gateway_destroy(g);
    return rc;
}

int tg_gateway_port(const tg_gateway_t *g)
{
    return g->port;
}

int tg_gateway_start(tg_gateway_t *g)
{
    for (int i = 0; i < g->nthreads; i++) {
        int rc = pthread_create(&g->threads[i].thread, NULL, service_thread, &g->threads[i]);
        if (rc)
            return -rc;
        g->threads[i].started = true;
    }
    if (g->listen_fd >= 0) {
        int rc = pthread_create(&g->acceptor, NULL, gw_acceptor_thread, g);
        if (rc)
            return -rc;
        g->acceptor_started = true;
    }
    return 0;
}

void tg_gateway_shutdown(tg_gateway_t *g, int grace_ms)
{
    if (!g)
        return;
    /* stop accepting first */
    atomic_store(&g->accept_stop, 1);
    if (g->acceptor_started) {
        pthread_join(g->acceptor, NULL);
        g->acceptor_started = false;
    }
    if (g->listen_fd >= 0) {
        close(g->listen_fd);
        g->listen_fd = -1;
    }
    /* each service thread closes its own sessions (1001) when it sees the request */
    for (int i = 0; i < g->nthreads; i++) {
        gw_thread_t *t = &g->threads[i];
        atomic_store(&t->shutdown_req, 1);
        if (t->started)
            lws_cancel_service(t->ctx);
    }
    int64_t start = tg_mono_ns(), end = start + (int64_t)grace_ms * 1000000LL;
    uint32_t open;
    for (;;) {
        open = 0;
        for (int i = 0; i < g->nthreads; i++)
            if (g->threads[i].started)
                open += atomic_load(&g->threads[i].nclients);
        if (!open || tg_mono_ns() > end)
            break;
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    TG_INFO("clients_closed", "still_open", TG_I(open), "ms",
            TG_I((tg_mono_ns() - start) / 1000000));
    atomic_store(&g->stop, 1);
    for (int i = 0; i < g->nthreads; i++)
        if (g->threads[i].started)
            lws_cancel_service(g->threads[i].ctx);
    /* SPEC §11: exit within 5 s whatever the threads do. A service thread that
     * does not come back within 2 s of the stop is left alone (its context is
     * not destroyed under it) and reported, rather than hanging the exit. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    for (int i = 0; i < g->nthreads; i++) {
        gw_thread_t *t = &g->threads[i];
        if (!t->started)
            continue;
        int rc = pthread_timedjoin_np(t->thread, NULL, &until);
        if (rc == ETIMEDOUT) {
            TG_ERROR("gateway_thread_stuck", "thread", TG_I(i),
                     "reason", TG_S("did not stop within 2 s of the shutdown; left running"));
            t->stuck = true;
            continue;
        }
        t->started = false;
    }
}

void tg_gateway_destroy(tg_gateway_t *g)
{
    if (!g)
        return;
    gw_tap_init(NULL, NULL); /* g->subprotocols goes with g */
    for (int i = 0; g->threads && i < g->nthreads; i++)
        if (g->threads[i].stuck)
            return; /* a thread still runs on all of this: the process exit frees it */
    for (int i = 0; g->threads && i < g->nthreads; i++) {
        gw_thread_t *t = &g->threads[i];
        if (t->ctx)
            lws_context_destroy(t->ctx); /* closes clients: CLOSED frees them */
        gw_hub_free(&t->hub);
        if (t->in) {
            tg_msg_t *m;
            while (tg_ring_pop(t->in, &m, 1) == 1)
                tg_msg_unref(m);
            tg_metrics_unwatch_ring(g->metrics, t->in);
            tg_ring_destroy(t->in);
        }
        gw_alerts_free(t);
        free(t->writers);
        gw_pass_free(t);
        gw_usend_free(t);
        free(t->gated);
        free(t->hz);
        free(t->frame);
        free(t->fdip);
        for (uint32_t j = 0; j < t->adopt_n; j++)
            close(t->adopt_q[j]);
        free(t->adopt_q);
        pthread_mutex_destroy(&t->adopt_lock);
        pthread_mutex_destroy(&t->lim_lock);
    }
    free(g->threads);
    if (g->listen_fd >= 0)
        close(g->listen_fd);
    gw_table_destroy(g->ipcap);
    gw_table_destroy(g->http_rate);
    gw_table_destroy(g->notif_seq);
    if (g->revocations_init)
        gw_revoke_free(&g->revocations);
    free(g);
}

