/* test_bus_codec.c - the cluster bus entry codec (bus_codec.c): round trip of
 * every field, and malformed, truncated, oversized and hostile entries. */
#include <errno.h>
#include <msgpack.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "../tg_test.h"
#include "tickgate/bus.h"

static tg_msg_t *sample(void)
{
    static const char json[] = "{\"type\":\"portfolio\",\"portfolio_id\":\"p-1\",\"seq\":7}";
    static const unsigned char mp[] = {0x81, 0xa4, 't', 'y', 'p', 'e', 0xa1, 'p'};
    static const char acl[] = "u-own\0u-sh"; /* two ids, each NUL-terminated */
    tg_msg_t *m = tg_msg_new_acl(json, sizeof json - 1, mp, sizeof mp, acl, sizeof acl);
    m->type = TG_MSG_PORTFOLIO;
    m->channel = TG_CH_PORTFOLIO;
    m->key = 3;
    m->aux = 9;
    m->seq = 7;
    m->ts = 1763800000123000000LL;
    strcpy(m->key_name, "p-1");
    return m;
}

static void encode(const tg_msg_t *m, const char *epoch, uint64_t no, msgpack_sbuffer *sb)
{
    msgpack_sbuffer_init(sb);
    TG_CHECK_EQ_INT(tg_bus_entry_encode(m, epoch, no, sb), 0);
}

TG_TEST(round_trip_keeps_every_field)
{
    tg_msg_t *m = sample();
    msgpack_sbuffer sb;
    encode(m, "e-5f3a", 42, &sb);
    tg_bus_entry_t e;
    TG_CHECK_EQ_INT(tg_bus_entry_decode(sb.data, sb.size, &e), 0);
    TG_CHECK_EQ_STR(e.epoch, "e-5f3a");
    TG_CHECK_EQ_INT(e.no, 42);
    tg_msg_t *d = e.msg;
    TG_CHECK(d != NULL);
    if (d) {
        TG_CHECK_EQ_INT(d->type, TG_MSG_PORTFOLIO);
        TG_CHECK_EQ_INT(d->channel, TG_CH_PORTFOLIO);
        TG_CHECK_EQ_INT(d->key, 3);
        TG_CHECK_EQ_INT(d->aux, 9);
        TG_CHECK_EQ_INT(d->seq, 7);
        TG_CHECK_EQ_INT(d->ts, 1763800000123000000LL);
        TG_CHECK_EQ_STR(d->key_name, "p-1");
        TG_CHECK(d->json_len == m->json_len && memcmp(d->json, m->json, m->json_len) == 0);
        TG_CHECK(d->mp_len == m->mp_len && memcmp(d->mp, m->mp, m->mp_len) == 0);
        TG_CHECK_EQ_INT(d->acl_len, m->acl_len);
        TG_CHECK(tg_msg_acl_has(d, "u-own") && tg_msg_acl_has(d, "u-sh"));
        TG_CHECK(!tg_msg_acl_has(d, "u-other"));
        TG_CHECK_EQ_INT(atomic_load(&d->refs), 1);
    }
    tg_msg_unref(d);
    msgpack_sbuffer_destroy(&sb);
    tg_msg_unref(m);
}

/* An alert's per-reader notifications seqs travel with it (SPEC §14): a
 * gateway sends each user the seq the ingest node numbered. */
TG_TEST(alert_reader_seqs_round_trip)
{
    static const char json[] = "{\"type\":\"alert\",\"ts\":1}";
    static const unsigned char mp[] = {0x81, 0xa1, 't', 0xa1, 'a'};
    static const char acl[] = "u-own\0u-sh";
    const uint64_t rs[2] = {5, 0x0102030405060708ULL};
    tg_msg_t *m = tg_msg_new_acl_seq(json, sizeof json - 1, mp, sizeof mp, acl, sizeof acl, rs, 2);
    m->type = TG_MSG_ALERT;
    m->channel = TG_CH_NOTIFICATIONS;
    m->seq = 11;
    strcpy(m->key_name, "p-1");
    TG_CHECK_EQ_INT(tg_msg_acl_index(m, "u-sh"), 1);
    TG_CHECK_EQ_INT(tg_msg_acl_index(m, "u-x"), -1);
    msgpack_sbuffer sb;
    encode(m, "e-1", 3, &sb);
    tg_bus_entry_t e;
    TG_CHECK_EQ_INT(tg_bus_entry_decode(sb.data, sb.size, &e), 0);
    TG_CHECK(e.msg && e.msg->nrseq == 2 && e.msg->rseq);
    if (e.msg && e.msg->rseq && e.msg->nrseq == 2) {
        TG_CHECK_EQ_INT(e.msg->rseq[0], 5);
        TG_CHECK(e.msg->rseq[1] == 0x0102030405060708ULL);
    }
    tg_msg_unref(e.msg);
    /* more seqs than readers is hostile */
    unsigned char *p = (unsigned char *)sb.data;
    size_t n = sb.size;
    TG_CHECK_EQ_INT(p[n - 18], 0xc4); /* bin8 header of the 16 seq bytes */
    p[n - 17] = 8;                     /* declare one seq: still valid, and shorter */
    TG_CHECK_EQ_INT(tg_bus_entry_decode(sb.data, n - 8, &e), 0);
    TG_CHECK(e.msg && e.msg->nrseq == 1 && e.msg->rseq[0] == 5);
    tg_msg_unref(e.msg);
    m->acl_len = 6; /* one reader, two seqs */
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_init(&sb);
    TG_CHECK_EQ_INT(tg_bus_entry_encode(m, "e-1", 3, &sb), 0);
    TG_CHECK_EQ_INT(tg_bus_entry_decode(sb.data, sb.size, &e), -EINVAL);
    msgpack_sbuffer_destroy(&sb);
    tg_msg_unref(m);
}

TG_TEST(portfolio_removed_has_no_payload)
{
    tg_msg_t *m = tg_msg_new("", 0, "", 0);
    m->type = TG_MSG_PORTFOLIO_REMOVED;
    m->channel = TG_CH_PORTFOLIO;
    strcpy(m->key_name, "p-9");
    msgpack_sbuffer sb;
    encode(m, "e-1", 1, &sb);
    tg_bus_entry_t e;
    TG_CHECK_EQ_INT(tg_bus_entry_decode(sb.data, sb.size, &e), 0);
    TG_CHECK(e.msg && e.msg->type == TG_MSG_PORTFOLIO_REMOVED && e.msg->json_len == 0);
    tg_msg_unref(e.msg);
    msgpack_sbuffer_destroy(&sb);
    tg_msg_unref(m);
}

TG_TEST(heartbeat_round_trip)
{
    tg_msg_t *m = tg_msg_new("", 0, "", 0);
    m->type = TG_MSG_EPOCH;
    m->ts = 5;
    msgpack_sbuffer sb;
    encode(m, "e-7", 0, &sb); /* nothing published yet: entry no 0 */
    tg_bus_entry_t e;
    TG_CHECK_EQ_INT(tg_bus_entry_decode(sb.data, sb.size, &e), 0);
    TG_CHECK(e.msg && e.msg->type == TG_MSG_EPOCH && e.no == 0);
    TG_CHECK_EQ_STR(e.epoch, "e-7");
    tg_msg_unref(e.msg);
    msgpack_sbuffer_destroy(&sb);
    tg_msg_unref(m);
    /* a heartbeat with a payload is not one */
    static const char json[] = "{\"type\":\"quote\"}";
    static const unsigned char mp[] = {0x81, 0xa1, 't', 0xa1, 'q'};
    m = tg_msg_new(json, sizeof json - 1, mp, sizeof mp);
    m->type = TG_MSG_QUOTE;
    strcpy(m->key_name, "AAPL");
    encode(m, "e-7", 1, &sb);
    unsigned char *p = (unsigned char *)sb.data;
    TG_CHECK_EQ_INT(p[0], 0x9e);
    size_t type_at = 1 + 1 + 4 + 1; /* array, version, fixstr "e-7", no fixint */
    TG_CHECK_EQ_INT(p[type_at], TG_MSG_QUOTE);
    p[type_at] = TG_MSG_EPOCH;
    TG_CHECK_EQ_INT(tg_bus_entry_decode(sb.data, sb.size, &e), -EINVAL);
    p[type_at] = TG_MSG_REPLY; /* built for one client: never on the bus */
    TG_CHECK_EQ_INT(tg_bus_entry_decode(sb.data, sb.size, &e), -EINVAL);
    p[type_at] = 32; /* past any type */
    TG_CHECK_EQ_INT(tg_bus_entry_decode(sb.data, sb.size, &e), -EINVAL);
    msgpack_sbuffer_destroy(&sb);
    tg_msg_unref(m);
}

TG_TEST(encoder_refuses_what_the_bus_does_not_carry)
{
    tg_msg_t *m = sample();
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    TG_CHECK_EQ_INT(tg_bus_entry_encode(m, "", 1, &sb), -EINVAL);
    TG_CHECK_EQ_INT(tg_bus_entry_encode(m, "e-0123456789abcdef0123456789", 1, &sb), -EINVAL);
    m->type = TG_MSG_REPLY;
    TG_CHECK_EQ_INT(tg_bus_entry_encode(m, "e-1", 1, &sb), -EINVAL);
    m->type = TG_MSG_EPOCH;
    TG_CHECK_EQ_INT(tg_bus_entry_encode(m, "e-1", 1, &sb), -EINVAL);
    TG_CHECK_EQ_INT(sb.size, 0);
    msgpack_sbuffer_destroy(&sb);
    tg_msg_unref(m);
}

TG_TEST(every_truncation_is_refused)
{
    tg_msg_t *m = sample();
    msgpack_sbuffer sb;
    encode(m, "e-5f3a", 42, &sb);
    for (size_t n = 0; n < sb.size; n++) {
        tg_bus_entry_t e;
        TG_CHECK_EQ_INT(tg_bus_entry_decode(sb.data, n, &e), -EINVAL);
        TG_CHECK(e.msg == NULL);
    }
    /* trailing garbage too */
    char *longer = malloc(sb.size + 1);
    memcpy(longer, sb.data, sb.size);
    longer[sb.size] = 0;
    tg_bus_entry_t e;
    TG_CHECK_EQ_INT(tg_bus_entry_decode(longer, sb.size + 1, &e), -EINVAL);
    free(longer);
    msgpack_sbuffer_destroy(&sb);
    tg_msg_unref(m);
}

/* Re-encode with one field changed by hand and expect a refusal. */
static int decode_with(tg_msg_t *m, const char *epoch, uint64_t no)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc = tg_bus_entry_encode(m, epoch, no, &sb);
    tg_bus_entry_t e;
    if (rc == 0) {
        rc = tg_bus_entry_decode(sb.data, sb.size, &e);
        tg_msg_unref(e.msg);
    }
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

TG_TEST(hostile_fields_are_refused)
{
    tg_msg_t *m = sample();
    TG_CHECK_EQ_INT(decode_with(m, "e-1", 0), -EINVAL);         /* entry numbers start at 1 */
    TG_CHECK_EQ_INT(decode_with(m, "e 1", 1), -EINVAL);         /* epoch goes into JSON */
    TG_CHECK_EQ_INT(decode_with(m, "e\"1", 1), -EINVAL);
    m->ts = -1;
    TG_CHECK_EQ_INT(decode_with(m, "e-1", 1), -EINVAL);
    m->ts = 1;
    m->channel = TG_CH_COUNT;
    TG_CHECK_EQ_INT(decode_with(m, "e-1", 1), -EINVAL);
    m->channel = TG_CH_PORTFOLIO;
    m->json[5] = '\n'; /* would split a JSON Lines frame */
    TG_CHECK_EQ_INT(decode_with(m, "e-1", 1), -EINVAL);
    m->json[5] = 'y';
    m->key_name[0] = 0; /* a message clients see needs its key */
    TG_CHECK_EQ_INT(decode_with(m, "e-1", 1), -EINVAL);
    strcpy(m->key_name, "p-1");
    m->mp[0] = 0x91; /* an array, not a map */
    TG_CHECK_EQ_INT(decode_with(m, "e-1", 1), -EINVAL);
    m->mp[0] = 0x81;
    m->acl_len--; /* the last id loses its NUL */
    TG_CHECK_EQ_INT(decode_with(m, "e-1", 1), -EINVAL);
    m->acl_len++;
    TG_CHECK_EQ_INT(decode_with(m, "e-1", 1), 0);
    tg_msg_unref(m);
}

TG_TEST(hand_made_hostile_entries)
{
    tg_bus_entry_t e;
    /* not an array; an array of the wrong size; a huge declared bin */
    static const unsigned char not_array[] = {0x81, 0xa1, 'v', 0x01};
    TG_CHECK_EQ_INT(tg_bus_entry_decode(not_array, sizeof not_array, &e), -EINVAL);
    static const unsigned char short_array[] = {0x92, 0x01, 0xa1, 'e'};
    TG_CHECK_EQ_INT(tg_bus_entry_decode(short_array, sizeof short_array, &e), -EINVAL);
    static const unsigned char wrong_version[] = {0x9e, 0x01}; /* v1 had 13 fields */
    TG_CHECK_EQ_INT(tg_bus_entry_decode(wrong_version, sizeof wrong_version, &e), -EINVAL);
    unsigned char huge[64] = {0x9e, 0x02, 0xa1, 'e', 0x01, 0x00, 0x00, 0x00, 0x00,
                              0x01, 0x01, 0xa1, 'k', 0xc6, 0xff, 0xff, 0xff, 0xff};
    TG_CHECK_EQ_INT(tg_bus_entry_decode(huge, sizeof huge, &e), -EINVAL);
    TG_CHECK_EQ_INT(tg_bus_entry_decode(NULL, 0, &e), -EINVAL);
    TG_CHECK_EQ_INT(tg_bus_entry_decode(huge, TG_BUS_ENTRY_MAX + 1, &e), -EINVAL);
}

int main(void)
{
    return tg_test_run();
}
