/* bounds.c — the bounder (nets/bounds/bounds.h): creation, the forward interval pass, the run.
 *
 * Float mode: IBP is ibp_pass_bounds (passes.h) itself. The CROWN methods run their
 * own forward pass for the intermediate bounds (the same centre/radius arithmetic of
 * SPEC §2), the backward pass of crown.c from the specification rows, and return the
 * element-wise maximum with ibp_pass_bounds' bounds.
 *
 * Sound mode: the forward pass encloses every value in [lo, hi] that holds for real
 * arithmetic: each GEMM, affine map and sum is widened by the error bounds of
 * sound_fp.h; the specification is applied by one backward step through the last
 * layer (the fold of SPEC §2, done on rows with crown.c's error accounting) or, for
 * CROWN, by the whole backward pass. The forward pass also leaves, per layer, the
 * vector q that bounds the rounding error of the backward products (see crown.c). */
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "nets/bounds/bounds_impl.h"
#include "nets/kernels/conv_implicit.h"
#include "nets/kernels/conv_taps.h"
#include "nets/kernels/gemm.h"

/* Per thread: Lambda slots and conv-transpose scratch (floats), small enough to stay
 * in cache (the backward pass makes several passes over a chunk); and the im2col
 * chunk. */
#define SLOT_BUDGET_FLOATS ((size_t)1 << 19)
#define CONVT_BUDGET_FLOATS ((size_t)1 << 18)

static void *balloc(struct ibp_bounder *b, size_t count, size_t size, int *ok)
{
    void *p = calloc(count ? count : 1, size);
    if (!p)
        *ok = 0;
    b->bytes += count * size;
    return p;
}

/* ---- creation ---------------------------------------------------------------- */

static int mixing(enum ibp_layer_kind k)
{
    return k == IBP_LAYER_LINEAR || k == IBP_LAYER_CONV2D || k == IBP_LAYER_AVGPOOL ||
           k == IBP_LAYER_ADD;
}

static enum ibp_status check_config(const struct ibp_net *net,
                                    const struct ibp_bounder_config *cfg, struct ibp_error *err)
{
    if (!net || !cfg)
        return ibp_fail(err, IBP_ERR_ARG, "bounder: net and config must not be NULL");
    if (cfg->method != IBP_BOUND_IBP && cfg->method != IBP_BOUND_CROWN_IBP &&
        cfg->method != IBP_BOUND_CROWN)
        return ibp_fail(err, IBP_ERR_ARG, "bounder: unknown method %d", (int)cfg->method);
    if (cfg->sound != 0 && cfg->sound != 1)
        return ibp_fail(err, IBP_ERR_ARG, "bounder: sound must be 0 or 1, not %d", cfg->sound);
    if (cfg->max_batch < 1)
        return ibp_fail(err, IBP_ERR_ARG, "bounder: max_batch %d must be >= 1", cfg->max_batch);
    if (cfg->max_rows < 1)
        return ibp_fail(err, IBP_ERR_ARG, "bounder: max_rows %d must be >= 1", cfg->max_rows);
    for (int k = 0; k < net->n_layers; k++) {
        const struct ibp_layer_spec *l = &net->layers[k];
        if (cfg->method != IBP_BOUND_IBP && l->kind == IBP_LAYER_MAXPOOL)
            return ibp_fail(err, IBP_ERR_UNSUPPORTED,
                            "bounder: layer %d (maxpool): CROWN methods do not support max "
                            "pooling (use IBP)", k);
        if (!cfg->sound)
            continue;
        long n = 0;
        if (l->kind == IBP_LAYER_LINEAR)
            n = (long)l->in_size + l->out + 1;
        else if (l->kind == IBP_LAYER_CONV2D)
            n = ibp_conv_geom_of(net, k).K + (long)l->out + (long)l->kh * l->kw + 1;
        else if (l->kind == IBP_LAYER_AVGPOOL)
            n = (long)l->kh * l->kw + 2;
        if (n && !fp_gamma_ok(n))
            return ibp_fail(err, IBP_ERR_UNSUPPORTED,
                            "bounder: layer %d (%s): dot products of length %ld are too long "
                            "for the sound error model", k, ibp_layer_kind_name(l->kind), n);
    }
    return IBP_OK;
}

void ibp_bounder_free(struct ibp_bounder *b)
{
    if (!b)
        return;
    if (b->cs.lo)
        for (int v = 0; v <= b->L; v++) {
            free(b->cs.lo[v]);
            free(b->cs.hi[v]);
            free(b->cs.msum[v]);
        }
    free(b->cs.lo);
    free(b->cs.hi);
    free(b->cs.msum);
    if (b->cs.ly)
        for (int k = 0; k < b->L; k++) {
            struct bnd_layer *y = &b->cs.ly[k];
            free(y->wp);
            free(y->wabs);
            free(y->wtap);
            free(y->wtapabs);
            free(y->wimp);
            free(y->wimpabs);
            free(y->wtapz);
            free(y->wtrans);
            free(y->wfold);
            free(y->bfold);
            free(y->babs);
            free(y->aff);
            free(y->s_mid);
            free(y->t_lo);
            free(y->t_hi);
            free(y->dev);
            free(y->slope_lo);
            free(y->slope_up);
            free(y->icpt);
            free(y->q);
        }
    free(b->cs.ly);
    free(b->cs.n);
    free(b->cbuf);
    free(b->rbuf);
    free(b->abuf);
    free(b->ybuf);
    free(b->col);
    ibp_ws_free(b->ws);
    free(b->ibp_lb);
    free(b->own_lb);
    free(b->crown_at);
    for (int t = 0; b->ctx && t < b->n_ctx; t++) {
        struct bnd_ctx *cx = &b->ctx[t];
        if (cx->slot)
            for (int i = 0; i < b->n_slots; i++)
                free(cx->slot[i]);
        free(cx->slot);
        free(cx->active);
        free(cx->win);
        free(cx->wn);
        free(cx->row_sample);
        free(cx->cst);
        free(cx->acomp);
        free(cx->dcol);
        free(cx->cidx);
        free(cx->tapidx);
        free(cx->rstart);
        free(cx->share);
        free(cx->share_cst);
        free(cx->share_row);
        free(cx->chan_row);
    }
    free(b->ctx);
    free(b->cs.slot_of);
    free(b->unstable);
    free(b->pos_start);
    free(b->task);
    free(b->share_at);
    free(b);
}

/* Rows that start one-hot at value v do not depend on the sample down to the first
 * ReLU (only ReLU relaxations and the box do), and the row of -z_j is the negation of
 * that of z_j there (float mode: every constant is linear in Lambda). For a chain of
 * single-input layers below v that reaches a ReLU layer k (or the box value k_box,
 * k = k_box - 1) returns k + 1, the value where sharing ends; v itself when there is
 * none. */
static int share_value(const struct ibp_net *net, int v, int k_box)
{
    for (int k = v - 1; k >= k_box; k--) {
        const struct ibp_layer_spec *l = &net->layers[k];
        if (l->kind == IBP_LAYER_RELU)
            return k + 1;
        if (l->kind == IBP_LAYER_ADD || l->in[0] != k)
            return v;
    }
    return k_box;
}

/* Step 1: layer k's own data (weights in the layouts its lowering reads, affine maps,
 * relaxation slopes, sound-mode error sums); mix[] counts mixing layers up to each value
 * (full CROWN tightens a ReLU input only past two of them); *col grows to the largest
 * im2col or padded-input scratch, *max_relu_n to the largest value CROWN tightens. */
static void plan_layer(const struct ibp_net *net, struct ibp_bounder *b, int k, int *mix,
                       size_t *col_out, size_t *max_relu_out, int *okp)
{
    const struct ibp_bounder_config *cfg = &b->cfg;
    int B = cfg->max_batch, crown = cfg->method != IBP_BOUND_IBP, ok = *okp;
    size_t col = *col_out, max_relu_n = *max_relu_out;
    const struct ibp_layer_spec *l = &net->layers[k];
    struct bnd_layer *y = &b->cs.ly[k];
    int a = l->in[0], C = net->shapes[a].c;
    size_t n_out = b->cs.n[k + 1];
    mix[k + 1] = mix[a];
    if (l->kind == IBP_LAYER_ADD && mix[l->in[1]] > mix[a])
        mix[k + 1] = mix[l->in[1]];
    mix[k + 1] += mixing(l->kind);
    switch (l->kind) {
    case IBP_LAYER_LINEAR:
    case IBP_LAYER_CONV2D: {
        size_t nw = ibp_layer_param_count(net, k) - (l->no_bias ? 0 : (size_t)l->out);
        y->wp = balloc(b, nw, sizeof(float), &ok);
        y->wabs = balloc(b, nw, sizeof(float), &ok);
        if (l->kind == IBP_LAYER_CONV2D &&
            ibp_conv_lowering(net, k, IBP_CONV_FOR_BOUNDER) == IBP_CONV_FEW_TAPS) {
            y->wtap = balloc(b, nw, sizeof(float), &ok);
            y->wtapabs = balloc(b, nw, sizeof(float), &ok);
            if (cfg->method != IBP_BOUND_IBP)
                y->wtapz = balloc(b, (size_t)l->out * CONV_FEW_TAPS, sizeof(float), &ok);
        }
        y->babs = balloc(b, (size_t)l->out, sizeof(float), &ok);
        y->bias = ibp_layer_bias(net, k);
        if (l->kind == IBP_LAYER_CONV2D) {
            struct ibp_conv_geom g = ibp_conv_geom_of(net, k);
            y->K = g.K;
            size_t c = (size_t)ibp_conv_chunk_samples(&g, B) * g.K * g.Ho * g.Wo;
            if (ibp_conv_lowering(net, k, IBP_CONV_FOR_BOUNDER) == IBP_CONV_IMPLICIT) {
                /* no im2col: the scratch holds a chunk of padded input */
                c = ibp_conv_implicit_scratch_floats(&g, INT_MAX);
                y->wimp = balloc(b, ibp_conv_implicit_packed_floats(&g), sizeof(float), &ok);
                y->wimpabs = balloc(b, ibp_conv_implicit_packed_floats(&g), sizeof(float), &ok);
                if (cfg->method != IBP_BOUND_IBP && !cfg->sound &&
                    g.C >= CROWN_IMPLICIT_MIN_C)
                    y->wtrans =
                        balloc(b, ibp_conv_implicit_packed_floats(&g), sizeof(float), &ok);
            }
            size_t pad = ibp_conv_taps_scratch_floats(net, k, 1);
            if (y->wtap && pad > c) /* at least one sample's padded input */
                c = pad;
            col = c > col ? c : col;
            y->coef = fp_gamma((long)g.og + (long)g.kh * g.kw + 1);
            y->nuf = (double)g.og * g.kh * g.kw;
        } else {
            y->K = l->in_size;
            y->coef = fp_gamma((long)l->out + 1);
            y->nuf = (double)l->out;
        }
        y->g_fwd = fp_to_float_up(fp_gamma_fwd(y->K + 1));
        y->tiny_fwd = (float)(2 * (y->K + 1)) * FP_ETA;
        break;
    }
    case IBP_LAYER_BATCHNORM:
    case IBP_LAYER_NORMALIZE:
        y->aff = balloc(b, (size_t)C, sizeof(struct fp_affine), &ok);
        y->s_mid = balloc(b, (size_t)C, sizeof(float), &ok);
        y->t_lo = balloc(b, (size_t)C, sizeof(float), &ok);
        y->t_hi = balloc(b, (size_t)C, sizeof(float), &ok);
        y->dev = balloc(b, (size_t)C, sizeof(float), &ok);
        break;
    case IBP_LAYER_RELU:
        if (crown) {
            y->slope_lo = balloc(b, (size_t)B * n_out, sizeof(float), &ok);
            y->slope_up = balloc(b, (size_t)B * n_out, sizeof(float), &ok);
            y->icpt = balloc(b, (size_t)B * n_out, sizeof(float), &ok);
        }
        if (cfg->method == IBP_BOUND_CROWN && mix[a] >= 2) {
            b->crown_at[a] = 1;
            max_relu_n = b->cs.n[a] > max_relu_n ? b->cs.n[a] : max_relu_n;
        }
        break;
    case IBP_LAYER_AVGPOOL:
        y->coef = fp_gamma((long)l->kh * l->kw + 2);
        y->nuf = (double)l->kh * l->kw;
        break;
    default:
        break;
    }
    int has_q = l->kind == IBP_LAYER_LINEAR || l->kind == IBP_LAYER_CONV2D ||
                l->kind == IBP_LAYER_BATCHNORM || l->kind == IBP_LAYER_NORMALIZE ||
                l->kind == IBP_LAYER_RELU || l->kind == IBP_LAYER_AVGPOOL;
    if (cfg->sound && has_q)
        y->q = balloc(b, (size_t)B * n_out, sizeof(float), &ok);
    *col_out = col;
    *max_relu_out = max_relu_n;
    *okp = ok;
}

/* Step 2 (float-mode CROWN methods): a BATCHNORM whose input comes from a LINEAR or
 * CONV2D and feeds nothing else is folded into that layer's backward map
 * (crown_state.h). */
static void plan_bn_folds(const struct ibp_net *net, struct ibp_bounder *b, int *okp)
{
    int L = b->L, ok = *okp;
    /* float mode: a BATCHNORM whose input comes from a LINEAR or CONV2D and feeds
     * nothing else is folded into that layer's backward map (bounds_impl.h) */
    int uses[L + 1];
    memset(uses, 0, sizeof uses);
    for (int k = 0; k < L; k++) {
        uses[net->layers[k].in[0]]++;
        if (net->layers[k].kind == IBP_LAYER_ADD)
            uses[net->layers[k].in[1]]++;
    }
    for (int k = 0; k < L; k++) {
        int a = net->layers[k].in[0];
        if (net->layers[k].kind != IBP_LAYER_BATCHNORM || a == 0 || uses[a] != 1 ||
            (net->layers[a - 1].kind != IBP_LAYER_LINEAR &&
             net->layers[a - 1].kind != IBP_LAYER_CONV2D))
            continue;
        struct bnd_layer *p = &b->cs.ly[a - 1];
        b->cs.ly[k].folded = 1;
        p->fold_bn = k;
        p->wfold = balloc(b, (size_t)net->layers[a - 1].out * (size_t)p->K, sizeof(float),
                          &ok);
        p->bfold = balloc(b, (size_t)net->layers[a - 1].out, sizeof(float), &ok);
    }
    *okp = ok;
}

/* Step 3: every value's forward bounds and the forward scratch. */
static void alloc_values(struct ibp_bounder *b, size_t col, int *okp)
{
    int L = b->L, B = b->cfg.max_batch, ok = *okp;
    for (int v = 0; v <= L; v++) {
        b->cs.lo[v] = balloc(b, (size_t)B * b->cs.n[v], sizeof(float), &ok);
        b->cs.hi[v] = balloc(b, (size_t)B * b->cs.n[v], sizeof(float), &ok);
        b->cs.msum[v] = balloc(b, (size_t)B, sizeof(double), &ok);
    }
    size_t scratch = (size_t)B * b->max_n;
    b->cbuf = balloc(b, scratch, sizeof(float), &ok);
    b->rbuf = balloc(b, scratch, sizeof(float), &ok);
    b->abuf = balloc(b, scratch, sizeof(float), &ok);
    b->ybuf = balloc(b, scratch, sizeof(float), &ok);
    b->col_floats = col;
    b->col = balloc(b, col, sizeof(float), &ok);
    *okp = ok;
}

/* Step 4: the backward pass's slots and rows per chunk: slots by liveness, rows as many
 * as the slot budget allows (full CROWN: also the most that one output position's
 * windows fit). */
static void plan_rows(const struct ibp_net *net, struct ibp_bounder *b, int rows,
                      size_t max_relu_n, size_t *most_pos_out)
{
    const struct ibp_bounder_config *cfg = &b->cfg;
    int L = b->L, B = cfg->max_batch, crown = cfg->method != IBP_BOUND_IBP;
    char alias[L];
    for (int k = 0; k < L; k++)
        alias[k] = (char)b->cs.ly[k].folded;
    b->n_slots = ibp_crown_plan_slots(net, alias, b->cs.slot_of);
    size_t want = (size_t)B * rows;
    if (cfg->method == IBP_BOUND_CROWN && 2 * (size_t)B * max_relu_n > want)
        want = 2 * (size_t)B * max_relu_n;
    if (!crown)
        want = (size_t)B * rows; /* the fold step only */
    size_t fit = SLOT_BUDGET_FLOATS / ((size_t)b->n_slots * b->max_n);
    size_t rch = want < fit ? want : fit;
    if (rch < (size_t)rows)
        rch = (size_t)rows;
    if (rch < 2)
        rch = 2; /* full CROWN takes two rows per neuron */
    b->cs.slot_floats = rch * b->max_n;
    /* full CROWN's rows at one position of a convolution's output have small
     * windows: a chunk holds as many as the slots fit (all of the position's
     * unstable neurons of the batch at most) */
    size_t rmax = rch, most_pos = 1;
    for (int v = 0; v <= L && cfg->method == IBP_BOUND_CROWN; v++) {
        if (!b->crown_at[v] || b->cs.slot_of[v] < 0)
            continue;
        struct ibp_shape s = net->shapes[v];
        most_pos = (size_t)s.h * s.w > most_pos ? (size_t)s.h * s.w : most_pos;
        for (int h = 0; h < s.h; h++)
            for (int w = 0; w < s.w; w++) {
                struct bnd_win x = {h, h + 1, w, w + 1};
                size_t fit_w = (size_t)ibp_crown_plan_windows(net, &b->cs, &b->ctx[0], v, b->k_box, &x);
                size_t need = 2 * (size_t)B * (size_t)s.c;
                fit_w = fit_w < need ? fit_w : need;
                rmax = fit_w > rmax ? fit_w : rmax;
            }
    }
    b->rmax = (int)rmax;
    *most_pos_out = most_pos;
}

/* Step 5: each thread's context of rows (slots, per-row arrays, conv-transpose scratch). */
static void alloc_contexts(const struct ibp_net *net, struct ibp_bounder *b, int *okp)
{
    int L = b->L, crown = b->cfg.method != IBP_BOUND_IBP, ok = *okp;
    size_t rmax = (size_t)b->rmax;
    long kmax = 1, omax = 1;
    int few_taps = 0; /* a few-taps conv: crown.c's conv_transpose_taps scratch */
    if (crown) {
        b->cs.pmax = ibp_crown_conv_pmax(net, CONVT_BUDGET_FLOATS);
        for (int k = 0; k < L; k++)
            if (net->layers[k].kind == IBP_LAYER_CONV2D) {
                struct ibp_conv_geom g = ibp_conv_geom_of(net, k);
                kmax = g.K > kmax ? g.K : kmax;
                if (b->cs.ly[k].wtrans) { /* dcol is ibp_conv_implicit_input_grad's scratch */
                    struct ibp_conv_geom ig = ibp_conv_geom_of(net, k);
                    long need = (long)ibp_conv_implicit_scratch_floats(&ig, INT_MAX);
                    long per = (need + b->cs.pmax - 1) / b->cs.pmax;
                    kmax = per > kmax ? per : kmax;
                }
                if (ibp_conv_lowering(net, k, IBP_CONV_FOR_BOUNDER) == IBP_CONV_FEW_TAPS) {
                    few_taps = 1;
                    kmax = kmax > CONV_FEW_TAPS ? kmax : CONV_FEW_TAPS;
                }
                omax = g.og > omax ? g.og : omax;
            }
    }
    for (int t = 0; ok && t < b->n_ctx; t++) {
        struct bnd_ctx *cx = &b->ctx[t];
        cx->slot = balloc(b, (size_t)b->n_slots, sizeof(float *), &ok);
        for (int i = 0; ok && i < b->n_slots; i++)
            cx->slot[i] = balloc(b, b->cs.slot_floats, sizeof(float), &ok);
        cx->row_sample = balloc(b, rmax, sizeof(int), &ok);
        cx->cst = balloc(b, rmax, sizeof(double), &ok);
        cx->rstart = balloc(b, rmax + 1, sizeof(long), &ok);
        if (crown) {
            cx->acomp = balloc(b, (size_t)b->cs.pmax * omax, sizeof(float), &ok);
            cx->dcol = balloc(b, (size_t)b->cs.pmax * kmax, sizeof(float), &ok);
            cx->cidx = balloc(b, (size_t)b->cs.pmax, sizeof(long), &ok);
            if (few_taps)
                cx->tapidx = balloc(b, 2 * (size_t)b->cs.pmax * CONV_FEW_TAPS, sizeof(int), &ok);
        }
    }
    *okp = ok;
}

/* Step 6 (full CROWN): where shared rows stop, the shared-row buffers, the (sample,
 * neuron) lists of unstable ReLUs and their chunk starts. */
static void alloc_full_crown(const struct ibp_net *net, struct ibp_bounder *b,
                             size_t max_relu_n, size_t most_pos, int *okp)
{
    const struct ibp_bounder_config *cfg = &b->cfg;
    int L = b->L, B = cfg->max_batch, ok = *okp;
    size_t most_c = 1;
    b->share_at = balloc(b, (size_t)L + 1, sizeof(int), &ok);
    for (int v = 0; ok && v <= L; v++) {
        b->share_at[v] = share_value(net, v, b->k_box);
        most_c = (size_t)net->shapes[v].c > most_c ? (size_t)net->shapes[v].c : most_c;
    }
    for (int t = 0; ok && t < b->n_ctx && !cfg->sound; t++) {
        b->ctx[t].share = balloc(b, b->cs.slot_floats / 2 + 1, sizeof(float), &ok);
        b->ctx[t].share_cst = balloc(b, most_c, sizeof(double), &ok);
        b->ctx[t].share_row = balloc(b, (size_t)b->rmax, sizeof(int), &ok);
        b->ctx[t].chan_row = balloc(b, most_c, sizeof(int), &ok);
    }
    size_t nu = (size_t)B * (max_relu_n ? max_relu_n : 1);
    b->unstable = balloc(b, nu, sizeof(int), &ok);
    b->task = balloc(b, nu + 1, sizeof(long), &ok);
    b->pos_start = balloc(b, most_pos + 1, sizeof(long), &ok);
    *okp = ok;
}

enum ibp_status ibp_bounder_create(const struct ibp_net *net,
                                   const struct ibp_bounder_config *cfg,
                                   struct ibp_bounder **out, struct ibp_error *err)
{
    if (out)
        *out = NULL;
    if (!out)
        return ibp_fail(err, IBP_ERR_ARG, "bounder: out must not be NULL");
    enum ibp_status st = check_config(net, cfg, err);
    if (st != IBP_OK)
        return st;
    struct ibp_bounder *b = calloc(1, sizeof *b);
    if (!b)
        return ibp_fail(err, IBP_ERR_NOMEM, "bounder: out of memory");
    int ok = 1, L = net->n_layers, B = cfg->max_batch;
    int crown = cfg->method != IBP_BOUND_IBP;
    b->cfg = *cfg;
    b->cs.sound = cfg->sound;
    b->L = L;
    /* backward passes end at the box: the input, or the output of a leading NORMALIZE,
     * an element-wise affine map of the input box whose forward bounds are exactly its
     * image (outward-rounded in sound mode), so Lambda needs no step through it */
    b->k_box = ibp_net_box_value(net);
    b->threads = omp_get_max_threads();
    b->cs.n = balloc(b, (size_t)L + 1, sizeof(size_t), &ok);
    b->cs.lo = balloc(b, (size_t)L + 1, sizeof(float *), &ok);
    b->cs.hi = balloc(b, (size_t)L + 1, sizeof(float *), &ok);
    b->cs.msum = balloc(b, (size_t)L + 1, sizeof(double *), &ok);
    b->cs.ly = balloc(b, (size_t)L, sizeof(struct bnd_layer), &ok);
    b->crown_at = balloc(b, (size_t)L + 1, sizeof(int), &ok);
    if (!ok) {
        ibp_bounder_free(b);
        return ibp_fail(err, IBP_ERR_NOMEM, "bounder: out of memory");
    }
    /* IBP in float mode, and the float IBP bound the CROWN methods take the max with */
    if (!cfg->sound) {
        st = ibp_ws_create(net, B, IBP_WS_BOUNDS, &b->ws, err);
        if (st != IBP_OK) {
            ibp_bounder_free(b);
            return st;
        }
        b->bytes += ibp_ws_bytes(b->ws);
    }
    int own_pass = cfg->sound || crown;
    size_t col = 0, max_relu_n = 0;
    int mix[L + 1];
    mix[0] = 0;
    for (int v = 0; v <= L; v++) {
        b->cs.n[v] = ibp_shape_size(net->shapes[v]);
        if (b->cs.n[v] > b->max_n)
            b->max_n = b->cs.n[v];
    }
    for (int k = 0; k < L && own_pass; k++)
        plan_layer(net, b, k, mix, &col, &max_relu_n, &ok);
    if (crown && !cfg->sound)
        plan_bn_folds(net, b, &ok);
    if (own_pass)
        alloc_values(b, col, &ok);
    int rows = cfg->max_rows > ibp_net_outputs(net) ? cfg->max_rows : ibp_net_outputs(net);
    b->ibp_lb = balloc(b, (size_t)B * rows, sizeof(float), &ok);
    b->own_lb = balloc(b, (size_t)B * rows, sizeof(float), &ok);
    b->cs.slot_of = balloc(b, (size_t)L + 1, sizeof(int), &ok);
    b->n_ctx = own_pass ? b->threads : 0;
    b->ctx = balloc(b, (size_t)b->n_ctx, sizeof(struct bnd_ctx), &ok);
    for (int t = 0; ok && t < b->n_ctx; t++) {
        b->ctx[t].active = balloc(b, (size_t)L + 1, 1, &ok);
        b->ctx[t].win = balloc(b, (size_t)L + 1, sizeof(struct bnd_win), &ok);
        b->ctx[t].wn = balloc(b, (size_t)L + 1, sizeof(size_t), &ok);
    }
    if (!ok) {
        size_t bytes = b->bytes; /* read before the free */
        ibp_bounder_free(b);
        return ibp_fail(err, IBP_ERR_NOMEM, "bounder: out of memory (%zu bytes)", bytes);
    }
    if (own_pass) {
        size_t most_pos = 1;
        plan_rows(net, b, rows, max_relu_n, &most_pos);
        alloc_contexts(net, b, &ok);
        if (cfg->method == IBP_BOUND_CROWN)
            alloc_full_crown(net, b, max_relu_n, most_pos, &ok);
    }
    if (!ok) {
        size_t bytes = b->bytes;
        ibp_bounder_free(b);
        return ibp_fail(err, IBP_ERR_NOMEM, "bounder: out of memory (%zu bytes asked for)",
                        bytes);
    }
    *out = b;
    return IBP_OK;
}

size_t ibp_bounder_bytes(const struct ibp_bounder *b)
{
    return b ? b->bytes : 0;
}

void ibp_bounder_set_threads(struct ibp_bounder *b, int threads)
{
    b->threads = threads > 0 ? threads : 1;
    if (b->ws)
        ibp_ws_set_threads(b->ws, b->threads);
}

void ibp_bounder_set_full_windows(struct ibp_bounder *b, int on)
{
    b->cs.full_windows = on;
}

const float *ibp_bounder_crown_bounds(const struct ibp_bounder *b)
{
    return b && b->cfg.method != IBP_BOUND_IBP ? b->own_lb : NULL;
}

/* ---- per-run preparation ------------------------------------------------------ */

static enum ibp_status prepare(const struct ibp_net *net, struct ibp_bounder *b,
                               struct ibp_error *err)
{
    int sound = b->cfg.sound;
    for (int k = 0; k < b->L; k++) {
        const struct ibp_layer_spec *l = &net->layers[k];
        struct bnd_layer *y = &b->cs.ly[k];
        int C = net->shapes[l->in[0]].c;
        switch (l->kind) {
        case IBP_LAYER_LINEAR:
        case IBP_LAYER_CONV2D: {
            const float *w = ibp_layer_weight(net, k);
            if (l->kind == IBP_LAYER_LINEAR) {
                memcpy(y->wp, w, (size_t)l->out * l->in_size * sizeof(float));
            } else {
                ibp_conv_pack_weight(net, k, w, y->wp, NULL, 1);
            }
            size_t nw = (size_t)l->out * y->K;
            for (size_t i = 0; i < nw; i++)
                y->wabs[i] = fabsf(y->wp[i]);
            if (y->wtap) {
                ibp_conv_taps_transpose(net, k, y->wp, y->wtap);
                ibp_conv_taps_transpose(net, k, y->wabs, y->wtapabs);
            }
            if (y->wimp) {
                struct ibp_conv_geom ig = ibp_conv_geom_of(net, k);
                ibp_conv_implicit_pack(&ig, y->wp, y->wimp);
                ibp_conv_implicit_pack(&ig, y->wabs, y->wimpabs);
            }
            for (int o = 0; o < l->out; o++)
                y->babs[o] = y->bias ? fabsf(y->bias[o]) : 0.0f;
            break;
        }
        case IBP_LAYER_BATCHNORM:
        case IBP_LAYER_NORMALIZE:
            for (int c = 0; c < C; c++) {
                struct fp_affine *a = &y->aff[c];
                int good;
                if (l->kind == IBP_LAYER_BATCHNORM) {
                    float g = ibp_bn_gamma(net, k)[c], be = ibp_bn_beta(net, k)[c];
                    float m = ibp_bn_running_mean(net, k)[c], v = ibp_bn_running_var(net, k)[c];
                    good = fp_bn_affine(g, be, m, v, l->eps, a);
                    if (good && !sound) {
                        float s = a->s_mid, t = be - m * s;
                        *a = (struct fp_affine){s, s, s, t, t};
                    }
                } else {
                    float m = ibp_normalize_mean(net, k)[c], sd = ibp_normalize_std(net, k)[c];
                    good = fp_normalize_affine(m, sd, a);
                    if (good && !sound) {
                        float s = 1.0f / sd, t = -m / sd;
                        *a = (struct fp_affine){s, s, s, t, t};
                    }
                }
                if (!good || !isfinite(a->s_lo) || !isfinite(a->s_hi) || !isfinite(a->t_lo) ||
                    !isfinite(a->t_hi))
                    return ibp_fail(err, IBP_ERR_NUMERIC,
                                    "bounder: layer %d (%s): channel %d has no finite affine "
                                    "map (variance/std)", k, ibp_layer_kind_name(l->kind), c);
                y->s_mid[c] = a->s_mid;
                y->t_lo[c] = a->t_lo;
                y->t_hi[c] = a->t_hi;
                y->dev[c] = sound ? fp_affine_dev(a) : 0.0f;
            }
            break;
        default:
            break;
        }
    }
    /* the backward maps: BatchNorms folded in, the few-taps layout */
    for (int k = 0; k < b->L; k++) {
        struct bnd_layer *y = &b->cs.ly[k];
        int out = net->layers[k].out;
        if (y->fold_bn) {
            const struct bnd_layer *bn = &b->cs.ly[y->fold_bn];
            for (int o = 0; o < out; o++) {
                float s = bn->s_mid[o];
                for (long i = 0; i < y->K; i++)
                    y->wfold[(size_t)o * y->K + i] = s * y->wp[(size_t)o * y->K + i];
                y->bfold[o] = s * (y->bias ? y->bias[o] : 0.0f) + bn->t_lo[o];
            }
        }
        const float *w = y->wfold ? y->wfold : y->wp, *bias = y->bfold ? y->bfold : y->bias;
        if (y->wtrans) {
            struct ibp_conv_geom ig = ibp_conv_geom_of(net, k);
            ibp_conv_implicit_pack(&ig, w, y->wtrans);
        }
        if (!y->wtapz)
            continue;
        y->tapz_bias = !b->cfg.sound && bias && y->K < CONV_FEW_TAPS;
        for (int o = 0; o < out; o++)
            for (long t = 0; t < CONV_FEW_TAPS; t++)
                y->wtapz[(size_t)o * CONV_FEW_TAPS + t] =
                    t < y->K ? w[(size_t)o * y->K + t]
                             : (t == y->K && y->tapz_bias ? bias[o] : 0.0f);
    }
    return IBP_OK;
}

/* ---- forward interval pass ---------------------------------------------------- */

/* c, r of value a for all samples into cbuf, rbuf (sound: r covers [lo, hi] around c) */
static void centre_radius(struct ibp_bounder *b, int a, int batch)
{
    size_t e = (size_t)batch * b->cs.n[a];
    const float *lo = b->cs.lo[a], *hi = b->cs.hi[a];
    float *c = b->cbuf, *r = b->rbuf;
    if (b->cfg.sound) {
#pragma omp parallel for num_threads(b->threads) schedule(static) if ((e) >= BND_PAR_MIN)
        for (size_t i = 0; i < e; i++) {
            float ci = 0.5f * lo[i] + 0.5f * hi[i];
            c[i] = ci;
            r[i] = fp_radius_up(lo[i], hi[i], ci);
        }
    } else {
#pragma omp parallel for num_threads(b->threads) schedule(static) if ((e) >= BND_PAR_MIN)
        for (size_t i = 0; i < e; i++) {
            c[i] = (hi[i] + lo[i]) * 0.5f;
            r[i] = (hi[i] - lo[i]) * 0.5f;
        }
    }
}

/* rows [0, m) of y = bias (or 0) */
static void fill_bias(struct ibp_bounder *b, float *y, long m, int out, const float *bias)
{
#pragma omp parallel for num_threads(b->threads) schedule(static) if (((size_t)m * out) >= BND_PAR_MIN)
    for (long i = 0; i < m; i++) {
        if (bias)
            memcpy(y + i * out, bias, (size_t)out * sizeof(float));
        else
            memset(y + i * out, 0, (size_t)out * sizeof(float));
    }
}

/* y[batch][out] = bias (NULL: 0) + op(x) for LINEAR (W or |W|) or CONV2D; wt: the same
 * weights as [tap][out] for a conv with few taps, which runs the direct loop; wi: packed
 * for the implicit GEMM (conv_implicit.h), which runs instead of im2col + GEMM */
static void affine_gemm(const struct ibp_net *net, struct ibp_bounder *b, int k, const float *x,
                        float *y, const float *w, const float *wt, const float *wi,
                        const float *bias, int batch)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    if (wt) {
        ibp_conv_taps_forward(net, k, x, y, batch, wt, bias, 0, b->col, b->col_floats, b->threads);
        return;
    }
    if (wi) {
        struct ibp_conv_geom ig = ibp_conv_geom_of(net, k);
        ibp_conv_implicit_forward(&ig, x, y, batch, wi, bias, b->col, b->threads);
        return;
    }
    int out = l->kind == IBP_LAYER_LINEAR ? l->out : net->shapes[k + 1].c;
    fill_bias(b, y, (long)((size_t)batch * b->cs.n[k + 1] / (size_t)out), out, bias);
    if (l->kind == IBP_LAYER_LINEAR) {
        ibp_sgemm(0, 1, batch, l->out, l->in_size, 1.0f, x, l->in_size, w, l->in_size, 1.0f, y,
                  l->out, bnd_gemm_threads(b, batch, l->out, l->in_size));
        return;
    }
    struct ibp_conv_geom g = ibp_conv_geom_of(net, k);
    int chunk = ibp_conv_chunk_samples(&g, b->cfg.max_batch);
    size_t in_per = (size_t)g.H * g.W * g.C, out_per = (size_t)g.Ho * g.Wo * g.Co;
    for (int s0 = 0; s0 < batch; s0 += chunk) {
        int ns = batch - s0 < chunk ? batch - s0 : chunk;
        long M = (long)ns * g.Ho * g.Wo;
        for (int grp = 0; grp < g.groups; grp++) {
            ibp_conv_im2col(&g, x + (size_t)s0 * in_per, ns, grp, b->col,
                            (size_t)M * g.K >= BND_PAR_MIN ? b->threads : 1);
            ibp_sgemm(0, 1, M, g.og, g.K, 1.0f, b->col, g.K, w + (size_t)grp * g.og * g.K, g.K,
                      1.0f, y + (size_t)s0 * out_per + (size_t)grp * g.og, g.Co,
                      bnd_gemm_threads(b, M, g.og, g.K));
        }
    }
}

static void forward_affine(const struct ibp_net *net, struct ibp_bounder *b, int k, int batch)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    struct bnd_layer *y = &b->cs.ly[k];
    int a = l->in[0];
    size_t n = b->cs.n[k + 1], e = (size_t)batch * n;
    float *lo = b->cs.lo[k + 1], *hi = b->cs.hi[k + 1], *yr = b->ybuf;
    centre_radius(b, a, batch);
    affine_gemm(net, b, k, b->cbuf, lo, y->wp, y->wtap, y->wimp, y->bias, batch); /* W c + b */
    affine_gemm(net, b, k, b->rbuf, yr, y->wabs, y->wtapabs, y->wimpabs, NULL, batch); /* |W| r */
    if (!b->cfg.sound) {
#pragma omp parallel for num_threads(b->threads) schedule(static) if ((e) >= BND_PAR_MIN)
        for (size_t i = 0; i < e; i++) {
            float c = lo[i], r = yr[i];
            lo[i] = c - r;
            hi[i] = c + r;
        }
        return;
    }
    /* sound: A = |W||c| + |b| for the error of W c + b (E1) */
    size_t ein = (size_t)batch * b->cs.n[a];
#pragma omp parallel for num_threads(b->threads) schedule(static) if ((ein) >= BND_PAR_MIN)
    for (size_t i = 0; i < ein; i++)
        b->cbuf[i] = fabsf(b->cbuf[i]);
    float *A = b->abuf;
    affine_gemm(net, b, k, b->cbuf, A, y->wabs, y->wtapabs, y->wimpabs, y->babs, batch);
    float g = y->g_fwd, tiny = y->tiny_fwd;
    float *q = y->q;
#pragma omp parallel for num_threads(b->threads) schedule(static) if ((e) >= BND_PAR_MIN)
    for (size_t i = 0; i < e; i++) {
        float ec = fp_dot_err(A[i], g, tiny);   /* |fl(Wc+b) - (Wc+b)| */
        float R = fp_sum_up(yr[i], g, tiny);    /* >= |W| r */
        float c = lo[i];
        lo[i] = fp_dn(fp_dn(c - R) - ec);
        hi[i] = fp_up(fp_up(c + R) + ec);
        /* |W| max(|lo|,|hi|) <= |W|(|c| + r) <= A_real + R */
        q[i] = fp_up(fp_sum_up(A[i], g, tiny) + R);
    }
}

static void forward_diag(const struct ibp_net *net, struct ibp_bounder *b, int k, int batch)
{
    struct bnd_layer *y = &b->cs.ly[k];
    int a = net->layers[k].in[0], C = net->shapes[a].c;
    size_t e = (size_t)batch * b->cs.n[a];
    const float *li = b->cs.lo[a], *ui = b->cs.hi[a];
    float *lo = b->cs.lo[k + 1], *hi = b->cs.hi[k + 1];
    int sound = b->cfg.sound;
    /* rows of C channels (NHWC), the channel without a division per element */
    size_t rows = e / (size_t)C;
#pragma omp parallel for num_threads(b->threads) schedule(static) if ((e) >= BND_PAR_MIN)
    for (size_t row = 0; row < rows; row++)
        for (size_t c = 0; c < (size_t)C; c++) {
            size_t i = row * (size_t)C + c;
            const struct fp_affine *af = &y->aff[c];
            if (sound) {
                fp_affine_apply(af, li[i], ui[i], &lo[i], &hi[i]);
                float mg = fmaxf(fabsf(li[i]), fabsf(ui[i]));
                y->q[i] = fp_up(y->dev[c] * mg);
            } else {
                float v1 = af->s_mid * li[i] + af->t_lo, v2 = af->s_mid * ui[i] + af->t_lo;
                lo[i] = fminf(v1, v2);
                hi[i] = fmaxf(v1, v2);
            }
        }
}

static void relaxation(float l, float u, int sound, float *slo, float *sup, float *icpt)
{
    if (!(l < 0.0f)) { /* stable active */
        *slo = *sup = 1.0f;
        *icpt = 0.0f;
    } else if (!(u > 0.0f)) { /* stable inactive */
        *slo = *sup = *icpt = 0.0f;
    } else {
        *slo = u > -l ? 1.0f : 0.0f; /* adaptive lower line alpha x */
        if (isinf(u)) {
            *sup = 1.0f;
            *icpt = isinf(l) ? INFINITY : -l;
        } else if (isinf(l)) {
            *sup = 0.0f;
            *icpt = u;
        } else {
            float k = u / (u - l);
            *sup = k;
            *icpt = sound ? fp_relu_upper_icpt(k, l, u) : -k * l;
        }
    }
}

static void forward_relu(const struct ibp_net *net, struct ibp_bounder *b, int k, int batch)
{
    struct bnd_layer *y = &b->cs.ly[k];
    int a = net->layers[k].in[0];
    size_t e = (size_t)batch * b->cs.n[a];
    const float *li = b->cs.lo[a], *ui = b->cs.hi[a];
    float *lo = b->cs.lo[k + 1], *hi = b->cs.hi[k + 1];
    int sound = b->cfg.sound, crown = y->slope_lo != NULL;
#pragma omp parallel for num_threads(b->threads) schedule(static) if ((e) >= BND_PAR_MIN)
    for (size_t i = 0; i < e; i++) {
        lo[i] = fmaxf(li[i], 0.0f);
        hi[i] = fmaxf(ui[i], 0.0f);
        if (!crown)
            continue;
        relaxation(li[i], ui[i], sound, &y->slope_lo[i], &y->slope_up[i], &y->icpt[i]);
        if (sound) {
            /* fl(lambda k) is off by at most u |lambda| k + eta/2 (A2) */
            float s = y->slope_up[i], mg = fmaxf(fabsf(li[i]), fabsf(ui[i]));
            y->q[i] = s == 0.0f || s == 1.0f ? 0.0f : fp_up(fp_up(FP_U * s) * mg);
        }
    }
}

static void forward_pool(const struct ibp_net *net, struct ibp_bounder *b, int k, int batch)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    struct ibp_shape is = net->shapes[l->in[0]], os = net->shapes[k + 1];
    size_t n_in = b->cs.n[l->in[0]], n_out = b->cs.n[k + 1];
    const float *li = b->cs.lo[l->in[0]], *ui = b->cs.hi[l->in[0]];
    float *lo = b->cs.lo[k + 1], *hi = b->cs.hi[k + 1], *q = b->cs.ly[k].q;
    int C = is.c, sound = b->cfg.sound, is_max = l->kind == IBP_LAYER_MAXPOOL;
#pragma omp parallel for num_threads(b->threads) schedule(static) if (((size_t)batch * n_out) >= BND_PAR_MIN)
    for (int s = 0; s < batch; s++)
        for (int oh = 0; oh < os.h; oh++)
            for (int ow = 0; ow < os.w; ow++) {
                int h0 = oh * l->sh - l->ph, w0 = ow * l->sw - l->pw;
                int i0 = h0 < 0 ? 0 : h0, j0 = w0 < 0 ? 0 : w0;
                int i1 = h0 + l->kh > is.h ? is.h : h0 + l->kh;
                int j1 = w0 + l->kw > is.w ? is.w : w0 + l->kw;
                int cnt = (i1 - i0) * (j1 - j0), div = l->count_pad ? l->kh * l->kw : cnt;
                for (int c = 0; c < C; c++) {
                    double sl = 0, su = 0, al = 0, au = 0, sm = 0;
                    float ml = -INFINITY, mu = -INFINITY;
                    for (int ih = i0; ih < i1; ih++)
                        for (int iw = j0; iw < j1; iw++) {
                            size_t j = (size_t)s * n_in + ((size_t)ih * is.w + iw) * C + c;
                            ml = fmaxf(ml, li[j]);
                            mu = fmaxf(mu, ui[j]);
                            sl += li[j];
                            su += ui[j];
                            al += fabs((double)li[j]);
                            au += fabs((double)ui[j]);
                            sm += fmax(fabs((double)li[j]), fabs((double)ui[j]));
                        }
                    size_t o = (size_t)s * n_out + ((size_t)oh * os.w + ow) * C + c;
                    if (is_max) {
                        lo[o] = ml;
                        hi[o] = mu;
                    } else if (sound) {
                        /* E3 on the window sums, then one division each, outward */
                        lo[o] = fp_to_float_dn(fp_ddn(fp_dsum_lower(sl, al, cnt) / div));
                        hi[o] = fp_to_float_up(fp_dup(-fp_dsum_lower(-su, au, cnt) / div));
                        q[o] = fp_to_float_up(fp_dup(fp_dsum_up(sm, cnt) / div));
                    } else {
                        float inv = 1.0f / (float)div;
                        lo[o] = (float)sl * inv;
                        hi[o] = (float)su * inv;
                    }
                }
            }
}

static void forward_layer(const struct ibp_net *net, struct ibp_bounder *b, int k, int batch)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    int a = l->in[0], sound = b->cfg.sound;
    size_t e = (size_t)batch * b->cs.n[k + 1];
    float *lo = b->cs.lo[k + 1], *hi = b->cs.hi[k + 1];
    switch (l->kind) {
    case IBP_LAYER_LINEAR:
    case IBP_LAYER_CONV2D:
        forward_affine(net, b, k, batch);
        break;
    case IBP_LAYER_BATCHNORM:
    case IBP_LAYER_NORMALIZE:
        forward_diag(net, b, k, batch);
        break;
    case IBP_LAYER_RELU:
        forward_relu(net, b, k, batch);
        break;
    case IBP_LAYER_FLATTEN: {
        struct ibp_shape s = net->shapes[a];
        size_t hw = (size_t)s.h * s.w, C = (size_t)s.c, n = hw * C;
#pragma omp parallel for num_threads(b->threads) schedule(static) if (((size_t)batch * n) >= BND_PAR_MIN)
        for (int i = 0; i < batch; i++)
            for (size_t q = 0; q < hw; q++)
                for (size_t c = 0; c < C; c++) {
                    lo[(size_t)i * n + c * hw + q] = b->cs.lo[a][(size_t)i * n + q * C + c];
                    hi[(size_t)i * n + c * hw + q] = b->cs.hi[a][(size_t)i * n + q * C + c];
                }
        break;
    }
    case IBP_LAYER_ADD: {
        const float *l1 = b->cs.lo[a], *u1 = b->cs.hi[a], *l2 = b->cs.lo[l->in[1]], *u2 = b->cs.hi[l->in[1]];
#pragma omp parallel for num_threads(b->threads) schedule(static) if ((e) >= BND_PAR_MIN)
        for (size_t i = 0; i < e; i++) {
            lo[i] = sound ? fp_dn(l1[i] + l2[i]) : l1[i] + l2[i];
            hi[i] = sound ? fp_up(u1[i] + u2[i]) : u1[i] + u2[i];
        }
        break;
    }
    case IBP_LAYER_AVGPOOL:
    case IBP_LAYER_MAXPOOL:
        forward_pool(net, b, k, batch);
        break;
    }
    if (sound) {
        /* a NaN bound (inf - inf after an overflow) knows nothing: widen it to +-inf */
#pragma omp parallel for num_threads(b->threads) schedule(static) if ((e) >= BND_PAR_MIN)
        for (size_t i = 0; i < e; i++) {
            if (isnan(lo[i]))
                lo[i] = -INFINITY;
            if (isnan(hi[i]))
                hi[i] = INFINITY;
        }
    }
}

/* sound: msum[v][s] >= sum_j max(|lo|, |hi|) (E2) */
static void magnitude_sums(struct ibp_bounder *b, int v, int batch)
{
    size_t n = b->cs.n[v];
#pragma omp parallel for num_threads(b->threads) schedule(static) if (((size_t)batch * n) >= BND_PAR_MIN)
    for (int s = 0; s < batch; s++) {
        const float *lo = b->cs.lo[v] + (size_t)s * n, *hi = b->cs.hi[v] + (size_t)s * n;
        double d = 0.0;
        for (size_t j = 0; j < n; j++)
            d += fmax(fabs((double)lo[j]), fabs((double)hi[j]));
        b->cs.msum[v][s] = fp_dsum_up(d, (long)n);
    }
}

/* ---- rows ----------------------------------------------------------------------- */

/* internal (NHWC) index of NCHW output element o of value v */
static size_t internal_index(const struct ibp_net *net, int v, int o)
{
    struct ibp_shape s = net->shapes[v];
    size_t hw = (size_t)s.h * s.w;
    return ((size_t)o % hw) * (size_t)s.c + (size_t)o / hw;
}

/* Lambda rows of the output value for samples [s0, s0 + ns) into context cx: row
 * (s - s0) * rows + m */
static void spec_rows(const struct ibp_net *net, struct ibp_bounder *b, struct bnd_ctx *cx,
                      const struct ibp_spec *spec, int s0, int ns, int rows)
{
    int L = net->n_layers, K = ibp_net_outputs(net);
    size_t n = b->cs.n[L];
    float *lam = cx->slot[b->cs.slot_of[L]];
    for (int s = s0; s < s0 + ns; s++)
        for (int m = 0; m < rows; m++) {
            int i = (s - s0) * rows + m;
            float *x = lam + (size_t)i * n;
            memset(x, 0, n * sizeof(float));
            cx->row_sample[i] = s;
            cx->cst[i] = 0.0;
            if (spec && spec->labels) {
                int y = spec->labels[s], j = m < y ? m : m + 1;
                x[internal_index(net, L, y)] = 1.0f;
                x[internal_index(net, L, j)] = -1.0f;
            } else if (spec && spec->C) {
                const float *c = spec->C + ((size_t)s * rows + m) * K;
                for (int o = 0; o < K; o++)
                    x[internal_index(net, L, o)] = c[o];
            } else {
                x[internal_index(net, L, m)] = 1.0f;
            }
        }
}

/* lb[s][m] for all samples by a backward pass from the spec rows down to layer k_stop;
 * chunks of samples in parallel (each chunk's result does not depend on the thread) */
static void spec_bounds(const struct ibp_net *net, struct ibp_bounder *b,
                        const struct ibp_spec *spec, int batch, int rows, int k_stop, float *lb)
{
    long fit = ibp_crown_plan_windows(net, &b->cs, &b->ctx[0], net->n_layers, k_stop, NULL);
    int per = (int)((fit < b->rmax ? fit : b->rmax) / rows);
    int chunks = (batch + per - 1) / per;
#pragma omp parallel num_threads(bnd_chunk_threads(b, chunks))
    {
        struct bnd_ctx *cx = &b->ctx[omp_get_thread_num()];
        ibp_crown_plan_windows(net, &b->cs, cx, net->n_layers, k_stop, NULL);
#pragma omp for schedule(dynamic, 1)
        for (int c = 0; c < chunks; c++) {
            int s0 = c * per, ns = batch - s0 < per ? batch - s0 : per;
            spec_rows(net, b, cx, spec, s0, ns, rows);
            ibp_crown_backward(net, &b->cs, cx, net->n_layers, k_stop, ns * rows, 1);
            for (int i = 0; i < ns * rows; i++)
                lb[(size_t)s0 * rows + i] = fp_to_float_dn(cx->cst[i]);
        }
    }
}

/* One chunk of full CROWN's tightening: rows for the unstable neurons unstable[u0 ..
 * u0 + np), all at position (ph, pw) of value v, two rows each (lower bound of z_j
 * and of -z_j); the windows of that position are planned in cx. */
static void tighten_chunk(const struct ibp_net *net, struct ibp_bounder *b,
                          struct bnd_ctx *cx, int v, int ph, int pw, long u0, int np)
{
    struct ibp_shape sh = net->shapes[v];
    const struct bnd_win *w = &cx->win[v];
    size_t n = b->cs.n[v], C = (size_t)sh.c, wn = cx->wn[v];
    /* offset of position (ph, pw) in the window's row layout */
    size_t at = ((size_t)(ph - w->h0) * (size_t)(w->w1 - w->w0) + (size_t)(pw - w->w0)) * C;
    float *lo = b->cs.lo[v], *hi = b->cs.hi[v], *lam = cx->slot[b->cs.slot_of[v]];
    int vs = b->share_at[v];
    if (!b->cfg.sound && vs < v) {
        /* one row per channel from v down to vs, then two rows (+-) per neuron */
        int nu = 0;
        for (size_t c = 0; c < C; c++)
            cx->chan_row[c] = -1;
        for (int q = 0; q < np; q++) {
            size_t c = (size_t)b->unstable[u0 + q] % C;
            if (cx->chan_row[c] >= 0)
                continue;
            float *row = lam + (size_t)nu * wn;
            memset(row, 0, wn * sizeof(float));
            row[at + c] = 1.0f;
            cx->row_sample[nu] = 0;
            cx->cst[nu] = 0.0;
            cx->chan_row[c] = nu++;
        }
        ibp_crown_backward(net, &b->cs, cx, v, vs, nu, 0);
        size_t ws = cx->wn[vs];
        float *ls = cx->slot[b->cs.slot_of[vs]];
        memcpy(cx->share, ls, (size_t)nu * ws * sizeof(float));
        memcpy(cx->share_cst, cx->cst, (size_t)nu * sizeof(double));
        for (int q = 0; q < np; q++) {
            int i = b->unstable[u0 + q], r = cx->chan_row[(size_t)i % C];
            cx->share_row[q] = r;
            cx->row_sample[2 * q] = cx->row_sample[2 * q + 1] = (int)((size_t)i / n);
            cx->cst[2 * q] = cx->share_cst[r];
            cx->cst[2 * q + 1] = -cx->share_cst[r];
        }
        if (vs > b->k_box) { /* layer vs - 1 is the ReLU (share_value) */
            ibp_crown_relu_shared(net, &b->cs, cx, vs, cx->share, cx->share_row, np);
            ibp_crown_backward(net, &b->cs, cx, net->layers[vs - 1].in[0], b->k_box, 2 * np, 1);
        } else {
            for (int q = 0; q < np; q++) {
                const float *src = cx->share + (size_t)cx->share_row[q] * ws;
                float *up = ls + (size_t)(2 * q) * ws, *dn = up + ws;
                for (size_t j = 0; j < ws; j++) {
                    up[j] = src[j];
                    dn[j] = -src[j];
                }
            }
            ibp_crown_backward(net, &b->cs, cx, vs, b->k_box, 2 * np, 1);
        }
    } else {
        for (int q = 0; q < 2 * np; q++) {
            int i = b->unstable[u0 + q / 2];
            float *row = lam + (size_t)q * wn;
            memset(row, 0, wn * sizeof(float));
            row[at + (size_t)i % C] = q % 2 ? -1.0f : 1.0f;
            cx->row_sample[q] = (int)((size_t)i / n);
            cx->cst[q] = 0.0;
        }
        ibp_crown_backward(net, &b->cs, cx, v, b->k_box, 2 * np, 1);
    }
    /* the backward pass reads no bound of v itself: chunks may write them meanwhile */
    for (int q = 0; q < np; q++) {
        int i = b->unstable[u0 + q];
        float nl = fp_to_float_dn(cx->cst[2 * q]), nh = -fp_to_float_dn(cx->cst[2 * q + 1]);
        float l = fmaxf(lo[i], nl), h = fminf(hi[i], nh);
        if (l > h) /* float mode only: the two bounds crossed by rounding */
            l = h = 0.5f * (l + h);
        lo[i] = l;
        hi[i] = h;
    }
}

/* full CROWN: tighten the bounds of value v (a ReLU input) by CROWN on its unstable
 * neurons. Rows are grouped by position of v (all samples and channels there), so
 * that their windows are that position's receptive fields; the chunks run in
 * parallel, each thread with its own context. */
static void tighten(const struct ibp_net *net, struct ibp_bounder *b, int v, int batch)
{
    struct ibp_shape sh = net->shapes[v];
    size_t n = b->cs.n[v], C = (size_t)sh.c;
    int P = sh.h * sh.w;
    const float *lo = b->cs.lo[v], *hi = b->cs.hi[v];
    long count = 0, n_task = 0;
    /* unstable neurons position by position, channel-major inside a position, so that
     * a chunk holds few channels and computes few shared rows (tighten_chunk); chunk
     * starts in task[] */
    for (int p = 0; p < P; p++) {
        b->pos_start[p] = count;
        for (size_t c = 0; c < C; c++)
            for (int s = 0; s < batch; s++) {
                size_t i = (size_t)s * n + (size_t)p * C + c;
                if (lo[i] < 0.0f && hi[i] > 0.0f)
                    b->unstable[count++] = (int)i;
            }
        if (count == b->pos_start[p])
            continue;
        struct bnd_win x = {p / sh.w, p / sh.w + 1, p % sh.w, p % sh.w + 1};
        long fit = ibp_crown_plan_windows(net, &b->cs, &b->ctx[0], v, b->k_box, &x);
        long per = (fit < b->rmax ? fit : b->rmax) / 2;
        for (long u = b->pos_start[p]; u < count; u += per)
            b->task[n_task++] = u;
    }
    b->pos_start[P] = count;
#pragma omp parallel num_threads(bnd_chunk_threads(b, n_task))
    {
        struct bnd_ctx *cx = &b->ctx[omp_get_thread_num()];
        int planned = -1;
#pragma omp for schedule(dynamic, 1)
        for (long t = 0; t < n_task; t++) {
            long u0 = b->task[t];
            int p = (int)(((size_t)b->unstable[u0] % n) / C);
            long end = t + 1 < n_task ? b->task[t + 1] : count;
            if (end > b->pos_start[p + 1])
                end = b->pos_start[p + 1];
            if (p != planned) {
                struct bnd_win x = {p / sh.w, p / sh.w + 1, p % sh.w, p % sh.w + 1};
                ibp_crown_plan_windows(net, &b->cs, cx, v, b->k_box, &x);
                planned = p;
            }
            tighten_chunk(net, b, cx, v, p / sh.w, p % sh.w, u0, (int)(end - u0));
        }
    }
}

/* ---- run ------------------------------------------------------------------------ */

static enum ibp_status check_run(const struct ibp_net *net, const struct ibp_bounder *b,
                                 const float *lo, const float *hi, int batch,
                                 const struct ibp_spec *spec, const float *lb, int *rows,
                                 struct ibp_error *err)
{
    int K = ibp_net_outputs(net);
    if (!lo || !hi || !lb)
        return ibp_fail(err, IBP_ERR_ARG, "bounder run: lo, hi and lb must not be NULL");
    if (net->n_layers != b->L)
        return ibp_fail(err, IBP_ERR_ARG, "bounder run: the net is not the one the bounder "
                                          "was made for");
    if (batch < 1 || batch > b->cfg.max_batch)
        return ibp_fail(err, IBP_ERR_ARG, "bounder run: batch %d outside [1, %d]", batch,
                        b->cfg.max_batch);
    if (spec && spec->labels) {
        *rows = K - 1;
        for (int s = 0; s < batch; s++)
            if (spec->labels[s] < 0 || spec->labels[s] >= K)
                return ibp_fail(err, IBP_ERR_ARG, "bounder run: label %d of sample %d outside "
                                "[0, %d)", spec->labels[s], s, K);
    } else if (spec && spec->C) {
        *rows = spec->rows;
        if (spec->rows < 1)
            return ibp_fail(err, IBP_ERR_ARG, "bounder run: spec rows %d must be >= 1",
                            spec->rows);
        size_t e = (size_t)batch * spec->rows * K;
        for (size_t i = 0; i < e; i++)
            if (!isfinite(spec->C[i]))
                return ibp_fail(err, IBP_ERR_NUMERIC, "bounder run: spec C[%zu] is not finite",
                                i);
    } else {
        *rows = K;
    }
    if (*rows < 1 || *rows > b->cfg.max_rows)
        return ibp_fail(err, IBP_ERR_ARG, "bounder run: %d spec rows, the bounder was made for "
                        "at most %d", *rows, b->cfg.max_rows);
    size_t e = (size_t)batch * ibp_shape_size(net->input);
    for (size_t i = 0; i < e; i++) {
        if (!isfinite(lo[i]) || !isfinite(hi[i]))
            return ibp_fail(err, IBP_ERR_NUMERIC, "bounder run: input element %zu of the box is "
                            "not finite", i);
        if (lo[i] > hi[i])
            return ibp_fail(err, IBP_ERR_ARG, "bounder run: input element %zu has lo %g > hi "
                            "%g", i, (double)lo[i], (double)hi[i]);
    }
    return IBP_OK;
}

enum ibp_status ibp_bounder_run(const struct ibp_net *net, struct ibp_bounder *b,
                                const float *lo, const float *hi, int batch,
                                const struct ibp_spec *spec, float *lb,
                                struct ibp_error *err)
{
    if (!b)
        return ibp_fail(err, IBP_ERR_ARG, "bounder run: bounder must not be NULL");
    int rows = 0;
    enum ibp_status st = check_run(net, b, lo, hi, batch, spec, lb, &rows, err);
    if (st != IBP_OK)
        return st;
    int sound = b->cfg.sound, L = net->n_layers;
    enum ibp_bound_method method = b->cfg.method;
    size_t out_e = (size_t)batch * rows;
    if (!sound) {
        st = ibp_pass_bounds(net, b->ws, lo, hi, batch, spec, IBP_BN_EVAL,
                             method == IBP_BOUND_IBP ? lb : b->ibp_lb, NULL, err);
        if (st != IBP_OK || method == IBP_BOUND_IBP)
            return st;
    }
    st = prepare(net, b, err);
    if (st != IBP_OK)
        return st;
    /* value 0: the box, NCHW -> NHWC */
    struct ibp_shape in = net->input;
    size_t hw = (size_t)in.h * in.w, n0 = b->cs.n[0];
#pragma omp parallel for num_threads(b->threads) schedule(static) if (((size_t)batch * n0) >= BND_PAR_MIN)
    for (int s = 0; s < batch; s++)
        for (size_t e = 0; e < n0; e++) {
            size_t d = (size_t)s * n0 + (e % hw) * (size_t)in.c + e / hw;
            b->cs.lo[0][d] = lo[(size_t)s * n0 + e];
            b->cs.hi[0][d] = hi[(size_t)s * n0 + e];
        }
    if (sound)
        magnitude_sums(b, 0, batch);
    for (int k = 0; k < L; k++) {
        forward_layer(net, b, k, batch);
        if (b->crown_at[k + 1] && b->cs.slot_of[k + 1] >= 0)
            tighten(net, b, k + 1, batch);
        if (sound)
            magnitude_sums(b, k + 1, batch);
    }
    /* IBP with the specification folded into the last layer, on this pass's bounds:
     * the sound IBP bound, and for full CROWN (whose intermediate bounds are tighter
     * than IBP's) a bound often better than CROWN's own on the last rows */
    int last_linear = net->layers[L - 1].kind == IBP_LAYER_LINEAR;
    if (sound) {
        spec_bounds(net, b, spec, batch, rows, last_linear ? L - 1 : L,
                    method == IBP_BOUND_IBP ? lb : b->ibp_lb);
        if (method == IBP_BOUND_IBP)
            return IBP_OK;
    } else if (method == IBP_BOUND_CROWN) {
        spec_bounds(net, b, spec, batch, rows, last_linear ? L - 1 : L, b->own_lb);
        for (size_t i = 0; i < out_e; i++)
            b->ibp_lb[i] = fmaxf(b->ibp_lb[i], b->own_lb[i]);
    }
    spec_bounds(net, b, spec, batch, rows, b->k_box, b->own_lb);
    for (size_t i = 0; i < out_e; i++)
        lb[i] = fmaxf(b->own_lb[i], b->ibp_lb[i]);
    return IBP_OK;
}

void ibp_bounder_value_bounds(const struct ibp_bounder *b, int v, int s, const float **lo,
                              const float **hi)
{
    *lo = b->cs.lo[v] + (size_t)s * b->cs.n[v];
    *hi = b->cs.hi[v] + (size_t)s * b->cs.n[v];
}
