/* trading_day.c - the next session-open instant in an IANA zone (engine.session_open).
 *
 * localtime_r() follows the process-wide TZ, and switching TZ with setenv()
 * races with every other thread formatting a time. So we read the zone's
 * TZif file ourselves (RFC 8536: v2+ 64-bit transitions, else v1) and compute
 * offsets from it: no shared state at all, and the engine calls this once a
 * day. Beyond a file's last transition the last offset is used; Debian's
 * zoneinfo files are "fat" (transitions through 2037).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tickgate/file.h"
#include "tickgate/trading_day.h"

typedef struct zone {
    int64_t *trans;   /* transition instants, s */
    uint8_t *idx;     /* ttinfo index in force from each transition */
    int32_t *utoff;   /* per ttinfo: UT offset, s */
    uint8_t *isdst;
    uint32_t ntrans, ntypes;
} zone_t;

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static void zone_free(zone_t *z)
{
    free(z->trans);
    free(z->idx);
    free(z->utoff);
    free(z->isdst);
}

/* Parse one TZif data block at p (v1 with 4-byte times, or v2+ with 8). */
static int zone_parse(const unsigned char *buf, size_t len, zone_t *z)
{
    size_t off = 0;
    int tsize = 4;
    for (int pass = 0; pass < 2; pass++) {
        if (len - off < 44 || memcmp(buf + off, "TZif", 4) != 0)
            return -EINVAL;
        char ver = (char)buf[off + 4];
        const unsigned char *h = buf + off + 20;
        uint32_t isutcnt = be32(h), isstdcnt = be32(h + 4), leapcnt = be32(h + 8),
                 timecnt = be32(h + 12), typecnt = be32(h + 16), charcnt = be32(h + 20);
        if (typecnt == 0 || typecnt > 256 || timecnt > 100000)
            return -EINVAL;
        size_t body = (size_t)timecnt * tsize + timecnt + typecnt * 6u + charcnt +
                      (size_t)leapcnt * (tsize + 4) + isstdcnt + isutcnt;
        if (len - off - 44 < body)
            return -EINVAL;
        if (pass == 0 && ver >= '2') {
            off += 44 + body; /* skip the v1 block, read the 64-bit one */
            tsize = 8;
            continue;
        }
        const unsigned char *p = buf + off + 44;
        z->ntrans = timecnt;
        z->ntypes = typecnt;
        z->trans = calloc(timecnt + 1, sizeof *z->trans);
        z->idx = calloc(timecnt + 1, 1);
        z->utoff = calloc(typecnt, sizeof *z->utoff);
        z->isdst = calloc(typecnt, 1);
        if (!z->trans || !z->idx || !z->utoff || !z->isdst)
            return -ENOMEM;
        for (uint32_t i = 0; i < timecnt; i++)
            z->trans[i] = tsize == 8 ? be64(p + (size_t)i * 8) : (int32_t)be32(p + (size_t)i * 4);
        p += (size_t)timecnt * tsize;
        for (uint32_t i = 0; i < timecnt; i++) {
            if (p[i] >= typecnt)
                return -EINVAL;
            z->idx[i] = p[i];
        }
        p += timecnt;
        for (uint32_t i = 0; i < typecnt; i++) {
            z->utoff[i] = (int32_t)be32(p + i * 6u);
            z->isdst[i] = p[i * 6u + 4];
        }
        return 0;
    }
    return -EINVAL;
}

static int zone_load(const char *dir, const char *tz, zone_t *z)
{
    char path[512];
    char *buf = NULL;
    size_t len = 0;
    int rc;

    memset(z, 0, sizeof *z);
    /* an IANA name, never a path: no leading '/', no "..", sane characters */
    if (!tz || !*tz || tz[0] == '/' || strstr(tz, "..") || strlen(tz) > 64)
        return -EINVAL;
    for (const char *p = tz; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              strchr("/_+-", *p)))
            return -EINVAL;
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", tz);
    rc = tg_file_read(path, 1u << 20, &buf, &len);
    if (rc)
        return rc == -EFBIG ? -EINVAL : -ENOENT;
    rc = zone_parse((const unsigned char *)buf, len, z);
    free(buf);
    if (rc < 0)
        zone_free(z);
    return rc;
}

/* UT offset in force at instant t (s). Before the first transition: the
 * first standard-time type (RFC 8536 §3.2 recommends this). */
static int32_t zone_offset(const zone_t *z, int64_t t)
{
    if (z->ntrans == 0 || t < z->trans[0]) {
        for (uint32_t i = 0; i < z->ntypes; i++)
            if (!z->isdst[i])
                return z->utoff[i];
        return z->utoff[0];
    }
    uint32_t lo = 0, hi = z->ntrans; /* last transition <= t */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (z->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return z->utoff[z->idx[lo]];
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int tg_session_next_open(const char *tzdir, const char *hhmm, const char *tz, int64_t now_ns,
                         int64_t *out_ns)
{
    zone_t z;
    int hh, mm, rc;
    char tail;

    if (!hhmm || !out_ns || strlen(hhmm) != 5 || sscanf(hhmm, "%2d:%2d%c", &hh, &mm, &tail) != 2 ||
        hh < 0 || hh > 23 || mm < 0 || mm > 59)
        return -EINVAL;
    rc = zone_load(tzdir, tz, &z);
    if (rc < 0)
        return rc;
    int64_t now = floor_div(now_ns, 1000000000LL);
    int64_t day = floor_div(now + zone_offset(&z, now), 86400);
    int64_t best = INT64_MAX;
    for (int64_t d = day - 1; d <= day + 2; d++) {
        int64_t local = d * 86400 + hh * 3600 + mm * 60;
        /* local -> UT: guess with the offset at `local` read as UT, refine
         * once, keep whichever round-trips */
        int64_t t1 = local - zone_offset(&z, local);
        int64_t t2 = local - zone_offset(&z, t1);
        int64_t t;
        if (t2 + zone_offset(&z, t2) == local)
            t = t2;
        else if (t1 + zone_offset(&z, t1) == local)
            t = t1;
        else
            t = t1 > t2 ? t1 : t2; /* DST gap: the offset in force before it */
        if ((__int128)t * 1000000000LL > now_ns && t < best)
            best = t;
    }
    zone_free(&z);
    if (best == INT64_MAX)
        return -ERANGE;
    *out_ns = best * 1000000000LL;
    return 0;
}
