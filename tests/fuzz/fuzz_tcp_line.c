/* fuzz_tcp_line.c - libFuzzer target for the `tcp` feed's line parser.
 *
 * Checks the parse_line() contract on any bytes: 1 (a trade tick whose symbol
 * is NUL-terminated with sym_len matching, or sym_len 0 for an over-long one),
 * 0 (a blank line) or -EINVAL, never anything else, never a read past `len`
 * (the input is copied to an exact-size heap buffer so ASan sees overruns).
 */
#define tg_feed_tcp_ops tg_feed_tcp_ops_fuzz
#include "../../src/feeds/feed_tcp.c"
#undef tg_feed_tcp_ops

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size ? size : 1);
    if (!line)
        return 0;
    memcpy(line, data, size);
    tg_tick_t t;
    int rc = parse_line(line, size, &t);
    if (rc == 1) {
        if (t.flags != TG_TICK_TRADE || t.sym_len > TG_SYMBOL_MAX || t.symbol[t.sym_len] != '\0' ||
            strlen(t.symbol) != t.sym_len || t.src_ts < 0)
            abort();
    } else if (rc != 0 && rc != -EINVAL) {
        abort();
    }
    free(line);
    return 0;
}
