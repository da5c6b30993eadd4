// Session::outputs_inferred: the declared outputs completed by symbolic inference (include/kiln/session.h).

#include "api/session_impl.h"
#include "runtime/plan.h"

namespace kiln {

namespace {

// The declared graph inputs as a plan's fed values; nullopt when one has no usable declared type.
std::optional<std::unordered_map<int, ops::ValueInfo>> declared_inputs(const ir::Graph& g) {
  std::unordered_map<int, ops::ValueInfo> fed;
  for (int id : g.inputs) {
    const ir::FlatType t = ir::flatten_type(g.value(id).type);
    ops::ValueInfo info;
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

// ONNX's mergeInShapeInfo(inferred -> declared), dim by dim.
void merge(IoInfo& io, const ops::ValueInfo& inferred) {
  if (io.kind != inferred.kind) return;
  if (io.dtype == DType::kUndefined) io.dtype = inferred.dtype;
  if (!inferred.shape.rank_known) return;
  if (!io.shape.rank_known) {
    io.shape = inferred.shape;
    return;
  }
  if (io.shape.rank() != inferred.shape.rank()) return;
  for (size_t i = 0; i < io.shape.rank(); ++i) {
    const Dim& from = inferred.shape.dims[i];
    Dim& to = io.shape.dims[i];
    if (from.is_known()) to = from;
    else if (from.is_symbol() && !to.is_known() && !to.is_symbol()) to = from;
  }
}

}  // namespace

std::vector<IoInfo> Session::outputs_inferred() const {
  std::vector<IoInfo> out = impl_->outputs;
  const ir::Graph& g = *impl_->model.graph;  // after the passes, which keep every output's name and meaning
  auto fed = declared_inputs(g);
  if (!fed) return out;
  std::shared_ptr<const runtime::Plan> plan;
  try {
    plan = runtime::Plan::build(g, impl_->opsets, *fed, runtime::Limits{});
  } catch (const Error&) {
    return out;  // the declarations stand; a run reports the model's own errors with the sizes fed
  }
  for (IoInfo& io : out) {
    int id = g.find(io.name);
    if (id >= 0) merge(io, plan->infos()[static_cast<size_t>(id)]);
  }
  return out;
}

}  // namespace kiln
