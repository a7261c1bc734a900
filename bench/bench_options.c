#include "bench/bench_options.h"

#include <stdio.h>

#include "nets/base/bytes.h"

int bench_parse_options(const char *prog, const struct ibp_opt *opts, int n, int argc,
                        char **argv)
{
    struct ibp_error err = {0};
    int help = 0;
    if (ibp_opts_parse(opts, n, argc, argv, 1, NULL, 0, NULL, &help, &err) == IBP_OK && !help)
        return -1;
    struct ibp_wbuf w = {0};
    ibp_opts_help(opts, n, &w);
    if (!help)
        fprintf(stderr, "%s: %s\n", prog, err.msg);
    fprintf(help ? stdout : stderr, "usage: %s [options]\n%s", prog,
            w.data ? (const char *)w.data : "");
    ibp_wbuf_free(&w);
    return help ? 0 : 2;
}
