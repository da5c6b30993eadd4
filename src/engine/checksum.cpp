#include "engine/checksum.h"

#include <cstring>

namespace kiln::engine {

namespace {

constexpr uint64_t kFnvOffset = 14695981039346656037ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

inline uint64_t load_le64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);  // x86-64 and the other targets kiln builds for are little-endian
  return v;
}

}  // namespace

uint64_t checksum64(std::span<const uint8_t> bytes) {
  // Distinct starting values, so the lanes do not compute the same function of their words.
  uint64_t lane[4] = {kFnvOffset, kFnvOffset ^ 1, kFnvOffset ^ 2, kFnvOffset ^ 3};
  const uint8_t* p = bytes.data();
  size_t n = bytes.size();
  size_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int l = 0; l < 4; ++l) lane[l] = (lane[l] ^ load_le64(p + i + 8 * l)) * kFnvPrime;
  // The last < 32 bytes: whole words, then a zero-padded word, into lanes in order.
  int l = 0;
  for (; i < n; i += 8, l = (l + 1) % 4) {
    uint8_t tail[8] = {};
    std::memcpy(tail, p + i, n - i < 8 ? n - i : 8);
    lane[l] = (lane[l] ^ load_le64(tail)) * kFnvPrime;
  }
  // Combine: fold each lane's high half down (the multiply carries changes only upward) and chain the lanes
  // and the length through FNV-1a again.
  uint64_t h = kFnvOffset;
  for (uint64_t v : lane) h = (h ^ (v ^ (v >> 29) ^ (v >> 47))) * kFnvPrime;
  h = (h ^ static_cast<uint64_t>(n)) * kFnvPrime;
  return h ^ (h >> 32);
}

}  // namespace kiln::engine
