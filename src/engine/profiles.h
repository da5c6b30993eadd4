#pragma once
// Optimization profiles (TensorRT's vocabulary): per input, the smallest, the typical and the largest shape an
// engine accepts. Dims that every profile fixes (min == max) are folded into the model when the engine is built;
// a run's feeds must fit one profile, and a feed outside every profile is refused naming the input, the dim, the
// size given, the range allowed and the `kiln build` flags that would hold it.

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/build_options.h"
#include "ir/graph.h"

namespace kiln::engine {

/// One input's range in a profile; min, opt and max have the input's rank.
struct InputRange {
  std::string name;
  std::vector<int64_t> min, opt, max;
};

/// A profile: a range for every input whose declared shape is not fully fixed (inputs whose shape the model
/// fixes may be left out).
struct Profile {
  std::vector<InputRange> inputs;
  const InputRange* find(const std::string& name) const;
};

/// Most profiles, inputs per profile and dims per input an engine may declare (a reader refuses more).
inline constexpr uint32_t kMaxProfiles = 256, kMaxProfileInputs = 4096, kMaxProfileRank = 64;

/// The profiles section's bytes: u32 count, then per profile u32 inputs, per input a string name, u32 rank and
/// rank x (i64 min, i64 opt, i64 max).
std::vector<uint8_t> encode_profiles(const std::vector<Profile>& profiles);
/// Reads encode_profiles' bytes, bounded; refuses (kInvalidModel) counts past the limits, negative dims, a min
/// above its opt or an opt above its max, empty or repeated names, bytes left over.
std::vector<Profile> decode_profiles(std::span<const uint8_t> bytes);

/// Checks profiles against the model before a build: each name is a required input of `g`, each range has the
/// input's rank and respects the dims the model fixes, min <= opt <= max, and every input with a dim the model
/// leaves open has a range in every profile. Throws Error(kInvalidArgument) naming the input and the fix.
void check_profiles_fit_model(const ir::Graph& g, const std::vector<Profile>& profiles);

/// Replaces, in g's declared input shapes, each dim that every profile fixes to one size (min == max, the same in
/// all profiles) by that size; a symbol so fixed takes the size in every input that declares it. Then the graph
/// passes fold the shape computations on those dims. Returns the dims it fixed.
std::vector<FoldedDim> fold_fixed_dims(ir::Graph& g, const std::vector<Profile>& profiles);

/// Refuses feeds (input name -> dims) that fit no profile: Error(kInvalidArgument) naming the input, the dim,
/// the size given, the range each profile allows, and `kiln build` flags for `source_model` with the range
/// widened to hold it. Inputs a profile does not name are not checked here (the model fixes their shape).
void check_feeds_in_profiles(const std::vector<Profile>& profiles,
                             const std::vector<std::pair<std::string, std::vector<int64_t>>>& feeds,
                             const std::string& source_model);

/// "x 1x3x224x224 .. 8x3x224x224 (opt 4x3x224x224)", one input per line, for inspect and summaries.
std::string describe_profile(const Profile& p);

}  // namespace kiln::engine
