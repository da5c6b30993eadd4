#pragma once
// What every pass needs to read and edit a graph safely: who produces and who reads each value (graph outputs
// and subgraph reads by name included, so a value something else still needs is never fused away), which values
// are constants the caller cannot override, and small editing helpers that keep ir::Graph valid.
//
// How passes edit: a fused node takes the place (index) of the last node of its pattern and writes that node's
// output value, so graph outputs keep their values and the file's topological order stays valid; the other
// nodes of the pattern are marked dead and erased at the end of the sweep. Values are never removed from
// Graph::values (ids are indices); an unread value is simply an orphan.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/graph.h"

namespace kiln::passes {

class GraphIndex {
 public:
  explicit GraphIndex(const ir::Graph& g);

  /// Index of the node writing `v`, or -1 (graph input, initializer, or nothing).
  int producer(int v) const { return v < 0 ? -1 : producer_[static_cast<size_t>(v)]; }
  /// The node writing `v` when it is `op_type` of the default domain, else nullptr.
  const ir::Node* producer_op(int v, std::string_view op_type) const;
  /// Nodes reading `v` as an input (once per input slot).
  const std::vector<int>& readers(int v) const { return readers_[static_cast<size_t>(v)]; }
  bool is_graph_output(int v) const { return graph_output_[static_cast<size_t>(v)] != 0; }
  /// True when a subgraph of some node reads `v` by name.
  bool read_by_subgraph(int v) const { return subgraph_read_[static_cast<size_t>(v)] != 0; }
  /// True when `v` is an intermediate whose every use is an input of node `n` (so fusing `n` with the node
  /// writing `v` loses nothing): not a graph output, not read by a subgraph, and read at least once.
  bool only_read_by(int v, int n) const;
  /// The one node reading `v` (in one or more input slots), when `v` is an intermediate nothing else reads;
  /// else -1.
  int sole_reader(int v) const;
  /// True when `v` has no reader at all and is not a graph output.
  bool unused(int v) const;

  /// The initializer of `v` when it is a constant the caller cannot replace (an initializer that is not also a
  /// graph input), else nullptr.
  const Tensor* constant(int v) const;
  /// The value of a constant with exactly one element (any numeric type), else nullopt.
  std::optional<double> scalar(int v) const;
  /// As scalar(), for a constant of rank 0 or 1 only (an operand that cannot broadcast a tensor of rank 1 or
  /// more to a larger shape).
  std::optional<double> small_scalar(int v) const;

 private:
  const ir::Graph& g_;
  std::vector<int> producer_;
  std::vector<std::vector<int>> readers_;
  std::vector<char> graph_output_, subgraph_read_, overridable_;
};

/// A name no value of `g` has yet: `base`, else `base_1`, `base_2`, ...
std::string unique_name(const ir::Graph& g, const std::string& base);
/// Adds a new value named after `base` (made unique) and returns its id.
int add_value(ir::Graph& g, const std::string& base);
/// Adds a constant the model owns (never a view into the mapped file) and returns its value id.
int add_initializer(ir::Graph& g, const std::string& base, Tensor t);
/// A 1-D int64 constant (a shape, axes) named after node `n` ("<name>_<what>"), as add_initializer.
int add_ints_initializer(ir::Graph& g, const ir::Node& n, const std::string& what, const std::vector<int64_t>& values);

/// Puts `fused` in place of node `last` (so it runs where the pattern's last node ran, after every input it
/// reads) and flags the pattern's other nodes dead.
void replace_pattern(ir::Graph& g, std::vector<char>& dead, const std::vector<int>& nodes, int last, ir::Node fused);
/// The other operand of a two-input node that reads `x` (x itself when it reads x twice), else -1.
int other_input(const ir::Node& n, int x);

/// Removes the nodes flagged in `dead` (one flag per node), keeping the others in order.
void erase_nodes(ir::Graph& g, const std::vector<char>& dead);
/// Drops initializers no node reads and no graph input or output names (what folding leaves behind).
size_t drop_unused_initializers(ir::Graph& g);

ir::Attribute attr_int(const std::string& name, int64_t v);
ir::Attribute attr_float(const std::string& name, float v);
ir::Attribute attr_string(const std::string& name, const std::string& v);
ir::Attribute attr_floats(const std::string& name, std::vector<float> v);
ir::Attribute attr_ints(const std::string& name, std::vector<int64_t> v);
/// Sets (adds or replaces) an attribute.
void set_attr(ir::Node& n, ir::Attribute a);
/// Removes an attribute if present.
void remove_attr(ir::Node& n, std::string_view name);

/// Removes nodes that pass a value through unchanged (Identity, inference-mode Dropout): `forwarded` returns,
/// for such a node, the index of the input its output 0 equals (else nullopt). Readers of the output read the
/// input instead; where the output is a graph output, the input's producer writes it directly. A node is kept
/// when neither is possible (a graph input passed straight to a graph output) or when a subgraph reads the
/// output by name. Returns how many nodes were removed.
size_t remove_pass_through(ir::Graph& g, const std::function<std::optional<size_t>(const ir::Node&, const GraphIndex&)>& forwarded);

/// Integer attribute or fallback; float attribute or fallback; ints attribute or fallback.
int64_t get_int(const ir::Node& n, std::string_view name, int64_t fallback);
float get_float(const ir::Node& n, std::string_view name, float fallback);
std::string get_string(const ir::Node& n, std::string_view name, const std::string& fallback);
std::vector<int64_t> get_ints(const ir::Node& n, std::string_view name, std::vector<int64_t> fallback = {});

/// True when every element of `v` equals `x` (an attribute's strides, dilations, pads).
inline bool all_equal(const std::vector<int64_t>& v, int64_t x) {
  for (int64_t e : v)
    if (e != x) return false;
  return true;
}

/// True for a node of the default ONNX domain with this op_type.
bool is_op(const ir::Node& n, std::string_view op_type);
/// True when some node of `g` is `op_type` of the default domain (passes check before inferring shapes).
bool has_op(const ir::Graph& g, std::string_view op_type);

/// The domain of kiln's own fused ops, and its version.
inline constexpr std::string_view kKilnDomain = "ai.kiln";
inline constexpr int64_t kKilnDomainVersion = 1;

/// True for an ai.kiln.FusedMatMul node.
bool is_fused_matmul(const ir::Node& n);
/// A copy of `n` as an ai.kiln.FusedMatMul: a MatMul becomes one with transB 0 and alpha 1 (same inputs,
/// outputs, name); a FusedMatMul is copied as it is. The MatMul fusions start their fused node from this.
ir::Node as_fused_matmul(const ir::Node& n);
/// True when the op `ai.kiln.<name>` is registered (its engineer's kernel has landed); fusion passes skip
/// themselves otherwise, so the pipeline is safe in any merge order.
bool kiln_op_available(std::string_view name);
/// Adds the opset import ai.kiln v1 to the model if it has none.
void import_kiln_domain(ir::Model& m);

}  // namespace kiln::passes
