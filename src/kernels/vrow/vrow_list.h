// The vrow kernel sets, best tier first: KILN_VROW(name, tier). Included by vrow.h, the dispatch in vrow.cpp,
// the tests and the micro-benchmarks.
KILN_VROW(vrow_f32_avx512, IsaTier::kAvx512)
KILN_VROW(vrow_f32_avx2, IsaTier::kAvx2)
