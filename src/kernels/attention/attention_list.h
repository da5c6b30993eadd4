// The attention row kernels, best tier first: KILN_ATTENTION_ROWS(name, tier). Included by attention.h
// (declarations), the dispatch in attention.cpp, the tests and the micro-benchmarks, so a kernel is listed once.
KILN_ATTENTION_ROWS(attention_rows_f32_avx512, IsaTier::kAvx512)
KILN_ATTENTION_ROWS(attention_rows_f32_avx2, IsaTier::kAvx2)
