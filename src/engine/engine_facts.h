#pragma once
// What a session loaded from an engine file knows about that engine: its header, profiles, how it was built and
// its sections' sizes (for the feed check, `kiln inspect` and `kiln bench`).

#include <cstddef>
#include <utility>
#include <vector>

#include "engine/build_options.h"
#include "engine/engine_file.h"
#include "engine/profiles.h"
#include "engine/tactics.h"

namespace kiln::engine {

struct EngineFacts {
  EngineHeader header;
  std::vector<Profile> profiles;
  BuildOptions build;
  std::vector<std::pair<SectionKind, size_t>> section_sizes;  ///< in table order
  /// Packed constants the load used in place from the engine, and those prepare packed again (their saved key did
  /// not match what it chose: another ISA tier or kiln, or none was saved).
  size_t packed_in_place = 0, packed_at_load = 0;
  /// The tactics the build chose (section 6; empty without it), and how many of them the load's prepare used and
  /// how many it could not (a node or candidate this kiln names otherwise: prepare's rule chose there).
  std::vector<TacticRecord> tactics;
  size_t tactics_applied = 0, tactics_not_applied = 0;
};

}  // namespace kiln::engine
