/* journal_format.h - the tick journal's on-disk format: constants and helpers,
 * shared by the reader (wire/) and the writer (store/journal_write.c).
 */
#ifndef TG_WIRE_JOURNAL_FORMAT_H
#define TG_WIRE_JOURNAL_FORMAT_H

#include "tickgate/journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tickgate/clock.h"
#include "tickgate/crc32c.h"
#include "tickgate/log.h"

#define JBUF_SIZE (1u << 20) /* big writes amortize the syscall; 4 of them bound memory */
#define JNBUFS 4
#define JSLOTS 4             /* open segment files: the current one + retiring ones */
#define RING_DEPTH 32        /* > JNBUFS writes + JSLOTS fsyncs + interval + dir fsync */

#define SEG_MAGIC "TGJOURNL"
#define SEG_VERSION 1
#define SEG_HDR_LEN 32
#define REC_MAGIC 0x4A54u    /* "TJ" little-endian */
#define REC_HDR_LEN 8
#define REC_TYPE_TICK 1
#define REC_FIXED 53         /* payload without the symbol bytes */
#define REC_MIN_PAYLOAD REC_FIXED
#define REC_MAX_PAYLOAD (REC_FIXED + TG_SYMBOL_MAX)
#define REC_MAX (REC_HDR_LEN + REC_MAX_PAYLOAD)

#define NAME_PREFIX "journal-"
#define NAME_SUFFIX ".tgj"
#define NAME_DIGITS 20
#define NAME_LEN (sizeof(NAME_PREFIX) - 1 + NAME_DIGITS + sizeof(NAME_SUFFIX) - 1)

/* ---- little-endian helpers ------------------------------------------------ */

static inline void put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static inline void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint16_t get16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* ---- segment directory listing -------------------------------------------- */

typedef struct seg_file {
    uint64_t id;
    int64_t size;
} seg_file_t;

/* ---- shared between the journal_*.c files ---- */

size_t tg__journal_rec_size(const tg_tick_t *t);
size_t tg__journal_rec_encode(unsigned char *p, const tg_tick_t *t);
int tg__journal_rec_decode(const unsigned char *q, size_t plen, tg_tick_t *t);
void tg__journal_seg_hdr_encode(unsigned char *p, uint64_t id);
void tg__journal_seg_name(char *buf, size_t len, uint64_t id);
int tg__journal_seg_list(int dirfd, seg_file_t **out, size_t *n);

#endif
