#include "passes/passes.h"
#include "passes/rewrite_util.h"

namespace kiln::passes {
namespace {
class Stub : public Pass {
 public:
  std::string_view name() const override { return "fuse_gelu"; }
  std::string_view why() const override { return "not written yet"; }
  Level level() const override { return Level::kAll; }
  bool apply(ir::Model&) const override { return false; }
};
}  // namespace
const Pass& fuse_gelu_pass() {
  static const Stub pass;
  return pass;
}
}  // namespace kiln::passes
