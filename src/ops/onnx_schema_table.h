#pragma once
// The ONNX standard's operator schemas (ai.onnx domain) as facts: for each op and each opset at which its
// schema changed, how many inputs and outputs it takes and which attributes it has. Generated from the pinned
// onnx package (scripts/gen_onnx_schema_table.py). `kiln check` uses it to say which form of a node exists at
// the model's declared opset.

#include <string_view>
#include <vector>

namespace kiln::ops {

struct StandardSchema {
  std::string_view op;
  int since_version;
  int min_inputs, max_inputs, min_outputs, max_outputs;
  bool deprecated;
  std::string_view attributes;  ///< comma-separated names

  bool has_attribute(std::string_view name) const;
};

/// Every version of `op` in the standard, ascending; empty when ONNX has no such op.
std::vector<const StandardSchema*> standard_versions(std::string_view op);
/// The version in force at `opset` (largest since_version <= opset), or nullptr.
const StandardSchema* standard_schema(std::string_view op, int opset);
/// Every ai.onnx op name in the standard.
std::vector<std::string_view> standard_op_names();
/// The newest ai.onnx opset of the pinned standard (the largest opset at which a schema changed).
int newest_standard_opset();

}  // namespace kiln::ops
