#pragma once
// The op interface. Each op family lives in its own file under src/ops/ and registers, from that file:
//   - its ONNX versions (the opsets where its spec changed),
//   - a type-and-shape inference function (symbolic: works on dims that are numbers, symbols or unknown,
//     and uses input *values* when they are known, e.g. Reshape's shape input),
//   - a reference kernel: plain, obviously correct C++.
// The runtime calls inference to size every output before the kernel runs, so a kernel finds its outputs
// allocated (ctx.output(i)); only ops whose output size depends on data the inference cannot see
// (NonZero, Loop, ...) leave a dim unknown and allocate themselves with ctx.allocate_output.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "ir/graph.h"
#include "kiln/tensor.h"

namespace kiln::kernels {
class ThreadPool;
}

namespace kiln::ops {

/// One element of a small integer tensor whose content inference tracks for shape arithmetic
/// (Shape -> Gather -> Concat -> Reshape chains): a number of any sign, the size of a symbolic dim, or unknown.
struct SymbolicInt {
  std::optional<int64_t> number;  ///< set when the element is known
  std::string symbol;             ///< otherwise, when not empty: the element is the size of this dim ("batch")
  bool operator==(const SymbolicInt&) const = default;
};

/// A value during inference: its type, its shape, and its content when known (constant or at run time).
/// For a container (sequence or optional), `dtype` and `shape` describe the tensors it holds (the shape has
/// unknown dims where they may differ).
struct ValueInfo {
  ValueInfo() = default;
  ValueInfo(DType d, Shape s, const Tensor* v = nullptr) : dtype(d), shape(std::move(s)), value(v) {}
  /// The info of a tensor or container in hand; `value` points at `t` when `with_value`.
  static ValueInfo of(const Tensor& t, bool with_value);
  /// A sequence of tensors of `elem` and `elem_shape`.
  static ValueInfo sequence(DType elem, Shape elem_shape);
  /// An optional holding (or not) a `holds` of tensors of `elem` and `elem_shape`.
  static ValueInfo optional(TensorKind holds, DType elem, Shape elem_shape);

  bool is_container() const { return kind != TensorKind::kTensor; }
  /// "sequence of float", "optional sequence of int64", "tensor of float".
  std::string type_str() const;

  TensorKind kind = TensorKind::kTensor;
  TensorKind holds = TensorKind::kTensor;  ///< optionals: what they hold
  DType dtype = DType::kUndefined;
  Shape shape = Shape::unknown_rank();
  const Tensor* value = nullptr;
  /// Content that inference computed itself (Shape of a known shape, Concat of known pieces, ...); `value`
  /// points at it. Shared so that copies of this info keep `value` valid.
  std::shared_ptr<const Tensor> computed;
  /// Element by element, the partly known content of an integer tensor of rank 0 or 1 whose `value` is not
  /// known: Shape of [batch,3] gives {batch, 3}. Empty when not tracked.
  std::vector<SymbolicInt> partial;
};

/// What inference and kernels share: the node, its attributes, the opset in force, errors naming the node.
class NodeContext {
 public:
  NodeContext(const ir::Node& node, size_t node_index, int opset)
      : node_(node), index_(node_index), opset_(opset) {}

  const ir::Node& node() const { return node_; }
  /// True when the node lists output i under a name (an optional output may be absent).
  bool wants_output(size_t i) const { return i < node_.outputs.size() && node_.outputs[i] >= 0; }
  /// The opset version the model imports for this node's domain (e.g. 13 → Softmax-13 semantics).
  int opset() const { return opset_; }
  /// "node 'conv1' (Conv)".
  std::string label() const { return node_.label(index_); }
  /// The node's index in its graph (for building another context on the same node).
  size_t node_index() const { return index_; }

  bool has_attr(std::string_view name) const { return node_.attr(name) != nullptr; }
  int64_t attr_int(std::string_view name, int64_t fallback) const;
  int64_t attr_int(std::string_view name) const;  ///< required
  float attr_float(std::string_view name, float fallback) const;
  std::string attr_string(std::string_view name, std::string fallback) const;
  std::string attr_string(std::string_view name) const;  ///< required
  std::vector<int64_t> attr_ints(std::string_view name, std::vector<int64_t> fallback = {}) const;
  std::vector<float> attr_floats(std::string_view name, std::vector<float> fallback = {}) const;
  std::vector<std::string> attr_strings(std::string_view name, std::vector<std::string> fallback = {}) const;
  const Tensor& attr_tensor(std::string_view name) const;  ///< required
  const ir::Graph& attr_graph(std::string_view name) const;  ///< required

  /// Throws Error(kInvalidModel): "<node label>: <message>".
  template <typename... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) const {
    throw Error(ErrorCode::kInvalidModel, label() + ": " + fmt::format(f, std::forward<Args>(args)...));
  }
  /// Throws Error(kUnsupported): valid ONNX that kiln does not run.
  template <typename... Args>
  [[noreturn]] void unsupported(fmt::format_string<Args...> f, Args&&... args) const {
    throw Error(ErrorCode::kUnsupported, label() + ": " + fmt::format(f, std::forward<Args>(args)...));
  }
  /// Throws Error(kInvalidArgument): the data fed at run time breaks the op's rules.
  template <typename... Args>
  [[noreturn]] void bad_input(fmt::format_string<Args...> f, Args&&... args) const {
    throw Error(ErrorCode::kInvalidArgument, label() + ": " + fmt::format(f, std::forward<Args>(args)...));
  }

 private:
  const ir::Attribute& required(std::string_view name, ir::AttrType type) const;
  const ir::Attribute* optional(std::string_view name, ir::AttrType type) const;

  const ir::Node& node_;
  size_t index_;
  int opset_;
};

/// Infers a subgraph's outputs (an If branch, a loop body) from the types of its inputs and of the values it
/// reads from enclosing scopes, for ops whose bodies declare no output types. Implemented by the planner;
/// ops see only this interface.
class SubgraphInferrer {
 public:
  virtual ~SubgraphInferrer() = default;
  /// One info per output of `graph`, or an empty vector when the planner cannot infer them (never throws
  /// for a body it cannot infer: the body's own errors surface when it runs).
  virtual std::vector<ValueInfo> infer(const ir::Graph& graph, std::span<const ValueInfo> inputs) = 0;
};

/// Inference: read input types/shapes/values, set every output's type and shape.
class InferContext : public NodeContext {
 public:
  InferContext(const ir::Node& node, size_t index, int opset, std::span<const ValueInfo* const> inputs,
               std::span<ValueInfo> outputs)
      : NodeContext(node, index, opset), inputs_(inputs), outputs_(outputs) {}

  /// Number of input slots the node lists (absent optional inputs count).
  size_t num_inputs() const { return inputs_.size(); }
  /// True when input i is listed and not the empty name.
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i] != nullptr; }
  /// Input i; fails with a clear message when it is absent.
  const ValueInfo& input(size_t i) const;
  DType input_type(size_t i) const { return input(i).dtype; }
  const Shape& input_shape(size_t i) const { return input(i).shape; }
  /// The content of input i when known, else nullptr.
  const Tensor* input_value(size_t i) const { return has_input(i) ? input(i).value : nullptr; }

  size_t num_outputs() const { return outputs_.size(); }
  void set_output(size_t i, DType dtype, Shape shape);
  /// Sets output i's whole type (for containers: see ValueInfo::sequence / ValueInfo::optional).
  void set_output_info(size_t i, ValueInfo info);
  /// What has been set for output i so far.
  const ValueInfo& output(size_t i) const;
  /// Records output i's content when inference can compute it (small shape-like results); also sets the
  /// output's dtype and shape from it.
  void set_output_value(size_t i, Tensor value);
  /// Records output i's partly known content (see ValueInfo::partial); set dtype and shape with set_output.
  void set_output_partial(size_t i, std::vector<SymbolicInt> elements);

  /// Subgraph inference, when the caller offers it (the planner does); nullptr otherwise.
  SubgraphInferrer* subgraphs() const { return subgraphs_; }
  void set_subgraphs(SubgraphInferrer* s) { subgraphs_ = s; }

 private:
  std::span<const ValueInfo* const> inputs_;
  std::span<ValueInfo> outputs_;
  SubgraphInferrer* subgraphs_ = nullptr;
};

/// Runs a subgraph (If/Loop/Scan bodies) with given inputs; values it reads from enclosing scopes are
/// resolved by the runtime. Implemented by the runtime; ops see only this interface.
class SubgraphRunner {
 public:
  virtual ~SubgraphRunner() = default;
  virtual std::vector<Tensor> run(const ir::Graph& graph, std::span<const Tensor> inputs) = 0;
  /// Throws Error(kLimitExceeded) when a kernel-sized allocation of `bytes` would break the run's limits.
  virtual void check_allocation(int64_t bytes, const std::string& what) { (void)bytes, (void)what; }
};

/// Execution: inputs are tensors; outputs whose shape inference resolved are already allocated.
class KernelContext : public NodeContext {
 public:
  KernelContext(const ir::Node& node, size_t index, int opset, std::span<const Tensor* const> inputs,
                std::span<Tensor> outputs, SubgraphRunner* subgraphs)
      : NodeContext(node, index, opset), inputs_(inputs), outputs_(outputs), subgraphs_(subgraphs) {}

  size_t num_inputs() const { return inputs_.size(); }
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i] != nullptr; }
  const Tensor& input(size_t i) const;
  size_t num_outputs() const { return outputs_.size(); }
  /// Output i, allocated by the runtime from the inferred shape.
  Tensor& output(size_t i);
  /// True when the runtime allocated output i (its inferred shape was concrete).
  bool output_allocated(size_t i) const { return i < outputs_.size() && outputs_[i].defined(); }
  /// Output i's element count when the runtime allocated it, else 0.
  int64_t output_numel(size_t i) const { return output_allocated(i) ? outputs_[i].numel() : 0; }
  /// For outputs whose size only the kernel knows: allocates output i with these dims.
  Tensor& allocate_output(size_t i, DType dtype, std::vector<int64_t> dims);
  /// Sets output i to an existing tensor (e.g. a subgraph's result).
  void set_output(size_t i, Tensor t);
  SubgraphRunner& subgraphs() const;
  /// The session's thread pool for prepared kernels to split work on; null means the calling thread only.
  kernels::ThreadPool* threads() const { return threads_; }
  void set_threads(kernels::ThreadPool* pool) { threads_ = pool; }
  /// Elements between the images (dim 0 entries) of output 0 when the plan placed them apart, inside a larger
  /// tensor (an in-place Concat's slice at batch > 1: runtime/concat_in_place.h); 0 when they follow one another.
  /// Set only for kernels whose PreparedKernel::writes_strided_images() says they honour it.
  int64_t output_image_stride() const { return output_image_stride_; }
  void set_output_image_stride(int64_t elements) { output_image_stride_ = elements; }

 private:
  std::span<const Tensor* const> inputs_;
  std::span<Tensor> outputs_;
  SubgraphRunner* subgraphs_;
  kernels::ThreadPool* threads_ = nullptr;
  int64_t output_image_stride_ = 0;
};

/// What identifies one packed constant of a node, so that packed bytes saved in an engine are used only where
/// prepare would produce the same bytes: what it is ("gemm A", "winograd4 U 7"), the layout it was packed for
/// (the kernel whose panels it fills, e.g. "gemm_f32_6x16_avx2": tile and ISA tier) and its sizes.
struct PackedKey {
  std::string what;
  std::string layout;
  std::vector<int64_t> sizes;
  bool operator==(const PackedKey&) const = default;
};

/// A packed constant's bytes, 64-byte aligned: packed now (owned) or a view into a mapped engine file. `owner`
/// keeps them alive; they are immutable once returned.
struct PackedBytes {
  const void* data = nullptr;
  size_t size = 0;
  std::shared_ptr<const void> owner;
};

/// Writes a packed constant's `size` bytes into `dst` (64-byte aligned).
using PackFn = std::function<void(void* dst, size_t size)>;

class PrepareContext;

/// Where prepare's packed constants come from (PrepareContext::packed): an engine build records what prepare
/// produces, an engine load hands back the saved bytes when their key matches. Implemented by src/api; ops see
/// only this interface. Nodes are told apart by `node_seq` (PrepareContext::node_seq), requests of one node by
/// their order.
class PackedWeightSource {
 public:
  virtual ~PackedWeightSource() = default;
  /// The bytes of the `ordinal`-th request of the node: saved ones when they match `key` and `size`, else
  /// `pack`ed now.
  virtual PackedBytes packed(const PrepareContext& ctx, int ordinal, const PackedKey& key, size_t size,
                             const PackFn& pack) = 0;
  /// Called when the node's prepare returned a kernel: a check to run once before the kernel's first run (e.g.
  /// the checksums of the saved bytes it uses in place), or an empty function. It throws to refuse the run.
  virtual std::function<void()> first_run_check(const PrepareContext& ctx) { (void)ctx; return {}; }
};

/// What `prepare` sees, once per session and independent of input shapes: the node, its opset, and each input's
/// declared type and shape (dims may be symbols), with `value` set for inputs that are constants (initializers
/// and values folded before the session starts: the weights a prepared kernel packs).
class PrepareContext : public NodeContext {
 public:
  PrepareContext(const ir::Node& node, size_t index, int opset, std::span<const ValueInfo* const> inputs)
      : NodeContext(node, index, opset), inputs_(inputs) {}
  size_t num_inputs() const { return inputs_.size(); }
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i] != nullptr; }
  /// Input i's info; fails with a clear message when it is absent.
  const ValueInfo& input(size_t i) const;
  /// The content of input i when it is a constant, else nullptr. Valid during prepare only: a prepared kernel
  /// packs or copies what it keeps.
  const Tensor* input_value(size_t i) const { return has_input(i) ? inputs_[i]->value : nullptr; }

  /// Every packed constant a prepared kernel keeps goes through here (ops/packed_weights.h wraps it for GEMM
  /// operands): `size` bytes for `key`, written by `pack` unless an engine being loaded holds them already (then
  /// they are a view into the mapped file: no copy, no packing; `pack` is not called). The kernel keeps `owner`.
  PackedBytes packed(const PackedKey& key, size_t size, const PackFn& pack);
  /// Where packed() looks first and records (engines), and this node's number in that source's order
  /// (runtime::PreparedGraph sets both; without a source packed() always packs).
  void set_packed_source(PackedWeightSource* source, size_t node_seq) { source_ = source, node_seq_ = node_seq; }
  size_t node_seq() const { return node_seq_; }

 private:
  std::span<const ValueInfo* const> inputs_;
  PackedWeightSource* source_ = nullptr;
  size_t node_seq_ = 0;
  int requests_ = 0;
};

/// A node's kernel made ready once per session: attributes parsed, the implementation for the active ISA tier
/// chosen, constant inputs packed into the layout that implementation reads. Shared by every plan of the
/// session (so weights are packed once, whatever the input shapes) and immutable: run() may be called by
/// several runs at once.
class PreparedKernel {
 public:
  virtual ~PreparedKernel() = default;
  /// Runs the node with the same context the reference `compute` gets (outputs already allocated, the
  /// session's thread pool in ctx.threads()). Must give what `compute` gives, within the op's tolerance.
  virtual void run(KernelContext& ctx) const = 0;
  /// Bytes of packed constants held (reported in memory stats).
  virtual size_t packed_bytes() const { return 0; }
  /// What was chosen, for plan dumps and profiles, e.g. "conv 3x3/1 implicit-gemm gemm_f32_6x16_avx2 +bias+relu".
  virtual std::string describe() const = 0;
  /// Whether run() writes output 0's images KernelContext::output_image_stride() apart when that is set, so
  /// an in-place Concat at batch > 1 may place them.
  virtual bool writes_strided_images() const { return false; }
};

using InferFn = void (*)(InferContext&);
using ComputeFn = void (*)(KernelContext&);
/// Estimates the multiply-adds the node is about to do, from its inputs' and outputs' shapes and its attributes
/// (ops/op_macs.h): what SessionOptions::max_run_macs counts, before the node runs.
using MacsFn = int64_t (*)(const KernelContext&);
/// Returns a prepared kernel, or nullptr when this node has no fast path (a dtype or attribute the fast
/// kernels do not cover): the reference `compute` runs it then. Called only when the active ISA tier is above
/// kRef, so KILN_ISA=ref runs `compute` everywhere.
using PrepareFn = std::unique_ptr<PreparedKernel> (*)(PrepareContext&);
/// Load-time checks (see OpSchema::validate).
using ValidateFn = void (*)(const InferContext&);

/// One ONNX operator as kiln implements it.
struct OpSchema {
  std::string domain;  ///< "" for ai.onnx
  std::string name;    ///< op_type
  /// The opset versions at which ONNX changed this op, ascending (from the ONNX operator changelog).
  /// versions.front() is when it was introduced.
  std::vector<int> versions;
  /// First opset at which ONNX removed the op (e.g. Upsample: 10 deprecated), 0 when still present.
  int removed_in = 0;
  InferFn infer = nullptr;
  ComputeFn compute = nullptr;
  /// True when the kernel reads only its inputs' dims, never their elements (Shape, Size): the planner can
  /// then compute the output as soon as the input's shape is concrete.
  bool reads_only_input_shapes = false;
  /// True when outputs depend on more than the inputs (random ops): never folded into constants.
  bool nondeterministic = false;
  /// True when inputs may be sequences or optionals (the sequence ops, Identity, If, Loop): the runtime
  /// refuses containers fed to any other op, naming the input.
  bool accepts_containers = false;
  /// The fast path (see PrepareFn), or nullptr when the op has only its reference kernel.
  PrepareFn prepare = nullptr;
  /// True when output 0 holds input 0's elements unchanged, only with other dims (Reshape, Flatten, Squeeze,
  /// Unsqueeze): the planner may then make the output a view of the input instead of running `compute`.
  bool output_views_input = false;
  /// Optional: the checks that need no sizes, run when a session is created (and by `kiln check`) so that a
  /// node that can never run is refused at load, as ONNX Runtime does: attribute lists against the ranks known
  /// by then (initializers, declared graph inputs, and what inference derives from them). Inputs whose type is
  /// not known yet have unknown rank; the function must fail only for what is wrong at every input size.
  ValidateFn validate = nullptr;
  /// Optional: the multiply-add estimate of ops whose work grows faster than their inputs and outputs (a
  /// convolution, a matrix product, a pooling window): the others are bounded by the tensor limits.
  MacsFn macs = nullptr;

  /// This schema with `macs` set (see with_validate).
  OpSchema with_macs(MacsFn fn) const {
    OpSchema s = *this;
    s.macs = fn;
    return s;
  }

  /// This schema with `validate` set, so a registration names it without positional placeholders for the
  /// fields before it: KILN_REGISTER_OP(conv, {"", "Conv", {1, 11, 22}, 0, infer, compute}.with_validate(fn)).
  OpSchema with_validate(ValidateFn fn) const {
    OpSchema s = *this;
    s.validate = fn;
    return s;
  }
};

/// Registers a schema at static-initialisation time; use once per op, in the op's own file:
///   KILN_REGISTER_OP(relu, {"", "Relu", {6, 13, 14}, 0, infer_same, compute_relu});
/// A second registration of the same domain and name is a programming error: it aborts at start-up, naming
/// both, instead of silently replacing the first.
struct OpRegistrar {
  explicit OpRegistrar(OpSchema schema);
};
#define KILN_REGISTER_OP(id, ...) static const ::kiln::ops::OpRegistrar kiln_op_registrar_##id(::kiln::ops::OpSchema __VA_ARGS__)

/// The schema for domain/op_type, or nullptr. "ai.onnx" is the same as "".
const OpSchema* find_op(std::string_view domain, std::string_view op_type);
/// Every registered schema (for `inspect`, `check` and the docs).
std::vector<const OpSchema*> all_ops();
/// Fails naming the input when a container is given to an op that takes tensors only (see
/// OpSchema::accepts_containers). `kinds` holds each input's kind (absent inputs as kTensor).
void check_container_inputs(const NodeContext& ctx, const OpSchema& schema, std::span<const TensorKind> kinds);

/// The since-version in force at `opset` (largest version <= opset), or 0 when the op did not exist yet.
int version_in_force(const OpSchema& schema, int opset);

}  // namespace kiln::ops
