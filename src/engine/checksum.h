#pragma once
// The engine file's checksum: FNV-1a over 64-bit little-endian words in four interleaved lanes, written for
// kiln. It detects corruption (a truncated copy, a flipped bit, a wrong file), it does not authenticate: anyone
// can recompute it. Why not byte-wise FNV-1a: one multiply per byte reads ~1 GB/s, too slow for a 100 MB
// engine; four independent lanes of one multiply per 8 bytes keep up with memory. Every step
// `lane = (lane ^ word) * prime` is a bijection of the lane for a fixed word and of the word for a fixed lane, so
// changing any one word always changes the result.

#include <cstdint>
#include <span>

namespace kiln::engine {

/// The checksum of `bytes` (any length; the tail shorter than a word is zero-padded, and the length is mixed in,
/// so trailing zero bytes still count).
uint64_t checksum64(std::span<const uint8_t> bytes);

}  // namespace kiln::engine
