#include "engine/build_options.h"

#include <bit>

#include "base/error.h"
#include "engine/byte_io.h"

namespace kiln::engine {

std::vector<uint8_t> encode_build_options(const BuildOptions& o) {
  ByteWriter w;
  w.u32(static_cast<uint32_t>(o.level));
  w.str(o.source_model);
  w.u32(static_cast<uint32_t>(o.disabled_passes.size()));
  for (const std::string& name : o.disabled_passes) w.str(name);
  w.u64(std::bit_cast<uint64_t>(o.build_seconds));
  w.u32(static_cast<uint32_t>(o.folded_dims.size()));
  for (const FoldedDim& f : o.folded_dims) {
    w.str(f.input);
    w.u32(f.dim);
    w.i64(f.size);
  }
  return std::move(w.bytes());
}

BuildOptions decode_build_options(std::span<const uint8_t> bytes) {
  ByteReader r(bytes, "the engine's build options section");
  BuildOptions o;
  uint32_t level = r.u32("the optimization level");
  if (level > 2)
    fail(ErrorCode::kInvalidModel, "the engine's build options give optimization level {} (0..2 exist); rebuild it "
         "with kiln build", level);
  o.level = static_cast<int>(level);
  o.source_model = r.str("the source model name");
  o.disabled_passes.resize(r.count("the count of disabled passes", 1024, 4));
  for (std::string& name : o.disabled_passes) name = r.str("a disabled pass name");
  o.build_seconds = std::bit_cast<double>(r.u64("the build time"));
  o.folded_dims.resize(r.count("the count of folded dims", 1 << 16, 16));
  for (FoldedDim& f : o.folded_dims) {
    f.input = r.str("a folded dim's input");
    f.dim = r.u32("a folded dim's index");
    f.size = r.i64("a folded dim's size");
  }
  if (r.left() != 0)
    fail(ErrorCode::kInvalidModel, "the engine's build options section has {} bytes after its end; rebuild it with "
         "kiln build", r.left());
  return o;
}

}  // namespace kiln::engine
