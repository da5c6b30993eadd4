// The few-input-channel convolution kernels, one line per kernel: KILN_STEMCONV(name, tier, simd wrapper). The
// dispatch (stemconv.cpp), the tests (tests/kernels/stemconv_test.cpp) and the micro-benchmarks
// (benchmarks/dwconv_bench.cpp) all read this list. Define KILN_STEMCONV before including; the file undefines it.

KILN_STEMCONV(stemconv_f32_avx2, kAvx2, Avx2)
KILN_STEMCONV(stemconv_f32_avx512, kAvx512, Avx512)

#undef KILN_STEMCONV
