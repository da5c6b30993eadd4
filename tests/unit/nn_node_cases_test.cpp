// Replays recorded cases for the NN ops (conv, pools, matmul, einsum, quantization, roi):
//  - fixtures/nn_node_cases.txt (fixtures/gen_nn_node_cases.py): the ONNX backend node tests, expected outputs
//    from numpy / onnx's reference implementation;
//  - fixtures/nn_ort_cases.txt (fixtures/gen_nn_ort_cases.py): random window / einsum / RoiAlign
//    configurations, expected outputs from onnxruntime.
// Neither comes from kiln.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "ir/dispatch.h"
#include "op_test_util.h"

using namespace kiln;
using kiln::testing::OpCall;

namespace {

struct NodeCase {
  std::string name, op;
  int opset = 0;
  std::vector<std::pair<std::string, ir::Attribute>> attrs;
  std::vector<Tensor> inputs, outputs;
};

Tensor read_tensor(std::istringstream& in) {
  int dtype = 0;
  size_t rank = 0;
  in >> dtype >> rank;
  std::vector<int64_t> dims(rank);
  for (auto& d : dims) in >> d;
  Tensor t(static_cast<DType>(dtype), dims);
  for (int64_t i = 0; i < t.numel(); ++i) {
    std::string tok;
    in >> tok;
    const double v = std::strtod(tok.c_str(), nullptr);
    switch (t.dtype()) {
      case DType::kFloat32: t.data<float>()[i] = static_cast<float>(v); break;
      case DType::kFloat64: t.data<double>()[i] = v; break;
      case DType::kFloat16: t.data<Float16>()[i] = Float16(static_cast<float>(v)); break;
      case DType::kBFloat16: t.data<BFloat16>()[i] = BFloat16(static_cast<float>(v)); break;
      case DType::kBool: t.data<bool>()[i] = v != 0; break;
      default:
        visit_integer(t.dtype(), [&]<typename T>() { t.data<T>()[i] = static_cast<T>(std::stoll(tok)); });
    }
  }
  return t;
}

std::string unhex(const std::string& h) {
  if (h == "-") return "";
  std::string s;
  for (size_t i = 0; i + 1 < h.size(); i += 2) s += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
  return s;
}

void load_file(const std::string& name, std::vector<NodeCase>& cases) {
  const auto path = std::filesystem::path(KILN_SOURCE_DIR) / "tests" / "unit" / "fixtures" / name;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string kind;
    in >> kind;
    if (kind == "case") {
      cases.emplace_back();
      in >> cases.back().name;
    } else if (kind == "op") {
      in >> cases.back().op >> cases.back().opset;
    } else if (kind == "attr") {
      ir::Attribute a;
      std::string type;
      in >> a.name >> type;
      size_t n = 0;
      if (type == "int") {
        a.type = ir::AttrType::kInt;
        in >> a.i;
      } else if (type == "float") {
        a.type = ir::AttrType::kFloat;
        in >> a.f;
      } else if (type == "ints") {
        a.type = ir::AttrType::kInts;
        in >> n;
        a.ints.resize(n);
        for (auto& v : a.ints) in >> v;
      } else if (type == "floats") {
        a.type = ir::AttrType::kFloats;
        in >> n;
        a.floats.resize(n);
        for (auto& v : a.floats) in >> v;
      } else if (type == "string") {
        a.type = ir::AttrType::kString;
        std::string h;
        in >> h;
        a.s = unhex(h);
      }
      cases.back().attrs.emplace_back(a.name, a);
    } else if (kind == "input") {
      std::string peek;
      std::streampos pos = in.tellg();
      in >> peek;
      if (peek == "none") {
        cases.back().inputs.emplace_back();
      } else {
        in.seekg(pos);
        cases.back().inputs.push_back(read_tensor(in));
      }
    } else if (kind == "output") {
      cases.back().outputs.push_back(read_tensor(in));
    }
  }
}

std::vector<NodeCase> load_cases() {
  std::vector<NodeCase> cases;
  load_file("nn_node_cases.txt", cases);
  load_file("nn_ort_cases.txt", cases);
  return cases;
}

const std::vector<NodeCase>& all_cases() {
  static const std::vector<NodeCase> cases = load_cases();
  return cases;
}

// Cases kiln refuses on purpose, with the reason.
const std::map<std::string, std::string>& known_gaps() {
  static const std::map<std::string, std::string> gaps = {};
  return gaps;
}

// Cases whose expected values were written by hand to 4 decimals.
double extra_atol(const std::string& name) {
  return name == "test_averagepool_2d_ceil_last_window_starts_on_pad" || name == "test_roialign_aligned_false" ||
                 name == "test_roialign_aligned_true"
             ? 1e-4
             : 0;
}

class NodeCaseTest : public ::testing::TestWithParam<size_t> {};

TEST_P(NodeCaseTest, MatchesReference) {
  const NodeCase& c = all_cases()[GetParam()];
  if (auto it = known_gaps().find(c.name); it != known_gaps().end()) GTEST_SKIP() << it->second;
  OpCall call(c.op, c.opset);
  for (const auto& [name, a] : c.attrs) {
    switch (a.type) {
      case ir::AttrType::kInt: call.attr(name, a.i); break;
      case ir::AttrType::kFloat: call.attr(name, a.f); break;
      case ir::AttrType::kInts: call.attr(name, a.ints); break;
      case ir::AttrType::kFloats: call.attr(name, a.floats); break;
      case ir::AttrType::kString: call.attr(name, a.s); break;
      default: FAIL() << "attribute type not handled";
    }
  }
  call.outputs(c.outputs.size());
  std::vector<Tensor> got;
  try {
    got = call.run(c.inputs);
  } catch (const std::exception& e) {
    FAIL() << c.name << ": " << e.what();
  }
  ASSERT_EQ(got.size(), c.outputs.size());
  for (size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE(c.name + " output " + std::to_string(i));
    const DType t = c.outputs[i].dtype();
    const bool half = t == DType::kFloat16 || t == DType::kBFloat16;
    const double rtol = dtype_is_float(t) ? (half ? 1e-2 : 1e-4) : 0.0;
    const double atol = (dtype_is_float(t) ? (half ? 1e-2 : 1e-5) : 0.0) + extra_atol(c.name);
    kiln::testing::expect_close(got[i], c.outputs[i], rtol, atol);
  }
}

INSTANTIATE_TEST_SUITE_P(Onnx, NodeCaseTest, ::testing::Range<size_t>(0, all_cases().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) { return all_cases()[info.param].name; });

TEST(NodeCases, FixturesLoaded) { EXPECT_GT(all_cases().size(), 250u); }

}  // namespace
