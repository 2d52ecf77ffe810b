/* redis_sync.c - connect/AUTH/SELECT, pipelined sends and XREAD replies for the
 * threads that poll their own hiredis connection (see redis_sync.h). */
#include "tickgate/redis_sync.h"

#include <errno.h>
#include <stdio.h>


static int expect_ok(redisContext *c, int argc, const char **argv)
{
    redisReply *rep = redisCommandArgv(c, argc, argv, NULL);
    int rc = rep && rep->type != REDIS_REPLY_ERROR ? 0 : -EIO;
    if (rep)
        freeReplyObject(rep);
    return rc;
}

redisContext *tg_redis_sync_connect(const tg_redis_url_t *u, int connect_ms, int command_ms,
                                    const char **why)
{
    struct timeval tv = {connect_ms / 1000, (connect_ms % 1000) * 1000L};
    redisContext *c = u->is_unix ? redisConnectUnixWithTimeout(u->path, tv)
                                 : redisConnectWithTimeout(u->host, u->port, tv);
    if (!c || c->err) {
        *why = "connect failed";
        goto fail;
    }
    /* AUTH/SELECT are quick; the deadline covers a server that accepts but hangs */
    tv = (struct timeval){command_ms / 1000, (command_ms % 1000) * 1000L};
    redisSetTimeout(c, tv);
    if (u->pass[0]) {
        const char *a3[3] = {"AUTH", u->user, u->pass};
        const char *a2[2] = {"AUTH", u->pass};
        if (u->user[0] ? expect_ok(c, 3, a3) : expect_ok(c, 2, a2)) {
            *why = "AUTH failed";
            goto fail;
        }
    }
    if (u->db) {
        char db[16];
        snprintf(db, sizeof db, "%d", u->db);
        const char *a[2] = {"SELECT", db};
        if (expect_ok(c, 2, a)) {
            *why = "SELECT failed";
            goto fail;
        }
    }
    return c;
fail:
    if (c)
        redisFree(c);
    return NULL;
}

int tg_redis_sync_flush(redisContext *c)
{
    int done = 0;
    while (!done)
        if (redisBufferWrite(c, &done) != REDIS_OK)
            return -EIO;
    return 0;
}

int tg_redis_sync_send(redisContext *c, int argc, const char **argv, const size_t *lens)
{
    if (redisAppendCommandArgv(c, argc, argv, lens) != REDIS_OK)
        return -EIO;
    return tg_redis_sync_flush(c);
}

void tg_redis_sync_xread_each(const redisReply *rep, tg_redis_entry_fn fn, void *arg)
{
    for (size_t s = 0; rep->type == REDIS_REPLY_ARRAY && s < rep->elements; s++) {
        const redisReply *st = rep->element[s];
        if (st->type != REDIS_REPLY_ARRAY || st->elements != 2 ||
            st->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        const redisReply *entries = st->element[1];
        for (size_t i = 0; i < entries->elements; i++) {
            const redisReply *en = entries->element[i];
            if (en->type != REDIS_REPLY_ARRAY || en->elements != 2 ||
                en->element[0]->type != REDIS_REPLY_STRING ||
                en->element[1]->type != REDIS_REPLY_ARRAY)
                fn(arg, NULL, NULL);
            else
                fn(arg, en->element[0], en->element[1]);
        }
    }
}
