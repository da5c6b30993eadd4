#pragma once
// Small helpers the subcommands share: NAME=VALUE arguments, dims strings, byte counts.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "kiln/tensor.h"

namespace kiln::cli {

/// Splits "NAME=VALUE" at the first '='; throws Error(kInvalidArgument) naming the option when malformed.
std::pair<std::string, std::string> split_assignment(const std::string& arg, const char* option);
/// Parses "1x3x224x224" (or "1,3,224,224"); "scalar" or "" is rank 0.
std::vector<int64_t> parse_dims(const std::string& text, const std::string& what);
/// The --shape NAME=DIMS arguments as a map from input name to dims.
std::map<std::string, std::vector<int64_t>> parse_shape_args(const std::vector<std::string>& args);
/// "12.5 MiB".
std::string human_bytes(double bytes);
/// Reads a tensor from a .npy file or an ONNX TensorProto .pb file (by content, not extension).
Tensor read_tensor_file(const std::string& path);
/// A file name for an output: characters outside [A-Za-z0-9._-] become '_'.
std::string safe_file_name(const std::string& name);

}  // namespace kiln::cli
