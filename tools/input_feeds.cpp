#include "input_feeds.h"

#include <random>

#include "api/session_impl.h"
#include "cli_util.h"
#include "onnx/value_io.h"
#include "runtime/input_check.h"

namespace kiln::cli {

namespace {

// Dims for a random input: --shape when given, else the model's dims, which must then all be numbers.
std::vector<int64_t> random_input_dims(const IoInfo& in, const std::map<std::string, std::vector<int64_t>>& shapes) {
  auto it = shapes.find(in.name);
  if (it != shapes.end()) return it->second;
  if (!in.shape.rank_known)
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("input '{}' has no declared shape; give its size with --shape {}=DIMS or data with "
                            "--input {}=FILE", in.name, in.name, in.name));
  std::vector<int64_t> dims;
  for (size_t i = 0; i < in.shape.rank(); ++i) {
    const Dim& d = in.shape.dims[i];
    if (!d.is_known())
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("input '{}' dim {} is '{}' (not fixed by the model); give sizes with --shape {}=DIMS "
                              "(e.g. {}) or data with --input {}=FILE",
                              in.name, i, d.str(), in.name, in.shape.str(), in.name));
    dims.push_back(d.value());
  }
  return dims;
}

const IoInfo* find_input(const Session& session, const std::string& name) {
  for (const IoInfo& in : session.inputs())
    if (in.name == name) return &in;
  return nullptr;
}

ir::FlatType flat_type(const IoInfo& in) {
  ir::FlatType t;
  t.kind = in.kind;
  t.holds = in.holds;
  t.dtype = in.dtype;
  t.shape = in.shape;
  return t;
}

}  // namespace

// A size the model declares may be absurd: it is checked against the session's tensor limit before anything is
// allocated.
Tensor random_tensor(const std::string& name, DType dtype, const std::vector<int64_t>& dims, std::mt19937_64& rng) {
  const int64_t limit = SessionOptions{}.max_tensor_bytes;
  int64_t bytes = static_cast<int64_t>(std::max<size_t>(dtype_size(dtype), 1));
  bool over = false;
  for (int64_t d : dims) over = over || __builtin_mul_overflow(bytes, d, &bytes) || bytes > limit;
  if (over && std::find(dims.begin(), dims.end(), 0) == dims.end())
    throw Error(ErrorCode::kLimitExceeded,
                fmt::format("input '{}': random data of {} {} would need more than {} bytes, the limit for one "
                            "tensor; give a smaller size with --shape {}=DIMS or data with --input {}=FILE",
                            name, dtype_name(dtype), Shape::from(dims).str(), limit, name, name));
  Tensor t(dtype, dims);
  std::uniform_real_distribution<double> real(0.0, 1.0);
  std::uniform_int_distribution<int> small(0, 9);
  for (int64_t i = 0; i < t.numel(); ++i) {
    switch (dtype) {
      case DType::kFloat32: t.data<float>()[i] = static_cast<float>(real(rng)); break;
      case DType::kFloat64: t.data<double>()[i] = real(rng); break;
      case DType::kFloat16: t.data<Float16>()[i] = Float16(static_cast<float>(real(rng))); break;
      case DType::kBFloat16: t.data<BFloat16>()[i] = BFloat16(static_cast<float>(real(rng))); break;
      case DType::kBool: t.data<bool>()[i] = small(rng) % 2; break;
      case DType::kInt64: t.data<int64_t>()[i] = small(rng); break;
      case DType::kInt32: t.data<int32_t>()[i] = small(rng); break;
      case DType::kInt8: t.data<int8_t>()[i] = static_cast<int8_t>(small(rng)); break;
      case DType::kUInt8: t.data<uint8_t>()[i] = static_cast<uint8_t>(small(rng)); break;
      default:
        throw Error(ErrorCode::kInvalidArgument,
                    fmt::format("cannot make random data of type {}; give the input with --input", dtype_name(dtype)));
    }
  }
  return t;
}

// "1x3x224" for a tensor; "sequence of 3", "optional (empty)", "optional tensor 2x3" for containers.
std::string shape_text(const Tensor& t) {
  if (t.is_tensor()) return dims_str(t.dims());
  if (t.is_sequence()) return fmt::format("sequence of {}", t.elements().size());
  if (!t.has_element()) return "optional (empty)";
  return "optional " + shape_text(t.elements().front());
}

Feeds make_feeds(const Session& session, const std::vector<std::string>& input_args,
                 const std::vector<std::string>& shape_args, uint64_t seed) {
  std::map<std::string, std::vector<int64_t>> shapes = parse_shape_args(shape_args);
  // An engine knows the shape it was tuned for: its first profile's opt shape is the default size of random data.
  if (const auto& engine = session.impl().engine; engine && !engine->profiles.empty())
    for (const engine::InputRange& r : engine->profiles[0].inputs) shapes.emplace(r.name, r.opt);
  Feeds feeds;
  for (const std::string& s : input_args) {
    auto [name, file] = split_assignment(s, "--input");
    const IoInfo* in = find_input(session, name);
    feeds.tensors.emplace_back(name, in && in->kind != TensorKind::kTensor ? onnx::load_value_file(file, flat_type(*in))
                                                                           : read_tensor_file(file));
    feeds.origin[name] = file;
  }
  // Random weights would hide a file exported without them (export_params=False): trained parameters (by the
  // weight slot they feed or their name) not given with --input stop here, with the explanation Session::run
  // gives, before any input is made up.
  const ir::Graph& graph = *session.impl().model.graph;
  std::vector<int> unfed;
  for (int id : graph.required_inputs())
    if (!feeds.origin.count(graph.value(id).name)) unfed.push_back(id);
  const std::vector<int> params = runtime::parameter_inputs(graph, unfed);
  if (!params.empty()) runtime::report_missing_inputs(graph, params);
  std::mt19937_64 rng(seed);
  for (const IoInfo& in : session.inputs()) {
    if (feeds.origin.count(in.name)) continue;
    if (in.kind != TensorKind::kTensor)
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("input '{}' is a {} of {} tensors, which kiln cannot make up; give it with "
                              "--input {}=FILE.pb (an ONNX {} file)", in.name, tensor_kind_name(in.kind),
                              dtype_name(in.dtype), in.name,
                              in.kind == TensorKind::kSequence ? "SequenceProto" : "OptionalProto"));
    feeds.tensors.emplace_back(in.name, random_tensor(in.name, in.dtype, random_input_dims(in, shapes), rng));
    feeds.origin[in.name] = "random";
  }
  for (const auto& [name, dims] : shapes)
    if (!feeds.origin.count(name) || feeds.origin[name] != "random") {
      if (!find_input(session, name))
        throw Error(ErrorCode::kInvalidArgument,
                    fmt::format("--shape names '{}', which is not an input of the model", name));
    }
  return feeds;
}

}  // namespace kiln::cli
