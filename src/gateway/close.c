/* close.c - closes the server decides, and RFC 6455 checks lws leaves to us.
 *
 * Lingering close (SPEC §15). A client closed for abuse or a limit is often
 * still sending: if the socket were closed with its data unread, the kernel
 * would answer with a reset, and a client whose own writes then fail never
 * reads the `error` and close frame already waiting in its receive buffer
 * (it sees 1006). lws 4.1.6 does close that way (after the close frame it
 * kills the connection on the next input). So the close frame is written
 * here and the input is read and dropped until the client closes too (its
 * close frame or EOF), at most 2 s, as nginx's lingering_close does. The
 * sending side is shut down (FIN) only after 1.5 s without an answer: a FIN
 * right behind the close frame makes some clients (Python websockets while
 * its sender is busy) drop the connection before they parse that frame.
 *
 * Every close the server decides is counted when it is decided, in
 * tickgate_clients_closed_total{code}, whether or not its close frame can
 * still be written (a stalled 4008 client's cannot).
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "gw.h"
#include "tickgate/clock.h"
#include "tickgate/jwt.h"
#include "tickgate/log.h"

#define LINGER_NS (2000LL * 1000000LL)
#define HALF_CLOSE_NS (1500LL * 1000000LL)

/* Close codes the server decides (SPEC §5) plus 1002 (protocol errors). */
static const int close_codes[] = {1000, 1001, 1002, 1008, 1009, 1011, 4001, 4008};

#define CLOSED_HELP "Client connections closed by the server, by close code"
#define AUTH_HELP "Authentication failures by reason"

/* One more in the series `name{key="value"}` (registered on first use). */
static void count_labeled(tg_metrics_t *m, const char *name, const char *key, const char *value,
                          const char *help)
{
    char label[96];
    snprintf(label, sizeof label, "%s=\"%s\"", key, value);
    tg_counter_t *c = tg_metrics_counter(m, name, label, help);
    if (c)
        tg_counter_add(c, 1);
}

void gw_count_close(gw_thread_t *t, int code)
{
    char v[16];
    snprintf(v, sizeof v, "%d", code);
    count_labeled(t->g->metrics, "tickgate_clients_closed_total", "code", v, CLOSED_HELP);
}

void gw_count_auth_failure(gw_thread_t *t, const char *reason)
{
    count_labeled(t->g->metrics, "tickgate_auth_failures_total", "reason", reason, AUTH_HELP);
}

void gw_close_export_metrics(tg_gateway_t *g)
{
    char label[64];
    for (size_t i = 0; i < sizeof close_codes / sizeof close_codes[0]; i++) {
        snprintf(label, sizeof label, "code=\"%d\"", close_codes[i]);
        tg_metrics_counter(g->metrics, "tickgate_clients_closed_total", label, CLOSED_HELP);
    }
    /* every reason tg_jwt_reason() can name, and "revoked" */
    static const int rcs[] = {TG_JWT_EMALFORMED, TG_JWT_EBADSIG,   TG_JWT_EALG,
                              TG_JWT_EEXPIRED,   TG_JWT_ENOTYET,   TG_JWT_ENOEXP,
                              TG_JWT_ENOSUB,     TG_JWT_EBADCLAIM, TG_JWT_EHEADER,
                              TG_JWT_ETOOLARGE};
    for (size_t i = 0; i <= sizeof rcs / sizeof rcs[0]; i++) {
        snprintf(label, sizeof label, "reason=\"%s\"",
                 i < sizeof rcs / sizeof rcs[0] ? tg_jwt_reason(rcs[i]) : "revoked");
        tg_metrics_counter(g->metrics, "tickgate_auth_failures_total", label, AUTH_HELP);
    }
}

int gw_close_writeable(gw_client_t *s)
{
    struct lws *wsi = s->wsi;
    if (s->deflate) {
        /* the extension may still be draining a compressed message: lws would
         * turn our raw close frame into its continuation, so lws closes */
        lws_close_reason(wsi, (enum lws_close_status)s->close_code,
                         (unsigned char *)s->close_reason, strlen(s->close_reason));
        return -1;
    }
    switch (s->linger) {
    case 0: {
        /* the close frame (FIN + opcode 8, unmasked: server to client) with
         * code and reason, written as raw bytes: lws's public API has no close
         * opcode for lws_write, and lws_close_reason() would close its way */
        unsigned char buf[LWS_PRE + 2 + 125];
        unsigned char *p = buf + LWS_PRE;
        size_t rl = strnlen(s->close_reason, sizeof s->close_reason); /* < 64 */
        p[0] = 0x88;
        p[1] = (unsigned char)(2 + rl);
        p[2] = (unsigned char)(s->close_code >> 8);
        p[3] = (unsigned char)(s->close_code & 0xff);
        memcpy(p + 4, s->close_reason, rl);
        if (lws_write(wsi, p, 4 + rl, LWS_WRITE_HTTP) < 0)
            return -1;
        s->linger = 1;
        /* called again once lws has handed the whole frame to the kernel */
        lws_callback_on_writable(wsi);
        return 0;
    }
    case 1:
        /* the frame is out: drain until the client answers, 2 s at most */
        s->linger = 2;
        s->linger_until_ns = tg_mono_ns() + LINGER_NS;
        lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_ACK, 3); /* backstop for the timer */
        return 0;
    default:
        return 0;
    }
}

void gw_close_check_linger(gw_client_t *s, int64_t now)
{
    if (s->linger == 2 && now >= s->linger_until_ns - (LINGER_NS - HALF_CLOSE_NS)) {
        /* no answer yet: FIN after the close frame, keep draining; TLS keeps
         * its side open (a bare FIN would cut the record stream) */
        s->linger = 3;
        if (!lws_is_ssl(s->wsi))
            shutdown(lws_get_socket_fd(s->wsi), SHUT_WR);
    }
    if (s->linger == 3 && now >= s->linger_until_ns) {
        s->linger = 4; /* once */
        lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_ACK, LWS_TO_KILL_ASYNC);
    }
}

/* RFC 6455 §7.4: codes a peer may send. lws rewrites some invalid ones to
 * 1002 itself and lets the others (e.g. 5000) through. */
bool gw_close_code_valid(int c)
{
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

int gw_close_peer(struct lws *wsi, gw_client_t *s, const unsigned char *in, size_t len)
{
    if (s && s->linger)
        return -1; /* the client answered our close: nothing left to read */
    if (len == 1 || (len >= 2 && !gw_close_code_valid((in[0] << 8) | in[1]))) {
        static const char why[] = "invalid close frame";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_PROTOCOL_ERR, (unsigned char *)why,
                         sizeof why - 1);
        if (s) {
            s->state = GW_CLOSING;
            s->close_code = 1002;
            gw_count_close(s->t, 1002);
        }
        return -1; /* lws sends our 1002 instead of echoing */
    }
    return 0; /* lws echoes the close */
}

bool gw_frame_too_large(struct lws *wsi, size_t have, size_t max)
{
    /* what is buffered plus what the frame header still announces */
    size_t rest = lws_remaining_packet_payload(wsi);
    return have > max || rest > max - have;
}

/* A valid Sec-WebSocket-Key is the base64 of 16 bytes: 22 chars and "==". */
bool gw_ws_key_valid(const char *k, int n)
{
    if (n != 24 || k[22] != '=' || k[23] != '=')
        return false;
    for (int i = 0; i < 22; i++)
        if (!(('A' <= k[i] && k[i] <= 'Z') || ('a' <= k[i] && k[i] <= 'z') ||
              ('0' <= k[i] && k[i] <= '9') || k[i] == '+' || k[i] == '/'))
            return false;
    /* the last char before the padding carries 2 bits: its 4 low bits are 0 */
    return strchr("AQgw", k[21]) != NULL;
}

/* lws 4.1.6 offers no count of the bytes it stored (its buffer position
 * is private) and no way to list headers it does not know: with
 * LWS_WITH_CUSTOM_HEADERS (Debian's build) those are kept in the same buffer
 * (8 bytes + name + value each) but can be read only by name
 * (lws_hdr_custom_length). So this counts what the public API can reach. */
size_t gw_header_bytes(struct lws *wsi)
{
    size_t n = 0;
    for (int h = 0; h < (int)WSI_TOKEN_COUNT; h++) {
        int l = lws_hdr_total_length(wsi, (enum lws_token_indexes)h);
        if (l > 0)
            n += (size_t)l;
    }
    return n;
}

static const char *status_text(int status)
{
    switch (status) {
    case 426:
        return "Upgrade Required";
    case 404:
        return "Not Found";
    case 431:
        return "Request Header Fields Too Large";
    case 501:
        return "Not Implemented";
    default:
        return "Bad Request";
    }
}

/* Write a whole error answer (status line, headers, JSON envelope) on a
 * connection that lws does not answer for us; `mode` is how lws writes it. */
static void write_error(struct lws *wsi, enum lws_write_protocol mode, int status,
                        const char *code, const char *msg)
{
    gw_thread_t *t = lws_context_user(lws_get_context(wsi));
    char body[512];
    size_t bl = t ? gw_http_error_json(t, code, msg, body, sizeof body) : 0;
    unsigned char buf[LWS_PRE + 1024];
    char *p = (char *)buf + LWS_PRE;
    int n = snprintf(p, sizeof buf - LWS_PRE,
                     "HTTP/1.1 %d %s\r\n"
                     "content-type: application/json\r\n"
                     "content-length: %zu\r\n"
                     "%s"
                     "connection: close\r\n"
                     "cache-control: no-store\r\n\r\n%.*s",
                     status, status_text(status), bl,
                     status == 426 ? "sec-websocket-version: 13\r\n" : "", (int)bl, body);
    if (n > 0 && (size_t)n < sizeof buf - LWS_PRE)
        lws_write(wsi, buf + LWS_PRE, (size_t)n, mode);
}

/* Answer a refused upgrade ourselves: lws would only drop the connection. */
static int refuse_upgrade(struct lws *wsi, int status, const char *code, const char *msg)
{
    write_error(wsi, LWS_WRITE_HTTP_HEADERS, status, code, msg);
    return -1;
}

/*
 * A request line lws cannot take as HTTP: a method it does not know (with
 * LWS_SERVER_OPTION_FALLBACK_TO_APPLY_LISTEN_ACCEPT_CONFIG its parser hands
 * the connection over instead of writing its HTML 403) or CONNECT (lws
 * always does). Either way lws rebinds it to the raw-socket role with
 * protocols[0] and passes what it read as RAW_RX. Without an answer here a
 * CONNECT stayed open, silent, until the client gave up. The session slot
 * (zeroed at the rebind) keeps where the answer is: 1 asked, 2 written.
 */
int gw_conformance_raw(struct lws *wsi, enum lws_callback_reasons reason, void *user)
{
    uintptr_t *st = user;
    switch (reason) {
    case LWS_CALLBACK_RAW_RX:
        if (st && !*st) {
            *st = 1;
            lws_callback_on_writable(wsi);
        }
        return st ? 0 : -1; /* later input is read and dropped */
    case LWS_CALLBACK_RAW_WRITEABLE:
        if (!st || *st != 1)
            return -1; /* written, and lws has sent all of it: close */
        write_error(wsi, LWS_WRITE_RAW, 501, "not_implemented",
                    "request method not implemented");
        *st = 2;
        lws_callback_on_writable(wsi);
        return 0;
    default:
        return 0;
    }
}

int gw_conformance_upgrade(struct lws *wsi, bool path_ok)
{
    char v[16], key[64];
    /* first: nothing else of a request over our header limit is read */
    if (gw_header_bytes(wsi) > GW_MAX_HEADER_BYTES)
        return refuse_upgrade(wsi, 431, "headers_too_large",
                              "request headers over 16384 bytes");
    if (!path_ok)
        return refuse_upgrade(wsi, 404, "not_found", "WebSocket upgrades are served on /ws");
    int vn = lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_VERSION);
    if (vn <= 0 || strcmp(v, "13") != 0)
        return refuse_upgrade(wsi, 426, "bad_request",
                              "WebSocket version 13 only (Sec-WebSocket-Version: 13)");
    int kn = lws_hdr_copy(wsi, key, sizeof key, WSI_TOKEN_KEY);
    if (kn <= 0 || !gw_ws_key_valid(key, kn))
        return refuse_upgrade(wsi, 400, "bad_request", "invalid Sec-WebSocket-Key");
    return 0;
}
