/* exact_mlp.c — random ReLU MLPs with exactly enumerated ranges (exact_mlp.h). */
#include "tests/verifier/exact_mlp.h"

#include <math.h>
#include <string.h>

#include "nets/passes/passes.h"

#define L(...) ((struct ibp_layer_spec){__VA_ARGS__, .in = {IBP_PREV, 0}})
enum { MAXV = 64 };

const float exact_mlp_C[EXACT_ROWS * EXACT_OUTS] = {1, -1, 0, 1, 0, -1};

struct poly {
    int n;
    double x[MAXV], y[MAXV];
};

/* the part of P where a x + b y + c >= 0 */
static void clip(const struct poly *P, double a, double b, double c, struct poly *Q)
{
    Q->n = 0;
    for (int i = 0; i < P->n; i++) {
        int k = (i + 1) % P->n;
        double vi = a * P->x[i] + b * P->y[i] + c, vk = a * P->x[k] + b * P->y[k] + c;
        if (vi >= 0) {
            Q->x[Q->n] = P->x[i];
            Q->y[Q->n++] = P->y[i];
        }
        if ((vi >= 0) != (vk >= 0)) {
            double t = vi / (vi - vk);
            Q->x[Q->n] = P->x[i] + t * (P->x[k] - P->x[i]);
            Q->y[Q->n++] = P->y[i] + t * (P->y[k] - P->y[i]);
        }
    }
}

struct enum_state {
    const struct exact_mlp *m;
    const signed char *pattern;
    int leaves;
    double mn[EXACT_ROWS], mx[EXACT_ROWS];
};

/* affine maps [3] = (coef x, coef y, const) */
static void rec(struct enum_state *s, int layer, int j, const struct poly *P,
                double (*pre)[3], double (*post)[3])
{
    const struct exact_mlp *m = s->m;
    int width = layer == 0 ? m->h1 : m->h2;
    if (P->n == 0)
        return;
    if (j == width) {
        double nxt[EXACT_MAXH][3], out[EXACT_OUTS][3];
        if (layer == 0) {
            for (int i = 0; i < m->h2; i++)
                for (int t = 0; t < 3; t++) {
                    double v = t == 2 ? m->b2[i] : 0.0;
                    for (int k = 0; k < m->h1; k++)
                        v += m->W2[i][k] * post[k][t];
                    nxt[i][t] = v;
                }
            double post2[EXACT_MAXH][3];
            rec(s, 1, 0, P, nxt, post2);
            return;
        }
        for (int o = 0; o < EXACT_OUTS; o++)
            for (int t = 0; t < 3; t++) {
                double v = t == 2 ? m->b3[o] : 0.0;
                for (int k = 0; k < m->h2; k++)
                    v += m->W3[o][k] * post[k][t];
                out[o][t] = v;
            }
        s->leaves++;
        for (int r = 0; r < EXACT_ROWS; r++)
            for (int i = 0; i < P->n; i++) {
                double v = 0.0;
                for (int t = 0; t < 3; t++) {
                    double c = out[0][t] - out[r + 1][t];
                    v += t == 0 ? c * P->x[i] : t == 1 ? c * P->y[i] : c;
                }
                s->mn[r] = fmin(s->mn[r], v);
                s->mx[r] = fmax(s->mx[r], v);
            }
        return;
    }
    double *z = pre[j], lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < P->n; i++) {
        double v = z[0] * P->x[i] + z[1] * P->y[i] + z[2];
        lo = fmin(lo, v);
        hi = fmax(hi, v);
    }
    int want = s->pattern ? s->pattern[layer * m->h1 + j] : 0;
    if (hi > 0 && want >= 0) { /* active part */
        struct poly Q;
        if (lo >= 0)
            Q = *P;
        else
            clip(P, z[0], z[1], z[2], &Q);
        memcpy(post[j], z, 3 * sizeof(double));
        rec(s, layer, j + 1, &Q, pre, post);
    }
    if (lo < 0 && want <= 0) { /* inactive part */
        struct poly Q;
        if (hi <= 0)
            Q = *P;
        else
            clip(P, -z[0], -z[1], -z[2], &Q);
        memset(post[j], 0, 3 * sizeof(double));
        rec(s, layer, j + 1, &Q, pre, post);
    }
}

int exact_mlp_range(const struct exact_mlp *m, const signed char *pattern, double *mn,
                    double *mx)
{
    struct enum_state s = {m, pattern, 0, {INFINITY, INFINITY}, {-INFINITY, -INFINITY}};
    struct poly P = {4, {-1, 1, 1, -1}, {-1, -1, 1, 1}};
    double pre[EXACT_MAXH][3], post[EXACT_MAXH][3];
    for (int i = 0; i < m->h1; i++) {
        pre[i][0] = m->W1[i][0];
        pre[i][1] = m->W1[i][1];
        pre[i][2] = m->b1[i];
    }
    rec(&s, 0, 0, &P, pre, post);
    memcpy(mn, s.mn, sizeof s.mn);
    memcpy(mx, s.mx, sizeof s.mx);
    return s.leaves > 0;
}

void exact_mlp_pattern(const struct exact_mlp *m, const double *x, signed char *pattern)
{
    double h[EXACT_MAXH];
    for (int i = 0; i < m->h1; i++) {
        double z = m->W1[i][0] * x[0] + m->W1[i][1] * x[1] + m->b1[i];
        pattern[i] = z > 0 ? 1 : -1;
        h[i] = z > 0 ? z : 0.0;
    }
    for (int i = 0; i < m->h2; i++) {
        double z = m->b2[i];
        for (int k = 0; k < m->h1; k++)
            z += m->W2[i][k] * h[k];
        pattern[m->h1 + i] = z > 0 ? 1 : -1;
    }
}

struct ibp_net *exact_mlp_make(struct ibp_rng *rng, int h1, int h2, struct exact_mlp *m)
{
    struct ibp_layer_spec s[5] = {L(.kind = IBP_LAYER_LINEAR, .out = h1), L(.kind = IBP_LAYER_RELU),
                                  L(.kind = IBP_LAYER_LINEAR, .out = h2), L(.kind = IBP_LAYER_RELU),
                                  L(.kind = IBP_LAYER_LINEAR, .out = EXACT_OUTS)};
    struct ibp_net *net;
    struct ibp_error err;
    if (ibp_net_create((struct ibp_shape){2, 1, 1}, s, 5, &net, &err) != IBP_OK)
        return NULL;
    m->h1 = h1;
    m->h2 = h2;
    int fan[3] = {2, h1, h2}, outn[3] = {h1, h2, EXACT_OUTS}, lay[3] = {0, 2, 4};
    for (int l = 0; l < 3; l++) {
        float *w = ibp_layer_weight(net, lay[l]), *b = ibp_layer_bias(net, lay[l]);
        for (int i = 0; i < outn[l]; i++) {
            for (int k = 0; k < fan[l]; k++) {
                w[i * fan[l] + k] = (float)(ibp_rng_normal(rng) / sqrt((double)fan[l]));
                double v = w[i * fan[l] + k];
                if (l == 0)
                    m->W1[i][k] = v;
                else if (l == 1)
                    m->W2[i][k] = v;
                else
                    m->W3[i][k] = v;
            }
            b[i] = (float)(0.5 * ibp_rng_normal(rng));
            (l == 0 ? m->b1 : l == 1 ? m->b2 : m->b3)[i] = b[i];
        }
    }
    return net;
}

int exact_mlp_violated(const struct ibp_net *net, const float *d, const float *x)
{
    struct ibp_workspace *ws;
    struct ibp_error err;
    float z[EXACT_OUTS];
    if (ibp_ws_create(net, 1, IBP_WS_CLEAN, &ws, &err) != IBP_OK)
        return 0;
    int bad = ibp_pass_clean(net, ws, x, 1, IBP_BN_EVAL, z, &err) == IBP_OK ? 0 : -1;
    for (int r = 0; bad == 0 && r < EXACT_ROWS; r++) {
        double v = d[r];
        for (int o = 0; o < EXACT_OUTS; o++)
            v += (double)exact_mlp_C[r * EXACT_OUTS + o] * z[o];
        bad |= v <= 0.0;
    }
    ibp_ws_free(ws);
    return bad == 1;
}

int exact_mlp_offsets(const double *mn, const double *mx, double frac, int sat_row, float *d)
{
    int unsat = 1;
    for (int r = 0; r < EXACT_ROWS; r++) {
        double delta = frac * (mx[r] - mn[r]);
        d[r] = (float)(-mn[r] + (r == sat_row ? -delta : delta));
        unsat &= mn[r] + (double)d[r] > 0.0;
    }
    return unsat;
}
