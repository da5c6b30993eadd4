// Conv and ai.kiln.FusedConv through the op: the prepared (fast) kernel against the op's reference compute, on
// random shapes (1-D, 2-D, 3-D; ragged and 1-sized dims, strides, dilations, asymmetric pads, auto_pad, groups,
// depthwise with channel multipliers, bias or not, every activation, residual), at every ISA tier this CPU
// has, with 1 and 2 threads giving identical results.

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

#include "api/session_impl.h"
#include "kernels/isa.h"
#include "kernels/thread_pool.h"
#include "prepared_node.h"
#include "../unit/nn_test_util.h"

namespace kiln::testing {
namespace {

struct ConvCase {
  bool fused = false;
  int64_t batch = 1, in_channels = 1, out_channels = 1, group = 1;
  std::vector<int64_t> in, kernel, strides, dilations, pads;
  std::string auto_pad;  // empty: NOTSET with pads
  bool bias = false, residual = false, shape_known = true;
  std::string activation;
  std::vector<float> activation_params;

  std::string str() const {
    std::string s = std::string(fused ? "FusedConv" : "Conv") + " N" + std::to_string(batch) + " C" +
                    std::to_string(in_channels) + " M" + std::to_string(out_channels) + " g" + std::to_string(group) +
                    " in" + dims_str(in) + " k" + dims_str(kernel) + " s" + dims_str(strides) + " d" +
                    dims_str(dilations);
    s += auto_pad.empty() ? " pads" + dims_str(pads) : " " + auto_pad;
    if (bias) s += " +bias";
    if (residual) s += " +residual";
    if (!activation.empty()) s += " +" + activation;
    return s;
  }
};

ConvCase random_case(std::mt19937& rng, int index) {
  auto pick = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  ConvCase c;
  const int spatial = static_cast<int>(std::vector<int64_t>{1, 2, 2, 2, 3}[static_cast<size_t>(pick(0, 4))]);
  c.batch = pick(1, 2);
  const int64_t kind = pick(0, 3);  // 0, 1: dense; 2: grouped; 3: depthwise
  if (kind == 2) {
    c.group = pick(2, 3);
    c.in_channels = c.group * pick(1, 4), c.out_channels = c.group * pick(1, 5);
  } else if (kind == 3) {
    c.group = c.in_channels = pick(1, 9);
    c.out_channels = c.in_channels * pick(1, 2);
  } else {
    c.in_channels = pick(1, 9), c.out_channels = pick(1, 17);
  }
  const int ap = static_cast<int>(pick(0, 7));
  c.auto_pad = ap == 0 ? "SAME_UPPER" : ap == 1 ? "SAME_LOWER" : ap == 2 ? "VALID" : "";
  std::vector<int64_t> pad_end;
  for (int i = 0; i < spatial; ++i) {
    c.kernel.push_back(pick(1, spatial == 3 ? 3 : 5));
    c.strides.push_back(pick(1, 3));
    c.dilations.push_back(pick(1, 2));
    c.pads.push_back(pick(0, 2));
    pad_end.push_back(pick(0, 2));
    const int64_t eff = (c.kernel.back() - 1) * c.dilations.back() + 1;
    const int64_t pads = c.auto_pad.empty() ? c.pads.back() + pad_end.back() : 0;
    const int64_t max_in = spatial == 1 ? 40 : spatial == 2 ? 15 : 7;
    c.in.push_back(std::max(pick(1, static_cast<int>(max_in)), c.auto_pad.rfind("SAME", 0) == 0 ? 1 : eff - pads));
  }
  c.pads.insert(c.pads.end(), pad_end.begin(), pad_end.end());
  c.bias = pick(0, 2) != 0;
  c.fused = index % 2 == 1;
  if (c.fused) {
    c.activation = kFusedActivations[(index / 2) % 11];
    if (c.activation == "Clip") c.activation_params = {-0.3f, 0.4f};
    if (c.activation == "LeakyRelu") c.activation_params = {0.2f};
    c.residual = pick(0, 1) != 0;
  }
  c.shape_known = pick(0, 3) != 0;
  return c;
}

// The node of `c` with random inputs; W is a constant.
PreparedNode make_node(const ConvCase& c, std::mt19937& rng, const std::vector<int64_t>& y_dims) {
  PreparedNode n(c.fused ? "FusedConv" : "Conv", c.fused ? 1 : 22, c.fused ? "ai.kiln" : "");
  n.attr(int_attr("group", c.group)).attr(ints_attr("strides", c.strides)).attr(ints_attr("dilations", c.dilations));
  n.attr(ints_attr("kernel_shape", c.kernel));
  if (c.auto_pad.empty()) {
    n.attr(ints_attr("pads", c.pads));
  } else {
    n.attr(string_attr("auto_pad", c.auto_pad));
  }
  if (!c.activation.empty()) n.attr(string_attr("activation", c.activation));
  if (!c.activation_params.empty()) n.attr(floats_attr("activation_params", c.activation_params));
  std::vector<int64_t> x_dims{c.batch, c.in_channels}, w_dims{c.out_channels, c.in_channels / c.group};
  x_dims.insert(x_dims.end(), c.in.begin(), c.in.end());
  w_dims.insert(w_dims.end(), c.kernel.begin(), c.kernel.end());
  n.input(random_tensor(x_dims, rng), c.shape_known).constant(random_tensor(w_dims, rng));
  if (c.bias) {
    n.constant(random_tensor({c.out_channels}, rng));
  } else if (c.residual) {
    n.absent();
  }
  if (c.residual) n.input(random_tensor(y_dims, rng));
  return n;
}

// two_threads: also run on a 2-thread pool and expect the same bits (not every case: on a loaded 2-core machine
// each parallel region may wait a scheduler slice for its second thread). tactic: a word the kernel's description
// must contain (the case is meant for that tactic).
void check_case(const ConvCase& c, uint32_t seed, bool two_threads = true, const char* tactic = nullptr) {
  const kernels::IsaTier tiers[] = {kernels::IsaTier::kAvx2, kernels::IsaTier::kAvx512};
  IsaCapGuard guard;
  // The reference first, with the residual absent, to learn Y's dims.
  std::mt19937 probe_rng(seed);
  ConvCase probe = c;
  probe.residual = false;
  const Tensor probe_y = make_node(probe, probe_rng, {}).reference()[0];
  std::mt19937 rng(seed);
  PreparedNode n = make_node(c, rng, probe_y.dims());
  const Tensor want = n.reference()[0];
  for (kernels::IsaTier tier : tiers) {
    if (!kernels::isa_available(tier)) continue;
    kernels::set_isa_cap(tier);
    auto k = n.prepare();
    ASSERT_TRUE(k) << c.str();
    const std::string what = c.str() + " [" + std::string(kernels::isa_name(tier)) + ": " + k->describe() + "]";
    if (tactic) {
      EXPECT_NE(k->describe().find(tactic), std::string::npos) << what << ": not the " << tactic << " tactic";
    }
    const Tensor one = n.run(*k, {want.dims()}, nullptr)[0];
    expect_close_f32(one, want, what);
    if (!two_threads) continue;
    kernels::ThreadPool two(2);
    EXPECT_TRUE(bitwise_equal(one, n.run(*k, {want.dims()}, &two)[0])) << what << ": 2 threads differ from 1";
  }
}

TEST(ConvPrepared, MatchesReferenceOnRandomShapes) {
  std::mt19937 rng(2024);
  for (int i = 0; i < 300 && !HasFailure(); ++i) {
    const ConvCase c = random_case(rng, i);
    SCOPED_TRACE(c.str());
    check_case(c, static_cast<uint32_t>(i), i % 8 == 0);
  }
}

// 3x3, stride 1, 16+ channels: the Winograd tactic (ragged sizes, every padding, batches, every activation).
TEST(ConvPrepared, WinogradLayersMatchReference) {
  std::mt19937 rng(4242);
  auto pick = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  for (int i = 0; i < 40 && !HasFailure(); ++i) {
    ConvCase c;
    c.fused = i % 2 == 1;
    // The last cases have U over 256 KiB: panels grouped 4 at a time (conv_winograd.cpp), over images too.
    const bool wide = i >= 32;
    c.batch = pick(1, wide ? 3 : 2), c.in_channels = wide ? pick(65, 80) : pick(16, 20);
    c.out_channels = wide ? pick(65, 81) : pick(16, 21);
    c.in = {pick(1, 23), pick(1, 37)}, c.kernel = {3, 3}, c.strides = {1, 1}, c.dilations = {1, 1};
    const int64_t ap = pick(0, 4);
    c.auto_pad = ap == 0 ? "SAME_UPPER" : ap == 1 ? "SAME_LOWER" : "";
    c.pads = {pick(0, 2), pick(0, 2), pick(0, 2), pick(0, 2)};
    for (size_t d = 0; d < 2 && c.auto_pad.empty(); ++d) c.in[d] = std::max(c.in[d], 3 - c.pads[d] - c.pads[d + 2]);
    c.bias = pick(0, 1) != 0;
    if (c.fused) {
      c.activation = kFusedActivations[(i / 2) % 11];
      if (c.activation == "Clip") c.activation_params = {-0.3f, 0.4f};
      c.residual = pick(0, 1) != 0;
    }
    SCOPED_TRACE(c.str());
    check_case(c, static_cast<uint32_t>(1000 + i), i % 8 == 0);
  }
}

// A small Winograd layer at batch 1 (fewer panel groups than threads) is split by output channels, each thread
// transforming the whole input, or, when its panels share out evenly over the threads, into a group per thread
// (conv_winograd.cpp): ragged row panels, both tile sizes, U under and over 256 KiB, 1 and 2 threads equal.
TEST(ConvPrepared, WinogradSmallLayersSplitOverThreads) {
  const int64_t sizes[][4] = {{24, 29, 5, 7},    {64, 251, 13, 13}, {32, 130, 27, 27},
                              {96, 13, 7, 7},    {128, 128, 28, 28}, {120, 100, 29, 31}};
  uint32_t seed = 77;
  for (const auto& z : sizes) {
    ConvCase c;
    c.fused = true;
    c.batch = 1, c.in_channels = z[0], c.out_channels = z[1], c.in = {z[2], z[3]};
    c.kernel = {3, 3}, c.strides = {1, 1}, c.dilations = {1, 1}, c.pads = {1, 1, 1, 1};
    c.bias = true, c.activation = "Relu", c.residual = seed % 2 == 1;
    SCOPED_TRACE(c.str());
    check_case(c, seed++, true, "winograd");
  }
}

// Patch embeddings (kernel = stride, few input channels) go to the implicit GEMM, overlapping stems to the direct
// kernel (conv_prepared.cpp, patch_embedding).
TEST(ConvPrepared, PatchEmbeddingsRunTheImplicitGemmAndStemsTheDirectKernel) {
  struct Layer {
    int64_t C, M, size, k, stride;
    const char* tactic;
  };
  const Layer layers[] = {{3, 24, 32, 8, 8, "implicit-gemm"}, {3, 20, 30, 4, 4, "implicit-gemm"},
                          {1, 9, 33, 16, 16, "implicit-gemm"}, {3, 16, 29, 7, 2, "direct"}, {3, 17, 31, 11, 4, "direct"}};
  uint32_t seed = 91;
  for (const Layer& l : layers) {
    ConvCase c;
    c.batch = 1, c.in_channels = l.C, c.out_channels = l.M, c.in = {l.size, l.size};
    c.kernel = {l.k, l.k}, c.strides = {l.stride, l.stride}, c.dilations = {1, 1}, c.pads = {0, 0, 0, 0};
    c.bias = true;
    SCOPED_TRACE(c.str());
    check_case(c, seed++, true, l.tactic);
  }
}

TEST(ConvPrepared, PointwiseDepthwiseAndDenseLayersOfMobileNets) {
  struct Layer {
    int64_t batch, C, M, group, size, k, stride;
  };
  const Layer layers[] = {{2, 16, 24, 1, 9, 1, 1},  {1, 24, 24, 24, 11, 3, 1}, {2, 24, 24, 24, 11, 3, 2},
                          {1, 8, 8, 8, 13, 5, 2},   {1, 3, 16, 1, 17, 3, 2},   {3, 6, 12, 2, 5, 1, 1},
                          {1, 32, 5, 1, 1, 1, 1},   {1, 5, 7, 1, 9, 1, 2}};
  int index = 1;
  for (const Layer& l : layers) {
    for (const char* act : {"", "Relu", "Clip", "HardSwish"}) {
      ConvCase c;
      c.fused = true;
      c.batch = l.batch, c.in_channels = l.C, c.out_channels = l.M, c.group = l.group;
      c.in = {l.size, l.size}, c.kernel = {l.k, l.k}, c.strides = {l.stride, l.stride}, c.dilations = {1, 1};
      c.pads = std::vector<int64_t>(4, l.k / 2);
      c.bias = true;
      c.residual = l.stride == 1 && l.C == l.M;
      c.activation = act;
      if (c.activation == "Clip") c.activation_params = {0.0f, 0.5f};
      SCOPED_TRACE(c.str());
      check_case(c, static_cast<uint32_t>(index++), c.activation.empty());
    }
  }
}

// 1x1 unpadded convolutions with a stride (ResNet's downsamples): the input's samples gathered, then the plain GEMM.
// Even and odd sizes, unequal strides, 1-D and 3-D, groups, batches, a residual, activations.
TEST(ConvPrepared, StridedPointwiseMatchesReference) {
  struct Layer {
    int64_t batch, C, M, group;
    std::vector<int64_t> in, strides;
    bool residual;
    const char* act;
  };
  const Layer layers[] = {{1, 24, 40, 1, {14, 14}, {2, 2}, true, "Relu"},  {2, 16, 33, 1, {9, 13}, {2, 3}, false, ""},
                          {1, 12, 18, 2, {7, 8}, {3, 1}, true, "Sigmoid"}, {2, 9, 20, 1, {17}, {2}, false, "Clip"},
                          {1, 8, 16, 1, {5, 6, 7}, {2, 2, 1}, true, ""}};
  int index = 1;
  for (const Layer& l : layers) {
    ConvCase c;
    c.fused = true;
    c.batch = l.batch, c.in_channels = l.C, c.out_channels = l.M, c.group = l.group;
    c.in = l.in, c.strides = l.strides;
    c.kernel = c.dilations = std::vector<int64_t>(l.in.size(), 1);
    c.pads = std::vector<int64_t>(2 * l.in.size(), 0);
    c.bias = true;
    c.residual = l.residual;
    c.activation = l.act;
    if (c.activation == "Clip") c.activation_params = {0.0f, 0.5f};
    SCOPED_TRACE(c.str());
    check_case(c, static_cast<uint32_t>(index++));
  }
  // The tactic the label names.
  std::mt19937 rng(5);
  ConvCase c;
  c.batch = 1, c.in_channels = 16, c.out_channels = 32, c.in = {8, 8}, c.kernel = {1, 1}, c.strides = {2, 2};
  c.dilations = {1, 1}, c.pads = {0, 0, 0, 0};
  PreparedNode n = make_node(c, rng, {});
  auto k = n.prepare();
  ASSERT_TRUE(k);
  EXPECT_NE(k->describe().find("gemm-subsampled"), std::string::npos) << k->describe();
}

// 1x1 stride-1 convolutions on planes declared small: 1x1 planes (squeeze-excitation FCs) run the matrix-vector
// kernel, other planes (7x7, 9x9), planes with a residual and planes whose size is not declared the plain GEMM
// (its column tiles take 7x7's last column).
TEST(ConvPrepared, SmallPlanePointwiseTacticsMatchReference) {
  struct Layer {
    int64_t batch, C, M, size;
    bool residual, known;
    const char* tactic;
  };
  const Layer layers[] = {{1, 160, 960, 7, false, true, " gemm "},
                          {2, 37, 29, 7, false, true, " gemm "},
                          {1, 70, 33, 9, false, true, " gemm "},   {1, 960, 240, 1, false, true, " gemv "},
                          {2, 67, 131, 1, false, true, " gemv "},           {1, 24, 24, 7, true, true, " gemm "},
                          {1, 24, 40, 7, false, false, " gemm "}};
  int index = 1;
  for (const Layer& l : layers) {
    for (const char* act : {"", "Relu", "HardSigmoid", "HardSwish"}) {
      ConvCase c;
      c.fused = true;
      c.batch = l.batch, c.in_channels = l.C, c.out_channels = l.M;
      c.in = {l.size, l.size}, c.kernel = {1, 1}, c.strides = {1, 1}, c.dilations = {1, 1}, c.pads = {0, 0, 0, 0};
      c.bias = index % 2 == 1, c.residual = l.residual, c.shape_known = l.known;
      c.activation = act;
      if (c.activation == "HardSigmoid") c.activation_params = {1.0f / 6, 0.5f};
      SCOPED_TRACE(c.str());
      std::mt19937 rng(static_cast<uint32_t>(index));
      if (c.residual) {
        check_case(c, static_cast<uint32_t>(index++), true);
        continue;
      }
      PreparedNode n = make_node(c, rng, {});
      auto k = n.prepare();
      ASSERT_TRUE(k);
      EXPECT_NE(k->describe().find(l.tactic), std::string::npos) << k->describe();
      check_case(c, static_cast<uint32_t>(index++), true);
    }
  }
}

// Planes whose positions leave a last GEMM panel just past half its width (7x7 = 49 = 32 + 17 at avx512, 5x9 = 45
// at avx2's 16: 32 + 13), which the GEMM runs as a half-width tile beside a column tile: ResNet's layer4 shapes
// scaled down (1x1, 1x1 stride 2 subsampled, 3x3 stride 2 implicit GEMM, padded 3x3 on 5x9), channels not
// multiples of 16, batch 1 and 3, bias, residual and activations in the epilogue, 1 and 2 threads.
TEST(ConvPrepared, SmallPlanesWithAHalfAndColumnTileMatchReference) {
  struct Layer {
    int64_t batch, C, M;
    std::vector<int64_t> in, kernel, strides, pads;
    const char* activation;
    bool residual;
    const char* tactic;
  };
  const Layer layers[] = {
      {1, 52, 70, {7, 7}, {1, 1}, {1, 1}, {0, 0, 0, 0}, "Relu", true, " gemm "},
      {3, 45, 37, {7, 7}, {1, 1}, {1, 1}, {0, 0, 0, 0}, "", false, " gemm "},
      {1, 33, 50, {14, 14}, {1, 1}, {2, 2}, {0, 0, 0, 0}, "", false, " gemm-subsampled "},
      {3, 29, 41, {13, 13}, {3, 3}, {2, 2}, {1, 1, 1, 1}, "Relu", false, " implicit-gemm "},
      {1, 20, 43, {5, 9}, {1, 1}, {1, 1}, {0, 0, 0, 0}, "HardSwish", true, " gemm "},
      {3, 19, 26, {5, 9}, {3, 3}, {1, 1}, {1, 1, 1, 1}, "Silu", true, nullptr},
      {1, 17, 35, {3, 3}, {1, 1}, {1, 1}, {0, 0, 0, 0}, "Relu", true, " gemm "},
      {3, 24, 21, {1, 1}, {3, 3}, {1, 1}, {1, 1, 1, 1}, "", false, nullptr},
  };
  uint32_t seed = 700;
  for (const Layer& l : layers) {
    ConvCase c;
    c.fused = true;
    c.batch = l.batch, c.in_channels = l.C, c.out_channels = l.M;
    c.in = l.in, c.kernel = l.kernel, c.strides = l.strides, c.dilations = {1, 1}, c.pads = l.pads;
    c.bias = true, c.residual = l.residual, c.activation = l.activation;
    SCOPED_TRACE(c.str());
    check_case(c, seed++, true, l.tactic);
  }
}

TEST(ConvPrepared, RefusesWhatTheReferenceRefuses) {
  std::mt19937 rng(5);
  ConvCase c;
  c.in_channels = 4, c.out_channels = 6, c.in = {6, 6}, c.kernel = {3, 3}, c.strides = {1, 1}, c.dilations = {1, 1};
  c.pads = {1, 1, 1, 1};
  PreparedNode n = make_node(c, rng, {});
  auto k = n.prepare();
  ASSERT_TRUE(k);
  n.set_input(0, random_tensor({1, 3, 6, 6}, rng));  // 3 channels where w expects 4
  EXPECT_THROW(n.run(*k, {{1, 6, 6, 6}}, nullptr), Error);
  n.set_input(0, random_tensor({1, 4, 6, 6}, rng));
  EXPECT_THROW(n.run(*k, {{1, 6, 5, 6}}, nullptr), Error);  // output dims that do not match
}

TEST(ConvPrepared, DoesNotPrepareWhatItCannotPack) {
  std::mt19937 rng(6);
  PreparedNode n("Conv", 22);
  n.input(random_tensor({1, 2, 5, 5}, rng)).input(random_tensor({3, 2, 3, 3}, rng));  // W not constant
  EXPECT_EQ(n.prepare(), nullptr);
  PreparedNode d("Conv", 22);
  d.input(random_tensor({1, 2, 5, 5}, rng, DType::kFloat64)).constant(random_tensor({3, 2, 3, 3}, rng, DType::kFloat64));
  EXPECT_EQ(d.prepare(), nullptr);
}

// x [1, 6, h, w] -> Conv 3x3 (bias) -> FusedConv depthwise 3x3 stride 2 (+Relu) -> FusedConv 1x1 (+bias, Clip).
ir::Model conv_chain_model(std::mt19937& rng) {
  ir::Model m;
  m.ir_version = 8;
  m.opsets = {{"", 17}, {"ai.kiln", 1}};
  m.graph = std::make_shared<ir::Graph>();
  ir::Graph& g = *m.graph;
  const int x = g.intern("x");
  g.value(x).type = {ir::ValueKind::kTensor, DType::kFloat32,
                     Shape({Dim(1), Dim(6), Dim::symbol("h"), Dim::symbol("w")}), true, nullptr};
  g.inputs.push_back(x);
  auto constant = [&](const std::string& name, std::vector<int64_t> dims) {
    const int id = g.intern(name);
    g.initializers[id] = random_tensor(std::move(dims), rng);
    return id;
  };
  auto add = [&](const char* op, const char* domain, std::vector<int> in, const char* out,
                 std::vector<ir::Attribute> attrs) {
    ir::Node n;
    n.op_type = op, n.domain = domain, n.name = out, n.inputs = std::move(in), n.outputs = {g.intern(out)};
    n.attributes = std::move(attrs);
    g.nodes.push_back(std::move(n));
    return g.nodes.back().outputs[0];
  };
  int v = add("Conv", "", {x, constant("w1", {8, 6, 3, 3}), constant("b1", {8})}, "c1", {ints_attr("pads", {1, 1, 1, 1})});
  v = add("FusedConv", "ai.kiln", {v, constant("w2", {8, 1, 3, 3})}, "c2",
          {int_attr("group", 8), ints_attr("strides", {2, 2}), ints_attr("pads", {1, 1, 1, 1}),
           string_attr("activation", "Relu")});
  v = add("FusedConv", "ai.kiln", {v, constant("w3", {5, 8, 1, 1}), constant("b3", {5})}, "y",
          {string_attr("activation", "Clip"), floats_attr("activation_params", {-0.5f, 0.5f})});
  g.outputs.push_back(v);
  return m;
}

TEST(ConvPrepared, SessionPreparesEveryConvAndMatchesTheReferenceSession) {
  IsaCapGuard guard;
  std::mt19937 rng(77);
  auto fast = std::make_shared<Session::Impl>(conv_chain_model(rng), SessionOptions{});
  EXPECT_EQ(fast->prepared->prepared_count(), 3u);
  kernels::set_isa_cap(kernels::IsaTier::kRef);
  rng.seed(77);
  auto ref = std::make_shared<Session::Impl>(conv_chain_model(rng), SessionOptions{});
  EXPECT_EQ(ref->prepared->prepared_count(), 0u);
  for (int64_t size : {9, 16}) {
    const Tensor x = random_tensor({1, 6, size, size + 3}, rng);
    const Tensor got = Session(fast).run({{"x", x}}).at(0).second;
    const Tensor want = Session(ref).run({{"x", x}}).at(0).second;
    expect_close_f32(got, want, "conv chain at " + std::to_string(size));
  }
}

}  // namespace
}  // namespace kiln::testing
