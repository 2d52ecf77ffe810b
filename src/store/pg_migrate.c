/* pg_migrate.c - `tickgate migrate`: apply deploy/sql/NNN_*.sql in order, once each. */
#include "pg_int.h"

/* ---- migrate ------------------------------------------------------------- */

static int cmp_files(const void *a, const void *b)
{
    const tg_embedded_file_t *x = *(const tg_embedded_file_t *const *)a;
    const tg_embedded_file_t *y = *(const tg_embedded_file_t *const *)b;
    return strcmp(x->path, y->path);
}

int tg_store_pg_migrate(const char *url, FILE *out, char *err, size_t errlen)
{
    if (!url || !url[0]) {
        snprintf(err, errlen, "postgres.url: empty (set it in the config or TICKGATE_POSTGRES_URL)");
        return -EINVAL;
    }
    const tg_embedded_file_t *files[64];
    size_t nf = 0;
    for (const tg_embedded_file_t *f = tg_embedded_files; f->path && nf < 64; f++) {
        size_t l = strlen(f->path);
        if (strncmp(f->path, "deploy/sql/", 11) == 0 && l > 15 && !strcmp(f->path + l - 4, ".sql"))
            files[nf++] = f;
    }
    qsort(files, nf, sizeof files[0], cmp_files);
    PGconn *c = tg__pg_connect(url);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", c ? PQerrorMessage(c) : "out of memory");
        for (size_t l = strlen(msg); l && (msg[l - 1] == '\n' || msg[l - 1] == ' ');)
            msg[--l] = 0;
        for (char *p = msg; *p; p++)
            if (*p == '\n' || *p == '\t')
                *p = ' ';
        snprintf(err, errlen, "postgres.url: cannot connect: %s", msg);
        PQfinish(c);
        return -ECONNREFUSED;
    }
    int rc = -EIO;
    char e[1024] = "";
    if (!tg__pg_exec_ok(c, "SET client_min_messages = warning", e, sizeof e) ||
        !tg__pg_exec_ok(c, "BEGIN", e, sizeof e) ||
        /* two concurrent migrates serialize here instead of failing */
        !tg__pg_exec_ok(c, "SELECT pg_advisory_xact_lock(7431005)", e, sizeof e) ||
        !tg__pg_exec_ok(c,
                 "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                 "applied_at timestamptz NOT NULL DEFAULT now())",
                 e, sizeof e))
        goto fail;
    int applied = 0, latest = 0;
    for (size_t i = 0; i < nf; i++) {
        const char *name = files[i]->path + 11;
        int version = atoi(name);
        if (version <= 0)
            continue;
        latest = version;
        char vs[16];
        snprintf(vs, sizeof vs, "%d", version);
        const char *p[1] = {vs};
        PGresult *r = PQexecParams(c, "SELECT 1 FROM schema_migrations WHERE version = $1", 1,
                                   NULL, p, NULL, NULL, 0);
        bool done = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
        bool okq = PQresultStatus(r) == PGRES_TUPLES_OK;
        PQclear(r);
        if (!okq) {
            snprintf(e, sizeof e, "%s", PQerrorMessage(c));
            goto fail;
        }
        if (done)
            continue;
        if (!tg__pg_exec_ok(c, (const char *)files[i]->data, e, sizeof e)) {
            char tmp[1024];
            snprintf(tmp, sizeof tmp, "%.100s: %.900s", name, e);
            snprintf(e, sizeof e, "%s", tmp);
            goto fail;
        }
        r = PQexecParams(c, "INSERT INTO schema_migrations (version) VALUES ($1)", 1, NULL, p,
                         NULL, NULL, 0);
        okq = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!okq) {
            snprintf(e, sizeof e, "%s", PQerrorMessage(c));
            goto fail;
        }
        fprintf(out, "applied %s (version %d)\n", name, version);
        applied++;
    }
    if (!tg__pg_exec_ok(c, "COMMIT", e, sizeof e))
        goto fail;
    if (!applied)
        fprintf(out, "schema up to date (version %d)\n", latest);
    else
        fprintf(out, "schema at version %d\n", latest);
    PQfinish(c);
    return 0;
fail:
    for (size_t l = strlen(e); l && (e[l - 1] == '\n' || e[l - 1] == ' ');)
        e[--l] = 0;
    for (char *q = e; *q; q++)
        if (*q == '\n' || *q == '\t')
            *q = ' ';
    snprintf(err, errlen, "migrate failed, nothing applied: %s", e);
    PQfinish(c);
    return rc;
}
