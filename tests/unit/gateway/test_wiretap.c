/* test_wiretap.c - the read in front of lws (src/gateway/wiretap.c), on a
 * transport in memory whose bytes "arrive" in pieces:
 *   - good traffic (keep-alive heads, a body, an upgrade, frames of every
 *     length class) comes out byte for byte as it went in, however it is cut;
 *   - nothing after a head is read with it (the peek), nor more than a body;
 *   - an unmasked frame is cut off exactly where it starts, with 1002;
 *   - a refused head becomes the stand-in request with its verdict;
 *   - the head checks themselves (400, 431, what is passed through). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/wiretap.h"

static const char *const SUBS[] = {"tickgate", "tickgate.json.v1", "tickgate.msgpack.v1", NULL};
#include "tg_test.h"

/* ---- a stream in memory ---- */

typedef struct mem {
    const unsigned char *p;
    size_t n;     /* total */
    size_t avail; /* arrived so far */
    size_t pos;   /* read so far */
    bool eof;     /* all arrived and the peer closed */
    /* TLS: the pieces are records; a read stops at a record's end and what is
     * left of a record once it is started is "pending" (decrypted, in OpenSSL,
     * announced by no poll) */
    const size_t *bounds;
    size_t nb;
} mem_t;

static size_t rec_end(const mem_t *m)
{
    for (size_t i = 0; i < m->nb; i++)
        if (m->bounds[i] > m->pos)
            return m->bounds[i];
    return m->n;
}

static ssize_t mem_read(void *h, void *buf, size_t len)
{
    mem_t *m = h;
    size_t k = m->avail - m->pos;
    if (!k) {
        if (m->eof && m->avail == m->n)
            return 0;
        errno = EAGAIN;
        return -1;
    }
    if (k > len)
        k = len;
    if (m->bounds && k > rec_end(m) - m->pos)
        k = rec_end(m) - m->pos;
    memcpy(buf, m->p + m->pos, k);
    m->pos += k;
    return (ssize_t)k;
}

static size_t mem_pending(void *h)
{
    mem_t *m = h;
    if (m->pos == 0 || m->pos >= m->avail)
        return 0;
    for (size_t i = 0; i < m->nb; i++)
        if (m->bounds[i] == m->pos)
            return 0; /* at a record's start: nothing decrypted yet */
    return rec_end(m) - m->pos;
}

/* lws's read: 64 KiB minus LWS_PRE */
#define LWS_LEN (64 * 1024 - 16)

static const char STANDIN[] = "GET " GW_TAP_STANDIN_PATH " HTTP/1.1\r\n\r\n";
#define STANDIN_LEN (sizeof STANDIN - 1)

static int stalls;

/* Feed `in` to a tap, arriving in pieces ending at cuts[] (ascending), reading
 * like lws until each piece is consumed; the output stream in *out. With
 * `tls` the pieces are records, and a read that returns less than asked
 * while part of a record is pending is a stall (lws would not read again). */
static size_t run_stream_t(gw_tap_t *c, const unsigned char *in, size_t n, const size_t *cuts,
                           size_t ncuts, unsigned char *out, size_t outcap, bool tls)
{
    mem_t m = {.p = in, .n = n, .bounds = tls ? cuts : NULL, .nb = tls ? ncuts : 0};
    gw_tap_io_t io = {.read = mem_read, .pending = tls ? mem_pending : NULL, .h = &m, .tls = tls};
    static unsigned char buf[LWS_LEN];
    size_t olen = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        m.avail = i < ncuts ? cuts[i] : n;
        for (int guard = 0; guard < 100000; guard++) {
            ssize_t r = gw_tap_read(c, &io, buf, sizeof buf);
            if (r <= 0)
                break; /* nothing now: wait for the next piece */
            if (tls && (size_t)r < sizeof buf && mem_pending(&m))
                stalls++;
            if (olen + (size_t)r <= outcap)
                memcpy(out + olen, buf, (size_t)r);
            olen += (size_t)r;
        }
    }
    return olen;
}

static size_t run_stream(gw_tap_t *c, const unsigned char *in, size_t n, const size_t *cuts,
                         size_t ncuts, unsigned char *out, size_t outcap)
{
    return run_stream_t(c, in, n, cuts, ncuts, out, outcap, false);
}

static size_t put(unsigned char *b, size_t at, const void *p, size_t n)
{
    memcpy(b + at, p, n);
    return at + n;
}

static size_t put_s(unsigned char *b, size_t at, const char *s)
{
    return put(b, at, s, strlen(s));
}

/* A client frame of `len` payload bytes; masked unless told otherwise. */
static size_t put_frame(unsigned char *b, size_t at, uint8_t op, size_t len, bool masked)
{
    b[at++] = (unsigned char)(0x80 | op);
    uint8_t mb = masked ? 0x80 : 0;
    if (len < 126) {
        b[at++] = (unsigned char)(mb | len);
    } else if (len < 65536) {
        b[at++] = (unsigned char)(mb | 126);
        b[at++] = (unsigned char)(len >> 8);
        b[at++] = (unsigned char)len;
    } else {
        b[at++] = (unsigned char)(mb | 127);
        for (int k = 7; k >= 0; k--)
            b[at++] = (unsigned char)((uint64_t)len >> (8 * k));
    }
    if (masked)
        at = put(b, at, "\x11\x22\x33\x44", 4);
    for (size_t i = 0; i < len; i++)
        b[at++] = (unsigned char)('a' + i % 26);
    return at;
}

static unsigned char in[300000], out[300000];

/* One lws-sized read of `req`, all of it there at once: lws's bytes in buf;
 * the verdict (and its code), and how much was consumed, for the checks. */
typedef struct once {
    ssize_t r;
    int status;
    const char *code;
    size_t consumed, n;
} once_t;

static once_t read_once(const char *req, unsigned char *buf)
{
    once_t o = {.n = strlen(req)};
    memcpy(in, req, o.n);
    mem_t m = {.p = in, .n = o.n, .avail = o.n};
    gw_tap_io_t io = {.read = mem_read, .h = &m};
    gw_tap_t *c = gw_tap_new(false);
    o.r = gw_tap_read(c, &io, buf, LWS_LEN);
    o.status = gw_tap_status(c, &o.code, NULL);
    o.consumed = m.pos;
    gw_tap_free(c);
    return o;
}

/* keep-alive GETs, a PUT with a body that looks like a head, then an upgrade
 * and frames of each length class (7-bit, 16-bit, 64-bit, empty, control) */
static size_t good_traffic(size_t *frames_at)
{
    size_t n = 0;
    n = put_s(in, n, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    n = put_s(in, n, "get /api/v1/alerts?state=firing&limit=5 HTTP/1.1\nHost: x\n\n");
    n = put_s(in, n, "GET /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"); /* lws reads it */
    n = put_s(in, n, "GET /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"); /* ignored */
    /* a body that looks like a (refused) head: it must pass as a body */
    const char *body = "GET /health%zz HTTP/1.1\r\nX: y\r\n\r\n\r\n\r\n";
    char put_head[128];
    snprintf(put_head, sizeof put_head,
             "PUT /api/v1/portfolios/p HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", strlen(body));
    n = put_s(in, n, put_head);
    n = put_s(in, n, body);
    n = put_s(in, n, "GET /ws?token=abc HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n");
    *frames_at = n;
    n = put_frame(in, n, 1, 20, true);
    n = put_frame(in, n, 1, 125, true);
    n = put_frame(in, n, 2, 126, true);
    n = put_frame(in, n, 1, 0, true);
    n = put_frame(in, n, 9, 4, true);
    n = put_frame(in, n, 2, 65535, true);
    n = put_frame(in, n, 2, 65536, true);
    n = put_frame(in, n, 1, 3, true);
    return n;
}

TG_TEST(good_traffic_comes_out_unchanged_however_it_is_cut)
{
    size_t fa, n = good_traffic(&fa);
    uint64_t seed = 12345;
    for (int trial = 0; trial < 800; trial++) {
        bool tls = trial >= 400;
        int t = trial % 400;
        size_t cuts[40], nc = 0;
        if (t < 200) { /* one cut at every position near the seams */
            size_t at = (size_t)t * (fa / 200 + 1);
            if (at && at < n)
                cuts[nc++] = at;
        } else {
            size_t at = 0;
            while (nc < 40) {
                seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                at += 1 + (size_t)(seed >> 33) % (tls ? 16384 : 9000);
                if (at >= n)
                    break;
                cuts[nc++] = at;
            }
        }
        if (tls) { /* records are at most 16 KiB */
            size_t more[80], nm = 0, prev = 0;
            for (size_t k = 0; k <= nc; k++) {
                size_t end = k < nc ? cuts[k] : n;
                while (end - prev > 16384 && nm < 79)
                    more[nm++] = prev += 16384;
                if (k < nc)
                    more[nm++] = prev = end;
            }
            memcpy(cuts, more, (nm < 40 ? nm : 40) * sizeof *cuts);
            nc = nm < 40 ? nm : 40;
            if (nc && cuts[nc - 1] + 16384 < n)
                continue; /* too many records for the fixture's array */
        }
        stalls = 0;
        gw_tap_t *c = gw_tap_new(tls);
        size_t olen = run_stream_t(c, in, n, cuts, nc, out, sizeof out, tls);
        TG_CHECK_EQ_INT(olen, n);
        TG_CHECK(olen == n && memcmp(out, in, n) == 0);
        TG_CHECK_EQ_INT(gw_tap_status(c, NULL, NULL), 0);
        TG_CHECK_EQ_INT(stalls, 0);
        gw_tap_free(c);
    }
}

TG_TEST(a_head_and_what_came_with_it_go_out_in_one_read)
{
    /* a head and the frames after it in one read (one TLS record): lws gets
     * both at once; nothing is left behind for a wake-up that never comes */
    size_t fa;
    good_traffic(&fa);
    const char *ws = strstr((const char *)in, "GET /ws");
    size_t head_at = (size_t)((const unsigned char *)ws - in);
    size_t end = fa + 200;
    mem_t m = {.p = in + head_at, .n = end - head_at, .avail = end - head_at};
    gw_tap_io_t io = {.read = mem_read, .h = &m};
    static unsigned char buf[LWS_LEN];
    gw_tap_t *c = gw_tap_new(false);
    ssize_t r = gw_tap_read(c, &io, buf, sizeof buf);
    TG_CHECK_EQ_INT(r, end - head_at);
    TG_CHECK(memcmp(buf, in + head_at, end - head_at) == 0);
    gw_tap_free(c);
}

TG_TEST(a_body_is_passed_and_the_next_head_checked_in_the_same_read)
{
    static unsigned char buf[LWS_LEN];
    const char *good = "POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n";
    once_t g = read_once(good, buf);
    TG_CHECK_EQ_INT(g.r, g.n);
    TG_CHECK(memcmp(buf, good, g.n) == 0);
    /* the body looks like a bad head: it is a body; the bad head after it is
     * refused, the good request before it still goes to lws whole */
    const char *mixed = "PUT /p HTTP/1.1\r\nContent-Length: 21\r\n\r\nGET /%zz HTTP/1.1\r\n\r\n"
                        "GET /h HTTP/1.1\r\n\r\nGET /%zz HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\n\r\n";
    once_t x = read_once(mixed, buf);
    size_t good_len = strlen(mixed) - strlen("GET /%zz HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\n\r\n");
    TG_CHECK_EQ_INT(x.r, good_len + STANDIN_LEN);
    TG_CHECK(memcmp(buf, mixed, good_len) == 0);
    TG_CHECK(memcmp(buf + good_len, STANDIN, STANDIN_LEN) == 0);
    TG_CHECK_EQ_INT(x.status, 400);
    TG_CHECK_EQ_INT(x.consumed, x.n); /* the rest read and dropped */
}

TG_TEST(empty_lines_before_a_request_are_not_passed_on)
{
    static unsigned char buf[LWS_LEN];
    const char *req = "\r\n\nGET /health HTTP/1.1\r\n\r\n";
    once_t o = read_once(req, buf);
    TG_CHECK_EQ_INT(o.r, o.n - 3);
    TG_CHECK(memcmp(buf, req + 3, o.n - 3) == 0);
}

TG_TEST(a_subprotocol_list_we_do_not_serve_is_taken_out)
{
    static unsigned char buf[LWS_LEN];
    const char *req = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: chat\r\n"
                      "Connection: Upgrade\r\n\r\n";
    gw_tap_init(NULL, SUBS);
    once_t o = read_once(req, buf);
    const char *want = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    TG_CHECK(o.r == (ssize_t)strlen(want) && memcmp(buf, want, strlen(want)) == 0);
    gw_tap_init(NULL, NULL);
}

TG_TEST(an_h2c_upgrade_line_is_taken_out)
{
    static unsigned char buf[LWS_LEN];
    const char *req = "GET /health HTTP/1.1\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                      "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n";
    once_t o = read_once(req, buf);
    TG_CHECK_EQ_INT(o.r, o.n - strlen("Upgrade: h2c\r\n"));
    buf[o.r > 0 ? o.r : 0] = 0;
    TG_CHECK(strstr((char *)buf, "h2c") == NULL && strstr((char *)buf, "HTTP2-Settings: A") != NULL);
}

TG_TEST(an_unmasked_frame_is_left_out_whole_wherever_reads_cut_it)
{
    size_t fa, n = good_traffic(&fa);
    /* replace the last frame (3 bytes, masked) by an unmasked one (16-bit
     * length, so its header is 4 bytes), then a masked close frame */
    size_t bad_at = n - (2 + 4 + 3);
    size_t after = put_frame(in, bad_at, 1, 300, false);
    size_t m2 = put_frame(in, after, 8, 2, true);
    for (size_t cut = bad_at - 3; cut <= after + 3; cut += (cut < bad_at + 8 || cut > after - 4) ? 1 : 50) {
        gw_tap_t *c = gw_tap_new(false);
        size_t cuts[1] = {cut};
        size_t olen = run_stream(c, in, m2, cuts, 1, out, sizeof out);
        TG_CHECK_EQ_INT(gw_tap_status(c, NULL, NULL), 1002);
        /* lws gets everything before it and the close frame after it */
        TG_CHECK_EQ_INT(olen, bad_at + (m2 - after));
        TG_CHECK(memcmp(out, in, bad_at) == 0);
        TG_CHECK(memcmp(out + bad_at, in + after, m2 - after) == 0);
        gw_tap_free(c);
    }
}

TG_TEST(an_unmasked_frame_with_the_handshake_is_left_out)
{
    size_t n = put_s(in, 0, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    size_t h = n;
    n = put_frame(in, n, 1, 5, false);
    size_t b2 = n;
    n = put_frame(in, n, 1, 5, true);
    n = put_frame(in, n, 1, 0, false); /* another one: also left out, no second verdict */
    mem_t m = {.p = in, .n = n, .avail = n};
    gw_tap_io_t io = {.read = mem_read, .h = &m};
    static unsigned char buf[LWS_LEN];
    gw_tap_t *c = gw_tap_new(false);
    ssize_t r = gw_tap_read(c, &io, buf, sizeof buf);
    TG_CHECK_EQ_INT(r, h + 11);
    TG_CHECK(memcmp(buf, in, h) == 0 && memcmp(buf + h, in + b2, 11) == 0);
    TG_CHECK_EQ_INT(m.pos, n);
    TG_CHECK_EQ_INT(gw_tap_status(c, NULL, NULL), 1002);
    TG_CHECK_EQ_INT(gw_tap_bind(-1, NULL), 0);
    gw_tap_free(c);
}

TG_TEST(a_flood_of_unmasked_frames_does_not_hold_the_thread)
{
    /* 2.4 MiB of frames left out, all there at once: a read gives up after
     * about 1 MiB ("nothing now" on a plain socket, EOF on TLS) */
    static unsigned char big[2600000];
    size_t n = put_s(big, 0, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    size_t h = n;
    while (n + 70000 < sizeof big)
        n = put_frame(big, n, 2, 60000, false);
    static unsigned char buf[LWS_LEN];
    for (int tls = 0; tls < 2; tls++) {
        mem_t m = {.p = big, .n = n, .avail = n};
        gw_tap_io_t io = {.read = mem_read, .h = &m, .tls = tls};
        gw_tap_t *c = gw_tap_new(tls);
        TG_CHECK_EQ_INT(gw_tap_read(c, &io, buf, sizeof buf), h); /* the head, the first frame left out */
        errno = 0;
        ssize_t r = gw_tap_read(c, &io, buf, sizeof buf);
        TG_CHECK_EQ_INT(r, tls ? 0 : -1);
        if (!tls)
            TG_CHECK_EQ_INT(errno, EAGAIN);
        TG_CHECK(m.pos >= h + (1u << 20) && m.pos < n);
        TG_CHECK_EQ_INT(gw_tap_status(c, NULL, NULL), 1002);
        gw_tap_free(c);
    }
}

static int refused(const char *req, const char **code)
{
    static unsigned char buf[LWS_LEN];
    once_t o = read_once(req, buf);
    *code = o.code;
    if (o.status) {
        TG_CHECK(o.r == (ssize_t)STANDIN_LEN && memcmp(buf, STANDIN, STANDIN_LEN) == 0);
        TG_CHECK_EQ_INT(o.consumed, o.n); /* the rest is read and dropped */
    } else {
        TG_CHECK_EQ_INT(o.r, o.n);
    }
    return o.status;
}

TG_TEST(refused_heads_become_the_stand_in_with_a_verdict)
{
    const char *code = NULL;
    TG_CHECK_EQ_INT(refused("GET /a%zz HTTP/1.1\r\n\r\nmore", &code), 400);
    TG_CHECK_EQ_STR(code, "bad_request");
    TG_CHECK_EQ_INT(refused("GET http://h/a HTTP/1.1\r\n\r\n", &code), 400);
    TG_CHECK_EQ_INT(refused("GET /a HTTP/1.1\r\nUpgrade: foo\r\n\r\n", &code), 400);
    TG_CHECK_EQ_INT(refused("GET /ws HTTP/1.1\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n", &code), 0);
    TG_CHECK_EQ_INT(refused("GET /ws HTTP/1.1\r\nupgrade: websocket\r\n\r\n", &code), 400);
    TG_CHECK_EQ_INT(refused("GET /a HTTP/1.1\r\nHost: x\r\n\r\n", &code), 0);
}

TG_TEST(a_head_past_the_cap_is_431_and_drained)
{
    size_t n = put_s(in, 0, "GET /a HTTP/1.1\r\nCookie: ");
    memset(in + n, 'c', 70000);
    n += 70000;
    n = put_s(in, n, "\r\n\r\n");
    for (int cuts = 0; cuts < 2; cuts++) {
        gw_tap_t *c = gw_tap_new(false);
        size_t cut[1] = {20000};
        size_t olen = run_stream(c, in, n, cut, (size_t)cuts, out, sizeof out);
        const char *code;
        TG_CHECK_EQ_INT(gw_tap_status(c, &code, NULL), 431);
        TG_CHECK_EQ_STR(code, "headers_too_large");
        TG_CHECK(olen == STANDIN_LEN && memcmp(out, STANDIN, STANDIN_LEN) == 0);
        gw_tap_free(c);
    }
}

TG_TEST(a_short_read_passes_unchecked)
{
    /* lws reads 64 KiB; a smaller buffer (never seen) turns the tap off
     * rather than holding back what it could not give */
    size_t n = put_s(in, 0, "GET /a%zz HTTP/1.1\r\n\r\n");
    mem_t m = {.p = in, .n = n, .avail = n};
    gw_tap_io_t io = {.read = mem_read, .h = &m};
    unsigned char small[64];
    gw_tap_t *c = gw_tap_new(false);
    TG_CHECK_EQ_INT(gw_tap_read(c, &io, small, sizeof small), n);
    TG_CHECK_EQ_INT(gw_tap_status(c, NULL, NULL), 0);
    gw_tap_free(c);
}

static gw_tap_head_t check(const char *h)
{
    gw_tap_head_t v;
    gw_tap_check_head(h, strlen(h), SUBS, &v);
    return v;
}

TG_TEST(head_checks)
{
    TG_CHECK_EQ_INT(check("GET / HTTP/1.1\r\n\r\n").next, GW_TAP_NEXT_HEAD);
    TG_CHECK_EQ_INT(check("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n").next,
                    GW_TAP_NEXT_FRAMES);
    gw_tap_head_t v = check("PUT /p HTTP/1.1\r\nContent-Length: 12\r\n\r\n");
    TG_CHECK(v.next == GW_TAP_NEXT_BODY && v.body == 12 && v.status == 0);
    TG_CHECK_EQ_INT(check("PUT /p HTTP/1.1\r\nContent-Length: 0\r\n\r\n").next, GW_TAP_NEXT_HEAD);
    TG_CHECK_EQ_INT(check("PUT /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").next,
                    GW_TAP_NEXT_PASS);
    gw_tap_head_t h2 = check("GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\n");
    TG_CHECK(h2.next == GW_TAP_NEXT_HEAD && h2.nstrip == 1 && h2.strip[0].at == 16 &&
             h2.strip[0].len == 14);
    /* an upgrade needs Connection: Upgrade (lws closes without a word) */
    TG_CHECK_EQ_INT(check("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n").status, 400);
    TG_CHECK_EQ_INT(
        check("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n")
            .status,
        0);
    TG_CHECK_EQ_INT(
        check("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: notupgrade\r\n\r\n").status,
        400);
    /* subprotocols: a list with one we serve stays; one with none is taken out
     * (lws would close; RFC 6455: 101 without a subprotocol); not on plain HTTP */
    const char *ws = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
    char hb[512];
    snprintf(hb, sizeof hb, "%sSec-WebSocket-Protocol: x, tickgate.msgpack.v1\r\n\r\n", ws);
    TG_CHECK_EQ_INT(check(hb).nstrip, 0);
    snprintf(hb, sizeof hb, "%sSec-WebSocket-Protocol: chat, superchat\r\nX: y\r\n"
                            "Sec-WebSocket-Protocol: TICKGATE.JSON.V1\r\n\r\n", ws);
    gw_tap_head_t sp = check(hb);
    TG_CHECK(sp.status == 0 && sp.nstrip == 2 && sp.strip[0].at == strlen(ws) &&
             sp.strip[0].len == strlen("Sec-WebSocket-Protocol: chat, superchat\r\n") &&
             sp.strip[1].at == strlen(ws) + sp.strip[0].len + 6);
    TG_CHECK_EQ_INT(check("GET / HTTP/1.1\r\nSec-WebSocket-Protocol: nope\r\n\r\n").nstrip, 0);
    gw_tap_head_t none;
    snprintf(hb, sizeof hb, "%sSec-WebSocket-Protocol: nope\r\n\r\n", ws);
    gw_tap_check_head(hb, strlen(hb), NULL, &none);
    TG_CHECK_EQ_INT(none.nstrip, 0); /* no list given: not checked */
    snprintf(hb, sizeof hb, "%s%s%s%s%s\r\n", ws, "Sec-WebSocket-Protocol: a\r\n",
             "Sec-WebSocket-Protocol: b\r\n", "Sec-WebSocket-Protocol: c\r\n",
             "Sec-WebSocket-Protocol: d\r\nSec-WebSocket-Protocol: e\r\n");
    TG_CHECK_EQ_INT(check(hb).status, 400);
    /* lws's own to answer: unknown methods (501 in close.c), CONNECT, garbage */
    TG_CHECK(check("BREW /pot HTTP/1.1\r\n\r\n").next == GW_TAP_NEXT_PASS);
    TG_CHECK(check("CONNECT h:80 HTTP/1.1\r\n\r\n").next == GW_TAP_NEXT_PASS);
    TG_CHECK(check("X\r\n\r\n").next == GW_TAP_NEXT_PASS && check("X\r\n\r\n").status == 0);
    /* lws matches methods in any case: so do we (a lowercase upgrade is still followed) */
    TG_CHECK(check("get /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n").next == GW_TAP_NEXT_FRAMES);
    TG_CHECK(check("Get /%zz HTTP/1.1\r\n\r\n").status == 400);
    /* lws reads a Content-Length body on any method, and ignores a
     * Transfer-Encoding where no body is expected */
    gw_tap_head_t gb = check("GET /p HTTP/1.1\r\nContent-Length: 3\r\n\r\n");
    TG_CHECK(gb.next == GW_TAP_NEXT_BODY && gb.body == 3);
    TG_CHECK(check("GET /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").next ==
             GW_TAP_NEXT_HEAD);
    TG_CHECK_EQ_INT(check("GET /a%00b HTTP/1.1\r\n\r\n").status, 400);
    /* 400s */
    TG_CHECK_EQ_INT(check("GET /a%2 HTTP/1.1\r\n\r\n").status, 400);
    TG_CHECK_EQ_INT(check("GET /a% HTTP/1.1\r\n\r\n").status, 400);
    TG_CHECK_EQ_INT(check("GET /a?x=%G0 HTTP/1.1\r\n\r\n").status, 400);
    TG_CHECK_EQ_INT(check("GET /a%2f%2F HTTP/1.1\r\n\r\n").status, 0);
    TG_CHECK_EQ_INT(check("GET * HTTP/1.1\r\n\r\n").status, 400);
    TG_CHECK_EQ_INT(check("GET /a HTTP/1.1\r\nbad line\r\n\r\n").status, 400);
    TG_CHECK_EQ_INT(check("GET /a HTTP/1.1\r\n: empty name\r\n\r\n").status, 400);
    TG_CHECK_EQ_INT(check("PUT /a HTTP/1.1\r\nContent-Length: -1\r\n\r\n").status, 400);
    TG_CHECK_EQ_INT(check("PUT /a HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n").status,
                    400);
    TG_CHECK_EQ_INT(
        check("PUT /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").status, 400);
    TG_CHECK_EQ_INT(
        check("PUT /a HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n").status, 0);
    TG_CHECK_EQ_INT(check("GET /a HTTP/1.1\r\nUpgrade: websocket, foo\r\n\r\n").status, 400);
}

TG_TEST(head_size_limits)
{
    static char h[40000];
    /* 16384 bytes of URI and values pass, one more is 431; unknown names count */
    int n = snprintf(h, sizeof h, "GET /%s HTTP/1.1\r\nX-Pad: ", "");
    size_t uri = 1;
    memset(h + n, 'v', GW_TAP_MAX_VALUE_BYTES - uri);
    n += GW_TAP_MAX_VALUE_BYTES - (int)uri;
    strcpy(h + n, "\r\n\r\n");
    gw_tap_head_t v;
    gw_tap_check_head(h, strlen(h), SUBS, &v);
    TG_CHECK_EQ_INT(v.status, 0);
    memmove(h + n + 1, h + n, 5);
    h[n] = 'v';
    gw_tap_check_head(h, strlen(h), SUBS, &v);
    TG_CHECK_EQ_INT(v.status, 431);
    /* fields: header lines plus URI arguments, 80 pass */
    n = snprintf(h, sizeof h, "GET /a?%s HTTP/1.1\r\n", "a=1&b=2&c=3;d=4"); /* 4 arguments */
    for (int i = 0; i < GW_TAP_MAX_FIELDS - 4; i++)
        n += snprintf(h + n, sizeof h - (size_t)n, "A%d: b\r\n", i);
    strcpy(h + n, "\r\n");
    gw_tap_check_head(h, strlen(h), SUBS, &v);
    TG_CHECK_EQ_INT(v.status, 0);
    strcpy(h + n, "Z: z\r\n\r\n");
    gw_tap_check_head(h, strlen(h), SUBS, &v);
    TG_CHECK_EQ_INT(v.status, 431);
    /* size is answered before anything else */
    gw_tap_check_head("GET http://x HTTP/1.1\r\n\r\n", 25, SUBS, &v);
    TG_CHECK_EQ_INT(v.status, 400);
    n = snprintf(h, sizeof h, "GET http://x%%zz HTTP/1.1\r\n");
    for (int i = 0; i < 100; i++)
        n += snprintf(h + n, sizeof h - (size_t)n, "A%d: b\r\n", i);
    strcpy(h + n, "\r\n");
    gw_tap_check_head(h, strlen(h), SUBS, &v);
    TG_CHECK_EQ_INT(v.status, 431);
}

TG_TEST(hostile_heads_never_crash)
{
    /* random bytes, with the characters that matter made likely */
    static const char alpha[] = "GET /%?&;:\r\n 0123456789abcdefXUpgrade:websocketContent-Length";
    static char h[4096];
    uint64_t seed = 99;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t n = (size_t)(seed >> 40) % sizeof h;
        for (size_t k = 0; k < n; k++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            h[k] = (seed >> 60) < 12 ? alpha[(seed >> 33) % (sizeof alpha - 1)] : (char)(seed >> 24);
        }
        gw_tap_head_t v;
        gw_tap_check_head(h, n, SUBS, &v);
        TG_CHECK(v.status == 0 || v.status == 400 || v.status == 431);
    }
}

static struct lws *seen_wsi;
static int seen_code;
static void on_verdict(struct lws *wsi, int code, const char *why)
{
    (void)why;
    seen_wsi = wsi;
    seen_code = code;
}

TG_TEST(the_table_by_descriptor)
{
    gw_tap_enable();
    gw_tap_init(on_verdict, SUBS);
    TG_CHECK(gw_tap_enabled());
    gw_tap_open(7, false);
    gw_tap_t *c = gw_tap_of(7, false);
    TG_CHECK(c != NULL);
    TG_CHECK(gw_tap_of(7, true) == NULL); /* a TLS socket's recv() is ciphertext */
    TG_CHECK(gw_tap_of(8, false) == NULL);
    TG_CHECK(gw_tap_of(-1, false) == NULL);
    struct lws *fake = (struct lws *)&seen_code;
    TG_CHECK_EQ_INT(gw_tap_bind(7, fake), 0);
    /* a frame refused after the bind reaches the gateway's callback */
    size_t n = put_s(in, 0, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    n = put_frame(in, n, 1, 2, false);
    mem_t m = {.p = in, .n = n, .avail = n};
    gw_tap_io_t io = {.read = mem_read, .h = &m};
    static unsigned char buf[LWS_LEN];
    gw_tap_read(c, &io, buf, sizeof buf);
    gw_tap_read(c, &io, buf, sizeof buf);
    TG_CHECK(seen_wsi == fake && seen_code == 1002);
    TG_CHECK_EQ_INT(gw_tap_bind(7, NULL), 1002); /* a bind reports a close already decided */
    TG_CHECK_EQ_INT(gw_tap_refused(7, NULL, NULL), 0); /* a close code, not an HTTP status */
    gw_tap_forget(7);
    TG_CHECK(gw_tap_of(7, false) == NULL);
    gw_tap_forget(7); /* twice is harmless */
    gw_tap_open(9, true);
    TG_CHECK(gw_tap_of(9, true) != NULL);
    gw_tap_open(9, true); /* reopened without a close: the old one is freed (ASan) */
    gw_tap_forget(9);
}

int main(void)
{
    return tg_test_run();
}
