/* fuzz_csv.c — the ERAN CSV reader (datasets/csv.h).
 * Input: u8 shape choice (mod 4: 1x28x28, 1x2x2, 3x2x2, 1x1x1, 10 classes), the rest
 * the CSV file. */
#include "datasets/csv.h"
#include "fuzz/fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const int shapes[4][3] = {{1, 28, 28}, {1, 2, 2}, {3, 2, 2}, {1, 1, 1}};
    const int *s = shapes[data[0] % 4];
    char path[512];
    if (ibp_fuzz_write_file("csv", data + 1, size - 1, path, sizeof path) != 0)
        return 0;
    struct ibp_dataset *ds = NULL;
    struct ibp_error err;
    if (ibp_csv_read(path, s[0], s[1], s[2], 10, &ds, &err) == IBP_OK) {
        ibp_fuzz_require(ds->n >= 1 && ds->c == s[0] && ds->h == s[1] && ds->w == s[2],
                         "csv: dataset shape");
        for (int64_t i = 0; i < ds->n; i++)
            ibp_fuzz_require(ds->labels[i] >= 0 && ds->labels[i] < 10, "csv: label");
        ibp_dataset_free(ds);
    } else {
        ibp_fuzz_require(ds == NULL && err.msg[0] != '\0', "csv: failure without message");
    }
    ibp_fuzz_remove(path);
    return 0;
}
