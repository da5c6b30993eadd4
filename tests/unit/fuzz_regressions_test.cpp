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

// The input of issue 7: a Conv whose kernel_shape has 1 value while x and w have 2 spatial dims was read past
// the attribute's end. It is refused, naming the attribute, its length and the rank.
TEST(FuzzRegressions, ConvKernelShapeShorterThanTheRankIsRefused) {
  kiln::Session s = kiln::Session::from_file(KILN_SOURCE_DIR "/fuzz/regressions/conv_kernel_shape_shorter_than_rank.onnx");
  kiln::Tensor x(kiln::DType::kFloat32, {1, 1, 5, 5}), w(kiln::DType::kFloat32, {3, 1, 3, 3});
  try {
    s.run({{"x", x}, {"W", w}});
    FAIL() << "the run should have been refused";
  } catch (const kiln::Error& e) {
    EXPECT_NE(std::string(e.what()).find("kernel_shape has 1 value but the input has 2 spatial dims (rank 4)"),
              std::string::npos) << e.what();
  }
}
