// Reshape, Flatten, Squeeze, Unsqueeze: the elements stay in order, only the dims change.

#include <algorithm>
#include <map>

#include "base/checked.h"
#include "ops/op.h"
#include "ops/shape_util.h"
#include "ops/shape_value.h"
#include "ops/tensor_copy.h"

namespace kiln::ops {
namespace {

// The content moves unchanged: a small shape-like input keeps its (partly symbolic) elements.
void propagate_elements(InferContext& ctx, ComputeFn compute) {
  const ValueInfo& out = ctx.output(0);
  std::optional<std::vector<SymbolicInt>> elems = input_elements(ctx, 0);
  if (elems && out.shape.is_concrete() && out.shape.rank() <= 1 &&
      static_cast<int64_t>(elems->size()) == known_numel(out.shape)) {
    set_output_elements(ctx, 0, out.dtype, out.shape.values(), *elems);
    return;
  }
  fold_if_known(ctx, compute);
}

void compute_copy(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  if (x.numel() != y.numel())
    ctx.bad_input("input has {} elements ({}) but the output shape {} holds {}", x.numel(), dims_str(x.dims()),
                  dims_str(y.dims()), y.numel());
  copy_all(x, y);
}

// ---- Reshape ----

// Solves the one -1 entry of a Reshape target: input elements / other output dims. Symbols that appear on
// both sides cancel ([batch,3,4] -> [batch,-1] gives 12); what cannot be decided is unknown.
Dim infer_minus_one(const NodeContext& ctx, const Shape& in, const std::vector<Dim>& out, size_t skip) {
  if (!in.rank_known) return Dim();
  std::map<std::string, int> symbols;  // input symbols not yet matched by an output symbol
  int64_t in_known = 1, out_known = 1;
  for (const Dim& d : in.dims) {
    if (d.is_known()) in_known = checked_mul(in_known, d.value(), "Reshape element count");
    else if (d.is_symbol()) ++symbols[d.symbol_name()];
    else return Dim();
  }
  for (size_t k = 0; k < out.size(); ++k) {
    if (k == skip) continue;
    const Dim& d = out[k];
    if (d.is_known()) {
      out_known = checked_mul(out_known, d.value(), "Reshape element count");
    } else if (d.is_symbol() && symbols[d.symbol_name()] > 0) {
      --symbols[d.symbol_name()];
    } else {
      return Dim();
    }
  }
  std::vector<std::string> left;
  for (const auto& [name, count] : symbols)
    for (int c = 0; c < count; ++c) left.push_back(name);
  if (out_known == 0) {
    if (left.empty())
      ctx.bad_input("cannot infer the -1 dim of the target shape {}: the other dims hold 0 elements", Shape(out).str());
    return Dim();
  }
  if (left.empty()) {
    if (in_known % out_known != 0)
      ctx.bad_input("cannot reshape {} into {}: {} elements do not divide by {}", in.str(), Shape(out).str(),
                    in_known, out_known);
    return Dim(in_known / out_known);
  }
  if (left.size() == 1 && in_known == out_known) return Dim::symbol(left[0]);
  return Dim();
}

std::vector<Dim> reshape_target(const NodeContext& ctx, const Shape& in, const std::vector<SymbolicInt>& target,
                                bool allow_zero) {
  std::vector<Dim> out;
  std::optional<size_t> minus_one;
  bool has_zero = false;
  for (size_t k = 0; k < target.size(); ++k) {
    const SymbolicInt& e = target[k];
    if (!e.number) {
      out.push_back(dim_from_sym(e));
      continue;
    }
    int64_t n = *e.number;
    if (n == 0 && !allow_zero) {
      if (in.rank_known && k >= in.rank())
        ctx.bad_input("shape[{}] is 0 (copy input dim {}) but the input {} has only {} dims", k, k, in.str(),
                      in.rank());
      out.push_back(in.rank_known ? in.dims[k] : Dim());
    } else if (n == -1) {
      if (minus_one) ctx.bad_input("the target shape has more than one -1 (at {} and {})", *minus_one, k);
      minus_one = k;
      out.emplace_back();
    } else if (n < -1) {
      ctx.bad_input("shape[{}] is {}; dims must be >= -1", k, n);
    } else {
      has_zero = has_zero || n == 0;
      out.emplace_back(n);
    }
  }
  if (has_zero && minus_one)
    ctx.bad_input("with allowzero=1 the target shape cannot hold both 0 and -1 (the -1 is not defined)");
  if (minus_one) {
    out[*minus_one] = infer_minus_one(ctx, in, out, *minus_one);
  } else {
    std::optional<int64_t> a = known_numel(in), b = known_numel(Shape(out));
    if (a && b && *a != *b)
      ctx.bad_input("cannot reshape {} ({} elements) into {} ({} elements)", in.str(), *a, Shape(out).str(), *b);
  }
  return out;
}

void infer_reshape(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  bool allow_zero = ctx.opset() >= 14 && ctx.attr_int("allowzero", 0) != 0;
  std::optional<std::vector<SymbolicInt>> target;
  if (ctx.opset() < 5) {
    target.emplace();
    for (int64_t v : ctx.attr_ints("shape")) target->push_back(sym_number(v));
  } else {
    require_type(ctx, ctx.input_type(1), DType::kInt64, "the shape input");
    target = input_elements(ctx, 1);
  }
  if (target) {
    ctx.set_output(0, ctx.input_type(0), reshape_target(ctx, in, *target, allow_zero));
  } else {
    // Unknown target values: the rank is the target's length when that is known.
    ctx.set_output(0, ctx.input_type(0), unknown_dims_for_list(ctx.input_shape(1)));
  }
  propagate_elements(ctx, compute_copy);
}

// ---- Flatten ----

void infer_flatten(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  int64_t axis = ctx.attr_int("axis", 1);
  if (!in.rank_known) {
    ctx.set_output(0, ctx.input_type(0), Shape({axis == 0 ? Dim(1) : Dim(), Dim()}));
    return;
  }
  auto rank = static_cast<int64_t>(in.rank());
  int64_t low = ctx.opset() >= 11 ? -rank : 0;
  if (axis < low || axis > rank) ctx.fail("axis {} is out of range [{}, {}] for rank {}", axis, low, rank, rank);
  if (axis < 0) axis += rank;
  auto split = in.dims.begin() + axis;
  Dim outer = dim_product(std::vector<Dim>(in.dims.begin(), split));
  Dim inner = dim_product(std::vector<Dim>(split, in.dims.end()));
  ctx.set_output(0, ctx.input_type(0), Shape({outer, inner}));
  propagate_elements(ctx, compute_copy);
}

// ---- Squeeze / Unsqueeze ----

// The axes list: an attribute before opset 13, an optional input from 13. nullopt when the input is given
// but its value is not known; an empty list when there are no axes.
std::optional<std::vector<int64_t>> axes_of(const InferContext& ctx) {
  if (ctx.opset() < 13) return ctx.attr_ints("axes");
  if (!ctx.has_input(1)) return std::vector<int64_t>{};
  require_index_type(ctx, ctx.input_type(1), "axes");
  return input_ints(ctx, 1);
}

// Normalizes axes against `rank` and fails on repeats.
std::vector<int64_t> unique_axes(const NodeContext& ctx, std::vector<int64_t> axes, int64_t rank) {
  for (int64_t& a : axes) a = normalize_axis(ctx, a, rank);
  std::vector<int64_t> sorted = axes;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
    ctx.fail("axes {} name the same axis twice", fmt::join(axes, ","));
  return sorted;
}

// Length of the axes input when its value is unknown but its shape is.
std::optional<int64_t> axes_count(const InferContext& ctx) {
  const Shape& s = ctx.input_shape(1);
  if (s.rank_known && s.rank() == 1 && s.dims[0].is_known() && s.dims[0].value() <= kMaxRank) return s.dims[0].value();
  return std::nullopt;
}

void infer_squeeze(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  DType t = ctx.input_type(0);
  std::optional<std::vector<int64_t>> axes = axes_of(ctx);
  if (!in.rank_known) {
    ctx.set_output(0, t, Shape::unknown_rank());
    return;
  }
  auto rank = static_cast<int64_t>(in.rank());
  if (!axes) {
    std::optional<int64_t> n = axes_count(ctx);
    ctx.set_output(0, t, n && *n <= rank ? Shape(std::vector<Dim>(static_cast<size_t>(rank - *n)))
                                         : Shape::unknown_rank());
    return;
  }
  std::vector<Dim> out;
  if (axes->empty()) {
    // Squeeze every dim of size 1; a symbol might be 1 at run time, so then the rank is not known.
    for (const Dim& d : in.dims) {
      if (!d.is_known()) {
        ctx.set_output(0, t, Shape::unknown_rank());
        return;
      }
      if (d.value() != 1) out.push_back(d);
    }
  } else {
    std::vector<int64_t> sorted = unique_axes(ctx, *axes, rank);
    for (int64_t k = 0; k < rank; ++k) {
      const Dim& d = in.dims[static_cast<size_t>(k)];
      if (!std::binary_search(sorted.begin(), sorted.end(), k)) {
        out.push_back(d);
      } else if (d.is_known() && d.value() != 1) {
        ctx.bad_input("cannot squeeze axis {}: its size is {}, not 1 (input {})", k, d.value(), in.str());
      }
    }
  }
  ctx.set_output(0, t, Shape(std::move(out)));
  propagate_elements(ctx, compute_copy);
}

void infer_unsqueeze(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  DType t = ctx.input_type(0);
  if (ctx.opset() >= 13 && !ctx.has_input(1)) ctx.fail("the axes input is required from opset 13");
  std::optional<std::vector<int64_t>> axes = axes_of(ctx);
  if (!in.rank_known) {
    ctx.set_output(0, t, Shape::unknown_rank());
    return;
  }
  if (!axes) {
    std::optional<int64_t> n = axes_count(ctx);
    ctx.set_output(0, t, n ? Shape(std::vector<Dim>(in.rank() + static_cast<size_t>(*n))) : Shape::unknown_rank());
    return;
  }
  if (axes->empty()) ctx.fail("axes must name at least one axis to insert");
  int64_t out_rank = static_cast<int64_t>(in.rank()) + static_cast<int64_t>(axes->size());
  std::vector<int64_t> sorted = unique_axes(ctx, *axes, out_rank);
  std::vector<Dim> out;
  size_t next = 0;
  for (int64_t k = 0; k < out_rank; ++k) {
    if (std::binary_search(sorted.begin(), sorted.end(), k)) out.emplace_back(1);
    else out.push_back(in.dims[next++]);
  }
  ctx.set_output(0, t, Shape(std::move(out)));
  propagate_elements(ctx, compute_copy);
}

}  // namespace

KILN_REGISTER_OP(reshape, {.domain = "", .name = "Reshape", .versions = {1, 5, 13, 14, 19, 21}, .infer = infer_reshape,
                           .compute = compute_copy, .output_views_input = true});
KILN_REGISTER_OP(flatten, {.domain = "", .name = "Flatten", .versions = {1, 9, 11, 13, 21}, .infer = infer_flatten,
                           .compute = compute_copy, .output_views_input = true});
KILN_REGISTER_OP(squeeze, {.domain = "", .name = "Squeeze", .versions = {1, 11, 13, 21}, .infer = infer_squeeze,
                           .compute = compute_copy, .output_views_input = true});
KILN_REGISTER_OP(unsqueeze, {.domain = "", .name = "Unsqueeze", .versions = {1, 11, 13, 21},
                             .infer = infer_unsqueeze, .compute = compute_copy, .output_views_input = true});

}  // namespace kiln::ops
