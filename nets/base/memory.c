#include "nets/base/memory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MIB(b) (((b) + ((size_t)1 << 20) - 1) >> 20)

size_t ibp_mem_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 0;
    return (size_t)rl.rlim_cur;
}

size_t ibp_mem_in_use(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long pages = 0;
    int n = fscanf(f, "%lu", &pages);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return n == 1 && page > 0 ? (size_t)pages * (size_t)page : 0;
}

enum ibp_status ibp_mem_check_room(size_t more, const char *what, struct ibp_error *err)
{
    size_t limit = ibp_mem_limit();
    if (limit == 0 || more == 0)
        return IBP_OK;
    /* A block this large is mapped by the allocator, and a mapping counts against
     * RLIMIT_AS whether or not it is touched: this asks, without touching a page, the
     * question the later allocations will. */
    void *p = malloc(more);
    if (p) {
        free(p);
        return IBP_OK;
    }
    size_t used = ibp_mem_in_use();
    return ibp_fail(err, IBP_ERR_NOMEM,
                    "needs about %zu MiB of memory (%zu MiB taken at start for %s, %zu MiB for "
                    "GEMM and thread buffers), more than the address-space limit (ulimit -v) "
                    "of %zu MiB", MIB(used + more), MIB(used), what, MIB(more), MIB(limit));
}

void ibp_mem_explain_failure(size_t more, struct ibp_error *err)
{
    size_t limit = ibp_mem_limit();
    if (limit == 0 || !err)
        return;
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err->msg);
    size_t used = ibp_mem_in_use();
    ibp_fail(err, IBP_ERR_NOMEM,
             "%s: needs more than %zu MiB of memory (%zu MiB taken when this allocation "
             "failed, plus what it asked for, plus %zu MiB for GEMM and thread buffers) under "
             "the address-space limit (ulimit -v) of %zu MiB", msg, MIB(used + more),
             MIB(used), MIB(more), MIB(limit));
}
