// The peak-measurement loops (kernels/peak): each listed loop does the flops it reports and keeps its values
// finite; the measurements return positive figures. Never a speed assertion: only that the tools work.

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "base/error.h"
#include "kernels/isa.h"
#include "kernels/peak/peak.h"

namespace kiln::kernels::peak {
namespace {

struct Listed {
  const char* name;
  IsaTier tier;
  int chains, lanes;
  FmaLoop loop;
};

const std::vector<Listed>& listed() {
  static const std::vector<Listed> all = {
#define KILN_PEAK_FMA(name, tier, chains, lanes) {#name, IsaTier::tier, chains, lanes, name},
#include "kernels/peak/peak_list.h"
#undef KILN_PEAK_FMA
  };
  return all;
}

TEST(PeakFma, EveryListedLoopCountsItsFlopsAndStaysFinite) {
  int ran = 0;
  for (const Listed& k : listed()) {
    SCOPED_TRACE(k.name);
    if (!isa_available(k.tier)) continue;  // reported below when nothing ran
    float sink = NAN;
    EXPECT_EQ(k.loop(1000, &sink), uint64_t{1000} * k.chains * k.lanes * 2);
    EXPECT_TRUE(std::isfinite(sink));
    // a <- a * 0.999999 + 1e-6 moves every accumulator towards 1; the sum over all lanes stays below that.
    EXPECT_GT(sink, 0.0f);
    EXPECT_LT(sink, static_cast<float>(k.chains * k.lanes));
    EXPECT_EQ(fma_loop(k.tier), k.loop);
    ++ran;
  }
  if (ran == 0) GTEST_SKIP() << "this CPU (" << isa_name(detected_isa()) << ") has no tier of peak_list.h";
}

TEST(PeakFma, UnavailableTierIsRefused) {
  if (isa_available(IsaTier::kAvx512)) GTEST_SKIP() << "this CPU has AVX-512: no tier to refuse";
  EXPECT_THROW(fma_loop(IsaTier::kAvx512), Error);
}

TEST(PeakFma, ReferenceLoopCountsItsFlops) {
  float sink = NAN;
  EXPECT_EQ(fma_loop(IsaTier::kRef)(100, &sink), uint64_t{100} * 12 * 2);
  EXPECT_TRUE(std::isfinite(sink));
}

TEST(PeakFma, MeasurementGivesPositiveFigures) {
  FmaPeak p = measure_fma_peak(active_isa(), 2, 0.01);
  EXPECT_EQ(p.tier, active_isa());
  EXPECT_GE(p.threads, 1u);
  EXPECT_GT(p.gflops_one_thread, 0.0);
  EXPECT_GT(p.gflops_all_threads, 0.0);
}

TEST(PeakTriad, ComputesTheTriad) {
  std::vector<float> a(37, -1.0f), b(37), c(37);
  for (size_t i = 0; i < b.size(); ++i) {
    b[i] = static_cast<float>(i);
    c[i] = 2.0f * static_cast<float>(i);
  }
  triad_f32(a.data(), b.data(), c.data(), 0.5f, a.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], 2.0f * static_cast<float>(i)) << i;
}

TEST(PeakTriad, MeasurementGivesPositiveFigures) {
  EXPECT_GE(default_triad_bytes(), size_t{256} << 20);
  Bandwidth bw = measure_triad_bandwidth(2, size_t{3} << 20, 1);  // small: this checks the plumbing only
  EXPECT_GE(bw.buffer_bytes, size_t{3} << 20);
  EXPECT_GT(bw.gbps_one_thread, 0.0);
  EXPECT_GT(bw.gbps_all_threads, 0.0);
}

}  // namespace
}  // namespace kiln::kernels::peak
