// SparseTensorProto (COO) to and from dense kiln::Tensors. kiln computes on dense tensors only, so sparse
// initializers and attributes are densified on load, within a size limit since a few bytes of sparse file
// can describe an enormous dense tensor.
#include <cstring>

#include "base/error.h"
#include "kiln/shape.h"
#include "onnx/tensor_proto.h"

namespace kiln::onnx {

namespace {

constexpr int64_t kMaxDensifiedBytes = int64_t{1} << 30;

// SparseTensorProto field numbers (onnx/onnx.proto).
enum SparseField : uint32_t { kValues = 1, kIndices = 2, kDims = 3 };

}  // namespace

Tensor read_sparse_tensor(const WireReader& parent, const WireField& field, const TensorSource& src,
                          std::string* name) {
  WireReader r = parent.message(field, "SparseTensorProto");
  Tensor values, indices;
  bool has_values = false, has_indices = false;
  std::string values_name;
  std::vector<int64_t> dims;
  WireField w;
  while (r.next(w)) {
    if (w.number == kValues) {
      values = read_tensor(r, w, src, &values_name);
      has_values = true;
    } else if (w.number == kIndices) {
      indices = read_tensor(r, w, src, nullptr);
      has_indices = true;
    } else if (w.number == kDims) {
      r.append_varints(w, dims);
    }
  }
  if (name) *name = values_name;
  std::string label = values_name.empty() ? fmt::format("sparse tensor at byte {}", field.offset)
                                          : fmt::format("sparse tensor '{}'", values_name);
  if (!has_values) fail(ErrorCode::kInvalidModel, "{} has no values", label);
  if (values.rank() != 1)
    fail(ErrorCode::kInvalidModel, "{}: values must be 1-D, not {}", label, dims_text(values.dims()));
  if (values.dtype() == DType::kString)
    fail(ErrorCode::kUnsupported, "{} holds strings; kiln densifies only numeric sparse tensors", label);
  int64_t numel = 1;
  for (int64_t d : dims) {
    if (d < 0) fail(ErrorCode::kInvalidModel, "{} has negative dim {}", label, d);
    if (__builtin_mul_overflow(numel, d, &numel))
      fail(ErrorCode::kInvalidModel, "{}: the element count of dims {} overflows 64 bits", label, dims_text(dims));
  }
  const auto elem = static_cast<int64_t>(dtype_size(values.dtype()));
  if (numel > kMaxDensifiedBytes / elem)
    fail(ErrorCode::kLimitExceeded, "{} with dims {} would take more than {} bytes once densified", label,
         dims_text(dims), kMaxDensifiedBytes);
  const int64_t nnz = values.numel();
  if (nnz > 0 && !has_indices) fail(ErrorCode::kInvalidModel, "{} has values but no indices", label);
  if (nnz > 0 && indices.dtype() != DType::kInt64)
    fail(ErrorCode::kInvalidModel, "{}: indices must be int64, not {}", label, dtype_name(indices.dtype()));
  const bool linear = indices.rank() == 1;
  if (nnz > 0 && !(linear && indices.dim(0) == nnz) &&
      !(indices.rank() == 2 && indices.dim(0) == nnz && indices.dim(1) == static_cast<int64_t>(dims.size())))
    fail(ErrorCode::kInvalidModel, "{}: indices have shape {}; with {} values and rank {} ONNX needs [{}] or [{},{}]",
         label, dims_text(indices.dims()), nnz, dims.size(), nnz, nnz, dims.size());
  Tensor dense(values.dtype(), dims);
  const auto* in = static_cast<const uint8_t*>(values.raw_data());
  auto* out = static_cast<uint8_t*>(dense.raw_data());
  const int64_t* idx = nnz > 0 ? indices.data<int64_t>() : nullptr;
  for (int64_t k = 0; k < nnz; ++k) {
    int64_t pos = 0;
    if (linear) {
      pos = idx[k];
      if (pos < 0 || pos >= numel)
        fail(ErrorCode::kInvalidModel, "{}: index {} of value {} is outside {} elements", label, pos, k, numel);
    } else {
      for (size_t d = 0; d < dims.size(); ++d) {
        int64_t i = idx[static_cast<size_t>(k) * dims.size() + d];
        if (i < 0 || i >= dims[d])
          fail(ErrorCode::kInvalidModel, "{}: index {} on axis {} of value {} is outside dim {}", label, i, d, k,
               dims[d]);
        pos = pos * dims[d] + i;  // cannot overflow: bounded by numel
      }
    }
    std::memcpy(out + pos * elem, in + k * elem, static_cast<size_t>(elem));
  }
  return dense;
}

void write_sparse_tensor_fields(WireWriter& w, const Tensor& t, const std::string& name) {
  if (!t.defined() || t.dtype() == DType::kString)
    fail(ErrorCode::kUnsupported, "cannot write tensor '{}' as a sparse tensor: only numeric tensors can be", name);
  const auto elem = dtype_size(t.dtype());
  const auto* data = static_cast<const uint8_t*>(t.raw_data());
  static const uint8_t zero[16] = {};
  std::vector<int64_t> positions;
  for (int64_t i = 0; i < t.numel(); ++i)
    if (std::memcmp(data + static_cast<size_t>(i) * elem, zero, elem) != 0) positions.push_back(i);
  Tensor values(t.dtype(), {static_cast<int64_t>(positions.size())});
  auto* out = static_cast<uint8_t*>(values.raw_data());
  for (size_t k = 0; k < positions.size(); ++k)
    std::memcpy(out + k * elem, data + static_cast<size_t>(positions[k]) * elem, elem);
  size_t mark = w.begin_message(kValues);
  write_tensor_fields(w, values, name);
  w.end_message(mark);
  mark = w.begin_message(kIndices);
  write_tensor_fields(w, Tensor::from_vector<int64_t>({static_cast<int64_t>(positions.size())}, positions), "");
  w.end_message(mark);
  for (int64_t d : t.dims()) w.int64_field(kDims, d);
}

}  // namespace kiln::onnx
