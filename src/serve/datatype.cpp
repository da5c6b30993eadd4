#include "datatype.h"

namespace kiln::serve {

namespace {

struct NamedType {
  std::string_view name;
  DType dtype;
};

// The protocol's datatypes (KServe v2 "Tensor Data Types"); BYTES is kiln's string tensor.
constexpr NamedType kTypes[] = {
    {"BOOL", DType::kBool},     {"UINT8", DType::kUInt8},   {"UINT16", DType::kUInt16},
    {"UINT32", DType::kUInt32}, {"UINT64", DType::kUInt64}, {"INT8", DType::kInt8},
    {"INT16", DType::kInt16},   {"INT32", DType::kInt32},   {"INT64", DType::kInt64},
    {"FP16", DType::kFloat16},  {"FP32", DType::kFloat32},  {"FP64", DType::kFloat64},
    {"BF16", DType::kBFloat16}, {"BYTES", DType::kString},
};

}  // namespace

std::string_view datatype_name(DType t) {
  for (const NamedType& n : kTypes)
    if (n.dtype == t) return n.name;
  return {};
}

std::optional<DType> datatype_from_name(std::string_view name) {
  for (const NamedType& n : kTypes)
    if (n.name == name) return n.dtype;
  return std::nullopt;
}

}  // namespace kiln::serve
