// The pooling kernel sets, one X-macro line each: KILN_POOL_KERNELS(suffix, tier). Each set holds
//   maxpool2d_f32_<suffix>, avgpool2d_f32_<suffix>, global_maxpool_f32_<suffix>, global_avgpool_f32_<suffix>
// (signatures in pool.h). Read by the dispatch (pool.cpp), the tests and the micro-benchmarks; no other list.
// No include guard: define KILN_POOL_KERNELS, include, undefine.
KILN_POOL_KERNELS(avx2, kAvx2)
KILN_POOL_KERNELS(avx512, kAvx512)
