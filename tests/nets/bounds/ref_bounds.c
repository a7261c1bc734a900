#include "tests/nets/bounds/ref_bounds.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/common/ref_net.h"

struct iv {
    double l, u;
};

static double dn(double x)
{
    return nextafter(x, -INFINITY);
}

static double up(double x)
{
    return nextafter(x, INFINITY);
}

static struct iv pt(double x)
{
    return (struct iv){x, x};
}

static struct iv iadd(struct iv a, struct iv b)
{
    return (struct iv){dn(a.l + b.l), up(a.u + b.u)};
}

static struct iv isub(struct iv a, struct iv b)
{
    return (struct iv){dn(a.l - b.u), up(a.u - b.l)};
}

static struct iv imul(struct iv a, struct iv b)
{
    double p[4] = {a.l * b.l, a.l * b.u, a.u * b.l, a.u * b.u};
    double mn = p[0], mx = p[0];
    for (int i = 1; i < 4; i++) {
        mn = fmin(mn, p[i]);
        mx = fmax(mx, p[i]);
    }
    return (struct iv){dn(mn), up(mx)};
}

/* b must not contain 0 */
static struct iv idiv(struct iv a, struct iv b)
{
    return imul(a, (struct iv){dn(1.0 / b.u), up(1.0 / b.l)});
}

void ref_ibp_outward(const struct ibp_net *net, const double *lo, const double *hi, int batch,
                     const int *labels, double *lb)
{
    int L = net->n_layers, K = ibp_net_outputs(net);
    struct iv **v = calloc((size_t)L + 1, sizeof *v);
    for (int i = 0; i <= L; i++)
        v[i] = calloc((size_t)batch * ibp_shape_size(net->shapes[i]) + 1, sizeof(struct iv));
    size_t n0 = ibp_shape_size(net->input);
    for (size_t i = 0; i < (size_t)batch * n0; i++)
        v[0][i] = (struct iv){lo[i], hi[i]};
    /* the last LINEAR is folded with the margins below instead of run */
    int fold = net->layers[L - 1].kind == IBP_LAYER_LINEAR;
    for (int k = 0; k < L - fold; k++) {
        const struct ibp_layer_spec *l = &net->layers[k];
        struct ibp_shape is = net->shapes[l->in[0]], os = net->shapes[k + 1];
        size_t isz = ibp_shape_size(is), osz = ibp_shape_size(os), hw = (size_t)is.h * is.w;
        const struct iv *a = v[l->in[0]];
        struct iv *o = v[k + 1];
        const float *w = ibp_layer_weight(net, k), *bias = ibp_layer_bias(net, k);
        for (int n = 0; n < batch; n++) {
            const struct iv *an = a + (size_t)n * isz;
            struct iv *on = o + (size_t)n * osz;
            switch (l->kind) {
            case IBP_LAYER_NORMALIZE: {
                const float *m = ibp_normalize_mean(net, k), *sd = ibp_normalize_std(net, k);
                for (size_t i = 0; i < isz; i++)
                    on[i] = idiv(isub(an[i], pt(m[i / hw])), pt(sd[i / hw]));
                break;
            }
            case IBP_LAYER_BATCHNORM: {
                const float *g = ibp_bn_gamma(net, k), *be = ibp_bn_beta(net, k);
                const float *rm = ibp_bn_running_mean(net, k), *rv = ibp_bn_running_var(net, k);
                for (size_t i = 0; i < isz; i++) {
                    size_t c = i / hw;
                    struct iv q = iadd(pt(rv[c]), pt(l->eps));
                    struct iv sq = {dn(sqrt(q.l)), up(sqrt(q.u))};
                    struct iv s = idiv(pt(g[c]), sq);
                    struct iv t = isub(pt(be[c]), imul(pt(rm[c]), s));
                    on[i] = iadd(imul(s, an[i]), t);
                }
                break;
            }
            case IBP_LAYER_LINEAR:
                for (int j = 0; j < l->out; j++) {
                    struct iv acc = pt(bias ? bias[j] : 0.0);
                    for (int i = 0; i < l->in_size; i++)
                        acc = iadd(acc, imul(pt(w[(size_t)j * l->in_size + i]), an[i]));
                    on[j] = acc;
                }
                break;
            case IBP_LAYER_CONV2D: {
                int cg = is.c / l->groups, og = os.c / l->groups;
                for (int oc = 0; oc < os.c; oc++)
                    for (int oh = 0; oh < os.h; oh++)
                        for (int ow = 0; ow < os.w; ow++) {
                            struct iv acc = pt(bias ? bias[oc] : 0.0);
                            for (int c = 0; c < cg; c++)
                                for (int i = 0; i < l->kh; i++)
                                    for (int j = 0; j < l->kw; j++) {
                                        int ih = oh * l->sh - l->ph + i * l->dh;
                                        int iw = ow * l->sw - l->pw + j * l->dw;
                                        if (ih < 0 || ih >= is.h || iw < 0 || iw >= is.w)
                                            continue;
                                        double wv =
                                            w[(((size_t)oc * cg + c) * l->kh + i) * l->kw + j];
                                        size_t ii = ((size_t)(oc / og * cg + c) * is.h + ih) *
                                                        is.w + iw;
                                        acc = iadd(acc, imul(pt(wv), an[ii]));
                                    }
                            on[((size_t)oc * os.h + oh) * os.w + ow] = acc;
                        }
                break;
            }
            case IBP_LAYER_RELU:
                for (size_t i = 0; i < isz; i++)
                    on[i] = (struct iv){fmax(an[i].l, 0.0), fmax(an[i].u, 0.0)};
                break;
            case IBP_LAYER_FLATTEN:
                memcpy(on, an, isz * sizeof *on);
                break;
            case IBP_LAYER_ADD: {
                const struct iv *bn = v[l->in[1]] + (size_t)n * isz;
                for (size_t i = 0; i < isz; i++)
                    on[i] = iadd(an[i], bn[i]);
                break;
            }
            case IBP_LAYER_AVGPOOL:
            case IBP_LAYER_MAXPOOL:
                for (int c = 0; c < os.c; c++)
                    for (int oh = 0; oh < os.h; oh++)
                        for (int ow = 0; ow < os.w; ow++) {
                            struct iv acc = l->kind == IBP_LAYER_MAXPOOL
                                                ? (struct iv){-DBL_MAX, -DBL_MAX}
                                                : pt(0.0);
                            int cnt = 0;
                            for (int i = 0; i < l->kh; i++)
                                for (int j = 0; j < l->kw; j++) {
                                    int ih = oh * l->sh - l->ph + i, iw = ow * l->sw - l->pw + j;
                                    if (ih < 0 || ih >= is.h || iw < 0 || iw >= is.w)
                                        continue;
                                    struct iv x = an[((size_t)c * is.h + ih) * is.w + iw];
                                    cnt++;
                                    if (l->kind == IBP_LAYER_MAXPOOL)
                                        acc = (struct iv){fmax(acc.l, x.l), fmax(acc.u, x.u)};
                                    else
                                        acc = iadd(acc, x);
                                }
                            if (l->kind == IBP_LAYER_AVGPOOL)
                                acc = idiv(acc, pt(l->count_pad ? l->kh * l->kw : cnt));
                            on[((size_t)c * os.h + oh) * os.w + ow] = acc;
                        }
                break;
            }
        }
    }
    const struct ibp_layer_spec *last = &net->layers[L - 1];
    for (int n = 0; n < batch; n++)
        for (int m = 0; m < K - 1; m++) {
            int y = labels[n], j = m < y ? m : m + 1;
            struct iv r;
            if (fold) {
                int H = last->in_size;
                const float *w = ibp_layer_weight(net, L - 1), *b = ibp_layer_bias(net, L - 1);
                const struct iv *a = v[last->in[0]] + (size_t)n * H;
                r = b ? isub(pt(b[y]), pt(b[j])) : pt(0.0);
                for (int h = 0; h < H; h++)
                    r = iadd(r, imul(isub(pt(w[(size_t)y * H + h]), pt(w[(size_t)j * H + h])),
                                     a[h]));
            } else {
                r = isub(v[L][(size_t)n * K + y], v[L][(size_t)n * K + j]);
            }
            lb[(size_t)n * (K - 1) + m] = r.l;
        }
    for (int i = 0; i <= L; i++)
        free(v[i]);
    free(v);
}

void ref_affine_exact(const struct ibp_net *net, const double *lo, const double *hi, int batch,
                      const int *labels, double *lb)
{
    int K = ibp_net_outputs(net);
    size_t n = ibp_shape_size(net->input);
    double *x = calloc((n + 1) * n, sizeof(double));
    for (size_t i = 0; i < n; i++)
        x[(i + 1) * n + i] = 1.0;
    struct ref_out out;
    ref_run(net, NULL, x, NULL, NULL, (int)n + 1, 0, NULL, 0, &out);
    const double *f0 = out.logits;
    for (int s = 0; s < batch; s++)
        for (int m = 0; m < K - 1; m++) {
            int y = labels[s], j = m < y ? m : m + 1;
            double acc = f0[y] - f0[j];
            for (size_t i = 0; i < n; i++) {
                const double *fi = out.logits + (i + 1) * (size_t)K;
                double a = (fi[y] - f0[y]) - (fi[j] - f0[j]);
                acc += fmin(a * lo[(size_t)s * n + i], a * hi[(size_t)s * n + i]);
            }
            lb[(size_t)s * (K - 1) + m] = acc;
        }
    ref_out_free(&out);
    free(x);
}
