// The channels-last depthwise kernels, one line per kernel: KILN_DWNHWC(name, tier, simd wrapper). The dispatch
// (dwnhwc.cpp), the tests (tests/kernels/dwnhwc_test.cpp) and the micro-benchmarks (benchmarks/dwconv_bench.cpp)
// all read this list. Define KILN_DWNHWC before including; the file undefines it.

KILN_DWNHWC(dwnhwc_f32_avx2, kAvx2, Avx2)
KILN_DWNHWC(dwnhwc_f32_avx512, kAvx512, Avx512)

#undef KILN_DWNHWC
