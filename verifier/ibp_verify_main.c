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
#include "datasets/png_folder.h"
#include "datasets/png_write.h"
#include "nets/base/file_io.h"
#include "nets/formats/model_file.h"
#include "trainer/numparse.h"
#include "trainer/schedule.h"
#include "verifier/certify.h"
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

static void usage(FILE *f)
{
    struct ibp_certify_config d;
    ibp_certify_config_default(&d);
    fprintf(f,
            "usage: ibp-verify --model FILE [--model FILE...] --data DATASET --eps LIST [options]\n"
            "       ibp-verify --model FILE --images A.png[,B.png..] [--labels 3,7..] --eps LIST\n"
            "       ibp-verify vnncomp --help   (ONNX networks with VNN-LIB properties)\n"
            "\n"
            "Certifies every sample of the data against L-inf perturbations of radius eps\n"
            "(pixel units, [0,1]): bound methods first (verified iff every margin lower bound\n"
            "is > 0), then PGD on the rest (a counterexample is re-checked by a forward pass).\n"
            "Prints a Markdown table, one row per (model, eps): clean error, attack error\n"
            "(a lower bound of the robust error), verified error per method and best (an\n"
            "upper bound), samples left unknown, wall time. Results do not depend on the\n"
            "thread count.\n"
            "\n"
            "inputs:\n"
            "  --model FILE, -m FILE  model file written by ibp-train (repeat for several)\n"
            "  --data DATASET         fashion-mnist | mnist (under --root), idx:IMAGES[,LABELS],\n"
            "                         cifar10:PATH[,PATH..], cifar100:PATH[,PATH..],\n"
            "                         png:FOLDER, csv:FILE, or a recognised file or folder\n"
            "  --images LIST          PNG files, comma separated (repeatable), instead of --data\n"
            "  --labels LIST          their labels, comma separated; without it each image is\n"
            "                         checked against the model's own prediction\n"
            "  --split train|test     split of a named dataset or folder (default test)\n"
            "  --root DIR             folder of named datasets (default %s)\n"
            "  --channels 0|1|3       PNG channels; 0 = as the first image (default 0)\n"
            "  --convert              PNG: allow gray<->RGB conversion (default off)\n"
            "  --shape C,H,W          CSV image shape (default 1,28,28)\n"
            "  --classes N            CSV/IDX number of classes (default 10)\n"
            "  --coarse               CIFAR-100: coarse labels (default fine)\n"
            "  --start N              first sample (default 0)\n"
            "  --count N              number of samples (default all from --start)\n"
            "\n"
            "verification:\n"
            "  --eps LIST             radii, comma separated, decimals or fractions, e.g.\n"
            "                         2/255,8/255 (required)\n"
            "  --methods LIST         bound methods among ibp, crown-ibp, crown (default\n"
            "                         ibp,crown-ibp); the verdict uses the best bound\n"
            "  --no-sound             float32 round-to-nearest bounds: faster, not sound\n"
            "                         against rounding (default: floating-point sound)\n"
            "  --batch N              samples per batch (default %d); results depend on it\n"
            "                         only through float rounding\n"
            "  --threads N            threads; 0 = OMP_NUM_THREADS or all cores (default 0)\n"
            "\n"
            "attack (PGD on the margin, strictly inside the box):\n"
            "  --no-attack            bounds only; attack error then counts clean errors\n"
            "  --attack-steps N       steps per restart (default %d)\n"
            "  --attack-restarts N    restarts, the first from the clean point (default %d)\n"
            "  --attack-step X        first step, fraction of the box half-width, cosine\n"
            "                         decay to a tenth (default %g)\n"
            "  --seed N               attack seed (default %llu)\n"
            "  --attack-certified     also attack certified samples, as a soundness check\n"
            "                         (default off)\n"
            "\n"
            "output:\n"
            "  --json FILE            per-sample records and totals as JSON\n"
            "  --csv FILE             per-sample records as CSV\n"
            "  --save-adv DIR         a PNG per counterexample: original | adversarial |\n"
            "                         difference (-eps..+eps as black..white); DIR is created\n"
            "  --min-verified-accuracy X  fail (exit 3) when a row's verified accuracy is\n"
            "                         below X, a fraction in [0,1] or a percentage (70%%)\n"
            "  --no-progress          no progress line (shown only when stderr is a terminal)\n"
            "  --help                 this text\n"
            "\n"
            "exit codes:\n"
            "  0  ran (and met --min-verified-accuracy)\n"
            "  1  bad input (model, data, eps, count) or a failure while running; one line\n"
            "     on stderr, no report\n"
            "  2  bad command line\n"
            "  3  ran, but a row's verified accuracy is below --min-verified-accuracy\n"
            "  4  a sample was both certified and attacked (a soundness bug; please report)\n",
            IBP_DATASETS_ROOT, d.batch, d.attack_cfg.steps, d.attack_cfg.restarts,
            d.attack_cfg.step_size, (unsigned long long)d.attack_cfg.seed);
}

struct options {
    const char *models[MAX_LIST];
    int n_models;
    const char *data;
    const char *images[MAX_IMAGES];
    int n_images;
    const char *labels;
    struct ibp_open_options open;
    long long start, count;
    const char *eps_list;
    const char *json, *csv, *save_adv;
    double min_acc; /* < 0: no gate */
    int progress;
    struct ibp_certify_config cfg;
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
    fprintf(stderr, "\rmodel %d/%d, eps %d/%d: %lld/%lld samples", p->model + 1, p->n_models,
            p->eps + 1, p->n_eps, (long long)done, (long long)total);
    fflush(stderr);
}

static void progress_clear(const struct progress_ctx *p)
{
    if (p->on)
        fprintf(stderr, "\r\033[K");
}

/* Counterexample PNGs: one file per attacked sample. */
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
    int len = snprintf(path, sizeof path, "%s/%s_eps%s_%06lld_label%d.png", a->dir,
                       a->model_base, a->eps_tag, (long long)(a->first_index + s->index),
                       s->label);
    if (len < 0 || (size_t)len >= sizeof path)
        return ibp_fail(err, IBP_ERR_ARG, "--save-adv: path too long in %s", a->dir);
    return ibp_png_write_grid_float(path, a->panels, 3, a->c, a->h, a->w, 3, err);
}

static int parse_ll(const char *s, long long lo, long long hi, long long *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end || x < lo || x > hi)
        return -1;
    *v = x;
    return 0;
}

/* Splits a comma list into out[] (pointers into a copy the caller frees). */
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

/* Parses argv into o; returns -1 (message printed) on a usage error, 1 for --help. */
static int parse_args(int argc, char **argv, struct options *o, char **to_free, int *n_free)
{
    memset(o, 0, sizeof *o);
    ibp_certify_config_default(&o->cfg);
    o->open.split = "test";
    o->count = -1;
    o->min_acc = -1.0;
    o->progress = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return 1;
        if (strcmp(a, "--convert") == 0) { o->open.convert = 1; continue; }
        if (strcmp(a, "--coarse") == 0) { o->open.coarse = 1; continue; }
        if (strcmp(a, "--no-sound") == 0) { o->cfg.sound = 0; continue; }
        if (strcmp(a, "--no-attack") == 0) { o->cfg.attack = 0; continue; }
        if (strcmp(a, "--attack-certified") == 0) { o->cfg.attack_certified = 1; continue; }
        if (strcmp(a, "--no-progress") == 0) { o->progress = 0; continue; }
        if (a[0] != '-') {
            fprintf(stderr, "ibp-verify: unexpected argument \"%s\" (see --help)\n", a);
            return -1;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "ibp-verify: %s needs a value (see --help)\n", a);
            return -1;
        }
        const char *val = argv[++i];
        long long v;
        int bad = 0;
        if (strcmp(a, "--model") == 0 || strcmp(a, "-m") == 0) {
            if (o->n_models >= MAX_LIST) {
                fprintf(stderr, "ibp-verify: at most %d models\n", MAX_LIST);
                return -1;
            }
            o->models[o->n_models++] = val;
        } else if (strcmp(a, "--data") == 0)
            o->data = val;
        else if (strcmp(a, "--images") == 0) {
            char *copy = *n_free < MAX_LIST ? strdup(val) : NULL;
            if (!copy) {
                fprintf(stderr, "ibp-verify: --images given more than %d times\n", MAX_LIST);
                return -1;
            }
            to_free[(*n_free)++] = copy;
            bad = split_list(copy, o->images, &o->n_images, MAX_IMAGES) != 0;
        } else if (strcmp(a, "--labels") == 0)
            o->labels = val;
        else if (strcmp(a, "--split") == 0)
            o->open.split = val;
        else if (strcmp(a, "--root") == 0)
            o->open.root = val;
        else if (strcmp(a, "--channels") == 0) {
            bad = parse_ll(val, 0, 3, &v) || v == 2;
            o->open.channels = bad ? 0 : (int)v;
        } else if (strcmp(a, "--shape") == 0) {
            char extra;
            bad = sscanf(val, "%d,%d,%d%c", &o->open.c, &o->open.h, &o->open.w, &extra) != 3 ||
                  o->open.c < 1 || o->open.c > IBP_DATASET_MAX_CHANNELS || o->open.h < 1 ||
                  o->open.w < 1;
        } else if (strcmp(a, "--classes") == 0)
            bad = parse_ll(val, 1, 1 << 20, &v) || ((o->open.n_classes = (int)v), 0);
        else if (strcmp(a, "--start") == 0)
            bad = parse_ll(val, 0, INT64_MAX, &o->start);
        else if (strcmp(a, "--count") == 0)
            bad = parse_ll(val, 1, INT64_MAX, &o->count);
        else if (strcmp(a, "--eps") == 0)
            o->eps_list = val;
        else if (strcmp(a, "--methods") == 0) {
            struct ibp_error err;
            if (ibp_certify_methods_parse(val, o->cfg.methods, &o->cfg.n_methods, &err)) {
                fprintf(stderr, "ibp-verify: %s\n", err.msg);
                return -1;
            }
        } else if (strcmp(a, "--batch") == 0)
            bad = parse_ll(val, 1, 1 << 16, &v) || ((o->cfg.batch = (int)v), 0);
        else if (strcmp(a, "--threads") == 0)
            bad = parse_ll(val, 0, 4096, &v) || ((o->cfg.threads = (int)v), 0);
        else if (strcmp(a, "--attack-steps") == 0)
            bad = parse_ll(val, 0, 1000000, &v) || ((o->cfg.attack_cfg.steps = (int)v), 0);
        else if (strcmp(a, "--attack-restarts") == 0)
            bad = parse_ll(val, 1, 1000000, &v) || ((o->cfg.attack_cfg.restarts = (int)v), 0);
        else if (strcmp(a, "--attack-step") == 0) {
            struct ibp_error err;
            bad = ibp_parse_double(val, a, &o->cfg.attack_cfg.step_size, &err) != IBP_OK ||
                  !(o->cfg.attack_cfg.step_size > 0.0);
        } else if (strcmp(a, "--seed") == 0) {
            bad = parse_ll(val, 0, INT64_MAX, &v);
            o->cfg.attack_cfg.seed = bad ? 0 : (uint64_t)v;
        } else if (strcmp(a, "--json") == 0)
            o->json = val;
        else if (strcmp(a, "--csv") == 0)
            o->csv = val;
        else if (strcmp(a, "--save-adv") == 0)
            o->save_adv = val;
        else if (strcmp(a, "--min-verified-accuracy") == 0) {
            char num[64];
            size_t len = strlen(val);
            int percent = len > 0 && val[len - 1] == '%';
            struct ibp_error err;
            if (percent)
                len--;
            bad = len == 0 || len >= sizeof num;
            if (!bad) {
                memcpy(num, val, len);
                num[len] = '\0';
                bad = ibp_parse_double(num, a, &o->min_acc, &err) != IBP_OK;
            }
            if (!bad && percent)
                o->min_acc /= 100.0;
            bad = bad || !(o->min_acc >= 0.0 && o->min_acc <= 1.0);
        } else {
            fprintf(stderr, "ibp-verify: unknown option %s (see --help)\n", a);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "ibp-verify: %s %s: bad value (see --help)\n", a, val);
            return -1;
        }
    }
    if (o->n_models == 0) {
        fprintf(stderr, "ibp-verify: no model given (--model FILE; see --help)\n");
        return -1;
    }
    if (!o->data == !o->n_images) {
        fprintf(stderr, "ibp-verify: give either --data or --images (see --help)\n");
        return -1;
    }
    if (o->labels && !o->n_images) {
        fprintf(stderr, "ibp-verify: --labels goes with --images (see --help)\n");
        return -1;
    }
    if (!o->eps_list) {
        fprintf(stderr, "ibp-verify: no --eps given (see --help)\n");
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

/* Validates every input; returns 0 or prints one line and returns EXIT_ERROR. */
static int prepare(const struct options *o, struct state *s)
{
    struct ibp_error err;
    ibp_error_clear(&err);
    s->eps_copy = strdup(o->eps_list);
    if (!s->eps_copy || split_list(s->eps_copy, s->eps_text, &s->n_eps, MAX_LIST) != 0) {
        fprintf(stderr, "ibp-verify: --eps %s: expected a comma-separated list of at most %d\n",
                o->eps_list, MAX_LIST);
        return EXIT_ERROR;
    }
    for (int e = 0; e < s->n_eps; e++)
        if (ibp_eps_parse(s->eps_text[e], "--eps", &s->eps[e], &err) != IBP_OK) {
            fprintf(stderr, "ibp-verify: %s\n", err.msg);
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
            fprintf(stderr, "ibp-verify: %s: %s\n", data_name, err.msg);
            return EXIT_ERROR;
        }
    } else {
        s->ds = all;
    }
    if (st != IBP_OK) {
        fprintf(stderr, "ibp-verify: %s\n", err.msg);
        return EXIT_ERROR;
    }
    for (int m = 0; m < o->n_models; m++) {
        if (ibp_model_load(o->models[m], &s->nets[m], NULL, &err) != IBP_OK) {
            fprintf(stderr, "ibp-verify: %s\n", err.msg);
            return EXIT_ERROR;
        }
        struct ibp_certify_config cfg = o->cfg;
        cfg.eps = s->eps[0];
        if (ibp_certify_check(s->nets[m], o->models[m], s->ds, data_name, &cfg, &err) !=
            IBP_OK) {
            fprintf(stderr, "ibp-verify: %s\n", err.msg);
            return EXIT_ERROR;
        }
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
    size_t n_runs = (size_t)o->n_models * (size_t)s->n_eps;
    size_t in = (size_t)s->ds->c * s->ds->h * s->ds->w;
    s->runs = calloc(n_runs, sizeof *s->runs);
    s->samples = calloc(n_runs * (size_t)s->ds->n, sizeof *s->samples);
    s->panels = malloc(3 * in * sizeof(float));
    if (!s->runs || !s->samples || !s->panels) {
        fprintf(stderr, "ibp-verify: out of memory for %zu runs of %lld samples\n", n_runs,
                (long long)s->ds->n);
        return EXIT_ERROR;
    }
    return 0;
}

static int verify_main(int argc, char **argv)
{
    struct options o;
    char *to_free[MAX_LIST] = {0};
    int n_free = 0;
    int pr = parse_args(argc, argv, &o, to_free, &n_free);
    if (pr != 0) {
        if (pr > 0)
            usage(stdout);
        for (int i = 0; i < n_free; i++)
            free(to_free[i]);
        return pr > 0 ? EXIT_RAN : EXIT_USAGE;
    }
    struct state s;
    memset(&s, 0, sizeof s);
    int rc = prepare(&o, &s);
    int threads = o.cfg.threads > 0 ? o.cfg.threads : omp_get_max_threads();
    struct progress_ctx prog = {o.progress && isatty(2), 0, o.n_models, 0, s.n_eps};
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
            struct ibp_certify_hooks hooks = {progress_line, o.save_adv ? save_adv : NULL, &ctx};
            prog.model = m;
            prog.eps = e;
            if (ibp_certify_run(s.nets[m], s.ds, &cfg, &hooks, out, &run->summary, &err) !=
                IBP_OK) {
                progress_clear(&prog);
                fprintf(stderr, "ibp-verify: %s: eps %s: %s\n", o.models[m], s.eps_text[e],
                        err.msg);
                rc = EXIT_ERROR;
            }
            run->model = o.models[m];
            run->eps = s.eps[e];
            run->eps_text = s.eps_text[e];
            run->samples = out;
        }
    progress_clear(&prog);

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
    for (int i = 0; i < n_free; i++)
        free(to_free[i]);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "vnncomp") == 0)
        return ibp_verify_vnncomp_main(argc - 1, argv + 1);
    return verify_main(argc, argv);
}
