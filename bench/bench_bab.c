/* bench_bab — domains per second of branch and bound (verifier/bab.h, ibp_bab_run) and of
 * the batched domain-bound engine under it (nets/bounds/domain_bounds.h ibp_dom_bound,
 * nets/bounds/alpha_crown.h ibp_dom_optimize), and the cost of sound mode, on two external
 * networks read from ../shared/data:
 *   fc    VNN-COMP 2022 mnist_fc 256x4 (ONNX) with a VNN-LIB property that CROWN leaves
 *         open (box 0, one margin row per disjunct); default prop_3_0.05 (unsat by the
 *         published results; CROWN's lowest row bound about -0.9), --fc-property;
 *   conv  ERAN convSmallRELU__Point (ONNX, normalised inside by a prepended Normalize
 *         layer, mean 0.1307, std 0.3081) on an image of mnist_test.csv, the box
 *         clip(x ± 0.12, 0, 1) in pixel units, rows z_label - z_j for the 9 other classes;
 *         default image 2 (--conv-image), the first that CROWN leaves open: CROWN
 *         certifies images 0 and 1, so branch and bound would stop at the root there.
 *
 * Fixed work, so each figure measures what it says:
 *   engine  one fixed batch of --domains split domains (each splits --splits unstable
 *           neurons drawn with a seeded RNG, random sides; the adaptive α of SPEC §3;
 *           β 0.05 on the split neurons), and --calls ibp_dom_bound calls per timing:
 *           float (sound 0), sound (sound 1) and float with the α/β gradients (the
 *           optimiser's call); then ibp_dom_optimize on the batch for exactly --steps
 *           steps (patience above the step count, so no early stop: steps + 1 bound
 *           calls with gradients and the Adam updates).
 *   BaB     ibp_bab_run (default configuration: batch 16, 20 α/β steps) with the open-
 *           domain cap --bab-cap and a time limit far above the run: a run stopped by
 *           the time limit is an error, not a figure. The run is deterministic, so the
 *           domains bounded are the same in every repetition (checked). Its seconds are
 *           the whole call: problem set-up, root PGD and α-CROWN, the branching.
 * Float and sound runs alternate within each repetition (the order swapped every other
 * repetition); each figure is the best of --reps; the sound/float ratio is of the time per
 * domain of those best runs. Problems are created sound (both ibp_dom_bound modes allowed).
 *
 * Exit 77 (skipped) when the data folder is absent.
 *
 * usage: bench_bab [--nets fc,conv] [--parts engine,bab] [--fc-property FILE]
 *                  [--conv-image N] [--threads N] [--reps N] [--calls N] [--domains N]
 *                  [--splits N] [--steps N] [--bab-cap N] [--data DIR] */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "datasets/box.h"
#include "datasets/csv.h"
#include "nets/base/cpu.h"
#include "bench/bench_options.h"
#include "nets/base/options.h"
#include "nets/base/rng.h"
#include "nets/bounds/alpha_crown.h"
#include "nets/bounds/domain_bounds.h"
#include "nets/bounds/sound_fp.h"
#include "nets/formats/onnx_import.h"
#include "nets/kernels/gemm.h"
#include "verifier/bab.h"
#include "verifier/vnnlib.h"

#define SPLIT_BETA 0.05 /* β on every split neuron of the engine batch */
#define CONV_EPS 0.12   /* ε of the convSmall box, pixel units */
#define BAB_TIMEOUT_S 1e6

struct bench_cfg {
    const char *nets, *parts, *data, *fc_property;
    int threads, reps, calls, domains, splits, steps, conv_image;
    int64_t bab_cap;
};

/* One property: the network, the box [lo, hi] and rows C[rows][outputs], offsets d. */
struct instance {
    const char *title;
    struct ibp_net *net;
    float *lo, *hi, *C, *d;
    int rows;
};

static void die(const char *what, const struct ibp_error *err)
{
    fprintf(stderr, "bench_bab: %s: %s\n", what, err->msg);
    exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "bench_bab: out of memory (%zu bytes)\n", n * size);
        exit(1);
    }
    return p;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The first "model name" of /proc/cpuinfo into buf ("unknown" without one). */
static void cpu_name(char *buf, size_t cap)
{
    snprintf(buf, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) != 0 || !colon)
            continue;
        colon += 1 + (colon[1] == ' ');
        colon[strcspn(colon, "\n")] = '\0';
        snprintf(buf, cap, "%s", colon);
        break;
    }
    fclose(f);
}

/* The first field of /proc/loadavg (-1 without it): the figures mean little when the
 * machine's other work competes for the cores. */
static double load_average(void)
{
    double v = -1.0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &v) != 1)
            v = -1.0;
        fclose(f);
    }
    return v;
}

static const char *isa_name(enum ibp_isa isa)
{
    return isa == IBP_ISA_AVX512 ? "AVX-512" : isa == IBP_ISA_AVX2 ? "AVX2+FMA" : "portable";
}

static void join(char *buf, size_t cap, const char *dir, const char *rel)
{
    if ((size_t)snprintf(buf, cap, "%s/%s", dir, rel) >= cap) {
        fprintf(stderr, "bench_bab: path too long: %s/%s\n", dir, rel);
        exit(1);
    }
}

/* mnist_fc 256x4 and property `prop` (a path under vnncomp2022/mnist_fc): box 0, whose
 * disjuncts must each be one row (the form ibp_bab_run decides). */
static void load_fc(const char *data, const char *prop, struct instance *in)
{
    char path[4096];
    struct ibp_error err = {0};
    struct ibp_onnx_info info;
    join(path, sizeof path, data, "vnncomp2022/mnist_fc/onnx/mnist-net_256x4.onnx.gz");
    if (ibp_onnx_load(path, NULL, &in->net, &info, &err))
        die("mnist_fc 256x4", &err);
    char rel[1024];
    snprintf(rel, sizeof rel, "vnncomp2022/mnist_fc/%s", prop);
    join(path, sizeof path, data, rel);
    struct ibp_vnnlib *p;
    if (ibp_vnnlib_load(path, &p, &err))
        die("mnist_fc property", &err);
    if (p->n_boxes < 1 || (size_t)p->n_inputs != ibp_shape_size(in->net->input) ||
        p->n_outputs != ibp_net_outputs(in->net)) {
        fprintf(stderr, "bench_bab: %s: no box, or sizes that do not match the network\n", path);
        exit(1);
    }
    int rows = ibp_vnnlib_box_rows(p, 0), O = p->n_outputs;
    for (int k = 0; k < p->boxes[0].n_disjuncts; k++)
        if (p->boxes[0].disjuncts[k].n_rows != 1) {
            fprintf(stderr, "bench_bab: %s: a disjunct of %d rows (branch and bound takes "
                    "one row per disjunct)\n", path, p->boxes[0].disjuncts[k].n_rows);
            exit(1);
        }
    size_t n0 = (size_t)p->n_inputs;
    in->lo = xcalloc(n0, sizeof(float));
    in->hi = xcalloc(n0, sizeof(float));
    in->C = xcalloc((size_t)rows * O, sizeof(float));
    in->d = xcalloc((size_t)rows, sizeof(float));
    double *offset = xcalloc((size_t)rows, sizeof(double));
    ibp_vnnlib_spec(p, 0, in->C, offset, NULL);
    ibp_vnnlib_box_float(p, 0, in->lo, in->hi);
    /* rounded down, as vnncomp mode does in sound mode: a valid offset for both modes */
    for (int r = 0; r < rows; r++)
        in->d[r] = fp_to_float_dn(offset[r]);
    in->rows = rows;
    free(offset);
    ibp_vnnlib_free(p);
}

/* convSmallRELU__Point, image `image` of mnist_test.csv, ε CONV_EPS, margin rows. */
static void load_conv(const char *data, int image, struct instance *in)
{
    char path[4096];
    struct ibp_error err = {0};
    static const float mean = 0.1307f, sd = 0.3081f;
    struct ibp_onnx_options opt = {.n_norm = 1, .norm_mean = &mean, .norm_std = &sd};
    join(path, sizeof path, data, "eran-mnist/convSmallRELU__Point.onnx");
    if (ibp_onnx_load(path, &opt, &in->net, NULL, &err))
        die("convSmallRELU__Point", &err);
    struct ibp_dataset *ds;
    join(path, sizeof path, data, "eran-mnist/mnist_test.csv");
    if (ibp_csv_read(path, 1, 28, 28, 10, &ds, &err))
        die("mnist_test.csv", &err);
    size_t n0 = 784;
    int O = ibp_net_outputs(in->net), label = ds->labels[image];
    if (image >= ds->n) {
        fprintf(stderr, "bench_bab: %s: no image %d (%lld images)\n", path, image, (long long)ds->n);
        exit(1);
    }
    if (ibp_shape_size(in->net->input) != n0 || O != 10) {
        fprintf(stderr, "bench_bab: convSmallRELU__Point: input or output size is not MNIST's\n");
        exit(1);
    }
    float *x = xcalloc(n0, sizeof(float));
    const uint8_t *px = ibp_dataset_sample(ds, image);
    for (size_t i = 0; i < n0; i++)
        x[i] = (float)px[i] / 255.0f;
    in->lo = xcalloc(n0, sizeof(float));
    in->hi = xcalloc(n0, sizeof(float));
    const float zero = 0.0f, one = 1.0f;
    if (ibp_box_compute(x, 1, 1, (int64_t)n0, CONV_EPS, &zero, &one, NULL, in->lo, in->hi, &err))
        die("convSmall box", &err);
    in->rows = O - 1;
    in->C = xcalloc((size_t)in->rows * O, sizeof(float));
    in->d = xcalloc((size_t)in->rows, sizeof(float));
    for (int j = 0, r = 0; j < O; j++)
        if (j != label) {
            in->C[(size_t)r * O + label] = 1.0f;
            in->C[(size_t)r * O + j] = -1.0f;
            r++;
        }
    free(x);
    ibp_dataset_free(ds);
}

static void instance_free(struct instance *in)
{
    ibp_net_free(in->net);
    free(in->lo);
    free(in->hi);
    free(in->C);
    free(in->d);
}

static struct ibp_dom_problem *problem(const struct instance *in, int sound, int threads)
{
    struct ibp_dom_problem *p;
    struct ibp_error err = {0};
    if (ibp_dom_problem_create(in->net, in->lo, in->hi, in->C, in->d, in->rows, sound,
                               threads, &p, &err))
        die("domain problem", &err);
    return p;
}

/* The engine batch: nd domains, each with `splits` distinct unstable neurons split to a
 * random side (fewer when the box has fewer unstable neurons), adaptive α, β SPLIT_BETA
 * on the split neurons. */
static void make_batch(const struct ibp_dom_problem *p, int nd, int splits, signed char *split,
                       double *alpha, double *beta)
{
    int N = ibp_dom_relus(p), rows = ibp_dom_rows(p), nu = 0;
    int *unst = xcalloc((size_t)N, sizeof(int));
    for (int j = 0; j < N; j++)
        if (ibp_dom_unstable(p, j))
            unst[nu++] = j;
    size_t rn = (size_t)rows * N;
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 16, 0);
    for (int i = 0; i < nd; i++) {
        signed char *s = split + (size_t)i * N;
        for (int k = 0; k < splits && k < nu; k++) {
            int j;
            do
                j = unst[ibp_rng_below(&rng, (uint64_t)nu)];
            while (s[j]);
            s[j] = ibp_rng_below(&rng, 2) ? 1 : -1;
        }
        ibp_dom_alpha_init(p, alpha + i * rn);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < N; j++)
                beta[i * rn + (size_t)r * N + j] = s[j] ? SPLIT_BETA : 0.0;
    }
    free(unst);
}

enum { ENG_FLOAT, ENG_SOUND, ENG_GRAD, ENG_OPT, ENG_KINDS };

static void bench_engine(const struct instance *in, const struct bench_cfg *c)
{
    struct ibp_error err = {0};
    double t0 = now();
    struct ibp_dom_problem *p = problem(in, 1, c->threads);
    double t_setup = now() - t0;
    int N = ibp_dom_relus(p), rows = in->rows, nd = c->domains, nu = 0;
    for (int j = 0; j < N; j++)
        nu += ibp_dom_unstable(p, j);
    const float *crown = ibp_dom_crown_bounds(p);
    float crown_min = INFINITY;
    for (int r = 0; r < rows; r++)
        crown_min = crown[r] < crown_min ? crown[r] : crown_min;
    printf("  %d ReLUs, %d unstable; %d rows, CROWN's lowest row bound %.4g; sound problem "
           "set-up %.3f s\n", N, nu, rows, crown_min, t_setup);
    size_t rn = (size_t)rows * N, np = (size_t)nd * rn;
    signed char *split = xcalloc((size_t)nd * N, 1);
    double *alpha = xcalloc(np, sizeof(double)), *beta = xcalloc(np, sizeof(double));
    double *a = xcalloc(np, sizeof(double)), *b = xcalloc(np, sizeof(double));
    double *ga = xcalloc(np, sizeof(double)), *gb = xcalloc(np, sizeof(double));
    double *lbf = xcalloc((size_t)nd * rows, sizeof(double));
    double *lbs = xcalloc((size_t)nd * rows, sizeof(double));
    double *lbo = xcalloc((size_t)nd * rows, sizeof(double));
    make_batch(p, nd, c->splits, split, alpha, beta);
    struct ibp_dom_grad g = {ga, gb, NULL, NULL};
    struct ibp_opt_config oc = ibp_beta_crown_config(c->steps);
    oc.patience = c->steps + 1;
    double best[ENG_KINDS];
    for (int k = 0; k < ENG_KINDS; k++)
        best[k] = INFINITY;
    /* one untimed call of each: the first touches the scratch pages */
    if (ibp_dom_bound(p, nd, split, alpha, beta, 0, lbf, &g, &err) ||
        ibp_dom_bound(p, nd, split, alpha, beta, 1, lbs, NULL, &err))
        die("ibp_dom_bound", &err);
    for (int rep = 0; rep < c->reps; rep++)
        for (int q = 0; q < ENG_KINDS; q++) {
            int k = rep % 2 ? ENG_KINDS - 1 - q : q;
            memcpy(a, alpha, np * sizeof(double));
            memcpy(b, beta, np * sizeof(double));
            double t = now();
            enum ibp_status st = IBP_OK;
            if (k == ENG_OPT)
                st = ibp_dom_optimize(p, nd, split, a, b, &oc, lbo, &err);
            for (int i = 0; k != ENG_OPT && st == IBP_OK && i < c->calls; i++)
                st = ibp_dom_bound(p, nd, split, a, b, k == ENG_SOUND,
                                   k == ENG_SOUND ? lbs : lbf, k == ENG_GRAD ? &g : NULL, &err);
            t = now() - t;
            if (st != IBP_OK)
                die("domain bounds", &err);
            best[k] = t < best[k] ? t : best[k];
        }
    /* sanity: the sound bound never exceeds the float one; the optimiser only raises */
    if (ibp_dom_bound(p, nd, split, alpha, beta, 0, lbf, NULL, &err))
        die("ibp_dom_bound", &err);
    double gap = 0.0, rise = INFINITY;
    int pos_f = 0, pos_s = 0, pos_o = 0;
    for (int i = 0; i < nd * rows; i++) {
        gap = fmax(gap, lbf[i] - lbs[i]);
        rise = fmin(rise, lbo[i] - lbf[i]);
        pos_f += lbf[i] > 0.0;
        pos_s += lbs[i] > 0.0;
        pos_o += lbo[i] > 0.0;
        if (lbs[i] > lbf[i]) {
            fprintf(stderr, "bench_bab: sound bound %.17g above the float one %.17g\n",
                    lbs[i], lbf[i]);
            exit(1);
        }
    }
    double work = (double)nd * c->calls;
    printf("  engine: %d domains x %d splits, %d calls per timing\n", nd, c->splits, c->calls);
    printf("    %-30s %10s %12s\n", "ibp_dom_bound", "seconds", "domains/s");
    printf("    %-30s %10.4f %12.1f\n", "float (sound 0)", best[ENG_FLOAT], work / best[ENG_FLOAT]);
    printf("    %-30s %10.4f %12.1f\n", "sound (sound 1)", best[ENG_SOUND], work / best[ENG_SOUND]);
    printf("    %-30s %10.4f %12.1f\n", "float with alpha/beta gradients", best[ENG_GRAD],
           work / best[ENG_GRAD]);
    printf("    sound/float time ratio %.2f; largest float - sound gap %.3g; rows > 0: float "
           "%d, sound %d of %d\n", best[ENG_SOUND] / best[ENG_FLOAT], gap, pos_f, pos_s,
           nd * rows);
    printf("    ibp_dom_optimize, %d steps: %.4f s, %.1f domains/s (%.1f bound calls with "
           "gradients/s); rows > 0 after %d, least rise %.3g\n", c->steps, best[ENG_OPT],
           nd / best[ENG_OPT], nd * (c->steps + 1.0) / best[ENG_OPT], pos_o, rise);
    printf("RESULT %s engine float_dom_s=%.1f sound_dom_s=%.1f grad_dom_s=%.1f "
           "opt_dom_s=%.1f sound_ratio=%.3f\n", in->title, work / best[ENG_FLOAT],
           work / best[ENG_SOUND], work / best[ENG_GRAD], nd / best[ENG_OPT],
           best[ENG_SOUND] / best[ENG_FLOAT]);
    free(split);
    free(alpha);
    free(beta);
    free(a);
    free(b);
    free(ga);
    free(gb);
    free(lbf);
    free(lbs);
    free(lbo);
    ibp_dom_problem_free(p);
}

static const char *verdict_name(enum ibp_bab_verdict v)
{
    return v == IBP_BAB_UNSAT ? "unsat" : v == IBP_BAB_SAT ? "sat" : "unknown";
}

static void bench_bab(const struct instance *in, const struct bench_cfg *c)
{
    struct ibp_bab_result best[2], r;
    double tbest[2] = {INFINITY, INFINITY};
    float *cex = xcalloc(ibp_shape_size(in->net->input), sizeof(float));
    for (int rep = 0; rep < c->reps; rep++)
        for (int q = 0; q < 2; q++) {
            int sound = rep % 2 ? 1 - q : q;
            struct ibp_bab_config bc = ibp_bab_config_default();
            bc.timeout_s = BAB_TIMEOUT_S;
            bc.max_domains = (long)c->bab_cap;
            bc.sound = sound;
            bc.threads = c->threads;
            struct ibp_error err = {0};
            if (ibp_bab_run(in->net, in->lo, in->hi, in->C, in->d, in->rows, &bc, cex, &r, &err))
                die("ibp_bab_run", &err);
            if (r.reason == IBP_BAB_TIME) {
                fprintf(stderr, "bench_bab: the time limit stopped branch and bound: no figure\n");
                exit(1);
            }
            if (rep > 0 && (r.domains != best[sound].domains || r.verdict != best[sound].verdict)) {
                fprintf(stderr, "bench_bab: branch and bound is not deterministic (%ld then %ld "
                        "domains): no figure\n", best[sound].domains, r.domains);
                exit(1);
            }
            if (r.seconds < tbest[sound]) {
                tbest[sound] = r.seconds;
                best[sound] = r;
            }
        }
    printf("  BaB: open-domain cap %lld, batch 16, 20 alpha/beta steps\n", (long long)c->bab_cap);
    printf("    %-6s %-8s %-12s %9s %6s %10s %12s %11s\n", "mode", "verdict", "stopped by",
           "domains", "depth", "seconds", "domains/s", "worst lb");
    for (int s = 0; s < 2; s++) {
        const struct ibp_bab_result *b = &best[s];
        printf("    %-6s %-8s %-12s %9ld %6d %10.3f %12.1f %11.4g\n", s ? "sound" : "float",
               verdict_name(b->verdict),
               b->reason == IBP_BAB_DECIDED ? "decided" : ibp_bab_reason_name(b->reason),
               b->domains, b->max_depth, b->seconds, b->domains / b->seconds, b->worst_lb);
    }
    double per_f = best[0].seconds / best[0].domains, per_s = best[1].seconds / best[1].domains;
    printf("    sound/float time per domain %.2f\n", per_s / per_f);
    printf("RESULT %s bab float_dom_s=%.1f sound_dom_s=%.1f sound_ratio=%.3f\n", in->title,
           1.0 / per_f, 1.0 / per_s, per_s / per_f);
    free(cex);
}

static int want(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *s = list; (s = strstr(s, name)) != NULL; s += n)
        if ((s == list || s[-1] == ',') && (s[n] == ',' || s[n] == '\0'))
            return 1;
    return 0;
}

static void run_parts(const struct instance *in, const struct bench_cfg *c)
{
    if (want(c->parts, "engine"))
        bench_engine(in, c);
    if (want(c->parts, "bab"))
        bench_bab(in, c);
}

int main(int argc, char **argv)
{
    struct bench_cfg c = {"fc,conv", "engine,bab", IBP_BENCH_DATA, "vnnlib/prop_3_0.05.vnnlib.gz",
                          omp_get_max_threads(), 3, 20, 32, 8, 20, 2, 400};
    const struct ibp_opt opts[] = {
        {.kind = IBP_OPT_STRING, .name = "--nets", .arg = "LIST", .dest = &c.nets,
         .help = "fc (mnist_fc 256x4), conv (convSmallRELU__Point)"},
        {.kind = IBP_OPT_STRING, .name = "--parts", .arg = "LIST", .dest = &c.parts,
         .help = "engine (ibp_dom_bound, ibp_dom_optimize), bab (ibp_bab_run)"},
        {.kind = IBP_OPT_STRING, .name = "--data", .arg = "DIR", .dest = &c.data,
         .help = "the shared data folder"},
        {.kind = IBP_OPT_STRING, .name = "--fc-property", .arg = "FILE", .dest = &c.fc_property,
         .help = "the mnist_fc property, relative to vnncomp2022/mnist_fc"},
        {.kind = IBP_OPT_INT, .name = "--conv-image", .arg = "N", .dest = &c.conv_image,
         .lo = 0, .hi = 99, .help = "the mnist_test.csv image of the convSmall box"},
        {.kind = IBP_OPT_INT, .name = "--threads", .arg = "N", .dest = &c.threads, .lo = 1,
         .hi = 1024, .help = "threads (default: OMP_NUM_THREADS or the cores)", .def = ""},
        {.kind = IBP_OPT_INT, .name = "--reps", .arg = "N", .dest = &c.reps, .lo = 1,
         .hi = 1000, .help = "repetitions; each figure is the best"},
        {.kind = IBP_OPT_INT, .name = "--calls", .arg = "N", .dest = &c.calls, .lo = 1,
         .hi = 1000000, .help = "ibp_dom_bound calls per engine timing"},
        {.kind = IBP_OPT_INT, .name = "--domains", .arg = "N", .dest = &c.domains, .lo = 1,
         .hi = 4096, .help = "split domains in the engine batch"},
        {.kind = IBP_OPT_INT, .name = "--splits", .arg = "N", .dest = &c.splits, .lo = 0,
         .hi = 1000000, .help = "split neurons per engine domain"},
        {.kind = IBP_OPT_INT, .name = "--steps", .arg = "N", .dest = &c.steps, .lo = 0,
         .hi = 100000, .help = "ibp_dom_optimize steps"},
        {.kind = IBP_OPT_INT64, .name = "--bab-cap", .arg = "N", .dest = &c.bab_cap, .lo = 1,
         .hi = 100000000, .help = "branch and bound's open-domain cap"},
    };
    const int n_opts = (int)(sizeof opts / sizeof opts[0]);
    int code = bench_parse_options("bench_bab", opts, n_opts, argc, argv);
    if (code >= 0)
        return code;
    if (!(want(c.nets, "fc") || want(c.nets, "conv")) ||
        !(want(c.parts, "engine") || want(c.parts, "bab"))) {
        fprintf(stderr, "bench_bab: --nets takes fc and/or conv, --parts engine and/or bab\n");
        return 2;
    }
    struct stat sb;
    if (stat(c.data, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        printf("bench_bab: no data folder %s: skipped\n", c.data);
        return 77;
    }
    ibp_blas_setup();
    omp_set_num_threads(c.threads);
    char cpu[256];
    cpu_name(cpu, sizeof cpu);
    printf("CPU: %s (%s); BLIS kernels %s; %d threads; best of %d; load average %.2f\n",
           cpu, isa_name(ibp_cpu_isa()), ibp_blas_arch(), c.threads, c.reps, load_average());
    struct instance in = {0};
    if (want(c.nets, "fc")) {
        in.title = "mnist_fc_256x4";
        load_fc(c.data, c.fc_property, &in);
        printf("\nmnist_fc 256x4, %s\n", c.fc_property);
        run_parts(&in, &c);
        instance_free(&in);
    }
    if (want(c.nets, "conv")) {
        memset(&in, 0, sizeof in);
        in.title = "convSmallRELU__Point";
        load_conv(c.data, c.conv_image, &in);
        printf("\nconvSmallRELU__Point, mnist_test.csv image %d, eps %.2f\n", c.conv_image, CONV_EPS);
        run_parts(&in, &c);
        instance_free(&in);
    }
    return 0;
}
