#pragma once
// What the passes know about each value's type and shape before any input is seen: a symbolic plan of the graph
// at its declared input shapes (the same inference the runtime uses), plus dim keys that prove two dims equal
// where inference can only say "unknown".
//
// Why dim keys: a fusion may only absorb an Add when the other operand has exactly the fused output's shape
// (FusedConv's residual, FusedMatMul's Z) or broadcasts into it (an attention mask). With symbolic image sizes,
// inference knows a conv's output height only as "?", so a ResNet residual could never be proven to match.
// A dim key is a canonical expression of a dim: a known number, an input symbol ("$height"), or what ops make
// of them ("fl(($height-1)/2)+1" after a stride-2 conv, "($batch*4)" after a Reshape to batch*heads). Equal
// keys mean equal sizes for every valid input; an unknown key ("?") equals nothing, not even itself, so every
// proof fails safe.

#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "ir/graph.h"
#include "ops/op.h"

namespace kiln::runtime {
class Plan;
struct OpsetTable;
}  // namespace kiln::runtime

namespace kiln::passes {

struct DimKey {
  std::string atom;    ///< empty: a known size (= offset); "?": unknown; else a canonical expression
  int64_t offset = 0;  ///< added to the atom
  static DimKey number(int64_t n) { return {"", n}; }
  static DimKey unknown() { return {"?", 0}; }
  bool known() const { return atom.empty(); }
  bool is_unknown() const { return atom == "?"; }
  bool is_one() const { return known() && offset == 1; }
  /// Equal sizes for every valid input (never true for an unknown key).
  bool operator==(const DimKey& o) const { return !is_unknown() && atom == o.atom && offset == o.offset; }
  /// "7", "$batch", "($batch*4)+1", "?".
  std::string str() const;
};

using DimKeys = std::optional<std::vector<DimKey>>;  ///< nullopt: rank unknown

class ShapeFacts {
 public:
  /// Infers the top-level graph of `model` at its declared input shapes. Inputs without a declared tensor type,
  /// or an inference error (which the run will report, naming the node), leave the facts unavailable: passes
  /// that need them then change nothing.
  explicit ShapeFacts(const ir::Model& model);
  ~ShapeFacts();
  ShapeFacts(const ShapeFacts&) = delete;
  ShapeFacts& operator=(const ShapeFacts&) = delete;

  bool available() const { return available_; }
  /// Element type, or kUndefined when not known (or for containers).
  DType dtype(int v) const;
  std::optional<size_t> rank(int v) const;
  /// Dim `axis` (negative counts from the end) when it is a known number.
  std::optional<int64_t> dim(int v, int64_t axis) const;
  /// The content of `v` when inference knows it at the declared input shapes for every valid feed (shape
  /// arithmetic on fixed dims, e.g. a head size computed from Shape(x)[2]); nullptr otherwise. Valid while this
  /// object lives.
  const Tensor* value(int v) const;
  /// The dim keys of `v`, or nullptr when its rank is not known.
  const std::vector<DimKey>* keys(int v) const;
  /// What a 1-D (or one-element) integer value holds, one key per element, when it is a size computation
  /// (Shape -> Gather -> Concat chains: "$batch", "($batch*4)", 64, or "?" for an element not known); nullptr
  /// when the number of elements is not known. A key is a symbolic expression, never the value of one run.
  const std::vector<DimKey>* contents(int v) const;
  /// Proven: same rank and every dim equal.
  bool same_shape(int a, int b) const;
  /// Proven: `small` broadcasts into `big` without growing it (rank not larger; each dim 1 or equal).
  /// With `where_valid`, a dim of `small` may also be a clamped slice min(E, N) of the matching dim E of `big`
  /// (x[:t] of a buffer of N, as a causal mask is cut to the sequence): it equals E for every input the
  /// original graph accepts, since a larger E cannot broadcast against N (N > 1) and the graph fails there.
  bool broadcasts_into(int small, int big, bool where_valid = false) const;

 private:
  bool available_ = false;
  std::unique_ptr<runtime::OpsetTable> opsets_;
  std::shared_ptr<const runtime::Plan> plan_;
  std::vector<DimKeys> keys_;
  std::vector<DimKeys> contents_;
};

/// A constant Reshape target equal to `target` (the keys of a target's elements, with ONNX's meaning: 0 copies
/// the input's dim unless allowzero, -1 is inferred) for every input size, given the input's dims `in` (may be
/// null): numbers as themselves, a symbolic element equal to the input's dim at its position as 0 (unless
/// allowzero), and at most one other element (none if a -1 is there already) as -1, which is exact because a
/// valid Reshape's element count fixes it. nullopt when that cannot be written. A symbolic key is never
/// replaced by a number.
std::optional<std::vector<int64_t>> constant_reshape_target(const std::vector<DimKey>* in,
                                                            const std::vector<DimKey>& target, bool allowzero);

/// Derives the dim keys of every value of `g` from inferred `infos` (one per value id), in topological order.
/// Exposed for tests; ShapeFacts calls it.
std::vector<DimKeys> derive_dim_keys(const ir::Graph& g, const std::vector<ops::ValueInfo>& infos);
/// As derive_dim_keys, also returning the contents of size values (ShapeFacts::contents), one per value id.
std::pair<std::vector<DimKeys>, std::vector<DimKeys>> derive_dim_keys_and_contents(
    const ir::Graph& g, const std::vector<ops::ValueInfo>& infos);

}  // namespace kiln::passes
