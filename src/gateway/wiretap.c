/* wiretap.c - what lws reads from a client, checked before lws parses it.
 *
 * libwebsockets 4.1.6 parses requests and frames in private code with no hook
 * in front: it takes an unmasked client frame like a masked one (the mask bit
 * stays in its private frame state), answers request targets its URI parser
 * refuses with a fixed HTML 403 before any callback, and keeps headers it does
 * not know where no API can list them, so they escaped our 431 limit. The one
 * place that sees every byte lws reads is the read itself: recv() on plain
 * connections, SSL_read() on TLS. interpose.c wraps those (and close(), so a
 * reused descriptor number starts clean) in the tickgate executable and calls
 * in here for the descriptors the gateway opened. Per connection:
 *
 *  HEAD    a request head is held back (read, not yet given to lws) until its
 *          blank line, then checked. A good head goes to lws as it came
 *          (less an `Upgrade: h2c` line); a bad one is replaced by a short
 *          stand-in request, and the HTTP callback answers the verdict kept
 *          here with our JSON envelope (400, 431). What was read with it
 *          (a body, frames, the next request) goes on through the states in
 *          the same read: on TLS the rest of a record is already decrypted
 *          and nothing would wake lws for it later.
 *  BODY    Content-Length bytes pass untouched (never more), then HEAD.
 *  FRAMES  after a WebSocket upgrade, frame headers are followed across reads
 *          (held until whole; payloads are not copied, only moved up when
 *          something before them was left out). A client frame without the
 *          mask bit (RFC 6455 §5.1) is left out whole, lws never sees a byte
 *          of it, and the session is closed with 1002.
 *  PASS    what we do not follow: an unknown method, the HTTP/2 preface
 *          among them (lws hands it to the raw role, answered 501 in
 *          close.c; TLS offers only http/1.1), a chunked body on
 *          POST/PUT/PATCH (answered 411, then closed). Untouched, for the rest
 *          of the connection.
 *  DROP    refused: input is read and thrown away.
 *
 * Hot path: a connection that only receives market data reads nothing; a
 * client frame costs a look at its 6-14 header bytes.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include "tickgate/log.h"
#include "wiretap.h"

enum { TAP_HEAD, TAP_BODY, TAP_FRAMES, TAP_PASS, TAP_DROP };

/* What lws gets instead of a refused head: it reaches our HTTP callback, which
 * answers the kept verdict and closes. Its own path, so that the good requests
 * read with it (pipelined) are not answered with the verdict. */
static const char STANDIN[] = "GET " GW_TAP_STANDIN_PATH " HTTP/1.1\r\n\r\n";
/* Room kept in lws's buffer for the stand-in (longer than a short bad head). */
#define STANDIN_ROOM 64
/* A refused connection is read and dropped up to this much per call (then
 * "nothing now"), so a peer that keeps sending cannot hold the thread. */
#define DROP_PER_CALL (1u << 20)

struct gw_tap {
    uint8_t mode;
    bool tls;
    uint8_t fhlen;         /* FRAMES: header bytes held */
    bool dropping;         /* FRAMES: the current frame is left out (unmasked) */
    uint8_t fh[14];
    int status;            /* HTTP status or WebSocket close code decided */
    const char *code, *msg;
    char *head;            /* HEAD: the held-back bytes (GW_TAP_HEAD_CAP + 1) */
    uint32_t hlen, scanned;
    uint64_t left;         /* BODY: bytes; FRAMES: payload of the current frame */
    struct lws *wsi;
};

/* ---- request heads ---- */

/* a[0..n) is `lit`, in any case */
static bool ieq(const char *a, size_t n, const char *lit)
{
    return n == strlen(lit) && strncasecmp(a, lit, n) == 0;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static void verdict(gw_tap_head_t *o, int status, const char *code, const char *msg)
{
    if (!o->status) { /* the first one found stands */
        o->status = status;
        o->code = code;
        o->msg = msg;
    }
}

/* One line of h[*pos..n) without its CR LF; false past the end. */
static bool next_line(const char *h, size_t n, size_t *pos, const char **line, size_t *len)
{
    if (*pos >= n)
        return false;
    const char *s = h + *pos;
    const char *nl = memchr(s, '\n', n - *pos);
    size_t l = nl ? (size_t)(nl - s) : n - *pos;
    *pos += l + (nl ? 1 : 0);
    if (l && s[l - 1] == '\r')
        l--;
    *line = s;
    *len = l;
    return true;
}

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

/* The request target: starts with '/', every '%' has two hex digits (lws
 * answers both with its HTML 403). Returns the number of URI arguments. */
static size_t check_target(const char *u, size_t n, gw_tap_head_t *o)
{
    if (!n || u[0] != '/')
        verdict(o, 400, "bad_request", "the request target must be a path starting with '/'");
    size_t args = 0;
    bool query = false;
    for (size_t i = 0; i < n; i++) {
        if (u[i] == '%' && (i + 2 >= n || !is_hex(u[i + 1]) || !is_hex(u[i + 2])))
            verdict(o, 400, "bad_request", "malformed %-escape in the request target");
        else if (u[i] == '%' && u[i + 1] == '0' && u[i + 2] == '0')
            verdict(o, 400, "bad_request", "%00 in the request target"); /* lws: no answer */
        if (u[i] == '?' && !query) {
            query = true;
            args = 1;
        } else if (query && (u[i] == '&' || u[i] == ';')) {
            args++;
        }
    }
    return args;
}

/* Does the comma-separated list v[0..n) name one of `names`? (lws compares
 * names exactly, as RFC 6455 tokens are.) */
static bool names_one_of(const char *v, size_t n, const char *const *names)
{
    size_t i = 0;
    while (i < n) {
        const char *t = v + i;
        const char *comma = memchr(t, ',', n - i);
        size_t tl = comma ? (size_t)(comma - t) : n - i;
        i += tl + 1;
        trim(&t, &tl);
        for (const char *const *p = names; *p; p++)
            if (tl == strlen(*p) && !memcmp(t, *p, tl))
                return true;
    }
    return false;
}

/* Mark the line h[line..pos) to be taken out; a subprotocol line only if,
 * at the end, the list names none of ours. */
static void strip_line(gw_tap_head_t *o, const char *h, const char *line, size_t pos,
                       bool subprotocol)
{
    if (o->nstrip == GW_TAP_MAX_STRIP) {
        verdict(o, 400, "bad_request", "too many Upgrade or Sec-WebSocket-Protocol lines");
        return;
    }
    o->strip[o->nstrip].at = (size_t)(line - h);
    o->strip[o->nstrip].len = pos - (size_t)(line - h);
    o->strip[o->nstrip].subprotocol = subprotocol;
    o->nstrip++;
}

void gw_tap_check_head(const char *h, size_t n, const char *const *subprotocols,
                       gw_tap_head_t *o)
{
    memset(o, 0, sizeof *o);
    size_t pos = 0, len;
    const char *line;
    while (pos < n && (h[pos] == '\r' || h[pos] == '\n'))
        pos++; /* empty lines before a request are ignored (RFC 9112 §2.2) */
    if (!next_line(h, n, &pos, &line, &len)) {
        o->next = GW_TAP_NEXT_PASS;
        return;
    }
    /* method SP target SP version; anything else is lws's to refuse */
    const char *sp1 = memchr(line, ' ', len);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line)) : NULL;
    if (!sp2) {
        o->next = GW_TAP_NEXT_PASS;
        return;
    }
    size_t ml = (size_t)(sp1 - line);
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS",
                                          "HEAD"};
    bool known = false, may_have_body = false;
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
        if (ieq(line, ml, methods[i])) { /* lws matches methods in any case */
            known = true;
            may_have_body = i >= 1 && i <= 4 && i != 3; /* POST PUT PATCH */
        }
    if (!known) { /* CONNECT, PRI (HTTP/2), what lws gives the raw role */
        o->next = GW_TAP_NEXT_PASS;
        return;
    }
    const char *uri = sp1 + 1;
    size_t ulen = (size_t)(sp2 - uri);
    size_t fields = check_target(uri, ulen, o);
    uint64_t values = ulen;
    bool ws = false, pass = false, have_cl = false, conn_upgrade = false;
    bool sub_seen = false, sub_known = false;
    uint64_t cl = 0;
    while (next_line(h, n, &pos, &line, &len) && len) {
        const char *colon = memchr(line, ':', len);
        fields++;
        if (!colon || colon == line) {
            verdict(o, 400, "bad_request", "malformed header line");
            continue;
        }
        size_t nl = (size_t)(colon - line);
        const char *v = colon + 1;
        size_t vl = len - nl - 1;
        trim(&v, &vl);
        values += vl;
        if (ieq(line, nl, "upgrade")) {
            if (ieq(v, vl, "websocket")) {
                ws = true;
            } else if (ieq(v, vl, "h2c")) {
                /* HTTP/2 is not served (TLS offers only http/1.1): the line
                 * is taken out, so the request is answered as HTTP/1.1, which
                 * RFC 9110 §7.8 allows, instead of being upgraded past us */
                strip_line(o, h, line, pos, false);
            } else
                verdict(o, 400, "bad_request", "unsupported Upgrade (only websocket)");
        } else if (ieq(line, nl, "connection")) {
            for (size_t i = 0; i + 7 <= vl; i++) /* a token list: keep-alive, Upgrade */
                if (ieq(v + i, 7, "upgrade") && (i == 0 || v[i - 1] == ',' || v[i - 1] == ' ' ||
                                                 v[i - 1] == '\t'))
                    conn_upgrade = true;
        } else if (ieq(line, nl, "sec-websocket-protocol")) {
            sub_seen = true;
            if (subprotocols && names_one_of(v, vl, subprotocols))
                sub_known = true;
            strip_line(o, h, line, pos, true);
        } else if (ieq(line, nl, "transfer-encoding")) {
            /* a body without a length on POST/PUT/PATCH: answered 411 and
             * closed; lws ignores it on the other methods */
            pass = pass || may_have_body;
        } else if (ieq(line, nl, "content-length")) {
            uint64_t x = 0;
            bool ok = vl > 0 && vl <= 19;
            for (size_t i = 0; ok && i < vl; i++) {
                ok = v[i] >= '0' && v[i] <= '9';
                x = x * 10 + (uint64_t)(v[i] - '0');
            }
            if (!ok || (have_cl && x != cl))
                verdict(o, 400, "bad_request", "invalid Content-Length");
            have_cl = true;
            cl = x;
        }
    }
    /* size first: nothing else of an oversized request matters */
    if (values > GW_TAP_MAX_VALUE_BYTES || fields > GW_TAP_MAX_FIELDS) {
        o->status = 0;
        verdict(o, 431, "headers_too_large",
                values > GW_TAP_MAX_VALUE_BYTES ? "request headers over 16384 bytes"
                                                : "more than 80 header fields and URI arguments");
    }
    if (ws && !conn_upgrade) /* lws drops such a request without a word */
        verdict(o, 400, "bad_request", "a WebSocket upgrade needs Connection: Upgrade");
    if (!(ws && sub_seen && !sub_known && subprotocols)) { /* the subprotocol lines stay */
        int k = 0;
        for (int j = 0; j < o->nstrip; j++)
            if (!o->strip[j].subprotocol)
                o->strip[k++] = o->strip[j];
        o->nstrip = k;
    }
    if (o->status) {
        o->nstrip = 0;
        return;
    }
    if (ws)
        o->next = GW_TAP_NEXT_FRAMES;
    else if (pass)
        o->next = GW_TAP_NEXT_PASS;
    else if (cl) { /* lws reads Content-Length bytes of body on any method */
        o->next = GW_TAP_NEXT_BODY;
        o->body = cl;
    } else {
        o->next = GW_TAP_NEXT_HEAD;
    }
}

/* Index just after the blank line ending a head in h[0..n), scanning from
 * `from`; 0 if none yet. A bare LF ends a line too, as lws takes it. */
static size_t head_end(const char *h, size_t n, size_t from)
{
    size_t start = 0; /* skip the empty lines before a request */
    while (start < n && (h[start] == '\r' || h[start] == '\n'))
        start++;
    if (from < start)
        from = start;
    for (size_t i = from; i < n; i++) {
        if (h[i] != '\n')
            continue;
        if (i + 1 < n && h[i + 1] == '\n')
            return i + 2;
        if (i + 2 < n && h[i + 1] == '\r' && h[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* ---- one connection ---- */

static void gw_tap_frame_verdict(gw_tap_t *c);
static const char *const *tap_subprotocols(void);

gw_tap_t *gw_tap_new(bool tls)
{
    gw_tap_t *c = calloc(1, sizeof *c);
    if (c)
        c->tls = tls;
    return c;
}

void gw_tap_free(gw_tap_t *c)
{
    if (!c)
        return;
    free(c->head);
    free(c);
}

int gw_tap_status(const gw_tap_t *c, const char **code, const char **msg)
{
    if (code)
        *code = c->code;
    if (msg)
        *msg = c->msg;
    return c->status;
}

static void leave_head(gw_tap_t *c, int mode)
{
    free(c->head); /* an idle keep-alive connection holds no buffer */
    c->head = NULL;
    c->hlen = c->scanned = 0;
    c->mode = (uint8_t)mode;
}

static void decide(gw_tap_t *c, int status, const char *code, const char *msg)
{
    leave_head(c, TAP_DROP);
    c->status = status;
    c->code = code;
    c->msg = msg;
}

/* A read that consumed DROP_PER_CALL without output gives up for now. */
static ssize_t give_up_for_now(const gw_tap_io_t *io)
{
    if (io->tls)
        return 0; /* a "want read" cannot be forged on TLS: end it */
    errno = EAGAIN; /* the rest waits in the kernel and wakes lws again */
    return -1;
}

/* Read and throw away what is there; "nothing now" when it is all gone. */
static ssize_t drop_read(const gw_tap_io_t *io, void *buf, size_t len)
{
    size_t total = 0;
    for (;;) {
        ssize_t n = io->read(io->h, buf, len);
        if (n <= 0)
            return n; /* as the transport said: nothing now, EOF or error */
        total += (size_t)n;
        if (total >= DROP_PER_CALL)
            return give_up_for_now(io);
    }
}

/* A complete head is in c->head: check it, and write what lws gets (the head,
 * less an `Upgrade: h2c` line, or the stand-in) at b + o. Returns the new o. */
static size_t finish_head(gw_tap_t *c, unsigned char *b, size_t o)
{
    gw_tap_head_t v;
    gw_tap_check_head(c->head, c->hlen, tap_subprotocols(), &v);
    if (v.status) {
        decide(c, v.status, v.code, v.msg);
        memcpy(b + o, STANDIN, sizeof STANDIN - 1); /* room kept by the caller */
        return o + sizeof STANDIN - 1;
    }
    /* empty lines before the request line are not passed on: RFC 9112 §2.2
     * lets a server ignore them, and lws takes a leading LF for the end */
    size_t skip = 0;
    while (skip < c->hlen && (c->head[skip] == '\r' || c->head[skip] == '\n'))
        skip++;
    size_t from = skip;
    for (int k = 0; k <= v.nstrip; k++) { /* the head between the lines taken out */
        size_t to = k < v.nstrip ? v.strip[k].at : c->hlen;
        memcpy(b + o, c->head + from, to - from);
        o += to - from;
        if (k < v.nstrip)
            from = v.strip[k].at + v.strip[k].len;
    }
    switch (v.next) {
    case GW_TAP_NEXT_HEAD:
        leave_head(c, TAP_HEAD);
        break;
    case GW_TAP_NEXT_BODY:
        leave_head(c, TAP_BODY);
        c->left = v.body;
        break;
    case GW_TAP_NEXT_FRAMES:
        leave_head(c, TAP_FRAMES);
        c->left = 0;
        c->fhlen = 0;
        c->dropping = false;
        break;
    case GW_TAP_NEXT_PASS:
        leave_head(c, TAP_PASS);
        break;
    }
    return o;
}

/*
 * Run b[i..n), just read, through the connection's state, in place: what lws
 * gets is written at b + o, and o never passes the start of what is still
 * unread, so nothing is overwritten before it is looked at. Bytes of a head
 * move to c->head until its blank line; a head that started in an earlier
 * read has its room before i (the caller reads behind it). Returns the new o.
 */
static size_t process(gw_tap_t *c, unsigned char *b, size_t i, size_t n, size_t o)
{
    while (i < n) {
        switch (c->mode) {
        case TAP_HEAD: {
            if (!c->head && !(c->head = malloc(GW_TAP_HEAD_CAP + 1))) {
                c->mode = TAP_PASS; /* out of memory: unchecked, not broken */
                continue;
            }
            size_t k = n - i;
            if (k > GW_TAP_HEAD_CAP + 1 - c->hlen)
                k = GW_TAP_HEAD_CAP + 1 - c->hlen;
            memcpy(c->head + c->hlen, b + i, k);
            size_t end = head_end(c->head, c->hlen + k, c->scanned);
            if (!end) {
                c->hlen += (uint32_t)k;
                i += k;
                c->scanned = c->hlen > 2 ? c->hlen - 2 : 0;
                if (c->hlen > GW_TAP_HEAD_CAP) {
                    decide(c, 431, "headers_too_large", "request head over 32768 bytes");
                    memcpy(b + o, STANDIN, sizeof STANDIN - 1);
                    return o + sizeof STANDIN - 1;
                }
                break;
            }
            i += end - c->hlen;
            c->hlen = (uint32_t)end;
            o = finish_head(c, b, o);
            break;
        }
        case TAP_BODY: {
            size_t k = n - i < c->left ? n - i : (size_t)c->left;
            if (o != i)
                memmove(b + o, b + i, k);
            o += k;
            i += k;
            if ((c->left -= k) == 0)
                c->mode = TAP_HEAD;
            break;
        }
        case TAP_FRAMES: {
            if (c->left) { /* payload: given on, or left out with its frame */
                size_t k = n - i < c->left ? n - i : (size_t)c->left;
                if (!c->dropping && o != i)
                    memmove(b + o, b + i, k);
                o += c->dropping ? 0 : k;
                i += k;
                c->left -= k;
                break;
            }
            /* a header is held until it is whole (2-14 bytes): only then is
             * it known whether lws gets the frame */
            c->fh[c->fhlen++] = b[i++];
            if (c->fhlen < 2)
                break;
            uint8_t l7 = c->fh[1] & 0x7f;
            bool masked = c->fh[1] & 0x80;
            if (c->fhlen < 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + (masked ? 4 : 0))
                break;
            uint64_t pl = l7;
            if (l7 >= 126) {
                pl = 0;
                for (int k = 0; k < (l7 == 126 ? 2 : 8); k++)
                    pl = pl << 8 | c->fh[2 + k];
            }
            c->dropping = !masked;
            if (masked) {
                memcpy(b + o, c->fh, c->fhlen); /* its bytes were read here, or held */
                o += c->fhlen;
            } else if (!c->status) {
                /* RFC 6455 §5.1: the server must fail the connection. The
                 * frame is left out whole; later masked frames still reach
                 * lws, so the client's answer to our close frame ends the
                 * close handshake at once */
                c->status = 1002;
                c->code = "protocol_error";
                c->msg = "unmasked client frame";
                gw_tap_frame_verdict(c);
            }
            c->left = pl;
            c->fhlen = 0;
            break;
        }
        case TAP_PASS:
            if (o != i)
                memmove(b + o, b + i, n - i);
            o += n - i;
            i = n;
            break;
        default: /* TAP_DROP */
            i = n;
            break;
        }
    }
    return o;
}

ssize_t gw_tap_read(gw_tap_t *c, const gw_tap_io_t *io, void *vbuf, size_t len)
{
    unsigned char *buf = vbuf;
    if (c->mode == TAP_PASS)
        return io->read(io->h, buf, len);
    if (c->mode == TAP_DROP)
        return drop_read(io, buf, len);
    if (c->mode == TAP_BODY && len <= STANDIN_ROOM) { /* never from lws: no room to spare */
        ssize_t n = io->read(io->h, buf, len < c->left ? len : (size_t)c->left);
        if (n > 0 && (c->left -= (uint64_t)n) == 0)
            c->mode = TAP_HEAD;
        return n;
    }
    /* a held head, the stand-in's room and a whole TLS record (16 KiB, read
     * to its end) must fit in what lws reads (64 KiB) */
    if (c->mode == TAP_HEAD && len < GW_TAP_HEAD_CAP + 1 + STANDIN_ROOM + 16384) {
        /* lws reads 64 KiB, never less for a head: unchecked rather than stuck */
        if (!c->hlen) {
            leave_head(c, TAP_PASS);
            return io->read(io->h, buf, len);
        }
        size_t k = c->hlen < len ? c->hlen : len;
        memcpy(buf, c->head, k);
        memmove(c->head, c->head + k, c->hlen - k);
        c->hlen -= (uint32_t)k;
        c->scanned = 0;
        if (!c->hlen)
            leave_head(c, TAP_PASS);
        return (ssize_t)k;
    }
    size_t o = 0, total = 0;
    for (;;) {
        /* a held head is written out before what follows it, and a refused
         * one may become the (longer) stand-in: keep their room */
        size_t hold = c->mode == TAP_HEAD ? c->hlen : c->mode == TAP_FRAMES ? c->fhlen : 0;
        size_t room = c->mode == TAP_FRAMES ? 0 : STANDIN_ROOM;
        if (o + hold + room >= len) /* full; with o == 0 only for a len lws never */
            return (ssize_t)o;      /* uses (< 14 bytes): then EOF, not a spin */
        ssize_t n = io->read(io->h, buf + o + hold, len - o - hold - room);
        if (n <= 0)
            return o ? (ssize_t)o : n; /* nothing now, EOF or error, as the transport said */
        o = process(c, buf, o + hold, o + hold + (size_t)n, o);
        total += (size_t)n;
        if (c->mode == TAP_DROP) {
            ssize_t d = drop_read(io, buf + o, len - o); /* what came with it */
            return o ? (ssize_t)o : d;
        }
        /* On TLS the rest of a record is decrypted already and no poll will
         * announce it; lws looks for it only after a read that filled its
         * buffer. So the record is read to its end before returning. */
        if (o && !(io->pending && io->pending(io->h)))
            return (ssize_t)o;
        /* o == 0: all of it went to a head still open (bounded by its cap)
         * or to frames left out; read on until the transport says "nothing
         * now" (a plain socket's bytes stay in the kernel and wake lws again,
         * so one read with output is enough), but not without end: a peer
         * sending unmasked frames must not hold the thread */
        if (!o && total >= DROP_PER_CALL)
            return give_up_for_now(io);
    }
}

/* ---- the table ----
 *
 * Process-wide on purpose: the interposed recv()/SSL_read()/close() have no
 * context argument, only a descriptor, and descriptors are process-wide. A
 * slot is written by the thread that owns the connection (open at accept,
 * freed at close, both before the number can be reused) and read by it. */
static struct {
    _Atomic(gw_tap_t *) *slot;
    int n;
    atomic_bool enabled;
    atomic_bool warned;
    _Atomic(const char *const *) subprotocols;
    _Atomic(gw_tap_verdict_fn) on_verdict;
} tap;

static void alloc_table(void)
{
    struct rlimit rl;
    /* the hard limit: the soft one may be raised later */
    rlim_t n = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_max : 65536;
    if (n == RLIM_INFINITY || n > (1u << 20))
        n = 1u << 20;
    /* calloc'd pages stay untouched (and unbacked) until used */
    if (!tap.slot)
        tap.slot = calloc((size_t)n, sizeof *tap.slot);
    if (tap.slot)
        tap.n = (int)n;
}

void gw_tap_enable(void)
{
    alloc_table(); /* in interpose.c's constructor: before any thread exists */
    atomic_store(&tap.enabled, true);
}

bool gw_tap_enabled(void)
{
    return atomic_load(&tap.enabled) && tap.slot;
}


void gw_tap_init(gw_tap_verdict_fn on_verdict, const char *const *subprotocols)
{
    atomic_store(&tap.on_verdict, on_verdict);
    atomic_store(&tap.subprotocols, subprotocols);
}

static const char *const *tap_subprotocols(void)
{
    return atomic_load(&tap.subprotocols);
}

static void gw_tap_frame_verdict(gw_tap_t *c)
{
    gw_tap_verdict_fn f = atomic_load(&tap.on_verdict);
    if (c->wsi && f)
        f(c->wsi, c->status, c->msg);
}

static gw_tap_t *slot(int fd)
{
    if (fd < 0 || fd >= tap.n || !tap.slot)
        return NULL;
    return atomic_load_explicit(&tap.slot[fd], memory_order_acquire);
}

void gw_tap_open(int fd, bool tls)
{
    if (!atomic_load(&tap.enabled) || fd < 0)
        return; /* no tap in this program */
    if (fd >= tap.n || !tap.slot) {
        if (!atomic_exchange(&tap.warned, true))
            TG_WARN("wiretap_fd_beyond_table", "fd", TG_I(fd), "table", TG_I(tap.n));
        return; /* unchecked, as without the tap */
    }
    gw_tap_t *c = gw_tap_new(tls);
    gw_tap_free(atomic_exchange(&tap.slot[fd], c));
}

gw_tap_t *gw_tap_of(int fd, bool tls)
{
    gw_tap_t *c = slot(fd);
    return c && c->tls == tls ? c : NULL;
}

int gw_tap_bind(int fd, struct lws *wsi)
{
    gw_tap_t *c = slot(fd);
    if (!c)
        return 0;
    c->wsi = wsi;
    return c->status >= 1000 ? c->status : 0;
}

int gw_tap_refused(int fd, const char **code, const char **msg)
{
    gw_tap_t *c = slot(fd);
    if (!c || c->status < 400 || c->status >= 1000)
        return 0;
    return gw_tap_status(c, code, msg);
}

void gw_tap_forget(int fd)
{
    if (fd < 0 || fd >= tap.n || !tap.slot)
        return;
    if (atomic_load_explicit(&tap.slot[fd], memory_order_relaxed))
        gw_tap_free(atomic_exchange(&tap.slot[fd], NULL));
}
