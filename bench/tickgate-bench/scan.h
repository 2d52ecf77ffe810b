/* scan.h - pull type/key/ts/seq out of server messages without parsing them.
 *
 * The bench must not be the bottleneck at millions of messages per second, so
 * a JSON message is not parsed: we look for the few keys we need with
 * memchr/memmem (SIMD in glibc) and read their values in place. That is
 * correct for the flat messages tickgate sends (the first occurrence of
 * `"ts":` is the top-level one in every message type of SPEC §5; `src_ts`
 * does not match because the needle starts with the quote). MessagePack maps
 * are walked with a small hand decoder that reads only those keys and skips
 * every other value without allocating (msgpack_unpack_next would build a
 * zone-allocated object tree per map).
 */
#ifndef TG_BENCH_SCAN_H
#define TG_BENCH_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tg_bench_msg {
    const char *type;  /* not NUL-terminated; NULL when absent */
    uint32_t type_len;
    const char *key;   /* channel key: symbol, portfolio_id, ...; NULL when none */
    uint32_t key_len;
    bool has_ts, has_seq;
    int64_t ts;        /* ns since the epoch */
    uint64_t seq;
} tg_bench_msg_t;

/** Scan one JSON message p[0..n) (no newline inside). Returns 0, or -EINVAL when it has no type. */
int tg_bench_scan_json(const char *p, size_t n, tg_bench_msg_t *m);

/**
 * Scan one MessagePack map at the start of p[0..n). Returns the bytes the
 * map takes (so the next map of a batched frame starts there), or -EINVAL
 * when the data is not a complete map.
 */
long tg_bench_scan_msgpack(const uint8_t *p, size_t n, tg_bench_msg_t *m);

/** True when the message type equals the NUL-terminated string t. */
static inline bool tg_bench_msg_is(const tg_bench_msg_t *m, const char *t, size_t tl)
{
    return m->type && m->type_len == tl && __builtin_memcmp(m->type, t, tl) == 0;
}
#define TG_MSG_IS(m, lit) tg_bench_msg_is((m), (lit), sizeof(lit) - 1)

#endif
