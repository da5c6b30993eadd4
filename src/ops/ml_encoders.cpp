// The small ai.onnx.ml ops: Binarizer (x > threshold), ArrayFeatureExtractor (select along the last axis)
// and LabelEncoder (a key -> value table over strings and numbers; versions 1, 2 and 4).

#include <cmath>
#include <map>
#include <optional>
#include <string>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ops/elementwise.h"
#include "ops/numeric.h"
#include "ops/op.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

constexpr const char* kMl = "ai.onnx.ml";

// ---- Binarizer: y = x > threshold ? 1 : 0, same type ----

void infer_binarizer(InferContext& ctx) {
  const DType t = ctx.input_type(0);
  if (t != DType::kUndefined && t != DType::kFloat32 && t != DType::kFloat64 && t != DType::kInt64 &&
      t != DType::kInt32)
    ctx.fail("X must be float, double, int64 or int32, not {}", dtype_name(t));
  ctx.set_output(0, t, ctx.input_shape(0));
}

void compute_binarizer(KernelContext& ctx) {
  const double threshold = static_cast<double>(ctx.attr_float("threshold", 0.0f));
  const Tensor& x = ctx.input(0);
  visit_numeric(x.dtype(), [&]<typename T>() {
    map_unary<T, T>(x, ctx.output(0), [&](T v) { return to_double(v) > threshold ? T(1) : T(0); });
  }, "Binarizer");
}

// ---- ArrayFeatureExtractor: Z[..., k] = X[..., Y[k]] ----

/// Z's dims: X's leading dims and one entry per index; a 1-D X gives one row ([1, count]), as onnxruntime does.
Shape feature_output_shape(const Shape& x, Dim count) {
  if (!x.rank_known) return Shape::unknown_rank();
  if (x.rank() <= 1) return Shape({Dim(1), count});
  std::vector<Dim> dims(x.dims.begin(), x.dims.end() - 1);
  dims.push_back(count);
  return Shape(std::move(dims));
}

void infer_array_feature_extractor(InferContext& ctx) {
  const DType t = ctx.input_type(0);
  if (t != DType::kUndefined && t != DType::kFloat32 && t != DType::kFloat64 && t != DType::kInt64 &&
      t != DType::kInt32 && t != DType::kString)
    ctx.fail("X must be float, double, int64, int32 or string, not {}", dtype_name(t));
  if (ctx.input_type(1) != DType::kUndefined && ctx.input_type(1) != DType::kInt64)
    ctx.fail("Y (the indices) must be int64, not {}", dtype_name(ctx.input_type(1)));
  const Shape& y = ctx.input_shape(1);
  const Dim count = y.is_concrete() ? Dim(product(y.values(), 0, y.rank())) : Dim();
  ctx.set_output(0, t, feature_output_shape(ctx.input_shape(0), count));
}

void compute_array_feature_extractor(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& y = ctx.input(1);
  const int64_t n = x.rank() == 0 ? 1 : x.dims().back();
  const std::vector<int64_t> index = y.to_int64_vector();
  for (size_t k = 0; k < index.size(); ++k)
    if (index[k] < 0 || index[k] >= n)
      ctx.bad_input("index {} (Y[{}]) is outside the last axis of X {}, which holds {} values", index[k], k,
                    dims_str(x.dims()), n);
  const int64_t rows = n == 0 ? 0 : x.numel() / n;
  Tensor& z = ctx.output(0);
  const auto count = static_cast<int64_t>(index.size());
  visit_all(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* out = z.data<T>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < count; ++k) out[r * count + k] = in[r * n + index[static_cast<size_t>(k)]];
  }, "ArrayFeatureExtractor");
}

// ---- LabelEncoder ----

/// The table a LabelEncoder node describes: parallel 1-D key and value tensors and the value for keys not
/// in the table (a 0-d tensor of the values' type).
struct LabelTable {
  Tensor keys, values, fallback;
};

/// Calls f.template operator()<T>() for the element types LabelEncoder maps between.
template <typename F> void visit_label_type(const NodeContext& ctx, DType t, F&& f) {
  switch (t) {
    case DType::kString: return f.template operator()<std::string>();
    case DType::kInt64: return f.template operator()<int64_t>();
    case DType::kInt32: return f.template operator()<int32_t>();
    case DType::kInt16: return f.template operator()<int16_t>();
    case DType::kFloat32: return f.template operator()<float>();
    case DType::kFloat64: return f.template operator()<double>();
    default: ctx.fail("keys and values must be string, int64, int32, int16, float or double, not {}", dtype_name(t));
  }
}

/// The one attribute of `names` the node sets, as a 1-D tensor; fails when it sets none or several.
Tensor one_column(const NodeContext& ctx, const char* what, const char* floats, const char* ints, const char* strings,
                  const char* tensor) {
  std::optional<Tensor> found;
  int set = 0;
  auto take = [&](Tensor t) {
    found = std::move(t);
    ++set;
  };
  if (ctx.has_attr(floats)) {
    const std::vector<float> v = ctx.attr_floats(floats);
    take(Tensor::from_vector<float>({static_cast<int64_t>(v.size())}, v));
  }
  if (ctx.has_attr(ints)) {
    const std::vector<int64_t> v = ctx.attr_ints(ints);
    take(Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v));
  }
  if (ctx.has_attr(strings)) {
    const std::vector<std::string> v = ctx.attr_strings(strings);
    take(Tensor::from_vector<std::string>({static_cast<int64_t>(v.size())}, v));
  }
  if (tensor != nullptr && ctx.has_attr(tensor)) {
    const Tensor& t = ctx.attr_tensor(tensor);
    if (t.rank() != 1) ctx.fail("attribute '{}' must be a 1-D tensor, but it is {}", tensor, dims_str(t.dims()));
    take(t);
  }
  if (set != 1)
    ctx.fail("exactly one of the {} attributes ({}, {}, {}{}{}) must be set, but {} are", what, floats, ints, strings,
             tensor ? ", " : "", tensor ? tensor : "", set);
  return *found;
}

/// The value for keys not in the table when the node gives none, for values of type t (as the spec lists).
Tensor default_of(const NodeContext& ctx, DType t) {
  Tensor d(t, {});
  visit_label_type(ctx, t, [&]<typename V>() {
    if constexpr (std::is_same_v<V, std::string>) d.data<V>()[0] = "_Unused";
    else if constexpr (std::is_floating_point_v<V>) d.data<V>()[0] = V(-0.0);
    else d.data<V>()[0] = V(-1);
  });
  return d;
}

LabelTable label_table(const NodeContext& ctx, DType input) {
  LabelTable table;
  if (ctx.opset() < 2) {
    // LabelEncoder-1: classes_strings maps strings to their positions, or positions back to strings,
    // whichever way the input's type asks.
    const std::vector<std::string> classes = ctx.attr_strings("classes_strings");
    std::vector<int64_t> positions(classes.size());
    for (size_t i = 0; i < classes.size(); ++i) positions[i] = static_cast<int64_t>(i);
    Tensor names = Tensor::from_vector<std::string>({static_cast<int64_t>(classes.size())}, classes);
    Tensor numbers = Tensor::from_vector<int64_t>({static_cast<int64_t>(classes.size())}, positions);
    if (input == DType::kInt64) {
      table = {numbers, names, Tensor::scalar<std::string>(ctx.attr_string("default_string", "_Unused"))};
    } else {
      table = {names, numbers, Tensor::scalar<int64_t>(ctx.attr_int("default_int64", -1))};
    }
    return table;
  }
  const char* keys_tensor = ctx.opset() >= 4 ? "keys_tensor" : nullptr;
  const char* values_tensor = ctx.opset() >= 4 ? "values_tensor" : nullptr;
  table.keys = one_column(ctx, "keys", "keys_floats", "keys_int64s", "keys_strings", keys_tensor);
  table.values = one_column(ctx, "values", "values_floats", "values_int64s", "values_strings", values_tensor);
  if (table.keys.numel() != table.values.numel())
    ctx.fail("the keys ({}) and values ({}) must be as many", table.keys.numel(), table.values.numel());
  const DType vt = table.values.dtype();
  if (values_tensor != nullptr && ctx.has_attr(values_tensor)) {
    table.fallback = default_of(ctx, vt);
    if (ctx.has_attr("default_tensor")) {
      const Tensor& d = ctx.attr_tensor("default_tensor");
      if (d.dtype() != vt || d.numel() != 1)
        ctx.fail("default_tensor must hold one {} value (the values' type), but it is {} {}", dtype_name(vt),
                 dtype_name(d.dtype()), dims_str(d.dims()));
      table.fallback = d.reshaped({});
    }
  } else if (vt == DType::kFloat32) {
    table.fallback = Tensor::scalar<float>(ctx.attr_float("default_float", -0.0f));
  } else if (vt == DType::kInt64) {
    table.fallback = Tensor::scalar<int64_t>(ctx.attr_int("default_int64", -1));
  } else {
    table.fallback = Tensor::scalar<std::string>(ctx.attr_string("default_string", "_Unused"));
  }
  for (DType t : {table.keys.dtype(), vt}) visit_label_type(ctx, t, []<typename T>() {});  // checks the types
  return table;
}

void infer_label_encoder(InferContext& ctx) {
  const DType in = ctx.input_type(0);
  if (ctx.opset() < 2 && in == DType::kUndefined) {  // the direction depends on the input's type
    ctx.set_output(0, DType::kUndefined, ctx.input_shape(0));
    return;
  }
  if (ctx.opset() < 2 && in != DType::kString && in != DType::kInt64)
    ctx.fail("LabelEncoder-1 maps strings to int64 or int64 to strings, but X is {}", dtype_name(in));
  const LabelTable table = label_table(ctx, in);
  if (in != DType::kUndefined && in != table.keys.dtype())
    ctx.fail("X is {} but the keys are {}: they must have the same type", dtype_name(in),
             dtype_name(table.keys.dtype()));
  ctx.set_output(0, table.values.dtype(), ctx.input_shape(0));
}

/// Maps every element of x through the table (keys of type K, values of type V). Float keys compare by value
/// (0.0 and -0.0 are one key) and a NaN key matches every NaN; a repeated key keeps its last value.
template <typename K, typename V> void encode(const LabelTable& table, const Tensor& x, Tensor& y) {
  std::map<K, V> map;
  std::optional<V> nan_value;
  const K* keys = table.keys.data<K>();
  const V* values = table.values.data<V>();
  for (int64_t i = 0; i < table.keys.numel(); ++i) {
    if constexpr (std::is_floating_point_v<K>) {
      if (std::isnan(keys[i])) {
        nan_value = values[i];
        continue;
      }
    }
    map.insert_or_assign(keys[i], values[i]);
  }
  const V fallback = table.fallback.data<V>()[0];
  const K* in = x.data<K>();
  V* out = y.data<V>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    if constexpr (std::is_floating_point_v<K>) {
      if (std::isnan(in[i])) {
        out[i] = nan_value ? *nan_value : fallback;
        continue;
      }
    }
    const auto it = map.find(in[i]);
    out[i] = it == map.end() ? fallback : it->second;
  }
}

void compute_label_encoder(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const LabelTable table = label_table(ctx, x.dtype());
  if (x.dtype() != table.keys.dtype())
    ctx.fail("X is {} but the keys are {}: they must have the same type", dtype_name(x.dtype()),
             dtype_name(table.keys.dtype()));
  Tensor& y = ctx.output(0);
  visit_label_type(ctx, x.dtype(), [&]<typename K>() {
    visit_label_type(ctx, table.values.dtype(), [&]<typename V>() { encode<K, V>(table, x, y); });
  });
}

}  // namespace

KILN_REGISTER_OP(ml_binarizer, {kMl, "Binarizer", {1}, 0, infer_binarizer, compute_binarizer});
KILN_REGISTER_OP(ml_array_feature_extractor, {kMl, "ArrayFeatureExtractor", {1}, 0, infer_array_feature_extractor,
                                              compute_array_feature_extractor});
KILN_REGISTER_OP(ml_label_encoder, {kMl, "LabelEncoder", {1, 2, 4}, 0, infer_label_encoder, compute_label_encoder});

}  // namespace kiln::ops
