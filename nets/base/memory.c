#define _GNU_SOURCE /* pthread_getattr_default_np, mallopt */
#include "nets/base/memory.h"

#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
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

size_t ibp_mem_heap_allocated(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* OMP_STACKSIZE's syntax: a positive integer, optionally followed by B, K, M or G
 * (either case; no suffix means K). Returns 0 for anything else. */
static size_t parse_stacksize(const char *s)
{
    if (!s)
        return 0;
    while (*s == ' ')
        s++;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || v == 0)
        return 0;
    while (*end == ' ')
        end++;
    unsigned shift = 10;
    switch (*end) {
    case '\0': break;
    case 'b': case 'B': shift = 0; end++; break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: return 0;
    }
    while (*end == ' ')
        end++;
    if (*end != '\0' || v > (SIZE_MAX >> shift))
        return 0;
    return (size_t)v << shift;
}

size_t ibp_mem_thread_stack(void)
{
    size_t stack = parse_stacksize(getenv("OMP_STACKSIZE"));
    if (stack == 0)
        stack = parse_stacksize(getenv("GOMP_STACKSIZE"));
    if (stack == 0) {
        pthread_attr_t attr;
        if (pthread_getattr_default_np(&attr) == 0) {
            pthread_attr_getstacksize(&attr, &stack);
            pthread_attr_destroy(&attr);
        }
    }
    if (stack == 0)
        stack = (size_t)8 << 20;
    long page = sysconf(_SC_PAGESIZE);
    return stack + (size_t)(page > 0 ? page : 4096);
}

void ibp_mem_limit_policy(void)
{
    if (ibp_mem_limit() != 0)
        mallopt(M_ARENA_MAX, 1);
}

static size_t later_total(const struct ibp_mem_later *l)
{
    return l->buffers + l->thread_stacks + l->gemm_packing + IBP_MEM_MARGIN;
}

static void describe(const struct ibp_mem_later *l, char *out, size_t len)
{
    snprintf(out, len, "%zu MiB of buffers, %zu MiB of thread stacks, %zu MiB of GEMM "
             "packing and %zu MiB of margin", MIB(l->buffers), MIB(l->thread_stacks),
             MIB(l->gemm_packing), MIB(IBP_MEM_MARGIN));
}

enum ibp_status ibp_mem_check_room(const struct ibp_mem_later *later, const char *what,
                                   struct ibp_error *err)
{
    size_t limit = ibp_mem_limit();
    if (limit == 0)
        return IBP_OK;
    size_t more = later_total(later);
    /* A block this large is mapped by the allocator, and a mapping counts against
     * RLIMIT_AS whether or not it is touched: this asks, without touching a page, the
     * question the later allocations will. */
    void *p = malloc(more);
    if (p) {
        free(p);
        return IBP_OK;
    }
    size_t used = ibp_mem_in_use();
    char parts[256];
    describe(later, parts, sizeof parts);
    return ibp_fail(err, IBP_ERR_NOMEM,
                    "needs about %zu MiB of memory (%zu MiB taken at start for %s, then %s), "
                    "more than the address-space limit (ulimit -v) of %zu MiB",
                    MIB(used + more), MIB(used), what, parts, MIB(limit));
}

void ibp_mem_explain_failure(const struct ibp_mem_later *later, struct ibp_error *err)
{
    size_t limit = ibp_mem_limit();
    if (limit == 0 || !err)
        return;
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err->msg);
    size_t used = ibp_mem_in_use();
    char parts[256];
    describe(later, parts, sizeof parts);
    ibp_fail(err, IBP_ERR_NOMEM,
             "%s: needs more than %zu MiB of memory (%zu MiB taken when this allocation "
             "failed, then %s) under the address-space limit (ulimit -v) of %zu MiB", msg,
             MIB(used + later_total(later)), MIB(used), parts, MIB(limit));
}
