#pragma once
// A graph pass: one rewrite of a loaded model that keeps every graph output's meaning (within float rounding),
// never renames graph inputs or outputs, and leaves ir::validate happy. Each pass lives in its own file under
// src/passes/ and is listed once, in order, in pipeline.cpp.

#include <string_view>

#include "ir/graph.h"

namespace kiln::passes {

/// How much the pipeline does (SessionOptions::graph_optimization_level).
enum class Level : int {
  kNone = 0,    ///< the graph runs as loaded
  kBasic = 1,   ///< cleanup and folding: Identity/Dropout removal, dead nodes, constants, Conv+BatchNorm
  kAll = 2,     ///< basic, plus fusions into ai.kiln ops (FusedConv, FusedMatMul, attention, LayerNorm, GELU)
};

class Pass {
 public:
  virtual ~Pass() = default;
  /// Short snake_case name, used to switch the pass off (SessionOptions::disabled_passes, kiln run --disable-pass).
  virtual std::string_view name() const = 0;
  /// One sentence: what it rewrites and why that is faster.
  virtual std::string_view why() const = 0;
  /// The lowest optimization level the pass runs at.
  virtual Level level() const = 0;
  /// Rewrites `model` (its top-level graph) in place; returns whether anything changed. Never throws for a
  /// model it cannot improve: it leaves what it does not understand as it is.
  virtual bool apply(ir::Model& model) const = 0;
};

}  // namespace kiln::passes
