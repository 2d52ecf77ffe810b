/* fuzz_bus_entry.c - libFuzzer target for the cluster bus entry decoder
 * (bytes read from Redis: untrusted). Whatever it accepts must re-encode
 * (the input may use other integer or string widths than the encoder) and
 * decode again to the same entry, field by field. */
#include <msgpack.h>
#include <stdint.h>
#include <string.h>

#include "tickgate/bus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tg_bus_entry_t e, f;
    if (tg_bus_entry_decode(data, size, &e) != 0)
        return 0;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (tg_bus_entry_encode(e.msg, e.epoch, e.no, &sb) != 0)
        __builtin_trap();
    if (tg_bus_entry_decode(sb.data, sb.size, &f) != 0)
        __builtin_trap();
    const tg_msg_t *a = e.msg, *b = f.msg;
    if (strcmp(e.epoch, f.epoch) != 0 || e.no != f.no || a->type != b->type ||
        a->channel != b->channel || a->key != b->key || a->aux != b->aux || a->seq != b->seq ||
        a->ts != b->ts || strcmp(a->key_name, b->key_name) != 0 || a->json_len != b->json_len ||
        a->mp_len != b->mp_len || a->acl_len != b->acl_len ||
        memcmp(a->json, b->json, a->json_len) != 0 || memcmp(a->mp, b->mp, a->mp_len) != 0 ||
        memcmp(a->acl, b->acl, a->acl_len) != 0)
        __builtin_trap();
    tg_msg_unref(e.msg);
    tg_msg_unref(f.msg);
    msgpack_sbuffer_destroy(&sb);
    return 0;
}
