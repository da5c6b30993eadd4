#include "api/model_summary.h"

namespace kiln {

namespace {

IoInfo io_of(const ir::Value& v) {
  const ir::FlatType t = ir::flatten_type(v.type);
  if (!t.runnable) return {v.name, DType::kUndefined, Shape::unknown_rank()};  // a map or the like: no tensor type
  return {v.name, t.dtype, t.shape, t.kind, t.holds};
}

void count_ops(const ir::Graph& g, ModelSummary& s) {
  for (const ir::Node& n : g.nodes) {
    ++s.nodes;
    ++s.op_counts[n.qualified_op()];
    for (const ir::Attribute& a : n.attributes) {
      if (a.g) count_ops(*a.g, s);
      for (const auto& sub : a.graphs) count_ops(*sub, s);
    }
  }
}

}  // namespace

ModelSummary summarize(const ir::Model& model) {
  ModelSummary s;
  s.info.ir_version = model.ir_version;
  s.info.producer_name = model.producer_name;
  s.info.producer_version = model.producer_version;
  for (const auto& o : model.opsets) s.info.opsets.emplace_back(o.domain, o.version);
  s.info.metadata = model.metadata;
  if (!model.graph) return s;
  const ir::Graph& g = *model.graph;
  s.info.graph_name = g.name;
  for (int id : g.inputs) (g.is_initializer(id) ? s.overridable : s.inputs).push_back(io_of(g.value(id)));
  for (int id : g.outputs) s.outputs.push_back(io_of(g.value(id)));
  for (const auto& [id, t] : g.initializers) {
    s.parameters += t.numel();
    s.parameter_bytes += static_cast<int64_t>(t.nbytes());
  }
  count_ops(g, s);
  s.op_problems = find_op_problems(model);
  return s;
}

}  // namespace kiln
