// Session::bind / Binding: the same results as Session::run, outputs rewritten in place, inputs read through the
// bound tensors' memory, and no heap allocation in a steady-state run (counted with tools/alloc_counter).

#include <gtest/gtest.h>

#include <cstring>

#include "alloc_counter.h"
#include "kiln/session.h"

using namespace kiln;

namespace {

const char* kModel = KILN_SOURCE_DIR "/models/super_resolution.onnx";  // Conv, Relu, DepthToSpace; [batch,1,h,w]

Tensor image(int64_t batch, float phase) {
  Tensor t(DType::kFloat32, {batch, 1, 24, 20});
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>((i * 7) % 17) / 17.0f + phase;
  return t;
}

void expect_same(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.dims(), b.dims());
  ASSERT_EQ(std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()), 0);
}

Session session_with_threads(int threads) {
  SessionOptions o;
  o.intra_op_threads = threads;
  return Session::from_file(kModel, o);
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
// scratch, at one thread and with the pool.
TEST(Binding, ASteadyStateRunMakesNoHeapAllocation) {
  if (!kiln::cli::allocations_so_far())
    GTEST_SKIP() << "allocations cannot be counted in this build (a sanitizer runtime owns malloc)";
  for (int threads : {1, 2}) {
    SCOPED_TRACE(threads);
    Session s = session_with_threads(threads);
    Binding b = s.bind({{"input", image(3, 0)}});
    b.run();
    b.run();
    RunStats stats;
    const auto before = *kiln::cli::allocations_so_far();
    b.run({}, &stats);
    const auto after = *kiln::cli::allocations_so_far();
    EXPECT_EQ(after.calls - before.calls, 0u) << (after.bytes - before.bytes) << " bytes";
    EXPECT_GT(stats.steps, 0u);
  }
}
