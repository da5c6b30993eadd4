#include "cases.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "compare.h"
#include "ir/graph.h"
#include "kiln/session.h"
#include "onnx/loader.h"
#include "onnx/tensor_io.h"
#include "onnx/value_io.h"

namespace fs = std::filesystem;

namespace kiln::conformance {

namespace {

const char* const kFolders[] = {"node", "pytorch-converted", "pytorch-operator", "simple", "light"};
constexpr double kRtol = 1e-3, kAtol = 1e-7;

std::vector<fs::path> numbered(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> files;
  for (int i = 0;; ++i) {
    fs::path p = dir / fmt::format("{}_{}.pb", prefix, i);
    if (!fs::exists(p)) break;
    files.push_back(p);
  }
  return files;
}

// The ONNX runner's input for light models: arange(n)/n in float32, symbolic dims taken as 1.
Tensor arange_input(const IoInfo& in) {
  std::vector<int64_t> dims;
  for (const Dim& d : in.shape.dims) dims.push_back(d.is_known() ? d.value() : 1);
  Tensor t(DType::kFloat32, dims);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(i) / static_cast<float>(t.numel());
  return t;
}

// What a .pb file of this input or output holds (TensorProto, SequenceProto or OptionalProto) follows from
// the type the graph declares for it.
ir::FlatType declared_type(const IoInfo& io) {
  ir::FlatType t;
  t.kind = io.kind;
  t.holds = io.holds;
  t.dtype = io.dtype;
  t.shape = io.shape;
  return t;
}

Result check_outputs(const NamedTensors& got, const std::vector<fs::path>& expected,
                     const std::vector<IoInfo>& declared) {
  if (got.size() != expected.size())
    return {Outcome::kFail, fmt::format("{} outputs but {} expected", got.size(), expected.size())};
  for (size_t i = 0; i < got.size(); ++i) {
    Tensor want = i < declared.size() ? onnx::load_value_file(expected[i].string(), declared_type(declared[i]))
                                      : onnx::load_tensor_file(expected[i].string());
    std::string diff = compare(got[i].second, want, kRtol, kAtol);
    if (!diff.empty()) return {Outcome::kFail, fmt::format("output {} '{}': {}", i, got[i].first, diff)};
  }
  return {Outcome::kPass, ""};
}

Result run_unchecked(const Case& c) {
  // Sessions refuse values kiln does not hold (maps, sparse-typed inputs), naming them.
  Session session = Session::from_file(c.model);
  if (c.light) {
    NamedTensors feeds;
    for (const IoInfo& in : session.inputs()) feeds.emplace_back(in.name, arange_input(in));
    return check_outputs(session.run(feeds), {fs::path(c.dir) / (fs::path(c.model).stem().string() + "_output_0.pb")},
                         session.outputs());
  }
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(c.dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) return {Outcome::kFail, "no test_data_set_* folder"};
  for (const fs::path& set : sets) {
    std::vector<fs::path> inputs = numbered(set, "input");
    NamedTensors feeds;
    const auto& declared = session.inputs();
    if (inputs.size() > declared.size())
      return {Outcome::kFail, fmt::format("{} input files but the model takes {}", inputs.size(), declared.size())};
    for (size_t i = 0; i < inputs.size(); ++i)
      feeds.emplace_back(declared[i].name, onnx::load_value_file(inputs[i].string(), declared_type(declared[i])));
    Result r = check_outputs(session.run(feeds), numbered(set, "output"), session.outputs());
    if (r.outcome != Outcome::kPass) return r;
  }
  return {Outcome::kPass, ""};
}

}  // namespace

std::vector<Case> find_cases(const std::vector<std::string>& roots) {
  std::vector<Case> cases;
  for (const std::string& root : roots)
    for (const char* folder : kFolders) {
      fs::path dir = fs::path(root) / folder;
      if (!fs::is_directory(dir)) continue;
      for (const auto& e : fs::directory_iterator(dir)) {
        std::string name = e.path().filename().string();
        if (std::string(folder) == "light") {
          if (e.path().extension() != ".onnx") continue;
          cases.push_back({fmt::format("light/{}", e.path().stem().string()), folder, e.path().string(), dir.string(), true});
        } else if (e.is_directory() && fs::exists(e.path() / "model.onnx")) {
          cases.push_back({fmt::format("{}/{}", folder, name), folder, (e.path() / "model.onnx").string(),
                           e.path().string(), false});
        }
      }
    }
  std::sort(cases.begin(), cases.end(), [](const Case& a, const Case& b) { return a.id < b.id; });
  return cases;
}

Result run_case(const Case& c) {
  try {
    return run_unchecked(c);
  } catch (const Error& e) {
    return {e.code() == ErrorCode::kUnsupported ? Outcome::kRefused : Outcome::kFail,
            fmt::format("{}: {}", error_code_name(e.code()), e.what())};
  } catch (const std::exception& e) {
    return {Outcome::kFail, fmt::format("exception: {}", e.what())};
  }
}

}  // namespace kiln::conformance
