#include "datasets/open_options.h"

#include <stdio.h>
#include <string.h>

#include "nets/base/parse.h"

static enum ibp_status parse_channels(void *dest, const char *name, const char *value,
                                      struct ibp_error *err)
{
    long v;
    if (ibp_parse_int(value, name, 0, 3, &v, err) != IBP_OK || v == 2)
        return ibp_fail(err, IBP_ERR_ARG, "%s: '%s' is not 0, 1 or 3", name, value);
    ((struct ibp_open_options *)dest)->channels = (int)v;
    return IBP_OK;
}

static enum ibp_status parse_shape(void *dest, const char *name, const char *value,
                                   struct ibp_error *err)
{
    struct ibp_open_options *o = dest;
    long dims[3];
    char part[32];
    const char *p = value;
    for (int i = 0; i < 3; i++) {
        const char *comma = strchr(p, ',');
        size_t len = comma && i < 2 ? (size_t)(comma - p) : strlen(p);
        if ((i < 2 && !comma) || len >= sizeof part)
            return ibp_fail(err, IBP_ERR_ARG, "%s: '%s' is not C,H,W", name, value);
        memcpy(part, p, len);
        part[len] = '\0';
        long max = i == 0 ? IBP_DATASET_MAX_CHANNELS : 1 << 16;
        if (ibp_parse_int(part, name, 1, max, &dims[i], err) != IBP_OK)
            return ibp_fail(err, IBP_ERR_ARG, "%s: '%s' is not C,H,W (C in [1, %d], H and W "
                                              "in [1, 65536])",
                            name, value, IBP_DATASET_MAX_CHANNELS);
        p += len + 1;
    }
    o->c = (int)dims[0];
    o->h = (int)dims[1];
    o->w = (int)dims[2];
    return IBP_OK;
}

int ibp_open_options_table(struct ibp_open_options *o, struct ibp_opt *out)
{
    const struct ibp_opt t[IBP_OPEN_N_OPTS] = {
        {.kind = IBP_OPT_STRING, .name = "--split", .arg = "train|test", .dest = &o->split,
         .help = "split of a named dataset or folder"},
        {.kind = IBP_OPT_STRING, .name = "--root", .arg = "DIR", .dest = &o->root,
         .help = "folder of named datasets", .def = IBP_DATASETS_ROOT},
        {.kind = IBP_OPT_CALL, .name = "--channels", .arg = "0|1|3", .dest = o,
         .call = parse_channels, .help = "PNG channels; 0 = as the first image", .def = "0"},
        {.kind = IBP_OPT_FLAG, .name = "--convert", .dest = &o->convert, .flag = 1,
         .help = "PNG: allow gray<->RGB conversion (default off)", .def = ""},
        {.kind = IBP_OPT_CALL, .name = "--shape", .arg = "C,H,W", .dest = o,
         .call = parse_shape,
         .help = "CSV image shape; colour CSV (3,32,32) holds each\n"
                 "pixel's R,G,B together, as ERAN's CIFAR CSV",
         .def = "1,28,28"},
        {.kind = IBP_OPT_INT, .name = "--classes", .arg = "N", .dest = &o->n_classes,
         .lo = 1, .hi = 1 << 20, .help = "CSV/IDX/list number of classes", .def = "10"},
        {.kind = IBP_OPT_FLAG, .name = "--coarse", .dest = &o->coarse, .flag = 1,
         .help = "CIFAR-100: coarse labels (default fine)", .def = ""},
    };
    memcpy(out, t, sizeof t);
    return IBP_OPEN_N_OPTS;
}
