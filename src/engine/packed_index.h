#pragma once
// The index of an engine's packed weights (section kind 4) and what it says about the packed data (kind 5).
//
// Kind 5 holds byte blobs, each at a 64-byte-aligned offset: the packed constants prepare produced at build
// (GEMM panels, Winograd-transformed filters), and the raw bytes of the large float initializers that only
// prepared kernels read (moved out of the model section, so that section stays small and is checked whole at
// load). Kind 4 lists them:
//   u32 entry count; per entry: u32 node (PrepareContext::node_seq), u32 ordinal (the node's n-th request),
//     str what, str layout, u32 size count, i64 sizes..., u64 offset, u64 bytes, u64 checksum64
//   u32 raw count; per raw weight: str initializer name, i32 dtype, u32 rank, i64 dims..., u64 offset,
//     u64 bytes, u64 checksum64
// The data section as a whole has no checksum (its table field is 0): each blob's own is checked before the
// first run that reads it (docs/architecture.md, "Engines"), so a load touches none of it.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kiln/dtype.h"

namespace kiln::engine {

struct PackedEntry {
  uint32_t node = 0, ordinal = 0;
  std::string what, layout;  ///< ops::PackedKey
  std::vector<int64_t> sizes;
  uint64_t offset = 0, bytes = 0, checksum = 0;  ///< in the data section
};

struct RawWeight {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> dims;
  uint64_t offset = 0, bytes = 0, checksum = 0;  ///< in the data section
};

struct PackedIndex {
  std::vector<PackedEntry> entries;
  std::vector<RawWeight> raw;
};

std::vector<uint8_t> encode_packed_index(const PackedIndex& index);

/// Reads an index whose blobs lie in a data section of `data_size` bytes; refuses (Error kInvalidModel, naming
/// what) a blob outside it or not 64-byte aligned, a raw weight whose bytes are not its dims' size, a repeated
/// (node, ordinal) or raw name, absurd counts, and trailing bytes.
PackedIndex decode_packed_index(std::span<const uint8_t> bytes, uint64_t data_size);

}  // namespace kiln::engine
