/* ibp-data: the first thing to run on new data — a dataset's summary, or a PNG grid of
 * its first images. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/dataset.h"
#include "datasets/open.h"
#include "datasets/png_write.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ibp-data [summary] DATASET [options]\n"
            "       ibp-data grid DATASET --out FILE.png [options]\n"
            "\n"
            "Prints a dataset's count, shape, classes, label histogram and per-channel pixel\n"
            "mean/std (pixels in [0,1]); `grid` writes its first images as one PNG.\n"
            "\n"
            "DATASET: fashion-mnist | mnist (under --root), idx:IMAGES[,LABELS],\n"
            "  cifar10:PATH[,PATH..], cifar100:PATH[,PATH..], png:FOLDER, csv:FILE,\n"
            "  or a file or folder whose kind is recognised.\n"
            "\n"
            "options:\n"
            "  --split train|test   which split of a named dataset or folder (default train)\n"
            "  --root DIR           folder of named datasets (default %s)\n"
            "  --channels 0|1|3     PNG channels; 0 = as the first image (default 0)\n"
            "  --convert            PNG: allow gray<->RGB conversion (default off)\n"
            "  --shape C,H,W        CSV image shape (default 1,28,28)\n"
            "  --classes N          CSV/IDX number of classes (default 10)\n"
            "  --coarse             CIFAR-100: coarse labels (default fine)\n"
            "  --start N            first sample of the subset (default 0)\n"
            "  --count N            number of samples (default all from --start)\n"
            "  --indices LIST       explicit samples, e.g. 3,5,10-12 (overrides --start/--count)\n"
            "  --out FILE           grid: the PNG to write (required)\n"
            "  --n N                grid: number of images (default 64, at most the count)\n"
            "  --cols N             grid: columns (default 0 = square)\n"
            "  --help               this text\n",
            IBP_DATASETS_ROOT);
}

/* Strict integer parse; returns 0 on success. */
static int parse_int(const char *s, long long lo, long long hi, long long *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end || x < lo || x > hi)
        return -1;
    *v = x;
    return 0;
}

static void print_summary(const char *spec, const struct ibp_dataset *ds,
                          const struct ibp_dataset_stats *st)
{
    printf("dataset   %s (%s)\n", spec, ds->kind);
    printf("samples   %lld\n", (long long)ds->n);
    printf("shape     %d x %d x %d (channels x height x width)\n", ds->c, ds->h, ds->w);
    printf("classes   %d\n", ds->n_classes);
    for (int k = 0; k < ds->n_classes; k++)
        printf("  %3d %-24s %8lld  (%.2f%%)\n", k, ds->class_names[k], (long long)st->histogram[k],
               100.0 * (double)st->histogram[k] / (double)ds->n);
    if (st->unlabelled)
        printf("  unlabelled %lld\n", (long long)st->unlabelled);
    printf("pixels in [0,1], per channel:\n");
    for (int ch = 0; ch < ds->c; ch++)
        printf("  channel %d: mean %.4f std %.4f   (default normalisation mean %.4f std %.4f)\n",
               ch, st->mean[ch], st->std[ch], (double)ds->mean[ch], (double)ds->std[ch]);
}

int main(int argc, char **argv)
{
    const char *cmd = "summary", *spec = NULL, *out = NULL, *indices = NULL;
    struct ibp_open_options opt = {0};
    long long start = 0, count = -1, n_grid = 64, cols = 0;
    int first = 1;
    if (argc > 1 && (strcmp(argv[1], "summary") == 0 || strcmp(argv[1], "grid") == 0))
        cmd = argv[first++];
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        long long v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--convert") == 0) {
            opt.convert = 1;
            continue;
        }
        if (strcmp(a, "--coarse") == 0) {
            opt.coarse = 1;
            continue;
        }
        if (a[0] != '-' || a[1] != '-') {
            if (spec) {
                fprintf(stderr, "ibp-data: unexpected argument \"%s\" (see --help)\n", a);
                return 1;
            }
            spec = a;
            continue;
        }
        if (!val) {
            fprintf(stderr, "ibp-data: %s needs a value (see --help)\n", a);
            return 1;
        }
        i++;
        int bad = 0;
        if (strcmp(a, "--split") == 0)
            opt.split = val;
        else if (strcmp(a, "--root") == 0)
            opt.root = val;
        else if (strcmp(a, "--channels") == 0) {
            bad = parse_int(val, 0, 3, &v) || v == 2;
            opt.channels = bad ? 0 : (int)v;
        }
        else if (strcmp(a, "--shape") == 0) {
            char extra;
            bad = sscanf(val, "%d,%d,%d%c", &opt.c, &opt.h, &opt.w, &extra) != 3 || opt.c < 1 ||
                  opt.c > IBP_DATASET_MAX_CHANNELS || opt.h < 1 || opt.w < 1;
        } else if (strcmp(a, "--classes") == 0)
            bad = parse_int(val, 1, 1 << 20, &v) || ((opt.n_classes = (int)v), 0);
        else if (strcmp(a, "--start") == 0)
            bad = parse_int(val, 0, INT64_MAX, &start);
        else if (strcmp(a, "--count") == 0)
            bad = parse_int(val, 1, INT64_MAX, &count);
        else if (strcmp(a, "--indices") == 0)
            indices = val;
        else if (strcmp(a, "--out") == 0)
            out = val;
        else if (strcmp(a, "--n") == 0)
            bad = parse_int(val, 1, 1 << 20, &n_grid);
        else if (strcmp(a, "--cols") == 0)
            bad = parse_int(val, 0, 1 << 16, &cols);
        else {
            fprintf(stderr, "ibp-data: unknown option %s (see --help)\n", a);
            return 1;
        }
        if (bad) {
            fprintf(stderr, "ibp-data: %s %s: bad value (see --help)\n", a, val);
            return 1;
        }
    }
    if (!spec) {
        fprintf(stderr, "ibp-data: no dataset given (see --help)\n");
        return 1;
    }
    if (strcmp(cmd, "grid") == 0 && !out) {
        fprintf(stderr, "ibp-data: grid needs --out FILE.png\n");
        return 1;
    }

    struct ibp_error err;
    ibp_error_clear(&err);
    struct ibp_dataset *all = NULL, *ds = NULL;
    int64_t *idx = NULL, n_idx = 0;
    enum ibp_status st = ibp_dataset_open(spec, &opt, &all, &err);
    if (!st && indices) {
        st = ibp_indices_parse(indices, all->n, &idx, &n_idx, &err);
        if (!st)
            st = ibp_dataset_pick(all, idx, n_idx, &ds, &err);
    } else if (!st && (start != 0 || count != -1)) {
        st = ibp_dataset_range(all, start, count, &ds, &err);
    } else if (!st) {
        ds = all;
        all = NULL;
    }
    free(idx);
    ibp_dataset_free(all);
    if (!st && strcmp(cmd, "grid") == 0) {
        int64_t n = n_grid < ds->n ? n_grid : ds->n;
        st = ibp_png_write_grid(out, ds->pixels, n, ds->c, ds->h, ds->w, (int)cols, &err);
        if (!st)
            printf("wrote %lld images of %s to %s\n", (long long)n, spec, out);
    } else if (!st) {
        struct ibp_dataset_stats stats;
        st = ibp_dataset_stats_compute(ds, &stats, &err);
        if (!st) {
            print_summary(spec, ds, &stats);
            ibp_dataset_stats_free(&stats);
        }
    }
    ibp_dataset_free(ds);
    if (st) {
        fprintf(stderr, "ibp-data: %s\n", err.msg);
        return 1;
    }
    return 0;
}
