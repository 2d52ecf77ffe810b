/* config_print.c - `tickgate check-config`: print every key, secrets masked. */
#include "config_int.h"

/* ---- printing ---------------------------------------------------------- */

static void print_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        case '\f':
            fputs("\\f", out);
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(out, "\\x%02x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

/* Length of "name=" when p starts a parameter whose value is a credential
 * (libpq's password=, a provider's ?token=…/apikey=… in a ws url), else 0. */
static size_t secret_param(const char *url, const char *p)
{
    static const char *const names[] = {"password=", "passwd=", "token=", "access_token=",
                                        "apikey=",   "key=",    "secret=", "auth=", NULL};
    if (p != url && isalnum((unsigned char)p[-1]))
        return 0;
    for (size_t i = 0; names[i]; i++)
        if (strncasecmp(p, names[i], strlen(names[i])) == 0)
            return strlen(names[i]);
    return 0;
}

/* Copy of `url` with the userinfo password and any credential parameter replaced
 * by "***"; NULL on allocation failure (the caller then masks everything). */
static char *mask_url(const char *url)
{
    size_t n = strlen(url);
    char *o = malloc(4 * n + 8);
    if (!o)
        return NULL;
    size_t j = 0;
    const char *auth = strstr(url, "://");
    const char *pw = NULL, *pw_end = NULL;
    if (auth) {
        auth += 3;
        size_t alen = strcspn(auth, "/?#");
        const char *at = NULL;
        for (const char *p = auth; p < auth + alen; p++)
            if (*p == '@')
                at = p;
        if (at) {
            const char *colon = memchr(auth, ':', (size_t)(at - auth));
            if (colon) {
                pw = colon + 1;
                pw_end = at;
            }
        }
    }
    for (const char *p = url; *p;) {
        if (p == pw) {
            memcpy(o + j, "***", 3);
            j += 3;
            p = pw_end;
            pw = NULL; /* "u:@h" has pw == pw_end: mask once, never loop */
            continue;
        }
        size_t kl = secret_param(url, p);
        if (kl) {
            memcpy(o + j, p, kl);
            j += kl;
            p += kl;
            if (p[0] == '$' && p[1] == '{')
                continue; /* a ${api_key} reference is not itself a secret */
            if (*p == '\'') {
                for (p++; *p && *p != '\''; p++)
                    if (*p == '\\' && p[1])
                        p++;
                if (*p)
                    p++;
            } else {
                p += strcspn(p, " &;#");
            }
            memcpy(o + j, "***", 3);
            j += 3;
            continue;
        }
        o[j++] = *p++;
    }
    o[j] = 0;
    return o;
}

static void print_value(FILE *out, const cfg_key_t *k, const void *base)
{
    const char *p = (const char *)base + k->off;
    char buf[TG_DEC_STRLEN + 1];
    switch (k->kind) {
    case K_STR:
    case K_ENUM:
    case K_HOSTPORT: {
        const char *s = *(char *const *)p ? *(char *const *)p : "";
        if ((k->flags & F_SECRET) && *s) {
            print_str(out, "***");
        } else if (k->flags & F_URLSECRET) {
            char *m = mask_url(s);
            print_str(out, m ? m : (*s ? "***" : ""));
            free(m);
        } else {
            print_str(out, s);
        }
        break;
    }
    case K_FEEDTYPE:
        print_str(out, tg__config_feed_type_names[*(const tg_feed_type_t *)p]);
        break;
    case K_INT:
        fprintf(out, "%d", *(const int *)p);
        break;
    case K_LL: {
        long long v = *(const long long *)p;
        fprintf(out, "%lld%s", v, v > INT32_MAX || v < INT32_MIN ? "L" : "");
        break;
    }
    case K_BOOL:
        fputs(*(const bool *)p ? "true" : "false", out);
        break;
    case K_DEC:
    case K_SPEED: {
        tg_dec_t v = *(const tg_dec_t *)p;
        if (k->kind == K_SPEED && v == 0) {
            fputs("\"max\"", out);
            break;
        }
        tg_dec_format(v, buf);
        /* keep it a libconfig float so the printout reads back with the same type */
        fprintf(out, "%s%s", buf, strchr(buf, '.') ? "" : ".0");
        break;
    }
    case K_LIST: {
        const tg_strlist_t *l = (const tg_strlist_t *)p;
        fputs("[", out);
        for (size_t i = 0; i < l->n; i++) {
            fputs(i ? ", " : " ", out);
            print_str(out, l->v[i]);
        }
        fputs(l->n ? " ]" : "]", out);
        break;
    }
    case K_SYMMAP: {
        const tg_feed_conf_t *f = base;
        fputs("(", out);
        for (size_t i = 0; i < f->map_from.n && i < f->map_to.n; i++) {
            fputs(i ? ", [ " : " [ ", out);
            print_str(out, f->map_from.v[i]);
            fputs(", ", out);
            print_str(out, f->map_to.v[i]);
            fputs(" ]", out);
        }
        fputs(f->map_from.n ? " )" : ")", out);
        break;
    }
    }
}

/* Print the keys of one section (or of one feed of type `ftype`, when
 * section is NULL), opening a nested group for each dotted prefix. */
static void print_keys(FILE *out, const cfg_key_t *tab, size_t n, const char *section,
                       const void *base, int ftype, const char *ind)
{
    const char *open = NULL; /* the nested group currently open */
    size_t open_len = 0;
    for (size_t i = 0; i < n; i++) {
        const cfg_key_t *k = &tab[i];
        if (section && strcmp(k->section, section) != 0)
            continue;
        if (ftype >= 0 && !(k->types & (1u << ftype)))
            continue;
        const char *dot = strchr(k->key, '.');
        if (open && (!dot || (size_t)(dot - k->key) != open_len ||
                     strncmp(k->key, open, open_len) != 0)) {
            fprintf(out, "%s};\n", ind);
            open = NULL;
        }
        if (dot && !open) {
            open = k->key;
            open_len = (size_t)(dot - k->key);
            fprintf(out, "%s%.*s = {\n", ind, (int)open_len, k->key);
        }
        fprintf(out, "%s%s%s = ", ind, open ? "  " : "", dot ? dot + 1 : k->key);
        print_value(out, k, base);
        fputs(";\n", out);
    }
    if (open)
        fprintf(out, "%s};\n", ind);
}

void tg_config_print(const tg_config_t *cfg, FILE *out)
{
    if (!cfg || !out)
        return;
    if (cfg->embedded_default)
        fputs("# embedded default (no --config)\n", out);
    const char *last = NULL;
    for (size_t i = 0; i < N_MAIN; i++) {
        const char *sec = tg__config_main_keys[i].section;
        if (last && strcmp(last, sec) == 0)
            continue;
        last = sec;
        fprintf(out, "%s = {\n", sec);
        print_keys(out, tg__config_main_keys, N_MAIN, sec, cfg, -1, "  ");
        fputs("};\n", out);
        if (strcmp(sec, "limits") == 0) { /* feeds sit where SPEC §2 puts them */
            fputs("feeds = (", out);
            for (size_t f = 0; f < cfg->n_feeds; f++) {
                fputs(f ? ",\n  {\n" : "\n  {\n", out);
                print_keys(out, tg__config_feed_keys, N_FEED, NULL, &cfg->feeds[f], (int)cfg->feeds[f].type,
                           "    ");
                fputs("  }", out);
            }
            fputs(cfg->n_feeds ? "\n);\n" : ");\n", out);
        }
    }
}
