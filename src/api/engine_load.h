#pragma once
// Sessions from engine files (.kiln): the engine is read and verified (engine/engine_file.h), its model section
// loaded in place from the mapping, and its profiles kept on the session for the feed check.

#include <memory>
#include <span>
#include <string>

#include "engine/engine_facts.h"
#include "kiln/session.h"

namespace kiln {

/// Whether the file at `path` starts with the engine magic (reads 8 bytes; false when it cannot be read, so the
/// ONNX loader reports that).
bool file_is_engine(const std::string& path);

/// The facts of a verified engine: header, decoded profiles and build options, section sizes. Throws
/// Error(kInvalidModel) when a section is malformed.
engine::EngineFacts read_engine_facts(const engine::EngineView& view);

class PackedLoader;

/// The loader of the engine's packed weights sections (api/engine_packed.h), or null when it has none. Throws
/// Error(kInvalidModel) for a malformed index.
std::unique_ptr<PackedLoader> packed_loader_of(const engine::EngineView& view, std::shared_ptr<const void> owner);

/// A session from engine bytes that stay valid while `owner` lives. The passes already ran when the engine was
/// built, so none runs here (options' graph_optimization_level and disabled_passes are not used). When the engine
/// was built for an ISA tier above the one this CPU runs, the session runs with this CPU's kernels and warns
/// once through options.warn, naming both tiers and the rebuild command. Throws Error for a damaged engine.
Session load_engine(std::span<const uint8_t> bytes, std::shared_ptr<const void> owner, const SessionOptions& options);

}  // namespace kiln
