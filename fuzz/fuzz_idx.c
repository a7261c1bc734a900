/* fuzz_idx.c — the IDX reader (datasets/idx.h), plain or gzip.
 * Input: u8 n_classes - 1, u32 little-endian length L of the images file, L bytes of the
 * images file, the rest the labels file. */
#include <stdlib.h>

#include "datasets/idx.h"
#include "fuzz/fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5)
        return 0;
    int n_classes = data[0] + 1;
    size_t len = (size_t)data[1] | (size_t)data[2] << 8 | (size_t)data[3] << 16 |
                 (size_t)data[4] << 24;
    size_t rest = size - 5;
    if (len > rest)
        len = rest;
    char images[512], labels[512];
    if (ibp_fuzz_write_file("idx-images", data + 5, len, images, sizeof images) != 0)
        return 0;
    if (ibp_fuzz_write_file("idx-labels", data + 5 + len, rest - len, labels,
                            sizeof labels) != 0) {
        ibp_fuzz_remove(images);
        return 0;
    }
    struct ibp_dataset *ds = NULL;
    struct ibp_error err;
    if (ibp_idx_read(images, labels, n_classes, &ds, &err) == IBP_OK) {
        ibp_fuzz_require(ds->n >= 1 && ds->c == 1 && ds->h >= 1 && ds->w >= 1,
                         "idx: dataset shape");
        for (int64_t i = 0; i < ds->n; i++)
            ibp_fuzz_require(ds->labels[i] >= 0 && ds->labels[i] < n_classes, "idx: label");
        ibp_dataset_free(ds);
    } else {
        ibp_fuzz_require(ds == NULL && err.msg[0] != '\0', "idx: failure without message");
    }
    ibp_fuzz_remove(images);
    ibp_fuzz_remove(labels);
    return 0;
}
