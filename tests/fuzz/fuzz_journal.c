/* fuzz_journal.c - libFuzzer target for the journal reader (src/store/journal_read.c).
 *
 * The input is written as the only segment file of a scratch directory, then
 * read back both through the reader and through the last-quote rebuild. The
 * reader must never crash, hang or error on content (only I/O errors are
 * errors), and every tick it yields must be well formed. Seeds in
 * tests/fuzz/corpus/journal/ are real segments (clean, torn, bit-flipped).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tickgate/journal.h"
#include "tickgate/log.h"

static char dir[256];
static char path[320];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    tg_log_set_level("error"); /* journal_corrupt on nearly every input */
    snprintf(dir, sizeof dir, "%s/tg-fuzz-journal-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof path, "%s/journal-00000000000000000001.tgj", dir);
    return 0;
}

static void count_cb(const tg_tick_t *t, void *arg)
{
    if (t->sym_len > TG_SYMBOL_MAX || strlen(t->symbol) != t->sym_len || t->symbol[0] == 0)
        abort();
    ++*(int *)arg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        abort();
    size_t off = 0;
    while (off < size) {
        ssize_t n = write(fd, data + off, size - off);
        if (n <= 0)
            abort();
        off += (size_t)n;
    }
    close(fd);

    tg_journal_reader_t *r;
    if (tg_journal_reader_open(&r, dir) < 0)
        abort();
    tg_tick_t t;
    int ret, n = 0;
    while ((ret = tg_journal_read(r, &t)) == 1) {
        if (t.sym_len > TG_SYMBOL_MAX || strlen(t.symbol) != t.sym_len)
            abort();
        n++;
    }
    if (ret != 0) /* corrupt content is skipped, never an error */
        abort();
    if ((size_t)n * 61 > size) /* each record is at least 61 bytes */
        abort();
    tg_journal_reader_close(r);

    int calls = 0;
    int syms = tg_journal_last_quotes(dir, count_cb, &calls);
    if (syms < 0 || syms != calls || syms > n)
        abort();
    return 0;
}
