/* fuzz_redis_tick.c - libFuzzer target for the redis feed's tick decoder
 * (MessagePack map from another node: untrusted bytes). A decoded tick must
 * re-encode and decode to the same tick. */
#include <stdint.h>
#include <string.h>

#include "tickgate/redis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tg_tick_t t, u;
    char src[64];
    if (tg_redis_tick_decode(data, size, &t, src, sizeof src) != 0)
        return 0;
    unsigned char buf[TG_REDIS_TICK_MAX];
    size_t n = tg_redis_tick_encode(&t, src, buf, sizeof buf);
    if (n == 0)
        __builtin_trap();
    if (tg_redis_tick_decode(buf, n, &u, NULL, 0) != 0)
        __builtin_trap();
    if (u.price != t.price || u.bid != t.bid || u.ask != t.ask || u.ts != t.ts ||
        u.flags != t.flags || strcmp(u.symbol, t.symbol) != 0)
        __builtin_trap();
    return 0;
}
