/* file.c - tg_file_read (see file.h). */
#include "tickgate/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int tg_file_read(const char *path, size_t max_bytes, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int rc = 0;
    if (!buf) {
        rc = -ENOMEM;
        goto fail_close;
    }
    for (;;) {
        if (n + 1 >= cap) {
            if (cap > max_bytes) {
                rc = -EFBIG;
                goto fail_free;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = -ENOMEM;
                goto fail_free;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) {
                rc = errno ? -errno : -EIO;
                goto fail_free;
            }
            break;
        }
        if (n > max_bytes) {
            rc = -EFBIG;
            goto fail_free;
        }
    }
    fclose(f);
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
fail_free:
    free(buf);
fail_close:
    fclose(f);
    return rc;
}
