#include "api/engine_load.h"

#include <algorithm>
#include <cstdio>

#include <fmt/ranges.h>

#include "api/engine_packed.h"
#include "api/engine_tactics.h"
#include "api/session_impl.h"
#include "base/mapped_file.h"
#include "engine/engine_facts.h"
#include "kernels/isa.h"
#include "onnx/loader.h"

namespace kiln {

namespace {

/// Why fall back rather than refuse: an engine runs on any tier (kernels are chosen at load; packed weights saved
/// for another tier's kernels do not match what prepare chooses here, so it packs them again from the raw weights
/// every engine keeps), so refusing would turn a slower load into an outage.
void warn_if_tier_missing(Session::Impl& impl, const engine::EngineFacts& facts) {
  const kernels::IsaTier built = facts.header.isa, here = kernels::active_isa();
  if (static_cast<int>(built) <= static_cast<int>(here)) return;
  impl.warn_once("engine-isa",
                 fmt::format("the engine was built for ISA tier {} but this CPU runs {} kernels{}: it runs with {} "
                             "kernels, chosen at load; for an engine made for this machine rebuild it here: kiln "
                             "build {} -o ENGINE.kiln (with the same --min/--opt/--max)",
                             kernels::isa_name(built), kernels::isa_name(here),
                             kernels::isa_available(built) ? " (KILN_ISA caps the tier)" : "",
                             kernels::isa_name(here), facts.build.source_model));
}

}  // namespace

bool file_is_engine(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  uint8_t head[sizeof(engine::kMagic)] = {};
  size_t n = std::fread(head, 1, sizeof(head), f);
  std::fclose(f);
  return engine::is_engine(std::span<const uint8_t>(head, n));
}

engine::EngineFacts read_engine_facts(const engine::EngineView& view) {
  engine::EngineFacts facts;
  facts.header = view.header;
  facts.profiles = engine::decode_profiles(view.section(engine::SectionKind::kProfiles));
  facts.build = engine::decode_build_options(view.section(engine::SectionKind::kBuildOptions));
  for (const auto& s : view.sections) {
    facts.section_sizes.emplace_back(s.kind, s.bytes.size());
    if (s.kind == engine::SectionKind::kTactics) facts.tactics = engine::decode_tactics(s.bytes);
  }
  return facts;
}

std::unique_ptr<PackedLoader> packed_loader_of(const engine::EngineView& view, std::shared_ptr<const void> owner) {
  auto index = std::find_if(view.sections.begin(), view.sections.end(),
                            [](const auto& s) { return s.kind == engine::SectionKind::kPackedWeights; });
  if (index == view.sections.end()) return nullptr;
  const auto data = view.section(engine::SectionKind::kPackedData);
  return std::make_unique<PackedLoader>(engine::decode_packed_index(index->bytes, data.size()), data, std::move(owner));
}

Session load_engine(std::span<const uint8_t> bytes, std::shared_ptr<const void> owner, const SessionOptions& options) {
  engine::EngineView view = engine::read_engine(bytes);
  auto facts = std::make_shared<engine::EngineFacts>(read_engine_facts(view));

  onnx::LoadOptions load;
  load.max_nesting = options.max_nesting;
  SessionOptions session_options = options;
  session_options.graph_optimization_level = 0;  // the passes ran at build time
  session_options.disabled_passes.clear();
  std::shared_ptr<Session::Impl> impl;
  std::unique_ptr<PackedLoader> packed = packed_loader_of(view, owner);
  TacticLoader tactics(facts->tactics);  // the build's choices, timing nothing
  try {
    ir::Model model = onnx::load_model_from_view(view.section(engine::SectionKind::kModel), std::move(owner), load);
    if (packed && model.graph) packed->attach_raw_weights(*model.graph);
    const ops::TacticScope scope(&tactics);
    impl = std::make_shared<Session::Impl>(std::move(model), session_options, packed.get());
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kInvalidModel && e.code() != ErrorCode::kUnsupported) throw;
    throw Error(e.code(), fmt::format("the engine's model section cannot be loaded ({}); rebuild the engine from the "
                                      "ONNX model with kiln build", e.what()));
  }
  facts->tactics_applied = tactics.applied();
  facts->tactics_not_applied = tactics.not_applied();
  if (packed) {
    packed->check_unguarded_raw_weights(*impl);
    facts->packed_in_place = packed->in_place();
    facts->packed_at_load = packed->packed_here();
  }
  // A checksummed engine is still untrusted: profiles that contradict its own model are refused here, not at
  // every run.
  try {
    engine::check_profiles_fit_model(*impl->model.graph, facts->profiles);
  } catch (const Error& e) {
    throw Error(ErrorCode::kInvalidModel, fmt::format("the engine's profiles do not fit its model ({}); rebuild the "
                                                      "engine from the ONNX model with kiln build", e.what()));
  }
  impl->engine = facts;
  warn_if_tier_missing(*impl, *facts);
  if (options.graph_optimization_level != SessionOptions{}.graph_optimization_level || !options.disabled_passes.empty())
    impl->warn_once("engine-passes",
                    fmt::format("graph_optimization_level and disabled passes (--no-optimize, --disable-pass) do not "
                                "apply to an engine: its passes ran when it was built (level {}{}{}); rebuild it with "
                                "kiln build --level N / --disable-pass NAME to change them",
                                facts->build.level, facts->build.disabled_passes.empty() ? "" : ", off: ",
                                fmt::join(facts->build.disabled_passes, ", ")));
  return Session(impl);
}

Session Session::from_engine(const std::string& path, const SessionOptions& options) {
  MappedFile file = MappedFile::open(path);
  try {
    return load_engine(file.bytes(), file.owner(), options);
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("{}: {}", path, e.what()));
  }
}

}  // namespace kiln
