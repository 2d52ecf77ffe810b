/* fuzz_json.c - libFuzzer target for src/common/json.c.
 *
 * Parses the input with a small token cap and depth, then walks every token
 * through every accessor so out-of-bounds reads in the accessors show up,
 * and checks that tg_json_escape output of any string re-parses and
 * unescapes to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tickgate/json.h"

static void walk(const tg_json_t *j)
{
    char buf[256];
    for (int r = 0; r < j->ntok; r++) {
        size_t n;
        tg_dec_t d;
        int64_t v;
        bool b;
        (void)tg_json_type(j, r);
        (void)tg_json_size(j, r);
        (void)tg_json_raw(j, r, &n);
        (void)tg_json_dec(j, r, &d);
        (void)tg_json_i64(j, r, &v);
        (void)tg_json_bool(j, r, &b);
        (void)tg_json_str_eq(j, r, "p");
        (void)tg_json_get(j, r, "s");
        (void)tg_json_at(j, r, 1);
        int it = 0;
        tg_json_ref_t val;
        while (tg_json_next_member(j, r, &it, &val) >= 0)
            ;
        it = 0;
        while (tg_json_next_elem(j, r, &it) >= 0)
            ;
        if (tg_json_str(j, r, buf, sizeof buf, &n) == 0) {
            /* round trip: escape, re-parse, unescape, compare */
            char esc[256 * 6 + 2], back[256];
            esc[0] = '"';
            int w = tg_json_escape(buf, n, esc + 1, sizeof esc - 2);
            if (w < 0)
                abort();
            esc[w + 1] = '"';
            tg_json_t k = {0};
            size_t m = 0;
            if (tg_json_parse(&k, esc, (size_t)w + 2, 0, 0) != 0 ||
                tg_json_str(&k, 0, back, sizeof back, &m) != 0 || m != n ||
                memcmp(back, buf, n) != 0)
                abort();
            tg_json_free(&k);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tg_json_t j = {0};
    if (tg_json_parse(&j, (const char *)data, size, 4096, 64) == 0)
        walk(&j);
    /* reuse the same object: the second parse must not see stale tokens */
    if (size > 1 && tg_json_parse(&j, (const char *)data + 1, size - 1, 16, 4) == 0)
        walk(&j);
    tg_json_free(&j);
    return 0;
}
