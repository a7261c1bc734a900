#include "datasets/png_folder.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "datasets/png_read.h"

/* A growable list of owned strings. */
struct names {
    char **v;
    int64_t n, cap;
};

static void names_free(struct names *s)
{
    for (int64_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int names_push(struct names *s, char *str)
{
    if (!str)
        return -1;
    if (s->n == s->cap) {
        int64_t cap = s->cap ? 2 * s->cap : 64;
        char **v = realloc(s->v, (size_t)cap * sizeof *v);
        if (!v) {
            free(str);
            return -1;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = str;
    return 0;
}

static char *join(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s/%s", dir, name);
    return p;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_png_name(const char *name)
{
    size_t len = strlen(name);
    return len > 4 && strcasecmp(name + len - 4, ".png") == 0;
}

/* Lists the entries of dir: sub-folders (want_dirs) or regular .png files, sorted. */
static enum ibp_status list_dir(const char *dir, int want_dirs, struct names *out,
                                struct ibp_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return ibp_fail(err, IBP_ERR_IO, "%s: %s", dir, strerror(errno));
    enum ibp_status st = IBP_OK;
    struct dirent *e;
    while (!st && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || (!want_dirs && !is_png_name(e->d_name)))
            continue;
        char *path = join(dir, e->d_name);
        struct stat sb;
        if (!path) {
            st = ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", dir);
            break;
        }
        int keep = stat(path, &sb) == 0 && (want_dirs ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode));
        free(path);
        if (keep && names_push(out, strdup(e->d_name)))
            st = ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", dir);
    }
    closedir(d);
    if (st)
        names_free(out);
    else if (out->n > 1)
        qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
    return st;
}

/* Reads paths into a new dataset; labels already checked. */
static enum ibp_status load(const char *const *paths, int64_t n, const int32_t *labels,
                            int n_classes, const struct ibp_png_options *opt,
                            struct ibp_dataset **out, struct ibp_error *err)
{
    int channels = opt ? opt->channels : 0;
    int convert = opt ? opt->convert : 0;
    if (channels != 0 && channels != 1 && channels != 3)
        return ibp_fail(err, IBP_ERR_ARG, "PNG: %d channels requested: want 0, 1 or 3", channels);
    int kind, h, w;
    enum ibp_status st = ibp_png_probe(paths[0], &kind, &h, &w, err);
    if (st)
        return st;
    int c = channels ? channels : kind;
    struct ibp_dataset *ds = NULL;
    st = ibp_dataset_create(n, c, h, w, n_classes, &ds, err);
    if (st)
        return st;
    unsigned char *failed = calloc((size_t)n, 1);
    if (!failed) {
        ibp_dataset_free(ds);
        return ibp_fail(err, IBP_ERR_NOMEM, "PNG: out of memory");
    }
    int64_t size = ibp_dataset_sample_size(ds);
    uint8_t *pixels = ds->pixels;
#pragma omp parallel for schedule(dynamic, 16)
    for (int64_t i = 0; i < n; i++)
        failed[i] = ibp_png_read(paths[i], c, h, w, convert, pixels + i * size, NULL) != IBP_OK;
    /* report the first failure in file order, whatever thread met it: read it again
     * with the message buffer */
    for (int64_t i = 0; i < n && !st; i++)
        if (failed[i])
            st = ibp_png_read(paths[i], c, h, w, convert, pixels + i * size, err);
    free(failed);
    if (st) {
        ibp_dataset_free(ds);
        return st;
    }
    for (int64_t i = 0; i < n; i++)
        ds->labels[i] = labels ? labels[i] : -1;
    ibp_dataset_set_kind(ds, "png");
    *out = ds;
    return IBP_OK;
}

enum ibp_status ibp_png_files_read(const char *const *paths, int64_t n, const int32_t *labels,
                                   int n_classes, const struct ibp_png_options *opt,
                                   struct ibp_dataset **out, struct ibp_error *err)
{
    if (n < 1 || n_classes < 0)
        return ibp_fail(err, IBP_ERR_ARG, "PNG list of %lld files with %d classes: invalid",
                        (long long)n, n_classes);
    for (int64_t i = 0; labels && i < n; i++)
        if (labels[i] < 0 || labels[i] >= n_classes)
            return ibp_fail(err, IBP_ERR_ARG, "%s: label %d outside 0..%d", paths[i],
                            (int)labels[i], n_classes - 1);
    return load(paths, n, labels, n_classes, opt, out, err);
}

enum ibp_status ibp_png_folder_read(const char *root, const struct ibp_png_options *opt,
                                    struct ibp_dataset **out, struct ibp_error *err)
{
    struct names classes = {0}, files = {0};
    int32_t *labels = NULL;
    struct ibp_dataset *ds = NULL;
    enum ibp_status st = list_dir(root, 1, &classes, err);
    if (!st && classes.n == 0)
        st = ibp_fail(err, IBP_ERR_FORMAT, "%s: no class folders", root);
    if (!st && classes.n > INT32_MAX)
        st = ibp_fail(err, IBP_ERR_FORMAT, "%s: too many class folders", root);
    int64_t cap = 0;
    for (int64_t k = 0; k < classes.n && !st; k++) {
        char *dir = join(root, classes.v[k]);
        struct names here = {0};
        st = dir ? list_dir(dir, 0, &here, err) : ibp_fail(err, IBP_ERR_NOMEM, "out of memory");
        if (!st && here.n == 0)
            st = ibp_fail(err, IBP_ERR_FORMAT, "%s: no .png files (empty class folder)", dir);
        if (!st && files.n + here.n > cap) {
            cap = 2 * (files.n + here.n);
            int32_t *l = realloc(labels, (size_t)cap * sizeof *l);
            if (l)
                labels = l;
            else
                st = ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", root);
        }
        for (int64_t i = 0; i < here.n && !st; i++) {
            labels[files.n] = (int32_t)k;
            if (names_push(&files, join(dir, here.v[i])))
                st = ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", root);
        }
        names_free(&here);
        free(dir);
    }
    if (!st)
        st = load((const char *const *)files.v, files.n, labels, (int)classes.n, opt, &ds, err);
    for (int64_t k = 0; k < classes.n && !st; k++)
        st = ibp_dataset_set_class_name(ds, (int)k, classes.v[k], err);
    names_free(&classes);
    names_free(&files);
    free(labels);
    if (st) {
        ibp_dataset_free(ds);
        return st;
    }
    *out = ds;
    return IBP_OK;
}
