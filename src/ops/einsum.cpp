// Einsum, general: explicit or implicit output, repeated labels in one operand (diagonals), ellipsis with
// broadcasting, any number of operands. Operands are contracted pairwise, left to right; each pairwise
// contraction gathers its operands into [batch, m, k] and [batch, k, n] and runs a batched GEMM, so transposes,
// diagonals (a repeated label's strides add up) and broadcasts (stride 0) all become plain strided gathers.

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ops/gemm_plain.h"
#include "ops/nn_util.h"
#include "ops/op.h"

namespace kiln::ops {
namespace {

constexpr int kEllipsisBase = 52;  // labels 0..51 are letters; ellipsis dims follow

struct Equation {
  std::vector<std::vector<int>> terms;  // per input, the label of each dim (ellipsis expanded)
  std::vector<int> output;              // labels of the output dims
};

int letter_label(char c) { return c >= 'a' && c <= 'z' ? c - 'a' + 26 : c - 'A'; }  // 'A'..'Z' sort first

// Splits "ab...c" into letters and the position of "..." (or -1); fails on anything else.
std::vector<int> parse_term(const NodeContext& ctx, const std::string& t, int* ellipsis_at) {
  std::vector<int> labels;
  *ellipsis_at = -1;
  for (size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      labels.push_back(letter_label(c));
    } else if (c == '.' && t.compare(i, 3, "...") == 0 && *ellipsis_at < 0) {
      *ellipsis_at = static_cast<int>(labels.size());
      i += 2;
    } else {
      ctx.fail("equation term '{}' has an unexpected character '{}' (letters and one '...' only)", t, c);
    }
  }
  return labels;
}

// ranks: the rank of each input, or -1 when unknown (then the result may be only partly known).
Equation parse_equation(const NodeContext& ctx, const std::vector<int64_t>& ranks, int* max_ellipsis) {
  std::string eq;
  for (char c : ctx.attr_string("equation")) if (c != ' ') eq += c;
  const size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<std::string> terms;
  for (size_t start = 0;;) {
    const size_t comma = lhs.find(',', start);
    terms.push_back(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (terms.size() != ranks.size())
    ctx.fail("equation '{}' has {} input terms but the node has {} inputs", eq, terms.size(), ranks.size());
  Equation e;
  *max_ellipsis = 0;
  std::vector<int> ell_at(terms.size());
  for (size_t i = 0; i < terms.size(); ++i) {
    e.terms.push_back(parse_term(ctx, terms[i], &ell_at[i]));
    const int64_t letters = static_cast<int64_t>(e.terms[i].size());
    if (ranks[i] < 0) continue;
    if (ell_at[i] < 0 ? ranks[i] != letters : ranks[i] < letters)
      ctx.fail("equation term '{}' does not fit input {} of rank {}", terms[i], i, ranks[i]);
    if (ell_at[i] >= 0) *max_ellipsis = std::max(*max_ellipsis, static_cast<int>(ranks[i] - letters));
  }
  // Ellipsis dims are right-aligned across operands (numpy broadcasting).
  for (size_t i = 0; i < terms.size(); ++i) {
    if (ell_at[i] < 0 || ranks[i] < 0) continue;
    const int n = static_cast<int>(ranks[i]) - static_cast<int>(e.terms[i].size());
    std::vector<int> ell;
    for (int j = 0; j < n; ++j) ell.push_back(kEllipsisBase + *max_ellipsis - n + j);
    e.terms[i].insert(e.terms[i].begin() + ell_at[i], ell.begin(), ell.end());
  }
  std::vector<int> ellipsis_labels;
  for (int j = 0; j < *max_ellipsis; ++j) ellipsis_labels.push_back(kEllipsisBase + j);
  if (arrow != std::string::npos) {
    int at = -1;
    e.output = parse_term(ctx, eq.substr(arrow + 2), &at);
    if (at >= 0) e.output.insert(e.output.begin() + at, ellipsis_labels.begin(), ellipsis_labels.end());
    for (size_t i = 0; i < e.output.size(); ++i) {
      if (std::count(e.output.begin(), e.output.end(), e.output[i]) > 1)
        ctx.fail("equation '{}' repeats a label in its output", eq);
      if (e.output[i] >= kEllipsisBase) continue;
      bool found = false;
      for (const auto& t : e.terms) found = found || std::count(t.begin(), t.end(), e.output[i]) > 0;
      if (!found) ctx.fail("equation '{}' has an output label that no input has", eq);
    }
  } else {
    // Implicit output: the ellipsis dims, then every letter used exactly once, in alphabetical order.
    std::map<int, int> uses;
    for (const auto& t : e.terms)
      for (int l : t)
        if (l < kEllipsisBase) ++uses[l];
    e.output = ellipsis_labels;
    for (const auto& [l, n] : uses)
      if (n == 1) e.output.push_back(l);
  }
  return e;
}

// The size of every label, broadcasting 1s; fails naming both shapes on a clash.
std::map<int, int64_t> label_sizes(const NodeContext& ctx, const Equation& e, const std::vector<const Tensor*>& in) {
  std::map<int, int64_t> size;
  std::map<int, size_t> from;
  for (size_t i = 0; i < in.size(); ++i)
    for (size_t d = 0; d < e.terms[i].size(); ++d) {
      const int l = e.terms[i][d];
      const int64_t s = in[i]->dim(d);
      auto it = size.find(l);
      if (it == size.end() || it->second == 1) {
        size[l] = s;
        from[l] = i;
      } else if (s != 1 && s != it->second) {
        ctx.bad_input("einsum label sizes clash: input {} {} has {} where input {} {} has {}", i,
                      dims_str(in[i]->dims()), s, from[l], dims_str(in[from[l]]->dims()), it->second);
      }
    }
  return size;
}

// A strided view of an operand: one stride per distinct label (a repeated label's strides add up: the
// diagonal; a size-1 dim of a broadcast label gets stride 0).
template <typename T> struct View {
  const T* data = nullptr;
  std::map<int, int64_t> stride;  // labels the operand does not have are absent (stride 0)
  std::vector<int> labels;        // distinct labels, in first-seen order
  int64_t at(int label) const {
    auto it = stride.find(label);
    return it == stride.end() ? 0 : it->second;
  }
};

// Copies the view into a contiguous array laid out as `order` (labels the view lacks are broadcast).
template <typename T>
std::vector<T> gather(const View<T>& v, const std::vector<int>& order, const std::map<int, int64_t>& size) {
  std::vector<int64_t> dims, strides;
  for (int l : order) dims.push_back(size.at(l)), strides.push_back(v.at(l));
  std::vector<T> out(static_cast<size_t>(checked_numel(dims, "einsum intermediate")));
  if (out.empty()) return out;
  if (order.empty()) {
    out[0] = v.data[0];
    return out;
  }
  const size_t last = order.size() - 1;
  std::vector<int64_t> idx(order.size(), 0);
  int64_t base = 0;
  for (size_t pos = 0; pos < out.size(); pos += static_cast<size_t>(dims[last])) {
    for (int64_t j = 0; j < dims[last]; ++j) out[pos + static_cast<size_t>(j)] = v.data[base + j * strides[last]];
    for (size_t d = last; d-- > 0;) {
      base += strides[d];
      if (++idx[d] < dims[d]) break;
      base -= idx[d] * strides[d];
      idx[d] = 0;
    }
  }
  return out;
}

template <typename T> struct Owned {
  std::vector<T> data;
  std::vector<int> labels;  // one per dim, contiguous row-major
  View<T> view(const std::map<int, int64_t>& size) const {
    View<T> v;
    v.data = data.data();
    v.labels = labels;
    int64_t s = 1;
    for (size_t d = labels.size(); d-- > 0;) {
      v.stride[labels[d]] = size.at(labels[d]) == 1 ? 0 : s;
      s *= size.at(labels[d]);
    }
    return v;
  }
};

bool has(const std::vector<int>& v, int l) { return std::find(v.begin(), v.end(), l) != v.end(); }

// Contracts a and b, keeping `keep` labels (in [batch, m, n] order); everything else is summed.
template <typename T>
Owned<T> contract(const View<T>& a, const View<T>& b, const std::vector<int>& keep, const std::map<int, int64_t>& size) {
  std::vector<int> batch, m, n, k;
  for (int l : a.labels) {
    if (has(keep, l)) (has(b.labels, l) ? batch : m).push_back(l);
    else k.push_back(l);
  }
  for (int l : b.labels) {
    if (has(a.labels, l)) continue;
    (has(keep, l) ? n : k).push_back(l);
  }
  auto count = [&](const std::vector<int>& ls) {
    int64_t c = 1;
    for (int l : ls) c = checked_mul(c, size.at(l));
    return c;
  };
  const int64_t B = count(batch), M = count(m), N = count(n), K = count(k);
  std::vector<int> a_order = batch, b_order = batch;
  a_order.insert(a_order.end(), m.begin(), m.end());
  a_order.insert(a_order.end(), k.begin(), k.end());
  b_order.insert(b_order.end(), k.begin(), k.end());
  b_order.insert(b_order.end(), n.begin(), n.end());
  std::vector<T> ag = gather(a, a_order, size), bg = gather(b, b_order, size);
  Owned<T> r;
  r.labels = batch;
  r.labels.insert(r.labels.end(), m.begin(), m.end());
  r.labels.insert(r.labels.end(), n.begin(), n.end());
  r.data.resize(static_cast<size_t>(checked_mul(checked_mul(B, M), N)));
  for (int64_t i = 0; i < B; ++i)
    gemm_any<T>(false, false, M, N, K, ag.data() + i * M * K, K, bg.data() + i * K * N, N, r.data.data() + i * M * N,
                N, false);
  return r;
}

// Sums a single operand over the labels not in `keep`; the result is laid out as `keep`.
template <typename T>
Owned<T> reduce(const View<T>& a, const std::vector<int>& keep, const std::map<int, int64_t>& size) {
  std::vector<int> rest;
  for (int l : a.labels)
    if (!has(keep, l)) rest.push_back(l);
  std::vector<int> order = keep;
  order.insert(order.end(), rest.begin(), rest.end());
  std::vector<T> g = gather(a, order, size);
  int64_t inner = 1;
  for (int l : rest) inner = checked_mul(inner, size.at(l));
  Owned<T> r;
  r.labels = keep;
  r.data.assign(inner == 0 ? g.size() : g.size() / static_cast<size_t>(inner), T(0));
  if (inner == 0) {  // summing over an empty label: zeros
    int64_t n = 1;
    for (int l : keep) n *= size.at(l);
    r.data.assign(static_cast<size_t>(n), T(0));
    return r;
  }
  for (size_t i = 0; i < r.data.size(); ++i) {
    T acc = T(0);
    for (int64_t j = 0; j < inner; ++j) acc += g[i * static_cast<size_t>(inner) + static_cast<size_t>(j)];
    r.data[i] = acc;
  }
  return r;
}

template <typename T>
std::vector<T> run_einsum(const Equation& e, const std::vector<const T*>& data, const std::vector<const Tensor*>& in,
                          const std::map<int, int64_t>& size) {
  std::vector<View<T>> views(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    views[i].data = data[i];
    int64_t s = 1;
    for (size_t d = e.terms[i].size(); d-- > 0;) {
      const int l = e.terms[i][d];
      const int64_t dim = in[i]->dim(d);
      views[i].stride[l] += (dim == 1 && size.at(l) != 1) ? 0 : s;
      s *= dim;
    }
    for (int l : e.terms[i])
      if (!has(views[i].labels, l)) views[i].labels.push_back(l);
  }
  // Left to right: keep the labels the output or a later operand still needs.
  Owned<T> acc;
  View<T> cur = views[0];
  for (size_t i = 1; i < views.size(); ++i) {
    std::vector<int> needed = e.output;
    for (size_t j = i + 1; j < views.size(); ++j)
      for (int l : views[j].labels) needed.push_back(l);
    std::vector<int> keep;
    for (int l : cur.labels)
      if (has(needed, l) && !has(keep, l)) keep.push_back(l);
    for (int l : views[i].labels)
      if (has(needed, l) && !has(keep, l)) keep.push_back(l);
    acc = contract(cur, views[i], keep, size);
    cur = acc.view(size);
  }
  Owned<T> final_result = reduce(cur, e.output, size);
  return final_result.data;
}

std::vector<int64_t> input_ranks(const InferContext& ctx) {
  std::vector<int64_t> r;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const Shape& s = ctx.input_shape(i);
    r.push_back(s.rank_known ? static_cast<int64_t>(s.rank()) : -1);
  }
  return r;
}

void infer_einsum(InferContext& ctx) {
  if (ctx.num_inputs() == 0) ctx.fail("Einsum needs at least one input");
  const DType t = ctx.input_type(0);
  if (!dtype_is_float(t) && !dtype_is_integer(t)) ctx.unsupported("Einsum does not take {}", dtype_name(t));
  for (size_t i = 1; i < ctx.num_inputs(); ++i)
    if (ctx.input_type(i) != t) ctx.fail("input {} is {} but input 0 is {}", i, dtype_name(ctx.input_type(i)), dtype_name(t));
  std::vector<int64_t> ranks = input_ranks(ctx);
  int max_ell = 0;
  Equation e = parse_equation(ctx, ranks, &max_ell);
  if (std::count(ranks.begin(), ranks.end(), -1) > 0) {
    ctx.set_output(0, t, Shape::unknown_rank());
    return;
  }
  // Each output dim: a known size other than 1 wins, then 1, then a symbol both sides agree on.
  std::vector<Dim> dims;
  for (int l : e.output) {
    Dim best;
    bool have = false;
    for (size_t i = 0; i < e.terms.size(); ++i)
      for (size_t d = 0; d < e.terms[i].size(); ++d) {
        if (e.terms[i][d] != l) continue;
        const Dim& x = ctx.input_shape(i).dims[d];
        if (!have) best = x, have = true;
        else if (x.is_known() && x.value() != 1) {
          if (best.is_known() && best.value() != 1 && best.value() != x.value())
            ctx.fail("einsum label sizes clash: {} vs {} in input {} {}", best.value(), x.value(), i,
                     ctx.input_shape(i).str());
          best = x;
        } else if (best.is_known() && best.value() == 1) {
          best = x;
        }
      }
    dims.push_back(have ? best : Dim(1));
  }
  ctx.set_output(0, t, Shape(std::move(dims)));
}

void compute_einsum(KernelContext& ctx) {
  std::vector<const Tensor*> in;
  std::vector<int64_t> ranks;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    in.push_back(&ctx.input(i));
    ranks.push_back(static_cast<int64_t>(in.back()->rank()));
  }
  int max_ell = 0;
  Equation e = parse_equation(ctx, ranks, &max_ell);
  std::map<int, int64_t> size = label_sizes(ctx, e, in);
  for (int j = 0; j < max_ell; ++j) size.emplace(kEllipsisBase + j, 1);
  Tensor& y = ctx.output(0);
  std::vector<int64_t> want;
  for (int l : e.output) want.push_back(size.at(l));
  expect_output_dims(ctx, y, want);
  visit_numeric(in[0]->dtype(), [&]<typename T>() {
    if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>) {
      std::vector<std::vector<float>> conv(in.size());
      std::vector<const float*> ptrs;
      for (size_t i = 0; i < in.size(); ++i) {
        conv[i].resize(static_cast<size_t>(in[i]->numel()));
        for (size_t j = 0; j < conv[i].size(); ++j) conv[i][j] = static_cast<float>(in[i]->data<T>()[j]);
        ptrs.push_back(conv[i].data());
      }
      std::vector<float> r = run_einsum<float>(e, ptrs, in, size);
      for (size_t j = 0; j < r.size(); ++j) y.data<T>()[j] = T(r[j]);
    } else if constexpr (std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t> || std::is_same_v<T, int16_t> ||
                         std::is_same_v<T, uint16_t>) {
      ctx.unsupported("Einsum on {}", dtype_name(in[0]->dtype()));
    } else {
      std::vector<const T*> ptrs;
      for (const Tensor* t : in) {
        if (t->dtype() != in[0]->dtype()) ctx.bad_input("all Einsum inputs must share one type");
        ptrs.push_back(t->data<T>());
      }
      std::vector<T> r = run_einsum<T>(e, ptrs, in, size);
      std::copy(r.begin(), r.end(), y.data<T>());
    }
  }, "Einsum");
}

}  // namespace

KILN_REGISTER_OP(einsum, {"", "Einsum", {12}, 0, infer_einsum, compute_einsum});

}  // namespace kiln::ops
