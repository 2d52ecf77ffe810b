/* journal_write.c - tick journal writer: io_uring segment writer.
 *
 * Writer: records are packed into JNBUFS aligned 1 MiB buffers. A buffer is
 * submitted as one IORING_OP_WRITE when full, when it is older than
 * TG_JOURNAL_MAX_DELAY_MS, on rotation or on flush; the owner only blocks when
 * all buffers are in flight. Each buffer remembers its segment slot and file
 * offset, so writes may complete in any order. A segment that is no longer
 * current ("retiring") is fdatasync'ed (policy != none) and closed once its
 * last write completes, all without blocking the owner. Without io_uring the
 * same code paths call pwrite()/fdatasync() directly, producing the same bytes.
 *
 */
#include "wire/journal_format.h"
#include "tickgate/buf.h"

/* ---- writer --------------------------------------------------------------- */

enum {
    OP_WRITE = 1,
    OP_FSYNC_INTERVAL, /* periodic fdatasync of the current segment */
    OP_FSYNC_RETIRE,   /* last fdatasync of a retiring segment, then close */
    OP_FSYNC_DIR,      /* make a new segment's directory entry durable */
};

/* user_data: op in bits 0-7, segment slot in 8-15, buffer index in 16-23. */
static inline uint64_t ud_make(unsigned op, unsigned slot, unsigned buf)
{
    return (uint64_t)(op & 0xff) | (uint64_t)(slot & 0xff) << 8 | (uint64_t)(buf & 0xff) << 16;
}
static inline unsigned ud_op(uint64_t ud) { return ud & 0xff; }
static inline unsigned ud_slot(uint64_t ud) { return (ud >> 8) & 0xff; }
static inline unsigned ud_buf(uint64_t ud) { return (ud >> 16) & 0xff; }

typedef struct jbuf {
    unsigned char *data; /* JBUF_SIZE, 4 KiB aligned */
    size_t len;          /* bytes filled */
    size_t done;         /* bytes written so far (short writes resume here) */
    int64_t off;         /* file offset of data[0] */
    int slot;            /* segment slot the bytes belong to */
    int64_t first_mono;  /* when the first byte was buffered */
    bool busy;           /* a write is in flight */
} jbuf_t;

typedef struct jseg {
    int fd;        /* -1 = slot free */
    int inflight;  /* ops in flight on fd */
    bool retiring; /* no longer current: sync + close once idle */
    bool synced;   /* the retire fsync was issued */
    bool dirty;    /* writes completed since the last fdatasync */
} jseg_t;

struct tg_journal {
    char *dir;
    int dirfd;
    long long segment_bytes, max_bytes;
    tg_journal_fsync_t policy;
    int64_t fsync_interval_ns;

    bool uring;
    struct io_uring ring;
    int inflight; /* SQEs submitted and not yet reaped */

    jbuf_t bufs[JNBUFS];
    int cur; /* buffer being filled, -1 = none */

    jseg_t segs[JSLOTS];
    int cur_slot;   /* -1 until the first append (segments start lazily) */
    int64_t seg_off; /* bytes in the current segment, buffered ones included */
    uint64_t last_id;
    bool have_id;

    seg_file_t *files; /* segments on disk, oldest first; the last is current */
    size_t nfiles, capfiles;

    int64_t last_fsync_mono;
    bool interval_inflight;

    int err; /* first error since the last report */
    /* Written only by the owner, read by the metrics thread: relaxed atomics
     * (plain loads and stores on x86), bumped at most once per call. */
    _Atomic uint64_t bytes, errors;
};

int tg_journal_fsync_parse(const char *s, tg_journal_fsync_t *out)
{
    if (!s || !out)
        return -EINVAL;
    if (strcmp(s, "none") == 0)
        *out = TG_JOURNAL_FSYNC_NONE;
    else if (strcmp(s, "interval") == 0)
        *out = TG_JOURNAL_FSYNC_INTERVAL;
    else if (strcmp(s, "always") == 0)
        *out = TG_JOURNAL_FSYNC_ALWAYS;
    else
        return -EINVAL;
    return 0;
}

static void set_err(tg_journal_t *j, int err, const char *event, const char *what)
{
    atomic_store_explicit(&j->errors, atomic_load_explicit(&j->errors, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    if (!j->err)
        j->err = err;
    TG_ERROR(event, "dir", TG_S(j->dir), "op", TG_S(what), "error", TG_S(strerror(-err)));
}

static void add_bytes(tg_journal_t *j, uint64_t n)
{
    atomic_store_explicit(&j->bytes, atomic_load_explicit(&j->bytes, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static int take_err(tg_journal_t *j)
{
    int e = j->err;
    j->err = 0;
    return e;
}

/* Like the liburing examples: if the SQ is full, submit and try again. The
 * ring is sized so this does not happen, but it costs nothing to be safe. */
static struct io_uring_sqe *get_sqe(tg_journal_t *j)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&j->ring);
    if (!sqe) {
        io_uring_submit(&j->ring);
        sqe = io_uring_get_sqe(&j->ring);
    }
    return sqe;
}

static void slot_close(tg_journal_t *j, int slot)
{
    jseg_t *s = &j->segs[slot];
    if (s->fd >= 0)
        close(s->fd);
    *s = (jseg_t){.fd = -1};
}

static int submit_fsync(tg_journal_t *j, int fd, unsigned op, int slot, bool datasync)
{
    struct io_uring_sqe *sqe = get_sqe(j);
    if (!sqe)
        return -EBUSY;
    io_uring_prep_fsync(sqe, fd, datasync ? IORING_FSYNC_DATASYNC : 0);
    io_uring_sqe_set_data64(sqe, ud_make(op, (unsigned)slot, 0));
    j->inflight++;
    if (slot >= 0)
        j->segs[slot].inflight++;
    int ret = io_uring_submit(&j->ring);
    return ret < 0 ? ret : 0;
}

/* A retiring segment with nothing in flight: make it durable (per policy),
 * then close it. Called whenever one of its ops completes. */
static void maybe_retire(tg_journal_t *j, int slot)
{
    jseg_t *s = &j->segs[slot];

    if (!s->retiring || s->inflight > 0 || s->fd < 0)
        return;
    if (j->policy != TG_JOURNAL_FSYNC_NONE && !s->synced && s->dirty) {
        s->synced = true;
        if (j->uring) {
            int ret = submit_fsync(j, s->fd, OP_FSYNC_RETIRE, slot, true);
            if (ret == 0)
                return; /* closed on completion */
            set_err(j, ret, "journal_fsync_failed", "submit");
        } else if (fdatasync(s->fd) < 0) {
            set_err(j, -errno, "journal_fsync_failed", "fdatasync");
        }
    }
    slot_close(j, slot);
}

static void buf_release(jbuf_t *b)
{
    b->busy = false;
    b->len = 0;
    b->done = 0;
}

static int submit_write(tg_journal_t *j, int idx)
{
    jbuf_t *b = &j->bufs[idx];
    jseg_t *s = &j->segs[b->slot];
    struct io_uring_sqe *sqe = get_sqe(j);

    if (!sqe)
        return -EBUSY;
    io_uring_prep_write(sqe, s->fd, b->data + b->done, (unsigned)(b->len - b->done),
                        (uint64_t)(b->off + (int64_t)b->done));
    io_uring_sqe_set_data64(sqe, ud_make(OP_WRITE, (unsigned)b->slot, (unsigned)idx));
    /* Buffered file writes are otherwise done inline in io_uring_enter() when
     * they would not block, i.e. the owner would pay the page-cache copy of the
     * whole buffer itself. IOSQE_ASYNC hands it to an io-wq worker. */
    io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
    b->busy = true;
    s->inflight++;
    j->inflight++;
    int ret = io_uring_submit(&j->ring);
    return ret < 0 ? ret : 0;
}

/* Write buffer idx out: queued on the ring, or synchronously in fallback. */
static void buf_submit(tg_journal_t *j, int idx)
{
    jbuf_t *b = &j->bufs[idx];
    jseg_t *s = &j->segs[b->slot];

    if (j->cur == idx)
        j->cur = -1;
    if (b->len == 0)
        return;
    if (j->uring) {
        int ret = submit_write(j, idx);
        if (ret < 0) {
            /* The SQE may be queued already; if so its completion will
             * release the buffer. Otherwise the data is lost and reported. */
            if (!b->busy) {
                set_err(j, ret, "journal_write_failed", "submit");
                buf_release(b);
            }
        }
        return;
    }
    while (b->done < b->len) {
        ssize_t w = pwrite(s->fd, b->data + b->done, b->len - b->done, b->off + (off_t)b->done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            set_err(j, w < 0 ? -errno : -EIO, "journal_write_failed", "pwrite");
            break;
        }
        b->done += (size_t)w;
    }
    s->dirty = true;
    buf_release(b);
    maybe_retire(j, b->slot);
}

static void handle_cqe(tg_journal_t *j, uint64_t ud, int res)
{
    unsigned op = ud_op(ud);
    int slot = (int)ud_slot(ud);

    j->inflight--;
    if (op == OP_FSYNC_DIR) {
        if (res < 0)
            set_err(j, res, "journal_fsync_failed", "fsync_dir");
        return;
    }
    jseg_t *s = &j->segs[slot];
    s->inflight--;

    switch (op) {
    case OP_WRITE: {
        jbuf_t *b = &j->bufs[ud_buf(ud)];
        if (res == -EINTR || res == -EAGAIN) {
            res = 0; /* retry the same range below */
        } else if (res <= 0) {
            set_err(j, res < 0 ? res : -EIO, "journal_write_failed", "write");
            buf_release(b);
            break;
        }
        b->done += (size_t)res;
        s->dirty = true;
        if (b->done < b->len) {
            /* Short write (e.g. nearly full disk): resume where it stopped. */
            int ret = submit_write(j, (int)ud_buf(ud));
            if (ret == 0)
                return;
            set_err(j, ret, "journal_write_failed", "resubmit");
        }
        buf_release(b);
        break;
    }
    case OP_FSYNC_INTERVAL:
        j->interval_inflight = false;
        if (res < 0)
            set_err(j, res, "journal_fsync_failed", "fdatasync");
        break;
    case OP_FSYNC_RETIRE:
        if (res < 0)
            set_err(j, res, "journal_fsync_failed", "fdatasync");
        slot_close(j, slot);
        return;
    }
    maybe_retire(j, slot);
}

/* Reap what has completed; with `wait`, first block for at least one. */
static void reap(tg_journal_t *j, bool wait)
{
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;

    if (!j->uring || j->inflight == 0)
        return;
    if (wait) {
        int ret;
        /* submit_and_wait, not wait_cqe: an SQE left queued by a failed
         * io_uring_submit() would otherwise never complete. */
        do
            ret = io_uring_submit_and_wait(&j->ring, 1);
        while (ret == -EINTR);
        if (ret < 0) {
            set_err(j, ret, "journal_write_failed", "wait_cqe");
            return;
        }
    }
    /* Collect first, handle after advancing: handlers may submit new SQEs
     * but never touch the CQ, so this is only about keeping the loop simple. */
    struct {
        uint64_t ud;
        int res;
    } done[2 * RING_DEPTH];
    io_uring_for_each_cqe(&j->ring, head, cqe)
    {
        if (n == sizeof(done) / sizeof(done[0]))
            break;
        done[n].ud = io_uring_cqe_get_data64(cqe);
        done[n].res = cqe->res;
        n++;
    }
    io_uring_cq_advance(&j->ring, n);
    for (unsigned i = 0; i < n; i++)
        handle_cqe(j, done[i].ud, done[i].res);
}

static int free_buf(tg_journal_t *j)
{
    for (;;) {
        for (int i = 0; i < JNBUFS; i++)
            if (!j->bufs[i].busy && i != j->cur)
                return i;
        /* Backpressure: every buffer is in flight, wait for the disk. */
        reap(j, true);
    }
}

static int free_slot(tg_journal_t *j)
{
    for (;;) {
        for (int i = 0; i < JSLOTS; i++)
            if (j->segs[i].fd < 0)
                return i;
        if (!j->uring || j->inflight == 0)
            return -EMFILE; /* cannot happen: fallback closes synchronously */
        reap(j, true);
    }
}

static int files_push(tg_journal_t *j, uint64_t id)
{
    if (tg_vec_reserve(&j->files, sizeof *j->files, &j->capfiles, j->nfiles + 1, 16))
        return -ENOMEM;
    j->files[j->nfiles++] = (seg_file_t){id, 0};
    return 0;
}

/* Keep the journal within max_bytes, counting the current segment at its full
 * segment_bytes (so the disk never holds more than max_bytes once segments
 * fill up). The current segment is never deleted. */
static void enforce_max_bytes(tg_journal_t *j)
{
    if (j->max_bytes <= 0 || j->nfiles < 2)
        return;
    int64_t total = j->segment_bytes;
    for (size_t i = 0; i + 1 < j->nfiles; i++)
        total += j->files[i].size;
    size_t drop = 0;
    while (drop + 1 < j->nfiles && total > j->max_bytes) {
        char name[NAME_LEN + 1];
        tg__journal_seg_name(name, sizeof name, j->files[drop].id);
        /* Unlinking a file with writes still in flight is fine on Linux. */
        if (unlinkat(j->dirfd, name, 0) < 0 && errno != ENOENT)
            TG_WARN("journal_delete_failed", "file", TG_S(name), "error", TG_S(strerror(errno)));
        total -= j->files[drop].size;
        drop++;
    }
    if (drop) {
        memmove(j->files, j->files + drop, (j->nfiles - drop) * sizeof(*j->files));
        j->nfiles -= drop;
    }
}

/* Start a new segment named after ts (or the previous id + 1 when that is
 * larger, so names always sort in write order). The header goes through the
 * same buffers as records, so it is written in order with them. */
static int rotate(tg_journal_t *j, int64_t ts)
{
    if (j->cur >= 0)
        buf_submit(j, j->cur);
    if (j->cur_slot >= 0) {
        j->segs[j->cur_slot].retiring = true;
        if (j->nfiles)
            j->files[j->nfiles - 1].size = j->seg_off;
        maybe_retire(j, j->cur_slot);
        j->cur_slot = -1;
    }

    int slot = free_slot(j);
    if (slot < 0)
        return slot;

    uint64_t id = ts > 0 ? (uint64_t)ts : 0;
    if (j->have_id && id <= j->last_id)
        id = j->last_id + 1;
    char name[NAME_LEN + 1];
    int fd = -1;
    for (int tries = 0; tries < 64; tries++, id++) {
        tg__journal_seg_name(name, sizeof name, id);
        fd = openat(j->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0 || errno != EEXIST)
            break;
    }
    if (fd < 0) {
        int e = -errno;
        set_err(j, e, "journal_write_failed", "create_segment");
        take_err(j);
        return e;
    }
    int ret = files_push(j, id);
    if (ret < 0) {
        close(fd);
        unlinkat(j->dirfd, name, 0);
        return ret;
    }
    j->last_id = id;
    j->have_id = true;
    j->segs[slot] = (jseg_t){.fd = fd};
    j->cur_slot = slot;
    j->seg_off = 0;

    if (j->policy != TG_JOURNAL_FSYNC_NONE) {
        if (j->uring)
            ret = submit_fsync(j, j->dirfd, OP_FSYNC_DIR, -1, false);
        else
            ret = fsync(j->dirfd) < 0 ? -errno : 0;
        if (ret < 0)
            set_err(j, ret, "journal_fsync_failed", "fsync_dir");
    }
    enforce_max_bytes(j);

    int idx = free_buf(j);
    jbuf_t *b = &j->bufs[idx];
    b->len = 0;
    b->done = 0;
    b->off = 0;
    b->slot = slot;
    b->first_mono = tg_mono_ns();
    tg__journal_seg_hdr_encode(b->data, id);
    b->len = SEG_HDR_LEN;
    j->cur = idx;
    j->seg_off = SEG_HDR_LEN;
    add_bytes(j, SEG_HDR_LEN);
    return 0;
}

/* Submit an aged buffer and start the interval fdatasync when due. */
static void housekeep(tg_journal_t *j, int64_t now)
{
    if (j->cur >= 0 && j->bufs[j->cur].len > 0 &&
        now - j->bufs[j->cur].first_mono >= TG_JOURNAL_MAX_DELAY_MS * 1000000LL)
        buf_submit(j, j->cur);

    if (j->policy != TG_JOURNAL_FSYNC_INTERVAL || j->cur_slot < 0)
        return;
    jseg_t *s = &j->segs[j->cur_slot];
    if (!s->dirty || j->interval_inflight || now - j->last_fsync_mono < j->fsync_interval_ns)
        return;
    j->last_fsync_mono = now;
    s->dirty = false;
    if (j->uring) {
        /* Covers the writes completed so far; later ones go to the next one.
         * No IOSQE_IO_DRAIN: it would stall the writes queued behind it. */
        int ret = submit_fsync(j, s->fd, OP_FSYNC_INTERVAL, j->cur_slot, true);
        if (ret < 0)
            set_err(j, ret, "journal_fsync_failed", "submit");
        else
            j->interval_inflight = true;
    } else if (fdatasync(s->fd) < 0) {
        set_err(j, -errno, "journal_fsync_failed", "fdatasync");
    }
}

int tg_journal_append(tg_journal_t *j, const tg_tick_t *ticks, size_t n)
{
    uint64_t added = 0;

    if (!j || (!ticks && n))
        return -EINVAL;
    reap(j, false);
    for (size_t i = 0; i < n; i++) {
        const tg_tick_t *t = &ticks[i];
        size_t len = tg__journal_rec_size(t);

        if (j->cur_slot < 0 ||
            (j->seg_off + (int64_t)len > j->segment_bytes && j->seg_off > SEG_HDR_LEN)) {
            int ret = rotate(j, t->ts);
            if (ret < 0) {
                add_bytes(j, added);
                return ret;
            }
        }
        if (j->cur < 0 || j->bufs[j->cur].len + len > JBUF_SIZE) {
            if (j->cur >= 0)
                buf_submit(j, j->cur);
            int idx = free_buf(j);
            jbuf_t *b = &j->bufs[idx];
            b->len = 0;
            b->done = 0;
            b->off = j->seg_off;
            b->slot = j->cur_slot;
            b->first_mono = tg_mono_ns();
            j->cur = idx;
        }
        jbuf_t *b = &j->bufs[j->cur];
        tg__journal_rec_encode(b->data + b->len, t);
        b->len += len;
        j->seg_off += (int64_t)len;
        added += len;
    }
    add_bytes(j, added);
    housekeep(j, tg_mono_ns());
    return take_err(j);
}

int tg_journal_poll(tg_journal_t *j)
{
    if (!j)
        return -EINVAL;
    reap(j, false);
    housekeep(j, tg_mono_ns());
    return take_err(j);
}

/* Submit the partial buffer and wait until nothing is in flight. */
static void drain(tg_journal_t *j)
{
    if (j->cur >= 0)
        buf_submit(j, j->cur);
    while (j->uring && j->inflight > 0)
        reap(j, true);
}

static void sync_current(tg_journal_t *j)
{
    if (j->cur_slot < 0 || !j->segs[j->cur_slot].dirty)
        return;
    jseg_t *s = &j->segs[j->cur_slot];
    s->dirty = false;
    j->last_fsync_mono = tg_mono_ns();
    if (j->uring) {
        int ret = submit_fsync(j, s->fd, OP_FSYNC_INTERVAL, j->cur_slot, true);
        if (ret < 0) {
            set_err(j, ret, "journal_fsync_failed", "submit");
            return;
        }
        j->interval_inflight = true;
        while (j->inflight > 0)
            reap(j, true);
    } else if (fdatasync(s->fd) < 0) {
        set_err(j, -errno, "journal_fsync_failed", "fdatasync");
    }
}

int tg_journal_flush(tg_journal_t *j)
{
    if (!j)
        return -EINVAL;
    drain(j);
    if (j->policy == TG_JOURNAL_FSYNC_ALWAYS)
        sync_current(j);
    return take_err(j);
}

int tg_journal_close(tg_journal_t *j)
{
    if (!j)
        return 0;
    drain(j);
    /* A graceful stop makes everything durable unless the policy is none. */
    if (j->policy != TG_JOURNAL_FSYNC_NONE)
        sync_current(j);
    if (j->nfiles && j->cur_slot >= 0)
        j->files[j->nfiles - 1].size = j->seg_off;
    for (int i = 0; i < JSLOTS; i++)
        slot_close(j, i);
    int ret = take_err(j);
    if (j->uring)
        io_uring_queue_exit(&j->ring);
    for (int i = 0; i < JNBUFS; i++)
        free(j->bufs[i].data);
    free(j->files);
    close(j->dirfd);
    free(j->dir);
    free(j);
    return ret;
}

bool tg_journal_uring_enabled(const tg_journal_t *j)
{
    return j && j->uring;
}

uint64_t tg_journal_bytes(const tg_journal_t *j)
{
    return j ? atomic_load_explicit(&j->bytes, memory_order_relaxed) : 0;
}

uint64_t tg_journal_errors(const tg_journal_t *j)
{
    return j ? atomic_load_explicit(&j->errors, memory_order_relaxed) : 0;
}

int tg_journal_open(tg_journal_t **out, const char *dir, long long segment_bytes,
                    long long max_bytes, tg_journal_fsync_t fsync_policy, int fsync_interval_ms,
                    bool io_uring)
{
    int ret;

    if (!out || !dir || !*dir || segment_bytes < TG_JOURNAL_MIN_SEGMENT || max_bytes < 0 ||
        fsync_policy > TG_JOURNAL_FSYNC_ALWAYS || fsync_interval_ms < 0)
        return -EINVAL;
    *out = NULL;

    tg_journal_t *j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    j->dirfd = -1;
    j->cur = -1;
    j->cur_slot = -1;
    for (int i = 0; i < JSLOTS; i++)
        j->segs[i].fd = -1;
    j->segment_bytes = segment_bytes;
    j->max_bytes = max_bytes;
    j->policy = fsync_policy;
    j->fsync_interval_ns = (int64_t)fsync_interval_ms * 1000000;
    j->last_fsync_mono = tg_mono_ns();

    j->dir = strdup(dir);
    if (!j->dir) {
        ret = -ENOMEM;
        goto fail_free;
    }
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        ret = -errno;
        goto fail_free;
    }
    j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (j->dirfd < 0) {
        ret = -errno;
        goto fail_free;
    }
    for (int i = 0; i < JNBUFS; i++) {
        /* 4 KiB alignment: page-aligned buffers copy fastest into the page
         * cache and would allow O_DIRECT later without a format change. */
        ret = -posix_memalign((void **)&j->bufs[i].data, 4096, JBUF_SIZE);
        if (ret) {
            j->bufs[i].data = NULL;
            goto fail_close_dir;
        }
    }
    ret = tg__journal_seg_list(j->dirfd, &j->files, &j->nfiles);
    if (ret < 0)
        goto fail_close_dir;
    /* Segments shorter than a header hold no records: left by a crash right
     * after a rotation. Remove them so every later read does not report them. */
    for (size_t i = 0; i < j->nfiles;) {
        char name[NAME_LEN + 1];
        tg__journal_seg_name(name, sizeof name, j->files[i].id);
        if (j->files[i].size < SEG_HDR_LEN && unlinkat(j->dirfd, name, 0) == 0) {
            TG_INFO("journal_empty_segment_removed", "dir", TG_S(dir), "file", TG_S(name));
            memmove(j->files + i, j->files + i + 1, (j->nfiles - i - 1) * sizeof(*j->files));
            j->nfiles--;
            continue;
        }
        i++;
    }
    j->capfiles = j->nfiles;
    if (j->nfiles) {
        j->last_id = j->files[j->nfiles - 1].id;
        j->have_id = true;
    }

    const char *why = "disabled by server.disable_io_uring";
    if (io_uring) {
        ret = io_uring_queue_init(RING_DEPTH, &j->ring, 0);
        if (ret == 0)
            j->uring = true;
        else
            why = strerror(-ret);
    }
    if (!j->uring)
        TG_WARN("io_uring_unavailable", "component", TG_S("journal"), "reason", TG_S(why));
    *out = j;
    return 0;

fail_close_dir:
    close(j->dirfd);
fail_free:
    for (int i = 0; i < JNBUFS; i++)
        free(j->bufs[i].data);
    free(j->files);
    free(j->dir);
    free(j);
    return ret;
}
