/* regularizer.h — the warmup regularisers of the short-warmup recipe (SPEC §4.3) on the
 * bounds of every ReLU's input, with their gradients.
 *
 * For ReLU layers i = 1..m, over the whole batch tensor (N_i = batch * size values):
 *   D_i   = mean(r_i),  D_0 = mean of the input box radius;
 *   L_tight = (1/(tau m)) sum_i ReLU(tau - D_0 / max(D_i, 1e-12));
 *   with c = centres, mu = mean(c), A = {c - r > 0}, I = {c + r < 0}:
 *     alpha = sum_A c / (-sum_I c),  beta = sum_A (c-mu)^2 / sum_I (c-mu)^2,
 *     alpha' = min(alpha, 1/max(alpha, 1e-12)), beta' likewise,
 *     term_i = (ReLU(tau - alpha') + ReLU(tau - beta')) / tau,
 *   L_relu = (1/m) sum_i term_i, a layer's term skipped (m unchanged) when A or I is
 *   empty or the term is not finite.
 * The masks A, I carry no gradient; gradients flow through c (and mu) and r. Sums are in
 * double, in a fixed order, so results do not depend on threads. Subgradients follow
 * PyTorch autograd (ReLU'(0) = 0, clamp passes the gradient at the bound, min splits a
 * tie in half), so the gradient equals that of the reference implementation. */
#ifndef IBP_REGULARIZER_H
#define IBP_REGULARIZER_H

#include <stddef.h>

#include "nets/passes/passes.h"

struct ibp_reg_terms {
    double tight;     /* L_tight */
    double relu;      /* L_relu */
    int relu_counted; /* layers whose balance term was counted */
};

/* Computes L_tight and L_relu over layers[0..m) (c, r: [batch][size]) and the input box
 * radius input_r[batch][input_size]; when lambda != 0, ADDS lambda * d(L_tight +
 * L_relu)/dc and /dr into each layer's gc and gr (which must then be non-NULL). m = 0
 * gives zeros. sum (NULL, or fn NULL: this batch alone): in a data-parallel run, where
 * each process holds a part of the batch, every pooled sum (and count) is added up over
 * the processes through it, so the terms are the whole batch's on every process and
 * each process's gradients are its own values' share. Errors: IBP_ERR_NOMEM; IBP_ERR_ARG for batch < 1, tau <= 0, an empty layer or input,
 * or a missing gradient slot. */
enum ibp_status ibp_reg_warmup(const struct ibp_relu_bounds *layers, int m, int batch,
                               const float *input_r, size_t input_size, double tau,
                               double lambda, const struct ibp_sum_hook *sum,
                               struct ibp_reg_terms *out, struct ibp_error *err);

#endif
