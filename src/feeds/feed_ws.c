/* feed_ws.c - the `ws` feed (SPEC §3). Placeholder until the adapter lands:
 * init refuses, so a config naming this type fails at startup as before. */
#include <errno.h>

#include "tickgate/feed.h"

static int ws_init(tg_feed_t *f)
{
    (void)f;
    return -ENOTSUP;
}

static int ws_run(tg_feed_t *f)
{
    (void)f;
    return -ENOTSUP;
}

static void ws_destroy(tg_feed_t *f)
{
    (void)f;
}

const tg_feed_ops_t tg_feed_ws_ops = {
    .type = "ws",
    .init = ws_init,
    .run = ws_run,
    .destroy = ws_destroy,
};
