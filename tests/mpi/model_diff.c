/* model_diff A B TOL: compares the weights and buffers of two model files of one
 * architecture. Prints the largest difference relative to the largest magnitude of
 * each (|a - b|max / |a|max, parameters and buffers apart) and how many values differ
 * at all; exits 0 when both are <= TOL, 1 when not, 2 on bad input. TOL 0 asks for
 * identical bytes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nets/formats/model_file.h"
#include "nets/graph/net.h"

static double rel_diff(const float *a, const float *b, size_t n, size_t *differ)
{
    double most = 0.0, big = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        most = d > most ? d : most;
        big = fabs(a[i]) > big ? fabs(a[i]) : big;
        *differ += memcmp(&a[i], &b[i], sizeof a[i]) != 0;
    }
    return big > 0.0 ? most / big : most;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: model_diff A.ibpm B.ibpm TOL\n");
        return 2;
    }
    double tol = atof(argv[3]);
    struct ibp_net *a = NULL, *b = NULL;
    struct ibp_error err;
    if (ibp_model_load(argv[1], &a, NULL, &err) != IBP_OK ||
        ibp_model_load(argv[2], &b, NULL, &err) != IBP_OK) {
        fprintf(stderr, "model_diff: %s\n", err.msg);
        return 2;
    }
    if (a->n_params != b->n_params || a->n_buffers != b->n_buffers) {
        fprintf(stderr, "model_diff: different architectures\n");
        return 2;
    }
    size_t differ = 0;
    double dp = rel_diff(a->params, b->params, a->n_params, &differ);
    double db = rel_diff(a->buffers, b->buffers, a->n_buffers, &differ);
    printf("max relative difference: weights %.3g, buffers %.3g; %zu of %zu values differ\n",
           dp, db, differ, a->n_params + a->n_buffers);
    int ok = tol > 0.0 ? dp <= tol && db <= tol : differ == 0;
    ibp_net_free(a);
    ibp_net_free(b);
    return ok ? 0 : 1;
}
