/* fuzz_onnx.c — the ONNX importer (nets/formats/onnx_import.h) from memory, plain or
 * gzip, without and with a caller's normalisation. Input: the ONNX file. */
#include "fuzz/fuzz_input.h"
#include "nets/formats/onnx_import.h"

static void load(const uint8_t *data, size_t size, const struct ibp_onnx_options *opt)
{
    struct ibp_net *net = NULL;
    struct ibp_onnx_info info;
    struct ibp_error err;
    if (ibp_onnx_load_buffer(data, size, "fuzz.onnx", opt, &net, &info, &err) == IBP_OK) {
        ibp_fuzz_require(net != NULL && info.n_outputs >= 1 && info.n_inputs >= 1,
                         "onnx: loaded model incomplete");
        ibp_net_free(net);
    } else {
        ibp_fuzz_require(net == NULL && err.msg[0] != '\0', "onnx: failure without message");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load(data, size, NULL);
    static const float mean[1] = {0.1307f}, std[1] = {0.3081f};
    struct ibp_onnx_options opt = {1, mean, std};
    load(data, size, &opt);
    return 0;
}
