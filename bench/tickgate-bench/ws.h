/* ws.h - the WebSocket (RFC 6455) client pieces of tickgate-bench.
 *
 * Written by hand rather than on libwebsockets: this is the load generator's
 * hot path, and lws' per-connection state (several KiB), its callback per
 * event and its own buffering would dominate what we measure at thousands of
 * connections and millions of messages per second. Here a connection costs a
 * couple of hundred bytes plus whatever partial frame it is holding.
 *
 * Pure functions over caller buffers, no I/O: main.c owns the sockets. Not
 * thread-safe per decoder; any number of decoders on different threads.
 */
#ifndef TG_BENCH_WS_H
#define TG_BENCH_WS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum {
    TG_WS_OP_CONT = 0x0,
    TG_WS_OP_TEXT = 0x1,
    TG_WS_OP_BINARY = 0x2,
    TG_WS_OP_CLOSE = 0x8,
    TG_WS_OP_PING = 0x9,
    TG_WS_OP_PONG = 0xA,
};

/** Close code reported when the TCP connection ended without a close frame. */
#define TG_WS_CLOSE_ABNORMAL 1006
/** Close code of a close frame with an empty payload. */
#define TG_WS_CLOSE_NO_STATUS 1005

/** One parsed frame header. */
typedef struct tg_bench_ws_frame {
    uint8_t fin, opcode, masked;
    uint8_t mask[4];
    uint32_t hdr_len;     /* 2..14 */
    uint64_t payload_len; /* as announced */
} tg_bench_ws_frame_t;

/**
 * Parse the header at p[0..len). Returns the header length (> 0), 0 when more
 * bytes are needed (then *f->hdr_len holds how many a header needs at least),
 * -EPROTO for reserved bits, unknown opcodes, a fragmented or > 125-byte
 * control frame or a 64-bit length with the top bit set, -EMSGSIZE when the
 * payload exceeds max_payload.
 */
int tg_bench_ws_parse_header(const uint8_t *p, size_t len, uint64_t max_payload,
                             tg_bench_ws_frame_t *f);

/** XOR payload with the 4-byte key, starting at key offset `off` (0 for a whole frame). */
void tg_bench_ws_mask(uint8_t *p, size_t n, const uint8_t key[4], size_t off);

/**
 * Write a client frame (FIN set, masked with `key` as RFC 6455 requires of
 * clients) of `n` payload bytes into out. Returns the frame length, or
 * -ENOSPC when cap is too small.
 */
ssize_t tg_bench_ws_build(uint8_t *out, size_t cap, int opcode, const void *payload, size_t n,
                          const uint8_t key[4]);

/** Close frame payload -> code: 1005 when empty, -EPROTO when 1 byte. */
int tg_bench_ws_close_code(const uint8_t *p, size_t n);

/** Message-level decoder: reassembles fragmented messages. Zero-init, then _free. */
typedef struct tg_bench_ws_dec {
    uint8_t *frag;      /* payload of a fragmented message so far (heap, owned) */
    size_t frag_len, frag_cap;
    uint8_t frag_op;    /* opcode of the message being reassembled, 0 = none */
    unsigned frag_frames; /* frames carrying it so far */
    uint64_t max_msg;   /* limit on frames and reassembled messages; 0 = 16 MiB */
} tg_bench_ws_dec_t;

/** Callbacks of tg_bench_ws_decode; payloads are unmasked, valid only during the call. */
typedef struct tg_bench_ws_cb {
    /** A complete text or binary message; `frames` is how many frames carried it. */
    void (*on_data)(void *ctx, int opcode, uint8_t *p, size_t n, unsigned frames);
    /** Ping, pong or close. Return nonzero to stop decoding (e.g. after a close). */
    int (*on_control)(void *ctx, int opcode, uint8_t *p, size_t n);
} tg_bench_ws_cb_t;

/**
 * Decode whole frames from buf[0..len) (unmasking masked ones in place).
 * Returns the bytes consumed; the rest is an incomplete frame, and *need is
 * then the total bytes that frame needs (or its minimum header size), so the
 * caller can size its carry-over buffer. Negative errno on a protocol error
 * (-EPROTO, -EMSGSIZE, -ENOMEM); the connection should then be failed.
 */
ssize_t tg_bench_ws_decode(tg_bench_ws_dec_t *d, uint8_t *buf, size_t len, size_t *need,
                           const tg_bench_ws_cb_t *cb, void *ctx);

/** Free the reassembly buffer; accepts NULL. */
void tg_bench_ws_dec_free(tg_bench_ws_dec_t *d);

/**
 * Build the HTTP upgrade request for GET `target` (path + query) on
 * `host_hdr` with the 16-byte nonce; `protocol` may be NULL. Writes the
 * expected Sec-WebSocket-Accept (28 chars + NUL) to accept_out. Returns the
 * request length or -ENOSPC.
 */
ssize_t tg_bench_ws_request(char *out, size_t cap, const char *host_hdr, const char *target,
                            const char *protocol, const uint8_t nonce[16], char accept_out[29]);

/**
 * Check an upgrade response in buf[0..len). Returns the header length
 * (through the blank line) when it is a valid 101 with the expected accept
 * value, 0 when incomplete, -EPROTO when malformed or the accept value is
 * wrong, -ECONNREFUSED for any other status (then *status holds it), -E2BIG
 * past 16 KiB. *status gets the HTTP status when parsed. When `protocol_out`
 * is non-NULL it receives the Sec-WebSocket-Protocol value (or "").
 */
int tg_bench_ws_response(const char *buf, size_t len, const char *accept, int *status,
                         char *protocol_out, size_t protocol_cap);

#endif
