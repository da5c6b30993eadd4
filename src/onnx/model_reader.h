#pragma once
// Internal to src/onnx: the readers for ONNX's graph-level messages, shared by the loader's pieces.

#include <memory>
#include <string>
#include <string_view>

#include "ir/graph.h"
#include "onnx/tensor_proto.h"
#include "onnx/wire.h"

namespace kiln::onnx {

/// What every reader below needs: where tensor bytes come from and the nesting limit.
struct ReadContext {
  TensorSource tensors;
  int max_nesting = 32;
};

/// Reads the GraphProto in field `f` of `parent`. `depth` is 0 for the main graph and grows by one per
/// subgraph level; subgraphs (depth > 0) record the names they read from enclosing graphs in outer_refs.
std::shared_ptr<ir::Graph> read_graph(const WireReader& parent, const WireField& f, ReadContext& ctx, int depth);

/// Reads a FunctionProto into `fn` (its body a graph whose inputs and outputs are the function's).
void read_function(const WireReader& parent, const WireField& f, ReadContext& ctx, ir::Function& fn);

/// Reads the AttributeProto in field `f`; graph-valued attributes are read at `depth` + 1.
ir::Attribute read_attribute(const WireReader& parent, const WireField& f, ReadContext& ctx, int depth);

/// True for a dim_param that names no dim but stands for "unknown": empty, no letter or digit ("?", "*"), a
/// number ("-1"), or a word for nothing ("None", "unk", "unknown"). Exporters write these (paddle2onnx: "?");
/// read as symbols they would tie every such dim to every other one, so they are read as unknown dims.
bool is_placeholder_dim_name(std::string_view name);

/// Reads the TypeProto in field `f`. `what` names the value or attribute, for errors.
ir::ValueType read_type(const WireReader& parent, const WireField& f, const std::string& what, int depth = 0);

/// Reads an OperatorSetIdProto.
ir::OpsetImport read_opset_import(const WireReader& parent, const WireField& f);

}  // namespace kiln::onnx
