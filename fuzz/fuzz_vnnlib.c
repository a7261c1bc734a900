/* fuzz_vnnlib.c — the VNN-LIB reader (verifier/vnnlib.h): text from memory, or a gzip
 * file through the loader. Every box of a parsed property is turned into its margin
 * rows, checked at its centre and rounded to float as the verifier does.
 * Input: the property file. */
#include <stdlib.h>

#include "fuzz/fuzz_input.h"
#include "verifier/vnnlib.h"

/* The harness's own buffer limit for the rows x outputs matrix. */
#define MAX_CELLS (1 << 22)

static void use(const struct ibp_vnnlib *p)
{
    ibp_fuzz_require(p->n_inputs >= 1 && p->n_outputs >= 1 && p->n_boxes >= 0,
                     "vnnlib: sizes");
    double *x = malloc((size_t)p->n_inputs * sizeof *x);
    float *lo = malloc((size_t)p->n_inputs * sizeof *lo);
    float *hi = malloc((size_t)p->n_inputs * sizeof *hi);
    double *y = calloc((size_t)p->n_outputs, sizeof *y);
    for (int b = 0; x && lo && hi && y && b < p->n_boxes; b++) {
        const struct ibp_vnnlib_box *box = &p->boxes[b];
        for (int i = 0; i < p->n_inputs; i++) {
            ibp_fuzz_require(box->lo[i] <= box->hi[i], "vnnlib: empty box kept");
            x[i] = box->lo[i] + (box->hi[i] - box->lo[i]) / 2;
        }
        ibp_fuzz_require(ibp_vnnlib_in_box(p, b, x), "vnnlib: box centre outside the box");
        ibp_vnnlib_box_float(p, b, lo, hi);
        for (int i = 0; i < p->n_inputs; i++)
            ibp_fuzz_require(lo[i] <= box->lo[i] && hi[i] >= box->hi[i],
                             "vnnlib: float box not outward");
        int rows = ibp_vnnlib_box_rows(p, b);
        ibp_fuzz_require(rows >= 0, "vnnlib: rows");
        if (rows == 0 || (long long)rows * p->n_outputs > MAX_CELLS)
            continue;
        float *C = malloc((size_t)rows * (size_t)p->n_outputs * sizeof *C);
        double *offset = malloc((size_t)rows * sizeof *offset);
        double *lb = calloc((size_t)rows, sizeof *lb);
        int *disjunct = malloc((size_t)rows * sizeof *disjunct);
        if (C && offset && lb && disjunct) {
            ibp_vnnlib_spec(p, b, C, offset, disjunct);
            for (int r = 0; r < rows; r++)
                ibp_fuzz_require(disjunct[r] >= 0 && disjunct[r] < box->n_disjuncts,
                                 "vnnlib: disjunct index");
            ibp_vnnlib_proved(p, b, lb);
            ibp_vnnlib_violated(p, b, y);
        }
        free(C);
        free(offset);
        free(lb);
        free(disjunct);
    }
    free(x);
    free(lo);
    free(hi);
    free(y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ibp_vnnlib *p = NULL;
    struct ibp_error err;
    enum ibp_status st;
    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
        char path[512];
        if (ibp_fuzz_write_file("vnnlib.gz", data, size, path, sizeof path) != 0)
            return 0;
        st = ibp_vnnlib_load(path, &p, &err);
        ibp_fuzz_remove(path);
    } else {
        st = ibp_vnnlib_parse((const char *)data, size, "fuzz.vnnlib", &p, &err);
    }
    if (st == IBP_OK) {
        use(p);
        ibp_vnnlib_free(p);
    } else {
        ibp_fuzz_require(p == NULL && err.msg[0] != '\0', "vnnlib: failure without message");
    }
    return 0;
}
