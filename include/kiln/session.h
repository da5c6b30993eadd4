#pragma once
// kiln's C++ API: load an ONNX model once, run it many times.
//
//   kiln::Session session = kiln::Session::from_file("model.onnx");
//   for (const kiln::IoInfo& in : session.inputs()) ...        // names, types, symbolic shapes
//   auto outputs = session.run({{"input", kiln::Tensor(kiln::DType::kFloat32, {1, 3, 224, 224})}});
//
// Errors are kiln::Error (kiln/error.h) with a code and a message naming what was wrong and how to fix it.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "kiln/error.h"
#include "kiln/shape.h"
#include "kiln/tensor.h"

namespace kiln {

/// A model input or output as the file declares it; dims may be symbols ("batch") or unknown.
/// A sequence or optional value (kind) is fed and returned as a container Tensor (Tensor::make_sequence,
/// Tensor::make_optional); `dtype` and `shape` then describe the tensors inside it.
struct IoInfo {
  std::string name;
  DType dtype = DType::kUndefined;
  Shape shape;
  TensorKind kind = TensorKind::kTensor;
  TensorKind holds = TensorKind::kTensor;  ///< for an optional: whether it holds a tensor or a sequence
};

/// Named tensors, in order: feeds for run(), results from it.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct SessionOptions {
  /// Largest single tensor a run may allocate.
  int64_t max_tensor_bytes = int64_t{8} << 30;
  /// Most memory one run may hold at once.
  int64_t max_run_bytes = int64_t{16} << 30;
  /// Deepest subgraph nesting accepted.
  int max_nesting = 32;
  /// Most subgraph executions (Loop iterations, Scan steps, If branches) in one run.
  int64_t max_subgraph_runs = 1'000'000;
  /// Most multiply-adds one run may do (subgraphs included), 0 = no limit: each convolution, matrix product,
  /// pooling window, recurrent or attention node's count is estimated from its shapes before it runs, and a
  /// node that would take the run past the limit is refused, named, before it starts. For servers that must
  /// bound the work of a request, and for fuzzing.
  int64_t max_run_macs = 0;
  /// Threads kernels split one run's work over; 0 = the CPUs this process may use (affinity and cgroup quota,
  /// not the host's count). Results do not depend on it.
  int intra_op_threads = 0;
  /// Plans (one per distinct set of input shapes) kept; the least recently used is dropped past this.
  int max_cached_plans = 64;
  /// Graph rewrites run once when the session is created (src/passes): 0 = none (the graph runs as loaded),
  /// 1 = basic (Identity/Dropout removal, dead nodes, constant folding, Conv+BatchNorm folding), 2 = all (also
  /// fusions into kiln's own ops: Conv/MatMul with bias, residual and activation, attention, LayerNorm, GELU).
  /// Outputs agree with the unoptimized graph within float rounding; inputs and outputs keep their names.
  int graph_optimization_level = 2;
  /// Passes not to run, by name (e.g. "fuse_attention"); an unknown name is an error.
  std::vector<std::string> disabled_passes;
  /// Input shapes fixed when the session is created, by input name (ONNX Runtime's free-dimension overrides,
  /// by input): the declared dims become these numbers before the passes run, so shape computations on them
  /// fold to constants, and each symbol they replace ("batch") takes the same size in every other input. A run
  /// fed another shape is refused. Unknown names, wrong ranks and sizes that contradict the model are errors.
  std::map<std::string, std::vector<int64_t>> fixed_input_shapes;
  /// A named dim (dim_param) that two fed dims give different sizes is refused when true. By default the run
  /// goes ahead, as ONNX Runtime's does: kiln computes with the sizes fed, never with the names, and `warn`
  /// says so once per name and session. (Placeholder names such as "?" are unknown dims, never shared.)
  bool strict_symbols = false;
  /// Receives warnings; when empty, they go to standard error as "kiln: warning: <message>".
  std::function<void(const std::string&)> warn;
};

/// One executed step of a profiled run (RunOptions::profile).
struct StepProfile {
  std::string node;     ///< the node's name, or "#<index>" when it has none
  std::string op_type;  ///< "Conv"; "<domain>.<op>" outside ai.onnx, e.g. "ai.kiln.FusedConv"
  std::string kernel;   ///< the prepared fast kernel's describe(); empty when the reference kernel ran
  size_t index = 0;     ///< the node's position in its graph
  /// 0: a node of the model's graph. 1 and more: a node inside an If/Loop/Scan body, whose time is also part
  /// of the enclosing node's (sum depth-0 steps only for a total).
  int depth = 0;
  double milliseconds = 0;  ///< wall time of the step
};

struct RunOptions {
  /// Outputs to compute, by name; empty means every graph output in the model's order.
  std::vector<std::string> output_names;
  /// Set to true from another thread to stop the run with Error(kCancelled).
  const std::atomic<bool>* cancel = nullptr;
  /// Stop with Error(kCancelled) once this time passes.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  /// Profiling: when set, called after every executed step, on the thread that called run(). Left empty, a
  /// run reads no clocks per step. (`kiln bench --profile` builds its table from this.)
  std::function<void(const StepProfile&)> profile;
  /// Runs every kernel on the calling thread, leaving the session's intra-op threads to other runs (results are
  /// the same: they never depend on the thread count). For a caller that already runs as many requests at once
  /// as there are cores (kiln serve under load), where a run split over threads that other runs keep busy waits
  /// for them.
  bool calling_thread_only = false;
};

/// What one run did.
struct RunStats {
  double milliseconds = 0;    ///< wall time of the run, plan building included
  size_t peak_bytes = 0;      ///< peak intermediate memory (arena + dynamically sized tensors)
  size_t arena_bytes = 0;     ///< the planned arena for these input shapes
  bool plan_reused = false;   ///< a cached plan for these input shapes was used
  size_t steps = 0;           ///< kernels executed
  size_t packed_weight_bytes = 0;  ///< weights the session packed for its fast kernels (shared by all runs)
};

/// Feeds and outputs bound to one shape, for the steady state of a service or a benchmark (Session::bind).
/// run() executes the bound plan without checking feeds or looking up a plan, and from the second run on a
/// model whose intermediate shapes follow from its input shapes makes no heap allocation (the outputs of the
/// previous run are written again in place; `kiln bench` counts allocations per run). The inputs' memory is
/// shared with the tensors given to bind(): write new values into those tensors between runs; their shapes stay
/// the bound ones. outputs() are the binding's own tensors, rewritten by every run: clone one to keep it. One
/// thread at a time per binding; several bindings of one session may run at once.
class Binding {
 public:
  /// RunOptions::output_names must be empty: the outputs are chosen at bind().
  void run(const RunOptions& options = {}, RunStats* stats = nullptr);
  /// The bound outputs, in the order asked for at bind(); empty tensors until the first run.
  const NamedTensors& outputs() const;

  struct Impl;
  explicit Binding(std::unique_ptr<Impl> impl);
  Binding(Binding&&) noexcept;
  Binding& operator=(Binding&&) noexcept;
  ~Binding();

 private:
  std::unique_ptr<Impl> impl_;
};

/// Model-level facts for tools (`kiln inspect`).
struct ModelInfo {
  int64_t ir_version = 0;
  std::string producer_name, producer_version, graph_name;
  std::string domain;             ///< ModelProto.domain
  std::string doc_string;         ///< ModelProto.doc_string (the model's description)
  std::string graph_doc_string;   ///< GraphProto.doc_string
  int64_t model_version = 0;      ///< ModelProto.model_version
  bool has_model_version = false; ///< the file sets model_version (ONNX Runtime reports INT64_MAX when not)
  std::vector<std::pair<std::string, int64_t>> opsets;  ///< domain ("" = ai.onnx), version
  std::vector<std::pair<std::string, std::string>> metadata;
};

class Binding;

class Session {
 public:
  /// Loads the model at `path` (weights are mapped, not copied; external data is read from the model's
  /// folder only). Throws Error on a malformed model or one that uses operators kiln cannot run.
  static Session from_file(const std::string& path, const SessionOptions& options = {});
  /// Loads a model from serialized bytes (copied). External data is refused: there is no folder.
  /// Engine bytes (see from_engine) are recognised by their magic, in from_file too.
  static Session from_bytes(std::span<const uint8_t> bytes, const SessionOptions& options = {});
  /// Loads an engine written by `kiln build` (.kiln): verified (format version, checksums, sections), its
  /// optimized model loaded from the mapped file with no graph pass run again, its profiles enforced on every
  /// run (a feed outside every profile is refused, naming the input, dim, size, allowed range and the
  /// `kiln build` flags that would hold it). graph_optimization_level and disabled_passes are not used: they
  /// were fixed at build time. Throws Error for a damaged, truncated or newer-format engine.
  static Session from_engine(const std::string& path, const SessionOptions& options = {});

  /// Inputs a caller must feed (graph inputs without an initializer), in the model's order.
  const std::vector<IoInfo>& inputs() const;
  /// Graph inputs that have an initializer, in the model's order: a caller may leave them out (the initializer
  /// is the value) or feed them to override it (ONNX Runtime's overridable initializers).
  const std::vector<IoInfo>& overridable_inputs() const;
  /// Graph outputs, in the model's order.
  const std::vector<IoInfo>& outputs() const;
  /// Graph outputs as declared, completed by symbolic inference from the declared inputs the way ONNX shape
  /// inference merges into a declaration (what ONNX Runtime reports): an inferred size replaces a named or
  /// unknown dim, an inferred name fills an unknown dim, a missing shape or type is taken whole. Where
  /// inference fails or disagrees on the rank, the declaration stands.
  std::vector<IoInfo> outputs_inferred() const;
  const ModelInfo& model_info() const;
  /// Threads a run uses.
  size_t threads() const;

  /// Runs the model. Feeds are checked against the model before any kernel runs (names, types, ranks,
  /// fixed dims, symbols bound consistently). Returns the requested outputs in the requested order.
  /// Thread-safe: several threads may run one session at once.
  NamedTensors run(const NamedTensors& feeds, const RunOptions& options = {}, RunStats* stats = nullptr) const;

  /// Binds feeds and outputs for repeated runs at one shape (ONNX Runtime's IoBinding): the feeds are checked
  /// and the plan chosen here, once. `output_names` empty: every output, in the model's order.
  Binding bind(const NamedTensors& feeds, const std::vector<std::string>& output_names = {}) const;

  /// Internal (src/api/session_impl.h): what kiln's own tools and tests build sessions from.
  struct Impl;
  explicit Session(std::shared_ptr<Impl> impl);
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace kiln
