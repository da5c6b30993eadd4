// Concats whose producers write straight into their slices (runtime/concat_in_place.h): when the plan takes them,
// where it puts the inputs, and that results equal the Concat's own over repeated runs, also when a producer hands
// back a tensor of its own (set_output) instead of writing where the plan put it, and at batch > 1 when
// convolutions write each image's slice an output image apart.

#include <gtest/gtest.h>

#include "api/session_impl.h"
#include "runtime/plan.h"
#include "graph_builder.h"
#include "kernels/isa.h"
#include "passes/rewrite_util.h"

using namespace kiln;

namespace {

// Scale2: y = 2x, written into the output the runtime allocated.
void infer_same(ops::InferContext& ctx) { ctx.set_output(0, ctx.input_type(0), ctx.input_shape(0)); }
void compute_scale2(ops::KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  for (int64_t i = 0; i < x.numel(); ++i) ctx.output(0).data<float>()[i] = 2 * x.data<float>()[i];
}
KILN_REGISTER_OP(test_scale2, {"kiln.test.concat", "Scale2", {1}, 0, infer_same, compute_scale2});

// Plus3Own: y = x + 3 in a tensor of its own, handed over with set_output (as If and Loop do with their results).
void compute_plus3_own(ops::KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor y(DType::kFloat32, x.dims());
  for (int64_t i = 0; i < x.numel(); ++i) y.data<float>()[i] = x.data<float>()[i] + 3;
  ctx.set_output(0, std::move(y));
}
KILN_REGISTER_OP(test_plus3_own, {"kiln.test.concat", "Plus3Own", {1}, 0, infer_same, compute_plus3_own});

// x -> Scale2 -> a; x -> Plus3Own -> b; x -> Neg -> Scale2 -> c (no two alike: the passes would merge them); Concat(a, b, c, axis) -> d -> Scale2 -> y.
// With `extra_reader`, a is also an output (a second reader: the Concat cannot take it in place).
ir::Model concat_model(std::vector<Dim> x_dims, int64_t axis, bool extra_reader) {
  kiln::testing::GraphBuilder b;
  b.input("x", DType::kFloat32, std::move(x_dims));
  const std::string test = "kiln.test.concat";
  b.node("Scale2", {"x"}, {"a"}, "a", test);
  b.node("Plus3Own", {"x"}, {"b"}, "b", test);
  b.node("Neg", {"x"}, {"c0"}, "c0");
  b.node("Scale2", {"c0"}, {"c"}, "c", test);
  b.node("Concat", {"a", "b", "c"}, {"d"}, "d").attributes.push_back(kiln::testing::int_attr("axis", axis));
  b.node("Scale2", {"d"}, {"y"}, "y", test);
  b.g->outputs = {b.g->find("y")};
  if (extra_reader) b.g->outputs.push_back(b.g->find("a"));
  ir::Model m;
  m.ir_version = 8;
  m.opsets = {{"", 17}, {test, 1}};
  m.graph = b.g;
  return m;
}

struct ConcatCase {
  std::vector<int64_t> dims;
  int64_t axis;
  bool extra_reader;
  bool in_place;  // what the plan should choose
};

std::shared_ptr<const runtime::Plan> plan_of(const Session& s, const std::vector<int64_t>& dims) {
  std::vector<Dim> d(dims.begin(), dims.end());
  std::unordered_map<int, ops::ValueInfo> fed{{0, {DType::kFloat32, Shape(d), nullptr}}};
  const Session::Impl& impl = s.impl();
  return const_cast<Session::Impl&>(impl).plan_for(*impl.model.graph, fed, nullptr);
}

}  // namespace

TEST(ConcatInPlace, ProducersWriteTheirSlicesAndResultsEqualTheConcat) {
  const ConcatCase cases[] = {
      {{1, 16, 4}, 1, false, true},   // batch 1, slices of 256 bytes
      {{1, 16, 4}, -2, false, true},  // the same axis, counted from the end
      {{1, 1, 64}, 2, false, true},   // the last axis, every dim before it 1
      {{2, 16, 4}, 1, false, false},  // batch 2: each input is two ranges
      {{1, 3, 1}, 1, false, false},   // 12-byte slices: not 64-byte aligned
      {{1, 16, 4}, 1, true, false},   // a is also a graph output
  };
  for (const ConcatCase& c : cases) {
    SCOPED_TRACE(::testing::Message() << "dims " << c.dims.size() << "-d, first " << c.dims[0] << " x " << c.dims[1]
                                      << ", axis " << c.axis << (c.extra_reader ? ", extra reader" : ""));
    std::vector<Dim> dims(c.dims.begin(), c.dims.end());
    Session s(std::make_shared<Session::Impl>(concat_model(dims, c.axis, c.extra_reader), SessionOptions{}));
    Tensor x(DType::kFloat32, c.dims);
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>(i % 97) - 40;
    // The expected result, from the definitions: y = 2 * concat(2x, x + 3, -2x) along the axis.
    const int64_t rank = static_cast<int64_t>(c.dims.size()), axis = c.axis < 0 ? c.axis + rank : c.axis;
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= c.dims[static_cast<size_t>(d)];
    for (int64_t d = axis; d < rank; ++d) inner *= c.dims[static_cast<size_t>(d)];
    std::vector<float> want;
    for (int64_t o = 0; o < outer; ++o)
      for (int part = 0; part < 3; ++part)
        for (int64_t i = 0; i < inner; ++i) {
          const float v = x.data<float>()[o * inner + i];
          want.push_back(2 * (part == 0 ? 2 * v : part == 1 ? v + 3 : -2 * v));
        }
    for (int run = 0; run < 3; ++run) {  // later runs reuse the first run's state and views
      NamedTensors out = s.run({{"x", x}});
      const Tensor& y = out[0].second;
      ASSERT_EQ(y.numel(), static_cast<int64_t>(want.size()));
      for (int64_t i = 0; i < y.numel(); ++i)
        ASSERT_EQ(y.data<float>()[i], want[static_cast<size_t>(i)]) << "run " << run << " element " << i;
    }
    auto plan = plan_of(s, c.dims);
    const ir::Graph& g = *s.impl().model.graph;
    int in_place = 0;
    for (const auto& step : plan->steps()) in_place += step.concat_in_place;
    EXPECT_EQ(in_place, c.in_place ? 1 : 0);
    if (!c.in_place) continue;
    const int64_t at = plan->arena_offset(g.find("d")), slice = x.nbytes();
    ASSERT_GE(at, 0);
    EXPECT_EQ(plan->arena_offset(g.find("a")), at);
    EXPECT_EQ(plan->arena_offset(g.find("b")), at + slice);
    EXPECT_EQ(plan->arena_offset(g.find("c")), at + 2 * slice);
    // c0 lives while a and b are written into d: it must not share d's memory.
    const int64_t c0 = plan->arena_offset(g.find("c0"));
    EXPECT_TRUE(c0 + slice <= at || c0 >= at + 3 * slice) << "c0 at " << c0 << ", d at " << at;
  }
}

namespace {

// Convolutions of x [N, 8, 6, 6] and x2 [N, 8, 12, 12] into 16 channels each, one per tactic that writes its images
// at a stride: 1x1 (the pointwise GEMM), 3x3 pad 1 (Winograd), 3x3 dilation 2 pad 2 (the implicit GEMM), 3x3 stride
// 2 pad 1 of x2 (the implicit GEMM over column phases), 1x1 stride 2 of x2 (subsampled); with `depthwise`, a
// depthwise 3x3 too (the direct kernel, which does not); Concat along the channels -> d -> Relu -> y.
ir::Model conv_concat_model(int64_t batch, bool depthwise) {
  kiln::testing::GraphBuilder b;
  b.input("x", DType::kFloat32, {batch, 8, 6, 6});
  b.input("x2", DType::kFloat32, {batch, 8, 12, 12});
  uint32_t seed = 7;
  auto weights = [&](const std::string& name, std::vector<int64_t> dims) {
    Tensor w(DType::kFloat32, std::move(dims));
    for (int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] = static_cast<float>((seed = seed * 1103515245u + 12345u) >> 16 & 255) / 128.0f - 1;
    b.initializer(name, std::move(w));
  };
  std::vector<std::string> parts;
  auto conv = [&](const std::string& out, const std::string& in, int64_t cg, int64_t k, int64_t stride, int64_t dilation,
                  int64_t pad, int64_t group) {
    weights(out + ".w", {16, cg, k, k});
    weights(out + ".b", {16});
    ir::Node& n = b.node("Conv", {in, out + ".w", out + ".b"}, {out}, out);
    n.attributes.push_back(passes::attr_ints("kernel_shape", {k, k}));
    n.attributes.push_back(passes::attr_ints("strides", {stride, stride}));
    n.attributes.push_back(passes::attr_ints("dilations", {dilation, dilation}));
    n.attributes.push_back(passes::attr_ints("pads", {pad, pad, pad, pad}));
    n.attributes.push_back(kiln::testing::int_attr("group", group));
    parts.push_back(out);
  };
  conv("pointwise", "x", 8, 1, 1, 1, 0, 1);
  conv("winograd", "x", 8, 3, 1, 1, 1, 1);
  conv("dilated", "x", 8, 3, 1, 2, 2, 1);
  conv("strided", "x2", 8, 3, 2, 1, 1, 1);
  conv("subsampled", "x2", 8, 1, 2, 1, 0, 1);
  if (depthwise) {
    b.node("Concat", {"x", "x"}, {"x16"}, "x16").attributes.push_back(kiln::testing::int_attr("axis", 1));
    conv("depthwise", "x16", 1, 3, 1, 1, 1, 16);
  }
  b.node("Concat", parts, {"d"}, "d").attributes.push_back(kiln::testing::int_attr("axis", 1));
  b.node("Relu", {"d"}, {"y"}, "y");
  b.g->outputs = {b.g->find("y")};
  ir::Model m;
  m.ir_version = 8;
  m.opsets = {{"", 17}};
  m.graph = b.g;
  return m;
}

Tensor ramp(std::vector<int64_t> dims, int salt) {
  Tensor t(DType::kFloat32, std::move(dims));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>((i * 37 + salt) % 101) / 50.0f - 1;
  return t;
}

}  // namespace

// At batch > 1 the convolutions write each image's slice an output image apart: the same values as the reference
// kernels' Concat, over repeated runs, at batch 1 and 3; at batch 3 not taken when one producer (the depthwise
// direct kernel) cannot write so.
TEST(ConcatInPlace, ConvolutionsWriteStridedImagesAtBatchAboveOne) {
  for (const int64_t batch : {int64_t{1}, int64_t{3}}) {
    for (const bool depthwise : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "batch " << batch << (depthwise ? ", with a depthwise producer" : ""));
      const Tensor x = ramp({batch, 8, 6, 6}, 3), x2 = ramp({batch, 8, 12, 12}, 11);
      kernels::set_isa_cap(kernels::IsaTier::kRef);  // the reference kernels: no prepared ones, no in-place Concat
      Session ref(std::make_shared<Session::Impl>(conv_concat_model(batch, depthwise), SessionOptions{}));
      const NamedTensors want = ref.run({{"x", x}, {"x2", x2}});
      kernels::set_isa_cap(kernels::IsaTier::kAvx512);
      Session s(std::make_shared<Session::Impl>(conv_concat_model(batch, depthwise), SessionOptions{}));
      for (int run = 0; run < 3; ++run) {
        const NamedTensors got = s.run({{"x", x}, {"x2", x2}});
        const Tensor& y = got[0].second;
        ASSERT_EQ(y.dims(), want[0].second.dims());
        for (int64_t i = 0; i < y.numel(); ++i)
          ASSERT_NEAR(y.data<float>()[i], want[0].second.data<float>()[i], 1e-4) << "run " << run << " element " << i;
      }
      if (kernels::active_isa() == kernels::IsaTier::kRef) continue;  // no fast kernels on this CPU
      std::unordered_map<int, ops::ValueInfo> fed{{0, {DType::kFloat32, Shape({batch, 8, 6, 6}), nullptr}},
                                                  {1, {DType::kFloat32, Shape({batch, 8, 12, 12}), nullptr}}};
      const Session::Impl& impl = s.impl();
      auto plan = const_cast<Session::Impl&>(impl).plan_for(*impl.model.graph, fed, nullptr);
      const ir::Graph& g = *impl.model.graph;
      const runtime::Step* concat = nullptr;
      for (const auto& step : plan->steps())
        if (g.nodes[static_cast<size_t>(step.node)].name == "d") concat = &step;
      ASSERT_NE(concat, nullptr);
      EXPECT_EQ(concat->concat_in_place, batch == 1 || !depthwise);  // batch 1: one range per input, any producer
      if (!concat->concat_in_place) continue;
      const int64_t slice = 16 * 36 * 4, at = plan->arena_offset(g.find("d"));
      EXPECT_EQ(concat->output_image_stride, batch > 1 ? 5 * 16 * 36 : 0);
      int i = 0;
      for (const char* part : {"pointwise", "winograd", "dilated", "strided", "subsampled"})
        EXPECT_EQ(plan->arena_offset(g.find(part)), at + slice * i++) << part;
    }
  }
}
