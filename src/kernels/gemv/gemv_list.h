// The matrix-vector kernels, one line per kernel: KILN_GEMV(name, tier, simd wrapper). The dispatch (gemv.cpp) and
// the tests (tests/kernels/gemv_test.cpp) read this list; the reference (gemv_f32_ref, tier kRef) is not listed
// here, it is the oracle. Define KILN_GEMV before including; the file undefines it.

KILN_GEMV(gemv_f32_avx2, kAvx2, Avx2)
KILN_GEMV(gemv_f32_avx512, kAvx512, Avx512)

#undef KILN_GEMV
