#include "tests/common/naive_forward.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* out = layer k applied to its input value(s), each (c,h,w) row-major. */
static void layer_forward(const struct ibp_net *net, int k, double *const *vals, double *out)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    struct ibp_shape is = net->shapes[l->in[0]], os = net->shapes[k + 1];
    const double *x = vals[l->in[0]];
    size_t n = ibp_shape_size(is), hw = (size_t)is.h * (size_t)is.w;
    switch (l->kind) {
    case IBP_LAYER_NORMALIZE: {
        const float *m = ibp_normalize_mean(net, k), *s = ibp_normalize_std(net, k);
        for (size_t i = 0; i < n; i++)
            out[i] = (x[i] - m[i / hw]) / s[i / hw];
        break;
    }
    case IBP_LAYER_BATCHNORM: {
        const float *g = ibp_bn_gamma(net, k), *b = ibp_bn_beta(net, k);
        const float *rm = ibp_bn_running_mean(net, k), *rv = ibp_bn_running_var(net, k);
        for (size_t i = 0; i < n; i++) {
            size_t c = i / hw;
            out[i] = (x[i] - rm[c]) / sqrt((double)rv[c] + (double)l->eps) * g[c] + b[c];
        }
        break;
    }
    case IBP_LAYER_RELU:
        for (size_t i = 0; i < n; i++)
            out[i] = x[i] > 0 ? x[i] : 0;
        break;
    case IBP_LAYER_FLATTEN:
        memcpy(out, x, n * sizeof *out);
        break;
    case IBP_LAYER_ADD: {
        const double *y = vals[l->in[1]];
        for (size_t i = 0; i < n; i++)
            out[i] = x[i] + y[i];
        break;
    }
    case IBP_LAYER_LINEAR: {
        const float *w = ibp_layer_weight(net, k), *b = ibp_layer_bias(net, k);
        for (int o = 0; o < l->out; o++) {
            double s = b ? b[o] : 0.0;
            for (size_t i = 0; i < n; i++)
                s += (double)w[(size_t)o * n + i] * x[i];
            out[o] = s;
        }
        break;
    }
    case IBP_LAYER_CONV2D: {
        const float *w = ibp_layer_weight(net, k), *b = ibp_layer_bias(net, k);
        int cg = is.c / l->groups, og = l->out / l->groups;
        for (int o = 0; o < os.c; o++)
            for (int oy = 0; oy < os.h; oy++)
                for (int ox = 0; ox < os.w; ox++) {
                    double s = b ? b[o] : 0.0;
                    int g = o / og;
                    for (int ci = 0; ci < cg; ci++)
                        for (int ky = 0; ky < l->kh; ky++)
                            for (int kx = 0; kx < l->kw; kx++) {
                                int iy = oy * l->sh - l->ph + ky * l->dh;
                                int ix = ox * l->sw - l->pw + kx * l->dw;
                                if (iy < 0 || iy >= is.h || ix < 0 || ix >= is.w)
                                    continue;
                                int c = g * cg + ci;
                                s += (double)w[(((size_t)o * cg + ci) * l->kh + ky) * l->kw + kx] *
                                     x[((size_t)c * is.h + iy) * is.w + ix];
                            }
                    out[((size_t)o * os.h + oy) * os.w + ox] = s;
                }
        break;
    }
    case IBP_LAYER_AVGPOOL:
    case IBP_LAYER_MAXPOOL: {
        int avg = l->kind == IBP_LAYER_AVGPOOL;
        for (int c = 0; c < os.c; c++)
            for (int oy = 0; oy < os.h; oy++)
                for (int ox = 0; ox < os.w; ox++) {
                    double s = avg ? 0.0 : -INFINITY;
                    int cnt = 0;
                    for (int ky = 0; ky < l->kh; ky++)
                        for (int kx = 0; kx < l->kw; kx++) {
                            int iy = oy * l->sh - l->ph + ky, ix = ox * l->sw - l->pw + kx;
                            if (iy < 0 || iy >= is.h || ix < 0 || ix >= is.w) {
                                cnt += l->count_pad;
                                continue;
                            }
                            double v = x[((size_t)c * is.h + iy) * is.w + ix];
                            cnt++;
                            s = avg ? s + v : (v > s ? v : s);
                        }
                    out[((size_t)c * os.h + oy) * os.w + ox] = avg ? s / cnt : s;
                }
        break;
    }
    }
}

int naive_forward(const struct ibp_net *net, const double *x, double *y)
{
    int nv = net->n_layers + 1, rc = 0;
    double **vals = calloc((size_t)nv, sizeof *vals);
    if (!vals)
        return -1;
    for (int v = 0; v < nv && rc == 0; v++)
        if (!(vals[v] = malloc(ibp_shape_size(net->shapes[v]) * sizeof **vals)))
            rc = -1;
    if (rc == 0) {
        memcpy(vals[0], x, ibp_shape_size(net->input) * sizeof *x);
        for (int k = 0; k < net->n_layers; k++)
            layer_forward(net, k, vals, vals[k + 1]);
        memcpy(y, vals[nv - 1], ibp_shape_size(net->shapes[nv - 1]) * sizeof *y);
    }
    for (int v = 0; v < nv; v++)
        free(vals[v]);
    free(vals);
    return rc;
}
