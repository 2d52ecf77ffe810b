/* journal_read.c - tick journal: resynchronizing reader, last quotes.
 *
 * Reader: a sliding window over one segment at a time; anything that does not
 * parse as magic + sane length + matching CRC32C + valid payload starts a
 * corrupt region (logged once), and the reader scans forward byte by byte for
 * the next valid record. A record is accepted only with a matching CRC, so a
 * false resync needs a 1-in-2^32 coincidence on top of the magic and length.
 */
#include "journal_format.h"

/* ---- reader --------------------------------------------------------------- */

#define RBUF_SIZE (1u << 20)

struct tg_journal_reader {
    char *dir;
    int dirfd;
    seg_file_t *segs;
    size_t nsegs, next;

    int fd;                       /* current segment, -1 = none */
    char name[NAME_LEN + 1];
    unsigned char *buf;           /* window: buf[0] is file offset `base` */
    size_t len, pos;
    int64_t base;
    bool eof;
    bool in_corrupt;              /* the current bad region is already reported */
    uint64_t corrupt;
};

static void corrupt_report(tg_journal_reader_t *r, int64_t off, const char *reason)
{
    if (r->in_corrupt)
        return;
    r->in_corrupt = true;
    r->corrupt++;
    TG_WARN("journal_corrupt", "dir", TG_S(r->dir), "file", TG_S(r->name), "offset", TG_I(off),
            "reason", TG_S(reason));
}

/* Make at least `need` bytes available at pos unless the file ends first. */
static int rd_fill(tg_journal_reader_t *r, size_t need)
{
    while (r->len - r->pos < need && !r->eof) {
        if (r->pos > 0) {
            memmove(r->buf, r->buf + r->pos, r->len - r->pos);
            r->base += (int64_t)r->pos;
            r->len -= r->pos;
            r->pos = 0;
        }
        ssize_t n = read(r->fd, r->buf + r->len, RBUF_SIZE - r->len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            r->eof = true;
        r->len += (size_t)n;
    }
    return 0;
}

static void rd_close_seg(tg_journal_reader_t *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    r->len = r->pos = 0;
    r->base = 0;
    r->eof = false;
    r->in_corrupt = false;
}

/* Open the next segment and validate its header. Returns 1 when a segment is
 * ready, 0 when it was skipped, negative errno on an I/O error. */
static int rd_open_seg(tg_journal_reader_t *r)
{
    tg__journal_seg_name(r->name, sizeof r->name, r->segs[r->next++].id);
    r->fd = openat(r->dirfd, r->name, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        if (errno == ENOENT)
            return 0; /* deleted by max_bytes since we listed it */
        return -errno;
    }
    posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    int ret = rd_fill(r, SEG_HDR_LEN);
    if (ret < 0)
        return ret;

    const unsigned char *h = r->buf;
    const char *bad = NULL;
    if (r->len < SEG_HDR_LEN)
        bad = r->len == 0 ? "empty_segment" : "short_header";
    else if (memcmp(h, SEG_MAGIC, 8) != 0)
        bad = "bad_magic";
    else if (get16(h + 8) != SEG_VERSION || get16(h + 10) != SEG_HDR_LEN)
        bad = "unsupported_version";
    if (bad) {
        corrupt_report(r, 0, bad);
        rd_close_seg(r);
        return 0;
    }
    unsigned char tmp[SEG_HDR_LEN];
    memcpy(tmp, h, SEG_HDR_LEN);
    memset(tmp + 12, 0, 4);
    if (tg_crc32c(0, tmp, SEG_HDR_LEN) != get32(h + 12))
        corrupt_report(r, 0, "bad_header_crc"); /* magic matches: still try the records */
    r->pos = SEG_HDR_LEN;
    return 1;
}

int tg_journal_read(tg_journal_reader_t *r, tg_tick_t *out)
{
    if (!r || !out)
        return -EINVAL;
    for (;;) {
        if (r->fd < 0) {
            if (r->next >= r->nsegs)
                return 0;
            int ret = rd_open_seg(r);
            if (ret < 0)
                return ret;
            continue;
        }
        int ret = rd_fill(r, REC_HDR_LEN);
        if (ret < 0)
            return ret;
        size_t avail = r->len - r->pos;
        int64_t off = r->base + (int64_t)r->pos;
        if (avail == 0) {
            rd_close_seg(r);
            continue;
        }
        if (avail < REC_HDR_LEN) {
            corrupt_report(r, off, "truncated");
            rd_close_seg(r);
            continue;
        }
        const unsigned char *p = r->buf + r->pos;
        size_t plen = get16(p + 2);
        if (get16(p) != REC_MAGIC || plen < REC_MIN_PAYLOAD || plen > REC_MAX_PAYLOAD) {
            corrupt_report(r, off, "bad_record_header");
            r->pos++;
            continue;
        }
        ret = rd_fill(r, REC_HDR_LEN + plen);
        if (ret < 0)
            return ret;
        p = r->buf + r->pos; /* rd_fill may have moved the window */
        if (r->len - r->pos < REC_HDR_LEN + plen) {
            /* Torn tail, or a corrupt length: keep scanning in case it is the latter. */
            corrupt_report(r, off, "truncated");
            r->pos++;
            continue;
        }
        if (tg_crc32c(0, p + REC_HDR_LEN, plen) != get32(p + 4)) {
            corrupt_report(r, off, "crc_mismatch");
            r->pos++;
            continue;
        }
        if (tg__journal_rec_decode(p + REC_HDR_LEN, plen, out) < 0) {
            corrupt_report(r, off, "bad_payload");
            r->pos++;
            continue;
        }
        r->pos += REC_HDR_LEN + plen;
        r->in_corrupt = false;
        return 1;
    }
}

/* Open a reader over the segments of dir, skipping the oldest ones until at
 * most `tail_bytes` remain (0 = all), always keeping at least `min_segs`. */
static int reader_open(tg_journal_reader_t **out, const char *dir, int64_t tail_bytes,
                       size_t min_segs)
{
    int ret;

    if (!out || !dir)
        return -EINVAL;
    *out = NULL;
    tg_journal_reader_t *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->fd = -1;
    r->dir = strdup(dir);
    r->buf = malloc(RBUF_SIZE);
    if (!r->dir || !r->buf) {
        ret = -ENOMEM;
        goto fail_free;
    }
    r->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (r->dirfd < 0) {
        ret = -errno;
        goto fail_free;
    }
    ret = tg__journal_seg_list(r->dirfd, &r->segs, &r->nsegs);
    if (ret < 0)
        goto fail_close_dir;
    if (tail_bytes > 0) {
        int64_t sum = 0;
        size_t k = r->nsegs;
        while (k > 0 && (sum < tail_bytes || r->nsegs - k < min_segs)) {
            k--;
            sum += r->segs[k].size;
        }
        r->next = k;
    }
    *out = r;
    return 0;

fail_close_dir:
    close(r->dirfd);
fail_free:
    free(r->buf);
    free(r->dir);
    free(r);
    return ret;
}

int tg_journal_reader_open(tg_journal_reader_t **out, const char *dir)
{
    return reader_open(out, dir, 0, 0);
}

int tg_journal_reader_open_from(tg_journal_reader_t **out, const char *dir, int64_t from_ns)
{
    int ret = reader_open(out, dir, 0, 0);
    if (ret < 0 || from_ns <= 0)
        return ret;
    tg_journal_reader_t *r = *out;
    const int64_t margin = 1000000000LL;
    /* segment k ends before segment k+1 starts, whose number >= its first ts */
    size_t k = 0;
    while (k + 1 < r->nsegs && (int64_t)r->segs[k + 1].id <= from_ns - margin)
        k++;
    r->next = k;
    return 0;
}

uint64_t tg_journal_reader_corrupt(const tg_journal_reader_t *r)
{
    return r ? r->corrupt : 0;
}

void tg_journal_reader_close(tg_journal_reader_t *r)
{
    if (!r)
        return;
    rd_close_seg(r);
    close(r->dirfd);
    free(r->segs);
    free(r->buf);
    free(r->dir);
    free(r);
}

/* ---- last quotes ---------------------------------------------------------- */

/* Open-addressing map symbol -> last tick; an empty slot has symbol[0] == 0
 * (journaled symbols are never empty: tg__journal_rec_decode keeps them NUL-free and
 * validation rejects empty ones, but an empty one is skipped here anyway). */
typedef struct quote_map {
    tg_tick_t *v;
    size_t cap, n;
} quote_map_t;

static uint64_t sym_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static tg_tick_t *qm_slot(tg_tick_t *v, size_t cap, const char *sym)
{
    size_t i = sym_hash(sym) & (cap - 1);
    while (v[i].symbol[0] && strcmp(v[i].symbol, sym) != 0)
        i = (i + 1) & (cap - 1);
    return &v[i];
}

static int qm_put(quote_map_t *m, const tg_tick_t *t)
{
    if (!t->symbol[0])
        return 0;
    if ((m->n + 1) * 2 > m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 1024;
        tg_tick_t *nv = calloc(nc, sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        for (size_t i = 0; i < m->cap; i++)
            if (m->v[i].symbol[0])
                *qm_slot(nv, nc, m->v[i].symbol) = m->v[i];
        free(m->v);
        m->v = nv;
        m->cap = nc;
    }
    tg_tick_t *s = qm_slot(m->v, m->cap, t->symbol);
    if (!s->symbol[0])
        m->n++;
    *s = *t;
    return 0;
}

int tg_journal_last_quotes(const char *dir, tg_journal_quote_cb cb, void *arg)
{
    tg_journal_reader_t *r;
    quote_map_t m = {0};
    tg_tick_t t;
    int ret;

    if (!dir || !cb)
        return -EINVAL;
    ret = reader_open(&r, dir, TG_JOURNAL_TAIL_SCAN_BYTES, 2);
    if (ret == -ENOENT)
        return 0;
    if (ret < 0)
        return ret;
    while ((ret = tg_journal_read(r, &t)) > 0)
        if ((ret = qm_put(&m, &t)) < 0)
            break;
    tg_journal_reader_close(r);
    if (ret == 0) {
        for (size_t i = 0; i < m.cap; i++)
            if (m.v[i].symbol[0])
                cb(&m.v[i], arg);
        ret = (int)m.n;
    }
    free(m.v);
    return ret;
}
