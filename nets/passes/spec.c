/* The specification on the bounds stream (SPEC §2): rows m of C (labels: e_y - e_j)
 * folded into the last LINEAR, W'_m = sum_o C[m][o] W[o], b'_m = sum_o C[m][o] b[o], and
 * c_m = W'_m . c + b'_m, r_m = |W'_m| . r — tighter than bounding the logits first.
 * When the last layer is not LINEAR, W is the identity on the output value. The folded
 * rows are formed on the fly, element by element, so nothing is stored per sample. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "nets/passes/workspace.h"

struct fold {
    const struct pass_ctx *p;
    int K;            /* network outputs */
    int rows;
    size_t H;         /* input size of the folded map */
    const float *W;   /* [K][H], NULL: identity */
    const float *bias;
    int out_c, out_hw; /* output value shape, to map identity columns to NCHW order */
    const struct value_buf *in;
};

/* output index (NCHW order) of internal element h of the output value */
static int out_index(const struct fold *f, size_t h)
{
    if (f->out_hw == 1)
        return (int)h;
    return (int)(h % (size_t)f->out_c) * f->out_hw + (int)(h / (size_t)f->out_c);
}

/* j of margin row m for label y: classes other than y in increasing order */
static int label_other(int y, int m)
{
    return m < y ? m : m + 1;
}

static float coef(const struct fold *f, int b, int m, int o)
{
    const struct ibp_workspace *ws = f->p->ws;
    if (ws->spec_kind == 1) {
        int y = ws->labels[b];
        return (float)(o == y) - (float)(o == label_other(y, m));
    }
    return ws->spec_C[((size_t)b * f->rows + m) * f->K + o];
}

/* W'_m[h] for sample b */
static float wfold(const struct fold *f, int b, int m, size_t h)
{
    if (!f->W)
        return coef(f, b, m, out_index(f, h));
    if (f->p->ws->spec_kind == 1) {
        int y = f->p->ws->labels[b];
        return f->W[(size_t)y * f->H + h] - f->W[(size_t)label_other(y, m) * f->H + h];
    }
    float acc = 0.0f;
    for (int o = 0; o < f->K; o++) {
        float a = coef(f, b, m, o);
        if (a != 0.0f)
            acc += a * f->W[(size_t)o * f->H + h];
    }
    return acc;
}

static float bfold(const struct fold *f, int b, int m)
{
    if (!f->bias)
        return 0.0f;
    float acc = 0.0f;
    for (int o = 0; o < f->K; o++) {
        float a = coef(f, b, m, o);
        if (a != 0.0f)
            acc += a * f->bias[o];
    }
    return acc;
}

static struct fold make_fold(const struct pass_ctx *p, int k)
{
    const struct ibp_net *net = p->net;
    struct ibp_shape os = net->shapes[net->n_layers];
    struct fold f = {p, ibp_net_outputs(net), p->ws->rows, 0, NULL, NULL, os.c, os.h * os.w,
                     NULL};
    if (k >= 0) {
        f.H = (size_t)net->layers[k].in_size;
        f.W = ibp_layer_weight(net, k);
        f.bias = ibp_layer_bias(net, k);
        f.in = &p->ws->v[net->layers[k].in[0]];
    } else {
        f.H = (size_t)f.K;
        f.in = &p->ws->v[net->n_layers];
    }
    return f;
}

void ibp_spec_forward(const struct pass_ctx *p, int k)
{
    struct fold f = make_fold(p, k);
    struct ibp_workspace *ws = p->ws;
    size_t B = (size_t)p->batch;
    const float *c = f.in->x + B * f.H, *r = f.in->r;
#pragma omp parallel for num_threads(p->threads) schedule(static)
    for (int b = 0; b < p->batch; b++)
        for (int m = 0; m < f.rows; m++) {
            double ac = bfold(&f, b, m), ar = 0.0;
            const float *cb = c + (size_t)b * f.H, *rb = r + (size_t)b * f.H;
            for (size_t h = 0; h < f.H; h++) {
                float w = wfold(&f, b, m, h);
                ac += (double)w * cb[h];
                ar += (double)fabsf(w) * rb[h];
            }
            ws->spec_c[(size_t)b * f.rows + m] = (float)ac;
            ws->spec_r[(size_t)b * f.rows + m] = (float)ar;
        }
}

/* ibp_spec_backward's loop for label margins folded into a LINEAR: the same sums in the
 * same order (for each element, samples b then rows m), with the columns h innermost
 * (contiguous, vectorisable) and each thread a fixed range of them. gc, gr (the input
 * gradients) and dW may be NULL. */
static void label_spec_backward(const struct fold *f, const float *c, const float *r,
                                float *gc, float *gr, float *dW)
{
    const struct ibp_workspace *ws = f->p->ws;
    const float *sgc = ws->spec_gc, *sgr = ws->spec_gr;
    size_t H = f->H;
#pragma omp parallel num_threads(f->p->threads)
    {
        size_t t = (size_t)omp_get_thread_num(), nt = (size_t)omp_get_num_threads();
        size_t h0 = H * t / nt, h1 = H * (t + 1) / nt;
        for (int b = 0; b < f->p->batch; b++) {
            int y = ws->labels[b];
            const float *cb = c + (size_t)b * H, *rb = r + (size_t)b * H;
            for (int m = 0; m < f->rows; m++) {
                float g_c = sgc[(size_t)b * f->rows + m], g_r = sgr[(size_t)b * f->rows + m];
                if (g_c == 0.0f && g_r == 0.0f)
                    continue;
                int o = label_other(y, m);
                const float *wy = f->W + (size_t)y * H, *wo = f->W + (size_t)o * H;
                if (gc)
                    for (size_t h = h0; h < h1; h++) {
                        float w = wy[h] - wo[h];
                        gc[(size_t)b * H + h] += w * g_c;
                        gr[(size_t)b * H + h] += fabsf(w) * g_r;
                    }
                if (!dW)
                    continue;
                float *dy = dW + (size_t)y * H, *dn = dW + (size_t)o * H;
                for (size_t h = h0; h < h1; h++) {
                    float w = wy[h] - wo[h];
                    float dw = g_c * cb[h] + (w > 0.0f ? g_r : (w < 0.0f ? -g_r : 0.0f)) * rb[h];
                    dy[h] += dw;
                    dn[h] -= dw;
                }
            }
        }
    }
}

void ibp_spec_backward(const struct pass_ctx *p, int k, float *grad)
{
    struct fold f = make_fold(p, k);
    struct ibp_workspace *ws = p->ws;
    size_t B = (size_t)p->batch;
    int in_v = k >= 0 ? p->net->layers[k].in[0] : p->net->n_layers;
    int want_in = k < 0 || ws->needs_grad[in_v];
    const float *c = f.in->x + B * f.H, *r = f.in->r;
    float *gc = f.in->gx + B * f.H, *gr = f.in->gr;
    float *dW = grad && f.W ? grad + p->net->param_off[k] : NULL;
    const float *sgc = ws->spec_gc, *sgr = ws->spec_gr;
    if (ws->spec_kind == 1 && f.W) {
        label_spec_backward(&f, c, r, want_in ? gc : NULL, want_in ? gr : NULL, dW);
    } else {
        /* columns h are independent: each thread owns a range of them for every sample, so
         * dW[o][h] sums over samples in a fixed order */
#pragma omp parallel for num_threads(p->threads) schedule(static)
        for (size_t h = 0; h < f.H; h++)
            for (int b = 0; b < p->batch; b++)
                for (int m = 0; m < f.rows; m++) {
                    float g_c = sgc[(size_t)b * f.rows + m], g_r = sgr[(size_t)b * f.rows + m];
                    if (g_c == 0.0f && g_r == 0.0f)
                        continue;
                    float w = wfold(&f, b, m, h);
                    size_t i = (size_t)b * f.H + h;
                    if (want_in) {
                        gc[i] += w * g_c;
                        gr[i] += fabsf(w) * g_r;
                    }
                    if (!dW)
                        continue;
                    float dw = g_c * c[i] + (w > 0.0f ? g_r : (w < 0.0f ? -g_r : 0.0f)) * r[i];
                    if (ws->spec_kind == 1) {
                        /* (identity fold only: with a W, label_spec_backward runs) the
                         * two non-zero coefficients, +1 and -1: the same sums */
                        int y = ws->labels[b];
                        dW[(size_t)y * f.H + h] += dw;
                        dW[(size_t)label_other(y, m) * f.H + h] -= dw;
                        continue;
                    }
                    for (int o = 0; o < f.K; o++) {
                        float a = coef(&f, b, m, o);
                        if (a != 0.0f)
                            dW[(size_t)o * f.H + h] += a * dw;
                    }
                }
    }
    if (grad && f.bias) {
        float *db = grad + (f.bias - p->net->params);
        for (int b = 0; b < p->batch; b++)
            for (int m = 0; m < f.rows; m++)
                for (int o = 0; o < f.K; o++)
                    db[o] += coef(&f, b, m, o) * sgc[(size_t)b * f.rows + m];
    }
}
