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
 *          blank line, then checked. A good head goes to lws as it came; a bad
 *          one is replaced by a short stand-in request, and the HTTP callback
 *          answers the verdict kept here with our JSON envelope (400, 431).
 *          The end is found by peeking, so nothing after the head is read:
 *          it stays in the kernel (or OpenSSL) and wakes lws as usual.
 *  BODY    Content-Length bytes pass untouched (never more), then HEAD.
 *  FRAMES  after a WebSocket upgrade, frame headers are followed across reads
 *          (payloads are skipped, not copied). A client frame without the
 *          mask bit (RFC 6455 §5.1) is cut off before lws sees any of it and
 *          the session is closed with 1002.
 *  PASS    what we do not follow: an unknown method (lws hands it to the raw
 *          role, answered 501 in close.c), HTTP/2, an `Upgrade: h2c`, a
 *          chunked body (answered 411). Untouched.
 *  DROP    refused: input is read and thrown away.
 *
 * Hot path: a connection that only receives market data reads nothing; a
 * client frame costs a look at its 6-14 header bytes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "wiretap.h"

enum { TAP_HEAD, TAP_BODY, TAP_FRAMES, TAP_PASS, TAP_DROP };

/* What lws gets instead of a refused head: it reaches our HTTP callback, which
 * answers the kept verdict and closes. */
static const char STANDIN[] = "GET / HTTP/1.1\r\n\r\n";
/* A refused connection is read and dropped up to this much per call (then
 * "nothing now"), so a peer that keeps sending cannot hold the thread. */
#define DROP_PER_CALL (1u << 20)

struct gw_tap {
    uint8_t mode;
    bool tls;
    uint8_t fhlen, fhneed; /* frame header bytes seen / needed */
    uint8_t fh[14];
    int status;            /* HTTP status or WebSocket close code decided */
    const char *code, *msg;
    char *head;            /* HEAD: the held-back bytes (GW_TAP_HEAD_CAP + 1) */
    uint32_t hlen, scanned;
    uint64_t left;         /* BODY: bytes; FRAMES: payload of the current frame */
    struct lws *wsi;
};

/* ---- request heads ---- */

static bool ieq(const char *a, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    if (n != m)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 'a' - 'A');
        if (c != lit[i])
            return false;
    }
    return true;
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
        if (u[i] == '?' && !query) {
            query = true;
            args = 1;
        } else if (query && (u[i] == '&' || u[i] == ';')) {
            args++;
        }
    }
    return args;
}

void gw_tap_check_head(const char *h, size_t n, gw_tap_head_t *o)
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
        if (ml == strlen(methods[i]) && !memcmp(line, methods[i], ml)) {
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
    bool ws = false, pass = false, have_cl = false;
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
            if (ieq(v, vl, "websocket"))
                ws = true;
            else if (ieq(v, vl, "h2c"))
                pass = true;
            else
                verdict(o, 400, "bad_request", "unsupported Upgrade (only websocket)");
        } else if (ieq(line, nl, "transfer-encoding")) {
            pass = true; /* a body without a length: answered 411 or read by lws */
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
    if (ws)
        o->next = GW_TAP_NEXT_FRAMES;
    else if (pass || (cl && !may_have_body))
        o->next = GW_TAP_NEXT_PASS; /* a body on GET/DELETE: lws's framing, not ours to guess */
    else if (cl) {
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
    free(c->head);
    c->head = NULL;
    c->hlen = c->scanned = 0;
    c->mode = (uint8_t)mode;
}

/* Read and throw away what is there; "nothing now" when it is all gone. */
static ssize_t drop_read(gw_tap_t *c, const gw_tap_io_t *io, void *buf, size_t len)
{
    size_t total = 0;
    for (;;) {
        ssize_t n = io->read(io->h, buf, len, false);
        if (n <= 0)
            return n; /* as the transport said: nothing now, EOF or error */
        total += (size_t)n;
        if (total >= DROP_PER_CALL) {
            if (io->tls)
                return 0; /* a "want read" cannot be forged on TLS: end it */
            errno = EAGAIN;
            return -1;
        }
    }
}

static ssize_t refuse_head(gw_tap_t *c, const gw_tap_io_t *io, void *buf, size_t len, int status,
                           const char *code, const char *msg)
{
    leave_head(c, TAP_DROP);
    c->status = status;
    c->code = code;
    c->msg = msg;
    /* what the client sent with it is read now, so that closing after the
     * answer does not reset the connection under the client's feet */
    (void)drop_read(c, io, buf, len); /* EOF or an error: lws still gets the stand-in */
    memcpy(buf, STANDIN, sizeof STANDIN - 1);
    return (ssize_t)(sizeof STANDIN - 1);
}

static ssize_t head_read(gw_tap_t *c, const gw_tap_io_t *io, unsigned char *buf, size_t len)
{
    if (len < GW_TAP_HEAD_CAP + 1) { /* lws reads 64 KiB; never less for a head */
        leave_head(c, TAP_PASS);
        return io->read(io->h, buf, len, false);
    }
    if (!c->head && !(c->head = malloc(GW_TAP_HEAD_CAP + 1))) {
        leave_head(c, TAP_PASS); /* out of memory: unchecked, not broken */
        return io->read(io->h, buf, len, false);
    }
    for (;;) {
        size_t room = GW_TAP_HEAD_CAP + 1 - c->hlen;
        ssize_t n = io->read(io->h, buf, room, true);
        if (n <= 0)
            return n;
        if (c->hlen == 0 && n >= 4 && !memcmp(buf, "PRI ", 4)) {
            leave_head(c, TAP_PASS); /* the HTTP/2 preface */
            return io->read(io->h, buf, len, false);
        }
        memcpy(c->head + c->hlen, buf, (size_t)n);
        size_t end = head_end(c->head, c->hlen + (size_t)n, c->scanned);
        size_t take = end ? end - c->hlen : (size_t)n;
        ssize_t r = io->read(io->h, buf, take, false); /* what we keep, no more */
        if (r <= 0)
            return r;
        c->hlen += (uint32_t)r;
        c->scanned = c->hlen > 2 ? c->hlen - 2 : 0;
        if (!end || (size_t)r < take) {
            if (c->hlen > GW_TAP_HEAD_CAP)
                return refuse_head(c, io, buf, len, 431, "headers_too_large",
                                   "request head over 32768 bytes");
            continue; /* peek again: more, or "nothing now" */
        }
        gw_tap_head_t v;
        gw_tap_check_head(c->head, c->hlen, &v);
        if (v.status)
            return refuse_head(c, io, buf, len, v.status, v.code, v.msg);
        size_t out = c->hlen;
        memcpy(buf, c->head, out); /* out <= GW_TAP_HEAD_CAP + 1 <= len */
        switch (v.next) {
        case GW_TAP_NEXT_HEAD:
            leave_head(c, TAP_HEAD); /* an idle keep-alive connection holds no buffer */
            break;
        case GW_TAP_NEXT_BODY:
            leave_head(c, TAP_BODY);
            c->left = v.body;
            break;
        case GW_TAP_NEXT_FRAMES:
            leave_head(c, TAP_FRAMES);
            c->left = 0;
            c->fhlen = 0;
            break;
        case GW_TAP_NEXT_PASS:
            leave_head(c, TAP_PASS);
            break;
        }
        return (ssize_t)out;
    }
}

/* Follow frame headers through b[0..n); the offset where a refused frame
 * starts (0 when it began in an earlier read), or n. */
static size_t frames_scan(gw_tap_t *c, const unsigned char *b, size_t n)
{
    size_t i = 0, start = 0;
    while (i < n) {
        if (c->left) {
            uint64_t k = n - i < c->left ? n - i : c->left;
            i += (size_t)k;
            c->left -= k;
            continue;
        }
        if (c->fhlen == 0)
            start = i;
        c->fh[c->fhlen++] = b[i++];
        if (c->fhlen == 2) {
            if (!(c->fh[1] & 0x80))
                return start; /* unmasked (RFC 6455 §5.1: the server must fail it) */
            uint8_t l7 = c->fh[1] & 0x7f;
            c->fhneed = (uint8_t)(2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + 4);
        }
        if (c->fhlen >= 2 && c->fhlen == c->fhneed) {
            uint8_t l7 = c->fh[1] & 0x7f;
            uint64_t pl = l7;
            if (l7 >= 126) {
                pl = 0;
                for (int k = 0; k < (l7 == 126 ? 2 : 8); k++)
                    pl = pl << 8 | c->fh[2 + k];
            }
            c->left = pl;
            c->fhlen = 0;
        }
    }
    return n;
}

static void frame_verdict(gw_tap_t *c);

ssize_t gw_tap_read(gw_tap_t *c, const gw_tap_io_t *io, void *vbuf, size_t len)
{
    unsigned char *buf = vbuf;
    switch (c->mode) {
    case TAP_HEAD:
        return head_read(c, io, buf, len);
    case TAP_BODY: {
        ssize_t n = io->read(io->h, buf, len < c->left ? len : (size_t)c->left, false);
        if (n > 0 && (c->left -= (uint64_t)n) == 0)
            c->mode = TAP_HEAD;
        return n;
    }
    case TAP_FRAMES: {
        ssize_t n = io->read(io->h, buf, len, false);
        if (n <= 0)
            return n;
        size_t cut = frames_scan(c, buf, (size_t)n);
        if (cut == (size_t)n)
            return n;
        c->mode = TAP_DROP;
        c->status = 1002;
        c->code = "protocol_error";
        c->msg = "unmasked client frame";
        frame_verdict(c);
        return cut ? (ssize_t)cut : drop_read(c, io, buf, len);
    }
    case TAP_DROP:
        return drop_read(c, io, buf, len);
    default:
        return io->read(io->h, buf, len, false);
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
    _Atomic(gw_tap_verdict_fn) on_verdict;
} tap;

void gw_tap_enable(void)
{
    atomic_store(&tap.enabled, true);
}

bool gw_tap_enabled(void)
{
    return atomic_load(&tap.enabled) && tap.slot;
}

static void alloc_table(void)
{
    struct rlimit rl;
    rlim_t n = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 65536;
    if (n == RLIM_INFINITY || n > (1u << 22))
        n = 1u << 22;
    /* calloc'd pages stay untouched (and unbacked) until used */
    tap.slot = calloc((size_t)n, sizeof *tap.slot);
    if (tap.slot)
        tap.n = (int)n;
}

void gw_tap_init(gw_tap_verdict_fn on_verdict)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    atomic_store(&tap.on_verdict, on_verdict);
    pthread_once(&once, alloc_table);
}

static void frame_verdict(gw_tap_t *c)
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
    if (!atomic_load(&tap.enabled) || fd < 0 || fd >= tap.n || !tap.slot)
        return; /* no tap in this program, or a descriptor past the table */
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
    return c->mode == TAP_DROP && c->status >= 1000 ? c->status : 0;
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
