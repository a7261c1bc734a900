/* gzread.h — read a whole, possibly gzip-compressed, file into memory.
 *
 * Used by the ONNX importer and the VNN-LIB parser: both formats are often shipped as
 * `.gz`. Compression is detected by the gzip magic bytes, not by the file name. The data
 * is untrusted: the decompressed size is capped by the caller. */
#ifndef IBP_GZREAD_H
#define IBP_GZREAD_H

#include <stddef.h>

#include "nets/base/status.h"

/* Reads `path` (with ibp_file_read_all, file_io.h) into a new buffer *data of *size bytes,
 * inflating gzip data (several concatenated members allowed). One NUL byte is appended
 * after the data (not counted in *size) so text parsers may rely on it. Fails with
 * IBP_ERR_IO when the file cannot be read, IBP_ERR_FORMAT on corrupt gzip data or a file
 * over max_bytes, IBP_ERR_UNSUPPORTED when the decompressed contents exceed max_bytes,
 * IBP_ERR_NOMEM. On success the caller frees *data with free(); on failure *data is NULL. */
enum ibp_status ibp_gz_read_file(const char *path, size_t max_bytes, unsigned char **data,
                                 size_t *size, struct ibp_error *err);

/* The same for a buffer already in memory: a copy (inflated when gzip) with a trailing
 * NUL. `what` names the data in messages. */
enum ibp_status ibp_gz_inflate(const unsigned char *in, size_t in_size, const char *what,
                               size_t max_bytes, unsigned char **data, size_t *size,
                               struct ibp_error *err);

#endif
