#pragma once
// The single-precision GEMM micro-kernels, one X-macro line each: X(name, tier, MR, NR). The dispatch
// (gemm_dispatch.cpp), the tests (tests/kernels/gemm_test.cpp) and the micro-benchmark (benchmarks/gemm_bench.cpp)
// all read this list; `name()` (defined in the tier's gemm_<tier>.cpp) returns the kernel's code table
// (gemm_kernel.h). Order: ascending tier; the dispatch takes the last entry the active tier allows.
//
// Tiles (MR rows of C broadcast from A, NR = 2 vectors of columns loaded from B; MR x 2 accumulators):
// - avx2 6x16: 12 accumulators + 2 B vectors + 1 broadcast = 15 of the 16 ymm registers. 12 independent FMA
//   chains cover the FMA latency x throughput of Zen 2/3/4 and Haswell..Alder Lake (5 x 2 or 4 x 2 = 8..10 in
//   flight), and each k step issues 12 FMAs for 8 loads (2 vectors + 6 broadcasts), under 2 loads per cycle.
// - avx512 12x32: 24 accumulators + 2 B vectors + 1 broadcast = 27 of the 32 zmm registers. 14x32 (31 of 32)
//   would feed 28 FMAs per 16 loads instead of 24 per 14: the same ratio, with no register left for the
//   compiler, which then spills in the epilogue; 12 also divides the usual channel and token counts
//   (48, 96, 192, 384, 768) where 14 divides none of them.
// - portable 12x32: plain C++ lanes (16 of them) for CPUs without AVX2; it has the avx512 kernel's exact tile
//   and template arguments, so that kernel's tile logic (row tails 1..12, half-width column tails, masks of 16
//   lanes) is exercised by the tests on any CPU, also on days when the CPU has no AVX-512.

#define KILN_GEMM_F32_KERNELS(X)               \
  X(gemm_f32_12x32_portable, kRef, 12, 32)     \
  X(gemm_f32_6x16_avx2, kAvx2, 6, 16)          \
  X(gemm_f32_12x32_avx512, kAvx512, 12, 32)
