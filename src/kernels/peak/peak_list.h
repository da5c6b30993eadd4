// The FMA-peak loops, one line per ISA tier: KILN_PEAK_FMA(name, tier, chains, lanes).
// Included by the dispatch (peak.cpp), the tests and the micro-benchmarks; define KILN_PEAK_FMA before
// including. Each loop is declared `uint64_t name(uint64_t iterations, float* sink)` and returns the flops it
// did (2 per lane per FMA). `chains` independent accumulators hide the FMA latency: Zen 2/3/4 and Intel cores
// since Skylake need latency (4-5 cycles) x FMA ports (2) = 8-10 FMAs in flight; 12 leaves headroom and fits
// in AVX2's 16 registers beside the two constants.
//
// The reference tier's loop (baseline x86-64, multiply then add, no FMA instruction) is not listed here: it is
// plain C++ in peak.cpp.

KILN_PEAK_FMA(peak_fma_f32_12x8_avx2, kAvx2, 12, 8)
KILN_PEAK_FMA(peak_fma_f32_12x16_avx512, kAvx512, 12, 16)
