// Dim keys (see shape_facts.h): each rule below states, for one op family, how output dims follow from input
// dims. A rule may only produce a key it can prove; anything else is DimKey::unknown(). Where inference already
// knows a dim (a number or an input symbol), that wins over the rule.

#include <algorithm>
#include <limits>
#include <unordered_set>

#include "passes/dim_keys_impl.h"

namespace kiln::passes {

namespace dim_keys_detail {

namespace {

const std::unordered_set<std::string_view> kSameShapeOps = {
    "Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Elu", "Selu", "Celu", "Softplus",
    "Softsign", "Mish", "Gelu", "Erf", "Exp", "Log", "Sqrt", "Reciprocal", "Neg", "Abs", "Floor", "Ceil", "Round",
    "Sin", "Cos", "Not", "Sign", "Cast", "CastLike", "Identity", "Dropout", "Clip", "Softmax", "LogSoftmax",
    "Hardmax", "BatchNormalization", "InstanceNormalization", "LayerNormalization", "LpNormalization",
    "GroupNormalization", "ThresholdedRelu", "Shrink", "IsNaN", "IsInf"};
const std::unordered_set<std::string_view> kBroadcastOps = {
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Where", "Equal", "Less", "LessOrEqual",
    "Greater", "GreaterOrEqual", "And", "Or", "Xor", "PRelu", "Mod", "BitShift"};

DimKey from_dim(const Dim& d) {
  if (d.is_known()) return DimKey::number(d.value());
  if (d.is_symbol()) return {"$" + d.symbol_name(), 0};
  return DimKey::unknown();
}



// out = floor((in + pads - dilation*(kernel-1) - 1) / stride) + 1, or ceil(in / stride) for SAME padding.
DimKey conv_dim(const DimKey& in, int64_t kernel, int64_t stride, int64_t dilation, int64_t pads, int64_t pad_begin,
                bool same, bool ceil) {
  if (in.is_unknown() || stride < 1) return DimKey::unknown();
  if (same) {
    if (stride == 1) return in;
    if (in.known()) {
      const std::optional<int64_t> up = fits(Wide{in.offset} + stride - 1);
      return up && *up >= 0 ? DimKey::number(*up / stride) : DimKey::unknown();
    }
    return {fmt::format("ce(({})/{})", in.str(), stride), 0};
  }
  const std::optional<int64_t> shift = fits(Wide{pads} - Wide{dilation} * (kernel - 1) - 1);
  const std::optional<int64_t> num = shift ? fits(Wide{in.offset} + *shift) : std::nullopt;
  if (!num || !fits(Wide{*num} + 1)) return DimKey::unknown();
  // ceil_mode also drops a last window that would start in the end padding, which depends on the leading pad:
  // the key names every parameter, and known sizes are left to inference.
  if (ceil) {
    if (in.known()) return DimKey::unknown();
    return {fmt::format("ce(({})/{};{};{})", in.str(), stride, *shift, pad_begin), 1};
  }
  if (in.known()) {
    if (*num < 0) return DimKey::unknown();
    return DimKey::number(*num / stride + 1);
  }
  if (stride == 1) return {in.atom, *num + 1};
  return {fmt::format("fl(({}{:+})/{})", in.atom, *num, stride), 1};
}

std::optional<DimKey> arith(const std::string& op, const DimKey& a, const DimKey& b) {
  if (a.is_unknown() || b.is_unknown()) return std::nullopt;
  if (op == "Add" && (a.known() || b.known())) {
    const std::optional<int64_t> sum = fits(Wide{a.offset} + b.offset);
    if (!sum) return std::nullopt;
    return DimKey{a.known() ? b.atom : a.atom, *sum};
  }
  if (op == "Sub" && b.known()) {
    const std::optional<int64_t> diff = fits(Wide{a.offset} - b.offset);
    if (!diff) return std::nullopt;
    return DimKey{a.atom, *diff};
  }
  if (op == "Mul") {
    if (a.known() && b.known()) {
      const std::optional<int64_t> product = fits(Wide{a.offset} * b.offset);
      if (!product) return std::nullopt;
      return DimKey::number(*product);
    }
    if (a.is_one()) return b;
    if (b.is_one()) return a;
    std::string sa = a.str(), sb = b.str();
    if (sb < sa) std::swap(sa, sb);
    return DimKey{fmt::format("({}*{})", sa, sb), 0};
  }
  if (op == "Div" && b.known() && b.offset > 0) {
    if (a.known()) return a.offset >= 0 ? std::optional(DimKey::number(a.offset / b.offset)) : std::nullopt;
    if (b.offset == 1) return a;
    return DimKey{fmt::format("({}/{})", a.str(), b.offset), 0};
  }
  return std::nullopt;
}

}  // namespace

Keys broadcast(const std::vector<const Keys*>& ins) {
  size_t rank = 0;
  for (const Keys* in : ins) rank = std::max(rank, in->size());
  Keys out(rank, DimKey::number(1));
  for (size_t d = 0; d < rank; ++d) {
    std::optional<DimKey> agreed;
    bool conflict = false;
    for (const Keys* in : ins) {
      if (in->size() + d < rank) continue;  // this input has no dim here (right-aligned)
      const DimKey& key = (*in)[d - (rank - in->size())];
      if (key.is_one()) continue;
      if (!agreed) agreed = key;
      else if (!(*agreed == key)) conflict = true;
    }
    if (conflict) out[d] = DimKey::unknown();
    else if (agreed) out[d] = *agreed;
  }
  return out;
}


DimKeys Deriver::spatial(const ir::Node& n) const {
  const Keys* x = k(n, 0);
  if (!x) return std::nullopt;
  const bool conv = n.op_type == "Conv" || n.op_type == "FusedConv";
  return spatial_of(n, *x, conv ? k(n, 1) : nullptr, conv);
}

// A convolution or pool over `x` (keys in NCHW order); `w` the weights' keys when they give the kernel and the
// output channels (`conv`).
DimKeys Deriver::spatial_of(const ir::Node& n, const Keys& xk, const Keys* w, bool conv) const {
  const Keys* x = &xk;
  if (x->size() < 3) return std::nullopt;
  const size_t sp = x->size() - 2;
  std::vector<int64_t> kernel = get_ints(n, "kernel_shape");
  if (kernel.empty() && conv)
    if (w && w->size() == x->size())
      for (size_t i = 0; i < sp; ++i) kernel.push_back((*w)[2 + i].known() ? (*w)[2 + i].offset : -1);
  if (kernel.size() != sp || std::any_of(kernel.begin(), kernel.end(), [](int64_t v) { return v < 1; }))
    return std::nullopt;
  const std::vector<int64_t> strides = get_ints(n, "strides", std::vector<int64_t>(sp, 1));
  const std::vector<int64_t> dilations = get_ints(n, "dilations", std::vector<int64_t>(sp, 1));
  const std::vector<int64_t> pads = get_ints(n, "pads", std::vector<int64_t>(2 * sp, 0));
  const std::string auto_pad = get_string(n, "auto_pad", "NOTSET");
  if (strides.size() != sp || dilations.size() != sp || pads.size() != 2 * sp) return std::nullopt;
  const bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
  if (!same && auto_pad != "NOTSET" && auto_pad != "VALID") return std::nullopt;
  const bool ceil = get_int(n, "ceil_mode", 0) != 0;
  Keys out{(*x)[0], (*x)[1]};
  if (conv) out[1] = w && !w->empty() ? (*w)[0] : DimKey::unknown();
  for (size_t i = 0; i < sp; ++i) {
    const std::optional<int64_t> total_pad = auto_pad == "VALID" ? 0 : fits(Wide{pads[i]} + pads[i + sp]);
    if (!total_pad) return std::nullopt;
    out.push_back(conv_dim((*x)[2 + i], kernel[i], strides[i], dilations[i], *total_pad, pads[i], same, ceil));
  }
  return out;
}

// ai.kiln.ConvNhwc (weights input 1) and InvertedResidualNhwc (the depthwise step's weights, input 3; the output
// channels of the projection, input 5, when there is one) on NHWC keys.
DimKeys Deriver::nhwc_conv(const ir::Node& n) const {
  const bool block = n.op_type == "InvertedResidualNhwc";
  const Keys* x = k(n, 0);
  const Keys* w = k(n, block ? 3 : 1);
  if (!x || x->size() != 4 || !w || w->size() != 4) return std::nullopt;
  const Keys x_nchw{(*x)[0], (*x)[3], (*x)[1], (*x)[2]};
  const DimKeys y = spatial_of(n, x_nchw, w, true);
  if (!y || y->size() != 4) return std::nullopt;
  DimKey channels = (*y)[1];
  if (block && n.inputs.size() > 5 && n.inputs[5] >= 0) {
    const Keys* wp = k(n, 5);
    channels = wp && !wp->empty() ? (*wp)[0] : DimKey::unknown();
  }
  return Keys{(*y)[0], (*y)[2], (*y)[3], channels};
}

DimKeys Deriver::tensor_rule(const ir::Node& n, size_t out) const {
  const bool kiln = n.domain == kKilnDomain;
  if (!n.domain.empty() && !kiln) return std::nullopt;
  const std::string& op = n.op_type;
  if (kSameShapeOps.count(op) || (kiln && (op == "Gelu" || op == "LayerNormalization"))) {
    if (out != 0) return std::nullopt;
    if (const Keys* x = k(n, 0)) return *x;
    return std::nullopt;
  }
  if (kBroadcastOps.count(op) && !kiln) {
    std::vector<const Keys*> ins;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const Keys* x = k(n, i);
      if (!x) return std::nullopt;
      ins.push_back(x);
    }
    if (ins.empty()) return std::nullopt;
    return broadcast(ins);
  }
  if (kiln && (op == "ConvNhwc" || op == "InvertedResidualNhwc")) {
    if (out != 0) return std::nullopt;
    return nhwc_conv(n);
  }
  if (op == "Conv" || op == "FusedConv" || op == "MaxPool" || op == "AveragePool" || op == "LpPool") {
    if (out != 0) return std::nullopt;
    return spatial(n);
  }
  if (op == "GlobalAveragePool" || op == "GlobalMaxPool" || op == "GlobalLpPool") {
    const Keys* x = k(n, 0);
    if (!x || x->size() < 2) return std::nullopt;
    Keys r(x->size(), DimKey::number(1));
    r[0] = (*x)[0];
    r[1] = (*x)[1];
    return r;
  }
  if (op == "MatMul" || op == "FusedMatMul" || op == "Gemm") {
    const Keys *a = k(n, 0), *b = k(n, 1);
    if (!a || !b || a->size() < 2 || b->size() < 2) return std::nullopt;
    const bool gemm = op == "Gemm";
    const bool ta = gemm && get_int(n, "transA", 0) != 0;
    const bool tb = get_int(n, "transB", 0) != 0;
    if (gemm && (a->size() != 2 || b->size() != 2)) return std::nullopt;
    Keys ab(a->begin(), a->end() - 2), bb(b->begin(), b->end() - 2);
    Keys r = broadcast({&ab, &bb});
    r.push_back(ta ? a->back() : (*a)[a->size() - 2]);
    r.push_back(tb ? (*b)[b->size() - 2] : b->back());
    return r;
  }
  if (op == "ScaledDotProductAttention" && kiln) {
    const Keys *q = k(n, 0), *v = k(n, 2);
    if (!q || !v || q->empty() || v->empty()) return std::nullopt;
    Keys r(q->begin(), q->end() - 1);
    r.push_back(v->back());
    return r;
  }
  return movement_rule(n);
}

// Arithmetic on one-element size values: what the exporter's shape computations do.
std::optional<Keys> Deriver::content_rule(const ir::Node& n) const {
  if (!n.domain.empty()) return std::nullopt;
  const std::string& op = n.op_type;
  if (op == "Shape") {
    const Keys* x = k(n, 0);
    if (!x) return std::nullopt;
    int64_t r = static_cast<int64_t>(x->size());
    int64_t s = get_int(n, "start", 0), e = get_int(n, "end", r);
    if (s < 0) s += r;
    if (e < 0) e += r;
    s = std::clamp<int64_t>(s, 0, r);
    e = std::clamp<int64_t>(e, s, r);
    return Keys(x->begin() + s, x->begin() + e);
  }
  const Keys* in = c(n, 0);
  if (!in) return std::nullopt;
  if (op == "Cast" || op == "Identity" || op == "Unsqueeze" || op == "Squeeze" || op == "Reshape") return *in;
  if (op == "Gather" && get_int(n, "axis", 0) == 0) {
    auto idx = ints(n, 1);
    if (!idx) return std::nullopt;
    Keys r;
    for (int64_t i : *idx) {
      if (i < 0) i += static_cast<int64_t>(in->size());
      if (i < 0 || i >= static_cast<int64_t>(in->size())) return std::nullopt;
      r.push_back((*in)[static_cast<size_t>(i)]);
    }
    return r;
  }
  if (op == "Concat") {
    Keys r;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const Keys* p = c(n, i);
      if (!p) return std::nullopt;
      r.insert(r.end(), p->begin(), p->end());
    }
    return r;
  }
  if (op == "Equal" || op == "Where") return select_rule(n);
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
    const Keys* rhs = c(n, 1);
    if (!rhs || in->size() != 1 || rhs->size() != 1) return std::nullopt;
    auto r = arith(op, (*in)[0], (*rhs)[0]);
    if (!r) return std::nullopt;
    return Keys{*r};
  }
  return std::nullopt;
}

namespace {

// A plain input symbol ("$batch"): a size, so never negative.
bool is_size_symbol(const DimKey& k) {
  return k.offset == 0 && k.atom.size() > 1 && k.atom[0] == '$' &&
         k.atom.find_first_of("()*/+-,;") == std::string::npos;
}

// Whether two elements are equal: 1, 0, or unknown. A size symbol is never a negative number.
DimKey equal_key(const DimKey& a, const DimKey& b) {
  if (a.known() && b.known()) return DimKey::number(a.offset == b.offset);
  if (a == b) return DimKey::number(1);
  if ((a.known() && a.offset < 0 && is_size_symbol(b)) || (b.known() && b.offset < 0 && is_size_symbol(a)))
    return DimKey::number(0);
  return DimKey::unknown();
}

}  // namespace

// Equal and Where on 1-D size values, elementwise (an operand of one element broadcasts): what PyTorch exports
// for x.expand(n, -1, -1), Where(Equal(shape, -1), 1, shape).
std::optional<Keys> Deriver::select_rule(const ir::Node& n) const {
  const size_t arity = n.op_type == "Where" ? 3 : 2;
  if (n.inputs.size() != arity) return std::nullopt;
  std::vector<const Keys*> ins;
  size_t len = 1;
  for (size_t i = 0; i < arity; ++i) {
    const Keys* in = c(n, i);
    if (!in || in->empty()) return std::nullopt;
    if (in->size() != 1 && len != 1 && in->size() != len) return std::nullopt;
    len = std::max(len, in->size());
    ins.push_back(in);
  }
  auto at = [&](size_t i, size_t e) -> const DimKey& { return (*ins[i])[ins[i]->size() == 1 ? 0 : e]; };
  Keys r;
  for (size_t e = 0; e < len; ++e) {
    if (arity == 2) {
      r.push_back(equal_key(at(0, e), at(1, e)));
      continue;
    }
    const DimKey& cond = at(0, e);
    if (cond.known()) r.push_back(cond.offset != 0 ? at(1, e) : at(2, e));
    else r.push_back(at(1, e) == at(2, e) ? at(1, e) : DimKey::unknown());
  }
  return r;
}

void Deriver::run() {
  const size_t nv = g.values.size();
  keys.assign(nv, std::nullopt);
  contents.assign(nv, std::nullopt);
  for (size_t v = 0; v < nv; ++v) {
    const ops::ValueInfo& info = infos[v];
    if (info.is_container() || !info.shape.rank_known) continue;
    Keys ks;
    for (const Dim& d : info.shape.dims) ks.push_back(from_dim(d));
    keys[v] = std::move(ks);
    const bool small_int = dtype_is_integer(info.dtype) && info.shape.rank() <= 1;
    if (small_int && info.value && info.value->numel() <= 64) {
      Keys c;
      for (int64_t x : info.value->to_int64_vector()) c.push_back(DimKey::number(x));
      contents[v] = std::move(c);
    } else if (small_int && !info.partial.empty()) {
      Keys c;
      for (const ops::SymbolicInt& e : info.partial)
        c.push_back(e.number ? DimKey::number(*e.number) : !e.symbol.empty() ? DimKey{"$" + e.symbol, 0} : DimKey::unknown());
      contents[v] = std::move(c);
    }
  }
  for (int ni : ir::topological_order(g)) {
    const ir::Node& n = g.nodes[static_cast<size_t>(ni)];
    for (size_t o = 0; o < n.outputs.size(); ++o) {
      const int v = n.outputs[o];
      if (v < 0 || infos[static_cast<size_t>(v)].is_container()) continue;
      DimKeys& mine = keys[static_cast<size_t>(v)];
      if (DimKeys rule = tensor_rule(n, o)) {
        if (!mine) mine = std::move(rule);
        else if (mine->size() == rule->size())
          for (size_t d = 0; d < mine->size(); ++d)
            if ((*mine)[d].is_unknown()) (*mine)[d] = (*rule)[d];
      }
      const DType dt = infos[static_cast<size_t>(v)].dtype;
      if (o == 0 && (dtype_is_integer(dt) || (dt == DType::kBool && is_op(n, "Equal")))) {
        auto& have = contents[static_cast<size_t>(v)];
        if (auto rule = content_rule(n)) {
          if (!have) have = std::move(rule);
          else if (have->size() == rule->size())
            for (size_t i = 0; i < have->size(); ++i)
              if ((*have)[i].is_unknown()) (*have)[i] = (*rule)[i];
        }
      }
    }
  }
}

}  // namespace dim_keys_detail

std::vector<DimKeys> derive_dim_keys(const ir::Graph& g, const std::vector<ops::ValueInfo>& infos) {
  dim_keys_detail::Deriver d{g, infos, {}, {}};
  d.run();
  return std::move(d.keys);
}

std::pair<std::vector<DimKeys>, std::vector<DimKeys>> derive_dim_keys_and_contents(
    const ir::Graph& g, const std::vector<ops::ValueInfo>& infos) {
  dim_keys_detail::Deriver d{g, infos, {}, {}};
  d.run();
  return {std::move(d.keys), std::move(d.contents)};
}

}  // namespace kiln::passes
