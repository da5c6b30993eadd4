#pragma once
// Checks what a caller feeds against what the model declares, before any kernel runs, and explains the
// export mistakes behind a mismatch (a dim fixed because dynamic_axes was not given; weights missing because
// of export_params=False). `kiln run`, Session::run and `kiln check --shape` share these checks.

#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/tensor.h"

namespace kiln::runtime {

/// True for names PyTorch gives parameters and buffers: "conv1.weight", "bn.running_mean", "fc.bias", ..., and
/// for the names its exporter makes up for values it creates ("onnx::MatMul_193"), which no caller chooses.
bool looks_like_parameter(const std::string& name);

/// The graph inputs among `ids` that are trained parameters the file should have carried (export_params=False
/// leaves them as inputs): those feeding a weight slot (Conv/ConvTranspose W and B, Gemm B and C, the
/// normalizations' scale, bias, mean and variance, the recurrent ops' W, R and B, PRelu's slope, a MatMul side
/// whose other side is computed), whatever their names, and those named like parameters. In `ids`' order.
std::vector<int> parameter_inputs(const ir::Graph& g, const std::vector<int>& ids);

/// Symbol bindings made so far in one run ("batch" -> 4), with the input that bound each.
struct SymbolBindings {
  std::map<std::string, std::pair<int64_t, std::string>> bound;
  /// When true, a symbol fed two sizes is refused. Otherwise the run goes ahead (plans are built from the fed
  /// sizes, never from names, so nothing depends on the two agreeing) and the symbol is listed in `conflicts`.
  bool strict = false;
  /// Per symbol fed two sizes (first time only): the symbol and a message saying where and what to do.
  std::vector<std::pair<std::string, std::string>> conflicts;
};

/// Checks one fed input (type and dims) against its declaration; throws Error(kInvalidArgument) that names
/// the input, the dim, the size given, and what the model declares. A named dim given two sizes is refused
/// only when `symbols.strict`; otherwise it is recorded in `symbols.conflicts`.
void check_input(const ir::Value& declared, DType dtype, const std::vector<int64_t>& dims, SymbolBindings& symbols);

/// Checks one fed value, a tensor or a container (sequence / optional), against its declaration: the kind
/// must match, and a container's tensors are checked for type, rank and fixed dims.
void check_input_value(const ir::Value& declared, const Tensor& fed, SymbolBindings& symbols);

/// Explains graph inputs that were not fed; throws Error(kInvalidArgument). When at least half of the missing
/// inputs are parameters (parameter_inputs), the message is the export_params=False explanation naming them.
[[noreturn]] void report_missing_inputs(const ir::Graph& g, const std::vector<int>& missing);

}  // namespace kiln::runtime
