#include "ops/onnx_schema_table.h"

#include <algorithm>

namespace kiln::ops {

namespace {

constexpr StandardSchema kTable[] = {
#include "ops/onnx_schema_table.inc"
};

}  // namespace

bool StandardSchema::has_attribute(std::string_view name) const {
  std::string_view rest = attributes;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    if (rest.substr(0, comma) == name) return true;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return false;
}

std::vector<const StandardSchema*> standard_versions(std::string_view op) {
  std::vector<const StandardSchema*> v;
  for (const StandardSchema& s : kTable)
    if (s.op == op) v.push_back(&s);
  return v;
}

const StandardSchema* standard_schema(std::string_view op, int opset) {
  const StandardSchema* best = nullptr;
  for (const StandardSchema& s : kTable)
    if (s.op == op && s.since_version <= opset) best = &s;
  return best;
}

int newest_standard_opset() {
  int newest = 0;
  for (const StandardSchema& s : kTable) newest = std::max(newest, s.since_version);
  return newest;
}

std::vector<std::string_view> standard_op_names() {
  std::vector<std::string_view> names;
  for (const StandardSchema& s : kTable)
    if (names.empty() || names.back() != s.op) names.push_back(s.op);
  return names;
}

}  // namespace kiln::ops
