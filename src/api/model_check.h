#pragma once
// `kiln check`: everything that will go wrong with a model, found before anything runs it, each finding with
// where it is and how to fix it. The export mistakes PyTorch users hit most have their own findings: inputs
// fixed to one size (no dynamic_axes), weights missing (export_params=False), nodes the declared opset cannot
// express.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/error.h"
#include "ir/graph.h"

namespace kiln {

enum class Severity { kError, kWarning, kInfo };
const char* severity_name(Severity s);

struct Finding {
  Severity severity = Severity::kError;
  std::string kind;     ///< stable identifier: "fixed-input-dims", "missing-weights", "opset-mismatch", ...
  std::string where;    ///< "input 'x'", "node 'conv1' (Conv)", "initializer 'w'", or the file
  std::string message;  ///< what is wrong
  std::string fix;      ///< what to do about it
};

struct CheckReport {
  std::string path;
  /// Errors first, then warnings, then notes; among errors, causes before consequences (weights missing
  /// before the nodes that cannot run without them); otherwise in the order found.
  std::vector<Finding> findings;
  /// True when no finding is an error: the model will load and run (at the checked shapes, if given).
  bool will_run() const;
  /// The finding to act on first (the first error, else the first warning), or nullptr.
  const Finding* first() const;
};

/// Sorts findings into CheckReport's order (stable).
void order_findings(std::vector<Finding>& findings);

/// Checks the model at `path`. `shapes` (input name -> dims) are checked against the model as `run` would
/// check them, then inference runs over the whole graph at those sizes. Never throws for a bad model: a model
/// that cannot even be read is one error finding.
CheckReport check_model(const std::string& path, const std::map<std::string, std::vector<int64_t>>& shapes);

// The finding families, each in its own file (model_check_*.cpp).
void check_inputs(const ir::Model& model, std::vector<Finding>& out);
void check_opsets(const ir::Model& model, std::vector<Finding>& out);
/// The finding for a model importing an ai.onnx opset newer than the pinned standard's newest (check_opsets
/// reports it; a session refuses such a model with its message).
Finding unreleased_opset_finding(int64_t opset);
void check_lint(const ir::Model& model, std::vector<Finding>& out);
void check_shapes(const ir::Model& model, const std::map<std::string, std::vector<int64_t>>& shapes,
                  std::vector<Finding>& out);

}  // namespace kiln
