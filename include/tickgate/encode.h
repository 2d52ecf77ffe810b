/* encode.h - write one message in JSON and MessagePack at the same time.
 *
 * A tg_enc_t writes the same map into a JSON buffer and a MessagePack buffer
 * in one pass, so each message type has one encoder function and the two
 * encodings cannot drift apart. Maps and arrays declare their size up front
 * (MessagePack needs it). Decimals print in the shortest exact JSON form and go
 * to MessagePack as float64 (SPEC §5 "Numbers"); ts/seq are integers.
 * Buffers are fixed (caller-provided); overflow sets enc->err and later calls do
 * nothing. Not thread-safe per object.
 */
#ifndef TICKGATE_ENCODE_H
#define TICKGATE_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tickgate/fixed.h"

typedef struct tg_enc {
    char *json;
    size_t jlen, jcap;
    unsigned char *mp;
    size_t mlen, mcap;
    int err;           /* -ENOSPC once a buffer overflowed */
    bool want_json, want_mp;
    /* JSON separator state per nesting level */
    uint8_t depth;
    uint8_t first[32];
} tg_enc_t;

void tg_enc_init(tg_enc_t *e, char *json, size_t jcap, unsigned char *mp, size_t mcap);
void tg_enc_map(tg_enc_t *e, uint32_t n);
void tg_enc_map_end(tg_enc_t *e);
void tg_enc_array(tg_enc_t *e, uint32_t n);
void tg_enc_array_end(tg_enc_t *e);
/** Object key; must be followed by exactly one value. */
void tg_enc_key(tg_enc_t *e, const char *k);
void tg_enc_str(tg_enc_t *e, const char *s, size_t len);
void tg_enc_cstr(tg_enc_t *e, const char *s);
void tg_enc_dec(tg_enc_t *e, tg_dec_t v);
void tg_enc_i64(tg_enc_t *e, int64_t v);
void tg_enc_u64(tg_enc_t *e, uint64_t v);
void tg_enc_bool(tg_enc_t *e, bool v);
void tg_enc_null(tg_enc_t *e);

/* key + value shorthands */
static inline void tg_enc_kv_str(tg_enc_t *e, const char *k, const char *s)
{
    tg_enc_key(e, k);
    tg_enc_cstr(e, s);
}
static inline void tg_enc_kv_dec(tg_enc_t *e, const char *k, tg_dec_t v)
{
    tg_enc_key(e, k);
    tg_enc_dec(e, v);
}
static inline void tg_enc_kv_i64(tg_enc_t *e, const char *k, int64_t v)
{
    tg_enc_key(e, k);
    tg_enc_i64(e, v);
}
static inline void tg_enc_kv_u64(tg_enc_t *e, const char *k, uint64_t v)
{
    tg_enc_key(e, k);
    tg_enc_u64(e, v);
}

/**
 * A copy of message m with one more trailing member `key`: v in both
 * encodings (m's JSON is an object, its MessagePack a fixmap or map16). The
 * splice belongs here, next to the encoder that knows both formats: callers
 * that need a per-user field (a notification's seq) never patch bytes.
 * Header fields and the reader list are copied from m; refs = 1. NULL when m
 * is not a map, the key is too long, or on ENOMEM. Any thread.
 */
struct tg_msg;
struct tg_msg *tg_enc_msg_add_u64(const struct tg_msg *m, const char *key, uint64_t v);

#endif
