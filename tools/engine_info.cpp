#include "engine_info.h"

#include <fmt/format.h>

#include "api/engine_load.h"
#include "api/engine_packed.h"
#include "base/mapped_file.h"
#include "cli_util.h"
#include "onnx/loader.h"

namespace kiln::cli {

namespace {

std::string version_text(const engine::EngineHeader& h) {
  return fmt::format("{}.{}.{}", h.kiln_version[0], h.kiln_version[1], h.kiln_version[2]);
}

nlohmann::json dims_json(const std::vector<int64_t>& dims) { return nlohmann::json(dims); }

}  // namespace

ir::Model load_engine_model(const std::string& path, engine::EngineFacts& facts) {
  MappedFile file = MappedFile::open(path);
  try {
    engine::EngineView view = engine::read_engine(file.bytes());
    facts = read_engine_facts(view);
    ir::Model model = onnx::load_model_from_view(view.section(engine::SectionKind::kModel), file.owner());
    // The large weights are in the packed data section: attached (as views, unread) so counts include them.
    if (auto packed = packed_loader_of(view, file.owner()); packed && model.graph) packed->attach_raw_weights(*model.graph);
    return model;
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("{}: {}", path, e.what()));
  }
}

void print_engine_facts(const engine::EngineFacts& f) {
  fmt::print("engine     format {}, built by kiln {} for ISA tier {}\n", f.header.format_version, version_text(f.header),
             kernels::isa_name(f.header.isa));
  fmt::print("built from {} (level {}{}{}, {:.2f} s)\n", f.build.source_model, f.build.level,
             f.build.disabled_passes.empty() ? "" : ", passes off: ", fmt::join(f.build.disabled_passes, ", "),
             f.build.build_seconds);
  for (const engine::FoldedDim& d : f.build.folded_dims)
    fmt::print("fixed dim  {} dim {} = {} (every profile fixes it: folded into the model)\n", d.input, d.dim, d.size);
  for (size_t i = 0; i < f.profiles.size(); ++i)
    for (const engine::InputRange& r : f.profiles[i].inputs)
      fmt::print("profile {}  {} {} .. {} (opt {})\n", i, r.name, dims_str(r.min), dims_str(r.max), dims_str(r.opt));
  for (const auto& [kind, size] : f.section_sizes)
    fmt::print("section    {:<16} {}\n", engine::section_kind_name(kind), human_bytes(static_cast<double>(size)));
  for (const engine::TacticRecord& r : f.tactics)
    fmt::print("tactic     {} ({}): {}{}\n", r.node_name, r.op_type, r.chosen,
               r.chosen == r.rule ? "" : fmt::format(" (rule: {})", r.rule));
}

nlohmann::json engine_facts_json(const engine::EngineFacts& f) {
  nlohmann::json j;
  j["format_version"] = f.header.format_version;
  j["kiln_version"] = version_text(f.header);
  j["isa"] = std::string(kernels::isa_name(f.header.isa));
  j["file_bytes"] = f.header.file_size;
  j["source_model"] = f.build.source_model;
  j["level"] = f.build.level;
  j["disabled_passes"] = f.build.disabled_passes;
  j["build_seconds"] = f.build.build_seconds;
  j["folded_dims"] = nlohmann::json::array();
  for (const engine::FoldedDim& d : f.build.folded_dims)
    j["folded_dims"].push_back({{"input", d.input}, {"dim", d.dim}, {"size", d.size}});
  j["profiles"] = nlohmann::json::array();
  for (const engine::Profile& p : f.profiles) {
    nlohmann::json inputs = nlohmann::json::array();
    for (const engine::InputRange& r : p.inputs)
      inputs.push_back({{"name", r.name}, {"min", dims_json(r.min)}, {"opt", dims_json(r.opt)}, {"max", dims_json(r.max)}});
    j["profiles"].push_back(inputs);
  }
  j["sections"] = nlohmann::json::array();
  for (const auto& [kind, size] : f.section_sizes)
    j["sections"].push_back({{"kind", engine::section_kind_name(kind)}, {"bytes", size}});
  j["tactics"] = nlohmann::json::array();
  for (const engine::TacticRecord& r : f.tactics) {
    nlohmann::json cands = nlohmann::json::array();
    for (const engine::TacticCandidate& c : r.candidates)
      cands.push_back({{"name", c.name}, {"ms", c.ms}, {"matched", c.matched}});
    j["tactics"].push_back({{"node", r.node_name}, {"op_type", r.op_type}, {"chosen", r.chosen}, {"rule", r.rule},
                            {"from_cache", r.from_cache}, {"candidates", cands}});
  }
  return j;
}

}  // namespace kiln::cli
