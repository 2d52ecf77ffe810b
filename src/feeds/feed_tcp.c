/* feed_tcp.c - the `tcp` feed (SPEC §3). Placeholder until the adapter lands:
 * init refuses, so a config naming this type fails at startup as before. */
#include <errno.h>

#include "tickgate/feed.h"

static int tcp_init(tg_feed_t *f)
{
    (void)f;
    return -ENOTSUP;
}

static int tcp_run(tg_feed_t *f)
{
    (void)f;
    return -ENOTSUP;
}

static void tcp_destroy(tg_feed_t *f)
{
    (void)f;
}

const tg_feed_ops_t tg_feed_tcp_ops = {
    .type = "tcp",
    .init = tcp_init,
    .run = tcp_run,
    .destroy = tcp_destroy,
};
