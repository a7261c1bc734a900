#include "datasets/idx.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define IDX_MAGIC_IMAGES 2051u /* 0x00000803: ubyte, 3 dimensions */
#define IDX_MAGIC_LABELS 2049u /* 0x00000801: ubyte, 1 dimension */
/* deflate cannot expand more than 1032:1, so a gzip file of s bytes holds < 1032*s + 1 KiB */
#define DEFLATE_MAX_RATIO 1032
/* gzread takes an unsigned count: read in pieces of at most this many bytes */
#define READ_CHUNK (1u << 30)

struct idx_file {
    const char *path;
    gzFile f;
    uint32_t dims[3];
    uint64_t payload; /* bytes of data after the header */
};

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Reads up to len bytes; returns the count read, or -1 on a zlib error. */
static int64_t read_bytes(gzFile f, void *dst, uint64_t len)
{
    uint64_t got = 0;
    while (got < len) {
        uint64_t want = len - got < READ_CHUNK ? len - got : READ_CHUNK;
        int r = gzread(f, (unsigned char *)dst + got, (unsigned)want);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (uint64_t)r;
    }
    return (int64_t)got;
}

static const char *zerror(gzFile f)
{
    int code;
    const char *msg = gzerror(f, &code);
    return code == Z_ERRNO ? strerror(errno) : msg;
}

static void idx_close(struct idx_file *x)
{
    if (x->f)
        gzclose(x->f);
    x->f = NULL;
}

/* Opens path, checks its magic and that the sizes in its header are consistent with the
 * file's length, and leaves the stream at the first data byte. */
static enum ibp_status idx_open(struct idx_file *x, const char *path, uint32_t magic, int ndims,
                                struct ibp_error *err)
{
    const char *what = magic == IDX_MAGIC_IMAGES ? "images" : "labels";
    memset(x, 0, sizeof *x);
    x->path = path;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return ibp_fail(err, IBP_ERR_IO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return ibp_fail(err, IBP_ERR_IO, "%s: not a regular file", path);
    x->f = gzopen(path, "rb");
    if (!x->f)
        return ibp_fail(err, IBP_ERR_IO, "%s: %s", path, errno ? strerror(errno) : "cannot open");
    gzbuffer(x->f, 1u << 20); /* large reads: decompression, not syscalls, bounds the time */

    unsigned char head[16];
    uint64_t head_len = 4 + 4 * (uint64_t)ndims;
    int64_t got = read_bytes(x->f, head, head_len);
    if (got < 0) {
        ibp_fail(err, IBP_ERR_FORMAT, "%s: %s", path, zerror(x->f));
        idx_close(x);
        return IBP_ERR_FORMAT;
    }
    if (got >= 4 && be32(head) != magic) {
        ibp_fail(err, IBP_ERR_FORMAT, "%s: magic number %u, expected %u (IDX %s file)", path,
                 be32(head), magic, what);
        idx_close(x);
        return IBP_ERR_FORMAT;
    }
    if ((uint64_t)got < head_len) {
        ibp_fail(err, IBP_ERR_FORMAT, "%s: header cut short (%lld of %llu bytes)", path,
                 (long long)got, (unsigned long long)head_len);
        idx_close(x);
        return IBP_ERR_FORMAT;
    }
    uint64_t payload = 1;
    for (int i = 0; i < ndims; i++) {
        x->dims[i] = be32(head + 4 + 4 * i);
        /* each factor < 2^32 and the product kept < 2^62: no wrap-around */
        if (x->dims[i] == 0 || payload > (UINT64_C(1) << 62) / x->dims[i]) {
            ibp_fail(err, IBP_ERR_FORMAT, "%s: header size %u of dimension %d %s", path,
                     x->dims[i], i, x->dims[i] == 0 ? "is zero" : "overflows");
            idx_close(x);
            return IBP_ERR_FORMAT;
        }
        payload *= x->dims[i];
    }
    x->payload = payload;
    uint64_t file_size = (uint64_t)sb.st_size;
    if (gzdirect(x->f)) {
        if (head_len + payload != file_size) {
            ibp_fail(err, IBP_ERR_FORMAT,
                     "%s: header promises %llu bytes of data, file has %llu", path,
                     (unsigned long long)payload, (unsigned long long)(file_size - head_len));
            idx_close(x);
            return IBP_ERR_FORMAT;
        }
    } else if (payload / DEFLATE_MAX_RATIO > file_size + 1024) {
        /* caught before allocating what the header asks for */
        ibp_fail(err, IBP_ERR_FORMAT,
                 "%s: header promises %llu bytes of data, more than a %llu-byte gzip file holds",
                 path, (unsigned long long)payload, (unsigned long long)file_size);
        idx_close(x);
        return IBP_ERR_FORMAT;
    }
    if (payload > SIZE_MAX / 2) {
        ibp_fail(err, IBP_ERR_FORMAT, "%s: header promises %llu bytes: too large", path,
                 (unsigned long long)payload);
        idx_close(x);
        return IBP_ERR_FORMAT;
    }
    return IBP_OK;
}

/* Reads exactly x->payload bytes into dst and checks that nothing follows them. */
static enum ibp_status idx_read_payload(struct idx_file *x, uint8_t *dst, struct ibp_error *err)
{
    int64_t got = read_bytes(x->f, dst, x->payload);
    if (got >= 0 && (uint64_t)got == x->payload) {
        unsigned char extra;
        int64_t more = read_bytes(x->f, &extra, 1);
        if (more == 0)
            return IBP_OK;
        if (more > 0)
            return ibp_fail(err, IBP_ERR_FORMAT,
                            "%s: data continues after the %llu bytes the header promises",
                            x->path, (unsigned long long)x->payload);
    }
    if (got >= 0 && (uint64_t)got < x->payload)
        return ibp_fail(err, IBP_ERR_FORMAT,
                        "%s: truncated: header promises %llu bytes of data, file has %lld",
                        x->path, (unsigned long long)x->payload, (long long)got);
    return ibp_fail(err, IBP_ERR_FORMAT, "%s: %s", x->path, zerror(x->f));
}

enum ibp_status ibp_idx_read(const char *images_path, const char *labels_path, int n_classes,
                             struct ibp_dataset **out, struct ibp_error *err)
{
    if (n_classes < 1 || n_classes > 256)
        return ibp_fail(err, IBP_ERR_ARG, "IDX: %d classes: must be 1..256", n_classes);

    struct idx_file lab, img;
    enum ibp_status st = idx_open(&lab, labels_path, IDX_MAGIC_LABELS, 1, err);
    if (st)
        return st;
    uint8_t *labels = malloc((size_t)lab.payload);
    if (!labels) {
        idx_close(&lab);
        return ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", labels_path);
    }
    st = idx_read_payload(&lab, labels, err);
    idx_close(&lab);
    for (uint64_t i = 0; !st && i < lab.payload; i++)
        if (labels[i] >= n_classes)
            st = ibp_fail(err, IBP_ERR_FORMAT, "%s: record %llu: label %u outside 0..%d",
                          labels_path, (unsigned long long)i, labels[i], n_classes - 1);
    if (st) {
        free(labels);
        return st;
    }

    st = idx_open(&img, images_path, IDX_MAGIC_IMAGES, 3, err);
    if (st) {
        free(labels);
        return st;
    }
    if (img.dims[0] != lab.dims[0]) {
        free(labels);
        idx_close(&img);
        return ibp_fail(err, IBP_ERR_FORMAT, "%s: %u images, but %s has %u labels", images_path,
                        img.dims[0], labels_path, lab.dims[0]);
    }
    if (img.dims[1] > INT32_MAX || img.dims[2] > INT32_MAX) {
        free(labels);
        idx_close(&img);
        return ibp_fail(err, IBP_ERR_FORMAT, "%s: image size %ux%u too large", images_path,
                        img.dims[1], img.dims[2]);
    }
    struct ibp_dataset *ds = NULL;
    st = ibp_dataset_create(img.dims[0], 1, (int)img.dims[1], (int)img.dims[2], n_classes, &ds,
                            err);
    if (!st)
        st = idx_read_payload(&img, ds->pixels, err);
    idx_close(&img);
    if (st) {
        ibp_dataset_free(ds);
        free(labels);
        return st;
    }
    for (int64_t i = 0; i < ds->n; i++)
        ds->labels[i] = labels[i];
    free(labels);
    ibp_dataset_set_kind(ds, "idx");
    *out = ds;
    return IBP_OK;
}
