/* bench_bounds — images/s of the bound methods (nets/bounds/bounds.h): IBP and CROWN-IBP at
 * batch 128, CROWN at batch 32 (auto_LiRPA's reference batch), float and sound mode,
 * on cnn-small with BatchNorm (Fashion-MNIST shape 1x28x28, eps 0.1, IBP
 * initialisation), and IBP on cnn7 with one input channel; the sound-mode cost ratio;
 * the fraction of margins each method certifies (lb > 0) on the random boxes, as a
 * sanity figure. Steady state: one untimed run first. Threads: OMP_NUM_THREADS.
 * Reference figures: hand-written PyTorch IBP 36,988 img/s (cnn-small), 465 (cnn7);
 * auto_LiRPA CROWN on cnn-small 24 img/s at batch 32. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nets/bounds/bounds.h"
#include "nets/kernels/gemm.h"
#include "nets/graph/init.h"
#include "nets/graph/zoo.h"

enum { BATCH = 128, CROWN_BATCH = 32 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static struct ibp_net *make(const char *name, struct ibp_shape in)
{
    struct ibp_net *net;
    struct ibp_error err;
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 100, 0);
    if (ibp_zoo_create(name, in, 10, NULL, NULL, NULL, &net, &err) ||
        ibp_net_init(net, IBP_INIT_IBP, &rng, &err)) {
        fprintf(stderr, "bench_bounds: %s\n", err.msg);
        exit(1);
    }
    return net;
}

/* images/s of one method at batch `batch` (<= BATCH) over >= min_s seconds;
 * *margin_pos = share of lb > 0 */
static double rate(const struct ibp_net *net, enum ibp_bound_method m, int sound, int batch,
                   const float *lo, const float *hi, const int *labels, double min_s,
                   double *margin_pos, size_t *bytes)
{
    struct ibp_bounder_config cfg = {m, sound, batch, 9};
    struct ibp_bounder *b;
    struct ibp_error err;
    if (ibp_bounder_create(net, &cfg, &b, &err)) {
        fprintf(stderr, "bench_bounds: %s\n", err.msg);
        exit(1);
    }
    *bytes = ibp_bounder_bytes(b);
    float *lb = malloc(sizeof(float) * (size_t)batch * 9);
    struct ibp_spec spec = {.labels = labels};
    /* one untimed run: the first touches the bounder's pages */
    if (ibp_bounder_run(net, b, lo, hi, batch, &spec, lb, &err)) {
        fprintf(stderr, "bench_bounds: %s\n", err.msg);
        exit(1);
    }
    int runs = 0;
    double t0 = now(), t;
    do {
        if (ibp_bounder_run(net, b, lo, hi, batch, &spec, lb, &err)) {
            fprintf(stderr, "bench_bounds: %s\n", err.msg);
            exit(1);
        }
        runs++;
        t = now() - t0;
    } while (t < min_s);
    int pos = 0;
    for (int i = 0; i < batch * 9; i++)
        pos += lb[i] > 0.0f;
    *margin_pos = (double)pos / (batch * 9);
    free(lb);
    ibp_bounder_free(b);
    return runs * (double)batch / t;
}

static void boxes(const struct ibp_net *net, float eps, float **lo, float **hi, int *labels)
{
    size_t n = BATCH * ibp_shape_size(net->input);
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 7, 0);
    *lo = malloc(sizeof(float) * n);
    *hi = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) {
        float x = (float)ibp_rng_uniform(&rng);
        (*lo)[i] = x - eps < 0.0f ? 0.0f : x - eps;
        (*hi)[i] = x + eps > 1.0f ? 1.0f : x + eps;
    }
    for (int i = 0; i < BATCH; i++)
        labels[i] = (int)ibp_rng_below(&rng, 10);
}

/* argv[1] (optional): methods to run, a subset of "icC" (IBP, CROWN-IBP, CROWN);
 * argv[2] (optional): "f" to skip sound mode. The cnn7 line runs with IBP only. */
int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "icC";
    int with_sound = !(argc > 2 && argv[2][0] == 'f');
    printf("BLIS: %s\n", ibp_blas_setup());
    static const char *names[] = {"IBP", "CROWN-IBP", "CROWN"};
    struct ibp_net *net = make("cnn-small", (struct ibp_shape){1, 28, 28});
    float *lo, *hi;
    int labels[BATCH];
    boxes(net, 0.1f, &lo, &hi, labels);
    printf("cnn-small+BN, 1x28x28, eps 0.1 (untrained, IBP init)\n");
    printf("%-10s %6s %12s %12s %8s %10s %10s\n", "method", "batch", "float img/s",
           "sound img/s", "ratio", "lb>0 f/s", "MiB f/s");
    for (int m = 0; m < 3; m++) {
        if (!strchr(which, "icC"[m]))
            continue;
        double pf, ps = 0, rs = 0;
        size_t bf, bs = 0;
        double min_s = m == 2 ? 2.0 : 1.0;
        int batch = m == 2 ? CROWN_BATCH : BATCH;
        double rf = rate(net, (enum ibp_bound_method)m, 0, batch, lo, hi, labels, min_s, &pf,
                         &bf);
        if (with_sound)
            rs = rate(net, (enum ibp_bound_method)m, 1, batch, lo, hi, labels, min_s, &ps, &bs);
        printf("%-10s %6d %12.1f %12.1f %8.2f %4.2f/%4.2f %4.0f/%4.0f\n", names[m], batch, rf,
               rs, rs > 0 ? rf / rs : 0.0, pf, ps, (double)bf / (1 << 20),
               (double)bs / (1 << 20));
    }
    printf("reference: PyTorch IBP 36988 img/s; auto_LiRPA CROWN 24 img/s (batch 32)\n");
    free(lo);
    free(hi);
    ibp_net_free(net);
    if (!strchr(which, 'i'))
        return 0;

    net = make("cnn7", (struct ibp_shape){1, 28, 28});
    boxes(net, 0.1f, &lo, &hi, labels);
    double p;
    size_t by;
    double rf = rate(net, IBP_BOUND_IBP, 0, BATCH, lo, hi, labels, 2.0, &p, &by);
    double rs = rate(net, IBP_BOUND_IBP, 1, BATCH, lo, hi, labels, 2.0, &p, &by);
    printf("cnn7 (64 ch, 1x28x28) IBP: float %.0f img/s, sound %.0f img/s (ratio %.2f); "
           "reference PyTorch 465 img/s\n", rf, rs, rf / rs);
    free(lo);
    free(hi);
    ibp_net_free(net);
    return 0;
}
