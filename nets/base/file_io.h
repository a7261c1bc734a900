/* file_io.h — whole-file reads and crash-safe whole-file writes.
 *
 * Every file the project writes (models, training state, configs) goes through
 * ibp_file_write_atomic: the bytes go to a temporary file in the target's folder, are
 * flushed and fsync'ed, the temporary is renamed over the target and the folder is
 * fsync'ed. A crash at any moment leaves either the old file or the new one, never a
 * half-written one (at worst a stray ".tmp" file next to it). */
#ifndef IBP_FILE_IO_H
#define IBP_FILE_IO_H

#include <stddef.h>

#include "nets/base/status.h"

/* Writes data[0..size) to path atomically (mode 0644). Errors: IBP_ERR_IO with a message
 * naming the path and the failing step ("runs/m.ibp: rename: Permission denied"); the
 * temporary file is removed and an existing target is left untouched. */
enum ibp_status ibp_file_write_atomic(const char *path, const void *data, size_t size,
                                      struct ibp_error *err);

/* Reads the whole of path into a new allocation *data (caller frees) of *size bytes;
 * one extra NUL byte is appended after the data (not counted), so text can be parsed as
 * a string. Files over max_size bytes are refused. Errors: IBP_ERR_IO (open/read, with
 * strerror), IBP_ERR_FORMAT (larger than max_size), IBP_ERR_NOMEM. */
enum ibp_status ibp_file_read_all(const char *path, size_t max_size, unsigned char **data,
                                  size_t *size, struct ibp_error *err);

#endif
