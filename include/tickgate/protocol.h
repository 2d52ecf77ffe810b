/* protocol.h - client -> server messages of the WebSocket protocol v1 (SPEC §5).
 *
 * tg_proto_parse() turns one client frame (JSON text, or MessagePack which is
 * first converted to JSON so both encodings share one set of rules) into a
 * tg_cmsg_t. Malformed input of any kind yields -EINVAL with an error code
 * (`bad_request`, `unknown_channel`, ...) and a human message ready to send back;
 * it never crashes and bounds all allocation by the frame size.
 * Pure functions, any thread.
 */
#ifndef TICKGATE_PROTOCOL_H
#define TICKGATE_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tickgate/msg.h"

#define TG_KEY_MAX 63       /* longest channel key (symbol, portfolio id) */
#define TG_PROTO_MAX_KEYS 10000

typedef enum tg_cmsg_type {
    TG_CMSG_AUTH = 0,
    TG_CMSG_SUBSCRIBE,
    TG_CMSG_UNSUBSCRIBE,
    TG_CMSG_SNAPSHOT,
    TG_CMSG_PING,
} tg_cmsg_type_t;

/** The optional `id`, echoed verbatim: an integer or a string. */
typedef struct tg_cmsg_id {
    enum { TG_ID_NONE = 0, TG_ID_INT, TG_ID_STR } kind;
    int64_t i;
    char s[65];
} tg_cmsg_id_t;

typedef struct tg_since {
    char key[TG_KEY_MAX + 1];
    uint64_t seq;
} tg_since_t;

/** Most final bars a `bars` subscribe may ask for with "history" (SPEC §12). */
#define TG_PROTO_MAX_BAR_HISTORY 1000

typedef struct tg_cmsg {
    tg_cmsg_type_t type;
    tg_cmsg_id_t id;
    tg_channel_t channel;
    uint8_t interval;             /* bars: tg_bar_iv_t ("1m" when absent) */
    uint32_t history;             /* bars subscribe: final bars to send first (0..1000) */
    char (*keys)[TG_KEY_MAX + 1]; /* symbols / portfolio_ids, heap */
    size_t nkeys;
    bool has_since;
    char epoch[33];
    tg_since_t *since;            /* heap */
    size_t nsince;
    uint32_t max_hz;              /* subscribe: at most N per second per key, 0 = every update */
    char *token;                  /* auth: heap copy */
} tg_cmsg_t;

typedef struct tg_proto_err {
    const char *code;             /* SPEC §5 error code */
    char message[160];
} tg_proto_err_t;

/**
 * Parse one client message. `binary` selects MessagePack. On success fills *m
 * (free with tg_cmsg_free) and returns 0; on error returns -EINVAL and fills
 * *err (m->id is still filled when it could be read, so the reply can echo it).
 */
int tg_proto_parse(const void *data, size_t len, bool binary, tg_cmsg_t *m, tg_proto_err_t *err);
void tg_cmsg_free(tg_cmsg_t *m);

/**
 * MessagePack -> JSON text, for client frames (strings escaped, ints exact,
 * floats printed %.17g, depth <= 32). Returns 0, -EINVAL or -ENOSPC.
 * *out is malloc'd (caller frees).
 */
int tg_msgpack_to_json(const void *data, size_t len, char **out, size_t *outlen);

/** Name of a channel ("market_data", ...). */
const char *tg_channel_name(tg_channel_t c);

/** Symbol syntax: 1..31 bytes of [A-Za-z0-9._:/^=-]. */
bool tg_symbol_valid(const char *s, size_t len);

#endif
