/* journal_format.c - the on-disk format: record and segment header codec,
 * segment file names and directory listing (shared by writer and reader).
 */
#include "journal_format.h"
#include "tickgate/buf.h"

/* ---- record and header codec ---------------------------------------------- */

size_t tg__journal_rec_size(const tg_tick_t *t)
{
    return REC_HDR_LEN + REC_FIXED + strnlen(t->symbol, TG_SYMBOL_MAX);
}

/* Encode one tick at p (tg__journal_rec_size(t) bytes). The symbol length comes from the
 * NUL-terminated string, not t->sym_len, so a stale sym_len cannot corrupt. */
size_t tg__journal_rec_encode(unsigned char *p, const tg_tick_t *t)
{
    size_t sl = strnlen(t->symbol, TG_SYMBOL_MAX);
    unsigned char *q = p + REC_HDR_LEN;

    q[0] = REC_TYPE_TICK;
    q[1] = t->flags;
    put16(q + 2, t->feed);
    put64(q + 4, (uint64_t)t->ts);
    put64(q + 12, (uint64_t)t->src_ts);
    put64(q + 20, (uint64_t)t->price);
    put64(q + 28, (uint64_t)t->size);
    put64(q + 36, (uint64_t)t->bid);
    put64(q + 44, (uint64_t)t->ask);
    q[52] = (unsigned char)sl;
    memcpy(q + 53, t->symbol, sl);

    size_t plen = REC_FIXED + sl;
    put16(p, REC_MAGIC);
    put16(p + 2, (uint16_t)plen);
    put32(p + 4, tg_crc32c(0, q, plen));
    return REC_HDR_LEN + plen;
}

/* Decode a CRC-checked payload; -EINVAL when it is not a well-formed tick. */
int tg__journal_rec_decode(const unsigned char *q, size_t plen, tg_tick_t *t)
{
    if (plen < REC_FIXED || q[0] != REC_TYPE_TICK)
        return -EINVAL;
    size_t sl = q[52];
    if (sl > TG_SYMBOL_MAX || plen != REC_FIXED + sl || memchr(q + 53, 0, sl))
        return -EINVAL;
    memset(t, 0, sizeof(*t));
    t->flags = q[1];
    t->feed = get16(q + 2);
    t->ts = (int64_t)get64(q + 4);
    t->src_ts = (int64_t)get64(q + 12);
    t->price = (tg_dec_t)get64(q + 20);
    t->size = (tg_dec_t)get64(q + 28);
    t->bid = (tg_dec_t)get64(q + 36);
    t->ask = (tg_dec_t)get64(q + 44);
    t->sym_len = (uint8_t)sl;
    memcpy(t->symbol, q + 53, sl);
    return 0;
}

void tg__journal_seg_hdr_encode(unsigned char *p, uint64_t id)
{
    memset(p, 0, SEG_HDR_LEN);
    memcpy(p, SEG_MAGIC, 8);
    put16(p + 8, SEG_VERSION);
    put16(p + 10, SEG_HDR_LEN);
    put64(p + 16, id);
    /* bytes 24..31 reserved (zero): no wall-clock time in the header, so the
     * same ticks always produce the same bytes (io_uring vs fallback). */
    put32(p + 12, tg_crc32c(0, p, SEG_HDR_LEN));
}


/* journal-<20 digits>.tgj -> id; false for anything else (and for ids that do
 * not fit in 64 bits), so foreign files in the directory are left alone. */
static bool seg_name_parse(const char *name, uint64_t *id)
{
    const size_t pl = sizeof(NAME_PREFIX) - 1;

    if (strlen(name) != NAME_LEN || memcmp(name, NAME_PREFIX, pl) != 0 ||
        strcmp(name + pl + NAME_DIGITS, NAME_SUFFIX) != 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < NAME_DIGITS; i++) {
        char c = name[pl + i];
        if (c < '0' || c > '9')
            return false;
        if (v > (UINT64_MAX - (uint64_t)(c - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(c - '0');
    }
    *id = v;
    return true;
}

void tg__journal_seg_name(char *buf, size_t len, uint64_t id)
{
    snprintf(buf, len, NAME_PREFIX "%020llu" NAME_SUFFIX, (unsigned long long)id);
}

static int seg_file_cmp(const void *a, const void *b)
{
    const seg_file_t *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* List segments in dirfd, sorted by id. *out is malloc'ed (free it), maybe NULL
 * when *n == 0. */
int tg__journal_seg_list(int dirfd, seg_file_t **out, size_t *n)
{
    int fd = dup(dirfd);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = -errno;
        close(fd);
        return e;
    }
    rewinddir(d); /* the dup shares the offset with dirfd */

    seg_file_t *v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *de;
    int err = 0;
    while ((de = readdir(d)) != NULL) {
        uint64_t id;
        if (!seg_name_parse(de->d_name, &id))
            continue;
        struct stat st;
        if (fstatat(dirfd, de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (tg_vec_reserve(&v, sizeof *v, &cap, cnt + 1, 16)) {
            err = -ENOMEM;
            break;
        }
        v[cnt++] = (seg_file_t){id, (int64_t)st.st_size};
    }
    closedir(d);
    if (err) {
        free(v);
        return err;
    }
    if (cnt > 1)
        qsort(v, cnt, sizeof(*v), seg_file_cmp);
    *out = v;
    *n = cnt;
    return 0;
}
