/* LINEAR: y = W x + b on the x rows (clean and centres share one GEMM), r' = |W| r. */
#include <math.h>
#include <string.h>

#include "nets/kernels/gemm.h"
#include "nets/passes/workspace.h"

/* rows of out = bias (or 0) */
static void fill_bias(float *out, const float *bias, size_t rows, size_t n, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < rows; i++) {
        if (bias)
            memcpy(out + i * n, bias, n * sizeof(float));
        else
            memset(out + i * n, 0, n * sizeof(float));
    }
}

void ibp_layer_linear_forward(const struct pass_ctx *p, int k)
{
    const struct ibp_layer_spec *l = &p->net->layers[k];
    const struct value_buf *in = &p->ws->v[l->in[0]], *out = &p->ws->v[k + 1];
    const float *w = ibp_layer_weight(p->net, k);
    long n_in = l->in_size, n_out = l->out;
    /* x rows: [nx][n_out] = [nx][n_in] . W^T + b */
    float *xo = out->x + (size_t)p->x0 * n_out;
    fill_bias(xo, ibp_layer_bias(p->net, k), (size_t)p->nx, (size_t)n_out, p->threads);
    ibp_sgemm(0, 1, p->nx, n_out, n_in, 1.0f, in->x + (size_t)p->x0 * n_in, n_in, w, n_in, 1.0f,
              xo, n_out, p->threads);
    if (p->bounds)
        ibp_sgemm(0, 1, p->batch, n_out, n_in, 1.0f, in->r, n_in, p->ws->wabs[k], n_in, 0.0f,
                  out->r, n_out, p->threads);
}

void ibp_layer_linear_backward(const struct pass_ctx *p, int k, float *grad)
{
    const struct ibp_layer_spec *l = &p->net->layers[k];
    struct ibp_workspace *ws = p->ws;
    const struct value_buf *in = &ws->v[l->in[0]], *out = &ws->v[k + 1];
    const float *w = ibp_layer_weight(p->net, k);
    long n_in = l->in_size, n_out = l->out;
    const float *gxo = out->gx + (size_t)p->x0 * n_out;
    if (ws->needs_grad[l->in[0]]) {
        ibp_sgemm(0, 0, p->nx, n_in, n_out, 1.0f, gxo, n_out, w, n_in, 1.0f,
                  in->gx + (size_t)p->x0 * n_in, n_in, p->threads);
        if (p->bounds)
            ibp_sgemm(0, 0, p->batch, n_in, n_out, 1.0f, out->gr, n_out, ws->wabs[k], n_in, 1.0f,
                      in->gr, n_in, p->threads);
    }
    if (!grad)
        return;
    float *dw = grad + p->net->param_off[k];
    /* dW += gx^T x over the x rows; d|W| = gr^T r, then dW += sign(W) d|W| */
    ibp_sgemm(1, 0, n_out, n_in, p->nx, 1.0f, gxo, n_out, in->x + (size_t)p->x0 * n_in, n_in,
              1.0f, dw, n_in, p->threads);
    if (p->bounds) {
        float *da = ws->dwabs[k];
        ibp_sgemm(1, 0, n_out, n_in, p->batch, 1.0f, out->gr, n_out, in->r, n_in, 0.0f, da, n_in,
                  p->threads);
        size_t n = (size_t)n_out * n_in;
#pragma omp parallel for num_threads(p->threads) schedule(static)
        for (size_t i = 0; i < n; i++)
            dw[i] += w[i] > 0.0f ? da[i] : (w[i] < 0.0f ? -da[i] : 0.0f);
    }
    float *db = ibp_layer_bias(p->net, k);
    if (db) {
        double *sum = ws->chsum;
        memset(sum, 0, (size_t)n_out * sizeof(double));
        ibp_reduce_rows(ws, p->threads, REDUCE_SUM, gxo, NULL, NULL, (size_t)p->nx, (int)n_out, sum);
        float *gb = grad + (db - p->net->params);
        for (long o = 0; o < n_out; o++)
            gb[o] += (float)sum[o];
    }
}
