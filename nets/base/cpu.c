#include "nets/base/cpu.h"

enum ibp_isa ibp_cpu_isa(void)
{
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return IBP_ISA_PORTABLE;
    return __builtin_cpu_supports("avx512f") ? IBP_ISA_AVX512 : IBP_ISA_AVX2;
}

enum ibp_isa ibp_isa_allowed(enum ibp_isa limit)
{
    enum ibp_isa cpu = ibp_cpu_isa();
    return limit > cpu ? limit : cpu;
}

int ibp_cpu_avx512_skx(void)
{
    return __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
}
