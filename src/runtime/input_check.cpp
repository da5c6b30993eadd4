#include "runtime/input_check.h"

#include <algorithm>

#include "base/error.h"

namespace kiln::runtime {

namespace {

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Enough to list every parameter of a ResNet or a small transformer; a bigger list ends with the count left.
constexpr size_t kMaxNamesShown = 64;

std::string list_names(const ir::Graph& g, const std::vector<int>& ids, size_t max_shown) {
  std::string s;
  for (size_t i = 0; i < ids.size() && i < max_shown; ++i) s += (i ? ", '" : "'") + g.value(ids[i]).name + "'";
  if (ids.size() > max_shown) s += fmt::format(", ... ({} more)", ids.size() - max_shown);
  return s;
}

}  // namespace

bool looks_like_parameter(const std::string& name) {
  static const char* const kSuffixes[] = {".weight", ".bias", "running_mean", "running_var", "num_batches_tracked",
                                          ".weight_ih_l0", ".weight_hh_l0", ".bias_ih_l0", ".bias_hh_l0",
                                          "_weight", ".in_proj_weight", ".in_proj_bias", "pos_embedding",
                                          "cls_token", ".gamma", ".beta"};
  for (const char* s : kSuffixes)
    if (ends_with(name, s)) return true;
  if (name.rfind("onnx::", 0) == 0) return true;
  // nn.LSTM and nn.GRU parameters: weight_ih_l1_reverse, bias_hh_l0, ...
  return name.find(".weight_") != std::string::npos || name.find(".bias_") != std::string::npos;
}

void check_input(const ir::Value& declared, DType dtype, const std::vector<int64_t>& dims, SymbolBindings& symbols) {
  const ir::ValueType& type = declared.type;
  const std::string& name = declared.name;
  if (!type.has_type) return;
  if (type.dtype != DType::kUndefined && dtype != type.dtype)
    fail(ErrorCode::kInvalidArgument,
         "input '{}' expects element type {} but was fed {} (dims {}); convert the data to {} before feeding it",
         name, dtype_name(type.dtype), dtype_name(dtype), dims_str(dims), dtype_name(type.dtype));
  if (!type.shape.rank_known) return;
  if (dims.size() != type.shape.rank())
    fail(ErrorCode::kInvalidArgument, "input '{}' expects rank {} {} but was fed rank {} ({})", name,
         type.shape.rank(), type.shape.str(), dims.size(), dims_str(dims));
  for (size_t i = 0; i < dims.size(); ++i) {
    const Dim& d = type.shape.dims[i];
    if (d.is_known() && d.value() != dims[i])
      fail(ErrorCode::kInvalidArgument,
           "input '{}' dim {}: the model fixes this dim to {}, but {} was given (input shape {} vs declared {}). "
           "The model was exported with dim {} fixed; to run other sizes, re-export with torch.onnx.export(..., "
           "dynamic_axes={{'{}': {{{}: 'dim{}'}}}}) so the file declares a named dim (dim_param), or feed size {}.",
           name, i, d.value(), dims[i], dims_str(dims), type.shape.str(), i, name, i, i, d.value());
    if (d.is_symbol()) {
      auto [it, fresh] = symbols.bound.emplace(d.symbol_name(), std::make_pair(dims[i], name));
      if (fresh || it->second.first == dims[i]) continue;
      const std::string what = fmt::format(
          "input '{}' dim {} is '{}' in the model, given {}, but input '{}' already set '{}' to {}", name, i,
          d.symbol_name(), dims[i], it->second.second, d.symbol_name(), it->second.first);
      if (symbols.strict)
        fail(ErrorCode::kInvalidArgument, "{}; inputs that share a named dim must agree on its size", what);
      bool seen = false;
      for (const auto& c : symbols.conflicts) seen = seen || c.first == d.symbol_name();
      if (!seen)
        symbols.conflicts.emplace_back(
            d.symbol_name(),
            fmt::format("{}: the model says these dims are equal, but kiln runs it with the sizes given (if they "
                        "really vary independently, give them different names in dynamic_axes)", what));
    }
  }
}

void check_input_value(const ir::Value& declared, const Tensor& fed, SymbolBindings& symbols) {
  const ir::FlatType want = ir::flatten_type(declared.type);
  if (!want.runnable)
    fail(ErrorCode::kUnsupported, "input '{}' is a {}; kiln runs tensors, sequences of tensors and optionals",
         declared.name, want.what);
  const bool kind_ok = want.kind == fed.kind() &&
                       (!fed.is_optional() || !declared.type.has_type || want.holds == fed.optional_holds());
  if (declared.type.has_type && !kind_ok)
    fail(ErrorCode::kInvalidArgument, "input '{}' is declared as {} but was fed {} {}{}", declared.name,
         ir::type_str(want), fed.is_optional() ? "an" : "a", tensor_kind_name(fed.kind()),
         fed.is_optional() ? fmt::format(" holding a {}", tensor_kind_name(fed.optional_holds())) : "");
  if (fed.is_tensor()) {
    check_input(declared, fed.dtype(), fed.dims(), symbols);
    return;
  }
  if (want.dtype != DType::kUndefined && fed.dtype() != want.dtype)
    fail(ErrorCode::kInvalidArgument, "input '{}' is declared as {} but was fed {} tensors; convert the data to {}",
         declared.name, ir::type_str(want), dtype_name(fed.dtype()), dtype_name(want.dtype));
  // The tensors inside: checked against the declared element shape, without binding symbols (each tensor of a
  // sequence may give a symbol another size).
  std::vector<const Tensor*> tensors;
  for (const Tensor& e : fed.elements()) {
    if (e.is_sequence())
      for (const Tensor& x : e.elements()) tensors.push_back(&x);
    else
      tensors.push_back(&e);
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = *tensors[i];
    if (!want.shape.rank_known) continue;
    bool ok = t.rank() == want.shape.rank();
    for (size_t d = 0; ok && d < t.rank(); ++d)
      if (want.shape.dims[d].is_known() && want.shape.dims[d].value() != t.dim(d)) ok = false;
    if (!ok)
      fail(ErrorCode::kInvalidArgument, "input '{}': tensor {} inside it has dims {}, but the model declares {}",
           declared.name, i, dims_str(t.dims()), ir::type_str(want));
  }
}

void report_missing_inputs(const ir::Graph& g, const std::vector<int>& missing) {
  const std::vector<int> params = parameter_inputs(g, missing);
  if (!params.empty() && params.size() * 2 >= missing.size())
    fail(ErrorCode::kInvalidArgument,
         "the model has {} graph input{} that {} trained parameters ({}) and no initializer{} for them: the file "
         "carries no weights, which is what torch.onnx.export(..., export_params=False) produces. Re-export with "
         "export_params=True (the default) so the weights are stored in the file, or feed every one of them.",
         params.size(), params.size() == 1 ? "" : "s", params.size() == 1 ? "is" : "are",
         list_names(g, params, kMaxNamesShown), params.size() == 1 ? "" : "s");
  std::string declared;
  const ir::Value& first = g.value(missing.front());
  if (first.type.has_type) declared = fmt::format(" ({} {})", dtype_name(first.type.dtype), first.type.shape.str());
  fail(ErrorCode::kInvalidArgument, "{} required input{} not fed: {}; input '{}'{} must be given", missing.size(),
       missing.size() == 1 ? " was" : "s were", list_names(g, missing, 8), first.name, declared);
}

}  // namespace kiln::runtime
