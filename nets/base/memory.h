/* memory.h — what a run needs of the address space, so that under a memory limit
 * (ulimit -v, RLIMIT_AS) a program refuses at its start, saying how much it needs,
 * instead of failing half way (BLIS aborts when its packing buffers cannot be had;
 * libgomp exits when it cannot create a thread).
 *
 * How the programs use it: everything sized once (data, model, workspaces) is
 * allocated first, so the address space held then is measured (VmSize). What comes
 * later is added as a sum of parts the program knows (struct ibp_mem_later: its own
 * buffers written during the run, such as checkpoint images, OpenMP thread stacks,
 * BLIS packing blocks per thread) plus IBP_MEM_MARGIN for what none of them owns;
 * ibp_mem_check_room maps that sum once (untouched pages: exactly what RLIMIT_AS
 * counts) and fails with the whole figure when it does not fit. Under a limit the
 * programs also keep glibc to one malloc arena (ibp_mem_limit_policy): each further
 * arena reserves 64 MiB of address space, which no figure should have to include. */
#ifndef IBP_MEMORY_H
#define IBP_MEMORY_H

#include <stddef.h>

#include "nets/base/status.h"

/* Address space taken after start-up that no part below accounts for: libpng and zlib
 * state (--save-adv), stdio buffers, BLIS's small-block allocator and thread info,
 * libgomp's team structures, the allocator's slack. Measured 2026-12-07 with the check
 * disabled, cnn-small at batch 128, 8 MiB steps of ulimit -v: the smallest limit that
 * ran was at or below (taken at start + the parts) for ibp-train and ibp-verify on 1
 * and 2 threads, closest for ibp-verify on 2 threads (164 MiB against 166); the margin
 * is what keeps a figure safe where the parts are tighter than there. */
#define IBP_MEM_MARGIN ((size_t)12 << 20)

/* The parts of what a run takes after start-up, in bytes. */
struct ibp_mem_later {
    size_t buffers;       /* the program's own allocations during the run */
    size_t thread_stacks; /* OpenMP worker threads (threads - 1) x ibp_mem_thread_stack */
    size_t gemm_packing;  /* threads x ibp_gemm_pack_bytes (nets/kernels/gemm.h) */
};

/* The soft address-space limit (RLIMIT_AS) in bytes, or 0 when there is none. */
size_t ibp_mem_limit(void);

/* The address space this process holds now (VmSize) in bytes, 0 when unknown. */
size_t ibp_mem_in_use(void);

/* Bytes the heap has handed out and not yet been given back (glibc mallinfo2: in use
 * in the arenas plus mapped blocks), for measuring what an allocation step takes. */
size_t ibp_mem_heap_allocated(void);

/* Address space one OpenMP worker thread's stack takes: OMP_STACKSIZE (or
 * GOMP_STACKSIZE) when set and valid, else the default pthread stack size; plus a
 * guard page. */
size_t ibp_mem_thread_stack(void);

/* Under an address-space limit, limits glibc malloc to one arena (mallopt M_ARENA_MAX);
 * does nothing without a limit. Call at program start, before any thread exists. */
void ibp_mem_limit_policy(void);

/* Checks that later's parts plus IBP_MEM_MARGIN can still be mapped; always IBP_OK
 * without a limit. Errors: IBP_ERR_NOMEM, "needs about T MiB of memory (U MiB taken at
 * start for WHAT, then B MiB of buffers, S MiB of thread stacks, P MiB of GEMM packing
 * and M MiB of margin), more than the address-space limit (ulimit -v) of L MiB". */
enum ibp_status ibp_mem_check_room(const struct ibp_mem_later *later, const char *what,
                                   struct ibp_error *err);

/* For a start-up allocation that failed (IBP_ERR_NOMEM in err) under a limit: appends
 * the least the run needs (what was taken when it failed plus later's parts and the
 * margin; the failed allocation comes on top) and the limit: "...: needs more than N MiB
 * of memory (...) under the address-space limit (ulimit -v) of L MiB". Leaves err alone
 * without a limit. */
void ibp_mem_explain_failure(const struct ibp_mem_later *later, struct ibp_error *err);

#endif
