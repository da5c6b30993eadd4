// The channel-blocked depthwise kernels, one line per kernel: KILN_DWCHAN(name, tier, simd wrapper). The dispatch
// (dwchan.cpp), the tests (tests/kernels/dwchan_test.cpp) and the micro-benchmarks (benchmarks/dwconv_bench.cpp)
// all read this list. Define KILN_DWCHAN before including; the file undefines it.

KILN_DWCHAN(dwchan_f32_avx2, kAvx2, Avx2)
KILN_DWCHAN(dwchan_f32_avx512, kAvx512, Avx512)

#undef KILN_DWCHAN
