/* fuzz_cifar.c — the CIFAR binary reader (datasets/cifar.h).
 * Input: u8 label kind (mod 3: CIFAR-10, CIFAR-100 fine, CIFAR-100 coarse), the rest the
 * batch file. */
#include "datasets/cifar.h"
#include "fuzz/fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const enum ibp_cifar_labels kinds[3] = {
        IBP_CIFAR_LABELS_10, IBP_CIFAR_LABELS_100_FINE, IBP_CIFAR_LABELS_100_COARSE};
    enum ibp_cifar_labels kind = kinds[data[0] % 3];
    char path[512];
    if (ibp_fuzz_write_file("cifar", data + 1, size - 1, path, sizeof path) != 0)
        return 0;
    const char *paths[1] = {path};
    struct ibp_dataset *ds = NULL;
    struct ibp_error err;
    if (ibp_cifar_read_files(paths, 1, kind, &ds, &err) == IBP_OK) {
        ibp_fuzz_require(ds->c == 3 && ds->h == 32 && ds->w == 32 && ds->n >= 1,
                         "cifar: dataset shape");
        for (int64_t i = 0; i < ds->n; i++)
            ibp_fuzz_require(ds->labels[i] >= 0 && ds->labels[i] < ds->n_classes,
                             "cifar: label");
        ibp_dataset_free(ds);
    } else {
        ibp_fuzz_require(ds == NULL && err.msg[0] != '\0', "cifar: failure without message");
    }
    ibp_fuzz_remove(path);
    return 0;
}
