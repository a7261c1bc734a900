/* fuzz_png.c — the PNG reader through libpng (datasets/png_read.h): the header probe,
 * then a read at the probed size, with and without channel conversion.
 * Input: the PNG file. */
#include <stdlib.h>

#include "datasets/png_read.h"
#include "fuzz/fuzz_input.h"

/* The harness's own buffer limit (the reader is still given every header). */
#define MAX_PIXELS (1 << 22)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    if (ibp_fuzz_write_file("png", data, size, path, sizeof path) != 0)
        return 0;
    int c = 0, h = 0, w = 0;
    struct ibp_error err;
    if (ibp_png_probe(path, &c, &h, &w, &err) == IBP_OK) {
        ibp_fuzz_require((c == 1 || c == 3) && h >= 1 && w >= 1, "png: probed shape");
        if ((long long)h * w * 3 <= MAX_PIXELS) {
            uint8_t *dst = malloc(((size_t)h + 1) * (size_t)w * 3);
            if (dst) {
                ibp_png_read(path, c, h, w, 0, dst, &err);
                int other = c == 1 ? 3 : 1;
                if (ibp_png_read(path, other, h, w, 0, dst, &err) == IBP_OK)
                    ibp_fuzz_require(0, "png: other channel kind read without convert");
                ibp_png_read(path, other, h, w, 1, dst, &err);
                if (ibp_png_read(path, c, h + 1, w, 0, dst, &err) == IBP_OK)
                    ibp_fuzz_require(0, "png: wrong size accepted");
                free(dst);
            }
        }
    } else {
        ibp_fuzz_require(err.msg[0] != '\0', "png: failure without message");
    }
    ibp_fuzz_remove(path);
    return 0;
}
