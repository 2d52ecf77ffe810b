/* ws.c - RFC 6455 client framing and handshake for tickgate-bench (see ws.h).
 *
 * Lenient where leniency costs nothing (non-minimal length encodings, masked
 * server frames are unmasked), strict where a bug in the server under test
 * must show (reserved bits, bad opcodes, control frame rules, 64-bit length
 * with the top bit set, continuation without a start).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem; CMake defines it for the whole tree */
#endif
#include "ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_DEFAULT_MAX (16u << 20)
#define WS_MAX_RESPONSE 16384

int tg_bench_ws_parse_header(const uint8_t *p, size_t len, uint64_t max_payload,
                             tg_bench_ws_frame_t *f)
{
    f->hdr_len = 2;
    if (len < 2)
        return 0;
    uint8_t b0 = p[0], b1 = p[1];
    f->fin = b0 >> 7;
    f->opcode = b0 & 0x0f;
    f->masked = b1 >> 7;
    if (b0 & 0x70) /* RSV1-3: we negotiate no extension */
        return -EPROTO;
    switch (f->opcode) {
    case TG_WS_OP_CONT: case TG_WS_OP_TEXT: case TG_WS_OP_BINARY:
    case TG_WS_OP_CLOSE: case TG_WS_OP_PING: case TG_WS_OP_PONG:
        break;
    default:
        return -EPROTO;
    }
    uint64_t l = b1 & 0x7f;
    uint32_t h = 2;
    if (l == 126)
        h = 4;
    else if (l == 127)
        h = 10;
    if (f->masked)
        h += 4;
    f->hdr_len = h;
    if (len < h)
        return 0;
    if (l == 126) {
        l = (uint64_t)p[2] << 8 | p[3];
    } else if (l == 127) {
        l = 0;
        for (int i = 0; i < 8; i++)
            l = l << 8 | p[2 + i];
        if (l >> 63)
            return -EPROTO;
    }
    if (f->opcode >= TG_WS_OP_CLOSE && (!f->fin || l > 125))
        return -EPROTO;
    if (l > max_payload)
        return -EMSGSIZE;
    if (f->masked)
        memcpy(f->mask, p + h - 4, 4);
    f->payload_len = l;
    return (int)h;
}

void tg_bench_ws_mask(uint8_t *p, size_t n, const uint8_t key[4], size_t off)
{
    for (size_t i = 0; i < n; i++)
        p[i] ^= key[(i + off) & 3];
}

ssize_t tg_bench_ws_build(uint8_t *out, size_t cap, int opcode, const void *payload, size_t n,
                          const uint8_t key[4])
{
    size_t h = 2 + 4 + (n < 126 ? 0 : n <= 0xffff ? 2 : 8);
    if (cap < h + n)
        return -ENOSPC;
    out[0] = 0x80 | (uint8_t)(opcode & 0x0f);
    if (n < 126) {
        out[1] = 0x80 | (uint8_t)n;
    } else if (n <= 0xffff) {
        out[1] = 0x80 | 126;
        out[2] = (uint8_t)(n >> 8);
        out[3] = (uint8_t)n;
    } else {
        out[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
    }
    memcpy(out + h - 4, key, 4);
    if (n)
        memcpy(out + h, payload, n);
    tg_bench_ws_mask(out + h, n, key, 0);
    return (ssize_t)(h + n);
}

int tg_bench_ws_close_code(const uint8_t *p, size_t n)
{
    if (n == 0)
        return TG_WS_CLOSE_NO_STATUS;
    if (n == 1)
        return -EPROTO;
    return p[0] << 8 | p[1];
}

static int frag_append(tg_bench_ws_dec_t *d, const uint8_t *p, size_t n, uint64_t max)
{
    if (d->frag_len + n > max)
        return -EMSGSIZE;
    if (d->frag_len + n > d->frag_cap) {
        size_t cap = d->frag_cap ? d->frag_cap : 4096;
        while (cap < d->frag_len + n)
            cap *= 2;
        uint8_t *b = realloc(d->frag, cap);
        if (!b)
            return -ENOMEM;
        d->frag = b;
        d->frag_cap = cap;
    }
    memcpy(d->frag + d->frag_len, p, n);
    d->frag_len += n;
    return 0;
}

ssize_t tg_bench_ws_decode(tg_bench_ws_dec_t *d, uint8_t *buf, size_t len, size_t *need,
                           const tg_bench_ws_cb_t *cb, void *ctx)
{
    uint64_t max = d->max_msg ? d->max_msg : WS_DEFAULT_MAX;
    size_t off = 0;
    *need = 0;
    while (off < len) {
        tg_bench_ws_frame_t f;
        int h = tg_bench_ws_parse_header(buf + off, len - off, max, &f);
        if (h < 0)
            return h;
        if (h == 0) {
            *need = f.hdr_len;
            break;
        }
        if (len - off - (size_t)h < f.payload_len) {
            *need = (size_t)h + f.payload_len;
            break;
        }
        uint8_t *pl = buf + off + h;
        size_t n = (size_t)f.payload_len;
        if (f.masked)
            tg_bench_ws_mask(pl, n, f.mask, 0);
        off += (size_t)h + n;
        if (f.opcode >= TG_WS_OP_CLOSE) { /* control frames may sit between fragments */
            if (cb->on_control && cb->on_control(ctx, f.opcode, pl, n))
                return (ssize_t)off;
            continue;
        }
        if (f.opcode == TG_WS_OP_CONT) {
            if (!d->frag_op)
                return -EPROTO;
            int rc = frag_append(d, pl, n, max);
            if (rc < 0)
                return rc;
            d->frag_frames++;
            if (f.fin) {
                if (cb->on_data)
                    cb->on_data(ctx, d->frag_op, d->frag, d->frag_len, d->frag_frames);
                d->frag_op = 0;
                d->frag_len = 0;
                d->frag_frames = 0;
            }
            continue;
        }
        if (d->frag_op) /* a new data frame inside a fragmented message */
            return -EPROTO;
        if (f.fin) {
            if (cb->on_data)
                cb->on_data(ctx, f.opcode, pl, n, 1);
        } else {
            int rc = frag_append(d, pl, n, max);
            if (rc < 0)
                return rc;
            d->frag_op = f.opcode;
            d->frag_frames = 1;
        }
    }
    return (ssize_t)off;
}

void tg_bench_ws_dec_free(tg_bench_ws_dec_t *d)
{
    if (!d)
        return;
    free(d->frag);
    d->frag = NULL;
    d->frag_len = d->frag_cap = 0;
    d->frag_op = 0;
}

static void ws_accept_for(const char *key, char out[29])
{
    char buf[64];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int n = snprintf(buf, sizeof(buf), "%s" WS_GUID, key);
    EVP_Digest(buf, (size_t)n, md, &mdlen, EVP_sha1(), NULL);
    EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen); /* 20 bytes -> 28 chars + NUL */
}

ssize_t tg_bench_ws_request(char *out, size_t cap, const char *host_hdr, const char *target,
                            const char *protocol, const uint8_t nonce[16], char accept_out[29])
{
    char key[32];
    EVP_EncodeBlock((unsigned char *)key, nonce, 16); /* 24 chars */
    ws_accept_for(key, accept_out);
    int n = snprintf(out, cap,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s%s%s"
                     "User-Agent: tickgate-bench\r\n\r\n",
                     target, host_hdr, key, protocol ? "Sec-WebSocket-Protocol: " : "",
                     protocol ? protocol : "", protocol ? "\r\n" : "");
    if (n < 0 || (size_t)n >= cap)
        return -ENOSPC;
    return n;
}

/* Value of header `name` (case-insensitive) within hdr[0..len), trimmed; NULL if absent. */
static const char *hdr_value(const char *hdr, size_t len, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *end = hdr + len, *line = memchr(hdr, '\n', len); /* skip the status line */
    while (line && line + 1 < end) {
        line++;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol)
            eol = end;
        if ((size_t)(eol - line) > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
            const char *v = line + nl + 1, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        line = eol < end ? eol : NULL;
    }
    return NULL;
}

int tg_bench_ws_response(const char *buf, size_t len, const char *accept, int *status,
                         char *protocol_out, size_t protocol_cap)
{
    const char *e = memmem(buf, len, "\r\n\r\n", 4);
    if (!e)
        return len > WS_MAX_RESPONSE ? -E2BIG : 0;
    size_t hlen = (size_t)(e - buf) + 4;
    if (hlen < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ')
        return -EPROTO;
    int st = 0;
    for (int i = 9; i < 12; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return -EPROTO;
        st = st * 10 + (buf[i] - '0');
    }
    *status = st;
    if (st != 101)
        return -ECONNREFUSED;
    size_t vl;
    const char *v = hdr_value(buf, hlen, "Sec-WebSocket-Accept", &vl);
    if (!v || vl != strlen(accept) || memcmp(v, accept, vl) != 0)
        return -EPROTO;
    if (protocol_out && protocol_cap) {
        protocol_out[0] = 0;
        v = hdr_value(buf, hlen, "Sec-WebSocket-Protocol", &vl);
        if (v && vl < protocol_cap) {
            memcpy(protocol_out, v, vl);
            protocol_out[vl] = 0;
        }
    }
    return (int)hlen;
}
