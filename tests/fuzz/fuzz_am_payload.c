/* fuzz_am_payload.c - libFuzzer driver: arbitrary bytes as an alert body for
 * the Alertmanager payload builder (and the delivery id parser behind it).
 *
 * Whatever it is given, the builder must return an error or write valid,
 * NUL-terminated text within the buffer; never crash or read past the input.
 */
#include "tickgate/webhook.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[1024];
    char *copy = malloc(size ? size : 1); /* exact-size copy: ASan sees any overread */
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    int n = tg_webhook_am_payload(copy, size, 0, out, sizeof out);
    if (n >= 0 && ((size_t)n != strlen(out) || out[0] != '[' || out[n - 1] != ']'))
        abort();
    free(copy);
    return 0;
}
