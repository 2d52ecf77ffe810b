/* msg.c - tg_msg_t: one encoded message (JSON + MessagePack frames with
 * LWS_PRE headroom, optional ACL), reference-counted and shared by every
 * subscriber (see msg.h).
 */
#include "tickgate/msg.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

tg_msg_t *tg_msg_new_acl_seq(const void *json, size_t json_len, const void *mp, size_t mp_len,
                             const char *acl, size_t acl_len, const uint64_t *rseq, size_t nrseq)
{
    size_t sz = sizeof(tg_msg_t) + TG_MSG_PRE + json_len + TG_MSG_PRE + mp_len + acl_len + 1;
    size_t roff = 0;
    if (nrseq) { /* after the ACL, aligned for uint64_t */
        roff = (sz + 7) & ~(size_t)7;
        sz = roff + nrseq * sizeof(uint64_t);
    }
    tg_msg_t *m = malloc(sz);
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    atomic_init(&m->refs, 1);
    m->json = m->data + TG_MSG_PRE;
    m->json_len = (uint32_t)json_len;
    if (json_len)
        memcpy(m->json, json, json_len);
    m->mp = m->json + json_len + TG_MSG_PRE;
    m->mp_len = (uint32_t)mp_len;
    if (mp_len)
        memcpy(m->mp, mp, mp_len);
    char *a = (char *)m->mp + mp_len;
    if (acl_len)
        memcpy(a, acl, acl_len);
    a[acl_len] = 0;
    m->acl = a;
    m->acl_len = (uint32_t)acl_len;
    if (nrseq) {
        uint64_t *r = (uint64_t *)(void *)((char *)m + roff);
        memcpy(r, rseq, nrseq * sizeof *r);
        m->rseq = r;
        m->nrseq = (uint32_t)nrseq;
    }
    return m;
}

tg_msg_t *tg_msg_new_acl(const void *json, size_t json_len, const void *mp, size_t mp_len,
                         const char *acl, size_t acl_len)
{
    return tg_msg_new_acl_seq(json, json_len, mp, mp_len, acl, acl_len, NULL, 0);
}

int tg_msg_acl_index(const tg_msg_t *m, const char *sub)
{
    int i = 0;
    for (const char *p = m->acl, *end = m->acl + m->acl_len; p < end; p += strlen(p) + 1, i++)
        if (strcmp(p, sub) == 0)
            return i;
    return -1;
}

tg_msg_t *tg_msg_new(const void *json, size_t json_len, const void *mp, size_t mp_len)
{
    return tg_msg_new_acl(json, json_len, mp, mp_len, NULL, 0);
}

bool tg_msg_acl_has(const tg_msg_t *m, const char *sub)
{
    return tg_msg_acl_index(m, sub) >= 0;
}

void tg_msg_unref(tg_msg_t *m)
{
    if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        free(m);
}
