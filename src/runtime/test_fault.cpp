#include "runtime/test_fault.h"

#include <cstdlib>

namespace kiln::runtime {

const std::string& test_fault_node() {
  static const std::string name = [] {
    const char* v = std::getenv("KILN_TEST_FAULT_NODE");
    return std::string(v ? v : "");
  }();
  return name;
}

void inject_test_fault(Tensor& t) {
  if (!t.is_tensor() || t.dtype() != DType::kFloat32) return;
  for (float& x : t.span<float>()) x += 1.0f;
}

}  // namespace kiln::runtime
