#pragma once
// What a session loaded from an engine file knows about that engine: its header, profiles, how it was built and
// its sections' sizes (for the feed check, `kiln inspect` and `kiln bench`).

#include <cstddef>
#include <utility>
#include <vector>

#include "engine/build_options.h"
#include "engine/engine_file.h"
#include "engine/profiles.h"

namespace kiln::engine {

struct EngineFacts {
  EngineHeader header;
  std::vector<Profile> profiles;
  BuildOptions build;
  std::vector<std::pair<SectionKind, size_t>> section_sizes;  ///< in table order
};

}  // namespace kiln::engine
