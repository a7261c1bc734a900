/* fuzz_model.c — the model file (nets/formats/model_file.h): the input as it is, and a
 * copy with its size field and checksum made right so that the mutations reach the
 * header, layer and parameter checks. A model that decodes must encode again, and that
 * image must decode to one that encodes to the same bytes.
 * Input: the model file. */
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_input.h"
#include "nets/formats/model_file.h"

static void decode(const uint8_t *data, size_t size)
{
    struct ibp_net *net = NULL;
    struct ibp_model_meta meta;
    struct ibp_error err;
    if (ibp_model_decode(data, size, "fuzz.ibpm", &net, &meta, &err) != IBP_OK) {
        ibp_fuzz_require(net == NULL && err.msg[0] != '\0', "model: failure without message");
        return;
    }
    struct ibp_wbuf once = {0}, twice = {0};
    ibp_fuzz_require(ibp_model_encode(net, &meta, &once, &err) == IBP_OK,
                     "model: a decoded model does not encode");
    struct ibp_net *again = NULL;
    struct ibp_model_meta meta2;
    ibp_fuzz_require(ibp_model_decode(once.data, once.len, "again", &again, &meta2, &err) ==
                         IBP_OK,
                     "model: an encoded model does not decode");
    ibp_fuzz_require(ibp_model_encode(again, &meta2, &twice, &err) == IBP_OK,
                     "model: a re-decoded model does not encode");
    ibp_fuzz_require(once.len == twice.len && memcmp(once.data, twice.data, once.len) == 0,
                     "model: encoding is not stable");
    ibp_wbuf_free(&once);
    ibp_wbuf_free(&twice);
    ibp_net_free(again);
    ibp_model_meta_free(&meta2);
    ibp_net_free(net);
    ibp_model_meta_free(&meta);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode(data, size);
    uint8_t *fixed = ibp_fuzz_fix_checksum(data, size);
    if (fixed) {
        decode(fixed, size);
        free(fixed);
    }
    return 0;
}
