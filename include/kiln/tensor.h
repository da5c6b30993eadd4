#pragma once
// kiln::Tensor: a typed, shaped block of elements that owns its memory or views memory owned elsewhere
// (a caller's buffer, a mapped model file, a run's arena). A Tensor may instead be one of ONNX's two
// container values: a sequence (an ordered list of tensors of one element type) or an optional (empty, or
// holding one tensor or one sequence). Containers own their elements; a plain tensor pays nothing for them.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kiln/dtype.h"
#include "kiln/error.h"

namespace kiln {

/// What a Tensor value is: a plain tensor, or one of ONNX's container values.
enum class TensorKind : uint8_t { kTensor, kSequence, kOptional };
/// "tensor", "sequence", "optional".
const char* tensor_kind_name(TensorKind k);

class Tensor {
 public:
  /// An empty tensor (dtype undefined, no data).
  Tensor() = default;
  /// Allocates zero-initialised memory for `dims` (64-byte aligned). Throws on negative dims or overflow.
  Tensor(DType dtype, std::vector<int64_t> dims);

  /// Views `data` without copying or owning it; the caller keeps it alive and unchanged while in use.
  static Tensor borrow(DType dtype, std::vector<int64_t> dims, void* data);
  /// Views `data`, keeping `owner` alive for as long as this tensor or a copy of it lives.
  static Tensor view(DType dtype, std::vector<int64_t> dims, const void* data, std::shared_ptr<const void> owner);

  /// A sequence of `elements`, every one a plain tensor of element type `elem` (checked). The elements are
  /// shared, not copied: give tensors that own their memory (or outlive the sequence).
  static Tensor make_sequence(DType elem, std::vector<Tensor> elements);
  /// An optional holding `value` (a plain tensor or a sequence).
  static Tensor make_optional(Tensor value);
  /// An empty optional that would hold a `holds` (tensor or sequence) of element type `elem`.
  static Tensor make_empty_optional(DType elem, TensorKind holds = TensorKind::kTensor);

  /// A 0-d tensor holding one value.
  template <typename T> static Tensor scalar(T value) {
    Tensor t(dtype_of<T>(), {});
    t.data<T>()[0] = value;
    return t;
  }
  /// A tensor of `dims` holding a copy of `values` (sizes must agree).
  template <typename T> static Tensor from_vector(std::vector<int64_t> dims, const std::vector<T>& values) {
    Tensor t(dtype_of<T>(), std::move(dims));
    if (static_cast<size_t>(t.numel()) != values.size())
      throw Error(ErrorCode::kInvalidArgument, "Tensor::from_vector: value count does not match dims");
    for (size_t i = 0; i < values.size(); ++i) t.data<T>()[i] = values[i];
    return t;
  }

  TensorKind kind() const { return kind_; }
  bool is_tensor() const { return kind_ == TensorKind::kTensor; }
  bool is_sequence() const { return kind_ == TensorKind::kSequence; }
  bool is_optional() const { return kind_ == TensorKind::kOptional; }
  /// A sequence's tensors, or an optional's content (none or one). Empty for a plain tensor.
  const std::vector<Tensor>& elements() const;
  /// For an optional: whether it holds a value.
  bool has_element() const { return items_ && !items_->empty(); }
  /// For an optional: what it holds or would hold (tensor or sequence).
  TensorKind optional_holds() const { return holds_; }

  /// The element type; for a container, the element type of the tensors it holds.
  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& dims() const { return dims_; }
  size_t rank() const { return dims_.size(); }
  int64_t dim(size_t i) const { return dims_.at(i); }
  int64_t numel() const { return numel_; }
  /// Bytes of element storage (for strings: numel * sizeof(std::string)); for a container, its tensors' bytes.
  size_t nbytes() const;
  /// True once data has been attached (an empty tensor of 0 elements still counts as defined); containers are
  /// always defined.
  bool defined() const { return dtype_ != DType::kUndefined || kind_ != TensorKind::kTensor; }
  /// True when this tensor (or a tensor it was copied from) allocated its memory; for a container, when every
  /// tensor it holds does.
  bool owns_memory() const { return kind_ == TensorKind::kTensor ? owns_ : elements_own_memory(); }

  void* raw_data() { return data_; }
  const void* raw_data() const { return data_; }
  /// Typed element access; throws when T does not match dtype().
  template <typename T> T* data() {
    check_type(dtype_of<T>());
    return static_cast<T*>(data_);
  }
  template <typename T> const T* data() const {
    check_type(dtype_of<T>());
    return static_cast<const T*>(data_);
  }
  template <typename T> std::span<T> span() { return {data<T>(), static_cast<size_t>(numel_)}; }
  template <typename T> std::span<const T> span() const { return {data<T>(), static_cast<size_t>(numel_)}; }

  /// A deep copy that owns its memory (a container's tensors are copied too).
  Tensor clone() const;
  /// The same data with other dims of equal element count (shares memory).
  Tensor reshaped(std::vector<int64_t> dims) const;
  /// Element i converted to int64 (integer, bool and float types); for reading shape-like inputs.
  int64_t int_at(int64_t i) const;
  /// Element i converted to double (numeric types).
  double double_at(int64_t i) const;
  /// All elements converted to int64.
  std::vector<int64_t> to_int64_vector() const;

 private:
  void check_type(DType t) const;
  bool elements_own_memory() const;

  DType dtype_ = DType::kUndefined;
  std::vector<int64_t> dims_;
  int64_t numel_ = 0;
  void* data_ = nullptr;
  std::shared_ptr<const void> owner_;
  bool owns_ = false;
  TensorKind kind_ = TensorKind::kTensor;
  TensorKind holds_ = TensorKind::kTensor;               // optionals: what they hold
  std::shared_ptr<const std::vector<Tensor>> items_;  // containers: their tensors (immutable once made)
};

}  // namespace kiln
