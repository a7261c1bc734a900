/* ibp-data: the first thing to run on new data — a dataset's summary, or a PNG grid of
 * its first images. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/dataset.h"
#include "datasets/open.h"
#include "datasets/open_options.h"
#include "datasets/png_write.h"
#include "nets/base/options.h"

/* The options; `grid`-only ones say so. */
struct options {
    struct ibp_open_options open;
    const char *out, *indices;
    int64_t start, count;
    int n_grid, cols;
};

/* Writes the options, parsing into *o, to t[0..IBP_OPTS_MAX); returns their count. */
static int options_table(struct options *o, struct ibp_opt *t)
{
    int n = 0;
    t[n++] = (struct ibp_opt){.kind = IBP_OPT_SECTION, .help = "options"};
    n += ibp_open_options_table(&o->open, t + n);
    const struct ibp_opt rest[] = {
        {.kind = IBP_OPT_INT64, .name = "--start", .arg = "N", .dest = &o->start, .lo = 0,
         .hi = (double)INT64_MAX, .help = "first sample of the subset"},
        {.kind = IBP_OPT_INT64, .name = "--count", .arg = "N", .dest = &o->count, .lo = 1,
         .hi = (double)INT64_MAX, .help = "number of samples", .def = "all from --start"},
        {.kind = IBP_OPT_STRING, .name = "--indices", .arg = "LIST", .dest = &o->indices,
         .help = "explicit samples, e.g. 3,5,10-12 (overrides --start/--count)", .def = ""},
        {.kind = IBP_OPT_STRING, .name = "--out", .arg = "FILE", .dest = &o->out,
         .help = "grid: the PNG to write (required)", .def = ""},
        {.kind = IBP_OPT_INT, .name = "--n", .arg = "N", .dest = &o->n_grid, .lo = 1,
         .hi = 1 << 20, .help = "grid: number of images, at most the count"},
        {.kind = IBP_OPT_INT, .name = "--cols", .arg = "N", .dest = &o->cols, .lo = 0,
         .hi = 1 << 16, .help = "grid: columns, 0 = square"},
    };
    _Static_assert(1 + IBP_OPEN_N_OPTS + sizeof rest / sizeof rest[0] <= IBP_OPTS_MAX,
                   "ibp-data has more options than IBP_OPTS_MAX");
    memcpy(t + n, rest, sizeof rest);
    return n + (int)(sizeof rest / sizeof rest[0]);
}

static void usage(const struct ibp_opt *t, int n)
{
    struct ibp_wbuf w = {0};
    ibp_opts_help(t, n, &w);
    printf("usage: ibp-data [summary] DATASET [options]\n"
           "       ibp-data grid DATASET --out FILE.png [options]\n"
           "\n"
           "Prints a dataset's count, shape, classes, label histogram and per-channel pixel\n"
           "mean/std (pixels in [0,1]); `grid` writes its first images as one PNG.\n"
           "\n"
           "DATASET: fashion-mnist | mnist (under --root), idx:IMAGES[,LABELS],\n"
           "  cifar10:PATH[,PATH..], cifar100:PATH[,PATH..], png:FOLDER, csv:FILE,\n"
           "  list:FILE (`PATH LABEL` lines naming PNG files), or a file or folder whose\n"
           "  kind is recognised.\n"
           "\n"
           "%s",
           w.failed || !w.data ? "" : (const char *)w.data);
    ibp_wbuf_free(&w);
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
    const char *cmd = "summary";
    struct options o = {.open.split = "train", .count = -1, .n_grid = 64};
    struct ibp_opt table[IBP_OPTS_MAX];
    int n_opts = options_table(&o, table);
    int first = 1;
    if (argc > 1 && (strcmp(argv[1], "summary") == 0 || strcmp(argv[1], "grid") == 0))
        cmd = argv[first++];
    const char *spec = NULL;
    int n_pos = 0, help = 0;
    struct ibp_error err;
    ibp_error_clear(&err);
    if (ibp_opts_parse(table, n_opts, argc, argv, first, &spec, 1, &n_pos, &help, &err)) {
        fprintf(stderr, "ibp-data: %s (see --help)\n", err.msg);
        return 1;
    }
    if (help) {
        usage(table, n_opts);
        return 0;
    }
    if (!spec) {
        fprintf(stderr, "ibp-data: no dataset given (see --help)\n");
        return 1;
    }
    if (strcmp(cmd, "grid") == 0 && !o.out) {
        fprintf(stderr, "ibp-data: grid needs --out FILE.png\n");
        return 1;
    }

    struct ibp_dataset *all = NULL, *ds = NULL;
    int64_t *idx = NULL, n_idx = 0;
    enum ibp_status st = ibp_dataset_open(spec, &o.open, &all, &err);
    if (!st && o.indices) {
        st = ibp_indices_parse(o.indices, all->n, &idx, &n_idx, &err);
        if (!st)
            st = ibp_dataset_pick(all, idx, n_idx, &ds, &err);
    } else if (!st && (o.start != 0 || o.count != -1)) {
        st = ibp_dataset_range(all, o.start, o.count, &ds, &err);
    } else if (!st) {
        ds = all;
        all = NULL;
    }
    free(idx);
    ibp_dataset_free(all);
    if (!st && strcmp(cmd, "grid") == 0) {
        int64_t n = o.n_grid < ds->n ? o.n_grid : ds->n;
        st = ibp_png_write_grid(o.out, ds->pixels, n, ds->c, ds->h, ds->w, o.cols, 1, &err);
        if (!st)
            printf("wrote %lld images of %s to %s\n", (long long)n, spec, o.out);
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
