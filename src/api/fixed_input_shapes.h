#pragma once
// SessionOptions::fixed_input_shapes: graph inputs' declared dims replaced by numbers when a session is created,
// before the graph passes, so that Shape/Size chains on them fold (`kiln optimize --shape`, engines built for
// one shape). A symbol a fixed dim replaces takes that size in every other input that declares it, as ONNX
// Runtime's free-dimension overrides do.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace kiln {

/// Rewrites the declared shapes of g's inputs. Throws Error(kInvalidArgument) naming the input and the dim for
/// an input the model does not have (listing those it has), a rank other than the declared one, a negative
/// size, a size that contradicts a fixed dim of the model, or one symbol given two sizes.
void fix_input_shapes(ir::Graph& g, const std::map<std::string, std::vector<int64_t>>& shapes);

}  // namespace kiln
