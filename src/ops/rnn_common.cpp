#include "ops/rnn_common.h"

#include <cctype>

#include "base/checked.h"
#include "ir/dispatch.h"

namespace kiln::ops::rnn {

namespace {

constexpr const char* kInputNames[] = {"X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"};

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// Which of alpha / beta a function reads and their defaults. The spec gives the defaults of the ONNX
// operators of the same name; Affine and ScaledTanh were experimental operators (Affine: alpha 1, beta 0;
// ScaledTanh had no defaults, 1 and 1 make it plain Tanh). ONNX Runtime uses 0 for Affine, ScaledTanh and
// ThresholdedRelu when no value is given; kiln follows the spec there.
struct ActInfo {
  const char* name;
  ActKind kind;
  bool uses_alpha, uses_beta;
  float alpha, beta;
};
constexpr ActInfo kActs[] = {
    {"relu", ActKind::kRelu, false, false, 0, 0},
    {"tanh", ActKind::kTanh, false, false, 0, 0},
    {"sigmoid", ActKind::kSigmoid, false, false, 0, 0},
    {"affine", ActKind::kAffine, true, true, 1.0f, 0.0f},
    {"leakyrelu", ActKind::kLeakyRelu, true, false, 0.01f, 0},
    {"thresholdedrelu", ActKind::kThresholdedRelu, true, false, 1.0f, 0},
    {"scaledtanh", ActKind::kScaledTanh, true, true, 1.0f, 1.0f},
    {"hardsigmoid", ActKind::kHardSigmoid, true, true, 0.2f, 0.5f},
    {"elu", ActKind::kElu, true, false, 1.0f, 0},
    {"softsign", ActKind::kSoftsign, false, false, 0, 0},
    {"softplus", ActKind::kSoftplus, false, false, 0, 0},
};

// activation_alpha / activation_beta are consumed in order by the functions that take them (so
// ["Relu", "LeakyRelu"] with alpha [0.3] gives LeakyRelu 0.3), as ONNX Runtime reads them.
std::vector<Activation> parse_activations(const NodeContext& ctx, const std::vector<std::string>& names) {
  const std::vector<float> alphas = ctx.attr_floats("activation_alpha");
  const std::vector<float> betas = ctx.attr_floats("activation_beta");
  size_t ai = 0, bi = 0;
  std::vector<Activation> out;
  for (const std::string& name : names) {
    const std::string key = lower(name);
    const ActInfo* info = nullptr;
    for (const ActInfo& a : kActs)
      if (key == a.name) info = &a;
    if (!info)
      ctx.fail("activation '{}' is not one of Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, "
               "ScaledTanh, HardSigmoid, Elu, Softsign, Softplus", name);
    Activation act{info->kind, info->alpha, info->beta};
    if (info->uses_alpha && ai < alphas.size()) act.alpha = alphas[ai++];
    if (info->uses_beta && bi < betas.size()) act.beta = betas[bi++];
    out.push_back(act);
  }
  return out;
}

// True when d is a known number different from `want` (symbols and unknowns may still match).
bool known_and_not(const Dim& d, int64_t want) { return want >= 0 && d.is_known() && d.value() != want; }

// Checks an input's inferred shape against the dims it must have (-1: not known here).
void check_shape(const InferContext& ctx, size_t slot, const std::vector<int64_t>& want) {
  if (!ctx.has_input(slot)) return;
  const Shape& s = ctx.input_shape(slot);
  if (!s.rank_known) return;
  if (s.rank() != want.size())
    ctx.fail("input {} ({}) must have rank {}, but its shape is {}", slot, kInputNames[slot], want.size(), s.str());
  for (size_t i = 0; i < want.size(); ++i)
    if (known_and_not(s.dims[i], want[i]))
      ctx.fail("input {} ({}) has shape {}, but dim {} must be {}", slot, kInputNames[slot], s.str(), i, want[i]);
}

int64_t known_value(const Dim& d) { return d.is_known() ? d.value() : -1; }

// Run-time form of check_shape: the dims must equal `want` exactly.
void require_dims(const KernelContext& ctx, size_t slot, const std::vector<int64_t>& want, bool model_error) {
  const Tensor& t = ctx.input(slot);
  if (t.dims() == want) return;
  if (model_error)
    ctx.fail("input {} ({}) has shape {}, but this node needs {}", slot, kInputNames[slot], Shape::from(t.dims()).str(),
             Shape::from(want).str());
  ctx.bad_input("input {} ({}) has shape {}, but this node needs {}", slot, kInputNames[slot],
                Shape::from(t.dims()).str(), Shape::from(want).str());
}

// Converts a tensor of any float type to a vector in compute precision A.
template <typename A> std::vector<A> to_compute(const Tensor& t) {
  std::vector<A> out(static_cast<size_t>(t.numel()));
  visit_float(t.dtype(), [&]<typename T>() {
    const T* src = t.data<T>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<A>(static_cast<float>(src[i]));
  }, "a recurrent op");
  return out;
}
template <> std::vector<double> to_compute<double>(const Tensor& t) {
  const double* src = t.data<double>();
  return std::vector<double>(src, src + t.numel());
}

// A state input in compute precision and layout 0: [dirs, batch, hidden]; zeros when absent.
template <typename A>
std::vector<A> load_state(const KernelContext& ctx, const RnnConfig& cfg, size_t slot, int64_t dirs, int64_t batch,
                          int64_t hidden) {
  const size_t n = static_cast<size_t>(checked_numel(std::vector<int64_t>{dirs, batch, hidden}, "recurrent state"));
  if (!ctx.has_input(slot)) return std::vector<A>(n, A(0));
  if (cfg.layout == 0) {
    require_dims(ctx, slot, {dirs, batch, hidden}, false);
    return to_compute<A>(ctx.input(slot));
  }
  require_dims(ctx, slot, {batch, dirs, hidden}, false);
  std::vector<A> src = to_compute<A>(ctx.input(slot)), out(n);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t d = 0; d < dirs; ++d)
      std::copy_n(src.data() + (b * dirs + d) * hidden, hidden, out.data() + (d * batch + b) * hidden);
  return out;
}

// Converts `src` (compute precision, layout 0) into the node's output `slot`, when the node lists it.
// `to_layout1(i)` maps a layout-0 element index to its layout-1 index.
template <typename A, typename Map>
void write_output(KernelContext& ctx, size_t slot, const std::vector<A>& src, const std::vector<int64_t>& dims,
                  Map&& to_layout1, bool layout1) {
  if (slot >= ctx.num_outputs() || ctx.node().outputs[slot] < 0) return;
  Tensor& out = ctx.output(slot);
  KILN_ASSERT(out.dims() == dims && static_cast<size_t>(out.numel()) == src.size());
  visit_float(out.dtype(), [&]<typename T>() {
    T* dst = out.data<T>();
    for (size_t i = 0; i < src.size(); ++i) {
      const size_t j = layout1 ? to_layout1(i) : i;
      if constexpr (std::is_same_v<T, double>) {
        dst[j] = src[i];
      } else {
        dst[j] = T(static_cast<float>(src[i]));
      }
    }
  }, "a recurrent op");
}

}  // namespace

RnnConfig parse_config(const NodeContext& ctx, const RnnOpSpec& spec) {
  RnnConfig cfg;
  const std::string dir = ctx.attr_string("direction", "forward");
  if (dir == "forward") {
    cfg.direction = Direction::kForward;
  } else if (dir == "reverse") {
    cfg.direction = Direction::kReverse;
  } else if (dir == "bidirectional") {
    cfg.direction = Direction::kBidirectional;
  } else {
    ctx.fail("direction '{}' must be forward, reverse or bidirectional", dir);
  }
  cfg.num_directions = cfg.direction == Direction::kBidirectional ? 2 : 1;

  if (ctx.has_attr("hidden_size")) {
    cfg.hidden_size = ctx.attr_int("hidden_size");
    if (cfg.hidden_size <= 0) ctx.fail("hidden_size must be positive, not {}", cfg.hidden_size);
  }
  if (ctx.has_attr("clip")) {
    const float clip = ctx.attr_float("clip", 0);
    if (!(clip >= 0)) ctx.fail("clip must be a non-negative threshold, not {}", clip);
    cfg.clip = clip;
  }
  if (ctx.opset() >= 14) {
    cfg.layout = ctx.attr_int("layout", 0);
    if (cfg.layout != 0 && cfg.layout != 1) ctx.fail("layout must be 0 or 1, not {}", cfg.layout);
  } else if (ctx.has_attr("layout")) {
    ctx.fail("attribute 'layout' exists from opset 14, but the model imports opset {}", ctx.opset());
  }

  // The spec asks for exactly one list per direction (ONNX Runtime refuses anything else too).
  cfg.per_direction = spec.default_activations.size();
  const size_t n_dirs = static_cast<size_t>(cfg.num_directions);
  std::vector<std::string> names;
  if (ctx.has_attr("activations")) {
    names = ctx.attr_strings("activations");
    if (names.size() != cfg.per_direction * n_dirs)
      ctx.fail("activations lists {} functions, but this op takes {} per direction, {} in all for direction '{}'",
               names.size(), cfg.per_direction, cfg.per_direction * n_dirs, dir);
  } else {
    for (size_t d = 0; d < n_dirs; ++d)
      names.insert(names.end(), spec.default_activations.begin(), spec.default_activations.end());
  }
  cfg.activations = parse_activations(ctx, names);
  return cfg;
}

void infer_rnn(InferContext& ctx, const RnnOpSpec& spec) {
  const RnnConfig cfg = parse_config(ctx, spec);
  if (ctx.num_inputs() > spec.max_inputs)
    ctx.fail("lists {} inputs, but the op takes at most {}", ctx.num_inputs(), spec.max_inputs);
  if (ctx.num_outputs() > spec.max_outputs)
    ctx.fail("lists {} outputs, but the op has at most {}", ctx.num_outputs(), spec.max_outputs);
  const DType t = ctx.input_type(kX);
  ctx.input(kW);
  ctx.input(kR);
  if (t != DType::kUndefined && !dtype_is_float(t))
    ctx.fail("X must be float16, bfloat16, float or double, not {}", dtype_name(t));
  for (size_t i : {kW, kR, kB, kInitH, kInitC, kP}) {
    if (!ctx.has_input(i) || ctx.input_type(i) == DType::kUndefined || t == DType::kUndefined) continue;
    if (ctx.input_type(i) != t)
      ctx.fail("input {} ({}) is {}, but X is {}: all must have one type", i, kInputNames[i],
               dtype_name(ctx.input_type(i)), dtype_name(t));
  }
  if (ctx.has_input(kLens)) {
    const DType lt = ctx.input_type(kLens);
    if (lt != DType::kUndefined && !dtype_is_integer(lt))
      ctx.fail("sequence_lens must be int32, not {}", dtype_name(lt));
  }

  const int64_t dirs = cfg.num_directions, g = spec.gates;
  Dim seq, batch, input;
  const Shape& xs = ctx.input_shape(kX);
  if (xs.rank_known) {
    if (xs.rank() != 3) ctx.fail("X must have rank 3, but its shape is {}", xs.str());
    seq = xs.dims[cfg.layout == 0 ? 0 : 1];
    batch = xs.dims[cfg.layout == 0 ? 1 : 0];
    input = xs.dims[2];
  }
  Dim hidden = cfg.hidden_size > 0 ? Dim(cfg.hidden_size) : Dim();
  const Shape& rs = ctx.input_shape(kR);
  if (!hidden.is_known() && rs.rank_known && rs.rank() == 3) hidden = rs.dims[2];
  const int64_t h = known_value(hidden), in = known_value(input), bt = known_value(batch);
  const int64_t gh = h >= 0 ? checked_mul(g, h) : -1;
  check_shape(ctx, kW, {dirs, gh, in});
  check_shape(ctx, kR, {dirs, gh, h});
  check_shape(ctx, kB, {dirs, gh >= 0 ? checked_mul(2, gh) : -1});
  check_shape(ctx, kLens, {bt});
  const std::vector<int64_t> state = cfg.layout == 0 ? std::vector<int64_t>{dirs, bt, h}
                                                     : std::vector<int64_t>{bt, dirs, h};
  check_shape(ctx, kInitH, state);
  if (spec.has_cell) {
    check_shape(ctx, kInitC, state);
    check_shape(ctx, kP, {dirs, h >= 0 ? checked_mul(3, h) : -1});
  }

  if (cfg.layout == 0) {
    ctx.set_output(0, t, Shape({seq, Dim(dirs), batch, hidden}));
    ctx.set_output(1, t, Shape({Dim(dirs), batch, hidden}));
    if (spec.has_cell) ctx.set_output(2, t, Shape({Dim(dirs), batch, hidden}));
  } else {
    ctx.set_output(0, t, Shape({batch, seq, Dim(dirs), hidden}));
    ctx.set_output(1, t, Shape({batch, Dim(dirs), hidden}));
    if (spec.has_cell) ctx.set_output(2, t, Shape({batch, Dim(dirs), hidden}));
  }
}

template <typename A> RnnProblem<A> load_problem(const KernelContext& ctx, const RnnConfig& cfg, const RnnOpSpec& spec) {
  const Tensor& x = ctx.input(kX);
  const DType t = x.dtype();
  if (!dtype_is_float(t)) ctx.fail("X must be float16, bfloat16, float or double, not {}", dtype_name(t));
  for (size_t i : {kW, kR, kB, kInitH, kInitC, kP})
    if (ctx.has_input(i) && ctx.input(i).dtype() != t)
      ctx.fail("input {} ({}) is {}, but X is {}: all must have one type", i, kInputNames[i],
               dtype_name(ctx.input(i).dtype()), dtype_name(t));
  if (x.rank() != 3) ctx.bad_input("X must have rank 3, but its shape is {}", Shape::from(x.dims()).str());

  RnnProblem<A> p;
  p.gates = spec.gates;
  p.has_cell = spec.has_cell;
  p.dirs = cfg.num_directions;
  p.seq = x.dim(cfg.layout == 0 ? 0 : 1);
  p.batch = x.dim(cfg.layout == 0 ? 1 : 0);
  p.input = x.dim(2);
  const Tensor& r = ctx.input(kR);
  if (r.rank() != 3) ctx.fail("R must have rank 3, but its shape is {}", Shape::from(r.dims()).str());
  p.hidden = cfg.hidden_size > 0 ? cfg.hidden_size : r.dim(2);
  if (p.hidden <= 0) ctx.fail("hidden size (R's last dim) must be positive, not {}", p.hidden);
  const int64_t gh = checked_mul(p.gates, p.hidden, "gates * hidden_size");
  require_dims(ctx, kW, {p.dirs, gh, p.input}, true);
  require_dims(ctx, kR, {p.dirs, gh, p.hidden}, true);

  p.x = to_compute<A>(x);
  if (cfg.layout == 1) {  // [batch, seq, input] -> [seq, batch, input]
    std::vector<A> t0(p.x.size());
    for (int64_t b = 0; b < p.batch; ++b)
      for (int64_t s = 0; s < p.seq; ++s)
        std::copy_n(p.x.data() + (b * p.seq + s) * p.input, p.input, t0.data() + (s * p.batch + b) * p.input);
    p.x = std::move(t0);
  }
  p.w = to_compute<A>(ctx.input(kW));
  p.r = to_compute<A>(r);
  if (ctx.has_input(kB)) {
    require_dims(ctx, kB, {p.dirs, checked_mul(2, gh)}, true);
    p.b = to_compute<A>(ctx.input(kB));
  } else {
    p.b.assign(static_cast<size_t>(checked_mul(p.dirs, checked_mul(2, gh))), A(0));
  }

  p.lens.assign(static_cast<size_t>(p.batch), p.seq);
  if (ctx.has_input(kLens)) {
    const Tensor& lens = ctx.input(kLens);
    if (!dtype_is_integer(lens.dtype())) ctx.fail("sequence_lens must be int32, not {}", dtype_name(lens.dtype()));
    require_dims(ctx, kLens, {p.batch}, false);
    for (int64_t b = 0; b < p.batch; ++b) {
      const int64_t len = lens.int_at(b);
      if (len < 0 || len > p.seq)
        ctx.bad_input("sequence_lens[{}] is {}, outside [0, seq_length = {}]", b, len, p.seq);
      p.lens[static_cast<size_t>(b)] = len;
    }
  }
  p.h0 = load_state<A>(ctx, cfg, kInitH, p.dirs, p.batch, p.hidden);
  p.yh.assign(p.h0.size(), A(0));
  if (spec.has_cell) {
    p.c0 = load_state<A>(ctx, cfg, kInitC, p.dirs, p.batch, p.hidden);
    p.yc.assign(p.c0.size(), A(0));
    const int64_t np = checked_mul(3, p.hidden);
    if (ctx.has_input(kP)) {
      require_dims(ctx, kP, {p.dirs, np}, true);
      p.p = to_compute<A>(ctx.input(kP));
    } else {
      p.p.assign(static_cast<size_t>(checked_mul(p.dirs, np)), A(0));
    }
  }
  p.want_y = ctx.num_outputs() > 0 && ctx.node().outputs[0] >= 0;
  if (p.want_y)
    p.y.assign(static_cast<size_t>(checked_numel(std::vector<int64_t>{p.seq, p.dirs, p.batch, p.hidden}, "Y")), A(0));
  return p;
}

template <typename A> void store_outputs(KernelContext& ctx, const RnnConfig& cfg, const RnnProblem<A>& p) {
  const int64_t S = p.seq, D = p.dirs, B = p.batch, H = p.hidden;
  const bool l1 = cfg.layout == 1;
  if (p.want_y) {
    // [S, D, B, H] -> [B, S, D, H]
    auto map_y = [&](size_t i) {
      const int64_t k = static_cast<int64_t>(i), j = k % H, b = k / H % B, d = k / H / B % D, s = k / H / B / D;
      return static_cast<size_t>(((b * S + s) * D + d) * H + j);
    };
    write_output(ctx, 0, p.y, l1 ? std::vector<int64_t>{B, S, D, H} : std::vector<int64_t>{S, D, B, H}, map_y, l1);
  }
  // [D, B, H] -> [B, D, H]
  auto map_state = [&](size_t i) {
    const int64_t k = static_cast<int64_t>(i), j = k % H, b = k / H % B, d = k / H / B;
    return static_cast<size_t>((b * D + d) * H + j);
  };
  const std::vector<int64_t> state = l1 ? std::vector<int64_t>{B, D, H} : std::vector<int64_t>{D, B, H};
  write_output(ctx, 1, p.yh, state, map_state, l1);
  if (p.has_cell) write_output(ctx, 2, p.yc, state, map_state, l1);
}

template RnnProblem<float> load_problem<float>(const KernelContext&, const RnnConfig&, const RnnOpSpec&);
template RnnProblem<double> load_problem<double>(const KernelContext&, const RnnConfig&, const RnnOpSpec&);
template void store_outputs<float>(KernelContext&, const RnnConfig&, const RnnProblem<float>&);
template void store_outputs<double>(KernelContext&, const RnnConfig&, const RnnProblem<double>&);

}  // namespace kiln::ops::rnn
