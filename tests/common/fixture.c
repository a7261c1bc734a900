#include "tests/common/fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double fixture_uniform(struct ibp_rng *rng, double a, double b)
{
    return a + (b - a) * ibp_rng_uniform(rng);
}

#define L(...) ((struct ibp_layer_spec){__VA_ARGS__, .in = {IBP_PREV, 0}})

void fixture_data_make(const struct ibp_net *net, int batch, double eps, int clip,
                       struct ibp_rng *rng, struct fixture_data *d)
{
    d->n = (size_t)batch * ibp_shape_size(net->input);
    d->x = malloc(d->n * sizeof(float));
    d->lo = malloc(d->n * sizeof(float));
    d->hi = malloc(d->n * sizeof(float));
    d->xd = malloc(d->n * sizeof(double));
    d->lod = malloc(d->n * sizeof(double));
    d->hid = malloc(d->n * sizeof(double));
    d->labels = malloc((size_t)batch * sizeof(int));
    for (size_t i = 0; i < d->n; i++) {
        d->x[i] = (float)ibp_rng_uniform(rng);
        d->lo[i] = d->x[i] - (float)eps;
        d->hi[i] = d->x[i] + (float)eps;
        if (clip) {
            d->lo[i] = d->lo[i] > 0.0f ? d->lo[i] : 0.0f;
            d->hi[i] = d->hi[i] < 1.0f ? d->hi[i] : 1.0f;
        }
        d->xd[i] = d->x[i];
        d->lod[i] = d->lo[i];
        d->hid[i] = d->hi[i];
    }
    int K = ibp_net_outputs(net);
    for (int b = 0; b < batch; b++)
        d->labels[b] = (int)ibp_rng_below(rng, (uint64_t)K);
}

void fixture_data_free(struct fixture_data *d)
{
    free(d->x);
    free(d->lo);
    free(d->hi);
    free(d->xd);
    free(d->lod);
    free(d->hid);
    free(d->labels);
}

const char *fixture_name(int i)
{
    static const char *const names[FIXTURE_COUNT] = {"conv-bn-maxpool", "residual-avgpool",
                                                     "dilated-avgpool-pad", "mlp-bn"};
    return names[i];
}

struct ibp_net *fixture_net(int i, struct ibp_rng *rng)
{
    struct ibp_layer_spec s[20];
    int n = 0;
    struct ibp_shape in;
    switch (i) {
    case 0:
        in = (struct ibp_shape){2, 7, 7};
        s[n++] = L(.kind = IBP_LAYER_NORMALIZE);
        s[n++] = L(.kind = IBP_LAYER_CONV2D, .out = 4, .kh = 3, .kw = 3, .ph = 1, .pw = 1);
        s[n++] = L(.kind = IBP_LAYER_BATCHNORM);
        s[n++] = L(.kind = IBP_LAYER_RELU);
        s[n++] = L(.kind = IBP_LAYER_CONV2D, .out = 6, .kh = 3, .kw = 2, .sh = 2, .sw = 1,
                   .ph = 1, .pw = 0, .groups = 2);
        s[n++] = L(.kind = IBP_LAYER_BATCHNORM);
        s[n++] = L(.kind = IBP_LAYER_RELU);
        s[n++] = L(.kind = IBP_LAYER_MAXPOOL, .kh = 2, .kw = 2, .sh = 1, .sw = 1);
        s[n++] = L(.kind = IBP_LAYER_FLATTEN);
        s[n++] = L(.kind = IBP_LAYER_LINEAR, .out = 7);
        s[n++] = L(.kind = IBP_LAYER_BATCHNORM);
        s[n++] = L(.kind = IBP_LAYER_RELU);
        s[n++] = L(.kind = IBP_LAYER_LINEAR, .out = 5);
        break;
    case 1:
        in = (struct ibp_shape){3, 6, 6};
        s[n++] = L(.kind = IBP_LAYER_CONV2D, .out = 4, .kh = 3, .kw = 3, .ph = 1, .pw = 1);
        s[n++] = L(.kind = IBP_LAYER_BATCHNORM);
        s[n++] = L(.kind = IBP_LAYER_RELU); /* value 3 */
        s[n++] = L(.kind = IBP_LAYER_CONV2D, .out = 4, .kh = 3, .kw = 3, .ph = 1, .pw = 1);
        s[n++] = L(.kind = IBP_LAYER_BATCHNORM);
        s[n++] = L(.kind = IBP_LAYER_RELU);
        s[n++] = L(.kind = IBP_LAYER_CONV2D, .out = 4, .kh = 3, .kw = 3, .ph = 1, .pw = 1);
        s[n++] = L(.kind = IBP_LAYER_BATCHNORM); /* value 8 */
        s[n] = L(.kind = IBP_LAYER_ADD);
        s[n].in[1] = 3;
        n++;
        s[n++] = L(.kind = IBP_LAYER_RELU);
        s[n++] = L(.kind = IBP_LAYER_AVGPOOL, .kh = 2, .kw = 2);
        s[n++] = L(.kind = IBP_LAYER_CONV2D, .out = 3, .kh = 1, .kw = 1);
        s[n++] = L(.kind = IBP_LAYER_FLATTEN);
        s[n++] = L(.kind = IBP_LAYER_LINEAR, .out = 4);
        break;
    case 2:
        in = (struct ibp_shape){1, 9, 8};
        s[n++] = L(.kind = IBP_LAYER_CONV2D, .out = 3, .kh = 3, .kw = 3, .ph = 2, .pw = 2, .dh = 2,
                   .dw = 2, .no_bias = 1);
        s[n++] = L(.kind = IBP_LAYER_RELU);
        s[n++] = L(.kind = IBP_LAYER_AVGPOOL, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1);
        s[n++] = L(.kind = IBP_LAYER_FLATTEN);
        s[n++] = L(.kind = IBP_LAYER_LINEAR, .out = 8);
        s[n++] = L(.kind = IBP_LAYER_RELU);
        s[n++] = L(.kind = IBP_LAYER_LINEAR, .out = 3);
        break;
    default:
        in = (struct ibp_shape){12, 1, 1};
        s[n++] = L(.kind = IBP_LAYER_NORMALIZE);
        s[n++] = L(.kind = IBP_LAYER_LINEAR, .out = 10);
        s[n++] = L(.kind = IBP_LAYER_BATCHNORM);
        s[n++] = L(.kind = IBP_LAYER_RELU);
        s[n++] = L(.kind = IBP_LAYER_LINEAR, .out = 9);
        s[n++] = L(.kind = IBP_LAYER_RELU);
        s[n++] = L(.kind = IBP_LAYER_LINEAR, .out = 4);
        break;
    }
    return fixture_build(in, s, n, rng);
}

struct ibp_net *fixture_build(struct ibp_shape in, const struct ibp_layer_spec *s, int n,
                              struct ibp_rng *rng)
{
    struct ibp_net *net;
    struct ibp_error err;
    if (ibp_net_create(in, s, n, &net, &err) != IBP_OK) {
        fprintf(stderr, "fixture: %s\n", err.msg);
        abort();
    }
    for (int k = 0; k < net->n_layers; k++) {
        const struct ibp_layer_spec *l = &net->layers[k];
        size_t np = ibp_layer_param_count(net, k);
        float *p = net->params + net->param_off[k];
        int c = net->shapes[l->in[0]].c;
        if (l->kind == IBP_LAYER_LINEAR || l->kind == IBP_LAYER_CONV2D) {
            double fan = (double)(np - (l->no_bias ? 0 : (size_t)l->out)) / l->out;
            double bound = 1.5 / sqrt(fan);
            for (size_t j = 0; j < np; j++)
                p[j] = (float)fixture_uniform(rng, -bound, bound);
        } else if (l->kind == IBP_LAYER_BATCHNORM) {
            float *rm = ibp_bn_running_mean(net, k), *rv = ibp_bn_running_var(net, k);
            for (int j = 0; j < c; j++) {
                p[j] = (float)fixture_uniform(rng, 0.5, 1.5);
                p[c + j] = (float)fixture_uniform(rng, -0.3, 0.3);
                rm[j] = (float)fixture_uniform(rng, -0.3, 0.3);
                rv[j] = (float)fixture_uniform(rng, 0.5, 2.0);
            }
        } else if (l->kind == IBP_LAYER_NORMALIZE) {
            float *m = ibp_normalize_mean(net, k), *sd = ibp_normalize_std(net, k);
            for (int j = 0; j < c; j++) {
                m[j] = (float)fixture_uniform(rng, 0.2, 0.6);
                sd[j] = (float)fixture_uniform(rng, 0.2, 0.5);
            }
        }
    }
    return net;
}

float fixture_frand(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (float)(*seed >> 8) / 16777216.0f - 0.5f;
}

float *fixture_random_floats(size_t n, unsigned *seed)
{
    float *p = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        p[i] = fixture_frand(seed);
    return p;
}

float *fixture_copy_floats(const float *src, size_t n)
{
    float *p = malloc(n * sizeof(float));
    memcpy(p, src, n * sizeof(float));
    return p;
}

void fixture_track_error(double got, double want, double scale, double *worst)
{
    double e = fabs(got - want) / (scale > 0.0 ? scale : 1e-30);
    *worst = e > *worst || e != e ? e : *worst;
}
