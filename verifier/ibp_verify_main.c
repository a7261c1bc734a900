/* ibp-verify: certifies models on a dataset (bounds, then PGD) and reports verified,
 * attack and clean errors. Everything it computes is a call into verifier/certify.h;
 * this file parses options, validates all inputs before any output, shows progress and
 * writes the reports. */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datasets/dataset.h"
#include "datasets/open.h"
#include "datasets/open_options.h"
#include "datasets/png_folder.h"
#include "datasets/png_write.h"
#include "nets/base/file_io.h"
#include "nets/base/memory.h"
#include "nets/kernels/gemm.h"
#include "nets/base/options.h"
#include "nets/formats/model_open.h"
#include "nets/base/parse.h"
#include "nets/base/cluster.h"
#include "verifier/certify.h"
#include "verifier/certify_shard.h"
#include "verifier/report.h"
#include "verifier/vnncomp_cli.h"

/* Exit codes (documented in --help). */
enum {
    EXIT_RAN = 0,
    EXIT_ERROR = 1,    /* bad input or a failure while running */
    EXIT_USAGE = 2,    /* bad command line */
    EXIT_GATE = 3,     /* --min-verified-accuracy not met */
    EXIT_UNSOUND = 4,  /* a sample both certified and attacked */
};

#define MAX_LIST 64
#define MAX_IMAGES 4096

/* A per-channel list of numbers (--mean, --std). */
struct per_channel {
    float v[IBP_DATASET_MAX_CHANNELS];
    int n; /* 0: not given */
};

struct options {
    const char *models[MAX_LIST];
    int n_models;
    const char *data;
    const char *images[MAX_IMAGES];
    int n_images;
    char *copies[MAX_LIST]; /* the --images lists, split in place (owned) */
    int n_copies;
    const char *labels;
    struct ibp_open_options open;
    struct per_channel mean, std; /* --mean / --std */
    int64_t start, count;
    const char *eps_list;
    const char *json, *csv, *save_adv;
    double min_acc; /* < 0: no gate */
    int64_t bab_mib; /* branch and bound's memory cap per sample */
    int progress;
    struct ibp_certify_config cfg;
    FILE *errf; /* where messages go: stderr on rank 0, a memory stream on other ranks */
};

struct progress_ctx {
    int on;
    int model, n_models, eps, n_eps;
};

/* What both hooks see. */
struct run_ctx {
    struct progress_ctx *progress;
    const char *dir; /* --save-adv */
    const char *model_base;
    const char *eps_tag;
    double eps;
    int64_t first_index;
    int c, h, w;
    float *panels; /* [3][c][h][w] */
};

static void progress_line(void *ctx, int64_t done, int64_t total)
{
    const struct progress_ctx *p = ((const struct run_ctx *)ctx)->progress;
    if (!p->on)
        return;
    fprintf(stderr, "\rmodel %d/%d, eps %d/%d: %lld/%lld samples\033[K", p->model + 1,
            p->n_models, p->eps + 1, p->n_eps, (long long)done, (long long)total);
    fflush(stderr);
}

/* While branch and bound runs on a sample. */
static void bab_progress_line(void *ctx, int64_t index, const struct ibp_bab_progress *b)
{
    const struct run_ctx *a = ctx;
    const struct progress_ctx *p = a->progress;
    if (!p->on)
        return;
    fprintf(stderr,
            "\rmodel %d/%d, eps %d/%d: bab on sample %lld: %ld domains, queue %ld, worst lb "
            "%.4g, %.1f s\033[K",
            p->model + 1, p->n_models, p->eps + 1, p->n_eps, (long long)(a->first_index + index),
            b->domains, b->queue, (double)b->worst_lb, b->seconds);
    fflush(stderr);
}

static void progress_clear(const struct progress_ctx *p)
{
    if (p->on)
        fprintf(stderr, "\r\033[K");
}

/* Counterexample PNGs are scaled up this many times (nearest neighbour), so that a
 * 28x28 or 32x32 image is big enough to look at. */
#define ADV_SCALE 4

/* Counterexample PNGs: one file per attacked sample, named after the sample, its label
 * and the class predicted at the counterexample. */
static enum ibp_status save_adv(void *ctx, const struct ibp_certify_sample *s, const float *x,
                                const float *x_adv, struct ibp_error *err)
{
    struct run_ctx *a = ctx;
    size_t n = (size_t)a->c * a->h * a->w;
    memcpy(a->panels, x, n * sizeof(float));
    memcpy(a->panels + n, x_adv, n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        double d = a->eps > 0.0 ? ((double)x_adv[i] - x[i]) / (2.0 * a->eps) : 0.0;
        a->panels[2 * n + i] = (float)fmin(fmax(0.5 + d, 0.0), 1.0);
    }
    char path[4096];
    int len = snprintf(path, sizeof path, "%s/%s_eps%s_%06lld_label%d_pred%d.png", a->dir,
                       a->model_base, a->eps_tag, (long long)(a->first_index + s->index),
                       s->label, s->adv_pred);
    if (len < 0 || (size_t)len >= sizeof path)
        return ibp_fail(err, IBP_ERR_ARG, "--save-adv: path too long in %s", a->dir);
    return ibp_png_write_grid_float(path, a->panels, 3, a->c, a->h, a->w, 3, ADV_SCALE, err);
}

static enum ibp_status add_model(void *dest, const char *name, const char *value,
                                 struct ibp_error *err)
{
    struct options *o = dest;
    if (o->n_models >= MAX_LIST)
        return ibp_fail(err, IBP_ERR_ARG, "%s: at most %d models", name, MAX_LIST);
    o->models[o->n_models++] = value;
    return IBP_OK;
}

/* Splits a comma list into out[] (pointers into copy, which it cuts in place); -1 on an
 * empty item or more than max in all. */
static int split_list(char *copy, const char **out, int *n, int max)
{
    char *p = copy;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (*p == '\0' || *n >= max)
            return -1;
        out[(*n)++] = p;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

/* Splits a comma list of PNG files onto o->images. */
static enum ibp_status add_images(void *dest, const char *name, const char *value,
                                  struct ibp_error *err)
{
    struct options *o = dest;
    char *copy = o->n_copies < MAX_LIST ? strdup(value) : NULL;
    if (!copy)
        return ibp_fail(err, IBP_ERR_ARG, "%s: given more than %d times", name, MAX_LIST);
    o->copies[o->n_copies++] = copy;
    if (split_list(copy, o->images, &o->n_images, MAX_IMAGES) != 0)
        return ibp_fail(err, IBP_ERR_ARG, "%s: '%s': an empty name, or more than %d images",
                        name, value, MAX_IMAGES);
    return IBP_OK;
}

/* The bound methods (parsed by nets/bounds), then the verifier's own stages alpha-crown
 * and bab, in that order: the order they run in. */
static enum ibp_status set_methods(void *dest, const char *name, const char *value,
                                   struct ibp_error *err)
{
    struct ibp_certify_config *cfg = dest;
    char bound[256];
    size_t nb = 0;
    int stage = 0; /* 0: bound methods, 1: after alpha-crown, 2: after bab */
    cfg->n_methods = 0;
    cfg->alpha_crown = cfg->bab = 0;
    for (const char *p = value;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int alpha = len == 11 && strncmp(p, "alpha-crown", len) == 0;
        int bab = len == 3 && strncmp(p, "bab", len) == 0;
        if ((alpha && cfg->alpha_crown) || (bab && cfg->bab))
            return ibp_fail(err, IBP_ERR_ARG, "%s: '%.*s' given twice", name, (int)len, p);
        if (alpha && cfg->bab)
            return ibp_fail(err, IBP_ERR_ARG, "%s: alpha-crown after bab: bound methods come "
                            "first, then alpha-crown, then bab", name);
        if (alpha || bab) {
            stage = alpha ? 1 : 2;
            cfg->alpha_crown |= alpha;
            cfg->bab |= bab;
        } else if (stage > 0) {
            return ibp_fail(err, IBP_ERR_ARG,
                            "%s: '%.*s' after %s: bound methods come first, then alpha-crown, "
                            "then bab",
                            name, (int)len, p, stage == 1 ? "alpha-crown" : "bab");
        } else if (nb + len + 1 >= sizeof bound) {
            return ibp_fail(err, IBP_ERR_ARG, "%s: '%s' is too long", name, value);
        } else {
            if (nb)
                bound[nb++] = ',';
            memcpy(bound + nb, p, len);
            nb += len;
            bound[nb] = '\0';
        }
        if (!end)
            break;
        p = end + 1;
    }
    if (nb == 0 && !cfg->alpha_crown && !cfg->bab)
        return ibp_fail(err, IBP_ERR_ARG, "%s: no method given", name);
    return nb ? ibp_bound_methods_parse(bound, name, cfg->methods, &cfg->n_methods, err)
              : IBP_OK;
}

/* One number per channel, comma separated (--mean 0.4914,0.4822,0.4465); --std values
 * must be > 0. */
static enum ibp_status set_per_channel(void *dest, const char *name, const char *value,
                                       struct ibp_error *err)
{
    struct per_channel *pc = dest;
    enum ibp_status st = ibp_parse_float_list(value, name, pc->v, IBP_DATASET_MAX_CHANNELS,
                                              &pc->n, err);
    if (st == IBP_OK && strcmp(name, "--std") == 0)
        for (int i = 0; i < pc->n; i++)
            if (!(pc->v[i] > 0.0f))
                return ibp_fail(err, IBP_ERR_ARG, "--std: %g is not > 0", (double)pc->v[i]);
    return st;
}

/* A fraction in [0,1] or a percentage ("70%"). */
static enum ibp_status set_accuracy(void *dest, const char *name, const char *value,
                                    struct ibp_error *err)
{
    char num[64];
    size_t len = strlen(value);
    int percent = len > 0 && value[len - 1] == '%';
    len -= (size_t)percent;
    if (len == 0 || len >= sizeof num)
        return ibp_fail(err, IBP_ERR_ARG, "%s: '%s' is not a fraction or a percentage", name,
                        value);
    memcpy(num, value, len);
    num[len] = '\0';
    double v;
    enum ibp_status st = ibp_parse_double(num, name, &v, err);
    if (st != IBP_OK)
        return st;
    if (percent)
        v /= 100.0;
    if (!(v >= 0.0 && v <= 1.0))
        return ibp_fail(err, IBP_ERR_ARG, "%s: %s is outside [0, 1] (or [0%%, 100%%])", name,
                        value);
    *(double *)dest = v;
    return IBP_OK;
}

/* Writes the options, parsing into *o, to t[0..IBP_OPTS_MAX); returns their count. */
static int options_table(struct options *o, struct ibp_opt *t)
{
    struct ibp_certify_config *c = &o->cfg;
    struct ibp_attack_config *a = &o->cfg.attack_cfg;
    const struct ibp_opt inputs[] = {
        {.kind = IBP_OPT_SECTION, .help = "inputs"},
        {.kind = IBP_OPT_CALL, .name = "--model", .alias = "-m", .arg = "FILE", .dest = o,
         .call = add_model,
         .help = "model file written by ibp-train, or an ONNX model\n(repeat for several)",
         .def = ""},
        {.kind = IBP_OPT_CALL, .name = "--mean", .arg = "M[,M..]", .dest = &o->mean,
         .call = set_per_channel,
         .help = "with --std: the normalisation (x - M) / S, per channel\n"
                 "(one value: every channel), for ONNX models that expect\n"
                 "normalised inputs and do not normalise in the graph",
         .def = "none"},
        {.kind = IBP_OPT_CALL, .name = "--std", .arg = "S[,S..]", .dest = &o->std,
         .call = set_per_channel, .help = "see --mean", .def = "none"},
        {.kind = IBP_OPT_STRING, .name = "--data", .arg = "DATASET", .dest = &o->data,
         .help = "fashion-mnist | mnist (under --root), idx:IMAGES[,LABELS],\n"
                 "cifar10:PATH[,PATH..], cifar100:PATH[,PATH..],\n"
                 "png:FOLDER, csv:FILE, list:FILE (PATH LABEL lines of\n"
                 "PNG files), or a recognised file or folder",
         .def = ""},
        {.kind = IBP_OPT_CALL, .name = "--images", .arg = "LIST", .dest = o,
         .call = add_images, .help = "PNG files, comma separated (repeatable), instead of --data",
         .def = ""},
        {.kind = IBP_OPT_STRING, .name = "--labels", .arg = "LIST", .dest = &o->labels,
         .help = "their labels, comma separated; without it each image is\n"
                 "checked against the model's own prediction",
         .def = ""},
    };
    const struct ibp_opt rest[] = {
        {.kind = IBP_OPT_INT64, .name = "--start", .arg = "N", .dest = &o->start, .lo = 0,
         .hi = (double)INT64_MAX, .help = "first sample"},
        {.kind = IBP_OPT_INT64, .name = "--count", .arg = "N", .dest = &o->count, .lo = 1,
         .hi = (double)INT64_MAX, .help = "number of samples", .def = "all from --start"},
        {.kind = IBP_OPT_SECTION, .help = "verification"},
        {.kind = IBP_OPT_STRING, .name = "--eps", .arg = "LIST", .dest = &o->eps_list,
         .help = "radii, comma separated, decimals or fractions, e.g.\n2/255,8/255 (required)",
         .def = ""},
        {.kind = IBP_OPT_CALL, .name = "--methods", .arg = "LIST", .dest = c,
         .call = set_methods,
         .help = "bound methods among " IBP_BOUND_METHOD_LIST ", then\n"
                 "alpha-crown, then bab (branch and bound), each tried\n"
                 "on what is still unknown; PGD runs after the bound\n"
                 "methods, before alpha-crown",
         .def = "ibp,crown-ibp"},
        {.kind = IBP_OPT_DOUBLE, .name = "--bab-timeout", .arg = "S", .dest = &c->bab_cfg.timeout_s,
         .lo = 0, .lo_open = 1, .hi = 1e9, .help = "branch and bound's time limit per sample"},
        {.kind = IBP_OPT_INT64, .name = "--max-domains", .arg = "N",
         .dest = &c->bab_cfg.max_domains, .lo = 1, .hi = (double)INT64_MAX,
         .help = "branch and bound's most open domains per sample"},
        {.kind = IBP_OPT_INT64, .name = "--bab-memory", .arg = "MIB", .dest = &o->bab_mib, .lo = 1,
         .hi = 1 << 30,
         .help = "branch and bound's memory cap for open domains per\nsample (MiB); past it, "
                 "depth-first, then unknown"},
        {.kind = IBP_OPT_FLAG, .name = "--no-sound", .dest = &c->sound, .flag = 0,
         .help = "float32 round-to-nearest bounds: faster, not sound\n"
                 "against rounding (default: floating-point sound)",
         .def = ""},
        {.kind = IBP_OPT_INT, .name = "--batch", .arg = "N", .dest = &c->batch, .lo = 1,
         .hi = 1 << 16,
         .help = "samples per batch; results depend on it only through\nfloat rounding"},
        {.kind = IBP_OPT_INT, .name = "--threads", .arg = "N", .dest = &c->threads, .lo = 0,
         .hi = 4096, .help = "threads; 0 = OMP_NUM_THREADS or all cores"},
        {.kind = IBP_OPT_SECTION, .help = "attack (PGD on the margin, strictly inside the box)"},
        {.kind = IBP_OPT_FLAG, .name = "--no-attack", .dest = &c->attack, .flag = 0,
         .help = "bounds only; attack error then counts clean errors", .def = ""},
        {.kind = IBP_OPT_INT, .name = "--attack-steps", .arg = "N", .dest = &a->steps, .lo = 0,
         .hi = 1000000, .help = "steps per restart"},
        {.kind = IBP_OPT_INT, .name = "--attack-restarts", .arg = "N", .dest = &a->restarts,
         .lo = 1, .hi = 1000000, .help = "restarts, the first from the clean point"},
        {.kind = IBP_OPT_DOUBLE, .name = "--attack-step", .arg = "X", .dest = &a->step_size,
         .lo = 0, .lo_open = 1, .hi = 1e6,
         .help = "first step, fraction of the box half-width, cosine\ndecay to a tenth"},
        {.kind = IBP_OPT_U64, .name = "--seed", .arg = "N", .dest = &a->seed,
         .hi = (double)INT64_MAX, .help = "attack seed"},
        {.kind = IBP_OPT_FLAG, .name = "--attack-certified", .dest = &c->attack_certified,
         .flag = 1, .help = "also attack certified samples, as a soundness check\n(default off)",
         .def = ""},
        {.kind = IBP_OPT_SECTION, .help = "output"},
        {.kind = IBP_OPT_STRING, .name = "--json", .arg = "FILE", .dest = &o->json,
         .help = "per-sample records and totals as JSON"},
        {.kind = IBP_OPT_STRING, .name = "--csv", .arg = "FILE", .dest = &o->csv,
         .help = "per-sample records as CSV"},
        {.kind = IBP_OPT_STRING, .name = "--save-adv", .arg = "DIR", .dest = &o->save_adv,
         .help = "a PNG per counterexample: original | adversarial |\n"
                 "difference (-eps..+eps as black..white), 4x nearest\n"
                 "neighbour, named M_epsE_INDEX_labelL_predP.png (P: the\n"
                 "class predicted at the counterexample); DIR is created"},
        {.kind = IBP_OPT_CALL, .name = "--min-verified-accuracy", .arg = "X", .dest = &o->min_acc,
         .call = set_accuracy,
         .help = "fail (exit 3) when a row's verified accuracy is\n"
                 "below X, a fraction in [0,1] or a percentage (70%)",
         .def = "none"},
        {.kind = IBP_OPT_FLAG, .name = "--no-progress", .dest = &o->progress, .flag = 0,
         .help = "no progress line (shown only when stderr is a terminal)", .def = ""},
    };
    _Static_assert(sizeof inputs / sizeof inputs[0] + IBP_OPEN_N_OPTS +
                           sizeof rest / sizeof rest[0] <= IBP_OPTS_MAX,
                   "ibp-verify has more options than IBP_OPTS_MAX");
    int n = 0;
    memcpy(t + n, inputs, sizeof inputs);
    n += (int)(sizeof inputs / sizeof inputs[0]);
    n += ibp_open_options_table(&o->open, t + n);
    memcpy(t + n, rest, sizeof rest);
    return n + (int)(sizeof rest / sizeof rest[0]);
}

static void usage(const struct ibp_opt *t, int n)
{
    struct ibp_wbuf w = {0};
    ibp_opts_help(t, n, &w);
    printf("usage: ibp-verify --model FILE [--model FILE...] --data DATASET --eps LIST [options]\n"
           "       ibp-verify --model FILE --images A.png[,B.png..] [--labels 3,7..] --eps LIST\n"
           "       ibp-verify vnncomp --help   (ONNX networks with VNN-LIB properties)\n"
           "\n"
           "Certifies every sample of the data against L-inf perturbations of radius eps\n"
           "(pixel units, [0,1]): bound methods first (verified iff every margin lower bound\n"
           "is > 0), then PGD on the rest (a counterexample is re-checked by a forward pass),\n"
           "then alpha-crown and branch and bound when --methods names them; a net they do\n"
           "not support gets a note and the other methods.\n"           "A model is a file written by ibp-train or an ONNX model (told apart by content);\n"
           "an ONNX model normalises its input in the graph (Sub/Div/Mul/Add on the input)\n"
           "or gets --mean/--std; the box is clipped to [0,1] in pixel space, then\n"
           "normalised. A flat ONNX input of the images' size takes the images row-major.\n"
           "Prints a Markdown table, one row per (model, eps): clean error, attack error\n"
           "(a lower bound of the robust error), verified error per method and best (an\n"
           "upper bound), samples certified first by each method, samples left unknown, wall\n"
           "time. Results do not depend on the thread count (branch and bound's only through\n"
           "its time limit).\n"
           "\n"
           "%s"
           "\n"
           "exit codes:\n"
           "  0  ran (and met --min-verified-accuracy)\n"
           "  1  bad input (model, data, eps, count) or a failure while running; one line\n"
           "     on stderr, no report\n"
           "  2  bad command line\n"
           "  3  ran, but a row's verified accuracy is below --min-verified-accuracy\n"
           "  4  a sample was both certified and attacked (a soundness bug; please report)\n",
           w.failed || !w.data ? "" : (const char *)w.data);
    ibp_wbuf_free(&w);
}

static void options_free(struct options *o)
{
    for (int i = 0; i < o->n_copies; i++)
        free(o->copies[i]);
}

/* Parses argv into o; returns -1 (message printed) on a usage error, 1 for --help. */
static int parse_args(int argc, char **argv, struct options *o, FILE *errf, int print_help)
{
    memset(o, 0, sizeof *o);
    o->errf = errf;
    ibp_certify_config_default(&o->cfg);
    o->open.split = "test";
    o->count = -1;
    o->min_acc = -1.0;
    o->progress = 1;
    o->bab_mib = (int64_t)(o->cfg.bab_cfg.max_bytes >> 20);
    struct ibp_opt table[IBP_OPTS_MAX];
    int n = options_table(o, table), help = 0;
    struct ibp_error err;
    if (ibp_opts_parse(table, n, argc, argv, 1, NULL, 0, NULL, &help, &err)) {
        fprintf(o->errf, "ibp-verify: %s (see --help)\n", err.msg);
        return -1;
    }
    if (help) {
        if (print_help)
            usage(table, n);
        return 1;
    }
    o->cfg.bab_cfg.max_bytes = (size_t)o->bab_mib << 20;
    if (o->n_models == 0) {
        fprintf(o->errf, "ibp-verify: no model given (--model FILE; see --help)\n");
        return -1;
    }
    if (!o->data == !o->n_images) {
        fprintf(o->errf, "ibp-verify: give either --data or --images (see --help)\n");
        return -1;
    }
    if (o->labels && !o->n_images) {
        fprintf(o->errf, "ibp-verify: --labels goes with --images (see --help)\n");
        return -1;
    }
    if (o->mean.n != o->std.n) {
        fprintf(o->errf, "ibp-verify: --mean and --std go together, with as many values "
                        "(see --help)\n");
        return -1;
    }
    if (!o->eps_list) {
        fprintf(o->errf, "ibp-verify: no --eps given (see --help)\n");
        return -1;
    }
    return 0;
}

/* Reads --images/--labels into a dataset. */
static enum ibp_status open_images(const struct options *o, struct ibp_dataset **out,
                                   struct ibp_error *err)
{
    int32_t *labels = NULL;
    int n_classes = 0;
    if (o->labels) {
        labels = malloc((size_t)o->n_images * sizeof *labels);
        if (!labels)
            return ibp_fail(err, IBP_ERR_NOMEM, "--labels: out of memory");
        const char *p = o->labels;
        int n = 0;
        for (;;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            char item[32];
            long v = 0;
            if (n >= o->n_images || len == 0 || len >= sizeof item) {
                free(labels);
                return ibp_fail(err, IBP_ERR_ARG, "--labels: %s labels for %d images",
                                n >= o->n_images ? "more" : "a bad list of", o->n_images);
            }
            memcpy(item, p, len);
            item[len] = '\0';
            if (ibp_parse_int(item, "--labels", 0, 1 << 20, &v, err) != IBP_OK) {
                free(labels);
                return IBP_ERR_ARG;
            }
            labels[n++] = (int32_t)v;
            if (v + 1 > n_classes)
                n_classes = (int)v + 1;
            if (!comma)
                break;
            p = comma + 1;
        }
        if (n != o->n_images) {
            free(labels);
            return ibp_fail(err, IBP_ERR_ARG, "--labels: %d labels for %d images", n,
                            o->n_images);
        }
    }
    struct ibp_png_options po = {o->open.channels, o->open.convert};
    enum ibp_status st = ibp_png_files_read(o->images, o->n_images, labels, n_classes, &po, out,
                                            err);
    free(labels);
    return st;
}

/* A file-name-safe copy of text: characters other than [A-Za-z0-9._-] become '-'. */
static void safe_name(const char *text, char *out, size_t size)
{
    size_t k = 0;
    for (const char *p = text; *p && k + 1 < size; p++) {
        char ch = *p;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '.' || ch == '_' || ch == '-';
        out[k++] = ok ? ch : '-';
    }
    out[k] = '\0';
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Everything the run needs, released in one place. */
struct state {
    struct ibp_dataset *ds;
    struct ibp_net *nets[MAX_LIST];
    double eps[MAX_LIST];
    const char *eps_text[MAX_LIST];
    int n_eps;
    char *eps_copy;
    struct ibp_report_run *runs;
    struct ibp_certify_sample *samples;
    float *panels;
};

static void state_free(struct state *s, int n_models)
{
    ibp_dataset_free(s->ds);
    for (int i = 0; i < n_models; i++)
        ibp_net_free(s->nets[i]);
    free(s->eps_copy);
    free(s->runs);
    free(s->samples);
    free(s->panels);
}

/* Report bytes per sample record and format, with room: a JSON record of the default
 * methods is about 300 bytes, a CSV line about 100, a Markdown table holds no records. */
#define REPORT_RECORD_BYTES 1024

/* What the run takes after prepare (nets/base/memory.h): the largest certification
 * run's workers, the reports (every record in each format, in buffers that double as
 * they grow), the OpenMP thread stacks and BLIS's packing blocks. */
static enum ibp_status later_bytes(const struct options *o, const struct state *s,
                                   struct ibp_mem_later *later, struct ibp_error *err)
{
    int threads = o->cfg.threads > 0 ? o->cfg.threads : omp_get_max_threads();
    size_t run = 0;
    for (int m = 0; m < o->n_models; m++) {
        struct ibp_certify_config cfg = o->cfg;
        cfg.eps = s->eps[0];
        size_t b;
        enum ibp_status st = ibp_certify_run_bytes(s->nets[m], s->ds, &cfg, &b, err);
        if (st != IBP_OK)
            return st;
        run = b > run ? b : run;
    }
    size_t records = (size_t)o->n_models * (size_t)s->n_eps * (size_t)s->ds->n;
    size_t formats = (o->json != NULL) + (o->csv != NULL);
    later->buffers = run + 2 * formats * records * REPORT_RECORD_BYTES;
    later->thread_stacks = (size_t)(threads - 1) * ibp_mem_thread_stack();
    later->gemm_packing = (size_t)threads * ibp_gemm_pack_bytes();
    return IBP_OK;
}

/* For a start-up allocation that failed under a memory limit: adds to err what the run
 * would need at least (the threads' stacks and packing blocks; its buffers are not
 * known before the models are read). */
static void explain_nomem(const struct options *o, enum ibp_status st, struct ibp_error *err)
{
    if (st != IBP_ERR_NOMEM)
        return;
    int threads = o->cfg.threads > 0 ? o->cfg.threads : omp_get_max_threads();
    struct ibp_mem_later later = {0, (size_t)(threads - 1) * ibp_mem_thread_stack(),
                                  (size_t)threads * ibp_gemm_pack_bytes()};
    ibp_mem_explain_failure(&later, err);
}

/* Validates every input; returns 0 or prints one line and returns EXIT_ERROR. */
static int prepare(const struct options *o, struct state *s)
{
    struct ibp_error err;
    ibp_error_clear(&err);
    s->eps_copy = strdup(o->eps_list);
    if (!s->eps_copy || split_list(s->eps_copy, s->eps_text, &s->n_eps, MAX_LIST) != 0) {
        fprintf(o->errf, "ibp-verify: --eps %s: expected a comma-separated list of at most %d\n",
                o->eps_list, MAX_LIST);
        return EXIT_ERROR;
    }
    for (int e = 0; e < s->n_eps; e++)
        if (ibp_parse_eps(s->eps_text[e], "--eps", &s->eps[e], &err) != IBP_OK) {
            fprintf(o->errf, "ibp-verify: %s\n", err.msg);
            return EXIT_ERROR;
        }
    const char *data_name = o->data ? o->data : o->images[0];
    struct ibp_dataset *all = NULL;
    enum ibp_status st = o->data ? ibp_dataset_open(o->data, &o->open, &all, &err)
                                 : open_images(o, &all, &err);
    if (st == IBP_OK && (o->start != 0 || o->count != -1)) {
        st = ibp_dataset_range(all, o->start, o->count, &s->ds, &err);
        ibp_dataset_free(all);
        if (st != IBP_OK) {
            fprintf(o->errf, "ibp-verify: %s: %s\n", data_name, err.msg);
            return EXIT_ERROR;
        }
    } else {
        s->ds = all;
    }
    if (st != IBP_OK) {
        explain_nomem(o, st, &err);
        fprintf(o->errf, "ibp-verify: %s\n", err.msg);
        return EXIT_ERROR;
    }
    for (int m = 0; m < o->n_models; m++) {
        struct ibp_model_open_options mo = {o->mean.n, o->mean.v, o->std.v,
                                            {s->ds->c, s->ds->h, s->ds->w}, data_name};
        if (ibp_model_open(o->models[m], &mo, &s->nets[m], NULL, &err) != IBP_OK) {
            explain_nomem(o, err.status, &err);
            fprintf(o->errf, "ibp-verify: %s\n", err.msg);
            return EXIT_ERROR;
        }
        struct ibp_certify_config cfg = o->cfg;
        cfg.eps = s->eps[0];
        if (ibp_certify_check(s->nets[m], o->models[m], s->ds, data_name, &cfg, &err) !=
            IBP_OK) {
            explain_nomem(o, err.status, &err);
            fprintf(o->errf, "ibp-verify: %s\n", err.msg);
            return EXIT_ERROR;
        }
    }
    if (o->save_adv) {
        struct stat sb;
        if (mkdir(o->save_adv, 0777) != 0 && errno != EEXIST) {
            fprintf(o->errf, "ibp-verify: --save-adv %s: %s\n", o->save_adv, strerror(errno));
            return EXIT_ERROR;
        }
        if (stat(o->save_adv, &sb) != 0 || !S_ISDIR(sb.st_mode) ||
            access(o->save_adv, W_OK) != 0) {
            fprintf(o->errf, "ibp-verify: --save-adv %s: not a writable folder\n", o->save_adv);
            return EXIT_ERROR;
        }
    }
    size_t n_runs = (size_t)o->n_models * (size_t)s->n_eps;
    size_t in = (size_t)s->ds->c * s->ds->h * s->ds->w;
    s->runs = calloc(n_runs, sizeof *s->runs);
    s->samples = calloc(n_runs * (size_t)s->ds->n, sizeof *s->samples);
    s->panels = malloc(3 * in * sizeof(float));
    if (!s->runs || !s->samples || !s->panels) {
        fprintf(o->errf, "ibp-verify: out of memory for %zu runs of %lld samples\n", n_runs,
                (long long)s->ds->n);
        return EXIT_ERROR;
    }
    /* Everything sized once is allocated now; what the run takes later must fit too,
     * or it would fail half way. */
    struct ibp_mem_later later = {0, 0, 0};
    if (later_bytes(o, s, &later, &err) != IBP_OK ||
        ibp_mem_check_room(&later, "models, data and results", &err) != IBP_OK) {
        fprintf(stderr, "ibp-verify: %s\n", err.msg);
        return EXIT_ERROR;
    }
    /* the thread team now, while the room for its stacks is known to be there */
#pragma omp parallel num_threads(o->cfg.threads > 0 ? o->cfg.threads : omp_get_max_threads())
    {
    }
    if (o->save_adv) {
        struct stat sb;
        if (mkdir(o->save_adv, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "ibp-verify: --save-adv %s: %s\n", o->save_adv, strerror(errno));
            return EXIT_ERROR;
        }
        if (stat(o->save_adv, &sb) != 0 || !S_ISDIR(sb.st_mode) ||
            access(o->save_adv, W_OK) != 0) {
            fprintf(stderr, "ibp-verify: --save-adv %s: not a writable folder\n", o->save_adv);
            return EXIT_ERROR;
        }
    }
    return 0;
}

/* The outcome of a step every rank ran alone (checking the command line, preparing):
 * rank 0 prints the first failing rank's message (its own went to stderr already; other
 * ranks wrote theirs to errf, a memory stream whose text is *text), and every rank
 * returns that rank's exit code. */
static int agree(struct ibp_cluster *cl, int rc, FILE *errf, char **text, size_t *len)
{
    if (ibp_cluster_size(cl) == 1)
        return rc;
    fflush(errf);
    int rank = ibp_cluster_rank(cl), size = ibp_cluster_size(cl);
    struct ibp_wbuf send = {0}, all = {0};
    int32_t code = rc;
    ibp_wbuf_bytes(&send, &code, sizeof code);
    if (rc != 0 && rank != 0 && *text)
        ibp_wbuf_bytes(&send, *text, *len);
    size_t *lens = calloc((size_t)size, sizeof *lens);
    struct ibp_error err;
    int32_t final = rc;
    if (send.failed || !lens ||
        ibp_cluster_gather(cl, send.data ? send.data : (void *)&code,
                           send.data ? send.len : sizeof code, &all, lens, &err) != IBP_OK)
        final = EXIT_ERROR;
    if (rank == 0 && final == 0) {
        size_t at = 0;
        for (int r = 0; r < size && final == 0; at += lens[r], r++) {
            int32_t c;
            memcpy(&c, all.data + at, sizeof c);
            if (c != 0) {
                final = c;
                fwrite(all.data + at + sizeof c, 1, lens[r] - sizeof c, stderr);
            }
        }
    }
    ibp_cluster_broadcast(cl, &final, sizeof final);
    ibp_wbuf_free(&send);
    ibp_wbuf_free(&all);
    free(lens);
    return final;
}

static int verify_main(int argc, char **argv, struct ibp_cluster *cl)
{
    int rank = ibp_cluster_rank(cl);
    /* other ranks keep their messages for agree(); rank 0 alone speaks */
    char *text = NULL;
    size_t text_len = 0;
    FILE *errf = rank == 0 ? stderr : open_memstream(&text, &text_len);
    if (!errf)
        errf = stderr;
    /* the ranks of one run must have been given the same command line */
    struct ibp_wbuf line = {0};
    for (int i = 0; i < argc; i++)
        ibp_wbuf_bytes(&line, argv[i], strlen(argv[i]) + 1);
    struct ibp_error same_err;
    int same = ibp_cluster_check_same(cl, line.data, line.len, "the command line", &same_err) ==
               IBP_OK;
    ibp_wbuf_free(&line);
    if (!same && rank == 0)
        fprintf(stderr, "ibp-verify: %s\n", same_err.msg);
    struct options o;
    int pr = same ? parse_args(argc, argv, &o, errf, rank == 0) : -1;
    if (!same)
        memset(&o, 0, sizeof o);
    pr = agree(cl, pr, errf, &text, &text_len);
    if (pr != 0) {
        options_free(&o);
        if (errf != stderr)
            fclose(errf);
        free(text);
        return pr > 0 ? EXIT_RAN : EXIT_USAGE;
    }
    struct state s;
    memset(&s, 0, sizeof s);
    int rc = agree(cl, prepare(&o, &s), errf, &text, &text_len);
    int threads = o.cfg.threads > 0 ? o.cfg.threads : omp_get_max_threads();
    struct progress_ctx prog = {o.progress && rank == 0 && isatty(2), 0, o.n_models, 0,
                                s.n_eps};
    struct ibp_error err;
    ibp_error_clear(&err);
    for (int m = 0; m < o.n_models && rc == 0; m++)
        for (int e = 0; e < s.n_eps && rc == 0; e++) {
            struct ibp_report_run *run = &s.runs[m * s.n_eps + e];
            struct ibp_certify_sample *out = s.samples + (size_t)(m * s.n_eps + e) * s.ds->n;
            struct ibp_certify_config cfg = o.cfg;
            cfg.eps = s.eps[e];
            char model_base[256], eps_tag[64];
            safe_name(base_name(o.models[m]), model_base, sizeof model_base);
            safe_name(s.eps_text[e], eps_tag, sizeof eps_tag);
            struct run_ctx ctx = {&prog, o.save_adv, model_base, eps_tag, s.eps[e], o.start,
                                  s.ds->c, s.ds->h, s.ds->w, s.panels};
            struct ibp_certify_hooks hooks = {progress_line, bab_progress_line,
                                              o.save_adv ? save_adv : NULL, &ctx};
            prog.model = m;
            prog.eps = e;
            if (ibp_certify_run_sharded(cl, s.nets[m], s.ds, &cfg, &hooks, out, &run->summary,
                                        &err) != IBP_OK) {
                progress_clear(&prog);
                if (rank == 0)
                    fprintf(stderr, "ibp-verify: %s: eps %s: %s\n", o.models[m], s.eps_text[e],
                            err.msg);
                rc = EXIT_ERROR;
            }
            if (rc == 0 && e == 0 && rank == 0 && run->summary.note[0]) {
                progress_clear(&prog);
                fprintf(stderr, "ibp-verify: %s: note: %s\n", o.models[m], run->summary.note);
            }
            run->model = o.models[m];
            run->eps = s.eps[e];
            run->eps_text = s.eps_text[e];
            run->samples = out;
        }
    progress_clear(&prog);
    if (rank != 0) {
        /* rank 0 writes the report and decides the exit code */
        int32_t final = rc;
        ibp_cluster_broadcast(cl, &final, sizeof final);
        state_free(&s, o.n_models);
        options_free(&o);
        if (errf != stderr)
            fclose(errf);
        free(text);
        return final;
    }

    struct ibp_report rep = {o.data ? o.data : "(PNG files)", o.start, &o.cfg, threads,
                             o.n_models * s.n_eps, s.runs};
    struct ibp_wbuf md = {0}, js = {0}, cs = {0};
    if (rc == 0) {
        ibp_report_markdown(&rep, &md);
        if (o.json)
            ibp_report_json(&rep, &js);
        if (o.csv)
            ibp_report_csv(&rep, &cs);
        if (md.failed || js.failed || cs.failed) {
            fprintf(stderr, "ibp-verify: out of memory writing the report\n");
            rc = EXIT_ERROR;
        }
    }
    if (rc == 0 && o.json && ibp_file_write_atomic(o.json, js.data, js.len, &err) != IBP_OK) {
        fprintf(stderr, "ibp-verify: --json: %s\n", err.msg);
        rc = EXIT_ERROR;
    }
    if (rc == 0 && o.csv && ibp_file_write_atomic(o.csv, cs.data, cs.len, &err) != IBP_OK) {
        fprintf(stderr, "ibp-verify: --csv: %s\n", err.msg);
        rc = EXIT_ERROR;
    }
    if (rc == 0) {
        fwrite(md.data, 1, md.len, stdout);
        fflush(stdout);
        for (int i = 0; i < rep.n_runs; i++) {
            const struct ibp_report_run *run = &s.runs[i];
            const struct ibp_certify_summary *sm = &run->summary;
            double acc = (double)sm->certified / (double)sm->n;
            if (sm->conflicts > 0) {
                fprintf(stderr,
                        "ibp-verify: %s at eps %s: %lld samples both certified and attacked "
                        "(soundness bug)\n",
                        run->model, run->eps_text, (long long)sm->conflicts);
                rc = EXIT_UNSOUND;
            } else if (o.min_acc >= 0.0 && acc < o.min_acc && rc == 0) {
                fprintf(stderr,
                        "ibp-verify: %s at eps %s: verified accuracy %.2f%% below the required "
                        "%.2f%%\n",
                        run->model, run->eps_text, 100.0 * acc, 100.0 * o.min_acc);
                rc = EXIT_GATE;
            }
        }
    }
    ibp_wbuf_free(&md);
    ibp_wbuf_free(&js);
    ibp_wbuf_free(&cs);
    state_free(&s, o.n_models);
    options_free(&o);
    int32_t final = rc;
    ibp_cluster_broadcast(cl, &final, sizeof final);
    return final;
}

/* vnncomp mode does not share its work between processes: rank 0 runs it alone. */
static int vnncomp_main(int argc, char **argv, struct ibp_cluster *cl)
{
    if (ibp_cluster_size(cl) > 1) {
        if (ibp_cluster_rank(cl) != 0)
            return EXIT_RAN;
        fprintf(stderr, "ibp-verify vnncomp: %d processes started; vnncomp mode runs on rank "
                        "0 alone (the others exit)\n", ibp_cluster_size(cl));
    }
    return ibp_verify_vnncomp_main(argc, argv);
}

int main(int argc, char **argv)
{
    ibp_mem_limit_policy();
    struct ibp_cluster *cl;
    struct ibp_error err;
    if (ibp_cluster_init(&argc, &argv, &cl, &err) != IBP_OK) {
        fprintf(stderr, "ibp-verify: %s\n", err.msg);
        return EXIT_ERROR;
    }
    int rc = argc > 1 && strcmp(argv[1], "vnncomp") == 0 ? vnncomp_main(argc - 1, argv + 1, cl)
                                                         : verify_main(argc, argv, cl);
    ibp_cluster_finalize(cl);
    return rc;
}
