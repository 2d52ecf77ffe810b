/* file.h - reading a whole (small) file, the one helper every loader shares. */
#ifndef TICKGATE_FILE_H
#define TICKGATE_FILE_H

#include <stddef.h>

/**
 * Read all of `path` into a malloc'd buffer with a NUL appended (not counted
 * in *len); the caller frees *out. Returns 0, -errno from open/read (-ENOENT,
 * -EACCES, -EIO, ...), -EFBIG when the file exceeds max_bytes, or -ENOMEM.
 * Any thread.
 */
int tg_file_read(const char *path, size_t max_bytes, char **out, size_t *len);

#endif
