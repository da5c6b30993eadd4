// libFuzzer entry point; the fuzzed path is kiln::fuzz::fuzz_one (fuzz/fuzz_one.h).

#include "fuzz_one.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kiln::fuzz::fuzz_one(data, size);
  return 0;
}
