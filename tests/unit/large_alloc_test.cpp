// base/large_alloc: every size gives 64-byte aligned memory that std::free releases; from 2 MiB up the buffer
// starts on a 2 MiB boundary (the whole of it can then be backed by huge pages), below that it does not need to.

#include "base/large_alloc.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace kiln {
namespace {

constexpr size_t kHuge = size_t{2} << 20;

TEST(LargeAlloc, AlignsEverySizeAndHugeOnesToTwoMebibytes) {
  for (size_t bytes : {size_t{0}, size_t{1}, size_t{63}, size_t{4096}, kHuge - 1, kHuge, kHuge + 1, 3 * kHuge + 5}) {
    SCOPED_TRACE(bytes);
    void* p = large_alloc(bytes);
    ASSERT_NE(p, nullptr);
    const auto at = reinterpret_cast<uintptr_t>(p);
    EXPECT_EQ(at % 64, 0u);
    if (bytes >= kHuge) EXPECT_EQ(at % kHuge, 0u);
    // The whole rounded-up size is usable.
    const size_t usable = (bytes + 63) / 64 * 64;
    std::memset(p, 0x5a, usable);
    if (usable) EXPECT_EQ(static_cast<unsigned char*>(p)[usable - 1], 0x5a);
    std::free(p);
  }
}

}  // namespace
}  // namespace kiln
