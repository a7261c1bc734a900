/* memory.h — how much address space a program may still take, so that a run that cannot
 * fit under a memory limit (ulimit -v) fails at its start with a message saying what it
 * needs, rather than aborting inside a library half way (BLIS aborts when its packing
 * buffers cannot be allocated).
 *
 * The programs allocate up front (data, model, workspaces), then check that the limit
 * leaves room for what is allocated later: GEMM packing buffers and thread stacks. */
#ifndef IBP_MEMORY_H
#define IBP_MEMORY_H

#include <stddef.h>

#include "nets/base/status.h"

/* Address space (GEMM packing buffers, thread stack, allocator arena) one thread of the
 * passes takes after start-up, with room to spare. Measured with BLIS's OpenMP build by
 * the smallest `ulimit -v` a 3-epoch ibp-train run survives, less what it held at
 * start: mlp about 14 MiB a thread, cnn-small at batch 64 with 2 threads 89 MiB. */
#define IBP_MEM_PER_THREAD ((size_t)48 << 20)

/* The soft address-space limit (RLIMIT_AS) in bytes, or 0 when there is none. */
size_t ibp_mem_limit(void);

/* The address space this process holds now (VmSize) in bytes, 0 when unknown. */
size_t ibp_mem_in_use(void);

/* Checks that `more` bytes of address space can still be taken, by mapping (and
 * unmapping) them; always IBP_OK without a limit. Errors: IBP_ERR_NOMEM with the message
 * "needs about T MiB of memory (U MiB taken at start for WHAT, M MiB for GEMM and thread
 * buffers), more than the address-space limit (ulimit -v) of L MiB". */
enum ibp_status ibp_mem_check_room(size_t more, const char *what, struct ibp_error *err);

/* For a start-up allocation that failed (IBP_ERR_NOMEM in err) under a limit: appends
 * to err's message the least the run needs (what was taken when it failed plus `more`;
 * what the failed allocation asked for comes on top) and the limit: "...: needs more than
 * N MiB of memory (...) under the address-space limit (ulimit -v) of L MiB". Leaves err
 * alone without a limit. */
void ibp_mem_explain_failure(size_t more, struct ibp_error *err);

#endif
