#include "nets/base/gzread.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#define ZLIB_CONST
#include <zlib.h>

#include "nets/base/file_io.h"

/* Grows *buf to hold at least `need` bytes (plus the NUL), doubling. */
static int grow(unsigned char **buf, size_t *cap, size_t need)
{
    if (need < *cap)
        return 1;
    size_t c = *cap ? *cap : 4096;
    while (c <= need) {
        if (c > SIZE_MAX / 2)
            return 0;
        c *= 2;
    }
    unsigned char *p = realloc(*buf, c);
    if (!p)
        return 0;
    *buf = p;
    *cap = c;
    return 1;
}

static enum ibp_status inflate_all(const unsigned char *in, size_t in_size, const char *what,
                                   size_t max_bytes, unsigned char **data, size_t *size,
                                   struct ibp_error *err)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* 16 + MAX_WBITS: gzip wrapper only */
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return ibp_fail(err, IBP_ERR_NOMEM, "%s: cannot initialise zlib", what);
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0, pos = 0;
    enum ibp_status st = IBP_OK;
    while (st == IBP_OK) {
        if (!grow(&buf, &cap, n + 65536)) {
            st = ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory inflating", what);
            break;
        }
        size_t in_chunk = in_size - pos < UINT_MAX ? in_size - pos : UINT_MAX;
        size_t out_room = cap - 1 - n < UINT_MAX ? cap - 1 - n : UINT_MAX;
        zs.next_in = in + pos;
        zs.avail_in = (unsigned)in_chunk;
        zs.next_out = buf + n;
        zs.avail_out = (unsigned)out_room;
        int rc = inflate(&zs, Z_NO_FLUSH);
        pos += in_chunk - zs.avail_in;
        n += out_room - zs.avail_out;
        if (n > max_bytes) {
            st = ibp_fail(err, IBP_ERR_UNSUPPORTED,
                          "%s: decompressed size exceeds the limit of %zu bytes", what, max_bytes);
        } else if (rc == Z_STREAM_END) {
            /* another gzip member may follow */
            if (pos >= in_size)
                break;
            if (inflateReset(&zs) != Z_OK)
                st = ibp_fail(err, IBP_ERR_FORMAT, "%s: corrupt gzip data", what);
        } else if (rc == Z_BUF_ERROR && pos >= in_size && zs.avail_out > 0) {
            st = ibp_fail(err, IBP_ERR_FORMAT, "%s: truncated gzip data", what);
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            st = ibp_fail(err, IBP_ERR_FORMAT, "%s: corrupt gzip data (%s)", what,
                          zs.msg ? zs.msg : "inflate failed");
        }
    }
    inflateEnd(&zs);
    if (st != IBP_OK) {
        free(buf);
        return st;
    }
    buf[n] = '\0';
    *data = buf;
    *size = n;
    return IBP_OK;
}

static int is_gzip(const unsigned char *p, size_t n)
{
    return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

enum ibp_status ibp_gz_inflate(const unsigned char *in, size_t in_size, const char *what,
                               size_t max_bytes, unsigned char **data, size_t *size,
                               struct ibp_error *err)
{
    *data = NULL;
    *size = 0;
    if (is_gzip(in, in_size))
        return inflate_all(in, in_size, what, max_bytes, data, size, err);
    if (in_size > max_bytes)
        return ibp_fail(err, IBP_ERR_UNSUPPORTED, "%s: size exceeds the limit of %zu bytes",
                        what, max_bytes);
    unsigned char *buf = malloc(in_size + 1);
    if (!buf)
        return ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", what);
    if (in_size)
        memcpy(buf, in, in_size);
    buf[in_size] = '\0';
    *data = buf;
    *size = in_size;
    return IBP_OK;
}

enum ibp_status ibp_gz_read_file(const char *path, size_t max_bytes, unsigned char **data,
                                 size_t *size, struct ibp_error *err)
{
    *data = NULL;
    *size = 0;
    unsigned char *raw;
    size_t n;
    enum ibp_status st = ibp_file_read_all(path, max_bytes, &raw, &n, err);
    if (st != IBP_OK)
        return st;
    if (!is_gzip(raw, n)) {
        *data = raw;
        *size = n;
        return IBP_OK;
    }
    st = inflate_all(raw, n, path, max_bytes, data, size, err);
    free(raw);
    return st;
}
