// kiln run MODEL [--input NAME=FILE]... [--shape NAME=DIMS]... --output-dir DIR [--output-format npy|pb]
//          [--timeout S] [--seed N] [--strict-symbols] [--no-optimize | --optimize-level N]
//          [--disable-pass NAME]... [--threads N]

#include <filesystem>
#include <fstream>

#include "cli_util.h"
#include "commands.h"
#include "input_feeds.h"
#include "kiln/session.h"
#include "onnx/npy.h"
#include "onnx/value_io.h"

namespace kiln::cli {

namespace {

struct RunArgs {
  std::string model;
  std::vector<std::string> inputs, shapes;
  std::string output_dir;
  std::string output_format = "npy";
  double timeout_seconds = 0;
  uint64_t seed = 0;
  bool no_optimize = false;
  int optimize_level = SessionOptions{}.graph_optimization_level;
  std::vector<std::string> disabled_passes;
  int threads = 0;
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
  session_options.graph_optimization_level = args.no_optimize ? 0 : args.optimize_level;
  session_options.disabled_passes = args.disabled_passes;
  session_options.intra_op_threads = args.threads;
  session_options.strict_symbols = args.strict_symbols;
  Session session = Session::from_file(args.model, session_options);
  Feeds feeds = make_feeds(session, args.inputs, args.shapes, args.seed);
  RunOptions options;
  if (args.timeout_seconds > 0)
    options.deadline = std::chrono::steady_clock::now() +
                       std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                           std::chrono::duration<double>(args.timeout_seconds));
  RunStats stats;
  NamedTensors outputs = session.run(feeds.tensors, options, &stats);
  std::filesystem::create_directories(args.output_dir);
  for (const auto& [name, t] : feeds.tensors)
    fmt::print("input   {:<20} {:<7} {:<18} {}\n", name, dtype_name(t.dtype()), shape_text(t), feeds.origin[name]);
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
  CLI::App* cmd = app.add_subcommand("run", "Run a model on given or random inputs and save its outputs");
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
  auto* no_opt = cmd->add_flag("--no-optimize", args->no_optimize, "Run the graph as loaded: no graph passes");
  cmd->add_option("--optimize-level", args->optimize_level,
                  "Graph passes: 0 none, 1 basic (cleanup, folding), 2 all (fusions; the default)")
      ->check(CLI::Range(0, 2))
      ->excludes(no_opt);
  cmd->add_option("--disable-pass", args->disabled_passes, "NAME: switch one graph pass off (repeatable)");
  cmd->add_option("--threads", args->threads, "Threads a run uses (default 0: every CPU this process may use)")
      ->check(CLI::NonNegativeNumber);
  return [args]() { return run_command(*args); };
}

}  // namespace kiln::cli
