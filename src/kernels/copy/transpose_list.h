// The 4-byte transpose tile kernels, one X-macro line each: KILN_TRANSPOSE_KERNELS(suffix, tier) names
// transpose_4byte_<suffix> (signature in transpose.h). Read by the copy engine's dispatch (strided_copy.cpp),
// the tests and the micro-benchmarks. No include guard: define KILN_TRANSPOSE_KERNELS, include, undefine.
// AVX-512 CPUs run the AVX2 kernel: an 8 x 8 register transpose already moves whole cache lines per tile,
// and the copy is bound by memory, not by the instruction width.
KILN_TRANSPOSE_KERNELS(avx2, kAvx2)
