#pragma once
// NumPy .npy files: how people hand tensors to `kiln run` / `kiln compare` and read results back.

#include <string>

#include "kiln/tensor.h"

namespace kiln::onnx {

/// Reads a .npy file (format versions 1.0, 2.0 and 3.0; little-endian, C order) of bool, int8..int64,
/// uint8..uint64, float16, float32 or float64. Throws Error(kInvalidArgument) naming the file and the reason
/// for Fortran order, big-endian data, object, string, complex or structured arrays, and malformed or
/// truncated files; Error(kIo) when the file cannot be read.
Tensor read_npy(const std::string& path);

/// Writes `t` as a version 1.0 .npy file (version 2.0 when the header needs it). Narrow types are written one
/// byte per element: int4/int2 as int8 values, uint4/uint2 as uint8 values, float8 and float4e2m1 as uint8
/// bit patterns. Throws Error(kUnsupported) for string and bfloat16 tensors, which NumPy has no dtype for;
/// Error(kIo) on failure.
void write_npy(const std::string& path, const Tensor& t);

}  // namespace kiln::onnx
