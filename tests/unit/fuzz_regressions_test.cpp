// Replays the fuzz seed corpus and every input that once crashed kiln (fuzz/regressions) through the fuzzed
// path in the normal build, so a regression shows up in `make test` even without clang.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "../../fuzz/fuzz_one.h"

namespace fs = std::filesystem;

TEST(FuzzRegressions, EveryKeptInputRunsOrIsRefusedCleanly) {
  size_t replayed = 0;
  for (const char* dir : {KILN_SOURCE_DIR "/fuzz/regressions", KILN_SOURCE_DIR "/fuzz/corpus"}) {
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir)) {
      std::ifstream f(e.path(), std::ios::binary);
      std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      SCOPED_TRACE(e.path().string());
      EXPECT_NO_THROW(kiln::fuzz::fuzz_one(bytes.data(), bytes.size()));
      ++replayed;
    }
  }
  EXPECT_GT(replayed, 10u) << "the seed corpus is missing";
}
