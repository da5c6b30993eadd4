#pragma once
// The tactics an engine records (section kind 6) and the timing cache `kiln build --timing-cache FILE` keeps.
//
// Section 6 lists, per node whose prepare offered a choice (ops::TacticSource), the tactic `kiln build` chose and
// what it measured:
//   u32 record count; per record: u32 node (PrepareContext::node_seq), str node name, str op type, str chosen,
//     str rule (what prepare's rule picks), u32 from cache (0 or 1), u32 candidate count,
//     per candidate: str name, u64 milliseconds (an IEEE double's bits; negative: not timed), u32 matched (1 when
//     its outputs matched the reference within the bound)
// A load hands `chosen` back to the node's prepare when the node's name and the candidate still match; anything
// else gets the rule (the section is informative beyond that, and is checksummed with the header's table).
//
// The timing cache file:
//   magic "KILNTCH\0", u32 format version (1), u64 checksum64 of every byte after this field,
//   str kiln version, str CPU name, str ISA tier, u32 entry count,
//   per entry: str key (op, attributes, input shapes and types, threads: engine_tactics.cpp), str tactic,
//     u64 milliseconds (double bits), u32 matched
// A cache written by another kiln version, on another CPU or ISA tier is foreign: its timings say nothing here.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kiln::engine {

struct TacticCandidate {
  std::string name;
  double ms = -1;        ///< the fastest of the timed runs at the opt shape; negative when not timed
  bool matched = false;  ///< its outputs matched the reference kernel's within the bound
};

struct TacticRecord {
  uint32_t node = 0;  ///< PrepareContext::node_seq
  std::string node_name, op_type;
  std::string chosen, rule;
  bool from_cache = false;  ///< every candidate's timing came from the timing cache
  std::vector<TacticCandidate> candidates;
};

std::vector<uint8_t> encode_tactics(const std::vector<TacticRecord>& records);
/// Reads section 6; refuses (Error kInvalidModel, naming what) truncation, absurd counts, a node listed twice and
/// trailing bytes.
std::vector<TacticRecord> decode_tactics(std::span<const uint8_t> bytes);

struct TimingEntry {
  std::string key, tactic;
  double ms = -1;
  bool matched = false;
};

struct TimingCache {
  std::string kiln_version, cpu, isa;
  std::vector<TimingEntry> entries;
};

inline constexpr char kTimingCacheMagic[8] = {'K', 'I', 'L', 'N', 'T', 'C', 'H', '\0'};
inline constexpr uint32_t kTimingCacheVersion = 1;

std::vector<uint8_t> encode_timing_cache(const TimingCache& cache);
/// Reads a timing cache file's bytes; throws Error(kInvalidModel) saying what is wrong (not a timing cache, a
/// newer format, a checksum that fails, truncation, absurd counts, trailing bytes). Whether it is foreign is the
/// caller's question (the fields are returned as read). `verify_checksum` false is for the fuzzer only.
TimingCache decode_timing_cache(std::span<const uint8_t> bytes, bool verify_checksum = true);

}  // namespace kiln::engine
