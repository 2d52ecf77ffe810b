/* config_value.c - one value: checked against its key and stored, whether it
 * comes from libconfig, the environment or the table's default text.
 */
#include "config_int.h"

int tg__config_fail(load_ctx_t *ctx, int rc, const char *fmt,
                                                      ...)
{
    if (ctx->err && ctx->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->err, ctx->errlen, fmt, ap);
        va_end(ap);
        /* one line, whatever a value or libconfig said */
        for (char *p = ctx->err; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
    }
    return rc;
}

/* A printable, bounded, quoted copy of a user value for an error message. */
const char *tg__config_quote(const char *s, char *buf, size_t n)
{
    size_t j = 0;
    buf[j++] = '"';
    for (size_t i = 0; s[i] && j + 6 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
            j += (size_t)snprintf(buf + j, n - j, "\\x%02x", c);
        else
            buf[j++] = (char)c;
        if (i == 63 && s[i + 1]) {
            j += (size_t)snprintf(buf + j, n - j, "...");
            break;
        }
    }
    buf[j++] = '"';
    buf[j] = 0;
    return buf;
}

/* ---- small value helpers ----------------------------------------------- */

int tg__config_set_str(char **dst, const char *s)
{
    char *c = strdup(s);
    if (!c)
        return -ENOMEM;
    free(*dst);
    *dst = c;
    return 0;
}

static void list_clear(tg_strlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* Takes ownership of `s` (freed on failure). */
static int list_push(tg_strlist_t *l, char *s)
{
    char **v = realloc(l->v, (l->n + 1) * sizeof *v);
    if (!v) {
        free(s);
        return -ENOMEM;
    }
    l->v = v;
    l->v[l->n++] = s;
    return 0;
}

int tg__config_list_push_copy(tg_strlist_t *l, const char *s)
{
    char *c = strdup(s);
    return c ? list_push(l, c) : -ENOMEM;
}

static const char *dec_str(tg_dec_t v, char *buf)
{
    tg_dec_format(v, buf);
    return buf;
}

static bool valid_symbol(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SYMBOL_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
            return false;
    return true;
}

static bool valid_addr(const char *s)
{
    char ip[INET6_ADDRSTRLEN + 1];
    unsigned char bin[16];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof ip)
        return false;
    memcpy(ip, s, n);
    ip[n] = 0;
    int maxbits = inet_pton(AF_INET, ip, bin) == 1 ? 32 : inet_pton(AF_INET6, ip, bin) == 1 ? 128 : -1;
    if (maxbits < 0)
        return false;
    if (!slash)
        return true;
    const char *p = slash + 1;
    if (!*p || strlen(p) > 3)
        return false;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q))
            return false;
    return atoi(p) <= maxbits;
}

int tg_parse_hostport(const char *s, char *host, size_t hostlen, int *port)
{
    if (!s)
        return -EINVAL;
    const char *h, *he, *p;
    if (s[0] == '[') {
        char ip6[INET6_ADDRSTRLEN + 1];
        unsigned char bin[16];
        h = s + 1;
        he = strchr(h, ']');
        if (!he || he[1] != ':' || he == h || (size_t)(he - h) >= sizeof ip6)
            return -EINVAL;
        memcpy(ip6, h, (size_t)(he - h));
        ip6[he - h] = 0;
        if (inet_pton(AF_INET6, ip6, bin) != 1)
            return -EINVAL;
        p = he + 2;
    } else {
        he = strrchr(s, ':');
        if (!he || he == s || (size_t)(he - s) > 253)
            return -EINVAL;
        h = s;
        for (const char *q = h; q < he; q++)
            if (!isalnum((unsigned char)*q) && *q != '.' && *q != '-' && *q != '_')
                return -EINVAL; /* also refuses an unbracketed IPv6 address */
        p = he + 1;
    }
    size_t pn = strlen(p);
    if (pn == 0 || pn > 5)
        return -EINVAL;
    long v = 0;
    for (size_t i = 0; i < pn; i++) {
        if (!isdigit((unsigned char)p[i]))
            return -EINVAL;
        v = v * 10 + (p[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -EINVAL;
    if (host) {
        if ((size_t)(he - h) >= hostlen)
            return -EINVAL;
        memcpy(host, h, (size_t)(he - h));
        host[he - h] = 0;
    }
    if (port)
        *port = (int)v;
    return 0;
}

/* ---- storing a validated value ----------------------------------------- */

static const char *kind_name(const cfg_key_t *k)
{
    switch (k->kind) {
    case K_INT:
    case K_LL:
        return "integer";
    case K_BOOL:
        return "boolean";
    case K_DEC:
        return "number";
    case K_LIST:
        return "array of strings";
    case K_SPEED:
        return "\"max\" or a number";
    case K_SYMMAP:
        return "list of [from, to] pairs";
    default:
        return "string";
    }
}

static int store_int(load_ctx_t *ctx, const cfg_key_t *k, void *base, const char *name,
                     long long v)
{
    if (v < k->min || v > k->max)
        return tg__config_fail(ctx, -EINVAL, "%s: out of range (%lld..%lld): %lld", name, k->min, k->max, v);
    if (k->kind == K_INT)
        *(int *)((char *)base + k->off) = (int)v;
    else
        *(long long *)((char *)base + k->off) = v;
    return 0;
}

static int store_dec(load_ctx_t *ctx, const cfg_key_t *k, void *base, const char *name,
                     tg_dec_t v)
{
    char a[TG_DEC_STRLEN + 1], b[TG_DEC_STRLEN + 1], c[TG_DEC_STRLEN + 1];
    if (v < k->min || v > k->max || ((k->flags & F_MIN_EXCL) && v == k->min))
        return tg__config_fail(ctx, -EINVAL, "%s: out of range (%s%s..%s): %s", name,
                    (k->flags & F_MIN_EXCL) ? ">" : "", dec_str(k->min, a), dec_str(k->max, b),
                    dec_str(v, c));
    *(tg_dec_t *)((char *)base + k->off) = v;
    return 0;
}

/* Validate a string for the string-ish kinds, then store it. */
static int store_string(load_ctx_t *ctx, const cfg_key_t *k, void *base, const char *name,
                        const char *s)
{
    char q[160];
    if (k->kind == K_ENUM && !(*s == 0 && k->types)) { /* a feed's format may stay "" */
        bool ok = false;
        char list[128] = "";
        for (const char *const *c = k->choices; *c; c++) {
            ok |= strcmp(*c, s) == 0;
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", c == k->choices ? "" : "|",
                     *c);
        }
        if (!ok)
            return tg__config_fail(ctx, -EINVAL, "%s: bad value (expected %s): %s", name, list,
                        tg__config_quote(s, q, sizeof q));
    }
    if (k->kind == K_HOSTPORT && !(*s == 0 && (k->flags & F_EMPTY_OK)) &&
        tg_parse_hostport(s, NULL, 0, NULL) != 0)
        return tg__config_fail(ctx, -EINVAL, "%s: bad value (expected host:port): %s", name,
                    tg__config_quote(s, q, sizeof q));
    if (k->kind == K_FEEDTYPE) {
        for (int i = 0; tg__config_feed_type_names[i]; i++)
            if (strcmp(tg__config_feed_type_names[i], s) == 0) {
                *(tg_feed_type_t *)((char *)base + k->off) = (tg_feed_type_t)i;
                return 0;
            }
        return tg__config_fail(ctx, -EINVAL, "%s: bad value (expected synthetic|replay|ws|tcp|redis): %s",
                    name, tg__config_quote(s, q, sizeof q));
    }
    if (strlen(s) > 65536)
        return tg__config_fail(ctx, -EINVAL, "%s: too long (max 65536 bytes)", name);
    return tg__config_set_str((char **)((char *)base + k->off), s) ? tg__config_fail(ctx, -ENOMEM, "%s: out of memory", name)
                                                         : 0;
}

static int check_list_elem(load_ctx_t *ctx, const cfg_key_t *k, const char *name, size_t i,
                           const char *s)
{
    char q[160];
    if ((k->flags & F_SYMBOLS) && !valid_symbol(s))
        return tg__config_fail(ctx, -EINVAL, "%s[%zu]: bad symbol (1..%d bytes, no spaces): %s", name, i,
                    SYMBOL_MAX, tg__config_quote(s, q, sizeof q));
    if ((k->flags & F_ADDRS) && !valid_addr(s))
        return tg__config_fail(ctx, -EINVAL, "%s[%zu]: bad value (expected IP address or CIDR): %s", name, i,
                    tg__config_quote(s, q, sizeof q));
    if (k->flags & F_LEVELS) {
        const char *eq = strchr(s, '=');
        char sym[SYMBOL_MAX + 2];
        tg_dec_t px;
        size_t n = eq ? (size_t)(eq - s) : 0;
        if (n && n <= SYMBOL_MAX) {
            memcpy(sym, s, n);
            sym[n] = 0;
        }
        if (!n || n > SYMBOL_MAX || !valid_symbol(sym) ||
            tg_dec_parse(eq + 1, strlen(eq + 1), &px) != 0 || px <= 0)
            return tg__config_fail(ctx, -EINVAL,
                                   "%s[%zu]: bad value (expected \"SYMBOL=PRICE\", price > 0 and "
                                   "at most 92233720368.54775807): %s",
                                   name, i, tg__config_quote(s, q, sizeof q));
    }
    return 0;
}

/* ---- values from libconfig --------------------------------------------- */

int tg__config_wrong_type(load_ctx_t *ctx, const char *name, const char *expected)
{
    return tg__config_fail(ctx, -EINVAL, "%s: wrong type (expected %s)", name, expected);
}

static bool is_int_setting(const config_setting_t *s)
{
    int t = config_setting_type(s);
    return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

static int dec_from_setting(load_ctx_t *ctx, const cfg_key_t *k, const config_setting_t *s,
                            const char *name, tg_dec_t *out)
{
    if (is_int_setting(s)) { /* float keys accept integers: exact, no double detour */
        long long v = config_setting_get_int64(s);
        if (v > TG_DEC_MAX / TG_DEC_SCALE || v < TG_DEC_MIN / TG_DEC_SCALE)
            return tg__config_fail(ctx, -EINVAL, "%s: out of range: %lld", name, v);
        *out = TG_DEC(v);
        return 0;
    }
    if (config_setting_type(s) != CONFIG_TYPE_FLOAT)
        return tg__config_wrong_type(ctx, name, kind_name(k));
    double d = config_setting_get_float(s);
    if (tg_dec_from_double(d, out) != 0)
        return tg__config_fail(ctx, -EINVAL, "%s: out of range: %g", name, d);
    return 0;
}

int tg__config_apply_setting(load_ctx_t *ctx, const cfg_key_t *k, void *base,
                         const config_setting_t *s, const char *name)
{
    char sub[2 * NAME_MAX_LEN + 32];
    int t = config_setting_type(s), rc;
    switch (k->kind) {
    case K_STR:
    case K_ENUM:
    case K_HOSTPORT:
    case K_FEEDTYPE:
        if (t != CONFIG_TYPE_STRING)
            return tg__config_wrong_type(ctx, name, "string");
        return store_string(ctx, k, base, name, config_setting_get_string(s));
    case K_INT:
    case K_LL:
        if (!is_int_setting(s))
            return tg__config_wrong_type(ctx, name, "integer");
        return store_int(ctx, k, base, name, config_setting_get_int64(s));
    case K_BOOL:
        if (t != CONFIG_TYPE_BOOL)
            return tg__config_wrong_type(ctx, name, "boolean");
        *(bool *)((char *)base + k->off) = config_setting_get_bool(s);
        return 0;
    case K_DEC: {
        tg_dec_t v;
        if ((rc = dec_from_setting(ctx, k, s, name, &v)))
            return rc;
        return store_dec(ctx, k, base, name, v);
    }
    case K_SPEED: {
        tg_dec_t v;
        if (t == CONFIG_TYPE_STRING) {
            char q[160];
            if (strcmp(config_setting_get_string(s), "max") != 0)
                return tg__config_fail(ctx, -EINVAL, "%s: bad value (expected \"max\" or a positive number): %s",
                            name, tg__config_quote(config_setting_get_string(s), q, sizeof q));
            *(tg_dec_t *)((char *)base + k->off) = 0;
            return 0;
        }
        if ((rc = dec_from_setting(ctx, k, s, name, &v)))
            return rc;
        return store_dec(ctx, k, base, name, v);
    }
    case K_LIST: {
        if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
            return tg__config_wrong_type(ctx, name, "array of strings");
        tg_strlist_t *l = (tg_strlist_t *)((char *)base + k->off);
        list_clear(l);
        int n = config_setting_length(s);
        for (int i = 0; i < n; i++) {
            const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
            snprintf(sub, sizeof sub, "%s[%d]", name, i);
            if (config_setting_type(e) != CONFIG_TYPE_STRING)
                return tg__config_wrong_type(ctx, sub, "string");
            const char *v = config_setting_get_string(e);
            if ((rc = check_list_elem(ctx, k, name, (size_t)i, v)))
                return rc;
            if (tg__config_list_push_copy(l, v))
                return tg__config_fail(ctx, -ENOMEM, "%s: out of memory", name);
        }
        return 0;
    }
    case K_SYMMAP: {
        tg_feed_conf_t *f = base;
        if (t != CONFIG_TYPE_LIST && !(t == CONFIG_TYPE_ARRAY && config_setting_length(s) == 0))
            return tg__config_wrong_type(ctx, name, kind_name(k));
        list_clear(&f->map_from);
        list_clear(&f->map_to);
        int n = config_setting_length(s);
        for (int i = 0; i < n; i++) {
            const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
            int et = config_setting_type(e);
            snprintf(sub, sizeof sub, "%s[%d]", name, i);
            if ((et != CONFIG_TYPE_ARRAY && et != CONFIG_TYPE_LIST) || config_setting_length(e) != 2 ||
                config_setting_type(config_setting_get_elem(e, 0)) != CONFIG_TYPE_STRING ||
                config_setting_type(config_setting_get_elem(e, 1)) != CONFIG_TYPE_STRING)
                return tg__config_wrong_type(ctx, sub, "a pair of strings");
            const char *from = config_setting_get_string(config_setting_get_elem(e, 0));
            const char *to = config_setting_get_string(config_setting_get_elem(e, 1));
            char q[160];
            if (!*from || !valid_symbol(to))
                return tg__config_fail(ctx, -EINVAL, "%s: bad symbol pair: %s", sub, tg__config_quote(to, q, sizeof q));
            if (tg__config_list_push_copy(&f->map_from, from) || tg__config_list_push_copy(&f->map_to, to))
                return tg__config_fail(ctx, -ENOMEM, "%s: out of memory", name);
        }
        return 0;
    }
    }
    return tg__config_fail(ctx, -EINVAL, "%s: internal error (kind)", name);
}

/* ---- values from text (environment, and the tables' defaults) ---------- */

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

/* Split a comma-separated value into trimmed elements. Commas inside quotes,
 * brackets or braces do not split, so JSON subscribe messages survive. */
static int split_list(load_ctx_t *ctx, const char *name, const char *text, tg_strlist_t *out)
{
    char *buf = strdup(text);
    if (!buf)
        return tg__config_fail(ctx, -ENOMEM, "%s: out of memory", name);
    int rc = 0;
    if (*trim(buf) == 0)
        goto out_free; /* "" = empty list */
    int depth = 0;
    bool in_str = false;
    char *start = buf;
    for (char *p = buf;; p++) {
        if (in_str) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                in_str = false;
            else if (!*p)
                goto elem; /* unterminated tg__config_quote: take the rest */
            continue;
        }
        if (*p == '"')
            in_str = true;
        else if (*p == '{' || *p == '[')
            depth++;
        else if ((*p == '}' || *p == ']') && depth > 0)
            depth--;
        else if ((*p == ',' && depth == 0) || !*p) {
        elem:;
            bool last = !*p;
            *p = 0;
            char *e = trim(start);
            if (!*e) {
                rc = tg__config_fail(ctx, -EINVAL, "%s: empty list element", name);
                goto out_free;
            }
            if (tg__config_list_push_copy(out, e)) {
                rc = tg__config_fail(ctx, -ENOMEM, "%s: out of memory", name);
                goto out_free;
            }
            if (last)
                break;
            start = p + 1;
        }
    }
out_free:
    free(buf);
    return rc;
}

static int parse_bool_text(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return *out = true, 0;
        if (strcasecmp(s, no[i]) == 0)
            return *out = false, 0;
    }
    return -EINVAL;
}

int tg__config_apply_text(load_ctx_t *ctx, const cfg_key_t *k, void *base, const char *text,
                      const char *name)
{
    char q[160];
    int rc;
    switch (k->kind) {
    case K_STR:
    case K_ENUM:
    case K_HOSTPORT:
    case K_FEEDTYPE:
        return store_string(ctx, k, base, name, text);
    case K_INT:
    case K_LL: {
        char *end;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (!*text || isspace((unsigned char)*text) || *end)
            return tg__config_fail(ctx, -EINVAL, "%s: wrong type (expected integer): %s", name,
                        tg__config_quote(text, q, sizeof q));
        if (errno == ERANGE)
            return tg__config_fail(ctx, -EINVAL, "%s: out of range (%lld..%lld): %s", name, k->min, k->max,
                        text);
        return store_int(ctx, k, base, name, v);
    }
    case K_BOOL: {
        bool b;
        if (parse_bool_text(text, &b))
            return tg__config_fail(ctx, -EINVAL, "%s: wrong type (expected boolean): %s", name,
                        tg__config_quote(text, q, sizeof q));
        *(bool *)((char *)base + k->off) = b;
        return 0;
    }
    case K_DEC:
    case K_SPEED: {
        tg_dec_t v;
        if (k->kind == K_SPEED && strcmp(text, "max") == 0) {
            *(tg_dec_t *)((char *)base + k->off) = 0;
            return 0;
        }
        rc = tg_dec_parse_round(text, strlen(text), &v);
        if (rc == -ERANGE)
            return tg__config_fail(ctx, -EINVAL, "%s: out of range: %s", name, tg__config_quote(text, q, sizeof q));
        if (rc)
            return tg__config_fail(ctx, -EINVAL, "%s: wrong type (expected %s): %s", name, kind_name(k),
                        tg__config_quote(text, q, sizeof q));
        return store_dec(ctx, k, base, name, v);
    }
    case K_LIST: {
        tg_strlist_t l = {0};
        if ((rc = split_list(ctx, name, text, &l)))
            goto fail_list;
        for (size_t i = 0; i < l.n; i++)
            if ((rc = check_list_elem(ctx, k, name, i, l.v[i])))
                goto fail_list;
        tg_strlist_t *dst = (tg_strlist_t *)((char *)base + k->off);
        list_clear(dst);
        *dst = l;
        return 0;
    fail_list:
        list_clear(&l);
        return rc;
    }
    case K_SYMMAP: {
        tg_feed_conf_t *f = base;
        tg_strlist_t l = {0}, from = {0}, to = {0};
        if ((rc = split_list(ctx, name, text, &l)))
            goto fail_map;
        for (size_t i = 0; i < l.n; i++) {
            char *eq = strrchr(l.v[i], '=');
            if (!eq || eq == l.v[i] || !valid_symbol(eq + 1)) {
                rc = tg__config_fail(ctx, -EINVAL, "%s[%zu]: bad value (expected FROM=TO): %s", name, i,
                          tg__config_quote(l.v[i], q, sizeof q));
                goto fail_map;
            }
            *eq = 0;
            if (tg__config_list_push_copy(&from, l.v[i]) || tg__config_list_push_copy(&to, eq + 1)) {
                rc = tg__config_fail(ctx, -ENOMEM, "%s: out of memory", name);
                goto fail_map;
            }
        }
        list_clear(&l);
        list_clear(&f->map_from);
        list_clear(&f->map_to);
        f->map_from = from;
        f->map_to = to;
        return 0;
    fail_map:
        list_clear(&l);
        list_clear(&from);
        list_clear(&to);
        return rc;
    }
    }
    return tg__config_fail(ctx, -EINVAL, "%s: internal error (kind)", name);
}

/* ---- defaults and freeing ---------------------------------------------- */

static int apply_defaults(const cfg_key_t *tab, size_t n, void *base)
{
    char err[256];
    load_ctx_t ctx = {.err = err, .errlen = sizeof err};
    for (size_t i = 0; i < n; i++) {
        if (!tab[i].def)
            continue;
        int rc = tg__config_apply_text(&ctx, &tab[i], base, tab[i].def, tab[i].key);
        if (rc)
            return rc;
    }
    return 0;
}

static void free_fields(const cfg_key_t *tab, size_t n, void *base)
{
    for (size_t i = 0; i < n; i++) {
        char *p = (char *)base + tab[i].off;
        switch (tab[i].kind) {
        case K_STR:
        case K_ENUM:
        case K_HOSTPORT:
            free(*(char **)p);
            *(char **)p = NULL;
            break;
        case K_LIST:
            list_clear((tg_strlist_t *)p);
            break;
        case K_SYMMAP:
            list_clear(&((tg_feed_conf_t *)base)->map_from);
            list_clear(&((tg_feed_conf_t *)base)->map_to);
            break;
        default:
            break;
        }
    }
}

void tg_config_free(tg_config_t *cfg)
{
    if (!cfg)
        return;
    free_fields(tg__config_main_keys, N_MAIN, cfg);
    for (size_t i = 0; i < cfg->n_feeds && i < TG_MAX_FEEDS; i++)
        free_fields(tg__config_feed_keys, N_FEED, &cfg->feeds[i]);
    memset(cfg, 0, sizeof *cfg);
}

int tg_config_defaults(tg_config_t *cfg)
{
    if (!cfg)
        return -EINVAL;
    memset(cfg, 0, sizeof *cfg);
    int rc = apply_defaults(tg__config_main_keys, N_MAIN, cfg);
    if (rc)
        tg_config_free(cfg);
    return rc;
}

/* Append a feed with the feed table's defaults; its name/type are the caller's. */
int tg__config_feed_add(load_ctx_t *ctx, tg_config_t *cfg, const char *where, tg_feed_conf_t **out)
{
    if (cfg->n_feeds >= TG_MAX_FEEDS)
        return tg__config_fail(ctx, -EINVAL, "%s: too many feeds (max %d)", where, TG_MAX_FEEDS);
    tg_feed_conf_t *f = &cfg->feeds[cfg->n_feeds++];
    memset(f, 0, sizeof *f);
    ctx->feed_set[cfg->n_feeds - 1] = 0;
    if (apply_defaults(tg__config_feed_keys, N_FEED, f))
        return tg__config_fail(ctx, -ENOMEM, "%s: out of memory", where);
    *out = f;
    return 0;
}

/* A TTL such as "15m" (see config.h). */
int tg_parse_duration_s(const char *s, int64_t *out)
{
    if (!s || !out || !(*s >= '0' && *s <= '9'))
        return -EINVAL;
    int64_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++)
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *p - '0', &v))
            return -ERANGE;
    int64_t mul;
    switch (*p) {
    case '\0':
    case 's':
        mul = 1;
        break;
    case 'm':
        mul = 60;
        break;
    case 'h':
        mul = 3600;
        break;
    case 'd':
        mul = 86400;
        break;
    default:
        return -EINVAL;
    }
    if (*p && p[1] != '\0')
        return -EINVAL;
    if (__builtin_mul_overflow(v, mul, &v))
        return -ERANGE;
    *out = v;
    return 0;
}
