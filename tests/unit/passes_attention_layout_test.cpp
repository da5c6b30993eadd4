// fold_attention_transposes on hand-built graphs shaped like torch's MultiheadAttention export after
// fuse_attention: sequence-first [S, N, D] operands transposed to [N, S, D] around the attention.

#include <gtest/gtest.h>

#include "nn_test_util.h"
#include "passes/passes.h"
#include "passes_test_util.h"

using namespace kiln;
using namespace kiln::testing;

namespace {

std::mt19937 g_rng(12);

struct LayoutForm {
  bool shared_k_transpose = false;  // the K Transpose also feeds a Shape (kept), as in the real export
  bool mask = true;                 // [N, S, T] additive mask
  bool out_perm_other = false;      // the output Transpose is another permutation: nothing to fold
  bool out_also_read = false;       // the attention's output is read by something else too: nothing to fold
};

ir::Model layout_model(const LayoutForm& f) {
  ModelBuilder b(17);
  const Shape s({Dim::symbol("s"), 4, 8});
  const int q = b.input("q", DType::kFloat32, s), k = b.input("k", DType::kFloat32, s);
  const int v = b.input("v", DType::kFloat32, Shape({Dim::symbol("s"), 4, 6}));
  const std::vector<ir::Attribute> swap = {ints_attr("perm", {1, 0, 2})};
  std::vector<int> in = {b.node("Transpose", {q}, swap), b.node("Transpose", {k}, swap),
                         b.node("Transpose", {v}, swap)};
  if (f.mask) in.push_back(b.input("mask", DType::kFloat32, Shape({4, Dim::symbol("s"), Dim::symbol("s")})));
  const int y = b.node("ScaledDotProductAttention", in, {float_attr("scale", 0.4f)}, "ai.kiln");
  const int yt = b.node("Transpose", {y}, f.out_perm_other ? std::vector<ir::Attribute>{ints_attr("perm", {0, 2, 1})}
                                                           : swap);
  b.output(b.node("Relu", {yt}));
  if (f.shared_k_transpose) b.output(b.node("Shape", {in[1]}));
  if (f.out_also_read) b.output(b.node("Neg", {y}));
  ir::Model m = b.build();
  passes::import_kiln_domain(m);
  return m;
}

NamedTensors layout_feeds(int64_t seq) {
  NamedTensors feeds = {{"q", random_tensor({seq, 4, 8}, g_rng)},
                        {"k", random_tensor({seq, 4, 8}, g_rng)},
                        {"v", random_tensor({seq, 4, 6}, g_rng)}};
  Tensor m(DType::kFloat32, {4, seq, seq});
  for (int64_t i = 0; i < m.numel(); ++i) m.data<float>()[i] = i % 3 == 0 ? -1e9f : 0.0f;
  feeds.emplace_back("mask", m);
  return feeds;
}

NamedTensors without_mask(NamedTensors feeds) {
  feeds.pop_back();
  return feeds;
}

}  // namespace

TEST(FoldAttentionTransposes, SequenceFirstAttentionLosesItsTransposes) {
  for (bool shared : {false, true})
    for (bool mask : {true, false}) {
      SCOPED_TRACE(std::to_string(shared) + std::to_string(mask));
      LayoutForm f;
      f.shared_k_transpose = shared;
      f.mask = mask;
      for (int64_t seq : {5, 37}) {
        const NamedTensors feeds = mask ? layout_feeds(seq) : without_mask(layout_feeds(seq));
        ir::Model m = apply_and_compare(passes::fold_attention_transposes_pass(), layout_model(f), feeds);
        const ir::Node* sdpa = find_node(*m.graph, "ScaledDotProductAttention", "ai.kiln");
        ASSERT_NE(sdpa, nullptr);
        EXPECT_EQ(sdpa->attr("seq_first")->i, 1);
        EXPECT_NEAR(sdpa->attr("scale")->f, 0.4f, 0);
        EXPECT_EQ(count_ops(*m.graph, "Transpose"), shared ? 1u : 0u);  // the one a Shape still reads
      }
    }
}

TEST(FoldAttentionTransposes, LeavesOtherLayoutsAlone) {
  for (int which = 0; which < 2; ++which) {
    LayoutForm f;
    (which == 0 ? f.out_perm_other : f.out_also_read) = true;
    ir::Model m = layout_model(f);
    EXPECT_FALSE(passes::fold_attention_transposes_pass().apply(m)) << which;
  }
}
