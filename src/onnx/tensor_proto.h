#pragma once
// TensorProto and SparseTensorProto, between the wire format and kiln::Tensor. Internal to src/onnx: the
// loader and tensor_io.cpp share these.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kiln/tensor.h"
#include "onnx/external_data.h"
#include "onnx/wire.h"

namespace kiln::onnx {

/// The fields of one TensorProto, payloads still pointing into the buffer it was read from.
struct TensorProtoFields {
  std::string name;
  int32_t data_type = 0;
  std::vector<int64_t> dims;
  bool has_raw_data = false;
  std::span<const uint8_t> raw_data;
  std::vector<WireField> typed_data;  ///< float_data, int32_data, string_data, int64_data, double_data, uint64_data
  std::vector<std::pair<std::string, std::string>> external_data;
  int32_t data_location = 0;
  bool has_segment = false;
  size_t offset = 0;  ///< where the message starts in the buffer, for errors
};

/// Reads a TensorProto's fields (unknown fields skipped).
TensorProtoFields read_tensor_fields(WireReader r);

/// Where a tensor's bytes come from while it is being decoded.
struct TensorSource {
  /// Keeps the buffer the fields point into alive; when set, raw_data becomes a zero-copy view when its
  /// address suits the element type. When null, data is always copied.
  std::shared_ptr<const void> owner;
  /// Resolves data_location = EXTERNAL; null where no folder is known (the reference is then refused).
  ExternalDataResolver* external = nullptr;
  /// Says why external data cannot be resolved when `external` is null ("the model was loaded from bytes").
  const char* no_external_reason = "no model folder is known";
};

/// Decodes the fields into a Tensor. Errors: Error(kInvalidModel) naming the tensor for bad dims, sizes that
/// disagree, data in fields that do not match the type; Error(kUnsupported) for ONNX types kiln cannot hold.
Tensor decode_tensor(const WireReader& r, const TensorProtoFields& f, const TensorSource& src);

/// Reads and decodes the TensorProto held by field `field` of `parent`; returns its name in `name`.
Tensor read_tensor(const WireReader& parent, const WireField& field, const TensorSource& src, std::string* name);

/// Reads a SparseTensorProto (COO: values, indices [NNZ, rank] or linear [NNZ], dims) into a dense tensor.
Tensor read_sparse_tensor(const WireReader& parent, const WireField& field, const TensorSource& src,
                          std::string* name);

/// Writes `t` as the body of a TensorProto: dims, data_type, name, then raw_data (string_data for strings;
/// 4- and 2-bit types packed as ONNX stores them).
void write_tensor_fields(WireWriter& w, const Tensor& t, const std::string& name);

/// Writes `t` as the body of a SparseTensorProto holding its nonzero elements with linear int64 indices.
void write_sparse_tensor_fields(WireWriter& w, const Tensor& t, const std::string& name);

/// ONNX's name for element type `n` (dtype_name for the numbers ONNX defines); "" for none.
std::string onnx_type_name(int32_t n);

}  // namespace kiln::onnx
