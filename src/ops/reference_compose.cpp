#include "ops/reference_compose.h"

#include <numeric>

namespace kiln::ops {

namespace {

void run_reference_in(const NodeContext& ctx, const char* domain, const char* op_type, int opset,
                      std::vector<ir::Attribute> attrs, std::initializer_list<const Tensor*> inputs,
                      std::span<Tensor> outputs) {
  const OpSchema* schema = find_op(domain, op_type);
  KILN_ASSERT(schema && schema->compute);
  ir::Node node;
  node.name = ctx.node().name + "/" + op_type;
  node.domain = domain;
  node.op_type = op_type;
  node.attributes = std::move(attrs);
  int id = 0;
  for (const Tensor* t : inputs) node.inputs.push_back(t ? id++ : -1);
  for (size_t i = 0; i < outputs.size(); ++i) node.outputs.push_back(id++);
  std::vector<const Tensor*> ins(inputs);
  KernelContext kctx(node, ctx.node_index(), opset, ins, outputs, nullptr);
  schema->compute(kctx);
}

}  // namespace

void run_reference_op(const NodeContext& ctx, const char* op_type, int opset, std::vector<ir::Attribute> attrs,
                      std::initializer_list<const Tensor*> inputs, std::span<Tensor> outputs) {
  run_reference_in(ctx, "", op_type, opset, std::move(attrs), inputs, outputs);
}

void run_kiln_reference_op(const NodeContext& ctx, const char* op_type, std::vector<ir::Attribute> attrs,
                           std::initializer_list<const Tensor*> inputs, std::span<Tensor> outputs) {
  run_reference_in(ctx, "ai.kiln", op_type, 1, std::move(attrs), inputs, outputs);
}

ir::Attribute int_attr(const char* name, int64_t v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kInt;
  a.i = v;
  return a;
}

ir::Attribute ints_attr(const char* name, std::vector<int64_t> v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::kInts;
  a.ints = std::move(v);
  return a;
}

Tensor transpose_last_two(const NodeContext& ctx, const Tensor& x) {
  const size_t r = x.rank();
  KILN_ASSERT(r >= 2);
  std::vector<int64_t> perm(r), dims = x.dims();
  std::iota(perm.begin(), perm.end(), int64_t{0});
  std::swap(perm[r - 1], perm[r - 2]);
  std::swap(dims[r - 1], dims[r - 2]);
  Tensor out[1] = {Tensor(x.dtype(), dims)};
  run_reference_op(ctx, "Transpose", 21, {ints_attr("perm", perm)}, {&x}, out);
  return std::move(out[0]);
}

}  // namespace kiln::ops
