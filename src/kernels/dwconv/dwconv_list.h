// The depthwise plane kernels, one line per kernel: KILN_DWCONV(name, tier, simd wrapper). The dispatch
// (dwconv.cpp), the tests (tests/kernels/dwconv_test.cpp) and the micro-benchmarks (benchmarks/dwconv_bench.cpp)
// all read this list; the reference (dwconv_f32_ref, tier kRef) is not listed here, it is the oracle.
// Define KILN_DWCONV before including; the file undefines it.

KILN_DWCONV(dwconv_f32_avx2, kAvx2, Avx2)
KILN_DWCONV(dwconv_f32_avx512, kAvx512, Avx512)

#undef KILN_DWCONV
