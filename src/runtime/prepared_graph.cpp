#include "runtime/prepared_graph.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>

#include "base/mapped_file.h"
#include "kernels/isa.h"
#include "runtime/node_preparer.h"

namespace kiln::runtime {

namespace {

// The declared type of every input of `graph`, as the plan's fed values; nullopt when one is not a tensor
// type inference can use (then the graph is prepared without a symbolic plan).
std::optional<std::unordered_map<int, ops::ValueInfo>> declared_inputs(const ir::Graph& graph) {
  std::unordered_map<int, ops::ValueInfo> fed;
  for (int id : graph.inputs) {
    if (graph.initializers.count(id)) continue;  // overridable: planned as the constant it defaults to
    const ir::FlatType t = ir::flatten_type(graph.value(id).type);
    if (!t.runnable || t.dtype == DType::kUndefined) return std::nullopt;
    ops::ValueInfo info;
    info.kind = t.kind;
    info.holds = t.holds;
    info.dtype = t.dtype;
    info.shape = t.shape;
    fed[id] = std::move(info);
  }
  return fed;
}

// A kernel whose packed constants (or weights) are an engine's bytes used in place: their checksums are checked
// once, before the first run (engine loading stays free of reading them); a failed check refuses every run.
class CheckedFirstRun final : public ops::PreparedKernel {
 public:
  CheckedFirstRun(std::unique_ptr<ops::PreparedKernel> inner, std::function<void()> check)
      : inner_(std::move(inner)), check_(std::move(check)) {}
  void run(ops::KernelContext& ctx) const override {
    if (!checked_.load(std::memory_order_acquire)) {
      std::lock_guard lock(mutex_);
      if (!checked_.load(std::memory_order_relaxed)) {
        check_();  // throws for a corrupt engine, before the kernel reads anything
        checked_.store(true, std::memory_order_release);
      }
    }
    inner_->run(ctx);
  }
  size_t packed_bytes() const override { return inner_->packed_bytes(); }
  std::string describe() const override { return inner_->describe(); }

 private:
  std::unique_ptr<ops::PreparedKernel> inner_;
  std::function<void()> check_;
  mutable std::atomic<bool> checked_{false};
  mutable std::mutex mutex_;
};

}  // namespace

std::shared_ptr<const PreparedGraph> PreparedGraph::build(const ir::Graph& graph, const OpsetTable& opsets,
                                                          const Limits& limits, ops::PackedWeightSource* packed) {
  auto prepared = std::make_shared<PreparedGraph>();
  if (kernels::active_isa() == kernels::IsaTier::kRef) return prepared;
  prepared->prepare_graph(graph, opsets, limits, true, packed);
  return prepared;
}

NodePreparer::NodePreparer(const ir::Graph& graph, const OpsetTable& opsets, const Limits& limits, bool symbolic)
    : graph_(graph), opsets_(opsets), overridable_(graph.values.size(), 0) {
  // Types (and constants) of the values nodes read: a symbolic plan at the declared input shapes.
  if (symbolic) {
    if (auto fed = declared_inputs(graph)) {
      try {
        symbolic_ = Plan::build(graph, opsets, *fed, limits);
      } catch (const Error&) {
        symbolic_ = nullptr;  // the model's own errors surface when it is planned at real shapes
      }
    }
  }
  for (int id : graph.inputs) overridable_[static_cast<size_t>(id)] = 1;
}

void NodePreparer::input_infos(const ir::Node& node, std::vector<ops::ValueInfo>& infos,
                               std::vector<const ops::ValueInfo*>& ptrs) const {
  infos.assign(node.inputs.size(), ops::ValueInfo{});
  ptrs.assign(node.inputs.size(), nullptr);
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const int v = node.inputs[i];
    if (v < 0) continue;
    if (symbolic_) {
      infos[i] = symbolic_->infos()[static_cast<size_t>(v)];
    } else if (auto it = graph_.initializers.find(v); it != graph_.initializers.end()) {
      infos[i] = ops::ValueInfo(it->second.dtype(), Shape::from(it->second.dims()), &it->second);
    } else {
      const ir::FlatType t = ir::flatten_type(graph_.value(v).type);
      infos[i].dtype = t.dtype;
      infos[i].shape = t.shape;
    }
    if (overridable_[static_cast<size_t>(v)]) infos[i].value = nullptr;  // the caller may feed another
    ptrs[i] = &infos[i];
  }
}

std::unique_ptr<ops::PreparedKernel> NodePreparer::prepare(size_t index, size_t node_seq) const {
  const ir::Node& node = graph_.nodes.at(index);
  const ops::OpSchema* schema = ops::find_op(node.domain, node.op_type);
  if (!schema || !schema->prepare) return nullptr;
  std::vector<ops::ValueInfo> infos;
  std::vector<const ops::ValueInfo*> ptrs;
  input_infos(node, infos, ptrs);
  ops::PrepareContext ctx(node, index, opsets_.version(node.domain), ptrs);
  ctx.set_packed_source(nullptr, node_seq);
  return schema->prepare(ctx);
}

void PreparedGraph::prepare_graph(const ir::Graph& graph, const OpsetTable& opsets, const Limits& limits,
                                  bool top_level, ops::PackedWeightSource* packed) {
  nodes_ += graph.nodes.size();
  const NodePreparer preparer(graph, opsets, limits, top_level);
  std::vector<ops::ValueInfo> infos;
  std::vector<const ops::ValueInfo*> ptrs;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const ir::Node& node = graph.nodes[n];
    for (const auto& a : node.attributes) {
      if (a.g) prepare_graph(*a.g, opsets, limits, false, packed);
      for (const auto& sub : a.graphs) prepare_graph(*sub, opsets, limits, false, packed);
    }
    const size_t seq = node_seq_++;
    const ops::OpSchema* schema = ops::find_op(node.domain, node.op_type);
    if (!schema || !schema->prepare) continue;
    preparer.input_infos(node, infos, ptrs);
    try {
      ops::PrepareContext ctx(node, n, opsets.version(node.domain), ptrs);
      ctx.set_packed_source(packed, seq);
      std::unique_ptr<ops::PreparedKernel> k = schema->prepare(ctx);
      if (!k) continue;
      if (packed)
        if (std::function<void()> check = packed->first_run_check(ctx))
          k = std::make_unique<CheckedFirstRun>(std::move(k), std::move(check));
      packed_bytes_ += k->packed_bytes();
      // A kernel that packed its constant inputs reads its own copy: the file's pages of those inputs leave
      // memory now (they are read back from the file if the reference kernel ever needs them), so the session
      // does not hold the weights twice and its peak memory stays near one copy.
      if (k->packed_bytes() > 0)
        for (const ops::ValueInfo* in : ptrs)
          if (in && in->value) release_mapped_pages(in->value->raw_data(), in->value->nbytes());
      kernels_.emplace(&node, std::move(k));
    } catch (const Error&) {
      // A node prepare refuses keeps its reference kernel, whose checks report the problem when it runs.
    }
  }
}

const ops::PreparedKernel* PreparedGraph::kernel(const ir::Node* node) const {
  auto it = kernels_.find(node);
  return it == kernels_.end() ? nullptr : it->second.get();
}

}  // namespace kiln::runtime
