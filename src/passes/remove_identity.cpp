// Identity passes its input through: readers read the input directly.

#include "passes/passes.h"
#include "passes/rewrite_util.h"

namespace kiln::passes {
namespace {

class RemoveIdentity : public Pass {
 public:
  std::string_view name() const override { return "remove_identity"; }
  std::string_view why() const override {
    return "Identity copies its input; PyTorch exports wrap shared weights and outputs in them";
  }
  Level level() const override { return Level::kBasic; }
  bool apply(ir::Model& model) const override {
    return remove_pass_through(*model.graph, [](const ir::Node& n, const GraphIndex&) -> std::optional<size_t> {
      if (is_op(n, "Identity") && n.inputs.size() == 1 && n.outputs.size() == 1) return 0;
      return std::nullopt;
    }) > 0;
  }
};

}  // namespace

const Pass& remove_identity_pass() {
  static const RemoveIdentity pass;
  return pass;
}

}  // namespace kiln::passes
