/* replay_source.c - replay sources (CSV file, journal dir), pacing, line
 * writers and the `tickgate replay` subcommand (see replay.h).
 *
 * CSV is read with getline() into one reused buffer, so a source allocates
 * only when it opens. Decimals go through tg_dec_parse() and are never
 * rounded: a CSV that needs rounding is malformed, not silently changed.
 */
#include "tickgate/replay.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tickgate/clock.h"
#include "tickgate/journal.h"
#include "tickgate/log.h"

struct tg_replay_src {
    FILE *f;                  /* CSV, or NULL for a journal */
    bool close_f;             /* false for stdin */
    char *path;
    char *line;               /* getline() buffer */
    size_t cap;
    uint64_t lineno;
    bool seen_data;           /* a header may only be the first non-empty line */
    tg_journal_reader_t *jr;  /* journal, or NULL for CSV */
    int64_t from, to;
    uint64_t bad;
};

/* ---- CSV parsing ---------------------------------------------------------- */

static int parse_ts(const char *s, size_t len, int64_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 19)
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > INT64_MAX)
        return -ERANGE;
    *out = (int64_t)v;
    return 0;
}

/* Symbols end up in space-separated tcp lines and JSON: no blanks, commas
 * or control bytes; 1..TG_SYMBOL_MAX bytes (SPEC §3). */
static bool symbol_ok(const char *s, size_t len)
{
    if (len == 0 || len > TG_SYMBOL_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == ',' || c == 0x7f)
            return false;
    }
    return true;
}

int tg_replay_parse_csv_line(const char *line, size_t len, tg_tick_t *out)
{
    const char *f[7];
    size_t fl[7];
    size_t nf = 0;
    int ret;

    if (!line || !out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;

    const char *p = line, *end = line + len;
    for (;;) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        if (nf == 7)
            return -EINVAL;
        f[nf] = p;
        fl[nf] = (size_t)((c ? c : end) - p);
        nf++;
        if (!c)
            break;
        p = c + 1;
    }
    if (nf != 4 && nf != 6)
        return -EINVAL;

    if ((ret = parse_ts(f[0], fl[0], &out->ts)) < 0)
        return ret;
    out->src_ts = out->ts;
    if (!symbol_ok(f[1], fl[1]))
        return -EINVAL;
    memcpy(out->symbol, f[1], fl[1]);
    out->sym_len = (uint8_t)fl[1];

    /* Both of a pair present or both empty; at least one pair present. */
    if ((fl[2] == 0) != (fl[3] == 0))
        return -EINVAL;
    if (fl[2]) {
        if ((ret = tg_dec_parse(f[2], fl[2], &out->price)) < 0 ||
            (ret = tg_dec_parse(f[3], fl[3], &out->size)) < 0)
            return ret;
        out->flags |= TG_TICK_TRADE;
    }
    if (nf == 6) {
        if ((fl[4] == 0) != (fl[5] == 0))
            return -EINVAL;
        if (fl[4]) {
            if ((ret = tg_dec_parse(f[4], fl[4], &out->bid)) < 0 ||
                (ret = tg_dec_parse(f[5], fl[5], &out->ask)) < 0)
                return ret;
            out->flags |= TG_TICK_QUOTE;
        }
    }
    return out->flags ? 0 : -EINVAL;
}

/* A header is a first line whose first field is not a number ("ts_ns,..."). */
static bool looks_like_header(const char *line, size_t len)
{
    return len > 0 && (line[0] < '0' || line[0] > '9');
}

static const char *parse_reason(int err)
{
    switch (err) {
    case -EDOM:
        return "decimal_not_exact";
    case -ERANGE:
        return "out_of_range";
    default:
        return "malformed";
    }
}

/* ---- sources -------------------------------------------------------------- */

static bool in_range(const tg_replay_src_t *s, int64_t ts)
{
    return ts >= s->from && (s->to <= 0 || ts <= s->to);
}

/* A source over path: a journal directory, or a CSV file ("-": stdin). */
static int src_open(tg_replay_src_t **out, const char *path, int64_t from, int64_t to,
                    bool journal)
{
    if (!out || !path)
        return -EINVAL;
    *out = NULL;
    tg_replay_src_t *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    int ret = 0;
    s->from = from;
    s->to = to;
    if (!(s->path = strdup(path)))
        ret = -ENOMEM;
    else if (journal) /* a start time skips whole segments before it (restart rebuilds, --from) */
        ret = tg_journal_reader_open_from(&s->jr, path, from);
    else if (strcmp(path, "-") == 0)
        s->f = stdin;
    else if ((s->f = fopen(path, "re")) != NULL)
        s->close_f = true;
    else
        ret = -errno;
    if (ret < 0) {
        tg_replay_close(s);
        return ret;
    }
    *out = s;
    return 0;
}

int tg_replay_open_csv(tg_replay_src_t **out, const char *path, int64_t from, int64_t to)
{
    return src_open(out, path, from, to, false);
}

int tg_replay_open_journal(tg_replay_src_t **out, const char *dir, int64_t from, int64_t to)
{
    return src_open(out, dir, from, to, true);
}

static void bad_line(tg_replay_src_t *s, const char *reason)
{
    s->bad++;
    if (s->bad <= TG_REPLAY_BAD_LOG_MAX)
        TG_WARN("replay_bad_line", "file", TG_S(s->path), "line", TG_I(s->lineno), "reason",
                TG_S(reason));
}

int tg_replay_next(tg_replay_src_t *s, tg_tick_t *out)
{
    if (!s || !out)
        return -EINVAL;
    if (s->jr) {
        int ret;
        while ((ret = tg_journal_read(s->jr, out)) == 1)
            if (in_range(s, out->ts))
                return 1;
        return ret;
    }
    for (;;) {
        errno = 0;
        ssize_t n = getline(&s->line, &s->cap, s->f);
        if (n < 0)
            return ferror(s->f) ? (errno ? -errno : -EIO) : 0;
        s->lineno++;
        size_t len = (size_t)n;
        while (len && (s->line[len - 1] == '\n' || s->line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue; /* blank lines are not data */
        if (!s->seen_data) {
            s->seen_data = true;
            if (looks_like_header(s->line, len))
                continue;
        }
        if (len > TG_REPLAY_LINE_MAX || memchr(s->line, 0, len)) {
            bad_line(s, "malformed");
            continue;
        }
        int ret = tg_replay_parse_csv_line(s->line, len, out);
        if (ret < 0) {
            bad_line(s, parse_reason(ret));
            continue;
        }
        if (in_range(s, out->ts))
            return 1;
    }
}

uint64_t tg_replay_bad_lines(const tg_replay_src_t *s)
{
    if (!s)
        return 0;
    return s->jr ? tg_journal_reader_corrupt(s->jr) : s->bad;
}

void tg_replay_close(tg_replay_src_t *s)
{
    if (!s)
        return;
    if (s->bad > TG_REPLAY_BAD_LOG_MAX)
        TG_WARN("replay_bad_lines", "file", TG_S(s->path), "count", TG_I(s->bad));
    if (s->f && s->close_f)
        fclose(s->f);
    tg_journal_reader_close(s->jr);
    free(s->line);
    free(s->path);
    free(s);
}

/* ---- pacing --------------------------------------------------------------- */

int tg_replay_speed_parse(const char *s, tg_dec_t *out)
{
    tg_dec_t v;
    if (!s || !out)
        return -EINVAL;
    if (strcmp(s, "max") == 0) {
        *out = 0;
        return 0;
    }
    if (tg_dec_parse_round(s, strlen(s), &v) < 0 || v <= 0)
        return -EINVAL;
    *out = v;
    return 0;
}

void tg_replay_pacer_init(tg_replay_pacer_t *p, tg_dec_t speed)
{
    memset(p, 0, sizeof(*p));
    p->speed = speed > 0 ? speed : 0;
}

int64_t tg_replay_pacer_delay(tg_replay_pacer_t *p, int64_t ts, int64_t now_mono)
{
    if (p->speed <= 0)
        return 0;
    if (!p->started) {
        p->started = true;
        p->first_ts = ts;
        p->start_mono = now_mono;
        return 0;
    }
    if (ts <= p->first_ts)
        return 0;
    /* elapsed wall time = (ts - first_ts) / speed; __int128 because the tick
     * gap times 10^8 overflows int64 after ~92 s of recorded time. */
    __int128 wall = (__int128)(ts - p->first_ts) * TG_DEC_SCALE / p->speed;
    __int128 due = (__int128)p->start_mono + wall;
    __int128 d = due - now_mono;
    if (d > INT64_MAX)
        return INT64_MAX;
    return (int64_t)d;
}

void tg_replay_pacer_wait(tg_replay_pacer_t *p, int64_t ts)
{
    int64_t d = tg_replay_pacer_delay(p, ts, tg_mono_ns());
    if (d <= 0)
        return;
    int64_t due = tg_mono_ns() + d;
    struct timespec t = {.tv_sec = due / 1000000000LL, .tv_nsec = due % 1000000000LL};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
        ;
}

/* ---- writers -------------------------------------------------------------- */

size_t tg_replay_format_csv(const tg_tick_t *t, char *buf, size_t cap)
{
    char pr[TG_DEC_STRLEN + 1] = "", sz[TG_DEC_STRLEN + 1] = "";
    char bid[TG_DEC_STRLEN + 1], ask[TG_DEC_STRLEN + 1];
    int n;

    if (t->flags & TG_TICK_TRADE) {
        tg_dec_format(t->price, pr);
        tg_dec_format(t->size, sz);
    }
    if (t->flags & TG_TICK_QUOTE) {
        tg_dec_format(t->bid, bid);
        tg_dec_format(t->ask, ask);
        n = snprintf(buf, cap, "%lld,%s,%s,%s,%s,%s\n", (long long)t->ts, t->symbol, pr, sz, bid,
                     ask);
    } else {
        n = snprintf(buf, cap, "%lld,%s,%s,%s\n", (long long)t->ts, t->symbol, pr, sz);
    }
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

size_t tg_replay_format_tcp(const tg_tick_t *t, char *buf, size_t cap)
{
    char pr[TG_DEC_STRLEN + 1], sz[TG_DEC_STRLEN + 1];

    if (!(t->flags & TG_TICK_TRADE))
        return 0;
    tg_dec_format(t->price, pr);
    tg_dec_format(t->size, sz);
    int n = snprintf(buf, cap, "%s %s %s %lld\n", t->symbol, pr, sz, (long long)t->ts);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* ---- tickgate replay ------------------------------------------------------ */

#define OUT_BUF (64 * 1024)

typedef struct out {
    int fd;    /* socket, or -1 */
    FILE *f;   /* CSV file, or NULL */
    char buf[OUT_BUF];
    size_t len;
} out_t;

static int out_flush(out_t *o)
{
    size_t off = 0;
    if (o->f) {
        if (o->len && fwrite(o->buf, 1, o->len, o->f) != o->len) {
            o->len = 0;
            return -EIO;
        }
        o->len = 0;
        return 0;
    }
    while (off < o->len) {
        ssize_t n = send(o->fd, o->buf + off, o->len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            o->len = 0;
            return -errno;
        }
        off += (size_t)n;
    }
    o->len = 0;
    return 0;
}

static int out_put(out_t *o, const char *s, size_t n)
{
    if (o->len + n > OUT_BUF) {
        int ret = out_flush(o);
        if (ret < 0)
            return ret;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    return 0;
}

/* "host:port" or "[v6]:port" -> a connected blocking TCP socket. */
static int tcp_connect(const char *hostport, char *err, size_t errlen)
{
    char host[256];
    const char *port;
    const char *colon = strrchr(hostport, ':');

    if (!colon || colon == hostport || !colon[1]) {
        snprintf(err, errlen, "--send: expected HOST:PORT, got \"%s\"", hostport);
        return -EINVAL;
    }
    size_t hl = (size_t)(colon - hostport);
    const char *h = hostport;
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= sizeof host) {
        snprintf(err, errlen, "--send: host name too long");
        return -EINVAL;
    }
    memcpy(host, h, hl);
    host[hl] = 0;
    port = colon + 1;

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "--send %s: %s", hostport, gai_strerror(gai));
        return -EHOSTUNREACH;
    }
    int fd = -1, ret = -ECONNREFUSED;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            ret = -errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        ret = -errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "--send %s: %s", hostport, strerror(-ret));
        return ret;
    }
    return fd;
}

int tg_replay_run(const char *journal_dir, const char *csv_in, const char *speed, int64_t from,
                  int64_t to, const char *send_hostport, const char *csv_out, char *err,
                  size_t errlen)
{
    char dummy[1];
    tg_replay_src_t *src = NULL;
    tg_dec_t spd;
    int ret;

    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = 0;
    if ((!journal_dir || !*journal_dir) && (!csv_in || !*csv_in)) {
        snprintf(err, errlen, "replay: --journal DIR is required");
        return -EINVAL;
    }
    if (!send_hostport == !csv_out) {
        snprintf(err, errlen, "replay: give exactly one of --send HOST:PORT or --csv FILE");
        return -EINVAL;
    }
    if (tg_replay_speed_parse(speed ? speed : "max", &spd) < 0) {
        snprintf(err, errlen, "replay: --speed must be a number > 0 or \"max\"");
        return -EINVAL;
    }
    if (to > 0 && from > to) {
        snprintf(err, errlen, "replay: --from is after --to");
        return -EINVAL;
    }

    const char *what = csv_in ? csv_in : journal_dir;
    ret = csv_in ? tg_replay_open_csv(&src, csv_in, from, to)
                 : tg_replay_open_journal(&src, journal_dir, from, to);
    if (ret < 0) {
        snprintf(err, errlen, "replay: %s: %s", what, strerror(-ret));
        return ret;
    }

    out_t *o = malloc(sizeof(*o));
    if (!o) {
        ret = -ENOMEM;
        snprintf(err, errlen, "replay: out of memory");
        goto fail_close_src;
    }
    o->fd = -1;
    o->f = NULL;
    o->len = 0;
    if (send_hostport) {
        ret = tcp_connect(send_hostport, err, errlen);
        if (ret < 0)
            goto fail_free_out;
        o->fd = ret;
        int one = 1;
        setsockopt(o->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    } else {
        o->f = strcmp(csv_out, "-") == 0 ? stdout : fopen(csv_out, "we");
        if (!o->f) {
            ret = -errno;
            snprintf(err, errlen, "replay: --csv %s: %s", csv_out, strerror(-ret));
            goto fail_free_out;
        }
        static const char hdr[] = "ts_ns,symbol,price,size,bid,ask\n";
        out_put(o, hdr, sizeof hdr - 1);
    }

    tg_replay_pacer_t pacer;
    tg_replay_pacer_init(&pacer, spd);
    uint64_t sent = 0, skipped = 0;
    bool write_failed = false;
    tg_tick_t t;
    char line[TG_REPLAY_FMT_MAX];
    while ((ret = tg_replay_next(src, &t)) == 1) {
        size_t n = o->f ? tg_replay_format_csv(&t, line, sizeof line)
                        : tg_replay_format_tcp(&t, line, sizeof line);
        if (n == 0) {
            skipped++; /* quote-only tick: the tcp line format has no bid/ask */
            continue;
        }
        if (spd > 0 && tg_replay_pacer_delay(&pacer, t.ts, tg_mono_ns()) > 0) {
            /* Deliver what is due before sleeping, so ticks arrive on time. */
            if ((ret = out_flush(o)) < 0) {
                write_failed = true;
                break;
            }
            tg_replay_pacer_wait(&pacer, t.ts);
        }
        if ((ret = out_put(o, line, n)) < 0) {
            write_failed = true;
            break;
        }
        sent++;
    }
    if (ret < 0) {
        snprintf(err, errlen, "replay: %s: %s", write_failed ? "write" : what, strerror(-ret));
    } else {
        ret = out_flush(o);
        if (ret < 0)
            snprintf(err, errlen, "replay: write: %s", strerror(-ret));
    }
    TG_INFO("replay_done", "source", TG_S(what), "ticks", TG_I(sent), "skipped_quotes",
            TG_I(skipped), "bad", TG_I(tg_replay_bad_lines(src)));

    if (o->f && o->f != stdout) {
        if (fclose(o->f) != 0 && ret == 0) {
            ret = -errno;
            snprintf(err, errlen, "replay: --csv %s: %s", csv_out, strerror(-ret));
        }
    } else if (o->f) {
        fflush(o->f);
    }
    if (o->fd >= 0)
        close(o->fd);
fail_free_out:
    free(o);
fail_close_src:
    tg_replay_close(src);
    return ret < 0 ? ret : 0;
}
