// Per-axis attribute lists of the wrong length (issue 7): the fuzzer's Conv whose kernel_shape had 1 value for
// a weight with 2 spatial dims, and its siblings for every window op, written by fuzz/make_axis_regressions.py.
// Each must be refused when the session is created, by `kiln check` too, with a message naming the node, the
// attribute, its length and the rank; the same checks guard the plan-time and run-time paths when the rank is
// known only then.

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "api/model_check.h"
#include "api/session_impl.h"
#include "op_test_util.h"

using namespace kiln;
using kiln::testing::OpCall;

namespace fs = std::filesystem;

namespace {

fs::path regressions() { return fs::path(KILN_SOURCE_DIR) / "fuzz" / "regressions"; }

// What a file name says: axis_attr-<Op>-<attribute>-<short|long>.onnx.
struct RefusedCase {
  fs::path path;
  std::string op, attr, kind;
};

std::vector<RefusedCase> refused_cases() {
  std::vector<RefusedCase> cases;
  for (const auto& e : fs::directory_iterator(regressions())) {
    const std::string stem = e.path().stem().string();
    if (stem.rfind("axis_attr-", 0) != 0 || stem.ends_with("-ok")) continue;
    const size_t a = stem.find('-'), b = stem.find('-', a + 1), c = stem.rfind('-');
    cases.push_back({e.path(), stem.substr(a + 1, b - a - 1), stem.substr(b + 1, c - b - 1), stem.substr(c + 1)});
  }
  return cases;
}

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// The length each list needs with 2 spatial dims, and what the file gives (one fewer or one more).
size_t needed(const std::string& attr) { return attr == "pads" ? 4 : 2; }
size_t given(const RefusedCase& c) { return c.kind == "short" ? needed(c.attr) - 1 : needed(c.attr) + 1; }

std::string expect_refused(const std::function<void()>& f, ErrorCode code) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "not refused";
  return "";
}

void expect_has(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "missing \"" << part << "\" in: " << text;
}

}  // namespace

TEST(AxisAttr, EveryWindowOpAndAttributeHasAShortAndALongCase) {
  std::map<std::string, std::set<std::string>> seen;
  for (const RefusedCase& c : refused_cases()) seen[c.op].insert(c.attr + "-" + c.kind);
  const std::map<std::string, size_t> lists = {{"Conv", 4}, {"ConvTranspose", 6}, {"ConvInteger", 4},
                                               {"QLinearConv", 4}, {"DeformConv", 4}, {"MaxPool", 4},
                                               {"AveragePool", 4}, {"LpPool", 4}, {"MaxUnpool", 3}, {"Col2Im", 3}};
  for (const auto& [op, n] : lists) EXPECT_EQ(seen[op].size(), 2 * n) << op;
  EXPECT_EQ(seen.size(), lists.size());
}

TEST(AxisAttr, RefusedWhenTheSessionIsCreatedNamingNodeAttributeLengthAndRank) {
  for (const RefusedCase& c : refused_cases()) {
    SCOPED_TRACE(c.path.filename().string());
    const std::string msg = expect_refused([&] { Session::from_file(c.path.string()); }, ErrorCode::kInvalidModel);
    expect_has(msg, fmt::format("node '{}_{}_{}' ({})", lower(c.op), c.attr, c.kind, c.op));
    expect_has(msg, fmt::format("attribute '{}' has {} value{}", c.attr, given(c), given(c) == 1 ? "" : "s"));
    expect_has(msg, "has rank 4");
    expect_has(msg, fmt::format("so it needs {} (", needed(c.attr)));
  }
}

TEST(AxisAttr, TheConvolutionsAreRefusedFromTheWeightsRankAlone) {
  // Their X is declared without a shape: only the initializer W tells the rank at load.
  for (const RefusedCase& c : refused_cases()) {
    if (c.op.find("Conv") == std::string::npos) continue;
    SCOPED_TRACE(c.path.filename().string());
    expect_has(expect_refused([&] { Session::from_file(c.path.string()); }, ErrorCode::kInvalidModel),
               "but W [1,1,2,2] has rank 4");
  }
}

TEST(AxisAttr, CheckReportsThemWithoutShapes) {
  for (const RefusedCase& c : refused_cases()) {
    SCOPED_TRACE(c.path.filename().string());
    const CheckReport r = check_model(c.path.string(), {});
    EXPECT_FALSE(r.will_run());
    const std::string node = fmt::format("node '{}_{}_{}' ({})", lower(c.op), c.attr, c.kind, c.op);
    bool found = false;
    for (const Finding& f : r.findings)
      if (f.kind == "invalid-node" && f.where == node) {
        found = true;
        expect_has(f.message, fmt::format("attribute '{}' has {} value", c.attr, given(c)));
      }
    EXPECT_TRUE(found);
  }
}

TEST(AxisAttr, TheControlsLoadAndCheckClean) {
  size_t controls = 0;
  for (const auto& e : fs::directory_iterator(regressions())) {
    if (!e.path().stem().string().ends_with("-ok")) continue;
    SCOPED_TRACE(e.path().filename().string());
    EXPECT_NO_THROW(Session::from_file(e.path().string()));
    EXPECT_TRUE(check_model(e.path().string(), {}).will_run());
    ++controls;
  }
  EXPECT_EQ(controls, 10u);
}

TEST(AxisAttr, TheFuzzersInputIsRefusedAtLoad) {
  const fs::path crash = regressions() / "crash-conv-kernel_shape-1-value-rank-4.onnx";
  ASSERT_TRUE(fs::exists(crash));
  const std::string msg = expect_refused([&] { Session::from_file(crash.string()); }, ErrorCode::kInvalidModel);
  expect_has(msg, "(Conv): attribute 'kernel_shape' has 1 value, but X [1,1,?,5] has rank 4, so it needs 2");
}

// When no rank is known at load (X and W both undeclared), the same check guards inference at plan time.
TEST(AxisAttr, RefusedAtPlanTimeWhenTheRankIsKnownOnlyThen) {
  ir::Model m;
  m.ir_version = 8;
  m.opsets = {{"", 17}};
  m.graph = std::make_shared<ir::Graph>();
  ir::Graph& g = *m.graph;
  const int x = g.intern("x"), w = g.intern("w"), y = g.intern("y");
  g.inputs = {x, w};
  g.outputs = {y};
  ir::Node conv;
  conv.name = "late";
  conv.op_type = "Conv";
  conv.inputs = {x, w};
  conv.outputs = {y};
  ir::Attribute k;
  k.name = "kernel_shape";
  k.type = ir::AttrType::kInts;
  k.ints = {3};
  conv.attributes.push_back(k);
  g.nodes.push_back(conv);
  Session s(std::make_shared<Session::Impl>(m, SessionOptions{}));
  const std::string msg = expect_refused(
      [&] { s.run({{"x", Tensor(DType::kFloat32, {1, 1, 5, 5})}, {"w", Tensor(DType::kFloat32, {1, 1, 3, 3})}}); },
      ErrorCode::kInvalidModel);
  expect_has(msg, "node 'late' (Conv): attribute 'kernel_shape' has 1 value, but X [1,1,5,5] has rank 4");
}

// The other per-axis lists, through one node's inference and kernel.
TEST(AxisAttr, OtherPerAxisListsNameTheirLengthAndRank) {
  const Tensor x4(DType::kFloat32, {1, 1, 4, 4}), x2(DType::kFloat32, {2, 3});
  expect_has(expect_refused([&] { OpCall("Transpose", 13).attr("perm", std::vector<int64_t>{1, 0, 2}).run1({x2}); },
                            ErrorCode::kInvalidModel),
             "attribute 'perm' has 3 values, but the input [2,3] has rank 2, so it needs 2 (one per axis)");
  expect_has(expect_refused([&] { OpCall("Tile", 13).run1({x2, Tensor::from_vector<int64_t>({3}, {1, 2, 3})}); },
                            ErrorCode::kInvalidArgument),
             "input 'repeats' has 3 values, but the input [2,3] has rank 2, so it needs 2 (one per axis)");
  expect_has(expect_refused([&] { OpCall("Pad", 13).run1({x2, Tensor::from_vector<int64_t>({2}, {1, 1})}); },
                            ErrorCode::kInvalidArgument),
             "input 'pads' has 2 values, but the input has rank 2, so it needs 4 (a begin and an end per axis)");
  expect_has(expect_refused([&] { OpCall("Pad", 2).attr("pads", std::vector<int64_t>{1, 1, 1}).run1({x2}); },
                            ErrorCode::kInvalidModel),
             "attribute 'pads' has 3 values");
  expect_has(expect_refused(
                 [&] {
                   OpCall("Resize", 13).run1({x4, Tensor(), Tensor::from_vector<float>({3}, {1, 1, 2})});
                 },
                 ErrorCode::kInvalidArgument),
             "input 'scales' has 3 values, but X [1,1,4,4] has rank 4, so it needs 4 (one per axis)");
  expect_has(expect_refused([&] { OpCall("MaxPool", 12).attr("kernel_shape", std::vector<int64_t>{2}).run1({x4}); },
                            ErrorCode::kInvalidModel),
             "attribute 'kernel_shape' has 1 value, but X [1,1,4,4] has rank 4, so it needs 2");
  expect_has(expect_refused(
                 [&] {
                   OpCall("MaxRoiPool", 22).attr("pooled_shape", std::vector<int64_t>{2, 2, 2})
                       .run1({x4, Tensor::from_vector<float>({1, 5}, {0, 0, 0, 1, 1})});
                 },
                 ErrorCode::kInvalidModel),
             "attribute 'pooled_shape' has 3 values");
  expect_has(expect_refused(
                 [&] {
                   OpCall("ConvTranspose", 11).attr("output_padding", std::vector<int64_t>{0})
                       .run1({x4, Tensor(DType::kFloat32, {1, 1, 2, 2})});
                 },
                 ErrorCode::kInvalidModel),
             "attribute 'output_padding' has 1 value, but X [1,1,4,4] has rank 4, so it needs 2");
}
