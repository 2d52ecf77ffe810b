/* redis_sync.h - a plain hiredis connection for a thread that polls it itself.
 *
 * The `redis` feed and the cluster bus each own one connection on their own
 * thread: connect with a deadline, AUTH and SELECT as redis.url says, then
 * pipeline commands and read replies when poll(2) says the socket is
 * readable. These helpers are that shared part (backoff: tickgate/backoff.h).
 */
#ifndef TICKGATE_REDIS_SYNC_H
#define TICKGATE_REDIS_SYNC_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "tickgate/redis.h"

/**
 * Connect to u within connect_ms, set command_ms as the socket timeout, send
 * AUTH / SELECT when u asks for them. Returns the context (caller frees with
 * redisFree) or NULL with *why set to a static reason.
 */
redisContext *tg_redis_sync_connect(const tg_redis_url_t *u, int connect_ms, int command_ms,
                                    const char **why);

/** Append one command (lens NULL: C strings) and write the output buffer out. 0 or -EIO. */
int tg_redis_sync_send(redisContext *c, int argc, const char **argv, const size_t *lens);

/** Write what hiredis has buffered (pipelined appends). 0 or -EIO. */
int tg_redis_sync_flush(redisContext *c);

/** One entry of an XREAD reply: its ID string and field/value array, both NULL
 * for an entry that is not shaped like one. */
typedef void (*tg_redis_entry_fn)(void *arg, const redisReply *id, const redisReply *fields);

/** Walk an XREAD reply (an array of [stream, entries] pairs): fn once per entry. */
void tg_redis_sync_xread_each(const redisReply *rep, tg_redis_entry_fn fn, void *arg);

#endif
