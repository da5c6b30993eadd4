// Dim keys of ops that move or select elements (see dim_keys_impl.h): each rule states how output dims follow
// from input dims and from the contents of size inputs; anything it cannot prove is DimKey::unknown().

#include <algorithm>

#include "passes/dim_keys_impl.h"

namespace kiln::passes::dim_keys_detail {

namespace {

// Axes from an attribute (older opsets) or a constant input (newer ones).
std::optional<std::vector<int64_t>> axes_of(const Deriver& d, const ir::Node& n, size_t input) {
  if (const ir::Attribute* a = n.attr("axes")) return a->ints;
  if (input < n.inputs.size() && n.inputs[input] >= 0) return d.ints(n, input);
  return std::vector<int64_t>{};
}

}  // namespace

DimKeys Deriver::movement_rule(const ir::Node& n) const {
  const std::string& op = n.op_type;
  if (op == "ConstantOfShape") {
    if (const Keys* shape = c(n, 0)) return *shape;
    return std::nullopt;
  }
  if (op == "Range") {  // Range(0, n, 1) has n elements
    const Tensor *start = value(n, 0), *delta = value(n, 2);
    const Keys* limit = c(n, 1);
    if (!start || !delta || !limit || limit->size() != 1 || start->numel() != 1 || delta->numel() != 1 ||
        start->double_at(0) != 0 || delta->double_at(0) != 1)
      return std::nullopt;
    return *limit;
  }
  if (op == "Transpose") {
    const Keys* x = k(n, 0);
    if (!x) return std::nullopt;
    std::vector<int64_t> perm = get_ints(n, "perm");
    if (perm.empty())
      for (size_t i = x->size(); i-- > 0;) perm.push_back(static_cast<int64_t>(i));
    if (perm.size() != x->size()) return std::nullopt;
    Keys r;
    for (int64_t p : perm) {
      if (p < 0 || p >= static_cast<int64_t>(x->size())) return std::nullopt;
      r.push_back((*x)[static_cast<size_t>(p)]);
    }
    return r;
  }
  if (op == "Reshape" || op == "Expand") {
    const Keys* x = k(n, 0);
    const Keys* target = c(n, 1);
    if (!x || !target) return std::nullopt;
    if (op == "Expand") return broadcast({x, target});
    Keys r = *target;
    const bool allowzero = get_int(n, "allowzero", 0) != 0;
    for (size_t i = 0; i < r.size(); ++i) {
      if (!r[i].known()) continue;
      if (r[i].offset == 0 && !allowzero) r[i] = i < x->size() ? (*x)[i] : DimKey::unknown();
      else if (r[i].offset < 0) r[i] = DimKey::unknown();
    }
    return r;
  }
  if (op == "Unsqueeze" || op == "Squeeze") {
    const Keys* x = k(n, 0);
    auto axes = axes_of(*this, n, 1);
    if (!x || !axes) return std::nullopt;
    const int64_t rank = static_cast<int64_t>(x->size()) + (op == "Unsqueeze" ? static_cast<int64_t>(axes->size()) : 0);
    std::vector<char> marked(static_cast<size_t>(std::max<int64_t>(rank, 0)), 0);
    for (int64_t a : *axes) {
      if (a < 0) a += rank;
      if (a < 0 || a >= rank) return std::nullopt;
      marked[static_cast<size_t>(a)] = 1;
    }
    Keys r;
    if (op == "Unsqueeze") {
      size_t next = 0;
      for (int64_t i = 0; i < rank; ++i) r.push_back(marked[static_cast<size_t>(i)] ? DimKey::number(1) : (*x)[next++]);
    } else {
      if (axes->empty()) return std::nullopt;  // squeeze every 1: inference knows better
      for (size_t i = 0; i < x->size(); ++i)
        if (!marked[i]) r.push_back((*x)[i]);
    }
    return r;
  }
  if (op == "Slice" || op == "Split" || op == "Concat" || op == "Gather" || op.rfind("Reduce", 0) == 0) {
    const Keys* x = k(n, 0);
    if (!x) return std::nullopt;
    const int64_t rank = static_cast<int64_t>(x->size());
    Keys r = *x;
    auto norm = [rank](int64_t a) { return a < 0 ? a + rank : a; };
    if (op == "Slice") {
      auto starts = ints(n, 1);
      const Keys* ends = c(n, 2);
      std::optional<std::vector<int64_t>> axes = n.inputs.size() > 3 && n.inputs[3] >= 0 ? ints(n, 3) : std::nullopt;
      if (!starts || !ends) return std::nullopt;
      if (!axes) {
        if (n.inputs.size() > 3 && n.inputs[3] >= 0) return std::nullopt;
        axes = std::vector<int64_t>();
        for (size_t i = 0; i < starts->size(); ++i) axes->push_back(static_cast<int64_t>(i));
      }
      auto steps = n.inputs.size() > 4 && n.inputs[4] >= 0 ? ints(n, 4) : std::vector<int64_t>(axes->size(), 1);
      if (!steps || axes->size() != starts->size() || ends->size() != axes->size() || steps->size() != axes->size())
        return std::nullopt;
      for (size_t i = 0; i < axes->size(); ++i) {
        const int64_t a = norm((*axes)[i]);
        if (a < 0 || a >= rank) return std::nullopt;
        DimKey& d = r[static_cast<size_t>(a)];
        const DimKey& end = (*ends)[i];
        if ((*starts)[i] != 0 || (*steps)[i] != 1 || end.is_unknown() || (end.known() && end.offset < 0)) {
          d = DimKey::unknown();
        } else if (end.known() && end.offset >= (int64_t{1} << 31)) {
          // the whole axis: d stays
        } else if (d.known()) {
          // x[:e] of a known size N has min(e, N) elements: a number, or a clamped key (see ShapeFacts::broadcasts_into).
          d = end.known() ? DimKey::number(std::min(end.offset, d.offset)) : DimKey{fmt::format("min({},{})", end.str(), d.offset), 0};
        } else if (!(end == d)) {
          d = DimKey::unknown();
        }
      }
      return r;
    }
    if (op == "Split" || op == "Concat") {
      const int64_t a = norm(get_int(n, "axis", 0));
      if (a < 0 || a >= rank) return std::nullopt;
      if (op == "Concat")
        for (size_t i = 1; i < n.inputs.size(); ++i) {
          const Keys* y = k(n, i);
          if (!y || y->size() != x->size()) return std::nullopt;
          for (size_t d = 0; d < r.size(); ++d)
            if (!(r[d] == (*y)[d])) r[d] = DimKey::unknown();
        }
      r[static_cast<size_t>(a)] = DimKey::unknown();
      return r;
    }
    if (op == "Gather") {
      const Keys* idx = k(n, 1);
      const int64_t a = norm(get_int(n, "axis", 0));
      if (!idx || a < 0 || a >= rank) return std::nullopt;
      Keys g(x->begin(), x->begin() + a);
      g.insert(g.end(), idx->begin(), idx->end());
      g.insert(g.end(), x->begin() + a + 1, x->end());
      return g;
    }
    // Reduce*: the axes become 1 (keepdims) or go.
    auto axes = axes_of(*this, n, 1);
    if (!axes || axes->empty()) return std::nullopt;
    std::vector<char> reduced(x->size(), 0);
    for (int64_t a : *axes) {
      a = norm(a);
      if (a < 0 || a >= rank) return std::nullopt;
      reduced[static_cast<size_t>(a)] = 1;
    }
    const bool keep = get_int(n, "keepdims", 1) != 0;
    Keys o;
    for (size_t i = 0; i < x->size(); ++i) {
      if (!reduced[i]) o.push_back((*x)[i]);
      else if (keep) o.push_back(DimKey::number(1));
    }
    return o;
  }
  return std::nullopt;
}

}  // namespace kiln::passes::dim_keys_detail
