#include "datasets/csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nets/base/parse.h"

/* Reads the whole file into a NUL-terminated buffer. */
static enum ibp_status slurp(const char *path, char **buf, size_t *len, struct ibp_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ibp_fail(err, IBP_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return ibp_fail(err, IBP_ERR_IO, "%s: not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    char *b = malloc(size + 1);
    if (!b) {
        fclose(f);
        return ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t got = fread(b, 1, size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != size) {
        free(b);
        return ibp_fail(err, IBP_ERR_IO, "%s: read error", path);
    }
    b[size] = '\0';
    *buf = b;
    *len = size;
    return IBP_OK;
}

/* Length of the line at p (up to, not including, "\n" or "\r\n" or the end). */
static size_t line_len(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = (size_t)((nl ? nl : end) - p);
    if (len > 0 && p[len - 1] == '\r')
        len--;
    return len;
}

/* Parses the row at line (len characters) into label and px[c][plane], the fields being
 * [plane][c] (plane = h·w pixels, count = c·plane fields after the label). */
static enum ibp_status parse_row(const char *path, int64_t row, const char *line, size_t len,
                                 int c, int64_t count, int n_classes, int32_t *label,
                                 uint8_t *px, struct ibp_error *err)
{
    int64_t plane = count / c;
    int64_t fields = 1;
    for (size_t i = 0; i < len; i++)
        fields += line[i] == ',';
    if (fields != count + 1)
        return ibp_fail(err, IBP_ERR_FORMAT, "%s: row %lld: %lld fields, expected %lld", path,
                        (long long)row, (long long)fields, (long long)count + 1);
    const char *p = line, *end = line + len;
    for (int64_t f = 0; f <= count; f++) {
        /* a field is [-]digits and nothing else (no space, no '+') */
        int negative = p < end && *p == '-';
        const char *stop = p + negative;
        int64_t magnitude = 0;
        if (stop >= end || ibp_scan_index(&stop, &magnitude) != 0 ||
            (stop != end && *stop != ',')) {
            const char *comma = memchr(p, ',', (size_t)(end - p));
            int shown = (int)((comma ? comma : end) - p);
            return ibp_fail(err, IBP_ERR_FORMAT,
                            "%s: row %lld, field %lld: \"%.*s\" is not an integer", path,
                            (long long)row, (long long)f, shown > 40 ? 40 : shown, p);
        }
        long v = negative ? -(long)magnitude : (long)magnitude;
        if (f == 0) {
            if (v < 0 || v >= n_classes)
                return ibp_fail(err, IBP_ERR_FORMAT, "%s: row %lld: label %ld outside 0..%d", path,
                                (long long)row, v, n_classes - 1);
            *label = (int32_t)v;
        } else {
            if (v < 0 || v > 255)
                return ibp_fail(err, IBP_ERR_FORMAT,
                                "%s: row %lld, field %lld: value %ld outside 0..255", path,
                                (long long)row, (long long)f, v);
            int64_t i = f - 1; /* pixel i / c, channel i % c */
            px[(i % c) * plane + i / c] = (uint8_t)v;
        }
        p = stop + 1;
    }
    return IBP_OK;
}

enum ibp_status ibp_csv_read(const char *path, int c, int h, int w, int n_classes,
                             struct ibp_dataset **out, struct ibp_error *err)
{
    if (c < 1 || c > IBP_DATASET_MAX_CHANNELS || h < 1 || w < 1 || n_classes < 1)
        return ibp_fail(err, IBP_ERR_ARG, "%s: shape %dx%dx%d with %d classes: invalid", path, c,
                        h, w, n_classes);
    char *buf = NULL;
    size_t size = 0;
    enum ibp_status st = slurp(path, &buf, &size, err);
    if (st)
        return st;
    const char *end = buf + size;

    /* rows = lines before the trailing run of empty lines */
    int64_t rows = 0, lines = 0;
    for (const char *p = buf; p < end; lines++) {
        size_t len = line_len(p, end);
        if (len > 0)
            rows = lines + 1;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    struct ibp_dataset *ds = NULL;
    if (rows == 0)
        st = ibp_fail(err, IBP_ERR_FORMAT, "%s: no rows", path);
    else
        st = ibp_dataset_create(rows, c, h, w, n_classes, &ds, err);
    int64_t count = (int64_t)c * h * w;
    const char *p = buf;
    for (int64_t r = 0; r < rows && !st; r++) {
        size_t len = line_len(p, end);
        if (len == 0)
            st = ibp_fail(err, IBP_ERR_FORMAT, "%s: row %lld: empty line", path, (long long)r + 1);
        else
            st = parse_row(path, r + 1, p, len, c, count, n_classes, &ds->labels[r],
                           ds->pixels + r * count, err);
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    free(buf);
    if (st) {
        ibp_dataset_free(ds);
        return st;
    }
    ibp_dataset_set_kind(ds, "csv");
    *out = ds;
    return IBP_OK;
}
