/* fuzz_formats.c - libFuzzer target for the provider format parsers.
 *
 * The first byte picks the format (modulo the registry size), the rest is the
 * message. Checks the parse() contract: a negative result makes no callbacks,
 * otherwise the result equals the number of callbacks; every tick's symbol is
 * NUL-terminated with sym_len matching, and ts is the time passed in.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tickgate/feed_format.h"

#define NOW 1763800000000000000LL

typedef struct {
    tg_format_sink_t sink;
    int calls;
} fz_t;

static void on_tick(tg_format_sink_t *s, const tg_tick_t *t)
{
    ((fz_t *)s)->calls++;
    if (t->symbol[t->sym_len] != '\0' || strlen(t->symbol) != t->sym_len || t->ts != NOW ||
        !(t->flags & (TG_TICK_TRADE | TG_TICK_QUOTE)))
        abort();
}

static void on_control(tg_format_sink_t *s, tg_format_ctl_t kind, const char *text, size_t len)
{
    ((fz_t *)s)->calls++;
    volatile char sink = 0;
    for (size_t i = 0; i < len; i++) /* the slice must be readable */
        sink ^= text[i];
    (void)sink;
    if (kind < TG_FORMAT_CTL_HEARTBEAT || kind > TG_FORMAT_CTL_UNKNOWN)
        abort();
}

static void on_error(tg_format_sink_t *s, int err)
{
    ((fz_t *)s)->calls++;
    if (err >= 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fz_t fz; /* scratch parser reused across runs, as in a feed thread */
    size_t nfmt = 0;
    while (tg_format_at(nfmt))
        nfmt++;
    if (size < 1 || nfmt == 0)
        return 0;
    const tg_format_ops_t *ops = tg_format_at(data[0] % nfmt);
    fz.sink.on_tick = on_tick;
    fz.sink.on_control = on_control;
    fz.sink.on_error = on_error;
    fz.calls = 0;
    /* copy so ASan sees the exact message bounds */
    char *msg = malloc(size - 1 ? size - 1 : 1);
    memcpy(msg, data + 1, size - 1);
    int rc = ops->parse(msg, size - 1, NOW, &fz.sink);
    free(msg);
    if (rc < 0 ? fz.calls != 0 : rc != fz.calls)
        abort();
    return 0;
}
