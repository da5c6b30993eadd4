// check: inputs fixed to one size (exported without dynamic_axes) and weights missing (export_params=False).

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

std::string dynamic_axes_example(const ir::Value& v) {
  const size_t rank = v.type.shape.rank();
  std::vector<std::string> axes{fmt::format("0: 'batch'")};
  if (rank == 4) axes = {"0: 'batch'", "2: 'height'", "3: 'width'"};
  else if (rank >= 2) axes.push_back("1: 'sequence'");
  return fmt::format("dynamic_axes={{'{}': {{{}}}}}", v.name, fmt::join(axes, ", "));
}

}  // namespace

void check_inputs(const ir::Model& model, std::vector<Finding>& out) {
  const ir::Graph& g = *model.graph;
  std::vector<std::string> params;
  for (int id : g.required_inputs()) {
    const ir::Value& v = g.value(id);
    if (runtime::looks_like_parameter(v.name)) {
      params.push_back(v.name);
      continue;
    }
    if (!v.type.has_type) {
      out.push_back({Severity::kWarning, "untyped-input", fmt::format("input '{}'", v.name),
                     "the input has no declared type or shape, so feeds cannot be checked before running",
                     "export with input_names and example inputs so the exporter records the type"});
      continue;
    }
    if (usually_variable(v.type) && v.type.shape.is_concrete())
      out.push_back({Severity::kWarning, "fixed-input-dims", fmt::format("input '{}'", v.name),
                     fmt::format("every dim of {} {} is fixed: the model accepts only this size, and any other "
                                 "(another batch, image size or sequence length) is refused at run time",
                                 dtype_name(v.type.dtype), v.type.shape.str()),
                     fmt::format("if it must run at other sizes, re-export with torch.onnx.export(..., {}) so the "
                                 "file names those dims (dim_param) instead of fixing them",
                                 dynamic_axes_example(v))});
  }
  if (!params.empty()) {
    std::vector<std::string> shown(params.begin(), params.begin() + static_cast<long>(std::min<size_t>(params.size(), 5)));
    out.push_back({Severity::kError, "missing-weights", "graph inputs",
                   fmt::format("{} graph input{} named like trained parameters ('{}'{}) {} no initializer: the file "
                               "carries no weights, as torch.onnx.export(..., export_params=False) produces; a run "
                               "would need every one of them fed",
                               params.size(), params.size() == 1 ? "" : "s", fmt::join(shown, "', '"),
                               params.size() > shown.size() ? ", ..." : "", params.size() == 1 ? "has" : "have"),
                   "re-export with export_params=True (the default) so the weights are stored in the file"});
  }
}

}  // namespace kiln
