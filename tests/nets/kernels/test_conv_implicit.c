/* Implicit-GEMM convolutions (nets/kernels/conv_implicit.c): forward (bias or none, out
 * pre-filled with garbage), input gradient and weight gradient (both added to random
 * starting values) against a double-precision direct convolution on random NHWC data,
 * for the AVX-512, AVX2+FMA (where the CPU has them: AVX-512 and AVX2 must agree bit for
 * bit) and portable kernels; the error of each element relative to its sum of
 * |products|; results bit-identical for 1 and 3 threads. Geometries: cnn-small's and
 * cnn7's stride-2 4x4 convolutions, strides 1 and 2
 * (also different per axis), padding 0 to 2 (also larger than a 1x1 kernel), kh != kw,
 * non-square inputs, inputs with rows and columns no output reads, Co 8 to 128 (not
 * multiples of 16 or 6), C 1 to 64, one sample, partial tiles and several chunks. The
 * scratch is filled with NaN first: nothing may depend on its contents. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nets/kernels/conv_implicit.h"
#include "tests/common/check.h"
#include "tests/common/fixture.h"

/* relative error allowed against the sum of |products| of an element */
#define TOL 1e-5

static double worst[3];

struct outputs {
    float *y, *gin, *dwp;
};

/* forward, input gradient and weight gradient on copies of the starting gin and dwp */
static struct outputs run_module(const struct ibp_conv_geom *g, const float *x,
                                 const float *wp, const float *bias, const float *gy,
                                 const float *gin0, const float *dwp0, int ns, int threads)
{
    size_t nin = (size_t)ns * g->H * g->W * g->C, nout = (size_t)ns * g->Ho * g->Wo * g->Co;
    size_t nw = (size_t)g->Co * g->kh * g->kw * g->C;
    size_t npk = ibp_conv_implicit_packed_floats(g), nsc = ibp_conv_implicit_scratch_floats(g, ns);
    float *packed = malloc(npk * sizeof(float)), *scratch = malloc(nsc * sizeof(float));
    for (size_t i = 0; i < nsc; i++)
        scratch[i] = NAN;
    struct outputs o = {malloc(nout * sizeof(float)), fixture_copy_floats(gin0, nin),
                        fixture_copy_floats(dwp0, nw)};
    for (size_t i = 0; i < nout; i++)
        o.y[i] = 1e30f;
    ibp_conv_implicit_pack(g, wp, packed);
    ibp_conv_implicit_forward(g, x, o.y, ns, packed, bias, scratch, threads);
    ibp_conv_implicit_input_grad(g, gy, o.gin, ns, packed, scratch, threads);
    ibp_conv_implicit_weight_grad(g, x, gy, ns, o.dwp, scratch, threads);
    free(packed);
    free(scratch);
    return o;
}

static void outputs_free(struct outputs *o)
{
    free(o->y);
    free(o->gin);
    free(o->dwp);
}

struct ref {
    double *y, *ys, *gin, *gins, *dw, *dws; /* values and sums of |products| */
};

/* the direct convolution in double: y = conv(x) + bias, gin = conv^T(gy), dw */
static struct ref reference(const struct ibp_conv_geom *g, const float *x, const float *wp,
                            const float *bias, const float *gy, int ns)
{
    size_t nin = (size_t)ns * g->H * g->W * g->C, nout = (size_t)ns * g->Ho * g->Wo * g->Co;
    size_t nw = (size_t)g->Co * g->kh * g->kw * g->C;
    struct ref r = {calloc(nout, sizeof(double)), calloc(nout, sizeof(double)),
                    calloc(nin, sizeof(double)), calloc(nin, sizeof(double)),
                    calloc(nw, sizeof(double)), calloc(nw, sizeof(double))};
    for (int n = 0; n < ns; n++)
        for (int oh = 0; oh < g->Ho; oh++)
            for (int ow = 0; ow < g->Wo; ow++)
                for (int oc = 0; oc < g->Co; oc++) {
                    size_t yi = (((size_t)n * g->Ho + oh) * g->Wo + ow) * g->Co + oc;
                    double acc = bias ? bias[oc] : 0.0, scale = fabs(acc), gv = gy[yi];
                    for (int i = 0; i < g->kh; i++)
                        for (int j = 0; j < g->kw; j++) {
                            int ih = oh * g->sh + i - g->ph, iw = ow * g->sw + j - g->pw;
                            if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W)
                                continue;
                            size_t xo = (((size_t)n * g->H + ih) * g->W + iw) * g->C;
                            size_t wo = (((size_t)oc * g->kh + i) * g->kw + j) * g->C;
                            for (int c = 0; c < g->C; c++) {
                                double xv = x[xo + c], wv = wp[wo + c];
                                acc += xv * wv;
                                scale += fabs(xv * wv);
                                r.gin[xo + c] += gv * wv;
                                r.gins[xo + c] += fabs(gv * wv);
                                r.dw[wo + c] += gv * xv;
                                r.dws[wo + c] += fabs(gv * xv);
                            }
                        }
                    r.y[yi] = acc;
                    r.ys[yi] = scale;
                }
    return r;
}

static void ref_free(struct ref *r)
{
    free(r->y);
    free(r->ys);
    free(r->gin);
    free(r->gins);
    free(r->dw);
    free(r->dws);
}

static void check_geom(int C, int H, int W, int Co, int kh, int kw, int sh, int sw, int ph,
                       int pw, int ns, int with_bias)
{
    struct ibp_conv_geom g = {.H = H, .W = W, .C = C, .Ho = (H + 2 * ph - kh) / sh + 1,
                              .Wo = (W + 2 * pw - kw) / sw + 1, .Co = Co, .kh = kh, .kw = kw,
                              .sh = sh, .sw = sw, .ph = ph, .pw = pw, .dh = 1, .dw = 1,
                              .groups = 1, .cg = C, .og = Co, .K = (long)kh * kw * C};
    char name[160];
    snprintf(name, sizeof name, "%dx%dx%d -> %dx%dx%d, %dx%d stride %dx%d pad %dx%d, %d samples%s",
             H, W, C, g.Ho, g.Wo, Co, kh, kw, sh, sw, ph, pw, ns, with_bias ? ", bias" : "");
    size_t nin = (size_t)ns * H * W * C, nout = (size_t)ns * g.Ho * g.Wo * Co;
    size_t nw = (size_t)Co * kh * kw * C;
    unsigned seed = (unsigned)(C * 7919 + Co * 131 + H * 17 + W * 3 + kh * 5 + sh + ph * 11);
    float *x = fixture_random_floats(nin, &seed), *wp = fixture_random_floats(nw, &seed);
    float *bias = with_bias ? fixture_random_floats((size_t)Co, &seed) : NULL;
    float *gy = fixture_random_floats(nout, &seed), *gin0 = fixture_random_floats(nin, &seed);
    float *dwp0 = fixture_random_floats(nw, &seed);
    struct ref r = reference(&g, x, wp, bias, gy, ns);
    static const char *const paths[] = {"fastest", "avx2", "portable"};
    static const enum ibp_isa limits[] = {IBP_ISA_BEST, IBP_ISA_AVX2, IBP_ISA_PORTABLE};
    struct outputs fastest = {0};
    for (int kernels = 0; kernels < 3; kernels++) {
        g.isa = limits[kernels];
        const char *path = paths[kernels];
        struct outputs o3 = run_module(&g, x, wp, bias, gy, gin0, dwp0, ns, 3);
        struct outputs o1 = run_module(&g, x, wp, bias, gy, gin0, dwp0, ns, 1);
        CHECK_MSG(memcmp(o3.y, o1.y, nout * sizeof(float)) == 0 &&
                      memcmp(o3.gin, o1.gin, nin * sizeof(float)) == 0 &&
                      memcmp(o3.dwp, o1.dwp, nw * sizeof(float)) == 0,
                  "%s (%s): 1 and 3 threads differ", name, path);
        /* the AVX-512 kernels (other tile sizes) and the AVX2 ones: the same fused
         * chains, so the same bits (both fall back to the portable set without FMA) */
        if (limits[kernels] == IBP_ISA_AVX2)
            CHECK_MSG(memcmp(o3.y, fastest.y, nout * sizeof(float)) == 0 &&
                          memcmp(o3.gin, fastest.gin, nin * sizeof(float)) == 0 &&
                          memcmp(o3.dwp, fastest.dwp, nw * sizeof(float)) == 0,
                      "%s: fastest and AVX2 kernels differ", name);
        double e[3] = {0.0, 0.0, 0.0};
        for (size_t i = 0; i < nout; i++)
            fixture_track_error(o3.y[i], r.y[i], r.ys[i], &e[0]);
        for (size_t i = 0; i < nin; i++)
            fixture_track_error(o3.gin[i], gin0[i] + r.gin[i], fabs(gin0[i]) + r.gins[i], &e[1]);
        for (size_t i = 0; i < nw; i++)
            fixture_track_error(o3.dwp[i], dwp0[i] + r.dw[i], fabs(dwp0[i]) + r.dws[i], &e[2]);
        printf("%s (%s): max relative error forward %.3g, input grad %.3g, weight grad %.3g\n",
               name, path, e[0], e[1], e[2]);
        CHECK_MSG(e[0] <= TOL, "%s (%s): forward error %.3g", name, path, e[0]);
        CHECK_MSG(e[1] <= TOL, "%s (%s): input gradient error %.3g", name, path, e[1]);
        CHECK_MSG(e[2] <= TOL, "%s (%s): weight gradient error %.3g", name, path, e[2]);
        for (int k = 0; k < 3; k++)
            worst[k] = fmax(worst[k], e[k]);
        if (limits[kernels] == IBP_ISA_BEST)
            fastest = o3;
        else
            outputs_free(&o3);
        outputs_free(&o1);
    }
    outputs_free(&fastest);
    ref_free(&r);
    free(x);
    free(wp);
    free(bias);
    free(gy);
    free(gin0);
    free(dwp0);
}

/* chunks: at least one sample, never more than ns, nondecreasing in ns; the scratch for
 * ns samples covers one chunk of padded samples */
static void test_chunks(void)
{
    struct ibp_conv_geom g = {.H = 28, .W = 28, .C = 64, .Ho = 14, .Wo = 14, .Co = 128,
                              .kh = 4, .kw = 4, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .dh = 1,
                              .dw = 1, .groups = 1, .cg = 64, .og = 128, .K = 4 * 4 * 64};
    int last = 0, ok = 1;
    for (int ns = 1; ns <= 300; ns++) {
        int c = ibp_conv_implicit_chunk(&g, ns);
        ok = ok && c >= 1 && c <= ns && c >= last;
        ok = ok && ibp_conv_implicit_scratch_floats(&g, ns) >= (size_t)c * 30 * 30 * 64;
        last = c;
    }
    CHECK_MSG(ok, "chunk sizes");
}

int main(void)
{
    test_chunks();
    check_geom(16, 14, 14, 32, 4, 4, 2, 2, 1, 1, 3, 1);  /* cnn-small conv 2 */
    check_geom(64, 28, 28, 128, 4, 4, 2, 2, 1, 1, 6, 0); /* cnn7 stride 2: two chunks */
    check_geom(1, 28, 28, 16, 4, 4, 2, 2, 1, 1, 2, 1);   /* cnn-small conv 1, grey */
    check_geom(3, 9, 11, 20, 3, 3, 1, 1, 1, 1, 2, 1);
    check_geom(1, 8, 7, 8, 3, 2, 1, 1, 0, 0, 1, 0);
    check_geom(16, 10, 13, 48, 5, 3, 2, 2, 2, 2, 5, 1);
    check_geom(3, 13, 13, 16, 4, 4, 2, 2, 0, 0, 2, 0); /* last input row and column unread */
    check_geom(16, 7, 9, 16, 2, 5, 1, 2, 2, 0, 4, 1);
    check_geom(3, 5, 6, 8, 1, 1, 1, 1, 2, 2, 2, 1);    /* outputs reading only padding */
    check_geom(16, 20, 20, 32, 3, 3, 1, 1, 1, 1, 19, 0); /* chunks of 8, 8 and 3 */
    check_geom(8, 6, 5, 20, 3, 3, 2, 1, 1, 0, 7, 1);
    /* the input gradient's phases: stride above the kernel (phases without a tap, inputs
     * without gradient), several kernel rows per phase, channels not a multiple of 16 */
    check_geom(20, 11, 10, 8, 2, 2, 3, 3, 1, 0, 3, 1);
    check_geom(40, 12, 13, 24, 5, 4, 3, 2, 2, 1, 2, 0);
    check_geom(17, 9, 9, 16, 5, 5, 1, 1, 2, 2, 3, 1);
    printf("max relative error: forward %.3g, input grad %.3g, weight grad %.3g\n", worst[0],
           worst[1], worst[2]);
    return check_report();
}
