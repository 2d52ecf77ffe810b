/* fuzz_config.c - libFuzzer driver: arbitrary bytes as a configuration file.
 *
 * Goes through tg_config_load_string() (the same parser, validation and
 * environment path as a file), then prints the result so the printer and the
 * secret masking run on whatever the parser accepted. It must never crash,
 * leak or write an error of more than one line.
 */
#include "tickgate/config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* libconfig 1.5 leaks the pending string token when a syntax error follows it
 * (input `""` leaks 1 byte, in its scanner's strbuf_append); not ours to fix. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libconfig.so\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* @include would read arbitrary files (or block on /dev/stdin): out of scope */
    if (memmem(data, size, "@include", 8))
        return 0;
    static char *const envp[] = {"TICKGATE_FEEDS_PRIMARY_BREAKER_WINDOW=30",
                                 "TICKGATE_ENGINE_UNIVERSE=AAPL,MSFT", NULL};
    tg_config_t cfg;
    char err[256];
    int rc = tg_config_load_string(&cfg, (const char *)data, size, "fuzz", envp, err, sizeof err);
    if (rc == 0) {
        FILE *null = fopen("/dev/null", "w");
        if (null) {
            tg_config_print(&cfg, null);
            fclose(null);
        }
    } else if (strchr(err, '\n')) {
        __builtin_trap();
    }
    tg_config_free(&cfg);
    return 0;
}
