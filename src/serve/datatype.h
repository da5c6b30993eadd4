#pragma once
// The protocol's tensor datatypes ("FP32", "INT64", "BYTES", ...) and kiln's element types.

#include <optional>
#include <string_view>

#include "kiln/dtype.h"

namespace kiln::serve {

/// The protocol's name for a kiln type; empty for a type the protocol has no name for (float8, int4, ...).
std::string_view datatype_name(DType t);
/// The kiln type of a protocol datatype name, or nullopt when the name is not one of the protocol's.
std::optional<DType> datatype_from_name(std::string_view name);

}  // namespace kiln::serve
