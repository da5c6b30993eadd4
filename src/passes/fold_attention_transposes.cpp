// ai.kiln.ScaledDotProductAttention between Transposes of perm [1, 0, 2] -> the same op with seq_first = 1 and no
// Transposes. torch's MultiheadAttention (and the encoders built on it: nn.TransformerEncoderLayer in BERT- and
// ViT-style exports) works sequence-first: it reshapes the projected Q, K and V to [S, N, D] (N = batch x heads),
// transposes each to [N, S, D] for the attention and the result back to [S, N, Dv]. Those are four full copies
// per layer (2-3 % of BERT-mini's time at one thread, run on one thread at two); the seq_first kernel reads the
// heads in place instead (src/ops/attention_prepared.cpp).
//
// Rewritten when Q, K and V each come from such a Transpose and the attention's output is read by exactly one
// such Transpose (and is not a graph output): the attention takes the Transposes' inputs and writes the output
// Transpose's value, in that Transpose's place. An input Transpose nothing else reads is removed; one that is
// still read (e.g. by a Shape) stays.

#include <algorithm>

#include "passes/passes.h"
#include "passes/rewrite_util.h"

namespace kiln::passes {
namespace {

// True when node `n` is a Transpose with perm [1, 0, 2] (its input is then of rank 3).
bool swaps_first_two(const ir::Node& n) {
  return is_op(n, "Transpose") && n.inputs.size() == 1 && n.outputs.size() == 1 &&
         get_ints(n, "perm") == std::vector<int64_t>{1, 0, 2};
}

class FoldAttentionTransposes : public Pass {
 public:
  std::string_view name() const override { return "fold_attention_transposes"; }
  std::string_view why() const override {
    return "the attention reads and writes sequence-first heads in place instead of after four Transpose copies";
  }
  Level level() const override { return Level::kAll; }

  bool apply(ir::Model& model) const override {
    ir::Graph& g = *model.graph;
    const GraphIndex idx(g);
    std::vector<char> dead(g.nodes.size(), 0);
    bool changed = false;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const ir::Node& n = g.nodes[i];
      if (n.domain != kKilnDomain || n.op_type != "ScaledDotProductAttention" || dead[i] || n.inputs.size() < 3 ||
          n.outputs.size() != 1 || get_int(n, "seq_first", 0) != 0)
        continue;
      // The Transposes feeding Q, K and V.
      int in_t[3];
      bool ok = true;
      for (int s = 0; s < 3 && ok; ++s) {
        in_t[s] = idx.producer(n.inputs[static_cast<size_t>(s)]);
        ok = in_t[s] >= 0 && !dead[static_cast<size_t>(in_t[s])] &&
             swaps_first_two(g.nodes[static_cast<size_t>(in_t[s])]);
      }
      if (!ok) continue;
      // The one Transpose reading the output.
      const int out_t = idx.sole_reader(n.outputs[0]);
      if (out_t < 0 || dead[static_cast<size_t>(out_t)] || !swaps_first_two(g.nodes[static_cast<size_t>(out_t)]))
        continue;
      ir::Node fused = n;
      for (int s = 0; s < 3; ++s)
        fused.inputs[static_cast<size_t>(s)] = g.nodes[static_cast<size_t>(in_t[s])].inputs[0];
      fused.outputs = {g.nodes[static_cast<size_t>(out_t)].outputs[0]};
      set_attr(fused, attr_int("seq_first", 1));
      std::vector<int> pattern = {static_cast<int>(i), out_t};
      for (int s = 0; s < 3; ++s) {
        const int t = in_t[s];
        if (std::find(pattern.begin(), pattern.end(), t) == pattern.end() &&
            idx.only_read_by(g.nodes[static_cast<size_t>(t)].outputs[0], static_cast<int>(i)))
          pattern.push_back(t);
      }
      replace_pattern(g, dead, pattern, out_t, std::move(fused));
      changed = true;
    }
    if (changed) erase_nodes(g, dead);
    return changed;
  }
};

}  // namespace

const Pass& fold_attention_transposes_pass() {
  static const FoldAttentionTransposes pass;
  return pass;
}

}  // namespace kiln::passes
