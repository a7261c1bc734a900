#include "trainer/loss.h"

#include <math.h>
#include <stddef.h>

double ibp_robust_ce(const float *lb, int batch, int rows, float *grad)
{
    double total = 0.0;
    for (int b = 0; b < batch; b++) {
        const float *l = lb + (size_t)b * rows;
        /* z = [0, -lb_1, ..., -lb_rows]; log-sum-exp shifted by max(z) */
        double m = 0.0;
        for (int j = 0; j < rows; j++)
            if (-(double)l[j] > m)
                m = -(double)l[j];
        double sum = exp(-m);
        for (int j = 0; j < rows; j++)
            sum += exp(-(double)l[j] - m);
        double lse = m + log(sum);
        total += lse;
        if (grad) {
            float *g = grad + (size_t)b * rows;
            for (int j = 0; j < rows; j++)
                g[j] = (float)(-exp(-(double)l[j] - lse) / batch);
        }
    }
    return total / batch;
}

double ibp_cross_entropy(const float *logits, const int *labels, int batch, int classes,
                         float *grad)
{
    double total = 0.0;
    for (int b = 0; b < batch; b++) {
        const float *z = logits + (size_t)b * classes;
        double m = z[0];
        for (int j = 1; j < classes; j++)
            if (z[j] > m)
                m = z[j];
        double sum = 0.0;
        for (int j = 0; j < classes; j++)
            sum += exp((double)z[j] - m);
        double lse = m + log(sum);
        total += lse - z[labels[b]];
        if (grad) {
            float *g = grad + (size_t)b * classes;
            for (int j = 0; j < classes; j++)
                g[j] = (float)((exp((double)z[j] - lse) - (j == labels[b])) / batch);
        }
    }
    return total / batch;
}

double ibp_mtl_ibp_loss(const float *lb, const float *logits_adv, const int *labels,
                        int batch, int classes, double alpha, float *g_lb, float *g_logits,
                        double *robust, double *adv)
{
    int rows = classes - 1;
    double r = ibp_robust_ce(lb, batch, rows, g_lb);
    double a = ibp_cross_entropy(logits_adv, labels, batch, classes, g_logits);
    if (g_lb) {
        for (size_t i = 0; i < (size_t)batch * (size_t)rows; i++)
            g_lb[i] = (float)(alpha * g_lb[i]);
        for (size_t i = 0; i < (size_t)batch * (size_t)classes; i++)
            g_logits[i] = (float)((1.0 - alpha) * g_logits[i]);
    }
    if (robust)
        *robust = r;
    if (adv)
        *adv = a;
    return alpha * r + (1.0 - alpha) * a;
}

int ibp_count_verified(const float *lb, int batch, int rows)
{
    int n = 0;
    for (int b = 0; b < batch; b++) {
        int ok = 1;
        for (int j = 0; j < rows && ok; j++)
            ok = lb[(size_t)b * rows + j] > 0.0f;
        n += ok;
    }
    return n;
}

int ibp_count_errors(const float *logits, const int *labels, int batch, int classes)
{
    int n = 0;
    for (int b = 0; b < batch; b++) {
        const float *z = logits + (size_t)b * classes;
        int best = 0, nan = isnan(z[0]);
        for (int j = 1; j < classes; j++) {
            nan |= isnan(z[j]);
            if (z[j] > z[best])
                best = j;
        }
        n += nan || best != labels[b];
    }
    return n;
}
