// kiln run MODEL [--input NAME=FILE]... [--shape NAME=DIMS]... --output-dir DIR [--timeout S] [--seed N]

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "api/session_impl.h"
#include "cli_util.h"
#include "commands.h"
#include "kiln/session.h"
#include "onnx/npy.h"
#include "onnx/value_io.h"
#include "runtime/input_check.h"

namespace kiln::cli {

namespace {

struct RunArgs {
  std::string model;
  std::vector<std::string> inputs, shapes;
  std::string output_dir;
  std::string output_format = "npy";
  double timeout_seconds = 0;
  uint64_t seed = 0;
  bool strict_symbols = false;
};

// NumPy holds every element type kiln computes except these: it has no bfloat16, float8 or float4 dtype, and its
// string arrays are not what .npy readers expect. (4- and 2-bit integers go to .npy as int8/uint8 values.)
bool numpy_holds(DType t) {
  switch (t) {
    case DType::kBFloat16: case DType::kString: case DType::kFloat8E4M3FN: case DType::kFloat8E4M3FNUZ:
    case DType::kFloat8E5M2: case DType::kFloat8E5M2FNUZ: case DType::kFloat8E8M0: case DType::kFloat4E2M1:
      return false;
    default: return true;
  }
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  f.close();
  if (!f) throw Error(ErrorCode::kIo, fmt::format("cannot write '{}'", path));
}

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

// Uniform [0,1) floats, integers in [0,10), random bools: the same for the same seed. A size the model declares
// may be absurd: it is checked against the session's tensor limit before anything is allocated.
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

std::string value_stats(const Tensor& t) {
  if (!dtype_is_float(t.dtype()) || t.numel() == 0) return "";
  double lo = t.double_at(0), hi = lo, sum = 0;
  for (int64_t i = 0; i < t.numel(); ++i) {
    double v = t.double_at(i);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    sum += v;
  }
  return fmt::format("  min {:.4g} max {:.4g} mean {:.4g}", lo, hi, sum / static_cast<double>(t.numel()));
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

// "1x3x224" for a tensor; "sequence of 3", "optional (empty)", "optional tensor 2x3" for containers.
std::string shape_text(const Tensor& t) {
  if (t.is_tensor()) return dims_str(t.dims());
  if (t.is_sequence()) return fmt::format("sequence of {}", t.elements().size());
  if (!t.has_element()) return "optional (empty)";
  return "optional " + shape_text(t.elements().front());
}

// The tensors an output holds: itself, a sequence's elements, an optional's content (none when empty).
std::vector<Tensor> held_tensors(const Tensor& t) {
  const Tensor& held = t.is_optional() && t.has_element() ? t.elements().front() : t;
  if (held.is_tensor()) return {held};
  if (held.is_sequence()) return held.elements();
  return {};
}

// Writes one output: with --output-format npy a tensor goes to <name>.npy and a container's tensors to
// <name>_<i>.npy; with pb, or for an element type NumPy has no dtype for, the whole value goes to <name>.pb (a
// TensorProto, SequenceProto or OptionalProto, which hold every ONNX type).
void write_output(const RunArgs& args, const std::string& name, const Tensor& t) {
  const std::vector<Tensor> tensors = held_tensors(t);
  bool as_pb = args.output_format == "pb";
  if (!as_pb && !numpy_holds(t.dtype())) {
    as_pb = true;
    fmt::print("note    output '{}' is {}, which NumPy has no dtype for: written as ONNX {} (.pb); read it with "
               "onnx.numpy_helper.to_array(onnx.load_tensor(PATH)) (--output-format pb writes every output so)\n",
               name, dtype_name(t.dtype()), t.is_tensor() ? "TensorProto" : "protobuf");
  }
  const std::filesystem::path dir(args.output_dir);
  if (as_pb) {
    const std::string path = (dir / (safe_file_name(name) + ".pb")).string();
    write_bytes(path, onnx::serialize_value(t, name));
    if (t.is_tensor())
      fmt::print("output  {:<20} {:<7} {:<18} -> {}{}\n", name, dtype_name(t.dtype()), dims_str(t.dims()), path,
                 value_stats(t));
    else
      fmt::print("output  {:<20} {:<7} {:<18} -> {}\n", name, dtype_name(t.dtype()), shape_text(t), path);
    return;
  }
  if (!t.is_tensor()) fmt::print("output  {:<20} {:<7} {}\n", name, dtype_name(t.dtype()), shape_text(t));
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& e = tensors[i];
    const std::string file =
        t.is_tensor() ? safe_file_name(name) + ".npy" : fmt::format("{}_{}.npy", safe_file_name(name), i);
    const std::string path = (dir / file).string();
    onnx::write_npy(path, e);
    fmt::print("{:<8}{:<20} {:<7} {:<18} -> {}{}\n", t.is_tensor() ? "output" : "", t.is_tensor() ? name : "",
               dtype_name(e.dtype()), dims_str(e.dims()), path, value_stats(e));
  }
}

int run_command(const RunArgs& args) {
  SessionOptions session_options;
  session_options.strict_symbols = args.strict_symbols;
  Session session = Session::from_file(args.model, session_options);
  const ir::Graph& graph = *session.impl().model.graph;
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const std::string& s : args.shapes) {
    auto [name, dims] = split_assignment(s, "--shape");
    shapes[name] = parse_dims(dims, "--shape " + name);
  }
  NamedTensors feeds;
  std::map<std::string, std::string> origin;
  for (const std::string& s : args.inputs) {
    auto [name, file] = split_assignment(s, "--input");
    const IoInfo* in = find_input(session, name);
    feeds.emplace_back(name, in && in->kind != TensorKind::kTensor ? onnx::load_value_file(file, flat_type(*in))
                                                                 : read_tensor_file(file));
    origin[name] = file;
  }
  // Random weights would hide a file exported without them (export_params=False): parameters not given with
  // --input stop the run here, with the same explanation Session::run gives, before any input is made up.
  std::vector<int> unfed;
  for (int id : graph.required_inputs())
    if (!origin.count(graph.value(id).name)) unfed.push_back(id);
  const std::vector<int> params = runtime::parameter_inputs(graph, unfed);
  if (!params.empty()) runtime::report_missing_inputs(graph, params);
  std::mt19937_64 rng(args.seed);
  for (const IoInfo& in : session.inputs()) {
    if (origin.count(in.name)) continue;
    if (in.kind != TensorKind::kTensor)
      throw Error(ErrorCode::kInvalidArgument,
                  fmt::format("input '{}' is a {} of {} tensors, which kiln run cannot make up; give it with "
                              "--input {}=FILE.pb (an ONNX {} file)", in.name, tensor_kind_name(in.kind),
                              dtype_name(in.dtype), in.name,
                              in.kind == TensorKind::kSequence ? "SequenceProto" : "OptionalProto"));
    feeds.emplace_back(in.name, random_tensor(in.name, in.dtype, random_input_dims(in, shapes), rng));
    origin[in.name] = "random";
  }
  for (const auto& [name, dims] : shapes)
    if (!origin.count(name) || origin[name] != "random") {
      bool known = false;
      for (const IoInfo& in : session.inputs()) known |= in.name == name;
      if (!known) throw Error(ErrorCode::kInvalidArgument, fmt::format("--shape names '{}', which is not an input of the model", name));
    }
  RunOptions options;
  if (args.timeout_seconds > 0)
    options.deadline = std::chrono::steady_clock::now() +
                       std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                           std::chrono::duration<double>(args.timeout_seconds));
  RunStats stats;
  NamedTensors outputs = session.run(feeds, options, &stats);
  std::filesystem::create_directories(args.output_dir);
  for (const auto& [name, t] : feeds)
    fmt::print("input   {:<20} {:<7} {:<18} {}\n", name, dtype_name(t.dtype()), shape_text(t), origin[name]);
  for (const auto& [name, t] : outputs) write_output(args, name, t);
  fmt::print("time    {:.2f} ms ({} kernels; first run at these shapes, planning included)\n", stats.milliseconds,
             stats.steps);
  fmt::print("memory  peak {} of intermediates (arena {})\n", human_bytes(static_cast<double>(stats.peak_bytes)),
             human_bytes(static_cast<double>(stats.arena_bytes)));
  return 0;
}

}  // namespace

Runner add_run(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Run a model on given or random inputs and save its outputs as .npy");
  cmd->add_option("model", args->model, "ONNX model file")->required();
  cmd->add_option("--input,-i", args->inputs, "NAME=FILE: an input from a .npy or ONNX TensorProto .pb file");
  cmd->add_option("--shape,-s", args->shapes, "NAME=DIMS: size of a random input, e.g. input=1x3x224x224");
  cmd->add_option("--output-dir,-o", args->output_dir, "Folder for the outputs (<name>.npy or <name>.pb)")->required();
  cmd->add_option("--output-format", args->output_format,
                  "npy (default; outputs NumPy has no dtype for, such as bfloat16, go to .pb) or pb (ONNX TensorProto)")
      ->check(CLI::IsMember({"npy", "pb"}));
  cmd->add_flag("--strict-symbols", args->strict_symbols,
                "Refuse inputs that give one named dim (dim_param) two sizes instead of running with a warning");
  cmd->add_option("--timeout", args->timeout_seconds, "Stop the run after this many seconds");
  cmd->add_option("--seed", args->seed, "Seed for random inputs (default 0)");
  return [args]() { return run_command(*args); };
}

}  // namespace kiln::cli
