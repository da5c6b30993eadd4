#include "runtime/eval_node.h"

namespace kiln::runtime {

std::vector<Tensor> allocate_outputs(std::span<const ops::ValueInfo> infos) {
  std::vector<Tensor> out(infos.size());
  for (size_t i = 0; i < infos.size(); ++i)
    if (!infos[i].is_container() && infos[i].dtype != DType::kUndefined && infos[i].shape.is_concrete())
      out[i] = Tensor(infos[i].dtype, infos[i].shape.values());
  return out;
}

std::vector<Tensor> evaluate_node(const ir::Node& node, size_t node_index, int opset,
                                  std::span<const Tensor* const> inputs, ops::SubgraphRunner* subgraphs) {
  const ops::OpSchema* schema = ops::find_op(node.domain, node.op_type);
  if (!schema)
    fail(ErrorCode::kUnsupported, "{}: kiln has no implementation of operator '{}'{}", node.label(node_index),
         node.op_type, node.domain.empty() ? "" : " in domain '" + node.domain + "'");
  std::vector<ops::ValueInfo> in_infos(inputs.size());
  std::vector<const ops::ValueInfo*> in_ptrs(inputs.size(), nullptr);
  std::vector<TensorKind> kinds(inputs.size(), TensorKind::kTensor);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i]) continue;
    in_infos[i] = ops::ValueInfo::of(*inputs[i], true);
    in_ptrs[i] = &in_infos[i];
    kinds[i] = inputs[i]->kind();
  }
  std::vector<ops::ValueInfo> out_infos(node.outputs.size());
  ops::InferContext ictx(node, node_index, opset, in_ptrs, out_infos);
  ops::check_container_inputs(ictx, *schema, kinds);
  schema->infer(ictx);
  std::vector<Tensor> outputs = allocate_outputs(out_infos);
  ops::KernelContext kctx(node, node_index, opset, inputs, outputs, subgraphs);
  schema->compute(kctx);
  for (size_t i = 0; i < outputs.size(); ++i)
    if (!outputs[i].defined() && node.outputs[i] >= 0)
      fail(ErrorCode::kInternal, "{}: kernel left output {} unset", node.label(node_index), i);
  return outputs;
}

}  // namespace kiln::runtime
