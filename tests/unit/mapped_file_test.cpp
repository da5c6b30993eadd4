// release_mapped_pages: pages of a file mapping leave memory and read back unchanged; memory that is not a
// file mapping (heap, a MappedFile made from bytes) is never touched, since MADV_DONTNEED would zero it.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "base/mapped_file.h"

using kiln::MappedFile;

namespace {

std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>((i * 131) ^ (i >> 9));
  return v;
}

}  // namespace

TEST(MappedFile, ReleasedPagesReadBackUnchanged) {
  const auto path = std::filesystem::temp_directory_path() / ("kiln_mapped_" + std::to_string(getpid()));
  const std::vector<uint8_t> bytes = pattern(1 << 20);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
  {
    MappedFile f = MappedFile::open(path.string());
    ASSERT_EQ(f.size(), bytes.size());
    long sum = 0;
    for (uint8_t b : f.bytes()) sum += b;  // every page resident
    kiln::release_mapped_pages(f.data() + 100, f.size() - 200);
    EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), f.data()));
    EXPECT_GT(sum, 0);
  }
  std::filesystem::remove(path);
}

TEST(MappedFile, MemoryThatIsNotAFileMappingIsLeftAlone) {
  const std::vector<uint8_t> want = pattern(1 << 18);
  std::vector<uint8_t> heap = want;
  kiln::release_mapped_pages(heap.data(), heap.size());
  EXPECT_EQ(heap, want);
  MappedFile copy = MappedFile::from_bytes(want);
  kiln::release_mapped_pages(copy.data(), copy.size());
  EXPECT_TRUE(std::equal(want.begin(), want.end(), copy.data()));
}
