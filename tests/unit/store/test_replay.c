/* test_replay.c - replay CSV parsing (good/bad lines, header, from/to),
 * CSV and tcp-line writers, pacing math, and tg_replay_run end to end
 * (CSV -> CSV, journal -> CSV, journal -> tcp socket). */
#include "tickgate/replay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tg_test.h"
#include "tickgate/journal.h"
#include "tickgate/log.h"

static tg_tick_t parse_ok(const char *s)
{
    tg_tick_t t;
    int ret = tg_replay_parse_csv_line(s, strlen(s), &t);
    if (ret != 0)
        fprintf(stderr, "unexpected parse failure %d for \"%s\"\n", ret, s);
    TG_CHECK_EQ_INT(ret, 0);
    return t;
}

static int parse_rc(const char *s)
{
    tg_tick_t t;
    return tg_replay_parse_csv_line(s, strlen(s), &t);
}

TG_TEST(csv_good_lines)
{
    tg_tick_t t = parse_ok("1700000000123456789,AAPL,189.53,100");
    TG_CHECK_EQ_INT(t.ts, 1700000000123456789LL);
    TG_CHECK_EQ_INT(t.src_ts, 1700000000123456789LL);
    TG_CHECK_EQ_STR(t.symbol, "AAPL");
    TG_CHECK_EQ_INT(t.sym_len, 4);
    TG_CHECK_EQ_INT(t.price, 18953000000LL);
    TG_CHECK_EQ_INT(t.size, TG_DEC(100));
    TG_CHECK_EQ_INT(t.flags, TG_TICK_TRADE);

    t = parse_ok("5,BTCUSDT,43000.12345678,0.001,42999.5,43000.5\r\n");
    TG_CHECK_EQ_INT(t.price, 4300012345678LL);
    TG_CHECK_EQ_INT(t.size, 100000LL);
    TG_CHECK_EQ_INT(t.bid, 4299950000000LL);
    TG_CHECK_EQ_INT(t.ask, 4300050000000LL);
    TG_CHECK_EQ_INT(t.flags, TG_TICK_TRADE | TG_TICK_QUOTE);

    t = parse_ok("6,MSFT,,,410.1,410.2\n"); /* quote only */
    TG_CHECK_EQ_INT(t.flags, TG_TICK_QUOTE);
    TG_CHECK_EQ_INT(t.price, 0);
    TG_CHECK_EQ_INT(t.bid, 41010000000LL);

    t = parse_ok("7,MSFT,1e2,2.5E+1,,"); /* trade, empty quote pair */
    TG_CHECK_EQ_INT(t.flags, TG_TICK_TRADE);
    TG_CHECK_EQ_INT(t.price, TG_DEC(100));
    TG_CHECK_EQ_INT(t.size, TG_DEC(25));

    t = parse_ok("8,ABCDEFGHIJKLMNOPQRSTUVWXYZ01234,1,0");
    TG_CHECK_EQ_INT(t.sym_len, 31);
}

TG_TEST(csv_bad_lines)
{
    TG_CHECK_EQ_INT(parse_rc(""), -EINVAL);
    TG_CHECK_EQ_INT(parse_rc("1,AAPL,1"), -EINVAL);             /* 3 fields */
    TG_CHECK_EQ_INT(parse_rc("1,AAPL,1,2,3"), -EINVAL);         /* 5 fields */
    TG_CHECK_EQ_INT(parse_rc("1,AAPL,1,2,3,4,5"), -EINVAL);     /* 7 fields */
    TG_CHECK_EQ_INT(parse_rc("x1,AAPL,1,2"), -EINVAL);          /* ts */
    TG_CHECK_EQ_INT(parse_rc("-1,AAPL,1,2"), -EINVAL);
    TG_CHECK_EQ_INT(parse_rc("99999999999999999999,AAPL,1,2"), -EINVAL);
    TG_CHECK_EQ_INT(parse_rc("9999999999999999999,AAPL,1,2"), -ERANGE);
    TG_CHECK_EQ_INT(parse_rc("1,,1,2"), -EINVAL);               /* empty symbol */
    TG_CHECK_EQ_INT(parse_rc("1,AA PL,1,2"), -EINVAL);
    TG_CHECK_EQ_INT(parse_rc("1,ABCDEFGHIJKLMNOPQRSTUVWXYZ012345,1,2"), -EINVAL); /* 32 */
    TG_CHECK_EQ_INT(parse_rc("1,AAPL,1.123456789,2"), -EDOM);  /* never rounded */
    TG_CHECK_EQ_INT(parse_rc("1,AAPL,abc,2"), -EINVAL);
    TG_CHECK_EQ_INT(parse_rc("1,AAPL,1,"), -EINVAL);            /* half a pair */
    TG_CHECK_EQ_INT(parse_rc("1,AAPL,1,2,3,"), -EINVAL);
    TG_CHECK_EQ_INT(parse_rc("1,AAPL,,,,"), -EINVAL);           /* nothing at all */
    TG_CHECK_EQ_INT(parse_rc("1,AAPL, 1,2"), -EINVAL);
    TG_CHECK_EQ_INT(tg_replay_parse_csv_line(NULL, 0, NULL), -EINVAL);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static int count_src(tg_replay_src_t *s, int64_t *first_ts, int64_t *last_ts)
{
    tg_tick_t t;
    int n = 0, ret;
    while ((ret = tg_replay_next(s, &t)) == 1) {
        if (n == 0 && first_ts)
            *first_ts = t.ts;
        if (last_ts)
            *last_ts = t.ts;
        n++;
    }
    TG_CHECK_EQ_INT(ret, 0);
    return n;
}

static const char csv_text[] = "ts_ns,symbol,price,size,bid,ask\n"
                               "100,AAPL,189.5,10\n"
                               "200,MSFT,410,1,409.9,410.1\n"
                               "\n"
                               "garbage line\n"
                               "300,AAPL,189.6,5\n"
                               "400,AAPL,1.000000001,5\n"
                               "500,BTC,,,1,2\n"
                               "ts_ns,symbol,price,size\n"
                               "600,AAPL,190,1\r\n";

TG_TEST(csv_file_header_bad_lines_and_filter)
{
    char path[] = "/tmp/tgr-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    write_text(path, csv_text);

    tg_replay_src_t *s;
    int64_t a = 0, b = 0;
    TG_CHECK_EQ_INT(tg_replay_open_csv(&s, path, 0, 0), 0);
    TG_CHECK_EQ_INT(count_src(s, &a, &b), 5);
    TG_CHECK_EQ_INT(a, 100);
    TG_CHECK_EQ_INT(b, 600);
    TG_CHECK_EQ_INT(tg_replay_bad_lines(s), 3); /* garbage, 9 decimals, late header */
    tg_replay_close(s);

    TG_CHECK_EQ_INT(tg_replay_open_csv(&s, path, 200, 500), 0);
    TG_CHECK_EQ_INT(count_src(s, &a, &b), 3);
    TG_CHECK_EQ_INT(a, 200);
    TG_CHECK_EQ_INT(b, 500);
    tg_replay_close(s);

    /* A file without a header: the first line is data. */
    write_text(path, "1,X,1,1\n2,X,2,2");
    TG_CHECK_EQ_INT(tg_replay_open_csv(&s, path, 0, 0), 0);
    TG_CHECK_EQ_INT(count_src(s, NULL, NULL), 2);
    TG_CHECK_EQ_INT(tg_replay_bad_lines(s), 0);
    tg_replay_close(s);

    unlink(path);
    TG_CHECK_EQ_INT(tg_replay_open_csv(&s, "/nonexistent/x.csv", 0, 0), -ENOENT);
    tg_replay_close(NULL);
}

TG_TEST(writers)
{
    char buf[TG_REPLAY_FMT_MAX];
    tg_tick_t t = parse_ok("1700000000000000001,AAPL,189.53,100");
    TG_CHECK_EQ_INT(tg_replay_format_tcp(&t, buf, sizeof buf), 36);
    TG_CHECK_EQ_STR(buf, "AAPL 189.53 100 1700000000000000001\n");
    TG_CHECK_EQ_INT(tg_replay_format_tcp(&t, buf, 10), 0); /* too small */
    TG_CHECK(tg_replay_format_csv(&t, buf, sizeof buf) > 0);
    TG_CHECK_EQ_STR(buf, "1700000000000000001,AAPL,189.53,100\n");

    t = parse_ok("5,ETH,0.00012,0,2000.5,2001");
    TG_CHECK_EQ_INT(tg_replay_format_tcp(&t, buf, sizeof buf), (long long)strlen(buf));
    TG_CHECK_EQ_STR(buf, "ETH 0.00012 0 5\n");
    TG_CHECK(tg_replay_format_csv(&t, buf, sizeof buf) > 0);
    TG_CHECK_EQ_STR(buf, "5,ETH,0.00012,0,2000.5,2001\n");

    t = parse_ok("6,ETH,,,1,2");
    TG_CHECK_EQ_INT(tg_replay_format_tcp(&t, buf, sizeof buf), 0); /* quotes: no tcp line */
    TG_CHECK(tg_replay_format_csv(&t, buf, sizeof buf) > 0);
    TG_CHECK_EQ_STR(buf, "6,ETH,,,1,2\n");

    /* Round trip through the parser, at the extremes of the format. */
    memset(&t, 0, sizeof t);
    t.ts = INT64_MAX;
    t.src_ts = INT64_MAX;
    t.price = TG_DEC_MAX;
    t.size = TG_DEC_MIN;
    t.bid = 1;
    t.ask = -1;
    t.flags = TG_TICK_TRADE | TG_TICK_QUOTE;
    strcpy(t.symbol, "ABCDEFGHIJKLMNOPQRSTUVWXYZ01234");
    t.sym_len = 31;
    size_t n = tg_replay_format_csv(&t, buf, sizeof buf);
    TG_CHECK(n > 0 && n < sizeof buf);
    tg_tick_t u;
    TG_CHECK_EQ_INT(tg_replay_parse_csv_line(buf, n, &u), 0);
    TG_CHECK(memcmp(&t, &u, sizeof t) == 0);
}

TG_TEST(speed_and_pacing)
{
    tg_dec_t s;
    TG_CHECK_EQ_INT(tg_replay_speed_parse("max", &s), 0);
    TG_CHECK_EQ_INT(s, 0);
    TG_CHECK_EQ_INT(tg_replay_speed_parse("2", &s), 0);
    TG_CHECK_EQ_INT(s, TG_DEC(2));
    TG_CHECK_EQ_INT(tg_replay_speed_parse("0.5", &s), 0);
    TG_CHECK_EQ_INT(tg_replay_speed_parse("0", &s), -EINVAL);
    TG_CHECK_EQ_INT(tg_replay_speed_parse("-1", &s), -EINVAL);
    TG_CHECK_EQ_INT(tg_replay_speed_parse("fast", &s), -EINVAL);

    tg_replay_pacer_t p;
    tg_replay_pacer_init(&p, TG_DEC(2));
    TG_CHECK_EQ_INT(tg_replay_pacer_delay(&p, 1000000000000LL, 5000), 0); /* anchors */
    /* 1 s of recorded time at 2x = 0.5 s after the anchor. */
    TG_CHECK_EQ_INT(tg_replay_pacer_delay(&p, 1001000000000LL, 5000), 500000000);
    TG_CHECK_EQ_INT(tg_replay_pacer_delay(&p, 1001000000000LL, 500005000), 0);
    TG_CHECK_EQ_INT(tg_replay_pacer_delay(&p, 999000000000LL, 5000), 0); /* out of order */
    /* A long gap does not overflow. */
    TG_CHECK_EQ_INT(tg_replay_pacer_delay(&p, 1000000000000LL + 86400000000000LL, 5000),
                    43200000000000LL);

    tg_replay_pacer_init(&p, 0);
    TG_CHECK_EQ_INT(tg_replay_pacer_delay(&p, 1, 0), 0);
    TG_CHECK_EQ_INT(tg_replay_pacer_delay(&p, INT64_MAX, 0), 0);

    /* Real sleeping: 3 ticks 20 ms apart at 1x take >= 40 ms. */
    tg_replay_pacer_init(&p, TG_DEC(1));
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < 3; i++)
        tg_replay_pacer_wait(&p, 1000 + i * 20000000LL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    long long el = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
    TG_CHECK(el >= 40000000LL && el < 2000000000LL);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

TG_TEST(run_csv_to_csv)
{
    char in[] = "/tmp/tgr-in-XXXXXX", out[] = "/tmp/tgr-out-XXXXXX", err[256];
    close(mkstemp(in));
    close(mkstemp(out));
    write_text(in, csv_text);
    TG_CHECK_EQ_INT(tg_replay_run(NULL, in, "max", 150, 0, NULL, out, err, sizeof err), 0);
    TG_CHECK_EQ_STR(slurp(out), "ts_ns,symbol,price,size,bid,ask\n"
                                "200,MSFT,410,1,409.9,410.1\n"
                                "300,AAPL,189.6,5\n"
                                "500,BTC,,,1,2\n"
                                "600,AAPL,190,1\n");
    /* Usage errors name the problem. */
    TG_CHECK_EQ_INT(tg_replay_run(NULL, in, "max", 0, 0, "127.0.0.1:1", out, err, sizeof err),
                    -EINVAL);
    TG_CHECK(strstr(err, "exactly one") != NULL);
    TG_CHECK_EQ_INT(tg_replay_run(NULL, in, "warp", 0, 0, NULL, out, err, sizeof err), -EINVAL);
    TG_CHECK(strstr(err, "--speed") != NULL);
    TG_CHECK_EQ_INT(tg_replay_run(NULL, NULL, NULL, 0, 0, NULL, out, err, sizeof err), -EINVAL);
    TG_CHECK_EQ_INT(tg_replay_run("/nonexistent/j", NULL, NULL, 0, 0, NULL, out, err, sizeof err),
                    -ENOENT);
    TG_CHECK(strstr(err, "/nonexistent/j") != NULL);
    unlink(in);
    unlink(out);
}

static void make_journal(char *dir, int n)
{
    tg_journal_t *j;
    TG_CHECK(mkdtemp(dir) != NULL);
    TG_CHECK_EQ_INT(tg_journal_open(&j, dir, 4096, 0, TG_JOURNAL_FSYNC_NONE, 0, true), 0);
    for (int i = 0; i < n; i++) {
        tg_tick_t t;
        memset(&t, 0, sizeof t);
        t.ts = 1000000 + i;
        t.price = TG_DEC(10) + i;
        t.size = TG_DEC(1);
        t.flags = TG_TICK_TRADE;
        if (i % 10 == 9) { /* every tenth tick is quote-only */
            t.flags = TG_TICK_QUOTE;
            t.price = t.size = 0;
            t.bid = TG_DEC(9);
            t.ask = TG_DEC(11);
        }
        snprintf(t.symbol, sizeof t.symbol, "S%d", i % 7);
        TG_CHECK_EQ_INT(tg_journal_append(j, &t, 1), 0);
    }
    TG_CHECK_EQ_INT(tg_journal_close(j), 0);
}

static void rm_journal(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    TG_CHECK_EQ_INT(system(cmd), 0);
}

TG_TEST(run_journal_to_csv_reproduces_order)
{
    char dir[] = "/tmp/tgr-j-XXXXXX", out[] = "/tmp/tgr-out-XXXXXX", err[256];
    make_journal(dir, 300);
    close(mkstemp(out));
    TG_CHECK_EQ_INT(tg_replay_run(dir, NULL, NULL, 1000100, 1000199, NULL, out, err, sizeof err),
                    0);
    tg_replay_src_t *s;
    TG_CHECK_EQ_INT(tg_replay_open_csv(&s, out, 0, 0), 0);
    tg_tick_t t;
    int n = 0;
    while (tg_replay_next(s, &t) == 1) {
        int i = 100 + n;
        TG_CHECK_EQ_INT(t.ts, 1000000 + i);
        TG_CHECK_EQ_INT(t.flags, i % 10 == 9 ? TG_TICK_QUOTE : TG_TICK_TRADE);
        if (t.flags == TG_TICK_TRADE)
            TG_CHECK_EQ_INT(t.price, TG_DEC(10) + i);
        n++;
    }
    TG_CHECK_EQ_INT(n, 100);
    TG_CHECK_EQ_INT(tg_replay_bad_lines(s), 0);
    tg_replay_close(s);
    unlink(out);
    rm_journal(dir);
}

TG_TEST(run_journal_to_tcp)
{
    char dir[] = "/tmp/tgr-j-XXXXXX", err[256], hp[64];
    make_journal(dir, 50);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    TG_CHECK_EQ_INT(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
    TG_CHECK_EQ_INT(listen(ls, 1), 0);
    TG_CHECK_EQ_INT(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
    snprintf(hp, sizeof hp, "127.0.0.1:%d", ntohs(sa.sin_port));

    /* 45 short lines fit in the socket buffers: no reader thread needed. */
    TG_CHECK_EQ_INT(tg_replay_run(dir, NULL, "1000", 0, 0, hp, NULL, err, sizeof err), 0);
    int c = accept(ls, NULL, NULL);
    TG_CHECK(c >= 0);
    static char buf[1 << 14];
    size_t len = 0;
    ssize_t r;
    while ((r = read(c, buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)r;
    buf[len] = 0;
    close(c);
    close(ls);
    TG_CHECK(strncmp(buf, "S0 10 1 1000000\nS1 10.00000001 1 1000001\n", 41) == 0);
    int lines = 0;
    for (char *p = buf; *p; p++)
        lines += *p == '\n';
    TG_CHECK_EQ_INT(lines, 45); /* the 5 quote-only ticks have no tcp line */

    snprintf(hp, sizeof hp, "127.0.0.1:%d", ntohs(sa.sin_port)); /* now closed */
    TG_CHECK(tg_replay_run(dir, NULL, NULL, 0, 0, hp, NULL, err, sizeof err) < 0);
    TG_CHECK(strstr(err, "--send") != NULL);
    TG_CHECK_EQ_INT(tg_replay_run(dir, NULL, NULL, 0, 0, "nohostport", NULL, err, sizeof err),
                    -EINVAL);
    rm_journal(dir);
}

int main(void)
{
    if (!getenv("TG_TEST_VERBOSE"))
        tg_log_set_level("error");
    return tg_test_run();
}
