#pragma once
// Random tensors of any element type for the prepared-kernel tests.

#include <random>
#include <vector>

#include "kiln/tensor.h"

namespace kiln::testing {

/// Random elements of any non-string type (bools 0/1, floats finite).
inline Tensor random_any(std::vector<int64_t> dims, DType t, std::mt19937& rng) {
  Tensor x(t, std::move(dims));
  auto* b = static_cast<unsigned char*>(x.raw_data());
  std::uniform_int_distribution<int> byte(0, 255);
  for (size_t i = 0; i < x.nbytes(); ++i) b[i] = static_cast<unsigned char>(byte(rng));
  if (t == DType::kBool)
    for (size_t i = 0; i < x.nbytes(); ++i) b[i] &= 1;
  if (t == DType::kFloat32)
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>(byte(rng)) - 100.0f;
  if (t == DType::kFloat16)
    for (int64_t i = 0; i < x.numel(); ++i) x.data<Float16>()[i] = Float16(static_cast<float>(byte(rng)));
  return x;
}

inline Tensor ints(std::vector<int64_t> v, DType t = DType::kInt64) {
  Tensor x(t, {static_cast<int64_t>(v.size())});
  for (size_t i = 0; i < v.size(); ++i) {
    if (t == DType::kInt64) x.data<int64_t>()[i] = v[i];
    else x.data<int32_t>()[i] = static_cast<int32_t>(v[i]);
  }
  return x;
}

}  // namespace kiln::testing
