/* test_bench_ws.c - tickgate-bench's WebSocket client framing and handshake:
 * masking, fragmentation, control frames between fragments, close codes,
 * truncated and oversized headers, RFC 6455's own examples. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem in ws.c; CMake defines it tree-wide */
#endif
#include "tg_test.h"

#include "../../../bench/tickgate-bench/ws.c"

#include <errno.h>

typedef struct rec {
    int ndata, nctl;
    int op;
    unsigned frames;
    char data[70000];
    size_t len;
    int ctl_op[8];
    char ctl[8][128];
    size_t ctl_len[8];
    int stop_on_close;
} rec_t;

static rec_t R;

static void on_data_cb(void *ctx, int opcode, uint8_t *p, size_t n, unsigned frames)
{
    rec_t *r = ctx;
    r->ndata++;
    r->op = opcode;
    r->frames = frames;
    memcpy(r->data, p, n < sizeof(r->data) ? n : sizeof(r->data));
    r->len = n;
}

static int on_control_cb(void *ctx, int opcode, uint8_t *p, size_t n)
{
    rec_t *r = ctx;
    if (r->nctl < 8) {
        r->ctl_op[r->nctl] = opcode;
        memcpy(r->ctl[r->nctl], p, n);
        r->ctl_len[r->nctl] = n;
    }
    r->nctl++;
    return opcode == TG_WS_OP_CLOSE && r->stop_on_close;
}

static const tg_bench_ws_cb_t CB = {on_data_cb, on_control_cb};

static ssize_t decode(tg_bench_ws_dec_t *d, const void *bytes, size_t n, size_t *need)
{
    static uint8_t buf[1 << 17];
    memcpy(buf, bytes, n);
    return tg_bench_ws_decode(d, buf, n, need, &CB, &R);
}

TG_TEST(rfc6455_single_frame_unmasked_text)
{
    static const uint8_t f[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
    tg_bench_ws_dec_t d = {0};
    size_t need;
    memset(&R, 0, sizeof(R));
    TG_CHECK_EQ_INT(decode(&d, f, sizeof(f), &need), sizeof(f));
    TG_CHECK_EQ_INT(R.ndata, 1);
    TG_CHECK_EQ_INT(R.op, TG_WS_OP_TEXT);
    TG_CHECK_EQ_INT(R.len, 5);
    TG_CHECK(memcmp(R.data, "Hello", 5) == 0);
    TG_CHECK_EQ_INT(need, 0);
    tg_bench_ws_dec_free(&d);
}

TG_TEST(rfc6455_masked_frame_is_unmasked_and_build_masks_like_the_rfc)
{
    /* RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d */
    static const uint8_t f[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    uint8_t out[32];
    TG_CHECK_EQ_INT(tg_bench_ws_build(out, sizeof(out), TG_WS_OP_TEXT, "Hello", 5, key), 11);
    TG_CHECK(memcmp(out, f, sizeof(f)) == 0);
    TG_CHECK_EQ_INT(tg_bench_ws_build(out, 10, TG_WS_OP_TEXT, "Hello", 5, key), -ENOSPC);

    tg_bench_ws_dec_t d = {0};
    size_t need;
    memset(&R, 0, sizeof(R));
    TG_CHECK_EQ_INT(decode(&d, f, sizeof(f), &need), sizeof(f));
    TG_CHECK_EQ_INT(R.ndata, 1);
    TG_CHECK(R.len == 5 && memcmp(R.data, "Hello", 5) == 0);
    tg_bench_ws_dec_free(&d);
}

TG_TEST(build_then_parse_roundtrips_every_length_encoding)
{
    static uint8_t payload[70000], frame[70100];
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 7 + 3);
    static const size_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 69999};
    static const uint8_t key[4] = {1, 2, 3, 0xff};
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        size_t n = lens[k];
        ssize_t fl = tg_bench_ws_build(frame, sizeof(frame), TG_WS_OP_BINARY, payload, n, key);
        size_t hl = 2 + 4 + (n < 126 ? 0 : n <= 0xffff ? 2 : 8);
        TG_CHECK_EQ_INT(fl, hl + n);
        tg_bench_ws_frame_t f;
        TG_CHECK_EQ_INT(tg_bench_ws_parse_header(frame, (size_t)fl, 1 << 20, &f), hl);
        TG_CHECK(f.fin && f.masked && f.opcode == TG_WS_OP_BINARY && f.payload_len == n);
        tg_bench_ws_dec_t d = {0};
        size_t need;
        memset(&R, 0, sizeof(R));
        TG_CHECK_EQ_INT(decode(&d, frame, (size_t)fl, &need), fl);
        TG_CHECK(R.ndata == 1 && R.len == n && memcmp(R.data, payload, n) == 0);
        tg_bench_ws_dec_free(&d);
    }
}

TG_TEST(fragmented_message_with_ping_between_fragments)
{
    /* RFC 6455 §5.6 fragments "Hel" + "lo", with a ping in the middle (§5.4) */
    static const uint8_t f[] = {0x01, 0x03, 'H', 'e', 'l', 0x89, 0x02, 'h', 'i',
                                0x80, 0x02, 'l', 'o'};
    tg_bench_ws_dec_t d = {0};
    size_t need;
    memset(&R, 0, sizeof(R));
    TG_CHECK_EQ_INT(decode(&d, f, sizeof(f), &need), sizeof(f));
    TG_CHECK_EQ_INT(R.ndata, 1);
    TG_CHECK_EQ_INT(R.op, TG_WS_OP_TEXT);
    TG_CHECK_EQ_INT(R.frames, 2);
    TG_CHECK(R.len == 5 && memcmp(R.data, "Hello", 5) == 0);
    TG_CHECK_EQ_INT(R.nctl, 1);
    TG_CHECK_EQ_INT(R.ctl_op[0], TG_WS_OP_PING);
    TG_CHECK(R.ctl_len[0] == 2 && memcmp(R.ctl[0], "hi", 2) == 0);

    /* the same split over two decode calls (fragment state survives) */
    memset(&R, 0, sizeof(R));
    TG_CHECK_EQ_INT(decode(&d, f, 5, &need), 5);
    TG_CHECK_EQ_INT(R.ndata, 0);
    TG_CHECK_EQ_INT(decode(&d, f + 5, sizeof(f) - 5, &need), sizeof(f) - 5);
    TG_CHECK(R.ndata == 1 && R.len == 5 && memcmp(R.data, "Hello", 5) == 0);
    tg_bench_ws_dec_free(&d);
}

TG_TEST(byte_by_byte_delivery_reports_what_is_needed)
{
    static uint8_t frame[300];
    frame[0] = 0x81;
    frame[1] = 126;
    frame[2] = 0;
    frame[3] = 200;
    memset(frame + 4, 'x', 200);
    tg_bench_ws_dec_t d = {0};
    size_t need;
    memset(&R, 0, sizeof(R));
    TG_CHECK_EQ_INT(decode(&d, frame, 1, &need), 0);
    TG_CHECK_EQ_INT(need, 2);
    TG_CHECK_EQ_INT(decode(&d, frame, 3, &need), 0);
    TG_CHECK_EQ_INT(need, 4); /* 16-bit length: header is 4 bytes */
    TG_CHECK_EQ_INT(decode(&d, frame, 4, &need), 0);
    TG_CHECK_EQ_INT(need, 204);
    TG_CHECK_EQ_INT(decode(&d, frame, 203, &need), 0);
    TG_CHECK_EQ_INT(R.ndata, 0);
    TG_CHECK_EQ_INT(decode(&d, frame, 204, &need), 204);
    TG_CHECK_EQ_INT(R.ndata, 1);
    TG_CHECK_EQ_INT(R.len, 200);
    /* 64-bit length header, truncated */
    static const uint8_t h64[] = {0x82, 127, 0, 0, 0};
    TG_CHECK_EQ_INT(decode(&d, h64, sizeof(h64), &need), 0);
    TG_CHECK_EQ_INT(need, 10);
    /* a whole frame followed by a partial one: only the first is consumed */
    static const uint8_t two[] = {0x81, 0x01, 'a', 0x81, 0x03, 'b'};
    memset(&R, 0, sizeof(R));
    TG_CHECK_EQ_INT(decode(&d, two, sizeof(two), &need), 3);
    TG_CHECK_EQ_INT(need, 5);
    TG_CHECK_EQ_INT(R.ndata, 1);
    tg_bench_ws_dec_free(&d);
}

TG_TEST(protocol_errors_and_oversized_headers)
{
    tg_bench_ws_dec_t d = {.max_msg = 1000};
    size_t need;
    tg_bench_ws_frame_t f;
    static const uint8_t rsv[] = {0xc1, 0x00};             /* RSV1 without an extension */
    static const uint8_t badop[] = {0x83, 0x00};           /* reserved opcode 3 */
    static const uint8_t fragctl[] = {0x09, 0x00};         /* ping without FIN */
    static const uint8_t bigctl[] = {0x89, 126, 0, 200};   /* control frame > 125 */
    static const uint8_t msb[] = {0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1}; /* top bit set */
    static const uint8_t huge[] = {0x82, 127, 0, 0, 0, 1, 0, 0, 0, 0};   /* 4 GiB > max */
    static const uint8_t over[] = {0x82, 126, 0x03, 0xe9};                /* 1001 > 1000 */
    static const uint8_t cont[] = {0x80, 0x01, 'x'};       /* continuation without start */
    static const uint8_t twostart[] = {0x01, 0x01, 'a', 0x01, 0x01, 'b'};
    memset(&R, 0, sizeof(R));
    TG_CHECK_EQ_INT(decode(&d, rsv, sizeof(rsv), &need), -EPROTO);
    TG_CHECK_EQ_INT(decode(&d, badop, sizeof(badop), &need), -EPROTO);
    TG_CHECK_EQ_INT(decode(&d, fragctl, sizeof(fragctl), &need), -EPROTO);
    TG_CHECK_EQ_INT(decode(&d, bigctl, sizeof(bigctl), &need), -EPROTO);
    TG_CHECK_EQ_INT(decode(&d, msb, sizeof(msb), &need), -EPROTO);
    TG_CHECK_EQ_INT(decode(&d, huge, sizeof(huge), &need), -EMSGSIZE);
    TG_CHECK_EQ_INT(decode(&d, over, sizeof(over), &need), -EMSGSIZE);
    TG_CHECK_EQ_INT(tg_bench_ws_parse_header(over, sizeof(over), 1001, &f), 4);
    TG_CHECK_EQ_INT(decode(&d, cont, sizeof(cont), &need), -EPROTO);
    TG_CHECK_EQ_INT(decode(&d, twostart, sizeof(twostart), &need), -EPROTO);
    tg_bench_ws_dec_free(&d);

    /* a fragmented message may not grow past the limit either */
    tg_bench_ws_dec_t d2 = {.max_msg = 4};
    static const uint8_t grow[] = {0x01, 0x03, 'a', 'b', 'c', 0x80, 0x03, 'd', 'e', 'f'};
    TG_CHECK_EQ_INT(decode(&d2, grow, sizeof(grow), &need), -EMSGSIZE);
    tg_bench_ws_dec_free(&d2);
    tg_bench_ws_dec_free(NULL);
}

TG_TEST(close_codes)
{
    static const uint8_t c4008[] = {0x88, 0x02, 0x0f, 0xa8, 0x81, 0x01, 'z'};
    tg_bench_ws_dec_t d = {0};
    size_t need;
    memset(&R, 0, sizeof(R));
    R.stop_on_close = 1;
    /* decoding stops at the close: the trailing frame is not consumed */
    TG_CHECK_EQ_INT(decode(&d, c4008, sizeof(c4008), &need), 4);
    TG_CHECK_EQ_INT(R.nctl, 1);
    TG_CHECK_EQ_INT(R.ndata, 0);
    TG_CHECK_EQ_INT(tg_bench_ws_close_code((uint8_t *)R.ctl[0], R.ctl_len[0]), 4008);
    static const uint8_t c1008[] = {0x03, 0xf0, 'p', 'o', 'l'};
    TG_CHECK_EQ_INT(tg_bench_ws_close_code(c1008, sizeof(c1008)), 1008);
    TG_CHECK_EQ_INT(tg_bench_ws_close_code(c1008, 0), TG_WS_CLOSE_NO_STATUS);
    TG_CHECK_EQ_INT(tg_bench_ws_close_code(c1008, 1), -EPROTO);
    /* our own close frame: masked, 2-byte code */
    uint8_t out[16];
    static const uint8_t key[4] = {9, 8, 7, 6};
    uint8_t code[2] = {0x03, 0xe8};
    TG_CHECK_EQ_INT(tg_bench_ws_build(out, sizeof(out), TG_WS_OP_CLOSE, code, 2, key), 8);
    TG_CHECK_EQ_INT(out[0], 0x88);
    TG_CHECK_EQ_INT(out[1], 0x82);
    tg_bench_ws_mask(out + 6, 2, key, 0);
    TG_CHECK_EQ_INT(tg_bench_ws_close_code(out + 6, 2), 1000);
    tg_bench_ws_dec_free(&d);
}

TG_TEST(handshake_request_and_rfc_accept_value)
{
    /* RFC 6455 §1.3: key "dGhlIHNhbXBsZSBub25jZQ==" is base64 of "the sample nonce" */
    char req[1024], accept[29];
    ssize_t n = tg_bench_ws_request(req, sizeof(req), "127.0.0.1:8080", "/ws?token=abc",
                                    "tickgate.msgpack.v1", (const uint8_t *)"the sample nonce",
                                    accept);
    TG_CHECK(n > 0);
    TG_CHECK_EQ_STR(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    TG_CHECK(strstr(req, "GET /ws?token=abc HTTP/1.1\r\n") == req);
    TG_CHECK(strstr(req, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n") != NULL);
    TG_CHECK(strstr(req, "Sec-WebSocket-Protocol: tickgate.msgpack.v1\r\n") != NULL);
    TG_CHECK(strstr(req, "Host: 127.0.0.1:8080\r\n") != NULL);
    TG_CHECK(n >= 4 && memcmp(req + n - 4, "\r\n\r\n", 4) == 0);
    TG_CHECK_EQ_INT(tg_bench_ws_request(req, 40, "h", "/ws", NULL,
                                        (const uint8_t *)"the sample nonce", accept),
                    -ENOSPC);
}

TG_TEST(handshake_response)
{
    const char *acc = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
    const char ok[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                      "Sec-WebSocket-Protocol: tickgate.msgpack.v1\r\n\r\n\x81\x01x";
    int status = 0;
    char proto[64];
    int h = tg_bench_ws_response(ok, sizeof(ok) - 1, acc, &status, proto, sizeof(proto));
    TG_CHECK_EQ_INT(h, sizeof(ok) - 1 - 3); /* the frame after the headers is not eaten */
    TG_CHECK_EQ_INT(status, 101);
    TG_CHECK_EQ_STR(proto, "tickgate.msgpack.v1");
    TG_CHECK_EQ_INT(tg_bench_ws_response(ok, 40, acc, &status, NULL, 0), 0); /* incomplete */
    TG_CHECK_EQ_INT(tg_bench_ws_response(ok, sizeof(ok) - 1, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                                         &status, NULL, 0),
                    -EPROTO);
    const char unauth[] = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n";
    status = 0;
    TG_CHECK_EQ_INT(tg_bench_ws_response(unauth, sizeof(unauth) - 1, acc, &status, NULL, 0),
                    -ECONNREFUSED);
    TG_CHECK_EQ_INT(status, 401);
    const char junk[] = "SSH-2.0-OpenSSH\r\n\r\n";
    TG_CHECK_EQ_INT(tg_bench_ws_response(junk, sizeof(junk) - 1, acc, &status, NULL, 0), -EPROTO);
    static char big[20000];
    memset(big, 'a', sizeof(big));
    TG_CHECK_EQ_INT(tg_bench_ws_response(big, sizeof(big), acc, &status, NULL, 0), -E2BIG);
}

int main(void)
{
    return tg_test_run();
}
