// The vbinary kernels, best tier first: KILN_VBINARY(name, tier). Included by vbinary.h, the dispatch in
// vbinary.cpp, the tests and the micro-benchmarks.
KILN_VBINARY(vbinary_f32_avx512, IsaTier::kAvx512)
KILN_VBINARY(vbinary_f32_avx2, IsaTier::kAvx2)
