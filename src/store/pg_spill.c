/* pg_spill.c - the backlog: in-memory segments of COPY lines, spilled to
 * journal.dir/pg-spill/ past postgres.max_buffer_rows, rescanned at start.
 */
#include "pg_int.h"

void tg__pg_update_backlog(tg_store_pg_t *pg)
{
    tg_gauge_set(pg->m_backlog, (int64_t)(pg->total_rows + pg->cur.rows));
}

int tg__pg_tag_index(char c)
{
    for (int i = 0; i < T_COUNT; i++)
        if (tags[i] == c)
            return i;
    return -1;
}

/* Append a ring row to the open segment as "<tag><COPY line>". */
void tg__pg_add_row(tg_store_pg_t *pg, tg_snap_row_t *r)
{
    int t = r->kind == TG_SNAP_QUOTE       ? T_Q
            : r->kind == TG_SNAP_PORTFOLIO ? T_P
            : r->kind == TG_SNAP_BAR ? T_B
            : r->kind == TG_SNAP_DAY_QUOTE || r->kind == TG_SNAP_DAY_PORTFOLIO ? T_D
            : r->kind == TG_SNAP_ALERT_FIRING ? T_A
            : r->kind == TG_SNAP_ALERT_ACK    ? T_K
                                              : T_R;
    const char *source = NULL;
    if (r->kind == TG_SNAP_QUOTE && r->q.source < pg->cfg->n_feeds)
        source = pg->cfg->feeds[r->q.source].name;
    size_t need = 1024;
    if (r->kind == TG_SNAP_PORTFOLIO && r->p.holdings)
        need += (size_t)r->p.holdings->json_len * 2;
    seg_t *s = &pg->cur;
    if (tg_vec_reserve(&s->data, 1, &s->cap, s->len + need + 1, 65536)) {
        TG_ERROR("snapshot_row_lost", "error", TG_S("out of memory"));
        goto out;
    }
    s->data[s->len] = tags[t];
    size_t n = tg_store_copy_line(r, source, s->data + s->len + 1, s->cap - s->len - 1);
    if (n) {
        s->len += n + 1;
        s->rows++;
        if (t >= T_A)
            s->alert_rows++;
    }
out:
    if (r->kind == TG_SNAP_PORTFOLIO)
        tg_msg_unref(r->p.holdings);
}

int tg__pg_spill_write(tg_store_pg_t *pg, seg_t *s)
{
    char path[4200], tmp[4210];
    if (!s->file_id)
        s->file_id = ++pg->next_file_id;
    snprintf(path, sizeof path, "%s/%016llu.rows", pg->spill_dir, (unsigned long long)s->file_id);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    size_t off = 0;
    while (off < s->len) {
        ssize_t w = write(fd, s->data + off, s->len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            close(fd);
            unlink(tmp);
            return e;
        }
        off += (size_t)w;
    }
    /* the spill exists so rows survive: make it durable before dropping memory */
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        int e = -errno;
        unlink(tmp);
        return e;
    }
    return 0;
}

int tg__pg_spill_load(tg_store_pg_t *pg, seg_t *s)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%016llu.rows", pg->spill_dir, (unsigned long long)s->file_id);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return -errno;
    }
    char *d = malloc((size_t)st.st_size + 1);
    if (!d) {
        close(fd);
        return -ENOMEM;
    }
    size_t off = 0;
    while (off < (size_t)st.st_size) {
        ssize_t r = read(fd, d + off, (size_t)st.st_size - off);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            break;
        }
        off += (size_t)r;
    }
    close(fd);
    /* a torn tail (crash while writing is impossible: tmp + rename) - keep whole lines */
    while (off > 0 && d[off - 1] != '\n')
        off--;
    s->data = d;
    s->len = off;
    s->cap = (size_t)st.st_size + 1;
    return 0;
}

void tg__pg_spill_unlink(tg_store_pg_t *pg, seg_t *s)
{
    if (!s->file_id)
        return;
    char path[4200];
    snprintf(path, sizeof path, "%s/%016llu.rows", pg->spill_dir, (unsigned long long)s->file_id);
    unlink(path);
    s->file_id = 0;
}

/* Without journal.dir: drop snapshot lines of the oldest segments, keep alert lines. */
static void drop_oldest(tg_store_pg_t *pg, uint64_t limit)
{
    for (seg_t *s = pg->head; s && pg->mem_rows > limit; s = s->next) {
        if (!s->data || s->rows == s->alert_rows)
            continue;
        size_t w = 0;
        uint32_t dropped = 0;
        for (size_t i = 0; i < s->len;) {
            char *nl = memchr(s->data + i, '\n', s->len - i);
            size_t l = nl ? (size_t)(nl - (s->data + i)) + 1 : s->len - i;
            int t = tg__pg_tag_index(s->data[i]);
            if (t >= T_A) {
                memmove(s->data + w, s->data + i, l);
                w += l;
            } else {
                dropped++;
            }
            i += l;
        }
        s->len = w;
        s->rows -= dropped;
        pg->mem_rows -= dropped;
        pg->total_rows -= dropped;
        tg_counter_add(pg->m_dropped, dropped);
    }
}

/* Close the open segment and append it to the FIFO (spilling when over budget). */
void tg__pg_seal(tg_store_pg_t *pg)
{
    if (!pg->cur.rows)
        return;
    seg_t *s = malloc(sizeof *s);
    if (!s)
        return; /* keep it open; retried next time */
    *s = pg->cur;
    s->next = NULL;
    memset(&pg->cur, 0, sizeof pg->cur);
    uint64_t max = (uint64_t)pg->cfg->postgres.max_buffer_rows;
    pg->total_rows += s->rows;
    if (pg->mem_rows + s->rows > max && pg->spill_dir[0] && tg__pg_spill_write(pg, s) == 0) {
        free(s->data);
        s->data = NULL;
        s->cap = 0;
    } else {
        pg->mem_rows += s->rows;
    }
    if (pg->tail)
        pg->tail->next = s;
    else
        pg->head = s;
    pg->tail = s;
    if (pg->mem_rows > max)
        drop_oldest(pg, max);
    tg__pg_update_backlog(pg);
}

void tg__pg_seg_free(seg_t *s)
{
    free(s->data);
    free(s);
}

/* Existing spill files (an outage that outlived the previous run) go first. */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void tg__pg_spill_scan(tg_store_pg_t *pg)
{
    DIR *d = opendir(pg->spill_dir);
    if (!d)
        return;
    uint64_t *ids = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        unsigned long long id;
        char tail[16];
        if (sscanf(de->d_name, "%llu.%15s", &id, tail) != 2 || strcmp(tail, "rows") != 0 || !id)
            continue;
        if (tg_vec_reserve(&ids, sizeof *ids, &cap, n + 1, 64))
            break;
        ids[n++] = id;
    }
    closedir(d);
    if (n)
        qsort(ids, n, sizeof *ids, cmp_u64);
    for (size_t i = 0; i < n; i++) {
        seg_t *s = calloc(1, sizeof *s);
        if (!s)
            break;
        s->file_id = ids[i];
        if (tg__pg_spill_load(pg, s) != 0) {
            free(s);
            continue;
        }
        for (size_t k = 0; k < s->len; k++)
            if (s->data[k] == '\n')
                s->rows++;
        free(s->data); /* counted; read again when its turn comes */
        s->data = NULL;
        s->len = s->cap = 0;
        pg->total_rows += s->rows;
        if (pg->tail)
            pg->tail->next = s;
        else
            pg->head = s;
        pg->tail = s;
        if (ids[i] > pg->next_file_id)
            pg->next_file_id = ids[i];
    }
    if (n)
        TG_INFO("snapshot_spill_found", "files", TG_I(n), "rows", TG_I(pg->total_rows));
    free(ids);
    tg__pg_update_backlog(pg);
}
