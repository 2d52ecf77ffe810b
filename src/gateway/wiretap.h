/* wiretap.h - checks on what lws reads from a client, made before lws parses
 * it (wiretap.c), for what libwebsockets 4.1.6 does not let us check after:
 * unmasked client frames, request targets its parser refuses with an HTML
 * 403, and headers it stores but cannot list (our 431 limit). The tickgate
 * executable routes its recv()/SSL_read()/close() through here
 * (interpose.c); other programs linking the gateway have no tap, and then
 * nothing here changes a byte. */
#ifndef TICKGATE_WIRETAP_H
#define TICKGATE_WIRETAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct lws;

/* The whole request head (request line, header lines, blank line) is held
 * until complete; past this it is refused with 431. */
#define GW_TAP_HEAD_CAP (32 * 1024)
/* Header lines plus URI arguments; lws 4.1.6 drops a request past 94 such
 * fragments without an answer, so ours is below it. */
#define GW_TAP_MAX_FIELDS 80
/* URI plus header values (GW_MAX_HEADER_BYTES in gw.h is the same number). */
#define GW_TAP_MAX_VALUE_BYTES 16384
#define GW_TAP_MAX_STRIP 4

typedef struct gw_tap gw_tap_t;

/* One connection's transport as the tap reads it. `read` returns what
 * recv()/SSL_read() would: > 0 bytes, 0 at EOF, < 0 with errno or the SSL
 * error state set ("nothing now" included). */
typedef struct gw_tap_io {
    ssize_t (*read)(void *h, void *buf, size_t len);
    size_t (*pending)(void *h); /* TLS: decrypted bytes left in the record; NULL: none */
    void *h;
    bool tls; /* a forged "nothing now" is impossible on TLS: EOF instead */
} gw_tap_io_t;

/* What a request head asks for, and whether we refuse it. */
typedef enum gw_tap_next {
    GW_TAP_NEXT_HEAD,   /* no body: the next request head follows */
    GW_TAP_NEXT_BODY,   /* `body` bytes, then a head */
    GW_TAP_NEXT_FRAMES, /* WebSocket upgrade */
    GW_TAP_NEXT_PASS,   /* not followed any further (unknown method, h2c, chunked) */
} gw_tap_next_t;

typedef struct gw_tap_head {
    int status;         /* 0 = fine, else 400 or 431 */
    const char *code;   /* error code of our JSON envelope */
    const char *msg;
    gw_tap_next_t next;
    uint64_t body;
    /* lines lws must not see (`Upgrade: h2c`; a subprotocol list none of
     * whose names we serve), in order */
    struct {
        size_t at, len;
        bool subprotocol; /* a Sec-WebSocket-Protocol line */
    } strip[GW_TAP_MAX_STRIP];
    int nstrip;
} gw_tap_head_t;

/* The path of the stand-in request lws gets for a refused head; only it is
 * answered with the verdict (not good requests pipelined before it). */
#define GW_TAP_STANDIN_PATH "/tickgate-refused-request"

/* Check one complete request head h[0..n) (ending with its blank line).
 * `subprotocols` (NULL-terminated, or NULL: not checked) are the WebSocket
 * subprotocol names served; a list naming none of them is taken out, so that
 * lws answers 101 without one (RFC 6455 §4.2.2) instead of closing. */
void gw_tap_check_head(const char *h, size_t n, const char *const *subprotocols,
                       gw_tap_head_t *out);

/* The tap of one connection, for tests and for interpose.c. */
gw_tap_t *gw_tap_new(bool tls);
void gw_tap_free(gw_tap_t *c);
ssize_t gw_tap_read(gw_tap_t *c, const gw_tap_io_t *io, void *buf, size_t len);
/* HTTP status (400, 431) or WebSocket close code (1002) decided, or 0. */
int gw_tap_status(const gw_tap_t *c, const char **code, const char **msg);

/* ---- the process's table, by descriptor ---- */

/* Called by a read that finds a client frame we refuse, on the thread that
 * serves the connection: close `wsi` with `code`. */
typedef void (*gw_tap_verdict_fn)(struct lws *wsi, int code, const char *why);

/* interpose.c's constructor, once its real functions are resolved and before
 * any thread exists: allocates the table. */
void gw_tap_enable(void);
bool gw_tap_enabled(void);
/* The gateway: where frame verdicts go, and the subprotocol names its vhosts
 * serve (NULL-terminated, kept by reference). Idempotent. */
void gw_tap_init(gw_tap_verdict_fn on_verdict, const char *const *subprotocols);
/* A connection lws accepted (or we adopted): check what is read from `fd`. */
void gw_tap_open(int fd, bool tls);
/* Its WebSocket session (NULL when closed); returns a close code already
 * decided for it (a bad frame read with the handshake), or 0. */
int gw_tap_bind(int fd, struct lws *wsi);
/* The HTTP answer decided for `fd`'s current request, or 0. */
int gw_tap_refused(int fd, const char **code, const char **msg);
/* interpose.c: the tap of `fd` when the gateway opened one, for that transport. */
gw_tap_t *gw_tap_of(int fd, bool tls);
/* interpose.c: before close(fd), so that a reused number starts clean. */
void gw_tap_forget(int fd);

#endif
