// base/aligned_memory: the packed-weight chunks and the aligned allocation behind tensors and arenas.
#include "base/aligned_memory.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace kiln {
namespace {

bool aligned64(const void* p) { return reinterpret_cast<uintptr_t>(p) % 64 == 0; }

TEST(AlignedMemory, AllocAlignedRoundsUpAndAligns) {
  for (size_t bytes : {size_t{0}, size_t{1}, size_t{63}, size_t{4096}, size_t{5} << 20}) {
    void* p = alloc_aligned(64, bytes);
    ASSERT_NE(p, nullptr) << bytes;
    EXPECT_TRUE(aligned64(p)) << bytes;
    std::memset(p, 0xab, std::max<size_t>(bytes, 1));  // writable to its end (ASan checks the bound)
    std::free(p);
  }
}

// Blocks are aligned, never overlap, and keep their bytes after the allocator (and every other block) is gone.
TEST(AlignedMemory, ChunkedBlocksAreDisjointAndOutliveTheAllocator) {
  std::vector<std::shared_ptr<void>> blocks;
  std::vector<size_t> sizes;
  {
    ChunkedAllocator memory(size_t{1} << 20);
    size_t k = 0;
    // From 1 byte to more than a quarter chunk (its own allocation), enough to fill several chunks.
    for (size_t bytes : {size_t{1}, size_t{100}, size_t{4096}, size_t{300000}, size_t{70000}, size_t{262145},
                         size_t{900000}, size_t{5000}, size_t{200000}, size_t{200000}, size_t{200000}}) {
      std::shared_ptr<void> b = memory.allocate(bytes);
      ASSERT_NE(b, nullptr);
      EXPECT_TRUE(aligned64(b.get()));
      std::memset(b.get(), static_cast<int>(++k), bytes);
      blocks.push_back(b);
      sizes.push_back(bytes);
    }
  }
  for (size_t i = 0; i < blocks.size(); ++i) {
    const auto* a = static_cast<const unsigned char*>(blocks[i].get());
    for (size_t j = 0; j < sizes[i]; ++j) ASSERT_EQ(a[j], i + 1) << "block " << i << " byte " << j;
    for (size_t k = 0; k < blocks.size(); ++k) {
      if (k == i) continue;
      const auto* b = static_cast<const unsigned char*>(blocks[k].get());
      EXPECT_TRUE(a + sizes[i] <= b || b + sizes[k] <= a) << "blocks " << i << " and " << k << " overlap";
    }
  }
  // Releasing them in any order is safe (each holds its chunk).
  for (size_t i = 0; i < blocks.size(); i += 2) blocks[i].reset();
  blocks.clear();
}

}  // namespace
}  // namespace kiln
