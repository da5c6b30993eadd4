#include "kiln/tensor.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

#include "base/checked.h"
#include "ir/dispatch.h"
#include "ir/narrow_types.h"
#include "kiln/shape.h"

namespace kiln {

namespace {

constexpr size_t kAlignment = 64;

// Owned storage: aligned raw bytes, or constructed std::strings for string tensors.
struct Storage {
  void* ptr = nullptr;
  int64_t strings = 0;  // number of constructed std::string objects, 0 for other types
  ~Storage() {
    if (strings > 0) {
      auto* s = static_cast<std::string*>(ptr);
      for (int64_t i = 0; i < strings; ++i) s[i].~basic_string();
    }
    std::free(ptr);
  }
};

}  // namespace

Tensor::Tensor(DType dtype, std::vector<int64_t> dims) : dtype_(dtype), dims_(std::move(dims)) {
  if (!dtype_is_supported(dtype))
    fail(ErrorCode::kUnsupported, "kiln cannot hold tensors of element type {}", dtype_name(dtype));
  numel_ = checked_numel(dims_, "tensor element count");
  int64_t bytes = checked_mul(numel_, static_cast<int64_t>(dtype_size(dtype)), "tensor byte size");
  // Past 1 TiB no machine kiln runs on can allocate; refusing here (rather than trusting aligned_alloc to
  // return null) keeps the error the same under ASan, whose allocator aborts on such sizes.
  constexpr int64_t kMaxTensorBytes = int64_t{1} << 40;
  if (bytes > kMaxTensorBytes)
    fail(ErrorCode::kLimitExceeded, "a tensor of {} needs {} bytes, more than any allocation can hold", dims_str(dims_),
         bytes);
  size_t alloc = (static_cast<size_t>(bytes) + kAlignment - 1) / kAlignment * kAlignment;
  if (alloc == 0) alloc = kAlignment;
  auto storage = std::make_shared<Storage>();
  storage->ptr = std::aligned_alloc(kAlignment, alloc);
  if (!storage->ptr)
    fail(ErrorCode::kLimitExceeded, "out of memory allocating {} bytes for a tensor of {}", bytes, dims_str(dims_));
  if (dtype == DType::kString) {
    auto* s = static_cast<std::string*>(storage->ptr);
    for (int64_t i = 0; i < numel_; ++i) new (s + i) std::string();
    storage->strings = numel_;
  } else {
    std::memset(storage->ptr, 0, alloc);
  }
  data_ = storage->ptr;
  owner_ = std::move(storage);
  owns_ = true;
}

Tensor Tensor::borrow(DType dtype, std::vector<int64_t> dims, void* data) {
  return view(dtype, std::move(dims), data, nullptr);
}

Tensor Tensor::view(DType dtype, std::vector<int64_t> dims, const void* data, std::shared_ptr<const void> owner) {
  if (!dtype_is_supported(dtype))
    fail(ErrorCode::kUnsupported, "kiln cannot hold tensors of element type {}", dtype_name(dtype));
  Tensor t;
  t.dtype_ = dtype;
  t.dims_ = std::move(dims);
  t.numel_ = checked_numel(t.dims_, "tensor element count");
  checked_mul(t.numel_, static_cast<int64_t>(dtype_size(dtype)), "tensor byte size");
  t.data_ = const_cast<void*>(data);
  t.owner_ = std::move(owner);
  return t;
}

size_t Tensor::nbytes() const {
  if (kind_ == TensorKind::kTensor) return static_cast<size_t>(numel_) * dtype_size(dtype_);
  size_t n = 0;
  for (const Tensor& e : elements()) n += e.nbytes();
  return n;
}

void Tensor::check_type(DType t) const {
  if (kind_ != TensorKind::kTensor)
    fail(ErrorCode::kInvalidArgument, "a {} of {} tensors was accessed as a tensor of {} elements",
         tensor_kind_name(kind_), dtype_name(dtype_), dtype_name(t));
  if (t != dtype_)
    fail(ErrorCode::kInvalidArgument, "tensor holds {} elements, accessed as {}", dtype_name(dtype_), dtype_name(t));
}

const char* tensor_kind_name(TensorKind k) {
  switch (k) {
    case TensorKind::kTensor: return "tensor";
    case TensorKind::kSequence: return "sequence";
    case TensorKind::kOptional: return "optional";
  }
  return "?";
}

Tensor Tensor::make_sequence(DType elem, std::vector<Tensor> elements) {
  for (size_t i = 0; i < elements.size(); ++i) {
    const Tensor& e = elements[i];
    if (!e.is_tensor() || !e.defined())
      fail(ErrorCode::kInvalidArgument, "sequence element {} is {}; a sequence holds tensors only", i,
           e.defined() ? tensor_kind_name(e.kind()) : "an undefined tensor");
    if (e.dtype() != elem)
      fail(ErrorCode::kInvalidArgument, "sequence element {} is a tensor of {}, but the sequence holds {}", i,
           dtype_name(e.dtype()), dtype_name(elem));
  }
  Tensor t;
  t.dtype_ = elem;
  t.kind_ = TensorKind::kSequence;
  t.items_ = std::make_shared<const std::vector<Tensor>>(std::move(elements));
  return t;
}

Tensor Tensor::make_optional(Tensor value) {
  if (!value.defined()) fail(ErrorCode::kInvalidArgument, "an optional cannot hold an undefined tensor");
  if (value.is_optional()) fail(ErrorCode::kInvalidArgument, "an optional cannot hold another optional");
  Tensor t;
  t.dtype_ = value.dtype();
  t.kind_ = TensorKind::kOptional;
  t.holds_ = value.kind();
  t.items_ = std::make_shared<const std::vector<Tensor>>(std::vector<Tensor>{std::move(value)});
  return t;
}

Tensor Tensor::make_empty_optional(DType elem, TensorKind holds) {
  if (holds == TensorKind::kOptional) fail(ErrorCode::kInvalidArgument, "an optional cannot hold another optional");
  Tensor t;
  t.dtype_ = elem;
  t.kind_ = TensorKind::kOptional;
  t.holds_ = holds;
  return t;
}

const std::vector<Tensor>& Tensor::elements() const {
  static const std::vector<Tensor> kNone;
  return items_ ? *items_ : kNone;
}

bool Tensor::elements_own_memory() const {
  for (const Tensor& e : elements())
    if (!e.owns_memory()) return false;
  return true;
}

Tensor Tensor::clone() const {
  if (kind_ != TensorKind::kTensor) {
    Tensor t = *this;
    if (items_) {
      std::vector<Tensor> copies;
      copies.reserve(items_->size());
      for (const Tensor& e : *items_) copies.push_back(e.clone());
      t.items_ = std::make_shared<const std::vector<Tensor>>(std::move(copies));
    }
    return t;
  }
  if (!defined()) return {};
  Tensor t(dtype_, dims_);
  if (dtype_ == DType::kString) {
    const auto* src = static_cast<const std::string*>(data_);
    auto* dst = static_cast<std::string*>(t.data_);
    for (int64_t i = 0; i < numel_; ++i) dst[i] = src[i];
  } else if (nbytes()) {
    std::memcpy(t.data_, data_, nbytes());
  }
  return t;
}

Tensor Tensor::reshaped(std::vector<int64_t> dims) const {
  check_type(dtype_);
  Tensor t = *this;
  int64_t n = checked_numel(dims, "reshaped element count");
  if (n != numel_)
    fail(ErrorCode::kInvalidArgument, "cannot view {} elements as {}", numel_, dims_str(dims));
  t.dims_ = std::move(dims);
  return t;
}

int64_t Tensor::int_at(int64_t i) const {
  if (dtype_is_narrow_integer(dtype_)) return narrow_int_value(dtype_, static_cast<const uint8_t*>(data_)[i]);
  if (dtype_is_narrow_float(dtype_)) {  // truncated toward zero; NaN and inf (not integers) give 0
    const float v = narrow_float_value(dtype_, static_cast<const uint8_t*>(data_)[i]);
    return std::isfinite(v) ? static_cast<int64_t>(v) : 0;
  }
  return visit_numeric_or_bool(dtype_, [&]<typename T>() -> int64_t {
    return static_cast<int64_t>(static_cast<const T*>(data_)[i]);
  }, "reading an integer");
}

double Tensor::double_at(int64_t i) const {
  if (dtype_is_narrow(dtype_)) return narrow_value(dtype_, static_cast<const uint8_t*>(data_)[i]);
  return visit_numeric_or_bool(dtype_, [&]<typename T>() -> double {
    if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>)
      return static_cast<float>(static_cast<const T*>(data_)[i]);
    else
      return static_cast<double>(static_cast<const T*>(data_)[i]);
  }, "reading a number");
}

std::vector<int64_t> Tensor::to_int64_vector() const {
  check_type(dtype_);
  std::vector<int64_t> v(static_cast<size_t>(numel_));
  for (int64_t i = 0; i < numel_; ++i) v[static_cast<size_t>(i)] = int_at(i);
  return v;
}

}  // namespace kiln
