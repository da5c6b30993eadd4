#pragma once
// Tensors to and from the protocol's raw byte layout (gRPC raw_input_contents / raw_output_contents and HTTP's
// binary tensor extension): little-endian elements in row-major order; a BYTES tensor is each element as a
// 4-byte little-endian length followed by its bytes. Every size is checked before memory is allocated, so the
// largest tensor a request can make is bounded by the request's own size.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/tensor.h"

namespace kiln::serve {

/// The element count of `shape`; refuses (400) negative dims and counts past 2^62, naming `what`.
int64_t checked_element_count(std::string_view what, const std::vector<int64_t>& shape);

/// A tensor of `dtype` and `shape` holding `raw`, copied; refuses (400, naming the input) a byte count that does
/// not match the shape, and a BYTES buffer whose lengths overrun it or leave bytes over. BOOL bytes other than
/// 0 read as true.
Tensor tensor_from_raw(std::string_view input_name, DType dtype, const std::vector<int64_t>& shape,
                       std::string_view raw);

/// Bytes `tensor` takes in the raw layout.
size_t raw_byte_size(const Tensor& tensor);
/// Appends `tensor` in the raw layout to `out`.
void append_raw(const Tensor& tensor, std::string& out);

}  // namespace kiln::serve
