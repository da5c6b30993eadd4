// Session::bind / Binding: the same results as Session::run, outputs rewritten in place, inputs read through the
// bound tensors' memory, and no heap allocation in a steady-state run (counted with tools/alloc_counter).

#include <gtest/gtest.h>

#include <cstring>

#include "alloc_counter.h"
#include "kernels/isa.h"
#include "kiln/session.h"
#include "model_paths.h"

using namespace kiln;

namespace {

using kiln::testing::kSuperResolutionModel;

Tensor image(int64_t batch, float phase) {
  Tensor t(DType::kFloat32, {batch, 1, 24, 20});
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>((i * 7) % 17) / 17.0f + phase;
  return t;
}

void expect_same(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.dims(), b.dims());
  ASSERT_EQ(std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()), 0);
}

// The steady-state promise is the prepared kernels': the reference tier (KILN_ISA=ref) runs each op's plain
// compute, which allocates its outputs and temporaries on every run.
bool reference_tier() { return kiln::kernels::active_isa() == kiln::kernels::IsaTier::kRef; }

Session session_with_threads(int threads) {
  SessionOptions o;
  o.intra_op_threads = threads;
  return Session::from_file(kSuperResolutionModel, o);
}

}  // namespace

TEST(Binding, GivesWhatRunGivesAndRewritesItsOutputsInPlace) {
  Session s = session_with_threads(1);
  Tensor x = image(2, 0.0f);
  Binding b = s.bind({{"input", x}});
  ASSERT_EQ(b.outputs().size(), 1u);
  EXPECT_FALSE(b.outputs()[0].second.defined());
  b.run();
  const Tensor first = b.outputs()[0].second.clone();
  expect_same(first, s.run({{"input", x}})[0].second);
  const void* where = b.outputs()[0].second.raw_data();

  // New values written into the bound input's memory are what the next run reads.
  Tensor y = image(2, 0.5f);
  std::memcpy(x.raw_data(), y.raw_data(), x.nbytes());
  b.run();
  EXPECT_EQ(b.outputs()[0].second.raw_data(), where) << "the output is rewritten in place";
  expect_same(b.outputs()[0].second, s.run({{"input", y}})[0].second);
  EXPECT_NE(std::memcmp(first.raw_data(), b.outputs()[0].second.raw_data(), first.nbytes()), 0);
}

TEST(Binding, FeedsAndOutputNamesAreCheckedAtBind) {
  Session s = session_with_threads(1);
  EXPECT_THROW(s.bind({{"nope", image(1, 0)}}), Error);
  EXPECT_THROW(s.bind({}), Error);
  EXPECT_THROW(s.bind({{"input", Tensor(DType::kFloat32, {1, 2, 24, 20})}}), Error);
  EXPECT_THROW(s.bind({{"input", image(1, 0)}}, {"not_an_output"}), Error);
  Binding b = s.bind({{"input", image(1, 0)}}, {s.outputs()[0].name});
  RunOptions named;
  named.output_names = {s.outputs()[0].name};
  EXPECT_THROW(b.run(named), Error);
}

// The steady state allocates nothing: not the feeds' checks, the plan lookup, the outputs nor the kernels'
// scratch. At one thread that holds from the second run on. With a pool, a worker's thread_local scratch grows the
// first time that thread takes a task needing more, which depends on scheduling: so there, twenty runs may make a
// few such growths in all, never one or more per run.
TEST(Binding, ASteadyStateRunMakesNoHeapAllocation) {
  if (!kiln::cli::allocations_so_far())
    GTEST_SKIP() << "allocations cannot be counted in this build (a sanitizer runtime owns malloc)";
  if (reference_tier()) GTEST_SKIP() << "the reference tier allocates in every run by design (KILN_ISA=ref)";
  {
    Session s = session_with_threads(1);
    Binding b = s.bind({{"input", image(3, 0)}});
    b.run();
    RunStats stats;
    const auto before = *kiln::cli::allocations_so_far();
    b.run({}, &stats);
    const auto after = *kiln::cli::allocations_so_far();
    EXPECT_EQ(after.calls - before.calls, 0u) << (after.bytes - before.bytes) << " bytes";
    EXPECT_GT(stats.steps, 0u);
  }
  Session s = session_with_threads(2);
  Binding b = s.bind({{"input", image(3, 0)}});
  b.run();
  b.run();
  const auto before = *kiln::cli::allocations_so_far();
  for (int i = 0; i < 20; ++i) b.run();
  const auto after = *kiln::cli::allocations_so_far();
  EXPECT_LT(after.calls - before.calls, 20u) << "2 threads: " << (after.bytes - before.bytes) << " bytes";
}

// A plan keeps one arena for Session::run and Bindings in turn: a binding made after a run takes the run's state
// (no second arena), and a dropped binding gives it back to the next run, without handing over the outputs its
// caller still holds.
TEST(Binding, SharesThePlansArenaWithRunsInTurn) {
  if (!kiln::cli::allocations_so_far())
    GTEST_SKIP() << "allocations cannot be counted in this build (a sanitizer runtime owns malloc)";
  if (reference_tier()) GTEST_SKIP() << "the reference tier allocates in every run by design (KILN_ISA=ref)";
  Session s = session_with_threads(1);
  const Tensor x = image(2, 0.0f);
  RunStats stats;
  const Tensor want = s.run({{"input", x}}, {}, &stats).at(0).second;
  ASSERT_GT(stats.arena_bytes, 4096u);
  auto before = *kiln::cli::allocations_so_far();
  Tensor kept;
  {
    Binding b = s.bind({{"input", x}});
    auto after = *kiln::cli::allocations_so_far();
    EXPECT_LT(after.bytes - before.bytes, stats.arena_bytes) << "bind allocated a second arena";
    b.run();
    kept = b.outputs().at(0).second;
    expect_same(kept, want);
  }
  const Tensor copy = kept.clone();
  before = *kiln::cli::allocations_so_far();
  const Tensor other = s.run({{"input", image(2, 0.5f)}}).at(0).second;
  auto after = *kiln::cli::allocations_so_far();
  EXPECT_LT(after.bytes - before.bytes, stats.arena_bytes) << "the run after the binding allocated a second arena";
  expect_same(kept, copy);  // the dropped binding's output was not rewritten by the run
  EXPECT_NE(std::memcmp(other.raw_data(), kept.raw_data(), kept.nbytes()), 0);
}
