// Concats whose producers write straight into their slices (runtime/concat_in_place.h): when the plan takes them,
// where it puts the inputs, and that results equal the Concat's own over repeated runs, also when a producer hands
// back a tensor of its own (set_output) instead of writing where the plan put it.

#include <gtest/gtest.h>

#include "api/session_impl.h"
#include "runtime/plan.h"
#include "graph_builder.h"

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

struct Case {
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
  const Case cases[] = {
      {{1, 16, 4}, 1, false, true},   // batch 1, slices of 256 bytes
      {{1, 16, 4}, -2, false, true},  // the same axis, counted from the end
      {{1, 1, 64}, 2, false, true},   // the last axis, every dim before it 1
      {{2, 16, 4}, 1, false, false},  // batch 2: each input is two ranges
      {{1, 3, 1}, 1, false, false},   // 12-byte slices: not 64-byte aligned
      {{1, 16, 4}, 1, true, false},   // a is also a graph output
  };
  for (const Case& c : cases) {
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
