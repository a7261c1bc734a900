/* fuzz_parse.c — the command-line number parsers (nets/base/parse.h) and the index
 * lists of --indices (datasets/dataset.h). A number that parses must lie in the range
 * asked for and be finite.
 * Input: u8 parser choice (mod 7), the rest the text (cut at its first NUL). */
#include <math.h>
#include <stdlib.h>

#include "datasets/dataset.h"
#include "fuzz/fuzz_input.h"
#include "nets/base/parse.h"

#define INDEX_LIMIT 1000

static void parse(int which, const char *text)
{
    struct ibp_error err;
    switch (which) {
    case 0: {
        long v;
        if (ibp_parse_int(text, "--batch", -1000, 1000000, &v, &err) == IBP_OK)
            ibp_fuzz_require(v >= -1000 && v <= 1000000, "parse_int: out of range");
        break;
    }
    case 1: {
        uint64_t v;
        if (ibp_parse_u64(text, "--seed", UINT64_MAX / 3, &v, &err) == IBP_OK)
            ibp_fuzz_require(v <= UINT64_MAX / 3, "parse_u64: out of range");
        break;
    }
    case 2: {
        double v;
        if (ibp_parse_double(text, "--lr", &v, &err) == IBP_OK)
            ibp_fuzz_require(isfinite(v), "parse_double: not finite");
        break;
    }
    case 3: {
        double v;
        if (ibp_parse_eps(text, "--eps", &v, &err) == IBP_OK)
            ibp_fuzz_require(v >= 0 && v <= 1, "parse_eps: outside [0, 1]");
        break;
    }
    case 4: {
        float v[4];
        int n = 0;
        if (ibp_parse_float_list(text, "--mean", v, 4, &n, &err) == IBP_OK) {
            ibp_fuzz_require(n >= 1 && n <= 4, "parse_float_list: count");
            for (int i = 0; i < n; i++)
                ibp_fuzz_require(isfinite(v[i]), "parse_float_list: not finite");
        }
        break;
    }
    case 5: {
        const char *s = text;
        int64_t v;
        while (ibp_scan_index(&s, &v) == 0) {
            ibp_fuzz_require(v >= 0, "scan_index: negative");
            if (*s)
                s++;
        }
        break;
    }
    default: {
        int64_t *idx = NULL, n = 0;
        if (ibp_indices_parse(text, INDEX_LIMIT, &idx, &n, &err) == IBP_OK) {
            for (int64_t i = 0; i < n; i++)
                ibp_fuzz_require(idx[i] >= 0 && idx[i] < INDEX_LIMIT, "indices: range");
            free(idx);
        }
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *text = ibp_fuzz_text(data + 1, size - 1);
    if (!text)
        return 0;
    parse(data[0] % 7, text);
    free(text);
    return 0;
}
