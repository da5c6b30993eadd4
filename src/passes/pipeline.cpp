#include "passes/pipeline.h"

#include <chrono>

#include "base/error.h"
#include "passes/passes.h"

namespace kiln::passes {

const std::vector<PipelineEntry>& pipeline() {
  static const std::vector<PipelineEntry> list = {
      {&remove_identity_pass(),
       "first: exporters wrap weights and outputs in Identity, which hides producers from every later pattern"},
      {&remove_dropout_pass(), "with Identity: another pass-through that sits between the nodes fusions look for"},
      {&fold_constants_pass(),
       "before the fusions: Transpose/Cast/Reshape of weights and Constant nodes become initializers, so MatMul and "
       "Conv see constant weights and patterns see their scalars"},
      {&eliminate_dead_nodes_pass(), "after folding: what only fed folded nodes is now unread"},
      {&fold_conv_batchnorm_pass(),
       "before fuse_conv: the BatchNormalization between a Conv and its activation must be gone for that fusion"},
      {&fuse_attention_pass(),
       "before the MatMul fusions: its MatMuls and the mask Add would otherwise be taken by fuse_matmul_add"},
      {&fold_attention_transposes_pass(), "right after fuse_attention, which makes the attention ops it rewrites"},
      {&fuse_layer_norm_pass(), "before the MatMul fusions: the LayerNorm's closing Add(bias) is not a MatMul bias, "
                                "but keeping the subgraph whole first is simplest"},
      {&fuse_gemm_pass(), "before fuse_matmul_add: a Gemm becomes the FusedMatMul that a residual Add can join"},
      {&fuse_matmul_add_pass(), "before fuse_matmul_activation: bias and residual are added before the activation"},
      {&fuse_matmul_activation_pass(), "after the adds, so the activation closes the fused epilogue"},
      {&fuse_matmul_split_pass(), "after the epilogue fusions: the parts are cut from the finished result, bias and "
                                  "activation included"},
      {&fuse_conv_pass(), "after the BatchNorm fold; matches Conv (+ residual Add) (+ activation) in one go"},
      {&fuse_gelu_pass(), "after the MatMul and Conv fusions, which absorb the GELUs that follow them; this one "
                          "takes the rest"},
      {&to_channels_last_pass(), "after the conv fusions, so each FusedConv (activation and residual included) moves "
                                 "to NHWC whole; before transpose_to_reshape, which turns the transposes of 1x1 "
                                 "planes it leaves (after a global pool) into reshapes"},
      {&fuse_inverted_residual_pass(), "right after to_channels_last, which makes the ConvNhwc chains it fuses"},
      {&fuse_channel_scale_pass(), "after fuse_inverted_residual, whose blocks take 1x1 convolutions without a scale; "
                                   "after to_channels_last, which makes the ConvNhwc it scales"},
      // The shape simplifications run after the fusions: a Reshape target with -1 hides a dim the fusions prove
      // equal through dim keys, and one mask chain shared between layers could give the attention fusion a value
      // read outside its pattern. At level 1 they follow the folds directly. They run once each, in an order
      // where each one's rewrites feed the next.
      {&remove_no_ops_pass(), "before fold_reshape_targets, whose -1 would hide the dims that prove an x * 1 keeps "
                              "its shape"},
      {&remove_zero_rnn_state_pass(),
       "before shorten_shape_chains, which would otherwise rebuild the shape of a zero state that is not needed"},
      {&transpose_to_reshape_pass(), "before fold_reshape_targets, whose -1 would hide which dims are 1"},
      {&scalarize_constant_fills_pass(), "before fold_reshape_targets, whose -1 would hide the dims that prove the "
                                         "other operands cover the result"},
      {&fold_reshape_targets_pass(), "after the fusions; makes the Shape chains that built Reshape targets dead"},
      {&merge_reshapes_pass(), "after fold_reshape_targets and transpose_to_reshape, which make the constant "
                               "targets and the reshapes it merges"},
      {&shorten_shape_chains_pass(), "after the passes above have made constant what they can; before "
                                     "eliminate_common_subexpressions, which merges the Shape slices it writes"},
      {&eliminate_common_subexpressions_pass(),
       "after the rewrites above, which turn per-layer shape chains into equal constants it can merge"},
      {&eliminate_dead_nodes_pass(), "last: fusions orphan the scalar constants their patterns read, and the shape "
                                     "passes the chains they replace"},
  };
  return list;
}

namespace {

size_t kiln_nodes(const ir::Graph& g) {
  size_t n = 0;
  for (const ir::Node& node : g.nodes) n += node.domain == "ai.kiln";
  return n;
}

}  // namespace

std::map<std::string, int> op_counts(const ir::Graph& g) {
  std::map<std::string, int> counts;
  for (const ir::Node& n : g.nodes) ++counts[n.qualified_op()];
  return counts;
}

const Pass* find_pass(std::string_view name) {
  for (const PipelineEntry& e : pipeline())
    if (e.pass->name() == name) return e.pass;
  return nullptr;
}

std::vector<PassRun> optimize(ir::Model& model, const PipelineOptions& options) {
  for (const std::string& name : options.disabled)
    if (!find_pass(name)) {
      std::string known;
      for (const PipelineEntry& e : pipeline())
        if (known.find(e.pass->name()) == std::string::npos) known += (known.empty() ? "" : ", ") + std::string(e.pass->name());
      fail(ErrorCode::kInvalidArgument, "there is no graph pass called '{}'; the passes are: {}", name, known);
    }
  std::vector<PassRun> runs;
  if (!model.graph || options.level == Level::kNone) return runs;
  for (const PipelineEntry& e : pipeline()) {
    const Pass& pass = *e.pass;
    if (static_cast<int>(pass.level()) > static_cast<int>(options.level)) continue;
    if (std::find(options.disabled.begin(), options.disabled.end(), pass.name()) != options.disabled.end()) continue;
    PassRun run;
    run.name = pass.name();
    run.nodes_before = model.graph->nodes.size();
    run.kiln_nodes_before = kiln_nodes(*model.graph);
    // A pass that throws or leaves an invalid graph is a kiln bug; the model must still run: the graph as it
    // was before that pass is put back, and the run records why (tests assert no pass ever does this).
    ir::Graph before = *model.graph;
    const std::map<std::string, int> ops_before = op_counts(*model.graph);
    const std::vector<ir::OpsetImport> opsets_before = model.opsets;
    const auto start = std::chrono::steady_clock::now();
    try {
      run.changed = pass.apply(model);
      if (run.changed) ir::validate(*model.graph);
    } catch (const std::exception& err) {
      *model.graph = std::move(before);
      model.opsets = opsets_before;
      run.changed = false;
      run.error = fmt::format("graph pass '{}' failed and was undone ({}); this is a kiln bug: please report the "
                              "model (SessionOptions::disabled_passes or kiln run --disable-pass {} skips it)",
                              pass.name(), err.what(), pass.name());
    }
    run.milliseconds = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    run.nodes_after = model.graph->nodes.size();
    run.kiln_nodes_after = kiln_nodes(*model.graph);
    if (run.changed) {
      std::map<std::string, int> changes = op_counts(*model.graph);
      for (const auto& [op, n] : ops_before) changes[op] -= n;
      for (const auto& [op, n] : changes)
        if (n != 0) run.op_changes.emplace(op, n);
    }
    if (options.after_each) options.after_each(pass, model);
    runs.push_back(std::move(run));
  }
  return runs;
}

}  // namespace kiln::passes
