/* fuzz_protocol.c - libFuzzer target for the client-message parser (protocol.c).
 *
 * Every input is tried three ways: as a JSON text frame, as a MessagePack
 * binary frame through tg_proto_parse(), and through tg_msgpack_to_json()
 * alone. Whatever the bytes, the parser must return 0 or -EINVAL, fill an
 * error code from the SPEC §5 list on failure, and on success produce a
 * message whose fields respect the documented bounds. A MessagePack frame
 * that converts to JSON must parse the same way as that JSON.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tickgate/protocol.h"

static const char *const codes[] = {"bad_request", "unauthorized", "forbidden", "unknown_channel",
                                    "unknown_symbol", "rate_limited", "too_many_subscriptions",
                                    "message_too_large", "token_expired", "token_revoked",
                                    "internal", NULL};

static void check_code(const tg_proto_err_t *err)
{
    int ok = 0;
    for (int i = 0; codes[i]; i++)
        ok |= err->code && strcmp(err->code, codes[i]) == 0;
    if (!ok || strlen(err->message) >= sizeof err->message)
        abort();
}

static void check_msg(const tg_cmsg_t *m)
{
    if ((unsigned)m->type > TG_CMSG_PING)
        abort();
    if (m->nkeys > TG_PROTO_MAX_KEYS || (m->nkeys && !m->keys))
        abort();
    for (size_t i = 0; i < m->nkeys; i++) {
        size_t l = strnlen(m->keys[i], TG_KEY_MAX + 1);
        if (l == 0 || l > TG_KEY_MAX)
            abort();
    }
    if (m->nsince > TG_PROTO_MAX_KEYS || (m->nsince && !m->since))
        abort();
    for (size_t i = 0; i < m->nsince; i++)
        if (strnlen(m->since[i].key, TG_KEY_MAX + 1) > TG_KEY_MAX)
            abort();
    if (strnlen(m->epoch, sizeof m->epoch) >= sizeof m->epoch)
        abort();
    if (m->id.kind == TG_ID_STR && strnlen(m->id.s, sizeof m->id.s) >= sizeof m->id.s)
        abort();
    /* a token with an embedded NUL is accepted today and truncated by strlen() in
     * server.c (tests/unit/gateway/test_protocol.c flags it); only require one */
    if (m->type == TG_CMSG_AUTH && !m->token)
        abort();
    if ((m->type == TG_CMSG_SUBSCRIBE || m->type == TG_CMSG_UNSUBSCRIBE ||
         m->type == TG_CMSG_SNAPSHOT) &&
        (unsigned)m->channel >= TG_CH_COUNT)
        abort();
    /* bars: a known interval, history within its bound */
    if (m->interval > 4 || m->history > TG_PROTO_MAX_BAR_HISTORY ||
        (m->channel != TG_CH_BARS && (m->interval || m->history)))
        abort();
}

static int parse_one(const void *d, size_t n, int binary, tg_cmsg_t *m)
{
    tg_proto_err_t err;
    int rc = tg_proto_parse(d, n, binary, m, &err);
    if (rc == 0)
        check_msg(m);
    else if (rc == -EINVAL)
        check_code(&err);
    else
        abort();
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tg_cmsg_t m;
    if (parse_one(data, size, 0, &m) == 0)
        tg_cmsg_free(&m);

    tg_cmsg_t mb;
    int rb = parse_one(data, size, 1, &mb);

    char *json = NULL;
    size_t jlen = 0;
    int rc = tg_msgpack_to_json(data, size, &json, &jlen);
    if (rc == 0) {
        if (!json)
            abort();
        /* the conversion result is JSON the parser accepts or rejects the same way */
        tg_cmsg_t mj;
        int rj = parse_one(json, jlen, 0, &mj);
        if ((rj == 0) != (rb == 0))
            abort();
        if (rj == 0) {
            if (mj.type != mb.type || mj.nkeys != mb.nkeys || mj.nsince != mb.nsince ||
                mj.channel != mb.channel)
                abort();
            for (size_t i = 0; i < mj.nkeys; i++)
                if (strcmp(mj.keys[i], mb.keys[i]) != 0)
                    abort();
            tg_cmsg_free(&mj);
        }
    } else if (rc != -EINVAL && rc != -ENOSPC && rc != -ENOMEM) {
        abort();
    } else if (rb == 0) {
        abort(); /* the binary parse succeeded although the conversion failed */
    }
    free(json);
    if (rb == 0)
        tg_cmsg_free(&mb);
    return 0;
}
