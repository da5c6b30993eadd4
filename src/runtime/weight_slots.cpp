// Which graph inputs are trained parameters: a file exported with export_params=False turns every weight into
// a graph input, and PyTorch names many of them after the op that reads them ('onnx::Conv_193', where batch
// norm was folded into the convolution), so a name alone misses most of them. What they feed does not.

#include <algorithm>
#include <map>
#include <set>

#include "runtime/input_check.h"

namespace kiln::runtime {

namespace {

// The input slots of the default domain's ops that hold weights. MatMul is not listed: either side may be data,
// and it is judged by what feeds the other side (see weight_slot_inputs).
const std::map<std::string, std::vector<size_t>, std::less<>>& weight_slots() {
  static const std::map<std::string, std::vector<size_t>, std::less<>> slots = {
      {"Conv", {1, 2}},
      {"ConvTranspose", {1, 2}},
      {"ConvInteger", {1, 3}},
      {"QLinearConv", {3, 4, 5, 8}},
      {"DeformConv", {1, 3}},
      {"Gemm", {1, 2}},
      {"BatchNormalization", {1, 2, 3, 4}},
      {"InstanceNormalization", {1, 2}},
      {"LayerNormalization", {1, 2}},
      {"GroupNormalization", {1, 2}},
      {"RMSNormalization", {1}},
      {"SkipLayerNormalization", {2, 3, 4}},
      {"RNN", {1, 2, 3}},
      {"GRU", {1, 2, 3}},
      {"LSTM", {1, 2, 3, 7}},
      {"PRelu", {1}},
  };
  return slots;
}

// Graph inputs that feed a weight slot of a top-level node.
std::set<int> weight_slot_inputs(const ir::Graph& g) {
  std::set<int> graph_inputs(g.inputs.begin(), g.inputs.end());
  auto is_input = [&](int v) { return v >= 0 && graph_inputs.count(v) && !g.is_initializer(v); };
  std::set<int> found;
  for (const ir::Node& n : g.nodes) {
    if (!n.domain.empty() && n.domain != "ai.onnx") continue;
    if (n.op_type == "MatMul" && n.inputs.size() == 2) {
      // A side fed from outside while the other side is computed from the inputs is the layer's weight;
      // two fed sides (x @ y of two inputs) are data, unless named like parameters.
      for (size_t side : {0u, 1u})
        if (is_input(n.inputs[side]) && !is_input(n.inputs[1 - side]) && !g.is_initializer(n.inputs[1 - side]))
          found.insert(n.inputs[side]);
      continue;
    }
    auto it = weight_slots().find(n.op_type);
    if (it == weight_slots().end()) continue;
    for (size_t slot : it->second)
      if (slot < n.inputs.size() && is_input(n.inputs[slot])) found.insert(n.inputs[slot]);
  }
  return found;
}

}  // namespace

std::vector<int> parameter_inputs(const ir::Graph& g, const std::vector<int>& ids) {
  const std::set<int> slots = weight_slot_inputs(g);
  std::vector<int> params;
  for (int id : ids)
    if (slots.count(id) || looks_like_parameter(g.value(id).name)) params.push_back(id);
  return params;
}

}  // namespace kiln::runtime
