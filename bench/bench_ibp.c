/* bench_ibp — images/second of an IBP training step (fused clean + IBP forward with
 * margins folded, robust-CE loss, backward through the IBP pass and the BN batch
 * statistics, gradient clipping, Adam, running-stat update) and of IBP evaluation
 * bounds, at batch 128 on Fashion-MNIST-shaped input (1x28x28, eps 0.1), for cnn-small
 * (with BN) and cnn7 (one input channel). Also prints BLIS's sgemm rate at each layer's
 * forward GEMM shape through the same blocked wrapper (the im2col product; layers that
 * run as Winograd F(4x4, 3x3) do about a quarter of those multiplications), the time per
 * layer, and the workspace size and peak resident memory.
 *
 * usage: bench_ibp [--models cnn-small,cnn7] [--batch 128] [--reps N] */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench/bench_options.h"
#include "nets/base/options.h"
#include "nets/kernels/gemm.h"
#include "nets/graph/init.h"
#include "nets/passes/passes.h"
#include "nets/graph/zoo.h"
#include "trainer/loss.h"
#include "trainer/optim.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double gemm_rate(long m, long n, long k, int threads)
{
    float *a = calloc((size_t)m * k, sizeof(float)), *b = calloc((size_t)k * n, sizeof(float)),
          *c = calloc((size_t)m * n, sizeof(float));
    for (long i = 0; i < m * k; i++)
        a[i] = (float)(i % 7) * 0.1f;
    for (long i = 0; i < k * n; i++)
        b[i] = (float)(i % 5) * 0.1f;
    ibp_sgemm(0, 1, m, n, k, 1.0f, a, k, b, k, 0.0f, c, n, threads);
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        double t0 = omp_get_wtime();
        ibp_sgemm(0, 1, m, n, k, 1.0f, a, k, b, k, 0.0f, c, n, threads);
        double t = omp_get_wtime() - t0;
        best = t < best ? t : best;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * m * n * k / best * 1e-9;
}

static void die(const struct ibp_error *err)
{
    fprintf(stderr, "bench_ibp: %s\n", err->msg);
    exit(1);
}

static void bench_model(const char *name, int batch, int reps)
{
    struct ibp_error err;
    struct ibp_net *net;
    struct ibp_shape in = {1, 28, 28};
    if (ibp_zoo_create(name, in, 10, NULL, NULL, NULL, &net, &err))
        die(&err);
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 1, 0);
    if (ibp_net_init(net, IBP_INIT_IBP, &rng, &err))
        die(&err);
    size_t nin = (size_t)batch * 784;
    float *x = malloc(nin * sizeof(float)), *lo = malloc(nin * sizeof(float)),
          *hi = malloc(nin * sizeof(float));
    int *labels = malloc((size_t)batch * sizeof(int));
    for (size_t i = 0; i < nin; i++) {
        x[i] = (float)ibp_rng_uniform(&rng);
        lo[i] = x[i] - 0.1f < 0.0f ? 0.0f : x[i] - 0.1f;
        hi[i] = x[i] + 0.1f > 1.0f ? 1.0f : x[i] + 0.1f;
    }
    for (int b = 0; b < batch; b++)
        labels[b] = (int)ibp_rng_below(&rng, 10);
    struct ibp_workspace *ws;
    if (ibp_ws_create(net, batch, IBP_WS_CLEAN | IBP_WS_BOUNDS | IBP_WS_GRAD, &ws, &err))
        die(&err);
    struct ibp_optim *opt;
    struct ibp_optim_config oc = ibp_optim_adam_defaults();
    if (ibp_optim_create(&oc, net->n_params, &opt, &err))
        die(&err);
    float *grad = malloc(net->n_params * sizeof(float));
    float *lb = malloc((size_t)batch * 9 * sizeof(float)), *glb = malloc((size_t)batch * 9 * sizeof(float));
    struct ibp_spec spec = {.labels = labels};
    double *t_train = malloc((size_t)reps * sizeof(double)), *t_eval = malloc((size_t)reps * sizeof(double));
    for (int r = -1; r < reps; r++) {
        if (r == 0)
            ibp_ws_profile(ws, 1);
        double t0 = omp_get_wtime();
        if (ibp_pass_train(net, ws, x, lo, hi, batch, &spec, NULL, lb, &err))
            die(&err);
        ibp_robust_ce(lb, batch, 9, glb);
        if (ibp_pass_backward(net, ws, NULL, glb, grad, &err))
            die(&err);
        ibp_grad_clip(grad, net->n_params, 10.0, ibp_ws_threads(ws));
        ibp_optim_step(opt, net->params, grad, 1e-6, ibp_ws_threads(ws));
        ibp_bn_update_running(net, ws, 0.1f);
        if (r >= 0)
            t_train[r] = omp_get_wtime() - t0;
    }
    double layer_f[64] = {0}, layer_b[64] = {0};
    for (int k = 0; k < net->n_layers && k < 64; k++)
        ibp_ws_layer_seconds(ws, k, &layer_f[k], &layer_b[k]);
    ibp_ws_profile(ws, 0);
    for (int r = -1; r < reps; r++) {
        if (r == 0)
            ibp_ws_profile(ws, 1);
        double t0 = omp_get_wtime();
        if (ibp_pass_bounds(net, ws, lo, hi, batch, &spec, IBP_BN_EVAL, lb, NULL, &err))
            die(&err);
        if (r >= 0)
            t_eval[r] = omp_get_wtime() - t0;
    }
    double layer_e[64] = {0}, unused;
    for (int k = 0; k < net->n_layers && k < 64; k++)
        ibp_ws_layer_seconds(ws, k, &layer_e[k], &unused);
    ibp_ws_profile(ws, 0);
    qsort(t_train, (size_t)reps, sizeof(double), cmp_double);
    qsort(t_eval, (size_t)reps, sizeof(double), cmp_double);
    /* FLOPs of the GEMMs: forward 3 streams (clean, centre, radius), backward 2 GEMMs each */
    double macs = 0;
    int threads = omp_get_max_threads();
    printf("\n%s (%zu parameters), batch %d, %d threads, BLIS kernels %s\n", name, net->n_params,
           batch, threads, ibp_blas_arch());
    printf("  %-28s %10s %10s %10s %10s\n", "layer", "fwd ms", "bwd ms", "eval ms", "BLIS GF/s");
    for (int k = 0; k < net->n_layers; k++) {
        const struct ibp_layer_spec *l = &net->layers[k];
        char what[64];
        struct ibp_shape o = net->shapes[k + 1], i = net->shapes[l->in[0]];
        double rate = 0;
        if (l->kind == IBP_LAYER_CONV2D || l->kind == IBP_LAYER_LINEAR) {
            long M = (long)batch * o.h * o.w, N = o.c, K = l->kind == IBP_LAYER_LINEAR
                                                         ? i.c
                                                         : (long)l->kh * l->kw * i.c / l->groups;
            macs += (double)M * N * K;
            rate = gemm_rate(2 * M, N, K, threads);
            snprintf(what, sizeof what, "%d %s %dx%dx%d", k, ibp_layer_kind_name(l->kind), o.c, o.h, o.w);
        } else {
            snprintf(what, sizeof what, "%d %s", k, ibp_layer_kind_name(l->kind));
        }
        printf("  %-28s %10.2f %10.2f %10.2f", what, 1e3 * layer_f[k] / reps,
               1e3 * layer_b[k] / reps, 1e3 * layer_e[k] / reps);
        if (rate > 0)
            printf(" %10.1f", rate);
        printf("\n");
    }
    double step_flop = 9.0 * 2.0 * macs; /* 3 GEMMs forward + 6 backward */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    /* FLOPs of the direct (im2col) products: Winograd layers compute fewer, so the rate
     * can exceed BLIS's at their shapes */
    printf("  train step: best %.1f ms -> %.1f img/s (median %.1f img/s), %.1f GFLOP/s "
           "(direct-convolution FLOPs)\n",
           1e3 * t_train[0], batch / t_train[0], batch / t_train[reps / 2],
           step_flop / t_train[0] * 1e-9);
    printf("  eval bounds: best %.1f ms -> %.1f img/s (median %.1f img/s)\n", 1e3 * t_eval[0],
           batch / t_eval[0], batch / t_eval[reps / 2]);
    printf("  workspace %.1f MiB, peak resident %.1f MiB\n", ibp_ws_bytes(ws) / 1048576.0,
           ru.ru_maxrss / 1024.0);
    printf("RESULT %s train_img_s=%.1f eval_img_s=%.1f\n", name, batch / t_train[0], batch / t_eval[0]);
    free(t_train);
    free(t_eval);
    free(grad);
    free(lb);
    free(glb);
    free(x);
    free(lo);
    free(hi);
    free(labels);
    ibp_optim_free(opt);
    ibp_ws_free(ws);
    ibp_net_free(net);
}

int main(int argc, char **argv)
{
    const char *models = "cnn-small,cnn7";
    int batch = 128, reps = 0;
    const struct ibp_opt opts[] = {
        {.kind = IBP_OPT_STRING, .name = "--models", .arg = "A,B", .dest = &models,
         .help = "zoo models to time"},
        {.kind = IBP_OPT_INT, .name = "--batch", .arg = "N", .dest = &batch, .lo = 1,
         .hi = 65536, .help = "batch size"},
        {.kind = IBP_OPT_INT, .name = "--reps", .arg = "N", .dest = &reps, .lo = 0,
         .hi = 1000000, .help = "timed steps per model, 0 = 20 (cnn7: 5)"},
    };
    const int n_opts = (int)(sizeof opts / sizeof opts[0]);
    int code = bench_parse_options("bench_ibp", opts, n_opts, argc, argv);
    if (code >= 0)
        return code;
    ibp_blas_setup();
    char buf[256];
    snprintf(buf, sizeof buf, "%s", models);
    for (char *m = strtok(buf, ","); m; m = strtok(NULL, ",")) {
        int r = reps ? reps : (strcmp(m, "cnn7") == 0 ? 5 : 20);
        bench_model(m, batch, r);
    }
    return 0;
}
