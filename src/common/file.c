/* file.c - tg_file_read (see file.h). */
#include "tickgate/file.h"

#include "tickgate/buf.h"

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
    tg_buf_t b = {0};
    int rc = 0;
    for (;;) {
        if (!tg_buf_reserve(&b, 4096)) {
            rc = -ENOMEM;
            goto fail_free;
        }
        size_t r = fread(b.p + b.len, 1, b.cap - b.len - 1, f);
        b.len += r;
        if (r == 0) {
            if (ferror(f)) {
                rc = errno ? -errno : -EIO;
                goto fail_free;
            }
            break;
        }
        if (b.len > max_bytes) {
            rc = -EFBIG;
            goto fail_free;
        }
    }
    fclose(f);
    b.p[b.len] = 0;
    *len = b.len;
    *out = b.p;
    return 0;
fail_free:
    tg_buf_free(&b);
    fclose(f);
    return rc;
}
