#pragma once
// The build options section: how an engine was built, so `kiln inspect` can show it and an error can say how
// to rebuild.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kiln::engine {

/// One input dim the profiles fix (min == max in every profile), folded into the model at build time.
struct FoldedDim {
  std::string input;
  uint32_t dim = 0;
  int64_t size = 0;
};

struct BuildOptions {
  std::string source_model;  ///< the ONNX file the engine was built from, as given to kiln build
  int level = 2;             ///< graph optimization level the passes ran at
  std::vector<std::string> disabled_passes;
  double build_seconds = 0;  ///< wall time of the build (informational)
  std::vector<FoldedDim> folded_dims;  ///< the fixed shapes: dims the profiles fix, now numbers in the model
};

/// u32 level, string source model, u32 count + strings of disabled passes, f64 seconds (as u64 bits), u32 count +
/// folded dims (string input, u32 dim, i64 size).
std::vector<uint8_t> encode_build_options(const BuildOptions& o);
/// Bounded reader of encode_build_options' bytes; Error(kInvalidModel) on anything malformed.
BuildOptions decode_build_options(std::span<const uint8_t> bytes);

}  // namespace kiln::engine
