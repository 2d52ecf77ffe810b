/* buf.h - the one growable byte buffer, and capacity growth for typed arrays.
 *
 * Every place that builds text or bytes of unknown length (COPY lines, the
 * metrics exposition, whole files) appends to a tg_buf_t; every growable array
 * grows through tg_vec_reserve. One doubling policy, one overflow check, one
 * out-of-memory behaviour: a failed allocation sets b->err and later appends
 * are ignored, so a caller appends freely and checks once at the end.
 *
 * Threads: a buffer belongs to one thread at a time; nothing here is shared.
 */
#ifndef TICKGATE_BUF_H
#define TICKGATE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tg_buf {
    char *p;        /* NUL-terminated after every successful append; NULL before the first */
    size_t len;     /* bytes in use, not counting the NUL */
    size_t cap;     /* bytes allocated */
    bool err;       /* an allocation failed: the contents are incomplete */
} tg_buf_t;

#define TG_BUF_MIN 256 /* first allocation, bytes */

/** Room for `more` bytes past len plus the NUL. false (and b->err) on ENOMEM or overflow. */
bool tg_buf_reserve(tg_buf_t *b, size_t more);
/** Append n bytes (may contain NULs); keeps p NUL-terminated. */
void tg_buf_put(tg_buf_t *b, const void *s, size_t n);
/** Append a C string. */
void tg_buf_puts(tg_buf_t *b, const char *s);
/** Append one byte. */
void tg_buf_putc(tg_buf_t *b, char c);
/** Append printf-formatted text. */
__attribute__((format(printf, 2, 3))) void tg_buf_printf(tg_buf_t *b, const char *fmt, ...);
/** Empty the buffer, keeping its memory (and clearing err). */
void tg_buf_reset(tg_buf_t *b);
/** Free the memory; b is empty afterwards. NULL is fine. */
void tg_buf_free(tg_buf_t *b);
/**
 * Hand the bytes to the caller (free() them); b is empty afterwards. Returns
 * NULL when b->err is set (and frees what there was) or nothing was appended.
 */
char *tg_buf_steal(tg_buf_t *b, size_t *len);

/**
 * Grow the array *vp (elements of `elem` bytes, capacity *cap elements) to
 * hold at least `need` elements: capacity doubles, starting at `min_cap`;
 * elements past the old capacity are zeroed. On failure (-ENOMEM, or
 * -EOVERFLOW when the byte size does not fit size_t) *vp and *cap are
 * unchanged. 0 when nothing had to grow. `vp` is the address of the pointer.
 */
int tg_vec_reserve(void *vp, size_t elem, size_t *cap, size_t need, size_t min_cap);

/** The same for arrays whose capacity is a uint32_t (-EOVERFLOW past UINT32_MAX elements). */
int tg_vec_reserve32(void *vp, size_t elem, uint32_t *cap, size_t need, uint32_t min_cap);

#endif
