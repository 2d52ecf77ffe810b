/* embed.h - files compiled into the binary (dashboard, demo portfolios). */
#ifndef TICKGATE_EMBED_H
#define TICKGATE_EMBED_H

#include <stddef.h>

typedef struct tg_embedded_file {
    const char *path; /* "/index.html", "/app.js", "deploy/demo-portfolios.json" */
    const unsigned char *data; /* NUL-terminated for convenience; len excludes it */
    size_t len;
} tg_embedded_file_t;

/** Terminated by an entry with path == NULL. */
extern const tg_embedded_file_t tg_embedded_files[];

/** Find an embedded file by path; NULL when absent. */
const tg_embedded_file_t *tg_embed_find(const char *path);

#endif
