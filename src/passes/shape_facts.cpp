#include "passes/shape_facts.h"

#include "runtime/plan.h"

namespace kiln::passes {

namespace {

// Declared inputs as the plan's fed values. Initializers that are also graph inputs are fed as values of their
// type (the caller may replace them), so nothing is ever inferred from their content.
std::optional<std::unordered_map<int, ops::ValueInfo>> fed_inputs(const ir::Graph& g) {
  std::unordered_map<int, ops::ValueInfo> fed;
  for (int id : g.inputs) {
    ops::ValueInfo info;
    const ir::FlatType t = ir::flatten_type(g.value(id).type);
    if (t.runnable && t.dtype != DType::kUndefined) {
      info.kind = t.kind;
      info.holds = t.holds;
      info.dtype = t.dtype;
      info.shape = t.shape;
    } else if (auto it = g.initializers.find(id); it != g.initializers.end() && it->second.is_tensor()) {
      info = ops::ValueInfo(it->second.dtype(), Shape::from(it->second.dims()));
    } else {
      return std::nullopt;
    }
    fed[id] = std::move(info);
  }
  return fed;
}

}  // namespace

std::string DimKey::str() const {
  if (known()) return std::to_string(offset);
  if (offset == 0) return atom;
  return fmt::format("{}{:+}", atom, offset);
}

ShapeFacts::ShapeFacts(const ir::Model& model) : opsets_(std::make_unique<runtime::OpsetTable>()) {
  if (!model.graph) return;
  const ir::Graph& g = *model.graph;
  opsets_->imports = model.opsets;
  auto fed = fed_inputs(g);
  if (!fed) return;
  try {
    plan_ = runtime::Plan::build(g, *opsets_, *fed, runtime::Limits{});
  } catch (const Error&) {
    return;  // the model's own errors surface, naming its nodes, when it is planned at real shapes
  }
  std::tie(keys_, contents_) = derive_dim_keys_and_contents(g, plan_->infos());
  available_ = true;
}

ShapeFacts::~ShapeFacts() = default;

DType ShapeFacts::dtype(int v) const {
  if (!available_ || v < 0) return DType::kUndefined;
  const ops::ValueInfo& info = plan_->infos()[static_cast<size_t>(v)];
  return info.is_container() ? DType::kUndefined : info.dtype;
}

std::optional<size_t> ShapeFacts::rank(int v) const {
  const std::vector<DimKey>* k = keys(v);
  if (!k) return std::nullopt;
  return k->size();
}

std::optional<int64_t> ShapeFacts::dim(int v, int64_t axis) const {
  const std::vector<DimKey>* k = keys(v);
  if (!k) return std::nullopt;
  const int64_t r = static_cast<int64_t>(k->size());
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r) return std::nullopt;
  const DimKey& d = (*k)[static_cast<size_t>(axis)];
  if (!d.known()) return std::nullopt;
  return d.offset;
}

const Tensor* ShapeFacts::value(int v) const {
  if (!available_ || v < 0) return nullptr;
  const ops::ValueInfo& info = plan_->infos()[static_cast<size_t>(v)];
  return info.value && info.value->is_tensor() ? info.value : nullptr;
}

const std::vector<DimKey>* ShapeFacts::keys(int v) const {
  if (!available_ || v < 0 || static_cast<size_t>(v) >= keys_.size() || !keys_[static_cast<size_t>(v)]) return nullptr;
  return &*keys_[static_cast<size_t>(v)];
}

const std::vector<DimKey>* ShapeFacts::contents(int v) const {
  if (!available_ || v < 0 || static_cast<size_t>(v) >= contents_.size() || !contents_[static_cast<size_t>(v)])
    return nullptr;
  return &*contents_[static_cast<size_t>(v)];
}

bool ShapeFacts::same_shape(int a, int b) const {
  const std::vector<DimKey>*ka = keys(a), *kb = keys(b);
  return ka && kb && *ka == *kb;
}

std::optional<std::vector<int64_t>> constant_reshape_target(const std::vector<DimKey>* in,
                                                            const std::vector<DimKey>& target, bool allowzero) {
  if (target.empty()) return std::nullopt;
  bool inferred = false;  // an element is already -1
  for (const DimKey& k : target)
    if (k.known() && k.offset == -1) inferred = true;
  std::vector<int64_t> out;
  for (size_t i = 0; i < target.size(); ++i) {
    const DimKey& k = target[i];
    if (k.known()) {
      if (k.offset < -1) return std::nullopt;  // invalid: the run refuses it, naming the node
      out.push_back(k.offset);
    } else if (!allowzero && in && i < in->size() && k == (*in)[i]) {
      out.push_back(0);
    } else if (!inferred) {
      out.push_back(-1);
      inferred = true;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

bool ShapeFacts::broadcasts_into(int small, int big, bool where_valid) const {
  const std::vector<DimKey>*ks = keys(small), *kb = keys(big);
  if (!ks || !kb || ks->size() > kb->size()) return false;
  const size_t lead = kb->size() - ks->size();
  for (size_t i = 0; i < ks->size(); ++i) {
    const DimKey &s = (*ks)[i], &b = (*kb)[lead + i];
    if (s.is_one() || s == b) continue;
    const std::string clamped = "min(" + b.str() + ",";
    if (where_valid && !b.is_unknown() && s.offset == 0 && s.atom.rfind(clamped, 0) == 0) continue;
    return false;
  }
  return true;
}

}  // namespace kiln::passes
