// Dropout at inference passes its input through. Only a Dropout kiln would run as that copy is removed: its
// training_mode input absent or a constant false (a fed or computed flag keeps the node, whose kernel refuses
// training), and its mask output unread.

#include "passes/passes.h"
#include "passes/rewrite_util.h"

namespace kiln::passes {
namespace {

class RemoveDropout : public Pass {
 public:
  std::string_view name() const override { return "remove_dropout"; }
  std::string_view why() const override { return "Dropout is a copy at inference"; }
  Level level() const override { return Level::kBasic; }
  bool apply(ir::Model& model) const override {
    return remove_pass_through(*model.graph, [](const ir::Node& n, const GraphIndex& idx) -> std::optional<size_t> {
      if (!is_op(n, "Dropout") || n.inputs.empty() || n.inputs[0] < 0 || n.outputs.empty()) return std::nullopt;
      if (n.outputs.size() > 1 && n.outputs[1] >= 0 && !idx.unused(n.outputs[1])) return std::nullopt;
      if (n.inputs.size() > 2 && n.inputs[2] >= 0) {
        const std::optional<double> training = idx.scalar(n.inputs[2]);
        if (!training || *training != 0) return std::nullopt;
      }
      return 0;
    }) > 0;
  }
};

}  // namespace

const Pass& remove_dropout_pass() {
  static const RemoveDropout pass;
  return pass;
}

}  // namespace kiln::passes
