// The Winograd transform kernels, one line per tier: KILN_WINOGRAD(name, tier, simd wrapper); the functions are
// name##_input and name##_output. Read by the dispatch (winograd.cpp) and the tests; the reference
// (winograd_f2k3_*_ref) is the oracle and not listed. Define KILN_WINOGRAD before including; the file undefines it.

KILN_WINOGRAD(winograd_f2k3_avx2, kAvx2, Avx2)
KILN_WINOGRAD(winograd_f2k3_avx512, kAvx512, Avx512)

#undef KILN_WINOGRAD
