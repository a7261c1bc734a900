#include "tests/common/ref_net.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t ref_internal_index(struct ibp_shape s, size_t e)
{
    size_t hw = (size_t)s.h * s.w;
    return (e % hw) * (size_t)s.c + e / hw;
}

struct stream {
    double *x, *c, *r; /* [batch][size] each, NCHW */
};

static double *alloc_d(size_t n)
{
    return calloc(n ? n : 1, sizeof(double));
}

static void conv(const struct ibp_net *net, int k, const double *P, const double *in, double *out,
                 int batch, int use_abs, int with_bias)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    struct ibp_shape is = net->shapes[l->in[0]], os = net->shapes[k + 1];
    const double *w = P + net->param_off[k];
    const double *b = l->no_bias ? NULL : w + ibp_layer_param_count(net, k) - l->out;
    int cg = is.c / l->groups, og = os.c / l->groups;
    for (int n = 0; n < batch; n++)
        for (int o = 0; o < os.c; o++) {
            int g = o / og;
            for (int oh = 0; oh < os.h; oh++)
                for (int ow = 0; ow < os.w; ow++) {
                    double acc = (with_bias && b) ? b[o] : 0.0;
                    for (int c = 0; c < cg; c++)
                        for (int i = 0; i < l->kh; i++)
                            for (int j = 0; j < l->kw; j++) {
                                int ih = oh * l->sh - l->ph + i * l->dh;
                                int iw = ow * l->sw - l->pw + j * l->dw;
                                if (ih < 0 || ih >= is.h || iw < 0 || iw >= is.w)
                                    continue;
                                double wv = w[(((size_t)o * cg + c) * l->kh + i) * l->kw + j];
                                if (use_abs)
                                    wv = fabs(wv);
                                acc += wv * in[(((size_t)n * is.c + g * cg + c) * is.h + ih) * is.w + iw];
                            }
                    out[(((size_t)n * os.c + o) * os.h + oh) * os.w + ow] = acc;
                }
        }
}

static void linear_w(const double *w, const double *b, const double *in, double *out, int batch,
                     int n_in, int n_out, int use_abs)
{
    for (int n = 0; n < batch; n++)
        for (int o = 0; o < n_out; o++) {
            double acc = b ? b[o] : 0.0;
            for (int i = 0; i < n_in; i++) {
                double wv = w[(size_t)o * n_in + i];
                acc += (use_abs ? fabs(wv) : wv) * in[(size_t)n * n_in + i];
            }
            out[(size_t)n * n_out + o] = acc;
        }
}

static void pool(const struct ibp_net *net, int k, const double *in, double *out, int batch,
                 int is_max)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    struct ibp_shape is = net->shapes[l->in[0]], os = net->shapes[k + 1];
    for (int n = 0; n < batch; n++)
        for (int c = 0; c < os.c; c++)
            for (int oh = 0; oh < os.h; oh++)
                for (int ow = 0; ow < os.w; ow++) {
                    double acc = is_max ? -DBL_MAX : 0.0;
                    int cnt = 0;
                    for (int i = 0; i < l->kh; i++)
                        for (int j = 0; j < l->kw; j++) {
                            int ih = oh * l->sh - l->ph + i, iw = ow * l->sw - l->pw + j;
                            if (ih < 0 || ih >= is.h || iw < 0 || iw >= is.w)
                                continue;
                            double v = in[(((size_t)n * is.c + c) * is.h + ih) * is.w + iw];
                            acc = is_max ? (v > acc ? v : acc) : acc + v;
                            cnt++;
                        }
                    if (!is_max)
                        acc /= l->count_pad ? (double)(l->kh * l->kw) : (double)cnt;
                    out[(((size_t)n * os.c + c) * os.h + oh) * os.w + ow] = acc;
                }
}

/* CROWN-IBP lower bounds of the margins (crown_ibp.h's method, NCHW, one sample and row
 * at a time with dense coefficient vectors) from the streams of a finished pass;
 * bn_s/bn_t hold each BATCHNORM's affine map. */
static void crown_ibp_ref(const struct ibp_net *net, const double *P, const struct stream *v,
                          double *const *bn_s, double *const *bn_t, int batch,
                          const int *labels, double *lb)
{
    int L = net->n_layers, K = ibp_net_outputs(net);
    int v0 = net->layers[0].kind == IBP_LAYER_NORMALIZE ? 1 : 0;
    double **lam = calloc((size_t)L + 1, sizeof *lam);
    for (int i = v0; i < L; i++)
        lam[i] = alloc_d(ibp_shape_size(net->shapes[i]));
    const struct ibp_layer_spec *last = &net->layers[L - 1];
    int H = last->in_size;
    const double *Wl = P + net->param_off[L - 1];
    const double *bl = last->no_bias ? NULL : Wl + (size_t)last->out * H;
    for (int n = 0; n < batch; n++)
        for (int m = 0; m < K - 1; m++) {
            int y = labels[n], j = m < y ? m : m + 1;
            for (int i = v0; i < L; i++)
                memset(lam[i], 0, ibp_shape_size(net->shapes[i]) * sizeof(double));
            for (int h = 0; h < H; h++)
                lam[last->in[0]][h] = Wl[(size_t)y * H + h] - Wl[(size_t)j * H + h];
            double bias = bl ? bl[y] - bl[j] : 0.0;
            for (int k = L - 2; k >= v0; k--) {
                const struct ibp_layer_spec *l = &net->layers[k];
                struct ibp_shape is = net->shapes[l->in[0]], os = net->shapes[k + 1];
                size_t isz = ibp_shape_size(is), osz = ibp_shape_size(os);
                size_t hw = (size_t)os.h * os.w;
                const double *lo = lam[k + 1];
                double *li = lam[l->in[0]];
                const double *w = P + net->param_off[k];
                switch (l->kind) {
                case IBP_LAYER_LINEAR: {
                    const double *b = l->no_bias ? NULL : w + (size_t)l->out * l->in_size;
                    for (int o = 0; o < l->out; o++) {
                        bias += b ? lo[o] * b[o] : 0.0;
                        for (int i = 0; i < l->in_size; i++)
                            li[i] += lo[o] * w[(size_t)o * l->in_size + i];
                    }
                    break;
                }
                case IBP_LAYER_CONV2D: {
                    const double *b = l->no_bias ? NULL
                                                 : w + ibp_layer_param_count(net, k) - l->out;
                    int cg = is.c / l->groups, og = os.c / l->groups;
                    for (int o = 0; o < os.c; o++)
                        for (int oh = 0; oh < os.h; oh++)
                            for (int ow = 0; ow < os.w; ow++) {
                                double a = lo[((size_t)o * os.h + oh) * os.w + ow];
                                bias += b ? a * b[o] : 0.0;
                                for (int c = 0; c < cg; c++)
                                    for (int i = 0; i < l->kh; i++)
                                        for (int jj = 0; jj < l->kw; jj++) {
                                            int ih = oh * l->sh - l->ph + i * l->dh;
                                            int iw = ow * l->sw - l->pw + jj * l->dw;
                                            if (ih < 0 || ih >= is.h || iw < 0 || iw >= is.w)
                                                continue;
                                            li[((size_t)(o / og * cg + c) * is.h + ih) * is.w + iw] +=
                                                a * w[(((size_t)o * cg + c) * l->kh + i) * l->kw + jj];
                                        }
                            }
                    break;
                }
                case IBP_LAYER_BATCHNORM:
                    for (size_t i = 0; i < osz; i++) {
                        size_t ch = i / hw;
                        li[i] += lo[i] * bn_s[k][ch];
                        bias += lo[i] * bn_t[k][ch];
                    }
                    break;
                case IBP_LAYER_RELU: {
                    const double *c = v[l->in[0]].c + (size_t)n * isz;
                    const double *r = v[l->in[0]].r + (size_t)n * isz;
                    for (size_t i = 0; i < isz; i++) {
                        double lw = c[i] - r[i], up = c[i] + r[i], a = lo[i];
                        if (lw >= 0) {
                            li[i] += a;
                        } else if (up > 0) {
                            double d = up / (up - lw);
                            if (a > 0)
                                li[i] += up > -lw ? a : 0.0;
                            else {
                                li[i] += d * a;
                                bias += a * (-d * lw);
                            }
                        }
                    }
                    break;
                }
                case IBP_LAYER_FLATTEN:
                    for (size_t i = 0; i < osz; i++)
                        li[i] += lo[i];
                    break;
                case IBP_LAYER_ADD:
                    for (size_t i = 0; i < osz; i++) {
                        li[i] += lo[i];
                        lam[l->in[1]][i] += lo[i];
                    }
                    break;
                default:
                    break;
                }
            }
            size_t n0 = ibp_shape_size(net->shapes[v0]);
            const double *c = v[v0].c + (size_t)n * n0, *r = v[v0].r + (size_t)n * n0;
            double acc = bias;
            for (size_t i = 0; i < n0; i++)
                acc += lam[v0][i] * c[i] - fabs(lam[v0][i]) * r[i];
            lb[(size_t)n * (K - 1) + m] = acc;
        }
    for (int i = 0; i <= L; i++)
        free(lam[i]);
    free(lam);
}

static int run(const struct ibp_net *net, const double *params, const double *x, const double *lo,
               const double *hi, int batch, int bn_train, const int *labels, int fold,
               struct ref_out *out, double *crown_lb)
{
    memset(out, 0, sizeof *out);
    int L = net->n_layers;
    double *P = alloc_d(net->n_params), *Bf = alloc_d(net->n_buffers);
    for (size_t i = 0; i < net->n_params; i++)
        P[i] = params ? params[i] : net->params[i];
    for (size_t i = 0; i < net->n_buffers; i++)
        Bf[i] = net->buffers[i];
    struct stream *v = calloc((size_t)L + 1, sizeof *v);
    double **bn_s = calloc((size_t)L, sizeof *bn_s), **bn_t = calloc((size_t)L, sizeof *bn_t);
    out->n_relu = ibp_net_count_kind(net, IBP_LAYER_RELU);
    out->relu_c = calloc((size_t)out->n_relu + 1, sizeof(double *));
    out->relu_r = calloc((size_t)out->n_relu + 1, sizeof(double *));
    out->relu_size = calloc((size_t)out->n_relu + 1, sizeof(size_t));
    int bounds = lo != NULL, clean = x != NULL;
    for (int i = 0; i <= L; i++) {
        size_t n = (size_t)batch * ibp_shape_size(net->shapes[i]);
        v[i].x = alloc_d(n);
        v[i].c = alloc_d(n);
        v[i].r = alloc_d(n);
    }
    size_t n0 = (size_t)batch * ibp_shape_size(net->input);
    for (size_t i = 0; i < n0; i++) {
        if (clean)
            v[0].x[i] = x[i];
        if (bounds) {
            v[0].c[i] = (hi[i] + lo[i]) / 2;
            v[0].r[i] = (hi[i] - lo[i]) / 2;
        }
    }
    int relu_i = 0;
    for (int k = 0; k < L; k++) {
        const struct ibp_layer_spec *l = &net->layers[k];
        struct stream *a = &v[l->in[0]], *o = &v[k + 1];
        struct ibp_shape is = net->shapes[l->in[0]], os = net->shapes[k + 1];
        size_t isz = ibp_shape_size(is), osz = ibp_shape_size(os), hw = (size_t)is.h * is.w;
        size_t n_in = (size_t)batch * isz, n_out = (size_t)batch * osz;
        switch (l->kind) {
        case IBP_LAYER_NORMALIZE: {
            const double *m = Bf + net->buffer_off[k], *sd = m + is.c;
            for (size_t i = 0; i < n_in; i++) {
                size_t ch = (i % isz) / hw;
                o->x[i] = (a->x[i] - m[ch]) / sd[ch];
                o->c[i] = (a->c[i] - m[ch]) / sd[ch];
                o->r[i] = a->r[i] / fabs(sd[ch]);
            }
            break;
        }
        case IBP_LAYER_LINEAR: {
            const double *w = P + net->param_off[k];
            const double *b = l->no_bias ? NULL : w + (size_t)l->out * l->in_size;
            if (clean)
                linear_w(w, b, a->x, o->x, batch, l->in_size, l->out, 0);
            if (bounds) {
                linear_w(w, b, a->c, o->c, batch, l->in_size, l->out, 0);
                linear_w(w, NULL, a->r, o->r, batch, l->in_size, l->out, 1);
            }
            break;
        }
        case IBP_LAYER_CONV2D:
            if (clean)
                conv(net, k, P, a->x, o->x, batch, 0, 1);
            if (bounds) {
                conv(net, k, P, a->c, o->c, batch, 0, 1);
                conv(net, k, P, a->r, o->r, batch, 1, 0);
            }
            break;
        case IBP_LAYER_BATCHNORM: {
            const double *g = P + net->param_off[k], *be = g + is.c;
            const double *rm = Bf + net->buffer_off[k], *rv = rm + is.c;
            bn_s[k] = alloc_d((size_t)is.c);
            bn_t[k] = alloc_d((size_t)is.c);
            for (int ch = 0; ch < is.c; ch++) {
                double mean = rm[ch], var = rv[ch];
                if (bn_train) {
                    double s1 = 0, s2 = 0, N = (double)batch * hw;
                    for (int n = 0; n < batch; n++)
                        for (size_t q = 0; q < hw; q++)
                            s1 += a->x[((size_t)n * is.c + ch) * hw + q];
                    mean = s1 / N;
                    for (int n = 0; n < batch; n++)
                        for (size_t q = 0; q < hw; q++) {
                            double d = a->x[((size_t)n * is.c + ch) * hw + q] - mean;
                            s2 += d * d;
                        }
                    var = s2 / N;
                }
                double s = g[ch] / sqrt(var + l->eps), t = be[ch] - mean * s;
                bn_s[k][ch] = s;
                bn_t[k][ch] = t;
                for (int n = 0; n < batch; n++)
                    for (size_t q = 0; q < hw; q++) {
                        size_t i = ((size_t)n * is.c + ch) * hw + q;
                        o->x[i] = s * a->x[i] + t;
                        o->c[i] = s * a->c[i] + t;
                        o->r[i] = fabs(s) * a->r[i];
                    }
            }
            break;
        }
        case IBP_LAYER_RELU:
            out->relu_size[relu_i] = isz;
            out->relu_c[relu_i] = alloc_d(n_in);
            out->relu_r[relu_i] = alloc_d(n_in);
            memcpy(out->relu_c[relu_i], a->c, n_in * sizeof(double));
            memcpy(out->relu_r[relu_i], a->r, n_in * sizeof(double));
            relu_i++;
            for (size_t i = 0; i < n_in; i++) {
                o->x[i] = a->x[i] > 0 ? a->x[i] : 0;
                double lo_ = fmax(a->c[i] - a->r[i], 0), hi_ = fmax(a->c[i] + a->r[i], 0);
                o->c[i] = (hi_ + lo_) / 2;
                o->r[i] = (hi_ - lo_) / 2;
            }
            break;
        case IBP_LAYER_FLATTEN:
            memcpy(o->x, a->x, n_in * sizeof(double));
            memcpy(o->c, a->c, n_in * sizeof(double));
            memcpy(o->r, a->r, n_in * sizeof(double));
            break;
        case IBP_LAYER_ADD: {
            struct stream *b2 = &v[l->in[1]];
            for (size_t i = 0; i < n_in; i++) {
                o->x[i] = a->x[i] + b2->x[i];
                o->c[i] = a->c[i] + b2->c[i];
                o->r[i] = a->r[i] + b2->r[i];
            }
            break;
        }
        case IBP_LAYER_AVGPOOL:
            pool(net, k, a->x, o->x, batch, 0);
            pool(net, k, a->c, o->c, batch, 0);
            pool(net, k, a->r, o->r, batch, 0);
            break;
        case IBP_LAYER_MAXPOOL: {
            pool(net, k, a->x, o->x, batch, 1);
            double *l_ = alloc_d(n_in), *u_ = alloc_d(n_in), *pl = alloc_d(n_out),
                   *pu = alloc_d(n_out);
            for (size_t i = 0; i < n_in; i++) {
                l_[i] = a->c[i] - a->r[i];
                u_[i] = a->c[i] + a->r[i];
            }
            pool(net, k, l_, pl, batch, 1);
            pool(net, k, u_, pu, batch, 1);
            for (size_t i = 0; i < n_out; i++) {
                o->c[i] = (pu[i] + pl[i]) / 2;
                o->r[i] = (pu[i] - pl[i]) / 2;
            }
            free(l_);
            free(u_);
            free(pl);
            free(pu);
            break;
        }
        }
    }
    int K = ibp_net_outputs(net);
    if (clean) {
        out->logits = alloc_d((size_t)batch * K);
        memcpy(out->logits, v[L].x, (size_t)batch * K * sizeof(double));
    }
    if (bounds) {
        int rows = labels ? K - 1 : K;
        out->rows = rows;
        out->lb = alloc_d((size_t)batch * rows);
        out->ub = alloc_d((size_t)batch * rows);
        const struct ibp_layer_spec *last = &net->layers[L - 1];
        for (int n = 0; n < batch; n++)
            for (int m = 0; m < rows; m++) {
                double lbv, ubv;
                if (!labels) {
                    lbv = v[L].c[(size_t)n * K + m] - v[L].r[(size_t)n * K + m];
                    ubv = v[L].c[(size_t)n * K + m] + v[L].r[(size_t)n * K + m];
                } else {
                    int y = labels[n], j = m < y ? m : m + 1;
                    if (fold && last->kind == IBP_LAYER_LINEAR) {
                        const double *w = P + net->param_off[L - 1];
                        int H = last->in_size;
                        const double *b = last->no_bias ? NULL : w + (size_t)last->out * H;
                        const struct stream *a = &v[last->in[0]];
                        double cc = b ? b[y] - b[j] : 0.0, rr = 0.0;
                        for (int h = 0; h < H; h++) {
                            double wv = w[(size_t)y * H + h] - w[(size_t)j * H + h];
                            cc += wv * a->c[(size_t)n * H + h];
                            rr += fabs(wv) * a->r[(size_t)n * H + h];
                        }
                        lbv = cc - rr;
                        ubv = cc + rr;
                    } else {
                        size_t iy = (size_t)n * K + y, ij = (size_t)n * K + j;
                        lbv = (v[L].c[iy] - v[L].r[iy]) - (v[L].c[ij] + v[L].r[ij]);
                        ubv = (v[L].c[iy] + v[L].r[iy]) - (v[L].c[ij] - v[L].r[ij]);
                    }
                }
                out->lb[(size_t)n * rows + m] = lbv;
                out->ub[(size_t)n * rows + m] = ubv;
            }
    }
    if (crown_lb)
        crown_ibp_ref(net, P, v, bn_s, bn_t, batch, labels, crown_lb);
    for (int i = 0; i <= L; i++) {
        free(v[i].x);
        free(v[i].c);
        free(v[i].r);
    }
    for (int k = 0; k < L; k++) {
        free(bn_s[k]);
        free(bn_t[k]);
    }
    free(bn_s);
    free(bn_t);
    free(v);
    free(P);
    free(Bf);
    return 0;
}

int ref_run(const struct ibp_net *net, const double *params, const double *x, const double *lo,
            const double *hi, int batch, int bn_train, const int *labels, int fold,
            struct ref_out *out)
{
    return run(net, params, x, lo, hi, batch, bn_train, labels, fold, out, NULL);
}

int ref_crown_ibp(const struct ibp_net *net, const double *params, const double *x,
                  const double *lo, const double *hi, int batch, int bn_train, const int *labels,
                  double *lb)
{
    struct ref_out out;
    int rc = run(net, params, x, lo, hi, batch, bn_train, labels, 1, &out, lb);
    ref_out_free(&out);
    return rc;
}

int ref_forward(const struct ibp_net *net, const double *x, double *y)
{
    struct ref_out out;
    int rc = run(net, NULL, x, NULL, NULL, 1, 0, NULL, 0, &out, NULL);
    memcpy(y, out.logits, (size_t)ibp_net_outputs(net) * sizeof *y);
    ref_out_free(&out);
    return rc;
}

void ref_out_free(struct ref_out *out)
{
    free(out->logits);
    free(out->lb);
    free(out->ub);
    for (int i = 0; i < out->n_relu; i++) {
        free(out->relu_c[i]);
        free(out->relu_r[i]);
    }
    free(out->relu_c);
    free(out->relu_r);
    free(out->relu_size);
    memset(out, 0, sizeof *out);
}
