/* cpu.h — the one CPU-feature check: which instruction-set level the kernels may use,
 * asked of the CPU at run time (the build targets plain x86-64 unless -Dnative=true). */
#ifndef IBP_CPU_H
#define IBP_CPU_H

/* Levels, most capable first. IBP_ISA_BEST is "no limit" in a request. */
enum ibp_isa {
    IBP_ISA_BEST = 0,
    IBP_ISA_AVX512, /* AVX-512F (with AVX2 and FMA) */
    IBP_ISA_AVX2,   /* AVX2 and FMA */
    IBP_ISA_PORTABLE,
};

/* The CPU's level (never IBP_ISA_BEST). Cheap: callers ask it where they choose. */
enum ibp_isa ibp_cpu_isa(void);

/* The level kernels run at when a caller (a test) allows at most `limit`: the less
 * capable of the two. */
enum ibp_isa ibp_isa_allowed(enum ibp_isa limit);

/* A CPU (any vendor) with AVX-512 F, DQ, BW and VL: the set BLIS's Skylake-X kernels
 * need (nets/kernels/gemm.c asks BLIS for them where its own detection misses them). */
int ibp_cpu_avx512_skx(void);

#endif
