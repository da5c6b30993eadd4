// The Winograd transform kernels, one line per tier and tile size: KILN_WINOGRAD(name, tier, simd wrapper, tile);
// the functions are name##_input and name##_output. Read by the dispatch (winograd.cpp) and the tests; the
// references (winograd_f2k3_*_ref, winograd_f4k3_*_ref) are the oracles and not listed. Define KILN_WINOGRAD
// before including; the file undefines it.

KILN_WINOGRAD(winograd_f2k3_avx2, kAvx2, Avx2, 2)
KILN_WINOGRAD(winograd_f2k3_avx512, kAvx512, Avx512, 2)
KILN_WINOGRAD(winograd_f4k3_avx2, kAvx2, Avx2, 4)
KILN_WINOGRAD(winograd_f4k3_avx512, kAvx512, Avx512, 4)

#undef KILN_WINOGRAD
