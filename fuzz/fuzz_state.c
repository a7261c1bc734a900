/* fuzz_state.c — the training-state file (trainer/train_state.h), as it is and with its
 * size field and checksum made right (the embedded model and optimiser blob behind them).
 * Input: the state file. */
#include <stdlib.h>

#include "fuzz/fuzz_input.h"
#include "trainer/train_state.h"

static void load(const uint8_t *data, size_t size)
{
    char path[512];
    if (ibp_fuzz_write_file("state", data, size, path, sizeof path) != 0)
        return;
    struct ibp_train_state s;
    struct ibp_error err;
    if (ibp_train_state_load(path, &s, &err) == IBP_OK) {
        ibp_fuzz_require(s.net != NULL && s.config_text != NULL && s.pos.epoch >= 1,
                         "state: loaded state incomplete");
        ibp_train_state_free(&s);
    } else {
        ibp_fuzz_require(s.net == NULL && err.msg[0] != '\0', "state: failure without message");
    }
    ibp_fuzz_remove(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load(data, size);
    uint8_t *fixed = ibp_fuzz_fix_checksum(data, size);
    if (fixed) {
        load(fixed, size);
        free(fixed);
    }
    return 0;
}
