#pragma once
// Tactics: a prepare that can run a node several ways (Conv: Winograd F(4x4, 3x3), F(2x2, 3x3) or the implicit
// GEMM) names its candidates and asks choose_tactic once. Without a TacticSource in scope (a session of an ONNX
// file) its own rule's index comes back; `kiln build` puts one in scope that forces each candidate in turn to time
// it at the opt shape and then hands out the fastest, and an engine load one that hands out what the build
// recorded (src/api/engine_tactics.h). The source is a scope on the preparing thread rather than a field of
// PrepareContext so that the engine's concern stays out of op.h, which every op includes; PreparedGraph::build
// prepares on the calling thread.

#include <cstddef>
#include <span>
#include <string>

namespace kiln::ops {

class PrepareContext;

/// Where prepare's choice among a node's candidate tactics comes from. Implemented by src/api.
class TacticSource {
 public:
  virtual ~TacticSource() = default;
  /// The index in `candidates` of the tactic node `ctx` runs; `rule` is the index prepare's rule picks. An index
  /// past the end counts as `rule`.
  virtual size_t choose(const PrepareContext& ctx, std::span<const std::string> candidates, size_t rule) = 0;
};

/// The tactic to prepare for ctx's node: an index into `candidates` (names such as "winograd-f4"; the same list
/// for the same node and inputs), from the TacticSource in scope on this thread, else `rule`. Ask only when there
/// are at least two candidates, once per prepare.
size_t choose_tactic(const PrepareContext& ctx, std::span<const std::string> candidates, size_t rule);

/// Makes `source` the tactic source of the prepares this thread runs while the scope lives (scopes nest; null
/// restores the rules).
class TacticScope {
 public:
  explicit TacticScope(TacticSource* source);
  ~TacticScope();
  TacticScope(const TacticScope&) = delete;
  TacticScope& operator=(const TacticScope&) = delete;

 private:
  TacticSource* previous_;
};

}  // namespace kiln::ops
