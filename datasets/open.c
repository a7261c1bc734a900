#include "datasets/open.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets/cifar.h"
#include "datasets/csv.h"
#include "datasets/file_list.h"
#include "datasets/idx.h"
#include "datasets/png_folder.h"

static const char *const fashion_names[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

/* "dir/name" in a new string, or NULL. */
static char *join(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s/%s", dir, name);
    return p;
}

static int dir_has(const char *dir, const char *name)
{
    char *p = join(dir, name);
    int yes = p && is_file(p);
    free(p);
    return yes;
}

/* The images and labels files of an IDX split in dir: prefix train or t10k, .gz preferred. */
static enum ibp_status idx_split_files(const char *dir, const char *split, char **img,
                                       char **lab, struct ibp_error *err)
{
    const char *prefix = strcmp(split, "test") == 0 ? "t10k" : "train";
    static const char *const suffixes[2] = {".gz", ""};
    for (int s = 0; s < 2; s++) {
        char name[64];
        snprintf(name, sizeof name, "%s-images-idx3-ubyte%s", prefix, suffixes[s]);
        char *i = join(dir, name);
        snprintf(name, sizeof name, "%s-labels-idx1-ubyte%s", prefix, suffixes[s]);
        char *l = join(dir, name);
        if (i && l && is_file(i)) {
            *img = i;
            *lab = l;
            return IBP_OK;
        }
        free(i);
        free(l);
    }
    return ibp_fail(err, IBP_ERR_IO, "%s: no %s-images-idx3-ubyte[.gz]", dir, prefix);
}

/* Splits a comma-separated list into new strings. */
static enum ibp_status split_list(const char *text, char ***items, int *count,
                                  struct ibp_error *err)
{
    int n = 1;
    for (const char *p = text; *p; p++)
        n += *p == ',';
    char **v = calloc((size_t)n, sizeof *v);
    if (!v)
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory");
    const char *p = text;
    for (int i = 0; i < n; i++) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        v[i] = strndup(p, len);
        if (!v[i] || len == 0) {
            for (int j = 0; j <= i; j++)
                free(v[j]);
            free(v);
            return len == 0 ? ibp_fail(err, IBP_ERR_ARG, "\"%s\": empty item in list", text)
                            : ibp_fail(err, IBP_ERR_NOMEM, "out of memory");
        }
        p = e ? e + 1 : p + len;
    }
    *items = v;
    *count = n;
    return IBP_OK;
}

static void free_list(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static enum ibp_status open_idx(const char *arg, int n_classes, struct ibp_dataset **out,
                                struct ibp_error *err)
{
    char **v;
    int n;
    enum ibp_status st = split_list(arg, &v, &n, err);
    if (st)
        return st;
    if (n > 2) {
        free_list(v, n);
        return ibp_fail(err, IBP_ERR_ARG, "idx:%s: want idx:IMAGES or idx:IMAGES,LABELS", arg);
    }
    if (n == 1) {
        const char *base = strrchr(v[0], '/');
        char *at = strstr(base ? base : v[0], "images-idx3");
        char *lab = at ? strdup(v[0]) : NULL;
        if (!lab) {
            free_list(v, n);
            return at ? ibp_fail(err, IBP_ERR_NOMEM, "out of memory")
                      : ibp_fail(err, IBP_ERR_ARG,
                                 "%s: cannot tell the labels file (name has no \"images-idx3\"); "
                                 "give idx:IMAGES,LABELS", arg);
        }
        memcpy(lab + (at - v[0]), "labels-idx1", 11);
        st = ibp_idx_read(v[0], lab, n_classes, out, err);
        free(lab);
    } else {
        st = ibp_idx_read(v[0], v[1], n_classes, out, err);
    }
    free_list(v, n);
    return st;
}

static enum ibp_status open_cifar(const char *arg, const char *split, enum ibp_cifar_labels labels,
                                  struct ibp_dataset **out, struct ibp_error *err)
{
    if (is_dir(arg))
        return ibp_cifar_read_folder(arg, split, labels, out, err);
    char **v;
    int n;
    enum ibp_status st = split_list(arg, &v, &n, err);
    if (st)
        return st;
    st = ibp_cifar_read_files((const char *const *)v, n, labels, out, err);
    free_list(v, n);
    return st;
}

static enum ibp_status open_named(const char *name, const char *root, const char *split,
                                  struct ibp_dataset **out, struct ibp_error *err)
{
    char *dir = join(root, name), *img = NULL, *lab = NULL;
    if (!dir)
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory");
    enum ibp_status st = is_dir(dir) ? idx_split_files(dir, split, &img, &lab, err)
                                     : ibp_fail(err, IBP_ERR_IO,
                                                "%s: dataset %s not installed (no such folder%s)",
                                                dir, name,
                                                strcmp(name, "fashion-mnist") == 0
                                                    ? "; Debian: apt install dataset-fashion-mnist"
                                                    : "");
    struct ibp_dataset *ds = NULL;
    if (!st)
        st = ibp_idx_read(img, lab, 10, &ds, err);
    for (int k = 0; k < 10 && !st && strcmp(name, "fashion-mnist") == 0; k++)
        st = ibp_dataset_set_class_name(ds, k, fashion_names[k], err);
    free(dir);
    free(img);
    free(lab);
    if (st) {
        ibp_dataset_free(ds);
        return st;
    }
    ibp_dataset_set_kind(ds, name);
    *out = ds;
    return IBP_OK;
}

enum ibp_status ibp_dataset_open(const char *spec, const struct ibp_open_options *opt,
                                 struct ibp_dataset **out, struct ibp_error *err)
{
    struct ibp_open_options o = {0};
    if (opt)
        o = *opt;
    const char *split = o.split ? o.split : "train";
    if (strcmp(split, "train") != 0 && strcmp(split, "test") != 0)
        return ibp_fail(err, IBP_ERR_ARG, "split \"%s\": want train or test", split);
    int n_classes = o.n_classes ? o.n_classes : 10;
    int c = o.c, h = o.h, w = o.w;
    if (!c && !h && !w) {
        c = 1;
        h = w = 28;
    }
    enum ibp_cifar_labels c100 = o.coarse ? IBP_CIFAR_LABELS_100_COARSE : IBP_CIFAR_LABELS_100_FINE;
    struct ibp_png_options png = {o.channels, o.convert};

    if (strcmp(spec, "fashion-mnist") == 0 || strcmp(spec, "mnist") == 0)
        return open_named(spec, o.root ? o.root : IBP_DATASETS_ROOT, split, out, err);

    const char *colon = strchr(spec, ':');
    if (colon) {
        size_t len = (size_t)(colon - spec);
        const char *arg = colon + 1;
#define HINT(word) (len == strlen(word) && strncmp(spec, word, len) == 0)
        if (HINT("idx"))
            return open_idx(arg, n_classes, out, err);
        if (HINT("cifar10"))
            return open_cifar(arg, split, IBP_CIFAR_LABELS_10, out, err);
        if (HINT("cifar100"))
            return open_cifar(arg, split, c100, out, err);
        if (HINT("png"))
            return ibp_png_folder_read(arg, &png, out, err);
        if (HINT("csv"))
            return ibp_csv_read(arg, c, h, w, n_classes, out, err);
        if (HINT("list"))
            return ibp_file_list_read(arg, n_classes, &png, out, err);
#undef HINT
    }

    if (is_dir(spec)) {
        if (dir_has(spec, "data_batch_1.bin") || dir_has(spec, "test_batch.bin"))
            return ibp_cifar_read_folder(spec, split, IBP_CIFAR_LABELS_10, out, err);
        if (dir_has(spec, "train.bin") || dir_has(spec, "test.bin"))
            return ibp_cifar_read_folder(spec, split, c100, out, err);
        char *img, *lab;
        if (idx_split_files(spec, split, &img, &lab, NULL) == IBP_OK) {
            enum ibp_status st = ibp_idx_read(img, lab, n_classes, out, err);
            free(img);
            free(lab);
            return st;
        }
        return ibp_png_folder_read(spec, &png, out, err);
    }
    if (is_file(spec)) {
        if (ends_with(spec, ".csv"))
            return ibp_csv_read(spec, c, h, w, n_classes, out, err);
        if (ends_with(spec, ".bin"))
            return ibp_cifar_read_files(&spec, 1, IBP_CIFAR_LABELS_10, out, err);
        if (ends_with(spec, "idx3-ubyte") || ends_with(spec, "idx3-ubyte.gz"))
            return open_idx(spec, n_classes, out, err);
    }
    return ibp_fail(err, IBP_ERR_ARG,
                    "%s: not a dataset name (fashion-mnist, mnist), a FORMAT:PATH "
                    "(idx, cifar10, cifar100, png, csv, list), or a file or folder of a known "
                    "kind",
                    spec);
}
