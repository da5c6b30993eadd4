// SequenceMap (opset 17): runs its body once per position of the input sequence. Body input 0 gets the
// sequence's tensor at that position; each additional input gets its tensor at that position when it is a
// sequence (which must be as long), or the whole tensor every time. Body output k, collected over the
// positions, becomes output sequence k. The body runs through ctx.subgraphs(), like Loop's.

#include "ops/control_flow_util.h"
#include "ops/sequence_util.h"

namespace kiln::ops {
namespace {

void check_body(const NodeContext& ctx, const ir::Graph& body, size_t n_in, size_t n_out) {
  if (body.inputs.size() != n_in)
    ctx.fail("body '{}' takes {} inputs, but the node passes {}", body.name, body.inputs.size(), n_in);
  if (body.outputs.size() != n_out)
    ctx.fail("body '{}' returns {} values, but the node lists {} output sequences", body.name, body.outputs.size(),
             n_out);
}

void infer_sequence_map(InferContext& ctx) {
  const ir::Graph& body = ctx.attr_graph("body");
  check_body(ctx, body, ctx.num_inputs(), ctx.num_outputs());
  sequence::sequence_info(ctx, 0);
  for (size_t k = 0; k < ctx.num_outputs(); ++k) {
    const control_flow::Declared d = control_flow::declared_output(body, k);
    if (d.declared && d.kind != TensorKind::kTensor)
      ctx.unsupported("body output {} is a {}; kiln collects tensors into the output sequences", k,
                      tensor_kind_name(d.kind));
    ctx.set_output_info(k, ValueInfo::sequence(d.dtype, d.shape));
  }
}

void compute_sequence_map(KernelContext& ctx) {
  const ir::Graph& body = ctx.attr_graph("body");
  check_body(ctx, body, ctx.num_inputs(), ctx.num_outputs());
  const Tensor& seq = sequence::sequence_input(ctx, 0);
  const size_t n = seq.elements().size();
  for (size_t j = 1; j < ctx.num_inputs(); ++j) {
    const Tensor& extra = ctx.input(j);
    if (extra.is_optional()) ctx.fail("input {} is an optional; SequenceMap takes sequences and tensors", j);
    if (extra.is_sequence() && extra.elements().size() != n)
      ctx.bad_input("input {} is a sequence of {} tensors, but input 0 holds {}: they must be as long", j,
                    extra.elements().size(), n);
  }
  std::vector<std::vector<Tensor>> collected(ctx.num_outputs());
  for (size_t i = 0; i < n; ++i) {
    std::vector<Tensor> in;
    in.reserve(ctx.num_inputs());
    in.push_back(seq.elements()[i]);
    for (size_t j = 1; j < ctx.num_inputs(); ++j) {
      const Tensor& extra = ctx.input(j);
      in.push_back(extra.is_sequence() ? extra.elements()[i] : extra);
    }
    std::vector<Tensor> out = ctx.subgraphs().run(body, in);
    if (out.size() != ctx.num_outputs())
      ctx.fail("body '{}' returned {} values, expected {}", body.name, out.size(), ctx.num_outputs());
    for (size_t k = 0; k < out.size(); ++k) {
      control_flow::check_against_declared(ctx, out[k], body, k, fmt::format("body output {} (position {})", k, i));
      if (!out[k].is_tensor())
        ctx.unsupported("body output {} is a {}; kiln collects tensors into the output sequences", k,
                        tensor_kind_name(out[k].kind()));
      if (!collected[k].empty() && collected[k].front().dtype() != out[k].dtype())
        ctx.bad_input("body output {} is {} at position 0 and {} at position {}: a sequence holds one element type",
                      k, dtype_name(collected[k].front().dtype()), dtype_name(out[k].dtype()), i);
      collected[k].push_back(sequence::owned(out[k]));
    }
  }
  for (size_t k = 0; k < ctx.num_outputs(); ++k) {
    // With no positions the element type is what the body declares.
    const DType t = collected[k].empty() ? control_flow::declared_output(body, k).dtype : collected[k].front().dtype();
    if (ctx.wants_output(k)) ctx.set_output(k, Tensor::make_sequence(t, std::move(collected[k])));
  }
}

}  // namespace

KILN_REGISTER_OP(sequence_map, {.domain = "", .name = "SequenceMap", .versions = {17}, .infer = infer_sequence_map,
                                .compute = compute_sequence_map, .accepts_containers = true});

}  // namespace kiln::ops
