// An image's results do not depend on the batch it runs in: the same bits alone or beside others. A server that
// batches requests (kiln serve's dynamic batching) hands each request back its rows of a batched run, and they
// must equal what running it alone gives. Covered on the bundled super-resolution net: the few-channel direct
// stem, Winograd layers (whose tile panels never cross images), DepthToSpace.

#include <gtest/gtest.h>

#include <cstring>

#include "kiln/session.h"
#include "model_paths.h"

using namespace kiln;

namespace {

using kiln::testing::kSuperResolutionModel;

Tensor images(int64_t batch, int64_t h, int64_t w, int64_t seed) {
  Tensor t(DType::kFloat32, {batch, 1, h, w});
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>((i * 7919 + seed * 104729) % 1013) / 1013.0f;
  return t;
}

}  // namespace

TEST(BatchInvariance, EachImageOfABatchEqualsItsRunAlone) {
  for (int threads : {1, 2}) {
    SessionOptions o;
    o.intra_op_threads = threads;
    Session s = Session::from_file(kSuperResolutionModel, o);
    // 7x3 images: 4 x 2 tiles of F(2x2) each, 8 to an image's panel (a tile 8 columns wide), where panels
    // crossing images would run most of them in 16-wide tiles, which sum in another order.
    const int64_t batch = 5, h = 7, w = 3;
    const Tensor x = images(batch, h, w, threads);
    const Tensor y = s.run({{"input", x}}).at(0).second;
    const int64_t in_one = h * w, out_one = y.numel() / batch;
    for (int64_t n = 0; n < batch; ++n) {
      Tensor one(DType::kFloat32, {1, 1, h, w});
      std::memcpy(one.raw_data(), x.data<float>() + n * in_one, static_cast<size_t>(in_one) * sizeof(float));
      const Tensor alone = s.run({{"input", one}}).at(0).second;
      ASSERT_EQ(alone.numel(), out_one);
      EXPECT_EQ(std::memcmp(alone.raw_data(), y.data<float>() + n * out_one, static_cast<size_t>(out_one) * sizeof(float)), 0)
          << "image " << n << " of " << batch << " at " << threads << " thread(s)";
    }
  }
}
