#include "engine/tactics.h"

#include <bit>
#include <cstring>
#include <set>

#include "base/error.h"
#include "engine/byte_io.h"
#include "engine/checksum.h"

namespace kiln::engine {

namespace {

constexpr const char* kCacheDamaged = "the timing cache is truncated or corrupt";

uint64_t bits(double v) { return std::bit_cast<uint64_t>(v); }
double from_bits(uint64_t v) { return std::bit_cast<double>(v); }

}  // namespace

std::vector<uint8_t> encode_tactics(const std::vector<TacticRecord>& records) {
  ByteWriter w;
  w.u32(static_cast<uint32_t>(records.size()));
  for (const TacticRecord& r : records) {
    w.u32(r.node);
    w.str(r.node_name);
    w.str(r.op_type);
    w.str(r.chosen);
    w.str(r.rule);
    w.u32(r.from_cache ? 1 : 0);
    w.u32(static_cast<uint32_t>(r.candidates.size()));
    for (const TacticCandidate& c : r.candidates) {
      w.str(c.name);
      w.u64(bits(c.ms));
      w.u32(c.matched ? 1 : 0);
    }
  }
  return std::move(w.bytes());
}

std::vector<TacticRecord> decode_tactics(std::span<const uint8_t> bytes) {
  ByteReader r(bytes, "the engine's tactics section");
  std::vector<TacticRecord> records(r.count("the count of tactic records", 1u << 24, 28));
  std::set<uint32_t> seen;
  for (TacticRecord& t : records) {
    t.node = r.u32("a tactic record's node");
    t.node_name = r.str("a tactic record's node name");
    t.op_type = r.str("a tactic record's op type");
    t.chosen = r.str("a tactic record's choice");
    t.rule = r.str("a tactic record's rule");
    t.from_cache = r.u32("a tactic record's cache flag") != 0;
    t.candidates.resize(r.count("a tactic record's candidate count", 64, 16));
    for (TacticCandidate& c : t.candidates) {
      c.name = r.str("a tactic candidate's name");
      c.ms = from_bits(r.u64("a tactic candidate's time"));
      c.matched = r.u32("a tactic candidate's match flag") != 0;
    }
    if (!seen.insert(t.node).second)
      fail(ErrorCode::kInvalidModel, "the engine's tactics section lists node {} twice; rebuild the engine with kiln "
           "build", t.node);
  }
  if (r.left() != 0)
    fail(ErrorCode::kInvalidModel, "the engine's tactics section has {} bytes after its end; rebuild the engine with "
         "kiln build", r.left());
  return records;
}

std::vector<uint8_t> encode_timing_cache(const TimingCache& cache) {
  ByteWriter body;
  body.str(cache.kiln_version);
  body.str(cache.cpu);
  body.str(cache.isa);
  body.u32(static_cast<uint32_t>(cache.entries.size()));
  for (const TimingEntry& e : cache.entries) {
    body.str(e.key);
    body.str(e.tactic);
    body.u64(bits(e.ms));
    body.u32(e.matched ? 1 : 0);
  }
  ByteWriter w;
  w.raw({reinterpret_cast<const uint8_t*>(kTimingCacheMagic), sizeof(kTimingCacheMagic)});
  w.u32(kTimingCacheVersion);
  w.u64(checksum64(body.bytes()));
  w.raw(body.bytes());
  return std::move(w.bytes());
}

TimingCache decode_timing_cache(std::span<const uint8_t> bytes, bool verify_checksum) {
  if (bytes.size() < sizeof(kTimingCacheMagic) ||
      std::memcmp(bytes.data(), kTimingCacheMagic, sizeof(kTimingCacheMagic)) != 0)
    fail(ErrorCode::kInvalidModel, "not a kiln timing cache (no KILNTCH magic)");
  ByteReader head(bytes.subspan(sizeof(kTimingCacheMagic)), "the timing cache's header", kCacheDamaged);
  const uint32_t version = head.u32("the format version");
  if (version != kTimingCacheVersion)
    fail(ErrorCode::kInvalidModel, "timing cache format version {}; this kiln reads version {}", version,
         kTimingCacheVersion);
  const uint64_t sum = head.u64("the checksum");
  const std::span<const uint8_t> body = bytes.subspan(bytes.size() - head.left());
  if (verify_checksum && checksum64(body) != sum) fail(ErrorCode::kInvalidModel, "the timing cache fails its checksum (corrupt)");
  ByteReader r(body, "the timing cache", kCacheDamaged);
  TimingCache cache;
  cache.kiln_version = r.str("the kiln version");
  cache.cpu = r.str("the CPU name");
  cache.isa = r.str("the ISA tier");
  cache.entries.resize(r.count("the entry count", 1u << 24, 20));
  for (TimingEntry& e : cache.entries) {
    e.key = r.str("an entry's key");
    e.tactic = r.str("an entry's tactic");
    e.ms = from_bits(r.u64("an entry's time"));
    e.matched = r.u32("an entry's match flag") != 0;
  }
  if (r.left() != 0) fail(ErrorCode::kInvalidModel, "the timing cache has {} bytes after its end", r.left());
  return cache;
}

}  // namespace kiln::engine
