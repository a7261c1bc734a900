/* model_forward MODEL IN OUT — the float32 clean forward (BatchNorm in eval mode) of a
 * model file or ONNX model, for tests that compare it with another framework: IN holds
 * raw little-endian float32 images [N][C][H][W] (N from the file's size), OUT receives
 * the logits [N][outputs] the same way. Exit 1 with a message on any error. */
#include <stdio.h>
#include <stdlib.h>

#include "nets/formats/model_open.h"
#include "nets/passes/passes.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: model_forward MODEL IN.f32 OUT.f32\n");
        return 2;
    }
    struct ibp_error err = {0};
    struct ibp_model_open_options o = {0};
    struct ibp_net *net = NULL;
    if (ibp_model_open(argv[1], &o, &net, NULL, &err) != IBP_OK) {
        fprintf(stderr, "model_forward: %s\n", err.msg);
        return 1;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        fprintf(stderr, "model_forward: %s: cannot open\n", argv[2]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    size_t per = ibp_shape_size(net->input);
    int n = (int)((size_t)bytes / (per * sizeof(float)));
    int outs = ibp_net_outputs(net);
    float *x = malloc((size_t)bytes), *z = malloc((size_t)(n > 0 ? n : 1) * outs * sizeof(float));
    if (n < 1 || (size_t)bytes != (size_t)n * per * sizeof(float) || !x || !z ||
        fread(x, 1, (size_t)bytes, f) != (size_t)bytes) {
        fprintf(stderr, "model_forward: %s: not a whole number of %zu-float images\n", argv[2], per);
        return 1;
    }
    fclose(f);
    struct ibp_workspace *ws = NULL;
    if (ibp_ws_create(net, n, IBP_WS_CLEAN, &ws, &err) != IBP_OK ||
        ibp_pass_clean(net, ws, x, n, IBP_BN_EVAL, z, &err) != IBP_OK) {
        fprintf(stderr, "model_forward: %s\n", err.msg);
        return 1;
    }
    FILE *g = fopen(argv[3], "wb");
    if (!g || fwrite(z, sizeof(float), (size_t)n * outs, g) != (size_t)n * outs || fclose(g)) {
        fprintf(stderr, "model_forward: %s: cannot write\n", argv[3]);
        return 1;
    }
    ibp_ws_free(ws);
    ibp_net_free(net);
    free(x);
    free(z);
    return 0;
}
