#include "ops/op.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>

#include "base/checked.h"

namespace kiln::ops {

namespace {

using Key = std::pair<std::string, std::string>;

std::map<Key, OpSchema>& registry() {
  static std::map<Key, OpSchema> r;
  return r;
}

std::string_view canonical_domain(std::string_view d) { return d == "ai.onnx" ? std::string_view() : d; }

}  // namespace

OpRegistrar::OpRegistrar(OpSchema schema) {
  Key key{std::string(canonical_domain(schema.domain)), schema.name};
  if (registry().count(key)) {
    // Static initialisation: no exception can be caught here, and a silent overwrite would run the wrong kernel.
    std::fprintf(stderr, "kiln: operator '%s' (domain '%s') is registered twice; each op registers once, in its own file\n",
                 schema.name.c_str(), key.first.c_str());
    std::abort();
  }
  registry().emplace(std::move(key), std::move(schema));
}

const OpSchema* find_op(std::string_view domain, std::string_view op_type) {
  auto it = registry().find(Key{std::string(canonical_domain(domain)), std::string(op_type)});
  return it == registry().end() ? nullptr : &it->second;
}

std::vector<const OpSchema*> all_ops() {
  std::vector<const OpSchema*> v;
  for (const auto& [k, s] : registry()) v.push_back(&s);
  return v;
}

int version_in_force(const OpSchema& schema, int opset) {
  int in_force = 0;
  for (int v : schema.versions)
    if (v <= opset) in_force = v;
  return in_force;
}

void check_container_inputs(const NodeContext& ctx, const OpSchema& schema, std::span<const TensorKind> kinds) {
  if (schema.accepts_containers) return;
  for (size_t i = 0; i < kinds.size(); ++i)
    if (kinds[i] != TensorKind::kTensor)
      ctx.fail("input {} is {} {}, but {} takes tensors only (sequences and optionals go through the "
               "Sequence*/Optional* ops)", i, kinds[i] == TensorKind::kOptional ? "an" : "a",
               tensor_kind_name(kinds[i]), schema.name);
}

// ---- ValueInfo ----

ValueInfo ValueInfo::sequence(DType elem, Shape elem_shape) {
  ValueInfo v(elem, std::move(elem_shape));
  v.kind = TensorKind::kSequence;
  return v;
}

ValueInfo ValueInfo::optional(TensorKind holds, DType elem, Shape elem_shape) {
  ValueInfo v(elem, std::move(elem_shape));
  v.kind = TensorKind::kOptional;
  v.holds = holds;
  return v;
}

namespace {

// The shape that covers every tensor: equal dims stay, others become unknown; mixed ranks give unknown rank.
Shape common_shape(const std::vector<Tensor>& tensors) {
  if (tensors.empty()) return Shape::unknown_rank();
  Shape s = Shape::from(tensors.front().dims());
  for (const Tensor& t : tensors) {
    if (t.rank() != s.rank()) return Shape::unknown_rank();
    for (size_t d = 0; d < t.rank(); ++d)
      if (s.dims[d].is_known() && s.dims[d].value() != t.dim(d)) s.dims[d] = Dim();
  }
  return s;
}

}  // namespace

ValueInfo ValueInfo::of(const Tensor& t, bool with_value) {
  ValueInfo v;
  v.kind = t.kind();
  v.dtype = t.dtype();
  v.value = with_value ? &t : nullptr;
  if (t.is_tensor()) {
    v.shape = Shape::from(t.dims());
  } else if (t.is_sequence()) {
    v.shape = common_shape(t.elements());
  } else {
    v.holds = t.optional_holds();
    if (t.has_element()) {
      const Tensor& e = t.elements().front();
      v.shape = e.is_sequence() ? common_shape(e.elements()) : Shape::from(e.dims());
    }
  }
  return v;
}

std::string ValueInfo::type_str() const {
  switch (kind) {
    case TensorKind::kTensor: return fmt::format("tensor of {}", dtype_name(dtype));
    case TensorKind::kSequence: return fmt::format("sequence of {}", dtype_name(dtype));
    case TensorKind::kOptional:
      return fmt::format("optional {} of {}", tensor_kind_name(holds), dtype_name(dtype));
  }
  return "?";
}

// ---- NodeContext ----

const ir::Attribute* NodeContext::optional(std::string_view name, ir::AttrType type) const {
  const ir::Attribute* a = node_.attr(name);
  if (!a) return nullptr;
  if (a->type != type)
    fail("attribute '{}' must be of type {}, but the file gives {}", name, ir::attr_type_name(type),
         ir::attr_type_name(a->type));
  return a;
}

const ir::Attribute& NodeContext::required(std::string_view name, ir::AttrType type) const {
  const ir::Attribute* a = optional(name, type);
  if (!a) fail("required attribute '{}' ({}) is missing", name, ir::attr_type_name(type));
  return *a;
}

int64_t NodeContext::attr_int(std::string_view name, int64_t fallback) const {
  const ir::Attribute* a = optional(name, ir::AttrType::kInt);
  return a ? a->i : fallback;
}
int64_t NodeContext::attr_int(std::string_view name) const { return required(name, ir::AttrType::kInt).i; }
float NodeContext::attr_float(std::string_view name, float fallback) const {
  const ir::Attribute* a = optional(name, ir::AttrType::kFloat);
  return a ? a->f : fallback;
}
std::string NodeContext::attr_string(std::string_view name, std::string fallback) const {
  const ir::Attribute* a = optional(name, ir::AttrType::kString);
  return a ? a->s : fallback;
}
std::string NodeContext::attr_string(std::string_view name) const {
  return required(name, ir::AttrType::kString).s;
}
std::vector<int64_t> NodeContext::attr_ints(std::string_view name, std::vector<int64_t> fallback) const {
  const ir::Attribute* a = optional(name, ir::AttrType::kInts);
  return a ? a->ints : fallback;
}
std::vector<float> NodeContext::attr_floats(std::string_view name, std::vector<float> fallback) const {
  const ir::Attribute* a = optional(name, ir::AttrType::kFloats);
  return a ? a->floats : fallback;
}
std::vector<std::string> NodeContext::attr_strings(std::string_view name, std::vector<std::string> fallback) const {
  const ir::Attribute* a = optional(name, ir::AttrType::kStrings);
  return a ? a->strings : fallback;
}
const Tensor& NodeContext::attr_tensor(std::string_view name) const {
  return required(name, ir::AttrType::kTensor).t;
}
const ir::Graph& NodeContext::attr_graph(std::string_view name) const {
  const ir::Attribute& a = required(name, ir::AttrType::kGraph);
  if (!a.g) fail("graph attribute '{}' is empty", name);
  return *a.g;
}

// ---- InferContext ----

const ValueInfo& PrepareContext::input(size_t i) const {
  if (!has_input(i)) fail("input {} is required but absent", i);
  return *inputs_[i];
}

PackedBytes PrepareContext::packed(const PackedKey& key, size_t size, const PackFn& pack) {
  const int ordinal = requests_++;
  if (source_) return source_->packed(*this, ordinal, key, size, pack);
  const size_t alloc = std::max<size_t>((size + 63) / 64 * 64, 64);
  void* data = std::aligned_alloc(64, alloc);
  if (!data) throw Error(ErrorCode::kLimitExceeded, fmt::format("{}: cannot allocate {} bytes of packed {}", label(),
                                                                alloc, key.what));
  std::shared_ptr<void> owner(data, std::free);
  if (size > 0) pack(data, size);
  return {data, size, std::move(owner)};
}

const ValueInfo& InferContext::input(size_t i) const {
  if (!has_input(i)) fail("input {} is required but absent", i);
  return *inputs_[i];
}

void InferContext::set_output(size_t i, DType dtype, Shape shape) {
  if (i >= outputs_.size()) return;  // an optional output the node does not list
  outputs_[i].dtype = dtype;
  outputs_[i].shape = std::move(shape);
}

void InferContext::set_output_info(size_t i, ValueInfo info) {
  if (i >= outputs_.size()) return;
  info.value = nullptr;
  info.computed.reset();
  outputs_[i] = std::move(info);
}

const ValueInfo& InferContext::output(size_t i) const {
  if (i >= outputs_.size()) fail("output {} requested but the node lists only {}", i, outputs_.size());
  return outputs_[i];
}

void InferContext::set_output_value(size_t i, Tensor value) {
  if (i >= outputs_.size()) return;
  ValueInfo& out = outputs_[i];
  out.dtype = value.dtype();
  out.shape = Shape::from(value.dims());
  out.computed = std::make_shared<const Tensor>(std::move(value));
  out.value = out.computed.get();
  out.partial.clear();
}

void InferContext::set_output_partial(size_t i, std::vector<SymbolicInt> elements) {
  if (i >= outputs_.size()) return;
  outputs_[i].partial = std::move(elements);
}

// ---- KernelContext ----

const Tensor& KernelContext::input(size_t i) const {
  if (!has_input(i)) fail("input {} is required but absent", i);
  return *inputs_[i];
}

Tensor& KernelContext::output(size_t i) {
  if (i >= outputs_.size()) fail("output {} requested but the node lists only {}", i, outputs_.size());
  if (!outputs_[i].defined()) fail("output {} has no inferred shape; the kernel must allocate it", i);
  return outputs_[i];
}

Tensor& KernelContext::allocate_output(size_t i, DType dtype, std::vector<int64_t> dims) {
  if (i >= outputs_.size()) fail("output {} requested but the node lists only {}", i, outputs_.size());
  if (subgraphs_) {
    int64_t bytes = checked_mul(checked_numel(dims, "output element count"),
                                static_cast<int64_t>(std::max<size_t>(dtype_size(dtype), 1)), "output byte size");
    subgraphs_->check_allocation(bytes, fmt::format("{}: output {} ({} of {})", label(), i, dims_str(dims),
                                                    dtype_name(dtype)));
  }
  outputs_[i] = Tensor(dtype, std::move(dims));
  return outputs_[i];
}

void KernelContext::set_output(size_t i, Tensor t) {
  if (i >= outputs_.size()) fail("output {} requested but the node lists only {}", i, outputs_.size());
  outputs_[i] = std::move(t);
}

SubgraphRunner& KernelContext::subgraphs() const {
  if (!subgraphs_) fail("subgraph execution is not available here");
  return *subgraphs_;
}

}  // namespace kiln::ops
