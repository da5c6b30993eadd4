#include "api/fixed_input_shapes.h"

#include <fmt/format.h>

#include "base/error.h"

namespace kiln {

namespace {

std::string input_names(const ir::Graph& g) {
  std::string names;
  for (int id : g.required_inputs()) names += (names.empty() ? "'" : ", '") + g.value(id).name + "'";
  return names.empty() ? "none" : names;
}

}  // namespace

void fix_input_shapes(ir::Graph& g, const std::map<std::string, std::vector<int64_t>>& shapes) {
  if (shapes.empty()) return;
  std::map<std::string, int64_t> symbols;  // symbol -> the size a fixed input gave it
  std::map<std::string, std::string> symbol_source;
  for (const auto& [name, dims] : shapes) {
    int id = -1;
    for (int input : g.required_inputs())
      if (g.value(input).name == name) id = input;
    if (id < 0)
      fail(ErrorCode::kInvalidArgument, "cannot fix the shape of '{}': the model has no such input (its inputs: {})",
           name, input_names(g));
    ir::Value& v = g.value(id);
    if (v.type.kind != ir::ValueKind::kTensor)
      fail(ErrorCode::kInvalidArgument, "cannot fix the shape of input '{}': it is not a tensor", name);
    const Shape& declared = v.type.shape;
    if (declared.rank_known && declared.rank() != dims.size())
      fail(ErrorCode::kInvalidArgument, "input '{}' has {} dims in the model ({}); the fixed shape {} has {}", name,
           declared.rank(), declared.str(), dims_str(dims), dims.size());
    for (size_t d = 0; d < dims.size(); ++d) {
      if (dims[d] < 0)
        fail(ErrorCode::kInvalidArgument, "input '{}' dim {}: size {} is negative", name, d, dims[d]);
      if (!declared.rank_known) continue;
      const Dim& dim = declared.dims[d];
      if (dim.is_known() && dim.value() != dims[d])
        fail(ErrorCode::kInvalidArgument, "input '{}' dim {} is fixed to {} by the model; it cannot be {}", name, d,
             dim.value(), dims[d]);
      if (!dim.is_symbol()) continue;
      auto [it, inserted] = symbols.emplace(dim.symbol_name(), dims[d]);
      if (!inserted && it->second != dims[d])
        fail(ErrorCode::kInvalidArgument, "dim '{}' is given two sizes: {} by input '{}' and {} by input '{}'",
             dim.symbol_name(), it->second, symbol_source[dim.symbol_name()], dims[d], name);
      symbol_source.emplace(dim.symbol_name(), name);
    }
    v.type.shape = Shape::from(dims);
    v.type.has_type = true;
  }
  // The symbols the fixed inputs replaced take their sizes in the other inputs too.
  for (int id : g.required_inputs()) {
    ir::Value& v = g.value(id);
    if (shapes.count(v.name) || v.type.kind != ir::ValueKind::kTensor || !v.type.shape.rank_known) continue;
    for (Dim& dim : v.type.shape.dims)
      if (dim.is_symbol())
        if (auto it = symbols.find(dim.symbol_name()); it != symbols.end()) dim = Dim(it->second);
  }
}

}  // namespace kiln
