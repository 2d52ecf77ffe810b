/* buf.c - the growable byte buffer and array growth (see buf.h). */
#include "tickgate/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tg_vec_reserve(void *vp, size_t elem, size_t *cap, size_t need, size_t min_cap)
{
    void **v = vp;
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : (min_cap ? min_cap : 1);
    while (nc < need) {
        if (nc > SIZE_MAX / 2)
            return -EOVERFLOW;
        nc *= 2;
    }
    if (elem && nc > SIZE_MAX / elem)
        return -EOVERFLOW;
    char *np = realloc(*v, nc * elem);
    if (!np)
        return -ENOMEM;
    memset(np + *cap * elem, 0, (nc - *cap) * elem);
    *v = np;
    *cap = nc;
    return 0;
}

int tg_vec_reserve32(void *vp, size_t elem, uint32_t *cap, size_t need, uint32_t min_cap)
{
    if (need <= *cap)
        return 0;
    if (need > UINT32_MAX)
        return -EOVERFLOW;
    size_t c = *cap;
    int rc = tg_vec_reserve(vp, elem, &c, need, min_cap);
    if (rc)
        return rc;
    if (c > UINT32_MAX) /* doubling past 2^32: keep what fits the field */
        c = UINT32_MAX;
    *cap = (uint32_t)c;
    return 0;
}

bool tg_buf_reserve(tg_buf_t *b, size_t more)
{
    if (b->err)
        return false;
    if (more > SIZE_MAX - 1 - b->len) {
        b->err = true;
        return false;
    }
    size_t need = b->len + more + 1;
    if (need <= b->cap)
        return true;
    /* bytes: no need to zero, but tg_vec_reserve's policy and checks are the point */
    if (tg_vec_reserve(&b->p, 1, &b->cap, need, TG_BUF_MIN) != 0) {
        b->err = true;
        return false;
    }
    return true;
}

void tg_buf_put(tg_buf_t *b, const void *s, size_t n)
{
    if (!tg_buf_reserve(b, n))
        return;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void tg_buf_puts(tg_buf_t *b, const char *s)
{
    tg_buf_put(b, s, strlen(s));
}

void tg_buf_putc(tg_buf_t *b, char c)
{
    tg_buf_put(b, &c, 1);
}

void tg_buf_printf(tg_buf_t *b, const char *fmt, ...)
{
    if (b->err)
        return;
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    int n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->err = true;
        return;
    }
    if ((size_t)n < room) {
        b->len += (size_t)n;
        return;
    }
    if (!tg_buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void tg_buf_reset(tg_buf_t *b)
{
    b->len = 0;
    b->err = false;
    if (b->p)
        b->p[0] = 0;
}

void tg_buf_free(tg_buf_t *b)
{
    if (!b)
        return;
    free(b->p);
    *b = (tg_buf_t){0};
}

char *tg_buf_steal(tg_buf_t *b, size_t *len)
{
    char *p = b->err ? NULL : b->p;
    if (len)
        *len = p ? b->len : 0;
    if (!p)
        free(b->p);
    *b = (tg_buf_t){0};
    return p;
}
