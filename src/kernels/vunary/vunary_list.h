// The vunary kernels, best tier first: KILN_VUNARY(name, tier). Included by vunary.h (declarations), the
// dispatch in vunary.cpp, the tests and the micro-benchmarks, so a kernel is listed once.
KILN_VUNARY(vunary_f32_avx512, IsaTier::kAvx512)
KILN_VUNARY(vunary_f32_avx2, IsaTier::kAvx2)
