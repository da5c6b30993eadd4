#pragma once
// `kiln inspect` of an engine file: the engine's own facts (format, kiln version, ISA tier, profiles, how it was
// built, section sizes) beside the summary of the optimized model it holds.

#include <nlohmann/json.hpp>

#include <string>

#include "engine/engine_facts.h"
#include "ir/graph.h"

namespace kiln::cli {

/// Maps and verifies the engine at `path`; fills `facts` and returns its model section as a model.
ir::Model load_engine_model(const std::string& path, engine::EngineFacts& facts);
void print_engine_facts(const engine::EngineFacts& facts);
nlohmann::json engine_facts_json(const engine::EngineFacts& facts);

}  // namespace kiln::cli
