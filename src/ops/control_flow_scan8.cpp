// Scan-8, the batched form Scan-9 replaced: inputs are (sequence_lens?, states..., scan inputs...), where every
// state is [batch, ...] and every scan input [batch, sequence, ...]. Each batch entry runs on its own: its
// states start from the entry's slice, and the body sees one sequence element of each scan input per
// iteration. sequence_lens[b] (default: the whole sequence) says how many elements entry b has; its scan
// outputs are padded with zeros up to the longest sequence, and a reverse-direction input is read from
// element sequence_lens[b] - 1 down to 0.

#include <algorithm>

#include "base/checked.h"
#include "ops/control_flow_util.h"
#include "ops/shape_util.h"

namespace kiln::ops::control_flow {
namespace {

struct Scan8Setup {
  size_t n_state = 0, n_scan_in = 0, n_scan_out = 0;
  std::vector<int64_t> directions;
};

// Node inputs: (sequence_lens, states..., scan inputs...); body: (states..., elements...) -> (states..., outputs...).
Scan8Setup scan8_setup(const NodeContext& ctx, const ir::Graph& body, size_t n_in, size_t n_out) {
  if (n_in < 1) ctx.fail("Scan-8 takes sequence_lens (which may be empty) before its states and scan inputs");
  Scan8Setup s;
  const int64_t m = ctx.attr_int("num_scan_inputs");
  if (m < 1 || static_cast<size_t>(m) > n_in - 1)
    ctx.fail("num_scan_inputs is {}, but the node has {} inputs after sequence_lens", m, n_in - 1);
  s.n_scan_in = static_cast<size_t>(m);
  s.n_state = n_in - 1 - s.n_scan_in;
  if (body.inputs.size() != s.n_state + s.n_scan_in)
    ctx.fail("body '{}' takes {} inputs, but the node passes {} states and {} scan elements", body.name,
             body.inputs.size(), s.n_state, s.n_scan_in);
  if (body.outputs.size() < s.n_state)
    ctx.fail("body '{}' returns {} values, fewer than the {} states", body.name, body.outputs.size(), s.n_state);
  s.n_scan_out = body.outputs.size() - s.n_state;
  if (n_out != s.n_state + s.n_scan_out)
    ctx.fail("lists {} outputs, but the body returns {} states and {} scan outputs", n_out, s.n_state, s.n_scan_out);
  s.directions = ctx.attr_ints("directions", std::vector<int64_t>(s.n_scan_in, 0));
  if (s.directions.size() != s.n_scan_in)
    ctx.fail("directions has {} entries, but there are {} scan inputs", s.directions.size(), s.n_scan_in);
  for (int64_t d : s.directions)
    if (d != 0 && d != 1) ctx.fail("directions entries must be 0 or 1, not {}", d);
  return s;
}

Dim dim_of(const Shape& s, size_t i) { return s.rank_known && i < s.rank() ? s.dims[i] : Dim(); }

}  // namespace

void infer_scan8(InferContext& ctx) {
  const ir::Graph& body = ctx.attr_graph("body");
  const Scan8Setup s = scan8_setup(ctx, body, ctx.num_inputs(), ctx.num_outputs());
  if (ctx.has_input(0) && ctx.input_type(0) != DType::kUndefined && ctx.input_type(0) != DType::kInt64)
    ctx.fail("sequence_lens must be int64, not {}", dtype_name(ctx.input_type(0)));
  const Shape& first_scan = ctx.input_shape(1 + s.n_state);
  const Dim batch = dim_of(first_scan, 0), seq = dim_of(first_scan, 1);
  for (size_t j = 0; j < s.n_state; ++j) {
    const ValueInfo& init = ctx.input(1 + j);
    const Declared d = declared_output(body, j);
    Shape declared = Shape::unknown_rank();
    if (d.shape.rank_known) {
      declared = d.shape;
      declared.dims.insert(declared.dims.begin(), batch);
    }
    ctx.set_output(j, merge_dtypes(ctx, init.dtype, d.dtype, fmt::format("state {}", j)),
                   merge_shapes(init.shape, declared));
  }
  for (size_t k = 0; k < s.n_scan_out; ++k) {
    const Declared d = declared_output(body, s.n_state + k);
    Shape out = Shape::unknown_rank();
    if (d.shape.rank_known) {
      out = d.shape;
      out.dims.insert(out.dims.begin(), {batch, seq});
    }
    ctx.set_output(s.n_state + k, d.dtype, out);
  }
}

void compute_scan8(KernelContext& ctx) {
  const ir::Graph& body = ctx.attr_graph("body");
  const Scan8Setup s = scan8_setup(ctx, body, ctx.num_inputs(), ctx.num_outputs());
  // Every state and scan input shares the batch size; every scan input the sequence length.
  int64_t batch = -1, seq = -1;
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    const Tensor& t = ctx.input(i);
    const bool is_scan = i > s.n_state;
    if (t.rank() < (is_scan ? 2u : 1u))
      ctx.bad_input("{} {} is {}; it needs a batch axis{}", is_scan ? "scan input" : "state",
                    is_scan ? i - 1 - s.n_state : i - 1, dims_str(t.dims()), is_scan ? " and a sequence axis" : "");
    if (batch >= 0 && t.dim(0) != batch)
      ctx.bad_input("input {} has batch size {}, but another input has {}: they must be equal", i, t.dim(0), batch);
    batch = t.dim(0);
    if (is_scan) {
      if (seq >= 0 && t.dim(1) != seq)
        ctx.bad_input("scan inputs have sequence lengths {} and {}: they must be equal", seq, t.dim(1));
      seq = t.dim(1);
    }
  }
  std::vector<int64_t> lens(static_cast<size_t>(batch), seq);
  if (ctx.has_input(0)) {
    const Tensor& l = ctx.input(0);
    if (l.dtype() != DType::kInt64 || l.dims() != std::vector<int64_t>{batch})
      ctx.bad_input("sequence_lens must be int64 [{}], but it is {} {}", batch, dtype_name(l.dtype()), dims_str(l.dims()));
    lens = l.to_int64_vector();
    for (size_t b = 0; b < lens.size(); ++b)
      if (lens[b] < 0 || lens[b] > seq)
        ctx.bad_input("sequence_lens[{}] is {}, outside [0, {}] (the scan inputs' sequence length)", b, lens[b], seq);
  }

  std::vector<Tensor*> state_out(s.n_state, nullptr), scan_out(s.n_scan_out, nullptr);
  for (size_t j = 0; j < s.n_state; ++j) {
    const Tensor& init = ctx.input(1 + j);
    state_out[j] = &ctx.allocate_output(j, init.dtype(), init.dims());
  }
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<Tensor> states, inputs;
    for (size_t j = 0; j < s.n_state; ++j) states.push_back(slice_along(ctx.input(1 + j), 0, b));
    for (size_t j = 0; j < s.n_scan_in; ++j) inputs.push_back(slice_along(ctx.input(1 + s.n_state + j), 0, b));
    const int64_t len = lens[static_cast<size_t>(b)];
    for (int64_t t = 0; t < len; ++t) {
      std::vector<Tensor> in = states;
      for (size_t j = 0; j < s.n_scan_in; ++j) in.push_back(slice_along(inputs[j], 0, s.directions[j] ? len - 1 - t : t));
      std::vector<Tensor> out = ctx.subgraphs().run(body, in);
      if (out.size() != s.n_state + s.n_scan_out)
        ctx.fail("body '{}' returned {} values, expected {}", body.name, out.size(), s.n_state + s.n_scan_out);
      for (size_t o = 0; o < out.size(); ++o)
        check_against_declared(ctx, out[o], body, o, fmt::format("body output {} (batch {}, iteration {})", o, b, t));
      for (size_t j = 0; j < s.n_state; ++j) {
        if (out[j].dtype() != states[j].dtype() || out[j].dims() != states[j].dims())
          ctx.bad_input("state {} enters as {} {} but the body returns {} {}; states keep their type and shape", j,
                        dtype_name(states[j].dtype()), dims_str(states[j].dims()), dtype_name(out[j].dtype()),
                        dims_str(out[j].dims()));
        states[j] = std::move(out[j]);
      }
      for (size_t k = 0; k < s.n_scan_out; ++k) {
        const Tensor& part = out[s.n_state + k];
        if (scan_out[k] == nullptr) {  // the first element fixes the output's type and element shape
          std::vector<int64_t> dims{batch, seq};
          dims.insert(dims.end(), part.dims().begin(), part.dims().end());
          scan_out[k] = &ctx.allocate_output(s.n_state + k, part.dtype(), dims);
        }
        const std::vector<int64_t>& want = scan_out[k]->dims();
        if (part.dtype() != scan_out[k]->dtype() || !std::equal(part.dims().begin(), part.dims().end(), want.begin() + 2, want.end()))
          ctx.bad_input("scan output {} changes its type or shape between iterations ({} {})", k,
                        dtype_name(part.dtype()), dims_str(part.dims()));
        copy_into(part, *scan_out[k], checked_mul(b * seq + t, part.numel()));
      }
    }
    for (size_t j = 0; j < s.n_state; ++j) copy_into(states[j], *state_out[j], b * states[j].numel());
  }
  for (size_t k = 0; k < s.n_scan_out; ++k) {
    if (scan_out[k] != nullptr) continue;  // no iteration ran: the declared element shape, or [batch, seq]
    const Declared d = declared_output(body, s.n_state + k);
    if (d.dtype == DType::kUndefined)
      ctx.unsupported("scan output {} ran zero iterations and the body graph '{}' declares no type for it; declare "
                      "the body output's type", k, body.name);
    std::vector<int64_t> dims{batch, seq};
    if (d.shape.is_concrete())
      for (int64_t x : d.shape.values()) dims.push_back(x);
    ctx.allocate_output(s.n_state + k, d.dtype, dims);
  }
}

}  // namespace kiln::ops::control_flow
