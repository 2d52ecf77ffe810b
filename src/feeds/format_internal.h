/* format_internal.h - helpers shared by the format_<name>.c parsers
 * (implemented in format.c). Private to src/feeds. */
#ifndef TICKGATE_FORMAT_INTERNAL_H
#define TICKGATE_FORMAT_INTERNAL_H

#include "tickgate/feed_format.h"

/** Parse one element r of document j; 0 after exactly one callback, or a
 * negative errno with no callback. */
typedef int (*tg__fmt_elem_fn)(tg_format_sink_t *s, const tg_json_t *j, tg_json_ref_t r,
                               int64_t now_ns);

/** Parse msg into s->_json with the limits every format uses. */
int tg__fmt_doc(tg_format_sink_t *s, const char *msg, size_t len);

/** Array: fn per element, a failing element goes to on_error; returns the
 * element count. Object: fn once; its error is returned. Else -EINVAL. */
int tg__fmt_batch(tg_format_sink_t *s, const tg_json_t *j, tg_json_ref_t r, tg__fmt_elem_fn fn,
                  int64_t now_ns);

/** A zeroed tick with ts = now_ns. */
void tg__fmt_tick_init(tg_tick_t *t, int64_t now_ns);

/** Copy string r as the symbol (upper-cased when asked). Not a string:
 * -EINVAL. Empty, longer than 31 bytes or not printable ASCII/UTF-8 without
 * spaces: sym_len 0 (validation then says bad_symbol). */
int tg__fmt_symbol(const tg_json_t *j, tg_json_ref_t r, tg_tick_t *t, bool upper);

/** Required decimal (number or numeric string): tg_json_dec, -EINVAL if absent. */
int tg__fmt_dec(const tg_json_t *j, tg_json_ref_t r, tg_dec_t *out);

/** Optional decimal: absent or null leaves *out = 0 and returns 0. */
int tg__fmt_dec_opt(const tg_json_t *j, tg_json_ref_t r, tg_dec_t *out);

/** Integer time in `unit_ns` units (1e6 for ms) to ns; absent -> 0. Negative: -EINVAL. */
int tg__fmt_int_ts(const tg_json_t *j, tg_json_ref_t r, int64_t unit_ns, int64_t *ns);

/** RFC 3339 string time to ns; absent -> 0. */
int tg__fmt_rfc3339_ts(const tg_json_t *j, tg_json_ref_t r, int64_t *ns);

/** Optional non-negative integer sequence; absent -> 0. */
int tg__fmt_seq(const tg_json_t *j, tg_json_ref_t r, uint64_t *seq);

/** on_control with the raw text of string r (or NULL). Returns 0. */
int tg__fmt_control(tg_format_sink_t *s, tg_format_ctl_t kind, const tg_json_t *j,
                    tg_json_ref_t text);

/** One message type of a format whose elements name their type in a string
 * field: a tick parser, or (parse NULL) a control message of kind ctl whose
 * text is the field `text` (NULL: the type itself). */
typedef struct tg__fmt_type {
    const char *type;
    tg__fmt_elem_fn parse;
    tg_format_ctl_t ctl;
    const char *text;
} tg__fmt_type_t;

/** A type that is a tick (parse), or a control message of kind whose text is
 * the field text (NULL: the type). */
#define TG_FMT_TICK(type, parse) {(type), (parse), TG_FORMAT_CTL_UNKNOWN, NULL}
#define TG_FMT_CTL(type, kind, text) {(type), NULL, (kind), (text)}

/** Element r by the string in its field `field`: the entry of types[0..n)
 * with that type, else an UNKNOWN control with the type as text. No such
 * string field: -EINVAL. */
int tg__fmt_by_type(tg_format_sink_t *s, const tg_json_t *j, tg_json_ref_t r, int64_t now_ns,
                    const char *field, const tg__fmt_type_t *types, size_t n);

/**
 * Messages that may carry a trade (price, size) and/or a quote (bid, ask),
 * any of them absent or null: fill t, set its flags, emit it. -EINVAL when
 * neither part is present, or a present number is malformed.
 */
int tg__fmt_trade_quote(tg_format_sink_t *s, const tg_json_t *j, tg_tick_t *t, tg_json_ref_t price,
                        tg_json_ref_t size, tg_json_ref_t bid, tg_json_ref_t ask);

static inline int tg__fmt_emit(tg_format_sink_t *s, const tg_tick_t *t)
{
    if (s->on_tick)
        s->on_tick(s, t);
    return 0;
}

#endif
