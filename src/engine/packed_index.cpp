#include "engine/packed_index.h"

#include <set>
#include <utility>

#include "base/checked.h"
#include "base/error.h"
#include "engine/byte_io.h"
#include "engine/engine_file.h"

namespace kiln::engine {

namespace {

constexpr const char* kRebuild = "rebuild the engine with kiln build";

void check_blob(uint64_t offset, uint64_t bytes, uint64_t data_size, const std::string& what) {
  if (offset % kSectionAlignment != 0 || offset > data_size || bytes > data_size - offset)
    fail(ErrorCode::kInvalidModel, "the engine's packed weights index places {} at bytes {}..+{}, not a {}-byte-"
         "aligned range inside the {}-byte packed data section; {}", what, offset, bytes, kSectionAlignment,
         data_size, kRebuild);
}

}  // namespace

std::vector<uint8_t> encode_packed_index(const PackedIndex& index) {
  ByteWriter w;
  w.u32(static_cast<uint32_t>(index.entries.size()));
  for (const PackedEntry& e : index.entries) {
    w.u32(e.node);
    w.u32(e.ordinal);
    w.str(e.what);
    w.str(e.layout);
    w.u32(static_cast<uint32_t>(e.sizes.size()));
    for (int64_t s : e.sizes) w.i64(s);
    w.u64(e.offset);
    w.u64(e.bytes);
    w.u64(e.checksum);
  }
  w.u32(static_cast<uint32_t>(index.raw.size()));
  for (const RawWeight& r : index.raw) {
    w.str(r.name);
    w.u32(static_cast<uint32_t>(r.dtype));
    w.u32(static_cast<uint32_t>(r.dims.size()));
    for (int64_t d : r.dims) w.i64(d);
    w.u64(r.offset);
    w.u64(r.bytes);
    w.u64(r.checksum);
  }
  return std::move(w.bytes());
}

PackedIndex decode_packed_index(std::span<const uint8_t> bytes, uint64_t data_size) {
  ByteReader r(bytes, "the engine's packed weights index");
  PackedIndex index;
  std::set<std::pair<uint32_t, uint32_t>> seen;
  index.entries.resize(r.count("the count of packed entries", 1u << 24, 48));
  for (PackedEntry& e : index.entries) {
    e.node = r.u32("a packed entry's node");
    e.ordinal = r.u32("a packed entry's ordinal");
    e.what = r.str("a packed entry's name");
    e.layout = r.str("a packed entry's layout");
    e.sizes.resize(r.count("a packed entry's size count", 16, 8));
    for (int64_t& s : e.sizes) s = r.i64("a packed entry's size");
    e.offset = r.u64("a packed entry's offset");
    e.bytes = r.u64("a packed entry's byte count");
    e.checksum = r.u64("a packed entry's checksum");
    const std::string label = "'" + e.what + "' of node " + std::to_string(e.node);
    check_blob(e.offset, e.bytes, data_size, label);
    if (!seen.insert({e.node, e.ordinal}).second)
      fail(ErrorCode::kInvalidModel, "the engine's packed weights index lists request {} of node {} twice; {}",
           e.ordinal, e.node, kRebuild);
  }
  std::set<std::string> names;
  index.raw.resize(r.count("the count of raw weights", 1u << 24, 40));
  for (RawWeight& w : index.raw) {
    w.name = r.str("a raw weight's name");
    const uint32_t dtype = r.u32("a raw weight's type");
    if (dtype != static_cast<uint32_t>(DType::kFloat32))
      fail(ErrorCode::kInvalidModel, "the engine's raw weight '{}' has element type {}; only float32 weights are "
           "stored apart from the model; {}", w.name, dtype, kRebuild);
    w.dtype = DType::kFloat32;
    w.dims.resize(r.count("a raw weight's rank", 64, 8));
    for (int64_t& d : w.dims) d = r.i64("a raw weight's dim");
    w.offset = r.u64("a raw weight's offset");
    w.bytes = r.u64("a raw weight's byte count");
    w.checksum = r.u64("a raw weight's checksum");
    int64_t numel = 1;
    for (int64_t d : w.dims) {
      if (d < 0) fail(ErrorCode::kInvalidModel, "the engine's raw weight '{}' has a negative dim; {}", w.name, kRebuild);
      numel = checked_mul(numel, d, "a raw weight's element count");
    }
    if (static_cast<uint64_t>(checked_mul(numel, 4, "a raw weight's size")) != w.bytes)
      fail(ErrorCode::kInvalidModel, "the engine's raw weight '{}' has {} bytes for {} float32 elements; {}", w.name,
           w.bytes, numel, kRebuild);
    check_blob(w.offset, w.bytes, data_size, "raw weight '" + w.name + "'");
    if (!names.insert(w.name).second)
      fail(ErrorCode::kInvalidModel, "the engine's packed weights index lists raw weight '{}' twice; {}", w.name,
           kRebuild);
  }
  if (r.left() != 0)
    fail(ErrorCode::kInvalidModel, "the engine's packed weights index has {} bytes after its end; {}", r.left(),
         kRebuild);
  return index;
}

}  // namespace kiln::engine
