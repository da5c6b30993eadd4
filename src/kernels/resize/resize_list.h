// The resize kernel sets, one X-macro line each: KILN_RESIZE_KERNELS(suffix, tier). Each set holds
//   resize_linear_f32_<suffix>, resize_nearest_f32_<suffix>   (signatures in resize.h)
// Read by the dispatch (resize.cpp), the tests and the micro-benchmarks; no other list.
// No include guard: define KILN_RESIZE_KERNELS, include, undefine.
KILN_RESIZE_KERNELS(avx2, kAvx2)
KILN_RESIZE_KERNELS(avx512, kAvx512)
