// The conversion and select kernel sets, one X-macro line each: KILN_CONVERT_KERNELS(suffix, tier) names
//   f32_to_f16_<suffix>, f16_to_f32_<suffix>, select32_<suffix>   (signatures in convert.h)
// Read by the dispatch (convert.cpp) and the tests. No include guard: define KILN_CONVERT_KERNELS, include,
// undefine. AVX-512 CPUs run the AVX2 set: these loops are bound by memory, not by the vector width.
KILN_CONVERT_KERNELS(avx2, kAvx2)
