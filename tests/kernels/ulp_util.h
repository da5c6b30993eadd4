#pragma once
// Accuracy measurement for float kernels: the error of a float result in units in the last place of the
// exact value (double), and sweeps of inputs over every binade, denormals and the special values.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace kiln::testing {

/// |got - want| in ulps of float at want (denormal spacing below FLT_MIN). 0 when both are the same NaN or
/// infinity, infinity when only one of them is NaN or infinite.
inline double ulp_error(float got, double want) {
  if (std::isnan(want) || std::isnan(got)) return std::isnan(want) && std::isnan(got) ? 0.0 : INFINITY;
  const float wf = static_cast<float>(want);
  if (std::isinf(wf) || std::isinf(got)) return wf == got ? 0.0 : INFINITY;
  const double a = std::fabs(static_cast<double>(wf));
  const double ulp = a < std::numeric_limits<float>::min() ? std::ldexp(1.0, -149) : std::ldexp(1.0, std::ilogb(a) - 23);
  return std::fabs(static_cast<double>(got) - want) / ulp;
}

inline float float_from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

/// Inputs for accuracy sweeps: `per_binade` random values of each sign in every binade (denormals
/// included), a dense uniform grid over [-dense, dense], and 0, -0, the extreme denormals and normals,
/// ±inf and NaN.
inline std::vector<float> sweep_inputs(int per_binade, int dense_count, float dense) {
  std::mt19937 rng(12345);
  std::vector<float> v;
  for (uint32_t exp = 0; exp < 255; ++exp)
    for (int k = 0; k < per_binade; ++k) {
      const uint32_t bits = (exp << 23) | (rng() & 0x7FFFFF);
      v.push_back(float_from_bits(bits));
      v.push_back(-float_from_bits(bits));
    }
  for (int k = 0; k <= dense_count; ++k) v.push_back(-dense + 2 * dense * static_cast<float>(k) / dense_count);
  const float specials[] = {0.0f, -0.0f, float_from_bits(1), float_from_bits(0x7FFFFF), std::numeric_limits<float>::min(),
                            std::numeric_limits<float>::max(), 1.0f, -1.0f, INFINITY, -INFINITY, NAN};
  for (float s : specials) {
    v.push_back(s);
    v.push_back(-s);
  }
  return v;
}

}  // namespace kiln::testing
