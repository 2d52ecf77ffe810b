/* fuzz_daystate.c - libFuzzer target for the day-state file parser
 * (tickgate/daystate.h): any bytes, with a header that matches or not; the
 * input is copied to an exact-size heap buffer so ASan sees overruns. Each
 * delivered line must carry a NUL-terminated name of at least one byte.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tickgate/daystate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_q(void *arg, const char *symbol, tg_dec_t day_open, tg_dec_t volume)
{
    (void)arg;
    (void)day_open;
    (void)volume;
    if (!symbol[0])
        abort();
}

static void on_p(void *arg, const char *id, bool pending, tg_dec_t open, tg_dec_t cash,
                 tg_dec_t cost, uint32_t n)
{
    (void)arg;
    (void)pending;
    (void)open;
    (void)cash;
    (void)cost;
    (void)n;
    if (!id[0])
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    tg_daystate_cb_t cb = {.on_quote = on_q, .on_portfolio = on_p};
    /* the session start the corpus files name */
    int n = tg_daystate_parse(text, size, 1764806400000000000LL, &cb);
    if (n < 0 && n != -ESTALE)
        abort();
    free(text);
    return 0;
}
