// Scan-8, the batched form opset 9 replaced: every input and output carries a batch axis 0; scan inputs are
// [batch, sequence, ...] and scan outputs come back the same way; an optional first input, sequence_lens,
// gives each batch entry its own length. The body sees one batch entry at a time, exactly as Scan-9's body
// sees the whole input, so this runs Scan-9's loop once per batch entry. Scan outputs past an entry's length
// are zeros (what onnxruntime returns; the standard leaves them unspecified).

#include "ops/control_flow_util.h"
#include "ops/shape_util.h"
#include "ops/tensor_copy.h"

namespace kiln::ops::control_flow {

namespace {

struct Scan8Setup {
  size_t n_state = 0, n_scan_in = 0, n_scan_out = 0;
  std::vector<int64_t> directions;
};

// Inputs: (sequence_lens, states..., scan inputs...); body: (states..., scan elements...) -> (states..., scan
// output elements...).
Scan8Setup scan8_setup(const NodeContext& ctx, const ir::Graph& body, size_t n_in, size_t n_out) {
  Scan8Setup s;
  const int64_t m = ctx.attr_int("num_scan_inputs");
  if (n_in < 1 || m < 1 || static_cast<size_t>(m) > n_in - 1)
    ctx.fail("num_scan_inputs is {}, but the node has {} inputs after sequence_lens", m, n_in == 0 ? 0 : n_in - 1);
  s.n_scan_in = static_cast<size_t>(m);
  s.n_state = n_in - 1 - s.n_scan_in;
  if (body.inputs.size() != n_in - 1)
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

}  // namespace

void infer_scan8(InferContext& ctx) {
  const ir::Graph& body = ctx.attr_graph("body");
  const Scan8Setup s = scan8_setup(ctx, body, ctx.num_inputs(), ctx.num_outputs());
  Dim batch, seq;
  const ValueInfo& first_scan = ctx.input(1 + s.n_state);
  if (first_scan.shape.rank_known && first_scan.shape.rank() >= 2) {
    batch = first_scan.shape.dims[0];
    seq = first_scan.shape.dims[1];
  }
  for (size_t j = 0; j < s.n_state; ++j) ctx.set_output(j, ctx.input_type(1 + j), ctx.input_shape(1 + j));
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
  // Batch and sequence sizes: every input agrees on the batch, every scan input on the sequence.
  int64_t batch = -1, max_len = -1;
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    const Tensor& in = ctx.input(i);
    const bool scan = i > s.n_state;
    if (in.rank() < (scan ? 2u : 1u))
      ctx.bad_input("input {} has shape {}; Scan-8 {} need a batch axis{}", i, dims_str(in.dims()),
                    scan ? "scan inputs" : "states", scan ? " and a sequence axis" : "");
    if (batch >= 0 && in.dim(0) != batch)
      ctx.bad_input("input {} has batch size {}, but another input has {}", i, in.dim(0), batch);
    batch = in.dim(0);
    if (scan) {
      if (max_len >= 0 && in.dim(1) != max_len)
        ctx.bad_input("scan input {} has sequence length {}, but another has {}", i, in.dim(1), max_len);
      max_len = in.dim(1);
    }
  }
  std::vector<int64_t> lens(static_cast<size_t>(batch), max_len);
  if (ctx.has_input(0)) {
    const Tensor& sl = ctx.input(0);
    if (sl.dtype() != DType::kInt64) ctx.fail("sequence_lens must be int64, not {}", dtype_name(sl.dtype()));
    if (sl.rank() != 1 || sl.dim(0) != batch)
      ctx.bad_input("sequence_lens has shape {}, but the batch size is {}", dims_str(sl.dims()), batch);
    for (int64_t b = 0; b < batch; ++b) {
      lens[static_cast<size_t>(b)] = sl.int_at(b);
      if (lens[static_cast<size_t>(b)] < 0 || lens[static_cast<size_t>(b)] > max_len)
        ctx.bad_input("sequence_lens[{}] is {}, outside [0, {}]", b, lens[static_cast<size_t>(b)], max_len);
    }
  }
  std::vector<std::vector<Tensor>> final_states(s.n_state);          // [state][batch]
  std::vector<std::vector<std::vector<Tensor>>> parts(s.n_scan_out);  // [output][batch][position]
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t len = lens[static_cast<size_t>(b)];
    std::vector<Tensor> states, inputs;
    for (size_t j = 0; j < s.n_state; ++j) states.push_back(slice_along(ctx.input(1 + j), 0, b));
    for (size_t j = 0; j < s.n_scan_in; ++j) inputs.push_back(slice_along(ctx.input(1 + s.n_state + j), 0, b));
    for (size_t k = 0; k < s.n_scan_out; ++k) parts[k].emplace_back();
    for (int64_t t = 0; t < len; ++t) {
      std::vector<Tensor> in = std::move(states);
      for (size_t j = 0; j < s.n_scan_in; ++j) in.push_back(slice_along(inputs[j], 0, s.directions[j] ? len - 1 - t : t));
      std::vector<Tensor> out = ctx.subgraphs().run(body, in);
      if (out.size() != s.n_state + s.n_scan_out)
        ctx.fail("body '{}' returned {} values, expected {}", body.name, out.size(), s.n_state + s.n_scan_out);
      for (size_t o = 0; o < out.size(); ++o)
        check_against_declared(ctx, out[o], body, o, fmt::format("body output {} (batch {}, step {})", o, b, t));
      states.assign(out.begin(), out.begin() + static_cast<long>(s.n_state));
      for (size_t k = 0; k < s.n_scan_out; ++k) {
        Tensor& e = out[s.n_state + k];
        const std::vector<Tensor>& mine = parts[k][static_cast<size_t>(b)];
        if (!mine.empty() && (mine[0].dtype() != e.dtype() || mine[0].dims() != e.dims()))
          ctx.bad_input("scan output {} changes type or shape between steps ({} then {})", k, dims_str(mine[0].dims()),
                        dims_str(e.dims()));
        parts[k][static_cast<size_t>(b)].push_back(std::move(e));
      }
    }
    for (size_t j = 0; j < s.n_state; ++j) {
      const Tensor& init = ctx.input(1 + j);
      if (states[j].dtype() != init.dtype() || insert_dim(states[j].dims(), 0, batch) != init.dims())
        ctx.bad_input("state {} enters as {} {} but the body returns {} {} per batch entry", j, dtype_name(init.dtype()),
                      dims_str(init.dims()), dtype_name(states[j].dtype()), dims_str(states[j].dims()));
      final_states[j].push_back(std::move(states[j]));
    }
  }
  for (size_t j = 0; j < s.n_state; ++j) {
    if (!ctx.wants_output(j)) continue;
    Tensor& out = ctx.allocate_output(j, ctx.input(1 + j).dtype(), ctx.input(1 + j).dims());
    stack_into(final_states[j], 0, false, out);
  }
  for (size_t k = 0; k < s.n_scan_out; ++k) {
    const size_t o = s.n_state + k;
    if (!ctx.wants_output(o)) continue;
    const Tensor* sample = nullptr;
    for (const auto& per_batch : parts[k])
      if (!per_batch.empty()) sample = &per_batch[0];
    DType dtype;
    std::vector<int64_t> elem;
    if (sample) {
      dtype = sample->dtype();
      elem = sample->dims();
    } else {  // no step ran: only the body's declaration says what an element would be
      const Declared d = declared_output(body, o);
      if (d.dtype == DType::kUndefined || !d.shape.is_concrete())
        ctx.unsupported("scan output {} ran zero steps and the body graph '{}' declares no full type for it", k,
                        body.name);
      dtype = d.dtype;
      elem = d.shape.values();
    }
    std::vector<int64_t> dims = elem;
    dims.insert(dims.begin(), {batch, max_len});
    Tensor& out = ctx.allocate_output(o, dtype, dims);  // zeros past each entry's length
    const int64_t n = product(elem, 0, elem.size());
    for (int64_t b = 0; b < batch; ++b) {
      const auto& steps = parts[k][static_cast<size_t>(b)];
      for (size_t t = 0; t < steps.size(); ++t) {
        if (steps[t].dims() != elem || steps[t].dtype() != dtype)
          ctx.bad_input("scan output {} has shape {} in batch entry {} but {} in another", k, dims_str(steps[t].dims()),
                        b, dims_str(elem));
        copy_elements(steps[t], 0, out, (b * max_len + static_cast<int64_t>(t)) * n, n);
      }
    }
  }
}

}  // namespace kiln::ops::control_flow
