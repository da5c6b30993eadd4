// check: inputs fixed to one size (exported without dynamic_axes) and weights missing (export_params=False).

#include <algorithm>
#include <map>

#include "api/model_check.h"
#include "runtime/input_check.h"

namespace kiln {

namespace {

// Images ([N,C,H,W], [N,C,L]) and sequences ([N,L,D]) are run at several sizes; token ids ([N,L]) too.
bool usually_variable(const ir::ValueType& t) {
  if (!t.has_type || !t.shape.rank_known) return false;
  if (t.shape.rank() >= 3) return true;
  return t.shape.rank() == 2 && dtype_is_integer(t.dtype);
}

// "'x': {0: 'batch', 2: 'height', 3: 'width'}", one entry of a dynamic_axes dict.
std::string dynamic_axes_entry(const ir::Value& v) {
  const size_t rank = v.type.shape.rank();
  std::vector<std::string> axes{fmt::format("0: 'batch'")};
  if (rank == 4) axes = {"0: 'batch'", "2: 'height'", "3: 'width'"};
  else if (rank >= 2) axes.push_back("1: 'sequence'");
  return fmt::format("'{}': {{{}}}", v.name, fmt::join(axes, ", "));
}

std::string quoted(const std::vector<std::string>& names) { return fmt::format("'{}'", fmt::join(names, "', '")); }

// "input 'x'" for one, "3 inputs ('a', 'b', 'c')" for several: one finding per kind lists every input it is about.
std::string inputs_where(const std::vector<std::string>& names) {
  if (names.size() == 1) return fmt::format("input '{}'", names[0]);
  return fmt::format("{} inputs ({})", names.size(), quoted(names));
}

// "'s' names dims 2 and 3 of input 'x'" for each symbol that names more than one dim of one input: the model then
// says those dims are always equal (an image's height and width), which is seldom meant: exporters that name
// every free dim alike, or one name reused in dynamic_axes, produce it.
void find_repeated_symbols(const ir::Value& v, std::vector<std::string>& inputs, std::vector<std::string>& what) {
  const Shape& s = v.type.shape;
  if (!v.type.has_type || !s.rank_known) return;
  std::map<std::string, std::vector<size_t>> dims;
  for (size_t i = 0; i < s.rank(); ++i)
    if (s.dims[i].is_symbol()) dims[s.dims[i].symbol_name()].push_back(i);
  bool any = false;
  for (const auto& [symbol, at] : dims) {
    if (at.size() < 2) continue;
    any = true;
    what.push_back(fmt::format("'{}' names dims {} of input '{}' {}", symbol, fmt::join(at, " and "), v.name, s.str()));
  }
  if (any) inputs.push_back(v.name);
}

}  // namespace

void check_inputs(const ir::Model& model, std::vector<Finding>& out) {
  const ir::Graph& g = *model.graph;
  const std::vector<int> required = g.required_inputs();
  const std::vector<int> param_ids = runtime::parameter_inputs(g, required);
  std::vector<std::string> params, untyped, fixed, fixed_shapes, advice, repeated, repeated_what;
  for (int id : required) {
    const ir::Value& v = g.value(id);
    find_repeated_symbols(v, repeated, repeated_what);
    // A weight has fixed dims by nature: it gets the missing-weights finding, never dynamic_axes advice.
    if (std::find(param_ids.begin(), param_ids.end(), id) != param_ids.end()) {
      params.push_back(v.name);
    } else if (!v.type.has_type) {
      untyped.push_back(v.name);
    } else if (usually_variable(v.type) && v.type.shape.is_concrete()) {
      fixed.push_back(v.name);
      fixed_shapes.push_back(fmt::format("{} {}", dtype_name(v.type.dtype), v.type.shape.str()));
      advice.push_back(dynamic_axes_entry(v));
    }
  }
  if (!params.empty()) {
    const bool one = params.size() == 1;
    out.push_back({Severity::kError, "missing-weights", fmt::format("{} graph input{}", params.size(), one ? "" : "s"),
                   fmt::format("{} graph input{} {} with no initializer, every one listed here: {}. They feed the "
                               "weight inputs of the model's ops (a convolution's W, a Gemm's B, ...) or are named "
                               "like parameters: the file carries no weights, as torch.onnx.export(..., "
                               "export_params=False) produces, and a run would need every one of them fed",
                               params.size(), one ? "" : "s", one ? "is a trained parameter" : "are trained parameters",
                               quoted(params)),
                   "re-export with export_params=True (the default) so the weights are stored in the file"});
  }
  if (!untyped.empty())
    out.push_back({Severity::kWarning, "untyped-input", inputs_where(untyped),
                   fmt::format("{} no declared type or shape, so feeds cannot be checked before running",
                               untyped.size() == 1 ? "the input has" : "these inputs have"),
                   "export with input_names and example inputs so the exporter records the type"});
  if (!repeated.empty())
    out.push_back({Severity::kWarning, "shared-symbol", inputs_where(repeated),
                   fmt::format("{}: the model says these dims always have the same size. kiln runs it with whatever "
                               "sizes are fed (and warns), but other runtimes may refuse different sizes",
                               fmt::join(repeated_what, "; ")),
                   fmt::format("if the dims vary independently, give each its own name: torch.onnx.export(..., "
                               "dynamic_axes={{'{}': {{2: 'height', 3: 'width'}}}})", repeated[0])});
  if (!fixed.empty())
    out.push_back({Severity::kWarning, "fixed-input-dims", inputs_where(fixed),
                   fmt::format("every dim of {} is fixed: the model accepts only {}, and any other (another batch, "
                               "image size or sequence length) is refused at run time",
                               fmt::join(fixed_shapes, ", "), fixed.size() == 1 ? "this size" : "these sizes"),
                   fmt::format("if it must run at other sizes, re-export with torch.onnx.export(..., "
                               "dynamic_axes={{{}}}) so the file names those dims (dim_param) instead of fixing them",
                               fmt::join(advice, ", "))});
}

}  // namespace kiln
